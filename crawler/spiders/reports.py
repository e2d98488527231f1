"""The ``reports`` spider: from each agency's report column (or its homepage) to every report page and attachment.

It only moves: which links to follow is decided by ``parsers.discovery``, whether a document is a report by the
parsers (in ``crawler.pipelines``), and archiving and error rows happen in ``crawler.middlewares``. Every listing
item is fetched, look-alikes included, and handed on with the listing's title and date.

Roles (request meta ``xxgk_role``): ``home`` (a homepage or 信息公开 section: look for the report column, else
descend into disclosure sections up to DISCOVERY_MAX_DEPTH), ``column`` (a listing page: items, further pages,
frames, JSON endpoints, and a browser render when the page shows no dated item of its own; the render's pages are
walked in the browser by ``crawler.paging``), ``json`` (a JSON listing), ``sitemap`` (a sitemap.xml: the columns
it names), ``item`` (a listed document: a report candidate; its attachments are fetched too, and, when the column
named it by its year alone, "2024年度", the reports its pages list) and ``attachment`` (a candidate only).

Which way to each agency's column is tried, and when, is ``crawler.fallbacks``'s: the registry's column URLs (else
the homepage) first; whenever the crawl goes idle, the next way for each agency without a listing item yet; then
the known report URLs once more. What each column gave is recorded by ``crawler.coverage``.

``scrapy crawl reports -a registry=FILE -a agency=ID[,ID…]`` (default: the shipped registry, every agency);
``crawler.run`` passes ``agencies=[Agency, …]`` instead.
"""
from __future__ import annotations

import re
from collections import deque
from pathlib import PurePosixPath
from typing import Iterable, Iterator
from urllib.parse import unquote, urlsplit

import scrapy
from playwright.async_api import Error as PlaywrightError
from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.spidermiddlewares.httperror import HttpError

from parsers.classify import error_page_heading, year_only_title
from parsers.discovery import (Page, find_attachments, find_disclosure_sections, find_frames, find_json_endpoints,
                               find_listing_items, find_pagination, listing_items_from_json, looks_like_report_title,
                               needs_javascript, pinned_at_top)
from crawler.coverage import META_COLUMN, META_PINNED, CoverageRecorder, entry_meta
from crawler.fallbacks import WAY_LABELS, Plan, Step, columns_on_page, known_report_urls
from crawler.frontier import FRONTIER_LOST, Frontier
from crawler.items import ReportCandidate
from crawler.middlewares import (META_AGENCY, META_CAPTURE, META_FIRST_CAPTURE, META_LISTING_DATE, META_LISTING_TITLE,
                                 META_PAYLOAD_CAPTURE, META_PROBE, META_ROLE, META_STATIC_CAPTURE, CrawlArchive,
                                 meta_refresh_target)
from crawler.browser import META_PAGE_AS_FETCHED, RenderTimeout, page_as_fetched
from crawler.paging import META_LISTING, ListingWalker
from registry.agencies import Agency, RegistryError, load_default_registry, load_registry, select
from crawler.settings import settings_for
from parsers.fallbacks import find_search_url, read_sitemap

