"""How well the crawler read each agency's report column, run by run: for ``xxgk agencies coverage``, the agency
page, the run summary, and the call-out of columns that stopped yielding items (栏目失效).

The rows are written by the crawler (``storage.catalog.models.ColumnCoverage``); this module only reads them.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from monitor.proof import error_text
from parsers.beijing import beijing_iso
from storage.catalog import queries
from storage.catalog.models import ColumnCoverage

FOUND_BY_LABELS = {"registry": "注册表", "link_text": "链接文字", "url_words": "网址关键词",
                   "section_descent": "逐级进入信息公开栏目", "catalogue": "信息公开目录年报分类",
                   "site_search": "站内搜索", "sitemap": "sitemap.xml"}
PROBLEM_LABELS = {"not_found": "未找到栏目", "unreadable": "栏目无法读取",
                  "robots": "robots.txt 禁止或无法取得",   # a robots.txt answering 5xx forbids the site (RFC 9309)
                  "script_error": "脚本出错", "empty": "栏目为空"}


@dataclass(frozen=True)
class AgencyCoverage:
    """What one run read of one agency's columns, summed over the columns."""

    agency_id: str
    run_id: str
    read_at: datetime
    columns: list[dict[str, Any]]
    pages_walked: int
    items_read: int
    reports_found: int
    rendered: bool
    complete: bool
    earliest_item: date | None
    latest_item: date | None
    problems: list[str] = field(default_factory=list)   # PROBLEM_LABELS keys of columns that gave no items

    @property
    def read(self) -> bool:
        return self.items_read > 0

    def to_json(self) -> dict[str, Any]:
        return {"agency_id": self.agency_id, "run_id": self.run_id, "read_at": beijing_iso(self.read_at),
                "columns": self.columns, "pages_walked": self.pages_walked, "items_read": self.items_read,
                "reports_found": self.reports_found, "rendered": self.rendered, "complete": self.complete,
                "earliest_item": self.earliest_item.isoformat() if self.earliest_item else None,
                "latest_item": self.latest_item.isoformat() if self.latest_item else None,
                "problems": self.problems}


def describe_errors(errors: Iterable[Mapping[str, Any]] | None, limit: int) -> str:
    """A column's fetch errors for a table cell: how many, and the first ``limit`` of them in words."""
    errors = list(errors or [])
    if not errors:
        return ""
    shown = "；".join(error_text(error) for error in errors[:limit])
    return f"{len(errors)} 个：{shown}" + ("等" if len(errors) > limit else "")


def report_entries_text(column: Mapping[str, Any]) -> str:
    """How many of a read's entries are annual reports, and of which years, for a table cell ("" when the read
    predates the count): what a 未发布 needs of the read (``monitor.proof``)."""
    count = column.get("report_items")
    if count is None:
        return ""
    years = "、".join(str(year) for year in column.get("report_years") or ())
    return f"{count}" + (f"（{years} 年度）" if years else "")


def column_json(row: ColumnCoverage) -> dict[str, Any]:
    return {"coverage_id": row.id, "column_url": row.column_url, "found_by": row.found_by,
            "read_at": beijing_iso(row.read_at), "capture_id": row.capture_id, "pages_walked": row.pages_walked,
            "complete": row.complete, "rendered": row.rendered, "items_read": row.items_read,
            "dated_items": row.dated_items,
            "earliest_item": row.earliest_item.isoformat() if row.earliest_item else None,
            "latest_item": row.latest_item.isoformat() if row.latest_item else None,
            "reports_found": row.reports_found, "report_items": row.report_items, "report_years": row.report_years,
            "problem": row.problem, "detail": row.detail, "errors": list(row.errors or [])}


def summarize(agency_id: str, run_id: str, rows: list[ColumnCoverage]) -> AgencyCoverage:
    dated = [row for row in rows if row.earliest_item is not None]
    latest = [row for row in rows if row.latest_item is not None]
    read = [row for row in rows if row.items_read > 0]
    return AgencyCoverage(
        agency_id=agency_id, run_id=run_id, read_at=min(row.read_at for row in rows),
        columns=[column_json(row) for row in rows],
        pages_walked=sum(row.pages_walked for row in rows), items_read=sum(row.items_read for row in rows),
        reports_found=sum(row.reports_found for row in rows), rendered=any(row.rendered for row in rows),
        complete=bool(read) and all(row.complete for row in read),
        earliest_item=min((row.earliest_item for row in dated), default=None),
        latest_item=max((row.latest_item for row in latest), default=None),
        problems=sorted({row.problem for row in rows if row.problem}))


