"""The dashboard's exports: CSV (UTF-8 with BOM, so Excel reads the Chinese), XLSX and JSON of the same rows."""
from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl import Workbook

from web.dashboard import EXPORT_FIELDS, export_cell
from web.labels import FIELD_LABELS

XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
_CSV_BATCH = 500


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
        writer.writerow([export_cell(field, row) for field in EXPORT_FIELDS])
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
        sheet.append([export_cell(field, row) for field in EXPORT_FIELDS])
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
