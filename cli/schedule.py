"""``xxgk schedule``: run ``xxgk crawl`` by a deadline-aware plan (``cli.timetable``), in the foreground.

Runs never overlap: each takes the run lock as ``xxgk crawl`` does, and a run that finds another crawl of the
archive going (started by hand, by cron, or by a scheduler on another machine) is not queued but recorded as a
skipped run (status ``skipped``, why in its settings) so that the run history shows it. Times missed while a run
was going are not made up. ``--dry-run`` prints the plan instead of running it.

The loop reads time through a clock object (``SystemClock``); tests give it one that jumps instead of waiting.
"""
from __future__ import annotations

import argparse
import sys
import threading
from datetime import date, datetime, timezone
from typing import Callable, Protocol
from zoneinfo import ZoneInfo

from cli.common import CommandError, load_config, positive_count, select_agencies, selected_registry
from cli.crawl import RunLocked, _overrides, _print_summary, coordinator_overrides, crawl_and_judge, run_problems
from cli.timetable import (DEFAULT_SCHEDULE, DEFAULT_ZONE, ScheduleError, Timetable, cron_timetable,
                           every_timetable, load_timetable)

WEEKDAYS = "一二三四五六日"
DRY_RUN_COUNT = 10
MAX_DRY_RUN = 1000


def add_parsers(sub) -> None:
    p = sub.add_parser("schedule", help="run crawls on a deadline-aware schedule",
                       description="run `xxgk crawl` on a schedule, in the foreground: by default nightly at 02:30, "
                                   "every 3 hours from 20 Jan to 7 Feb and from 20 Mar to 7 Apr, and at 00:10 after "
                                   "each deadline day (Beijing time; see --dry-run). One crawl at a time: a run that "
                                   "finds another crawl going is recorded as skipped.")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--schedule", metavar="FILE",
                      help=f"schedule file, TOML in the format of the default ({DEFAULT_SCHEDULE})")
    when.add_argument("--every", metavar="DURATION", help="instead: an interval such as 30m, 6h, 1d")
    when.add_argument("--cron", metavar="EXPR", help="instead: a crontab expression in Beijing time, e.g. '0 3 * * *'")
    p.add_argument("--dry-run", action="store_true", help="print the next run times and exit; nothing is crawled")
    p.add_argument("--from", dest="start", metavar="DATE",
                   help="with --dry-run: where the plan starts, YYYY-MM-DD or YYYY-MM-DDTHH:MM in Beijing time "
                        "(default: now)")
    p.add_argument("--count", type=positive_count, help=f"with --dry-run: how many run times (default {DRY_RUN_COUNT})")
    p.add_argument("--registry", help="registry file, read again before each run (default: the registry "
                                      "`xxgk agencies import` stored in the catalog, else the shipped registry)")
    p.add_argument("--agency", action="append", default=[], metavar="ID", help="only this agency (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a Scrapy setting")
    p.add_argument("--no-screenshots", dest="screenshots", action="store_false",
                   help="take no Chromium screenshots of report pages")
    p.add_argument("--max-runs", type=positive_count, help="stop after this many runs, skipped ones included (default: forever)")
    p.add_argument("--now", action="store_true", help="also run once immediately")
    p.add_argument("--coordinator", action="store_true",
                   help="each run is shared with `xxgk crawl --worker --forever` processes on any machine (needs "
                        "XXGK_REDIS_URL): seed the shared queue, crawl along, judge once it drained")
    p.set_defaults(handler=cmd_schedule)


def cmd_schedule(args: argparse.Namespace) -> int:
    clock = SystemClock()
    if not args.dry_run and (args.start or args.count is not None):
        raise CommandError("--from and --count go with --dry-run")
    start = _start(args.start, clock) if args.dry_run else clock.now()
    timetable = timetable_of(args, start)
    if args.dry_run:
        count = DRY_RUN_COUNT if args.count is None else args.count
        if not 1 <= count <= MAX_DRY_RUN:
            raise CommandError(f"--count must be between 1 and {MAX_DRY_RUN}")
        print_plan(timetable, start, count)
        return 0
    config = load_config(args)

    def agencies_now():
        return select_agencies(config, args.registry, args.agency)

    agencies, source = selected_registry(config, args.registry, args.agency)
    if not agencies:   # as `xxgk crawl` refuses it, rather than a scheduler that never crawls anything
        raise CommandError("没有要抓取的机构，计划任务未启动")
    overrides = {"LOG_LEVEL": "INFO", **_overrides(args.set)}
    if not args.screenshots:
        overrides.setdefault("ARCHIVE_SCREENSHOTS", False)
    if args.coordinator:
        overrides = coordinator_overrides(config, overrides)
    job = ScheduledCrawl(config, agencies, overrides, screenshots=args.screenshots, reload=agencies_now)
    print(f"计划任务已启动：{timetable.source}，{len(agencies)} 个机关（{source}；Ctrl-C 停止）", flush=True)
    try:
        run_schedule(timetable, job, clock=clock, max_runs=args.max_runs, run_now=args.now,
                     announce=lambda due: print(f"下次运行：{local_time(due, timetable)}", flush=True))
    except KeyboardInterrupt:
        pass
    return 0


def timetable_of(args: argparse.Namespace, start: datetime) -> Timetable:
    try:
        if args.every:
            return every_timetable(args.every, start)
        if args.cron:
            return cron_timetable(args.cron)
        return load_timetable(args.schedule)
    except ScheduleError as exc:
        raise CommandError(str(exc)) from exc


