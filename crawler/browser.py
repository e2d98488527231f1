"""What a browser render fetched and threw: every answer the portal gave the rendered page goes into the archive,
its data answers and script errors are kept for the listing walk (``crawler.paging``), and its page is closed.

``BrowserMiddleware`` (a downloader middleware) gives each render request a ``PageWatch`` just before the download,
as scrapy-playwright's page init callback, so the watch hears the page from its first request on. It is added
there and not in the spider because requests are pickled on their way through a scrapy-redis queue, and a watch
holds the page, tasks and the archive; Scrapy never retries a render request (``dont_retry``), so no request
carrying a watch goes back to the scheduler (the spider asks a render the browser broke once more, as a new request).
Every render is bounded in time (``RenderDownloadHandler``), and so is every call into a page that should answer at
once: a renderer stuck in a script, or a wedged Chromium, never answers, and Playwright bounds none of those calls.

The page's own navigation to the rendered URL is answered with the page Scrapy fetched and archived
(``page_as_fetched``, carried in the render request): the browser renders the bytes of that capture and the portal
is not asked twice; the render is kept as resource records beside it (``crawler.middlewares``). Everything else the page
loaded from the portal's site (documents of frames, scripts, XHR/fetch answers, form posts) is one WARC response
record through the crawl's archive, with role ``browser`` and the page it was ``rendered_for``; style sheets too,
since what they hide decides which pager control the walk saw, and a replay of the render needs them. Images, media
and fonts are never requested (``abort_unneeded``); a websocket has no HTTP answer to keep.

robots.txt binds the browser as it binds Scrapy: every request a rendered page makes (its data URLs above all) is
checked against the robots.txt of its host, read through Scrapy's robots middleware, before it leaves; a forbidden
one is aborted and becomes a ``robots`` fetch error, and a column whose data was forbidden says so (coverage
problem ``robots``) instead of looking empty or broken.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Awaitable, Callable
from urllib.parse import urldefrag

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from twisted.web.http import RESPONSES

from crawler.middlewares import META_AGENCY, META_STATIC_CAPTURE, OTHER_PROCESS_WAIT, CrawlArchive, record_error
from parsers.discovery import is_same_site
from storage.archive import RENDERED_DOM_PREFIX, ArchiveError
from storage.facts import BROWSER_ROLE

log = logging.getLogger(__name__)

META_WATCH = "xxgk_page_watch"        # set on render requests by BrowserMiddleware, read by crawler.paging
META_PAGE_AS_FETCHED = "xxgk_page_as_fetched"   # set by the spider: the page the render's navigation gets
ROLE = BROWSER_ROLE                   # the WARC metadata role of what the browser fetched
# seconds a call to a page that should answer at once (its close, an answer's body) may take: past it the page's
# renderer is hung (a script that never yields) or Chromium is wedged, and waiting longer would hold the crawl
BROWSER_ANSWER_TIMEOUT = 10.0
DATA_TYPES = frozenset({"xhr", "fetch"})
# never fetched at all: they cost the portal and the render time and hold no listing (style sheets still load,
# since what they hide decides which pager control is visible)
_ABORTED_TYPES = frozenset({"image", "media", "font"})
# not archived: never fetched, or (a websocket) no HTTP answer; every other byte the page got from the portal is
_SKIPPED_TYPES = _ABORTED_TYPES | {"websocket"}
# Playwright hands over bodies decoded; the headers must not claim an encoding the stored bytes no longer have.
_DECODED_AWAY = ("content-encoding", "transfer-encoding")

RobotsCheck = Callable[[str], Awaitable[bool]]   # whether robots.txt lets the crawl fetch this URL


@dataclass(frozen=True)
class Exchange:
    """One XHR/fetch answer the page received: what a listing walk reads items from and pages through."""

    method: str
    url: str
    body: str | None          # the request body (a form post), as sent
    content_type: str | None  # of the request body
    status: int
    payload: bytes


def abort_unneeded(request) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: whether a rendered page's request is dropped before it is sent."""
    return request.resource_type in _ABORTED_TYPES


