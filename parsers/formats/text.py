"""Plain-text documents: decoded with the shared encoding rules, newlines normalised."""
from __future__ import annotations

from parsers.formats.encoding import charset_from_content_type, decode_bytes
from parsers.formats.titles import guess_title
from parsers.record import ExtractedDocument, FetchContext


def read_text(data: bytes, context: FetchContext) -> ExtractedDocument:
    declared = charset_from_content_type(context.content_type or context.header("Content-Type"))
    decoded = decode_bytes(data, [("HTTP 头", declared)])
    text = decoded.text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    return ExtractedDocument(format="text", text=text, title=guess_title(text), encoding=decoded.encoding,
                             warnings=list(decoded.warnings))
