"""Judging again after the archive changed: only the agencies whose verdicts what changed can move.

A national run reads every agency's column several times a week, and most of what it archives says what the
archive knew (a 304, the same bytes again, the same listing). ``touched_by_run`` names the agencies whose verdict
inputs the run changed; ``rejudge`` judges those (every year they have a verdict or a report for) and stores them,
leaving every other verdict row as it is, and says which statuses changed (``xxgk reparse`` prints them).

What touches an agency (anything else a run archives cannot move a stored verdict):

- a report of it stored from a capture of the run (a new report, a new version, a look-alike of its URL);
- a capture of the run of one of its report URLs that says something new: a failure (HTTP ≥ 400), or an answer
  whose status class or bytes differ from the URL's previous capture (changed, removed, back again) — a 304 or the
  same bytes after a success is not news; a fetch error of the run on one of its report URLs;
- a screenshot of one of its report pages taken in the run (the evidence names it);
- a read of its report column in the run while one of its years has no report yet after the deadline (未发布 or
  无法判断 rests on the newest read: ``monitor.proof``);
- a report of the run that copy detection pairs with its report of the same year (``monitor.copies``: its
  疑似雷同 flag may follow the new text), or that a 疑似雷同 flag of its names (``rejudge`` finds these while it
  has the year's signatures in hand); a report at an address the run got an error from counts as one of the run's
  (``new_reports_of_run``): a flag naming it may now name the copy still online at another address;
- time alone: a stored 未到期 verdict whose deadline has come, a judged year it has no verdict for yet.

A verdict left alone keeps the day it was judged as of (``evidence.as_of``) and the wording of that day; a full
re-judge (``xxgk status --year Y``) brings every verdict to today. A report whose changed bytes a server keeps
answering in full (no 304) is not news after the first time: its 发布后修改 evidence keeps naming the first capture
that showed the change until a full re-judge names the newest.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from sqlalchemy import select

from monitor.deadlines import RuleSet
from monitor.verdicts import NO_DOCUMENT_KINDS, SCREENSHOT_PREFIX, judging
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture, ColumnCoverage, FetchError, Report, Verdict

_BATCH = 500
_NOT_NEWS_STATUS = (200, 304)


class _NewReport(NamedTuple):
    """A report ``new_reports_of_run`` names."""
    id: int
    agency_id: str | None
    report_year: int | None


@dataclass
class Rejudged:
    judged: int = 0                                               # verdicts computed and stored
    agencies: int = 0
    changes: dict[tuple[str, int], tuple[str | None, str | None]] = field(default_factory=dict)  # status before, after
    before: dict[tuple[str, int], str] = field(default_factory=dict, repr=False)
    after: dict[tuple[str, int], str] = field(default_factory=dict, repr=False)


def rejudge(catalog: Catalog, agency_ids: Iterable[str], *, as_of: date,
            years: Iterable[int] | Mapping[str, Iterable[int]] = (), rules: RuleSet | None = None,
            report_years: Iterable[int] | None = None, new_reports: Iterable[int] = ()) -> Rejudged:
    """Judge the agencies again as of ``as_of`` and store their verdicts: ``years`` (for all, or per agency),
    every year they have a stored verdict for, and every year they have reports for. ``report_years``: the years
    of every report stored (or changed) since the stored verdicts, when known: 疑似雷同 is checked again only for
    those and the years after them, the other years keep their stored answer (None: every year is checked).
    ``new_reports``: those reports' ids; the agencies copy detection pairs with them, or whose stored 疑似雷同
    names one of them, are judged too (found while the year's signatures are in hand)."""
    new_reports = set(new_reports)
    wanted = set(agency_ids) | _named_by_copies(catalog, new_reports)
    done = Rejudged()
    copy_years = None if report_years is None else {y for year in report_years for y in (year, year + 1)}
    found: set[str] = set()
    while wanted:
        _judge_again(catalog, sorted(wanted), done, as_of=as_of, years=years, rules=rules, copy_years=copy_years,
                     neighbours=(new_reports, found) if new_reports else None)
        # a neighbour outside the first set is judged in a second pass (rare: a copy of a report of the run)
        wanted, new_reports = found - {agency_id for agency_id, _year in done.after} - set(wanted), set()
    keys = sorted(set(done.before) | set(done.after))
    done.changes = {key: (done.before.get(key), done.after.get(key)) for key in keys
                    if done.before.get(key) != done.after.get(key)}
    return done


def _judge_again(catalog: Catalog, wanted: list[str], done: Rejudged, *, as_of, years, rules, copy_years,
                 neighbours) -> None:
    done.agencies += len(wanted)
    with catalog.reading() as session:
        for start in range(0, len(wanted), _BATCH):
            done.before.update(((agency_id, year), status) for agency_id, year, status in session.execute(
                select(Verdict.agency_id, Verdict.report_year, Verdict.status)
                .where(Verdict.agency_id.in_(wanted[start:start + _BATCH]))))
    asked = {agency_id: set(years.get(agency_id, ()) if isinstance(years, Mapping) else years)
             for agency_id in wanted}
    for agency_id, year in done.before:
        if agency_id in asked:
            asked[agency_id].add(year)
    for result in judging(catalog, as_of=as_of, years=asked, agency_ids=wanted, rules=rules, copy_years=copy_years,
                          neighbours=neighbours):
        done.after[(result.agency_id, result.report_year)] = result.verdict.status
        done.judged += 1


def _named_by_copies(catalog: Catalog, report_ids: set[int]) -> set[str]:
    """Agencies whose stored 疑似雷同 flag names one of these reports (its text may have changed)."""
    ordered = sorted(report_ids)
    found: set[str] = set()
    with catalog.reading() as session:
        for start in range(0, len(ordered), _BATCH):
            found.update(session.scalars(select(Verdict.agency_id).where(
                Verdict.copied_report_id.in_(ordered[start:start + _BATCH])).distinct()))
    return found


def new_reports_of_run(catalog: Catalog, run_id: str) -> list:
    """(id, agency_id, report_year) of the reports stored from the run's captures, and of the reports at an
    address the run got an error answer or a fetch error from: which of a year's copies is online may have changed
    with it, and with it the report copy detection compares and a 疑似雷同 flag names (``monitor.choosing``)."""
    with catalog.reading() as session:
        captures = session.execute(select(Capture.id, Capture.url, Capture.url_hash, Capture.status)
                                   .where(queries.few(Capture.run_id == run_id))).all()
        ids = [row.id for row in captures]
        parsed = []
        for start in range(0, len(ids), _BATCH):
            parsed += session.execute(select(Report.id, Report.agency_id, Report.report_year, Report.capture_id,
                                             Report.kind).where(Report.capture_id.in_(ids[start:start + _BATCH])))
        # the site's error page or a blank page answered with 200 is a failure of its address too
        no_document = {row.capture_id for row in parsed if row.kind in NO_DOCUMENT_KINDS}
        failed = {(row.url_hash, row.url) for row in captures
                  if (row.status is not None and row.status >= 400) or row.id in no_document}
        failed |= {(row.url_hash, row.url) for row in session.execute(
            select(FetchError.url_hash, FetchError.url).where(queries.few(FetchError.run_id == run_id)))}
        found = [(row.id, row.agency_id, row.report_year) for row in parsed]
        known = {row.id for row in parsed}
        found += [row for row in _reports_at(session, failed) if row[0] not in known]
    return [_NewReport(*row) for row in found]


def _reports_at(session, addresses: set[tuple[str, str]]) -> list[tuple]:
    """(id, agency_id, report_year) of the reports parsed from captures of these (url_hash, url) addresses."""
    hashes = sorted({url_hash for url_hash, _url in addresses})
    urls = {url for _hash, url in addresses}
    found = []
    for start in range(0, len(hashes), _BATCH):
        found += [(row.id, row.agency_id, row.report_year) for row in session.execute(
            select(Report.id, Report.agency_id, Report.report_year, Capture.url)
            .join(Capture, Capture.id == Report.capture_id)
            .where(Capture.url_hash.in_(hashes[start:start + _BATCH]), Report.is_report.is_(True)))
            if row.url in urls]
    return found


def report_years(reports: Iterable) -> set[int]:
    """The report years of reports (rows with ``report_year``): ``rejudge``'s ``report_years``."""
    return {report.report_year for report in reports if report.report_year is not None}


def touched_by_run(catalog: Catalog, run_id: str, *, as_of: date, agency_ids: Iterable[str] = (),
                   years: Iterable[int] | Mapping[str, Iterable[int]] = (),
                   reports: Iterable[_NewReport] | None = None) -> set[str]:
    """The agencies whose verdicts run ``run_id`` may have moved (see the module docstring; copy-detection
    neighbours are found by ``rejudge``, given the run's reports), plus those of ``agency_ids`` that have no verdict
    yet for one of ``years`` or a 未到期 verdict whose deadline has come. ``reports``: ``new_reports_of_run`` when
    the caller has it already (read here otherwise)."""
    if reports is None:
        reports = new_reports_of_run(catalog, run_id)
    touched = {report.agency_id for report in reports if report.agency_id is not None}
    with catalog.reading() as session:
        touched |= _agencies_of_report_urls(session, _news_on_report_urls(session, run_id))
        touched |= _missing_years_read(session, run_id)
        touched |= due_by_time(session, as_of=as_of, agency_ids=agency_ids, years=years)
    return touched


def _news_on_report_urls(session, run_id: str) -> set[str]:
    """URLs of reports the run captured with news (see the module docstring), or met a fetch error on."""
    fetched = session.execute(select(Capture.id, Capture.url, Capture.url_hash, Capture.record_type)
                              .where(queries.few(Capture.run_id == run_id))).all()
    shots = {row.url.removeprefix(SCREENSHOT_PREFIX) for row in fetched
             if row.record_type == "resource" and row.url.startswith(SCREENSHOT_PREFIX)}
    in_run = {row.id for row in fetched if row.record_type != "resource"}
    errors = session.execute(select(FetchError.url, FetchError.url_hash)
                             .where(queries.few(FetchError.run_id == run_id))).all()
    hashes = {row.url_hash for row in fetched if row.id in in_run} | {row.url_hash for row in errors}
    reports = _report_urls(session, hashes | {queries.url_hash(url) for url in shots})
    urls = {row.url for row in errors if row.url in reports} | (shots & reports)
    history: dict[str, list] = {}
    wanted = sorted({row.url_hash for row in fetched if row.id in in_run and row.url in reports})
    for start in range(0, len(wanted), _BATCH):   # each URL's captures, to compare each with the one before
        for row in session.execute(select(Capture.url, Capture.timestamp, Capture.id, Capture.status,
                                          Capture.payload_sha256)
                                   .where(Capture.url_hash.in_(wanted[start:start + _BATCH]),
                                          Capture.record_type != "resource")):
            if row.url in reports:
                history.setdefault(row.url, []).append(row)
    for url, rows in history.items():
        rows.sort(key=lambda row: (row.timestamp, row.id))
        for number, row in enumerate(rows):
            if row.id not in in_run:
                continue
            before = rows[number - 1] if number else None
            if before is None or not (row.status in _NOT_NEWS_STATUS and before.status in _NOT_NEWS_STATUS
                                      and row.payload_sha256 == before.payload_sha256):
                urls.add(url)
                break
    return urls


def _report_urls(session, hashes: set[str]) -> set[str]:
    """Which of the URLs with these hashes are report URLs (a capture of them was parsed as a report)."""
    ordered = sorted(hashes)
    found: set[str] = set()
    for start in range(0, len(ordered), _BATCH):
        found.update(session.scalars(select(Capture.url).join(Report, Report.capture_id == Capture.id).where(
            Capture.url_hash.in_(ordered[start:start + _BATCH]), Report.is_report.is_(True)).distinct()))
    return found


def _agencies_of_report_urls(session, urls: Iterable[str]) -> set[str]:
    wanted = set(urls)
    hashes = sorted({queries.url_hash(url) for url in wanted})
    found: set[str] = set()
    for start in range(0, len(hashes), _BATCH):
        found.update(agency_id for agency_id, url in session.execute(
            select(Report.agency_id, Capture.url).join(Capture, Capture.id == Report.capture_id)
            .where(Capture.url_hash.in_(hashes[start:start + _BATCH]), Report.is_report.is_(True),
                   Report.agency_id.is_not(None)).distinct())
            if url in wanted)
    return found


def _missing_years_read(session, run_id: str) -> set[str]:
    """Agencies whose column the run read while a year of theirs has no report after the deadline."""
    # the run's reads first, then their verdicts: joined in one query, SQLite may walk every 未发布 verdict instead
    read = sorted(set(session.scalars(select(ColumnCoverage.agency_id).where(
        queries.few(ColumnCoverage.run_id == run_id), ColumnCoverage.agency_id.is_not(None)))))
    found: set[str] = set()
    for start in range(0, len(read), _BATCH):
        found.update(session.scalars(select(Verdict.agency_id).where(
            Verdict.agency_id.in_(read[start:start + _BATCH]), Verdict.report_id.is_(None),
            Verdict.status.in_(("missing", "undetermined"))).distinct()))
    return found


def due_by_time(session, *, as_of: date, agency_ids: Iterable[str] = (),
                years: Iterable[int] | Mapping[str, Iterable[int]] = ()) -> set[str]:
    """Agencies with a 未到期 verdict whose deadline has come by ``as_of``, and those of ``agency_ids`` without a
    verdict for one of ``years`` (for all, or per agency: a new agency, a new report year)."""
    found = set(session.scalars(select(Verdict.agency_id).where(Verdict.status == "pending",
                                                                 Verdict.deadline <= as_of).distinct()))
    asked = {agency_id: {year for year in (years.get(agency_id, ()) if isinstance(years, Mapping) else years)
                         if year < as_of.year}  # a later year is not judged: nothing is due
             for agency_id in set(agency_ids)}
    wanted = sorted(agency_id for agency_id, wanted_years in asked.items() if wanted_years)
    judged: dict[str, set[int]] = {}
    for start in range(0, len(wanted), _BATCH):
        for agency_id, year in session.execute(select(Verdict.agency_id, Verdict.report_year)
                                               .where(Verdict.agency_id.in_(wanted[start:start + _BATCH]))):
            judged.setdefault(agency_id, set()).add(year)
    found.update(agency_id for agency_id in wanted if not asked[agency_id] <= judged.get(agency_id, set()))
    return found