class PageWatch:
    """Listens to one rendered page: archives what it fetched, keeps its data answers and its script errors."""

    def __init__(self, holder: CrawlArchive | None, stats, *, page_url: str, agency_id: str | None,
                 static_capture: int | None, robots: RobotsCheck | None = None):
        self.holder = holder
        self.robots = robots                   # None: the agency's robots.txt is not obeyed (or nothing is)
        self.robots_blocked: list[str] = []    # what the page asked for and robots.txt forbade
        self.stats = stats
        self.page_url = page_url
        self.agency_id = agency_id
        self.static_capture = static_capture
        self.page = None
        self.exchanges: list[Exchange] = []
        self.script_errors: list[str] = []
        self.crashed = False                   # the renderer crashed: nothing in flight will end
        self._pending: set[asyncio.Future] = set()
        self._in_flight = 0
        self._last_change = time.monotonic()   # when a request of the page last started or ended
        self._navigated = False
        # (status, headers, body) of the page as Scrapy fetched and archived it: what the render's navigation is
        # answered with, so the browser renders the archived document and the portal is not asked twice
        self.archived_page: tuple[int, dict[str, str], bytes] | None = None
        self._archived_served = False

    # -- scrapy-playwright calls this with the new page, before it navigates

    async def attach(self, page, request=None) -> None:
        self.page = page
        page.on("request", self._request_started)
        page.on("requestfinished", self._request_ended)
        page.on("requestfailed", self._request_ended)
        page.on("response", self._answered)
        page.on("pageerror", self._script_error)
        page.on("crash", self._crashed)
        if self.robots is not None:
            await page.route("**/*", self._robots_gate)
        if self.archived_page is not None:
            # added after scrapy-playwright's own route, so asked first; everything else falls back to it
            await page.route(self._page_url_pattern(), self._serve_archived)

    def _page_url_pattern(self) -> re.Pattern:
        """The rendered URL, any fragment: a pattern, since Playwright inspects a function matcher's signature on
        every request it matches."""
        return re.compile("^" + re.escape(urldefrag(self.page_url)[0]) + "(#.*)?$")

    async def _serve_archived(self, route) -> None:
        request = route.request
        if self._archived_served or not request.is_navigation_request() or request.frame.parent_frame is not None:
            await route.fallback()
            return
        self._archived_served = True
        status, headers, body = self.archived_page
        await route.fulfill(status=status, headers=headers, body=body)

    async def _robots_gate(self, route) -> None:
        """Asked before scrapy-playwright's own route (and after the archived page's): a request robots.txt
        forbids never leaves the browser."""
        from playwright.async_api import Error as PlaywrightError

        url = route.request.url
        allowed = not url.startswith(("http://", "https://")) or await self.robots(url)
        if not allowed:
            self.robots_blocked.append(url)
            self.stats.inc_value("robotstxt/browser_forbidden")
        try:
            await (route.fallback() if allowed else route.abort("blockedbyclient"))
        except PlaywrightError as exc:  # the page was closed while robots.txt was read
            log.debug("request %s of a closed page: %s", url, exc)
        if not allowed and self.holder is not None:
            await record_error(self.holder, self.stats, url, "robots",
                               f"robots.txt 禁止抓取（{self.page_url} 在浏览器中请求）", self.agency_id)

    def _request_started(self, request) -> None:
        self._in_flight += 1
        self._last_change = time.monotonic()

    def _request_ended(self, request) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        self._last_change = time.monotonic()

    def _script_error(self, error) -> None:
        name = getattr(error, "name", None) or "Error"
        message = getattr(error, "message", None) or str(error)
        self.script_errors.append(f"{name}: {message}")
        self.stats.inc_value("discovery/js_script_error")

    def _answered(self, response) -> None:
        task = asyncio.ensure_future(self._keep(response))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # -- waiting

    async def quiet(self, idle: float, timeout: float, *, acted: bool = True) -> bool:
        """Wait until the page has had no request in flight for ``idle`` seconds (at most ``timeout``), then until
        every answer heard so far is archived. False when the page was still busy at the timeout.

        ``acted``: something was just done to the page (loaded, a pager clicked), so the quiet must come after this
        call: the request it causes may not have been heard yet. Without it, quiet already kept counts."""
        start = time.monotonic()
        deadline = start + timeout
        settled = False
        while True:
            now = time.monotonic()
            calm_since = max(self._last_change, start) if acted else self._last_change
            if self._in_flight == 0 and not self._pending and now - calm_since >= idle:
                settled = True
                break
            if now >= deadline or self._closed():
                break   # a page that crashed (or whose Chromium died) ends no request it had in flight
            await asyncio.sleep(0.05)
        await self.settle()
        return settled

    def _crashed(self, page) -> None:
        self.crashed = True
        self.stats.inc_value("discovery/js_page_crashed")

    def _closed(self) -> bool:
        return self.crashed or (self.page is not None and self.page.is_closed())

    async def quiet_before_read(self, page, idle: float, timeout: float) -> None:
        """A scrapy-playwright page method: the DOM Scrapy reads (and the archive keeps as the render) and the
        screenshot are taken once the page's own requests (a listing's JSON) have been answered, not at ``load``."""
        await self.quiet(idle, timeout)

    async def settle(self) -> None:
        """Wait for every answer heard so far to be archived (and read, for data answers); an answer whose body the
        browser does not hand over within BROWSER_ANSWER_TIMEOUT (a hung renderer, a wedged Chromium) is given up."""
        while self._pending:
            pending = list(self._pending)
            _done, late = await asyncio.wait(pending, timeout=BROWSER_ANSWER_TIMEOUT)
            for task in late:
                task.cancel()
                self._pending.discard(task)
                self.stats.inc_value("discovery/js_answer_given_up")

    async def close(self) -> None:
        """Finish the archiving, then close the page (which frees its place in the browser context)."""
        await self.settle()
        page, self.page = self.page, None
        if page is not None and not page.is_closed():
            try:
                await asyncio.wait_for(page.close(), BROWSER_ANSWER_TIMEOUT)
            except (Exception, asyncio.TimeoutError) as exc:  # noqa: BLE001 - crashed, closed, or not answering
                log.debug("closing the page of %s: %r", self.page_url, exc)

    # -- archiving

    async def _keep(self, response) -> None:
        request = response.request
        url = request.url
        if not url.startswith(("http://", "https://")) or not is_same_site(url, self.page_url):
            return
        if request.resource_type in _SKIPPED_TYPES or self._is_own_navigation(request):
            return
        try:
            payload = b"" if 300 <= response.status < 400 else await response.body()
            request_headers = await request.headers_array()
            response_headers = await response.headers_array()
            address = await response.server_addr()
        except Exception as exc:  # noqa: BLE001 - the page went away or Chromium dropped the body
            log.debug("browser answer for %s unreadable: %s", url, exc)
            self.stats.inc_value("archive/browser_unreadable")
            return
        body = request.post_data_buffer
        if request.resource_type in DATA_TYPES and 200 <= response.status < 300:
            content_type = next((header["value"] for header in request_headers
                                 if header["name"].lower() == "content-type"), None)
            self.exchanges.append(Exchange(request.method, url, _text(body), content_type, response.status, payload))
        await self._archive(request, response, payload, body, request_headers, response_headers, address)

    def _is_own_navigation(self, request) -> bool:
        """The first main-frame navigation to the rendered URL: the page Scrapy fetched and archived itself."""
        if self._navigated or not request.is_navigation_request():
            return False
        try:
            main = request.frame.parent_frame is None
        except Exception:  # noqa: BLE001 - a request without a frame (service worker) is no navigation of ours
            return False
        if main and urldefrag(request.url)[0] == urldefrag(self.page_url)[0]:
            self._navigated = True
            return True
        return False

    async def _archive(self, request, response, payload: bytes, body: bytes | None, request_headers,
                       response_headers, address) -> None:
        if self.holder is None:
            return
        metadata = {"role": ROLE, "rendered_for": self.page_url, "resource_type": request.resource_type}
        if self.static_capture is not None:
            metadata["rendered_for_capture"] = self.static_capture
        try:
            staged = await self.holder.call(
                self.holder.archive.stage_fetch, request.url, request.method,
                [(header["name"], header["value"]) for header in request_headers if not header["name"].startswith(":")],
                response.status, response.status_text or RESPONSES.get(response.status, b""),
                _stored_headers(response_headers, len(payload)), payload,
                ip=(address or {}).get("ipAddress"), fetched_at=datetime.now(timezone.utc), agency_id=self.agency_id,
                extra_metadata=metadata, request_body=body or b"")
        except ArchiveError as exc:
            log.error("could not archive the browser's %s %s: %s", request.method, request.url, exc)
            self.stats.inc_value("archive/write_failed")
            return
        # counted like Scrapy's own captures, so that a run's page count is every HTTP capture it made
        self.stats.inc_value(f"archive/status/{response.status}")
        self.stats.inc_value(f"archive/{staged.record_type}")
        self.stats.inc_value("archive/browser")

    async def keep_dom(self, html: str, page_number: int) -> str | None:
        """Archive what the page shows after a paging step, as the first render is (a resource record beside the
        capture of the page as served); returns its WARC-Record-ID."""
        if self.holder is None:
            return None
        try:
            staged = await self.holder.call(
                self.holder.archive.stage_resource, f"{RENDERED_DOM_PREFIX}{self.page_url}#page={page_number}",
                html.encode("utf-8"), "text/html; charset=utf-8", agency_id=self.agency_id,
                concurrent_to=self.static_capture, extra_metadata={"role": ROLE, "listing_page": page_number})
        except ArchiveError as exc:
            log.error("could not archive page %d of the render of %s: %s", page_number, self.page_url, exc)
            self.stats.inc_value("archive/write_failed")
            return None
        self.stats.inc_value("archive/resource")
        return staged.record_id


