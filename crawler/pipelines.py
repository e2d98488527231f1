"""The parse pipeline: every report candidate through ``parse_document`` in a process pool, into the catalog.

Parsing is CPU-bound (PDF text and tables), so it runs in ``PARSE_WORKERS`` processes, never on the reactor
thread; at most that many parses are in flight, so ``PARSE_TIMEOUT`` measures parsing, not queueing. A parse that
raises, dies or runs past the timeout (its worker is killed and the pool replaced) becomes a report row carrying
the error, tied to its capture, and the crawl goes on.

Attribution: the agency whose column linked the document, unless the parsed agency name (``record.agency``) names
another agency of the crawl (``registry.agencies.match_agency``): a county column lists every department's report.

Unchanged documents (a 304, or a payload identical to the URL's previous capture) are not parsed again and get no
new report row: the report row of the capture holding the payload stands, and the new revisit capture moves the
URL's ``last_seen`` (``storage.catalog.queries.last_seen``). Only when that capture has no report yet (an earlier
run died before parsing it) is the document parsed, and the row tied to the new capture.

A candidate names its capture by WARC-Record-ID: the capture's index row comes with its group commit
(``storage.archive``), which parsing usually outlasts; the report row, which references it, waits for it.

Report rows are stored in batches (``ReportBatcher``), as captures are: a parsed document waits until
``REPORT_BATCH_ROWS`` rows wait or ``REPORT_BATCH_MS`` have passed since the first of them, and the batch goes to
the archive's writer thread as one transaction (``storage.catalog.queries.add_reports``, one multi-row insert);
a transaction per report cost that thread more than anything else it did. Each item still waits for its own row,
so the stages after this one (the screenshots) find it, and a row refused (its capture or agency not in the
catalog) fails its own item alone. Scrapy closes the pipelines once no item is in process, before the
``spider_closed`` signal on which the archive commits and ends the run: whatever still waits is written then.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Mapping, Sequence

from scrapy.exceptions import NotConfigured

from registry.catalog_sync import store_agencies
from crawler.coverage import CoverageRecorder
from crawler.items import ReportCandidate
from crawler.middlewares import CrawlArchive
from registry.agencies import Agency, AgencyMatcher
from crawler.parse_worker import parse_and_sign, start_pool, warm_parser
from parsers.formats.ocr import OcrOptions
from parsers.record import FetchContext, ReportRecord
from storage.archive import ArchiveError
from storage.catalog import Catalog, queries

log = logging.getLogger(__name__)


def ocr_options(settings) -> OcrOptions:
    """The crawl's OCR allowance; its budget is kept inside PARSE_TIMEOUT, or a long scan would be killed whole
    instead of read in part."""
    timeout = settings.getfloat("PARSE_TIMEOUT")
    budget = min(settings.getfloat("PARSE_OCR_TIME_BUDGET"), max(timeout * 0.75, 1.0))
    return OcrOptions(enabled=settings.getbool("PARSE_OCR"), time_budget=budget,
                      max_pages=settings.getint("PARSE_OCR_MAX_PAGES"))


def attribute(record: ReportRecord, column_agency_id: str | None, agencies: AgencyMatcher) -> str | None:
    """The agency a parsed document belongs to: the one its printed name matches, else the column's."""
    if record.agency:
        matched = agencies.match(record.agency)
        if matched is not None:
            return matched.id
    return column_agency_id


def existing_report(catalog: Catalog, record_id: str) -> tuple[int, bool, str | None, int] | None:
    """(report id, is_report, agency id, capture id) of the report row already tied to the capture ``record_id``
    names."""
    with catalog.reading() as session:
        report = queries.report_by_capture_record(session, record_id)
        return (report.id, report.is_report, report.agency_id, report.capture_id) if report is not None else None


def store_report(catalog: Catalog, capture_id: int, record: ReportRecord, agency_id: str | None,
                 url: str, signature: tuple | None = None) -> int:
    with catalog.session() as session:
        return queries.add_report(session, capture_id, record, agency_id=agency_id, url=url,
                                  signature=signature).id


