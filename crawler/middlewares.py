"""Downloader middlewares of the crawl: every raw response into the WARC archive, conditional GETs from the last
capture, retry backoff, and one error row for every fetch that produced no usable response.

``ArchiveMiddleware`` sits closest to the downloader, so it sees each response as it came off the wire (3xx before
the redirect middleware follows it, each retried 5xx, a 304 before anything answers it) and archives it before
anything else happens to it. A 304 becomes a server-not-modified revisit in the archive and is then replaced by the
earlier capture's response, read back from the archive, so discovery and parsing go on as if the page had been
fetched. ``FetchErrorMiddleware`` sits farthest from the downloader and sees only what is left after retries and
redirects: a final exception or a final 4xx/5xx is one ``fetch_errors`` row (``Archive.record_error``).

``CrawlArchive`` is the crawl's single ``storage.archive.Archive`` (opened on first use from the settings, finished
on ``spider_closed`` with the Scrapy stats as the run's counts), shared with ``crawler.pipelines``. Archive and
catalog writes go through its one writer thread, which keeps fsyncs off the reactor; reads (validators, captures
read back, report lookups) go through a small pool of reader threads beside it.

Group commit: a response is staged (``Archive.stage_fetch``: its records written, not yet fsynced) and goes on to
the spider at once; its index row follows with its batch (``ARCHIVE_COMMIT_RECORDS`` captures, or
``ARCHIVE_COMMIT_MS`` after the first; the archive's timer thread commits those). Until then a capture is named by
its WARC-Record-ID: request meta ``xxgk_capture_id`` and ``xxgk_payload_capture_id`` hold record ids, and whoever
needs the catalog id awaits ``CrawlArchive.capture_id`` (the parse pipeline before it stores a report, a 304 before
it reads its original back, a browser render before it names its page).
"""
from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable
from urllib.parse import urljoin, urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import (CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
                               DownloadFailedError, DownloadTimeoutError, IgnoreRequest, NotConfigured,
                               ResponseDataLossError)
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import error as twisted_errors
from twisted.internet.defer import Deferred
from twisted.web.http import RESPONSES

from crawler.queues import holds_requests_for_hosts, host_wait, not_before
from storage.archive import RENDERED_DOM_PREFIX, Archive, ArchiveError, PendingCapture
from storage.config import Config
from storage.screenshots import SCREENSHOT_PREFIX

log = logging.getLogger(__name__)

# Request meta keys set by the spider and read here (and in the pipeline).
META_AGENCY = "agency_id"
META_ROLE = "xxgk_role"                  # home | column | json | item | attachment
META_LISTING_TITLE = "listing_title"
META_LISTING_DATE = "listing_date"
# Captures are named by their WARC-Record-ID (a string: it pickles, and it exists before the index row does).
META_CAPTURE = "xxgk_capture_id"         # the capture of this response (a revisit for a 304)
META_PAYLOAD_CAPTURE = "xxgk_payload_capture_id"   # the capture that holds the payload bytes
META_NOT_MODIFIED = "xxgk_not_modified"
META_STATIC_CAPTURE = "xxgk_static_capture_id"     # for a browser render: the capture of the page as served
META_ERROR_RECORDED = "xxgk_error_recorded"
META_WAITED_FOR_ROBOTS = "xxgk_waited_for_robots"   # sent back to the queue once after robots.txt was asked
META_FIRST_CAPTURE = "xxgk_first_capture"   # this response is the first capture of its URL (a 2xx; see stage_fetch)
META_PROBE = "xxgk_probe"                # a URL a site may well not have (sitemap.xml): its 404 is no fetch error
_META_VALIDATED_URL = "xxgk_validated_url"
_META_VALIDATORS = "xxgk_validators"
_META_UNCONDITIONAL = "xxgk_unconditional"   # asked again without validators: the 304's original was unreadable
_META_UNSEEN = "xxgk_unseen_url"    # the URL the archive held no capture of when this request was sent

# Sent by FetchErrorMiddleware for every request that ended without a usable response (request, kind, message),
# whether or not its error row was already written: crawler.coverage listens.
fetch_failed = object()

