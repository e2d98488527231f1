"""Format readers: bytes of any report document (HTML, PDF, DOCX, DOC, WPS, text, ZIP, image) to an
``ExtractedDocument``. ``parsers.document`` calls ``extract``; nothing here interprets the content.
"""
from parsers.formats.dispatch import DEFAULT_MAX_BYTES, extract
from parsers.formats.errors import DocumentError
from parsers.formats.sniff import sniff_format

__all__ = ["DEFAULT_MAX_BYTES", "DocumentError", "extract", "sniff_format"]
