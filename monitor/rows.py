"""The verdict and report rows the CLI and the web UI show: one JSON-ready dict per stored verdict or report."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select

from parsers.beijing import beijing_iso as _iso
from storage.catalog import Catalog, queries
from storage.catalog.models import Agency, Report
from storage.catalog.models import Verdict as VerdictRow


ROW_FIELDS = ("agency_id", "agency", "level", "region", "report_year", "status", "deadline", "legal_basis",
              "publication_date", "date_source", "first_seen", "days_late", "report_id", "report_url", "title",
              "signing_date", "format", "consistency_errors", "flags", "capture_id", "permalink", "reason",
              "computed_at")


def verdict_rows(catalog: Catalog, *, year: int | None = None, level: str | None = None,
                 region: str | None = None, status: str | None = None,
                 agency_id: str | None = None) -> list[dict[str, Any]]:
    """One JSON-ready dict per stored verdict (agency × report year), with the report it used; see ROW_FIELDS."""
    with catalog.reading() as session:
        agencies = {agency.id: agency for agency in queries.list_agencies(session, level=level, region=region)}
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
                # the verdict speaks for the year's chosen report, not for this one
                row["flags"] = []
            rows.append(row)
    return rows


def _row(agency: Agency, year: int | None, stored: VerdictRow | None, report: Report | None) -> dict[str, Any]:
    record = (report.record_json or {}) if report is not None else {}
    evidence = (stored.evidence or {}) if stored is not None else {}
    return {
        "agency_id": agency.id,
        "agency": agency.name,
        "level": agency.level,
        "region": agency.region,
        "report_year": year,
        "status": stored.status if stored else None,
        "deadline": _date(stored.deadline) if stored else None,
        "legal_basis": stored.legal_basis if stored else None,
        "publication_date": _date(stored.publication_date) if stored else _date(report.publication_date if report else None),
        "date_source": stored.date_source if stored else (report.date_source if report else None),
        "first_seen": _iso(stored.first_seen) if stored else None,
        "days_late": stored.days_late if stored else None,
        "report_id": report.id if report else None,
        "report_url": report.url if report else None,
        "title": report.title if report else None,
        "signing_date": _date(report.signing_date) if report else None,
        "format": report.format if report else None,
        "consistency_errors": [{"rule": error.get("rule"), "where": error.get("where"), "message": error.get("message")}
                               for error in record.get("consistency_errors") or [] if isinstance(error, Mapping)],
        "flags": list(stored.flags or []) if stored else [],
        "capture_id": report.capture_id if report else None,
        "permalink": f"/captures/{report.capture_id}" if report else None,
        "reason": evidence.get("reason"),
        "computed_at": _iso(stored.computed_at) if stored else None,
    }


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None
