"""What this run read of each agency's report column: the ``column_coverage`` rows a verdict of "missing" rests on.

A column is known by the URL it was entered at (request meta ``META_COLUMN``, set on the entry request with
``META_FOUND_BY``). ``CoverageMiddleware`` (a spider middleware) copies that meta onto every listing request a
column's pages lead to (further pages, JSON pages, the browser render, frames), so they count toward the column,
and counts the item requests a column's pages yield: the listing's items and their dates. Fetch errors come from
``crawler.middlewares.FetchErrorMiddleware`` (its ``fetch_failed`` signal), reports found from
``crawler.pipelines``, a browser's facts from ``response.meta["xxgk_listing"]``. ``CoverageRecorder`` keeps all of
it in memory and writes one row per agency × column when the crawl closes, through the crawl's archive writer into
the WARC and the catalog (a run killed before that loses its rows: its verdicts stay undetermined, which is safe).

A column's last page counts as reached (``complete``) when the pager's stated total of pages was read, none of its
pages failed, or the browser said so. An agency with no column at all gets one row with ``column_url`` NULL
(``not_found``), only in a run that finished: an interrupted run did not establish that.

In a run over many machines (``crawler.frontier``) one column's pages are read by several processes: each worker
pushes its reads to Redis when it closes, and the coordinator merges them into its own before it writes the rows
(``ColumnRead.merge``), so a row is the whole run's read. When a process of the run died without pushing its reads,
the merged rows are partial: none of them then claims ``complete`` and no agency gets a ``not_found`` row, so no
verdict of 未发布 rests on that run (the items they count were all seen).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

from scrapy import Request, signals

from crawler.middlewares import (META_AGENCY, META_CAPTURE, META_LISTING_DATE, META_LISTING_TITLE, META_ROLE,
                                 META_STATIC_CAPTURE, CrawlArchive, fetch_failed)
from parsers.classify import NAMED_YEAR_HOWS, listed_report_year
from parsers.dates import parse_date_text
from parsers.discovery import pager_total, pinned_at_top

log = logging.getLogger(__name__)

META_COLUMN = "xxgk_column"          # the URL the column was entered at: on its entry and on every page read for it
META_FOUND_BY = "xxgk_found_by"      # how the column was found (storage.catalog.models.COLUMN_FOUND_BY)
META_LISTING = "xxgk_listing"        # crawler.paging's key: a render's pages_walked, complete, script_errors, items
META_PINNED = "xxgk_pinned"          # on an item request: its entry is pinned atop the listing (its date no reach)

LISTING_ROLES = ("column", "json")   # responses whose item requests are the column's items
_NOT_LISTING = ("item", "attachment", "home", "sitemap")
_HTML_TYPES = (b"text/html", b"application/xhtml")


def entry_meta(column_url: str, found_by: str | None) -> dict[str, Any]:
    """The meta of a request that enters a report column."""
    return {META_COLUMN: column_url, META_FOUND_BY: found_by}


def original_url(request_or_response) -> str:
    """The URL that was asked for, before any redirect."""
    return (request_or_response.meta.get("redirect_urls") or [request_or_response.url])[0]


@dataclass
class ColumnRead:
    """Everything one run saw of one agency's column."""

    agency_id: str
    column_url: str
    found_by: str | None
    read_at: datetime | None = None
    capture_record_id: str | None = None   # the first page's capture, by WARC-Record-ID (its row may come later)
    pages: set[str] = field(default_factory=set)          # listing pages read by HTTP (static, JSON, frames)
    page_digests: dict[str, str] = field(default_factory=dict)   # page → its body's sha1: one page, two addresses
    failed_pages: set[str] = field(default_factory=set)
    pagers: dict[int, set[str]] = field(default_factory=dict)   # stated total → digests of pages stating it
    rendered: bool = False
    browser_views: int = 0          # listing views the browser walked (its first view is the column page)
    browser_complete: bool = False
    script_errors: list[str] = field(default_factory=list)
    robots_blocked: list[str] = field(default_factory=list)       # what the render asked for and robots.txt forbade
    items: dict[str, date | None] = field(default_factory=dict)   # item URL → the listing's date for it
    titles: dict[str, str] = field(default_factory=dict)          # item URL → the listing's title for it
    errors: list[dict[str, str]] = field(default_factory=list)
    entry_error: tuple[str, str] | None = None                    # (kind, message) of the column page itself
    render_error: str | None = None                               # the browser could not render the page

    def merge(self, other: "ColumnRead") -> None:
        """Add what another process of the run read of the same column."""
        if other.read_at is not None and (self.read_at is None or other.read_at < self.read_at):
            self.read_at, self.capture_record_id = other.read_at, other.capture_record_id
        self.found_by = self.found_by or other.found_by
        self.pages |= other.pages
        self.page_digests.update(getattr(other, "page_digests", {}))
        self.failed_pages |= other.failed_pages
        for total, digests in other.pagers.items():
            self.pagers.setdefault(total, set()).update(digests)
        self.rendered = self.rendered or other.rendered
        self.browser_views = max(self.browser_views, other.browser_views)
        self.browser_complete = self.browser_complete or other.browser_complete
        self.script_errors += other.script_errors
        self.robots_blocked += other.robots_blocked
        for url, when in other.items.items():
            if self.items.get(url) is None:
                self.items[url] = when
        for url, title in getattr(other, "titles", {}).items():
            self.titles.setdefault(url, title)
        self.errors += other.errors
        self.entry_error = self.entry_error or other.entry_error
        self.render_error = self.render_error or other.render_error

    @property
    def complete(self) -> bool:
        if self.robots_blocked:
            return False   # the page's own pager may look whole; what its forbidden data would list is unknown
        if self.browser_complete:
            return True
        return not self.failed_pages and any(len(digests) >= total for total, digests in self.pagers.items())

    @property
    def pages_walked(self) -> int:
        # a column's first page is often also its `?page=1` (hanweb, TRS): the same bytes count once
        distinct = {self.page_digests.get(url, url) for url in self.pages}
        return len(distinct) + max(self.browser_views - 1, 0)

    def problem(self) -> tuple[str | None, str | None]:
        """(COLUMN_PROBLEMS value, the problem in words), (None, None) when items were read."""
        if self.items:
            return None, None
        if self.entry_error is not None:
            kind, message = self.entry_error
            return ("robots", message) if kind == "robots" else ("unreadable", message)
        if self.robots_blocked:  # its script failed, or showed nothing, because its data was not fetched
            return "robots", "robots.txt 禁止抓取栏目页在浏览器中请求的数据：" + "、".join(self.robots_blocked[:3])
        if self.script_errors:
            return "script_error", "浏览器中的脚本错误：" + "；".join(self.script_errors[:3])
        if self.render_error is not None:
            return "unreadable", f"浏览器未能打开栏目页：{self.render_error}"
        return "empty", f"读取了 {self.pages_walked} 页，没有任何条目"


