"""The ``xxgk`` command line.

Each subcommand is a thin adapter: it reads arguments and configuration, calls the module that does the job,
and turns a failure into one line on stderr and a non-zero exit status.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    from storage.objects import ObjectStoreError

    config = load_config(args)
    try:
        return open_reader(config)
    except (CatalogError, ObjectStoreError) as exc:
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


# ---------------------------------------------------------------- status, reports (the monitoring)

STATUS_COLUMNS = (("agency", "机关"), ("level", "层级"), ("status", "状态"), ("deadline", "截止日期"),
                  ("publication_date", "发布日期"), ("date_source", "日期依据"), ("days_late", "逾期天数"),
                  ("first_seen", "首次抓取"), ("flags", "标记"))
REPORT_COLUMNS = (("agency", "机关"), ("report_year", "年度"), ("title", "标题"), ("publication_date", "发布日期"),
                  ("date_source", "日期依据"), ("status", "状态"), ("chosen", "用于判定"), ("flags", "标记"),
                  ("report_url", "网址"))


def cmd_status(args: argparse.Namespace) -> int:
    from crawler.monitor import judge, verdict_rows
    from parsers.deadlines import RuleError

    year = _report_year_argument(args.year)
    as_of = _date_argument(args.as_of, "--as-of") if args.as_of else _beijing_today()
    if year >= as_of.year:
        raise CommandError(f"the {year} reports are written after {year} ends: nothing is due as of {as_of}")
    if args.format == "xlsx" and not args.output:
        raise CommandError("--format xlsx writes a spreadsheet file: add --output FILE.xlsx")
    catalog = _existing_catalog(args)
    reader = None
    try:
        _require_crawled(catalog)
        reader = _archive_reader_or_none(args, catalog)
        try:
            judge(catalog, as_of=as_of, years=[year], reader=reader)
        except RuleError as exc:
            raise CommandError(str(exc)) from exc
        rows = verdict_rows(catalog, year=year, level=args.level, region=args.region)
    finally:
        if reader is not None:
            reader.store.close()
        catalog.close()
    if not rows:
        raise CommandError("no agency in the catalog matches --level/--region")
    _write_rows(rows, args.format, args.output, STATUS_COLUMNS)
    return 0


def cmd_reports(args: argparse.Namespace) -> int:
    from crawler.monitor import report_rows
    from storage.catalog import queries

    year = _report_year_argument(args.year) if args.year is not None else None
    catalog = _existing_catalog(args)
    try:
        _require_crawled(catalog)
        with catalog.reading() as session:
            if args.agency and queries.get_agency(session, args.agency) is None:
                raise CommandError(f"no agency {args.agency!r} in the catalog (see `xxgk agencies list`)")
        rows = report_rows(catalog, year=year, agency_id=args.agency)
    finally:
        catalog.close()
    _write_rows(rows, args.format, args.output, REPORT_COLUMNS)
    return 0


def _report_year_argument(value: str) -> int:
    try:
        year = int(value)
    except ValueError:
        raise CommandError(f"--year {value!r}: expected a report year such as 2023") from None
    if not 1990 <= year <= 2100:
        raise CommandError(f"--year {year}: expected a report year between 1990 and 2100")
    return year


def _date_argument(value: str, option: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r}: expected a date as YYYY-MM-DD") from None


def _beijing_today():
    from datetime import datetime

    from crawler.monitor import BEIJING
    return datetime.now(BEIJING).date()


def _existing_catalog(args: argparse.Namespace):
    """The catalog as it is: a missing one is not created, it means nothing was crawled yet."""
    from storage.catalog import Catalog, CatalogError, CatalogMissing

    config = load_config(args)
    try:
        return Catalog.open(config, create=False)
    except CatalogMissing:
        raise CommandError(f"the catalog is empty ({config.data_dir}): run `xxgk crawl` first") from None
    except CatalogError as exc:
        raise CommandError(str(exc)) from exc


def _require_crawled(catalog) -> None:
    from storage.catalog import queries

    with catalog.reading() as session:
        if not queries.list_agencies(session) or not queries.count_captures(session):
            raise CommandError("the catalog is empty: run `xxgk crawl` first")


def _archive_reader_or_none(args: argparse.Namespace, catalog):
    """The archive's bytes feed the listing and version checks; without them the verdicts still come."""
    from storage.archive import open_reader
    from storage.objects import ObjectStoreError

    try:
        return open_reader(load_config(args), catalog=catalog)
    except (ObjectStoreError, OSError) as exc:
        print(f"xxgk {args.command}: the archive cannot be read ({exc}); flags that need archived pages are "
              f"skipped", file=sys.stderr)
        return None


