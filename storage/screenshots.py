"""Screenshots of archived report pages: rendered offline in Chromium from the archive, kept as WARC records.

The verdict's evidence bundle shows how a report page looked when the archive first had it: a JPEG of the first
screen (``ShotSpec``: 1280×1000 by default, the title, the dates and the 信息公开目录 box) of the URL's *first*
successful capture, archived as a WARC ``resource`` record ``urn:screenshot:<url>`` with ``WARC-Concurrent-To``
that capture's record (``Archive.record_resource``). Three callers share one code path (``take_screenshot`` over an
``OfflineRenderer``):

- the crawl (``crawler.screenshots``): each report page as soon as it is parsed, at most ``SCREENSHOT_PAGES`` pages
  at once in the crawl's one Chromium, while the crawl waits on the portals;
- after the crawl (``take_missing_screenshots``, from ``cli.crawl``): the leftovers, HTML report pages whose first
  capture still has none (a crawl stopped early, a shot that failed, an earlier ``--no-screenshots``);
- the web UI (``render_capture``, ``web.full_page``): the whole page of one capture, on request (整页截图).

It lives in storage, below the crawler, the monitor and the web, because the crawl process needs it as much as the
CLI and the web do, and the crawler may not import the monitor (tests/test_architecture.py); it touches nothing but
the archive, the catalog and Chromium.

How a page is rendered:

- from the archive, never from the live site: the archived page is written into the tab (``page_markup``: decoded
  as the parsers decode it, a ``<base>`` with its address, no refresh; a navigation, even one answered from the
  archive, cost Chromium twice the CPU of the rest of the shot), and every request it makes goes through one route
  handler that serves a sub-resource (CSS, image, frame) from its latest archived 200 capture and aborts everything
  else. The crawler archives pages, not their images or style sheets, so most pages are drawn unstyled, as the
  archive holds them;
- with JavaScript off: archived HTML is untrusted, and a script could rewrite the page after the fact;
- in at most ``pages`` pages, each in a browser context of its own and kept from shot to shot (a new page costs
  a renderer process, ~250 ms, three times the render itself); ``max_open`` counts them as Chromium lists them.

JPEG at quality 70: the first screens of the demo's report pages average ~130 KB (a full-page PNG was ~430 KB, the
same first screen as PNG ~180 KB). WebP at the same setting is a third smaller, but Playwright writes no WebP (only
Chromium's DevTools protocol does), the web UI's image view does not know it, and neither do the tools people open
evidence with (WPS, older Windows viewers).

Which capture a screenshot shows is its index row's ``concurrent_to_capture_id`` (the capture its
``WARC-Concurrent-To`` names, resolved when the row is indexed: ``storage.facts``), so a second call, or a later
crawl, takes nothing twice, and finding what is missing reads nothing from the object store; only a shot row
indexed before that column existed is looked up in its WARC metadata record (``concurrent-to-capture``).

A page that cannot be rendered or archived is one ``fetch_errors`` row (kind ``other``, URL
``urn:screenshot:<url>``: never the report's own URL, whose errors mean 已删除) and a count, never a failed crawl.
"""
from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import struct
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Awaitable, Callable, Iterable, Mapping
from urllib.parse import urljoin

from sqlalchemy import func, or_, select

from parsers.formats.encoding import charset_from_content_type, charset_from_markup, decode_bytes

from storage.archive import Archive, ArchiveError, open_reader
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture as CaptureRow
from storage.catalog.models import Report
from storage.config import CHROMIUM_LAUNCH_OPTIONS, Config
from storage.objects import ObjectStoreError
from storage.reader import Capture, CaptureError, CaptureReader
from storage.warc import WarcFormatError, read_members

log = logging.getLogger(__name__)

SCREENSHOT_PREFIX = "urn:screenshot:"
FULL_PAGE_MAX_HEIGHT = 8000    # px: a whole page is cut here (a 100-page report would make a huge image)
FAILURE_KIND = "other"         # the fetch_errors kind of a screenshot that failed
MAX_LISTED_FAILURES = 20


@dataclass(frozen=True)
class ShotSpec:
    """What a screenshot looks like: the viewport (the first screen is exactly this), JPEG quality, time per page."""

    width: int = 1280
    height: int = 1000
    quality: int = 70
    timeout: float = 20.0      # seconds for the page to load, and again for the picture; nothing is fetched from the
                               # network, so a page that needs longer is broken

    def __post_init__(self) -> None:
        if not (320 <= self.width <= 4096 and 200 <= self.height <= 4096):
            raise ValueError(f"screenshot viewport {self.width}x{self.height}: expected 320-4096 x 200-4096 px")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality {self.quality}: expected 1-100")
        if not self.timeout > 0:
            raise ValueError(f"screenshot timeout {self.timeout}: expected seconds > 0")

    @property
    def viewport(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height}


DEFAULT_SPEC = ShotSpec()


