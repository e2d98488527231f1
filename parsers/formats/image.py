"""Images (scanned pages): nothing to read without OCR, which is not this project's job yet."""
from __future__ import annotations

from parsers.record import ExtractedDocument, FetchContext


def read_image(data: bytes, context: FetchContext) -> ExtractedDocument:
    return ExtractedDocument(format="image", needs_ocr=True, warnings=["图片文件（扫描件），需要 OCR 才能读取文字"])
