"""Every route of the web UI through FastAPI's TestClient, over a real archive of the demo portals
(tests/web_fixtures.py): what the pages say in Chinese, what the JSON twins hold, exports, paging, errors."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import lxml.html
import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from demo.portals import DemoPortals
from monitor.clock import today
from monitor.flags import FLAG_LABELS
from monitor.verdicts import judge
from registry.catalog_sync import store_agencies
from parsers.beijing import BEIJING, as_aware, beijing_iso
from parsers.document import parse_document
from parsers.record import FetchContext
from storage.archive import Archive
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture, CrawlRun, FetchError, Report
from storage.config import Config
from tests.web_fixtures import AS_OF, BASE, DemoArchive, build_demo_archive, shared_demo_archive
from web.app import PAGES, create_app
from web.dashboard import PAGE_SIZE
from web.labels import STATUS_LABELS, status_label
from web.urls import Urls

JUDGED = ("on_time", "late", "missing")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoArchive:
    return shared_demo_archive(tmp_path_factory)


@pytest.fixture(scope="module")
def client(demo):
    with TestClient(create_app(demo.config)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def catalog(demo):
    opened = Catalog.open(demo.config, create=False)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def stored(catalog):
    """The verdicts as the catalog holds them, with their agencies: the truth every page must show."""
    with catalog.reading() as session:
        agencies = {agency.id: agency for agency in queries.list_agencies(session)}
        return [(verdict, agencies[verdict.agency_id]) for verdict in queries.verdicts(session)]


def page(response) -> lxml.html.HtmlElement:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return lxml.html.fromstring(response.text)


def shown_cells(document) -> dict[tuple[str, int], str]:
    """(agency id, report year) → status of every coloured cell of the dashboard table."""
    cells = {}
    for row in document.xpath("//table[@id='verdicts']/tbody/tr"):
        for cell in row.xpath("./td[@data-status]"):
            cells[(row.get("data-agency"), int(cell.get("data-year")))] = cell.get("data-status")
    return cells


# ---------------------------------------------------------------- dashboard

def test_dashboard_shows_every_stored_verdict_coloured_and_in_chinese(client, stored):
    document = page(client.get("/"))
    assert shown_cells(document) == {(verdict.agency_id, verdict.report_year): verdict.status
                                     for verdict, _agency in stored}
    for verdict, agency in stored:
        row = document.xpath(f"//tr[@data-agency='{agency.id}']")[0]
        assert agency.name in row.text_content()
        cell = row.xpath(f"./td[@data-year='{verdict.report_year}']")[0]
        assert status_label(verdict.status, verdict.days_late) in cell.text_content()
        assert f"status-{verdict.status}" in cell.get("class")


def test_a_late_report_of_the_demo_reads_as_late_by_its_days(client):
    truth = [v for v in DemoPortals().expected_verdicts(AS_OF, BASE) if v.status == "late" and v.days_late]
    assert truth, "the demo portals have late reports"
    document = page(client.get("/"))
    for verdict in truth:
        cell = document.xpath(f"//tr[@data-agency='{verdict.agency_id}']/td[@data-year='{verdict.report_year}']")[0]
        assert f"逾期 {verdict.days_late} 天" in cell.text_content()


def test_counts_per_status_and_on_time_rate_by_year_follow_the_catalog(client, stored):
    data = client.get("/api/dashboard").json()
    truth = Counter(verdict.status for verdict, _agency in stored)
    assert {item["status"]: item["count"] for item in data["counts"]} == {s: truth.get(s, 0) for s in STATUS_LABELS}
    assert data["verdicts"] == len(stored)
    for year_item in data["chart"]:
        year = [verdict.status for verdict, _agency in stored if verdict.report_year == year_item["year"]]
        judged = [status for status in year if status in JUDGED]
        assert year_item["judged"] == len(judged)
        assert year_item["rate"] == (judged.count("on_time") / len(judged) if judged else None)
    document = page(client.get("/"))
    bars = document.xpath("//svg//g[@data-year]")
    assert sorted(int(bar.get("data-year")) for bar in bars) == sorted(item["year"] for item in data["chart"])
    rated = next(item for item in data["chart"] if item["rate"] is not None)
    bar = document.xpath(f"//svg//g[@data-year='{rated['year']}']")[0]
    assert f"{rated['rate'] * 100:.0f}%" in bar.text_content()


@pytest.mark.parametrize("query, keep", [
    ({"year": "2023"}, lambda v, a: v.report_year == 2023),
    ({"status": "late"}, lambda v, a: v.status == "late"),
    ({"status": "missing", "year": "2022"}, lambda v, a: v.status == "missing" and v.report_year == 2022),
    ({"level": "government"}, lambda v, a: a.level == "government"),
    ({"level": "department", "status": "on_time"}, lambda v, a: a.level == "department" and v.status == "on_time"),
])
def test_filters_change_which_cells_and_rows_are_shown(client, stored, query, keep):
    wanted = {(verdict.agency_id, verdict.report_year): verdict.status for verdict, agency in stored
              if keep(verdict, agency)}
    document = page(client.get("/", params=query))
    assert shown_cells(document) == wanted
    if "status" in query:  # a status filter keeps only the agencies that have such a verdict
        rows = {row.get("data-agency") for row in document.xpath("//table[@id='verdicts']/tbody/tr")}
        assert rows == {agency_id for agency_id, _year in wanted}
    if "year" in query:
        headers = [th.text_content() for th in document.xpath("//table[@id='verdicts']/thead//th")][3:]
        assert headers == [f"{query['year']} 年度"]
    selected = document.xpath("//form[@class='filters']//option[@selected]")
    assert {option.get("value") for option in selected} == set(query.values())


def test_a_bad_filter_is_a_clear_error_on_the_page_and_in_the_api(client):
    response = client.get("/", params={"year": "二〇二三"})
    assert response.status_code == 400
    assert "年份“二〇二三”无效" in response.text
    response = client.get("/api/dashboard", params={"status": "<script>"})
    assert response.status_code == 400
    assert "状态“<script>”无效" in response.json()["detail"]
    assert "missing（未发布）" in response.json()["detail"]   # the codes the filter takes, with their names
    beyond = page(client.get("/", params={"page": "999"})).text_content()
    assert "第 999 页没有内容：共 1 页" in beyond and "没有符合条件的机关" not in beyond
    response = client.get("/", params={"page": "0"})
    assert response.status_code == 400 and "page：应不小于 1，收到 0" in response.text
    assert "page：应为整数，收到“x”" in client.get("/", params={"page": "x"}).text


def test_every_refusal_is_said_in_chinese_and_names_what_the_address_accepts(client, demo):
    response = client.get("/diff")
    assert response.status_code == 400 and "a：缺少此参数；b：缺少此参数" in response.text
    capture_id = next(iter(demo.captures.values()))[0]
    response = client.get(f"/raw/{capture_id}", params={"download": "abc"})
    assert response.status_code == 400 and "download：应为 1 或 0" in response.text and "valid boolean" not in response.text
    response = client.get("/api/agencies/%00bad")
    assert response.status_code == 404 and response.json()["detail"] == "目录中没有机关“\ufffdbad”"
    for path in ("/", "/api/dashboard", f"/raw/{capture_id}", "/export.csv"):
        refused = client.post(path)
        assert refused.status_code == 405, path
        assert refused.headers["allow"] == "GET", path   # RFC 9110: a 405 says what the address does accept
        assert "此地址不接受 POST 请求" in refused.text and "Method Not Allowed" not in refused.text, path


def test_head_answers_like_get_without_the_body(client, demo):
    """curl -I, link checkers and uptime monitors ask with HEAD."""
    capture_id = next(iter(demo.captures.values()))[0]
    for path in ("/", "/api/dashboard", "/runs", f"/raw/{capture_id}", "/export.csv", "/static/style.css"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers.get("content-security-policy") == got.headers.get("content-security-policy"), path
    assert client.head("/reports/999999999").status_code == 404


def test_dashboard_as_of_a_past_day_shows_that_days_verdicts_without_storing_them(client, catalog, stored):
    as_of = "2025-01-10"
    data = client.get("/api/dashboard", params={"as_of": as_of}).json()

    assert data["as_of"] == as_of
    cells = {(row["agency"]["id"], int(year)): cell["status"] for row in data["rows"]
             for year, cell in row["cells"].items() if cell}
    # the archive first saw the demo portals on 2025-03-01: by 2025-01-10 it held no report at all
    assert {status for (_agency, year), status in cells.items() if year == 2024} == {"pending"}
    assert dict(Counter(cells.values())) == {item["status"]: item["count"] for item in data["counts"] if item["count"]}
    # ylx-wjj's 2021 report says 2022-01-20, but the archive first saw it later: it cannot tell, it does not accuse
    assert cells[("ylx-wjj", 2021)] == "undetermined"
    # no report of 2022, ever, but by 2025-01-10 nobody had read the column: no proof that it was not published
    assert cells[("ylx-wjj", 2022)] == "undetermined"
    unread = next(row for row in data["rows"] if row["agency"]["id"] == "ylx-wjj")["cells"]["2022"]["reason"]
    assert unread.startswith("无法判断：存档中没有该机关年报栏目的任何读取记录")
    assert max(year for _agency, year in cells) == 2024

    document = page(client.get("/", params={"as_of": as_of}))
    assert shown_cells(document) == cells
    cell = document.xpath("//tr[@data-agency='ylx-wjj']/td[@data-year='2022']")[0]
    assert unread.removeprefix("无法判断：") in cell.text_content() and cell.get("title") == unread
    assert as_of in document.get_element_by_id("as-of").text_content()
    assert document.xpath("//form[@class='filters']//input[@name='as_of']")[0].get("value") == as_of
    only = client.get("/api/dashboard", params={"as_of": as_of, "status": "undetermined"}).json()
    assert {row["agency"]["id"] for row in only["rows"]} == {agency for (agency, _year), status in cells.items()
                                                             if status == "undetermined"}

    # what the catalog holds, and the dashboard shows without as_of, is still the current verdicts
    truth = {(verdict.agency_id, verdict.report_year): verdict.status for verdict, _agency in stored}
    with catalog.reading() as session:
        assert {(v.agency_id, v.report_year): v.status for v in queries.verdicts(session)} == truth
    assert shown_cells(page(client.get("/"))) == truth
    assert client.get("/api/dashboard").json()["as_of"] is None


def test_a_bad_as_of_day_is_a_clear_error_on_the_page_and_in_the_api(client):
    response = client.get("/", params={"as_of": "2025-02-30"})
    assert response.status_code == 400 and "日期“2025-02-30”无效" in response.text
    response = client.get("/api/dashboard", params={"as_of": "yesterday"})
    assert response.status_code == 400 and "日期“yesterday”无效" in response.json()["detail"]
    # a day to come: the archive cannot say what will have been published by then
    tomorrow = (today() + timedelta(days=1)).isoformat()
    response = client.get("/", params={"as_of": tomorrow})
    assert response.status_code == 400 and f"日期“{tomorrow}”还没有到" in response.text
    assert client.get("/", params={"as_of": today().isoformat()}).status_code == 200


# ---------------------------------------------------------------- exports

def _wanted_rows(stored, keep) -> list[tuple[str, int, str]]:
    return sorted((agency.name, verdict.report_year, status_label(verdict.status, verdict.days_late))
                  for verdict, agency in stored if keep(verdict, agency))


@pytest.mark.parametrize("query, keep", [
    ({}, lambda v, a: True),
    ({"year": "2023"}, lambda v, a: v.report_year == 2023),
    ({"status": "late"}, lambda v, a: v.status == "late"),
    ({"level": "department", "year": "2022"}, lambda v, a: a.level == "department" and v.report_year == 2022),
])
def test_exports_hold_exactly_the_filtered_verdicts_in_csv_xlsx_and_json(client, stored, query, keep):
    wanted = _wanted_rows(stored, keep)
    response = client.get("/export.csv", params=query)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:6] == ["机关代码", "机关", "层级", "行政区划", "报告年度", "状态"]
    assert sorted((row[1], int(row[4]), row[5]) for row in rows[1:]) == wanted

    response = client.get("/export.xlsx", params=query)
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0][:6]) == header[:6]
    assert sorted((row[1], int(row[4]), row[5]) for row in values[1:]) == wanted

    response = client.get("/export.json", params=query)
    exported = json.loads(response.content)
    assert exported["filters"] == query
    assert sorted((row["agency"], row["report_year"], row["status_label"]) for row in exported["rows"]) == wanted
    assert all(row["status"] in STATUS_LABELS for row in exported["rows"])


def test_exports_link_each_verdict_to_its_capture_with_an_absolute_url(client, catalog):
    with catalog.reading() as session:
        captures = {verdict.report_id: session.get(Report, verdict.report_id).capture_id
                    for verdict in queries.verdicts(session) if verdict.report_id is not None}
    assert captures
    exported = json.loads(client.get("/export.json").content)["rows"]
    linked = {row["report_id"]: row["permalink"] for row in exported if row["report_id"] is not None}
    assert linked == {report_id: f"http://testserver/captures/{capture_id}" for report_id, capture_id in captures.items()}
    assert all(row["permalink"] is None for row in exported if row["report_id"] is None)
    rows = list(csv.reader(io.StringIO(client.get("/export.csv").content.decode("utf-8-sig"))))
    column = rows[0].index("存档链接")
    assert {row[column] for row in rows[1:] if row[column]} == set(linked.values())
    one = next(iter(linked.values()))
    assert client.get(one).status_code == 200  # the link opens the capture page


def test_export_links_on_the_dashboard_carry_its_filters(client):
    document = page(client.get("/", params={"year": "2023", "status": "on_time"}))
    for kind in ("csv", "xlsx", "json"):
        href = document.get_element_by_id(f"export-{kind}").get("href")
        assert href.startswith(f"/export.{kind}?") and "year=2023" in href and "status=on_time" in href


# ---------------------------------------------------------------- paging over many agencies

@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """A catalog with 2.5 pages of agencies (three levels) and their verdicts, written through the queries."""
    config = Config.from_env({}, data_dir=tmp_path_factory.mktemp("crowded"))
    catalog = Catalog.open(config)
    statuses = ("on_time", "late", "missing", "on_time", "pending")
    count = PAGE_SIZE * 2 + PAGE_SIZE // 2
    with catalog.session() as session:
        for index in range(count):
            agency_id = f"a{index:04d}"
            queries.upsert_agency(session, agency_id, f"第{index}号机关", level=("department", "government", "township")[index % 3],
                                  region=f"地区{index % 4}")
            for year in (2021, 2022, 2023):
                status = "undetermined" if index == 77 and year == 2022 else statuses[(index + year) % 5]
                queries.upsert_verdict(session, agency_id, year, status, days_late=3 if status == "late" else None)
    catalog.close()
    with TestClient(create_app(config)) as test_client:
        yield test_client, config, count


def test_pages_walk_every_agency_once_in_order(crowded):
    client, _config, count = crowded
    seen, number = [], 1
    while True:
        data = client.get("/api/dashboard", params={"page": number}).json()
        seen += [row["agency"]["id"] for row in data["rows"]]
        assert data["page"]["total_agencies"] == count
        assert data["page"]["pages"] == -(-count // PAGE_SIZE)
        if not data["page"]["has_next"]:
            break
        number += 1
    assert seen == [f"a{index:04d}" for index in range(count)]
    assert number == data["page"]["pages"]
    document = page(client.get("/", params={"page": 2}))
    assert document.xpath("//a[@rel='prev']")[0].get("href") == "/?page=1"
    assert document.xpath("//a[@rel='next']")[0].get("href") == "/?page=3"


@pytest.mark.parametrize("status", ["on_time", "undetermined"])  # a common status and a rare one
def test_a_status_filter_pages_through_exactly_the_agencies_that_have_it(crowded, status):
    client, config, _count = crowded
    catalog = Catalog.open(config, create=False)
    with catalog.reading() as session:
        wanted = sorted({verdict.agency_id for verdict in queries.verdicts(session, status=status)})
    catalog.close()
    seen, number = [], 1
    while True:
        data = client.get("/api/dashboard", params={"status": status, "page": number}).json()
        seen += [row["agency"]["id"] for row in data["rows"]]
        if not data["page"]["has_next"]:
            break
        number += 1
    assert seen == wanted


def test_counts_follow_an_agency_that_changes_level(crowded):
    client, config, _count = crowded
    before = client.get("/api/dashboard", params={"level": "township"}).json()["verdicts"]
    catalog = Catalog.open(config, create=False)
    with catalog.session() as session:
        queries.upsert_agency(session, "a0000", "第0号机关", level="township", region="地区0")  # was department
    catalog.close()
    try:
        assert client.get("/api/dashboard", params={"level": "township"}).json()["verdicts"] == before + 3
    finally:
        catalog = Catalog.open(config, create=False)
        with catalog.session() as session:
            queries.upsert_agency(session, "a0000", "第0号机关", level="department", region="地区0")
        catalog.close()


# ---------------------------------------------------------------- the imported registry

WATCHED = ("w0", "w1", "w2", "w3")
DROPPED = ("d4", "d5")   # in the catalog, with verdicts, but no longer in the imported registry


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Six agencies with verdicts of 2022 and 2023; the registry `xxgk agencies import` stored last names four."""
    config = Config.from_env({}, data_dir=tmp_path_factory.mktemp("imported"))
    catalog = Catalog.open(config)
    with catalog.session() as session:
        for index, agency_id in enumerate(WATCHED + DROPPED):
            queries.upsert_agency(session, agency_id, f"第{index}号机关", level=("department", "government")[index % 2],
                                  region=f"地区{index % 2}")
            for year in (2022, 2023):
                queries.upsert_verdict(session, agency_id, year, ("on_time", "late", "missing")[(index + year) % 3],
                                       days_late=2 if (index + year) % 3 == 1 else None)
        queries.watch_agencies(session, WATCHED)
    with catalog.reading() as session:
        truth = {(verdict.agency_id, verdict.report_year): verdict.status for verdict in queries.verdicts(session)}
    catalog.close()
    with TestClient(create_app(config)) as test_client:
        yield test_client, truth


