"""``xxgk agencies import|list|check|coverage``: the agency registry, its copy in the catalog, and how well each
agency's report column was read."""
from __future__ import annotations

import argparse
import json
import sys

from cli.common import EXIT_FAILURE, CommandError, load_agencies, open_catalog, print_table
from monitor.labels import LEVEL_LABELS


def add_parsers(sub) -> None:
    p = sub.add_parser("agencies", help="import, list and check the agency registry; show column coverage",
                       description="import, list and check the agency registry (YAML or CSV). `import` copies it "
                                   "into the catalog as who is watched: `xxgk crawl` and `xxgk schedule` without "
                                   "--registry crawl the imported agencies (nothing imported: the shipped registry); "
                                   "`list` shows the catalog's agencies, 监测 marking the imported ones; `coverage` "
                                   "shows what the latest crawl read of each agency's report column")
    p.add_argument("action", choices=["import", "list", "check", "coverage"])
    p.add_argument("file", nargs="?", help="registry file (default: the shipped registry)")
    p.add_argument("--level", choices=["department", "government", "township"], help="list: only this level")
    p.add_argument("--format", choices=["table", "json"], default="table", help="list, coverage: output format")
    p.add_argument("--agency", metavar="ID", help="coverage: every run of this agency instead of the latest of each")
    p.add_argument("--run", metavar="ID", help="coverage: what this run read")
    p.set_defaults(handler=cmd_agencies)


def cmd_agencies(args: argparse.Namespace) -> int:
    from registry.agencies import validate

    if args.action == "check":
        agencies = load_agencies(args.file)
        problems = validate(agencies)
        for problem in problems:
            print(problem)
        print(f"{len(agencies)} 个机关，{len(problems)} 个问题")
        return EXIT_FAILURE if problems else 0
    if args.action == "import":
        from registry.catalog_sync import store_agencies

        agencies = load_agencies(args.file)
        problems = validate(agencies)
        check = f"xxgk agencies check {args.file}" if args.file else "xxgk agencies check"
        if problems:
            raise CommandError(f"注册表有 {len(problems)} 个问题，未导入（见 `{check}`）：{problems[0]}")
        if not agencies:   # it would leave nothing watched, and crawls would fall back to the shipped registry
            raise CommandError(f"注册表 {args.file} 中没有机构，未导入")
        # the imported registry is who `crawl` and `schedule` watch without --registry, in place of the last one
        count = store_agencies(open_catalog(args), agencies, watched=True)
        print(f"已导入 {count} 个机关（不带 --registry 的 `xxgk crawl` 与 `xxgk schedule` 抓取它们）")
        return 0
    if args.action == "coverage":
        return _coverage(args)
    return _list_agencies(args)


def _list_agencies(args: argparse.Namespace) -> int:
    from storage.catalog import queries

    catalog = open_catalog(args)
    with catalog.reading() as session:
        rows = queries.list_agencies(session, level=args.level)
        data = [{"id": row.id, "name": row.name, "level": row.level, "region": row.region, "homepage": row.homepage,
                 "watched": row.watched} for row in rows]
        held = len(queries.list_agencies(session)) if not data and args.level else 0
    if held:
        raise CommandError(f"目录数据库的 {held} 个机关中没有层级为 {args.level} 的")
    if not data:
        raise CommandError("目录数据库中还没有机关：先运行 `xxgk agencies import [FILE]`")
    if args.format == "json":
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    # 监测: in the imported registry, crawled without --registry; the others came into the catalog by a crawl
    print_table(["id", "机关", "层级", "行政区划", "主页", "监测"],
                [[row["id"], row["name"], LEVEL_LABELS.get(row["level"] or "", row["level"] or ""),
                  row["region"] or "", row["homepage"] or "", "是" if row["watched"] else ""] for row in data])
    return 0


COVERAGE_COLUMNS = ["机关", "运行", "读取时间", "栏目", "发现方式", "页数", "条目", "年报条目", "条目日期范围", "浏览器", "读完",
                    "报告", "问题", "错误"]


def _coverage(args: argparse.Namespace) -> int:
    from cli.common import existing_catalog, require_agency
    from monitor import coverage

    catalog = existing_catalog(args)
    try:
        with catalog.reading() as session:
            if args.agency:
                found = coverage.history(session, args.agency)
                if not found:   # coverage rows have no foreign key to agencies: a history is shown without one
                    require_agency(session, args.agency)
                if args.run:
                    found = [item for item in found if item.run_id == args.run]
            else:
                found = coverage.latest(session, run_id=args.run)
            failures = coverage.column_failures(session, run_id=args.run)
    finally:
        catalog.close()
    if not found:
        raise CommandError("no column coverage recorded" + (f" for {args.agency}" if args.agency else "")
                           + (f" in run {args.run}" if args.run else "") + ": run `xxgk crawl` first")
    if args.format == "json":
        json.dump({"coverage": [item.to_json() for item in found],
                   "column_failures": [failure.to_json() for failure in failures]},
                  sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    rows = []
    for item in found:
        for column in item.columns:
            dates = "–".join(filter(None, (column["earliest_item"], column["latest_item"])))
            problem = coverage.PROBLEM_LABELS.get(column["problem"] or "", "")
            rows.append([item.agency_id, item.run_id, (column["read_at"] or "")[:16].replace("T", " "),
                         column["column_url"] or "（无）", coverage.FOUND_BY_LABELS.get(column["found_by"] or "", ""),
                         column["pages_walked"], column["items_read"], coverage.report_entries_text(column), dates,
                         "是" if column["rendered"] else "",
                         "是" if column["complete"] else "", column["reports_found"],
                         problem + (f"：{column['detail']}" if column["detail"] else ""),
                         coverage.describe_errors(column["errors"], limit=1)])
    print_table(COVERAGE_COLUMNS, rows)
    for failure in failures:
        print(f"栏目失效 {failure.message()}")
    return 0
