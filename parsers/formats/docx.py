"""DOCX reports with python-docx: paragraphs in body order, tables as grids, core properties."""
from __future__ import annotations

import io
import logging
import zipfile

from parsers.formats.archive import check_zip_limits
from parsers.formats.errors import DocumentError
from parsers.formats.grids import make_grid
from parsers.formats.titles import guess_title
from parsers.formats.textnorm import collapse_whitespace
from parsers.record import ExtractedDocument, FetchContext, Grid

logger = logging.getLogger(__name__)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CORE_PROPERTIES = ("created", "modified", "title", "author")


def read_docx(data: bytes, context: FetchContext, *, max_bytes: int) -> ExtractedDocument:
    """Read a DOCX; ``doc.text`` holds the paragraphs, every table also becomes a Grid."""
    check_zip_limits(data, max_bytes=max_bytes, what="DOCX")
    try:
        from docx import Document

        document = Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DocumentError(f"DOCX is damaged: not a readable Word package ({_reason(exc)})", format="docx") from exc
    except Exception as exc:  # python-docx and lxml raise several types for malformed parts
        raise DocumentError(f"DOCX is damaged: {_reason(exc)}", format="docx") from exc

    doc = ExtractedDocument(format="docx", doc_metadata=_core_properties(document))
    paragraphs: list[str] = []
    for kind, item in _body_items(document):
        if kind == "paragraph":
            paragraphs.append(item)
        else:
            doc.grids.append(item)
    doc.text = "\n".join(line for line in paragraphs if line.strip())
    doc.title = guess_title(doc.text) or (collapse_whitespace(doc.doc_metadata.get("title", "")) or None)
    return doc


def _body_items(document):
    """("paragraph", text) and ("grid", Grid) in the order they appear in the body, content controls included."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    def walk(parent_element):
        for child in parent_element.iterchildren():
            if child.tag == f"{_W}p":
                yield "paragraph", Paragraph(child, document._body).text
            elif child.tag == f"{_W}tbl":
                grid = _table_grid(Table(child, document._body))
                if grid:
                    yield "grid", grid
            elif child.tag == f"{_W}sdt":
                content = child.find(f"{_W}sdtContent")
                if content is not None:
                    yield from walk(content)

    yield from walk(document.element.body)


def _table_grid(table) -> Grid | None:
    """python-docx repeats a merged cell in every slot it covers, which is the expansion a Grid wants."""
    try:
        rows = [[cell.text for cell in row.cells] for row in table.rows]
    except Exception:  # a malformed table costs that table, not the document
        logger.info("unreadable DOCX table", exc_info=True)
        return None
    return make_grid(rows, "docx")


def _core_properties(document) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        properties = document.core_properties
    except Exception:  # a missing or broken docProps/core.xml costs the metadata only
        logger.info("unreadable DOCX core properties", exc_info=True)
        return found
    for name in _CORE_PROPERTIES:
        try:
            value = getattr(properties, name)
        except Exception:  # e.g. an unparsable W3CDTF date
            logger.info("unreadable DOCX core property %s", name, exc_info=True)
            continue
        if value is None or value == "":
            continue
        found[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return found


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text[:120]}" if text else exc.__class__.__name__
