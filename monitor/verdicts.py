"""Timeliness verdicts per agency × report year, with flags and evidence, computed from the catalog and archive.

The verdict itself is ``monitor.deadlines.verdict`` (pure, rules as data) and the flags are ``monitor.flags``
(pure); this module gathers their inputs — the agency's reports for the year, the best publication-date evidence
among them, the archive's captures of the report and of the agency's listing pages — and writes the result, so a
re-run after every crawl gives the same answer for the same archive and replaces the previous flags.

A stored ``Verdict`` row (also what ``verdict_rows`` returns, for the CLI and the web UI)::

    flags     ["backdated", "changed", "removed", "copied"]   # a subset, in this order; monitor.flags.FLAG_LABELS
    evidence  {
      "reason": "…",                                  # the verdict's sentence, citing the rule
      # the report the verdict used (absent when there is none)
      "report_id", "report_url", "title", "capture_id", "signing_date", "format", "consistency_errors" (count),
      "permalink": "/captures/{id}", "captured_at",   # ISO, Beijing time
      "payload_sha256",                               # SHA-256 of the original bytes
      "warc": {"key", "offset", "length"},            # where the record sits (also flat: warc_key/_offset/_length)
      "screenshot": {"capture_id", "permalink", "captured_at", "sha256", "mime", "warc": {…}} | None,
      "screenshot_note": "…" (only when there is no screenshot),
      # one entry per raised flag, keyed by the flag id (see monitor.flags for each shape):
      "backdated": {"listing_capture_id", "listing_permalink", "listing_url", "listing_captured_at",
                    "claimed_date", "deadline", "before_deadline", "report_first_seen", "message", …},
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
    }

Without an archive reader (``judge(..., reader=None)``) the checks that need archived bytes (parsing listing
pages for ``backdated``, parsing an unparsed later version for ``changed``) are skipped and say so in ``checks``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from monitor import flags as verdict_flags
from parsers.discovery import find_listing_items, listing_items_from_json
from parsers.beijing import BEIJING, beijing_date, beijing_iso
from parsers.dates import PUBLICATION_PRIORITY
from monitor.deadlines import RuleSet, Verdict, load_rules, verdict
from parsers.record import DateEvidence, FetchContext
from storage.catalog import Catalog, queries
from storage.catalog.models import Agency, Capture, Report
from storage.objects import ObjectStoreError
from storage.reader import CaptureError, CaptureReader

log = logging.getLogger(__name__)

# Roles the crawler writes into a capture's WARC metadata (crawler.middlewares): these are listing pages.
LISTING_ROLES = frozenset({"column", "json", "listing"})
_PAGE_MIMES = ("html", "json", "xml", "text/plain")
SCREENSHOT_PREFIX = "urn:screenshot:"


@dataclass(frozen=True)
class JudgedYear:
    agency_id: str
    agency: str
    level: str | None
    report_year: int
    verdict: Verdict
    report_id: int | None
    report_url: str | None
    flags: tuple[str, ...] = ()


def judge(catalog: Catalog, *, as_of: date, years: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
          agency_ids: Iterable[str] | None = None, rules: RuleSet | None = None,
          reader: CaptureReader | None = None) -> list[JudgedYear]:
    """Compute and store one verdict, its flags and its evidence per agency and report year.

    ``years``: the report years to judge for every agency, or a mapping agency id → years. The years an agency
    has reports for are always judged too. Years whose report is not due yet in any sense (year ≥ as_of's year)
    are skipped: a report for a year is written after the year ends. ``reader`` reads archived bytes (listing
    pages, unparsed versions); without it those checks are skipped and the evidence says so.
    """
    rules = rules or load_rules()
    wanted = set(agency_ids) if agency_ids is not None else None
    judged: list[JudgedYear] = []
    # Read from one snapshot, write each agency's verdicts in a short transaction of its own: reading archived
    # pages takes time, and a crawl writing to the same catalog must not wait for all of it.
    with catalog.reading() as session:
        view = _ArchiveView(session, reader)
        for agency in queries.list_agencies(session):
            if wanted is not None and agency.id not in wanted:
                continue
            reports = queries.reports_of_agency(session, agency.id, only_reports=True)
            by_year: dict[int, list[Report]] = {}
            for report in reports:
                if report.report_year is not None:
                    by_year.setdefault(report.report_year, []).append(report)
            extra = years.get(agency.id, ()) if isinstance(years, Mapping) else (years or ())
            computed = [_judge_year(view, agency, year, by_year.get(year, []), as_of, rules)
                        for year in sorted(set(by_year) | set(extra)) if year < as_of.year]
            if not computed:
                continue
            with catalog.session() as write:
                for result, stored in computed:
                    queries.upsert_verdict(write, **stored)
                    judged.append(result)
    return judged


def _judge_year(view: "_ArchiveView", agency: Agency, year: int, reports: list[Report], as_of: date,
                rules: RuleSet) -> tuple[JudgedYear, dict[str, Any]]:
    """The verdict and the keyword arguments of its ``upsert_verdict``."""
    chosen = _best_report(view.session, reports)
    publication = _publication_evidence(chosen) if chosen else None
    first_seen_at = view.first_ok(chosen.url) if chosen else None
    result = verdict(year, agency.level, as_of=as_of, publication=publication,
                     first_seen=beijing_date(first_seen_at) if chosen else None,
                     evidence=_all_evidence(chosen) if chosen else (), rules=rules, agency_id=agency.id)
    evidence = _evidence_bundle(view, chosen) if chosen else {}
    raised: dict[str, dict] = {}
    checks: dict[str, str] = {}
    if chosen is not None:
        raised, checks = view.flags(agency, year, chosen, result, first_seen_at, reports)
    evidence.update(raised)
    evidence["reason"] = result.reason
    if checks:
        evidence["checks"] = checks
    found = tuple(flag for flag in verdict_flags.FLAGS if flag in raised)
    stored = dict(agency_id=agency.id, report_year=year, status=result.status, deadline=result.deadline,
                  legal_basis=result.legal_basis, publication_date=result.publication_date,
                  date_source=result.date_source, days_late=result.days_late, first_seen=first_seen_at,
                  report_id=chosen.id if chosen else None, flags=found, evidence=evidence)
    return JudgedYear(agency.id, agency.name, agency.level, year, result, chosen.id if chosen else None,
                      chosen.url if chosen else None, found), stored


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
        "permalink": f"/captures/{report.capture_id}",
        "signing_date": report.signing_date.isoformat() if report.signing_date else None, "format": report.format,
        "consistency_errors": len((report.record_json or {}).get("consistency_errors") or []),
    }
    if capture is not None:
        bundle.update({"payload_sha256": capture.payload_sha256, "warc": _warc(capture),
                       "warc_key": capture.warc_key, "warc_offset": capture.offset, "warc_length": capture.length,
                       "captured_at": _iso(capture.timestamp)})
    shot = view.screenshot(report.url, capture.timestamp if capture is not None else None)
    bundle["screenshot"] = None if shot is None else {
        "capture_id": shot.id, "permalink": f"/captures/{shot.id}", "captured_at": _iso(shot.timestamp),
        "sha256": shot.payload_sha256, "mime": shot.mime, "warc": _warc(shot)}
    if shot is None:
        bundle["screenshot_note"] = ("存档中没有该报告页面的截图（只为 HTML 报告页面截图，PDF、Word 等附件没有；"
                                     "HTML 页面则可能是抓取时用了 --no-screenshots，或渲染失败）")
    return bundle


# ---------------------------------------------------------------- reading what the flags need

class _ArchiveView:
    """The catalog and archive as the flags need them, read once per ``judge()`` call and cached."""

    def __init__(self, session, reader: CaptureReader | None):
        self.session = session
        self.reader = reader
        self._agency_captures: dict[str, list[Capture]] = {}
        self._snapshots: dict[int, verdict_flags.ListingSnapshot | None] = {}
        self._items_by_payload: dict[tuple[str, str], tuple] = {}
        self._unreadable: dict[int, str] = {}       # capture id -> why it cannot be read
        self._touched_unreadable: set[int] = set()  # … of those, the ones the current verdict needed
        self._chosen_by_year: dict[int, dict[str, Report]] = {}
        self._indexes: dict[int, verdict_flags.TextIndex] = {}
        self._fingerprints: dict[int, frozenset[int]] = {}
        self._report_urls: dict[str, set[str]] = {}
        self._agency_names: dict[str, str] = {}

    # -- raw reads

    def read(self, row: Capture):
        """The archived capture, or None when it cannot be read (the reason goes to the log). Not cached:
        payloads can be large, and what is derived from them is."""
        if self.reader is None:
            return None
        if row.id in self._unreadable:
            self._touched_unreadable.add(row.id)
            return None
        try:
            return self.reader.read_row(row)
        except (CaptureError, ObjectStoreError) as exc:
            log.warning("flags: capture %s: %s", row.id, exc)
            self._unreadable[row.id] = str(exc)
            self._touched_unreadable.add(row.id)
            return None

    def page_captures(self, url: str) -> list[Capture]:
        return [row for row in queries.captures_of_url(self.session, url) if row.record_type != "resource"]

    def first_ok(self, url: str) -> datetime | None:
        """When the archive first got the document: a 404 before publication is not a sighting."""
        for row in self.page_captures(url):
            if row.status is not None and (200 <= row.status < 300 or row.status == 304):
                return row.timestamp
        return queries.first_seen(self.session, url)

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
              year_reports: list[Report]) -> tuple[dict[str, dict], dict[str, str]]:
        raised: dict[str, dict] = {}
        checks: dict[str, str] = {}
        self._touched_unreadable = set()
        for name, check in ((verdict_flags.BACKDATED, self._backdated), (verdict_flags.CHANGED, self._changed),
                            (verdict_flags.REMOVED, self._removed), (verdict_flags.COPIED, self._copied)):
            found, note = check(agency=agency, year=year, chosen=chosen, result=result, first_seen=first_seen,
                                year_reports=year_reports)
            if found is not None:
                raised[name] = found
            if note:
                checks[name] = note
        unreadable = sorted(self._touched_unreadable)
        if unreadable:
            first = unreadable[0]
            checks["archive"] = (f"{len(unreadable)} 个存档捕获无法读取（{', '.join(map(str, unreadable[:10]))}），"
                                 f"依赖它们的检查不完整；例如捕获 {first}：{self._unreadable[first]}")
        return raised, checks

    # -- backdated

    def _backdated(self, *, agency: Agency, chosen: Report, result: Verdict, first_seen: datetime | None,
                   year_reports: list[Report], **_) -> tuple[dict | None, str | None]:
        claimed = result.publication_date if result.date_source != "first_seen" else None
        if claimed is None or first_seen is None:
            return None, None
        if self.reader is None:
            return None, "没有档案读取器：未能解析存档的栏目页"
        start = datetime.combine(claimed, datetime.min.time(), BEIJING) - verdict_flags.SAME_LOOK
        end = first_seen + verdict_flags.SAME_LOOK
        report_urls = self.report_urls(agency.id)
        snapshots = []
        for row in self.agency_captures(agency.id):
            if start <= row.timestamp <= end and row.url not in report_urls:
                snapshot = self.listing_snapshot(row)
                if snapshot is not None:
                    snapshots.append(snapshot)
        if not snapshots:
            return None, None
        urls, titles = self._report_names(chosen, year_reports)
        found = verdict_flags.backdated(claimed=claimed, deadline=result.deadline, first_seen=first_seen,
                                        report_urls=urls, report_titles=titles, listings=snapshots)
        return found, None

    def agency_captures(self, agency_id: str) -> list[Capture]:
        if agency_id not in self._agency_captures:
            self._agency_captures[agency_id] = [
                row for row in queries.captures_by_agency(self.session, agency_id)
                if row.record_type in ("response", "revisit") and row.status == 200]
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
        mime = (row.mime or "").lower()
        if mime and not any(kind in mime for kind in _PAGE_MIMES):
            return None
        capture = self.read(row)
        if capture is None:
            return None
        role = capture.metadata.get("role")
        if role is not None and role not in LISTING_ROLES:
            return None  # the crawler knows what it fetched: a report, an attachment, a homepage
        key = (row.payload_sha256, row.url)
        if key not in self._items_by_payload:
            payload = capture.payload
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

    # -- changed

    def _changed(self, *, chosen: Report, **_) -> tuple[dict | None, str | None]:
        base_row = queries.get_capture(self.session, chosen.capture_id)
        if base_row is None:
            return None, None
        record = chosen.record_json or {}
        base = verdict_flags.Version(base_row.id, base_row.timestamp, base_row.payload_sha256,
                                     record.get("tables") or {}, chosen.text or record.get("text") or "")
        later = []
        unparsed = 0
        for row in self.page_captures(chosen.url):
            if row.timestamp <= base_row.timestamp or row.status is None or not 200 <= row.status < 300:
                continue
            if row.payload_sha256 == base_row.payload_sha256:
                later.append(verdict_flags.Version(row.id, row.timestamp, row.payload_sha256))
                continue
            tables, text = self._parsed(row)
            unparsed += tables is None
            later.append(verdict_flags.Version(row.id, row.timestamp, row.payload_sha256, tables, text))
        note = "没有档案读取器：较新的版本未能解析，只按摘要比较" if unparsed and self.reader is None else None
        return verdict_flags.changed(base, later), note

    def _parsed(self, row: Capture) -> tuple[dict | None, str | None]:
        """The parse of a capture: its report row (the crawler parses what it fetches), else parsed now."""
        report = queries.report_by_capture(self.session, row.refers_to_capture_id or row.id)
        if report is not None and report.error is None:
            data = report.record_json or {}
            return data.get("tables") or {}, report.text or data.get("text") or ""
        capture = self.read(row)
        if capture is None:
            return None, None
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
                   for error in queries.errors_of_url(self.session, chosen.url)]
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
        """Each agency's report for ``year``, chosen as the verdict chooses it."""
        if year not in self._chosen_by_year:
            rows = self.session.scalars(select(Report).where(Report.is_report.is_(True), Report.report_year == year,
                                                             Report.agency_id.is_not(None)))
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
