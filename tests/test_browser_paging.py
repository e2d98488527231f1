"""Column pages the browser reads, and how it walks them.

Which pages go to the browser: a column page with no dated item of its own, whatever its placeholder or script
says, unless the registry or DISCOVERY_JS_RENDER says no; a listing in a frame is read at the frame. The render
request survives the scrapy-redis queue (pickled), and only the downloader gives it its page watch.

The walk, in Debian's Chromium (``crawler.paging`` with ``crawler.browser``'s page watch) against real pages on a
loopback server: a ``javascript:`` pager, a 下一页 button posting a form, an endless list that only its data URL
pages, and a script that throws. What the walk says is what coverage records: how many pages it walked, whether it
saw the listing's end, which script errors it met.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import async_playwright
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse
from scrapy.statscollectors import MemoryStatsCollector

from crawler.browser import META_WATCH, BrowserMiddleware, PageWatch
from crawler.middlewares import META_AGENCY, META_ROLE
from crawler.paging import ListingWalker
from crawler.run import crawl_settings
from crawler.spiders.reports import ReportsSpider
from demo.portals import JS_LIST_JSON, DemoPortals, Resource
from demo.server import DemoServer
from demo.shapes import ShapePortals
from registry.agencies import Agency
from storage.config import CHROMIUM_LAUNCH_OPTIONS
from storage.archive import open_reader
from storage.catalog import queries
from tests.crawling import catalog_of, config_in, crawl, target_of

pytestmark = pytest.mark.slow

ENTRIES = 10
PAGE_SIZE = 4
LONG_ENTRIES = 20   # five pages: longer than a walk limited to two pages after the first
# an endless list: the first rows on load, the next ones when the reader scrolls; no pager, no button; beside it a
# "hot news" box fed by its own JSON, which is not the column's
_ENDLESS = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>年报</title></head><body>
<ul class="list" id="list"></ul><div id="hot"></div><script>
var page = 1;
function more() {
  fetch('/endless/api/list?channel=nb%s&page=' + page).then(function (r) { return r.json(); }).then(function (d) {
    d.rows.forEach(function (row) {
      var li = document.createElement('li');
      li.innerHTML = '<a href="' + row.url + '">' + row.title + '</a><span>' + row.pubDate + '</span>';
      document.getElementById('list').appendChild(li);
    });
    page++;
  });
}
more();
fetch('/endless/api/hot.json').then(function (r) { return r.json(); }).then(function (d) {
  document.getElementById('hot').textContent = d.data[0].title;
});
window.addEventListener('scroll', function () {
  if (window.innerHeight + window.scrollY >= document.body.offsetHeight - 10) { more(); }
});
</script></body></html>"""


def _rows(query: str) -> bytes:
    form = parse_qs(query)
    number = int(form["page"][0])
    entries = int(form.get("entries", [ENTRIES])[0])
    start = (number - 1) * PAGE_SIZE
    rows = [{"title": f"某局政务公开信息第{n}条", "url": f"/endless/art/{n}.html", "pubDate": f"2024-01-{n:02d}"}
            for n in range(start + 1, min(start + PAGE_SIZE, entries) + 1)]
    answer = {"rows": rows} if "bare" in form else {"rows": rows, "total": entries}
    return json.dumps(answer, ensure_ascii=False).encode()


class PagingPortals(ShapePortals):
    """The listing-shape portals plus an endless list, with and without its total."""

    def resource(self, target: str, method: str = "GET", body: bytes = b"") -> Resource | None:
        parts = urlsplit(target)
        if parts.path == "/endless/index.html":
            return Resource(200, (_ENDLESS % "").encode())
        if parts.path == "/endless/bare.html":
            return Resource(200, (_ENDLESS % "&bare=1").encode())
        if parts.path == "/endless/long.html":
            return Resource(200, (_ENDLESS % f"&entries={LONG_ENTRIES}").encode())
        if parts.path == "/endless/api/hot.json":
            hot = {"total": 99, "data": [{"title": "热点新闻", "url": "/news/1.html", "pubDate": "2024-02-01"}]}
            return Resource(200, json.dumps(hot, ensure_ascii=False).encode(), "application/json; charset=utf-8")
        if parts.path == "/endless/api/list":
            return Resource(200, _rows(parts.query), "application/json; charset=utf-8")
        return super().resource(target, method, body)


@pytest.fixture(scope="module")
def server():
    with DemoServer(PagingPortals()) as running:
        yield running


@pytest.fixture(scope="module")
def crawler(tmp_path_factory):
    built = Crawler(ReportsSpider, crawl_settings(config_in(tmp_path_factory.mktemp("paging") / "data"),
                                                  {"DISCOVERY_JS_IDLE": 0.3, "DISCOVERY_JS_STEP_TIMEOUT": 10}))
    built.stats = MemoryStatsCollector(built)
    return built


