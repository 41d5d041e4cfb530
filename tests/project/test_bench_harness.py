"""The bench's own arithmetic and output (no servers: the bench itself is `make bench`)."""

import json

from bench.bigdata import order_number, pickup_code
from bench.harness import Row, format_table, interleave, ratio, write_results


def test_interleave_alternates_and_reports_each_median():
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


def test_ratio_of_missing_or_zero_baseline_is_none():
    assert ratio(2.0, 8.0) == 0.25
    assert ratio(None, 8.0) is None
    assert ratio(2.0, 0) is None


def test_table_and_results_show_each_row(tmp_path):
    rows = [
        Row("admin order list @1M", 120.0, 2.0, "ms", 2.0 / 120.0, "≤ 100 ms", False, "p50"),
        Row("orders/s", 50.0, None, "/s", None),
    ]
    table = format_table(rows).splitlines()
    assert table[0].split() == ["row", "figure", "baseline", "ratio", "target", "met?"]
    assert "0.02×" in table[2] and "NO" in table[2]
    assert table[3].split()[-2:] == ["—", "—"]
    path = write_results(rows, {"cpus": 2}, path=tmp_path / "results.json")
    written = json.loads(path.read_text())
    assert written["meta"] == {"cpus": 2}
    assert [row["name"] for row in written["rows"]] == ["admin order list @1M", "orders/s"]
    assert written["rows"][0]["met"] is False


def test_generated_order_numbers_and_pickup_codes_are_distinct():
    numbers = {order_number(i) for i in range(50_000)}
    codes = {pickup_code(i) for i in range(50_000)}
    assert len(numbers) == len(codes) == 50_000
    assert all(len(number) == 11 and number.startswith("CC-") for number in numbers)
