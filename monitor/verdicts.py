"""Timeliness verdicts per agency × report year, with flags and evidence, computed from the catalog and archive.

The verdict itself is ``monitor.deadlines.verdict`` (pure, rules as data) and the flags are ``monitor.flags``
(pure). Two of its answers accuse an agency on what the archive lacks, so ``monitor.proof`` checks them here:

- ``missing`` stands only when the agency's report column was read after the deadline, reaching back to it
  (``proof.missing_proof`` over the crawl's coverage rows); otherwise the year is ``undetermined``, the reason
  in words. A year whose report the archive got only later and which dates itself after ``as_of`` is
  ``missing`` on the agency's own word.
- a report flagged 倒签 is judged by the archive's dates (``proof.archive_bound``), never by the date it claims:
  ``publication_date`` is then the day the archive first saw it (``date_source`` "first_seen", an upper bound)
  and ``days_late`` the lower bound "at least N days" from the latest listing capture that did not list it.

This module gathers their inputs — the agency's reports for the year, the best publication-date evidence
among them, the archive's captures of the report and of the agency's listing pages — and writes the result, so a
re-run after every crawl gives the same answer for the same archive and replaces the previous flags.

A stored ``Verdict`` row (also what ``verdict_rows`` returns, for the CLI and the web UI)::

    flags     ["backdated", "changed", "removed", "copied"]   # a subset, in this order; monitor.flags.FLAG_LABELS
    evidence  {
      "reason": "…",                                  # the verdict's sentence, citing the rule
      # the report the verdict used (absent when there is none)
      "report_id", "report_url", "title", "capture_id", "signing_date", "format", "consistency_errors" (count),
      "captured_at",                                  # ISO, Beijing time (ids only: the web UI builds links)
      "payload_sha256",                               # SHA-256 of the original bytes
      "warc": {"key", "offset", "length"},            # where the record sits (also flat: warc_key/_offset/_length)
      "screenshot": {"capture_id", "captured_at", "sha256", "mime", "warc": {…}} | None,
      "screenshot_note": "…" (only when there is no screenshot),
      # one entry per raised flag, keyed by the flag id (see monitor.flags for each shape):
      "backdated": {"listing_capture_id", "listing_url", "listing_captured_at",
                    "claimed_date", "deadline", "before_deadline", "report_first_seen",
                    "last_absent_capture_id", "last_absent_at", "message", …},
      "changed":   {"from_capture_id", "to_capture_id", "from_sha256", "to_sha256",
                    "cells": [{"table", "row", "column", "old", "new"}, …] | None,
                    "text": {"lines_added", "lines_removed", "diff": ["-…", "+…"], "diff_truncated"} | None,
                    "message", …},
      "removed":   {"last_ok_capture_id", "last_ok_at", "first_failure": {…}, "latest_failure":
                    {"at", "status", "capture_id", "error_kind", "message", …}, "message", …},
      "copied":    {"method": "char-5gram-containment", "score", "jaccard", "threshold", "relation":
                    "previous_year" | "same_year_other_agency", "other_report_id", "other_agency_id",
                    "other_report_year", "other_url", "more_matches": […], "message", …},
      "checks":    {"<flag>" | "archive": "why it could not be (fully) checked"}   # only when something was skipped
      "undetermined_flags": ["backdated", …],         # only when a check could not run: checks[flag] says why
      "as_of": "YYYY-MM-DD",                          # the day judged (only what the archive held by its end)
      # only for a year without a report by as_of (missing or undetermined): what the report column showed
      "coverage": {"coverage_id", "column_url", "found_by", "read_at", "capture_id", "pages_walked", "complete",
                   "rendered", "items_read", "earliest_item", "latest_item", "problem", "detail"} | None,
      "missing_proof": {"proven": bool, "problem": None | "never_read" | "not_after_deadline" | …},
      "later_report": {"report_id", "report_url", "claimed_date", "first_seen", "backdated"?}
                                                      # no report by as_of, but the archive got one afterwards
    }

A check that needs archived bytes it cannot read (no archive reader, lost WARC segments, the object store down)
raises nothing and says so: its flag is listed in ``undetermined_flags`` and ``checks[flag]`` starts with 无法判断.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from monitor import flags as verdict_flags
from parsers.discovery import find_listing_items, listing_items_from_json
from parsers.beijing import BEIJING, beijing_date, beijing_iso, end_of_beijing_day
from parsers.dates import PUBLICATION_PRIORITY
from monitor.clock import today
from monitor.deadlines import RuleSet, Verdict, load_rules, verdict
from monitor.proof import archive_bound, missing_proof
from parsers.record import DateEvidence, FetchContext
from storage.catalog import Catalog, queries
from storage.catalog.models import Agency, Capture, Report
from storage.objects import ObjectStoreError, StoreUnavailable
from storage.reader import CaptureError, CaptureReader
from storage.screenshots import SCREENSHOT_PREFIX
from storage.spool import spool_path

log = logging.getLogger(__name__)

# Roles the crawler writes into a capture's WARC metadata (crawler.middlewares): these are listing pages.
LISTING_ROLES = frozenset({"column", "json", "listing"})
_PAGE_MIMES = ("html", "json", "xml", "text/plain")


def _may_be_page(row: Capture) -> bool:
    """A capture whose type could be a listing page (an unknown type could be anything)."""
    mime = (row.mime or "").lower()
    return not mime or any(kind in mime for kind in _PAGE_MIMES)


@dataclass(frozen=True)
class JudgedYear:
    """One verdict as computed: what ``judge`` stores (``stored()``), or returns without storing."""

    agency_id: str
    agency: str
    level: str | None
    report_year: int
    verdict: Verdict
    report_id: int | None
    report_url: str | None
    flags: tuple[str, ...] = ()
    as_of: date | None = None
    first_seen: datetime | None = None
    undetermined_flags: tuple[str, ...] = ()       # flags whose check could not run (the reason is in checks)
    evidence: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def stored(self) -> dict[str, Any]:
        """The keyword arguments of ``queries.upsert_verdict``: the verdict row as the catalog holds it."""
        result = self.verdict
        return dict(agency_id=self.agency_id, report_year=self.report_year, status=result.status,
                    deadline=result.deadline, legal_basis=result.legal_basis,
                    publication_date=result.publication_date, date_source=result.date_source,
                    days_late=result.days_late, first_seen=self.first_seen, report_id=self.report_id,
                    flags=self.flags, evidence=dict(self.evidence))


def judge(catalog: Catalog, *, as_of: date, years: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
          agency_ids: Iterable[str] | None = None, rules: RuleSet | None = None,
          reader: CaptureReader | None = None, store: bool = True) -> list[JudgedYear]:
    """Compute one verdict, its flags and its evidence per agency and report year; store them unless
    ``store`` is false (judging as of another day than today must not replace the current verdicts).

    ``years``: the report years to judge for every agency, or a mapping agency id → years. The years an agency
    has reports for are always judged too. Years whose report is not due yet in any sense (year ≥ as_of's year)
    are skipped: a report for a year is written after the year ends. ``reader`` reads archived bytes (listing
    pages, unparsed versions); without it those checks cannot run and the evidence says so.

    Only what the archive held by the end of ``as_of`` (Beijing) counts: a report first archived later did not
    exist yet, and later captures and fetch errors raise no flag. A day other than today is judged at its
    24:00, when evaluators check; today is judged as it stands, with the rest of the day still to come.
    """
    rules = rules or load_rules()
    wanted = set(agency_ids) if agency_ids is not None else None
    day_over = as_of != today()
    judged: list[JudgedYear] = []
    # Read from one snapshot, write each agency's verdicts in a short transaction of its own: reading archived
    # pages takes time, and a crawl writing to the same catalog must not wait for all of it.
    with catalog.reading() as session:
        view = _ArchiveView(session, reader, cutoff=end_of_beijing_day(as_of))
        for agency in queries.list_agencies(session):
            if wanted is not None and agency.id not in wanted:
                continue
            seen, later = view.reports_by_year(agency.id)
            extra = years.get(agency.id, ()) if isinstance(years, Mapping) else (years or ())
            computed = [_judge_year(view, agency, year, seen.get(year, []), later.get(year, []), as_of, day_over,
                                    rules)
                        for year in sorted(set(seen) | set(later) | set(extra)) if year < as_of.year]
            if store and computed:
                with catalog.session() as write:
                    for result in computed:
                        queries.upsert_verdict(write, **result.stored())
            judged.extend(computed)
    return judged


def _judge_year(view: "_ArchiveView", agency: Agency, year: int, reports: list[Report], later: list[Report],
                as_of: date, day_over: bool, rules: RuleSet) -> JudgedYear:
    """``reports``: the year's reports the archive held by the end of ``as_of``; ``later``: those it got after."""
    chosen = _best_report(view.session, reports)
    publication = _publication_evidence(chosen) if chosen else None
    first_seen_at = view.first_ok(chosen.url) if chosen else None
    result = verdict(year, agency.level, as_of=as_of, publication=publication,
                     first_seen=beijing_date(first_seen_at) if first_seen_at else None,
                     evidence=_all_evidence(chosen) if chosen else (), rules=rules, agency_id=agency.id,
                     day_over=day_over)
    evidence = _evidence_bundle(view, chosen) if chosen else {}
    raised: dict[str, dict] = {}
    checks: dict[str, str] = {}
    undetermined: list[str] = []
    if chosen is not None:
        raised, checks, undetermined = view.flags(agency, year, chosen, result, first_seen_at, reports)
        if verdict_flags.BACKDATED in raised:
            result = _by_archive_dates(result, raised[verdict_flags.BACKDATED], first_seen_at)
    elif result.status == "missing":
        own_word = False
        if later:
            result, evidence["later_report"] = view.missing_then(agency, result, later, as_of)
            claimed = evidence["later_report"].get("claimed_date")
            own_word = claimed is not None and date.fromisoformat(claimed) > as_of
        if result.status == "missing":
            proof = missing_proof(view.coverage(agency.id), deadline=result.deadline, as_of=as_of)
            evidence["coverage"] = proof.coverage
            evidence["missing_proof"] = {"proven": proof.proven, "problem": proof.problem}
            if proof.proven:
                result = replace(result, reason=f"{result.reason}{proof.reason}。")
            elif not own_word:
                result = replace(result, status="undetermined", reason=f"{proof.reason}。{result.reason}")
    evidence.update(raised)
    evidence["reason"] = result.reason
    evidence["as_of"] = as_of.isoformat()
    if checks:
        evidence["checks"] = checks
    if undetermined:
        evidence["undetermined_flags"] = undetermined
    found = tuple(flag for flag in verdict_flags.FLAGS if flag in raised)
    return JudgedYear(agency.id, agency.name, agency.level, year, result, chosen.id if chosen else None,
                      chosen.url if chosen else None, found, as_of, first_seen_at, tuple(undetermined), evidence)


def _by_archive_dates(result: Verdict, backdated: Mapping[str, Any], first_seen: datetime | None) -> Verdict:
    """The verdict of a report whose claimed date a listing capture proved false: the archive's dates decide."""
    if result.deadline is None or first_seen is None:
        return result  # no rule to judge by (already undetermined), or nothing seen: nothing to bound
    bound = archive_bound(claimed=date.fromisoformat(backdated["claimed_date"]), deadline=result.deadline,
                          backdated=backdated, first_seen=first_seen)
    return replace(result, status=bound.status, publication_date=beijing_date(first_seen), date_source="first_seen",
                   days_late=bound.days_late, reason=bound.reason)


def _best_report(session, reports: list[Report]) -> Report | None:
    """The report that speaks for the year: strongest publication-date evidence, then the earliest date,
    then the earliest capture (a page and its attachment, or two versions of one URL, are one report)."""
    if not reports:
        return None

    def rank(report: Report):
        source_rank = (PUBLICATION_PRIORITY.index(report.date_source)
                       if report.date_source in PUBLICATION_PRIORITY else len(PUBLICATION_PRIORITY))
        return (source_rank, report.publication_date or date.max, report.capture_id)

    return min(reports, key=rank)


def _all_evidence(report: Report) -> list[DateEvidence]:
    found = []
    for item in (report.record_json or {}).get("dates", []):
        try:
            found.append(DateEvidence(date.fromisoformat(item["date"]), item["source"], item.get("raw") or "",
                                      item.get("label")))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def _publication_evidence(report: Report) -> DateEvidence | None:
    if report.publication_date is None or report.date_source is None:
        return None
    for evidence in _all_evidence(report):
        if evidence.source == report.date_source and evidence.value == report.publication_date:
            return evidence
    return DateEvidence(report.publication_date, report.date_source, report.publication_date.isoformat())


_iso = beijing_iso


def _warc(capture: Capture) -> dict[str, Any]:
    return {"key": capture.warc_key, "offset": capture.offset, "length": capture.length}


def _evidence_bundle(view: "_ArchiveView", report: Report) -> dict:
    capture = queries.get_capture(view.session, report.capture_id)
    bundle: dict[str, Any] = {
        "report_id": report.id, "report_url": report.url, "title": report.title, "capture_id": report.capture_id,
        "signing_date": report.signing_date.isoformat() if report.signing_date else None, "format": report.format,
        "consistency_errors": len((report.record_json or {}).get("consistency_errors") or []),
    }
    if capture is not None:
        bundle.update({"payload_sha256": capture.payload_sha256, "warc": _warc(capture),
                       "warc_key": capture.warc_key, "warc_offset": capture.offset, "warc_length": capture.length,
                       "captured_at": _iso(capture.timestamp)})
    shot = view.screenshot(report.url, capture.timestamp if capture is not None else None)
    bundle["screenshot"] = None if shot is None else {
        "capture_id": shot.id, "captured_at": _iso(shot.timestamp),
        "sha256": shot.payload_sha256, "mime": shot.mime, "warc": _warc(shot)}
    if shot is None:
        bundle["screenshot_note"] = ("存档中没有该报告页面的截图（只为 HTML 报告页面截图，PDF、Word 等附件没有；"
                                     "HTML 页面则可能是抓取时用了 --no-screenshots，或渲染失败）")
    return bundle


# ---------------------------------------------------------------- reading what the flags need

class _CannotTell(Exception):
    """A check could not run (the archived bytes it needs cannot be read): its flag is undetermined, not absent."""


class _ArchiveView:
    """The catalog and archive as the flags need them, read once per ``judge()`` call and cached.

    Only what the archive held by ``cutoff`` counts: captures, fetch errors and reports after it are left out.
    """

    def __init__(self, session, reader: CaptureReader | None, *, cutoff: datetime):
        self.session = session
        self.reader = reader
        self.cutoff = cutoff
        self._agency_captures: dict[str, list[Capture]] = {}
        self._snapshots: dict[int, verdict_flags.ListingSnapshot | None] = {}
        self._items_by_payload: dict[tuple[str, str], tuple] = {}
        self._unreadable: dict[int, str] = {}          # capture id -> why it cannot be read
        self._unreadable_rows: dict[int, Capture] = {}
        self._touched_unreadable: set[int] = set()     # … of those, the ones the current check needed
        self._store_down: str | None = None            # the object store stopped answering during this judge()
        self._chosen_by_year: dict[int, dict[str, Report]] = {}
        self._indexes: dict[int, verdict_flags.TextIndex] = {}
        self._fingerprints: dict[int, frozenset[int]] = {}
        self._report_urls: dict[str, set[str]] = {}
        self._agency_names: dict[str, str] = {}

    # -- raw reads

    def read(self, row: Capture):
        """The archived capture, or None when it cannot be read (the reason is kept for the evidence). Not
        cached: payloads can be large, and what is derived from them is."""
        if self.reader is None:
            return None
        if row.id not in self._unreadable and self._store_down and not self._spooled(row):
            # one outage is enough to know: do not wait out the retries once per capture
            self._unreadable[row.id] = self._store_down
            self._unreadable_rows[row.id] = row
        if row.id in self._unreadable:
            self._touched_unreadable.add(row.id)
            return None
        try:
            return self.reader.read_row(row)
        except (CaptureError, ObjectStoreError) as exc:
            log.warning("flags: capture %s: %s", row.id, exc)
            if isinstance(exc, StoreUnavailable):
                self._store_down = f"对象存储不可用（{exc}）"
            self._unreadable[row.id] = str(exc) if self._store_down is None else self._store_down
            self._unreadable_rows[row.id] = row
            self._touched_unreadable.add(row.id)
            return None

    def _spooled(self, row: Capture) -> bool:
        """The segment still waits in the spool (not uploaded): it reads without the store."""
        try:
            return spool_path(self.reader.spool_dir, row.warc_key).exists()
        except (ObjectStoreError, ValueError):
            return False

    def _in_time(self, rows: Iterable[Capture]) -> list[Capture]:
        return [row for row in rows if row.timestamp <= self.cutoff]

    def reports_by_year(self, agency_id: str) -> tuple[dict[int, list[Report]], dict[int, list[Report]]]:
        """The agency's reports by report year: those archived by the cut-off, and those archived after it."""
        query = (select(Report, Capture.timestamp).join(Capture, Capture.id == Report.capture_id)
                 .where(Report.agency_id == agency_id, Report.is_report.is_(True), Report.report_year.is_not(None))
                 .order_by(Report.report_year, Report.id))
        seen: dict[int, list[Report]] = {}
        later: dict[int, list[Report]] = {}
        for report, captured_at in self.session.execute(query):
            target = seen if captured_at <= self.cutoff else later
            target.setdefault(report.report_year, []).append(report)
        return seen, later

    def page_captures(self, url: str) -> list[Capture]:
        return self._in_time(row for row in queries.captures_of_url(self.session, url)
                             if row.record_type != "resource")

    def first_ok(self, url: str, *, in_time: bool = True) -> datetime | None:
        """When the archive first got the document: a 404 before publication is not a sighting."""
        rows = [row for row in queries.captures_of_url(self.session, url) if row.record_type != "resource"]
        if in_time:
            rows = self._in_time(rows)
        for row in rows:
            if row.status is not None and (200 <= row.status < 300 or row.status == 304):
                return row.timestamp
        return rows[0].timestamp if rows else None

    def coverage(self, agency_id: str) -> list:
        """What the crawls read of the agency's report column (``missing_proof`` keeps only reads by as_of)."""
        return queries.coverage_of_agency(self.session, agency_id)

    def screenshot(self, url: str, near: datetime | None) -> Capture | None:
        shots = [row for row in queries.captures_of_url(self.session, SCREENSHOT_PREFIX + url)
                 if row.record_type == "resource"]
        if not shots:
            return None
        if near is None:
            return shots[0]
        return min(shots, key=lambda row: (abs(row.timestamp - near), row.id))

    # -- all flags of one verdict

    def flags(self, agency: Agency, year: int, chosen: Report, result: Verdict, first_seen: datetime | None,
              year_reports: list[Report]) -> tuple[dict[str, dict], dict[str, str], list[str]]:
        """The raised flags with their evidence, the notes on checks, and the flags that could not be checked."""
        raised: dict[str, dict] = {}
        checks: dict[str, str] = {}
        undetermined: list[str] = []
        unreadable: set[int] = set()
        for name, check in ((verdict_flags.BACKDATED, self._backdated), (verdict_flags.CHANGED, self._changed),
                            (verdict_flags.REMOVED, self._removed), (verdict_flags.COPIED, self._copied)):
            self._touched_unreadable = set()
            try:
                found, note = check(agency=agency, year=year, chosen=chosen, result=result, first_seen=first_seen,
                                    year_reports=year_reports)
                if self._touched_unreadable and (found is None or not self._proof_stands(name, found, chosen,
                                                                                          year_reports)):
                    raise _CannotTell(self._unreadable_note())
            except _CannotTell as exc:
                found, note = None, f"无法判断：{exc}"
                undetermined.append(name)
            unreadable |= self._touched_unreadable
            if found is not None:
                raised[name] = found
            if note:
                checks[name] = note
        if unreadable:
            ids = sorted(unreadable)
            checks["archive"] = (f"{len(ids)} 个存档捕获无法读取（{', '.join(map(str, ids[:10]))}），"
                                 f"依赖它们的检查不完整；例如捕获 {ids[0]}：{self._unreadable[ids[0]]}")
        return raised, checks, undetermined

    def _unreadable_note(self) -> str:
        ids = sorted(self._touched_unreadable)
        return (f"所需的 {len(ids)} 个存档捕获无法读取（{', '.join(map(str, ids[:10]))}），"
                f"例如捕获 {ids[0]}：{self._unreadable[ids[0]]}")

    def _proof_stands(self, name: str, found: dict, chosen: Report, year_reports: list[Report]) -> bool:
        """A flag found although some bytes could not be read: does the unread part leave its proof whole?

        ``changed`` compares readable versions only, so a change it found is real. A ``backdated`` proof falls
        when the unread bytes were the report's own (its other names) or another page of the same look at the
        column (which may have listed it)."""
        if name != verdict_flags.BACKDATED:
            return True
        own = {report.capture_id for report in [chosen, *year_reports]}
        proof = queries.get_capture(self.session, found["listing_capture_id"])
        for capture_id in self._touched_unreadable:
            row = self._unreadable_rows.get(capture_id)
            if capture_id in own or row is None or proof is None:
                return False
            if row.run_id == proof.run_id and abs(row.timestamp - proof.timestamp) <= verdict_flags.SAME_LOOK:
                return False
        return True

    # -- backdated

    def _backdated(self, *, agency: Agency, chosen: Report, result: Verdict, first_seen: datetime | None,
                   year_reports: list[Report], **_) -> tuple[dict | None, str | None]:
        claimed = result.publication_date if result.date_source != "first_seen" else None
        return self.backdated_proof(agency, chosen, claimed, result.deadline, first_seen, year_reports), None

    def backdated_proof(self, agency: Agency, chosen: Report, claimed: date | None, deadline: date | None,
                        first_seen: datetime | None, year_reports: list[Report]) -> dict | None:
        """The listing capture (by the cut-off) that proves the claimed date false, if the archive has one.
        Raises _CannotTell when listing captures that may hold the proof cannot be read at all."""
        if claimed is None or first_seen is None:
            return None
        start = datetime.combine(claimed, datetime.min.time(), BEIJING) - verdict_flags.SAME_LOOK
        end = first_seen + verdict_flags.SAME_LOOK
        report_urls = self.report_urls(agency.id)
        candidates = [row for row in self.agency_captures(agency.id)
                      if start <= row.timestamp <= end and row.url not in report_urls and _may_be_page(row)]
        if not candidates:
            return None
        if self.reader is None:
            raise _CannotTell(f"没有档案读取器，未能解析存档的 {len(candidates)} 个栏目页捕获")
        snapshots = [snapshot for snapshot in map(self.listing_snapshot, candidates) if snapshot is not None]
        if not snapshots:
            return None
        urls, titles = self._report_names(chosen, year_reports)
        return verdict_flags.backdated(claimed=claimed, deadline=deadline, first_seen=first_seen,
                                       report_urls=urls, report_titles=titles, listings=snapshots)

    def agency_captures(self, agency_id: str) -> list[Capture]:
        if agency_id not in self._agency_captures:
            self._agency_captures[agency_id] = self._in_time(
                row for row in queries.captures_by_agency(self.session, agency_id)
                if row.record_type in ("response", "revisit") and row.status == 200)
        return self._agency_captures[agency_id]

    def report_urls(self, agency_id: str) -> set[str]:
        """URLs of the agency's reports: a report page is never one of its listings."""
        if agency_id not in self._report_urls:
            self._report_urls[agency_id] = {report.url for report in
                                            queries.reports_of_agency(self.session, agency_id, only_reports=True)}
        return self._report_urls[agency_id]

    def listing_snapshot(self, row: Capture) -> verdict_flags.ListingSnapshot | None:
        if row.id in self._unreadable:
            self._touched_unreadable.add(row.id)
        if row.id in self._snapshots:
            return self._snapshots[row.id]
        self._snapshots[row.id] = snapshot = self._make_snapshot(row)
        return snapshot

    def _make_snapshot(self, row: Capture) -> verdict_flags.ListingSnapshot | None:
        capture = self.read(row)
        if capture is None:
            return None
        role = capture.metadata.get("role")
        if role is not None and role not in LISTING_ROLES:
            return None  # the crawler knows what it fetched: a report, an attachment, a homepage
        key = (row.payload_sha256, row.url)
        if key not in self._items_by_payload:
            payload = capture.payload
            mime = (row.mime or "").lower()
            is_json = "json" in mime or role == "json" or payload.lstrip()[:1] in (b"{", b"[")
            items = listing_items_from_json(payload, row.url) if is_json else find_listing_items(payload, row.url)
            self._items_by_payload[key] = tuple(items)
        items = self._items_by_payload[key]
        found_by = "role" if role is not None else "parsing"
        if found_by == "parsing" and not verdict_flags.is_report_listing(items):
            return None
        return verdict_flags.ListingSnapshot(row.id, row.url, row.timestamp, row.run_id, items, found_by)

    def _report_names(self, chosen: Report, year_reports: list[Report]) -> tuple[list[str], list[str]]:
        """Every URL and title the listing may show the year's report by: its pages and attachments, the URL a
        redirect started from, the title the listing gave when the crawler followed it."""
        urls: list[str] = []
        titles: list[str] = []
        for report in [chosen] + [r for r in year_reports if r.id != chosen.id]:
            urls.append(report.url)
            if report.title:
                titles.append(report.title)
            urls.extend(link.get("url") for link in (report.record_json or {}).get("attachments") or []
                        if isinstance(link, Mapping) and link.get("url"))
            row = queries.get_capture(self.session, report.capture_id)
            capture = self.read(row) if row is not None else None
            if capture is not None:
                urls.extend(value for value in (capture.metadata.get("redirected_from"),) if value)
                titles.extend(value for value in (capture.metadata.get("listing_title"),) if value)
        return urls, titles

    # -- a year without a report by the cut-off, whose report the archive got later

    def missing_then(self, agency: Agency, result: Verdict, later: list[Report],
                     as_of: date) -> tuple[Verdict, dict[str, Any]]:
        """A ``missing`` verdict as of a past day, while the archive got the year's report afterwards.

        The report's own date decides: a date after ``as_of`` confirms it was not out yet; a date on or before
        it is a claim the archive did not see — it stands unless a listing capture by ``as_of`` proves it false
        (倒签); otherwise the archive cannot tell, and the verdict is undetermined, not an accusation."""
        report = _best_report(self.session, later)
        publication = _publication_evidence(report)
        claimed = publication.value if publication is not None and publication.source in PUBLICATION_PRIORITY else None
        first_seen = self.first_ok(report.url, in_time=False)
        seen_day = beijing_date(first_seen).isoformat() if first_seen else "之后"
        info: dict[str, Any] = {"report_id": report.id, "report_url": report.url, "title": report.title,
                                "claimed_date": claimed.isoformat() if claimed else None,
                                "first_seen": beijing_iso(first_seen)}
        if claimed is not None and claimed > as_of:
            return replace(result, reason=f"{result.reason}存档 {seen_day} 首次见到的报告自称 {claimed.isoformat()} "
                                          f"发布，晚于 {as_of.isoformat()}。"), info
        self._touched_unreadable = set()
        try:
            proof = self.backdated_proof(agency, report, claimed, result.deadline, first_seen, later)
            if proof is not None and self._touched_unreadable and not self._proof_stands(
                    verdict_flags.BACKDATED, proof, report, later):
                raise _CannotTell(self._unreadable_note())
            why_not = (self._unreadable_note() if self._touched_unreadable
                       else "存档没有能证明其当时未发布的栏目页捕获")
        except _CannotTell as exc:
            proof, why_not = None, str(exc)
        if proof is not None:
            info["backdated"] = proof
            return replace(result, reason=f"{result.reason}存档后来见到的报告是倒签的：{proof['message']}"), info
        said = f"自称 {claimed.isoformat()} 发布" if claimed else "没有可用的发布日期"
        return replace(result, status="undetermined",
                       reason=f"截至 {as_of.isoformat()} 存档中没有该年度报告；存档 {seen_day} 首次见到的报告{said}，"
                              f"{why_not}，无法判断截至 {as_of.isoformat()} 是否已发布。"), info

    # -- changed

    def _changed(self, *, chosen: Report, **_) -> tuple[dict | None, str | None]:
        base_row = queries.get_capture(self.session, chosen.capture_id)
        if base_row is None:
            return None, None
        record = chosen.record_json or {}
        base = verdict_flags.Version(base_row.id, base_row.timestamp, base_row.payload_sha256,
                                     record.get("tables") or {}, chosen.text or record.get("text") or "")
        later = []
        unread = 0
        for row in self.page_captures(chosen.url):
            if row.timestamp <= base_row.timestamp or row.status is None or not 200 <= row.status < 300:
                continue
            if row.payload_sha256 == base_row.payload_sha256:
                later.append(verdict_flags.Version(row.id, row.timestamp, row.payload_sha256))
                continue
            parsed = self._parsed(row)
            if parsed is None:
                unread += 1  # compared by digest alone it could be a changed page counter: left out
                continue
            later.append(verdict_flags.Version(row.id, row.timestamp, row.payload_sha256, *parsed))
        found = verdict_flags.changed(base, later)
        if unread and self.reader is None and found is None:
            raise _CannotTell(f"没有档案读取器，{unread} 个内容不同的较新版本未能解析")
        return found, None

    def _parsed(self, row: Capture) -> tuple[dict | None, str | None] | None:
        """The parse of a capture: its report row (the crawler parses what it fetches), else parsed now;
        (None, None) when it does not parse, None when its bytes cannot be read."""
        report = queries.report_by_capture(self.session, row.refers_to_capture_id or row.id)
        if report is not None and report.error is None:
            data = report.record_json or {}
            return data.get("tables") or {}, report.text or data.get("text") or ""
        capture = self.read(row)
        if capture is None:
            return None
        from parsers.document import parse_document  # the parsers' imports are heavy: only when needed

        parsed = parse_document(capture.payload, FetchContext(url=row.url, content_type=capture.header("Content-Type"),
                                                              headers=dict(capture.headers)))
        if parsed.error is not None:
            return None, None
        return parsed.tables, parsed.text

    # -- removed

    def _removed(self, *, chosen: Report, **_) -> tuple[dict | None, str | None]:
        events = [verdict_flags.FetchEvent(at=row.timestamp, status=row.status, capture_id=row.id)
                  for row in self.page_captures(chosen.url)]
        events += [verdict_flags.FetchEvent(at=error.at, error_kind=error.kind, error_id=error.id,
                                            message=error.message)
                   for error in queries.errors_of_url(self.session, chosen.url) if error.at <= self.cutoff]
        return verdict_flags.removed(events), None

    # -- copied

    def _copied(self, *, agency: Agency, year: int, chosen: Report, **_) -> tuple[dict | None, str | None]:
        mine = self.fingerprint(chosen)
        if len(mine) < verdict_flags.MIN_SHINGLES:
            return None, f"正文太短（{len(mine)} 个 5-gram），不做雷同比较"
        candidates = []
        previous = self.chosen_reports(year - 1).get(agency.id)
        if previous is not None:
            candidates.append(self.candidate(previous, "previous_year"))
        index = self.text_index(year)
        candidates += [found for found in index.candidates(mine, exclude_agency=agency.id)]
        return verdict_flags.copied(mine, candidates), None

    def chosen_reports(self, year: int) -> dict[str, Report]:
        """Each agency's report for ``year`` archived by the cut-off, chosen as the verdict chooses it."""
        if year not in self._chosen_by_year:
            rows = self.session.scalars(
                select(Report).join(Capture, Capture.id == Report.capture_id)
                .where(Report.is_report.is_(True), Report.report_year == year, Report.agency_id.is_not(None),
                       Capture.timestamp <= self.cutoff))
            grouped: dict[str, list[Report]] = {}
            for report in rows:
                grouped.setdefault(report.agency_id, []).append(report)
            self._chosen_by_year[year] = {agency_id: _best_report(self.session, reports)
                                          for agency_id, reports in grouped.items()}
        return self._chosen_by_year[year]

    def text_index(self, year: int) -> verdict_flags.TextIndex:
        if year not in self._indexes:
            index = verdict_flags.TextIndex()
            for report in self.chosen_reports(year).values():
                index.add(self.candidate(report, "same_year_other_agency"))
            self._indexes[year] = index
        return self._indexes[year]

    def fingerprint(self, report: Report) -> frozenset[int]:
        if report.id not in self._fingerprints:
            self._fingerprints[report.id] = verdict_flags.fingerprint(report.text or "")
        return self._fingerprints[report.id]

    def candidate(self, report: Report, relation: str) -> verdict_flags.TextCandidate:
        if report.agency_id not in self._agency_names:
            agency = queries.get_agency(self.session, report.agency_id) if report.agency_id else None
            self._agency_names[report.agency_id] = agency.name if agency else None
        return verdict_flags.TextCandidate(relation, report.id, report.agency_id,
                                           self._agency_names[report.agency_id], report.report_year, report.url,
                                           report.capture_id, self.fingerprint(report))
