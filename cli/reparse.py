"""``xxgk reparse``: the archived reports parsed again with the current parsers, and what that changed.

A better parser must reach what is already archived. The captures the crawl parsed (each has a report row: reports
and look-alikes) are parsed again in the parse pool (``cli.reparsing``); a record that differs replaces the row and
the one it replaces is kept (``report_history``). The touched agencies are judged again as of today (Beijing), and
their verdicts compared with those stored before.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime

from cli.common import (CommandError, date_argument, derive_pending_facts, existing_catalog, load_config,
                        report_year_argument, require_agency, require_crawled)
from cli.reparsing import parse_archived
from monitor.labels import STATUS_LABELS


def add_parsers(sub) -> None:
    help_text = "parse the archived reports again with the current parsers and show what changed"
    p = sub.add_parser("reparse", help=help_text,
                       description=help_text + ": every capture the crawl parsed (reports and the documents taken "
                                               "for look-alikes) is parsed again; a changed record replaces the "
                                               "stored one, which is kept as history; the verdicts of the agencies "
                                               "touched are recomputed as of today (Beijing) and compared with "
                                               "the stored ones")
    p.add_argument("--agency", metavar="ID", help="only the documents of this agency")
    p.add_argument("--year", metavar="Y", help="only the documents stored for this report year")
    p.add_argument("--since", metavar="DATE", help="only the documents archived on or after this day, YYYY-MM-DD "
                                                  "(Beijing)")
    p.set_defaults(handler=cmd_reparse)


@dataclass(frozen=True)
class _Seen:
    """What a report row says, in the fields a reader of the verdicts cares about."""

    agency_id: str | None
    is_report: bool
    report_year: int | None
    publication_date: date | None
    format: str

    @classmethod
    def of(cls, report) -> "_Seen":
        return cls(report.agency_id, report.is_report, report.report_year, report.publication_date, report.format)


def cmd_reparse(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from monitor.clock import today
    from monitor.deadlines import RuleError
    from monitor.rejudge import rejudge
    from registry.catalog_sync import agency_from_row
    from storage.archive import open_reader
    from storage.catalog import queries
    from storage.catalog.models import Report
    from storage.objects import ObjectStoreError

    year = report_year_argument(args.year) if args.year is not None else None
    since = date_argument(args.since, "--since") if args.since is not None else None
    config = load_config(args)
    catalog = existing_catalog(args)
    try:
        require_crawled(catalog)
        with catalog.reading() as session:
            require_agency(session, args.agency)
            agencies = [agency_from_row(row) for row in queries.list_agencies(session)]
            names = {agency.id: agency.name for agency in agencies}
            selected = _selected(session, agency_id=args.agency, year=year, since=since)
        if not selected:
            raise CommandError("no parsed document in the catalog matches --agency/--year/--since")
        try:
            reader = open_reader(config, catalog=catalog)
        except (ObjectStoreError, OSError) as exc:
            raise CommandError(f"cannot read the archive: {exc}") from exc
        try:
            started = queries.utcnow()
            display = _Progress(len(selected))
            try:
                parsed = parse_archived(catalog, reader, agencies, [capture for capture, _seen in selected],
                                        progress=display.update)
            finally:
                display.close()
            if parsed.unreadable and not parsed.stored:
                raise CommandError(f"cannot read the archive: none of the {parsed.unreadable} captures could be "
                                   f"read ({parsed.problems[0]})")
            with catalog.reading() as session:
                changed = _changed(session, selected, started)
            derive_pending_facts(config, catalog, "reparse")
            touched = {agency_id for before, after in changed.values() for agency_id in
                       (before.agency_id, after.agency_id) if agency_id is not None}
            with catalog.reading() as session:  # whose 疑似雷同 may follow a text that changed
                replaced = list(session.scalars(select(Report.id).where(Report.capture_id.in_(sorted(changed)))))
            # a year whose report moved away is judged again too (rejudge adds the years with a verdict)
            years: dict[str, set[int]] = {}
            for before, _after in changed.values():
                if before.agency_id is not None and before.report_year is not None:
                    years.setdefault(before.agency_id, set()).add(before.report_year)
            moved = {seen.report_year for pair in changed.values() for seen in pair if seen.report_year is not None}
            try:
                verdicts = rejudge(catalog, touched, as_of=today(), years=years, report_years=moved,
                                   new_reports=replaced).changes
            except RuleError as exc:
                raise CommandError(str(exc)) from exc
        finally:
            reader.store.close()
    finally:
        catalog.close()
    _print_changes(selected, changed, verdicts, parsed, names)
    return 0


def _selected(session, *, agency_id: str | None, year: int | None, since: date | None) -> list:
    """(capture row, what its report row says) of every parsed capture the filters keep, in capture order."""
    from sqlalchemy import or_, select

    from parsers.beijing import BEIJING
    from storage.catalog.models import Capture, Report

    query = select(Capture, Report).join(Report, Report.capture_id == Capture.id).order_by(Capture.id)
    if agency_id is not None:  # the agency it is attributed to, or the one whose column linked it
        query = query.where(or_(Report.agency_id == agency_id, Capture.agency_id == agency_id))
    if year is not None:
        query = query.where(Report.report_year == year)
    if since is not None:
        query = query.where(Capture.timestamp >= datetime.combine(since, datetime.min.time(), BEIJING))
    return [(capture, _Seen.of(report)) for capture, report in session.execute(query)]


def _changed(session, selected: list, started: datetime) -> dict[int, tuple[_Seen, _Seen]]:
    """capture id → (before, after) of the report rows whose record was replaced by this run (a history row)."""
    from sqlalchemy import select

    from storage.catalog.models import Report, ReportHistory

    wanted = {capture.id: seen for capture, seen in selected}
    query = (select(Report).join(ReportHistory, ReportHistory.report_id == Report.id)
             .where(ReportHistory.replaced_at >= started).distinct())
    return {report.capture_id: (wanted[report.capture_id], _Seen.of(report)) for report in session.scalars(query)
            if report.capture_id in wanted}


def _differences(before: _Seen, after: _Seen, names: dict[str, str]) -> list[str]:
    def shown(value) -> str:
        return "无" if value is None else str(value)

    found = []
    if before.is_report != after.is_report:
        found.append("新识别为年度报告" if after.is_report else "不再识别为年度报告")
    if before.report_year != after.report_year:
        found.append(f"报告年度 {shown(before.report_year)} → {shown(after.report_year)}")
    if before.publication_date != after.publication_date:
        found.append(f"发布日期 {shown(before.publication_date)} → {shown(after.publication_date)}")
    if before.format != after.format:
        found.append(f"格式 {before.format} → {after.format}")
    if before.agency_id != after.agency_id:
        found.append(f"机关 {names.get(before.agency_id, shown(before.agency_id))} → "
                     f"{names.get(after.agency_id, shown(after.agency_id))}")
    return found


def _print_changes(selected: list, changed: dict, verdicts: dict, parsed, names: dict[str, str]) -> None:
    from parsers.version import PARSER_VERSION

    urls = {capture.id: capture.url for capture, _seen in selected}
    noted = 0
    for capture_id, (before, after) in sorted(changed.items()):
        differences = _differences(before, after, names)
        if differences:
            noted += 1
            agency = names.get(after.agency_id or before.agency_id, after.agency_id or "未归属机关")
            print(f"文档 {urls[capture_id]}（{agency}）：{'；'.join(differences)}")
    for (agency_id, year), (before, after) in verdicts.items():
        print(f"判定 {names.get(agency_id, agency_id)} {year} 年度：{_status(before)} → {_status(after)}")
    print(f"已用解析器 {PARSER_VERSION} 重新解析 {parsed.stored} 份文档，记录变化 {len(changed)} 份"
          f"（其中 {noted} 份的年报判断、年度、发布日期、格式或机关有变），判定变化 {len(verdicts)} 项")
    for problem in parsed.problems:
        print(f"xxgk reparse: {problem}", file=sys.stderr)
    if parsed.unreadable:
        print(f"xxgk reparse: {parsed.unreadable} 条捕获无法读取，保留原记录", file=sys.stderr)


def _status(status: str | None) -> str:
    return STATUS_LABELS.get(status, status) if status else "无判定"


class _Progress:
    """A progress bar on a terminal; nothing when output is redirected."""

    def __init__(self, total: int):
        self.bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("重新解析"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                console=Console(stderr=True))
            self.task = self.bar.add_task("reparse", total=total)
            self.bar.start()

    def update(self, handled: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=handled)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
