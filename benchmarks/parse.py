"""Parser throughput: reports/s for HTML, DOCX and PDF, against trafilatura.extract alone on the same HTML.

Run: .venv/bin/python benchmarks/parse.py [--seconds 3]
Single process, single core. Target (parsers issue): >= 50 HTML reports/s.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Callable

import trafilatura

from demo.render import SEED_IDS, load_seed, render_docx, render_html, render_pdf
from parsers import FetchContext, parse_document


def rate(work: Callable[[bytes], object], inputs: list[bytes], seconds: float) -> float:
    """Documents per second over at least `seconds`, cycling through the inputs."""
    work(inputs[0])  # warm caches and lazy imports outside the measurement
    done, started = 0, time.perf_counter()
    while True:
        for data in inputs:
            work(data)
        done += len(inputs)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    seeds = [load_seed(sid) for sid in SEED_IDS]
    html = [render_html(doc, meta={"PubDate": "2023-01-30 10:20"}) for doc in seeds]
    html += [render_html(doc, encoding="gbk") for doc in seeds]
    docx = [render_docx(doc) for doc in seeds]
    pdf = [render_pdf(doc) for doc in seeds]
    html_context = FetchContext(url="http://portal.test/xxgk/ndbg/202301/t20230130_1.html", content_type="text/html")

    baseline = rate(lambda data: trafilatura.extract(data), html, args.seconds)
    figures = {
        "HTML": rate(lambda data: parse_document(data, html_context), html, args.seconds),
        "DOCX": rate(lambda data: parse_document(data, FetchContext(filename="r.docx")), docx, args.seconds),
        "PDF": rate(lambda data: parse_document(data, FetchContext(filename="r.pdf")), pdf, args.seconds),
    }
    print(f"trafilatura.extract alone (HTML baseline): {baseline:8.1f} docs/s")
    for name, value in figures.items():
        print(f"parse_document {name:5}: {value:8.1f} reports/s")
    print(f"ratio HTML parse_document / trafilatura.extract: {figures['HTML'] / baseline:.2f}")
    verdict = "meets" if figures["HTML"] >= 50 else "MISSES"
    print(f"target >= 50 HTML reports/s on one core: {verdict}")


if __name__ == "__main__":
    main()
