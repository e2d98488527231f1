"""OCR engines compared on scanned report pages: RapidOCR (what the parser uses) against Tesseract's chi_sim.

The pages are real reports with a text layer (tests/fixtures/corpus: 淮安市人民政府 2024, 洪泽区人民政府 2023/2024)
and seed 001 (临淄区卫生健康局 2022) rendered as the fixtures do; each page is rasterised at 150 dpi and degraded
as a scanner delivers it (grey, skewed by under a degree, blurred, JPEG at quality 70), then read by each engine.
The truth is the document's own text layer. Printed per engine: seconds per page, character accuracy (similarity
of the page text with whitespace removed and NFKC-normalised) and the table-3 cells read as the text layer reads
them. Tesseract reads text only, so its tables come from the text (parsers.tables.tables_from_text); RapidOCR's
come from the ruled cells (parsers.formats.scan_tables), as in the parser.

    .venv/bin/python benchmarks/ocr.py [--pages N] [--document NAME]
"""
from __future__ import annotations

import argparse
import difflib
import io
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageFilter  # noqa: E402

from demo.render import load_seed, render_pdf  # noqa: E402
from parsers.formats import extract  # noqa: E402
from parsers.formats.ocr import OcrOptions, OcrResult, ocr_image  # noqa: E402
from parsers.tables import extract_tables, tables_from_text  # noqa: E402
from parsers.record import ExtractedDocument  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "corpus"
DPI = 150


def documents() -> dict[str, bytes]:
    found = {path.stem: path.read_bytes() for path in sorted(CORPUS.glob("*.pdf"))}
    found["seed001"] = render_pdf(load_seed("001"))
    return found


def scanned_pages(pdf: bytes, limit: int, seed: int) -> list[tuple[str, Image.Image]]:
    """(text layer, degraded image) per page."""
    import pypdfium2

    rng = random.Random(seed)
    document = pypdfium2.PdfDocument(pdf)
    pages = []
    try:
        for page in list(document)[:limit]:
            truth = page.get_textpage().get_text_range()
            image = page.render(scale=DPI / 72).to_pil().convert("L")
            image = image.rotate(rng.uniform(-0.8, 0.8), resample=Image.BICUBIC, fillcolor=255)
            buffer = io.BytesIO()
            image.filter(ImageFilter.GaussianBlur(0.6)).save(buffer, "JPEG", quality=70)
            pages.append((truth, Image.open(io.BytesIO(buffer.getvalue()))))
    finally:
        document.close()
    return pages


def _compact(text: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text))


def accuracy(truth: str, read: str) -> float:
    return difflib.SequenceMatcher(None, _compact(truth), _compact(read), autojunk=False).ratio()


def rapidocr(image: Image.Image) -> tuple[str, list]:
    result = OcrResult()
    ocr_image(image, OcrOptions(threads=1), result)
    return result.pages[0], result.grids


def tesseract(image: Image.Image) -> tuple[str, list]:
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "page.png")
        image.save(path)
        done = subprocess.run(["tesseract", path, "stdout", "-l", "chi_sim", "--psm", "6"], capture_output=True,
                              text=True, timeout=300, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return done.stdout, []


def table3_cells(table: dict | None) -> dict[tuple[str, str], object]:
    rows = (table or {}).get("rows") or {}
    return {(row, column): value for row, values in rows.items() for column, value in values.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=6, help="pages per document (default 6)")
    parser.add_argument("--document", action="append", help="only these documents (file stem; repeatable)")
    args = parser.parse_args()

    engines = {"RapidOCR": rapidocr}
    if shutil.which("tesseract"):
        engines["Tesseract chi_sim"] = tesseract
    else:
        print("tesseract not installed: only RapidOCR is measured (scripts/install-system.sh installs it)")
    rapidocr(Image.new("L", (200, 100), 255))   # load the models outside the timings

    totals = {name: {"seconds": 0.0, "pages": 0, "accuracy": [], "cells": 0, "right": 0} for name in engines}
    print(f"{'document':<20}{'engine':<20}{'pages':>6}{'s/page':>8}{'chars':>8}{'table-3 cells':>16}")
    for name, pdf in documents().items():
        if args.document and name not in args.document:
            continue
        pages = scanned_pages(pdf, args.pages, seed=len(name))
        truth_tables = extract_tables(extract(pdf))
        expected = table3_cells(truth_tables.get("table3"))
        for engine_name, engine in engines.items():
            started = time.perf_counter()
            texts, grids, scores = [], [], []
            for truth, image in pages:
                text, page_grids = engine(image)
                texts.append(text)
                grids.extend(page_grids)
                scores.append(accuracy(truth, text))
            seconds = time.perf_counter() - started
            read = extract_tables(ExtractedDocument(format="pdf", text="\n".join(texts), grids=grids)) \
                if grids else tables_from_text("\n".join(texts))
            got = table3_cells(read.get("table3"))
            right = sum(1 for key, value in expected.items() if got.get(key) == value)
            total = totals[engine_name]
            total["seconds"] += seconds
            total["pages"] += len(pages)
            total["accuracy"].extend(scores)
            total["cells"] += len(expected)
            total["right"] += right
            cells = f"{right}/{len(expected)}" if expected else "—"
            print(f"{name:<20}{engine_name:<20}{len(pages):>6}{seconds / len(pages):>8.1f}"
                  f"{sum(scores) / len(scores):>8.3f}{cells:>16}")
    print()
    for engine_name, total in totals.items():
        if not total["pages"]:
            continue
        share = total["right"] / total["cells"] if total["cells"] else float("nan")
        print(f"{engine_name}: {total['seconds'] / total['pages']:.1f} s/page, character accuracy "
              f"{sum(total['accuracy']) / len(total['accuracy']):.3f}, table-3 cells {total['right']}/"
              f"{total['cells']} ({share:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
