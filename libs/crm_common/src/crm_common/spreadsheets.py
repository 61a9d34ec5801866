"""Excel workbooks (.xlsx, openpyxl) for the exports and imports: the same rows as the CSV
files, so an import reads a workbook by turning its first sheet into the CSV it would have
been (one code path, the same row-level error report, the same line numbers)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook

from crm_common.errors import BadUserInput

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The most rows one workbook import takes (as the CSV imports).
MAX_ROWS = 200_000


def rows_to_xlsx(rows: Iterable[list[str]], title: str) -> bytes:
    """A one-sheet workbook of ``rows`` (the first is the header), written in streaming mode."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def collect(rows: AsyncIterator[list[str]]) -> list[list[str]]:
    return [row async for row in rows]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_to_csv(data: bytes) -> str:
    """The first sheet of a workbook as CSV text (BAD_USER_INPUT for a file that is not one)."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zipfile / XML errors: not a workbook
        raise BadUserInput(
            "xlsx: not an Excel workbook", field="file", reason="INVALID_XLSX"
        ) from exc
    try:
        sheet = book.worksheets[0]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for index, row in enumerate(sheet.iter_rows(values_only=True)):
            if index > MAX_ROWS:
                raise BadUserInput(
                    f"xlsx: at most {MAX_ROWS} rows", field="file", reason="TOO_MANY_ROWS"
                )
            writer.writerow([_cell(v) for v in row])
        return out.getvalue()
    finally:
        book.close()
