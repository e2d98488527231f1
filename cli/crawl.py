"""The crawling commands of ``xxgk``: ``crawl`` and ``demo`` (``schedule`` is in ``cli.schedule``).

Each takes the run lock (``storage.runlock``: one crawl at a time over one archive), runs a crawl through
``crawler.run.run_crawl`` (a child process), then recomputes the verdicts the run can have moved
(``monitor.rejudge``: the agencies it touched) so that what the user reads next is up to date.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from datetime import date

from cli.common import (EXIT_FAILURE, CommandError, as_of_argument, derive_pending_facts, load_config, open_catalog,
                        positive_number, select_agencies, write_rows, write_undetermined_reasons)

# A fixed port keeps the demo URLs the same from run to run, so a second `xxgk demo` is an incremental crawl
# (conditional requests, revisits, changed reports) over the same archive.
DEFAULT_DEMO_PORT = 8765
AS_OF_HELP = ("print the verdicts as of the end of this day, YYYY-MM-DD, from what the archive held by then; "
              "the stored verdicts (web UI, `xxgk reports`) stay today's (default: today, Beijing)")


WORKER_WAIT = 300.0   # seconds a worker waits for a coordinator to announce a run


def add_parsers(sub) -> None:
    p = sub.add_parser("crawl", help="crawl the agency registry and archive every response",
                       description="crawl the agency registry: find each report column, archive every response as "
                                   "WARC, parse the reports, recompute the verdicts")
    p.add_argument("--registry", help="registry file, YAML or CSV (default: the registry `xxgk agencies import` "
                                      "stored in the catalog, else the shipped registry)")
    p.add_argument("--agency", action="append", default=[], metavar="ID", help="only this agency (repeatable)")
    p.add_argument("--as-of", metavar="DATE", help=AS_OF_HELP)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a Scrapy setting, e.g. --set DOWNLOAD_TIMEOUT=10 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.add_argument("--verbose", action="store_true",
                   help="show Scrapy's log (INFO, with tracebacks) on the terminal; by default it goes to "
                        "DATA_DIR/logs/RUN_ID.log and the terminal shows one line per problem")
    p.add_argument("--no-screenshots", dest="screenshots", action="store_false",
                   help="take no Chromium screenshots of report pages (by default each HTML report page gets a JPEG "
                        "of the first screen of its first capture, rendered from the archive while the crawl runs)")
    many = p.add_mutually_exclusive_group()
    many.add_argument("--coordinator", action="store_true",
                      help="one run over many machines (needs XXGK_REDIS_URL): take the run lock, announce the run, "
                           "seed the agencies, crawl along, and judge once every worker is idle and the queue empty")
    many.add_argument("--worker", action="store_true",
                      help="join the run a coordinator announced in Redis: crawl from the shared queue into its "
                           "archive run, without the run lock; stop when the coordinator ends the run")
    p.add_argument("--worker-id", metavar="NAME",
                   help="this process's name in the run (default host:pid); a worker restarted under the same name "
                        "takes back at once the requests it held when it died")
    p.add_argument("--wait", type=positive_number, metavar="SECONDS",
                   help=f"with --worker: how long to wait for a coordinator to announce a run (default {WORKER_WAIT:g})")
    p.add_argument("--forever", action="store_true",
                   help="with --worker: a persistent worker (a service): serve one announced run after another, "
                        "waiting without limit between them, until SIGTERM or Ctrl-C")
    p.set_defaults(handler=cmd_crawl)

    p = sub.add_parser("demo", help="serve the bundled demo portals, crawl, parse and print the timeliness table",
                       description="start the five demo portals on 127.0.0.1, crawl them into the data directory, "
                                   "print the timeliness table and say how to browse the archive")
    p.add_argument("--port", type=int, default=DEFAULT_DEMO_PORT, help=f"port of the demo portals (default {DEFAULT_DEMO_PORT}; keep it the same between runs)")
    p.add_argument("--edition", type=int, default=1, choices=[1, 2],
                   help="state of the demo portals (2: one report edited, one back-dated report appears)")
    p.add_argument("--as-of", metavar="DATE", help=AS_OF_HELP)
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.set_defaults(handler=cmd_demo)


# ---------------------------------------------------------------- crawl

def cmd_crawl(args: argparse.Namespace) -> int:
    args.as_of = as_of_argument(args.as_of)
    config = load_config(args)
    overrides = {"LOG_LEVEL": "INFO", **_overrides(args.set)}
    if not args.screenshots:
        overrides.setdefault("ARCHIVE_SCREENSHOTS", False)  # nor of the pages the crawler renders itself
    if args.forever and not args.worker:
        raise CommandError("--forever 只用于 --worker")
    if args.wait is not None and not args.worker:
        raise CommandError("--wait 只用于 --worker")
    if args.wait is not None and args.forever:
        raise CommandError("--wait 与 --forever 不能同时使用（--forever 不限等待时间）")
    if args.worker_id is not None and not (args.worker or args.coordinator):
        raise CommandError("--worker-id 只用于 --worker 或 --coordinator")
    if args.worker:
        _need_redis(config, "--worker")
        return (_serve_runs(config, args, overrides) if args.forever
                else _work(config, args, overrides, args.wait if args.wait is not None else WORKER_WAIT))
    if args.coordinator:
        overrides = coordinator_overrides(config, overrides, args.worker_id)
    agencies = select_agencies(config, args.registry, args.agency)
    summary = crawl_and_judge(config, agencies, overrides=overrides, quiet=args.quiet,
                              screenshots=args.screenshots, verbose=args.verbose)
    _print_summary(summary)
    from monitor.verdicts import is_current

    if args.as_of is not None and not is_current(args.as_of):  # today's are stored: the web UI shows them
        print()
        print_timeliness(args, [agency.id for agency in agencies], as_of=args.as_of)
    problems = run_problems(summary)
    for problem in problems:
        print(f"xxgk crawl: {problem}", file=sys.stderr)
    return EXIT_FAILURE if problems else 0


def run_problems(summary) -> list[str]:
    """One line for each way a finished run failed its job though the crawl ran to its end; ``crawl``, ``demo``
    and ``schedule`` each print them (and the first two exit non-zero)."""
    problems = []
    if summary.finish_reason == "frontier_lost":
        problems.append("运行期间 Redis 中本次运行的队列与状态丢失（Redis 重启且未持久化？）：运行记为失败，"
                        "其读取不能证明任何年度未发布")
    unarchived = int(summary.stats.get("archive/write_failed", 0))
    if unarchived:
        # the crawl went on, but what it fetched is not kept (a full disk, a store that refused the writes)
        problems.append(f"{unarchived} 个页面未能写入存档（磁盘已满或存储拒绝写入？详见 {summary.log_file or '日志'}）："
                        f"这些页面不在存档中，有关年度的结论为无法判断")
    return problems


def coordinator_overrides(config, overrides: dict, worker_id: str | None = None) -> dict:
    """The crawl settings of a run shared with workers over Redis (``crawler.frontier``), this process its
    coordinator. Shared by ``xxgk crawl --coordinator`` and ``xxgk schedule --coordinator``."""
    _need_redis(config, "--coordinator")
    return {**overrides, "FRONTIER_ROLE": "coordinator", **({"FRONTIER_WORKER": worker_id} if worker_id else {})}


def _need_redis(config, option: str) -> None:
    if not config.redis_url:
        raise CommandError(f"{option} 需要 XXGK_REDIS_URL（共享的抓取队列）")


class _Terminated(BaseException):
    """SIGTERM reached a persistent worker: unwinds whatever it is doing (waiting, or a run: ``run_crawl`` then
    stops its crawl child gracefully), like Ctrl-C."""


def _serve_runs(config, args: argparse.Namespace, overrides: dict) -> int:
    """``--worker --forever``: join each run a coordinator announces, one after another; between runs wait
    without limit (scheduled runs are hours apart). A run that failed here is reported and the next one awaited:
    a service does not stop for one bad run. SIGTERM (``docker stop``, ``systemctl stop``) ends it with status 0."""
    import signal
    import time

    def terminate(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    worker_id = args.worker_id or _default_worker_id()
    print(f"工作进程 {worker_id} 常驻：等待协调进程宣布运行（SIGTERM 或 Ctrl-C 停止）", file=sys.stderr, flush=True)
    served = 0
    try:
        while True:
            try:
                _work(config, args, overrides, None, worker_id=worker_id)
                served += 1
            except CommandError as exc:
                print(f"xxgk: {exc}", file=sys.stderr, flush=True)
                time.sleep(5)   # a broken Redis or run must not turn this loop into a busy one
            sys.stdout.flush()
    except (_Terminated, KeyboardInterrupt):
        print(f"工作进程 {worker_id} 已停止（完成了 {served} 次运行）", file=sys.stderr, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _default_worker_id() -> str:
    from crawler.frontier import default_worker_id

    return default_worker_id()


def _work(config, args: argparse.Namespace, overrides: dict, wait: float | None, *,
          worker_id: str | None = None) -> int:
    """A worker's part in one run: no run lock (the coordinator holds it), no verdicts (the coordinator judges
    the whole run). It waits up to ``wait`` seconds (None: without limit) for a run to be announced."""
    from crawler.frontier import FrontierError, current_run
    from crawler.run import CrawlError, run_crawl

    try:
        run_id, agencies = current_run(config.redis_url, wait=wait)
    except FrontierError as exc:
        raise CommandError(str(exc)) from exc
    worker_id = worker_id or args.worker_id or _default_worker_id()
    settings = {**overrides, "ARCHIVE_RUN_ID": run_id, "FRONTIER_ROLE": "worker", "FRONTIER_WORKER": worker_id}
    if not args.verbose and "LOG_FILE" not in settings:
        settings["LOG_FILE"] = str(_log_file(config, run_id)).removesuffix(".log") + f".{_safe(worker_id)}.log"
    print(f"工作进程 {worker_id} 加入运行 {run_id}（{len(agencies)} 个机关）", file=sys.stderr)
    display = _Progress(enabled=not args.quiet)
    try:
        summary = run_crawl(config, agencies, settings_overrides=settings, progress=display.update)
    except CrawlError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        display.close()
    print(f"工作进程 {worker_id} 结束：运行 {run_id}，页面 {summary.pages}，报告 {summary.reports_found}"
          f"（新增 {summary.reports_new}），抓取错误 {sum(summary.errors.values())}，用时 {summary.duration:.1f} 秒")
    return 0


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


class RunLocked(CommandError):
    """Another crawl holds the run lock: this run did not start (``holder`` says who, ``run_id`` is the id this
    run would have had)."""

    def __init__(self, message: str, holder, run_id: str):
        super().__init__(message)
        self.holder = holder
        self.run_id = run_id


def crawl_and_judge(config, agencies, *, overrides=None, quiet: bool = False,
                    years=None, screenshots: bool = True, verbose: bool = False):
    """Take the run lock, store the agencies, crawl them, screenshot new report pages (``screenshots``),
    recompute and store the verdicts of the agencies the run touched as of today in Beijing (the stored verdicts
    are today's: ``monitor.verdicts.is_current``; another day's are printed by ``print_timeliness``); returns the
    crawl summary. Raises
    ``RunLocked`` when another crawl of this archive is running. Everything it opens it closes: ``xxgk schedule``
    calls it run after run in one process. Scrapy's log goes to ``DATA_DIR/logs/RUN_ID.log`` unless ``verbose``:
    a terminal gets one line per problem in the summary, not a traceback per unreachable portal."""
    from storage.catalog import Catalog, queries
    from storage.runlock import LockHeld, LockUnavailable, finish_dead_run, finish_unlocked_runs, open_run_lock

    try:
        catalog = Catalog.open(config)
    except Exception as exc:
        raise CommandError(f"cannot open the catalog at {config.database_url}: {exc}") from exc
    try:
        # the run id is chosen before the crawl starts so that the lock names the run that holds it
        run_id = str((overrides or {}).get("ARCHIVE_RUN_ID") or queries.new_run_id())
        lock = open_run_lock(config, catalog)
        try:
            try:
                heartbeat = lock.hold(run_id)
            except LockHeld as exc:
                raise RunLocked(str(exc), exc.holder, run_id) from exc
            except LockUnavailable as exc:
                raise CommandError(str(exc)) from exc
            dead_runs: dict[str, str] = {}   # run id -> why it is over: announced as a failed run
            if lock.took_over is not None:
                stale, reason = lock.took_over, lock.took_over_reason
                # the dead run cannot finish its own row: this one does, or it would stay 运行中 forever
                died = finish_dead_run(catalog, stale, reason=reason, found_by=run_id)
                marked = f"；运行 {stale.run_id} 已记为已中断" if died else ""
                print(f"xxgk: 已接管失效的运行锁（{stale.describe()}；{reason}）{marked}", file=sys.stderr)
                if died:
                    dead_runs[stale.run_id] = f"运行中断（进程已终止，未能结束运行）：{reason}；由运行 {run_id} 接管运行锁时发现"
            for left in finish_unlocked_runs(catalog, found_by=run_id):
                print(f"xxgk: 运行 {left} 没有结束也没有持有运行锁，已记为已中断", file=sys.stderr)
            settings = {**(overrides or {}), "ARCHIVE_RUN_ID": run_id}
            if not verbose and "LOG_FILE" not in settings:
                settings["LOG_FILE"] = str(_log_file(config, run_id))
            with heartbeat:
                summary = _crawl_and_judge(config, catalog, agencies, settings, quiet=quiet, years=years,
                                           screenshots=screenshots, dead_runs=dead_runs)
            if heartbeat.lost:
                print(f"xxgk: 运行 {run_id} 期间运行锁被接管（心跳中断超过 {lock.ttl_seconds} 秒），"
                      f"另一次抓取可能与本次重叠", file=sys.stderr)
        finally:
            lock.close()
    finally:
        catalog.close()
    return summary


def _crawl_and_judge(config, catalog, agencies, overrides, *, quiet, years, screenshots, dead_runs=None):
    # the verdict modules (numpy, the copy index, every parser rule: ~20 MB) are imported once the crawl is over:
    # this process only waits while the crawl runs, and the crawl's process tree is at its peak then
    from cli.alerts import after_run
    from crawler.run import CrawlError, run_crawl
    from monitor.clock import today
    from registry.catalog_sync import store_agencies

    store_agencies(catalog, agencies)
    display = _Progress(enabled=not quiet)
    try:
        summary = run_crawl(config, agencies, settings_overrides=overrides, progress=display.update)
    except CrawlError as exc:
        after_run(config, catalog, [agency.id for agency in agencies], run_id=overrides.get("ARCHIVE_RUN_ID"),
                  failure=str(exc), dead_runs=dead_runs)
        raise CommandError(str(exc)) from exc
    finally:
        display.close()
    if screenshots:
        _take_screenshots(config, summary.run_id, overrides)
    from monitor.rejudge import new_reports_of_run, rejudge, report_years, touched_by_run

    as_of = today()
    years = years if years is not None else [as_of.year - 1]
    selected = [agency.id for agency in agencies]
    derive_pending_facts(config, catalog, "crawl")
    # only the agencies whose verdicts this run can have moved (monitor.rejudge); `xxgk status` re-judges all
    if summary.run_id is not None:
        reports = new_reports_of_run(catalog, summary.run_id)
        rejudge(catalog, touched_by_run(catalog, summary.run_id, as_of=as_of, agency_ids=selected, years=years,
                                        reports=reports),
                as_of=as_of, years=years, report_years=report_years(reports),
                new_reports=[report.id for report in reports])
    else:
        rejudge(catalog, selected, as_of=as_of, years=years)
    summary = _with_fetch_errors(catalog, _with_column_failures(catalog, summary), overrides.get("LOG_FILE"))
    after_run(config, catalog, [agency.id for agency in agencies], summary=summary,  # alerts; never raises
              dead_runs=dead_runs)
    return summary


def _log_file(config, run_id: str):
    folder = config.data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_id}.log"


MAX_ERROR_LINES = 20


def _with_fetch_errors(catalog, summary, log_file: str | None):
    """The summary with one line per fetch error of the run (the first MAX_ERROR_LINES) and its log file."""
    from dataclasses import replace

    from storage.catalog import queries

    if summary.run_id is None:
        return replace(summary, log_file=log_file)
    with catalog.reading() as session:
        errors = queries.errors_by_run(session, summary.run_id)
    lines = [f"{error.kind}  {error.url}  {' '.join(error.message.split())[:160]}" for error in errors]
    return replace(summary, fetch_errors=lines, log_file=log_file)


def _with_column_failures(catalog, summary):
    """The summary with its 栏目失效 lines: agencies whose column gave items in an earlier run and none in this."""
    from dataclasses import replace

    from monitor.coverage import column_failures

    if summary.run_id is None:
        return summary
    with catalog.reading() as session:
        failures = column_failures(session, summary.run_id)
    return replace(summary, column_failures=[failure.message() for failure in failures])


def _take_screenshots(config, run_id: str | None, overrides: dict) -> None:
    """The leftovers: report pages the crawl itself did not screenshot (it stopped early, a shot failed, an earlier
    run had none), with the crawl's SCREENSHOT_* settings. Screenshots are evidence, not the crawl: a failure is
    reported on stderr and the verdicts still follow."""
    from storage.archive import ArchiveError
    from storage.catalog.database import CatalogError
    from storage.objects import ObjectStoreError
    from storage.screenshots import take_missing_screenshots

    def shot_settings():
        # read only when a page is left: the crawl's settings and shot_spec import Scrapy (~0.5 s here)
        from crawler.run import crawl_settings
        from crawler.screenshots import shot_spec

        settings = crawl_settings(config, overrides)
        return shot_spec(settings), settings.getint("SCREENSHOT_PAGES")

    try:
        shots = take_missing_screenshots(config, run_id=run_id, shot_settings=shot_settings)
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
    from monitor.labels import FETCH_ERROR_NAMES, RUN_STATUS_NAMES

    errors = "、".join(f"{FETCH_ERROR_NAMES.get(kind, kind)} {count}"
                      for kind, count in sorted(summary.errors.items())) or "无"
    ended = "完成" if summary.status == "finished" else RUN_STATUS_NAMES.get(summary.status, summary.status)
    print(f"抓取{ended}：运行 {summary.run_id}，页面 {summary.pages}，报告 {summary.reports_found}"
          f"（新增 {summary.reports_new}），抓取错误 {sum(summary.errors.values())}（{errors}），"
          f"解析错误 {summary.parse_errors}，用时 {summary.duration:.1f} 秒")
    coverage = summary.coverage or {}
    print(f"年报栏目：{coverage.get('read', 0)} 个机关读到条目，{coverage.get('not_found', 0)} 个未找到栏目，"
          f"{coverage.get('unreadable', 0)} 个栏目无法读取或没有条目")
    for line in summary.column_failures:
        print(line)
    for line in summary.fetch_errors[:MAX_ERROR_LINES]:
        print(f"  抓取错误 {line}")
    if len(summary.fetch_errors) > MAX_ERROR_LINES:
        print(f"  … 另有 {len(summary.fetch_errors) - MAX_ERROR_LINES} 条抓取错误（xxgk serve 的运行页面列出全部）")
    if summary.log_file and (summary.fetch_errors or summary.parse_errors):
        print(f"完整日志：{summary.log_file}")


# ---------------------------------------------------------------- demo

DEMO_REGISTRY = "demo-registry.yaml"   # in the data directory: the agencies the demo crawled, at their addresses


def _keep_demo_registry(config, agencies) -> None:
    """The registry the demo crawled with (the portals' real addresses, the listing shapes too): what
    ``xxgk reindex --registry`` needs to give the demo's documents back to their agencies."""
    from registry.agencies import dump_registry

    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        dump_registry(agencies, config.data_dir / DEMO_REGISTRY)
    except OSError as exc:
        raise CommandError(f"cannot write {config.data_dir / DEMO_REGISTRY}: {exc.strerror or exc}") from exc


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.server import DemoServer
    from demo.shapes import DemoSite
    from monitor.clock import today

    args.as_of = as_of_argument(args.as_of)
    if not 0 <= args.port < 65536:
        raise CommandError(f"--port {args.port}: use a port between 1 and 65535 (0: any free port)")
    config = load_config(args)
    portals = DemoSite(edition=args.edition)
    try:
        server = DemoServer(portals, port=args.port, slow_seconds=3.0).start()
    except OSError as exc:
        raise CommandError(f"cannot start the demo portals on 127.0.0.1:{args.port}: {exc.strerror or exc} "
                           f"(choose another with --port)") from exc
    try:
        print(f"演示门户：{server.base_url}/  （七个虚构机关，数据目录 {config.data_dir}）")
        agencies = portals.registry(server.base_url)
        _keep_demo_registry(config, agencies)
        years = portals.watch_years()
        # the portals are on this machine: no politeness delay and a short wait before a retry (the failing page
        # is still asked three times, 0.5 + 1 s apart, not 2 + 4 s); a short timeout shows the slow page failing
        overrides = {"DOWNLOAD_TIMEOUT": 2, "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0,
                     "RETRY_BACKOFF_BASE": 0.5, "LOG_LEVEL": "INFO"}
        summary = crawl_and_judge(config, agencies, overrides=overrides, quiet=args.quiet, years=years)
    finally:
        server.stop()
    _print_summary(summary)
    print()
    print_timeliness(args, [agency.id for agency in agencies], as_of=args.as_of or today(), years=years)
    print()
    print("浏览存档与判定：xxgk serve   然后打开 http://127.0.0.1:8000/")
    print(f"本次抓取的机关名录：{config.data_dir / DEMO_REGISTRY}（目录库丢失时 `xxgk reindex --registry` 用它）")
    if args.edition == 1:
        # the same port and data directory: the archive knows the portals by their addresses
        again = ["xxgk"] + (["--data-dir", shlex.quote(str(args.data_dir))] if getattr(args, "data_dir", None) else [])
        again += ["demo", "--edition", "2"] + (["--port", str(server.port)] if server.port != DEFAULT_DEMO_PORT else [])
        print(f"（数据目录 {config.data_dir}；再次运行 `{' '.join(again)}` 可看到被修改和倒签的报告）")
    else:
        print(f"（数据目录 {config.data_dir}）")
    problems = run_problems(summary)
    for problem in problems:
        print(f"xxgk demo: {problem}", file=sys.stderr)
    return EXIT_FAILURE if problems else 0


TIMELINESS_COLUMNS = (("agency", "机关"), ("level", "层级"), ("report_year", "年度"), ("status", "状态"),
                      ("deadline", "截止日期"), ("publication_date", "发布日期"), ("date_source", "日期依据"),
                      ("days_late", "逾期天数"), ("flags", "标记"))


def print_timeliness(args: argparse.Namespace, agency_ids: list[str], *, as_of: date, years=None) -> None:
    """The timeliness table as of ``as_of``: one row per agency and report year, in the order of ``agency_ids``,
    as `xxgk status` prints it (today's stored verdicts, or another day's computed and not stored)."""
    from monitor.rows import rows_as_of

    catalog = open_catalog(args)
    try:
        rows = rows_as_of(catalog, as_of, years=years if years is not None else [as_of.year - 1],
                          agency_ids=agency_ids)
    finally:
        catalog.close()
    order = {agency_id: number for number, agency_id in enumerate(agency_ids)}
    rows.sort(key=lambda row: order[row["agency_id"]])  # stable: each agency's years stay in order
    write_rows(rows, "table", None, TIMELINESS_COLUMNS)
    write_undetermined_reasons(rows, None)