def _export_ids(client, kind: str, params: dict) -> set[tuple[str, int]]:
    response = client.get(f"/export.{kind}", params=params)
    assert response.status_code == 200, response.text[:300]
    if kind == "json":
        return {(row["agency_id"], row["report_year"]) for row in response.json()["rows"]}
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    return {(row[0], int(row[4])) for row in rows[1:]}


def test_once_a_registry_is_imported_the_figures_count_its_agencies_and_say_how_many_are_left_out(imported):
    client, truth = imported
    watched = {key: status for key, status in truth.items() if key[0] in WATCHED}
    data = client.get("/api/dashboard").json()
    assert [row["agency"]["id"] for row in data["rows"]] == list(WATCHED)
    assert data["page"]["total_agencies"] == len(WATCHED) and data["verdicts"] == len(watched)
    assert {item["status"]: item["count"] for item in data["counts"] if item["count"]} == dict(Counter(watched.values()))
    for year_item in data["chart"]:   # the on-time rate of the registry's agencies
        statuses = [status for (_agency, year), status in watched.items() if year == year_item["year"]]
        judged = [status for status in statuses if status in JUDGED]
        assert (year_item["on_time"], year_item["judged"]) == (judged.count("on_time"), len(judged))
    assert data["scope"] == {"imported": True, "watched_only": True, "outside": 2, "outside_verdicts": 4}
    document = page(client.get("/"))
    assert "另有 2 个机构不在监测名单中，未计入" in document.get_element_by_id("scope").text_content()
    assert {agency for agency, _year in shown_cells(document)} == set(WATCHED)
    for kind in ("csv", "json"):
        href = document.get_element_by_id(f"export-{kind}").get("href")
        assert "all=" not in href
        assert _export_ids(client, kind, {}) == set(watched)
    assert client.get("/api/dashboard", params={"level": "government"}).json()["scope"]["outside"] == 1

    # the way to every agency: the link, its counts, its exports
    everyone = page(client.get(document.get_element_by_id("scope-all").get("href")))
    assert shown_cells(everyone) == truth
    assert "包括不在监测名单中的 2 个机构" in everyone.get_element_by_id("scope").text_content()
    assert "all=1" not in everyone.get_element_by_id("scope-watched").get("href")
    for kind in ("csv", "json"):
        href = everyone.get_element_by_id(f"export-{kind}").get("href")
        assert "all=1" in href
        assert _export_ids(client, kind, {"all": "1"}) == set(truth)
    assert client.get("/api/dashboard", params={"all": "1"}).json()["verdicts"] == len(truth)

    # a dropped agency's page and verdicts stay reachable
    agency = page(client.get("/agencies/d4"))
    assert "第4号机关" in agency.text_content()
    assert "不在已导入的监测名单" in agency.get_element_by_id("outside-registry").text_content()
    assert not page(client.get(f"/agencies/{WATCHED[0]}")).xpath("//*[@id='outside-registry']")
    # as of a past day, the same agencies are judged and counted
    past = client.get("/api/dashboard", params={"as_of": "2025-06-01"}).json()
    assert {row["agency"]["id"] for row in past["rows"]} == set(WATCHED) and past["scope"]["outside"] == 2
    assert {row["agency"]["id"] for row in client.get("/api/dashboard", params={"as_of": "2025-06-01", "all": "1"})
            .json()["rows"]} == set(WATCHED + DROPPED)


