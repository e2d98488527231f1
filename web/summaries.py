"""Catalog rows as the JSON the pages and the API share: dates as ISO strings, codes with their Chinese names."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from storage.catalog.models import Capture, FetchError, Report
from web.labels import error_kind_label, format_label, kind_label, record_type_label, source_label


def report_summary(report: Report) -> dict[str, Any]:
    record = report.record_json or {}
    return {
        "id": report.id, "title": report.title, "url": report.url, "report_year": report.report_year,
        "is_report": report.is_report, "kind": report.kind, "kind_label": kind_label(report.kind),
        "format": report.format, "format_label": format_label(report.format),
        "publication_date": iso(report.publication_date), "date_source": report.date_source,
        "date_source_label": source_label(report.date_source), "signing_date": iso(report.signing_date),
        "consistency_errors": len(record.get("consistency_errors") or []), "needs_ocr": report.needs_ocr,
        "error": report.error, "capture_id": report.capture_id, "agency_id": report.agency_id,
    }


def capture_summary(capture: Capture) -> dict[str, Any]:
    return {
        "id": capture.id, "url": capture.url, "timestamp": iso(capture.timestamp), "status": capture.status,
        "record_type": capture.record_type, "record_type_label": record_type_label(capture.record_type),
        "mime": capture.mime, "payload_sha1": capture.payload_sha1, "payload_sha256": capture.payload_sha256,
        "payload_length": capture.payload_length, "refers_to": capture.refers_to_capture_id,
        "run_id": capture.run_id, "agency_id": capture.agency_id, "truncated": capture.truncated,
    }


def error_summary(error: FetchError) -> dict[str, Any]:
    return {"id": error.id, "url": error.url, "kind": error.kind, "kind_label": error_kind_label(error.kind),
            "message": error.message, "at": iso(error.at), "run_id": error.run_id, "agency_id": error.agency_id}


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
