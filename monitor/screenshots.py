"""A Chromium screenshot of every HTML report page at its first capture, rendered from the archive.

The verdict's evidence bundle shows how the report page looked when the archive first had it. The crawler only
screenshots pages it renders in the browser (JS listings), so after a crawl ``take_missing_screenshots`` looks for
report pages (``Report.is_report``, HTML) whose *first* successful capture has no ``urn:screenshot:<url>`` resource
yet, and renders that capture in headless Chromium:

- from the archive, never from the live site: every request of the page goes through one route handler that
  serves the report from its archived payload, a sub-resource (CSS, image) from its latest archived capture, and
  aborts everything else, so nothing reaches the network;
- with JavaScript off: archived HTML is untrusted and a script could rewrite the page after the fact;
- full page, 1280 px wide, cut at ``MAX_HEIGHT`` px.

The PNG is archived with ``Archive.record_resource`` (a WARC ``resource`` record, ``WARC-Concurrent-To`` the
page's record) in the run being finished. Which capture a screenshot shows is read from its WARC metadata record
(``concurrent-to-capture``), so a second call, or a later crawl, takes nothing twice. One browser serves the whole
batch; a page that fails to render is logged and counted, never fatal.
"""
from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import select

from monitor.verdicts import SCREENSHOT_PREFIX
from storage.config import CHROMIUM_LAUNCH_OPTIONS
from storage.archive import Archive, ArchiveError, open_reader
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture as CaptureRow
from storage.catalog.models import Report
from storage.config import Config
from storage.objects import ObjectStoreError
from storage.reader import Capture, CaptureError, CaptureReader
from storage.warc import WarcFormatError, read_members

log = logging.getLogger(__name__)

VIEWPORT = {"width": 1280, "height": 800}
MAX_HEIGHT = 8000              # px: a longer page is cut here (a 100-page report would make a huge PNG)
PAGE_TIMEOUT_MS = 20_000       # nothing is fetched from the network, so a page that needs longer is broken
MAX_LISTED_FAILURES = 20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PendingPage:
    """A report page still without a screenshot of its first capture."""

    url: str
    capture_id: int           # the first successful capture of the URL: what the screenshot shows
    agency_id: str | None


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


@dataclass(frozen=True)
class Screenshot:
    png: bytes
    width: int
    height: int
    clipped: bool             # the page is longer than MAX_HEIGHT


# ---------------------------------------------------------------- what is missing

def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if ``data`` is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def page_content_type(declared: str | None) -> str:
    """The Content-Type to serve a report page with: the parsers took it for HTML, so a server's mislabel
    (text/plain, application/octet-stream) must not make Chromium show its source or download it; a declared
    charset is kept."""
    if declared and "html" in declared.lower():
        return declared
    charset = next((part.strip() for part in (declared or "").split(";")[1:]
                    if part.strip().lower().startswith("charset=")), None)
    return "text/html" + (f"; {charset}" if charset else "")


def _is_html(mime: str | None, source_format: str | None) -> bool:
    return "html" in (mime or "").lower() or source_format == "html"


def first_successful_capture(session, url: str) -> CaptureRow | None:
    """The first 2xx response (or revisit) of ``url``: when the archive first had the page."""
    for row in queries.captures_of_url(session, url):
        if row.record_type != "resource" and row.status is not None and 200 <= row.status < 300:
            return row
    return None


def screenshot_shows(reader: CaptureReader, shot: CaptureRow, page: CaptureRow) -> bool:
    """Whether the screenshot resource ``shot`` was taken of the capture ``page``, read from its WARC metadata
    record alone (a few hundred bytes: the PNG is not read). Unreadable means no: a new one is taken."""
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


