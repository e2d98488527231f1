"""Report pages screenshot while the crawl runs, rendered from the archive in the crawl's Chromium.

``ScreenshotPipeline`` comes after the parse pipeline. For each document it asks the catalog what the after-crawl
pass asks of the whole archive (``storage.screenshots.pages_missing_screenshots``, limited to the capture the parse
pipeline tied this document's report to, ``ReportCandidate.report_capture_id``): is it an HTML report page whose
first capture has no screenshot yet? A page whose fetch was the first capture of its URL
(``ReportCandidate.first_capture``: the request found no capture in the archive) needs no asking: it is an HTML
report page, or not. If so the page is rendered from the archive (``storage.screenshots.take_screenshot``: the
first screen as JPEG, JavaScript off, nothing from the network) and archived in the crawl's run.

At most ``SCREENSHOT_PAGES`` pages are open at once (each reused from shot to shot), in the process's one Chromium
(``crawler.chromium``), started on the first report. The item waits for its shot: the downloads go on meanwhile, so the shots overlap the crawl's
waiting on slow portals; the spider does not close before the last shot; and if the shots fall behind, the
scraper's own bound on responses in process (``SCRAPER_SLOT_MAX_ACTIVE_SIZE``) slows the downloads instead of a
queue growing without bound. Catalog and archive calls go through the crawl's reader and writer threads.

A shot that fails is a ``fetch_errors`` row on ``urn:screenshot:<url>`` and a count, never a failed crawl. Once
the crawl is shutting down no new shot starts: the after-crawl pass (``cli.crawl``) or the next crawl takes what is
left. Counts (run counts through the stats): ``screenshots/taken``, ``screenshots/failed``,
``screenshots/existing``, ``screenshots/max_open`` (the most shot pages Chromium had open at once).
"""
from __future__ import annotations

import logging

from scrapy.exceptions import NotConfigured

from crawler.chromium import SharedChromium
from crawler.items import ReportCandidate
from crawler.middlewares import CrawlArchive
from storage.screenshots import (OfflineRenderer, PendingPage, ShotSkipped, ShotSpec, is_html_page, latest_archived,
                                 pages_missing_screenshots, take_screenshot)

log = logging.getLogger(__name__)


def shot_spec(settings) -> ShotSpec:
    """The screenshot's viewport, quality and time limit from the SCREENSHOT_* settings."""
    return ShotSpec(width=settings.getint("SCREENSHOT_WIDTH"), height=settings.getint("SCREENSHOT_HEIGHT"),
                    quality=settings.getint("SCREENSHOT_QUALITY"), timeout=settings.getfloat("SCREENSHOT_TIMEOUT"))


class ScreenshotPipeline:
    def __init__(self, crawler, holder: CrawlArchive, spec: ShotSpec, pages: int):
        self.crawler = crawler
        self.stats = crawler.stats
        self.holder = holder
        self.spec = spec
        self.chromium = SharedChromium()
        archive = holder.archive
        self.renderer = OfflineRenderer(self.chromium.launch_browser, self._subresource, pages,
                                        unwedge=self.chromium.unwedge)
        self._lookup = latest_archived(archive.catalog, archive.reader)

    @classmethod
    def from_crawler(cls, crawler) -> "ScreenshotPipeline":
        settings = crawler.settings
        if not (settings.getbool("ARCHIVE_SCREENSHOTS") and settings.getbool("ARCHIVE_ENABLED")
                and settings.getbool("PARSE_ENABLED")):
            raise NotConfigured("screenshots need ARCHIVE_SCREENSHOTS, the archive and the parse pipeline")
        # a malformed SCREENSHOT_* value raises here: the crawl does not start (xxgk crawl exits 1 saying why)
        return cls(crawler, CrawlArchive.of(crawler), shot_spec(settings), settings.getint("SCREENSHOT_PAGES"))

    async def close_spider(self) -> None:
        await self.renderer.close()
        await self.chromium.close()

    async def _subresource(self, url: str):
        return await self.holder.read(self._lookup, url)

    def _wanted(self) -> bool:
        engine = getattr(self.crawler, "engine", None)
        return engine is None or bool(engine.running)

    async def process_item(self, item):
        if not isinstance(item, ReportCandidate) or item.parsed_as_report is False or not self._wanted():
            return item  # a look-alike gets no screenshot: no catalog question asked for it
        archive = self.holder.archive
        try:
            if item.first_capture and item.report_capture_id is not None:
                # the archive had no capture of the URL before this one, so nothing can show it yet: the
                # catalog question below would only say so (and cost the crawl process's threads the most)
                pending = ([PendingPage(item.url, item.report_capture_id, item.report_agency_id or item.agency_id)]
                           if is_html_page(item.content_type, item.source_format) else [])
                existing = 0
                self._count("screenshots/first_capture", len(pending))
            else:
                if item.report_capture_id is not None:
                    # the parse stage says which capture its report is tied to: no catalog round trip to learn it
                    capture_ids = {item.report_capture_id}
                else:
                    # the parse before this stage waited for the capture's group commit: its rows exist by now
                    capture_ids = {await self.holder.capture_id(record_id)
                                   for record_id in (item.capture_record_id, item.payload_record_id)} - {None}
                pending, _pages, existing = await self.holder.read(
                    pages_missing_screenshots, archive.catalog, archive.reader, capture_ids)
        except Exception:  # noqa: BLE001 - a screenshot is evidence, not the crawl: logged, and the item goes on
            log.exception("could not tell whether %s needs a screenshot", item.url)
            return item
        self._count("screenshots/existing", existing)
        for page in pending:
            try:
                reason = await take_screenshot(self.renderer, archive, page, self.spec, read=self.holder.read,
                                               write=self.holder.call, wanted=self._wanted)
            except ShotSkipped:
                self._count("screenshots/skipped")
                continue
            self._count("screenshots/failed" if reason else "screenshots/taken")
            self._count("archive/resource" if reason is None else "archive/error/other")
            self.stats.max_value("screenshots/max_open", self.renderer.max_open)
        return item

    def _count(self, key: str, count: int = 1) -> None:
        if count:
            self.stats.inc_value(key, count)
