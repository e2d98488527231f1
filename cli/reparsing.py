"""Parsing archived captures again, the way the crawl parsed them: ``xxgk reindex`` (a lost catalog's reports)
and ``xxgk reparse`` (the archived reports with a newer parser) both go through :func:`parse_archived`.

The crawl (``crawler.spiders.reports``) parses an item or an attachment, or a column that is not an HTML page,
answered 2xx or confirmed by a 304; its pipeline (``crawler.pipelines``) parses in worker processes with a time
limit, attributes each record to an agency, and does not parse again a revisit of a document already parsed. The
same is done here, in capture order, with the current parsers.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

from cli.common import CommandError


@dataclass
class Parsed:
    reports: int = 0
    others: int = 0           # parsed, and not a report (a notice, a listing …), as the crawl keeps them too
    errors: int = 0           # parses that failed (a row with the error, as in the crawl)
    unchanged: int = 0        # revisits of a document already parsed: no new row, as in the crawl
    unreadable: int = 0       # captures whose bytes could not be read
    foreign: int = 0          # documents of agencies the registry does not have: not stored
    problems: list[str] = field(default_factory=list)   # why each unreadable capture could not be read

    @property
    def stored(self) -> int:
        return self.reports + self.others + self.errors


def parse_candidates(catalog) -> list:
    """The captures the crawl would have given to the parser (their role is checked on reading), in capture order."""
    from storage.catalog import queries

    with catalog.reading() as session:
        return [row for row in queries.all_captures(session) if row.record_type in ("response", "revisit")
                and row.status is not None and (200 <= row.status < 300
                                                or (row.status == 304 and row.record_type == "revisit"))]


def parse_archived(catalog, reader, agencies: list, rows: Iterable, *,
                   progress: Callable[[int], None] | None = None) -> Parsed:
    """Parse the archived ``rows`` (capture rows, in capture order) the crawl parses and store each record as the
    crawl does (``crawler.pipelines.store_report``: a row already tied to the capture is replaced). Attribution is
    among ``agencies`` (the run's own, as its settings name them). ``progress`` gets the number of rows handled.
    A store that stops answering ends it with ``CommandError``; a capture that cannot be read is counted, with
    the reason in ``problems``, and the others go on."""
    from scrapy.http import Headers, Response

    from crawler.pipelines import attribute, store_report
    # the spider's own helpers: the document is looked at as the crawl looked at it
    from crawler.spiders.reports import _filename, _header, _headers, _is_html
    from parsers.record import FetchContext
    from registry.agencies import AgencyMatcher
    from storage.catalog import queries
    from storage.objects import StoreUnavailable
    from storage.reader import CaptureError

    by_id = {agency.id: agency for agency in agencies}
    crawled: dict[str, AgencyMatcher] = {}
    parsed = Parsed()
    submitted: set[int] = set()
    parser = ParsePool()

    def crawled_in(run_id: str) -> AgencyMatcher:
        """The agencies the run crawled (its settings name them): the crawl attributes among those."""
        if run_id not in crawled:
            with catalog.reading() as session:
                run = queries.get_run(session, run_id)
            named = (run.settings or {}).get("agencies") if run is not None else None
            crawled[run_id] = AgencyMatcher([by_id[agency_id] for agency_id in named or () if agency_id in by_id]
                                            or agencies)
        return crawled[run_id]

    def store(row, record) -> None:
        agency_id = attribute(record, row.agency_id, crawled_in(row.run_id))
        if agency_id is not None and agency_id not in by_id:
            parsed.foreign += 1
            return
        store_report(catalog, row.id, record, agency_id, row.url)
        if record.error:
            parsed.errors += 1
        elif record.is_report:
            parsed.reports += 1
        else:
            parsed.others += 1

    try:
        for handled, row in enumerate(rows, 1):
            if progress is not None:
                progress(handled)
            if row.record_type == "revisit" and row.refers_to_capture_id in submitted:
                parsed.unchanged += 1
                continue
            try:
                capture = reader.read_row(row)
                # a 304 carries no headers of the document: the capture it confirms does
                served = reader.read(row.refers_to_capture_id) if row.status == 304 else capture
            except StoreUnavailable as exc:
                raise CommandError(f"cannot read the archive: {exc}") from exc
            except CaptureError as exc:
                parsed.problems.append(str(exc))
                parsed.unreadable += 1
                continue
            # parsed as the crawl parsed it: the body Scrapy handed on, its Content-Encoding undone
            response = Response(row.url, status=200, headers=Headers(list(served.raw_headers)),
                                body=capture.content)
            role = capture.metadata.get("role")
            if not (role in ("item", "attachment") or (role == "column" and not _is_html(response))):
                continue
            agency = by_id.get(row.agency_id)
            context = FetchContext(url=row.url, content_type=_header(response, "Content-Type"),
                                   headers=_headers(response), listing_title=capture.metadata.get("listing_title"),
                                   listing_date=capture.metadata.get("listing_date"), filename=_filename(response),
                                   level=agency.level if agency is not None else None)
            submitted.add(row.refers_to_capture_id or row.id)
            for done, record in parser.submit(row, capture.content, context):
                store(done, record)
        for done, record in parser.drain():
            store(done, record)
    finally:
        parser.close()
    return parsed


class ParsePool:
    """``PARSE_WORKERS`` processes; a parse past ``PARSE_TIMEOUT`` (or one that kills its worker) becomes a
    record carrying the error, as in the crawl, and the pool is started again for the others."""

    def __init__(self):
        from scrapy.settings import Settings

        from crawler.pipelines import ocr_options

        settings = Settings()
        settings.setmodule("crawler.settings")
        self.workers = max(1, settings.getint("PARSE_WORKERS"))
        self.timeout = settings.getfloat("PARSE_TIMEOUT")
        self.ocr = ocr_options(settings)   # as the crawl reads scans
        self.pending: deque = deque()     # (row, payload, context, future), oldest first
        self.pool = self._start()

    def _start(self):
        from crawler.parse_worker import start_pool

        return start_pool(self.workers)

    def submit(self, row, payload: bytes, context) -> list:
        """Queue one document; returns (row, record) of those finished meanwhile. At most one parse per worker
        waits, so the time limit measures parsing, not queueing."""
        from crawler.parse_worker import parse_in_worker

        self.pending.append((row, payload, context, self.pool.submit(parse_in_worker, payload, context, self.ocr)))
        return [self._next() for _ in range(len(self.pending) - self.workers)]

    def drain(self) -> list:
        return [self._next() for _ in range(len(self.pending))]

    def _next(self):
        from concurrent.futures import TimeoutError as FutureTimeout
        from concurrent.futures.process import BrokenProcessPool

        from parsers.record import ReportRecord

        row, _payload, context, future = self.pending.popleft()
        broken = True
        try:
            return row, future.result(timeout=self.timeout)
        except FutureTimeout:
            error = f"解析超时（超过 {self.timeout:g} 秒），已终止"
        except BrokenProcessPool as exc:
            error = f"解析进程意外退出：{exc}"
        except Exception as exc:  # noqa: BLE001 - e.g. a context that cannot be pickled: one record, not the rest
            error, broken = f"解析失败：{type(exc).__name__}: {exc}", False
        if broken:
            self._restart()
        return row, ReportRecord(title=context.listing_title, error=error)

    def _restart(self) -> None:
        """Kill the workers (a running parse cannot be cancelled otherwise) and send the waiting ones again."""
        from crawler.parse_worker import parse_in_worker

        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            process.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._start()
        self.pending = deque((row, payload, context, self.pool.submit(parse_in_worker, payload, context, self.ocr))
                             for row, payload, context, _future in self.pending)

    def close(self) -> None:
        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            process.kill()
        self.pool.shutdown(wait=True, cancel_futures=True)