def pages_missing_screenshots(catalog: Catalog, reader: CaptureReader) -> tuple[list[PendingPage], int, int]:
    """The HTML report pages whose first capture has no screenshot yet, with the number of report pages
    considered and of those already covered."""
    source_format = Report.record_json["source_format"].as_string()
    query = (select(Report.url, Report.agency_id, CaptureRow.mime, source_format)
             .join(CaptureRow, CaptureRow.id == Report.capture_id)
             .where(Report.is_report.is_(True)).order_by(Report.id))
    pending: list[PendingPage] = []
    pages = existing = 0
    with catalog.reading() as session:
        agencies: dict[str, str | None] = {}
        for url, agency_id, mime, fmt in session.execute(query):
            if url not in agencies and _is_html(mime, fmt):
                agencies[url] = agency_id
        for url, agency_id in agencies.items():
            first = first_successful_capture(session, url)
            if first is None:
                continue
            pages += 1
            shots = [row for row in queries.captures_of_url(session, SCREENSHOT_PREFIX + url)
                     if row.record_type == "resource"]
            if any(screenshot_shows(reader, shot, first) for shot in shots):
                existing += 1
                continue
            pending.append(PendingPage(url, first.id, agency_id or first.agency_id))
    return pending, pages, existing


# ---------------------------------------------------------------- rendering

