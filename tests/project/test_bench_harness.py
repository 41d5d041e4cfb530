"""The benchmark's pure parts (bench/harness.py): medians of interleaved runs, ratios, the
printed table, results.json and reading wrk's report. No server is started."""

import json

import pytest

from bench.harness import (
    Row,
    format_table,
    interleave,
    interleave_all,
    median,
    parse_wrk,
    ratio,
    write_results,
)


def test_interleave_alternates_a_and_b_and_keeps_each_median():
    calls = []
    a_values = iter([5.0, 1.0, 3.0])
    b_values = iter([10.0, 30.0, 20.0])

    def a():
        calls.append("a")
        return next(a_values)

    def b():
        calls.append("b")
        return next(b_values)

    assert interleave(a, b, pairs=3) == (3.0, 20.0)
    assert calls == ["a", "b", "a", "b", "a", "b"]


def test_interleave_all_returns_every_sample_in_run_order():
    counter = iter(range(100))
    samples = interleave_all([lambda: next(counter)] * 3, rounds=2)
    assert samples == [[0, 3], [1, 4], [2, 5]]


def test_interleave_needs_a_round():
    with pytest.raises(ValueError):
        interleave_all([lambda: 1.0], rounds=0)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        median([])


def test_ratio_is_none_without_a_usable_baseline():
    assert ratio(30, 120) == 0.25
    assert ratio(None, 1) is None
    assert ratio(1, 0) is None


def _rows():
    return [
        Row("checkout 8 clients", 42.0, 600.0, "orders/s", 0.07, "≥0.3x", False, "slow"),
        Row("oversold units", 0, 0, "units", None, "0", True),
    ]


def test_the_table_has_one_line_per_row_with_target_and_verdict():
    lines = format_table(_rows()).splitlines()

    assert lines[0].split() == ["row", "figure", "baseline", "unit", "ratio", "target", "met?"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split()[-5:] == ["600", "orders/s", "0.07x", "≥0.3x", "NO"]
    assert lines[2].startswith("checkout 8 clients")
    assert lines[3].split()[-6:] == ["0", "0", "units", "-", "0", "yes"]
    assert len(lines) == 4


def test_results_json_holds_the_rows_and_the_meta(tmp_path):
    path = write_results(_rows(), {"load_before": {"cpus": 2}}, tmp_path / "results.json")

    written = json.loads(path.read_text())
    assert written["meta"] == {"load_before": {"cpus": 2}}
    assert [r["name"] for r in written["rows"]] == ["checkout 8 clients", "oversold units"]
    assert written["rows"][0] == {
        "name": "checkout 8 clients",
        "figure": 42.0,
        "baseline": 600.0,
        "unit": "orders/s",
        "ratio": 0.07,
        "target": "≥0.3x",
        "met": False,
        "note": "slow",
    }


WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.31ms    3.20ms  40.11ms   80.00%
    Req/Sec   325.10     20.00   360.00     70.00%
  Latency Distribution
     50%   11.90ms
     75%   13.50ms
     90%   16.00ms
     99%    1.20s
  1300 requests in 2.00s, 9.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    649.50
Transfer/sec:      4.55MB
"""


def test_wrk_report_is_read_into_rate_latency_and_failures():
    result = parse_wrk(WRK_OUTPUT)

    assert result.requests_per_s == 649.5
    assert result.latency_p50_ms == 11.9
    assert result.latency_p99_ms == 1200.0
    assert (result.requests, result.non_2xx, result.errors) == (1300, 4, 3)


def test_a_wrk_report_without_a_rate_is_refused():
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