# ---------------------------------------------------------------- which column pages go to the browser

AGENCY = Agency(id="shape-shell", name="甲市乙区教育局", level="department", homepage="http://portal.test/")
COLUMN = "http://portal.test/shell/nb/index.html"
# a placeholder that is no empty container, and a loader needs_javascript cannot recognise
PLACEHOLDER = """<html><body><h2>政府信息公开年报</h2><div id="list">加载中…</div>
<script>var c = 'nb'; window['lo' + 'ad'](c, 1);</script></body></html>"""
DATED = """<html><body><ul class="list"><li><a href="/shell/art/2024/nb2024.html">2024年年报</a><span>2025-01-20</span>
</li></ul></body></html>"""
FRAMED = '<html><body><h2>年报</h2><iframe src="/shell/nb/list_1.html"></iframe></body></html>'


def _spider(tmp_path, **overrides) -> ReportsSpider:
    crawler = Crawler(ReportsSpider, crawl_settings(config_in(tmp_path / "data"), overrides))
    crawler.stats = MemoryStatsCollector(crawler)
    return ReportsSpider.from_crawler(crawler, agencies=[AGENCY])


def _column_requests(spider: ReportsSpider, body: str, agency: Agency = AGENCY) -> list[Request]:
    spider.agency_by_id[agency.id] = agency
    request = Request(COLUMN, meta={META_AGENCY: agency.id, META_ROLE: "column"})
    response = HtmlResponse(COLUMN, body=body.encode("utf-8"), headers={"Content-Type": "text/html; charset=utf-8"},
                            request=request)
    return [out for out in spider.parse(response) if isinstance(out, Request) and out.meta[META_ROLE] == "column"]


def test_a_column_page_without_dated_items_is_rendered_whatever_its_script_looks_like(tmp_path):
    spider = _spider(tmp_path)
    (render,) = _column_requests(spider, PLACEHOLDER)
    assert render.url == COLUMN and render.meta["playwright"] and render.meta["playwright_include_page"]
    assert render.callback == spider._rendered
    assert [out for out in _column_requests(spider, DATED) if out.meta.get("playwright")] == []


def test_a_render_the_browser_failed_is_asked_once_more_and_a_refused_page_is_not(tmp_path):
    from playwright.async_api import Error as PlaywrightError
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.python.failure import Failure

    spider = _spider(tmp_path)
    (render,) = _column_requests(spider, PLACEHOLDER)

    def failed(request, error) -> list[Request]:
        try:
            raise error
        except Exception:
            failure = Failure()
        failure.request = request
        return list(spider.failed(failure) or ())

    (again,) = failed(render, PlaywrightError("Target page, context or browser has been closed"))
    assert (again.url, again.callback, again.meta["playwright"]) == (render.url, spider._rendered, True)
    assert again.meta["xxgk_page_as_fetched"] == render.meta["xxgk_page_as_fetched"]
    assert failed(again, PlaywrightError("Target page, context or browser has been closed")) == []  # once only
    refused = HtmlResponse(COLUMN, status=403, request=render)
    assert failed(render, HttpError(refused)) == []   # the portal said no: asking the browser again changes nothing


def test_the_registry_or_the_setting_keeps_a_column_out_of_the_browser(tmp_path):
    from dataclasses import replace

    assert _column_requests(_spider(tmp_path), PLACEHOLDER, replace(AGENCY, render="never")) == []
    assert _column_requests(_spider(tmp_path, DISCOVERY_JS_RENDER=False), PLACEHOLDER) == []


def test_a_listing_in_a_frame_is_read_at_the_frame(tmp_path):
    (frame,) = _column_requests(_spider(tmp_path), FRAMED)
    assert frame.url == "http://portal.test/shell/nb/list_1.html" and not frame.meta.get("playwright")


def test_a_render_request_goes_through_the_redis_queue_and_gets_its_watch_only_from_the_downloader(tmp_path):
    from scrapy.utils.request import request_from_dict
    from scrapy_redis import picklecompat

    spider = _spider(tmp_path, ARCHIVE_ENABLED=False)
    (render,) = _column_requests(spider, PLACEHOLDER)
    queued = request_from_dict(picklecompat.loads(picklecompat.dumps(render.to_dict(spider=spider))), spider=spider)
    assert queued.callback == spider._rendered and META_WATCH not in queued.meta
    asyncio.run(BrowserMiddleware.from_crawler(spider.crawler).process_request(queued))
    watch = queued.meta[META_WATCH]
    assert isinstance(watch, PageWatch) and queued.meta["playwright_page_init_callback"] == watch.attach


# ---------------------------------------------------------------- walking a rendered listing