# ---------------------------------------------------------------- agency page

def test_agency_page_shows_each_year_with_its_evidence_reports_captures_and_errors(client, catalog, stored):
    agency_id = "sfq-wjj"
    document = page(client.get(f"/agencies/{agency_id}"))
    text = document.text_content()
    with catalog.reading() as session:
        reports = queries.reports_of_agency(session, agency_id)
        captures = queries.captures_by_agency(session, agency_id)
    for verdict, _agency in stored:
        if verdict.agency_id != agency_id:
            continue
        row = document.xpath(f"//table[@id='agency-verdicts']//tr[@data-year='{verdict.report_year}']")[0]
        row_text = row.text_content()
        assert row.get("data-status") == verdict.status
        assert verdict.deadline.isoformat() in row_text and verdict.legal_basis in row_text
        if verdict.publication_date:
            assert verdict.publication_date.isoformat() in row_text
            assert "来源：网页元数据 PubDate" in row_text  # the demo TRS pages carry <meta name="PubDate">
        for flag in verdict.flags:
            assert {"changed": "发布后修改", "copied": "疑似雷同", "backdated": "倒签", "removed": "已删除"}[flag] in row_text
        # the first sighting on Beijing's clock, as the verdict's reason and `xxgk status` give it
        if verdict.first_seen is not None:
            shown = row.xpath("./td")[4].text_content().strip()
            assert shown == beijing_iso(verdict.first_seen).replace("T", " ")[:19], (shown, verdict.first_seen)
        # the checks and a changed cell's table named in Chinese, not by their codes
        for name, note in (verdict.evidence.get("checks") or {}).items():
            assert f"{FLAG_LABELS.get(name, '存档事实')}检查：{note}" in row_text
        assert not re.search(r"(?:backdated|changed|removed|copied|archive)：|table\d", row_text), row_text
    # ysq-wjw's 2018 report too short to compare: its copy check's note under the flag's name
    unchecked = page(client.get("/agencies/ysq-wjw")).xpath("//tr[@data-year='2018']")[0].text_content()
    assert "疑似雷同检查：" in unchecked and "copied" not in unchecked, unchecked
    changed = document.xpath("//table[@id='agency-verdicts']//tr[@data-year='2023']//table//td")
    assert changed and changed[0].text_content() == "表二", [cell.text_content() for cell in changed]
    for report in reports:
        assert report.title in text
    assert {int(link.text) for link in document.xpath("//a[starts-with(@href, '/captures/')]") if link.text.isdigit()} \
        >= {capture.id for capture in captures}
    data = client.get(f"/api/agencies/{agency_id}").json()
    assert data["capture_total"] == len(captures)
    assert {item["report_year"] for item in data["verdicts"]} == {v.report_year for v, _a in stored if v.agency_id == agency_id}
    # the parent agency by its name, linked
    parent = document.xpath("//dt[text()='上级机关']/following-sibling::dd[1]/a")[0]
    assert (parent.text_content(), parent.get("href")) == ("示范区人民政府", Urls().agency("sfq-gov"))
    errors = page(client.get("/agencies/ylx-wjj")).text_content()
    assert "HTTP 500 服务器内部错误" in errors and "HTTP 错误" in errors


def test_the_raw_date_string_behind_a_publication_date_is_shown(client, catalog):
    with catalog.reading() as session:
        verdict = queries.verdicts(session, agency_id="sfq-wjj", report_year=2022)[0]
        report = session.get(Report, verdict.report_id)
    raw = next(item["raw"] for item in report.record_json["dates"]
               if item["source"] == verdict.date_source and item["date"] == verdict.publication_date.isoformat())
    row = page(client.get("/agencies/sfq-wjj")).xpath("//tr[@data-year='2022']")[0]
    assert f"原文：「{raw}」" in row.text_content()


