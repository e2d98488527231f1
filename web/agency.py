"""The agency page: every year's verdict with its evidence, what each crawl read of the agency's report column
(the coverage a 未发布 verdict rests on), every report, capture and fetch error of the agency."""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from sqlalchemy import func, select

from monitor.coverage import (FOUND_BY_LABELS, PROBLEM_LABELS, AgencyCoverage, describe_errors, history,
                              report_entries_text)
from monitor.labels import LISTED_BY_LABELS, MOVED_LABELS
from parsers.beijing import beijing_iso
from storage.catalog import queries
from storage.catalog.models import Capture, ColumnCoverage, FetchError, Report
from web.context import BadInput, NotFound, WebContext, checked_text, visible_text
from web.labels import check_label, flag_label, level_label, source_label, status_label, table_short_name
from web.summaries import capture_summary, error_summary, iso, report_summary

LIST_LIMIT = 200
COLUMN_PAGES_SHOWN = 30   # a verdict's column read: the listing pages it archived, linked one by one
DIFF_LINES = 40
ERRORS_SHOWN = 3   # a column's fetch errors named in its coverage row; the count says how many in all

# evidence keys that name another capture or report by id (the catalog stores ids, the template builds the
# links with ``urls``), and what to call the link
_CAPTURE_LINKS = {"listing_capture_id": "栏目页存档", "from_capture_id": "修改前的存档", "to_capture_id": "修改后的存档",
                  "last_ok_capture_id": "最后一次正常抓取", "other_capture_id": "相似报告的存档", "capture_id": "存档"}
_FAILURE_LINKS = {"first_failure": "首次失败的抓取", "latest_failure": "最近一次失败的抓取"}
_REPORT_LINKS = {"other_report_id": "相似的报告"}


def agency_data(ctx: WebContext, agency_id: str) -> dict[str, Any]:
    try:
        checked_text(agency_id, "机关代码", 200)
    except BadInput as exc:
        raise NotFound(f"目录中没有机关“{visible_text(agency_id[:200])}”") from exc
    with ctx.catalog.reading() as session:
        agency = queries.get_agency(session, agency_id)
        if agency is None:
            raise NotFound(f"目录中没有机关“{agency_id}”")
        reports = queries.reports_of_agency(session, agency_id)
        by_id = {report.id: report for report in reports}
        verdicts = [_verdict(stored, by_id.get(stored.report_id)) for stored in
                    sorted(queries.verdicts(session, agency_id=agency_id), key=lambda v: v.report_year, reverse=True)]
        for verdict in verdicts:
            if verdict["coverage"] is not None:
                pages = _column_pages(session, verdict["coverage"])
                verdict["coverage"]["pages"] = pages[:COLUMN_PAGES_SHOWN]
                verdict["coverage"]["more_pages"] = len(pages) > COLUMN_PAGES_SHOWN
        captures = list(session.scalars(select(Capture).where(Capture.agency_id == agency_id)
                                        .order_by(Capture.timestamp.desc(), Capture.id.desc()).limit(LIST_LIMIT)))
        capture_total = session.scalar(select(func.count(Capture.id)).where(Capture.agency_id == agency_id))
        errors = list(session.scalars(select(FetchError).where(FetchError.agency_id == agency_id)
                                      .order_by(FetchError.at.desc(), FetchError.id.desc()).limit(LIST_LIMIT)))
        error_total = session.scalar(select(func.count(FetchError.id)).where(FetchError.agency_id == agency_id))
        runs = history(session, agency_id)[::-1]  # newest run first, as captures and errors
        parent = queries.get_agency(session, agency.parent) if agency.parent else None
        # an agency a later import dropped: still browsable, no longer crawled nor counted in the current figures
        unwatched = not agency.watched and queries.registry_imported(session)
    return {
        "agency": {"id": agency.id, "name": agency.name, "level": agency.level, "level_label": level_label(agency.level),
                   "region": agency.region, "parent": agency.parent, "parent_name": parent.name if parent else None,
                   "homepage": agency.homepage,
                   "report_index": list(agency.report_index or []), "aliases": list(agency.aliases or []),
                   "watched": agency.watched, "outside_registry": unwatched},
        "verdicts": verdicts,
        "coverage": [_coverage(item) for item in runs[:LIST_LIMIT]],
        "coverage_total": len(runs),
        "reports": [report_summary(report) for report in reports],
        "captures": [capture_summary(capture) for capture in captures],
        "capture_total": capture_total or 0,
        "errors": [error_summary(error) for error in errors],
        "error_total": error_total or 0,
    }


def _verdict(stored, report: Report | None) -> dict[str, Any]:
    evidence = stored.evidence or {}
    raw = _publication_raw(report, stored.date_source, stored.publication_date)
    return {
        "report_year": stored.report_year, "status": stored.status,
        "label": status_label(stored.status, stored.days_late),
        "deadline": iso(stored.deadline), "legal_basis": stored.legal_basis,
        "publication_date": iso(stored.publication_date), "date_source": stored.date_source,
        "date_source_label": source_label(stored.date_source), "date_raw": raw,
        "days_late": stored.days_late, "first_seen": beijing_iso(stored.first_seen),   # as the reason says it
        "flags": [flag_evidence(flag, evidence.get(flag)) for flag in stored.flags or []],
        "checks": [{"check": name, "label": check_label(name), "note": note}
                   for name, note in (evidence.get("checks") or {}).items()],
        "reason": evidence.get("reason"),
        # the column read a 未发布 (or 无法判断) year rests on; ids and facts, the template links the capture
        "coverage": _column_read(evidence.get("coverage")),
        # entries of the column that name the year's report at an address the archive got no page from
        "listed": _listed_not_archived(evidence.get("listed_not_archived")),
        # addresses that lost the report while it is online at another (no 已删除): where it went
        "moved": _moved(evidence.get("moved")),
        "report": report_summary(report) if report is not None else None,
        "screenshot_id": _screenshot_id(evidence),
        "computed_at": iso(stored.computed_at),
    }