class ArchiveRenderer:
    """One headless Chromium that renders archived pages with JavaScript off and the network closed.

    ``subresource(url)`` answers a page's other requests: an archived ``Capture`` to serve, or None to abort.
    """

    def __init__(self, subresource: Callable[[str], Capture | None]):
        self.subresource = subresource
        self._playwright = None
        self.browser = None

    def __enter__(self) -> "ArchiveRenderer":
        return self.start()

    def start(self) -> "ArchiveRenderer":
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.launch()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def launch(self) -> None:
        self.browser = self._playwright.chromium.launch(**CHROMIUM_LAUNCH_OPTIONS)

    @property
    def version(self) -> str | None:
        return self.browser.version if self.browser is not None else None

    def ensure_running(self) -> None:
        """Start Chromium again after a crash, so one page cannot end the batch."""
        if self.browser is None or not self.browser.is_connected():
            log.warning("Chromium is gone: starting it again")
            self.launch()

    def close(self) -> None:
        from playwright.sync_api import Error as PlaywrightError

        try:
            if self.browser is not None and self.browser.is_connected():
                self.browser.close()
        except PlaywrightError as exc:
            log.warning("Chromium did not close cleanly: %s", exc)
        finally:
            self.browser = None
            if self._playwright is not None:
                self._playwright.stop()
                self._playwright = None

    def render(self, capture: Capture) -> Screenshot:
        """A full-page PNG of the archived ``capture`` (an HTML response), cut at MAX_HEIGHT."""
        context = self.browser.new_context(java_script_enabled=False, viewport=VIEWPORT, service_workers="block",
                                           accept_downloads=False)
        try:
            page = context.new_page()
            page.route("**/*", self._handler(page, capture))
            page.goto(capture.url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
            full_height = page.evaluate("() => document.documentElement.scrollHeight")
            png = page.screenshot(full_page=True, type="png", animations="disabled", timeout=PAGE_TIMEOUT_MS,
                                  clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": MAX_HEIGHT})
        finally:
            context.close()
        width, height = png_size(png) or (0, 0)
        return Screenshot(png, width, height, clipped=int(full_height or 0) > MAX_HEIGHT)

    def _handler(self, page, capture: Capture):
        served = {"page": False}

        def handle(route) -> None:
            request = route.request
            # the first navigation of the page is the report (Chromium may normalise its URL); any later one
            # (a meta refresh, a link) would leave it: "aborted" keeps the report on screen
            if request.is_navigation_request() and request.frame == page.main_frame:
                if served["page"]:
                    route.abort("aborted")
                    return
                served["page"] = True
                route.fulfill(status=capture.status or 200, body=capture.payload,
                              headers={"Content-Type": page_content_type(capture.header("Content-Type"))})
                return
            found = self._archived(request.url)
            if found is None:
                route.abort("blockedbyclient")
                return
            route.fulfill(status=200, body=found.payload,
                          headers={"Content-Type": found.header("Content-Type") or "application/octet-stream"})

        return handle

    def _archived(self, url: str) -> Capture | None:
        if not url.startswith(("http://", "https://")):
            return None
        try:
            return self.subresource(url)
        except (CaptureError, ObjectStoreError, OSError) as exc:
            log.info("sub-resource %s not served from the archive: %s", url, exc)
            return None


def _latest_ok(catalog: Catalog, reader: CaptureReader) -> Callable[[str], Capture | None]:
    def lookup(url: str) -> Capture | None:
        with catalog.connection() as connection:
            row = queries.latest_capture_row(connection, url, status=200)
        return reader.read_row(row) if row is not None else None

    return lookup


# ---------------------------------------------------------------- the batch

def take_missing_screenshots(config: Config, *, run_id: str | None = None,
                             limit: int | None = None) -> ScreenshotSummary:
    """Screenshot every HTML report page whose first capture has none yet; archive each PNG in ``run_id``.

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
        pending, pages, existing = pages_missing_screenshots(catalog, reader)
        remaining = max(len(pending) - limit, 0) if limit is not None else 0
        if limit is not None:
            pending = pending[:max(limit, 0)]
        if not pending:
            return ScreenshotSummary(None, pages, existing, 0, 0, remaining)
        return _take(config, catalog, reader, pending, run_id, pages, existing, remaining)
    finally:
        reader.store.close()
        catalog.close()


def _take(config: Config, catalog: Catalog, reader: CaptureReader, pending: list[PendingPage],
          run_id: str | None, pages: int, existing: int, remaining: int) -> ScreenshotSummary:
    from playwright.sync_api import Error as PlaywrightError

    failures: list[str] = []
    taken = 0
    try:
        renderer = ArchiveRenderer(_latest_ok(catalog, reader)).start()
    except (PlaywrightError, OSError) as exc:  # no Chromium, no Playwright driver, or inside an asyncio loop
        message = f"无法启动 Chromium：{(str(exc).splitlines() or [type(exc).__name__])[0]}"
        log.error("screenshots: %s", message)
        return ScreenshotSummary(None, pages, existing, 0, len(pending), remaining, (), message)
    try:
        with catalog.reading() as session:
            prior = queries.get_run(session, run_id) if run_id else None
            before = (prior.status, prior.finished_at, dict(prior.counts or {})) if prior is not None else None
        archive = Archive.open(config, run_id, store=reader.store, catalog=catalog)
        status = "failed"
        try:
            for item in pending:
                why = _take_one(renderer, archive, item)
                if why is None:
                    taken += 1
                elif len(failures) < MAX_LISTED_FAILURES:
                    failures.append(f"{item.url}：{why}")
            status = "finished"
        finally:
            failed = len(pending) - taken
            counts = {"screenshots/taken": taken, "screenshots/failed": failed}
            _end_run(archive, before, counts, status)
    finally:
        renderer.close()
    return ScreenshotSummary(archive.run_id, pages, existing, taken, len(pending) - taken, remaining,
                             tuple(failures))


def _take_one(renderer: ArchiveRenderer, archive: Archive, item: PendingPage) -> str | None:
    """Render and archive one page; returns why it failed, or None."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        capture = archive.read_capture(item.capture_id)
        renderer.ensure_running()
        shot = renderer.render(capture)
        if shot.width != VIEWPORT["width"] or shot.height <= 0:
            raise ValueError(f"Chromium returned an image of {shot.width}x{shot.height}")
        archive.record_resource(
            f"{SCREENSHOT_PREFIX}{item.url}", shot.png, "image/png", concurrent_to=item.capture_id,
            fetched_at=datetime.now(timezone.utc), agency_id=item.agency_id,
            extra_metadata={"rendered_from_capture": item.capture_id,
                            "viewport": f"{VIEWPORT['width']}x{VIEWPORT['height']}",
                            "image_size": f"{shot.width}x{shot.height}",
                            "clipped_at": MAX_HEIGHT if shot.clipped else None,
                            "javascript": "off", "renderer": f"chromium {renderer.version}"})
    except (PlaywrightError, CaptureError, ArchiveError, ObjectStoreError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        log.warning("screenshot of %s (capture %s) failed: %s", item.url, item.capture_id, reason)
        return reason
    return None


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