class CoverageRecorder:
    """The run's column reads, kept in memory and written as ``column_coverage`` rows when the crawl closes."""

    def __init__(self, stats=None):
        self.stats = stats
        self.reads: dict[tuple[str, str], ColumnRead] = {}
        self.shared: dict[tuple[str, str], str | None] = {}   # (agency, column) entered but already read for another
        self.agency_errors: dict[str, list[dict[str, str]]] = {}
        self.tried: dict[str, list[str]] = {}                  # agency → the ways to its column tried, in order
        self.agency_ids: list[str] = []
        self.reports: dict[str, set[str]] = {}                # listed item URL → agencies it was a report of
        self._listed_as: dict[str, str] = {}                   # fetched URL → the listed URL it came from
        self._store: Callable[[list[dict[str, Any]]], None] | None = None
        self._closed = False
        self.frontier = None       # crawler.frontier.Frontier in a run over many machines
        self.partial = False       # merged reads lack a process that died: rows claim no completeness

    @classmethod
    def of(cls, crawler) -> "CoverageRecorder":
        """The crawl's recorder, created on first use; it writes through the crawl's archive when there is one."""
        existing = getattr(crawler, "_xxgk_coverage", None)
        if existing is not None:
            return existing
        from crawler.frontier import Frontier

        recorder = cls(crawler.stats)
        crawler._xxgk_coverage = recorder
        recorder.frontier = Frontier.of(crawler)
        crawler.signals.connect(recorder.error, signal=fetch_failed)
        if crawler.settings.getbool("ARCHIVE_ENABLED"):
            holder = CrawlArchive.of(crawler)
            recorder._store = lambda rows: holder.call_now(_store_rows, holder.archive, rows)
            holder.before_finish(recorder.close)
        else:
            crawler.signals.connect(lambda spider, reason: recorder.close(reason), signal=signals.spider_closed,
                                    weak=False)
        return recorder

    # -- what the spider and the other components tell

    def expect(self, agency_ids: Iterable[str]) -> None:
        """The agencies of the run: each gets a row, a not_found one when no column of it was seen."""
        self.agency_ids = list(dict.fromkeys(agency_ids))

    def tried_way(self, agency_id: str, way: str) -> None:
        self.tried.setdefault(agency_id, []).append(way)

    def _read(self, agency_id: str, column_url: str, found_by: str | None) -> ColumnRead:
        key = (agency_id, column_url)
        read = self.reads.get(key)
        if read is None:
            read = self.reads[key] = ColumnRead(agency_id, column_url, found_by)
        return read

    def listing_page(self, response) -> None:
        """A listing page of a column reached the spider (a page, a JSON page, a frame); for a browser render,
        once the spider has walked it (its facts are in ``META_LISTING`` then)."""
        read = self._read_of(response)
        if read is None:
            return
        meta, column, url = response.meta, read.column_url, original_url(response)
        if meta.get("playwright"):
            listing = meta.get(META_LISTING) if isinstance(meta.get(META_LISTING), dict) else {}
            read.rendered = True
            if read.read_at is None:  # rendered without a plain fetch before it: the render is the first read
                read.read_at = datetime.now(timezone.utc)
                read.capture_record_id = meta.get(META_STATIC_CAPTURE) or meta.get(META_CAPTURE)
            read.browser_views = max(read.browser_views, int(listing.get("pages_walked") or 1))
            read.browser_complete = read.browser_complete or bool(listing.get("complete"))
            read.script_errors += [str(error) for error in listing.get("script_errors") or ()]
            read.robots_blocked += [str(url) for url in listing.get("robots_blocked") or ()]
            items = list(listing.get("items") or ())
            pinned = pinned_at_top(items)
            for item in items:
                url = getattr(item, "url", None)
                self._item(read, url, None if url in pinned else getattr(item, "date", None),
                           getattr(item, "title", None))
            return
        if url == column and read.read_at is None:
            read.read_at = datetime.now(timezone.utc)
            read.capture_record_id = meta.get(META_CAPTURE)
        read.pages.add(url)
        digest = read.page_digests[url] = hashlib.sha1(response.body).hexdigest()
        content_type = (response.headers.get("Content-Type") or b"").lower()
        if content_type.startswith(_HTML_TYPES):
            total = pager_total(response.body)
            if total:
                read.pagers.setdefault(total, set()).add(digest)

    def not_a_listing(self, response, message: str) -> None:
        """A listing page that answered with 200 but is no listing (the site's error page, the homepage a moved
        column redirects to): its items are not the column's, and the column, if it was its entry, was not read."""
        read = self._read_of(response)
        if read is None:
            return
        column, url = read.column_url, original_url(response)
        read.pages.discard(url)
        read.errors.append({"url": url, "kind": "http", "message": message})
        if url == column and not read.pages:
            read.entry_error = ("http", message)
        else:
            read.failed_pages.add(url)

    def _read_of(self, response) -> ColumnRead | None:
        """The read of the column a listing response belongs to, None for a response of no column."""
        meta = response.meta
        agency_id, column = meta.get(META_AGENCY), meta.get(META_COLUMN)
        return self._read(agency_id, column, meta.get(META_FOUND_BY)) if agency_id and column else None

    def listing_request(self, response, request: Request) -> None:
        """A request a page yielded: listing requests join the page's column, item requests are its items."""
        meta, out = response.meta, request.meta
        column, role = meta.get(META_COLUMN), out.get(META_ROLE)
        if meta.get(META_ROLE) in ("item", "attachment") and role == "attachment":
            self._listed_as.setdefault(request.url, self._listed_as.get(original_url(response), original_url(response)))
            return
        if not column:
            return
        if role not in _NOT_LISTING:
            out.setdefault(META_COLUMN, column)
            if out[META_COLUMN] == column:
                out.setdefault(META_FOUND_BY, meta.get(META_FOUND_BY))
        elif role == "item" and meta.get(META_AGENCY):
            read = self._read(meta[META_AGENCY], column, meta.get(META_FOUND_BY))
            when = None if out.get(META_PINNED) else parse_date_text(out.get(META_LISTING_DATE) or "")
            self._item(read, request.url, when, out.get(META_LISTING_TITLE))

    def _item(self, read: ColumnRead, url: str | None, when: date | None, title: str | None = None) -> None:
        if url and title and url not in read.titles:
            read.titles[url] = title
        if url and (url not in read.items or read.items[url] is None):
            read.items[url] = when
            if self.frontier is not None:
                self.frontier.gave_items(read.agency_id, read.column_url)

    def document(self, response) -> None:
        """A listed document (or its attachment) arrived, maybe at the end of redirects: remember which listing
        entry it stands for, so that a report found at its final URL counts for the entry."""
        listed = original_url(response)
        if response.url != listed:
            self._listed_as.setdefault(response.url, self._listed_as.get(listed, listed))

    def error(self, request, kind: str, message: str, **_) -> None:
        """A request ended without a usable response (the fetch_errors row's kind and message)."""
        meta = request.meta
        agency_id, column = meta.get(META_AGENCY), meta.get(META_COLUMN)
        if not agency_id:
            return
        url = original_url(request)
        entry = {"url": url, "kind": kind, "message": message}
        if not column:
            if meta.get(META_ROLE) in ("home", "sitemap"):
                self.agency_errors.setdefault(agency_id, []).append(entry)
            return
        read = self._read(agency_id, column, meta.get(META_FOUND_BY))
        read.errors.append(entry)
        if meta.get("playwright"):
            read.render_error = read.render_error or message  # the page as served was read; the browser's view failed
            return
        if url == column and read.entry_error is None and not read.pages:
            read.entry_error = (kind, message)
            read.read_at = read.read_at or datetime.now(timezone.utc)
            # an answer the archive kept (a 403 page): the read shows it; a timeout or a refusal left none
            read.capture_record_id = read.capture_record_id or meta.get(META_CAPTURE)
        else:
            read.failed_pages.add(url)

    def dropped(self, request) -> None:
        """The scheduler dropped a request as a duplicate: an entry into a column another agency already entered
        (a county column that lists every department's reports) is that agency's column read too."""
        meta = request.meta
        column, agency_id = meta.get(META_COLUMN), meta.get(META_AGENCY)
        if column and agency_id and original_url(request) == column and (agency_id, column) not in self.reads:
            self.shared.setdefault((agency_id, column), meta.get(META_FOUND_BY))
            if self.frontier is not None:
                self.frontier.shared_column(agency_id, column)

    def report_found(self, agency_id: str | None, url: str) -> None:
        """The parse pipeline took the document at ``url`` for a report of ``agency_id``."""
        if agency_id:
            # kept by the URL fetched: which entry it was listed as may be known only to another process of the run
            self.reports.setdefault(url, set()).add(agency_id)

    # -- what the spider asks

    def agencies_with_items(self) -> set[str]:
        """The agencies any column of which gave listing items in this run (in every process of it).

        One pass over the reads: the fallback plan asks it of every agency at each idle, and asking per agency
        would cost agencies × reads (hours at a national registry's 100,000)."""
        with_items = {agency for (agency, _), read in self.reads.items() if read.items}
        if self.frontier is not None:
            with_items |= self.frontier.agencies_with_items()
        columns = self._reads_by_column()
        with_items |= {agency for (agency, column) in self.shared
                       if column in columns and columns[column].items}
        return with_items

    def _reads_by_column(self) -> dict[str, ColumnRead]:
        """Each column URL's first read (the one an agency sharing the column is counted by)."""
        by_column: dict[str, ColumnRead] = {}
        for (_, url), read in self.reads.items():
            by_column.setdefault(url, read)
        return by_column

    # -- the rows

    def rows(self, finished: bool) -> list[dict[str, Any]]:
        """One row per agency × column read (and per column shared with another agency); one not_found row for
        each agency without any, when the run ``finished``."""
        reports = self._reports_by_entry()
        rows = [self._row(read, read.agency_id, read.found_by, reports) for read in self.reads.values()
                if read.read_at is not None or read.pages]
        columns = self._reads_by_column()
        for (agency_id, column), found_by in self.shared.items():
            source = columns.get(column)
            if source is not None and (agency_id, column) not in self.reads:
                rows.append(self._row(source, agency_id, found_by, reports))
        rows_of: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            rows_of.setdefault(row["agency_id"], []).append(row)
        seen = set(rows_of)
        # errors met looking for a column (the homepage, sitemap.xml: robots.txt, HTTP errors) explain an agency
        # none of whose columns gave items; they go with its first row, as with its not_found row when it has none
        for agency_id, errors in self.agency_errors.items():
            mine = rows_of.get(agency_id, [])
            if mine and not any(row["items_read"] for row in mine):
                mine[0]["errors"] = [*mine[0]["errors"], *errors]
        if self.partial:
            for row in rows:
                row["complete"] = False
        if finished and not self.partial:
            now = datetime.now(timezone.utc)
            for agency_id in self.agency_ids:
                if agency_id not in seen:
                    rows.append({"agency_id": agency_id, "column_url": None, "found_by": None, "read_at": now,
                                 "problem": "not_found", "detail": self._not_found_detail(agency_id),
                                 "errors": self.agency_errors.get(agency_id, [])})
        return rows

    def _reports_by_entry(self) -> dict[str, set[str]]:
        """Reports by the listing entry they stand for (a redirect's target or an attachment counts for it)."""
        by_entry: dict[str, set[str]] = {}
        for url, agencies in self.reports.items():
            entry, seen = url, {url}
            while entry in self._listed_as and self._listed_as[entry] not in seen:
                entry = self._listed_as[entry]
                seen.add(entry)
            by_entry.setdefault(entry, set()).update(agencies)
        return by_entry

    def _row(self, read: ColumnRead, agency_id: str, found_by: str | None,
             reports: dict[str, set[str]]) -> dict[str, Any]:
        dates = [when for when in read.items.values() if when is not None]
        problem, detail = read.problem()
        titles = getattr(read, "titles", {})
        named = [listed_report_year(titles.get(url), url, in_column=True, listed_on=when)
                 for url, when in read.items.items()]
        return {
            "agency_id": agency_id, "column_url": read.column_url, "found_by": found_by,
            "read_at": read.read_at or datetime.now(timezone.utc), "capture_record_id": read.capture_record_id,
            "pages_walked": read.pages_walked, "complete": read.complete, "rendered": read.rendered,
            "items_read": len(read.items), "dated_items": len(dates),
            "earliest_item": min(dates, default=None), "latest_item": max(dates, default=None),
            "reports_found": sum(1 for url in read.items if agency_id in reports.get(url, ())),
            "report_items": sum(1 for _, how in named if how is not None),
            "report_years": sorted({year for year, how in named if how in NAMED_YEAR_HOWS}),
            "problem": problem, "detail": detail, "errors": read.errors,
        }

    def _not_found_detail(self, agency_id: str) -> str:
        tried = "、".join(dict.fromkeys(self.tried.get(agency_id, []))) or "首页"
        detail = f"经{tried}查找，均未找到年报栏目"
        failures = self.agency_errors.get(agency_id, [])
        if failures:
            detail += "；" + "；".join(f"{error['url']}：{error['message']}" for error in failures[:3])
        return detail

    # -- many machines

    def state(self) -> dict[str, Any]:
        """What this process read, for the coordinator to merge."""
        return {"reads": self.reads, "shared": self.shared, "agency_errors": self.agency_errors,
                "reports": self.reports, "listed_as": self._listed_as}

    def merge(self, state: dict[str, Any]) -> None:
        for key, read in state["reads"].items():
            if key in self.reads:
                self.reads[key].merge(read)
            else:
                self.reads[key] = read
        for key, found_by in state["shared"].items():
            self.shared.setdefault(key, found_by)
        for agency_id, errors in state["agency_errors"].items():
            self.agency_errors.setdefault(agency_id, []).extend(errors)
        for url, agencies in state["reports"].items():
            self.reports.setdefault(url, set()).update(agencies)
        for url, listed in state["listed_as"].items():
            self._listed_as.setdefault(url, listed)

    def _share(self, reason: str) -> bool:
        """A worker hands its reads to the coordinator (True: no rows of its own); the coordinator takes everyone
        else's (their workers close once it marked the run done)."""
        if self.frontier is None:
            return False
        if not self.frontier.coordinating:
            self.frontier.push_coverage(self.state())
            return True
        states, lost = self.frontier.gather_coverage(wait=self.frontier.ttl * 2)
        for state in states:
            self.merge(state)
        if lost:
            self.partial = True
            log.warning("column coverage of run %s lacks %d process(es) that died: no row claims completeness",
                        self.frontier.run_id, lost)
            if self.stats is not None:
                self.stats.set_value("coverage/lost_sessions", lost)
        return False

    def close(self, reason: str) -> None:
        """Count the agencies by how their column went, then write the rows (once)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._share(reason):
                return
        except Exception as exc:  # noqa: BLE001 - Redis gone: this run's proof is lost, never overstated
            log.error("could not exchange the column coverage of the run: %s", exc)
            self.partial = True
        rows = self.rows(finished=reason == "finished")
        for outcome, count in outcome_counts(rows).items():
            if self.stats is not None and count:
                self.stats.set_value(f"coverage/{outcome}", count)
        if self._store is None:
            return
        try:
            self._store(rows)
        except Exception as exc:  # noqa: BLE001 - the run's captures stand; only the proof of this run is lost
            log.error("could not store the column coverage of the run: %s", exc)
            if self.stats is not None:
                self.stats.inc_value("coverage/store_failed")


def outcome_counts(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Agencies by outcome: ``read`` (a column gave items), ``not_found`` (no column), ``unreadable`` (columns
    found, none gave items)."""
    by_agency: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_agency.setdefault(row["agency_id"], []).append(row)
    counts = {"read": 0, "not_found": 0, "unreadable": 0}
    for agency_rows in by_agency.values():
        if any(row.get("items_read") for row in agency_rows):
            counts["read"] += 1
        elif all(row["column_url"] is None for row in agency_rows):
            counts["not_found"] += 1
        else:
            counts["unreadable"] += 1
    return counts


