"""Crawl memory and speed at scale: the full crawl (archive, conditional GET, parse pool) over a synthetic portal of
~10,000 pages, against plain Scrapy over the same pages (same concurrency, no archive, no parsing).

Run: .venv/bin/python benchmarks/crawl_memory.py [--pages 10000] [--per-page 100] [--concurrency 8] [--fsync]
Prints, for each run, peak resident memory of the crawl process (ru_maxrss), of its largest child (a parse worker,
the Playwright driver) and pages/s, then the ratios. Target (crawler issue): crawl process < 600 MB.

The portal is one report column of ``--pages / --per-page`` listing pages (``?page=N``, 共N页 pager), each listing
``--per-page`` small article pages; one article in ten is an annual report, the rest are news. Both crawls run in
child processes (Scrapy's reactor starts once per process); the portal is served from this process.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.agencies import Agency  # noqa: E402
from crawler.run import run_crawl  # noqa: E402
from storage.config import Config  # noqa: E402

MB = 1024  # ru_maxrss is in KiB on Linux


# ---------------------------------------------------------------- the synthetic portal

def listing_page(number: int, pages: int, per_page: int) -> bytes:
    rows = "\n".join(f'<li><a href="/doc/{number}_{item}.html">{_title(number, item)}</a>'
                     f"<span>2024-01-{1 + item % 28:02d}</span></li>" for item in range(per_page))
    pager = f"<span>共{pages}页</span>"
    if number < pages:
        pager += f' <a href="/column/index.html?page={number + 1}">下一页</a>'
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>政府信息公开年报</title></head><body>'
            f'<ul class="list">\n{rows}\n</ul><div class="page">{pager}</div></body></html>').encode("utf-8")


def _title(number: int, item: int) -> str:
    if item % 10 == 0:
        return f"示范第{number}区卫生健康局{2014 + item % 10}年政府信息公开工作年度报告"
    return f"示范第{number}区卫生健康局召开第{item}次工作会议"


def article_page(number: int, item: int) -> bytes:
    title = _title(number, item)
    body = "".join(f"<p>第{n}段：本年度主动公开政府信息{number * item + n}条，依申请公开办理{n}件。</p>"
                   for n in range(12))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="PubDate" content="2024-01-20 10:00">'
            f"<title>{title}</title></head><body><h1>{title}</h1><div>发布日期：2024-01-20</div>{body}"
            f"<p>示范第{number}区卫生健康局</p><p>2024年1月19日</p></body></html>").encode("utf-8")


class Portal:
    def __init__(self, pages: int, per_page: int):
        portal = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # head and body are two writes: no 40 ms delayed-ACK stall

            def do_GET(self):  # noqa: N802
                body = portal.answer(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                body = body if body is not None else b"not found"
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.pages, self.per_page = pages, per_page
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, target: str) -> bytes | None:
        parts = urlsplit(target)
        if parts.path == "/robots.txt":
            return b"User-agent: *\nDisallow:\n"
        if parts.path == "/column/index.html":
            number = int((parse_qs(parts.query).get("page") or ["1"])[0])
            return listing_page(number, self.pages, self.per_page) if 1 <= number <= self.pages else None
        if parts.path.startswith("/doc/"):
            number, _, item = parts.path.removeprefix("/doc/").removesuffix(".html").partition("_")
            return article_page(int(number), int(item))
        return None

    def stop(self) -> None:
        self.httpd.shutdown()


# ---------------------------------------------------------------- the baseline: plain Scrapy

def _baseline_child(start_url: str, settings: dict, results) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class PlainSpider(scrapy.Spider):
        name = "plain"

        async def start(self):
            yield scrapy.Request(start_url)

        def parse(self, response):
            if "/doc/" in response.url:
                return
            for href in response.css("ul.list a::attr(href), div.page a::attr(href)").getall():
                yield response.follow(href)

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PlainSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    results.put({"pages": stats.get("response_received_count", 0),
                 "seconds": stats["elapsed_time_seconds"],
                 "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                 "children_max_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss})


def run_baseline(start_url: str, concurrency: int) -> dict:
    settings = {"ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
                "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING",
                "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False,
                "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor"}
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_baseline_child, args=(start_url, settings, results))
    child.start()
    result = results.get()
    child.join()
    return result


# ---------------------------------------------------------------- the full crawl

def run_full(portal: Portal, concurrency: int, fsync: bool, data_dir: Path) -> dict:
    agency = Agency(id="bench", name="示范区卫生健康局", level="department", homepage=portal.base_url + "/",
                    report_index=(portal.base_url + "/column/index.html?page=1",), render="never")
    overrides = {"CONCURRENT_REQUESTS_PER_DOMAIN": concurrency, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
                 "LOG_LEVEL": "WARNING", "DISCOVERY_MAX_PAGES": portal.pages + 1,
                 "ARCHIVE_DURABILITY": "fsync" if fsync else "os", "PROGRESS_INTERVAL": 5.0}

    def show(progress) -> None:
        print(f"  … {progress.pages} pages, {progress.reports_found} reports, {progress.rate:.0f} pages/s",
              file=sys.stderr, flush=True)

    summary = run_crawl(Config.from_env({}, data_dir=data_dir), [agency], settings_overrides=overrides,
                        progress=show)
    seconds = float(summary.stats.get("elapsed_time_seconds") or summary.duration)
    return {"pages": summary.pages, "seconds": seconds, "max_rss_kb": summary.max_rss_kb,
            "children_max_rss_kb": summary.children_max_rss_kb, "reports": summary.reports_found,
            "parsed": int(summary.stats.get("parse/candidate", 0))}


def _line(name: str, result: dict) -> str:
    rate = result["pages"] / max(result["seconds"], 1e-9)
    return (f"{name:<10} {result['pages']:>7} pages in {result['seconds']:7.1f} s = {rate:7.1f} pages/s   "
            f"peak RSS {result['max_rss_kb'] / MB:7.1f} MB "
            f"(largest child {result['children_max_rss_kb'] / MB:6.1f} MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000, help="article pages in the portal (default 10000)")
    parser.add_argument("--per-page", type=int, default=100, help="articles per listing page (default 100)")
    parser.add_argument("--concurrency", type=int, default=8, help="CONCURRENT_REQUESTS_PER_DOMAIN for both runs")
    parser.add_argument("--fsync", action="store_true", help="fsync every capture (the production default)")
    args = parser.parse_args()
    listing_pages = max(1, -(-args.pages // args.per_page))
    portal = Portal(listing_pages, args.per_page)
    try:
        print(f"portal: {listing_pages} listing pages × {args.per_page} articles at {portal.base_url}", flush=True)
        baseline = run_baseline(portal.base_url + "/column/index.html?page=1", args.concurrency)
        print(_line("scrapy", baseline), flush=True)
        with tempfile.TemporaryDirectory(prefix="xxgk-bench-") as data_dir:
            full = run_full(portal, args.concurrency, args.fsync, Path(data_dir))
        print(_line("xxgk", full) + f"   {full['parsed']} parsed, {full['reports']} reports", flush=True)
    finally:
        portal.stop()
    memory = full["max_rss_kb"] / max(baseline["max_rss_kb"], 1)
    speed = (full["pages"] / full["seconds"]) / max(baseline["pages"] / baseline["seconds"], 1e-9)
    print(f"ratio      memory ×{memory:.2f}, speed ×{speed:.2f} of plain Scrapy; "
          f"target: crawl process < 600 MB → {'met' if full['max_rss_kb'] / MB < 600 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