META_DEPTH = "xxgk_depth"
META_LISTING_PAGE = "xxgk_listing_page"   # listing pages from the column's entry to this one (see _next_hop)
RENDER_PRIORITY = 10
META_RENDERED = "xxgk_rendered"
META_RENDER_ATTEMPT = "xxgk_render_attempt"
RENDER_ATTEMPTS = 2   # a render the browser broke is asked once more
META_SITEMAPS_READ = "xxgk_sitemaps_read"   # how many sitemaps of the agency led to this one
_HTML_TYPES = ("text/html", "application/xhtml")
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?["']?([^"';]+)""", re.IGNORECASE)


class SpiderArgumentError(ValueError):
    """The spider's -a arguments name no agency to crawl."""


class ReportsSpider(scrapy.Spider):
    name = "reports"

    def __init__(self, registry: str | None = None, agency: str | None = None,
                 agencies: Iterable[Agency] | None = None, **kwargs):
        super().__init__(**kwargs)
        if agencies is None:
            agencies = load_registry(registry) if registry else load_default_registry()
        try:
            self.agencies: list[Agency] = select(agencies, agency)
        except RegistryError as exc:
            raise SpiderArgumentError(f"-a agency: {exc}") from exc
        if not self.agencies:
            raise SpiderArgumentError("no agency to crawl: the registry is empty")
        self.agency_by_id = {agency.id: agency for agency in self.agencies}
        self.plan = Plan(self.agencies)    # the ways to each agency's column, tried one after another
        self.known_reports: dict[str, list[str]] = {}

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs) -> "ReportsSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.max_depth = settings.getint("DISCOVERY_MAX_DEPTH")
        spider.max_columns = settings.getint("DISCOVERY_MAX_COLUMNS")
        spider.max_sections = settings.getint("DISCOVERY_MAX_SECTIONS")
        spider.max_pages = settings.getint("DISCOVERY_MAX_PAGES")
        spider.refresh_max_delay = settings.getfloat("METAREFRESH_MAXDELAY")
        spider.js_render = settings.getbool("DISCOVERY_JS_RENDER")
        spider.js_wait = settings.get("DISCOVERY_JS_WAIT")
        spider.screenshots = settings.getbool("ARCHIVE_SCREENSHOTS")
        spider.shot_quality = settings.getint("SCREENSHOT_QUALITY")
        spider.walker = ListingWalker.from_crawler(crawler)
        # renders go into one browser context (scrapy-playwright's "default"): this many pages at once
        spider.render_slots = max(1, settings.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT"))
        spider.renders_open = 0
        spider.renders_waiting = deque()
        spider.search_words = settings.get("DISCOVERY_SEARCH_WORDS")
        spider.max_sitemaps = settings.getint("DISCOVERY_MAX_SITEMAPS")
        spider.archive_enabled = settings.getbool("ARCHIVE_ENABLED")
        spider.revisit_known = settings.getbool("DISCOVERY_KNOWN_REPORTS") and spider.archive_enabled
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        config = settings.get("XXGK_CONFIG")
        if config is None:
            from storage.config import Config
            config = Config.from_env()
        settings.setdict(settings_for(config, settings.get("FRONTIER_ROLE"), settings.get("ARCHIVE_RUN_ID")),
                         priority="spider")
        if not settings.getbool("DISCOVERY_JS_RENDER"):
            # no browser wanted: Scrapy's own HTTP handlers, and no Playwright driver process started for nothing
            settings.set("DOWNLOAD_HANDLERS", {}, priority="spider")

    # -- requests

    @property
    def frontier(self) -> Frontier | None:
        return Frontier.of(self.crawler)

    async def start(self):
        if self.frontier is not None and not self.frontier.coordinating:
            return  # a worker takes its requests from the shared queue; the coordinator seeds it
        self.coverage.expect(agency.id for agency in self.agencies)
        if self.revisit_known:
            holder = CrawlArchive.of(self.crawler)
            self.known_reports = await holder.read(known_report_urls, holder.archive.catalog,
                                                   [agency.id for agency in self.agencies])
        for agency in self.agencies:
            for step in self.plan.start(agency):
                yield self._step(step, agency)

    @property
    def coverage(self) -> CoverageRecorder:
        return CoverageRecorder.of(self.crawler)

    def _step(self, step: Step, agency: Agency) -> scrapy.Request:
        """The request of one way to the column (``crawler.fallbacks``)."""
        self.coverage.tried_way(agency.id, WAY_LABELS[step.way])
        meta = entry_meta(step.url, step.found_by) if step.role == "column" else {}
        if step.probe:
            meta[META_PROBE] = True
        request = self._request(step.url, agency, step.role, **meta)
        return request.replace(dont_filter=True) if step.repeat else request

    def _idle(self) -> None:
        """The first pass is over: the next way to the column of each agency that has no listing item yet; once
        no way is left, the known report URLs (a deleted report shows only when asked for). In a run over many
        machines the pass is over only when the whole frontier drained; workers wait for the coordinator."""
        frontier = self.frontier
        if frontier is not None:
            if self.archive_enabled:
                # idle gives up every request held: what they fetched must be durable first
                holder = CrawlArchive.of(self.crawler)
                holder.call_now(holder.archive.commit)
            frontier.idle()
            if not frontier.coordinating and frontier.is_done():
                return
            if frontier.lost():
                self._stat("frontier/lost")
                self.logger.error("the run's state in Redis is gone (Redis restarted without its data?): "
                                  "what was queued is lost, the run ends as failed")
                raise CloseSpider(FRONTIER_LOST)
            if not frontier.coordinating:
                raise DontCloseSpider
            if not frontier.drained():
                raise DontCloseSpider
        if self.renders_waiting:  # a render whose end was never heard of must not keep the others waiting
            self.renders_open = 0
            self._render_done()
            raise DontCloseSpider
        next_ways = self.plan.after_pass(self.coverage.agencies_with_items())
        requests = [self._step(step, self.agency_by_id[agency_id])
                    for agency_id, steps in next_ways.items() for step in steps]
        self._stat("discovery/fallback_requests", len(requests))
        if not requests and self.known_reports:
            known, self.known_reports = self.known_reports, {}
            requests = [self._request(url, self.agency_by_id[agency_id], "item")
                        for agency_id, urls in known.items() for url in urls]
            self._stat("discovery/known_reports", len(requests))
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests:
            raise DontCloseSpider
        if frontier is not None:
            frontier.mark_done()

    def _request(self, url: str, agency: Agency, role: str, *, depth: int = 0, listing_title: str | None = None,
                 listing_date: str | None = None, **meta) -> scrapy.Request:
        meta.update({META_AGENCY: agency.id, META_ROLE: role, META_DEPTH: depth})
        if listing_title is not None:
            meta[META_LISTING_TITLE] = listing_title
        if listing_date is not None:
            meta[META_LISTING_DATE] = listing_date
        if agency.robots == "ignore":
            meta["dont_obey_robotstxt"] = True
        dont_filter = bool(meta.get("playwright"))  # a render re-fetches a URL already seen as served
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta, dont_filter=dont_filter)

    def _stat(self, key: str, count: int = 1) -> None:
        if count:
            self.crawler.stats.inc_value(key, count)

    # -- responses

    def parse(self, response) -> Iterator[scrapy.Request | ReportCandidate]:
        role = response.meta.get(META_ROLE, "home")
        agency = self.agency_by_id.get(response.meta.get(META_AGENCY))
        if agency is None:
            return
        self._stat(f"discovery/{role}")
        if role in ("item", "attachment") or (role == "column" and not _is_html(response)):
            yield from self._candidate(response, agency)
            if role == "item" and _is_html(response):
                page = Page.from_bytes(response.body, _header(response, "Content-Type"))
                yield from self._attachments(response, page, agency)
                yield from self._year_part(response, page, agency)
                yield from self._refreshed(response, agency)
            return
        if role == "json":
            yield from self._items(listing_items_from_json(response.body, response.url), agency)
            return
        if role == "sitemap":
            yield from self._sitemap(response, agency)
            return
        if not _is_html(response):
            return
        html = Page.from_bytes(response.body, _header(response, "Content-Type"))  # one parse for every function below
        if role == "home":
            yield from self._discover(response, html, agency)
        else:
            yield from self._listing(response, html, agency)

    def _discover(self, response, html: Page, agency: Agency) -> Iterator[scrapy.Request]:
        """A homepage or 信息公开 page: the report column if it links one, else its disclosure sections."""
        depth = response.meta.get(META_DEPTH, 0)
        if self.plan.wants_search_form(agency.id):
            self.plan.saw_search_form(agency.id, find_search_url(html, response.url, self.search_words))
        columns = columns_on_page(html, response.url, depth)[:self.max_columns]
        self._stat("discovery/columns_found", len(columns))
        for column, found_by in columns:
            yield self._request(column.url, agency, "column", **entry_meta(column.url, found_by))
        if columns or depth >= self.max_depth:
            return
        sections = find_disclosure_sections(html, response.url, limit=self.max_sections)
        self._stat("discovery/sections_followed", len(sections))
        for section in sections:
            yield self._request(section.url, agency, "home", depth=depth + 1)

    def _sitemap(self, response, agency: Agency) -> Iterator[scrapy.Request]:
        """A sitemap: the report columns its URLs name (within the agency's part of the site), and the further
        sitemaps a sitemap index lists, up to DISCOVERY_MAX_SITEMAPS."""
        links = read_sitemap(response.body, response.url, scope=agency.homepage)
        columns = links.columns[:self.max_columns]
        self._stat("discovery/sitemap_columns", len(columns))
        for column in columns:
            yield self._request(column.url, agency, "column", **entry_meta(column.url, "sitemap"))
        read = response.meta.get(META_SITEMAPS_READ, 1)
        if columns:
            return
        for number, further in enumerate(links.sitemaps[:max(self.max_sitemaps - read, 0)], start=1):
            yield self._request(further, agency, "sitemap", **{META_PROBE: True, META_SITEMAPS_READ: read + number})

    def _listing(self, response, html: Page, agency: Agency) -> Iterator[scrapy.Request]:
        wrong = self._not_a_listing(response, html, agency)
        if wrong is not None:
            self._stat("discovery/not_a_listing")
            self.coverage.not_a_listing(response, wrong)
            return
        rendered = bool(response.meta.get(META_RENDERED))
        column = {META_COLUMN: response.meta.get(META_COLUMN) or response.url}
        depth = response.meta.get(META_DEPTH, 0)
        if rendered:
            self._stat("discovery/js_render")
            walked = response.meta.get(META_LISTING)
            items = walked["items"] if walked else find_listing_items(html, response.url)
        else:
            items = find_listing_items(html, response.url)
        yield from self._items(items, agency)
        hop = self._next_hop(response)
        pages = find_pagination(html, response.url, max_pages=self.max_pages) if hop else []
        self._stat("discovery/pages", len(pages))
        for page in pages:
            yield self._request(page, agency, "column", depth=depth, **column, **{META_LISTING_PAGE: hop})
        dated = any(item.date_raw for item in items)
        # a rendered page whose own listing gave dated items is read: the frames its scripts add (a notice, a
        # counter) are no listing, and reading one would fetch and render it for nothing (the browser archived it)
        frames = [] if rendered and dated else find_frames(html, response.url)
        self._stat("discovery/frames", len(frames))
        for frame in frames:
            yield self._request(frame, agency, "column", depth=depth, **column,
                                **{META_LISTING_PAGE: response.meta.get(META_LISTING_PAGE, 0)})
        if rendered:
            return
        scripted = needs_javascript(html)
        if scripted or agency.render == "js":
            endpoints = find_json_endpoints(html, response.url)
            self._stat("discovery/json_endpoint", len(endpoints))
            for endpoint in endpoints:
                yield self._request(endpoint, agency, "json")
        if self._wants_render(agency, scripted, dated, frames):
            self._stat("discovery/js_render_requested")
            yield from self._admit_render(self._render_request(
                response.url, agency, depth=depth, column=column[META_COLUMN],
                static_capture=response.meta.get(META_CAPTURE), page_as_fetched=page_as_fetched(response)))

    @staticmethod
    def _not_a_listing(response, html: Page, agency: Agency) -> str | None:
        """Why a column page that answered 200 is no listing: the site's error page (its sidebar's news would read
        as the column's items and reach back past any deadline), or the homepage a moved column redirects to."""
        said = error_page_heading(html)
        if said:
            return f"栏目页是网站的错误页（页面写着“{said}”）"
        if response.meta.get("redirect_urls") and _is_homepage(response.url, agency.homepage):
            return f"栏目网址被重定向到网站首页 {response.url}：栏目已不在原处"
        return None

    def _wants_render(self, agency: Agency, scripted: bool, dated: bool, frames: list[str]) -> bool:
        """A column page is read or declared unread, never silently empty: without a dated item of its own it goes
        to the browser, whatever its placeholder or script looks like; a page whose listing is a frame is read at
        the frame instead."""
        if agency.render == "never" or not self.js_render:
            return False
        return agency.render == "js" or scripted or not (frames or dated)

    def _render_request(self, url: str, agency: Agency, *, depth: int, column: str, static_capture: str | None,
                        page_as_fetched: dict, attempt: int = 1) -> scrapy.Request:
        from scrapy_playwright.page import PageMethod

        methods = [PageMethod("wait_for_load_state", self.js_wait)]
        if self.screenshots:
            # the whole listing as rendered, as JPEG: a PNG of a long listing is ~1 MB and slow to encode
            methods.append(PageMethod("screenshot", full_page=True, type="jpeg", quality=self.shot_quality))
        # the page stays open for the walk (closed by it, or by crawler.browser when the render fails); Scrapy's
        # retry middleware stays out (its copy would carry the page watch back through the pickling scheduler):
        # a render the browser broke is asked again by ``_render_again``, built afresh.
        # AutoThrottle must not learn from it: scrapy-playwright reports the whole render (the browser's load, the
        # wait for quiet, the screenshot; a relaunch after a crash) as the download latency, though the portal was
        # not even asked for the page (crawler.browser answers it from the archive); the host's delay jumped to
        # that time (measured: a crawl whose Chromium died ended on one host asked every 8, 4, 2 s)
        request = self._request(url, agency, "column", depth=depth, playwright=True, playwright_page_methods=methods,
                                playwright_include_page=True, dont_retry=True, autothrottle_dont_adjust_delay=True,
                                **{META_COLUMN: column, META_RENDERED: True, META_RENDER_ATTEMPT: attempt,
                                   META_STATIC_CAPTURE: static_capture, META_PAGE_AS_FETCHED: page_as_fetched})
        # first out of the scheduler once admitted: a render's listing items are the longest chain left
        return request.replace(callback=self._rendered, priority=RENDER_PRIORITY)

    def _render_again(self, meta: dict, url: str, why: str) -> Iterator[scrapy.Request]:
        """The browser broke a render (Chromium died or the page crashed mid-walk, a render that failed in the
        browser): its column is rendered once more, else coverage could only say the column was not read to its
        end (and the agency's verdict 无法判断)."""
        agency = self.agency_by_id.get(meta.get(META_AGENCY))
        if agency is None or int(meta.get(META_RENDER_ATTEMPT) or 1) >= RENDER_ATTEMPTS:
            return
        self._stat("discovery/js_render_retried")
        self.logger.info("rendering %s once more: %s", url, why)
        yield from self._admit_render(self._render_request(
            url, agency, depth=meta.get(META_DEPTH, 0), column=meta.get(META_COLUMN) or url,
            static_capture=meta.get(META_STATIC_CAPTURE), page_as_fetched=meta.get(META_PAGE_AS_FETCHED),
            attempt=int(meta.get(META_RENDER_ATTEMPT) or 1) + 1))

    def _admit_render(self, request: scrapy.Request) -> Iterator[scrapy.Request]:
        """A render request goes to Scrapy only when a browser page is free for it. One waiting inside the
        downloader for a page would hold one of the CONCURRENT_REQUESTS places all that time, and a few renders
        walking their listings would stall every other portal's fetches. Over many machines the shared queue
        hands out renders (a queue held here would die with its worker), so there they go at once."""
        if self.frontier is not None or self.renders_open < self.render_slots:
            self.renders_open += 1
            yield request
        else:
            self.renders_waiting.append(request)
            self._stat("discovery/js_render_waited")

    def _render_done(self) -> None:
        """A render's browser page is free again: the next waiting render goes."""
        self.renders_open = max(0, self.renders_open - 1)
        if self.renders_waiting and self.renders_open < self.render_slots:
            self.renders_open += 1
            self.crawler.engine.crawl(self.renders_waiting.popleft())

    async def _rendered(self, response):
        """A browser render: its pages walked in the browser (``crawler.paging``), then read like any listing page
        with ``response.meta["xxgk_listing"]`` saying what the walk read and whether it saw the listing's end."""
        try:
            walked = await self.walker.walk(response, response.meta.get(META_COLUMN) or response.url)
        finally:
            self._render_done()   # the walk closed the page
        response.meta[META_LISTING] = walked.as_meta()
        self._stat("discovery/js_pages_walked", walked.pages_walked)
        self._stat(f"discovery/js_walk_end/{walked.end}")
        for output in self.parse(response):
            yield output
        if walked.end == "browser_error":   # what it read counts; the rest of the listing is asked again
            for output in self._render_again(response.meta, response.url, "its walk was cut by the browser"):
                yield output

    def _items(self, items, agency: Agency) -> Iterator[scrapy.Request]:
        self._stat("discovery/listing_items", len(items))
        pinned = pinned_at_top(items)
        for item in items:
            yield self._request(item.url, agency, "item", listing_title=item.title, listing_date=item.date_raw,
                                **({META_PINNED: True} if item.url in pinned else {}))

    def _attachments(self, response, page: Page, agency: Agency) -> Iterator[scrapy.Request]:
        links = find_attachments(page, response.url)
        self._stat("discovery/attachments", len(links))
        for link in links:
            yield self._request(link.url, agency, "attachment", listing_title=link.text or None,
                                listing_date=response.meta.get(META_LISTING_DATE))

    def _refreshed(self, response, agency: Agency) -> Iterator[scrapy.Request]:
        """A report page that refreshes to another address (kept and parsed itself): the target may be the report."""
        target = meta_refresh_target(response, self.refresh_max_delay)
        if target is not None:
            self._stat("discovery/meta_refresh")
            yield self._request(target, agency, "item", listing_title=response.meta.get(META_LISTING_TITLE),
                                listing_date=response.meta.get(META_LISTING_DATE))

    def _year_part(self, response, page: Page, agency: Agency) -> Iterator[scrapy.Request]:
        """An entry the column names by its year alone ("2024年度") may be that year's part of the column, a listing
        of its own: the reports it lists are fetched like the column's, and so are its further pages, which come
        here again under the same year title (its other entries are not fetched)."""
        title = response.meta.get(META_LISTING_TITLE)
        if year_only_title(title) is None:
            return
        items = [item for item in find_listing_items(page, response.url) if looks_like_report_title(item.title)]
        self._stat("discovery/year_part_items", len(items))
        yield from self._items(items, agency)
        if not items:
            return   # a page that lists no report is no part of the column: its pager leads nowhere useful
        hop = self._next_hop(response)
        pages = find_pagination(page, response.url, max_pages=self.max_pages) if hop else []
        self._stat("discovery/year_part_pages", len(pages))
        for further in pages:
            yield self._request(further, agency, "item", listing_title=title,
                                listing_date=response.meta.get(META_LISTING_DATE), **{META_LISTING_PAGE: hop})

    def _next_hop(self, response) -> int | None:
        """How many listing pages from the column's entry the pages this one links are; None once that reaches
        DISCOVERY_MAX_PAGES. A pager's numbers are capped by ``find_pagination``, but a 下一页 chain to ever new
        addresses (a calendar's next month, ``?month=4011-08``) is not: it would never let the crawl end."""
        hop = response.meta.get(META_LISTING_PAGE, 0) + 1
        if hop < self.max_pages:
            return hop
        self._stat("discovery/pages_capped")
        return None

    def _candidate(self, response, agency: Agency) -> Iterator[ReportCandidate]:
        capture = response.meta.get(META_CAPTURE)
        if capture is None:
            self._stat("discovery/not_archived")
            return  # nothing to tie a report to: the archive failure is counted and logged
        yield ReportCandidate(
            url=response.url, agency_id=agency.id, capture_record_id=capture,
            payload_record_id=response.meta.get(META_PAYLOAD_CAPTURE, capture), body=response.body,
            content_type=_header(response, "Content-Type"), headers=_headers(response),
            listing_title=response.meta.get(META_LISTING_TITLE), listing_date=response.meta.get(META_LISTING_DATE),
            filename=_filename(response), level=agency.level,
            first_capture=bool(response.meta.get(META_FIRST_CAPTURE)),
        )

    def failed(self, failure) -> Iterator[scrapy.Request]:
        """Fetch errors are recorded by the middlewares; here they are only counted by role."""
        request = failure.request if hasattr(failure, "request") else None
        role = (request.meta.get(META_ROLE) if request is not None else None) or "unknown"
        self._stat(f"discovery/failed/{role}")
        if request is not None and request.meta.get(META_RENDERED):
            self._render_done()
            if failure.check(PlaywrightError, RenderTimeout):
                yield from self._render_again(request.meta, request.url, f"the browser failed: {failure.value}")
        if failure.check(HttpError):
            self.logger.debug("HTTP %s for %s", failure.value.response.status, failure.value.response.url)


