"""The ``xxgk`` command line.

Each subcommand is a thin adapter: it reads arguments and configuration, calls the module that does the job,
and turns a failure into one line on stderr and a non-zero exit status.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A command could not do its job; the message is the one line shown to the user."""


# ---------------------------------------------------------------- parse

def cmd_parse(args: argparse.Namespace) -> int:
    from parsers.document import parse_document
    from parsers.record import FetchContext
    from crawler.render_record import render_record_text

    target: str = args.target
    if target.startswith(("http://", "https://")):
        data, context = _fetch_once(target, args.timeout)
    else:
        path = Path(target)
        if not path.is_file():
            raise CommandError(f"no such file: {target}")
        data = path.read_bytes()
        context = FetchContext(url=None, filename=path.name)
    if args.level:
        context = _with_level(context, args.level)
    record = parse_document(data, context)
    if args.json:
        payload = record.to_json()
        if not args.with_text:
            payload.pop("text", None)
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_record_text(record))
    return 0 if record.error is None else EXIT_FAILURE


def _with_level(context, level: str):
    from dataclasses import replace
    return replace(context, level=level)


def _fetch_once(url: str, timeout: float):
    """One plain GET: `xxgk parse URL` reads a single document, it does not crawl."""
    import httpx
    from parsers.record import FetchContext

    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True,
                             headers={"User-Agent": user_agent()})
    except httpx.HTTPError as exc:
        raise CommandError(f"cannot fetch {url}: {exc.__class__.__name__}: {exc}") from exc
    if response.status_code >= 400:
        raise CommandError(f"cannot fetch {url}: HTTP {response.status_code}")
    context = FetchContext(
        url=str(response.url),
        content_type=response.headers.get("content-type"),
        headers=dict(response.headers),
        filename=Path(response.url.path).name or None,
    )
    return response.content, context


def user_agent() -> str:
    from crawler import USER_AGENT
    return USER_AGENT


# ---------------------------------------------------------------- export-warc, verify (the archive)

def _open_archive_reader(args: argparse.Namespace):
    """A capture reader over the existing catalog and store; never creates either."""
    from storage.archive import open_reader
    from storage.catalog import CatalogError
    from storage.config import Config, ConfigError
    from storage.objects import ObjectStoreError

    try:
        config = Config.from_env(data_dir=args.data_dir)
        return open_reader(config)
    except CatalogError as exc:
        raise CommandError(str(exc)) from exc
    except (ObjectStoreError, ConfigError) as exc:
        raise CommandError(str(exc)) from exc


