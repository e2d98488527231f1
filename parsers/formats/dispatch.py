"""``extract``: bytes of any report document to an ExtractedDocument, through the reader for its format."""
from __future__ import annotations

from dataclasses import replace

from parsers.formats.archive import pick_report_member
from parsers.formats.doc import read_doc
from parsers.formats.docx import read_docx
from parsers.formats.errors import DocumentError
from parsers.formats.html import read_html
from parsers.formats.image import read_image
from parsers.formats.ocr import OCR_OFF, OcrOptions
from parsers.formats.pdf import read_pdf
from parsers.formats.sniff import declared_format, document_name, sniff_format
from parsers.formats.text import read_text
from parsers.record import ExtractedDocument, FetchContext

DEFAULT_MAX_BYTES = 30 * 2**20
_MAX_ZIP_DEPTH = 1
_INTERCHANGEABLE = {frozenset({"html", "text"}), frozenset({"doc", "wps"})}
_ARCHIVE_MAGICS = ((b"Rar!\x1a\x07", "RAR"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"\x1f\x8b", "gzip"))


def extract(data: bytes, context: FetchContext | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
            ocr: OcrOptions = OCR_OFF) -> ExtractedDocument:
    """Read ``data`` as whatever document it is; raises DocumentError with one clear sentence if it cannot.
    Pages without a text layer (scans, images) are read by OCR when ``ocr`` allows it."""
    return _extract(bytes(data), context or FetchContext(), max_bytes, depth=0, ocr=ocr)


def _extract(data: bytes, context: FetchContext, max_bytes: int, depth: int, ocr: OcrOptions) -> ExtractedDocument:
    if not data:
        raise DocumentError("empty document (0 bytes)")
    if len(data) > max_bytes:  # checked before any parser sees a byte
        raise DocumentError(f"document is {len(data) / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB parse limit")
    if not data.strip():
        raise DocumentError(f"empty document ({len(data)} bytes of whitespace only)")

    found = sniff_format(data, context)
    if found == "unknown":
        raise DocumentError(_unknown_message(data), format="unknown")
    if found == "xlsx":
        raise DocumentError("a spreadsheet (xls/xlsx), not a report document: it is not parsed", format="xlsx")
    if found == "zip":
        if depth >= _MAX_ZIP_DEPTH:
            raise DocumentError("a ZIP inside a ZIP is not opened", format="zip")
        return _extract_zip(data, context, max_bytes, depth, ocr)

    doc = _read(found, data, context, max_bytes, ocr)
    claimed = declared_format(context)
    if claimed and claimed != found and frozenset({claimed, found}) not in _INTERCHANGEABLE:
        name = document_name(context) or context.content_type or ""
        doc.warnings.insert(0, f"文件声称是 {claimed}（{name}），内容实为 {found}，已按 {found} 读取")
    return doc


def _read(found: str, data: bytes, context: FetchContext, max_bytes: int, ocr: OcrOptions) -> ExtractedDocument:
    if found == "html":
        return read_html(data, context)
    if found == "pdf":
        return read_pdf(data, context, ocr=ocr)
    if found == "docx":
        return read_docx(data, context, max_bytes=max_bytes)
    if found in ("doc", "wps"):
        return read_doc(data, context, format=found)
    if found == "image":
        return read_image(data, context, ocr=ocr)
    return read_text(data, context)


def _extract_zip(data: bytes, context: FetchContext, max_bytes: int, depth: int,
                 ocr: OcrOptions) -> ExtractedDocument:
    member = pick_report_member(data, max_bytes=max_bytes)
    inner_context = replace(context, filename=member.name.rsplit("/", 1)[-1], content_type=None, headers={})
    try:
        doc = _extract(member.data, inner_context, max_bytes, depth + 1, ocr)
    except DocumentError as exc:
        inner = f"zip/{exc.format}" if exc.format else "zip"
        raise DocumentError(f"ZIP member {member.name}: {exc.message}", format=inner, needs_ocr=exc.needs_ocr) from exc
    doc.format = f"zip/{doc.format}"
    doc.warnings.insert(0, f"读取压缩包中的 {member.name}")
    if member.others:
        doc.warnings.append(f"压缩包中的其他文件：{'、'.join(member.others[:20])}")
    return doc


def _unknown_message(data: bytes) -> str:
    for magic, name in _ARCHIVE_MAGICS:
        if data.startswith(magic):
            return f"{name} archives are not supported: only ZIP archives are opened"
    return "not a document: bytes look like random binary data"
