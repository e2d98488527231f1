"""Timeliness verdicts per agency × report year, with flags and evidence, computed from the catalog and archive.

The verdict itself is ``monitor.deadlines.verdict`` (pure, rules as data) and the flags are ``monitor.flags``
(pure). Two of its answers accuse an agency on what the archive lacks, so ``monitor.proof`` checks them here:

- ``missing`` stands only when the agency's report column was read after the deadline, reaching back to it
  (``proof.missing_proof`` over the crawl's coverage rows), and no listing the archive holds shows the year's
  report at an address the archive could not get; otherwise the year is ``undetermined``, the reason in words.
  A year whose report the archive got only later and which dates itself after ``as_of`` is ``missing`` on the
  agency's own word.
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
      "moved":     [{"relation": "moved" | "replaced", "gone", "from_url", "last_ok_capture_id", "last_ok_at",
                     "latest_failure": {…}, "url", "title", "report_id", "capture_id", "captured_at", "message"}, …]
                                                      # an address of the year's report failed since its last good
                                                      # answer (said it is gone: "gone"; or a 5xx, a timeout) while
                                                      # the report is online at another: no 已删除, not even 无法判断
                                                      # (only when there are)
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
      "listed_not_archived": [{"url", "title", "listing_url", "problem", "named_by"}, …]
                                                      # a read column lists the year's report, the archive lacks it:
                                                      # undetermined, not missing (only when there are such entries)
      "later_report": {"report_id", "report_url", "claimed_date", "first_seen", "backdated"?}
                                                      # no report by as_of, but the archive got one afterwards
    }

Judging reads the catalog alone, never a WARC record: what the checks took from the archived records is kept on
each capture's row when it is indexed (``storage.facts``: the crawler's role, the listing title, the redirect
origin, a listing page's entries), each report's text signature with the report (``monitor.copies``), and each
version of a report URL is the parse the crawler stored. A check that needs a fact the catalog does not have (a
capture indexed before the facts existed and not derived yet, or whose WARC record could not be read to derive
them; a differing version of the report nobody parsed) raises nothing and says so: its flag is listed in
``undetermined_flags`` and ``checks[flag]`` starts with 无法判断.

The agencies are judged in chunks of ``CHUNK``: each chunk's reports, captures of report URLs, fetch errors and
coverage rows are read in a few queries, its verdicts written in one transaction; copy detection runs first, a
report year at a time (``monitor.copies``).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from monitor import flags as verdict_flags
from monitor.addresses import fetch_events, no_document_ids
from monitor.choosing import best_report, printed_name, same_dates
from monitor.clock import today
from monitor.copies import CopyChecks
from monitor.deadlines import RuleSet, Verdict, load_rules, verdict
from monitor.labels import LISTED_BY_LABELS
from monitor.proof import archive_bound, missing_proof
from parsers.beijing import BEIJING, beijing_date, beijing_iso, end_of_beijing_day
from parsers.classify import NAMED_YEAR_HOWS, corrected_version, listed_report_year
from parsers.dates import PUBLICATION_PRIORITY
from parsers.discovery import ListingItem
from parsers.record import DateEvidence
from registry.agencies import names_agency
from storage.catalog import Catalog, queries
from storage.catalog.models import Agency, Capture, ColumnCoverage, CrawlRun, FetchError, Report
from storage.catalog.models import Verdict as VerdictRow
from storage.facts import UNREADABLE, LISTING_ROLES, RENDERED_DOM_PREFIX, may_be_page, rendered_page_url
from storage.screenshots import SCREENSHOT_PREFIX

CHUNK = 250                 # agencies judged together: their rows are read at once, their verdicts written at once
_IN_BATCH = 500             # values in one IN (…) list

# What the verdict reads of a report (its text only to compare versions, its signature never: monitor.copies has it)
_REPORT_COLUMNS = (Report.id, Report.agency_id, Report.url, Report.title, Report.report_year, Report.format,
                   Report.publication_date, Report.date_source, Report.signing_date, Report.capture_id,
                   Report.record_json)
# What the checks read of a capture: its index columns and its facts, never its bytes.
_CAPTURE_COLUMNS = (Capture.id, Capture.url, Capture.timestamp, Capture.status, Capture.mime, Capture.record_type,
                    Capture.payload_sha256, Capture.refers_to_capture_id, Capture.run_id, Capture.warc_key,
                    Capture.offset, Capture.length, Capture.role, Capture.listing_title, Capture.redirected_from,
                    Capture.facts_version, Capture.concurrent_to_capture_id)


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


Years = Iterable[int] | Mapping[str, Iterable[int]] | None


def is_current(as_of: date) -> bool:
    """Whether verdicts judged as of ``as_of`` are the ones to store. The stored verdicts are today's (Beijing):
    the web UI, ``xxgk reports`` and the alerts read them as current, and nothing else in a row says for which
    day it was judged. Another day's verdicts are computed and shown, never stored (``monitor.rows.rows_as_of``)."""
    return as_of == today()


def judge(catalog: Catalog, *, as_of: date, years: Years = None, agency_ids: Iterable[str] | None = None,
          rules: RuleSet | None = None, store: bool = True) -> list[JudgedYear]:
    """Compute one verdict, its flags and its evidence per agency and report year; store them unless
    ``store`` is false (judging as of another day than today must not replace the current verdicts).

    ``years``: the report years to judge for every agency, or a mapping agency id → years. The years an agency
    has reports for are always judged too. Years whose report is not due yet in any sense (year ≥ as_of's year)
    are skipped: a report for a year is written after the year ends.

    Only what the archive held by the end of ``as_of`` (Beijing) counts: a report first archived later did not
    exist yet, and later captures and fetch errors raise no flag. A day other than today is judged at its
    24:00, when evaluators check; today is judged as it stands, with the rest of the day still to come.
    """
    return list(judging(catalog, as_of=as_of, years=years, agency_ids=agency_ids, rules=rules, store=store))


def judge_and_store(catalog: Catalog, *, as_of: date, years: Years = None, agency_ids: Iterable[str] | None = None,
                    rules: RuleSet | None = None) -> int:
    """``judge`` and store, holding nothing (the full re-judge of a national catalog); returns how many verdicts."""
    return sum(1 for _result in judging(catalog, as_of=as_of, years=years, agency_ids=agency_ids, rules=rules))