def test_a_report_that_moved_shows_where_it_went_and_no_removed_flag(client, catalog):
    """A verdict whose evidence says the report moved (``monitor.flags.moved``): 已迁移 with the message and links to
    the report at its new address and that capture, beside the verdict; no 已删除."""
    with catalog.session() as session:
        verdict = queries.verdicts(session, agency_id="sfq-wjj", report_year=2022)[0]
        before = dict(verdict.evidence or {})
        moved = {"relation": "moved", "from_url": BASE + "/old/2022.html", "url": before["report_url"],
                 "report_id": verdict.report_id, "capture_id": before["capture_id"],
                 "message": "原网址 …：同一年度的报告已迁移到 …，仍在网站上：不是删除。"}
        verdict.evidence = {**before, "moved": [moved]}
    try:
        row = page(client.get("/agencies/sfq-wjj")).xpath("//table[@id='agency-verdicts']//tr[@data-year='2022']")[0]
        shown = row.xpath(".//div[@class='moved']")[0]
        assert "已迁移" in shown.text_content() and moved["message"] in shown.text_content()
        assert {link.get("href") for link in shown.xpath(".//a")} == {Urls().report(verdict.report_id),
                                                                        Urls().capture(before["capture_id"])}
        assert "已删除" not in row.text_content()
    finally:
        with catalog.session() as session:
            queries.verdicts(session, agency_id="sfq-wjj", report_year=2022)[0].evidence = before


def test_changed_flag_links_both_versions_and_the_changed_cell(client, catalog):
    data = client.get("/api/agencies/sfq-wjj").json()
    flagged = next(v for v in data["verdicts"] if any(flag["code"] == "changed" for flag in v["flags"]))
    changed = next(flag for flag in flagged["flags"] if flag["code"] == "changed")
    assert {link["label"] for link in changed["links"]} >= {"修改前的存档", "修改后的存档"}
    revision = next(r for r in DemoPortals().reports() if r.revision is not None).revision
    _table, _row, _column, old, new = revision.cell
    assert any(str(cell.get("old")) == old and str(cell.get("new")) == new for cell in changed["cells"])


