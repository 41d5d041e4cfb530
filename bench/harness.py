"""What every part of the bench shares: a row of the table, interleaved A/B runs, the run's
context, the printed table and ``bench/results.json``."""

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


@dataclass
class Row:
    name: str
    figure: float | None
    baseline: float | None
    unit: str
    ratio: float | None
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Context:
    base_url: str
    dsn: str
    big_dsn: str
    redis_url: str
    python: str
    tmp: Path
    # Where the big database's pages are served, when the runner serves them (else the part
    # starts its own server).
    big_base_url: str = ""
    started: float = field(default_factory=time.monotonic)

    def log(self, msg: str) -> None:
        print(f"[bench {time.monotonic() - self.started:6.1f}s] {msg}", file=sys.stderr, flush=True)


def median(values) -> float:
    return statistics.median(values)


def interleave(a: Callable[[], float], b: Callable[[], float], pairs: int = 3):
    """Run ``a`` and ``b`` alternately (A, B, A, B, …) ``pairs`` times: their medians."""
    results_a: list[float] = []
    results_b: list[float] = []
    for _ in range(pairs):
        results_a.append(a())
        results_b.append(b())
    return median(results_a), median(results_b)


def ratio(figure: float | None, baseline: float | None) -> float | None:
    if figure is None or baseline is None or baseline == 0:
        return None
    return figure / baseline


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def format_table(rows: list[Row]) -> str:
    header = ["row", "figure", "baseline", "ratio", "target", "met?"]
    body = [
        [
            row.name,
            f"{_cell(row.figure)} {row.unit}".strip(),
            f"{_cell(row.baseline)} {row.unit}".strip() if row.baseline is not None else "—",
            f"{row.ratio:.2f}×" if row.ratio is not None else "—",
            row.target or "—",
            _cell(row.met) if row.target else "—",
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def print_table(rows: list[Row]) -> None:
    print(format_table(rows), flush=True)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "loadavg": list(os.getloadavg())}


def write_results(rows: list[Row], meta: dict, path: Path = RESULTS) -> Path:
    path.write_text(
        json.dumps({"meta": meta, "rows": [asdict(row) for row in rows]}, indent=2, default=str)
        + "\n"
    )
    return path