def _coverage(item: AgencyCoverage) -> dict[str, Any]:
    """One run's read of the agency's columns, with the Chinese names of how each was found and what failed."""
    data = item.to_json()
    data["columns"] = [_column_read(column) for column in data["columns"]]
    return data


def _column_read(column: Any) -> dict[str, Any] | None:
    if not isinstance(column, Mapping):
        return None
    found_by, problem = column.get("found_by"), column.get("problem")
    return {**column, "found_by_label": FOUND_BY_LABELS.get(found_by or "", found_by),
            "problem_label": PROBLEM_LABELS.get(problem or "", problem),
            "errors_text": describe_errors(column.get("errors"), limit=ERRORS_SHOWN),
            "report_entries": report_entries_text(column)}


def _column_pages(session, column: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The listing pages the read a verdict rests on archived (its run's column pages of the agency, in the order
    fetched): what proves a report absent is every page read, not the first alone. A column another agency's
    crawl read first is archived under that agency: then only the read's first page is known."""
    coverage_id = column.get("coverage_id")
    read = session.get(ColumnCoverage, coverage_id) if isinstance(coverage_id, int) else None
    if read is None:
        return []
    rows = session.execute(
        select(Capture.id, Capture.url).where(Capture.run_id == read.run_id, Capture.agency_id == read.agency_id,
                                              Capture.role == "column", Capture.status == 200,
                                              Capture.record_type.in_(("response", "revisit")))
        .order_by(Capture.timestamp, Capture.id).limit(COLUMN_PAGES_SHOWN + 1)).all()
    return [{"capture_id": row.id, "url": row.url, "label": row.url.rsplit("/", 1)[-1] or row.url} for row in rows]


def _listed_not_archived(entries: Any) -> list[dict[str, Any]]:
    """The listing entries a 无法判断 year rests on, each with how it names the year in words; the template links
    the entry's captures and fetch errors (``urls.captures(url=…)``) and the listing page's archive."""
    if not isinstance(entries, list):
        return []
    return [{**entry, "named_by_label": LISTED_BY_LABELS.get(entry.get("named_by") or "", entry.get("named_by"))}
            for entry in entries if isinstance(entry, Mapping) and isinstance(entry.get("url"), str)]


def _moved(entries: Any) -> list[dict[str, Any]]:
    """The moves a verdict's evidence names (``monitor.flags.moved``), with the Chinese name of each; the template
    links the report at its new address and that capture."""
    if not isinstance(entries, list):
        return []
    return [{**entry, "label": MOVED_LABELS.get(entry.get("relation") or "", entry.get("relation"))}
            for entry in entries if isinstance(entry, Mapping) and _is_id(entry.get("report_id"))]


def _screenshot_id(evidence: Mapping) -> int | None:
    """The capture of the report page's screenshot in the evidence bundle, if it has one."""
    shot = evidence.get("screenshot")
    return shot.get("capture_id") if isinstance(shot, Mapping) and _is_id(shot.get("capture_id")) else None


def _publication_raw(report: Report | None, source: str | None, value: date | None) -> str | None:
    """The exact string the publication date was read from, as the report's record kept it."""
    if report is None or source is None or value is None:
        return None
    for item in (report.record_json or {}).get("dates") or []:
        if isinstance(item, Mapping) and item.get("source") == source and item.get("date") == value.isoformat():
            return item.get("raw")
    return None


def flag_evidence(flag: str, evidence: Any) -> dict[str, Any]:
    """A flag with its message, the captures or reports it cites (``links``: label with ``capture_id`` or
    ``report_id``), changed cells and changed lines."""
    details = evidence if isinstance(evidence, Mapping) else {}
    links: list[dict[str, Any]] = []
    cited: set[int] = set()

    def cite(label: str, capture_id: Any) -> None:
        if _is_id(capture_id) and capture_id not in cited:
            cited.add(capture_id)
            links.append({"label": label, "capture_id": capture_id})

    for key, label in _CAPTURE_LINKS.items():
        cite(label, details.get(key))
    for key, label in _FAILURE_LINKS.items():
        failure = details.get(key)
        cite(label, failure.get("capture_id") if isinstance(failure, Mapping) else None)
    for key, label in _REPORT_LINKS.items():
        if _is_id(details.get(key)):
            links.append({"label": label, "report_id": details[key]})
    cells = [{**cell, "table": table_short_name(cell.get("table"))} for cell in details.get("cells") or []
             if isinstance(cell, Mapping)]
    text = details.get("text") if isinstance(details.get("text"), Mapping) else {}
    diff = [line for line in text.get("diff") or [] if isinstance(line, str)]
    return {"code": flag, "label": flag_label(flag), "message": details.get("message"), "links": links,
            "cells": cells, "diff": diff[:DIFF_LINES], "diff_truncated": len(diff) > DIFF_LINES}


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