def store_reports(catalog: Catalog, rows: Sequence[Mapping[str, Any]]) -> list[int | Exception]:
    """``store_report`` for many rows (its arguments, by name) in one transaction: each row's report id, or the
    exception that row met. When the batch's transaction fails as a whole (a value the database refuses, say),
    each row is stored again on its own, so that the failure is the offending row's alone."""
    try:
        with catalog.session() as session:
            return queries.add_reports(session, rows)
    except Exception as exc:  # noqa: BLE001 - handed to the row(s) it belongs to
        if len(rows) <= 1:
            return [exc] * len(rows)
        log.warning("a batch of %d report rows failed (%s): storing each on its own", len(rows), exc)
    results: list[int | Exception] = []
    for row in rows:
        try:
            results.append(store_report(catalog, **row))
        except Exception as exc:  # noqa: BLE001 - this row's failure, the others are stored
            results.append(exc)
    return results


class ReportBatcher:
    """Report rows waiting for their store, on the reactor's asyncio loop: sent to the archive's writer thread
    (``store_reports``, one call) when ``rows`` are waiting or ``ms`` after the first of them, whichever comes
    first. A transaction per report cost the writer thread most of its time, and each took the SQLite write lock
    the archive's group commit also waits for."""

    def __init__(self, holder: CrawlArchive, catalog: Catalog, rows: int, ms: float):
        self.holder = holder
        self.catalog = catalog
        self.rows = max(1, rows)
        self.delay = max(0.0, ms) / 1000
        self._waiting: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task] = set()

    async def store(self, capture_id: int, record: ReportRecord, agency_id: str | None, url: str,
                    signature: tuple | None) -> int:
        """The report id once its batch is committed; the row's own LookupError (or the batch's ArchiveError)
        raised here."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((dict(capture_id=capture_id, record=record, agency_id=agency_id, url=url,
                                   signature=signature), future))
        if len(self._waiting) >= self.rows:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.delay, self.flush)
        return await future

    def flush(self) -> None:
        """Send what waits now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._waiting:
            return
        batch, self._waiting = self._waiting, []
        task = asyncio.ensure_future(self._write(batch))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def close(self) -> None:
        """Send what waits and wait until every batch is written: the writer thread stops after the pipelines."""
        self.flush()
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def _write(self, batch: list[tuple[dict[str, Any], asyncio.Future]]) -> None:
        try:
            results = await self.holder.call(store_reports, self.catalog, [row for row, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - the writer thread is gone: every row of the batch failed
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results):
            if future.done():
                continue  # its item was cancelled meanwhile
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


class ParsePipeline:
    def __init__(self, crawler, holder: CrawlArchive, workers: int, timeout: float, ocr: OcrOptions, *,
                 batch_rows: int, batch_ms: float):
        self.crawler = crawler
        self.ocr = ocr
        self.stats = crawler.stats
        self.holder = holder
        self.coverage = CoverageRecorder.of(crawler)   # reports found, per listed item, for the column coverage
        self.workers = max(1, workers)
        self.timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        self._warm: list[Future] = []
        self._slots: asyncio.Semaphore | None = None
        self._matcher = AgencyMatcher(())            # the crawl's agencies, indexed when the spider opens
        self.reports = ReportBatcher(holder, holder.archive.catalog, batch_rows, batch_ms)

    @classmethod
    def from_crawler(cls, crawler) -> "ParsePipeline":
        settings = crawler.settings
        if not settings.getbool("PARSE_ENABLED") or not settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("parsing needs PARSE_ENABLED and the archive")
        return cls(crawler, CrawlArchive.of(crawler), settings.getint("PARSE_WORKERS"),
                   settings.getfloat("PARSE_TIMEOUT"), ocr_options(settings),
                   batch_rows=settings.getint("REPORT_BATCH_ROWS"), batch_ms=settings.getfloat("REPORT_BATCH_MS"))

    @property
    def agencies(self) -> list[Agency]:
        return list(getattr(self.crawler.spider, "agencies", []))

    def open_spider(self) -> None:
        # report rows reference agencies: the crawled ones must be in the catalog
        self.holder.call_now(store_agencies, self.holder.archive.catalog, self.agencies)
        self._matcher = AgencyMatcher(self.agencies)
        self._slots = asyncio.Semaphore(self.workers)
        self._start_pool()

    async def close_spider(self) -> None:
        # Scrapy closes the pipelines once no item is in process, so every row's batch was sent already; whatever
        # still waits is written now, before CrawlArchive.spider_closed (after the pipelines) stops the writer thread
        await self.reports.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _start_pool(self) -> None:
        self._pool = start_pool(self.workers)
        # one warm-up per worker starts them all now, so the first documents do not pay for the imports
        self._warm = [self._pool.submit(warm_parser) for _ in range(self.workers)]

    def _kill_pool(self) -> None:
        """A parse past its time cannot be cancelled inside the pool: kill the workers and start a new pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            for process in list((getattr(pool, "_processes", None) or {}).values()):  # no public API stops a task
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
        self.stats.inc_value("parse/pool_restart")
        self._start_pool()

    async def process_item(self, item):
        if not isinstance(item, ReportCandidate):
            return item
        self.stats.inc_value("parse/candidate")
        catalog = self.holder.archive.catalog
        try:
            if item.unchanged:
                # an original still waiting for its row has no report yet: parsed below, as one an earlier run
                # left unparsed
                known = await self.holder.read(existing_report, catalog, item.payload_record_id)
                if known is not None:
                    item.parsed_as_report, item.report_capture_id = known[1], known[3]
                    self.stats.inc_value("parse/unchanged")
                    if known[1]:
                        self.stats.inc_value("reports/found")
                        self.coverage.report_found(known[2], item.url)
                    return item
            record, signature = await self._parse(item)
            agency_id = attribute(record, item.agency_id, self._matcher)
            capture_id = await self.holder.capture_id(item.capture_record_id)
            if capture_id is None:
                raise LookupError(f"its capture {item.capture_record_id} is not in the catalog")
            await self.reports.store(capture_id, record, agency_id, item.url, signature)
            item.parsed_as_report, item.report_capture_id = record.is_report, capture_id
            item.report_agency_id, item.source_format = agency_id, record.source_format
        except (ArchiveError, LookupError, ValueError) as exc:
            log.error("could not store the parse of %s: %s", item.url, exc)
            self.stats.inc_value("parse/store_failed")
            return item
        finally:
            item.body = b""  # the bytes are archived: do not keep them alive in Scrapy's item chain
        self.stats.inc_value("parse/error" if record.error else "parse/ok")
        if record.is_report:
            self.stats.inc_value("reports/found")
            self.stats.inc_value("reports/new")
            self.coverage.report_found(agency_id, item.url)
        else:
            self.stats.inc_value(f"parse/kind/{record.kind}")
        return item

    async def _parse(self, item: ReportCandidate, attempt: int = 1) -> tuple[ReportRecord, tuple | None]:
        """The record and its text signature (None when the parse failed outside the parser: add_report
        computes it then)."""
        context = FetchContext(url=item.url, content_type=item.content_type, headers=item.headers,
                               listing_title=item.listing_title, listing_date=item.listing_date,
                               filename=item.filename, level=item.level)
        async with self._slots:
            await self._pool_started()
            pool = self._pool
            try:
                future = pool.submit(parse_and_sign, item.body, context, self.ocr)
                return await asyncio.wait_for(asyncio.wrap_future(future),
                                              self.timeout)
            except asyncio.TimeoutError:
                self.stats.inc_value("parse/timeout")
                log.warning("parse of %s ran past %s s: its worker is killed", item.url, self.timeout)
                self._kill_pool()
                error = f"解析超时（超过 {self.timeout:g} 秒），已终止"
                return ReportRecord(title=item.listing_title, error=error), None
            except BrokenProcessPool as exc:
                if pool is self._pool or attempt > 1:
                    self.stats.inc_value("parse/worker_died")
                    self._kill_pool()
                    return ReportRecord(title=item.listing_title, error=f"解析进程意外退出：{exc}"), None
            except Exception as exc:  # noqa: BLE001 - e.g. a context that cannot be pickled: one record, not the crawl
                log.exception("parse of %s failed outside the parser", item.url)
                return ReportRecord(title=item.listing_title, error=f"解析失败：{type(exc).__name__}: {exc}"), None
        # the pool was killed for another document's timeout while this one waited in it: not this one's fault
        return await self._parse(item, attempt + 1)

    async def _pool_started(self) -> None:
        for warm in self._warm:
            try:
                await asyncio.wrap_future(warm)
            except BrokenProcessPool:
                pass  # the real task below meets it again and is recorded