def _grouped(rows: Iterable[ColumnCoverage]) -> dict[tuple[str, str], list[ColumnCoverage]]:
    grouped: dict[tuple[str, str], list[ColumnCoverage]] = {}
    for row in rows:
        grouped.setdefault((row.agency_id, row.run_id), []).append(row)
    return grouped


def history(session, agency_id: str) -> list[AgencyCoverage]:
    """Every run's coverage of one agency, oldest first."""
    rows = session.scalars(select(ColumnCoverage).where(ColumnCoverage.agency_id == agency_id)
                           .order_by(ColumnCoverage.read_at, ColumnCoverage.id))
    summaries = [summarize(agency, run, group) for (agency, run), group in _grouped(rows).items()]
    return sorted(summaries, key=lambda item: item.read_at)


def latest(session, *, agency_ids: Iterable[str] | None = None, run_id: str | None = None) -> list[AgencyCoverage]:
    """Each agency's coverage in its latest run (or in ``run_id``), by agency id."""
    query = select(ColumnCoverage)
    wanted = list(agency_ids) if agency_ids is not None else None
    if wanted is not None:
        query = query.where(ColumnCoverage.agency_id.in_(wanted))
    if run_id is not None:
        query = query.where(queries.few(ColumnCoverage.run_id == run_id))
    else:
        newest = (select(ColumnCoverage.agency_id, func.max(ColumnCoverage.read_at).label("read_at"))
                  .group_by(ColumnCoverage.agency_id).subquery())
        newest_runs = (select(ColumnCoverage.agency_id, ColumnCoverage.run_id)
                       .join(newest, (newest.c.agency_id == ColumnCoverage.agency_id)
                             & (newest.c.read_at == ColumnCoverage.read_at)).subquery())
        query = query.join(newest_runs, (newest_runs.c.agency_id == ColumnCoverage.agency_id)
                           & (newest_runs.c.run_id == ColumnCoverage.run_id))
    rows = session.scalars(query.order_by(ColumnCoverage.agency_id, ColumnCoverage.id))
    summaries = [summarize(agency, run, group) for (agency, run), group in _grouped(rows).items()]
    return sorted(summaries, key=lambda item: item.agency_id)


@dataclass(frozen=True)
class ColumnFailure:
    """栏目失效: the agency's column gave items in an earlier run and none in this one."""

    agency_id: str
    run_id: str
    last_good_run_id: str
    last_good_read_at: datetime
    last_good_items: int
    problems: list[str]

    def explanation(self) -> str:
        """The failure without the agency's id, for pages that name the agency themselves."""
        why = "、".join(PROBLEM_LABELS.get(problem, problem) for problem in self.problems) or "没有读到条目"
        return (f"栏目失效（{why}）；上次读到条目是 {beijing_iso(self.last_good_read_at)[:10]}"
                f"（{self.last_good_items} 个条目，运行 {self.last_good_run_id}）")

    def message(self) -> str:
        return f"{self.agency_id}：{self.explanation()}"

    def to_json(self) -> dict[str, Any]:
        return {"agency_id": self.agency_id, "run_id": self.run_id, "last_good_run_id": self.last_good_run_id,
                "last_good_read_at": beijing_iso(self.last_good_read_at), "last_good_items": self.last_good_items,
                "problems": self.problems, "message": self.message()}


def column_failures(session, run_id: str | None = None) -> list[ColumnFailure]:
    """Agencies whose column yielded items before and none in ``run_id`` (default: each agency's latest run)."""
    failures = []
    for now in latest(session, run_id=run_id):
        if now.read:
            continue
        before = [item for item in history(session, now.agency_id) if item.read_at < now.read_at and item.read]
        if before:
            good = before[-1]
            failures.append(ColumnFailure(now.agency_id, now.run_id, good.run_id, good.read_at, good.items_read,
                                          now.problems))
    return failures