def _start(text: str | None, clock: "Clock") -> datetime:
    if not text:
        return clock.now()
    try:
        moment = datetime.fromisoformat(text) if "T" in text or " " in text else \
            datetime.combine(date.fromisoformat(text), datetime.min.time())
    except ValueError:
        raise CommandError(f"--from {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return moment.replace(tzinfo=ZoneInfo(DEFAULT_ZONE)) if moment.tzinfo is None else moment


def local_time(moment: datetime, timetable: Timetable) -> str:
    moment = moment.astimezone(timetable.zone)
    return f"{moment:%Y-%m-%d} 周{WEEKDAYS[moment.weekday()]} {moment:%H:%M}"


def print_plan(timetable: Timetable, start: datetime, count: int) -> None:
    plan = timetable.upcoming(start, count)
    print(f"计划：{timetable.source}（时区 {timetable.zone.key}）")
    print(f"自 {local_time(start, timetable)} 起的 {len(plan)} 次运行：")
    for moment, names in plan:
        print(f"{local_time(moment, timetable)}  {'；'.join(names)}")


# ---------------------------------------------------------------- the loop

class Clock(Protocol):
    def now(self) -> datetime: ...

    def wait_until(self, moment: datetime, stop: threading.Event) -> bool:
        """Return at ``moment`` (True), or early when ``stop`` is set (False)."""


class SystemClock:
    """Real time. Waits in steps of at most a minute, so that a machine that slept or a clock that was set is
    noticed within a minute rather than after the whole wait."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def wait_until(self, moment: datetime, stop: threading.Event) -> bool:
        while (left := (moment - self.now()).total_seconds()) > 0:
            if stop.wait(min(left, 60)):
                return False
        return not stop.is_set()


def run_schedule(timetable: Timetable, job: Callable[[datetime], object], *, clock: Clock,
                 max_runs: int | None = None, run_now: bool = False, stop: threading.Event | None = None,
                 announce: Callable[[datetime], None] | None = None) -> int:
    """Call ``job(due)`` at each time the timetable is due, one call at a time, until ``max_runs`` calls, the
    end of the plan, or ``stop``; returns the number of calls."""
    trigger = timetable.trigger()
    stop = stop or threading.Event()
    runs = 0
    due = clock.now() if run_now else trigger.get_next_fire_time(None, clock.now())
    while due is not None:
        if announce is not None:
            announce(due)
        if not clock.wait_until(due, stop):
            break
        job(due)
        runs += 1
        if max_runs and runs >= max_runs:
            break
        now = clock.now()
        following = trigger.get_next_fire_time(due, now)
        # times that passed while the job ran are not made up: the next one from now on
        due = following if following is None or following >= now else trigger.get_next_fire_time(None, now)
    return runs


# ---------------------------------------------------------------- one scheduled run

class ScheduledCrawl:
    """One scheduled run: crawl and judge, or, when another crawl holds the lock, a skipped run in the history.
    A failed run is reported and the schedule goes on. Returns the run's status.

    ``reload`` gives the agencies again before each run: an agency added to the registry (or a new import) while
    the scheduler runs is crawled at its next run. A registry that cannot be used at that moment (half written, an
    unknown --agency, empty) keeps the last good one, said in one line on stderr."""

    def __init__(self, config, agencies, overrides: dict, *, screenshots: bool = True, quiet: bool = True,
                 reload: Callable[[], list] | None = None):
        self.config = config
        self.agencies = agencies
        self.overrides = overrides
        self.screenshots = screenshots
        self.quiet = quiet
        self.reload = reload

    def reloaded(self) -> list:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            agencies = self.reload()
            if not agencies:
                raise CommandError("没有要抓取的机构")
        except (CommandError, SQLAlchemyError) as exc:   # a catalog down for a moment is no reason to stop
            reason = " ".join(str(exc).split())
            print(f"xxgk schedule: 注册表无法使用（{reason}），本次沿用上次读到的 {len(self.agencies)} 个机关",
                  file=sys.stderr, flush=True)
            return self.agencies
        if [agency.id for agency in agencies] != [agency.id for agency in self.agencies]:
            print(f"注册表已更新：{len(agencies)} 个机关（上次 {len(self.agencies)} 个）", flush=True)
        return agencies

    def __call__(self, due: datetime) -> str:
        if self.reload is not None:
            self.agencies = self.reloaded()
        try:
            summary = crawl_and_judge(self.config, self.agencies, overrides=self.overrides, quiet=self.quiet,
                                      screenshots=self.screenshots)
        except RunLocked as exc:
            self.record_skipped(exc, due)
            print(f"xxgk schedule: 运行 {exc.run_id} 已跳过：{exc}", file=sys.stderr, flush=True)
            return "skipped"
        except CommandError as exc:
            print(f"xxgk schedule: {exc}", file=sys.stderr, flush=True)
            return "failed"
        _print_summary(summary)
        sys.stdout.flush()
        problems = run_problems(summary)
        for problem in problems:
            print(f"xxgk schedule: 运行 {summary.run_id}：{problem}", file=sys.stderr, flush=True)
        return "failed" if problems else summary.status

    def record_skipped(self, exc: RunLocked, due: datetime) -> None:
        from storage.catalog import Catalog, CatalogError, queries

        settings = {"trigger": "schedule", "scheduled_for": due.isoformat(), "skip_reason": str(exc),
                    "lock_holder": exc.holder.holder, "lock_run_id": exc.holder.run_id,
                    "agencies": [agency.id for agency in self.agencies]}
        try:
            with Catalog.open(self.config) as catalog, catalog.session() as session:
                run = queries.start_run(session, exc.run_id, settings=settings)
                queries.finish_run(session, run.id, status="skipped", counts={}, finished_at=run.started_at)
        except CatalogError as exc_catalog:
            print(f"xxgk schedule: 未能记录跳过的运行：{exc_catalog}", file=sys.stderr, flush=True)
