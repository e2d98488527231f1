"""Plain-text documents: decoded with the shared encoding rules, newlines normalised."""
from __future__ import annotations

from parsers.formats.encoding import charset_from_content_type, decode_bytes
from parsers.formats.labels import dates_near_title
from parsers.formats.textnorm import collapse_whitespace
from parsers.formats.titles import guess_title
from parsers.record import ExtractedDocument, FetchContext


def read_text(data: bytes, context: FetchContext) -> ExtractedDocument:
    declared = charset_from_content_type(context.content_type or context.header("Content-Type"))
    decoded = decode_bytes(data, [("HTTP 头", declared)])
    text = decoded.text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    title = guess_title(text)
    lines = [line for line in (collapse_whitespace(line) for line in text.splitlines()) if line]
    # a page saved as text keeps its "发布时间：…" line: read it as the HTML reader does
    return ExtractedDocument(format="text", text=text, title=title, encoding=decoded.encoding,
                             page_dates=dates_near_title(lines, title), warnings=list(decoded.warnings))