def _walk(value, path=()):
    """Every (key path, value) of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path + (key,), item
            yield from _walk(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, path + (index,))


def test_stored_evidence_names_captures_by_id_and_the_agency_page_links_those_ids(client, catalog, stored):
    flagged = [verdict for verdict, _agency in stored if verdict.flags]
    assert {flag for verdict in flagged for flag in verdict.flags} >= {"changed", "backdated", "copied"}
    for verdict, _agency in stored:
        for path, value in _walk(verdict.evidence or {}):
            assert "permalink" not in str(path[-1]), (verdict.agency_id, path)
            assert not (isinstance(value, str) and value.startswith("/captures/")), (verdict.agency_id, path, value)
    changed = next(verdict for verdict in flagged if "changed" in verdict.flags)
    evidence = changed.evidence["changed"]
    row = page(client.get(f"/agencies/{changed.agency_id}")).xpath(
        f"//table[@id='agency-verdicts']//tr[@data-year='{changed.report_year}']")[0]
    links = {link.text_content(): link.get("href") for link in row.xpath(".//a")}
    assert links["修改前的存档"] == f"/captures/{evidence['from_capture_id']}"
    assert links["修改后的存档"] == f"/captures/{evidence['to_capture_id']}"
    copied = next(verdict for verdict in flagged if "copied" in verdict.flags)
    row = page(client.get(f"/agencies/{copied.agency_id}")).xpath(
        f"//table[@id='agency-verdicts']//tr[@data-year='{copied.report_year}']")[0]
    links = {link.text_content(): link.get("href") for link in row.xpath(".//a")}
    assert links["相似的报告"] == f"/reports/{copied.evidence['copied']['other_report_id']}"
    assert links["相似报告的存档"] == f"/captures/{copied.evidence['copied']['other_capture_id']}"


# ---------------------------------------------------------------- report columns: coverage and 栏目失效

def test_agency_page_shows_what_each_run_read_of_the_report_column(client, demo, catalog):
    document = page(client.get("/agencies/ylx-wjj"))
    rows = document.xpath("//table[@id='agency-coverage']/tbody/tr")
    # the second look (2025-07-01) read the column again after the back-dated report appeared: newest first
    assert [row.get("data-run") for row in rows] == demo.run_ids[::-1]
    column = BASE + DemoPortals().agency("ylx-wjj").column
    newest = [cell.text_content().strip() for cell in rows[0].xpath("./td")]
    assert newest[1].startswith("2025-07-01 10:00") and newest[2] == column and newest[3] == "注册表"
    # edition 2 lists 7 entries, 4 a page (the back-dated report among them, dated 2024-01-26)
    assert (newest[4], newest[5], newest[7], newest[8], newest[9]) == ("2", "7", "2018-03-20 至 2025-01-22", "否", "是")
    # the reports among its entries (the agency's reports of edition 2), no problem, no fetch error
    reports = [report for report in DemoPortals(edition=2).reports() if report.agency_id == "ylx-wjj"]
    assert (newest[10], newest[11], newest[12]) == (str(len(reports)), "—", "—") and len(reports) >= 3
    # the entries whose listing titles are annual reports, and their years: what a 未发布 needs of the read
    years = sorted({report.year for report in reports})
    assert newest[6] == f"{len(reports)}（{'、'.join(map(str, years))} 年度）", newest[6]
    headers = [cell.text_content() for cell in document.xpath("//table[@id='agency-coverage']/thead/tr/th")]
    assert headers[6] == "年报条目" and headers[10:] == ["报告", "问题", "错误"]
    assert rows[0].xpath("./td[3]/a")[0].get("href") == Urls().capture(demo.captures[column][-1])
    data = client.get("/api/agencies/ylx-wjj").json()
    assert data["coverage_total"] == 2
    assert [(item["run_id"], item["items_read"], item["complete"]) for item in data["coverage"]] == [
        (demo.run_ids[1], 7, True), (demo.run_ids[0], 6, True)]
    assert data["coverage"][0]["columns"][0]["found_by_label"] == "注册表"
    # the 2022 verdict (未发布) names the read it rests on and links its capture
    missing = next(v for v in data["verdicts"] if v["report_year"] == 2022)
    assert missing["status"] == "missing" and missing["coverage"]["capture_id"] == demo.captures[column][-1]
    row = document.xpath("//table[@id='agency-verdicts']//tr[@data-year='2022']")[0]
    assert "依据的栏目读取：2025-07-01 10:00:00" in row.text_content()
    assert row.xpath(".//a[text()='栏目页存档']")[0].get("href") == Urls().capture(demo.captures[column][-1])


FIRST_READ = datetime(2025, 3, 1, 2, 0, tzinfo=timezone.utc)
SECOND_READ = datetime(2025, 7, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def failing_columns(tmp_path_factory):
    """Two runs over two agencies' report columns: ylx-wjj's column read fine in the first and answering 403 in the
    second (栏目失效); sfq-ybj's script-built column failing in the browser both times. Their 2022 reports, never
    archived, judged as of 2025-07-02."""
    config = Config.from_env({}, data_dir=tmp_path_factory.mktemp("columns") / "data")
    portals = DemoPortals()
    ylx, ybj = (BASE + portals.agency(agency_id).column for agency_id in ("ylx-wjj", "sfq-ybj"))
    runs = []
    for moment in (FIRST_READ, SECOND_READ):
        archive = Archive.open(config, durability="os")
        try:
            if moment == FIRST_READ:
                store_agencies(archive.catalog, portals.registry(BASE))
                listing = portals.resource(portals.agency("ylx-wjj").column)
                ylx_capture = archive.record_fetch(ylx, "GET", [], 200, "OK", [("Content-Type", listing.content_type)],
                                                   listing.body, fetched_at=moment, agency_id="ylx-wjj")
                ylx_read = dict(capture_id=ylx_capture.id, pages_walked=2, complete=True, items_read=6,
                                dated_items=6, earliest_item=date(2018, 3, 20), latest_item=date(2025, 1, 22),
                                reports_found=3)
            else:
                refused = archive.record_fetch(ylx, "GET", [], 403, "Forbidden", [("Content-Type", "text/html")],
                                               b"<h1>403 Forbidden</h1>", fetched_at=moment, agency_id="ylx-wjj")
                ylx_read = dict(capture_id=refused.id, problem="unreadable", detail="HTTP 403",
                                errors=[{"url": ylx, "kind": "http", "message": "HTTP 403 Forbidden"}])
            shell = portals.resource(portals.agency("sfq-ybj").column)
            ybj_capture = archive.record_fetch(ybj, "GET", [], 200, "OK", [("Content-Type", shell.content_type)],
                                               shell.body, fetched_at=moment, agency_id="sfq-ybj")
            with archive.catalog.session() as session:
                queries.add_coverage(session, run_id=archive.run_id, agency_id="ylx-wjj", read_at=moment,
                                     column_url=ylx, found_by="registry", **ylx_read)
                queries.add_coverage(session, run_id=archive.run_id, agency_id="sfq-ybj", read_at=moment,
                                     column_url=ybj, found_by="link_text", capture_id=ybj_capture.id, pages_walked=1,
                                     rendered=True, problem="script_error",
                                     detail="ReferenceError: renderList is not defined")
            runs.append(archive.run_id)
            archive.finish("finished")
        except BaseException:
            archive.close()
            raise
    with Catalog.open(config) as catalog:
        judge(catalog, as_of=date(2025, 7, 2), years={"ylx-wjj": [2022], "sfq-ybj": [2022]})
    with TestClient(create_app(config)) as test_client:
        yield test_client, runs


def test_dashboard_calls_out_a_column_that_stopped_yielding_items_with_a_link_to_its_agency(failing_columns):
    client, runs = failing_columns
    document = page(client.get("/"))
    box = document.get_element_by_id("column-failures")
    items = box.xpath(".//li[@data-agency]")
    # sfq-ybj's column never gave an item: nothing stopped, it never worked (its verdicts say so)
    assert [item.get("data-agency") for item in items] == ["ylx-wjj"]
    link = items[0].xpath("./a")[0]
    assert link.get("href") == Urls().agency("ylx-wjj") and link.text_content() == "样例区卫生健康局"
    text = items[0].text_content()
    assert "栏目失效（栏目无法读取）" in text and "上次读到条目是 2025-03-01" in text and "6 个条目" in text
    assert items[0].xpath(".//a[@href='%s']" % Urls().run(runs[1]))
    # the box does not deny the 未发布 an earlier complete read proves (a walk saw it beside four of them)
    assert "无法证明“未发布”" not in box.text_content() and "以前读完整的栏目" in box.text_content()
    data = client.get("/api/dashboard").json()["column_failures"]
    assert data["total"] == 1 and data["items"][0]["agency_id"] == "ylx-wjj"
    assert (data["items"][0]["run_id"], data["items"][0]["last_good_run_id"]) == (runs[1], runs[0])
    # judged as of a past day, the page shows that day's verdicts only, not today's column failures
    assert "column-failures" not in client.get("/", params={"as_of": "2025-07-02"}).text


def test_a_failed_read_after_a_good_one_leaves_the_year_proven_missing_and_a_broken_script_undetermined(
        failing_columns):
    client, _runs = failing_columns
    document = page(client.get("/"))
    assert shown_cells(document) == {("ylx-wjj", 2022): "missing", ("sfq-ybj", 2022): "undetermined"}
    cell = document.xpath("//tr[@data-agency='sfq-ybj']/td[@data-year='2022']")[0]
    shown = cell.xpath(".//div[contains(@class, 'reason')]")[0].text_content()
    # under the 无法判断 badge the reason does not say 无法判断 again; the cell's title and the exports keep it whole
    assert shown.startswith("年报栏目的脚本在浏览器中出错") and "renderList" in shown
    reason = cell.get("title")
    assert reason == "无法判断：" + shown
    assert not document.xpath("//tr[@data-agency='ylx-wjj']//div[contains(@class, 'reason')]")  # only 无法判断
    agency = page(client.get("/agencies/sfq-ybj"))
    verdict_row = agency.xpath("//table[@id='agency-verdicts']//tr[@data-year='2022']")[0]
    assert verdict_row.xpath(".//div[contains(@class, 'reason')]")[0].text_content() == shown
    rows = agency.xpath("//table[@id='agency-coverage']/tbody/tr")
    assert [row.get("data-problem") for row in rows] == ["script_error", "script_error"]
    cells = [cell.text_content().strip() for cell in rows[0].xpath("./td")]
    assert cells[3] == "链接文字" and cells[8] == "是" and cells[11] == "脚本出错：ReferenceError: renderList is not defined"
    # the column that answered 403 names the failed fetch beside its problem
    ylx_rows = page(client.get("/agencies/ylx-wjj")).xpath("//table[@id='agency-coverage']/tbody/tr")
    refused = [cell.text_content().strip() for cell in ylx_rows[0].xpath("./td")]
    column = BASE + DemoPortals().agency("ylx-wjj").column
    assert (refused[11], refused[12]) == ("栏目无法读取：HTTP 403", f"1 个：{column}（HTTP 403 Forbidden）")
    # the verdict names the column it rests on with a link to every capture and fetch error of that address
    ylx_page = page(client.get("/agencies/ylx-wjj"))
    line = ylx_page.xpath("//table[@id='agency-verdicts']//tr[@data-year='2022']"
                          "//div[contains(@class, 'coverage-read')]")[0]
    assert line.xpath(".//a")[0].get("href") == Urls().captures(url=column)
    assert "403" in client.get(Urls().captures(url=column)).text
    exported = {row["agency_id"]: row for row in json.loads(client.get("/export.json").content)["rows"]}
    assert exported["sfq-ybj"]["reason"] == reason
    csv_rows = list(csv.DictReader(io.StringIO(client.get("/export.csv").content.decode("utf-8-sig"))))
    assert {row["机关代码"]: row["判定理由"] for row in csv_rows}["sfq-ybj"] == reason


# ---------------------------------------------------------------- report page

def _broken_report(catalog) -> Report:
    with catalog.reading() as session:
        return next(report for report in session.scalars(select(Report).order_by(Report.id))
                    if report.record_json.get("consistency_errors"))


def test_report_page_shows_the_record_and_marks_the_cells_of_broken_rules(client, catalog):
    report = _broken_report(catalog)
    record = report.record_json
    document = page(client.get(f"/reports/{report.id}"))
    assert document.get_element_by_id("report-title").text_content() == report.title
    broken = {(cell.get("data-row"), cell.get("data-column")) for cell in document.xpath("//td[contains(@class, 'broken')]")}
    spec = next(r for r in DemoPortals().reports() if r.broken_cell is not None)
    rules = {error["rule"]: error["where"] for error in record["consistency_errors"]}
    assert rules.get("t3.col.balance") == "表三 自然人列" and rules.get("t3.row.total") == "表三 本年新收行"
    # 一 + 二 = 三(七) + 四 fails in the 自然人 column: those four cells are marked
    assert {("本年新收", "自然人"), ("上年结转", "自然人"), ("总计", "自然人"), ("结转下年度继续办理", "自然人")} <= broken
    # the 本年新收 row no longer adds up: every cell of it is marked
    assert {("本年新收", column) for column in ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")} <= broken
    assert ("予以公开", "商业企业") not in broken and ("上年结转", "商业企业") not in broken
    errors_table = document.get_element_by_id("consistency-errors").text_content()
    for error in record["consistency_errors"]:
        assert error["rule"] in errors_table and error["where"] in errors_table
    dates = document.get_element_by_id("dates").text_content()
    for item in record["dates"]:
        assert item["date"] in dates and item["raw"] in dates
    assert document.get_element_by_id("report-text").text_content().strip() == report.text.strip()
    links = {link.get("href") for link in document.xpath("//a")}
    assert f"/captures/{report.capture_id}" in links and f"/raw/{report.capture_id}" in links
    assert spec.agency_id == report.agency_id
    data = client.get(f"/api/reports/{report.id}").json()
    assert data["report"]["id"] == report.id
    table3 = next(table for table in data["tables"] if table["key"] == "table3")
    row = next(row for row in table3["rows"] if row["label"] == "本年新收")
    assert next(cell for cell in row["cells"] if cell["column"] == "自然人")["value"] == int(spec.broken_cell[3])


def test_a_report_without_errors_shows_all_four_kinds_of_table_in_order(client, catalog):
    with catalog.reading() as session:
        report = next(r for r in session.scalars(select(Report).where(Report.is_report.is_(True)).order_by(Report.id))
                      if set(r.record_json.get("tables") or {}) >= {"table2", "table3", "table4"}
                      and not r.record_json.get("consistency_errors"))
    document = page(client.get(f"/reports/{report.id}"))
    assert [table.get("data-table") for table in document.xpath("//table[@data-table]")][:3] == ["table2", "table3", "table4"]
    assert not document.xpath("//td[contains(@class, 'broken')]")
    assert "表格数字符合全部勾稽关系" in document.text_content()


# ---------------------------------------------------------------- captures, raw bytes, diff

def _edited_url() -> str:
    return BASE + next(r for r in DemoPortals().reports() if r.revision is not None).path


def test_captures_of_a_url_list_every_fetch_with_a_link_to_compare(client, demo):
    url = _edited_url()
    ids = demo.captures[url]
    document = page(client.get("/captures", params={"url": url}))
    assert [int(row.get("data-capture")) for row in document.xpath("//table[@id='captures']/tbody/tr")] == ids
    assert document.xpath(f"//a[@href='/diff?a={ids[0]}&b={ids[1]}']")
    data = client.get("/api/captures", params={"url": url}).json()
    assert [item["id"] for item in data["captures"]] == ids
    assert data["captures"][1]["diff_previous"] == ids[0]
    assert client.get("/api/captures", params={"url": BASE + "/never-fetched"}).json()["captures"] == []
    recent = client.get("/api/captures").json()
    assert recent["total"] == sum(len(v) for v in demo.captures.values())


def test_capture_page_shows_metadata_headers_and_the_sandboxed_frame(client, demo):
    url = _edited_url()
    capture_id = demo.captures[url][-1]
    document = page(client.get(f"/captures/{capture_id}"))
    frame = document.xpath("//iframe")[0]
    assert frame.get("src") == f"/raw/{capture_id}" and frame.get("sandbox") == ""
    headers = document.get_element_by_id("headers").text_content()
    resource = DemoPortals(edition=2).resource(url[len(BASE):])
    assert resource.http_last_modified in headers and "Content-Type" in headers
    data = client.get(f"/api/captures/{capture_id}").json()
    assert data["capture"]["url"] == url
    assert ["Last-Modified", resource.http_last_modified] in data["archived"]["headers"]
    assert data["view"] == "html"


def test_a_whole_page_is_rendered_on_request_for_html_captures_only(client, demo):
    """整页截图 of a report page: a JPEG of the whole page, served like archived bytes (sandboxed, no sniffing),
    linked from the capture and report pages; a PDF has none, an unknown capture is a 404."""
    from PIL import Image

    url = _edited_url()
    capture_id = demo.captures[url][0]
    capture_page = page(client.get(f"/captures/{capture_id}"))
    assert capture_page.get_element_by_id("full-page").get("href") == f"/captures/{capture_id}/full-page.jpg"
    assert client.get(f"/api/captures/{capture_id}").json()["full_page"] is True
    report_page = page(client.get(f"/reports/{demo.reports[url]}"))
    linked = report_page.get_element_by_id("full-page").get("href")
    response = client.get(linked)
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("inline; filename=")
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG" and image.width == 1280 and image.height > 1000  # the whole page, not a screen

    pdf = demo.captures[BASE + next(path for path in DemoPortals().site() if path.endswith(".pdf"))][0]
    assert client.get(f"/api/captures/{pdf}").json()["full_page"] is False
    assert not page(client.get(f"/captures/{pdf}")).xpath("//a[@id='full-page']")
    response = client.get(f"/captures/{pdf}/full-page.jpg")
    assert response.status_code == 400 and "只有存档的 HTML 网页才有整页截图" in response.text
    assert client.get("/captures/99999999/full-page.jpg").status_code == 404


def test_a_burst_of_whole_page_requests_waits_in_a_short_queue_and_the_rest_is_told_at_once(client, demo):
    """While a whole page renders, at most MAX_WAITING requests wait for it, each holding a server thread; one more
    is answered 503 at once instead of holding another thread for a minute (45 at once left the dashboard 20 s)."""
    from web import full_page

    import shutil

    capture_id = demo.captures[_edited_url()][1]
    shutil.rmtree(demo.config.data_dir / "cache" / "full-page", ignore_errors=True)   # nothing served from the cache
    assert full_page._RENDERING.acquire(timeout=120)   # a render in progress
    queued = 0
    try:
        while full_page._WAITING.acquire(blocking=False):   # the queue as full as that many waiting requests make it
            queued += 1
        try:
            response = client.get(f"/captures/{capture_id}/full-page.jpg")
        finally:
            for _ in range(queued):
                full_page._WAITING.release()
    finally:
        full_page._RENDERING.release()
    assert queued == full_page.MAX_WAITING
    assert response.status_code == 503 and "个请求在排队" in response.text
    assert client.get("/runs").status_code == 200
    response = client.get(f"/captures/{capture_id}/full-page.jpg")   # the queue free again: rendered
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"


def test_latest_redirects_to_the_newest_capture_or_its_bytes(client, demo):
    url = _edited_url()
    newest = demo.captures[url][-1]
    response = client.get("/captures/latest", params={"url": url}, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == f"/captures/{newest}"
    response = client.get("/captures/latest", params={"url": url, "view": "raw"}, follow_redirects=False)
    assert response.headers["location"] == f"/raw/{newest}"
    response = client.get("/captures/latest", params={"url": BASE + "/nowhere.html"})
    assert response.status_code == 404 and "存档中没有该网址的捕获" in response.text


def test_raw_serves_pdf_inline_docx_as_attachment_and_exact_bytes_on_download(client, demo):
    portals = DemoPortals()
    pdf_path = next(path for path in portals.site() if path.endswith(".pdf"))
    docx_path = next(path for path in portals.site() if path.endswith(".docx"))
    response = client.get(f"/raw/{demo.captures[BASE + pdf_path][0]}")
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline; filename=\"P020")
    assert response.content == portals.resource(pdf_path).body
    response = client.get(f"/raw/{demo.captures[BASE + docx_path][0]}")
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert response.headers["content-disposition"].startswith("attachment; filename=\"P020180305_4471.docx\"")
    assert response.content == portals.resource(docx_path).body
    gbk_page = next(path for path, res in portals.site().items() if "GBK" in res.content_type and res.status == 200)
    capture_id = demo.captures[BASE + gbk_page][0]
    response = client.get(f"/raw/{capture_id}", params={"download": "1"})
    assert response.content == portals.resource(gbk_page).body  # the archived bytes, untouched
    assert response.headers["content-type"] == "application/octet-stream"
    shown = client.get(f"/raw/{capture_id}")
    assert shown.headers["content-type"] == "text/html; charset=utf-8"
    assert "示范区卫生健康局" in shown.text  # decoded from GBK, served as UTF-8
    for answer in (response, shown):
        assert "sandbox" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_links_in_archived_html_point_into_the_archive_where_it_has_the_page(client, demo):
    portals = DemoPortals()
    listing = portals.agency("sfq-wjj").column
    document = lxml.html.fromstring(client.get(f"/raw/{demo.captures[BASE + listing][0]}").content)
    hrefs = [link.get("href") for link in document.xpath("//a[@href]")]
    archived = [href for href in hrefs if href.startswith("/captures/latest?url=")]
    assert archived, hrefs
    response = client.get(archived[0].split("#")[0], follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"].startswith("/raw/")
    # nothing leads to the live site: what the archive lacks is looked up in it all the same (and explained)
    assert all(href.startswith(("/captures/latest?url=", "#", "mailto:", "tel:")) for href in hrefs), hrefs


def test_diff_of_two_captures_shows_the_edited_sentence(client, demo):
    first, second = demo.captures[_edited_url()]
    revision = next(r for r in DemoPortals().reports() if r.revision is not None).revision
    old_sentence, new_sentence = revision.sentence
    document = page(client.get("/diff", params={"a": first, "b": second}))
    removed = " ".join(row.text_content() for row in document.xpath("//table[@id='diff']//tr[@class='delete']"))
    added = " ".join(row.text_content() for row in document.xpath("//table[@id='diff']//tr[@class='insert']"))
    assert old_sentence in removed and new_sentence in added
    # inside the paragraph, exactly the edited characters are marked
    prefix = len(os.path.commonprefix([old_sentence, new_sentence]))
    suffix = len(os.path.commonprefix([old_sentence[::-1], new_sentence[::-1]]))
    marked = lambda kind: "".join(document.xpath(f"//table[@id='diff']//tr[@class='{kind}']//span[@class='changed']/text()"))
    assert marked("delete") == old_sentence[prefix:len(old_sentence) - suffix]
    assert marked("insert") == new_sentence[prefix:len(new_sentence) - suffix]
    data = client.get("/api/diff", params={"a": first, "b": second}).json()
    assert data["added"] >= 1 and data["removed"] >= 1 and not data["identical_text"]
    other = demo.captures[BASE + "/trs/index.html"][0]
    response = client.get("/diff", params={"a": first, "b": other})
    assert response.status_code == 400 and "只能比较同一网址的两次捕获" in response.text


def test_an_edit_inside_a_very_long_paragraph_is_marked_without_comparing_it_whole():
    """A one-paragraph report edited after publication: the text both versions begin and end with stays unmarked,
    and a changed middle longer than INLINE_DIFF_CHARS is marked whole rather than compared character by character
    (which took 16 s for 10,000 characters and held the worker)."""
    from web.diff import INLINE_DIFF_CHARS, changed_parts

    body = "本机关依法公开政府信息，全年收到申请一百二十件，办理完毕一百一十八件。" * 400   # 14,000 characters
    third = len(body) // 3
    before = body
    after = body[:third] + "（已更正）" + body[third:2 * third] + "共计一百二十一件" + body[2 * third:]
    old, new = changed_parts(before, after)
    assert "".join(part["text"] for part in old) == before and "".join(part["text"] for part in new) == after
    assert new[0] == {"text": body[:third], "changed": False} and new[-1]["changed"] is False
    [changed] = [part["text"] for part in new if part["changed"]]
    assert changed.startswith("（已更正）") and "共计一百二十一件" in changed and len(changed) > INLINE_DIFF_CHARS
    # a short edit is still marked to the character
    old, new = changed_parts(body[:3000] + "一百二十件", body[:3000] + "一百二十一件")
    assert [part["text"] for part in new if part["changed"]] == ["一"]


# ---------------------------------------------------------------- search

@pytest.mark.parametrize("words", ["行政复议", "复议", "政府信息公开 卫生健康局", "样例区卫生健康局"])
def test_search_finds_exactly_the_reports_containing_every_word(client, catalog, words):
    with catalog.reading() as session:
        reports = list(session.scalars(select(Report)))
    wanted = {report.id for report in reports
              if all(word.lower() in (report.title or "").lower() or word.lower() in report.text.lower()
                     for word in words.split())}
    assert wanted
    found, number = [], 1
    while True:
        data = client.get("/api/search", params={"q": words, "page": number}).json()
        found += [item["id"] for item in data["results"]]
        if not data["page"]["has_next"]:
            break
        number += 1
    assert sorted(found) == sorted(wanted) and len(found) == len(set(found))
    document = page(client.get("/search", params={"q": words}))
    assert document.xpath("//ol[@id='results']//mark")
    assert {mark.text_content().lower() for mark in document.xpath("//mark")} <= {w.lower() for w in words.split()}


def test_search_without_a_hit_says_so(client):
    assert "没有找到包含“不存在的词语组合”的存档文档" in page(client.get("/search", params={"q": "不存在的词语组合"})).text_content()
    assert client.get("/api/search", params={"q": ""}).json()["results"] == []
    assert client.get("/api/search", params={"q": "x" * 300}).status_code == 400


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_full_text_search_matches_substrings_on_both_backends(request, tmp_path, backend):
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'c.sqlite3'}"
    catalog = Catalog.open(url)
    portals = DemoPortals()
    texts = {}
    with catalog.session() as session:
        queries.start_run(session, "r1", started_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
        queries.add_segment(session, "warcs/r1/s.warc.gz", "r1", "host")
        for offset, spec in enumerate(portals.reports()[:6]):
            resource = portals.resource(spec.path)
            capture = queries.add_capture(
                session, url=BASE + spec.path, timestamp=datetime(2025, 1, 1, tzinfo=timezone.utc),
                record_type="response", warc_key="warcs/r1/s.warc.gz", offset=offset, length=1, group_length=1,
                record_id=f"<urn:uuid:{offset}>", payload_sha1="A", payload_sha256="0", payload_length=1, run_id="r1")
            record = parse_document(resource.body, FetchContext(url=BASE + spec.path, content_type=resource.content_type))
            texts[queries.add_report(session, capture.id, record).id] = ((record.title or "") + "\n" + record.text).lower()
    try:
        for words in ("行政复议", "复议", "卫生健康局 2021", "示范区", "A", "不存在的词语"):
            with catalog.reading() as session:
                found = {report.id for report in queries.full_text_search(session, words, limit=100)}
            assert found == {rid for rid, text in texts.items() if all(w.lower() in text for w in words.split())}, words
    finally:
        catalog.close()


# ---------------------------------------------------------------- runs

def test_runs_list_each_crawl_with_its_counts_and_errors(client, catalog, demo):
    with catalog.reading() as session:
        runs = list(session.scalars(select(CrawlRun)))
        captures = Counter(session.scalars(select(Capture.run_id)))
        errors = Counter(session.scalars(select(FetchError.run_id)))
    document = page(client.get("/runs"))
    for run in runs:
        row = document.xpath(f"//tr[@data-run='{run.id}']")[0]
        cells = [cell.text_content().strip() for cell in row.xpath("./td")]
        assert cells[5] == str(captures.get(run.id, 0)) and cells[6] == str(errors.get(run.id, 0))
        assert cells[4] == "已完成"
        # times on Beijing's clock, as the verdicts' dates are: the catalog keeps UTC
        assert cells[1] == as_aware(run.started_at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    assert "开始（北京时间）" in document.text_content() and "UTC" not in document.text_content()
    first = demo.run_ids[0]
    detail = page(client.get(f"/runs/{first}")).text_content()
    assert "HTTP 500 服务器内部错误" in detail and "读取超时" in detail and "warcs/" in detail
    segment_states = [row.xpath("./td")[1].text_content() for row in page(client.get(f"/runs/{first}")).xpath(
        "//tr[td[contains(@class, 'mono') and starts-with(normalize-space(.), 'warcs/')]]")]
    assert segment_states and set(segment_states) == {"已上传"}   # the state's name, not its code
    data = client.get(f"/api/runs/{first}").json()
    assert data["capture_total"] == captures[first] and data["error_total"] == errors[first]
    assert client.get("/runs/no-such-run").status_code == 404


def test_the_runs_list_sums_a_crawls_stats_up_and_its_page_shows_them_all(tmp_path):
    """A crawl keeps Scrapy's stats as its counts (a hundred keys): the history's line shows the few a reader
    compares between runs and links the run's page, which lists every one."""
    config = Config.from_env({}, data_dir=tmp_path / "data")
    stats = {f"downloader/response_status_count/{status}": status for status in range(200, 240)}
    stats.update({"archive/response": 1573, "reports/found": 412, "reports/new": 9, "parse/error": 3,
                  "start_time": "2026-12-01T02:00:00+00:00"})
    archive = Archive.open(config, durability="os")
    run_id = archive.run_id
    archive.finish("finished", counts=stats)
    with TestClient(create_app(config)) as client:
        cell = page(client.get("/runs")).xpath(f"//tr[@data-run='{run_id}']/td[contains(@class, 'run-counts')]")[0]
        assert cell.text_content() == f"存档响应 1573，报告 412，新报告 9，解析错误 3 · 全部 {len(stats)} 项统计"
        assert cell.xpath(".//a")[0].get("href") == Urls().run(run_id)
        detail = page(client.get(Urls().run(run_id))).text_content()
        assert all(key in detail for key in stats)


