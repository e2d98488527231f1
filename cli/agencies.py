"""``xxgk agencies import|list|check``: the agency registry and its copy in the catalog."""
from __future__ import annotations

import argparse
import json
import sys

from cli.common import EXIT_FAILURE, CommandError, load_agencies, open_catalog, print_table
from monitor.labels import LEVEL_LABELS


def add_parsers(sub) -> None:
    p = sub.add_parser("agencies", help="import, list and check the agency registry",
                       description="import, list and check the agency registry (YAML or CSV)")
    p.add_argument("action", choices=["import", "list", "check"])
    p.add_argument("file", nargs="?", help="registry file (default: the shipped registry)")
    p.add_argument("--level", choices=["department", "government", "township"], help="list: only this level")
    p.add_argument("--format", choices=["table", "json"], default="table", help="list: output format")
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
        if problems:
            raise CommandError(f"{len(problems)} problems in the registry, nothing imported "
                               f"(see `xxgk agencies check {args.file or ''}`): {problems[0]}")
        count = store_agencies(open_catalog(args), agencies)
        print(f"已导入 {count} 个机关")
        return 0
    return _list_agencies(args)


def _list_agencies(args: argparse.Namespace) -> int:
    from storage.catalog import queries

    catalog = open_catalog(args)
    with catalog.reading() as session:
        rows = queries.list_agencies(session, level=args.level)
        data = [{"id": row.id, "name": row.name, "level": row.level, "region": row.region, "homepage": row.homepage}
                for row in rows]
    if not data:
        raise CommandError("no agencies in the catalog yet: run `xxgk agencies import [FILE]` first")
    if args.format == "json":
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    print_table(["id", "机关", "层级", "行政区划", "主页"],
                [[row["id"], row["name"], LEVEL_LABELS.get(row["level"] or "", row["level"] or ""),
                  row["region"] or "", row["homepage"] or ""] for row in data])
    return 0
