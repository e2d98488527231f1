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
  疑似雷同 flag may follow the new text), or that a 疑似雷同 flag of its names;
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

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from monitor import flags
from monitor.copies import CopyChecks, YearIndex
from monitor.deadlines import RuleSet
from monitor.verdicts import SCREENSHOT_PREFIX, judging
from parsers.beijing import end_of_beijing_day
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture, ColumnCoverage, FetchError, Report, Verdict

_BATCH = 500
_NOT_NEWS_STATUS = (200, 304)


@dataclass
class Rejudged:
    judged: int = 0                                               # verdicts computed and stored
    agencies: int = 0
    changes: dict[tuple[str, int], tuple[str | None, str | None]] = field(default_factory=dict)  # status before, after


def rejudge(catalog: Catalog, agency_ids: Iterable[str], *, as_of: date,
            years: Iterable[int] | Mapping[str, Iterable[int]] = (), rules: RuleSet | None = None,
            report_years: Iterable[int] | None = None) -> Rejudged:
    """Judge the agencies again as of ``as_of`` and store their verdicts: ``years`` (for all, or per agency),
    every year they have a stored verdict for, and every year they have reports for. ``report_years``: the years
    of every report stored (or changed) since the stored verdicts, when known: 疑似雷同 is checked again only for
    those and the years after them, the other years keep their stored answer (None: every year is checked)."""
    wanted = sorted(set(agency_ids))
    done = Rejudged(agencies=len(wanted))
    if not wanted:
        return done
    before: dict[tuple[str, int], str] = {}
    with catalog.reading() as session:
        for start in range(0, len(wanted), _BATCH):
            before.update(((agency_id, year), status) for agency_id, year, status in session.execute(
                select(Verdict.agency_id, Verdict.report_year, Verdict.status)
                .where(Verdict.agency_id.in_(wanted[start:start + _BATCH]))))
    asked = {agency_id: set(years.get(agency_id, ()) if isinstance(years, Mapping) else years)
             for agency_id in wanted}
    for agency_id, year in before:
        asked[agency_id].add(year)
    after: dict[tuple[str, int], str] = {}
    copy_years = None if report_years is None else {y for year in report_years for y in (year, year + 1)}
    for result in judging(catalog, as_of=as_of, years=asked, agency_ids=wanted, rules=rules, copy_years=copy_years):
        after[(result.agency_id, result.report_year)] = result.verdict.status
    done.judged = len(after)
    done.changes = {key: (before.get(key), after.get(key)) for key in sorted(set(before) | set(after))
                    if before.get(key) != after.get(key)}
    return done


def touched_by_run(catalog: Catalog, run_id: str, *, as_of: date, agency_ids: Iterable[str] = (),
                   years: Iterable[int] | Mapping[str, Iterable[int]] = ()) -> set[str]:
    """The agencies whose verdicts run ``run_id`` may have moved (see the module docstring), plus those of
    ``agency_ids`` that have no verdict yet for one of ``years`` or a 未到期 verdict whose deadline has come."""
    with catalog.reading() as session:
        touched = _reported_in_run(session, run_id)
        news = _news_on_report_urls(session, run_id)
        touched |= _agencies_of_report_urls(session, news)
        touched |= _missing_years_read(session, run_id)
        new_reports = [row for row in session.execute(
            select(Report.id, Report.agency_id, Report.report_year).join(Capture, Capture.id == Report.capture_id)
            .where(Capture.run_id == run_id, Report.is_report.is_(True), Report.agency_id.is_not(None),
                   Report.report_year.is_not(None)))]
        touched |= copy_neighbours(session, new_reports, as_of=as_of)
        touched |= due_by_time(session, as_of=as_of, agency_ids=agency_ids, years=years)
    return touched