def _write_rows(rows: list[dict], fmt: str, output: str | None, columns) -> None:
    """table (Chinese, for reading), csv/json/jsonl (field names and codes, for programs), xlsx (Chinese)."""
    import contextlib

    if fmt == "xlsx":
        _write_xlsx(rows, Path(output))
        print(f"已写入 {len(rows)} 行到 {output}")
        return
    try:
        target = open(output, "w", encoding="utf-8", newline="") if output else contextlib.nullcontext(sys.stdout)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from exc
    with target as stream, contextlib.redirect_stdout(stream):
        if fmt == "json":
            json.dump(rows, stream, ensure_ascii=False, indent=2)
            stream.write("\n")
        elif fmt == "jsonl":
            for row in rows:
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            import csv

            writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else [], extrasaction="ignore")
            writer.writeheader()
            writer.writerows({key: _flat(value, codes=True) for key, value in row.items()} for row in rows)
        elif not rows:
            print("（没有符合条件的记录）")
        else:
            print_table([label for _key, label in columns],
                        [[_cell(key, row.get(key)) for key, _label in columns] for row in rows])


def _cell(key: str, value) -> str:
    """A value as the Chinese table shows it."""
    from crawler.flags import FLAG_LABELS
    from crawler.monitor import STATUS_LABELS, describe_date_source

    if value is None or value == []:
        return ""
    if key == "status":
        return STATUS_LABELS.get(value, value)
    if key == "level":
        return LEVEL_LABELS.get(value, value)
    if key == "date_source":
        return describe_date_source(value)
    if key == "flags":
        return "、".join(FLAG_LABELS.get(flag, flag) for flag in value)
    if key == "first_seen":
        return str(value)[:10]
    if key == "chosen":
        return "是" if value else "否"
    return _flat(value, codes=False)


def _flat(value, *, codes: bool) -> str | int | float | None:
    """Lists in one spreadsheet cell: flag codes joined by ';', consistency errors by their messages."""
    if isinstance(value, list):
        parts = [(item.get("message") or item.get("rule") or "") if isinstance(item, dict) else str(item)
                 for item in value]
        return (";" if codes else "；").join(parts)
    if isinstance(value, bool):
        return ("true" if value else "false") if codes else ("是" if value else "否")
    return value


def _write_xlsx(rows: list[dict], path: Path) -> None:
    from openpyxl import Workbook

    from crawler.monitor import FIELD_LABELS

    keys = list(rows[0]) if rows else []
    book = Workbook()
    sheet = book.active
    sheet.title = "时效判定"
    sheet.append([FIELD_LABELS.get(key, key) for key in keys])
    for row in rows:
        sheet.append([_cell(key, row[key]) if key in ("status", "level", "date_source", "flags", "chosen")
                      else _flat(row[key], codes=False) for key in keys])
    sheet.freeze_panes = "A2"
    try:
        book.save(path)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------- serve (the web UI)

def cmd_serve(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from storage.catalog import CatalogError, CatalogMissing
    from storage.objects import ObjectStoreError
    from web.app import create_app

    config = load_config(args)
    if not 0 <= args.port < 65536:
        raise CommandError(f"--port {args.port}: use a port between 1 and 65535 (0: any free port)")
    try:
        app = create_app(config)
    except CatalogMissing as exc:
        raise CommandError(f"{exc} (run `xxgk crawl` or `xxgk demo` first)") from exc
    except (CatalogError, ObjectStoreError) as exc:
        raise CommandError(str(exc)) from exc
    try:
        # bound here, not by uvicorn, so that a busy port is one clear line instead of a server log
        family = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.host, args.port))
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"xxgk-watch 网页界面：http://{shown}:{listener.getsockname()[1]}/ （按 Ctrl+C 停止）", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
    return 0


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

    help_text = "recompute and print the timeliness verdicts of one report year, with flags"
    p = sub.add_parser("status", help=help_text, description=help_text + " (xlsx needs --output)")
    p.add_argument("--year", required=True, metavar="Y", help="the report year, e.g. 2023 (published in 2024)")
    p.add_argument("--as-of", metavar="DATE", help="judge as of this day, YYYY-MM-DD (default: today, Beijing)")
    p.add_argument("--level", choices=["department", "government", "township"], help="only agencies of this level")
    p.add_argument("--region", metavar="R", help="only agencies of this region (as in the registry)")
    p.add_argument("--format", choices=["table", "csv", "json", "xlsx"], default="table",
                   help="table and xlsx in Chinese; csv and json with field names and codes (default table)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(handler=cmd_status)

    help_text = "list the parsed reports with their verdicts"
    p = sub.add_parser("reports", help=help_text, description=help_text + " (as stored by the last `xxgk status`)")
    p.add_argument("--year", metavar="Y", help="only reports for this report year")
    p.add_argument("--agency", metavar="ID", help="only reports of this agency")
    p.add_argument("--format", choices=["table", "jsonl"], default="table",
                   help="jsonl: one JSON object per report (default table)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(handler=cmd_reports)

    help_text = "start the web UI: dashboard, agencies, reports, captures, search, runs and their JSON API"
    p = sub.add_parser("serve", help=help_text, description=help_text + " (read-only; no login: keep it on loopback "
                                                                        "or behind an authenticating proxy)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free port)")
    p.set_defaults(handler=cmd_serve)

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
