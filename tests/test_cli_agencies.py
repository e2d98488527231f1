"""``xxgk agencies import/list/check`` against a real catalog in a temporary data directory."""
from __future__ import annotations

import json
import re
import os

from tests.test_cli_parse import run


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("XXGK_")}
    env["XXGK_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_shipped_registry_checks_clean():
    result = run("agencies", "check")
    assert result.returncode == 0, result.stdout
    assert "0 个问题" in result.stdout


def test_check_names_each_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- id: a\n  name: 甲局\n  level: city\n  homepage: http://a.gov.cn/\n"
                    "- id: a\n  name: 乙局\n  level: department\n  homepage: ftp://b\n", encoding="utf-8")
    result = run("agencies", "check", str(path))
    assert result.returncode == 1
    assert "level" in result.stdout and "homepage" in result.stdout and "id" in result.stdout
    assert "2 个机关" in result.stdout


def test_import_then_list(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("id,name,level,homepage\nlz-wjj,临淄区卫生健康局,department,http://www.linzi.gov.cn/\n"
                    "lz-gov,临淄区人民政府,government,http://www.linzi.gov.cn/\n", encoding="utf-8")
    env = _env(tmp_path)
    empty = run("agencies", "list", env=env)
    assert empty.returncode == 1 and "xxgk agencies import" in empty.stderr
    assert run("agencies", "import", str(path), env=env).returncode == 0
    listed = json.loads(run("agencies", "list", "--format", "json", env=env).stdout)
    assert {row["id"]: row["name"] for row in listed} == {"lz-wjj": "临淄区卫生健康局", "lz-gov": "临淄区人民政府"}
    table = run("agencies", "list", "--level", "government", env=env).stdout
    assert "临淄区人民政府" in table and "临淄区卫生健康局" not in table
    # a level none of them has: the catalog is not empty, nothing matches
    townships = run("agencies", "list", "--level", "township", env=env)
    assert townships.returncode == 1 and "目录数据库的 2 个机关中没有层级为 township 的" in townships.stderr
    assert "xxgk agencies import" not in townships.stderr
    # an id that is no agency's: said so, not "run xxgk crawl first"
    unknown = run("agencies", "coverage", "--agency", "no-such-id", env=env)
    assert unknown.returncode == 1 and "目录数据库中没有机构 no-such-id" in unknown.stderr, unknown.stderr


def test_import_refuses_an_invalid_registry(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- id: x\n  name: 甲\n  level: nation\n  homepage: http://x.gov.cn/\n", encoding="utf-8")
    result = run("agencies", "import", str(path), env=_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "注册表有 1 个问题，未导入" in result.stderr


def _coverage_catalog(data_dir):
    """Two runs: a reads its column both times; b reads 12 items in the first and nothing (HTTP 403) in the second."""
    from datetime import date, datetime, timezone

    from storage.catalog import Catalog, queries
    from storage.config import Config

    catalog = Catalog.open(Config.from_env({}, data_dir=data_dir))
    first, second = datetime(2025, 2, 3, 1, tzinfo=timezone.utc), datetime(2025, 2, 10, 1, tzinfo=timezone.utc)
    with catalog.session() as session:
        for run_id, at in (("run-1", first), ("run-2", second)):
            queries.start_run(session, run_id, started_at=at)
            queries.add_coverage(session, run_id=run_id, agency_id="a", read_at=at, column_url="http://a.gov.cn/nb/",
                                 found_by="registry", pages_walked=2, items_read=30, dated_items=30,
                                 earliest_item=date(2019, 1, 2), latest_item=date(2025, 1, 20), complete=True,
                                 report_items=6, report_years=[2019, 2020, 2021, 2022, 2023, 2024])
        queries.add_coverage(session, run_id="run-1", agency_id="b", read_at=first, column_url="http://b.gov.cn/nb/",
                             found_by="link_text", pages_walked=1, items_read=12, dated_items=12,
                             earliest_item=date(2022, 1, 5), latest_item=date(2024, 12, 1), reports_found=3)
        queries.add_coverage(session, run_id="run-2", agency_id="b", read_at=second, column_url="http://b.gov.cn/nb/",
                             found_by="link_text", problem="unreadable", detail="HTTP 403",
                             errors=[{"url": "http://b.gov.cn/nb/", "kind": "http", "message": "HTTP 403"}])
    catalog.close()


def test_coverage_shows_each_agencys_latest_read_and_calls_out_a_column_that_stopped(tmp_path):
    env = _env(tmp_path)
    none = run("agencies", "coverage", env=env)
    assert none.returncode == 1 and "xxgk crawl" in none.stderr
    _coverage_catalog(tmp_path / "data")

    table = run("agencies", "coverage", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    a_line = next(line for line in lines if line.startswith("a "))
    b_line = next(line for line in lines if line.startswith("b "))
    assert "run-2" in a_line and "注册表" in a_line and "2019-01-02–2025-01-20" in a_line and "是" in a_line
    # its entries that are annual reports, and their years: what a 未发布 needs of the read
    assert re.search(r" 30 +6（2019、2020、2021、2022、2023、2024 年度） +2019-01-02", a_line), a_line
    assert "年报条目" in lines[0]
    assert "run-2" in b_line and "栏目无法读取：HTTP 403" in b_line
    assert lines[0].split()[-3:] == ["报告", "问题", "错误"]
    assert b_line.endswith("栏目无法读取：HTTP 403  1 个：http://b.gov.cn/nb/（HTTP 403）"), b_line
    assert any(line.startswith("栏目失效 b：") and "12 个条目" in line and "run-1" in line for line in lines)
    assert not any(line.startswith("栏目失效 a") for line in lines)

    data = json.loads(run("agencies", "coverage", "--format", "json", env=env).stdout)
    assert [(item["agency_id"], item["run_id"], item["items_read"]) for item in data["coverage"]] == [
        ("a", "run-2", 30), ("b", "run-2", 0)]
    assert [failure["agency_id"] for failure in data["column_failures"]] == ["b"]

    history = json.loads(run("agencies", "coverage", "--agency", "b", "--format", "json", env=env).stdout)
    assert [(item["run_id"], item["items_read"], item["problems"]) for item in history["coverage"]] == [
        ("run-1", 12, []), ("run-2", 0, ["unreadable"])]
