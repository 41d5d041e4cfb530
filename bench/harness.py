"""What every part of the benchmark shares: a row of the table, interleaved A/B runs with their
median, the run's context, the printed table and ``bench/results.json``.

The pure functions here (``median``, ``interleave``, ``ratio``, ``format_table``,
``results_document``) are unit-tested in tests/project/test_bench_harness.py; the rest starts
processes and sockets and runs only under ``make bench``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


@dataclass
class Row:
    """One line of the table: ``figure`` measured against ``baseline`` (same run, same server
    and client); ``ratio`` = figure / baseline, or whatever the note says for rows whose figure
    is a count or a time. ``target``: what the issue asks, as text; ``met``: True, False, or
    None when there is nothing to compare."""

    name: str
    figure: float | None
    baseline: float | None
    unit: str
    ratio: float | None
    target: str = ""
    met: bool | None = None
    note: str = ""


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of nothing")
    return float(statistics.median(values))


def ratio(figure: float | None, baseline: float | None) -> float | None:
    """figure / baseline, or None when either is missing or the baseline is zero."""
    if figure is None or baseline is None or baseline == 0:
        return None
    return figure / baseline


def interleave_all(fns: Sequence[Callable[[], float]], rounds: int = 3) -> list[list[float]]:
    """Run every function once per round, in order (A, B, C, A, B, C, …); each one's samples."""
    if rounds < 1:
        raise ValueError("at least one round")
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            samples[i].append(float(fn()))
    return samples


def interleave(
    a: Callable[[], float], b: Callable[[], float], pairs: int = 3
) -> tuple[float, float]:
    """A/B/A/B… ``pairs`` times; the median of each."""
    sa, sb = interleave_all([a, b], rounds=pairs)
    return median(sa), median(sb)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _met(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


HEADER = ("row", "figure", "baseline", "unit", "ratio", "target", "met?")


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width text table (one line per row, notes not included)."""
    cells = [HEADER] + [
        (
            r.name,
            _fmt(r.figure),
            _fmt(r.baseline),
            r.unit,
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            _met(r.met),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    numeric = {1, 2, 4}
    out = []
    for n, line in enumerate(cells):
        parts = [
            cell.rjust(widths[i]) if i in numeric and n else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(parts).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def print_table(rows: Sequence[Row]) -> None:
    print(format_table(rows), flush=True)
    noted = [r for r in rows if r.note]
    if noted:
        print("\nNotes:")
        for r in noted:
            print(f"- {r.name}: {r.note}")
    sys.stdout.flush()


def results_document(rows: Sequence[Row], meta: dict) -> dict:
    return {"meta": meta, "rows": [asdict(r) for r in rows]}


def write_results(rows: Sequence[Row], meta: dict, path: Path = RESULTS_PATH) -> Path:
    path.write_text(json.dumps(results_document(rows, meta), indent=2, default=str) + "\n")
    return path


def machine_load() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "cpus": os.cpu_count()}


# --- The run's context -------------------------------------------------------------------------


@dataclass
class Context:
    """Where the running bench is: the gunicorn base URL (loopback), the bench databases'
    psycopg conninfo, Redis, the venv's python, a scratch folder, and a log."""

    base_url: str
    dsn: str
    big_dsn: str
    redis_url: str
    python: str
    tmp: Path
    env: dict = field(default_factory=dict)  # the environment the app's processes run with
    pids: dict = field(default_factory=dict)  # name -> [pid, ...] of processes started
    started: float = field(default_factory=time.monotonic)
    deadline: float = 0.0  # monotonic time the whole run must end by
    part_deadline: float = 0.0  # monotonic time the running part must end by
    log_file: Path | None = None

    def log(self, msg: str) -> None:
        line = f"[bench {time.monotonic() - self.started:6.1f}s] {msg}"
        print(line, file=sys.stderr, flush=True)
        if self.log_file:
            with self.log_file.open("a") as f:
                f.write(line + "\n")

    def remaining(self) -> float:
        return self.deadline - time.monotonic() if self.deadline else float("inf")

    def part_remaining(self) -> float:
        """Seconds left in the running part's budget (and in the whole run)."""
        left = self.part_deadline - time.monotonic() if self.part_deadline else float("inf")
        return min(left, self.remaining())

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 80


# --- Load generators -----------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests_per_s: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    requests: int
    non_2xx: int
    errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, latency percentiles (--latency) and failures from wrk's report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in", output)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        latency_p50_ms=_ms(p50.group(1)) if p50 else None,
        latency_p99_ms=_ms(p99.group(1)) if p99 else None,
        requests=int(total.group(1)) if total else 0,
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        errors=sum(int(x) for x in errors.groups()) if errors else 0,
    )


def wrk(
    url: str,
    *,
    seconds: float = 3,
    connections: int = 8,
    threads: int = 2,
    headers: dict | None = None,
) -> WrkResult:
    cmd = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "30s",
    ]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(out.stdout)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class Http:
    """One keep-alive HTTP/1.1 connection: the Python client of the bench (the POST flows,
    pages timed one request at a time, and bench.browser's shoppers)."""

    def __init__(self, base_url: str, headers: dict | None = None, timeout: float = 60):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = headers or {}
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def send(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> Reply:
        """The request as given; reconnects once if the server closed the idle connection."""
        hdrs = {**self.headers, **(headers or {})}
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.will_close:
                    self.conn.close()
                return Reply(resp.status, resp.headers, payload)
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        """(status, body) of a request whose body (if any) is sent as JSON."""
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            hdrs.setdefault("Content-Type", "application/json")
        reply = self.send(method, path, data, hdrs)
        return reply.status, reply.body

    def close(self) -> None:
        self.conn.close()


def run_clients(jobs: Sequence[Callable[[], None]]) -> float:
    """Start one thread per job together; the wall time until all have finished (seconds)."""
    barrier = threading.Barrier(len(jobs) + 1)
    errors: list[BaseException] = []

    def run(job):
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # reported after the others finished
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM (peak resident set) of a live process, in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]
