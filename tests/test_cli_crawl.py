"""``xxgk demo``, ``xxgk crawl`` and ``xxgk schedule`` as a user runs them, over the demo portals on loopback."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from demo.narrative import COPIED
from demo.portals import DemoPortals
from demo.server import DemoServer
from demo.shapes import DEMO_SHAPES, DemoSite
from monitor.clock import today
from registry.agencies import dump_registry
from storage.catalog import Catalog, queries
from storage.catalog.models import ColumnCoverage
from storage.config import Config
from tests.crawling import catalog_of
from tests.test_cli_parse import run

# As a user runs the demo: judged as of today in Beijing. The archive's captures are taken now, and a verdict as of
# an earlier day cannot count what was archived after it (it would be 无法判断).
AS_OF = today()
STATUS_LABELS = {"on_time": "按时", "late": "逾期", "missing": "未发布", "pending": "未到期", "undetermined": "无法判断"}
# The verdict flags (monitor.flags) and how the table prints them; the demo's other expected flags describe the
# portal (a redirect, a broken table…) and are not verdict flags.
FLAG_LABELS = {"backdated": "倒签", "changed": "发布后修改", "removed": "已删除", "copied": "疑似雷同"}


def _env(data_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XXGK_")}
    env["XXGK_DATA_DIR"] = str(data_dir)
    return env


def _verdicts(data_dir) -> dict[tuple[str, int], str]:
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    with catalog.reading() as session:
        return {(v.agency_id, v.report_year): v.status for v in queries.verdicts(session)}


def _judged(data_dir) -> dict[tuple[str, int], tuple]:
    """(status, days late, verdict flags) of every stored verdict."""
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    try:
        with catalog.reading() as session:
            return {(v.agency_id, v.report_year): (v.status, v.days_late, set(v.flags))
                    for v in queries.verdicts(session)}
    finally:
        catalog.close()


def _expected(portals: DemoPortals) -> dict[tuple[str, int], tuple]:
    """The five portals' verdicts and those of the two listing shapes the demo serves beside them."""
    # the back-dated report of edition 2 is judged by the archive: the first run's listing (today) did not list it
    expected = {(v.agency_id, v.report_year): (v.status, v.days_late, set(v.flags) & set(FLAG_LABELS))
                for v in portals.expected_verdicts(AS_OF, first_look=AS_OF)}
    expected.update({key: (status, days_late, set())
                     for key, (status, days_late) in DemoSite().expected_shape_verdicts().items()})
    return expected


def _flagged_rows(out: str, flag: str) -> list[tuple[str, str]]:
    """(agency name, year) of every row of the printed table that carries ``flag``'s label."""
    rows = [line.split() for line in out.splitlines()]
    return [(row[0], row[2]) for row in rows
            if len(row) > 3 and re.fullmatch(r"\d{4}", row[2]) and FLAG_LABELS[flag] in row[-1]]


def _evidence(data_dir) -> list[dict]:
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    try:
        with catalog.reading() as session:
            return [v.evidence for v in queries.verdicts(session) if v.report_id is not None]
    finally:
        catalog.close()