def cmd_export_warc(args: argparse.Namespace) -> int:
    from storage.export import ExportError, export_warc
    from storage.objects import ObjectStoreError

    reader = _open_archive_reader(args)
    try:
        result = export_warc(reader, args.out, run_id=args.run, agency_id=args.agency, everything=args.all)
    except (ExportError, ObjectStoreError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        reader.catalog.close()
        reader.store.close()
    extra = f"，含 {result.originals_added} 条被 revisit 引用的原始记录" if result.originals_added else ""
    print(f"已导出 {result.captures} 条捕获{extra}到 {result.path}（{result.bytes / 1e6:.1f} MB）")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from storage.objects import ObjectStoreError
    from storage.verify import verify_archive

    reader = _open_archive_reader(args)
    try:
        result = verify_archive(reader, run_id=args.run)
    except ObjectStoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        reader.catalog.close()
        reader.store.close()
    scope = f"运行 {args.run} 的" if args.run else ""
    print(f"已检查{scope} {result.checked} 条捕获，{result.segments} 个 WARC 段（{reader.store.location}）")
    print(f"  正常 ok       {result.ok}")
    print(f"  缺失 missing  {result.missing}")
    print(f"  损坏 corrupt  {result.corrupt}")
    if result.segments_missing or result.segments_corrupt:
        print(f"  段缺失 {result.segments_missing}，段损坏 {result.segments_corrupt}")
    if result.unindexed_objects:
        print(f"  未被索引的 WARC 对象 {len(result.unindexed_objects)} 个（不计为错误）")
    for problem in result.problems[: max(args.show, 0)]:
        label = "缺失" if problem.status == "missing" else "损坏"
        where = f"捕获 {problem.capture_id} {problem.url}" if problem.capture_id is not None else f"段 {problem.warc_key}"
        print(f"  {label} {where}: {problem.detail}")
    if len(result.problems) > max(args.show, 0):
        print(f"  … 另有 {len(result.problems) - max(args.show, 0)} 个问题未列出（--show N）")
    return EXIT_FAILURE if result.failed else 0


# ---------------------------------------------------------------- configuration

def load_config(args: argparse.Namespace):
    from storage.config import Config, ConfigError

    try:
        return Config.from_env(data_dir=getattr(args, "data_dir", None))
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc


def open_catalog(args: argparse.Namespace, *, create: bool = True):
    """The catalog, or a one-line reason why it cannot be opened."""
    from storage.catalog import Catalog

    config = load_config(args)
    try:
        return Catalog.open(config, create=create)
    except Exception as exc:  # any driver error: bad URL, server down, permissions
        raise CommandError(f"cannot open the catalog at {config.database_url}: {exc.__class__.__name__}: {exc}") from exc


def load_agencies(path: str | None):
    from crawler.registry import RegistryError, load_default_registry, load_registry

    try:
        return load_registry(path) if path else load_default_registry()
    except RegistryError as exc:
        raise CommandError(str(exc)) from exc


# ---------------------------------------------------------------- agencies

def cmd_agencies(args: argparse.Namespace) -> int:
    from crawler.registry import validate

    if args.action == "check":
        agencies = load_agencies(args.file)
        problems = validate(agencies)
        for problem in problems:
            print(problem)
        print(f"{len(agencies)} 个机关，{len(problems)} 个问题")
        return EXIT_FAILURE if problems else 0
    if args.action == "import":
        from crawler.catalog_sync import store_agencies

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


LEVEL_LABELS = {"department": "部门", "government": "人民政府", "township": "乡镇街道"}


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A plain aligned table; CJK characters count as two columns, as a terminal shows them."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))


# ---------------------------------------------------------------- not built yet

def _not_built(issue: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        raise CommandError(f"`xxgk {args.command}` is not built yet (planned in the {issue} issue)")
    return handler


# ---------------------------------------------------------------- wiring

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xxgk",
        description="xxgk-watch: find, archive, parse and judge 政府信息公开工作年度报告.",
    )
    parser.add_argument("--data-dir", help="where archives and the catalog live (default: $XXGK_DATA_DIR or ./xxgk-data)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("parse", help="parse one document (file or URL) and print its record")
    p.add_argument("target", metavar="PATH_OR_URL")
    p.add_argument("--level", choices=["department", "government", "township"],
                   help="agency level, used for the deadline shown")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--with-text", action="store_true", help="include the full main text in the JSON")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a URL (default 30)")
    p.set_defaults(handler=cmd_parse)

    p = sub.add_parser("agencies", help="import, list and check the agency registry",
                       description="import, list and check the agency registry (YAML or CSV)")
    p.add_argument("action", choices=["import", "list", "check"])
    p.add_argument("file", nargs="?", help="registry file (default: the shipped registry)")
    p.add_argument("--level", choices=["department", "government", "township"], help="list: only this level")
    p.add_argument("--format", choices=["table", "json"], default="table", help="list: output format")
    p.set_defaults(handler=cmd_agencies)

    from crawler import cli_crawl

    cli_crawl.add_parsers(sub)

    for name, help_text, issue in [
        ("status", "timeliness verdicts per agency and report year", "monitoring"),
        ("reports", "list parsed reports", "monitoring"),
        ("serve", "start the web UI", "monitoring"),
    ]:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=_not_built(issue))

    help_text = "export archived captures as one WARC file (revisit originals included)"
    p = sub.add_parser("export-warc", help=help_text, description=help_text)
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument("--run", metavar="ID", help="the captures of one crawl run")
    choice.add_argument("--agency", metavar="ID", help="the captures of one agency")
    choice.add_argument("--all", action="store_true", help="every capture in the archive")
    p.add_argument("out", metavar="OUT", help="the WARC file to write, e.g. export.warc.gz")
    p.set_defaults(handler=cmd_export_warc)

    help_text = "re-read every capture from the object store and check digests and index offsets"
    p = sub.add_parser("verify", help=help_text, description=help_text + "; exits 1 when anything is missing or corrupt")
    p.add_argument("--run", metavar="ID", help="only the captures of this crawl run")
    p.add_argument("--show", type=int, default=20, metavar="N", help="list at most N problems (default 20)")
    p.set_defaults(handler=cmd_verify)
    for subparser in sub.choices.values():  # `xxgk crawl --data-dir X` as well as `xxgk --data-dir X crawl`
        if not any("--data-dir" in action.option_strings for action in subparser._actions):
            subparser.add_argument("--data-dir", default=argparse.SUPPRESS, help="data directory (as the global option)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as exc:
        print(f"xxgk {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # `xxgk … | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"xxgk {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
