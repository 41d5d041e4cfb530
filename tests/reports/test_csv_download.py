"""CSV downloads of the manager's pages: streamed, and safe to open in a spreadsheet."""

from decimal import Decimal

from reports.web import csv_download


def test_rows_are_streamed_under_the_header_with_formulas_defused():
    rows = iter(
        [
            ["MAD-01", Decimal("-12.50"), 3],
            ['=HYPERLINK("x")', Decimal("0.00"), 0],
            ["+34 600", "-cash", "@home"],
        ]
    )

    response = csv_download("sales.csv", ["store", "net", "orders"], rows)

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="sales.csv"'
    assert b"".join(response.streaming_content).decode() == (
        "store,net,orders\n"
        "MAD-01,-12.50,3\n"
        '"\'=HYPERLINK(""x"")",0.00,0\n'
        "'+34 600,'-cash,'@home\n"
    )
