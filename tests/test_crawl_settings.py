"""Crawl components read their settings through ``from_crawler``, from the project's settings module plus the
caller's overrides (``xxgk crawl --set NAME=VALUE``), exactly as a real crawl builds them (``crawl_settings``).
No network and no reactor: each component is driven directly."""
from __future__ import annotations

import ast
import asyncio
import inspect

import pytest
import scrapy
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse
from scrapy.statscollectors import MemoryStatsCollector

from crawler.middlewares import META_AGENCY, META_ROLE, ArchiveMiddleware, CrawlArchive
from crawler.run import crawl_settings
from crawler.spiders.reports import ReportsSpider
from registry.agencies import Agency
from storage.archive import Archive
from tests.crawling import config_in

AGENCY = Agency(id="sfq-wjj", name="示范区卫生健康局", level="department", homepage="http://portal.test/")
LISTING_URL = "http://portal.test/xxgk/ndbg/index.html"
# a TRS listing of 20 pages: index.html, then index_1.html … index_19.html
TRS_LISTING = b"""<html><body><ul><li><a href="t20240120_1.html">2023\xe5\xb9\xb4\xe6\x8a\xa5\xe5\x91\x8a</a></li></ul>
<script>createPageHTML(20, 0, "index", "html");</script></body></html>"""


def _crawler(config, **overrides) -> Crawler:
    crawler = Crawler(ReportsSpider, crawl_settings(config, overrides))
    crawler.stats = MemoryStatsCollector(crawler)
    return crawler


def _listing_pages_followed(crawler: Crawler) -> list[str]:
    spider = ReportsSpider.from_crawler(crawler, agencies=[AGENCY])
    request = scrapy.Request(LISTING_URL, meta={META_AGENCY: AGENCY.id, META_ROLE: "column"})
    response = HtmlResponse(LISTING_URL, body=TRS_LISTING, headers={"Content-Type": "text/html; charset=utf-8"},
                            request=request)
    # the listing's own pages, not the browser render its undated rows also ask for
    return [out.url for out in spider.parse(response)
            if isinstance(out, scrapy.Request) and out.meta[META_ROLE] == "column" and not out.meta.get("playwright")]


def test_the_spider_reads_its_settings_once_in_from_crawler():
    """Scrapy's habit: settings are read when the spider is built, not on every response or idle signal (with
    their defaults restated at each read)."""
    import crawler.spiders.reports as module

    tree = ast.parse(inspect.getsource(module.ReportsSpider))
    readers = {function.name for function in ast.walk(tree) if isinstance(function, ast.FunctionDef)
               for node in ast.walk(function)
               if isinstance(node, ast.Attribute) and node.attr == "settings"
               and function.name not in ("from_crawler", "update_settings")}
    assert readers == set()


def test_listing_pages_follow_the_default_and_an_overridden_discovery_max_pages(tmp_path):
    config = config_in(tmp_path / "data")
    assert len(_listing_pages_followed(_crawler(config))) == 19   # under the default of 50: every page
    limited = _listing_pages_followed(_crawler(config, DISCOVERY_MAX_PAGES=2))
    assert limited == ["http://portal.test/xxgk/ndbg/index_1.html", "http://portal.test/xxgk/ndbg/index_2.html"]


@pytest.mark.parametrize("conditional", [True, False])
def test_archive_conditional_get_setting_decides_whether_validators_are_sent(tmp_path, conditional):
    config = config_in(tmp_path / "data")
    earlier = Archive.open(config, durability="os")
    earlier.record_fetch(LISTING_URL, "GET", [], 200, "OK", [(b"Content-Type", b"text/html"), (b"ETag", b'"v1"')],
                         TRS_LISTING)
    earlier.finish()

    crawler = _crawler(config, ARCHIVE_CONDITIONAL_GET=conditional, ARCHIVE_DURABILITY="os")
    middleware = ArchiveMiddleware.from_crawler(crawler)
    try:
        request = scrapy.Request(LISTING_URL)
        assert asyncio.run(middleware.process_request(request)) is None
    finally:
        CrawlArchive.of(crawler).spider_closed(None, "finished")
    sent = request.headers.get("If-None-Match")
    assert sent == (b'"v1"' if conditional else None)


def test_a_response_goes_on_before_its_row_and_a_304_of_it_still_gets_its_body(tmp_path):
    """ARCHIVE_COMMIT_RECORDS / ARCHIVE_COMMIT_MS reach the archive: with a batch that neither fills nor times out,
    a response is handed on (its capture named by record id) with no row yet; a 304 for the same URL gets the
    staged page's validators and body, its read-back committing the batch."""
    from scrapy.http import Response

    from crawler.middlewares import META_CAPTURE, META_PAYLOAD_CAPTURE
    from storage.catalog import Catalog, queries

    def rows() -> int:
        with Catalog.open(config) as catalog, catalog.reading() as session:
            return queries.count_captures(session)

    config = config_in(tmp_path / "data")
    crawler = _crawler(config, ARCHIVE_DURABILITY="os", ARCHIVE_COMMIT_RECORDS=1000, ARCHIVE_COMMIT_MS=600_000)
    middleware = ArchiveMiddleware.from_crawler(crawler)
    holder = CrawlArchive.of(crawler)
    headers = {"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"'}

    async def fetch_twice():
        first = scrapy.Request(LISTING_URL)
        page = HtmlResponse(LISTING_URL, body=TRS_LISTING, headers=headers, request=first)
        assert await middleware.process_response(first, page) is page
        assert first.meta[META_CAPTURE].startswith("<urn:uuid:") and rows() == 0
        again = scrapy.Request(LISTING_URL)
        assert await middleware.process_request(again) is None
        assert again.headers.get("If-None-Match") == b'"v1"'
        answer = await middleware.process_response(again, Response(LISTING_URL, status=304, request=again))
        assert (answer.status, answer.body, "not_modified" in answer.flags) == (200, TRS_LISTING, True)
        assert again.meta[META_PAYLOAD_CAPTURE] == first.meta[META_CAPTURE]
        return await holder.capture_id(first.meta[META_CAPTURE]), await holder.capture_id(again.meta[META_CAPTURE])

    try:
        assert (holder.archive.commit_records, holder.archive.commit_ms) == (1000, 600_000)
        page_id, revisit_id = asyncio.run(fetch_twice())
    finally:
        holder.spider_closed(None, "finished")
    assert rows() == 2 and page_id is not None and revisit_id is not None


def test_scrapys_own_spelling_of_a_switch_is_taken():
    """``-s AUTOTHROTTLE_ENABLED=False`` is how Scrapy's documentation writes it: ``--set`` refused it."""
    from crawler.settings import parse_overrides

    assert parse_overrides(["AUTOTHROTTLE_ENABLED=False", "COOKIES_ENABLED=True", "ROBOTSTXT_OBEY=false"]) == {
        "AUTOTHROTTLE_ENABLED": False, "COOKIES_ENABLED": True, "ROBOTSTXT_OBEY": False}
