"""The dashboard: agencies × report years coloured by verdict, filtered, counted, paged and exported.

Rows are agencies in id order (those of the chosen level/region; with a status filter, only those with a verdict of
that status in the chosen year). Counts and the on-time rate come from ``verdict_tallies`` (kept by triggers), so
a page costs the same for ten agencies or a hundred thousand; they follow the year/level/region filters but not the
status filter, which only picks rows. Exports hold exactly the verdicts the filters select, one row per cell shown.

With ``as_of`` (``dashboard_data_as_of``) the same page shows verdicts computed as of that day instead of the
stored ones: nothing is written, and the page says which day it is judged as of.

Once a registry is imported (``xxgk agencies import``: agencies marked ``watched``), rows, counts, rates and
exports cover the watched agencies alone, and the page says how many other agencies the catalog holds and links to
them (``all=1``): an agency dropped from the registry is no longer crawled and leaves the current figures, while its
page, reports and captures stay in the archive. Without an import, every agency counts, as before. The tallies are
kept per mark (migration 0010), so this costs no scan either.

Each cell carries its verdict's reason (shown for 无法判断, where it says what the archive lacks). The current
dashboard also calls out the agencies whose report column stopped yielding items (栏目失效,
``monitor.coverage.column_failures``): their years cannot be proven 未发布 until the column is read again.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import exists, func, select, tuple_
from sqlalchemy.orm import Session

from monitor.clock import today
from monitor.coverage import column_failures
from monitor.verdicts import JudgedYear, judge
from parsers.beijing import beijing_iso
from parsers.record import LEVELS
from storage.catalog import Catalog, queries
from storage.catalog.models import Agency, Report, Verdict, VerdictTally
from web.context import BadInput, checked_text
from web.labels import LEVEL_LABELS, STATUS_LABELS, flag_label, level_label, source_label, status_label
from web.summaries import iso
from web.urls import Urls

PAGE_SIZE = 50
MAX_PAGE = 100_000
# with fewer matching verdicts than this share, the page walks verdicts(status, agency_id) instead of probing
# every agency in id order until the page is full
RARE_SHARE = 0.05
EXPORT_CHUNK = 2_000
JUDGED = ("on_time", "late", "missing")  # the on-time rate's denominator: verdicts whose deadline has passed
FAILURES_SHOWN = 50
EXPORT_FIELDS = ("agency_id", "agency", "level", "region", "report_year", "status", "deadline", "legal_basis",
                 "publication_date", "date_source", "first_seen", "days_late", "flags", "report_id", "report_url",
                 "title", "permalink", "reason")
_YEAR = re.compile(r"^\d{4}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class DashboardFilter:
    year: int | None = None
    level: str | None = None
    region: str | None = None
    status: str | None = None
    everyone: bool = False        # ``all=1``: the agencies outside the imported registry too
    watched_only: bool = False    # resolved against the catalog (``scoped``): a registry is imported, not ``all``

    @classmethod
    def parse(cls, *, year: str | None = None, level: str | None = None, region: str | None = None,
              status: str | None = None, everyone: str | None = None) -> "DashboardFilter":
        """From query-string values ('' means no filter); BadInput names the value that cannot be used."""
        everyone = (everyone or "").strip().lower()
        if everyone not in ("", "0", "1", "true", "false"):
            raise BadInput(f"参数 all“{everyone}”无效：1 计入不在监测名单中的机构，0 或留空只计监测名单中的机构")
        year, level, region, status = (value.strip() if value else None for value in (year, level, region, status))
        if year and not (_YEAR.match(year) and 1990 <= int(year) <= 2100):
            raise BadInput(f"年份“{year}”无效：请填写四位数字的报告年度，例如 2023")
        if level and level not in LEVELS:
            raise BadInput(f"层级“{level}”无效：可选 "
                           f"{'、'.join(f'{code}（{LEVEL_LABELS.get(code, code)}）' for code in LEVELS)}")
        if status and status not in STATUS_LABELS:
            raise BadInput(f"状态“{status}”无效：可选 "
                           f"{'、'.join(f'{code}（{label}）' for code, label in STATUS_LABELS.items())}")
        if region:
            checked_text(region, "地区名称", 200)
        return cls(int(year) if year else None, level or None, region or None, status or None,
                   everyone in ("1", "true"))

    def params(self) -> dict[str, str]:
        """The filter as query parameters (only those set), for links that keep it."""
        shown = {key: str(value) for key, value in asdict(self).items()
                 if value is not None and key not in ("everyone", "watched_only")}
        return {**shown, "all": "1"} if self.everyone else shown

    def without_status(self) -> "DashboardFilter":
        return replace(self, status=None)

    def scoped(self, session: Session) -> "DashboardFilter":
        """The filter with ``watched_only`` said by the catalog: an imported registry, and ``all`` not asked."""
        return replace(self, watched_only=not self.everyone and queries.registry_imported(session))


# ---------------------------------------------------------------- counts

def tallies(session: Session, flt: DashboardFilter) -> list[tuple[int, str, int]]:
    """(report year, status, verdicts) under the filter, from the tallies."""
    query = (select(VerdictTally.report_year, VerdictTally.status, func.sum(VerdictTally.count))
             .group_by(VerdictTally.report_year, VerdictTally.status)
             .order_by(VerdictTally.report_year, VerdictTally.status))
    if flt.year is not None:
        query = query.where(VerdictTally.report_year == flt.year)
    if flt.status:
        query = query.where(VerdictTally.status == flt.status)
    if flt.level:
        query = query.where(VerdictTally.level == flt.level)
    if flt.region:
        query = query.where(VerdictTally.region == flt.region)
    if flt.watched_only:
        query = query.where(VerdictTally.watched.is_(True))
    return [(year, status, int(count)) for year, status, count in session.execute(query)]


def status_counts(cells: list[tuple[int, str, int]]) -> dict[str, int]:
    counts = {status: 0 for status in STATUS_LABELS}
    for _year, status, count in cells:
        counts[status] = counts.get(status, 0) + count
    return counts


def on_time_rates(cells: list[tuple[int, str, int]]) -> list[dict[str, Any]]:
    """Per report year: on time / (on time + late + missing); None when nothing of the year is due yet."""
    years: dict[int, dict[str, int]] = {}
    for year, status, count in cells:
        years.setdefault(year, {})[status] = years.get(year, {}).get(status, 0) + count
    rates = []
    for year in sorted(years):
        by_status = years[year]
        judged = sum(by_status.get(status, 0) for status in JUDGED)
        on_time = by_status.get("on_time", 0)
        rates.append({"year": year, "on_time": on_time, "judged": judged,
                      "total": sum(by_status.values()), "rate": on_time / judged if judged else None})
    return rates


# ---------------------------------------------------------------- rows

def _agency_conditions(flt: DashboardFilter) -> list:
    conditions = []
    if flt.level:
        conditions.append(Agency.level == flt.level)
    if flt.region:
        conditions.append(Agency.region == flt.region)
    if flt.watched_only:
        conditions.append(Agency.watched.is_(True))
    return conditions


def _verdict_conditions(flt: DashboardFilter) -> list:
    conditions = []
    if flt.year is not None:
        conditions.append(Verdict.report_year == flt.year)
    if flt.status:
        conditions.append(Verdict.status == flt.status)
    return conditions


def agency_page(session: Session, flt: DashboardFilter, page: int, size: int, *,
                rare: bool = False) -> tuple[list[Agency], bool]:
    """One page of agencies in id order and whether another page follows."""
    query = select(Agency).where(*_agency_conditions(flt)).order_by(Agency.id)
    if flt.status:
        chosen = _verdict_conditions(flt)
        if rare:
            query = query.where(Agency.id.in_(select(Verdict.agency_id).where(*chosen)))
        else:
            query = query.where(exists().where(Verdict.agency_id == Agency.id, *chosen))
    rows = list(session.scalars(query.limit(size + 1).offset((page - 1) * size)))
    return rows[:size], len(rows) > size


def count_agencies(session: Session, flt: DashboardFilter) -> int | None:
    """How many rows the filter gives in all; None under a status filter, where counting would scan verdicts."""
    if flt.status:
        return None
    return session.scalar(select(func.count(Agency.id)).where(*_agency_conditions(flt))) or 0


def page_cells(session: Session, flt: DashboardFilter, agency_ids: list[str]) -> dict[str, dict[int, dict]]:
    """agency id → report year → the cell shown for it."""
    if not agency_ids:
        return {}
    query = (select(Verdict.agency_id, Verdict.report_year, Verdict.status, Verdict.days_late, Verdict.report_id,
                    Verdict.deadline, Verdict.publication_date, Verdict.flags,
                    Verdict.evidence["reason"].as_string())
             .where(Verdict.agency_id.in_(agency_ids), *_verdict_conditions(flt)))
    cells: dict[str, dict[int, dict]] = {}
    for agency_id, year, status, days_late, report_id, deadline, published, flags, reason in session.execute(query):
        cells.setdefault(agency_id, {})[year] = _cell(status, days_late, report_id, deadline, published, flags,
                                                      reason)
    return cells


def _cell(status: str, days_late: int | None, report_id: int | None, deadline: date | None,
          published: date | None, flags: Iterable[str] | None, reason: str | None) -> dict[str, Any]:
    return {"status": status, "label": status_label(status, days_late), "days_late": days_late,
            "report_id": report_id, "deadline": iso(deadline), "publication_date": iso(published),
            "flags": [{"code": flag, "label": flag_label(flag)} for flag in (flags or [])], "reason": reason}


@dataclass(frozen=True)
class _Board:
    """What one dashboard page is made of: from the stored verdicts, or from verdicts computed as of a day."""

    everything: list[tuple[int, str, int]]     # (report year, status, verdicts) of all agencies
    context: list[tuple[int, str, int]]        # … under the filter, bar its status
    agencies: list[Agency]                     # the page's rows
    has_next: bool
    cells: dict[str, dict[int, dict]]
    total: int | None
    regions: list[str]
    scope: dict[str, Any]                      # whose verdicts count: ``scope_data``
    failures: dict[str, Any] | None = None     # 栏目失效 of the current coverage; None when judged as of a day


def dashboard_data(session: Session, flt: DashboardFilter, page: int = 1, size: int = PAGE_SIZE) -> dict[str, Any]:
    """Everything the dashboard shows, JSON-ready: filters, options, counts, chart, rows, paging."""
    _check_page(page)
    flt = flt.scoped(session)
    context = tallies(session, flt.without_status())
    matching = sum(cell[2] for cell in context if not flt.status or cell[1] == flt.status)
    agencies, has_next = agency_page(session, flt, page, size,
                                     rare=bool(flt.status) and matching < RARE_SHARE * sum(c[2] for c in context))
    left_out = 0
    if flt.watched_only:   # the verdicts of the agencies outside the registry, under the same filter
        outside = replace(flt.without_status(), watched_only=False)
        left_out = sum(count for _year, _status, count in tallies(session, outside)) - sum(c[2] for c in context)
    board = _Board(tallies(session, DashboardFilter(watched_only=flt.watched_only)), context, agencies, has_next,
                   page_cells(session, flt, [agency.id for agency in agencies]), count_agencies(session, flt),
                   _regions(session, flt.region, flt.watched_only), scope_data(session, flt, left_out),
                   failed_columns(session))
    return _page_data(board, flt, page, size, None)


def scope_data(session: Session, flt: DashboardFilter, left_out_verdicts: int) -> dict[str, Any]:
    """Whose verdicts the page counts: ``imported`` (a registry marks who is watched), ``watched_only`` (only
    those count), ``outside``: how many agencies of the level/region filter are not in the registry (left out,
    or, with ``all``, counted too) and ``outside_verdicts``: how many of their stored verdicts (under the
    year/level/region filter) the page leaves out."""
    imported = flt.watched_only or (flt.everyone and queries.registry_imported(session))
    outside = queries.count_agencies(session, level=flt.level, region=flt.region, watched=False) if imported else 0
    return {"imported": imported, "watched_only": flt.watched_only, "outside": outside,
            "outside_verdicts": left_out_verdicts}


def failed_columns(session: Session, limit: int = FAILURES_SHOWN) -> dict[str, Any]:
    """栏目失效: agencies whose column gave items in an earlier run and none in their latest (the first ``limit``
    by agency id, with the total)."""
    failures = sorted(column_failures(session), key=lambda failure: failure.agency_id)
    shown = failures[:limit]
    names = dict(session.execute(select(Agency.id, Agency.name)
                                 .where(Agency.id.in_([failure.agency_id for failure in shown]))).all())
    return {"total": len(failures),
            "items": [{**failure.to_json(), "agency": names.get(failure.agency_id),
                       "explanation": failure.explanation()} for failure in shown]}


def parse_as_of(value: str | None) -> date | None:
    """The ``as_of`` query value (YYYY-MM-DD; '' means today's stored verdicts); BadInput says what is wrong."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value) if _DAY.match(value) else None
    except ValueError:
        day = None
    if day is None or not 1990 <= day.year <= 2100:
        raise BadInput(f"日期“{value}”无效：请按 YYYY-MM-DD 填写，例如 2025-01-31")
    if day > today():   # the archive shows what was published by a day that has passed, not what will be
        raise BadInput(f"日期“{value}”还没有到（今天是北京时间 {today().isoformat()}）：只能按已经过去的日期判定")
    return day


def dashboard_data_as_of(catalog: Catalog, flt: DashboardFilter, as_of: date,
                         page: int = 1, size: int = PAGE_SIZE) -> dict[str, Any]:
    """``dashboard_data`` with the verdicts computed as of the end of ``as_of`` from what the archive held by
    then, for the agency × year pairs the catalog has verdicts for; nothing is stored. Every verdict is computed
    (the counts need them all), so this costs what ``xxgk status --as-of`` costs, not a table read."""
    _check_page(page)
    with catalog.reading() as session:
        flt = flt.scoped(session)
        every_agency = list(session.scalars(select(Agency).order_by(Agency.id)))
        judged_years: dict[str, list[int]] = {}
        for agency_id, year in session.execute(select(Verdict.agency_id, Verdict.report_year)):
            judged_years.setdefault(agency_id, []).append(year)
        left_out = 0
        if flt.watched_only:   # only the registry's agencies are judged; the others' verdicts are counted
            outside = {agency.id for agency in every_agency if not agency.watched and
                       (not flt.level or agency.level == flt.level) and (not flt.region or agency.region == flt.region)}
            left_out = sum(1 for agency_id in outside for year in judged_years.get(agency_id, ())
                           if flt.year is None or year == flt.year)
            every_agency = [agency for agency in every_agency if agency.watched]
            judged_years = {agency.id: judged_years[agency.id] for agency in every_agency if agency.id in judged_years}
        scope = scope_data(session, flt, left_out)
    by_agency: dict[str, dict[int, JudgedYear]] = {}
    for result in judge(catalog, as_of=as_of, years=judged_years, store=False,
                        agency_ids=[agency.id for agency in every_agency] if flt.watched_only else None):
        by_agency.setdefault(result.agency_id, {})[result.report_year] = result

    def shown(agency: Agency) -> list[JudgedYear]:
        return [result for year, result in sorted(by_agency.get(agency.id, {}).items())
                if flt.year is None or year == flt.year]

    chosen = [agency for agency in every_agency if (not flt.level or agency.level == flt.level)
              and (not flt.region or agency.region == flt.region)]
    rows = [agency for agency in chosen
            if not flt.status or any(result.verdict.status == flt.status for result in shown(agency))]
    first = (page - 1) * size
    cells = {agency.id: {result.report_year: _cell(result.verdict.status, result.verdict.days_late,
                                                   result.report_id, result.verdict.deadline,
                                                   result.verdict.publication_date, result.flags,
                                                   result.evidence.get("reason"))
                         for result in shown(agency) if not flt.status or result.verdict.status == flt.status}
             for agency in rows[first:first + size]}
    regions = {agency.region for agency in every_agency if agency.region and agency.id in by_agency}
    board = _Board(_tally(result for years in by_agency.values() for result in years.values()),
                   _tally(result for agency in chosen for result in shown(agency)), rows[first:first + size],
                   len(rows) > first + size, cells, None if flt.status else len(chosen),
                   sorted(regions | ({flt.region} if flt.region else set())), scope)
    return _page_data(board, flt, page, size, as_of)


def _tally(results: Iterable[JudgedYear]) -> list[tuple[int, str, int]]:
    counted = Counter((result.report_year, result.verdict.status) for result in results)
    return [(year, status, count) for (year, status), count in sorted(counted.items())]


def _check_page(page: int) -> None:
    if not 1 <= page <= MAX_PAGE:
        raise BadInput(f"页码须在 1 到 {MAX_PAGE} 之间")


def _page_data(board: _Board, flt: DashboardFilter, page: int, size: int, as_of: date | None) -> dict[str, Any]:
    context = board.context
    years = [flt.year] if flt.year is not None else sorted({year for year, _status, _count in context})
    counts = status_counts(context)
    total = board.total
    return {
        "filters": {"year": flt.year, "level": flt.level, "region": flt.region, "status": flt.status,
                    "all": flt.everyone},
        "scope": board.scope,
        "as_of": iso(as_of),   # None: the stored (current) verdicts
        "options": {
            "years": sorted({year for year, _status, _count in board.everything}, reverse=True),
            "levels": [{"value": level, "label": level_label(level)} for level in LEVELS],
            "regions": board.regions,
            "statuses": [{"value": status, "label": label} for status, label in STATUS_LABELS.items()],
        },
        "counts": [{"status": status, "label": STATUS_LABELS.get(status, status), "count": count,
                    "selected": status == flt.status} for status, count in counts.items()],
        "verdicts": sum(cell[2] for cell in context),
        "selected_verdicts": sum(cell[2] for cell in context if not flt.status or cell[1] == flt.status),
        "chart": on_time_rates(context),
        "years": years,
        "rows": [{"agency": {"id": agency.id, "name": agency.name, "level": agency.level,
                             "level_label": level_label(agency.level), "region": agency.region},
                  "cells": {str(year): board.cells.get(agency.id, {}).get(year) for year in years}}
                 for agency in board.agencies],
        "page": {"number": page, "size": size, "has_previous": page > 1, "has_next": board.has_next,
                 "total_agencies": total, "pages": max(1, -(-total // size)) if total is not None else None},
        "column_failures": board.failures,
    }


def _regions(session: Session, current: str | None, watched_only: bool) -> list[str]:
    query = select(VerdictTally.region).distinct().where(VerdictTally.region != "")
    if watched_only:
        query = query.where(VerdictTally.watched.is_(True))
    regions = set(session.scalars(query))
    if current:
        regions.add(current)
    return sorted(regions)


# ---------------------------------------------------------------- exports

def export_count(session: Session, flt: DashboardFilter) -> int:
    return sum(count for _year, _status, count in tallies(session, flt.scoped(session)))


def export_rows(catalog: Catalog, flt: DashboardFilter, urls: Urls) -> Iterator[dict[str, Any]]:
    """Every verdict the filter selects, in the dashboard's order (agency id, report year), read in chunks of
    short transactions so a large export never holds the database; ``permalink``: the report's capture, by
    ``urls`` (absolute, since an export is read outside the site). Once a registry is imported, the watched
    agencies' verdicts alone unless the filter asks for ``all``, as the dashboard counts them."""
    with catalog.reading() as session:
        flt = flt.scoped(session)
    after: tuple[str, int] | None = None
    while True:
        query = (select(Verdict, Agency.name, Agency.level, Agency.region, Report.url, Report.title,
                        Report.capture_id)
                 .join(Agency, Agency.id == Verdict.agency_id)
                 .outerjoin(Report, Report.id == Verdict.report_id)
                 .where(*_agency_conditions(flt), *_verdict_conditions(flt))
                 .order_by(Verdict.agency_id, Verdict.report_year).limit(EXPORT_CHUNK))
        if after is not None:
            query = query.where(tuple_(Verdict.agency_id, Verdict.report_year) > tuple_(*after))
        with catalog.reading() as session:
            chunk = [_export_row(*row, urls) for row in session.execute(query)]
        yield from chunk
        if len(chunk) < EXPORT_CHUNK:
            return
        after = (chunk[-1]["agency_id"], chunk[-1]["report_year"])


def _export_row(verdict: Verdict, name: str, level: str | None, region: str | None, url: str | None,
                title: str | None, capture_id: int | None, urls: Urls) -> dict[str, Any]:
    return {
        "agency_id": verdict.agency_id, "agency": name, "level": level, "region": region,
        "report_year": verdict.report_year, "status": verdict.status,
        "status_label": status_label(verdict.status, verdict.days_late),
        "deadline": iso(verdict.deadline), "legal_basis": verdict.legal_basis,
        "publication_date": iso(verdict.publication_date), "date_source": verdict.date_source,
        "first_seen": beijing_iso(verdict.first_seen),   # Beijing, as the reason and `xxgk status` give it
        "days_late": verdict.days_late, "flags": list(verdict.flags or []),
        "report_id": verdict.report_id, "report_url": url, "title": title,
        "permalink": urls.capture(capture_id) if capture_id is not None else None,
        "reason": (verdict.evidence or {}).get("reason"),
    }


def export_cell(field: str, row: dict[str, Any]) -> Any:
    """A row's field as a spreadsheet shows it: Chinese names for codes, flags joined."""
    value = row.get(field)
    if field == "status":
        return row.get("status_label") or ""
    if field == "level":
        return level_label(value)
    if field == "date_source":
        return source_label(value)
    if field == "flags":
        return "、".join(flag_label(flag) for flag in value or [])
    return "" if value is None else value
