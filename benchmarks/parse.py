"""Parser throughput: reports/s for HTML, DOCX and PDF, against trafilatura.extract alone on the same HTML; and
page discovery: pages/s through every discovery function, one parsed ``Page`` per page as the spider does.

The GBK half of the HTML reports carries a 信息公开目录 box (as TRS and VSB portals print one), so the figure
includes the box reader (BeautifulSoup on the box alone).

Run: .venv/bin/python benchmarks/parse.py [--seconds 3]
Single process, single core. Target (parsers issue): >= 50 HTML reports/s.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Callable, Sequence, TypeVar

import trafilatura

from demo.portals import DemoPortals
from demo.render import SEED_IDS, load_seed, render_docx, render_html, render_pdf
from parsers import FetchContext, parse_document
from parsers.discovery import (Page, find_attachments, find_disclosure_sections, find_json_endpoints,
                               find_listing_items, find_pagination, find_report_columns, needs_javascript)

T = TypeVar("T")

CATALOG_BOX = {"索引号": "11370305004188577X/2023-00012", "发布机构": "临淄区卫生健康局", "成文日期": "2023-01-20",
               "公开日期": "2023-01-30", "主题分类": "综合政务", "文号": "无"}


def rate(work: Callable[[T], object], inputs: Sequence[T], seconds: float) -> float:
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


def discover(path: str, body: bytes, content_type: str) -> None:
    """Every discovery function on one page, sharing one parse (the spider calls a subset per page role)."""
    url = "http://127.0.0.1:8765" + path
    page = Page.from_bytes(body, content_type)
    find_report_columns(page, url)
    find_disclosure_sections(page, url)
    find_listing_items(page, url)
    find_pagination(page, url)
    needs_javascript(page)
    find_json_endpoints(page, url)
    find_attachments(page, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    seeds = [load_seed(sid) for sid in SEED_IDS]
    html = [render_html(doc, meta={"PubDate": "2023-01-30 10:20"}) for doc in seeds]
    html += [render_html(doc, encoding="gbk", catalog_box=CATALOG_BOX) for doc in seeds]
    docx = [render_docx(doc) for doc in seeds]
    pdf = [render_pdf(doc) for doc in seeds]
    html_context = FetchContext(url="http://portal.test/xxgk/ndbg/202301/t20230130_1.html", content_type="text/html")

    portal_pages = [(path, resource) for path, resource in DemoPortals().site().items()
                    if resource.status == 200 and "html" in resource.content_type and resource.body]

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
    pages = rate(lambda item: discover(item[0], item[1].body, item[1].content_type), portal_pages, args.seconds)
    print(f"discovery, every function, {len(portal_pages)} demo portal pages: {pages:8.1f} pages/s")
    verdict = "meets" if figures["HTML"] >= 50 else "MISSES"
    print(f"target >= 50 HTML reports/s on one core: {verdict}")


if __name__ == "__main__":
    main()
