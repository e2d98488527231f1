"""Crawl components read their settings through ``from_crawler``, from the project's settings module plus the
caller's overrides (``xxgk crawl --set NAME=VALUE``), exactly as a real crawl builds them (``crawl_settings``).
No network and no reactor: each component is driven directly."""
from __future__ import annotations

import asyncio

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