def judging(catalog: Catalog, *, as_of: date, years: Years = None, agency_ids: Iterable[str] | None = None,
            rules: RuleSet | None = None, store: bool = True, copy_years: Iterable[int] | None = None,
            neighbours: tuple[Iterable[int], set[str]] | None = None) -> Iterator[JudgedYear]:
    """``judge`` one chunk of agencies at a time, yielding the verdicts as they are computed (and stored): a
    national re-judge holds one chunk, not a million verdicts. ``copy_years``: the only report years whose
    疑似雷同 can have changed since the stored verdicts (``monitor.rejudge``); the others keep the stored answer.
    ``neighbours``: (report ids, a set that receives the agencies copy detection pairs with those reports)."""
    rules = rules or load_rules()
    wanted = set(agency_ids) if agency_ids is not None else None
    day_over = not is_current(as_of)
    cutoff = end_of_beijing_day(as_of)
    # Read from one snapshot, write each chunk's verdicts in a short transaction of its own: a crawl writing to
    # the same catalog must not wait for the whole judgement.
    with catalog.reading() as session:
        agencies = _agencies(session, wanted)
        copies = CopyChecks(session, cutoff)
        copies.prepare(wanted, copy_years, neighbours[0] if neighbours else ())
        if neighbours:
            neighbours[1].update(copies.neighbours)
        for start in range(0, len(agencies), CHUNK):
            chunk = agencies[start:start + CHUNK]
            view = _ArchiveView(session, [agency.id for agency in chunk], cutoff=cutoff, copies=copies)
            computed: list[JudgedYear] = []
            for agency in chunk:
                seen, later = view.reports_by_year(agency.id)
                extra = years.get(agency.id, ()) if isinstance(years, Mapping) else (years or ())
                computed += [_judge_year(view, agency, year, seen.get(year, []), later.get(year, []), as_of,
                                         day_over, rules)
                             for year in judged_years(set(seen) | set(later), extra) if year < as_of.year]
            if store and computed:
                with catalog.session() as write:
                    queries.store_verdicts(write, [result.stored() for result in computed])
            yield from computed


def _agencies(session, wanted: set[str] | None) -> list:
    """The agencies to judge, by id: all of them, or those of ``wanted`` (a re-judge after a run asks for a few
    thousand of a national registry: read by id, not all of them read and sorted out)."""
    columns = (Agency.id, Agency.name, Agency.level, Agency.aliases)
    if wanted is None or len(wanted) > 20_000:
        return [row for row in session.execute(select(*columns).order_by(Agency.id))
                if wanted is None or row.id in wanted]
    rows = [row for condition in _in_list(Agency.id, wanted) for row in session.execute(select(*columns)
                                                                                         .where(condition))]
    return sorted(rows, key=lambda row: row.id)


def judged_years(report_years: Iterable[int], asked: Iterable[int]) -> list[int]:
    """The years an agency is judged for: those asked, and every year from its first report's through the latest
    of those (a year without a report between two with one, or after its last, is a year it may have missed; a
    year asked before its first report does not open the years between)."""
    reported, asked = set(report_years), set(asked)
    if not reported:
        return sorted(asked)
    return sorted(asked | set(range(min(reported), max(reported | asked) + 1)))


def _judge_year(view: "_ArchiveView", agency, year: int, reports: list[Report], later: list[Report],
                as_of: date, day_over: bool, rules: RuleSet) -> JudgedYear:
    """``reports``: the year's reports the archive held by the end of ``as_of``; ``later``: those it got after."""
    names = [agency.name, *(getattr(agency, "aliases", None) or ())]
    # a report found in the agency's column that prints another agency's name (a county column lists every
    # department's) is not the agency's: it neither clears the year nor is proof of its absence
    others = [report for report in reports if not names_agency(printed_agency(report), names)]
    reports = [report for report in reports if report not in others]
    later = [report for report in later if names_agency(printed_agency(report), names)]
    chosen = best_report(reports, offline=view.offline)
    publication = _publication_evidence(chosen) if chosen else None
    held_at = view.first_held(chosen, reports) if chosen else None
    # first seen as the report: an earlier 2xx at its address (the site's error page, a placeholder) was not it
    first_seen_at = (held_at or view.first_ok(chosen.url)) if chosen else None
    result = verdict(year, agency.level, as_of=as_of, publication=publication,
                     first_seen=beijing_date(first_seen_at) if first_seen_at else None,
                     evidence=_dates_of(view, agency.id, chosen, publication) if chosen else (),
                     rules=rules, agency_id=agency.id,
                     day_over=day_over, held_since=beijing_date(held_at) if held_at else None)
    if chosen is not None and result.status == "late":
        result = _late_by_a_correction(result, chosen, reports)
    evidence = _evidence_bundle(view, chosen) if chosen else {}
    unread_attachments = _attachments_unread(view, chosen) if chosen else []
    if unread_attachments:
        evidence["attachments_unread"] = unread_attachments
        result = replace(result, reason=f"{result.reason}{attachments_reason(unread_attachments)}。")
    raised: dict[str, dict] = {}
    checks: dict[str, str] = {}
    undetermined: list[str] = []
    if chosen is not None:
        raised, checks, undetermined = view.flags(agency, year, chosen, result, first_seen_at, reports)
        if verdict_flags.BACKDATED in raised:
            result = _by_archive_dates(result, raised[verdict_flags.BACKDATED], first_seen_at)
        moves = view.moves(reports)
        if moves:
            evidence["moved"] = moves
    elif result.status == "missing" and others:
        evidence["other_agency_reports"] = [{"report_id": report.id, "url": report.url, "title": report.title,
                                             "printed_agency": printed_agency(report)} for report in others]
        result = replace(result, status="undetermined", reason=f"{other_agency_reason(others, agency.name)}。")
    elif result.status == "missing":
        own_word = False
        if later:
            result, evidence["later_report"] = view.missing_then(agency, result, later, as_of)
            claimed = evidence["later_report"].get("claimed_date")
            own_word = claimed is not None and date.fromisoformat(claimed) > as_of
        if result.status == "missing":
            proof = missing_proof(view.coverage(agency.id), year=year, deadline=result.deadline, as_of=as_of,
                                  listed_years=view.listed_report_years(agency.id))
            evidence["coverage"] = proof.coverage
            evidence["missing_proof"] = {"proven": proof.proven, "problem": proof.problem}
            unread = view.listed_not_archived(agency.id, year, names=names) if proof.proven else []
            if unread:
                # the column lists the year's report, the archive could not get it: its absence proves nothing
                evidence["listed_not_archived"] = unread
                result = replace(result, status="undetermined", reason=f"{listed_reason(unread)}。{result.reason}")
            elif proof.proven:
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


# attachment kinds that hold a report's text (``parsers.record.Link.kind``): a landing page's "详见附件"
REPORT_FILE_KINDS = ("pdf", "doc", "docx", "wps", "ofd", "xls", "xlsx", "zip")


def _attachments_unread(view: "_ArchiveView", report: Report) -> list[dict[str, Any]]:
    """The attachments of a report page that is only its landing page (no report section, no table of its own),
    when the archive holds none of them readable: the year is judged by the page, but the report itself is not in
    the archive, and the verdict says so. Empty when the page is the report, or one of its files was read."""
    record = report.record_json or {}
    if record.get("source_format") != "html" or record.get("tables"):
        return []
    if len((record.get("template") or {}).get("sections_present") or ()) >= 2:
        return []
    links = [link for link in record.get("attachments") or ()
             if isinstance(link, Mapping) and link.get("kind") in REPORT_FILE_KINDS and isinstance(link.get("url"), str)]
    unread = []
    for link in links:
        problem = view.unread(link["url"])
        if problem is None:
            return []
        unread.append({"url": link["url"], "text": link.get("text") or "", "problem": problem})
    return unread