@dataclass(frozen=True)
class PendingPage:
    """A report page still without a screenshot of its first capture."""

    url: str
    capture_id: int           # the first successful capture of the URL: what the screenshot shows
    agency_id: str | None


@dataclass(frozen=True)
class Shot:
    jpeg: bytes
    width: int
    height: int
    page_height: int          # the document's own height, px (the first screen shows the top of it)
    full_page: bool
    clipped: bool             # a whole page longer than FULL_PAGE_MAX_HEIGHT
    renderer: str             # "chromium <version>"


@dataclass(frozen=True)
class ScreenshotSummary:
    run_id: str | None              # the run the screenshots went into (None when nothing was rendered)
    pages: int                      # HTML report pages (distinct URLs) with a successful capture
    existing: int                   # … that already had a screenshot of their first capture
    taken: int                      # screenshots archived by this call
    failed: int                     # pages that could not be rendered or archived
    remaining: int = 0              # pages left for a later call because of ``limit``
    failures: tuple[str, ...] = ()  # "url：why", the first MAX_LISTED_FAILURES
    message: str | None = None      # why nothing could be rendered at all (e.g. Chromium did not start)

    def line(self) -> str:
        """One line for the CLI."""
        text = (f"截图：报告页面 {self.pages}，已有 {self.existing}，新增 {self.taken}，失败 {self.failed}"
                + (f"，留待下次 {self.remaining}" if self.remaining else ""))
        return text + (f"（{self.message}）" if self.message else "")


class ShotError(Exception):
    """A page could not be rendered (Chromium missing or crashed, a timeout, an image of the wrong size)."""


class ShotSkipped(Exception):
    """The caller no longer wants the shot (the crawl is shutting down): nothing was rendered or recorded."""


# ---------------------------------------------------------------- what is missing

def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header (SOFn), or None if ``data`` is not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:          # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if at + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
    return None


# what may stand before the doctype: blanks, comments, an XML declaration (XHTML pages of older portals)
_LEADING = re.compile(r"\A(?:\s|<!--.*?-->|<\?[^>]*>)*(?:<!doctype[^>]*>)?", re.IGNORECASE | re.DOTALL)
_META_REFRESH = re.compile(r"<meta\b[^>]*?http-equiv\s*=\s*[\"']?\s*refresh[^>]*>", re.IGNORECASE)
# resource hints and speculation rules: Chromium's network service fetches them outside the tab's route, so an
# archived page could make the renderer ask any address it names (a web walk saw 整页截图 ask the live site)
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_HINT_REL = re.compile(r"""\brel\s*=\s*(?:"[^"]*|'[^']*|[^\s>]*)\b(?:prefetch|prerender|preconnect|dns-prefetch|"""
                       r"""modulepreload|preload|next)\b""", re.IGNORECASE)
_SPECULATION_RULES = re.compile(r"<script\b[^>]*\btype\s*=\s*[\"']?\s*speculationrules[^>]*>.*?</script\s*>",
                                re.IGNORECASE | re.DOTALL)
