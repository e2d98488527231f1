"""What the ``xxgk`` commands share: configuration, the catalog and archive, the agency selection, and output
(aligned Chinese tables for reading; CSV, JSON, JSON Lines and XLSX for programs and spreadsheets)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from monitor.labels import (FIELD_LABELS, FLAG_LABELS, FORMAT_LABELS, LEVEL_LABELS, STATUS_LABELS, describe_date_source,
                            reason_beside_status, status_label)

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A command could not do its job; the message is the one line shown to the user."""


# ---------------------------------------------------------------- configuration, catalog, archive

def load_config(args: argparse.Namespace):
    from storage.config import Config, ConfigError

    try:
        config = Config.from_env(data_dir=getattr(args, "data_dir", None), alerts_file=getattr(args, "alerts", None))
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc
    if config.data_dir.exists() and not config.data_dir.is_dir():
        raise CommandError(f"the data directory {config.data_dir} is a file, not a directory "
                           f"(--data-dir or XXGK_DATA_DIR)")
    return config


def open_catalog(args: argparse.Namespace, *, create: bool = True):
    """The catalog, or a one-line reason why it cannot be opened."""
    from storage.catalog import Catalog

    config = load_config(args)
    try:
        return Catalog.open(config, create=create)
    except Exception as exc:  # any driver error: bad URL, server down, permissions
        raise CommandError(f"cannot open the catalog at {config.database_url}: {exc.__class__.__name__}: {exc}") from exc


def existing_catalog(args: argparse.Namespace):
    """The catalog as it is: a missing one is not created, it means nothing was crawled yet."""
    from storage.catalog import Catalog, CatalogError, CatalogMissing

    config = load_config(args)
    try:
        return Catalog.open(config, create=False)
    except CatalogMissing:
        raise CommandError(f"the catalog is empty ({config.data_dir}): run `xxgk crawl` first") from None
    except CatalogError as exc:
        raise CommandError(str(exc)) from exc


def require_crawled(catalog) -> None:
    """Agencies and a crawl of them: a crawl whose every fetch failed (a homepage refusing connections) archived
    nothing, and its agencies' 无法判断 are still what a user asked for."""
    from sqlalchemy import select

    from storage.catalog import queries
    from storage.catalog.models import CrawlRun

    with catalog.reading() as session:
        if not queries.list_agencies(session) or (not queries.count_captures(session)
                                                  and session.scalar(select(CrawlRun.id).limit(1)) is None):
            raise CommandError("the catalog is empty: run `xxgk crawl` first")


def require_agency(session, agency_id: str | None) -> None:
    """A named agency (``--agency``) must be in the catalog; None names none."""
    from storage.catalog import queries

    if agency_id and queries.get_agency(session, agency_id) is None:
        raise CommandError(f"目录数据库中没有机构 {agency_id}（`xxgk agencies list` 列出各机构的 id）")


def open_archive_reader(args: argparse.Namespace):
    """A capture reader over the existing catalog and store; never creates either."""
    from storage.archive import open_reader
    from storage.catalog import CatalogError
    from storage.objects import ObjectStoreError

    config = load_config(args)
    try:
        return open_reader(config)
    except (CatalogError, ObjectStoreError) as exc:
        raise CommandError(str(exc)) from exc


def derive_pending_facts(config, catalog, command: str) -> None:
    """The verdict facts of captures indexed before migration 0007, derived once from their WARC records, and the
    text signatures of reports stored before it (``storage.facts.backfill``): the first judging command after the
    upgrade does it, in committed batches, and says so on stderr. Judging itself never reads the archive."""
    from storage import facts
    from storage.archive import open_reader
    from storage.objects import ObjectStoreError

    if not facts.pending(catalog):
        return
    reader = None
    try:
        reader = open_reader(config, catalog=catalog)
    except (ObjectStoreError, OSError) as exc:
        print(f"xxgk {command}: 存档无法读取（{exc}），本次只补录报告的文本签名", file=sys.stderr)
    try:
        done = facts.backfill(catalog, reader)
    finally:
        if reader is not None:
            reader.store.close()
    print(f"xxgk {command}: 已从存档补录 {done.captures} 条捕获的判定事实、{done.reports} 份报告的文本签名"
          f"（升级后一次性补录）", file=sys.stderr)
    if done.unreadable:
        print(f"xxgk {command}: {done.unreadable} 条捕获的 WARC 记录无法读取，依赖它们的标记显示为无法判断",
              file=sys.stderr)
    if done.stopped:
        print(f"xxgk {command}: 对象存储不可用（{done.stopped}），其余捕获下次补录", file=sys.stderr)


# ---------------------------------------------------------------- agencies

def load_agencies(path: str | None):
    """A registry file's agencies, or the shipped registry's (``agencies check``/``import``, ``reindex``)."""
    from registry.agencies import RegistryError, load_default_registry, load_registry

    try:
        return load_registry(path) if path else load_default_registry()
    except RegistryError as exc:
        raise CommandError(str(exc)) from exc


IMPORTED = "已导入的注册表"
SHIPPED = "随附的注册表"


def watched_registry(config, path: str | None):
    """Who a crawl watches, and where that comes from in words: the ``--registry`` file; else the registry
    ``xxgk agencies import`` stored in the catalog (README "Production": import once, then crawl and schedule
    without --registry); else, nothing imported, the shipped registry."""
    from registry.catalog_sync import watched_agencies
    from storage.catalog import Catalog, CatalogMissing

    if path:
        return load_agencies(path), f"注册表 {path}"
    try:
        catalog = Catalog.open(config, create=False)
    except CatalogMissing:
        return load_agencies(None), SHIPPED
    except Exception as exc:  # any driver error, as open_catalog says it
        raise CommandError(f"cannot open the catalog at {config.database_url}: {exc.__class__.__name__}: {exc}") \
            from exc
    try:
        imported = watched_agencies(catalog)
    finally:
        catalog.close()
    return (imported, IMPORTED) if imported else (load_agencies(None), SHIPPED)


