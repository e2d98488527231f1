"""The verdict and report rows the CLI and the web UI show: one JSON-ready dict per stored verdict or report."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import select

from monitor.verdicts import JudgedYear, Years, is_current, judge
from parsers.beijing import beijing_iso as _iso
from storage.catalog import Catalog, queries
from storage.catalog.models import Agency, Report
from storage.catalog.models import Verdict as VerdictRow


# the report's capture by id, never as a link: URLs belong to the web UI (web.urls), which may not even be running
ROW_FIELDS = ("agency_id", "agency", "level", "region", "report_year", "status", "deadline", "legal_basis",
              "publication_date", "date_source", "first_seen", "days_late", "report_id", "report_url", "title",
              "signing_date", "format", "consistency_errors", "flags", "capture_id", "reason",
              "computed_at", "undetermined_flags", "as_of")


def verdict_rows(catalog: Catalog, *, year: int | None = None, level: str | None = None,
                 region: str | None = None, status: str | None = None, agency_id: str | None = None,
                 watched: bool | None = None) -> list[dict[str, Any]]:
    """One JSON-ready dict per stored verdict (agency × report year), with the report it used; see ROW_FIELDS.
    ``watched``: only the agencies the imported registry marks (True), or does not mark (False)."""
    with catalog.reading() as session:
        agencies = {agency.id: agency for agency in queries.list_agencies(session, level=level, region=region,
                                                                            watched=watched)}
        rows = []
        for stored in queries.verdicts(session, agency_id=agency_id, report_year=year, status=status):
            agency = agencies.get(stored.agency_id)
            if agency is None:
                continue
            report = session.get(Report, stored.report_id) if stored.report_id is not None else None
            rows.append(_row(agency, stored.report_year, stored, report))
    return rows


def report_rows(catalog: Catalog, *, year: int | None = None, agency_id: str | None = None,
                level: str | None = None, region: str | None = None) -> list[dict[str, Any]]:
    """One JSON-ready dict per parsed report, with the verdict of its agency and year (``chosen``: whether the
    verdict used this report; a year can have several: a page and its attachment, two versions of one URL)."""
    with catalog.reading() as session:
        agencies = {agency.id: agency for agency in queries.list_agencies(session, level=level, region=region)}
        query = select(Report).where(Report.is_report.is_(True)).order_by(Report.agency_id, Report.report_year,
                                                                            Report.id)
        if year is not None:
            query = query.where(Report.report_year == year)
        if agency_id is not None:
            query = query.where(Report.agency_id == agency_id)
        stored = {(row.agency_id, row.report_year): row
                  for row in queries.verdicts(session, agency_id=agency_id, report_year=year)}
        rows = []
        for report in session.scalars(query):
            agency = agencies.get(report.agency_id)
            if agency is None:
                continue
            judged = stored.get((report.agency_id, report.report_year))
            row = _row(agency, report.report_year, judged, report)
            row["chosen"] = judged is not None and judged.report_id == report.id
            if not row["chosen"]:
                # the verdict speaks for the year's chosen report, not for this one: its date is its own
                row["flags"], row["undetermined_flags"], row["days_late"] = [], [], None
                row["publication_date"], row["date_source"] = _date(report.publication_date), report.date_source
            rows.append(row)
    return rows


def judged_rows(catalog: Catalog, judged: Iterable[JudgedYear], *, year: int | None = None,
                level: str | None = None, region: str | None = None,
                watched: bool | None = None) -> list[dict[str, Any]]:
    """``verdict_rows`` for verdicts computed and not stored (``judge(..., store=False)``), same shape and order."""
    computed_at = queries.utcnow()  # when it was computed, as upsert_verdict stamps a stored one
    with catalog.reading() as session:
        agencies = {agency.id: agency for agency in queries.list_agencies(session, level=level, region=region,
                                                                            watched=watched)}
        rows = []
        for result in sorted(judged, key=lambda item: (item.agency_id, item.report_year)):
            agency = agencies.get(result.agency_id)
            if agency is None or (year is not None and result.report_year != year):
                continue
            unsaved = VerdictRow(**result.stored(), computed_at=computed_at)  # never added to a session
            report = session.get(Report, result.report_id) if result.report_id is not None else None
            rows.append(_row(agency, result.report_year, unsaved, report))
    return rows


def rows_as_of(catalog: Catalog, as_of: date, *, years: Years = None, agency_ids: Iterable[str] | None = None,
               year: int | None = None, level: str | None = None, region: str | None = None,
               watched: bool | None = None) -> list[dict[str, Any]]:
    """The verdict rows as of ``as_of``, for ``xxgk status``, ``crawl`` and ``demo``: today's are the stored ones
    (the caller judged and stored them), another day's are computed now and never stored (``is_current``).
    ``watched``: as ``verdict_rows``."""
    if is_current(as_of):
        wanted = None if agency_ids is None else set(agency_ids)
        return [row for row in verdict_rows(catalog, year=year, level=level, region=region, watched=watched)
                if wanted is None or row["agency_id"] in wanted]
    judged = judge(catalog, as_of=as_of, years=years, agency_ids=agency_ids, store=False)
    return judged_rows(catalog, judged, year=year, level=level, region=region, watched=watched)


def _row(agency: Agency, year: int | None, stored: VerdictRow | None, report: Report | None) -> dict[str, Any]:
    fields = {**_agency_fields(agency, year), **_verdict_fields(stored, report), **_report_fields(report)}
    return {key: fields[key] for key in ROW_FIELDS}


def _agency_fields(agency: Agency, year: int | None) -> dict[str, Any]:
    return {"agency_id": agency.id, "agency": agency.name, "level": agency.level, "region": agency.region,
            "report_year": year}


def _verdict_fields(stored: VerdictRow | None, report: Report | None) -> dict[str, Any]:
    """What the verdict says; without one, the report's own date (a report of a year not judged yet)."""
    if stored is None:
        return {"status": None, "deadline": None, "legal_basis": None,
                "publication_date": _date(report.publication_date) if report else None,
                "date_source": report.date_source if report else None, "first_seen": None, "days_late": None,
                "flags": [], "undetermined_flags": [], "reason": None, "as_of": None, "computed_at": None}
    evidence = stored.evidence or {}
    return {"status": stored.status, "deadline": _date(stored.deadline), "legal_basis": stored.legal_basis,
            "publication_date": _date(stored.publication_date), "date_source": stored.date_source,
            "first_seen": _iso(stored.first_seen), "days_late": stored.days_late, "flags": list(stored.flags or []),
            "undetermined_flags": list(evidence.get("undetermined_flags") or []), "reason": evidence.get("reason"),
            "as_of": evidence.get("as_of"), "computed_at": _iso(stored.computed_at)}


def _report_fields(report: Report | None) -> dict[str, Any]:
    if report is None:
        return {"report_id": None, "report_url": None, "title": None, "signing_date": None, "format": None,
                "consistency_errors": [], "capture_id": None}
    record = report.record_json or {}
    return {"report_id": report.id, "report_url": report.url, "title": report.title,
            "signing_date": _date(report.signing_date), "format": report.format,
            "consistency_errors": [{"rule": error.get("rule"), "where": error.get("where"),
                                    "message": error.get("message")}
                                   for error in record.get("consistency_errors") or [] if isinstance(error, Mapping)],
            "capture_id": report.capture_id}


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None