# ---------------------------------------------------------------- the API as a whole

def test_every_page_route_has_a_json_twin_and_the_openapi_lists_them(client):
    routes = {route.path: route for route in client.app.routes if hasattr(route, "methods")}
    pages = [route for route in routes.values() if route.name.endswith("_page")]
    assert len(pages) == len(PAGES)
    for route in pages:
        twin = "/api/dashboard" if route.path == "/" else "/api" + route.path
        assert twin in routes, f"{route.path} has no JSON twin"
    schema = client.get("/openapi.json").json()
    documented = set(schema["paths"])
    for _page, api_path, _template, _view in PAGES:
        assert api_path.replace(":int", "") in documented
    docs = client.get("/docs")
    assert docs.status_code == 200
    # the API browser works offline: its script and style come from this server, not a CDN
    assert "/docs-assets/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


def test_unknown_ids_and_paths_are_404_in_chinese(client):
    for path in ("/reports/999999", "/captures/0", "/agencies/no-such-agency", "/raw/99999999999999999999999",
                 "/reports/abc", "/runs/..%2F..%2Fetc", "/nowhere", "/captures/0/full-page.jpg",
                 "/captures/..%2F..%2Fetc%2Fpasswd/full-page.jpg"):
        response = client.get(path)
        assert response.status_code == 404, path
    assert "没有编号为 999999 的报告" in client.get("/reports/999999").text
    response = client.get("/api/reports/999999")
    assert response.status_code == 404 and response.json()["error"] == "未找到"