def page_as_fetched(response) -> dict:
    """What a render request carries of the page Scrapy fetched (``META_PAGE_AS_FETCHED``): its decoded body,
    type and cookies. Carried in the request, not read back from the archive: over many machines the render may run
    where that capture's segment is not readable yet."""
    return {"status": response.status,
            "content_type": (response.headers.get("Content-Type") or b"text/html").decode("latin-1"),
            "cookies": [value.decode("latin-1") for value in response.headers.getlist("Set-Cookie")],
            "body": response.body}


def _as_served(fetched: dict) -> tuple[int, dict[str, str], bytes]:
    """The page as the browser receives it (a 304 read back from the archive is the 200 it confirmed)."""
    status = fetched["status"] if 200 <= fetched["status"] < 300 else 200
    headers = {"Content-Type": fetched["content_type"]}
    if fetched["cookies"]:
        headers["Set-Cookie"] = "\n".join(fetched["cookies"])
    return status, headers, fetched["body"]


def _text(body: bytes | None) -> str | None:
    if body is None:
        return None
    return body.decode("utf-8", errors="replace")


def _stored_headers(headers: list[dict[str, str]], length: int) -> list[tuple[str, str]]:
    """The response headers as received, except that the body is stored decoded: the encoding headers are kept
    under ``X-Archive-Orig-`` (as pywb names what it no longer applies) and Content-Length is the stored length."""
    stored = []
    for header in headers:
        name, value = header["name"], header["value"]
        if name.startswith(":"):
            continue  # HTTP/2 pseudo-headers are no header lines
        if name.lower() in _DECODED_AWAY:
            name = f"X-Archive-Orig-{name}"
        elif name.lower() == "content-length" and value.strip() != str(length):
            stored.append((f"X-Archive-Orig-{name}", value))
            value = str(length)
        stored.append((name, value))
    return stored


