"""The dashboard's exports: CSV (UTF-8 with BOM, so Excel reads the Chinese), XLSX and JSON of the same rows.

Text from crawled pages never becomes a spreadsheet formula (``csv_text``, ``sheet_cell``; ``xxgk status``'s
XLSX shares them)."""
from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from web.dashboard import EXPORT_FIELDS, export_cell
from web.labels import FIELD_LABELS

XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
_CSV_BATCH = 500


# what makes Excel or LibreOffice read a CSV cell as a formula; a title taken from a crawled page may start so
# (=HYPERLINK("http://…?"&A2, "点击"): the page's author would run a formula in the reader's spreadsheet
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """A CSV cell that a spreadsheet opens as the text it is: a leading "'" before a formula's start (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def sheet_cell(sheet, value: Any) -> Any:
    """A value for ``sheet.append`` (write-only or not) that stays text: openpyxl writes a string starting with "="
    as a formula. Unchanged, not quoted: an XLSX cell has a type, so the reader sees exactly the text."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def headers() -> list[str]:
    return [FIELD_LABELS.get(field, field) for field in EXPORT_FIELDS]


def csv_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The CSV file in pieces, for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(headers())
    written = 0
    for row in rows:
        writer.writerow([csv_text(export_cell(field, row)) for field in EXPORT_FIELDS])
        written += 1
        if written % _CSV_BATCH == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_bytes(rows: Iterable[dict[str, Any]], title: str = "判定结果") -> bytes:
    """The whole workbook (XLSX cannot be streamed: its zip directory comes last); write-only keeps memory flat."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(headers())
    for row in rows:
        sheet.append([sheet_cell(sheet, export_cell(field, row)) for field in EXPORT_FIELDS])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        return handle.read()


def json_chunks(rows: Iterable[dict[str, Any]], filters: dict[str, Any]) -> Iterator[bytes]:
    """``{"filters": {...}, "fields": [...], "rows": [...]}`` in pieces, codes kept as they are stored."""
    head = {"filters": filters, "fields": list(EXPORT_FIELDS) + ["status_label"]}
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [').encode("utf-8")
    first = True
    for row in rows:
        yield (("" if first else ",\n") + json.dumps(row, ensure_ascii=False)).encode("utf-8")
        first = False
    yield b"]}\n"