def test_pages_declare_no_script_and_forbid_framing_by_others(client):
    response = client.get("/")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert not lxml.html.fromstring(response.text).xpath("//script")


def test_serve_without_a_catalog_says_so_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cli.main", "--data-dir", str(tmp_path / "empty"), "serve"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "xxgk serve: no catalog" in result.stderr
    assert not (tmp_path / "empty" / "catalog.sqlite3").exists()


# ---------------------------------------------------------------- the same pages on PostgreSQL

def test_the_same_archive_on_postgresql_shows_the_same_pages(tmp_path, postgres_url, client, demo):

    pg_demo = build_demo_archive(tmp_path / "pg", env={"XXGK_DATABASE_URL": postgres_url})
    with TestClient(create_app(pg_demo.config)) as pg_client:
        def comparable(data):
            return (data["counts"], data["chart"], data["years"], [(row["agency"], row["cells"]) for row in data["rows"]])

        for query in ({}, {"status": "late"}, {"level": "department", "year": "2023"}):
            assert comparable(pg_client.get("/api/dashboard", params=query).json()) == \
                comparable(client.get("/api/dashboard", params=query).json())
        for kind in ("csv", "json"):
            assert pg_client.get(f"/export.{kind}").content == client.get(f"/export.{kind}").content
        for url, report_id in demo.reports.items():
            mine, theirs = client.get(f"/api/reports/{report_id}").json(), \
                pg_client.get(f"/api/reports/{pg_demo.reports[url]}").json()
            assert theirs["tables"] == mine["tables"], url  # JSONB reorders keys: the page restores the order
            assert theirs["consistency_errors"] == mine["consistency_errors"]
        for words in ("行政复议", "复议", "示范区 2023"):
            found = {item["url"] for item in pg_client.get("/api/search", params={"q": words}).json()["results"]}
            assert found == {item["url"] for item in client.get("/api/search", params={"q": words}).json()["results"]}
        assert pg_client.get("/agencies/sfq-wjj").status_code == 200
        assert pg_client.get("/agencies/%00").status_code == 404  # PostgreSQL refuses NUL: asked nothing
        assert pg_client.get("/api/search", params={"q": "a\x00b"}).status_code == 400


