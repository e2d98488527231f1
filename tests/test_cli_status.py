"""`xxgk status` and `xxgk reports` over a real archive in a temporary data dir (built once per worker, copied
per test so that every test owns its catalog)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cli.main import main
from demo.portals import DemoPortals
from monitor.clock import today
from monitor.flags import FLAG_LABELS
from monitor.labels import FORMAT_LABELS
from storage.catalog import Catalog, queries
from storage.config import Config
from tests.test_monitor import BASE, column_path, open_stage, report_path

YEAR = 2023
AS_OF = "2025-07-01"
TOMORROW = (today() + timedelta(days=1)).isoformat()   # in Beijing
REQUIRED_FIELDS = ("agency_id", "agency", "level", "report_year", "status", "deadline", "legal_basis",
                   "publication_date", "date_source", "first_seen", "days_late", "report_url", "title",
                   "signing_date", "format", "consistency_errors", "flags")
ARCHIVED = ("ylx-wjj", "sfq-wjj", "sfq-gov")   # agencies whose 2023 report is in the archive
NOT_ARCHIVED = ("sfq-ybj", "ysq-wjw")
# ysq-wjw's column was read after the deadline, back to 2016, its newest entry of 2019-02-20 (a 卫计局 merged away in
# the 2019 reform, its column left frozen): its 2019 report is proven missing, its 2023 one cannot be told; sfq-ybj's
# column (built by a script) failed in the browser: whether it published cannot be told
FROZEN, SCRIPT_FAILED = "ysq-wjw", "sfq-ybj"
BACKDATED = "ylx-wjj"   # claims 2024-01-26; a listing of 2024-01-28 lacks it; first archived 2025-06-21
REGIONS = {"sfq-gov": "示范市", "sfq-wjj": "示范市", "sfq-ybj": "示范市", "ylx-wjj": "样例市", "ysq-wjw": "演示市"}


@pytest.fixture(scope="module")
def built_archive(tmp_path_factory) -> Path:
    """ylx-wjj 2023 back-dated, sfq-wjj 2022 late and 2023 edited later, sfq-gov 2023 on the deadline day;
    ysq-wjw's report column read after the deadline, sfq-ybj's column failing in the browser."""
    data_dir = tmp_path_factory.mktemp("status") / "data"
    stage = open_stage(data_dir)
    with stage.catalog.session() as session:
        for agency in queries.list_agencies(session):
            queries.upsert_agency(session, agency.id, agency.name, level=agency.level, region=REGIONS[agency.id],
                                  parent=agency.parent, homepage=agency.homepage)
    stage.fetch(1, column_path("ylx-wjj"), "2024-01-28 10:00", "ylx-wjj", role="column")
    stage.parse(stage.fetch(2, report_path("ylx-wjj", 2023), "2025-06-21 09:00", "ylx-wjj"), "ylx-wjj")
    stage.fetch(2, column_path("ylx-wjj"), "2025-06-21 09:00", "ylx-wjj", role="column")
    stage.parse(stage.fetch(1, report_path("sfq-wjj", 2022), "2023-02-10 10:00", "sfq-wjj"), "sfq-wjj")
    stage.parse(stage.fetch(1, report_path("sfq-wjj", 2023), "2024-01-29 11:00", "sfq-wjj"), "sfq-wjj")
    stage.parse(stage.fetch(2, report_path("sfq-wjj", 2023), "2025-06-17 09:00", "sfq-wjj"), "sfq-wjj")
    stage.parse(stage.fetch(1, report_path("sfq-gov", 2023), "2024-03-31 18:00", "sfq-gov"), "sfq-gov")
    stage.read_column(FROZEN, "2025-06-21 09:00", complete=True)
    stage.read_column(SCRIPT_FAILED, "2025-06-21 09:00", rendered=True, problem="script_error",
                      detail="TypeError: Cannot read properties of undefined (reading 'list')")
    stage.archive.close()
    return data_dir


@pytest.fixture
def data_dir(built_archive, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(built_archive, copy)
    return copy


def run(data_dir: Path, *argv: str) -> int:
    return main(["--data-dir", str(data_dir), *argv])


def status_json(data_dir: Path, capsys, *extra: str) -> list[dict]:
    assert run(data_dir, "status", "--year", str(YEAR), "--as-of", AS_OF, "--format", "json", *extra) == 0
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- status

def test_status_json_agrees_with_the_demo_ground_truth_and_carries_the_flags(data_dir, capsys):
    rows = {row["agency_id"]: row for row in status_json(data_dir, capsys)}

    assert set(rows) == set(ARCHIVED) | set(NOT_ARCHIVED)
    for row in rows.values():
        assert set(REQUIRED_FIELDS) <= set(row) and row["report_year"] == YEAR
    truth = {(v.agency_id, v.report_year): v for v in DemoPortals(2).expected_verdicts(date.fromisoformat(AS_OF), BASE)}
    for agency_id in set(ARCHIVED) - {BACKDATED}:
        expected, row = truth[(agency_id, YEAR)], rows[agency_id]
        assert (row["status"], row["deadline"], row["publication_date"], row["days_late"], row["report_url"]) == (
            expected.status, expected.deadline.isoformat(), expected.publication_date.isoformat(),
            expected.days_late, expected.url)
    # the ground truth takes the portal's date (on time); the archive proves that date false and knows only that
    # the report went up between 2024-01-28 and 2025-06-21, around the 2024-01-31 deadline: it cannot tell
    backdated = rows[BACKDATED]
    assert (backdated["status"], backdated["publication_date"], backdated["date_source"], backdated["days_late"],
            backdated["report_url"]) == ("undetermined", "2025-06-21", "first_seen", None, truth[(BACKDATED, YEAR)].url)
    assert all(day in backdated["reason"] for day in ("2024-01-26", "2024-01-28", "2025-06-21", "2024-01-31"))
    for agency_id in NOT_ARCHIVED:
        assert rows[agency_id]["report_url"] is None and rows[agency_id]["flags"] == []
    assert rows[FROZEN]["status"] == "undetermined"
    assert rows[FROZEN]["reason"].startswith("无法判断：年报栏目在该年度之前一年多就不再有新条目")
    assert "最新的条目是 2019-02-20" in rows[FROZEN]["reason"]
    # the first year the kept column lacks is proven
    assert run(data_dir, "status", "--year", "2019", "--as-of", AS_OF, "--format", "json") == 0
    (proven,) = [row for row in json.loads(capsys.readouterr().out) if row["agency_id"] == FROZEN]
    assert proven["status"] == "missing" and "2025-06-21 读取了年报栏目" in proven["reason"], proven["reason"]
    assert rows[SCRIPT_FAILED]["status"] == "undetermined"
    assert rows[SCRIPT_FAILED]["reason"].startswith("无法判断：年报栏目的脚本在浏览器中出错")
    assert "TypeError" in rows[SCRIPT_FAILED]["reason"]
    assert "backdated" in rows["ylx-wjj"]["flags"] and "changed" not in rows["ylx-wjj"]["flags"]
    assert "changed" in rows["sfq-wjj"]["flags"] and "backdated" not in rows["sfq-wjj"]["flags"]
    assert "backdated" not in rows["sfq-gov"]["flags"] and "changed" not in rows["sfq-gov"]["flags"]
    assert rows["sfq-gov"]["legal_basis"].endswith("第四十九条第二款")
    assert rows["ylx-wjj"]["first_seen"].startswith("2025-06-21")


def test_status_table_is_in_chinese(data_dir, capsys):
    assert run(data_dir, "status", "--year", str(YEAR), "--as-of", AS_OF) == 0
    out = capsys.readouterr().out
    table, _blank, notes = out.partition("\n\n")
    lines = table.splitlines()

    assert lines[0].split() == ["机关", "层级", "状态", "截止日期", "发布日期", "日期依据", "逾期天数", "首次抓取", "标记"]
    by_agency = {line.split()[0]: line for line in lines[2:]}
    assert len(by_agency) == len(ARCHIVED) + len(NOT_ARCHIVED)
    assert "无法判断" in by_agency["样例区卫生健康局"] and FLAG_LABELS["backdated"] in by_agency["样例区卫生健康局"]
    assert "2025-06-21" in by_agency["样例区卫生健康局"] and "首次抓取日期" in by_agency["样例区卫生健康局"]
    assert FLAG_LABELS["changed"] in by_agency["示范区卫生健康局"]
    assert "2024-03-31" in by_agency["示范区人民政府"] and "人民政府" in by_agency["示范区人民政府"]
    assert "无法判断" in by_agency["演示区卫生和计划生育局"]
    assert "无法判断" in by_agency["示范区医疗保障局"]
    # a 无法判断 is explained under the table, one line per verdict
    assert notes.splitlines()[0] == "无法判断的理由："
    explained = {line.split("（")[0].strip(" ·"): line for line in notes.splitlines()[1:]}
    assert set(explained) == {"样例区卫生健康局", "示范区医疗保障局", "演示区卫生和计划生育局"}
    assert "年报栏目的脚本在浏览器中出错" in explained["示范区医疗保障局"]
    assert "2019-02-20" in explained["演示区卫生和计划生育局"]
    assert all("年度）：无法判断：" not in line for line in explained.values())   # said by the heading, not again
    assert "2024-01-28" in explained["样例区卫生健康局"]


def test_status_csv_has_one_row_per_agency_with_codes(data_dir, capsys):
    assert run(data_dir, "status", "--year", str(YEAR), "--as-of", AS_OF, "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))

    assert len(rows) == len(ARCHIVED) + len(NOT_ARCHIVED)
    by_agency = {row["agency_id"]: row for row in rows}
    assert by_agency["ylx-wjj"]["status"] == "undetermined"
    assert "backdated" in by_agency["ylx-wjj"]["flags"].split(";")
    assert "倒签" in by_agency["ylx-wjj"]["reason"]
    assert by_agency[SCRIPT_FAILED]["reason"].startswith("无法判断：")
    assert by_agency["sfq-gov"]["deadline"] == "2024-03-31"


def test_status_xlsx_opens_in_openpyxl(data_dir, capsys, tmp_path):
    target = tmp_path / "verdicts.xlsx"
    assert run(data_dir, "status", "--year", str(YEAR), "--as-of", AS_OF, "--format", "xlsx",
               "--output", str(target)) == 0
    assert str(target) in capsys.readouterr().out

    sheet = load_workbook(target).active
    values = list(sheet.values)
    header, body = values[0], values[1:]
    assert "机关" in header and "状态" in header and "标记" in header
    assert len(body) == len(ARCHIVED) + len(NOT_ARCHIVED)
    rows = {row[header.index("机关代码")]: dict(zip(header, row)) for row in body}
    assert rows["ylx-wjj"]["状态"] == "无法判断" and FLAG_LABELS["backdated"] in rows["ylx-wjj"]["标记"]
    assert rows[SCRIPT_FAILED]["判定理由"].startswith("无法判断：年报栏目的脚本在浏览器中出错")
    assert rows["sfq-wjj"]["报告年度"] == YEAR
    # every column named and every code said in Chinese, as the web UI's export says them
    assert all(isinstance(name, str) and not name.isascii() for name in header), header
    formats = {row["格式"] for row in rows.values() if row["格式"]}
    assert formats and formats <= set(FORMAT_LABELS.values()), formats
    # sfq-wjj 2022: late
    assert run(data_dir, "status", "--year", "2022", "--as-of", AS_OF, "--format", "xlsx", "--output", str(target)) == 0
    values = list(load_workbook(target).active.values)
    late = [row for row in (dict(zip(values[0], row)) for row in values[1:]) if row["逾期天数"]]
    assert late and all(row["状态"] == f"逾期 {row['逾期天数']} 天" for row in late), late


def test_status_filters_by_level_and_region(data_dir, capsys):
    assert [row["agency_id"] for row in status_json(data_dir, capsys, "--level", "government")] == ["sfq-gov"]
    assert {row["agency_id"] for row in status_json(data_dir, capsys, "--region", "示范市")} == {
        "sfq-gov", "sfq-wjj", "sfq-ybj"}


def test_once_a_registry_is_imported_status_prints_its_agencies_and_says_how_many_are_left_out(data_dir, capsys,
                                                                                                tmp_path):
    """An office drops two agencies from the registry it imports: they leave its figures (today's and as of a day,
    table and csv/json), stderr says how many were left out, --all brings them back."""
    kept = ("sfq-gov", "sfq-wjj", "ylx-wjj")
    with Catalog.open(Config.from_env({}, data_dir=data_dir), create=False) as catalog, catalog.reading() as session:
        agencies = {agency.id: agency for agency in queries.list_agencies(session)}
    registry = tmp_path / "registry.csv"
    registry.write_text("id,name,level,homepage\n" + "".join(
        f"{agency_id},{agencies[agency_id].name},{agencies[agency_id].level},{agencies[agency_id].homepage}\n"
        for agency_id in kept), encoding="utf-8")
    assert run(data_dir, "agencies", "import", str(registry)) == 0
    capsys.readouterr()

    assert {row["agency_id"] for row in status_json(data_dir, capsys)} == set(kept)
    assert run(data_dir, "status", "--year", str(YEAR), "--format", "csv") == 0   # today's, stored
    printed = capsys.readouterr()
    assert {row["agency_id"] for row in csv.DictReader(io.StringIO(printed.out))} == set(kept)
    assert "另有 2 个机构不在监测名单（已导入的注册表）中，未计入；加 --all 计入" in printed.err
    assert run(data_dir, "status", "--year", str(YEAR), "--level", "department") == 0   # a table, filtered
    printed = capsys.readouterr()
    for agency_id, agency in agencies.items():
        assert (agency.name in printed.out) == (agency_id in kept and agency.level == "department"), agency_id
    dropped = sum(1 for agency_id, agency in agencies.items() if agency_id not in kept and agency.level == "department")
    assert f"另有 {dropped} 个机构不在监测名单" in printed.err
    everyone = status_json(data_dir, capsys, "--all")
    assert {row["agency_id"] for row in everyone} == set(ARCHIVED + NOT_ARCHIVED)
    assert "监测名单" not in capsys.readouterr().err


def test_status_writes_json_to_a_file(data_dir, capsys, tmp_path):
    target = tmp_path / "out.json"
    assert run(data_dir, "status", "--year", str(YEAR), "--as-of", AS_OF, "--format", "json",
               "--output", str(target)) == 0
    assert capsys.readouterr().out == ""
    assert len(json.loads(target.read_text("utf-8"))) == len(ARCHIVED) + len(NOT_ARCHIVED)


# ---------------------------------------------------------------- reports

def test_reports_jsonl_lists_every_parsed_report_with_its_verdict(data_dir, capsys):
    assert run(data_dir, "status", "--year", str(YEAR), "--format", "json") == 0  # as of today: stored
    capsys.readouterr()
    assert run(data_dir, "reports", "--format", "jsonl") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert len(rows) == 5  # ylx 2023, sfq-wjj 2022, sfq-wjj 2023 twice (original and edited), sfq-gov 2023
    for row in rows:
        assert set(REQUIRED_FIELDS) <= set(row)
    edited = [row for row in rows if row["agency_id"] == "sfq-wjj" and row["report_year"] == 2023]
    assert sorted(row["chosen"] for row in edited) == [False, True]
    chosen = next(row for row in edited if row["chosen"])
    assert "changed" in chosen["flags"] and chosen["status"] == "on_time"
    # a report the verdict did not use shows its own date, not the verdict's (a walk saw a late report shown with
    # the on-time date of the report the verdict rested on)
    other = next(row for row in edited if not row["chosen"])
    from storage.catalog import Catalog
    from storage.catalog.models import Report
    from storage.config import Config

    with Catalog.open(Config.from_env({}, data_dir=data_dir), create=False) as catalog, catalog.reading() as session:
        own = session.get(Report, other["report_id"])
        assert (other["publication_date"], other["date_source"]) == (
            own.publication_date and own.publication_date.isoformat(), own.date_source)
    assert other["days_late"] is None and other["flags"] == []
    late = next(row for row in rows if row["agency_id"] == "sfq-wjj" and row["report_year"] == 2022)
    truth = next(v for v in DemoPortals(2).expected_verdicts(date.fromisoformat(AS_OF), BASE)
                 if (v.agency_id, v.report_year) == ("sfq-wjj", 2022))
    # judge() also re-judges every year an agency has reports for
    assert (late["status"], late["days_late"], late["chosen"]) == (truth.status, truth.days_late, True)

    assert run(data_dir, "reports", "--format", "jsonl", "--agency", "ylx-wjj", "--year", "2023") == 0
    only = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # the verdict's date: its claimed 2024-01-26 was proven false, the archive first saw it on 2025-06-21
    assert [(row["agency_id"], row["report_year"], row["publication_date"], row["date_source"]) for row in only] == [
        ("ylx-wjj", 2023, "2025-06-21", "first_seen")]


def test_reports_table_shows_titles(data_dir, capsys):
    assert run(data_dir, "reports", "--year", "2022") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["机关", "年度", "标题"]
    assert "示范区卫生健康局2022年政府信息公开工作年度报告" in out and "2023年政府信息公开" not in out


# ---------------------------------------------------------------- errors: one line, exit 1

@pytest.mark.parametrize("argv, words", [
    (["status", "--year", "2023", "--format", "xlsx"], "--output"),
    (["status", "--year", "2023", "--as-of", "2025-02-30"], "YYYY-MM-DD"),
    (["status", "--year", "twenty"], "report year"),
    (["status", "--year", "2025", "--as-of", "2025-07-01"], "nothing is due"),
    (["status", "--year", "2023", "--as-of", AS_OF, "--level", "township"], "--level"),
    (["reports", "--agency", "no-such-agency"], "no-such-agency"),
    # a year no law asks a report of: judged, it would store a 无法判断 per agency the dashboard then shows
    (["status", "--year", "1999"], "no deadline rule covers the 1999 reports"),
    # a day to come: the archive cannot say what will have been published by then
    (["status", "--year", "2023", "--as-of", TOMORROW], "a day to come"),
    (["crawl", "--as-of", TOMORROW], "a day to come"),
    (["demo", "--as-of", "2025-99-01"], "YYYY-MM-DD"),
    (["demo", "--port", "70000"], "between 1 and 65535"),
    # a run id nobody ran checks nothing: not a pass
    (["verify", "--run", "no-such-run"], "no such crawl run"),
])
def test_wrong_arguments_fail_with_one_line(data_dir, capsys, argv, words):
    assert run(data_dir, *argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and words in captured.err


def test_an_unknown_option_is_refused_with_its_commands_usage(data_dir, capsys):
    with pytest.raises(SystemExit) as exited:
        run(data_dir, "status", "--year", "2023", "--bogus")
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith("usage: xxgk status ") and err.rstrip().endswith(
        "xxgk status: error: unrecognized arguments: --bogus"), err


@pytest.mark.parametrize("command", [["status", "--year", "2023"], ["reports"]])
def test_an_empty_data_dir_asks_for_a_crawl(tmp_path, capsys, command):
    assert run(tmp_path / "nothing", *command) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "run `xxgk crawl` first" in err
    assert not (tmp_path / "nothing" / "catalog.sqlite3").exists()  # asking does not create a catalog


def test_agencies_without_any_capture_still_ask_for_a_crawl(tmp_path, capsys):
    catalog = Catalog.open(Config.from_env({}, data_dir=tmp_path / "data"))
    with catalog.session() as session:
        queries.upsert_agency(session, "sfq-gov", "示范区人民政府", level="government")
    catalog.close()
    assert run(tmp_path / "data", "status", "--year", "2023") == 1
    assert "run `xxgk crawl` first" in capsys.readouterr().err


@pytest.mark.slow
def test_a_crawl_whose_every_fetch_failed_still_shows_its_agencies_undetermined(tmp_path, capsys):
    """A homepage refusing connections: the crawl archived nothing but judged the agency; status said "the catalog
    is empty: run `xxgk crawl` first" after that very crawl."""
    from registry.agencies import Agency
    from tests.crawling import config_in, crawl
    from tests.servers import free_port

    gone = f"http://127.0.0.1:{free_port()}/"
    agency = Agency(id="gone-gov", name="断线县人民政府", level="government", homepage=gone)
    summary = crawl(config_in(tmp_path / "data"), [agency])
    assert summary.errors and not summary.pages, summary
    year = today().year - 1 if today() > date(today().year, 3, 31) else today().year - 2
    capsys.readouterr()
    assert run(tmp_path / "data", "status", "--year", str(year), "--format", "json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["agency_id"], row["status"]) == ("gone-gov", "undetermined"), row


def test_the_installed_command_exits_1_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cli.main", "--data-dir", str(tmp_path / "none"), "status",
                           "--year", "2023"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"xxgk status: the catalog is empty ({(tmp_path / 'none').resolve()}): run `xxgk crawl` first"]


