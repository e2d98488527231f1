"""The web UI in a real headless Chromium (playwright) against `xxgk serve` on a loopback port, over the demo
archive: a user's path from the dashboard to an original capture, the filters, the CSV export, a capture diff."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest
from PIL import Image

from demo.portals import DemoPortals
from monitor.verdicts import judge
from registry.catalog_sync import store_agencies
from storage.archive import Archive
from storage.catalog import Catalog, queries
from storage.catalog.models import Report
from storage.config import Config
from tests.web_fixtures import BASE, chromium_browser, serving, shared_demo_archive
from web.labels import status_label

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return shared_demo_archive(tmp_path_factory)


@pytest.fixture(scope="module")
def base_url(demo):
    with serving(demo.config.data_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture(scope="module")
def verdicts(demo):
    catalog = Catalog.open(demo.config, create=False)
    with catalog.reading() as session:
        agencies = {agency.id: agency for agency in queries.list_agencies(session)}
        found = [(verdict, agencies[verdict.agency_id]) for verdict in queries.verdicts(session)]
    catalog.close()
    return found


def shown_cells(page) -> list[tuple[str, int, str]]:
    """(agency name, report year, status text) of every coloured cell of the dashboard table."""
    return [tuple(cell) for cell in page.eval_on_selector_all(
        "#verdicts tbody tr",
        """rows => rows.flatMap(row => [...row.querySelectorAll('td[data-status]')].map(cell =>
               [row.querySelector('th a').textContent.trim(), Number(cell.dataset.year),
                cell.querySelector('a').textContent.trim()]))""")]


def test_dashboard_to_agency_to_report_to_the_original_capture(page, base_url, demo):
    page.goto(base_url + "/")
    assert page.title().startswith("总览")
    page.get_by_role("link", name="示范区医疗保障局").first.click()
    page.wait_for_url(base_url + "/agencies/sfq-ybj")
    assert page.inner_text("h1") == "示范区医疗保障局"

    page.locator("#agency-verdicts tr[data-year='2023'] td:last-child a[href^='/reports/']").click()
    page.wait_for_url(f"{base_url}/reports/*")
    report_id = int(page.url.rsplit("/", 1)[1])
    catalog = Catalog.open(demo.config, create=False)
    with catalog.reading() as session:
        report = session.get(Report, report_id)
    catalog.close()
    assert page.inner_text("#report-title") == report.title
    assert page.locator("td.broken").count() > 0  # sfq-ybj's 2023 report breaks two 勾稽 rules

    page.get_by_role("link", name=f"捕获 {report.capture_id}").first.click()
    page.wait_for_url(f"{base_url}/captures/{report.capture_id}")
    frame = page.frame_locator("iframe.archived")
    assert report.title in frame.locator("body").inner_text()
    archived = next(f for f in page.frames if f.url.endswith(f"/raw/{report.capture_id}"))
    assert archived.evaluate("() => self.origin") == "null"  # sandboxed: an opaque origin, no scripts


def test_year_and_status_filters_change_the_table(page, base_url, verdicts):
    page.goto(base_url + "/")
    assert sorted(shown_cells(page)) == sorted((a.name, v.report_year, status_label(v.status, v.days_late))
                                               for v, a in verdicts)
    page.select_option("select[name=year]", "2022")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/?year=2022*")
    assert page.eval_on_selector_all("#verdicts thead th", "ths => ths.slice(3).map(th => th.textContent)") == ["2022 年度"]
    assert sorted(shown_cells(page)) == sorted((a.name, 2022, status_label(v.status, v.days_late))
                                               for v, a in verdicts if v.report_year == 2022)

    page.select_option("select[name=status]", "late")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**status=late*")
    late = sorted((a.name, 2022, status_label(v.status, v.days_late)) for v, a in verdicts
                  if v.report_year == 2022 and v.status == "late")
    assert late and sorted(shown_cells(page)) == late
    assert page.locator("#verdicts tbody tr").count() == len(late)


def test_agency_names_stay_readable_however_wide_the_year_columns_grow(page, base_url):
    """A 无法判断 cell carries its reason, and a table of several years is wider than the window: the agency's name
    must not be squeezed into a column one character wide (it is what a reader scans the table by)."""
    page.set_viewport_size({"width": 640, "height": 800})
    page.goto(base_url + "/")
    lines = page.eval_on_selector_all("#verdicts tbody th[scope=row] a",
                                      "links => links.map(a => [a.textContent.trim(), a.getClientRects().length])")
    assert lines and all(count <= 2 for _name, count in lines), lines


@pytest.fixture(scope="module")
def unreadable_column(tmp_path_factory):
    """The demo's agencies, ylx-wjj's report column answering 403 on 2025-07-01: its years 2020–2024 are 无法判断,
    each with its ~150-character reason (as 甲市乙区城市管理局's in `xxgk demo`)."""
    config = Config.from_env({}, data_dir=tmp_path_factory.mktemp("unreadable") / "data")
    portals = DemoPortals()
    column = BASE + portals.agency("ylx-wjj").column
    moment = datetime(2025, 7, 1, 2, tzinfo=timezone.utc)
    archive = Archive.open(config, durability="os")
    try:
        store_agencies(archive.catalog, portals.registry(BASE))
        refused = archive.record_fetch(column, "GET", [], 403, "Forbidden", [("Content-Type", "text/html")],
                                       b"<h1>403 Forbidden</h1>", fetched_at=moment, agency_id="ylx-wjj")
        with archive.catalog.session() as session:
            queries.add_coverage(session, run_id=archive.run_id, agency_id="ylx-wjj", read_at=moment,
                                 column_url=column, found_by="registry", capture_id=refused.id, problem="unreadable",
                                 detail="HTTP 403", errors=[{"url": column, "kind": "http", "message": "HTTP 403"}])
        archive.finish("finished")
    except BaseException:
        archive.close()
        raise
    with Catalog.open(config) as catalog:
        judge(catalog, as_of=date(2025, 7, 2), years={"ylx-wjj": [2020, 2021, 2022, 2023, 2024]})
    with serving(config.data_dir) as url:
        yield url


def test_the_newest_years_stay_in_a_laptops_window_beside_the_reasons(page, unreadable_column):
    """A 无法判断 reason runs to ~150 characters; at 1,280 pixels the newest year's column (what a reader looks at
    first) must still be in the window, the reason cut to a few lines (its whole in the cell's title)."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(unreadable_column + "/")
    reasons = page.locator("#verdicts td.cell .reason")
    assert reasons.count() == 5, "the premise: five 无法判断 cells with their reasons"
    last = page.eval_on_selector("#verdicts thead th:last-child", "th => th.getBoundingClientRect().right")
    assert last <= 1280, last
    cell = page.locator("#verdicts td.cell:has(.reason)").first
    assert cell.get_attribute("title") == "无法判断：" + cell.locator(".reason").text_content()   # said once, by the badge


def test_csv_export_downloads_exactly_what_is_shown(page, base_url, tmp_path):
    page.goto(base_url + "/?level=department&year=2023")
    shown = sorted(shown_cells(page))
    assert shown
    with page.expect_download() as waiting:
        page.click("#export-csv")
    path = tmp_path / "export.csv"
    waiting.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"))))
    assert rows[0][1] == "机关" and rows[0][4] == "报告年度" and rows[0][5] == "状态"
    assert sorted((row[1], int(row[4]), row[5]) for row in rows[1:]) == shown


def test_a_capture_diff_renders_the_edited_lines(page, base_url):
    report = next(r for r in DemoPortals().reports() if r.revision is not None)
    old_sentence, new_sentence = report.revision.sentence
    page.goto(f"{base_url}/captures?url={BASE}{report.path}")
    page.get_by_role("link", name="与上一版比较").click()
    page.wait_for_url("**/diff?a=*")
    assert "新增" in page.inner_text("#diff-summary")
    assert any(new_sentence in text for text in page.locator("#diff tr.insert").all_inner_texts())
    assert any(old_sentence in text for text in page.locator("#diff tr.delete").all_inner_texts())


def test_a_whole_page_screenshot_is_rendered_when_asked_for_and_kept(page, base_url, demo):
    """整页截图 from a report page: the server renders the archived page in its own Chromium (the crawl keeps only
    the first screen), the browser shows the picture, and the picture is kept for the next visitor."""
    url = next(url for url in demo.reports if url.endswith(".shtml"))
    page.goto(f"{base_url}/reports/{demo.reports[url]}")
    with page.expect_response("**/full-page.jpg") as answered:
        page.get_by_role("link", name="整页截图").click()
    response = answered.value
    assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.body()))
    assert image.format == "JPEG" and image.width == 1280 and image.height > 1000  # the whole page, not one screen
    page.wait_for_url("**/full-page.jpg")  # the browser shows the picture itself

    assert list((demo.config.data_dir / "cache" / "full-page").glob("*.jpg"))
    again = page.request.get(response.url)
    assert again.status == 200 and again.body() == response.body()