def attachments_reason(unread: list[Mapping[str, str]]) -> str:
    """What a verdict judged by a landing page whose attachments the archive could not get adds to its reason."""
    first = unread[0]
    more = f"等 {len(unread)} 个附件" if len(unread) > 1 else ""
    return (f"注意：报告页面只是附件的入口，附件“{first['text'] or first['url']}”（{first['url']}）{more}存档未能取到"
            f"（{first['problem']}），报告正文不在存档中，判定只依据页面本身")


# what the parsers call a 200 answer that holds no document: the site's error page, a blank or challenge page
NO_DOCUMENT_KINDS = ("error_page", "blank_page")


def _dates_of(view: "_ArchiveView", agency_id: str, report: Report,
              publication: DateEvidence | None) -> list[DateEvidence]:
    """Every date the archive holds for the report: its parse's, and, when its own date may not stand (none, one
    before its year ended, one after the earliest deadline), those its listings printed beside its address under
    another entry (a national judge reads them for the few reports that need them)."""
    own = _all_evidence(report)
    year = report.report_year
    if publication is not None and year is not None and date(year, 12, 31) < publication.value <= date(year + 1, 1, 31):
        return own
    known = {(item.value, item.source) for item in own}
    return own + [item for item in view.listed_dates(agency_id, report.url) if (item.value, item.source) not in known]


def printed_agency(report: Report) -> str | None:
    """The agency name the report prints of itself (its title, 填报单位 or 落款; not a page's 发布机构 box, which may
    name the office that put it online)."""
    record = report.record_json or {}
    return printed_name(record.get("agency"), record.get("agency_source"))


def other_agency_reason(others: list[Report], name: str) -> str:
    """Why a year whose only reports print another agency's name is not judged."""
    first = others[0]
    more = f"等 {len(others)} 份" if len(others) > 1 else ""
    return (f"无法判断：存档中该年度的报告（{first.url}）{more}署名为“{printed_agency(first)}”，不是“{name}”；"
            f"不能据此判断该机关按时发布，也不能证明其未发布。如果这是该机关的旧称或简称，请在名册的 aliases 中登记")


def _entry_date(entry: list) -> date | None:
    """The date a listing printed beside an entry (``storage.facts``' third field), if it kept one."""
    try:
        return date.fromisoformat(entry[2]) if len(entry) > 2 and entry[2] else None
    except (TypeError, ValueError):
        return None


# how ``_ArchiveView._unreadable`` begins the reason of an answer the archive holds but cannot read as a report
_HELD_BUT_UNREAD = ("取到的", "页面已存档", "跳转后")


def listed_reason(unread: list[Mapping[str, str]]) -> str:
    """Why a year whose column lists its report, which the archive could not get, is not proven missing."""
    first = unread[0]
    more = f"等 {len(unread)} 个条目" if len(unread) > 1 else ""
    named_by = first.get("named_by")
    how = f"（{LISTED_BY_LABELS[named_by]}）" if named_by in LISTED_BY_LABELS and named_by != "title" else ""
    # an address the archive holds an answer of, unreadable as a report, is not one it "did not get"
    got = "存档取到了该地址的答复，但读不出报告" if first["problem"].startswith(_HELD_BUT_UNREAD) else "但存档没有取到该报告"
    return (f"无法判断：年报栏目列出了“{first['title']}”{how}（{first['url']}）{more}，{got}"
            f"（{first['problem']}），不能证明该机关未发布报告")


def _late_by_a_correction(result: Verdict, chosen: Report, reports: list[Report]) -> Verdict:
    """A report whose title calls it corrected ("（更正）") was published before in another version: its date (or
    the day the archive first held it) is the correction's. With no other version of the year in the archive, when
    the report first went up is unknown, and the year is no proven 逾期."""
    marker = corrected_version(chosen.title)
    if marker is None or any(corrected_version(report.title) is None for report in reports if report is not chosen):
        return result
    return replace(result, status="undetermined", days_late=None,
                   reason=f"无法判断：报告标题写明是更正后的版本（“{marker}”），它的日期是更正版本的日期；更正前的原版本"
                          f"何时发布，存档中没有记录，不能证明逾期。{result.reason}")


def _by_archive_dates(result: Verdict, backdated: Mapping[str, Any], first_seen: datetime | None) -> Verdict:
    """The verdict of a report whose claimed date a listing capture proved false: the archive's dates decide."""
    if result.deadline is None or first_seen is None:
        return result  # no rule to judge by (already undetermined), or nothing seen: nothing to bound
    bound = archive_bound(claimed=date.fromisoformat(backdated["claimed_date"]), deadline=result.deadline,
                          backdated=backdated, first_seen=first_seen)
    return replace(result, status=bound.status, publication_date=beijing_date(first_seen), date_source="first_seen",
                   days_late=bound.days_late, reason=bound.reason)


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


def _warc(capture) -> dict[str, Any]:
    return {"key": capture.warc_key, "offset": capture.offset, "length": capture.length}


def _evidence_bundle(view: "_ArchiveView", report: Report) -> dict:
    capture = view.capture(report.url, report.capture_id)
    bundle: dict[str, Any] = {
        "report_id": report.id, "report_url": report.url, "title": report.title, "capture_id": report.capture_id,
        "signing_date": report.signing_date.isoformat() if report.signing_date else None, "format": report.format,
        "consistency_errors": len((report.record_json or {}).get("consistency_errors") or []),
    }
    if capture is not None:
        bundle.update({"payload_sha256": capture.payload_sha256, "warc": _warc(capture),
                       "warc_key": capture.warc_key, "warc_offset": capture.offset, "warc_length": capture.length,
                       "captured_at": _iso(capture.timestamp)})
    shows = {report.capture_id} | ({capture.refers_to_capture_id} if capture is not None else set())
    shot = view.screenshot(report.url, capture.timestamp if capture is not None else None, shows - {None})
    bundle["screenshot"] = None if shot is None else {
        "capture_id": shot.id, "captured_at": _iso(shot.timestamp), "shows_capture_id": shot.concurrent_to_capture_id,
        "sha256": shot.payload_sha256, "mime": shot.mime, "warc": _warc(shot)}
    if shot is None:
        bundle["screenshot_note"] = ("存档中没有该报告页面的截图（只为 HTML 报告页面截图，PDF、Word 等附件没有；"
                                     "HTML 页面则可能是抓取时用了 --no-screenshots，或渲染失败）")
    return bundle


# ---------------------------------------------------------------- reading what the flags need

class _CannotTell(Exception):
    """A check could not run (a fact it needs is not in the catalog): its flag is undetermined, not absent."""


def _newest_per_address(reports: Iterable[Report]) -> list[Report]:
    """One report per address: the one parsed from its newest capture (the address's current document)."""
    newest: dict[str, Report] = {}
    for report in reports:
        if report.url not in newest or report.capture_id > newest[report.url].capture_id:
            newest[report.url] = report
    return list(newest.values())


