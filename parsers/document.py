"""One entry point: ``parse_document(data, context) -> ReportRecord``.

Sniff the format and read it (``parsers.formats``), then interpret: tables, classification, dates,
consistency. Every step works on the ``ExtractedDocument``; none of them sees the raw bytes again.
"""
from __future__ import annotations

import logging

from parsers.classify import classify
from parsers.consistency import check_tables, check_template, check_text_against_tables
from parsers.dates import choose_publication_date, collect_dates
from parsers.formats import DocumentError, extract
from parsers.formats.ocr import OcrOptions
from parsers.record import FetchContext, ReportRecord
from parsers.tables import extract_tables

logger = logging.getLogger(__name__)


def parse_document(data: bytes, context: FetchContext | None = None, *,
                   ocr: OcrOptions = OcrOptions()) -> ReportRecord:
    """``ocr``: how scanned pages are read (``parsers.formats.ocr.OCR_OFF`` leaves them unread)."""
    context = context or FetchContext()
    try:
        return _parse(data, context, ocr)
    except DocumentError as exc:
        return ReportRecord(error=str(exc), source_format=exc.format, needs_ocr=exc.needs_ocr)
    except Exception as exc:  # a parser bug must cost one record, never a crawl
        logger.exception("parser failed on %s", context.url or context.filename or "<bytes>")
        return ReportRecord(error=f"internal parser error: {exc.__class__.__name__}: {exc}")


def _parse(data: bytes, context: FetchContext, ocr: OcrOptions) -> ReportRecord:
    doc = extract(data, context, ocr=ocr)
    record = ReportRecord(
        source_format=doc.format,
        encoding=doc.encoding,
        text=doc.text,
        needs_ocr=doc.needs_ocr,
        text_source=doc.text_source,
        attachments=list(doc.links),
        catalog_fields=dict(doc.catalog_box),
        warnings=list(doc.warnings),
    )
    dates = collect_dates(doc, context)
    record.dates = dates
    signing = next((d for d in dates if d.source == "signing"), None)
    record.signing_date = signing.value if signing else None
    chosen = choose_publication_date(dates)
    record.publication_date = chosen.date
    record.date_source = chosen.source
    record.date_reason = chosen.reason

    if doc.needs_ocr:
        record.title = doc.title or context.listing_title
        record.kind_reason = "扫描件或图片，无文字层：需要 OCR"
        return record

    tables = extract_tables(doc)
    record.tables = tables
    found = classify(doc, tables, context, published=record.publication_date)
    record.is_report = found.is_report
    record.kind = found.kind
    record.kind_reason = found.reason
    record.title = found.title
    record.agency = found.agency
    record.agency_source = found.agency_source
    record.level = context.level or found.level
    record.report_year = found.report_year
    record.format = found.format
    record.format_reason = found.format_reason
    if found.is_report:
        record.consistency_errors = check_tables(tables) + check_text_against_tables(doc.text, tables)
        record.template = check_template(doc.text, found.format)
        record.template.tables_not_in_text = found.format_cited
    return record
