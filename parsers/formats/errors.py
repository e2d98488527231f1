"""The one error a format reader raises: bytes that cannot be read as a document."""
from __future__ import annotations

import struct
import zipfile
import zlib

# What the standard zipfile module raises on damaged or hostile archives, at open or at read time.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, struct.error, OSError, EOFError, ValueError, NotImplementedError,
              RuntimeError)


class DocumentError(Exception):
    """A document that cannot be read; ``message`` is one sentence a user can act on.

    ``format`` is what the bytes were taken for (``None`` before sniffing); ``needs_ocr`` marks
    documents that are readable only by OCR.
    """

    def __init__(self, message: str, format: str | None = None, needs_ocr: bool = False):
        super().__init__(message)
        self.message = message
        self.format = format
        self.needs_ocr = needs_ocr

    def __str__(self) -> str:
        return self.message
