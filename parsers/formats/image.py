"""Images (scanned pages): their text by OCR when allowed, else nothing to read."""
from __future__ import annotations

import logging

from parsers.formats.ocr import OCR_OFF, OcrOptions, OcrUnavailable, ocr_image_file
from parsers.formats.titles import guess_title
from parsers.record import ExtractedDocument, FetchContext

logger = logging.getLogger(__name__)


def read_image(data: bytes, context: FetchContext, *, ocr: OcrOptions = OCR_OFF) -> ExtractedDocument:
    doc = ExtractedDocument(format="image", needs_ocr=True)
    if not ocr.enabled:
        doc.warnings.append("图片文件（扫描件），需要 OCR 才能读取文字")
        return doc
    try:
        result = ocr_image_file(data, ocr)
    except OcrUnavailable as exc:
        doc.warnings.append(str(exc))
        return doc
    except Exception as exc:  # Pillow raises many types for the many ways an image can be broken
        logger.info("unreadable image %s", context.url or context.filename, exc_info=True)
        doc.warnings.append(f"图片无法解码，未能 OCR：{exc.__class__.__name__}")
        return doc
    doc.warnings.extend(result.warnings)
    doc.text = "\n".join(page for page in result.pages if page)
    doc.grids = result.grids
    if not doc.text.strip():
        doc.warnings.append("图片经 OCR 未识别出文字")
        return doc
    doc.needs_ocr = False
    doc.text_source = "ocr"
    doc.title = guess_title(doc.text)
    doc.warnings.append(f"图片文字由 OCR 识别（{result.seconds:.1f} 秒），可能有误字")
    return doc
