"""PDF reports with pdfplumber: text page by page, ruled tables, the document-information dictionary."""
from __future__ import annotations

import io
import logging
import re
import time

from parsers.formats.errors import DocumentError
from parsers.formats.grids import make_grid
from parsers.formats.ocr import OCR_OFF, OcrOptions, OcrUnavailable, ocr_pdf_pages
from parsers.formats.titles import guess_title
from parsers.formats.textnorm import compact_title
from parsers.record import ExtractedDocument, FetchContext, Grid

logger = logging.getLogger(__name__)

MAX_PAGES = 200
TIME_BUDGET = 120.0  # seconds; pathological pages (millions of tiny glyphs) must not stall a crawl
_MIN_CHARS_PER_PAGE = 10  # fewer on average: a scan with no text layer (or only stray marks)
_METADATA_KEYS = ("CreationDate", "ModDate", "Producer", "Creator", "Title", "Author")
# "- 3 -", "—3—", "第 3 页", "第3页 共6页", "3 / 6": page furniture, not content
_PAGE_NUMBER_LINE = re.compile(
    r"^\s*(?:[-—–－]+\s*\d{1,4}\s*[-—–－]+|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?|\d{1,4}\s*/\s*\d{1,4})\s*$")
_BARE_NUMBER = re.compile(r"^\s*\d{1,4}\s*$")
_END_MARKER_WINDOW = 2048


def read_pdf(data: bytes, context: FetchContext, *, max_pages: int = MAX_PAGES,
             time_budget: float = TIME_BUDGET, ocr: OcrOptions = OCR_OFF) -> ExtractedDocument:
    """Read a PDF; pages without a text layer are read by OCR when ``ocr`` allows, else a scan comes back
    with ``needs_ocr`` set, not as an error.

    At most ``max_pages`` pages are read, and no new page is started after ``time_budget`` seconds.
    """
    try:
        import pdfplumber

        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return _read_open_pdf(pdf, data, max_pages, time_budget, ocr)
    except DocumentError:
        raise
    except Exception as exc:  # pdfminer raises many unrelated types for the many ways a PDF can be broken
        raise DocumentError(_damage_message(data, exc), format="pdf") from exc


def _read_open_pdf(pdf, data: bytes, max_pages: int, time_budget: float, ocr: OcrOptions) -> ExtractedDocument:
    doc = ExtractedDocument(format="pdf", doc_metadata=pdf_metadata(pdf))
    page_count = len(pdf.pages)
    if page_count == 0:
        raise DocumentError("PDF has no pages: it is truncated or damaged", format="pdf")
    if page_count > max_pages:
        doc.warnings.append(f"PDF 共 {page_count} 页，只读取了前 {max_pages} 页")
    if not _has_end_marker(data):
        doc.warnings.append("PDF 文件末尾缺少 %%EOF 标记，可能下载不完整")

    page_texts: list[str] = []
    empty_pages: list[int] = []
    started = time.monotonic()
    for number, page in enumerate(pdf.pages[:max_pages], start=1):
        if number > 1 and time.monotonic() - started > time_budget:
            doc.warnings.append(f"PDF 读取超过 {time_budget:g} 秒，只读取了前 {number - 1} 页")
            break
        text = _page_text(page, number)
        if len(re.sub(r"\s", "", text)) < _MIN_CHARS_PER_PAGE:
            empty_pages.append(number)
        page_texts.append(text)
        doc.grids.extend(_page_grids(page))
        page.close()  # frees the page's cached layout objects: long PDFs stay within memory

    pages_read = len(page_texts)
    scanned = len(re.sub(r"\s", "", "".join(page_texts))) < _MIN_CHARS_PER_PAGE * pages_read
    unread = list(range(1, pages_read + 1)) if scanned else empty_pages
    if unread and ocr.enabled:
        _read_by_ocr(doc, data, page_texts, unread, ocr, scanned)
    elif scanned:
        doc.needs_ocr = True
        doc.warnings.append("PDF 没有文字层（扫描件），需要 OCR")
    elif empty_pages:
        doc.warnings.append(f"第 {', '.join(map(str, empty_pages))} 页没有文字层，可能是扫描页")
    doc.text = "\n".join(text for text in page_texts if text)
    doc.title = guess_title(doc.text) or _metadata_title(doc.doc_metadata)
    return doc


def _read_by_ocr(doc: ExtractedDocument, data: bytes, page_texts: list[str], unread: list[int],
                 ocr: OcrOptions, scanned: bool) -> None:
    """Put the OCR text of the ``unread`` pages in their places; what OCR could not do is said, not hidden."""
    try:
        result = ocr_pdf_pages(data, unread, ocr)
    except OcrUnavailable as exc:
        doc.needs_ocr = scanned
        doc.warnings.append(str(exc))
        return
    for number, text in zip(unread, result.pages):
        page_texts[number - 1] = text
    doc.grids.extend(result.grids)
    doc.warnings.extend(result.warnings)
    read = unread[: len(result.pages)]
    if not any(re.sub(r"\s", "", text) for text in result.pages):
        doc.needs_ocr = scanned
        doc.warnings.append("扫描页经 OCR 未识别出文字")
        return
    doc.text_source = "ocr" if scanned else "document+ocr"
    pages = "全部页面" if scanned and not result.skipped else f"第 {', '.join(map(str, read))} 页"
    doc.warnings.append(f"{pages}没有文字层，文字由 OCR 识别（{result.seconds:.1f} 秒），可能有误字")