_CONDITIONAL_HEADERS = ("If-None-Match", "If-Modified-Since")
# How long a render waits for the row of its page when another process of a shared run fetched the page: that
# process commits within ARCHIVE_COMMIT_MS, unless it died (then the render is kept without naming its page).
OTHER_PROCESS_WAIT = 10.0
# What a 304 may update on the stored response (RFC 9111 §4.3.4); the body's own framing stays the original's.
_NOT_MODIFIED_KEEPS = {b"content-length", b"content-type", b"content-encoding", b"transfer-encoding"}


# ---------------------------------------------------------------- the crawl's archive

class CrawlArchive:
    """The one Archive of a crawl and the single thread every archive/catalog call runs on."""

    def __init__(self, archive: Archive, crawler, readers: int = 2):
        self.archive = archive
        self.crawler = crawler
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xxgk-archive")
        self._readers = ThreadPoolExecutor(max_workers=max(1, readers), thread_name_prefix="xxgk-archive-read")
        self._finished = False
        self._before_finish: list[Callable[[str], None]] = []
        self.ends_run = True

    @classmethod
    def of(cls, crawler) -> "CrawlArchive":
        """The crawler's archive, opened on first use (``XXGK_CONFIG`` setting, else ``Config.from_env()``)."""
        existing = getattr(crawler, "_xxgk_archive", None)
        if existing is not None:
            return existing
        settings = crawler.settings
        config = settings.get("XXGK_CONFIG") or Config.from_env()
        # a worker of a run over many machines writes into the coordinator's run, which only the coordinator ends
        joins = settings.get("FRONTIER_ROLE") == "worker"
        archive = Archive.open(config, run_id=settings.get("ARCHIVE_RUN_ID"), settings=_run_settings(crawler),
                               segment_size=settings.getint("ARCHIVE_SEGMENT_SIZE"),
                               durability=settings.get("ARCHIVE_DURABILITY"), join=joins,
                               commit_records=settings.getint("ARCHIVE_COMMIT_RECORDS"),
                               commit_ms=settings.getfloat("ARCHIVE_COMMIT_MS"))
        holder = cls(archive, crawler, readers=settings.getint("ARCHIVE_READERS"))
        holder.ends_run = not joins
        crawler._xxgk_archive = holder
        crawler.signals.connect(holder.spider_closed, signal=signals.spider_closed)
        log.info("archiving crawl run %s into %s", archive.run_id, config.data_dir)
        return holder

    @property
    def run_id(self) -> str:
        return self.archive.run_id

    async def call(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        """Run ``function`` (one that writes) on the writer thread and wait for it without blocking the reactor."""
        return await asyncio.wrap_future(self._executor.submit(function, *args, **kwargs))

    async def read(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        """Run ``function`` (one that only reads) on a reader thread: reads need not queue behind writes."""
        return await asyncio.wrap_future(self._readers.submit(function, *args, **kwargs))

    async def committed(self, record_id: str | None) -> None:
        """Wait until the capture this process staged as ``record_id`` is durable and indexed (at once when it
        waits for nothing); a failed group commit raises its ArchiveError."""
        staged = self.archive.staged(record_id) if record_id else None
        if staged is not None:
            await asyncio.wrap_future(staged.future)

    async def capture_id(self, record_id: str | None, *, now: bool = False, wait: float = 0.0) -> int | None:
        """The catalog id of the capture named by ``record_id``, once its group commit is done: one this process
        staged is waited for (its commit's ArchiveError is raised; ``now``: commit its batch at once rather than
        wait for it to fill, for a caller that holds a response meanwhile); one another process of the run staged
        (a render request from the shared frontier) is looked up for up to ``wait`` seconds. None when it is not
        indexed."""
        if not record_id:
            return None
        staged = self.archive.staged(record_id)
        if staged is not None:
            if now:
                await self.call(self.archive.commit)
            return (await asyncio.wrap_future(staged.future)).id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            found = await self.read(self.archive.capture_id, record_id)
            if found is not None or loop.time() >= deadline:
                return found
            await asyncio.sleep(0.05)

    def call_now(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        """Run ``function`` on the writer thread and block until it is done (start-up and shutdown only)."""
        return self._executor.submit(function, *args, **kwargs).result()

    def before_finish(self, hook: Callable[[str], None]) -> None:
        """Call ``hook(finish_reason)`` when the crawl closes, while the writer thread still runs (``call_now``)."""
        self._before_finish.append(hook)

    @property
    def finished(self) -> bool:
        return self._finished

    def spider_closed(self, spider, reason: str) -> None:
        if self._finished:
            return
        self._finished = True
        # every capture of this process indexed before the hooks: coverage rows name them, and a worker of a shared
        # run hands its reads to the coordinator, which looks them up
        self.call_now(self.archive.commit)
        for hook in self._before_finish:
            try:
                hook(reason)
            except Exception:  # noqa: BLE001 - the run must still be finished
                log.exception("closing hook %r failed", hook)
        counts = stats_counts(self.crawler.stats.get_stats())
        counts["finish_reason"] = reason
        try:
            if self.ends_run:
                self.call_now(self.archive.finish, run_status(reason), counts)
            else:
                self.call_now(self.archive.close)
        except ArchiveError as exc:
            log.error("crawl run %s could not be closed cleanly: %s", self.run_id, exc)
        finally:
            self._executor.shutdown(wait=True)
            self._readers.shutdown(wait=True)


def run_status(finish_reason: str) -> str:
    """The crawl_runs status for Scrapy's finish reason."""
    if finish_reason == "finished":
        return "finished"
    if finish_reason in ("shutdown", "cancelled", "closespider_timeout", "closespider_itemcount",
                         "closespider_pagecount", "closespider_errorcount"):
        return "interrupted"
    return "failed"


def stats_counts(stats: dict[str, Any]) -> dict[str, Any]:
    """Scrapy stats as JSON: numbers, text, lists and mappings kept, dates as ISO text, anything else as text."""
    return {str(key): _jsonable(value) for key, value in stats.items()}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)


def _run_settings(crawler) -> dict[str, Any]:
    """What the crawl_runs row keeps about how this run was made."""
    settings = crawler.settings
    spider = getattr(crawler, "spider", None)
    keys = ("USER_AGENT", "ROBOTSTXT_OBEY", "CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN",
            "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED", "DOWNLOAD_TIMEOUT", "DOWNLOAD_MAXSIZE", "RETRY_TIMES",
            "DISCOVERY_MAX_DEPTH", "DISCOVERY_JS_RENDER", "PARSE_WORKERS", "PARSE_TIMEOUT", "SCHEDULER")
    result: dict[str, Any] = {key: settings.get(key) for key in keys}
    result["agencies"] = [agency.id for agency in getattr(spider, "agencies", [])]
    return stats_counts(result)


# ---------------------------------------------------------------- archiving every response

class ArchiveMiddleware:
    """Archive each raw response (and each browser render), add validators, turn 304s into the earlier capture."""

    def __init__(self, stats, holder: CrawlArchive, *, conditional: bool, screenshots: bool, max_redirects: int,
                 signals=None):
        self.stats = stats
        self.holder = holder
        self.signals = signals
        self.conditional = conditional
        self.screenshots = screenshots
        self.max_redirects = max_redirects

    @classmethod
    def from_crawler(cls, crawler) -> "ArchiveMiddleware":
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        return cls(crawler.stats, CrawlArchive.of(crawler), conditional=settings.getbool("ARCHIVE_CONDITIONAL_GET"),
                   screenshots=settings.getbool("ARCHIVE_SCREENSHOTS"),
                   max_redirects=settings.getint("REDIRECT_MAX_TIMES"), signals=crawler.signals)

    # -- conditional GET

    async def process_request(self, request):
        if (not self.conditional or request.method != "GET" or request.meta.get("playwright")
                or request.meta.get(_META_UNCONDITIONAL)):
            return None
        if request.meta.get(_META_VALIDATED_URL) == request.url:
            return None  # a retry keeps the validators it was sent with
        # a redirect copies the headers of the hop before it: those validators belong to another URL
        for name in request.meta.pop(_META_VALIDATORS, ()):
            request.headers.pop(name, None)
        request.meta[_META_VALIDATED_URL] = request.url
        if any(name in request.headers for name in _CONDITIONAL_HEADERS):
            return None  # the caller chose its own
        try:
            validators, seen = await self.holder.read(self.holder.archive.request_facts, request.url)
        except ArchiveError as exc:
            log.warning("no validators for %s: %s", request.url, exc)
            return None
        if not seen:
            # archiving the answer need not ask the catalog again for an earlier capture (the writer thread's
            # busiest lookup); bound to the URL, since a redirect's request copies this meta
            request.meta[_META_UNSEEN] = request.url
        for name, value in validators.items():
            request.headers[name] = value
        if validators:
            request.meta[_META_VALIDATORS] = list(validators)
            self.stats.inc_value("archive/conditional_request")
        return None

    # -- responses

    async def process_response(self, request, response):
        if request.meta.get("playwright"):
            await self._archive_render(request, response)
            return response
        staged = await self._archive(request, response)
        if staged is None:
            return response
        request.meta[META_CAPTURE] = staged.record_id
        request.meta[META_PAYLOAD_CAPTURE] = staged.payload_record_id
        request.meta[META_FIRST_CAPTURE] = staged.first
        self.stats.inc_value(f"archive/status/{response.status}")
        if response.status == 304:
            return await self._not_modified(request, response, staged)
        self.stats.inc_value(f"archive/{staged.record_type}")
        if 300 <= response.status < 400 and b"Location" in response.headers:
            await self._stop_redirect_loop(request, response)
        return response

    async def _archive(self, request, response) -> PendingCapture | None:
        fetched_at = datetime.now(timezone.utc)
        metadata = {
            "role": request.meta.get(META_ROLE),
            "listing_title": request.meta.get(META_LISTING_TITLE),
            "listing_date": request.meta.get(META_LISTING_DATE),
            "referer": _text(request.headers.get("Referer")),
            "redirected_from": (request.meta.get("redirect_urls") or [None])[0],
        }
        problems = certificate_problems(response.certificate, urlsplit(request.url).hostname or "", fetched_at)
        if problems:
            # Scrapy does not verify certificates: the fetch went on, the archive says it would not have verified
            metadata["tls_problems"] = ",".join(problems)
            self.stats.inc_value("archive/tls_unverified")
        try:
            return await self.holder.call(
                self.holder.archive.stage_fetch, request.url, request.method, _request_headers(request),
                response.status, RESPONSES.get(response.status, b""), _header_pairs(response.headers),
                response.body, ip=str(response.ip_address) if response.ip_address else None,
                fetched_at=fetched_at, agency_id=request.meta.get(META_AGENCY),
                extra_metadata={key: value for key, value in metadata.items() if value is not None},
                protocol=response.protocol if str(response.protocol or "").startswith("HTTP/") else "HTTP/1.1",
                request_body=request.body or b"",
                truncated="disconnect" if "dataloss" in response.flags else None,
                unseen=request.meta.pop(_META_UNSEEN, None) == request.url)
        except ArchiveError as exc:
            log.error("could not archive %s (%s): %s", request.url, response.status, exc)
            self.stats.inc_value("archive/write_failed")
            return None

    async def _not_modified(self, request, response, staged: PendingCapture) -> Response:
        if staged.record_type != "revisit":
            # a 304 with nothing earlier to confirm: the archive kept it as a plain response
            self.stats.inc_value("archive/response")
            return response
        self.stats.inc_value("archive/not_modified")
        try:
            # an original fetched a moment ago may still wait for its group commit: its row comes with it
            original_id = staged.refers_to or await self.holder.capture_id(staged.refers_to_record, now=True)
            original = await self.holder.read(self.holder.archive.read_capture, original_id)
        except Exception as exc:  # noqa: BLE001 - CaptureError, store errors …: ask again without validators
            # e.g. another machine of the run captured it and its segment is still in that machine's spool; a
            # bare 304 would leave the caller without a body (for robots.txt: no rules, so everything allowed)
            log.warning("304 for %s but its capture %s cannot be read (%s): fetching it again in full", request.url,
                        staged.refers_to or staged.refers_to_record, exc)
            self.stats.inc_value("archive/not_modified_unreadable")
            if request.meta.get(_META_UNCONDITIONAL):
                return response
            again = request.replace(dont_filter=True)
            for name in _CONDITIONAL_HEADERS:
                again.headers.pop(name, None)
            again.meta[_META_UNCONDITIONAL] = True
            return again
        headers = Headers([(name, value) for name, value in original.raw_headers])
        for name, values in response.headers.items():
            if name.lower() not in _NOT_MODIFIED_KEEPS:
                headers.setlist(name, values)
        request.meta[META_NOT_MODIFIED] = True
        response_class = responsetypes.from_args(headers=headers, url=response.url, body=original.payload)
        return response_class(url=response.url, status=original.status or 200, headers=headers,
                              body=original.payload, request=request, flags=[*response.flags, "not_modified"],
                              certificate=response.certificate, ip_address=response.ip_address,
                              protocol=response.protocol)

    async def _stop_redirect_loop(self, request, response) -> None:
        location = response.headers.get("Location", b"").decode("latin-1").strip()
        target = urljoin(request.url, location)
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target not in chain and len(chain) <= self.max_redirects:
            return
        hops = " → ".join([*chain, target])
        message = (f"重定向循环：{hops}" if target in chain
                   else f"重定向超过 {self.max_redirects} 次：{hops}")
        # raised from process_response, it reaches the request's errback and no process_exception: recorded here
        await fail_request(self.holder, self.stats, self.signals, request, "redirect_loop", message, url=chain[0])
        raise IgnoreRequest(message)

    async def _archive_render(self, request, response) -> None:
        """A browser render is not what the server sent: it is kept as resource records beside the raw capture."""
        archive = self.holder.archive
        try:
            static = await self.holder.capture_id(request.meta.get(META_STATIC_CAPTURE), now=True,
                                                  wait=OTHER_PROCESS_WAIT)
            staged = await self.holder.call(archive.stage_resource, RENDERED_DOM_PREFIX + request.url, response.body,
                                            "text/html; charset=utf-8", agency_id=request.meta.get(META_AGENCY),
                                            concurrent_to=static)
            request.meta[META_CAPTURE] = staged.record_id
            self.stats.inc_value("archive/resource")
            screenshot = _screenshot(request)
            if self.screenshots and screenshot:
                await self.holder.call(archive.stage_resource, SCREENSHOT_PREFIX + request.url, screenshot,
                                       _image_type(screenshot), agency_id=request.meta.get(META_AGENCY),
                                       concurrent_to=static)
                self.stats.inc_value("archive/resource")
        except ArchiveError as exc:
            log.error("could not archive the render of %s: %s", request.url, exc)
            self.stats.inc_value("archive/write_failed")


def _image_type(image: bytes) -> str:
    return "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"


def _screenshot(request) -> bytes | None:
    for method in request.meta.get("playwright_page_methods") or ():
        if getattr(method, "method", None) == "screenshot" and isinstance(getattr(method, "result", None), bytes):
            return method.result
    return None


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value else None


def _header_pairs(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, values in headers.items() for value in values]


def _request_headers(request) -> list[tuple[bytes, bytes]]:
    """The request head as sent: Scrapy's headers plus the Host line the HTTP client adds itself."""
    pairs = _header_pairs(request.headers)
    if not any(name.lower() == b"host" for name, _ in pairs):
        pairs.insert(0, (b"Host", (urlsplit(request.url).netloc or "").encode("ascii", "replace")))
    return pairs


# ---------------------------------------------------------------- TLS

def certificate_problems(certificate, host: str, now: datetime) -> list[str]:
    """Why a peer certificate would not verify, as far as can be told without its chain: ``expired``,
    ``not_yet_valid``, ``self_signed``, ``hostname_mismatch``. An untrusted CA is not detected."""
    if certificate is None:
        return []
    try:
        cert = certificate.original.to_cryptography()
    except (AttributeError, ValueError, TypeError):
        return []
    problems = []
    if cert.not_valid_after_utc < now:
        problems.append("expired")
    if cert.not_valid_before_utc > now:
        problems.append("not_yet_valid")
    if cert.issuer == cert.subject:
        problems.append("self_signed")
    if host and not any(_host_matches(name, host) for name in _certificate_names(cert)):
        problems.append("hostname_mismatch")
    return problems


def _certificate_names(cert) -> Iterable[str]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = list(extension.value.get_values_for_type(x509.DNSName))
        names += [str(address) for address in extension.value.get_values_for_type(x509.IPAddress)]
        if names:
            return names
    except x509.ExtensionNotFound:
        pass
    return [attribute.value for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _host_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.count(".") == pattern.count(".") and host.endswith(pattern[1:])
    return pattern == host


# ---------------------------------------------------------------- robots.txt

class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with every request that waits for a host's robots.txt getting its rules.

    Scrapy (since scrapy/scrapy#6802) has all such requests await one shared Deferred through ``asFuture``, whose
    callback returns None: the first waiter gets the rules, every later one gets None and goes out unchecked. A
    crawl's start requests all wait on the same robots.txt, so a disallowed column among them was fetched. Here
    each waiter gets a Deferred of its own that passes the rules on.

    A robots.txt the server cannot give (a 5xx answer, after the retries) means complete disallow (RFC 9309,
    2.3.1.4); Scrapy would read the error page as rules and allow everything. Each of that host's requests becomes a
    ``robots`` fetch error naming the status. A robots.txt that cannot be fetched at all (DNS, refused, timeout)
    still allows everything, as in Scrapy: the host's own requests then fail with that error, which is the reason
    a verdict should give.
    """

    DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"

    def __init__(self, crawler):
        super().__init__(crawler)
        self._send_back = holds_requests_for_hosts(crawler.settings)
        self._unreachable: dict[str, int] = {}   # netloc → the 5xx status its robots.txt answered

    async def _parse_robots(self, response, netloc, request):
        # Scrapy's own step (its signature is not public API: tests/test_robots.py holds it to the installed Scrapy)
        if 500 <= response.status < 600:
            self._unreachable[netloc] = response.status
            self._stats.inc_value("robotstxt/unreachable")
            response = response.replace(body=self.DISALLOW_ALL)
        await super()._parse_robots(response, netloc, request)

    def process_request_2(self, rp, request) -> None:
        status = self._unreachable.get(urlparse_cached(request).netloc)
        if status is not None and rp is not None:
            self._stats.inc_value("robotstxt/forbidden")
            raise IgnoreRequest(f"Forbidden by robots.txt: robots.txt answered HTTP {status}, "
                                f"read as complete disallow (RFC 9309)")
        super().process_request_2(rp, request)

    async def process_request(self, request, spider=None):
        netloc = urlparse_cached(request).netloc
        first_look = netloc not in self._parsers or isinstance(self._parsers[netloc], Deferred)   # waits for it
        await super().process_request(request)
        if (first_look and self._send_back and not request.meta.get("dont_obey_robotstxt")
                and not request.meta.get(META_WAITED_FOR_ROBOTS)
                and host_wait(self.crawler.engine.downloader, request) > 0):
            # robots.txt was just asked of this host: the request would now wait its download delay inside the
            # downloader, holding one of the CONCURRENT_REQUESTS places; back in the queue it waits without
            self._stats.inc_value("scheduler/sent_back_for_host")
            return request.replace(dont_filter=True, meta={**request.meta, META_WAITED_FOR_ROBOTS: True})
        return None

    async def robot_parser(self, request):
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        mine: Deferred = Deferred()

        def forward(parser):
            mine.callback(parser)
            return parser  # for the next waiter

        pending.addCallback(forward)
        return await maybe_deferred_to_future(mine)


# ---------------------------------------------------------------- retry backoff

class RetryBackoffMiddleware:
    """Waits ``RETRY_BACKOFF_BASE × 2**(n-1)`` seconds (at most ``RETRY_BACKOFF_MAX``) before the n-th retry.

    Scrapy's retry middleware re-queues at once; a struggling government server deserves a pause. With the crawl's
    queue (crawler.queues) the retry goes back to it and the whole host pauses there, holding none of the
    CONCURRENT_REQUESTS places; otherwise (the shared Redis queue) the retry waits here.
    """

    def __init__(self, base: float, ceiling: float, stats=None, send_back: bool = False):
        self.base = base
        self.ceiling = ceiling
        self.stats = stats
        self.send_back = send_back

    @classmethod
    def from_crawler(cls, crawler) -> "RetryBackoffMiddleware":
        base = crawler.settings.getfloat("RETRY_BACKOFF_BASE")
        if base <= 0:
            raise NotConfigured  # switched off on purpose: no warning
        return cls(base, crawler.settings.getfloat("RETRY_BACKOFF_MAX"), crawler.stats,
                   holds_requests_for_hosts(crawler.settings))

    async def process_request(self, request):
        attempt = request.meta.get("retry_times", 0)
        if attempt and request.meta.get("xxgk_backoff_done") != attempt:
            request.meta["xxgk_backoff_done"] = attempt
            pause = min(self.base * 2 ** (attempt - 1), self.ceiling)
            # robots.txt is downloaded past the scheduler (a request handed back is sent again at once): it waits
            # here, and must, since a 5xx that outlasts its retries forbids the whole host (RobotsTxtMiddleware)
            if self.send_back and not _is_robots_txt(request.url):
                self.stats.inc_value("scheduler/sent_back_for_host")
                return request.replace(meta={**request.meta, **not_before(pause)})
            await asyncio.sleep(pause)
        return None


# ---------------------------------------------------------------- fetch errors

class FetchErrorMiddleware:
    """One ``fetch_errors`` row per request that ended without a usable response (after retries and redirects)."""

    def __init__(self, stats, holder: CrawlArchive, signals=None):
        self.stats = stats
        self.holder = holder
        self.signals = signals

    @classmethod
    def from_crawler(cls, crawler) -> "FetchErrorMiddleware":
        if not crawler.settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        return cls(crawler.stats, CrawlArchive.of(crawler), crawler.signals)

    async def process_response(self, request, response):
        if response.status < 400 or _is_robots_txt(request.url) or request.meta.get(META_ERROR_RECORDED):
            return response
        if response.status == 404 and request.meta.get(META_PROBE):
            return response  # a site without a sitemap.xml: archived, nothing wrong
        message = f"HTTP {response.status} {_text(RESPONSES.get(response.status)) or ''}".strip()
        await fail_request(self.holder, self.stats, self.signals, request, "http", message)
        return response

    async def process_exception(self, request, exception):
        if _is_robots_txt(request.url) or request.meta.get(META_ERROR_RECORDED):
            return None   # recorded (and told) where it happened
        kind, message = classify_failure(exception)
        await fail_request(self.holder, self.stats, self.signals, request, kind, message)
        return None


def _tell(signals, request, kind: str, message: str) -> None:
    """Say the request failed (the run's column coverage listens)."""
    if signals is not None:
        signals.send_catch_log(fetch_failed, request=request, kind=kind, message=message)


async def fail_request(holder: CrawlArchive, stats, signals, request, kind: str, message: str, *,
                       url: str | None = None) -> None:
    """A request that ended without a usable response: one ``fetch_errors`` row (for ``url``, the request's own by
    default) and the ``fetch_failed`` signal, once, wherever in the chain it failed. A middleware that raises from
    ``process_response`` must call it itself: Scrapy hands that exception to the request's errback and to no
    middleware's process_exception."""
    _tell(signals, request, kind, message)
    request.meta[META_ERROR_RECORDED] = True
    await record_error(holder, stats, url or request.url, kind, message, request.meta.get(META_AGENCY))


class DecompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompression, whose failures are the URL's fetch errors: a body that does not decompress (a broken
    gzip, brotli garbage) and one that outgrows DOWNLOAD_MAXSIZE once decompressed (a gzip bomb) each raised out
    of ``process_response`` unrecorded, and a report listed in a column that could not be read looked absent."""

    def __init__(self, *args, holder: CrawlArchive | None = None, signals=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.holder, self.signals = holder, signals

    @classmethod
    def from_crawler(cls, crawler) -> "DecompressionMiddleware":
        found = super().from_crawler(crawler)
        if crawler.settings.getbool("ARCHIVE_ENABLED"):
            found.holder, found.signals = CrawlArchive.of(crawler), crawler.signals
        return found

    async def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            kind, message = "size", f"解压后超过下载大小上限（DOWNLOAD_MAXSIZE）：{exc}"
        except Exception as exc:  # noqa: BLE001 - zlib, brotli, zstd: each its own error type
            kind, message = "other", f"压缩的内容无法解压（{_text(response.headers.get('Content-Encoding'))}）：{exc}"
        if self.holder is not None and not request.meta.get(META_ERROR_RECORDED):
            await fail_request(self.holder, self.stats, self.signals, request, kind, message)
        raise IgnoreRequest(message)


class MetaRefreshMiddleware(ScrapyMetaRefreshMiddleware):
    """Scrapy's meta refresh, which never replaces a report page: a report's page that refreshes to another address
    (the site's homepage after 60 s, a mobile page) was archived, never parsed, and its year proved 未发布. The page
    is kept and parsed, the spider fetches its target as well (``meta_refresh_target``); a target that is no web
    address (``javascript:…``, ``mailto:``) leaves any page as it is instead of failing it."""

    def process_response(self, request, response):
        if request.meta.get(META_ROLE) in ("item", "attachment"):
            return response
        try:
            return super().process_response(request, response)
        except ValueError:   # Scrapy cannot build a request to the target
            return response


def meta_refresh_target(response, max_delay: float) -> str | None:
    """The web address a page's meta refresh sends the browser to within ``max_delay`` seconds, if any."""
    from scrapy.http import HtmlResponse
    from scrapy.utils.response import get_meta_refresh

    if not isinstance(response, HtmlResponse):
        return None
    try:
        interval, url = get_meta_refresh(response)
    except ValueError:
        return None
    if not url or interval is None or interval >= max_delay or urlsplit(url).scheme not in ("http", "https"):
        return None
    return url if url != response.url else None


def _is_robots_txt(url: str) -> bool:
    return urlsplit(url).path == "/robots.txt"


async def record_error(holder: CrawlArchive, stats, url: str, kind: str, message: str,
                       agency_id: str | None) -> None:
    stats.inc_value(f"archive/error/{kind}")
    try:
        # its row goes with the next group commit, as a capture's (the run's last commit comes before its end)
        await holder.call(holder.archive.stage_error, url, kind, message, agency_id)
    except ArchiveError as exc:
        log.error("could not record %s error for %s (%s): %s", kind, url, message, exc)


def _causes(exception: BaseException) -> Iterable[BaseException]:
    """The exception, what it was raised from, and the failures Twisted wrapped inside it."""
    seen: set[int] = set()
    stack = [exception]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.append(current.__cause__)
        stack.append(current.__context__)
        for reason in getattr(current, "reasons", None) or ():
            stack.append(getattr(reason, "value", None))


def classify_failure(exception: BaseException) -> tuple[str, str]:
    """The ``fetch_errors`` kind and a one-line message for a download exception."""
    causes = list(_causes(exception))
    text = "; ".join(dict.fromkeys(f"{type(cause).__name__}: {cause}".rstrip(": ") for cause in causes))
    names = {type(cause).__name__ for cause in causes}
    if isinstance(exception, IgnoreRequest):
        if "robots" in str(exception).lower():
            unreachable = re.search(r"robots\.txt answered HTTP (\d{3})", str(exception))
            if unreachable:
                return "robots", f"robots.txt 无法取得（HTTP {unreachable.group(1)}），按 RFC 9309 视为全站禁止抓取"
            return "robots", "robots.txt 禁止抓取"
        if "redirect" in str(exception).lower():
            return "redirect_loop", str(exception)
        return "other", f"请求被放弃：{exception}"
    if any(isinstance(cause, (DownloadTimeoutError, twisted_errors.TimeoutError, asyncio.TimeoutError,
                              TimeoutError)) for cause in causes) or "TimeoutError" in names:
        waited = re.search(r"took longer than ([\d.]+) seconds", text)
        return "timeout", (f"超时：{float(waited.group(1)):g} 秒内没有得到完整答复（{text}）" if waited
                           else f"超时：没有得到完整答复（{text}）")
    if any(isinstance(cause, (CannotResolveHostError, twisted_errors.DNSLookupError)) for cause in causes):
        return "dns", f"域名解析失败：{text}"
    if any(type(cause).__module__.startswith(("OpenSSL", "ssl")) or "SSL" in type(cause).__name__
           for cause in causes):
        return "tls", f"TLS 握手失败：{text}"
    if any(isinstance(cause, DownloadCancelledError) for cause in causes):
        # the HTTP handler cancels a download only when it outgrows DOWNLOAD_MAXSIZE
        return "size", f"超过下载大小上限（DOWNLOAD_MAXSIZE）：{text}"
    if any(isinstance(cause, (DownloadConnectionRefusedError, DownloadFailedError, ResponseDataLossError,
                              twisted_errors.ConnectError, twisted_errors.ConnectionLost,
                              twisted_errors.ConnectionDone, ConnectionError)) for cause in causes) \
            or "ResponseNeverReceived" in names:
        return "reset", f"连接失败或中断：{text}"
    return "other", text or type(exception).__name__