def _store_rows(archive, rows: list[dict[str, Any]]) -> None:
    # through the archive: each row is a WARC note first, so a catalog rebuilt from the WARCs keeps it
    for row in rows:
        archive.record_coverage(**row)


class CoverageMiddleware:
    """Spider middleware: ties each listing page and its item requests to the column it belongs to."""

    def __init__(self, recorder: CoverageRecorder):
        self.recorder = recorder

    @classmethod
    def from_crawler(cls, crawler) -> "CoverageMiddleware":
        middleware = cls(CoverageRecorder.of(crawler))
        crawler.signals.connect(middleware.request_dropped, signal=signals.request_dropped)
        return middleware

    def request_dropped(self, request, spider=None) -> None:
        self.recorder.dropped(request)

    def process_spider_input(self, response) -> None:
        role = response.meta.get(META_ROLE)
        if role in LISTING_ROLES and not response.meta.get("playwright"):
            self.recorder.listing_page(response)
        elif role in ("item", "attachment"):
            self.recorder.document(response)

    async def process_spider_output(self, response, result):
        async for output in result:
            if isinstance(output, Request):
                self.recorder.listing_request(response, output)
            yield output
        if response.meta.get("playwright") and response.meta.get(META_ROLE) in LISTING_ROLES:
            self.recorder.listing_page(response)  # the walk's facts are in the meta now
