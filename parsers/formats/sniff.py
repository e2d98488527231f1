"""What kind of document some bytes are: magic bytes first, then what the server or file name claims,
then the content itself (markup or plain text).

The claim (file name, URL, content type) is only used where the bytes cannot decide: portals serve HTML
error pages as ``report.docx`` and PDFs as ``text/html``.
"""
from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import unquote, urlsplit

from parsers.formats.errors import ZIP_ERRORS
from parsers.links import attachment_kind
from parsers.record import FetchContext

FORMATS = ("html", "pdf", "docx", "doc", "wps", "text", "zip", "image", "xlsx", "unknown")

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_IMAGE_MAGICS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_PDF_SEARCH_WINDOW = 1024  # the PDF spec lets a few bytes of junk precede %PDF-
_SAMPLE = 16 * 1024

# Extensions and content types for what parsers.links.attachment_kind does not cover (pages, text, images).
_EXTENSION_FORMATS = {
    "htm": "html", "html": "html", "shtml": "html", "xhtml": "html", "jsp": "html", "asp": "html",
    "aspx": "html", "php": "html", "txt": "text", "png": "image", "jpg": "image", "jpeg": "image",
    "gif": "image", "tif": "image", "tiff": "image", "bmp": "image", "webp": "image", "rtf": "doc",
    "et": "xlsx", "xls": "xlsx", "xlsx": "xlsx",
}
_ATTACHMENT_FORMATS = {"pdf": "pdf", "doc": "doc", "docx": "docx", "wps": "wps", "zip": "zip",
                       "xls": "xlsx", "xlsx": "xlsx"}
_CONTENT_TYPE_FORMATS = (  # substring of the media type -> format; first match wins
    ("pdf", "pdf"),
    ("wordprocessingml", "docx"),
    ("wps", "wps"),
    ("msword", "doc"),
    ("rtf", "doc"),
    ("spreadsheetml", "xlsx"),
    ("ms-excel", "xlsx"),
    ("zip", "zip"),
    ("html", "html"),
    ("xhtml", "html"),
    ("text/plain", "text"),
    ("image/", "image"),
)
_FILENAME_PARAM = re.compile(r"filename\*?\s*=\s*(?:[\w-]+'[\w-]*')?\"?([^\";]+)\"?", re.IGNORECASE)
_STRONG_HTML = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(?:meta|title|div|p|table|tr|td|span|a|br|script|style|link|h[1-6])[\s>/]", re.IGNORECASE)
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


def sniff_format(data: bytes, context: FetchContext) -> str:
    """One of FORMATS for ``data``; ``context`` decides only what the bytes leave open (DOC vs WPS)."""
    claimed = declared_format(context)
    magic = _format_from_magic(data, claimed)
    if magic:
        return magic
    if looks_binary(data[:_SAMPLE]):
        return "unknown"
    if looks_like_html(_text_sample(data)):
        return "html"
    if claimed == "html":
        return "html"
    return "text"


def declared_format(context: FetchContext) -> str | None:
    """The format the file name, the URL or the content type claim, before looking at any byte."""
    for name in (context.filename, _disposition_filename(context), context.url):
        found = format_from_name(name)
        if found:
            return found
    media_type = (context.content_type or context.header("Content-Type") or "").lower()
    for needle, found in _CONTENT_TYPE_FORMATS:
        if needle in media_type:
            return found
    return None


def document_name(context: FetchContext) -> str | None:
    """A human name for the document: file name, Content-Disposition name, or the URL's last segment."""
    if context.filename:
        return context.filename
    disposition = _disposition_filename(context)
    if disposition:
        return disposition
    if context.url:
        return unquote(urlsplit(context.url).path.rsplit("/", 1)[-1]) or None
    return None


def looks_like_html(text: str) -> bool:
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    if _STRONG_HTML.search(head):
        return True
    return len(_HTML_TAG.findall(head)) >= 3


def looks_binary(sample: bytes) -> bool:
    """Bytes no text editor would have written: control characters, or decodable in no likely charset."""
    if not sample:
        return False
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text with a byte-order mark
    controls = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    if controls / len(sample) > 0.01:
        return True
    replaced = min(sample.decode(enc, "replace").count("\ufffd") for enc in ("utf-8", "gb18030"))
    return replaced / len(sample) > 0.02


def _zip_format(data: bytes, claimed: str | None) -> str:
    """docx, xlsx or zip, from the member names; a damaged ZIP is judged by its raw local headers,
    then by what it claims to be, so that the error names the right format."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except ZIP_ERRORS:
        names = None
    for member, found in (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx")):
        if (member in names) if names is not None else (member.encode("ascii") in data):
            return found
    if names is None and claimed in ("docx", "xlsx"):
        return claimed
    return "zip"


def _format_from_magic(data: bytes, claimed: str | None) -> str | None:
    if b"%PDF-" in data[:_PDF_SEARCH_WINDOW]:
        return "pdf"
    if data.startswith(_ZIP_MAGICS):
        return _zip_format(data, claimed)
    if data.startswith(OLE2_MAGIC):
        # WPS and XLS files are OLE2 containers too: only the name or content type tells them apart.
        if claimed in ("wps", "xlsx"):
            return claimed
        return "doc"
    if data.startswith(b"{\\rtf"):
        return "doc"
    if data.startswith(_IMAGE_MAGICS) or (data.startswith(b"RIFF") and data[8:12] == b"WEBP"):
        return "image"
    if data.startswith(b"BM") and len(data) > 26 and int.from_bytes(data[2:6], "little") == len(data):
        return "image"
    return None


def format_from_name(name: str | None) -> str | None:
    """The format a file name or URL claims by its extension (or a ``?filename=x.pdf`` parameter)."""
    if not name:
        return None
    kind = attachment_kind(name)
    if kind in _ATTACHMENT_FORMATS:
        return _ATTACHMENT_FORMATS[kind]
    path = unquote(urlsplit(name).path) if "://" in name else name
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _EXTENSION_FORMATS.get(extension)


def _disposition_filename(context: FetchContext) -> str | None:
    disposition = context.header("Content-Disposition")
    if not disposition:
        return None
    match = _FILENAME_PARAM.search(disposition)
    return unquote(match.group(1)).strip() if match else None


def _text_sample(data: bytes) -> str:
    sample = data[:_SAMPLE]
    if sample.startswith(b"\xff\xfe"):
        return sample.decode("utf-16-le", "replace")
    if sample.startswith(b"\xfe\xff"):
        return sample.decode("utf-16-be", "replace")
    return sample.decode("utf-8", "replace")