def select_agencies(config, registry: str | None, wanted: list[str]):
    """The registry (``watched_registry``), checked as a whole (a parent outside the selection is still a known
    parent), then the agencies named in ``wanted`` (all of them when it is empty)."""
    return selected_registry(config, registry, wanted)[0]


def selected_registry(config, registry: str | None, wanted: list[str]):
    """``select_agencies`` and where the registry came from, in words."""
    from registry.agencies import RegistryError, select, validate

    agencies, source = watched_registry(config, registry)
    problems = validate(agencies)
    if problems:
        check = f"xxgk agencies check {registry}" if registry else "xxgk agencies check"
        raise CommandError(f"{source}{' ' if registry else ''}有 {len(problems)} 个问题（见 `{check}`）：{problems[0]}")
    try:
        return select(agencies, wanted), source
    except RegistryError as exc:
        where = {IMPORTED: f"不在{IMPORTED}中，见 `xxgk agencies list` 中“监测”为“是”的机构",
                 SHIPPED: f"不在{SHIPPED}中；未导入注册表，导入用 `xxgk agencies import FILE`"}
        raise CommandError(f"{exc}（{where.get(source, f'不在{source} 中')}）") from exc


# ---------------------------------------------------------------- arguments

def report_year_argument(value: str) -> int:
    try:
        year = int(value)
    except ValueError:
        raise CommandError(f"--year {value!r}: expected a report year such as 2023") from None
    if not 1990 <= year <= 2100:
        raise CommandError(f"--year {year}: expected a report year between 1990 and 2100")
    return year


def positive_number(value: str) -> float:
    """An argparse type: seconds or a budget, a number above 0 (a negative timeout reached httpx as a traceback)."""
    return _number_argument(value, float, "a number of seconds", lambda number: 0 < number < float("inf"),
                            "a number above 0")


def positive_count(value: str) -> int:
    """An argparse type: a count of at least 1."""
    return _number_argument(value, int, "a whole number", lambda number: number >= 1, "1 or more")


def _number_argument(value: str, convert, kind: str, acceptable, limits: str):
    try:
        number = convert(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, not {value!r}") from None
    if not acceptable(number):
        raise argparse.ArgumentTypeError(f"expected {limits}, not {value}")
    return number


def date_argument(value: str, option: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r}: expected a date as YYYY-MM-DD") from None


def as_of_argument(value: str | None, option: str = "--as-of"):
    """The day verdicts are judged as of: today (Beijing) when not given; never a day to come, of which the archive
    can say nothing ("截至 2030-01-01 未发现报告" would be a guess)."""
    from monitor.clock import today

    if value is None:
        return None
    day = date_argument(value, option)
    if day > today():
        raise CommandError(f"{option} {value}: a day to come (today is {today().isoformat()} in Beijing); "
                           f"the archive shows what was published by a day that has passed")
    return day


# ---------------------------------------------------------------- output

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


def write_rows(rows: list[dict], fmt: str, output: str | None, columns) -> None:
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
                        [[_cell(key, row.get(key), row) for key, _label in columns] for row in rows])


def _cell(key: str, value, row: dict | None = None) -> str:
    """A value as the Chinese table shows it; the flags with those that could not be checked (倒签：无法判断)."""
    if key == "flags":
        unchecked = (row or {}).get("undetermined_flags") or []
        return "、".join([FLAG_LABELS.get(flag, flag) for flag in value or []]
                        + [f"{FLAG_LABELS.get(flag, flag)}：无法判断" for flag in unchecked])
    if value is None or value == []:
        return ""
    if key == "status":   # "逾期 8 天", as the web UI and its exports say it
        return status_label(value, (row or {}).get("days_late"))
    if key == "format":
        return FORMAT_LABELS.get(value, value) if value else ""
    if key == "undetermined_flags":
        return "、".join(FLAG_LABELS.get(flag, flag) for flag in value or [])
    if key == "level":
        return LEVEL_LABELS.get(value, value)
    if key == "date_source":
        return describe_date_source(value)
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

    from web.exports import sheet_cell

    keys = list(rows[0]) if rows else []
    book = Workbook()
    sheet = book.active
    sheet.title = "时效判定"
    sheet.append([FIELD_LABELS.get(key, key) for key in keys])
    for row in rows:
        sheet.append([sheet_cell(sheet, _cell(key, row[key], row) if key in ("status", "level", "date_source", "flags",
                                                                          "chosen", "format", "undetermined_flags")
                                 else _flat(row[key], codes=False)) for key in keys])
    sheet.freeze_panes = "A2"
    try:
        book.save(path)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_undetermined_reasons(rows: list[dict], output: str | None) -> None:
    """Under a terminal table: the reason of every 无法判断 verdict, which is no answer by itself."""
    unsure = [row for row in rows if row.get("status") == "undetermined" and row.get("reason")]
    if not unsure:
        return
    lines = [f"\n{STATUS_LABELS['undetermined']}的理由："]
    lines += [f"  · {row['agency']}（{row['report_year']} 年度）：{reason_beside_status(row['reason'])}" for row in unsure]
    text = "\n".join(lines) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        with open(output, "a", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from exc
