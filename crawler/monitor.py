"""Timeliness verdicts per agency × report year, computed from the catalog and stored back into it.

The verdict itself is ``parsers.deadlines.verdict`` (pure, rules as data); this module only gathers its inputs
from the catalog — the agency's reports for the year, the best publication-date evidence among them, the
archive's first capture — and writes the result, so a re-run after every crawl gives the same answer for the
same archive.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from parsers.dates import PUBLICATION_PRIORITY
from parsers.deadlines import RuleSet, Verdict, load_rules, verdict
from parsers.record import DateEvidence
from storage.catalog import Catalog, queries
from storage.catalog.models import Agency, Report

BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class JudgedYear:
    agency_id: str
    agency: str
    level: str | None
    report_year: int
    verdict: Verdict
    report_id: int | None
    report_url: str | None


def beijing_date(moment: datetime | None) -> date | None:
    """Deadlines are calendar days in China: a capture at 2023-01-31 20:00 UTC is already 1 February there."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(BEIJING).date()


def judge(catalog: Catalog, *, as_of: date, years: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
          agency_ids: Iterable[str] | None = None, rules: RuleSet | None = None) -> list[JudgedYear]:
    """Compute and store one verdict per agency and report year.

    ``years``: the report years to judge for every agency, or a mapping agency id → years. The years an agency
    has reports for are always judged too. Years whose report is not due yet in any sense (year ≥ as_of's year)
    are skipped: a report for a year is written after the year ends.
    """
    rules = rules or load_rules()
    wanted = set(agency_ids) if agency_ids is not None else None
    judged: list[JudgedYear] = []
    with catalog.session() as session:
        for agency in queries.list_agencies(session):
            if wanted is not None and agency.id not in wanted:
                continue
            reports = queries.reports_of_agency(session, agency.id, only_reports=True)
            by_year: dict[int, list[Report]] = {}
            for report in reports:
                if report.report_year is not None:
                    by_year.setdefault(report.report_year, []).append(report)
            extra = years.get(agency.id, ()) if isinstance(years, Mapping) else (years or ())
            for year in sorted(set(by_year) | set(extra)):
                if year >= as_of.year:
                    continue
                judged.append(_judge_year(session, agency, year, by_year.get(year, []), as_of, rules))
    return judged


def _judge_year(session, agency: Agency, year: int, reports: list[Report], as_of: date,
                rules: RuleSet) -> JudgedYear:
    chosen = _best_report(session, reports)
    publication = _publication_evidence(chosen) if chosen else None
    first_seen_at = queries.first_seen(session, chosen.url) if chosen else None
    result = verdict(year, agency.level, as_of=as_of, publication=publication,
                     first_seen=beijing_date(first_seen_at) if chosen else None,
                     evidence=_all_evidence(chosen) if chosen else (), rules=rules, agency_id=agency.id)
    evidence = _evidence_bundle(session, chosen) if chosen else {}
    evidence["reason"] = result.reason
    queries.upsert_verdict(
        session, agency.id, year, result.status, deadline=result.deadline, legal_basis=result.legal_basis,
        publication_date=result.publication_date, date_source=result.date_source, days_late=result.days_late,
        first_seen=first_seen_at, report_id=chosen.id if chosen else None, evidence=evidence,
    )
    return JudgedYear(agency.id, agency.name, agency.level, year, result,
                      chosen.id if chosen else None, chosen.url if chosen else None)


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


def _evidence_bundle(session, report: Report) -> dict:
    capture = queries.get_capture(session, report.capture_id)
    bundle = {"report_id": report.id, "report_url": report.url, "title": report.title,
              "capture_id": report.capture_id, "signing_date": report.signing_date.isoformat() if report.signing_date else None,
              "format": report.format,
              "consistency_errors": len((report.record_json or {}).get("consistency_errors") or [])}
    if capture is not None:
        bundle.update({"payload_sha256": capture.payload_sha256, "warc_key": capture.warc_key,
                       "warc_offset": capture.offset, "warc_length": capture.length,
                       "captured_at": capture.timestamp.isoformat()})
    return bundle