def _in_list(column, values: Iterable) -> Iterator[Any]:
    """``column IN (…)`` conditions over batches of ``values``."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _IN_BATCH):
        yield column.in_(ordered[start:start + _IN_BATCH])


class _ArchiveView:
    """The catalog as the flags need it for one chunk of agencies, read in a few queries and kept for the chunk.

    Only what the archive held by ``cutoff`` counts: captures, fetch errors and reports after it are left out.
    """

    def __init__(self, session, agency_ids: list[str], *, cutoff: datetime, copies: CopyChecks):
        self.session = session
        self.cutoff = cutoff
        self.copies = copies
        # plain rows, not ORM objects: a national judge reads millions (the text only when a version is compared)
        self._reports: dict[str, list[tuple[Any, datetime]]] = {agency_id: [] for agency_id in agency_ids}
        for condition in _in_list(Report.agency_id, agency_ids):
            query = (select(*_REPORT_COLUMNS, Capture.timestamp).join(Capture, Capture.id == Report.capture_id)
                     .where(condition, Report.is_report.is_(True)).order_by(Report.report_year, Report.id))
            for row in session.execute(query):
                self._reports[row.agency_id].append((row, row.timestamp))
        urls = {report.url for rows in self._reports.values() for report, _at in rows}
        self._captures: dict[str, list] = {}
        wanted = urls | {SCREENSHOT_PREFIX + url for url in urls}
        for condition in _in_list(Capture.url_hash, map(queries.url_hash, wanted)):
            for row in session.execute(select(*_CAPTURE_COLUMNS).where(condition)):
                if row.url in wanted:
                    self._captures.setdefault(row.url, []).append(row)
        for rows in self._captures.values():
            rows.sort(key=lambda row: (row.timestamp, row.id))
        self._errors: dict[str, list] = {}
        errors = FetchError.__table__
        for condition in _in_list(errors.c.url_hash, map(queries.url_hash, urls)):
            for error in session.execute(select(errors).where(condition)):
                if error.url in urls:
                    self._errors.setdefault(error.url, []).append(error)
        self._coverage: dict[str, list] = {}
        coverage = ColumnCoverage.__table__
        # a failed run's reads prove nothing (its Redis state vanished mid-run: what it meant to read is unknown)
        failed = select(CrawlRun.id).where(CrawlRun.status == "failed")
        for condition in _in_list(coverage.c.agency_id, agency_ids):
            for row in session.execute(select(coverage).where(condition, coverage.c.run_id.not_in(failed))
                                       .order_by(coverage.c.read_at, coverage.c.id)):
                self._coverage.setdefault(row.agency_id, []).append(row)
        # the stored 疑似雷同 answer of the years copy detection did not check again (an incremental re-judge)
        self._stored_copies: dict[tuple[str, int], tuple[dict | None, str | None]] = {}
        if copies.years is not None:
            for condition in _in_list(VerdictRow.agency_id, agency_ids):
                for agency_id, year, evidence in session.execute(
                        select(VerdictRow.agency_id, VerdictRow.report_year, VerdictRow.evidence).where(condition)):
                    evidence = evidence or {}
                    self._stored_copies[(agency_id, year)] = (evidence.get(verdict_flags.COPIED),
                                                              (evidence.get("checks") or {}).get(verdict_flags.COPIED))
        self._listings: dict[tuple[str, datetime, datetime], list] = {}
        self._listed: dict[str, list[tuple[str, str, date | None, str, str | None, datetime]]] = {}
        self._listed_dates: dict[str, dict[str, list[DateEvidence]]] = {}
        self._listed_years: dict[str, set[int]] = {}
        self._named: dict[str, list] = {}
        self._originals: dict[int, Any] = {}
        self._events: dict[int, list] = {}             # report id -> the attempts at its address
        self._unknown: dict[int, str] = {}             # capture id -> why its facts are not in the catalog
        self._unknown_rows: dict[int, Any] = {}
        self._touched_unknown: set[int] = set()        # … of those, the ones the current check needed

    def _in_time(self, rows: Iterable) -> list:
        return [row for row in rows if row.timestamp <= self.cutoff]

    def reports_by_year(self, agency_id: str) -> tuple[dict[int, list[Report]], dict[int, list[Report]]]:
        """The agency's reports by report year: those archived by the cut-off, and those archived after it."""
        seen: dict[int, list[Report]] = {}
        later: dict[int, list[Report]] = {}
        for report, captured_at in self._reports.get(agency_id, ()):
            if report.report_year is None:
                continue
            target = seen if captured_at <= self.cutoff else later
            target.setdefault(report.report_year, []).append(report)
        return seen, later

    def report_urls(self, agency_id: str) -> set[str]:
        """URLs of the agency's reports: a report page is never one of its listings."""
        return {report.url for report, _at in self._reports.get(agency_id, ())}

    def captures_of(self, url: str) -> list:
        return self._captures.get(url, [])

    def capture(self, url: str, capture_id: int):
        return next((row for row in self.captures_of(url) if row.id == capture_id), None)

    def page_captures(self, url: str) -> list:
        return self._in_time(row for row in self.captures_of(url) if row.record_type != "resource")

    def first_ok(self, url: str, *, in_time: bool = True) -> datetime | None:
        """When the archive first got the document: a 404 before publication is not a sighting."""
        rows = [row for row in self.captures_of(url) if row.record_type != "resource"]
        if in_time:
            rows = self._in_time(rows)
        for row in rows:
            if row.status is not None and (200 <= row.status < 300 or row.status == 304):
                return row.timestamp
        return rows[0].timestamp if rows else None

    def first_held(self, report: Report, reports: Iterable[Report], *, in_time: bool = True) -> datetime | None:
        """When the archive first held ``report`` as a report of its year: the earliest capture of its URL that one
        of ``reports`` was parsed from (an earlier capture of the address may have been something else), or of
        another address it was parsed from with the same dates (the report before its column moved)."""
        reports = list(reports)
        held = [other for other in reports if other.url == report.url] + same_dates(report, reports)
        parsed = {other.capture_id for other in held}
        urls = {other.url for other in held}
        rows = [row for url in urls for row in (self.page_captures(url) if in_time else self.captures_of(url))]
        return min((row.timestamp for row in rows if row.id in parsed), default=None)

    def errors_of(self, url: str) -> list[FetchError]:
        return sorted((error for error in self._errors.get(url, ()) if error.at <= self.cutoff),
                      key=lambda error: error.at)

    def coverage(self, agency_id: str) -> list[ColumnCoverage]:
        """What the crawls read of the agency's report column (``missing_proof`` keeps only reads by as_of)."""
        return self._coverage.get(agency_id, [])

    def screenshot(self, url: str, near: datetime | None, shows: set[int] = frozenset()):
        """The screenshot for the evidence: one of a capture in ``shows`` (the report's own capture, or the
        original holding its payload) if there is one, else the one taken nearest ``near``."""
        shots = [row for row in self.captures_of(SCREENSHOT_PREFIX + url) if row.record_type == "resource"]
        if not shots:
            return None
        exact = [row for row in shots if row.concurrent_to_capture_id in shows]
        if exact:
            return exact[0]
        if near is None:
            return shots[0]
        return min(shots, key=lambda row: (abs(row.timestamp - near), row.id))

    # -- facts

    def _known(self, row) -> bool:
        """Whether the catalog has the capture's facts; if not, the current check must say it could not tell."""
        if row.facts_version is not None and row.facts_version > UNREADABLE:   # any version: a later one adds
            return True
        if row.id not in self._unknown:
            self._unknown[row.id] = ("其 WARC 记录无法读取，判定所需的事实未能补录" if row.facts_version is not None
                                     else "判定所需的事实尚未从 WARC 补录（下一次 xxgk status 或 xxgk crawl 会补录）")
            self._unknown_rows[row.id] = row
        self._touched_unknown.add(row.id)
        return False

    # -- all flags of one verdict

    def flags(self, agency, year: int, chosen: Report, result: Verdict, first_seen: datetime | None,
              year_reports: list[Report]) -> tuple[dict[str, dict], dict[str, str], list[str]]:
        """The raised flags with their evidence, the notes on checks, and the flags that could not be checked."""
        raised: dict[str, dict] = {}
        checks: dict[str, str] = {}
        undetermined: list[str] = []
        unknown: set[int] = set()
        for name, check in ((verdict_flags.BACKDATED, self._backdated), (verdict_flags.CHANGED, self._changed),
                            (verdict_flags.REMOVED, self._removed), (verdict_flags.COPIED, self._copied)):
            self._touched_unknown = set()
            try:
                found, note = check(agency=agency, year=year, chosen=chosen, result=result, first_seen=first_seen,
                                    year_reports=year_reports)
                if self._touched_unknown and (found is None or not self._proof_stands(name, found, chosen,
                                                                                      year_reports)):
                    raise _CannotTell(self._unknown_note())
            except _CannotTell as exc:
                found, note = None, f"无法判断：{exc}"
                undetermined.append(name)
            unknown |= self._touched_unknown
            if found is not None:
                raised[name] = found
            if note:
                checks[name] = note
        if unknown:
            ids = sorted(unknown)
            checks["archive"] = (f"{len(ids)} 个存档捕获的判定事实缺失（{', '.join(map(str, ids[:10]))}），"
                                 f"依赖它们的检查不完整；例如捕获 {ids[0]}：{self._unknown[ids[0]]}")
        return raised, checks, undetermined

    def _unknown_note(self) -> str:
        ids = sorted(self._touched_unknown)
        return (f"所需的 {len(ids)} 个存档捕获缺少判定事实（{', '.join(map(str, ids[:10]))}），"
                f"例如捕获 {ids[0]}：{self._unknown[ids[0]]}")

    def _proof_stands(self, name: str, found: dict, chosen: Report, year_reports: list[Report]) -> bool:
        """A flag found although some facts are missing: does the missing part leave its proof whole?

        ``changed`` compares known versions only, so a change it found is real. A ``backdated`` proof falls when
        the missing facts were the report's own (its other names) or another page of the same look at the column
        (which may have listed it)."""
        if name != verdict_flags.BACKDATED:
            return True
        own = {report.capture_id for report in [chosen, *year_reports]}
        proof = self._window_row(found["listing_capture_id"])
        for capture_id in self._touched_unknown:
            row = self._unknown_rows.get(capture_id)
            if capture_id in own or row is None or proof is None:
                return False
            if row.run_id == proof.run_id and abs(row.timestamp - proof.timestamp) <= verdict_flags.SAME_LOOK:
                return False
        return True

    # -- backdated

    def _backdated(self, *, agency, chosen: Report, result: Verdict, first_seen: datetime | None,
                   year_reports: list[Report], **_) -> tuple[dict | None, str | None]:
        claimed = result.publication_date if result.date_source != "first_seen" else None
        return self.backdated_proof(agency, chosen, claimed, result.deadline, first_seen, year_reports), None

    def backdated_proof(self, agency, chosen: Report, claimed: date | None, deadline: date | None,
                        first_seen: datetime | None, year_reports: list[Report]) -> dict | None:
        """The listing capture (by the cut-off) that proves the claimed date false, if the archive has one."""
        if claimed is None or first_seen is None:
            return None
        start = datetime.combine(claimed, datetime.min.time(), BEIJING) - verdict_flags.SAME_LOOK
        end = first_seen + verdict_flags.SAME_LOOK
        if first_seen <= end_of_beijing_day(claimed):
            return None  # seen on the day it claims: no listing between the two can prove anything
        report_urls = self.report_urls(agency.id)
        candidates = [row for row in self._listing_window(agency.id, start, end)
                      if row.url not in report_urls and may_be_page(row.mime)]
        snapshots = [snapshot for snapshot in map(self.listing_snapshot, candidates) if snapshot is not None]
        if not snapshots:
            return None
        urls, titles = self._report_names(chosen, year_reports)
        failed_runs = {row.run_id for row in self.coverage(agency.id) if row.errors}
        return verdict_flags.backdated(claimed=claimed, deadline=deadline, first_seen=first_seen,
                                       report_urls=urls, report_titles=titles, listings=snapshots,
                                       failed_runs=failed_runs)

    def _listing_window(self, agency_id: str, start: datetime, end: datetime) -> list:
        """The agency's successful captures between ``start`` and ``end`` (and by the cut-off)."""
        key = (agency_id, start, end)
        if key not in self._listings:
            query = (select(*_CAPTURE_COLUMNS, Capture.listing_items)
                     .where(Capture.agency_id == agency_id, Capture.timestamp >= start,
                            Capture.timestamp <= min(end, self.cutoff), Capture.status == 200,
                            Capture.record_type.in_(("response", "revisit")))
                     .order_by(Capture.id))
            self._listings[key] = list(self.session.execute(query))
        return self._listings[key]

    def _window_row(self, capture_id: int):
        return next((row for rows in self._listings.values() for row in rows if row.id == capture_id), None)

    def listing_snapshot(self, row) -> verdict_flags.ListingSnapshot | None:
        if not self._known(row):
            return None
        if row.role is not None and row.role not in LISTING_ROLES:
            return None  # the crawler knows what it fetched: a report, an attachment, a homepage
        entries = row.listing_items
        if row.record_type == "revisit":
            original = self._original(row.refers_to_capture_id)
            if original is None or not self._known(original):
                return None
            entries = original.listing_items
        if not entries:
            return None  # not a page of a report listing (no entry looks like a report)
        items = tuple(ListingItem(url=entry[0], title=entry[1], date_raw=None, date=_entry_date(entry))
                      for entry in entries)
        return verdict_flags.ListingSnapshot(row.id, row.url, row.timestamp, row.run_id, items,
                                             "role" if row.role is not None else "parsing")

    def _original(self, capture_id: int | None):
        if capture_id is None:
            return None
        if capture_id not in self._originals:
            self._originals[capture_id] = self.session.execute(
                select(*_CAPTURE_COLUMNS, Capture.listing_items).where(Capture.id == capture_id)).first()
        return self._originals[capture_id]

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
            row = self.capture(report.url, report.capture_id)
            if row is not None and self._known(row):
                urls.extend(value for value in (row.redirected_from,) if value)
                titles.extend(value for value in (row.listing_title,) if value)
        return urls, titles

    # -- a year without a report by the cut-off, whose report its column lists

    def listed_not_archived(self, agency_id: str, year: int, names: Iterable[str] = ()) -> list[dict[str, str]]:
        """Entries of the agency's report listings (captures by the cut-off) that name the year's report, or may be
        it (``parsers.classify.listed_report_year``: by the title, a title cut short, a title without a year at an
        address naming the year, listed after the year or with no date, a year alone on the report column's page),
        at an address the archive got no page from by the cut-off: its fetch failed, it answered the site's error
        page or a file nobody can read, or it was never asked; or the archive holds the report there under another
        agency id while it prints one of ``names`` (the agency's name, aliases: the registry renamed its id).
        [{"url", "title", "listing_url", "problem",
        "named_by": "title" | "cut" | "address" | "date" | "undated" | "year"}]."""
        listed: dict[str, tuple[str, str, str]] = {}
        for (url, title, listed_on, listing_url, role, read_at), (named, how) in self._named_entries(agency_id):
            if how == "date":   # a report may come out years late: any year up to the one before its listing date
                may_be = year <= named
            elif how == "undated":   # … or, with no date, before the listing was read
                may_be = year < beijing_date(read_at).year
            else:
                may_be = named == year
            if may_be and url not in listed:
                listed[url] = (title, listing_url, how)
        found = []
        for url, (title, listing_url, how) in listed.items():
            problem = self.unread(url)
            if problem is None and names:
                problem = self._held_by_another_id(url, agency_id, list(names))
            if problem is None and how in ("title", "cut") and self._kind_of(url) == "report_news":
                # news that the year's report came out (or a note about it): the report itself is elsewhere
                problem = "取到的页面是关于该年度报告的新闻或说明，报告本身不在存档中"
            if problem is None and how == "year":
                # read, and not the year's report (the year has none): the year's part of the column, whose own
                # entries the crawl fetched as a document, not as a listing
                problem = "取到的页面不是该年度的报告，可能是该年度的分栏目，其中的条目没有按栏目读取"
            if problem is not None:
                found.append({"url": url, "title": title, "listing_url": listing_url, "problem": problem,
                              "named_by": how})
        return found

    def _held_by_another_id(self, url: str, agency_id: str, names: list[str]) -> str | None:
        """Why the report at ``url``, printing this agency's name, does not count for it: the archive attributed it
        to another agency id (the registry gave the agency a new id; reports archived before keep the old)."""
        rows = self.session.execute(
            select(Report.agency_id, Report.record_json).join(Capture, Capture.id == Report.capture_id).where(
                Capture.url_hash == queries.url_hash(url), Capture.url == url, Capture.timestamp <= self.cutoff,
                Report.is_report.is_(True))).all()
        if not rows or any(row.agency_id == agency_id for row in rows):
            return None
        other = rows[-1]
        record = other.record_json or {}
        printed = record.get("agency") if record.get("agency_source") in ("title", "填报单位", "signature") else None
        if printed and names_agency(printed, names):
            return (f"存档中该地址的报告记在机关编号“{other.agency_id}”名下，署名却是本机关："
                    f"登记册若改过该机关的编号，旧编号下存档的报告不计入新编号")
        return None

    def _kind_of(self, url: str) -> str | None:
        """What the parsers read the page at ``url`` as (its latest parse by the cut-off)."""
        return self.session.scalar(
            select(Report.kind).join(Capture, Capture.id == Report.capture_id).where(
                Capture.url_hash == queries.url_hash(url), Capture.url == url, Capture.timestamp <= self.cutoff)
            .order_by(Capture.timestamp.desc()).limit(1))

    def listed_dates(self, agency_id: str, url: str) -> list[DateEvidence]:
        """The dates the agency's listings printed beside this very address (its parse kept only the entry it was
        fetched for: another entry, a redirect's, may have led there first)."""
        if agency_id not in self._listed_dates:
            by_url: dict[str, list[DateEvidence]] = {}
            for entry_url, title, listed_on, _, _, _ in self._listed_entries(agency_id):
                if listed_on is not None:
                    by_url.setdefault(entry_url, []).append(
                        DateEvidence(listed_on, "listing", listed_on.isoformat(), title or None))
            self._listed_dates[agency_id] = by_url
        return self._listed_dates[agency_id].get(url, [])

    def listed_report_years(self, agency_id: str) -> set[int]:
        """The report years the agency's listings name (by title, a cut title, the address or a year alone)."""
        if agency_id not in self._listed_years:
            self._listed_years[agency_id] = {named for _, (named, how) in self._named_entries(agency_id)
                                             if named is not None and how in NAMED_YEAR_HOWS}
        return self._listed_years[agency_id]

    def _named_entries(self, agency_id: str) -> list[tuple[tuple, tuple[int | None, str | None]]]:
        """Each listing entry with the report year it may be and what says so (``listed_report_year``), read once
        for the agency: every year judged asks it."""
        if agency_id not in self._named:
            self._named[agency_id] = [
                (entry, listed_report_year(entry[1], entry[0], in_column=entry[4] in LISTING_ROLES,
                                           listed_on=entry[2]))
                for entry in self._listed_entries(agency_id)]
        return self._named[agency_id]

    def _listed_entries(self, agency_id: str) -> list[tuple[str, str, date | None, str, str | None, datetime]]:
        """(url, title, the date the listing gave it, listing url, its role, when the listing was read) of every
        entry of the agency's report listings archived by the cut-off. A revisit lists what its original does; a
        capture whose facts are not derived yet lists nothing."""
        if agency_id not in self._listed:
            # asked of most agencies of a chunk (their reports' listing dates, their columns' reach): read for all
            # of them at once, one query per chunk rather than one per agency
            wanted = [agency for agency in self._reports if agency not in self._listed] or [agency_id]
            for agency in wanted:
                self._listed[agency] = []
            for condition in _in_list(Capture.agency_id, wanted):
                # a listing as served, or as the crawler's browser drew it (a rendered DOM, its script's JSON)
                query = (select(Capture.agency_id, Capture.url, Capture.role, Capture.listing_items, Capture.timestamp)
                         .where(condition, Capture.timestamp <= self.cutoff, Capture.listing_items.isnot(None),
                                or_(and_(Capture.record_type == "response", Capture.status == 200),
                                    Capture.record_type == "resource"))
                         .order_by(Capture.id))
                # a revisit lists what its original does: the original's row counts above, unless it is another
                # agency's (the registry renamed the agency's id; the column did not change)
                original = aliased(Capture)
                revisits = (select(Capture.agency_id, Capture.url, Capture.role, original.listing_items,
                                   Capture.timestamp)
                            .join(original, original.id == Capture.refers_to_capture_id)
                            .where(condition, Capture.timestamp <= self.cutoff, Capture.record_type == "revisit",
                                   Capture.status == 200, original.listing_items.isnot(None),
                                   original.agency_id != Capture.agency_id)
                            .order_by(Capture.id))
                for row in [*self.session.execute(query), *self.session.execute(revisits)]:
                    listing_url, role = row.url, row.role
                    if row.url.startswith(RENDERED_DOM_PREFIX):   # the column the browser drew: named by its page
                        listing_url, role = rendered_page_url(row.url).split("#page=")[0], "listing"
                    self._listed.setdefault(row.agency_id, []).extend(
                        (entry[0], entry[1], _entry_date(entry), listing_url, role, row.timestamp)
                        for entry in row.listing_items or () if len(entry) in (2, 3))
        return self._listed.get(agency_id, [])

    def unread(self, url: str) -> str | None:
        """Why the archive holds no page of ``url`` by the cut-off (the site's error page answered with 200, or a file
        that cannot be read, or either reached by a redirect; else its last fetch error, its last answer, or never
        asked); None when it holds one."""
        hashed = queries.url_hash(url)
        answers = [row for row in self.session.execute(
            select(Capture.id, Capture.status, Capture.timestamp, Capture.record_type).where(
                Capture.url_hash == hashed, Capture.url == url, Capture.timestamp <= self.cutoff,
                Capture.record_type.in_(("response", "revisit"))).order_by(Capture.timestamp))]
        read = [row for row in answers if row.status is not None and (200 <= row.status < 300 or row.status == 304)]
        if read:
            return self._unreadable([row.id for row in read if row.record_type == "response"])
        if any(row.status is not None and 300 <= row.status < 400 for row in answers):
            landed = list(self.session.scalars(
                select(Capture.id).where(Capture.redirected_from == url, Capture.status == 200,
                                         Capture.record_type == "response", Capture.timestamp <= self.cutoff)))
            if landed:   # it redirected to a page the archive holds (not the year's report), or to an error page
                problem = self._unreadable(landed)
                return f"跳转后{problem}" if problem else None
        error = self.session.execute(
            select(FetchError.kind, FetchError.message).where(
                FetchError.url_hash == hashed, FetchError.url == url, FetchError.at <= self.cutoff)
            .order_by(FetchError.at.desc()).limit(1)).first()
        if error is not None:
            return error.message or error.kind
        if answers:
            return f"HTTP {answers[-1].status}"
        return "没有抓取"

    def _unreadable(self, capture_ids: list[int]) -> str | None:
        """Why none of these captures (the 2xx answers of one address) holds a readable document: each parsed as
        the site's error page ("页面不存在", a block page, answered with 200) or could not be parsed (a truncated PDF,
        a damaged file), or none was parsed; None when one holds a document. A revisit repeats an earlier
        answer's bytes: it adds nothing here."""
        if not capture_ids:
            return None
        parsed = self.session.execute(select(Report.capture_id, Report.kind, Report.error, Report.record_json)
                                      .where(Report.capture_id.in_(capture_ids)).order_by(Report.capture_id)).all()
        if any(row.kind not in NO_DOCUMENT_KINDS and row.error is None for row in parsed):
            return None
        if not parsed:
            # archived and never parsed (a page Scrapy's meta refresh replaced by its target was): nobody read it
            return "页面已存档，但没有解析结果"
        last = parsed[-1]
        if last.error is not None:
            return f"取到的文件无法读取：{last.error}"
        what = "空白页或验证页" if last.kind == "blank_page" else "网站的错误页"
        reason = ((last.record_json or {}).get("kind_reason") or "").rstrip("。")
        return f"取到的是{what}：{reason}" if reason else f"取到的是{what}"

    # -- a year without a report by the cut-off, whose report the archive got later

    def missing_then(self, agency, result: Verdict, later: list[Report],
                     as_of: date) -> tuple[Verdict, dict[str, Any]]:
        """A ``missing`` verdict as of a past day, while the archive got the year's report afterwards.

        The report's own date decides: a date after ``as_of`` confirms it was not out yet; a date on or before
        it is a claim the archive did not see — it stands unless a listing capture by ``as_of`` proves it false
        (倒签); otherwise the archive cannot tell, and the verdict is undetermined, not an accusation."""
        report = best_report(later)
        publication = _publication_evidence(report)
        claimed = publication.value if publication is not None and publication.source in PUBLICATION_PRIORITY else None
        first_seen = self.first_held(report, later, in_time=False) or self.first_ok(report.url, in_time=False)
        seen_day = beijing_date(first_seen).isoformat() if first_seen else "之后"
        info: dict[str, Any] = {"report_id": report.id, "report_url": report.url, "title": report.title,
                                "claimed_date": claimed.isoformat() if claimed else None,
                                "first_seen": beijing_iso(first_seen)}
        if claimed is not None and claimed > as_of:
            return replace(result, reason=f"{result.reason}存档 {seen_day} 首次见到的报告自称 {claimed.isoformat()} "
                                          f"发布，晚于 {as_of.isoformat()}。"), info
        self._touched_unknown = set()
        try:
            proof = self.backdated_proof(agency, report, claimed, result.deadline, first_seen, later)
            if proof is not None and self._touched_unknown and not self._proof_stands(
                    verdict_flags.BACKDATED, proof, report, later):
                raise _CannotTell(self._unknown_note())
            why_not = (self._unknown_note() if self._touched_unknown
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
        base_row = self.capture(chosen.url, chosen.capture_id)
        if base_row is None:
            return None, None
        versions = [row for row in self.page_captures(chosen.url)
                    if row.timestamp > base_row.timestamp and row.status is not None and 200 <= row.status < 300]
        if all(row.payload_sha256 == base_row.payload_sha256 for row in versions):
            return None, None  # the same bytes every time: nothing to compare
        # the site's error page, a blank or challenge page: no version of the report (``removed`` says what it was)
        error_pages = no_document_ids(self.session, versions, base_row.payload_sha256, NO_DOCUMENT_KINDS)
        versions = [row for row in versions if row.id not in error_pages]
        record = chosen.record_json or {}
        base = verdict_flags.Version(base_row.id, base_row.timestamp, base_row.payload_sha256,
                                     record.get("tables") or {}, self._text(chosen.id, record))
        later = []
        unparsed = 0
        parses = self._parses([row.refers_to_capture_id or row.id for row in versions
                               if row.payload_sha256 != base_row.payload_sha256])
        for row in versions:
            if row.payload_sha256 == base_row.payload_sha256:
                later.append(verdict_flags.Version(row.id, row.timestamp, row.payload_sha256))
                continue
            parsed = parses.get(row.refers_to_capture_id or row.id)
            if parsed is None:
                unparsed += 1  # compared by digest alone it could be a changed page counter: left out
                continue
            later.append(verdict_flags.Version(row.id, row.timestamp, row.payload_sha256, *parsed))
        found = verdict_flags.changed(base, later)
        if unparsed and found is None:
            raise _CannotTell(f"{unparsed} 个内容不同的较新版本没有解析记录（抓取时未解析），无法与原版本比较")
        return found, None

    def _text(self, report_id: int, record: Mapping[str, Any]) -> str:
        """A report's text (deferred when the chunk was read: only a version comparison needs it)."""
        text = self.session.scalar(select(Report.text).where(Report.id == report_id))
        return text or record.get("text") or ""

    def _parses(self, capture_ids: list[int]) -> dict[int, tuple[dict | None, str | None]]:
        """The parse the crawler stored for each of these captures (a revisit's: its original's), read in one
        query: capture id -> (tables, text), or (None, None) when it did not parse; absent when nobody parsed it."""
        found: dict[int, tuple[dict | None, str | None]] = {}
        for condition in _in_list(Report.capture_id, capture_ids):
            for capture_id, error, record, text in self.session.execute(
                    select(Report.capture_id, Report.error, Report.record_json, Report.text).where(condition)
                    .order_by(Report.id)):
                if capture_id in found:
                    continue
                record = record or {}
                found[capture_id] = ((None, None) if error is not None
                                     else (record.get("tables") or {}, text or record.get("text") or ""))
        return found

    # -- removed

    def _removed(self, *, agency, chosen: Report, year_reports: list[Report], **_) -> tuple[dict | None, str | None]:
        evidence = self.removal(chosen)
        if evidence is not None and self.moved(chosen, year_reports) is not None:
            return None, None   # online at another address: evidence "moved" says where (``moves``)
        if evidence is not None and not evidence["gone"]:
            # a network error, a server error or a block after the last success: the report may well be there
            raise _CannotTell(f"{evidence['message']}这不能说明报告已被删除（网站没有答复“页面不存在”）")
        if evidence is not None:
            down = self.site_down_when_gone(agency.id, chosen)
            if down is not None:
                raise _CannotTell(f"{evidence['message']}但{down}：整个网站当时不可用，这不能说明报告已被删除")
            relisted = self.listed_elsewhere(agency.id, chosen, year_reports, evidence)
            if relisted is not None:
                raise _CannotTell(f"{evidence['message']}但 {relisted[0]} 的栏目页仍列出该报告，链接到新地址 "
                                  f"{relisted[1]}，存档没有取得该地址的报告：这不能说明报告已被删除")
        return evidence, None

    def site_down_when_gone(self, agency_id: str, chosen: Report) -> str | None:
        """In words, when the crawl run whose answer said the report gone got no good answer from any other page of
        the agency it asked then (its column, its homepage) and a "not found" from one: the whole site answered so
        that day (a firewall, a maintenance window, a rebuilt site), which is no word on the report."""
        events = self.fetch_events(chosen)
        last_ok = verdict_flags.last_success(events)
        gone = [event for event in events if event.says_gone and event.run_id and last_ok and event.at > last_ok.at]
        if not gone:
            return None
        event = gone[-1]
        rows = self.session.execute(
            select(Capture.url, Capture.status).where(
                Capture.agency_id == agency_id, queries.few(Capture.run_id == event.run_id),
                Capture.timestamp >= event.at - verdict_flags.SAME_LOOK,
                Capture.timestamp <= min(event.at + verdict_flags.SAME_LOOK, self.cutoff),
                Capture.url != chosen.url, Capture.record_type.in_(("response", "revisit")))).all()
        if not rows or any(row.status is not None and 200 <= row.status < 400 for row in rows):
            return None
        not_found = [row for row in rows if row.status in (404, 410)]
        if not not_found:
            return None
        return (f"同一次抓取中该机关网站的其他 {len(rows)} 个页面也都没有正常答复"
                f"（如 {not_found[0].url} 答复 HTTP {not_found[0].status}）")

    def listed_elsewhere(self, agency_id: str, chosen: Report, year_reports: list[Report],
                         removal: Mapping[str, Any]) -> tuple[str, str] | None:
        """(day, address) of a listing captured since the report's address first failed (or in that look at the
        site) that still links the report by its title at another address, which the archive does not hold it at
        (a fetch that timed out): the report moved, nobody knows if it is gone."""
        start = datetime.fromisoformat(removal["first_failure"]["at"]) - verdict_flags.SAME_LOOK
        urls, titles = self._report_names(chosen, year_reports)
        for row in self._listing_window(agency_id, start, self.cutoff):
            if row.url in urls or not may_be_page(row.mime):
                continue
            snapshot = self.listing_snapshot(row)
            item = verdict_flags.listed_elsewhere(snapshot.items, urls, titles) if snapshot is not None else None
            if item is not None:
                return beijing_date(snapshot.captured_at).isoformat(), item.url
        return None

    def fetch_events(self, report: Report) -> list[verdict_flags.FetchEvent]:
        """Every attempt at the report's address by the cut-off: its captures (an error page or a blank page told
        apart from the report's own bytes) and its fetch errors. Kept: choosing the report, the flag and the
        moves of the year all ask."""
        if report.id not in self._events:
            self._events[report.id] = self._fetch_events(report)
        return self._events[report.id]

    def _fetch_events(self, report: Report) -> list[verdict_flags.FetchEvent]:
        base_row = self.capture(report.url, report.capture_id)
        return fetch_events(self.session, self.page_captures(report.url), self.errors_of(report.url),
                            base_row.payload_sha256 if base_row is not None else None)

    def removal(self, report: Report) -> dict | None:
        """``flags.removed`` for the report's address: its newest attempt after the last good answer failed."""
        return verdict_flags.removed(self.fetch_events(report))

    def offline(self, report: Report) -> bool:
        """Not known online: the report's address failed since its last good answer."""
        return self.removal(report) is not None

    def moved(self, report: Report, year_reports: list[Report]) -> dict | None:
        """When the report's address failed since its last good answer while a report of the same year is online at
        another address (archived there after the old one's last good answer, or in that crawl run): where it went.
        An old address that said the page is gone leaves the copy online unless it said so too; one that only
        failed (a 5xx, a timeout) needs the copy's newest answer good: an error at both shows the report nowhere."""
        failure = self.removal(report)
        if failure is None:
            return None
        since = verdict_flags.last_success(self.fetch_events(report))
        for other in _newest_per_address(year_reports):
            if other.url == report.url or (not failure["gone"] and self.offline(other)):
                continue
            seen = verdict_flags.online_since(self.fetch_events(other), since)
            if seen is not None:
                return verdict_flags.moved(failure, url=report.url, title=report.title,
                                           copy_url=other.url, copy_title=other.title, copy_report_id=other.id,
                                           seen=seen)
        return None

    def moves(self, year_reports: list[Report]) -> list[dict]:
        """Every address of the year's reports that lost the report while the year's report is online elsewhere."""
        addresses = _newest_per_address(year_reports)
        if len(addresses) < 2:
            return []
        return [found for found in (self.moved(report, year_reports) for report in addresses) if found]

    # -- copied

    def _copied(self, *, agency, year: int, chosen: Report, **_) -> tuple[dict | None, str | None]:
        if not self.copies.checked(year):
            return self._stored_copies.get((agency.id, year), (None, None))
        return self.copies.result(agency.id, year)