_OWN_BASE = re.compile(r"<base\s[^>]*?href\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.IGNORECASE)


def page_markup(capture: Capture) -> str:
    """The archived page as the markup a tab is given (``page.set_content``): decoded as the parsers decode it
    (a byte-order mark, then the HTTP and ``<meta>`` charsets where the bytes bear them out, then detection: a GBK
    page labelled UTF-8 shows its characters, as the record read them), with a ``<base>`` naming the page's own
    address (or the address its own ``<base>`` resolves to), so relative sub-resources are asked for as the page
    at its URL would ask for them. It goes right after a leading doctype, which keeps the page's rendering mode.
    A ``<meta http-equiv="refresh">`` is left out: the page is the report, and a refresh of a page written into a
    tab reloads that tab's blank document, which no route can refuse; so are resource hints (``<link
    rel="prefetch">``, ``preconnect`` …) and speculation rules, which Chromium follows outside the tab's route."""
    payload = capture.content
    declared = [("HTTP", charset_from_content_type(capture.header("Content-Type"))),
                ("meta", charset_from_markup(payload))]
    text = _META_REFRESH.sub("", decode_bytes(payload, declared).text)
    text = _SPECULATION_RULES.sub("", _LINK_TAG.sub(lambda tag: "" if _HINT_REL.search(tag.group(0)) else tag.group(0),
                                                    text))
    own = _OWN_BASE.search(text[:65536])
    href = next((group for group in own.groups() if group is not None), "") if own else ""
    base = urljoin(capture.url, html.unescape(href.strip())) if href.strip() else capture.url
    at = _LEADING.match(text).end()
    return f'{text[:at]}<base href="{html.escape(base, quote=True)}">{text[at:]}'


def is_html_page(mime: str | None, source_format: str | None) -> bool:
    """A page to screenshot: served as HTML, or read as HTML by the parsers (a mislabelled page)."""
    return "html" in (mime or "").lower() or source_format == "html"


def _is_first_success(columns):
    """The captures that can be a page's first successful one: a 2xx response (or revisit), not a resource."""
    return (columns.record_type != "resource") & columns.status.between(200, 299)


def first_successful_captures(session, urls: Iterable[str]) -> dict[str, Any]:
    """Each URL's first 2xx response (or revisit), when the archive first had the page, as a Row (id, url,
    timestamp, agency_id): one query per ``_CHUNK`` URLs, on the ``url_hash`` index. URLs never fetched
    successfully are left out."""
    columns = queries.CAPTURES.c
    found: dict[str, Any] = {}
    for chunk in _chunks(sorted(set(urls))):
        hashes = {queries.url_hash(url): url for url in chunk}
        wanted = set(chunk)
        # the first per URL is picked in the database: a page crawled daily has a capture a day
        order = func.row_number().over(partition_by=columns.url, order_by=(columns.timestamp, columns.id))
        ranked = (select(columns.id, columns.url, columns.timestamp, columns.agency_id, order.label("rank"))
                  .where(columns.url_hash.in_(hashes), _is_first_success(columns))
                  .subquery())
        for row in session.execute(select(ranked.c.id, ranked.c.url, ranked.c.timestamp, ranked.c.agency_id)
                                   .where(ranked.c.rank == 1)):
            if row.url in wanted:  # another URL of the same hash is not this page
                found[row.url] = row
    return found


def screenshot_shows(reader: CaptureReader, shot, page) -> bool:
    """Whether the screenshot resource ``shot`` was taken of the capture ``page``, read from its WARC metadata
    record alone (a few hundred bytes: the image is not read). Unreadable means no: a new one is taken.

    Only for a shot row indexed before its ``concurrent_to_capture_id`` was (see ``pages_missing_screenshots``);
    ``shot`` and ``page`` are capture rows (ORM or Core)."""
    if shot.timestamp < page.timestamp or shot.group_length <= shot.length:
        return False
    start = shot.offset + shot.length
    try:
        records = read_members(reader.span(shot.warc_key, start, shot.group_length - shot.length), start)
    except (ObjectStoreError, WarcFormatError, OSError) as exc:
        log.warning("screenshot %s: its metadata cannot be read: %s", shot.id, exc)
        return False
    for _offset, _length, record in records:
        if record.record_type == "metadata" and shot.record_id in record.concurrent_to:
            return record.fields().get("concurrent-to-capture") == str(page.id)
    return False


def pages_missing_screenshots(catalog: Catalog, reader: CaptureReader, capture_ids: Iterable[int] | None = None
                              ) -> tuple[list[PendingPage], int, int]:
    """The HTML report pages whose first capture has no screenshot yet, with the number of report pages
    considered and of those already covered. ``capture_ids``: only the reports parsed from these captures (the
    crawl asks this of each document it has just parsed; the after-crawl pass of the whole catalog).

    Answered from the catalog in a fixed number of queries (one, then two per ``_CHUNK`` pages): the HTML report
    pages, each URL's first successful capture, and the screenshot resources of those URLs that show it
    (``concurrent_to_capture_id``, indexed from the shot's ``WARC-Concurrent-To``). Only a shot row indexed
    before that column existed (NULL) is looked up in its WARC metadata record (``screenshot_shows``).
    """
    source_format = Report.record_json["source_format"].as_string()
    query = (select(Report.url, Report.agency_id, CaptureRow.mime, source_format)
             .join(CaptureRow, CaptureRow.id == Report.capture_id)
             .where(Report.is_report.is_(True)).order_by(Report.id))
    if capture_ids is not None:
        wanted = sorted(set(capture_ids))
        if not wanted:
            return [], 0, 0
        query = query.where(Report.capture_id.in_(wanted))
    pending: list[PendingPage] = []
    pages = existing = 0
    with catalog.reading() as session:
        agencies: dict[str, str | None] = {}
        for url, agency_id, mime, fmt in session.execute(query):
            if url not in agencies and is_html_page(mime, fmt):
                agencies[url] = agency_id
        firsts = first_successful_captures(session, agencies)
        covered, unknown = _shots_of(session, firsts)
        for url, agency_id in agencies.items():
            first = firsts.get(url)
            if first is None:
                continue
            pages += 1
            if url in covered or any(screenshot_shows(reader, shot, first) for shot in unknown.get(url, ())):
                existing += 1
                continue
            pending.append(PendingPage(url, first.id, agency_id or first.agency_id))
    return pending, pages, existing


def _shots_of(session, firsts: Mapping[str, Any]) -> tuple[set[str], dict[str, list[Any]]]:
    """The page URLs among ``firsts`` (URL: its first capture) with a screenshot resource of that capture, and,
    per URL, the shot rows that do not say which capture they show (``concurrent_to_capture_id`` NULL: indexed
    before the column was). A shot of a later capture of the page is neither."""
    columns = queries.CAPTURES.c
    covered: set[str] = set()
    unknown: dict[str, list[Any]] = {}
    for chunk in _chunks(sorted(firsts)):
        shot_urls = {SCREENSHOT_PREFIX + url: url for url in chunk}
        first_ids = [firsts[url].id for url in chunk]
        query = (select(columns.id, columns.url, columns.concurrent_to_capture_id, columns.timestamp,
                        columns.warc_key, columns.offset, columns.length, columns.group_length, columns.record_id)
                 .where(columns.url_hash.in_([queries.url_hash(url) for url in shot_urls]),
                        columns.record_type == "resource",
                        or_(columns.concurrent_to_capture_id.is_(None),
                            columns.concurrent_to_capture_id.in_(first_ids)))
                 .order_by(columns.timestamp, columns.id))
        for shot in session.execute(query):
            url = shot_urls.get(shot.url)
            if url is None:  # another URL of the same hash
                continue
            if shot.concurrent_to_capture_id is None:
                unknown.setdefault(url, []).append(shot)
            elif shot.concurrent_to_capture_id == firsts[url].id:
                covered.add(url)
    return covered, unknown


_CHUNK = 400   # URLs per query (up to two parameters each): under SQLite's bound on parameters (999 before 3.32)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for at in range(0, len(items), _CHUNK):
        yield items[at:at + _CHUNK]


# ---------------------------------------------------------------- the browser

# Node's young generation at 1 MB semi-spaces instead of 16: the driver relays every page and screenshot as
# JSON, and its heap grew to ~180 MB over a crawl; measured on benchmarks/pipeline.py's shipped crawl: the
# driver's peak RSS 173-188 → 137-153 MB, its CPU no higher (benchmarks/README.md, session of 2026-12-01).
DRIVER_NODE_OPTIONS = "--max-semi-space-size=1"


@contextmanager
def _driver_environment():
    """Playwright starts its driver with this process's environment, read when it starts: add the driver's Node
    options for that moment only, before the caller's own (so theirs win where they set the same option)."""
    before = os.environ.get("NODE_OPTIONS")
    os.environ["NODE_OPTIONS"] = f"{DRIVER_NODE_OPTIONS} {before}" if before else DRIVER_NODE_OPTIONS
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("NODE_OPTIONS", None)
        else:
            os.environ["NODE_OPTIONS"] = before


class Chromium:
    """One Playwright driver and one headless Chromium (Debian's, ``CHROMIUM_LAUNCH_OPTIONS``), started on first use
    and started again when it has gone away (a crash must not end a batch). Use it from one event loop."""

    def __init__(self, launch_options: Mapping[str, Any] | None = None):
        self.launch_options = dict(launch_options or CHROMIUM_LAUNCH_OPTIONS)
        self._playwright = None
        self._browser = None
        self._pid: int | None = None   # the browser process, to kill when it hangs
        self._lock: asyncio.Lock | None = None

    async def start(self) -> None:
        """Start the Playwright driver (no browser yet). Callers that come at once (scrapy-playwright starts its
        handlers together) share one driver: each would otherwise start its own and leave all but one behind."""
        async with self._locked():
            await self._start()

    async def _start(self) -> None:
        if self._playwright is None:
            from playwright.async_api import async_playwright

            with _driver_environment():
                self._playwright = await async_playwright().start()

    def _locked(self) -> asyncio.Lock:
        self._lock = self._lock or asyncio.Lock()
        return self._lock

    async def browser(self):
        """The connected browser, launched now if there is none."""
        async with self._locked():
            await self._start()
            if self._browser is None or not self._browser.is_connected():
                if self._browser is not None:
                    log.warning("Chromium is gone: starting it again")
                # a switch of its own names this launch's process: found in the process table even when the
                # browser froze before answering anything (Chromium ignores switches it does not know)
                switch = f"--xxgk-launch={uuid.uuid4().hex}"
                options = {**self.launch_options, "args": [*self.launch_options.get("args", ()), switch]}
                self._browser = await self._playwright.chromium.launch(**options)
                self._pid = _process_with_switch(switch)
            return self._browser

    async def unwedge(self, timeout: float = 5.0) -> bool:
        """Kill the browser if it no longer answers the DevTools protocol within ``timeout`` seconds (hung, or
        stopped), so the next user launches a new one; a render bounded in time fails, but one waiting on a wedged
        browser would fail again and again. True when it was killed."""
        browser = self._browser
        if browser is None or self._pid is None or not browser.is_connected():
            return False
        try:
            session = await asyncio.wait_for(browser.new_browser_cdp_session(), timeout)
            await asyncio.wait_for(session.send("Browser.getVersion"), timeout)
            await asyncio.wait_for(session.detach(), timeout)
            return False
        except asyncio.TimeoutError:
            pass
        except Exception:  # noqa: BLE001 - it went away meanwhile: the next user starts it again anyway
            return False
        if not self._kill():
            return False
        log.warning("Chromium answered nothing for %g s: killed, the next render starts it again", timeout)
        return True

    def _kill(self) -> bool:
        import psutil

        try:
            psutil.Process(self._pid or 0).kill()
        except (psutil.Error, ValueError):
            return False
        return True

    async def close(self) -> None:
        from playwright.async_api import Error as PlaywrightError

        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        try:
            if browser is not None and browser.is_connected():
                await asyncio.wait_for(browser.close(), 10)
        except PlaywrightError as exc:
            log.warning("Chromium did not close cleanly: %s", exc)
        except asyncio.TimeoutError:   # hung or stopped: closing it would wait forever
            log.warning("Chromium did not close in 10 s: killed")
            self._kill()
        finally:
            if playwright is not None:
                await playwright.stop()


SHOT_MARGIN = 10.0   # seconds beyond a shot's two Playwright timeouts before Chromium counts as not answering


def _process_with_switch(switch: str) -> int | None:
    """The browser process below this one launched with ``switch`` (not its renderers or helpers, which get only
    the switches Chromium passes on), to kill it if it hangs; None if it is gone already."""
    import psutil

    for process in psutil.Process().children(recursive=True):
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if switch in command and not any(arg.startswith("--type=") for arg in command):
            return process.pid
    log.warning("the Chromium just launched is not in the process table: a hung one could not be killed")
    return None


Lookup = Callable[[str], Awaitable["Capture | None"]]


class _Tab:
    """A page of the renderer's browser context (JavaScript off), kept from shot to shot: a new context and page
    cost a renderer process each time (~250 ms, three times the render itself on the demo's pages)."""

    def __init__(self, context, page, viewport: dict[str, int]):
        self.context = context
        self.page = page
        self.viewport = viewport
        self.capture: Capture | None = None   # the capture on screen, whose sub-resources are served; None: nothing


class OfflineRenderer:
    """Renders archived captures in Chromium with JavaScript off and every request answered from the archive, in at
    most ``pages`` pages.

    ``browser()`` gives the connected Playwright browser to open contexts in; ``subresource(url)`` the archived
    ``Capture`` to answer a page's other requests with, or None to refuse them. A page, once opened, serves shot
    after shot until it fails or ``close()``; ``max_open`` is the most pages of this renderer Chromium had open at
    one moment.
    """

    def __init__(self, browser: Callable[[], Awaitable[Any]], subresource: Lookup, pages: int = 2,
                 unwedge: Callable[[], Awaitable[bool]] | None = None):
        self.browser = browser
        self.subresource = subresource
        self.unwedge = unwedge   # kills a browser that answers nothing (``Chromium.unwedge``)
        self.pages = max(1, int(pages))
        self.max_open = 0
        self._slots = asyncio.Semaphore(self.pages)
        self._idle: list[_Tab] = []
        self._tabs: set[_Tab] = set()
        # one context for every tab: Chromium then hosts them in one renderer process (a context each needed a
        # renderer each: measured with two tabs, 4 → 3 renderer processes, 600 → 530 MB of Chromium's PSS)
        self._context = None
        self._context_lock: asyncio.Lock | None = None

    async def render(self, load: Callable[[], Awaitable[Capture]], spec: ShotSpec = DEFAULT_SPEC, *,
                     full_page: bool = False, wanted: Callable[[], bool] | None = None) -> Shot:
        """Wait for a free page, then ``load()`` the capture (only then: a queue of pages waiting holds no
        payloads) and render it: the first screen, or with ``full_page`` the whole page cut at
        FULL_PAGE_MAX_HEIGHT. Raises ShotSkipped when ``wanted()`` says no once a page is free, ShotError when
        Chromium fails, and whatever ``load`` raises."""
        async with self._slots:
            if wanted is not None and not wanted():
                raise ShotSkipped()
            capture = await load()
            # bounded by Playwright's own timeouts (the page's load, the picture); the bound around them is reached
            # only when Chromium stops answering calls Playwright does not bound (a new page, the page's height, a
            # close): then it is killed if it answers nothing at all (what a cancelled call left in it goes with it)
            bound = spec.timeout * 2 + SHOT_MARGIN
            try:
                return await asyncio.wait_for(self._render(capture, spec, full_page), bound)
            except asyncio.TimeoutError:
                killed = self.unwedge is not None and await self.unwedge()
                raise ShotError(f"Chromium {bound:g} 秒内未完成截图" + ("，且无响应：已结束它，下一张截图重新启动"
                                                                       if killed else "")) from None

    async def close(self) -> None:
        """Close the pages this renderer keeps open, and their context."""
        from playwright.async_api import Error as PlaywrightError

        if (self._tabs or self._context is not None) and self.unwedge is not None and await self.unwedge():
            log.warning("Chromium answered nothing when the screenshot pages were to close: killed")
        for tab in list(self._tabs):
            await self._discard(tab)
        context, self._context = self._context, None
        if context is None:
            return
        try:
            # bounded: a Chromium that froze after the last shot never answers, and the crawl closing would wait
            # for it for ever
            await asyncio.wait_for(context.close(), SHOT_MARGIN)
        except PlaywrightError as exc:  # Chromium went away with it: nothing left to close
            log.debug("the screenshot context was already gone: %s", exc)
        except asyncio.TimeoutError:
            killed = self.unwedge is not None and await self.unwedge()
            log.warning("the screenshot context did not close in %g s%s", SHOT_MARGIN,
                        ": Chromium answered nothing and was killed" if killed else "")

    async def _render(self, capture: Capture, spec: ShotSpec, full_page: bool) -> Shot:
        from playwright.async_api import Error as PlaywrightError

        try:
            tab = await self._tab(spec)
        except PlaywrightError as exc:
            raise ShotError(f"无法启动 Chromium：{_first_line(exc)}") from exc
        page = tab.page
        try:
            # armed only now: whatever the page asks for while idle (a late request of the last report) is refused
            tab.capture = capture
            timeout = spec.timeout * 1000
            # written into the page, not navigated to: a navigation (even one answered by the route below) costs
            # Chromium twice the CPU of the whole render (measured: 207 → 98 ms per shot), and the crawl takes a
            # shot of every report page while it runs
            await page.set_content(page_markup(capture), wait_until="load", timeout=timeout)
            page_height = int(await page.evaluate("() => document.documentElement.scrollHeight") or 0)
            if full_page:
                image = await page.screenshot(
                    full_page=True, type="jpeg", quality=spec.quality, animations="disabled", timeout=timeout,
                    clip={"x": 0, "y": 0, "width": spec.width, "height": FULL_PAGE_MAX_HEIGHT})
            else:
                image = await page.screenshot(type="jpeg", quality=spec.quality, animations="disabled",
                                              timeout=timeout)
            version = tab.context.browser.version
        except PlaywrightError as exc:
            await self._discard(tab)  # a page that failed once is not trusted with the next report
            raise ShotError(f"{type(exc).__name__}: {_first_line(exc)}") from exc
        except BaseException:
            await self._discard(tab)
            raise
        tab.capture = None
        self._idle.append(tab)
        width, height = jpeg_size(image) or (0, 0)
        if width != spec.width or height <= 0 or (not full_page and height != spec.height):
            raise ShotError(f"Chromium 返回的图像为 {width}x{height}，应为 {spec.width} 宽")
        return Shot(image, width, height, page_height, full_page, full_page and page_height > FULL_PAGE_MAX_HEIGHT,
                    f"chromium {version}")

    async def _tab(self, spec: ShotSpec) -> _Tab:
        """An idle page of a connected browser, in the spec's viewport, or a new one (never more than ``pages``:
        a page is idle or held by one of the ``pages`` slots)."""
        while self._idle:
            tab = self._idle.pop()
            if tab.page.is_closed() or not tab.context.browser.is_connected():
                await self._discard(tab)
                continue
            if tab.viewport != spec.viewport:
                await tab.page.set_viewport_size(spec.viewport)
                tab.viewport = spec.viewport
            return tab
        context = await self._shared_context(spec)
        page = await context.new_page()
        try:
            await page.set_viewport_size(spec.viewport)
            tab = _Tab(context, page, spec.viewport)
            await page.route("**/*", self._handler(tab))
        except BaseException:
            await page.close()
            raise
        self._tabs.add(tab)
        self.max_open = max(self.max_open, len(context.pages))
        return tab

    async def _shared_context(self, spec: ShotSpec):
        """The tabs' context in the connected browser, made now if there is none (or its browser went away)."""
        self._context_lock = self._context_lock or asyncio.Lock()
        async with self._context_lock:
            browser = await self.browser()
            if self._context is None or self._context.browser is not browser or not browser.is_connected():
                self._context = await browser.new_context(java_script_enabled=False, viewport=spec.viewport,
                                                          service_workers="block", accept_downloads=False)
            return self._context

    async def _discard(self, tab: _Tab) -> None:
        from playwright.async_api import Error as PlaywrightError

        self._tabs.discard(tab)
        if tab in self._idle:
            self._idle.remove(tab)
        try:
            await asyncio.wait_for(tab.page.close(), SHOT_MARGIN)
        except (PlaywrightError, asyncio.TimeoutError):
            pass  # Chromium went away with it, or answers nothing (OfflineRenderer.render then kills it)

    def _handler(self, tab: _Tab):
        from playwright.async_api import Error as PlaywrightError

        async def handle(route) -> None:
            request = route.request
            capture = tab.capture
            try:
                # the report is written into the page (page_markup), never navigated to: a navigation (a meta
                # refresh, a link) would leave it, and "aborted" keeps the report on screen
                if request.is_navigation_request() and request.frame == tab.page.main_frame:
                    await route.abort("aborted")
                    return
                found = await self._archived(request.url) if capture is not None else None
                if found is None:
                    await route.abort("blockedbyclient")
                    return
                await route.fulfill(status=200, body=found.content,
                                    headers={"Content-Type": found.header("Content-Type") or "application/octet-stream"})
            except PlaywrightError as exc:  # the page was closed while its request waited
                log.debug("request %s not answered: %s", request.url, exc)

        return handle

    async def _archived(self, url: str) -> Capture | None:
        if not url.startswith(("http://", "https://")):
            return None
        try:
            return await self.subresource(url)
        except (CaptureError, ObjectStoreError, OSError) as exc:
            log.info("sub-resource %s not served from the archive: %s", url, exc)
            return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def latest_archived(catalog: Catalog, reader: CaptureReader) -> Callable[[str], Capture | None]:
    """What a rendered page's sub-resource is answered with: the latest 200 capture of its URL (blocking)."""
    def lookup(url: str) -> Capture | None:
        with catalog.connection() as connection:
            row = queries.latest_capture_row(connection, url, status=200)
        return reader.read_row(row) if row is not None else None

    return lookup


Blocking = Callable[..., Awaitable[Any]]   # runs a blocking function off the loop: ``await run(function, *args, **kw)``


async def in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The default ``Blocking``: a worker thread of the running loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


# ---------------------------------------------------------------- one page: render, archive, or record why not


_TRANSIENT_SHOT = "Unable to capture screenshot"


async def take_screenshot(renderer: OfflineRenderer, archive: Archive, page: PendingPage, spec: ShotSpec = DEFAULT_SPEC,
                          *, read: Blocking = in_thread, write: Blocking = in_thread,
                          wanted: Callable[[], bool] | None = None) -> str | None:
    """Render the first screen of ``page`` and archive it in ``archive``'s run; returns None, or why it failed (the
    failure is then a fetch_errors row on ``urn:screenshot:<url>``). ``read``/``write`` run the archive's blocking
    calls (the crawl passes its reader and writer threads). Raises ShotSkipped (see ``OfflineRenderer.render``)."""
    try:
        try:
            shot = await renderer.render(lambda: read(archive.read_capture, page.capture_id), spec, wanted=wanted)
        except ShotError as exc:
            if _TRANSIENT_SHOT not in str(exc):
                raise
            # Chromium's compositor missed a frame (seen on a loaded machine): once more, in a fresh tab
            shot = await renderer.render(lambda: read(archive.read_capture, page.capture_id), spec, wanted=wanted)
        # staged: its row comes with the archive's next group commit (or its close), not with an fsync of its own
        await write(archive.stage_resource, f"{SCREENSHOT_PREFIX}{page.url}", shot.jpeg, "image/jpeg",
                    concurrent_to=page.capture_id, fetched_at=datetime.now(timezone.utc), agency_id=page.agency_id,
                    extra_metadata={"rendered_from_capture": page.capture_id, "area": "first_screen",
                                    "viewport": f"{spec.width}x{spec.height}",
                                    "image_size": f"{shot.width}x{shot.height}", "page_height": shot.page_height,
                                    "jpeg_quality": spec.quality, "javascript": "off", "renderer": shot.renderer})
    except (ShotError, CaptureError, ArchiveError, ObjectStoreError, OSError) as exc:
        reason = f"{type(exc).__name__}: {_first_line(exc)}"
    else:
        return None
    log.warning("screenshot of %s (capture %s) failed: %s", page.url, page.capture_id, reason)
    try:
        await write(archive.record_error, f"{SCREENSHOT_PREFIX}{page.url}", FAILURE_KIND,
                    f"截图失败（捕获 {page.capture_id}）：{reason}", page.agency_id)
    except ArchiveError as exc:
        log.error("could not record the failed screenshot of %s: %s", page.url, exc)
    return reason


# ---------------------------------------------------------------- after the crawl: the leftovers

def take_missing_screenshots(config: Config, *, run_id: str | None = None, limit: int | None = None,
                             spec: ShotSpec = DEFAULT_SPEC, pages: int = 2,
                             shot_settings: Callable[[], tuple[ShotSpec, int]] | None = None) -> ScreenshotSummary:
    """Screenshot every HTML report page whose first capture has none yet, ``pages`` at a time; archive each
    JPEG in ``run_id``.

    ``shot_settings``, when given, says ``(spec, pages)`` instead, asked only when a page is left to shoot: after
    a crawl that took every shot, reading the crawl's settings (an import of Scrapy) would be the pass's only cost.

    ``run_id`` is the crawl run being finished (resumed and left with its status, finish time and counts, plus
    ``screenshots/*`` counts); without it the screenshots get a run of their own. ``limit`` caps how many pages
    are rendered now. Raises only when the catalog, the object store or the run cannot be opened
    (``CatalogError``, ``ObjectStoreError``, ``ArchiveError``); a browser that does not start is in the summary.
    """
    catalog = Catalog.open(config)
    try:
        reader = open_reader(config, catalog=catalog)
    except ObjectStoreError:
        catalog.close()
        raise
    try:
        pending, found, existing = pages_missing_screenshots(catalog, reader)
        remaining = max(len(pending) - limit, 0) if limit is not None else 0
        if limit is not None:
            pending = pending[:max(limit, 0)]
        if not pending:
            return ScreenshotSummary(None, found, existing, 0, 0, remaining)
        if shot_settings is not None:
            spec, pages = shot_settings()
        try:
            return asyncio.run(_take(config, catalog, reader, pending, run_id, spec, pages,
                                     ScreenshotSummary(None, found, existing, 0, 0, remaining)))
        except RuntimeError as exc:  # called inside a running event loop
            return ScreenshotSummary(None, found, existing, 0, len(pending), remaining, (), f"无法截图：{exc}")
    finally:
        reader.store.close()
        catalog.close()


async def _take(config: Config, catalog: Catalog, reader: CaptureReader, pending: list[PendingPage],
                run_id: str | None, spec: ShotSpec, pages: int, counted: ScreenshotSummary) -> ScreenshotSummary:
    from dataclasses import replace

    from playwright.async_api import Error as PlaywrightError

    chromium = Chromium()
    try:
        try:
            await chromium.browser()
        except (PlaywrightError, OSError) as exc:  # no Chromium, no Playwright driver
            message = f"无法启动 Chromium：{_first_line(exc)}"
            log.error("screenshots: %s", message)
            return replace(counted, failed=len(pending), message=message)
        with catalog.reading() as session:
            prior = queries.get_run(session, run_id) if run_id else None
            before = (prior.status, prior.finished_at, dict(prior.counts or {})) if prior is not None else None
        archive = Archive.open(config, run_id, store=reader.store, catalog=catalog)
        renderer = OfflineRenderer(chromium.browser, partial(in_thread, latest_archived(catalog, reader)), pages,
                                   unwedge=chromium.unwedge)
        reasons: list[str | None] = []
        status = "failed"
        try:
            reasons = await asyncio.gather(*(take_screenshot(renderer, archive, item, spec) for item in pending))
            status = "finished"
        finally:
            await renderer.close()
            taken = sum(reason is None for reason in reasons)
            counts = {"screenshots/taken": taken, "screenshots/failed": len(pending) - taken}
            _end_run(archive, before, counts, status)
    finally:
        await chromium.close()
    failures = tuple(f"{item.url}：{reason}" for item, reason in zip(pending, reasons) if reason is not None)
    return replace(counted, run_id=archive.run_id, taken=taken, failed=len(pending) - taken,
                   failures=failures[:MAX_LISTED_FAILURES])


def _end_run(archive: Archive, before: tuple[str, datetime | None, dict[str, Any]] | None,
             counts: dict[str, int], status: str) -> None:
    """Our own run is finished; a resumed run gets back the status and finish time it had."""
    if before is None:
        archive.finish(status, counts=counts)
        return
    archive.close()
    prior_status, finished_at, prior_counts = before
    merged = {**prior_counts, **{key: int(prior_counts.get(key) or 0) + value for key, value in counts.items()}}
    with archive.catalog.session() as session:
        if prior_status == "running":  # someone is still writing it: leave it to them, only add the counts
            queries.set_run_counts(session, archive.run_id, merged)
        else:
            queries.finish_run(session, archive.run_id, status=prior_status, counts=merged, finished_at=finished_at)


# ---------------------------------------------------------------- one page on request (the web UI)

def render_capture(reader: CaptureReader, capture_id: int, spec: ShotSpec = DEFAULT_SPEC, *,
                   full_page: bool = True) -> Shot:
    """Capture ``capture_id`` rendered now, as the crawl renders it, in a Chromium of its own (the web UI's
    整页截图; not archived). Raises CaptureError when the capture cannot be read, ShotError when it cannot be
    rendered. Call it outside any running event loop (a web worker thread)."""
    lookup = partial(in_thread, latest_archived(reader.catalog, reader))

    async def render() -> Shot:
        chromium = Chromium()
        try:
            renderer = OfflineRenderer(chromium.browser, lookup, pages=1, unwedge=chromium.unwedge)
            return await renderer.render(lambda: in_thread(reader.read, capture_id), spec, full_page=full_page)
        finally:
            await chromium.close()  # its pages with it

    from playwright.async_api import Error as PlaywrightError

    try:
        return asyncio.run(render())
    except PlaywrightError as exc:  # the driver did not start
        raise ShotError(f"无法启动 Chromium：{_first_line(exc)}") from exc
