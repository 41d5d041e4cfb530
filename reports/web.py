"""What the manager's pages share: CSV downloads, streamed a row at a time."""

import csv
from collections.abc import Iterable
from decimal import Decimal

from django.http import StreamingHttpResponse


class _Line:
    """A file-like target for ``csv.writer`` that hands back each line written."""

    def write(self, line: str) -> str:
        return line


def spreadsheet_safe(value) -> str:
    """A cell as text; one starting like a formula gets a leading quote, so a spreadsheet
    shows it instead of running it."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_download(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    """``rows`` under ``header`` as a CSV attachment called ``filename``, written as the
    response is sent. Text cells are made spreadsheet-safe; numbers and amounts pass as they
    are (a negative amount stays a number)."""
    writer = csv.writer(_Line(), lineterminator="\n")

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(
                [cell if _is_number(cell) else spreadsheet_safe(cell) for cell in row]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _is_number(value) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