# ---------------------------------------------------------------- the middleware

class BrowserMiddleware:
    """Gives each render request its ``PageWatch``; closes the page of a render that never reaches the spider."""

    def __init__(self, stats, holder: CrawlArchive | None, *, idle: float, step_timeout: float, crawler=None):
        self.stats = stats
        self.holder = holder
        self.idle = idle
        self.step_timeout = step_timeout
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> "BrowserMiddleware":
        settings = crawler.settings
        holder = CrawlArchive.of(crawler) if settings.getbool("ARCHIVE_ENABLED") else None
        return cls(crawler.stats, holder, idle=settings.getfloat("DISCOVERY_JS_IDLE"),
                   step_timeout=settings.getfloat("DISCOVERY_JS_STEP_TIMEOUT"), crawler=crawler)

    def _robots_check(self, request) -> RobotsCheck | None:
        """robots.txt as Scrapy's robots middleware reads it (one fetch per host, shared with the crawl's own
        requests), for what the render of ``request`` asks; None when robots.txt is not obeyed."""
        from scrapy import Request
        from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

        if self.crawler is None or request.meta.get("dont_obey_robotstxt") \
                or not self.crawler.settings.getbool("ROBOTSTXT_OBEY"):
            return None
        try:
            downloader = self.crawler.engine.downloader
        except RuntimeError:   # no crawl is running (a crawler built for one step): no robots middleware either
            return None
        robots = next((each for each in downloader.middleware.middlewares
                       if isinstance(each, RobotsTxtMiddleware)), None)
        if robots is None:
            return None
        # the user agent robots.txt is read for, as the middleware picks it (its attributes are not public API)
        agent = robots._robotstxt_useragent or robots._default_useragent

        async def allows(url: str) -> bool:
            parser = await robots.robot_parser(Request(url, meta={"dont_obey_robotstxt": False}))
            return parser is None or parser.allowed(url, agent)   # None: robots.txt unreadable, as Scrapy treats it

        return allows

    async def process_request(self, request):
        if not request.meta.get("playwright") or META_WATCH in request.meta:
            return None
        static = None
        if self.holder is not None:
            try:  # the page as served may still wait for its group commit, or be another process's capture
                static = await self.holder.capture_id(request.meta.get(META_STATIC_CAPTURE), now=True,
                                                      wait=OTHER_PROCESS_WAIT)
            except ArchiveError as exc:
                log.warning("the render of %s names no capture of its page: %s", request.url, exc)
        watch = PageWatch(self.holder, self.stats, page_url=request.url, agency_id=request.meta.get(META_AGENCY),
                          static_capture=static, robots=self._robots_check(request))
        fetched = request.meta.get(META_PAGE_AS_FETCHED)
        if fetched is not None:
            watch.archived_page = _as_served(fetched)
        request.meta[META_WATCH] = watch
        request.meta["playwright_page_init_callback"] = watch.attach
        request.meta["playwright_page_methods"] = self._with_quiet(request.meta.get("playwright_page_methods"), watch)
        return None

    def _with_quiet(self, methods, watch: PageWatch) -> list:
        """The spider's page methods with the wait for quiet right after its wait for ``load``: a script-filled
        listing's items arrive after ``load``, and the render kept (DOM and screenshot) must show them."""
        from scrapy_playwright.page import PageMethod

        methods = list(methods or ())
        loads = [index for index, method in enumerate(methods) if method.method == "wait_for_load_state"]
        at = loads[-1] + 1 if loads else 0
        methods.insert(at, PageMethod(watch.quiet_before_read, self.idle, self.step_timeout))
        return methods

    async def process_response(self, request, response):
        watch = request.meta.get(META_WATCH)
        if watch is not None and response.status >= 400:
            await watch.close()  # the spider gets an HttpError, never the page
        return response

    async def process_exception(self, request, exception):
        watch = request.meta.get(META_WATCH)
        if watch is not None:
            await watch.close()
        return None