def report_years_of_run(catalog: Catalog, run_id: str) -> set[int]:
    """The report years of the reports stored from the run's captures (``rejudge``'s ``report_years``)."""
    with catalog.reading() as session:
        return set(session.scalars(select(Report.report_year).join(Capture, Capture.id == Report.capture_id)
                                   .where(Capture.run_id == run_id, Report.report_year.is_not(None)).distinct()))


def _reported_in_run(session, run_id: str) -> set[str]:
    return set(session.scalars(select(Report.agency_id).join(Capture, Capture.id == Report.capture_id)
                               .where(Capture.run_id == run_id, Report.agency_id.is_not(None)).distinct()))


def _is_report_url(url_hash_column, url_column):
    known = aliased(Capture)
    return exists(select(known.id).join(Report, Report.capture_id == known.id)
                  .where(known.url_hash == url_hash_column, known.url == url_column, Report.is_report.is_(True)))


def _news_on_report_urls(session, run_id: str) -> set[str]:
    """URLs of reports the run captured with news (see the module docstring), or met a fetch error on."""
    current, previous = Capture, aliased(Capture)
    earlier = (select(previous.status, previous.payload_sha256)
               .where(previous.url_hash == current.url_hash, previous.url == current.url,
                      or_(previous.timestamp < current.timestamp,
                          and_(previous.timestamp == current.timestamp, previous.id < current.id)))
               .order_by(previous.timestamp.desc(), previous.id.desc()).limit(1))
    rows = session.execute(
        select(current.url, current.status, current.payload_sha256,
               earlier.with_only_columns(previous.status).scalar_subquery(),
               earlier.with_only_columns(previous.payload_sha256).scalar_subquery())
        .where(current.run_id == run_id, current.record_type != "resource",
               _is_report_url(current.url_hash, current.url)))
    urls = {url for url, status, digest, before, before_digest in rows
            if not (status in _NOT_NEWS_STATUS and before in _NOT_NEWS_STATUS and digest == before_digest)}
    urls |= set(session.scalars(select(FetchError.url).where(FetchError.run_id == run_id,
                                                             _is_report_url(FetchError.url_hash, FetchError.url))))
    shots = session.scalars(select(Capture.url).where(Capture.run_id == run_id, Capture.record_type == "resource",
                                                      Capture.url.startswith(SCREENSHOT_PREFIX)))
    urls |= {url.removeprefix(SCREENSHOT_PREFIX) for url in shots}
    return urls


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
    return set(session.scalars(
        select(ColumnCoverage.agency_id).join(Verdict, Verdict.agency_id == ColumnCoverage.agency_id)
        .where(ColumnCoverage.run_id == run_id, Verdict.report_id.is_(None),
               Verdict.status.in_(("missing", "undetermined"))).distinct()))


def copy_neighbours(session, reports: Iterable, *, as_of: date) -> set[str]:
    """Agencies whose 疑似雷同 check may answer otherwise because of these reports (rows with ``id``,
    ``agency_id``, ``report_year``): those whose chosen report of the year copy detection pairs with one of them
    (either way round), and those whose stored 疑似雷同 flag names one of them."""
    by_year: dict[int, set[int]] = {}
    for report in reports:
        by_year.setdefault(report.report_year, set()).add(report.id)
    found: set[str] = set()
    checks = CopyChecks(session, end_of_beijing_day(as_of))
    for year, report_ids in sorted(by_year.items()):
        chosen = [entry for entry in checks.chosen(year).values()
                  if entry.signature is not None and entry.shingles >= flags.MIN_SHINGLES]
        positions = [number for number, entry in enumerate(chosen) if entry.report_id in report_ids]
        index = YearIndex(chosen)
        for position, others in index.candidates(positions, both_ways=True).items():
            found.update(chosen[other].agency_id for other in others)
        named = Verdict.evidence["copied"]["other_report_id"].as_integer()
        ids = sorted(report_ids)
        for start in range(0, len(ids), _BATCH):
            found.update(session.scalars(select(Verdict.agency_id).where(
                Verdict.report_year == year, named.in_(ids[start:start + _BATCH]))))
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
