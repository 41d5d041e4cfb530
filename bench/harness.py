"""What every part of the bench shares: a row of the table, interleaved A/B runs with their
medians, the run's context, the printed table and ``bench/results.json``."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


@dataclass
class Row:
    """One line of the table: ``figure`` measured against ``baseline`` in the same run."""

    name: str
    figure: float | None
    baseline: float | None
    unit: str
    ratio: float | None
    target: str = ""
    met: bool | None = None
    note: str = ""


def ratio(figure: float | None, baseline: float | None) -> float | None:
    """figure / baseline, or None when either is missing or the baseline is zero."""
    if figure is None or baseline is None or baseline == 0:
        return None
    return figure / baseline


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def interleave(
    a: Callable[[], float], b: Callable[[], float], pairs: int = 3
) -> tuple[float, float]:
    """Run ``a``, ``b``, ``a``, ``b``… (``pairs`` of each) and return their medians."""
    if pairs < 1:
        raise ValueError("at least one pair")
    results_a: list[float] = []
    results_b: list[float] = []
    for _ in range(pairs):
        results_a.append(a())
        results_b.append(b())
    return median(results_a), median(results_b)


@dataclass
class Context:
    """Where the parts find the running services and a place to work."""

    base_url: str
    dsn: str
    big_dsn: str
    redis_url: str
    python: str
    tmp: Path
    started: float = field(default_factory=time.monotonic)

    def log(self, msg: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[bench {elapsed:7.1f}s] {msg}", file=sys.stderr, flush=True)


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_table(rows: Sequence[Row]) -> str:
    header = ("row", "figure", "baseline", "ratio", "target", "met?")
    lines = [
        (
            row.name,
            f"{_fmt(row.figure)} {row.unit}".strip(),
            f"{_fmt(row.baseline)} {row.unit}".strip(),
            "—" if row.ratio is None else f"{row.ratio:.2f}×",
            row.target or "—",
            "—" if row.met is None else ("yes" if row.met else "NO"),
        )
        for row in rows
    ]
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=False)
    ]
    out = []
    for i, cells in enumerate([header, *lines]):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def print_table(rows: Sequence[Row]) -> None:
    print(format_table(rows), flush=True)


def machine() -> dict:
    """The machine's load and size, recorded with every run."""
    return {"cpu_count": os.cpu_count(), "loadavg": list(os.getloadavg())}


def write_results(rows: Sequence[Row], meta: dict, path: Path = RESULTS_PATH) -> Path:
    path.write_text(
        json.dumps({"meta": meta, "rows": [asdict(row) for row in rows]}, indent=2) + "\n",
        encoding="utf-8",
    )
    return path
