"""Text of page images (scanned PDF pages, image files) by OCR, with RapidOCR (PaddleOCR's Chinese models on
ONNX Runtime, CPU; the models ship in the wheel, so nothing is downloaded at run time).

Why RapidOCR and not Tesseract's chi_sim: measured on degraded renders of real report pages (benchmarks/ocr.py,
numbers in benchmarks/README.md) it reads Chinese prose and the statistics tables markedly better at a similar
speed. OCR output is a list of boxed text fragments; ``lines_from_boxes`` puts the fragments of one visual row on
one line, separated by tabs, which is the flattened-table shape ``parsers.tables`` reads from any text.
"""
from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field

from parsers.formats.scan_tables import page_grids
from parsers.record import Grid

logger = logging.getLogger(__name__)

# RapidOCR scales a page down to 2,000 px on its long side before detection: rendering larger only costs time.
_RENDER_LONG_SIDE = 2000
_MIN_SCORE = 0.5


@dataclass(frozen=True)
class OcrOptions:
    """How much OCR a document may get. ``enabled=False`` keeps scans unread (``needs_ocr`` on the record)."""

    enabled: bool = True
    time_budget: float = 60.0   # seconds per document; no new page is started after it
    max_pages: int = 30
    threads: int = 1            # ONNX Runtime threads: the parse pool already runs one parse per core


OCR_OFF = OcrOptions(enabled=False)


@dataclass
class OcrResult:
    pages: list[str] = field(default_factory=list)   # text of each page read, in order
    grids: list[Grid] = field(default_factory=list)  # the ruled tables found on those pages
    skipped: int = 0                                  # pages left unread (budget or page limit)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


class OcrUnavailable(RuntimeError):
    pass


_engines: dict[int, object] = {}


def _engine(threads: int):
    """One engine per process and thread setting: loading the models takes about half a second."""
    engine = _engines.get(threads)
    if engine is None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # a broken install (e.g. libGL missing for OpenCV) must not cost the record
            raise OcrUnavailable(f"OCR 引擎无法加载：{exc}") from exc
        engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, print_verbose=False)
        _engines[threads] = engine
    return engine


def lines_from_boxes(result) -> str:
    """Fragments whose vertical centres lie within half a fragment height of a row's centre form that row;
    rows top to bottom, fragments left to right, joined by tabs (a table row keeps its cells apart)."""
    boxes = []
    for box, text, score in result or []:
        if float(score) < _MIN_SCORE or not text.strip():
            continue
        ys = [point[1] for point in box]
        xs = [point[0] for point in box]
        boxes.append((min(ys), max(ys), min(xs), text.strip()))
    rows: list[dict] = []
    for top, bottom, left, text in sorted(boxes):
        centre, height = (top + bottom) / 2, max(bottom - top, 1.0)
        for row in rows:
            if abs(row["centre"] - centre) < min(height, row["height"]) * 0.5:
                row["cells"].append((left, text))
                break
        else:
            rows.append({"centre": centre, "height": height, "cells": [(left, text)]})
    rows.sort(key=lambda row: row["centre"])
    return "\n".join("\t".join(text for _, text in sorted(row["cells"])) for row in rows)


def ocr_image(image, options: OcrOptions, into: OcrResult) -> None:
    """Text and ruled tables of one page image (a PIL image), added to ``into``."""
    import numpy

    engine = _engine(options.threads)
    gray = image.convert("L")
    scale = _RENDER_LONG_SIDE / max(gray.size)
    if scale < 1:
        gray = gray.resize((round(gray.width * scale), round(gray.height * scale)))
    pixels = numpy.asarray(gray)
    result, _ = engine(numpy.stack([pixels] * 3, axis=-1))
    fragments = [(box, text, score) for box, text, score in result or [] if float(score) >= _MIN_SCORE]
    into.pages.append(lines_from_boxes(fragments))
    into.grids.extend(page_grids(pixels, fragments, lambda crop: _recognise(engine, crop)))


def _recognise(engine, crop) -> str:
    """Recognition alone on one table cell (no detection: it is known to hold ink)."""
    import numpy

    result, _ = engine(numpy.stack([crop] * 3, axis=-1), use_det=False, use_cls=False)
    texts = [(item[-2], item[-1]) for item in result or []]
    return "".join(text for text, score in texts if float(score) >= _MIN_SCORE and text.strip()).strip()


def ocr_pdf_pages(data: bytes, page_numbers: list[int], options: OcrOptions) -> OcrResult:
    """OCR the given 1-based pages of a PDF, rendered with PDFium (pdfplumber's own renderer)."""
    import pypdfium2

    result = OcrResult()
    started = time.monotonic()
    wanted = page_numbers[: options.max_pages]
    result.skipped = len(page_numbers) - len(wanted)
    document = pypdfium2.PdfDocument(data)
    try:
        for index, number in enumerate(wanted):
            if index and time.monotonic() - started > options.time_budget:
                result.skipped += len(wanted) - index
                result.warnings.append(f"OCR 超过 {options.time_budget:g} 秒，未识别其余 {len(wanted) - index} 页")
                break
            page = document[number - 1]
            width, height = page.get_size()
            bitmap = page.render(scale=_RENDER_LONG_SIDE / max(width, height, 1.0))
            ocr_image(bitmap.to_pil(), options, result)
            page.close()
    finally:
        document.close()
    if len(page_numbers) > options.max_pages:
        result.warnings.append(f"扫描页共 {len(page_numbers)} 页，OCR 只识别前 {options.max_pages} 页")
    result.seconds = time.monotonic() - started
    return result


def ocr_image_file(data: bytes, options: OcrOptions) -> OcrResult:
    """OCR an image file (PNG, JPEG, TIFF …; every frame of a multi-page TIFF)."""
    from PIL import Image, ImageSequence

    result = OcrResult()
    started = time.monotonic()
    with Image.open(io.BytesIO(data)) as image:
        frames = [frame.copy() for _, frame in zip(range(options.max_pages), ImageSequence.Iterator(image))]
    for index, frame in enumerate(frames):
        if index and time.monotonic() - started > options.time_budget:
            result.skipped = len(frames) - index
            result.warnings.append(f"OCR 超过 {options.time_budget:g} 秒，未识别其余 {len(frames) - index} 页")
            break
        ocr_image(frame, options, result)
    result.seconds = time.monotonic() - started
    return result