def _walk(crawler, url: str):
    """Render ``url`` as the crawl does (the watch attached before navigation, the DOM read once the network is
    idle), then walk it; returns what the walk read and whether its page was closed."""
    async def run():
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**CHROMIUM_LAUNCH_OPTIONS)
            try:
                page = await browser.new_page()
                watch = PageWatch(None, crawler.stats, page_url=url, agency_id=None, static_capture=None)
                await watch.attach(page)
                await page.goto(url)
                await page.wait_for_load_state("networkidle")
                request = Request(url, meta={META_WATCH: watch, "playwright_page": page})
                response = HtmlResponse(url, body=(await page.content()).encode("utf-8"), encoding="utf-8",
                                        request=request)
                read = await ListingWalker.from_crawler(crawler).walk(response, url)
                return read, page.is_closed()
            finally:
                await browser.close()

    return asyncio.run(run())


def _paths(read, base: str) -> set[str]:
    return {item.url.removeprefix(base) for item in read.items}


def test_javascript_pager_is_followed_to_its_last_page(server, crawler):
    base = server.base_url
    read, closed = _walk(crawler, f"{base}/shell/nb/index.html")
    expected = {path.removeprefix(base) for path in PagingPortals().report_urls(base)["shape-shell"]}
    assert expected <= _paths(read, base) and len(read.items) == 9
    assert (read.pages_walked, read.complete, read.paged_by) == (3, True, "script")
    assert read.script_errors == [] and closed


def test_next_button_posting_a_form_is_clicked_until_it_disappears(server, crawler):
    base = server.base_url
    read, closed = _walk(crawler, f"{base}/post/ndbg/index.html")
    expected = {path.removeprefix(base) for path in PagingPortals().report_urls(base)["shape-post"]}
    assert expected <= _paths(read, base) and len(read.items) == 10
    assert (read.pages_walked, read.complete, read.paged_by) == (3, True, "control")
    assert [request.target for request in server.requests if request.method == "POST"][-3:] == ["/post/list.do"] * 3
    assert closed


def test_a_renderer_that_stops_answering_while_the_walk_looks_at_a_next_button_ends_the_walk(server, tmp_path,
                                                                                           monkeypatch):
    """Chromium's renderer frozen (SIGSTOP) right after the walk counted the 下一页 controls, thawed 10 s later: the
    walk's next call into the page (is the control visible?) is bounded by the step timeout, so the walk ends there,
    keeps what it read and says the browser failed. Unbounded, it waited for the thaw (forever, for a hung
    renderer) and then walked on."""
    import os
    import signal

    import psutil
    from playwright.async_api import Locator

    quick = Crawler(ReportsSpider, crawl_settings(config_in(tmp_path / "data"), {
        "DISCOVERY_JS_IDLE": 0.3, "DISCOVERY_JS_STEP_TIMEOUT": 4}))
    quick.stats = MemoryStatsCollector(quick)
    frozen: list[psutil.Process] = []
    count = Locator.count

    def thaw() -> None:
        for process in frozen:
            try:
                process.send_signal(signal.SIGCONT)
            except psutil.Error:
                pass

    async def count_then_freeze(locator) -> int:
        found = await count(locator)
        if not frozen:
            frozen.extend(child for child in psutil.Process(os.getpid()).children(recursive=True)
                          if "--type=renderer" in " ".join(child.cmdline()))
            for process in frozen:
                process.send_signal(signal.SIGSTOP)
            asyncio.get_running_loop().call_later(10, thaw)
        return found

    monkeypatch.setattr(Locator, "count", count_then_freeze)
    try:
        read, closed = _walk(quick, f"{server.base_url}/post/ndbg/index.html")
    finally:
        thaw()
    assert frozen, "no renderer found to freeze"
    assert read.end == "browser_error" and not read.complete
    assert len(read.items) == PAGE_SIZE and read.pages_walked == 1   # the first page, read before the freeze
    assert closed


def test_a_list_without_pager_is_paged_by_its_own_data_url_up_to_its_total(server, crawler):
    base = server.base_url
    read, _ = _walk(crawler, f"{base}/endless/index.html")
    # every row of the list, none of the hot-news box (whose total of 99 would never be reached either)
    assert _paths(read, base) == {f"/endless/art/{n}.html" for n in range(1, ENTRIES + 1)}
    assert (read.pages_walked, read.complete, read.end, read.paged_by) == (3, True, "total_reached", "endpoint")


def test_a_list_that_never_states_its_size_is_read_but_not_proven_complete(server, crawler):
    base = server.base_url
    read, _ = _walk(crawler, f"{base}/endless/bare.html")
    assert len(read.items) == ENTRIES
    # the fourth page came back empty: the walk stopped there, but nothing said that was the end
    assert (read.pages_walked, read.complete, read.end) == (3, False, "no_new_items")