# ---------------------------------------------------------------- the download handler

class RenderTimeout(TimeoutError):
    """A render did not end within DISCOVERY_JS_RENDER_TIMEOUT."""


class RenderDownloadHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's handler, with every render bounded by DISCOVERY_JS_RENDER_TIMEOUT. Its own timeouts cover
    the navigation and each page method, not the calls around them (a new page, routing, the page init callback):
    a Chromium that stops answering (measured: ``--single-process`` wedged after a crash) left 8 renders waiting
    forever, and the crawl with them. A render past the bound fails like a fetch that timed out (a ``timeout``
    error for its column), and the spider asks it once more."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.render_timeout = crawler.settings.getfloat("DISCOVERY_JS_RENDER_TIMEOUT")

    async def _download_request(self, request, spider=None):
        try:
            return await asyncio.wait_for(super()._download_request(request, spider), self.render_timeout)
        except asyncio.TimeoutError:
            self.stats.inc_value("discovery/js_render_timeout")
            # a page stuck in its own script times out alone; a Chromium that answers nothing any more would fail
            # every render after it: it is killed, and the next render (this one asked again) starts a new one
            unwedge = getattr(self.browser_provider, "unwedge", None)
            if unwedge is not None and await unwedge():
                self.stats.inc_value("discovery/js_browser_unwedged")
            raise RenderTimeout(f"浏览器 {self.render_timeout:g} 秒内未完成渲染：{request.url}") from None

    async def _close(self) -> None:
        # scrapy-playwright closes its browser contexts without a bound: a Chromium that froze after the last
        # render would keep the crawl from ever ending; one that answers nothing is killed first, then the closes
        # return at once
        unwedge = getattr(getattr(self, "browser_provider", None), "unwedge", None)
        if self.context_wrappers and unwedge is not None and await unwedge():
            log.warning("Chromium answered nothing when the crawl closed: killed")
        await super()._close()
