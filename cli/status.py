"""``xxgk status`` and ``xxgk reports``: the verdicts and the parsed reports, as tables and exports."""
from __future__ import annotations

import argparse
import sys

from cli.common import (CommandError, as_of_argument, derive_pending_facts, existing_catalog, load_config,
                        report_year_argument, require_agency, require_crawled, write_rows, write_undetermined_reasons)


def add_parsers(sub) -> None:
    help_text = "recompute and print the timeliness verdicts of one report year, with flags"
    p = sub.add_parser("status", help=help_text,
                       description=help_text + " (xlsx needs --output; verdicts as of another day than today "
                                               "are printed, not stored)")
    p.add_argument("--year", required=True, metavar="Y", help="the report year, e.g. 2023 (published in 2024)")
    p.add_argument("--as-of", metavar="DATE",
                   help="judge as of the end of this day, YYYY-MM-DD, from what the archive held by then "
                        "(default: today, Beijing)")
    p.add_argument("--level", choices=["department", "government", "township"], help="only agencies of this level")
    p.add_argument("--region", metavar="R", help="only agencies of this region (as in the registry)")
    p.add_argument("--all", action="store_true",
                   help="also the agencies outside the registry `xxgk agencies import` stored (by default, once a "
                        "registry is imported, only its agencies are printed; without an import, every agency)")
    p.add_argument("--format", choices=["table", "csv", "json", "xlsx"], default="table",
                   help="table and xlsx in Chinese; csv and json with field names and codes (default table)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(handler=cmd_status)

    help_text = "list the parsed reports with their verdicts"
    p = sub.add_parser("reports", help=help_text,
                       description=help_text + " (as stored by the last `xxgk crawl`, or `xxgk status` as of today)")
    p.add_argument("--year", metavar="Y", help="only reports for this report year")
    p.add_argument("--agency", metavar="ID", help="only reports of this agency")
    p.add_argument("--format", choices=["table", "jsonl"], default="table",
                   help="jsonl: one JSON object per report (default table)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(handler=cmd_reports)


# the 标记 column also shows the flags that could not be checked ("倒签：无法判断"; cli.common). csv/json/xlsx carry
# every verdict's reason (判定理由); the table, read in a terminal, lists under it the reasons of the verdicts that
# are no answer by themselves (无法判断)
STATUS_COLUMNS = (("agency", "机关"), ("level", "层级"), ("status", "状态"), ("deadline", "截止日期"),
                  ("publication_date", "发布日期"), ("date_source", "日期依据"), ("days_late", "逾期天数"),
                  ("first_seen", "首次抓取"), ("flags", "标记"))


REPORT_COLUMNS = (("agency", "机关"), ("report_year", "年度"), ("title", "标题"), ("publication_date", "发布日期"),
                  ("date_source", "日期依据"), ("status", "状态"), ("chosen", "用于判定"), ("flags", "标记"),
                  ("report_url", "网址"))


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.clock import today
    from monitor.deadlines import RuleError, load_rules
    from monitor.rows import rows_as_of
    from monitor.verdicts import is_current, judge_and_store
    from storage.catalog import queries

    year = report_year_argument(args.year)
    as_of = as_of_argument(args.as_of) or today()
    if year >= as_of.year:
        raise CommandError(f"the {year} reports are written after {year} ends: nothing is due as of {as_of}")
    rules = load_rules().rules
    if not any(rule.covers(year) for rule in rules):   # else a stored 无法判断 for every agency, shown on the web
        first = min((rule.first_year for rule in rules if rule.first_year), default=None)
        raise CommandError(f"--year {year}: no deadline rule covers the {year} reports"
                           + (f" (the first report year is {first})" if first else ""))
    if args.format == "xlsx" and not args.output:
        raise CommandError("--format xlsx writes a spreadsheet file: add --output FILE.xlsx")
    catalog = existing_catalog(args)
    try:
        require_crawled(catalog)
        derive_pending_facts(load_config(args), catalog, args.command)
        try:
            if is_current(as_of):  # the full re-judge: every agency, stored chunk by chunk
                judge_and_store(catalog, as_of=as_of, years=[year])
            with catalog.reading() as session:   # an imported registry: its agencies alone, unless --all
                watched_only = not args.all and queries.registry_imported(session)
                outside = queries.count_agencies(session, level=args.level, region=args.region,
                                                 watched=False) if watched_only else 0
            rows = rows_as_of(catalog, as_of, years=[year], year=year, level=args.level, region=args.region,
                              watched=True if watched_only else None)
        except RuleError as exc:
            raise CommandError(str(exc)) from exc
    finally:
        catalog.close()
    left_out = f"另有 {outside} 个机构不在监测名单（已导入的注册表）中，未计入；加 --all 计入" if outside else ""
    if not rows:
        raise CommandError("no agency in the catalog matches --level/--region" + (f"（{left_out}）" if left_out else ""))
    write_rows(rows, args.format, args.output, STATUS_COLUMNS)
    if args.format == "table":
        write_undetermined_reasons(rows, args.output)
    if left_out:   # on stderr: csv and json on stdout stay what a program reads
        print(f"xxgk status: {left_out}", file=sys.stderr)
    return 0


def cmd_reports(args: argparse.Namespace) -> int:
    from monitor.rows import report_rows

    year = report_year_argument(args.year) if args.year is not None else None
    catalog = existing_catalog(args)
    try:
        require_crawled(catalog)
        with catalog.reading() as session:
            require_agency(session, args.agency)
        rows = report_rows(catalog, year=year, agency_id=args.agency)
    finally:
        catalog.close()
    write_rows(rows, args.format, args.output, REPORT_COLUMNS)
    if args.format == "table":
        write_undetermined_reasons([row for row in rows if row.get("chosen")], args.output)
    return 0
