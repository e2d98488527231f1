"""``xxgk demo``, ``xxgk crawl`` and ``xxgk schedule`` as a user runs them, over the demo portals on loopback."""
from __future__ import annotations

import os
import socket
from datetime import date

import pytest

from demo.portals import DemoPortals
from demo.server import DemoServer
from registry.agencies import dump_registry
from storage.catalog import Catalog, queries
from storage.config import Config
from tests.test_cli_parse import run

AS_OF = date(2026, 6, 1)
STATUS_LABELS = {"on_time": "按时", "late": "逾期", "missing": "未发布", "pending": "未到期"}


def _env(data_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XXGK_")}
    env["XXGK_DATA_DIR"] = str(data_dir)
    return env


def _verdicts(data_dir) -> dict[tuple[str, int], str]:
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    with catalog.reading() as session:
        return {(v.agency_id, v.report_year): v.status for v in queries.verdicts(session)}


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
    assert _verdicts(data_dir) == {(v.agency_id, v.report_year): v.status for v in expected}
    # every report published as a web page has a screenshot in its evidence; attachments (PDF, DOCX) have none
    bundles = _evidence(data_dir)
    pages = [bundle for bundle in bundles if bundle["report_url"].endswith((".html", ".htm", ".shtml"))]
    assert pages and all((bundle["screenshot"] or {}).get("mime") == "image/png" for bundle in pages)
    assert all(bundle["screenshot"] is None for bundle in bundles if bundle not in pages)
    names = {agency.id: agency.name for agency in DemoPortals().agencies}
    rows = [line.split() for line in out.splitlines()]
    for verdict in expected:
        wanted = {names[verdict.agency_id], str(verdict.report_year), STATUS_LABELS[verdict.status]}
        if verdict.status == "late":
            wanted.add(str(verdict.days_late))
        assert any(wanted <= set(row) for row in rows), (verdict, out)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_second_demo_run_shows_the_changed_and_the_backdated_report(tmp_path):
    """Edition 2 of the portals edits one report and back-dates another: the verdicts say so, with evidence."""
    data_dir, port = tmp_path / "data", str(_free_port())
    first = run("demo", "--port", port, "--as-of", AS_OF.isoformat(), "--quiet", env=_env(data_dir))
    assert first.returncode == 0, first.stderr[-2000:]
    second = run("demo", "--port", port, "--edition", "2", "--as-of", AS_OF.isoformat(), "--quiet",
                 env=_env(data_dir))
    assert second.returncode == 0, second.stderr[-2000:]
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    with catalog.reading() as session:
        stored = {(v.agency_id, v.report_year): v for v in queries.verdicts(session)}
    verdict_flags = {"backdated", "changed", "removed"}
    for expected in DemoPortals(edition=2).expected_verdicts(AS_OF):
        verdict = stored[(expected.agency_id, expected.report_year)]
        assert verdict.status == expected.status, expected
        assert set(verdict.flags) & verdict_flags == set(expected.flags) & verdict_flags, expected
    changed = stored[("sfq-wjj", 2023)].evidence["changed"]
    assert any(cell["old"] == 173 and cell["new"] == 185 for cell in changed["cells"]), changed
    assert "倒签" in second.stdout and "发布后修改" in second.stdout


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


def test_crawl_unknown_agency_is_one_line(tmp_path, demo_registry):
    result = run("crawl", "--registry", str(demo_registry), "--agency", "nope", env=_env(tmp_path / "d"))
    assert result.returncode == 1
    assert result.stderr.strip() == "xxgk crawl: unknown agency id(s): nope (see `xxgk agencies list`)"


def test_crawl_bad_setting_is_one_line(tmp_path, demo_registry):
    result = run("crawl", "--registry", str(demo_registry), "--set", "timeout", env=_env(tmp_path / "d"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1


def test_schedule_runs_the_crawl_then_stops(tmp_path, demo_registry):
    data_dir = tmp_path / "data"
    result = run("schedule", "--every", "1h", "--now", "--max-runs", "1", "--registry", str(demo_registry),
                 "--agency", "sfq-ybj", "--set", "DOWNLOAD_TIMEOUT=0.5", env=_env(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "计划任务已启动" in result.stdout and "抓取完成" in result.stdout
    catalog = Catalog.open(Config.from_env(env={}, data_dir=data_dir))
    with catalog.reading() as session:
        runs = queries.list_runs(session)
        assert len(runs) == 1 and runs[0].status == "finished"


def test_schedule_rejects_a_bad_interval(tmp_path):
    result = run("schedule", "--every", "soon", env=_env(tmp_path / "d"))
    assert result.returncode == 1
    assert "--every takes a duration" in result.stderr
