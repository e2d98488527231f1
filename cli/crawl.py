"""The crawling commands of ``xxgk``: ``crawl``, ``demo`` and ``schedule``.

Each runs a crawl through ``crawler.run.run_crawl`` (a child process), then recomputes the verdicts
(``monitor.verdicts.judge``) so that what the user reads next is up to date.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date

from cli.common import CommandError, load_config, open_catalog, select_agencies, write_rows

# A fixed port keeps the demo URLs the same from run to run, so a second `xxgk demo` is an incremental crawl
# (conditional requests, revisits, changed reports) over the same archive.
DEFAULT_DEMO_PORT = 8765


def add_parsers(sub) -> None:
    p = sub.add_parser("crawl", help="crawl the agency registry and archive every response",
                       description="crawl the agency registry: find each report column, archive every response as "
                                   "WARC, parse the reports, recompute the verdicts")
    p.add_argument("--registry", help="registry file, YAML or CSV (default: the shipped registry)")
    p.add_argument("--agency", action="append", default=[], metavar="ID", help="only this agency (repeatable)")
    p.add_argument("--as-of", type=date.fromisoformat,
                   help="date the verdicts are judged at, YYYY-MM-DD (default: today, Beijing)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a Scrapy setting, e.g. --set DOWNLOAD_TIMEOUT=10 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.add_argument("--verbose", action="store_true", help="show Scrapy's log (INFO) instead of warnings only")
    p.add_argument("--no-screenshots", dest="screenshots", action="store_false",
                   help="take no Chromium screenshots of report pages (by default each HTML report page gets one "
                        "of its first capture, rendered from the archive)")
    p.set_defaults(handler=cmd_crawl)

    p = sub.add_parser("demo", help="serve the bundled demo portals, crawl, parse and print the timeliness table",
                       description="start the five demo portals on 127.0.0.1, crawl them into the data directory, "
                                   "print the timeliness table and say how to browse the archive")
    p.add_argument("--port", type=int, default=DEFAULT_DEMO_PORT, help=f"port of the demo portals (default {DEFAULT_DEMO_PORT}; keep it the same between runs)")
    p.add_argument("--edition", type=int, default=1, choices=[1, 2],
                   help="state of the demo portals (2: one report edited, one back-dated report appears)")
    p.add_argument("--as-of", type=date.fromisoformat,
                   help="date the verdicts are judged at, YYYY-MM-DD (default: today, Beijing)")
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("schedule", help="run crawls on a schedule",
                       description="run `xxgk crawl` on a schedule (APScheduler), in the foreground")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", metavar="DURATION", help="interval such as 30m, 6h, 1d")
    when.add_argument("--cron", metavar="EXPR", help="crontab expression, e.g. '0 3 * * *' (03:00 every day)")
    p.add_argument("--registry", help="registry file (default: the shipped registry)")
    p.add_argument("--agency", action="append", default=[], metavar="ID", help="only this agency (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a Scrapy setting")
    p.add_argument("--max-runs", type=int, help="stop after this many runs (default: run forever)")
    p.add_argument("--now", action="store_true", help="also run once immediately")
    p.set_defaults(handler=cmd_schedule)


# ---------------------------------------------------------------- crawl

def cmd_crawl(args: argparse.Namespace) -> int:
    config = load_config(args)
    agencies = select_agencies(args.registry, args.agency)
    overrides = {"LOG_LEVEL": "INFO" if args.verbose else "WARNING", **_overrides(args.set)}
    if not args.screenshots:
        overrides.setdefault("ARCHIVE_SCREENSHOTS", False)  # nor of the pages the crawler renders itself
    summary = crawl_and_judge(config, agencies, overrides=overrides, as_of=args.as_of, quiet=args.quiet,
                              screenshots=args.screenshots)
    _print_summary(summary)
    return 0


def crawl_and_judge(config, agencies, *, overrides=None, as_of: date | None = None, quiet: bool = False,
                    years=None, screenshots: bool = True):
    """Store the agencies, crawl them, screenshot new report pages (``screenshots``), recompute their verdicts
    as of ``as_of`` (default: today in Beijing); returns the crawl summary. Everything it opens it closes:
    ``xxgk schedule`` calls it run after run in one process."""
    from crawler.run import CrawlError, run_crawl
    from monitor.clock import today
    from monitor.verdicts import judge
    from registry.catalog_sync import store_agencies
    from storage.archive import open_reader
    from storage.catalog import Catalog

    try:
        catalog = Catalog.open(config)
    except Exception as exc:
        raise CommandError(f"cannot open the catalog at {config.database_url}: {exc}") from exc
    try:
        store_agencies(catalog, agencies)
        display = _Progress(enabled=not quiet)
        try:
            summary = run_crawl(config, agencies, settings_overrides=overrides, progress=display.update)
        except CrawlError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            display.close()
        if screenshots:
            _take_screenshots(config, summary.run_id)
        as_of = as_of or today()
        reader = open_reader(config, catalog=catalog)
        try:
            judge(catalog, as_of=as_of, years=years if years is not None else [as_of.year - 1],
                  agency_ids=[agency.id for agency in agencies], reader=reader)
        finally:
            reader.store.close()
    finally:
        catalog.close()
    return summary


def _take_screenshots(config, run_id: str | None) -> None:
    """Screenshots are evidence, not the crawl: a failure is reported on stderr and the verdicts still follow."""
    from monitor.screenshots import take_missing_screenshots
    from storage.archive import ArchiveError
    from storage.catalog.database import CatalogError
    from storage.objects import ObjectStoreError

    try:
        shots = take_missing_screenshots(config, run_id=run_id)
    except (ArchiveError, CatalogError, ObjectStoreError) as exc:
        print(f"xxgk: 未能截图：{exc}", file=sys.stderr)
        return
    if shots.failed or shots.message:
        print(f"xxgk: {shots.line()}", file=sys.stderr)


def _overrides(pairs: list[str]) -> dict:
    from crawler.settings import SettingError, parse_overrides

    try:
        return parse_overrides(pairs)
    except SettingError as exc:
        raise CommandError(f"--set {exc}") from exc


class _Progress:
    """One live status line on a terminal; nothing when output is redirected (logs stay clean)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.live = None
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(stderr=True), refresh_per_second=4, transient=False)
            self.live.start()

    def update(self, progress) -> None:
        if self.live is not None:
            self.live.update(f"抓取中  页面 {progress.pages}  报告 {progress.reports_found}  错误 {progress.errors}  "
                             f"{progress.rate:.1f} 页/秒  用时 {progress.elapsed:.0f} 秒")

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _print_summary(summary) -> None:
    errors = "、".join(f"{kind} {count}" for kind, count in sorted(summary.errors.items())) or "无"
    print(f"抓取完成（{summary.status}）：运行 {summary.run_id}，页面 {summary.pages}，报告 {summary.reports_found}"
          f"（新增 {summary.reports_new}），抓取错误 {sum(summary.errors.values())}（{errors}），"
          f"解析错误 {summary.parse_errors}，用时 {summary.duration:.1f} 秒")


