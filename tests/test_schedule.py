"""``xxgk schedule``: the deadline-aware plan (``--dry-run``), the scheduler loop on a fast clock, and one crawl at a
time: a scheduled run that finds another crawl holding the run lock is recorded as skipped, a dead crawl's lock is
taken over, ``xxgk crawl`` refuses to start beside a running crawl, and the run history shows all of it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from fastapi.testclient import TestClient

from cli.schedule import ScheduledCrawl, run_schedule
from cli.timetable import load_timetable
from demo.portals import DemoPortals
from demo.server import DemoServer
from monitor.deadlines import load_rules
from registry.agencies import dump_registry
from storage.catalog import Catalog, queries
from storage.config import Config
from storage.runlock import CatalogRunLock
from tests.servers import venv_bin
from tests.test_alerts import Receiver
from tests.test_cli_parse import run
from web.app import create_app
from web.urls import Urls

ROOT = Path(__file__).resolve().parents[1]
BEIJING = ZoneInfo("Asia/Shanghai")
AGENCY = "sfq-ybj"   # the smallest demo portal
CRAWL_OVERRIDES = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "DOWNLOAD_TIMEOUT": 0.5, "RETRY_BACKOFF_BASE": 0,
                   "LOG_LEVEL": "WARNING"}


def _env(data_dir, **extra) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("XXGK_")}
    env["XXGK_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def _plan_lines(stdout: str) -> list[str]:
    return stdout.splitlines()[2:]


# ---------------------------------------------------------------- the plan

def test_dry_run_shows_the_deadline_night_and_the_nightly_runs():
    result = run("schedule", "--dry-run", "--from", "2025-01-31T20:00", "--count", "4")
    assert result.returncode == 0, result.stderr
    assert "schedule.toml" in result.stdout.splitlines()[0] and "Asia/Shanghai" in result.stdout
    assert _plan_lines(result.stdout) == [
        "2025-01-31 周五 21:10  1月31日截止前后每 3 小时",
        "2025-02-01 周六 00:10  1月31日截止前后每 3 小时；截止日 24:00 后检查",
        "2025-02-01 周六 02:30  每日夜间",
        "2025-02-01 周六 03:10  1月31日截止前后每 3 小时",
    ]
    # after the window only the nightly run is left
    result = run("schedule", "--dry-run", "--from", "2025-02-07T20:00", "--count", "3")
    assert _plan_lines(result.stdout) == ["2025-02-07 周五 21:10  1月31日截止前后每 3 小时",
                                          "2025-02-08 周六 02:30  每日夜间", "2025-02-09 周日 02:30  每日夜间"]


def test_the_default_plan_checks_every_legal_deadline_just_after_midnight_and_often_before_it():
    """For each deadline of the current rules (monitor/deadlines.toml): a run within 15 minutes after 24:00 of the
    deadline day, and none of the seven days before it without a run every 3 hours."""
    rules = load_rules()
    deadlines = {rule.deadline(2024) for rule in rules.rules if rule.covers(2024)}
    assert deadlines == {date(2025, 1, 31), date(2025, 3, 31)}
    timetable = load_timetable()
    for deadline in deadlines:
        midnight = datetime.combine(deadline + timedelta(days=1), datetime.min.time(), BEIJING)
        first_after, names = timetable.upcoming(midnight, 1)[0]
        assert first_after - midnight <= timedelta(minutes=15) and "截止日 24:00 后检查" in names
        week_before = midnight - timedelta(days=7)
        times = [moment for moment, _names in timetable.upcoming(week_before, 100) if moment <= midnight + timedelta(hours=1)]
        gaps = [later - earlier for earlier, later in zip([week_before, *times], times)]
        assert max(gaps) <= timedelta(hours=3), (deadline, max(gaps))
    quiet_month = timetable.upcoming(datetime(2025, 6, 1, tzinfo=BEIJING), 30)
    assert {(moment.hour, moment.minute) for moment, _names in quiet_month} == {(2, 30)}


def test_every_and_cron_override_the_plan_and_cron_reads_weekdays_as_crontab_does():
    every = run("schedule", "--dry-run", "--every", "6h", "--from", "2025-06-01", "--count", "2")
    assert _plan_lines(every.stdout) == ["2025-06-01 周日 06:00  每 6h", "2025-06-01 周日 12:00  每 6h"]
    monday = run("schedule", "--dry-run", "--cron", "0 3 * * 1", "--from", "2025-06-01", "--count", "2")
    assert _plan_lines(monday.stdout) == ["2025-06-02 周一 03:00  cron 0 3 * * 1",
                                          "2025-06-09 周一 03:00  cron 0 3 * * 1"]
    sunday = run("schedule", "--dry-run", "--cron", "30 1 * * 0", "--from", "2025-06-02", "--count", "1")
    assert _plan_lines(sunday.stdout) == ["2025-06-08 周日 01:30  cron 30 1 * * 0"]


def test_a_schedule_file_replaces_the_default_and_its_mistakes_are_one_line(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('[[run]]\nname = "年底"\nat = "23:00"\nfrom = "12-30"\nuntil = "01-01"\n', encoding="utf-8")
    result = run("schedule", "--dry-run", "--schedule", str(plan), "--from", "2025-06-01", "--count", "4")
    assert result.returncode == 0, result.stderr
    assert _plan_lines(result.stdout) == ["2025-12-30 周二 23:00  年底", "2025-12-31 周三 23:00  年底",
                                          "2026-01-01 周四 23:00  年底", "2026-12-30 周三 23:00  年底"]
    for text, expected in [('[[run]]\nname = "x"\nat = "25:00"\n', "at '25:00'"),
                           ('[[run]]\nname = "x"\nat = "02:00"\non = ["02-30"]\n', "on '02-30'"),
                           ('[[run]]\nname = "x"\nevery_hours = 3\nat = "02:00"\n', "either at"),
                           ('[[run]]\nname = "x"\ncron = "0 3 * *"\n', "5 fields"),
                           ('[[run]]\nname = "x"\nat = "02:00"\nwhen = 1\n', "unknown key when"),
                           ("time_zone = 'Mars/Olympus'\n[[run]]\nname = 'x'\nat = '02:00'\n", "Mars/Olympus"),
                           ("[[run\n", "not TOML")]:
        plan.write_text(text, encoding="utf-8")
        result = run("schedule", "--dry-run", "--schedule", str(plan))
        assert result.returncode == 1 and result.stderr.count("\n") == 1, (text, result.stderr)
        assert result.stderr.startswith(f"xxgk schedule: {plan}: ") and expected in result.stderr, result.stderr
    missing = run("schedule", "--dry-run", "--schedule", str(tmp_path / "nope.toml"))
    assert missing.returncode == 1 and "cannot read the schedule" in missing.stderr
    assert run("schedule", "--from", "2025-01-01").returncode == 1   # --from only plans


def _readme_timer_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line.split("=", 1)[1] for line in readme.splitlines() if line.startswith("OnCalendar=")]


def _systemd_times(expression: str, base: datetime, count: int) -> list[datetime]:
    """The next ``count`` times systemd's own calendar parser gives for ``expression`` after ``base``."""
    result = subprocess.run(["systemd-analyze", "calendar", f"--iterations={count}",
                             f"--base-time={base.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M:%S} UTC", expression],
                            capture_output=True, text=True, env={**os.environ, "TZ": "UTC", "LC_ALL": "C"})
    assert result.returncode == 0, (expression, result.stderr)
    times = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines()
             if line.strip().startswith(("Next elapse:", "Iter. #"))]
    return [datetime.strptime(text, "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=ZoneInfo("UTC")) for text in times]


def test_the_readme_systemd_timer_parses_and_fires_when_the_default_plan_does():
    """The OnCalendar lines of the README's timer, read by systemd-analyze: each parses, and together they fire at
    the default plan's times (around both deadlines and in a quiet month)."""
    lines = _readme_timer_lines()
    assert len(lines) == 5, lines
    timetable = load_timetable()
    count = 30
    for base in (datetime(2025, 1, 18, 12, 0, tzinfo=BEIJING), datetime(2025, 2, 5, 12, 0, tzinfo=BEIJING),
                 datetime(2025, 3, 29, 12, 0, tzinfo=BEIJING), datetime(2025, 6, 1, 12, 0, tzinfo=BEIJING)):
        fired = sorted({moment for line in lines for moment in _systemd_times(line, base, count)})[:count]
        planned = [moment for moment, _names in timetable.upcoming(base, count)]
        assert fired == planned, base


# ---------------------------------------------------------------- the loop, on a fast clock

class FastClock:
    """Time that jumps to the end of each wait instead of waiting; a job may move it on (a long run)."""

    def __init__(self, start: datetime):
        self.current = start
        self.waits: list[datetime] = []

    def now(self) -> datetime:
        return self.current

    def wait_until(self, moment: datetime, stop: threading.Event) -> bool:
        self.waits.append(moment)
        self.current = max(self.current, moment)
        return not stop.is_set()


def test_the_loop_runs_at_each_planned_time_and_does_not_make_up_times_a_long_run_missed():
    start = datetime(2025, 1, 31, 20, 0, tzinfo=BEIJING)
    timetable = load_timetable()
    clock = FastClock(start)
    ran: list[datetime] = []

    def job(due: datetime) -> None:
        ran.append(due)
        if len(ran) == 2:   # the 00:10 run takes four hours: 02:30 and 03:10 pass while it goes on
            clock.current = due + timedelta(hours=4)

    assert run_schedule(timetable, job, clock=clock, max_runs=4) == 4
    planned = [moment for moment, _names in timetable.upcoming(start, 6)]
    assert [moment.strftime("%d %H:%M") for moment in planned] == \
        ["31 21:10", "01 00:10", "01 02:30", "01 03:10", "01 06:10", "01 09:10"]
    assert ran == [planned[0], planned[1], planned[4], planned[5]]
    assert clock.waits == ran   # it waited for each run and never ran early


def test_run_now_runs_at_once_then_follows_the_plan():
    start = datetime(2025, 6, 1, 12, 0, tzinfo=BEIJING)
    clock = FastClock(start)
    ran: list[datetime] = []
    run_schedule(load_timetable(), ran.append, clock=clock, max_runs=2, run_now=True)
    assert ran == [start, datetime(2025, 6, 2, 2, 30, tzinfo=BEIJING)]


# ---------------------------------------------------------------- the registry, read again at each run

def test_each_scheduled_run_reads_the_registry_again_and_a_broken_one_keeps_the_last(tmp_path, capsys):
    """`xxgk schedule --registry FILE` read FILE once: an agency added while it ran was never crawled. Each run
    reads it again (``cmd_schedule`` gives ScheduledCrawl ``select_agencies`` as its reload); a file that cannot be
    used at that moment (half written) keeps the last good registry, said in one line on stderr."""
    from cli.common import select_agencies
    from registry.agencies import Agency

    data_dir, path = tmp_path / "data", tmp_path / "registry.yaml"
    closed = _free_port()   # nobody answers there: each crawl is over at once
    first, added = (Agency(id=agency_id, name=name, level="department",
                           homepage=f"http://127.0.0.1:{closed}/{agency_id}/")
                    for agency_id, name in (("jia-sjj", "甲市审计局"), ("jia-mzj", "甲市民政局")))
    dump_registry([first], path)
    config = Config.from_env({}, data_dir=data_dir)

    def reload():
        return select_agencies(config, str(path), [])

    crawl = ScheduledCrawl(config, reload(), dict(CRAWL_OVERRIDES), screenshots=False, reload=reload)
    statuses: list[str] = []

    def job(due: datetime) -> None:
        statuses.append(crawl(due))
        if len(statuses) == 1:   # an agency added while the scheduler runs
            dump_registry([first, added], path)

    run_schedule(load_timetable(), job, clock=FastClock(datetime(2025, 6, 1, 12, 0, tzinfo=BEIJING)), max_runs=2)
    catalog = _catalog(data_dir)
    try:
        with catalog.reading() as session:
            runs = sorted(queries.list_runs(session), key=lambda crawl_run: crawl_run.started_at)
    finally:
        catalog.close()
    assert [crawl_run.settings["agencies"] for crawl_run in runs] == [["jia-sjj"], ["jia-sjj", "jia-mzj"]]
    assert "注册表已更新：2 个机关（上次 1 个）" in capsys.readouterr().out
    # the next run's read finds the file half written: the last good registry is kept (not crawled here: the
    # read before a run is what decides)
    path.write_text("- id: jia-sjj\n  name: [甲市审计局\n", encoding="utf-8")
    assert [agency.id for agency in crawl.reloaded()] == ["jia-sjj", "jia-mzj"]
    [kept] = capsys.readouterr().err.splitlines()
    assert kept.startswith(f"xxgk schedule: 注册表无法使用（{path} 第3行：YAML 无法解析"), kept
    assert kept.endswith("本次沿用上次读到的 2 个机关"), kept


# ---------------------------------------------------------------- one crawl at a time, with real crawls

@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory):
    with DemoServer(slow_seconds=1.0) as server:
        path = tmp_path_factory.mktemp("registry") / "registry.yaml"
        dump_registry(DemoPortals().registry(server.base_url), path)
        yield path


def _agencies(registry_path):
    from registry.agencies import load_registry

    return [agency for agency in load_registry(registry_path) if agency.id == AGENCY]


def _hold_lock(data_dir, run_id: str, **env) -> subprocess.Popen:
    """Another process holding the crawl lock of ``data_dir`` (tests/lock_holder.py), with its run recorded as
    running, as a crawl started by hand would; returns once it holds the lock."""
    process = subprocess.Popen([sys.executable, "-m", "tests.lock_holder", run_id, "--start-run"], cwd=ROOT,
                               env=_env(data_dir, **env), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("held "), line
    return process


def _kill(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=30)


def _catalog(data_dir) -> Catalog:
    return Catalog.open(Config.from_env({}, data_dir=data_dir))


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory, demo_registry):
    """Four scheduled runs on a fast clock from 20:00 on 31 January, with alerts to a webhook receiver on loopback:
    the first crawls; before the second, a crawl started by hand holds the lock (the second is skipped); before the
    third, that crawl dies without releasing the lock (the third takes it over and crawls); the fourth crawls."""
    data_dir = tmp_path_factory.mktemp("scheduled") / "data"
    receiver = Receiver().start()
    data_dir.mkdir(parents=True)
    (data_dir / "alerts.toml").write_text(f'web_base = "https://xxgk.example.org"\n[[webhook]]\nname = "ops"\n'
                                          f'url = "{receiver.url}"\ntimeout = 5\n', encoding="utf-8")
    config = Config.from_env({}, data_dir=data_dir)
    start = datetime(2025, 1, 31, 20, 0, tzinfo=BEIJING)
    clock = FastClock(start)
    crawl = ScheduledCrawl(config, _agencies(demo_registry), dict(CRAWL_OVERRIDES), screenshots=False)
    statuses: list[str] = []
    holder: list[subprocess.Popen] = []

    def job(due: datetime) -> None:
        statuses.append(crawl(due))
        if len(statuses) == 1:
            holder.append(_hold_lock(data_dir, "manual-run"))
        elif len(statuses) == 2:
            _kill(holder[0])

    try:
        runs = run_schedule(load_timetable(), job, clock=clock, max_runs=4)
    finally:
        receiver.stop()
        for process in holder:
            if process.poll() is None:
                _kill(process)
    return {"data_dir": data_dir, "config": config, "runs": runs, "statuses": statuses, "clock": clock,
            "start": start, "holder_pid": holder[0].pid, "alerts": receiver.bodies()}


def test_a_scheduled_run_beside_a_running_crawl_is_skipped_and_a_dead_crawls_lock_is_taken_over(scheduled):
    assert scheduled["runs"] == 4 and scheduled["statuses"] == ["finished", "skipped", "finished", "finished"]
    planned = [moment for moment, _names in load_timetable().upcoming(scheduled["start"], 4)]
    assert scheduled["clock"].waits == planned
    catalog = _catalog(scheduled["data_dir"])
    try:
        with catalog.reading() as session:
            runs = sorted(queries.list_runs(session), key=lambda run: run.started_at)
            recorded = [event.key for event in queries.alert_events(session, kind="run_failed")]
        lock = CatalogRunLock(catalog).current()
    finally:
        catalog.close()
    by_status = {}
    for crawl_run in runs:
        by_status.setdefault(crawl_run.status, []).append(crawl_run)
    assert len(by_status["finished"]) == 3 and "running" not in by_status
    [skipped] = by_status["skipped"]
    assert skipped.settings["lock_run_id"] == "manual-run"
    assert skipped.settings["lock_holder"] == f"{socket.gethostname()}:{scheduled['holder_pid']}"
    assert skipped.settings["scheduled_for"] == planned[1].isoformat()
    assert "另一次抓取正在进行" in skipped.settings["skip_reason"] and skipped.finished_at is not None
    # the runs did not overlap: each finished before the next began, the skipped one in between
    finished = by_status["finished"]
    assert finished[0].finished_at <= skipped.started_at <= finished[1].started_at
    assert lock is None   # the last run released the lock it took over
    # the crawl that died holding the lock is over: the run that took its lock over says so, once
    [dead] = by_status["interrupted"]
    assert dead.id == "manual-run" and dead.settings["interrupted_by"] == finished[1].id
    assert dead.settings["interrupted_holder"] == f"{socket.gethostname()}:{scheduled['holder_pid']}"
    assert "已不存在" in dead.settings["interrupted_reason"]
    assert skipped.started_at <= dead.finished_at <= finished[1].started_at
    assert recorded == ["run_failed:manual-run"]
    [announced] = [body for body in scheduled["alerts"] if body["kind"] == "run_failed"]
    assert announced["facts"]["run_id"] == "manual-run" and announced["run_id"] == finished[1].id
    assert "运行中断" in announced["text"] and "已不存在" in announced["text"] and finished[1].id in announced["text"]
    # the verdicts' own events too were announced once, across four runs
    keys = [body["key"] for body in scheduled["alerts"]]
    assert len(keys) == len(set(keys))


def test_the_history_lists_finished_and_skipped_runs_and_links_the_run_that_held_the_lock(scheduled):
    catalog = _catalog(scheduled["data_dir"])
    try:
        with catalog.reading() as session:
            runs = {run.id: run for run in queries.list_runs(session)}
    finally:
        catalog.close()
    [skipped] = [run for run in runs.values() if run.status == "skipped"]
    with TestClient(create_app(scheduled["config"])) as client:
        document = lxml.html.fromstring(client.get("/runs").text)
        shown = {row.get("data-run"): [cell.text_content().strip() for cell in row.xpath("./td")]
                 for row in document.xpath("//tr[@data-run]")}
        assert set(shown) == set(runs)
        labels = {"finished": "已完成", "skipped": "已跳过", "interrupted": "已中断"}
        assert {run_id: cells[4] for run_id, cells in shown.items()} == \
            {run_id: labels[run.status] for run_id, run in runs.items()}
        row = document.xpath(f"//tr[@data-run='{skipped.id}']")[0]
        assert Urls().run("manual-run") in row.xpath(".//a/@href")
        assert "另一次抓取正在进行" in shown[skipped.id][-1]
        api = {run["id"]: run for run in client.get("/api/runs").json()["runs"]}
        assert api[skipped.id]["status"] == "skipped" and api[skipped.id]["status_label"] == "已跳过"
        assert api[skipped.id]["blocked_by"] == "manual-run" and api[skipped.id]["skip_reason"]
        assert all(api[run_id]["skip_reason"] is None for run_id in runs if run_id != skipped.id)
        detail = lxml.html.fromstring(client.get(Urls().run(skipped.id)).text).text_content()
        assert "跳过原因" in detail and "manual-run" in detail
        assert client.get(Urls().run("manual-run")).status_code == 200
        # the dead crawl: 已中断, found by the run that took its lock over, linked
        found_by = runs["manual-run"].settings["interrupted_by"]
        dead_row = document.xpath("//tr[@data-run='manual-run']")[0]
        assert Urls().run(found_by) in dead_row.xpath(".//a/@href")
        assert "进程已终止" in shown["manual-run"][-1] and "已不存在" in shown["manual-run"][-1]
        assert api["manual-run"]["status_label"] == "已中断" and api["manual-run"]["interrupted_by"] == found_by
        assert all(api[run_id]["interrupted_by"] is None for run_id in runs if run_id != "manual-run")
        dead_page = lxml.html.fromstring(client.get(Urls().run("manual-run")).text).text_content()
        assert "已中断" in dead_page and "进程已终止" in dead_page and found_by in dead_page


# ---------------------------------------------------------------- the commands beside a running crawl

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_crawl_demo_and_schedule_refuse_to_run_beside_a_crawl_then_crawl_takes_over_a_dead_ones_lock(
        tmp_path, demo_registry):
    data_dir = tmp_path / "data"
    crawl_args = ["crawl", "--registry", str(demo_registry), "--agency", AGENCY, "--no-screenshots", "--quiet",
                  "--set", "AUTOTHROTTLE_ENABLED=false", "--set", "DOWNLOAD_DELAY=0", "--set", "DOWNLOAD_TIMEOUT=0.5"]
    holder = _hold_lock(data_dir, "manual-run")
    try:
        refused = run(*crawl_args, env=_env(data_dir))
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
        assert refused.stderr.startswith("xxgk crawl: 另一次抓取正在进行（运行 manual-run，持有者 "
                                         f"{socket.gethostname()}:{holder.pid}，")
        demo = run("demo", "--port", str(_free_port()), "--quiet", env=_env(data_dir))
        assert demo.returncode == 1 and "xxgk demo: 另一次抓取正在进行" in demo.stderr
        scheduled = run("schedule", "--now", "--max-runs", "1", "--registry", str(demo_registry), "--agency", AGENCY,
                        env=_env(data_dir))
        assert scheduled.returncode == 0 and "已跳过" in scheduled.stderr, scheduled.stderr
        catalog = _catalog(data_dir)
        try:
            with catalog.reading() as session:
                statuses = sorted(run.status for run in queries.list_runs(session))
        finally:
            catalog.close()
        assert statuses == ["running", "skipped"]   # the holder's run, and the skipped scheduled one
    finally:
        _kill(holder)   # dies holding the lock
    took_over = run(*crawl_args, env=_env(data_dir))
    assert took_over.returncode == 0, took_over.stderr[-2000:]
    assert "已接管失效的运行锁" in took_over.stderr and f":{holder.pid}" in took_over.stderr
    assert "运行 manual-run 已记为已中断" in took_over.stderr
    assert "抓取完成" in took_over.stdout
    catalog = _catalog(data_dir)
    try:
        assert CatalogRunLock(catalog).current() is None
    finally:
        catalog.close()


def _new_run_log(data_dir, process: subprocess.Popen, known: set) -> str:
    """The run id of the crawl ``process`` started, once it holds the lock: a crawl takes the run lock, then names
    its log file DATA_DIR/logs/RUN_ID.log after the run."""
    while True:
        assert process.poll() is None, process.communicate()
        logs = {path.stem for path in (Path(data_dir) / "logs").glob("*.log")} - known
        if logs:
            [run_id] = logs
            return run_id
        time.sleep(0.05)


def test_a_real_crawl_and_the_scheduler_take_turns_and_never_overlap(tmp_path, demo_registry):
    """Two real crawls at once, both ways: a scheduled run while `xxgk crawl` (slowed to take several seconds)
    holds the lock is recorded as skipped naming that crawl, and the next one crawls after it; an `xxgk crawl`
    started while a scheduled run crawls is refused in one line and exits 1. No two crawls ran at the same time."""
    data_dir = tmp_path / "data"
    crawl_args = ["crawl", "--registry", str(demo_registry), "--agency", AGENCY, "--no-screenshots", "--quiet",
                  "--set", "AUTOTHROTTLE_ENABLED=false", "--set", "DOWNLOAD_TIMEOUT=5", "--set", "DOWNLOAD_DELAY=1"]
    manual = subprocess.Popen([str(venv_bin("xxgk")), *crawl_args], env=_env(data_dir), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        manual_id = _new_run_log(data_dir, manual, set())
        crawl = ScheduledCrawl(Config.from_env({}, data_dir=data_dir), _agencies(demo_registry),
                               dict(CRAWL_OVERRIDES), screenshots=False)
        statuses: list[str] = []

        def job(due: datetime) -> None:
            statuses.append(crawl(due))
            if len(statuses) == 1:   # the next scheduled time comes after the manual crawl ended
                _out, err = manual.communicate(timeout=600)
                assert manual.returncode == 0, err[-2000:]

        run_schedule(load_timetable(), job, clock=FastClock(datetime(2025, 6, 1, 12, 0, tzinfo=BEIJING)),
                     max_runs=2)
    finally:
        if manual.poll() is None:
            _kill(manual)
    assert statuses == ["skipped", "finished"]

    # the other way round: `xxgk schedule` crawls, `xxgk crawl` started meanwhile is refused
    known = {path.stem for path in (data_dir / "logs").glob("*.log")}
    scheduler = subprocess.Popen([str(venv_bin("xxgk")), "schedule", "--now", "--max-runs", "1", *crawl_args[1:5],
                                  "--set", "DOWNLOAD_DELAY=1", "--set", "DOWNLOAD_TIMEOUT=5"],
                                 env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        scheduled_id = _new_run_log(data_dir, scheduler, known)
        refused = run(*crawl_args, env=_env(data_dir))
        _out, err = scheduler.communicate(timeout=600)
    finally:
        if scheduler.poll() is None:
            _kill(scheduler)
    assert scheduler.returncode == 0, err[-2000:]
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith(f"xxgk crawl: 另一次抓取正在进行（运行 {scheduled_id}，"), refused.stderr

    catalog = _catalog(data_dir)
    try:
        with catalog.reading() as session:
            runs = sorted(queries.list_runs(session), key=lambda run: run.started_at)
    finally:
        catalog.close()
    [skipped] = [crawl_run for crawl_run in runs if crawl_run.status == "skipped"]
    assert skipped.settings["lock_run_id"] == manual_id and "另一次抓取正在进行" in skipped.settings["skip_reason"]
    crawled = [crawl_run for crawl_run in runs if crawl_run.status != "skipped"]
    assert [crawl_run.status for crawl_run in crawled] == ["finished"] * 3   # the refused crawl left no run
    assert crawled[0].id == manual_id and crawled[-1].id == scheduled_id
    # refused while the manual crawl went on (its row starts when its archive opens, a moment after its lock)
    assert skipped.finished_at <= crawled[0].finished_at <= crawled[1].started_at
    for earlier, later in zip(crawled, crawled[1:]):
        assert earlier.finished_at <= later.started_at, (earlier.id, later.id)


def test_with_redis_configured_the_lock_lives_in_redis_and_in_the_catalog(tmp_path, demo_registry, redis_server):
    import redis

    data_dir = tmp_path / "data"
    holder = _hold_lock(data_dir, "redis-held", XXGK_REDIS_URL=redis_server.url)
    try:
        assert redis.Redis.from_url(redis_server.url).exists("xxgk:lock:crawl")
        refused = run("crawl", "--registry", str(demo_registry), "--agency", AGENCY,
                      env=_env(data_dir, XXGK_REDIS_URL=redis_server.url))
        assert refused.returncode == 1 and "另一次抓取正在进行（运行 redis-held" in refused.stderr
        # the catalog's lock is held too: a crawl without the Redis setting meets it (it did not, and crawled beside)
        catalog = _catalog(data_dir)
        try:
            assert CatalogRunLock(catalog).current().run_id == "redis-held"
        finally:
            catalog.close()
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    assert not redis.Redis.from_url(redis_server.url).exists("xxgk:lock:crawl")