def pdf_metadata(pdf) -> dict[str, str]:
    """The raw document-information strings (CreationDate, ModDate, Producer, Title ...), properly decoded."""
    found: dict[str, str] = {}
    try:
        infos = list(pdf.doc.info)
    except Exception:  # a broken info dictionary costs the metadata, not the document
        logger.info("unreadable PDF info dictionary", exc_info=True)
        return found
    for info in infos:
        for key in _METADATA_KEYS:
            if key in found or key not in info:
                continue
            value = _metadata_string(info[key])
            if value:
                found[key] = value
    return found


def _metadata_string(raw) -> str | None:
    try:
        from pdfminer.pdftypes import resolve1
        from pdfminer.psparser import PSLiteral
        from pdfminer.utils import decode_text

        value = resolve1(raw)
        if isinstance(value, PSLiteral):
            value = value.name
        if isinstance(value, str):
            return value.strip("\x00 ") or None
        if not isinstance(value, bytes):
            return None
        # pdfminer knows the big-endian BOM only; WPS writes little-endian UTF-16 with its BOM
        if value.startswith(b"\xff\xfe"):
            text = value[2:].decode("utf-16-le", "replace")
        elif value.startswith(b"\xfe\xff"):
            text = value[2:].decode("utf-16-be", "replace")
        else:
            text = decode_text(value)
    except Exception:  # one unreadable field must not cost the others
        logger.info("unreadable PDF metadata value %r", raw, exc_info=True)
        return None
    return text.strip("\x00 ") or None


def _metadata_title(metadata: dict[str, str]) -> str | None:
    title = metadata.get("Title")
    if not title or not re.search(r"[\u4e00-\u9fff]", title):
        return None  # "Microsoft Word - 1.doc" and similar say nothing
    return compact_title(title)


def _page_text(page, number: int) -> str:
    text = page.extract_text() or ""
    lines = text.splitlines()
    kept = [line for index, line in enumerate(lines) if not _is_page_number(line, index, len(lines), number)]
    return "\n".join(line.rstrip() for line in kept if line.strip())


def _is_page_number(line: str, index: int, line_count: int, number: int) -> bool:
    if _PAGE_NUMBER_LINE.match(line):
        return True
    # A bare number is a page number only at the top or bottom of the page and equal to the page's number:
    # elsewhere it may be a table cell.
    if _BARE_NUMBER.match(line) and index in (0, line_count - 1):
        return int(line) == number
    return False


def _page_grids(page) -> list[Grid]:
    grids = []
    try:
        tables = page.find_tables()
    except Exception:  # table detection failing on one page still leaves its text
        logger.info("table detection failed on page %s", page.page_number, exc_info=True)
        return grids
    for table in tables:
        try:
            grid = make_grid(_expanded_rows(table), "pdf")
        except Exception:
            logger.info("unreadable table on page %s", page.page_number, exc_info=True)
            continue
        if grid:
            grids.append(grid)
    return grids


def _expanded_rows(table) -> list[list[str]]:
    """pdfplumber leaves None in the slots a merged cell covers: fill them with that cell's text.

    pdfplumber's slot grid is every distinct cell left edge by every distinct cell top; a None slot is
    filled from the cell whose box contains the slot's centre.
    """
    texts = table.extract()
    known: list[tuple[tuple[float, float, float, float], str]] = []
    for row, row_texts in zip(table.rows, texts):
        for bbox, text in zip(row.cells, row_texts):
            if bbox is not None:
                known.append((bbox, text or ""))
    x0, top, x1, bottom = table.bbox
    lefts = sorted({bbox[0] for bbox, _ in known}) + [x1]
    tops = [row.bbox[1] for row in table.rows] + [bottom]
    expanded = []
    for row_index, (row, row_texts) in enumerate(zip(table.rows, texts)):
        y = (tops[row_index] + tops[row_index + 1]) / 2
        cells = []
        for column, (bbox, text) in enumerate(zip(row.cells, row_texts)):
            if bbox is not None:
                cells.append(text or "")
            elif column + 1 < len(lefts):
                cells.append(_covering_text(known, (lefts[column] + lefts[column + 1]) / 2, y))
            else:
                cells.append("")
        expanded.append(cells)
    return expanded


def _covering_text(known, x: float, y: float) -> str:
    for (x0, top, x1, bottom), text in known:
        if x0 <= x <= x1 and top <= y <= bottom:
            return text
    return ""


def _has_end_marker(data: bytes) -> bool:
    return b"%%EOF" in data[-_END_MARKER_WINDOW:]


def _damage_message(data: bytes, exc: Exception) -> str:
    # pdfplumber wraps pdfminer's exception as its first argument: the inner one says what went wrong
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    reason = str(inner).strip().splitlines()[0] if str(inner).strip() else inner.__class__.__name__
    kind = inner.__class__.__name__.lower()
    if "password" in kind or "encrypt" in kind:
        return "PDF is password-protected and cannot be read without its password"
    if not _has_end_marker(data):
        return f"PDF is truncated or damaged (no %%EOF end marker after {len(data)} bytes): {reason[:120]}"
    return f"PDF is truncated or damaged: {reason[:120]}"