# ---------------------------------------------------------------- as of another day: computed, not stored

@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory) -> Path:
    """The demo portals archived on 2025-03-01 and 2025-07-01 and judged as of 2025-07-02 (tests/web_fixtures)."""
    from tests.web_fixtures import build_demo_archive

    return build_demo_archive(tmp_path_factory.mktemp("demo") / "data").config.data_dir


def stored_verdicts(data_dir: Path) -> dict:
    catalog = Catalog.open(Config.from_env({}, data_dir=data_dir), create=False)
    try:
        with catalog.reading() as session:
            return {(v.agency_id, v.report_year): (v.status, v.days_late, v.flags, v.evidence, v.computed_at)
                    for v in queries.verdicts(session)}
    finally:
        catalog.close()


def test_status_as_of_another_day_prints_that_days_verdicts_and_leaves_the_stored_ones(demo_archive, tmp_path,
                                                                                        capsys):
    data_dir = tmp_path / "data"
    shutil.copytree(demo_archive, data_dir)
    before = stored_verdicts(data_dir)
    assert run(data_dir, "reports", "--format", "jsonl") == 0
    reports_before = capsys.readouterr().out
    assert {status for (_agency, year), (status, *_rest) in before.items() if year == 2024} >= {"on_time", "late"}

    assert run(data_dir, "status", "--year", "2024", "--as-of", "2025-01-10", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)

    assert stored_verdicts(data_dir) == before
    assert run(data_dir, "reports", "--format", "jsonl") == 0
    assert capsys.readouterr().out == reports_before
    # nothing of 2024 was in the archive on 2025-01-10 (first crawled 2025-03-01) and no deadline had passed
    assert rows and {row["status"] for row in rows} == {"pending"}
    assert {row["as_of"] for row in rows} == {"2025-01-10"}