_FRONT_FILE = re.compile(r"/(?:index|default|home)\.(?:s?html?|jsp|php|aspx?)$", re.IGNORECASE)


def _is_homepage(url: str, homepage: str | None) -> bool:
    """The site's front page: the registry's homepage, or the site's root ("/", "/index.html"), without a query."""
    def front(address: str) -> str:
        parts = urlsplit(address)
        return f"{parts.netloc.lower()}{_FRONT_FILE.sub('', parts.path).rstrip('/')}?{parts.query}"

    fronts = {f"{urlsplit(url).netloc.lower()}?"} | ({front(homepage)} if homepage else set())
    return front(url) in fronts


def _header(response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _headers(response) -> dict[str, str]:
    return {name.decode("latin-1"): ", ".join(value.decode("latin-1") for value in values)
            for name, values in response.headers.items()}


def _is_html(response) -> bool:
    content_type = (_header(response, "Content-Type") or "").lower()
    if content_type:
        return content_type.startswith(_HTML_TYPES)
    return response.body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def _filename(response) -> str | None:
    disposition = _header(response, "Content-Disposition")
    match = _FILENAME.search(disposition or "")
    if match:
        return unquote(match.group(1)).strip() or None
    return PurePosixPath(unquote(urlsplit(response.url).path)).name or None
