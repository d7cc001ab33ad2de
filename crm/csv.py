"""CSV helpers every export (and the import error report) shares.

Spreadsheet programs run a cell that starts with = + - @ (or a tab or carriage return) as a
formula, so a customer named "=HYPERLINK(...)" could attack whoever opens an export. Every
exported cell goes through csv_safe(), which prefixes such cells with an apostrophe; imports
undo it with csv_restore(), so an exported file imports back unchanged.
"""

import csv
import datetime
import decimal
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse

from crm.tenancy import tenant_context

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Excel reads a UTF-8 file as the local code page unless it starts with a byte order mark.
BYTE_ORDER_MARK = "\ufeff"


def csv_safe(value: Any) -> str:
    """The text of a cell, with a leading apostrophe when a spreadsheet could run it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)  # numbers are data, never formulas: "-5" stays a negative number
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_restore(value: str) -> str:
    """Undo csv_safe() on an imported cell: "'=1+2" -> "=1+2", "'+44 20" -> "+44 20"."""
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Each row as one CSV line (cells through csv_safe), preceded by a byte order mark."""
    writer = csv.writer(_Echo())
    yield BYTE_ORDER_MARK
    for row in rows:
        yield writer.writerow([csv_safe(cell) for cell in row])


def _in_tenant(items: Iterator[str], organization_id: int, user_id: int | None) -> Iterator[str]:
    """Produce each item inside the tenant: a streamed body is read after the request ended."""
    while True:
        with tenant_context(organization_id, user_id):
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def streaming_csv_response(
    rows: Iterable[Sequence[Any]],
    *,
    filename: str,
    organization_id: int,
    user_id: int | None = None,
) -> StreamingHttpResponse:
    """A CSV download written while it is read, each row's queries run in the tenant.

    `rows` should be a generator that reads in batches, so memory stays flat whatever the size.
    """
    body = _in_tenant(csv_lines(rows), organization_id, user_id)
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    safe_name = "".join(ch for ch in filename if ch.isalnum() or ch in "-_.") or "export.csv"
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