def test_a_capture_whose_warc_is_gone_is_explained_not_crashed(tmp_path):
    from storage.archive import Archive

    config = Config.from_env({}, data_dir=tmp_path / "lost")
    archive = Archive.open(config, durability="os")
    ref = archive.record_fetch(BASE + "/lost.html", "GET", [], 200, "OK", [("Content-Type", "text/html")],
                               "<p>即将丢失的页面</p>".encode(), fetched_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    archive.finish("finished")
    for warc in config.objects_dir.rglob("*.warc.gz"):
        warc.unlink()
    with TestClient(create_app(config)) as lost:
        response = lost.get(f"/raw/{ref.id}")
        assert response.status_code == 500 and "存档读取失败" in response.text and "xxgk verify" in response.text
        assert "存档中找不到该捕获所在的 WARC 段" in response.text   # said in Chinese, the technical line after it
        document = page(lost.get(f"/captures/{ref.id}"))
        assert "无法从存档读取该捕获" in document.text_content()
        assert BASE + "/lost.html" in document.text_content()  # the index row is still shown
        assert lost.get("/api/captures", params={"url": BASE + "/lost.html"}).json()["total"] == 1


def test_header_values_sent_as_utf8_or_gbk_bytes_show_decoded_and_the_rest_escaped(tmp_path):
    """An archivist's walk: a portal sent its file name raw in UTF-8 and its server name in GBK; the capture's
    headers showed Latin-1 mojibake (2023å¹´æ¥.pdf, Ä³ÕþÎñÔÆ). Shown decoded now, saying how, and bytes that are
    neither shown escaped; markup in them stays text. The WARC keeps every byte as sent."""
    from storage.archive import Archive, open_reader

    config = Config.from_env({}, data_dir=tmp_path / "headers")
    sent = [("Content-Type", b"application/pdf"),
            ("Content-Disposition", 'attachment; filename="2023年报.pdf"'.encode("utf-8")),
            ("Server", "某政务云<script>".encode("gbk")),
            ("X-Odd", b"\xff\xfe<b>bold</b>")]
    archive = Archive.open(config, durability="os")
    ref = archive.record_fetch(BASE + "/nb.pdf", "GET", [], 200, "OK", sent, b"%PDF-1.4 report",
                               fetched_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    archive.finish("finished")
    with TestClient(create_app(config)) as shown:
        document = page(shown.get(f"/captures/{ref.id}"))
        table = document.get_element_by_id("headers")
        rows = {row.xpath("./th")[0].text_content(): row.xpath("./td")[0] for row in table.xpath(".//tr[td]")}
        assert rows["Content-Disposition"].text.strip() == 'attachment; filename="2023年报.pdf"'
        assert rows["Server"].text.strip() == "某政务云<script>"
        assert rows["X-Odd"].text.strip() == "\\xff\\xfe<b>bold</b>"
        assert table.xpath(".//script|.//b") == []        # archived bytes are text, never markup
        assert [rows[name].xpath("./span/@data-decoding") for name in ("Content-Type", "Content-Disposition",
                                                                       "Server", "X-Odd")] == [
            [], ["utf-8"], ["gb18030"], ["escaped"]]
        assert "按 GB18030 解码显示" in rows["Server"].text_content()
        text = table.text_content()
        assert not any(mojibake in text for mojibake in ("å¹´", "Ä³", "ÿþ")), text
        data = shown.get(f"/api/captures/{ref.id}").json()["archived"]
        assert data["headers"][1:] == [["Content-Disposition", 'attachment; filename="2023年报.pdf"'],
                                       ["Server", "某政务云<script>"], ["X-Odd", "\\xff\\xfe<b>bold</b>"]]
        assert data["header_decodings"] == [None, "utf-8", "gb18030", "escaped"]
    reader = open_reader(config)
    try:
        assert reader.read(ref.id).raw_headers == [(name.encode(), value) for name, value in sent]
    finally:
        reader.catalog.close()
        reader.store.close()


def test_a_store_or_catalog_that_stops_answering_gives_a_clear_503_not_a_bare_500(tmp_path):
    """An operator's walk: with the S3 server stopped, a capture's page answered a bare English "Internal Server
    Error" (a StoreUnavailable traceback in the log); with PostgreSQL stopped, every page did. Each now says in
    Chinese which part cannot be reached, as a page or as JSON, with status 503."""
    from tests.servers import PostgresServer, SeaweedS3

    s3, postgres = SeaweedS3(), PostgresServer()
    try:
        s3.start()
        postgres.start()
        env = {**s3.env("web-down"), "XXGK_DATABASE_URL": postgres.create_database()}
        built = build_demo_archive(tmp_path / "data", env=env)
        capture_id = next(ids[0] for url, ids in built.captures.items() if url.endswith(".html"))
        with TestClient(create_app(built.config), raise_server_exceptions=False) as client:
            assert client.get(f"/captures/{capture_id}").status_code == 200
            s3.stop()
            page = client.get(f"/captures/{capture_id}")
            raw = client.get(f"/raw/{capture_id}")
            s3.restart()
            postgres.stop()
            board = client.get("/")
            api = client.get("/api/dashboard")
    finally:
        s3.cleanup()
        postgres.cleanup()
    assert page.status_code == 503 and "存档暂时无法访问" in page.text and "对象存储" in page.text, page.text[-500:]
    assert raw.status_code == 503 and "对象存储" in raw.text, raw.text
    assert board.status_code == 503 and "目录暂时无法访问" in board.text, board.text[-500:]
    assert api.status_code == 503 and api.json()["error"] == "目录暂时无法访问", api.text
    for answer in (page, raw, board, api):
        assert "Traceback" not in answer.text and "Error:" not in answer.text and "Internal Server Error" not in answer.text


def test_a_report_page_never_calls_adopted_a_date_its_verdict_refused(client, stored):
    """A walk through the UI: the back-dated report's page marked its claimed 2024-01-26 "采用为发布日期" right under
    "判定 2023 年度：逾期 1036 天", and said nothing of why. The page now gives the verdict's reason and says the
    verdict did not use the date the parser chose."""
    backdated = next(verdict for verdict, _agency in stored if "backdated" in (verdict.flags or []))
    document = page(client.get(f"/reports/{backdated.report_id}"))
    dates = document.get_element_by_id("dates").text_content()
    assert "判定未采用" in dates and "采用为发布日期" not in dates, dates
    assert backdated.evidence["reason"] in document.text_content()
    data = client.get(f"/api/reports/{backdated.report_id}").json()
    assert [item for item in data["dates"] if item["chosen"]][0]["refused"] is True
    assert data["verdicts"][0]["reason"] == backdated.evidence["reason"]


def test_a_page_past_the_end_says_so_not_that_nothing_exists(client):
    """A walk through the UI: /captures?page=1000 said 存档为空 under "共 165 个", and a search's page 5 said nothing
    contained the word although page 1 held 20 hits."""
    captures = page(client.get("/captures", params={"page": 1000})).text_content()
    assert "第 1000 页没有内容" in captures and "存档为空" not in captures
    assert client.get("/search", params={"q": "政府信息公开"}).status_code == 200
    past = page(client.get("/search", params={"q": "政府信息公开", "page": 50})).text_content()
    assert "第 50 页没有内容" in past and "没有找到包含" not in past