def test_the_walk_stops_at_the_page_limit_and_does_not_claim_the_listing_complete(server, tmp_path):
    limited = Crawler(ReportsSpider, crawl_settings(config_in(tmp_path / "data"), {
        "DISCOVERY_JS_IDLE": 0.3, "DISCOVERY_JS_STEP_TIMEOUT": 10, "DISCOVERY_MAX_PAGES": 2}))
    limited.stats = MemoryStatsCollector(limited)
    base = server.base_url
    read, closed = _walk(limited, f"{base}/endless/long.html")
    # DISCOVERY_MAX_PAGES pages followed after the first, as for a static pager; the rest of the list unread
    assert (read.pages_walked, read.complete, read.end) == (3, False, "max_pages")
    assert _paths(read, base) == {f"/endless/art/{n}.html" for n in range(1, 3 * PAGE_SIZE + 1)}
    asked = {parse_qs(urlsplit(request.target).query)["page"][0] for request in server.requests
             if request.target.startswith(f"/endless/api/list?channel=nb&entries={LONG_ENTRIES}&")}
    assert asked == {"1", "2", "3"} and closed


def test_a_script_that_throws_leaves_the_column_unread_with_the_error(server, crawler):
    read, closed = _walk(crawler, f"{server.base_url}/broken/nb/index.html")
    assert read.items == [] and not read.complete and read.pages_walked == 1
    assert any("ReferenceError" in error and "loadChannelList" in error for error in read.script_errors)
    assert closed


# ---------------------------------------------------------------- what the render keeps

class LateListPortals(DemoPortals):
    """The demo portals with the script-filled listing's data (list.json) answered late, after the page's load."""

    def resource(self, target: str) -> Resource | None:
        found = super().resource(target)
        if found is not None and urlsplit(target).path == JS_LIST_JSON:
            return replace(found, slow=True)
        return found


def test_the_render_kept_shows_items_that_arrive_after_load(tmp_path):
    portals = LateListPortals()
    with DemoServer(portals, slow_seconds=1.5) as server:
        base = server.base_url
        config = config_in(tmp_path / "data")
        agencies = [agency for agency in portals.registry(base) if agency.id == "sfq-ybj"]
        crawl(config, agencies, DOWNLOAD_TIMEOUT=5)
    column = portals.agency("sfq-ybj").column
    with catalog_of(config) as session:
        renders = queries.captures_of_url(session, f"urn:rendered-dom:{base}{column}")
        shots = queries.captures_of_url(session, f"urn:screenshot:{base}{column}")
    assert len(renders) == 1 and len(shots) == 1
    dom = open_reader(config).read(renders[0].id).payload.decode("utf-8")
    listed = [report for report in portals.expected_reports(base) if report.agency_id == "sfq-ybj"]
    assert listed and all(target_of(report.url) in dom for report in listed), \
        "the archived render is the page at load, before its listing arrived"


def test_every_cookie_the_page_was_served_with_goes_with_its_data_request(tmp_path):
    """A portal that sets two cookies on its column page and wants both back on the listing's data request (a
    session and a WAF token, as real portals do): the render, answered with the page Scrapy fetched, carries every
    Set-Cookie of that answer into the browser, not only the first."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from crawler.browser import _as_served

    seen: list[str | None] = []

    class Data(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            seen.append(self.headers.get("Cookie"))
            body = b'{"items": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Data)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page_url = f"http://127.0.0.1:{server.server_address[1]}/nb/index.html"
    served = _as_served({"status": 200, "content_type": "text/html; charset=utf-8",
                         "cookies": ["JSESSIONID=abc123; Path=/", "waf_token=xyz789; Path=/; HttpOnly"],
                         "body": b"<!DOCTYPE html><html><body><ul id='list'></ul><script>"
                                 b"fetch('/nb/list_1.json').then(r => r.json())</script></body></html>"})

    async def run():
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**CHROMIUM_LAUNCH_OPTIONS)
            try:
                page = await browser.new_page()
                watch = PageWatch(None, MemoryStatsCollector(Crawler(ReportsSpider)), page_url=page_url,
                                  agency_id=None, static_capture=None)
                watch.archived_page = served
                await watch.attach(page)
                await page.goto(page_url)
                await watch.quiet(0.3, 10)
                await watch.close()
            finally:
                await browser.close()

    try:
        asyncio.run(run())
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 1, seen   # the page itself came from the archive, only its data from the portal
    cookies = dict(part.strip().split("=", 1) for part in (seen[0] or "").split(";") if "=" in part)
    assert cookies == {"JSESSIONID": "abc123", "waf_token": "xyz789"}