# ---------------------------------------------------------------- demo

def cmd_demo(args: argparse.Namespace) -> int:
    from demo.portals import DemoPortals
    from demo.server import DemoServer

    config = load_config(args)
    portals = DemoPortals(edition=args.edition)
    try:
        server = DemoServer(portals, port=args.port, slow_seconds=3.0).start()
    except OSError as exc:
        raise CommandError(f"cannot start the demo portals on 127.0.0.1:{args.port}: {exc.strerror or exc} "
                           f"(choose another with --port)") from exc
    try:
        print(f"演示门户：{server.base_url}/  （五个虚构机关，数据目录 {config.data_dir}）")
        agencies = portals.registry(server.base_url)
        years = {agency.id: agency.watch_years for agency in portals.agencies}
        # the portals are on this machine: no politeness delay needed; a short timeout shows the slow page failing
        overrides = {"DOWNLOAD_TIMEOUT": 2, "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "LOG_LEVEL": "WARNING"}
        summary = crawl_and_judge(config, agencies, overrides=overrides, as_of=args.as_of, quiet=args.quiet,
                                  years=years)
    finally:
        server.stop()
    _print_summary(summary)
    print()
    print_timeliness(args, agency_ids=[agency.id for agency in agencies])
    print()
    print("浏览存档与判定：xxgk serve   然后打开 http://127.0.0.1:8000/")
    print(f"（数据目录 {config.data_dir}；再次运行 `xxgk demo --edition 2` 可看到被修改和倒签的报告）")
    return 0


TIMELINESS_COLUMNS = (("agency", "机关"), ("level", "层级"), ("report_year", "年度"), ("status", "状态"),
                      ("deadline", "截止日期"), ("publication_date", "发布日期"), ("date_source", "日期依据"),
                      ("days_late", "逾期天数"), ("flags", "标记"))


def print_timeliness(args: argparse.Namespace, agency_ids: list[str]) -> None:
    """The timeliness table: one row per agency and report year, as `xxgk status` prints it."""
    from monitor.rows import verdict_rows

    catalog = open_catalog(args)
    try:
        rows = [row for agency_id in agency_ids for row in verdict_rows(catalog, agency_id=agency_id)]
    finally:
        catalog.close()
    write_rows(rows, "table", None, TIMELINESS_COLUMNS)


# ---------------------------------------------------------------- schedule

def cmd_schedule(args: argparse.Namespace) -> int:
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    config = load_config(args)
    agencies = select_agencies(args.registry, args.agency)
    overrides = {"LOG_LEVEL": "WARNING", **_overrides(args.set)}
    try:
        trigger = (IntervalTrigger(seconds=_seconds(args.every)) if args.every
                   else CronTrigger.from_crontab(args.cron))
    except ValueError as exc:
        raise CommandError(f"bad schedule: {exc}") from exc
    scheduler = BlockingScheduler()
    runs = {"done": 0}

    def job() -> None:
        try:
            summary = crawl_and_judge(config, agencies, overrides=overrides, quiet=True)
            _print_summary(summary)
        except CommandError as exc:  # one failed run must not end the schedule
            print(f"xxgk schedule: {exc}", file=sys.stderr)
        runs["done"] += 1
        if args.max_runs and runs["done"] >= args.max_runs:
            scheduler.shutdown(wait=False)

    scheduler.add_job(job, trigger, max_instances=1, coalesce=True,
                      next_run_time=_now() if args.now else None)
    print(f"计划任务已启动：{args.every and '每 ' + args.every or args.cron}，{len(agencies)} 个机关（Ctrl-C 停止）")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text[-1] in units:
            value = float(text[:-1]) * units[text[-1]]
        else:
            value = float(text)
    except (ValueError, IndexError):
        raise CommandError(f"--every takes a duration such as 30m, 6h or 1d, not {text!r}") from None
    if value <= 0:
        raise CommandError("--every must be a positive duration")
    return value