def test_demo_crawls_and_prints_the_timeliness_table(tmp_path):
    data_dir = tmp_path / "data"
    result = run("demo", "--port", "0", "--as-of", AS_OF.isoformat(), "--quiet", env=_env(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "演示门户：http://127.0.0.1:" in out
    assert "xxgk serve" in out and "http://127.0.0.1:8000/" in out
    expected = DemoPortals().expected_verdicts(AS_OF)
    # every verdict exactly: status, days late and flags — 疑似雷同 on the one copied report and nowhere else
    assert _judged(data_dir) == _expected(DemoPortals())
    # every report published as a web page has a screenshot in its evidence; attachments (PDF, DOCX) have none
    bundles = _evidence(data_dir)
    pages = [bundle for bundle in bundles if bundle["report_url"].endswith((".html", ".htm", ".shtml"))]
    assert pages and all((bundle["screenshot"] or {}).get("mime") == "image/jpeg" for bundle in pages)
    assert all(bundle["screenshot"] is None for bundle in bundles if bundle not in pages)
    names = {agency.id: agency.name for agency in DemoPortals().agencies}
    rows = [line.split() for line in out.splitlines()]
    # the column only a browser can read is read (its missing year proven); the 403 column gives 无法判断 + reason
    shapes = {agency.id: agency for agency in DemoSite().shape_agencies}
    assert set(DEMO_SHAPES) == set(shapes)
    forbidden = shapes["shape-forbidden"].name
    assert any(row[:1] == [forbidden] and "无法判断" in row for row in rows), out
    assert f"· {forbidden}（2022 年度）：年报栏目无法读取（HTTP 403" in out, out   # under 无法判断的理由: said once
    assert any(row[:1] == [shapes["shape-shell"].name] and "2022" in row and "未发布" in row for row in rows), out
    for verdict in expected:
        wanted = {names[verdict.agency_id], str(verdict.report_year), STATUS_LABELS[verdict.status]}
        if verdict.status == "late":
            wanted.add(str(verdict.days_late))
        assert any(wanted <= set(row) for row in rows), (verdict, out)
    copied = DemoPortals().agency(COPIED[0]).name, str(COPIED[1])
    assert _flagged_rows(out, "copied") == [copied], out
    assert _flagged_rows(out, "backdated") == _flagged_rows(out, "changed") == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stored(data_dir) -> dict[tuple[str, int], tuple]:
    """(computed_at, status, days_late, flags, evidence) of every stored verdict."""
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    try:
        with catalog.reading() as session:
            return {(v.agency_id, v.report_year): (v.computed_at, v.status, v.days_late, v.flags, v.evidence)
                    for v in queries.verdicts(session)}
    finally:
        catalog.close()


def test_second_demo_run_shows_the_changed_and_the_backdated_report(tmp_path):
    """Edition 2 of the portals edits one report and back-dates another: the verdicts say so, with evidence. The
    second run re-judges only the agencies it touched, and a full re-judge from the catalog alone (the archive's
    object store gone: no WARC record can be read) gives every verdict the same."""
    data_dir, port = tmp_path / "data", str(_free_port())
    first = run("demo", "--port", port, "--as-of", AS_OF.isoformat(), "--quiet", env=_env(data_dir))
    assert first.returncode == 0, first.stderr[-2000:]
    # the hint the first run ends with names the port it used: the archive knows the portals by their addresses
    assert f"再次运行 `xxgk demo --edition 2 --port {port}`" in first.stdout, first.stdout[-500:]
    after_first = _stored(data_dir)
    second = run("demo", "--port", port, "--edition", "2", "--as-of", AS_OF.isoformat(), "--quiet",
                 env=_env(data_dir))
    assert second.returncode == 0, second.stderr[-2000:]
    assert _judged(data_dir) == _expected(DemoPortals(edition=2))
    after_second = _stored(data_dir)
    judged_again = {key for key, row in after_second.items()
                    if key not in after_first or row[0] != after_first[key][0]}
    # the edited report's and the back-dated report's agencies were touched; an agency whose pages said the same
    # again (304s, the same listing) keeps its rows as they were, down to when they were computed
    assert {("sfq-wjj", 2023), ("ylx-wjj", 2023)} <= judged_again
    untouched = [key for key in after_second if key[0] == "sfq-gov"]
    assert untouched and all(after_second[key] == after_first[key] for key in untouched)

    objects = Config.from_env(env={}, data_dir=data_dir).objects_dir
    objects.rename(objects.with_name("objects-gone"))
    again = run("status", "--year", str(AS_OF.year - 1), "--as-of", AS_OF.isoformat(), env=_env(data_dir))
    assert again.returncode == 0, again.stderr[-2000:]
    full = _stored(data_dir)  # every agency judged again (and the status year too, for those the demo skips)
    assert {key: full[key][1:] for key in after_second} == {key: row[1:] for key, row in after_second.items()}
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    with catalog.reading() as session:
        stored = {(v.agency_id, v.report_year): v for v in queries.verdicts(session)}
    catalog.close()
    changed = stored[("sfq-wjj", 2023)].evidence["changed"]
    assert any(cell["old"] == 173 and cell["new"] == 185 for cell in changed["cells"]), changed
    copied = stored[COPIED].evidence["copied"]
    assert (copied["relation"], copied["other_agency_id"], copied["other_report_year"]) == \
        ("previous_year", COPIED[0], COPIED[1] - 1)
    names = {agency.id: agency.name for agency in DemoPortals().agencies}
    assert _flagged_rows(second.stdout, "backdated") == [(names["ylx-wjj"], "2023")]
    assert _flagged_rows(second.stdout, "changed") == [(names["sfq-wjj"], "2023")]
    assert _flagged_rows(second.stdout, "copied") == [(names[COPIED[0]], str(COPIED[1]))]


@pytest.fixture()
def demo_registry(tmp_path):
    with DemoServer(slow_seconds=1.0) as server:
        path = tmp_path / "registry.yaml"
        dump_registry(DemoPortals().registry(server.base_url), path)
        yield path


def test_crawl_one_agency_from_a_registry_file(tmp_path, demo_registry):
    data_dir = tmp_path / "data"
    result = run("crawl", "--registry", str(demo_registry), "--agency", "sfq-gov", "--as-of", AS_OF.isoformat(),
                 "--set", "AUTOTHROTTLE_ENABLED=false", "--set", "DOWNLOAD_DELAY=0", "--no-screenshots",
                 env=_env(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "抓取完成" in result.stdout
    verdicts = _verdicts(data_dir)
    assert {key[0] for key in verdicts} == {"sfq-gov"}
    assert verdicts[("sfq-gov", 2024)] == "late"
    # its reports are web pages, but screenshots were turned off
    bundles = _evidence(data_dir)
    assert bundles and all(bundle["screenshot"] is None and bundle["screenshot_note"] for bundle in bundles)


def test_crawl_as_of_another_day_prints_that_days_verdicts_and_stores_todays(tmp_path, demo_registry):
    """The stored verdicts are today's (the web UI shows them as current): `crawl --as-of` a past day prints the
    verdicts as of that day and stores none of them."""
    data_dir, past = tmp_path / "data", date(2025, 1, 10)
    result = run("crawl", "--registry", str(demo_registry), "--agency", "sfq-gov", "--as-of", past.isoformat(),
                 "--set", "AUTOTHROTTLE_ENABLED=false", "--set", "DOWNLOAD_DELAY=0", "--no-screenshots", "--quiet",
                 env=_env(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    name = DemoPortals().agency("sfq-gov").name
    rows = [line.split() for line in result.stdout.splitlines()]
    # as of 2025-01-10 the 2024 report was not due yet (a government's is due on 31 March)
    assert any(row[:1] == [name] and "2024" in row and "未到期" in row for row in rows), result.stdout
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    try:
        with catalog.reading() as session:
            stored = queries.verdicts(session)
    finally:
        catalog.close()
    assert stored and {verdict.evidence["as_of"] for verdict in stored} <= {AS_OF.isoformat(), today().isoformat()}
    assert {(v.agency_id, v.report_year): v.status for v in stored}[("sfq-gov", 2024)] == "late"


def test_crawl_unknown_agency_is_one_line(tmp_path, demo_registry):
    result = run("crawl", "--registry", str(demo_registry), "--agency", "nope", env=_env(tmp_path / "d"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"xxgk crawl: 未知的机构 id：nope（不在注册表 {demo_registry} 中）"


FAST = ["--set", "AUTOTHROTTLE_ENABLED=false", "--set", "DOWNLOAD_DELAY=0", "--set", "DOWNLOAD_TIMEOUT=0.5",
        "--no-screenshots"]


def test_crawl_and_schedule_without_registry_crawl_the_imported_registry(tmp_path, demo_registry):
    """README "Production": `xxgk agencies import FILE` says who is watched, then `xxgk schedule` and cron's
    `xxgk crawl` run without --registry. They crawl the imported agencies (they crawled the shipped registry, and
    an id `agencies list` showed was unknown to crawl)."""
    from registry.agencies import load_registry

    data_dir, mine = tmp_path / "data", tmp_path / "mine.yaml"
    dump_registry([agency for agency in load_registry(demo_registry) if agency.id in ("sfq-gov", "sfq-wjj")], mine)
    env = _env(data_dir)
    assert run("agencies", "import", str(mine), env=env).returncode == 0
    crawl = run("crawl", "--agency", "sfq-gov", "--quiet", *FAST, env=env)
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    scheduled = run("schedule", "--every", "1h", "--now", "--max-runs", "1", "--agency", "sfq-gov", *FAST, env=env)
    assert scheduled.returncode == 0, scheduled.stderr[-2000:]
    assert "计划任务已启动：--every 1h，1 个机关（已导入的注册表；" in scheduled.stdout, scheduled.stdout
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    try:
        with catalog.reading() as session:
            runs = queries.list_runs(session)
            read = [{row.agency_id for row in session.scalars(select(ColumnCoverage).where(
                ColumnCoverage.run_id == crawl_run.id))} for crawl_run in runs]
    finally:
        catalog.close()
    assert [crawl_run.status for crawl_run in runs] == ["finished", "finished"]
    assert read == [{"sfq-gov"}, {"sfq-gov"}]   # its report_index, render and robots came through the catalog
    # an id the import does not hold is refused, naming where the agencies came from
    other = run("crawl", "--agency", "sfq-ybj", env=env)
    assert other.returncode == 1 and other.stderr.count("\n") == 1
    assert other.stderr.startswith("xxgk crawl: 未知的机构 id：sfq-ybj（不在已导入的注册表中"), other.stderr
    # a new import replaces the watched set; an agency it leaves out keeps its row, unmarked, and is not crawled
    dump_registry([agency for agency in load_registry(demo_registry) if agency.id == "sfq-gov"], mine)
    assert run("agencies", "import", str(mine), env=env).returncode == 0
    listed = json.loads(run("agencies", "list", "--format", "json", env=env).stdout)
    assert {row["id"]: row["watched"] for row in listed} == {"sfq-gov": True, "sfq-wjj": False}
    dropped = run("crawl", "--agency", "sfq-wjj", env=env)
    assert dropped.returncode == 1 and "不在已导入的注册表中" in dropped.stderr, dropped.stderr


def test_crawl_bad_setting_is_one_line(tmp_path, demo_registry):
    result = run("crawl", "--registry", str(demo_registry), "--set", "timeout", env=_env(tmp_path / "d"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1


@pytest.mark.parametrize("setting, words", [
    ("DOWNLOAD_TIMEOUT=-1", "expected 0 or more"),        # failed every request, and the crawl exited 0
    ("DOWNLOAD_TIMEOUT=abc", "expected a number"),        # failed every scheduled run, and schedule exited 0
    ("AUTOTHROTTLE_ENABLED=yes", "expected true or false"),
    ("DOWLOAD_DELAY=2", "no such setting"),              # a typo was silently ignored
])
def test_a_setting_that_cannot_work_is_refused_before_any_crawl(tmp_path, demo_registry, setting, words):
    for command in (["crawl"], ["schedule", "--now", "--max-runs", "1"]):
        result = run(*command, "--registry", str(demo_registry), "--set", setting, env=_env(tmp_path / "d"))
        assert result.returncode == 1, (command, result.stdout[-500:])
        assert result.stderr.count("\n") == 1 and words in result.stderr and setting.split("=")[0] in result.stderr
        assert not (tmp_path / "d" / "logs").exists()   # no run was started


def test_schedule_runs_the_crawl_then_stops(tmp_path, demo_registry):
    data_dir = tmp_path / "data"
    result = run("schedule", "--every", "1h", "--now", "--max-runs", "1", "--registry", str(demo_registry),
                 "--agency", "sfq-ybj", "--set", "DOWNLOAD_TIMEOUT=0.5", "--set", "AUTOTHROTTLE_ENABLED=false",
                 "--set", "DOWNLOAD_DELAY=0", env=_env(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "计划任务已启动" in result.stdout and "抓取完成" in result.stdout
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    with catalog.reading() as session:
        runs = queries.list_runs(session)
        assert len(runs) == 1 and runs[0].status == "finished"


def test_an_empty_registry_is_refused_by_schedule_and_import_as_by_crawl(tmp_path):
    """`xxgk schedule` started on an empty registry ("0 个机关") and waited for its first run, or with --now ended
    with exit 0; `agencies import` of one would leave nothing watched, crawls falling back to the shipped
    registry. Each refuses in one line, exit 1, as `xxgk crawl` does; a registry with problems is said in Chinese."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    env = _env(tmp_path / "d")
    for command in (["crawl", "--quiet"], ["schedule", "--now", "--max-runs", "1"], ["schedule"]):
        result = run(*command, "--registry", str(empty), "--no-screenshots", env=env)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, (command, result.stdout, result.stderr)
        assert "没有要抓取的机构" in result.stderr and "计划任务已启动" not in result.stdout, command
    imported = run("agencies", "import", str(empty), env=env)
    assert imported.returncode == 1 and imported.stderr == f"xxgk agencies: 注册表 {empty} 中没有机构，未导入\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: x\n  name: 甲\n  level: nation\n  homepage: http://x.gov.cn/\n", encoding="utf-8")
    for command in ("crawl", "schedule"):
        result = run(command, "--registry", str(bad), env=env)
        assert result.returncode == 1 and result.stderr.startswith(
            f"xxgk {command}: 注册表 {bad} 有 1 个问题（见 `xxgk agencies check {bad}`）："), result.stderr


def test_schedule_rejects_a_bad_interval(tmp_path):
    result = run("schedule", "--every", "soon", env=_env(tmp_path / "d"))
    assert result.returncode == 1
    assert "--every takes a duration" in result.stderr


# ---------------------------------------------------------------- crawl_and_judge in one long-lived process

CRAWL_OVERRIDES = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0, "LOG_LEVEL": "WARNING"}


def _one_agency(registry_path, agency_id: str = "sfq-gov"):
    from registry.agencies import load_registry

    return [agency for agency in load_registry(registry_path) if agency.id == agency_id]


def _open_files() -> dict[str, str]:
    """This process's open descriptors and what each points at (what a failed assertion shows)."""
    import gc

    gc.collect()  # a transport or a pipe already dropped but not yet collected is not a leak
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used, closed by now
            pass
    return found


def _screenshots_taken(config) -> int:
    from sqlalchemy import func, select

    from storage.catalog.models import Capture
    from storage.screenshots import SCREENSHOT_PREFIX

    catalog = Catalog.open(config)
    try:
        with catalog.reading() as session:
            return session.scalar(select(func.count()).select_from(Capture)
                                  .where(Capture.url.startswith(SCREENSHOT_PREFIX)))
    finally:
        catalog.close()


@pytest.mark.parametrize("screenshots", [False, True], ids=["no-screenshots", "screenshots"])
def test_crawl_after_crawl_in_one_process_leaves_no_file_open(tmp_path, demo_registry, screenshots):
    """`xxgk schedule` runs crawl_and_judge run after run in one process, screenshots on: each run closes what it
    opened. With screenshots the crawler's own are off, so that this process starts Chromium for the leftovers
    (``storage.screenshots.take_missing_screenshots``) in every run: each run crawls another agency, whose report
    pages have no shot yet. Not one descriptor more after a run than after the first: nothing is allowed to pile
    up, however slowly."""
    from cli.crawl import crawl_and_judge

    config = Config.from_env({}, data_dir=tmp_path / "data")
    overrides = {**CRAWL_OVERRIDES, "ARCHIVE_SCREENSHOTS": False}
    first, *others = ["sfq-gov", "sfq-wjj", "ylx-wjj"]   # a leak of one descriptor a run shows in two runs
    crawl_and_judge(config, _one_agency(demo_registry, first), overrides=overrides, quiet=True,
                    screenshots=screenshots)
    baseline = _open_files()  # after a first run: imports and process-wide caches are in place
    shots, counts = [_screenshots_taken(config)], []
    for agency_id in others:
        crawl_and_judge(config, _one_agency(demo_registry, agency_id), overrides=overrides, quiet=True,
                        screenshots=screenshots)
        counts.append(_open_files())
        shots.append(_screenshots_taken(config))
    # nothing piles up: no run leaves more open than the first left, and the last no more than the second (the
    # first run's count may include a closing pipe or two of its Chromium, gone later: fewer is no leak)
    assert max(len(after) for after in counts) <= len(baseline) and len(counts[-1]) <= len(counts[0]), \
        [sorted(set(after.values()) - set(baseline.values())) for after in counts]
    if screenshots:  # every run rendered pages in this process
        assert all(after > before for before, after in zip(shots, shots[1:])), shots
    else:
        assert shots == [0] * len(shots)


def test_crawl_judges_as_of_the_day_in_beijing_whatever_the_machines_time_zone(tmp_path, demo_registry,
                                                                               monkeypatch):
    from cli.crawl import crawl_and_judge
    from monitor.clock import today
    from parsers.beijing import BEIJING

    # a POSIX zone whose calendar day differs from Beijing's right now: UTC-12 is 20 h behind, UTC+14 6 h ahead
    monkeypatch.setenv("TZ", "XXX+12" if datetime.now(BEIJING).hour < 20 else "XXX-14")
    time.tzset()
    try:
        assert date.today() != today()
        before = today()
        crawl_and_judge(Config.from_env({}, data_dir=tmp_path / "data"), _one_agency(demo_registry),
                        overrides=CRAWL_OVERRIDES, quiet=True, screenshots=False)
        after = today()
    finally:
        monkeypatch.undo()
        time.tzset()
    days = {before.isoformat(), after.isoformat()}
    catalog = Catalog.open(Config.from_env(env={}, data_dir=tmp_path / "data"))
    try:
        with catalog.reading() as session:
            stored = queries.verdicts(session)
    finally:
        catalog.close()
    # a year without a report says as of which day it is missing or pending
    unseen = [verdict.evidence["reason"] for verdict in stored if verdict.status in ("missing", "pending")]
    assert unseen and all(any(f"截至 {day}" in reason for day in days) for reason in unseen), unseen
    assert {verdict.evidence["as_of"] for verdict in stored} <= days


# a portal that cannot be reached: asked once, without the polite 2 s between its robots.txt, homepage and sitemap
QUICK_FAILURE = ("--set", "RETRY_TIMES=0", "--set", "AUTOTHROTTLE_ENABLED=false", "--set", "DOWNLOAD_DELAY=0")


def test_an_unreachable_portal_is_one_line_in_the_summary_not_a_traceback(tmp_path):
    port = _free_port()  # nothing listens there: every request is refused
    registry = tmp_path / "registry.yaml"
    registry.write_text(f"- id: gone\n  name: 关闭区卫生健康局\n  level: department\n  homepage: http://127.0.0.1:{port}/\n",
                        encoding="utf-8")
    data_dir = tmp_path / "data"
    args = ("crawl", "--registry", str(registry), "--no-screenshots", "--quiet", *QUICK_FAILURE)
    result = run(*args, env=_env(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    error_lines = [line for line in result.stdout.splitlines() if line.strip().startswith("抓取错误 ")]
    assert any(f"http://127.0.0.1:{port}/ " in line and "Connection was refused" in line for line in error_lines)
    ended = next(line for line in result.stdout.splitlines() if line.startswith("抓取完成："))
    assert "（连接失败或中断 " in ended, ended   # the errors by kind, in words (a refused connection is no reset)
    log = next(line for line in result.stdout.splitlines() if line.startswith("完整日志："))
    assert "Traceback" in open(log.removeprefix("完整日志："), encoding="utf-8").read()

    verbose = run(*args, "--verbose", env=_env(tmp_path / "verbose"))
    assert verbose.returncode == 0 and "Traceback" in verbose.stderr  # --verbose: Scrapy's own log, as before


def test_a_portal_whose_name_does_not_resolve_is_one_line_in_the_summary_not_a_traceback(tmp_path):
    """The issue's case: a DNS failure (Twisted's CannotResolveHostError / Scrapy's DNSLookupError). ``.invalid``
    never resolves (RFC 6761), so no request can leave the machine; RES_OPTIONS bounds the lookup when no resolver
    answers at all (offline), and DNS_TIMEOUT Scrapy's wait for it."""
    url = "http://xxgk-portal.invalid/"
    registry = tmp_path / "registry.yaml"
    registry.write_text(f"- id: nowhere\n  name: 无名区卫生健康局\n  level: department\n  homepage: {url}\n",
                        encoding="utf-8")
    result = run("crawl", "--registry", str(registry), "--no-screenshots", "--quiet", *QUICK_FAILURE,
                 "--set", "DNS_TIMEOUT=10", env={**_env(tmp_path / "data"), "RES_OPTIONS": "timeout:1 attempts:1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr[-2000:]
    assert "CannotResolveHost" not in result.stderr and "DNSLookupError" not in result.stderr
    error_lines = [line for line in result.stdout.splitlines() if line.strip().startswith("抓取错误 ")]
    assert any(line.split()[1:3] == ["dns", url] for line in error_lines), result.stdout
    log = next(line for line in result.stdout.splitlines() if line.startswith("完整日志："))
    text = open(log.removeprefix("完整日志："), encoding="utf-8").read()
    assert "Traceback" in text and "xxgk-portal.invalid" in text


def _captures(data_dir) -> int:
    from sqlalchemy import func, select

    from storage.catalog.models import Capture

    if not (data_dir / "catalog.sqlite3").exists():
        return 0
    try:  # read only, never migrating: the crawl may still be creating its tables
        catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir), create=False)
    except Exception:  # noqa: BLE001
        return 0
    try:
        with catalog.reading() as session:
            return session.scalar(select(func.count()).select_from(Capture))
    except Exception:  # noqa: BLE001
        return 0
    finally:
        catalog.close()


def test_a_forced_stop_ends_the_crawl_process_and_its_run(tmp_path, demo_registry):
    """Ctrl-C twice (or a signal after it) makes Scrapy stop the reactor before the spider closes: the crawl
    process then waited forever on its parse workers, its run left 运行中 with the last batch uncommitted. Now it
    ends within seconds, its run 已中断, and what it had archived verifies."""
    import signal
    import subprocess

    import psutil

    data_dir = tmp_path / "data"
    xxgk = shutil.which("xxgk", path=str(Path(sys.executable).parent)) or "xxgk"
    parent = subprocess.Popen([xxgk, "crawl", "--registry", str(demo_registry), "--no-screenshots", "--quiet"],
                              env=_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        crawl = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the crawl child (not the resource tracker), once it has archived
            crawl = next((child for child in psutil.Process(parent.pid).children()
                          if "spawn_main" in " ".join(child.cmdline())), None)
            if crawl is not None and _captures(data_dir) >= 3:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the crawl archived nothing in 60 s")
        workers = crawl.children(recursive=True)
        crawl.send_signal(signal.SIGINT)
        time.sleep(0.3)
        crawl.send_signal(signal.SIGTERM)
        gone, alive = psutil.wait_procs([crawl, *workers], timeout=30)
        assert not alive, f"still running 30 s after a forced stop: {alive}"
        parent.wait(timeout=60)
    finally:
        for process in [parent, *([crawl] if crawl else [])]:
            try:
                process.kill()
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
    with catalog_of(Config.from_env(env={}, data_dir=data_dir)) as session:
        assert [row.status for row in queries.list_runs(session)] == ["interrupted"]
    assert run("verify", env=_env(data_dir)).returncode == 0


def test_sigterm_stops_a_crawl_as_ctrl_c_does(tmp_path, demo_registry):
    """``systemctl stop`` and ``timeout`` send SIGTERM: it killed the command at once (exit 143 with nothing said,
    the run lock left held, the next run taking it over). Now the crawl child is asked to stop, the run is 已中断
    and the lock released."""
    import signal
    import subprocess

    from sqlalchemy import select

    from storage.catalog.models import RunLock

    data_dir = tmp_path / "data"
    xxgk = shutil.which("xxgk", path=str(Path(sys.executable).parent)) or "xxgk"
    parent = subprocess.Popen([xxgk, "crawl", "--registry", str(demo_registry), "--no-screenshots", "--quiet"],
                              env=_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _captures(data_dir) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert parent.poll() is None, "the crawl ended before it could be stopped"
        parent.send_signal(signal.SIGTERM)
        _, stderr = parent.communicate(timeout=90)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 143 and "xxgk crawl: terminated" in stderr, (parent.returncode, stderr[-2000:])
    with catalog_of(Config.from_env(env={}, data_dir=data_dir)) as session:
        assert [row.status for row in queries.list_runs(session)] == ["interrupted"]
        assert list(session.scalars(select(RunLock))) == []


def test_xxgk_crawl_waits_for_its_crawl_without_the_verdict_modules_loaded(tmp_path):
    """The command's own process only waits while the crawl child runs, at the peak of the crawl's memory: the
    verdict modules (numpy, the copy index, every parser rule) are imported when the crawl is over."""
    import json
    import subprocess

    probe = (
        "import json, sys\n"
        "import crawler.run as run\n"
        "seen = {}\n"
        "def crawl(config, agencies, **kwargs):\n"
        "    seen['loaded'] = sorted(m for m in ('monitor.verdicts', 'monitor.rejudge', 'monitor.copies', 'numpy')\n"
        "                            if m in sys.modules)\n"
        "    seen['agencies'] = len(agencies)\n"
        "    raise run.CrawlError('probe: no crawl')\n"
        "run.run_crawl = crawl\n"
        "from cli.main import main\n"
        "code = main(['crawl', '--quiet', '--agency', AGENCY])\n"
        "print(json.dumps({**seen, 'code': code}))\n")
    from registry.agencies import load_default_registry

    agency = load_default_registry()[0].id
    done = subprocess.run([sys.executable, "-c", probe.replace("AGENCY", repr(agency))], env=_env(tmp_path / "data"),
                          capture_output=True, text=True, timeout=120)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["agencies"] == 1 and seen["code"] != 0, done.stderr
    assert seen["loaded"] == [], f"loaded in the waiting process while the crawl runs: {seen['loaded']}"


@pytest.mark.parametrize("command", ["crawl", "schedule"])
def test_a_crawl_whose_archive_writes_fail_says_so_and_exits_non_zero(tmp_path, demo_registry, postgres_url, command):
    """An operator's walk: with the data directory's disk full, `xxgk crawl` printed 抓取完成 and exited 0 while the
    pages it fetched were never archived (and `xxgk schedule` still does not stop for it, but said nothing). A
    file-size limit on the command (the kernel refuses to grow a WARC segment past it, as a full disk refuses any
    write; the catalog on PostgreSQL is not touched by it) makes the archive's writes fail: the command says how
    many pages were not archived; `crawl` exits 1, and a schedule says it of the run and goes on."""
    import resource
    import subprocess

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    xxgk = shutil.which("xxgk", path=str(Path(sys.executable).parent)) or "xxgk"
    env = {**_env(tmp_path / "data"), "XXGK_DATABASE_URL": postgres_url}
    when = ["--every", "1d", "--now", "--max-runs", "1"] if command == "schedule" else []
    done = subprocess.run([xxgk, command, *when, "--registry", str(demo_registry), "--no-screenshots",
                           *(["--quiet"] if command == "crawl" else []),
                           "--set", "ARCHIVE_SEGMENT_SIZE=50000000", "--set", "DISCOVERY_JS_RENDER=false",
                           "--set", "AUTOTHROTTLE_ENABLED=false", "--set", "DOWNLOAD_DELAY=0"],
                          env=env, preexec_fn=limited, capture_output=True, text=True, timeout=600)
    assert done.returncode == (1 if command == "crawl" else 0), (done.returncode, done.stdout[-1500:],
                                                                 done.stderr[-1500:])
    line = [text for text in done.stderr.splitlines() if text.startswith(f"xxgk {command}:")]
    assert len(line) == 1 and "个页面未能写入存档" in line[0], done.stderr[-1500:]