# ---------------------------------------------------------------- a check the archive could not run

def test_status_table_marks_a_flag_that_could_not_be_checked(data_dir, capsys):
    from sqlalchemy import update

    from storage.catalog.models import Capture

    # a catalog from before migration 0007 (no verdict facts on its captures) over a store that lost the bytes:
    # the facts cannot be derived, and the check that needs them says so
    with Catalog.open(Config.from_env(env={}, data_dir=data_dir)) as catalog, catalog.session() as session:
        session.execute(update(Capture).values(facts_version=None, role=None, listing_items=None))
    segments = list((data_dir / "objects" / "warcs").rglob("*.warc.gz"))
    assert segments
    for segment in segments:
        segment.unlink()

    rows = {row["agency_id"]: row for row in status_json(data_dir, capsys)}
    assert "backdated" not in rows["ylx-wjj"]["flags"] and rows["ylx-wjj"]["undetermined_flags"] == ["backdated"]
    assert run(data_dir, "status", "--year", str(YEAR), "--as-of", AS_OF) == 0
    table = capsys.readouterr().out.partition("\n\n")[0]   # the reasons of 无法判断 follow a blank line
    by_agency = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert f"{FLAG_LABELS['backdated']}：无法判断" in by_agency["样例区卫生健康局"]
