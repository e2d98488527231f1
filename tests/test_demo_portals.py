"""The demo portals: five fictional agency portals on one loopback server, and the ground truth they carry.

Everything is fetched over real HTTP with httpx from a DemoServer on a free port and read back with the real
libraries (lxml, pdfplumber, python-docx, a headless Chromium for the JavaScript listing).
"""
from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urljoin

import docx
import httpx
import lxml.html
import pdfplumber
import pytest

from demo.narrative import COPIED, STORIES
from demo.portals import (
    AGENCIES,
    BEIJING,
    FLAG_BACKDATED,
    FLAG_CONSISTENCY,
    FLAG_COPIED,
    FLAG_EDITED,
    JS_LIST_JSON,
    REPORTS,
    ROBOTS_DISALLOWED,
    DemoPortals,
    render_site,
    report_document,
    statutory_deadline,
    substitute,
)
from demo.render import Cell, Paragraph, SeedDocument, Table, load_seed, table_grid
from demo.server import DemoServer
from monitor import flags as copy_check
from parsers.shingles import fingerprint
from parsers.document import parse_document
from parsers.record import FetchContext

SLOW = 0.6  # seconds the slow page waits in these tests
REAL_NAMES = ("临淄", "淄博", "遂宁", "安居", "普陀", "镇海", "山东", "浙江", "晏婴", "蟠龙", "scanju", "zhj.zh",
              "shandong", "7181093", "8663655", "531313422")


@pytest.fixture(scope="module")
def server():
    """A read-only edition-1 server shared by the tests that neither change the edition nor read the log."""
    with DemoServer(slow_seconds=SLOW) as running:
        yield running


@pytest.fixture
def own_server():
    """A fresh server for tests that change its state (edition, request log)."""
    with DemoServer(slow_seconds=SLOW) as running:
        yield running


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        yield http


def charset_of(response: httpx.Response) -> str:
    match = re.search(r"charset=([\w-]+)", response.headers.get("content-type", ""))
    assert match, f"no charset in {response.headers.get('content-type')} for {response.url}"
    return match.group(1)


def html_of(response: httpx.Response):
    return lxml.html.document_fromstring(response.content.decode(charset_of(response)))


def links_of(response: httpx.Response) -> dict[str, str]:
    """Link text → absolute URL, for the links of a page."""
    root = html_of(response)
    return {" ".join(a.text_content().split()): urljoin(str(response.url), a.get("href"))
            for a in root.iter("a") if a.get("href")}


def listing_links(response: httpx.Response) -> list[tuple[str, str, str]]:
    """(title, absolute URL, date text) of each entry of a listing page."""
    root = html_of(response)
    return [(li.find("a").text_content(), urljoin(str(response.url), li.find("a").get("href")),
             li.find("span").text_content()) for li in root.cssselect("ul.list > li")]


def document_text(response: httpx.Response) -> str:
    content_type = response.headers["content-type"]
    if content_type == "application/pdf":
        with pdfplumber.open(io.BytesIO(response.content)) as pdf:
            return "\n".join(page.extract_text() or "" for page in pdf.pages)
    if "wordprocessingml" in content_type:
        document = docx.Document(io.BytesIO(response.content))
        cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        return "\n".join([p.text for p in document.paragraphs] + cells)
    return html_of(response).text_content()


def grid_row(response: httpx.Response, label: str) -> list[str]:
    """The cells of the first HTML table row whose first cell is ``label``."""
    for row in html_of(response).iter("tr"):
        cells = [cell.text_content().strip() for cell in row if cell.tag in ("td", "th")]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no table row {label!r} on {response.url}")


# ---------------------------------------------------------------- navigation and listings


@pytest.mark.parametrize("agency", AGENCIES, ids=lambda a: a.id)
def test_homepage_leads_to_the_report_column(client, agency):
    home = client.get(agency.homepage)
    assert home.status_code == 200
    section = links_of(home)[agency.xxgk_label]
    disclosure = client.get(section)
    assert disclosure.status_code == 200
    column = links_of(disclosure)[agency.column_label]
    assert column == client.base_url.join(agency.column)
    assert client.get(column).status_code == 200


def test_trs_listing_is_gbk_with_create_page_html_pagination(client):
    agency = DemoPortals().agency("sfq-wjj")
    first = client.get(agency.column)
    assert charset_of(first) == "GBK"
    assert b'<meta charset="GBK">' in first.content
    with pytest.raises(UnicodeDecodeError):
        first.content.decode("utf-8")
    assert 'createPageHTML(3, 0, "index", "html")' in first.content.decode("gbk")
    entries = listing_links(first)
    for number in (1, 2):
        page = client.get(f"/trs/xxgk/xxgknb/index_{number}.html")
        assert page.status_code == 200
        assert f'createPageHTML(3, {number}, "index", "html")' in page.content.decode("gbk")
        entries += listing_links(page)
    assert client.get("/trs/xxgk/xxgknb/index_3.html").status_code == 404
    # Every report (by the URL the listing gives), notice, news item and faulty link is on one of the three pages.
    portals = DemoPortals()
    listed = {url for _title, url, _date in entries}
    wanted = {r.listing_url for r in portals.expected_reports(client.base_url) if r.agency_id == agency.id}
    wanted |= {p.url for p in portals.expected_non_reports(client.base_url) if p.agency_id == agency.id}
    assert listed == wanted
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) for _title, _url, day in entries)
    assert any(re.search(r"/\d{6}/t\d{8}_\d+\.html$", url) for url in listed)


def test_hanweb_listing_pages_by_query_with_dates_in_span(client):
    agency = DemoPortals().agency("ylx-wjj")
    first = client.get(agency.column)
    assert "charset=utf-8" in first.headers["content-type"]
    second_url = links_of(first)["下一页"]
    assert second_url.endswith("index.html?page=2")
    second = client.get(second_url)
    assert links_of(second)["上一页"] == str(client.base_url.join(agency.column))
    assert client.get(agency.column + "?page=1").content == first.content
    assert client.get(agency.column + "?page=9").status_code == 404
    entries = listing_links(first) + listing_links(second)
    reports = {r.listing_url: r for r in DemoPortals().expected_reports(client.base_url) if r.agency_id == agency.id}
    for title, url, day in entries:
        if url in reports:
            assert (title, day) == (reports[url].title, reports[url].publication_date.isoformat())
            assert re.search(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_1229_\d+\.html$", url)
    assert set(reports) <= {url for _title, url, _day in entries}


def test_vsb_listing_and_catalog_box(client):
    portals = DemoPortals()
    agency = portals.agency("sfq-gov")
    first = client.get(agency.column)
    second = client.get(links_of(first)["下页"])
    assert second.url.path == "/vsb/xxgk/gknb/1.htm"
    entries = listing_links(first) + listing_links(second)
    reports = [r for r in portals.expected_reports(client.base_url) if r.agency_id == agency.id]
    assert {r.url for r in reports} <= {url for _t, url, _d in entries}
    for report in reports:
        assert re.search(r"/info/\d+/\d+\.htm$", report.url)  # no date in a VSB URL
        page = client.get(report.url)
        box = {th.text_content().rstrip("："): td.text_content()
               for th, td in zip(html_of(page).cssselect(".xxgk-catalog th"), html_of(page).cssselect(".xxgk-catalog td"))}
        assert set(box) == {"索引号", "发布机构", "成文日期", "公开日期"}
        assert box["公开日期"] == report.publication_date.isoformat()
        assert box["发布机构"] == "示范区人民政府"
        assert box["成文日期"] < box["公开日期"]


def test_js_listing_is_empty_until_the_script_fills_it_from_json(client):
    portals = DemoPortals()
    agency = portals.agency("sfq-ybj")
    listing = client.get(agency.column)
    root = html_of(listing)
    assert [len(ul) for ul in root.cssselect("ul#list")] == [0]
    assert "list.json" in listing.text
    data = client.get(JS_LIST_JSON)
    assert data.headers["content-type"] == "application/json; charset=utf-8"
    items = data.json()["items"]
    reports = [r for r in portals.expected_reports() if r.agency_id == agency.id]
    assert {(r.title, r.url, r.listing_date) for r in reports} <= {(i["title"], i["url"], i["date"]) for i in items}
    # A real browser runs the script and shows the entries.
    rendered = subprocess.run(
        ["/usr/lib/chromium/chromium-headless-shell", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", str(client.base_url.join(agency.column))],
        capture_output=True, text=True, timeout=120)
    dom = lxml.html.document_fromstring(rendered.stdout)
    shown = [a.text_content() for a in dom.cssselect("ul#list li a")]
    assert shown == [item["title"] for item in items]


def test_files_listing_links_documents_directly(client):
    portals = DemoPortals()
    agency = portals.agency("ysq-wjw")
    entries = listing_links(client.get(agency.column))
    kinds = {url.rsplit(".", 1)[-1] for _t, url, _d in entries}
    assert {"pdf", "docx", "html"} <= kinds
    page_report = next(r for r in portals.expected_reports(client.base_url)
                       if r.agency_id == agency.id and r.attachment_url)
    page = client.get(page_report.url)
    assert links_of(page)[f"{page_report.title}.pdf（{page_report.attachment_url.rsplit('/', 1)[-1]}）"] \
        == page_report.attachment_url
    assert client.get(page_report.attachment_url).headers["content-type"] == "application/pdf"


# ---------------------------------------------------------------- the reports


@pytest.mark.parametrize("edition", (1, 2))
def test_every_report_serves_a_document_with_its_facts(own_server, edition):
    own_server.set_edition(edition)
    content_types = {"html": "text/html", "pdf": "application/pdf", "docx": "application/vnd.openxmlformats"}
    with httpx.Client(timeout=10, follow_redirects=True) as http:
        for report in own_server.portals.expected_reports(own_server.base_url):
            response = http.get(report.listing_url)
            assert response.status_code == 200, report.listing_url
            assert str(response.url) == report.url
            assert response.headers["content-type"].startswith(content_types[report.formats[0]])
            text = document_text(response)
            if report.attachment_url:
                assert report.title in text
                text = document_text(http.get(report.attachment_url))
            compact = re.sub(r"\s+", "", text)
            assert report.printed_name in compact, report.url
            assert f"{report.report_year}年" in compact, report.url
            for key in report.key_strings:
                assert key in compact, (report.url, key)
            last_modified = parsedate_to_datetime(response.headers["last-modified"])
            assert last_modified.astimezone(BEIJING).date() >= report.publication_date


def test_html_reports_show_the_portal_date_where_their_cms_puts_it(client):
    for report in DemoPortals().expected_reports(client.base_url):
        if report.formats != ("html",):
            continue
        page = html_of(client.get(report.url))
        shown = page.cssselect(".info .date")[0].text_content()
        assert report.publication_date.isoformat() in shown
        pubdate = page.cssselect('meta[name="PubDate"]')
        if report.agency_id in ("sfq-wjj", "ylx-wjj"):
            assert pubdate[0].get("content").startswith(report.publication_date.isoformat())
        else:
            assert pubdate == []


def test_gbk_portal_pages_all_decode_as_gbk(client):
    site = DemoPortals().site()
    gbk_paths = [path for path, resource in site.items()
                 if path.startswith("/trs/") and resource.status == 200]
    assert len(gbk_paths) >= 8
    for path in gbk_paths:
        response = client.get(path)
        assert response.headers["content-type"] == "text/html; charset=GBK"
        text = response.content.decode("gbk")
        assert "示范区卫生健康局" in text
        assert re.search(r'<meta charset="gbk">', text, re.IGNORECASE)


def test_no_real_agency_name_or_contact_is_served(client):
    for path, resource in DemoPortals().with_edition(2).site().items():
        if resource.status != 200:
            continue
        if resource.content_type.startswith(("application/pdf", "application/vnd")):
            text = document_text(httpx.Response(200, headers={"content-type": resource.content_type},
                                                content=resource.body))
        else:
            text = resource.body.decode("gbk" if "GBK" in resource.content_type else "utf-8")
        found = [name for name in REAL_NAMES if name in text]
        assert found == [], f"{path} still names {found}"


def test_broken_consistency_report_has_exactly_one_changed_number(client):
    portals = DemoPortals()
    broken = next(r for r in portals.expected_reports(client.base_url) if FLAG_CONSISTENCY in r.flags)
    spec = next(s for s in REPORTS if (s.agency_id, s.year) == (broken.agency_id, broken.report_year))
    sound = report_document(replace(spec, broken_cell=None), edition=1)  # the same report as its tables add up
    broken_page = client.get(broken.url)

    served = [cell.text_content().strip() for cell in html_of(broken_page).xpath("//div[@id='zoom']//*[self::td or self::th]")]
    planned = [cell.text.strip() for table in sound.tables for row in table.rows for cell in row]
    assert len(served) == len(planned)
    differing = [(a, b) for a, b in zip(served, planned) if a != b]
    assert differing == [("3", "2")]
    # Column 自然人: 一 is 3 while (七)总计 is still 2 (二 and 四 are 0), so 一+二 ≠ (七)+四;
    # the row total stayed 2, so 总计 ≠ 自然人 + 法人或其他组织 as well.
    new_in = grid_row(broken_page, "一、本年新收政府信息公开申请数量")
    assert (new_in[1], new_in[-1]) == ("3", "2")
    assert grid_row(broken_page, "（七）总计")[1] == "2"


def _parsed(portals: DemoPortals, spec):
    """The report as the crawler's pipeline parses it (the attachment, when the page only links it)."""
    path = spec.attachment_path or spec.path
    resource = portals.resource(path)
    return parse_document(resource.body, FetchContext(url="http://demo.test" + path,
                                                      content_type=resource.content_type))


# Honest reports should not merely pass the copy check (monitor.flags.COPY_THRESHOLD, 0.5) but stay far below it.
HONEST_CEILING = 0.2


def test_honest_reports_are_far_apart_and_the_copied_one_matches_its_source():
    """Every pair of honest demo reports shares well under the copy threshold (the monitor's own fingerprint and
    containment score, over the text its parser extracts); the one report built as a copy matches its source."""
    portals = DemoPortals(edition=2)
    specs = {(spec.agency_id, spec.year): spec for spec in portals.reports()}
    records = {key: _parsed(portals, spec) for key, spec in specs.items()}
    prints = {key: fingerprint(record.text) for key, record in records.items()}
    assert all(len(found) >= copy_check.MIN_SHINGLES for found in prints.values())  # long enough to be judged
    copied = [key for key, spec in specs.items() if FLAG_COPIED in spec.flags]
    assert copied == [COPIED]
    honest = [key for key in specs if key != COPIED]
    scores = {(a, b): copy_check.similarity(prints[a], prints[b]).score for a in honest for b in honest if a != b}
    worst = max(scores, key=scores.get)
    assert scores[worst] < HONEST_CEILING, f"{worst} share {scores[worst]:.0%} of their 5-grams"
    source = STORIES[COPIED].copied_from
    assert copy_check.similarity(prints[COPIED], prints[source]).score >= copy_check.COPY_THRESHOLD
    assert max(copy_check.similarity(prints[COPIED], prints[key]).score
               for key in honest if key != source) < HONEST_CEILING
    # the tables the text is written around add up everywhere except in the one report broken on purpose
    broken = {key for key, record in records.items() if record.consistency_errors}
    assert broken == {key for key, spec in specs.items() if FLAG_CONSISTENCY in spec.flags}


# ---------------------------------------------------------------- faults


def test_dead_link_answers_404_and_server_error_500(client):
    pages = {p.kind: p for p in DemoPortals().expected_non_reports(client.base_url)}
    assert client.get(pages["dead_link"].url).status_code == 404
    error = client.get(pages["server_error"].url)
    assert error.status_code == 500
    assert pages["dead_link"].http_status == 404 and pages["server_error"].http_status == 500


def test_old_report_url_redirects_permanently(client):
    report = next(r for r in DemoPortals().expected_reports(client.base_url) if r.listing_url != r.url)
    first = client.get(report.listing_url)
    assert first.status_code == 301
    assert urljoin(report.listing_url, first.headers["location"]) == report.url
    assert client.get(report.url).status_code == 200


def test_redirect_loop_never_ends(client):
    loop = next(p for p in DemoPortals().expected_non_reports(client.base_url) if p.kind == "redirect_loop")
    first = client.get(loop.url)
    second = client.get(urljoin(loop.url, first.headers["location"]))
    assert (first.status_code, second.status_code) == (302, 302)
    assert urljoin(loop.url, second.headers["location"]) == loop.url
    with pytest.raises(httpx.TooManyRedirects):
        client.get(loop.url, follow_redirects=True)


def test_slow_page_answers_after_the_configured_delay(client):
    slow = next(p for p in DemoPortals().expected_non_reports(client.base_url) if p.kind == "slow")
    with pytest.raises(httpx.ReadTimeout):
        client.get(slow.url, timeout=SLOW / 3)
    started = time.monotonic()
    response = client.get(slow.url, timeout=SLOW * 10)
    assert response.status_code == 200
    assert time.monotonic() - started >= SLOW
    started = time.monotonic()
    assert client.get("/jsportal/index.html").status_code == 200
    assert time.monotonic() - started < SLOW


def test_conditional_requests_get_304(client):
    report = DemoPortals().expected_reports(client.base_url)[0]
    first = client.get(report.url)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(report.url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(report.url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(report.url, headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified).replace(year=2000), usegmt=True)
    assert client.get(report.url, headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match decides when both are sent.
    both = client.get(report.url, headers={"If-None-Match": '"other"', "If-Modified-Since": last_modified})
    assert both.status_code == 200 and both.content == first.content
    not_modified = client.get(report.url, headers={"If-None-Match": etag})
    assert not_modified.content == b"" and not_modified.headers["etag"] == etag
    head = client.head(report.url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(first.content))


def test_robots_txt_disallows_the_private_report_that_the_listing_links(client):
    robots = client.get("/robots.txt")
    assert robots.headers["content-type"] == "text/plain; charset=utf-8"
    lines = [line.strip() for line in robots.text.splitlines()]
    assert "User-agent: *" in lines and f"Disallow: {ROBOTS_DISALLOWED}" in lines
    private = next(p for p in DemoPortals().expected_non_reports(client.base_url) if p.kind == "robots_private")
    assert private.url.startswith(str(client.base_url.join(ROBOTS_DISALLOWED)))
    # Behind it: a page that looks like the 2024 report sfq-wjj never published.
    assert "2024年政府信息公开工作年度报告" in html_of(client.get(private.url)).text_content()


# ---------------------------------------------------------------- edition 2


def test_edition_two_changes_exactly_the_planned_pages():
    first, second = render_site(1), render_site(2)
    changed = {path for path in set(first) | set(second)
               if path not in first or path not in second or first[path].body != second[path].body}
    portals = DemoPortals(edition=2)
    edited = next(r for r in portals.expected_reports() if FLAG_EDITED in r.flags)
    backdated = next(r for r in portals.expected_reports() if FLAG_BACKDATED in r.flags)
    hanweb_listing = {path for path in second if path.startswith(portals.agency(backdated.agency_id).column)}
    assert changed == {edited.url, backdated.url} | hanweb_listing
    assert backdated.url not in first
    assert render_site(1)[edited.url].body == first[edited.url].body  # same bytes on every rendering


def test_edited_report_same_url_new_content(own_server):
    http = httpx.Client(base_url=own_server.base_url, timeout=10)
    edited = next(r for r in own_server.portals.with_edition(2).expected_reports(own_server.base_url)
                  if FLAG_EDITED in r.flags)
    before = http.get(edited.url)
    assert grid_row(before, "行政处罚")[1] == "173"
    assert "主动公开各类信息745条" in document_text(before)
    own_server.set_edition(2)
    conditional = http.get(edited.url, headers={"If-None-Match": before.headers["etag"],
                                                "If-Modified-Since": before.headers["last-modified"]})
    assert conditional.status_code == 200
    assert grid_row(conditional, "行政处罚")[1] == "185"
    assert "主动公开各类信息812条" in document_text(conditional)
    assert conditional.headers["etag"] != before.headers["etag"]
    assert parsedate_to_datetime(conditional.headers["last-modified"]) > parsedate_to_datetime(
        before.headers["last-modified"])
    unedited = next(r for r in DemoPortals().expected_reports()
                    if (r.agency_id, r.report_year) == (edited.agency_id, edited.report_year))
    assert FLAG_EDITED not in unedited.flags


def test_backdated_report_appears_only_in_edition_two(own_server):
    http = httpx.Client(base_url=own_server.base_url, timeout=10)
    backdated = next(r for r in own_server.portals.with_edition(2).expected_reports(own_server.base_url)
                     if FLAG_BACKDATED in r.flags)
    column = own_server.portals.agency(backdated.agency_id).column

    def listed() -> dict[str, str]:
        entries = []
        page = http.get(column)
        while True:
            entries += listing_links(page)
            next_page = links_of(page).get("下一页")
            if not next_page:
                return {url: day for _t, url, day in entries}
            page = http.get(next_page)

    assert backdated.url not in listed()
    assert http.get(backdated.url).status_code == 404
    own_server.set_edition(2)
    assert listed()[backdated.url] == backdated.publication_date.isoformat()
    page = http.get(backdated.url)
    assert page.status_code == 200
    pubdate = html_of(page).cssselect('meta[name="PubDate"]')[0].get("content")
    assert pubdate.startswith(backdated.publication_date.isoformat())
    assert backdated.publication_date <= statutory_deadline(backdated.report_year, "department") < backdated.appeared
    assert parsedate_to_datetime(page.headers["last-modified"]).date() == backdated.appeared
    assert f"/art/{backdated.appeared.year}/{backdated.appeared.month}/{backdated.appeared.day}/" in backdated.url


def test_request_log_and_edition_are_recorded(own_server):
    http = httpx.Client(base_url=own_server.base_url, timeout=10, headers={"User-Agent": "demo-test"})
    http.get("/robots.txt")
    own_server.set_edition(2)
    http.get("/robots.txt", headers={"If-None-Match": '"x"'})
    http.get("/nothing-here")
    log = own_server.requests
    assert [(r.path, r.status, r.edition, r.conditional) for r in log] == [
        ("/robots.txt", 200, 1, False), ("/robots.txt", 200, 2, True), ("/nothing-here", 404, 2, False)]
    assert {r.user_agent for r in log} == {"demo-test"}
    assert own_server.hits("/robots.txt") == 2
    assert own_server.hits(ROBOTS_DISALLOWED + "x.html") == 0


# ---------------------------------------------------------------- ground truth


def verdicts_by_key(portals: DemoPortals, as_of: date) -> dict[tuple[str, int], object]:
    return {(v.agency_id, v.report_year): v for v in portals.expected_verdicts(as_of)}


def test_expected_verdicts_cover_every_case():
    after = verdicts_by_key(DemoPortals(), date(2025, 6, 1))
    statuses = {v.status for v in after.values()}
    assert statuses == {"on_time", "late", "missing"}
    late = after[("sfq-wjj", 2022)]
    assert (late.status, late.publication_date, late.deadline, late.days_late) == \
        ("late", date(2023, 2, 10), date(2023, 1, 31), 10)
    assert after[("sfq-wjj", 2024)].status == "missing"
    assert after[("ylx-wjj", 2022)].status == "missing"          # a gap year between two reports
    assert after[("ysq-wjw", 2016)].status == "missing"          # and one under the 2008 rule
    government = after[("sfq-gov", 2022)]                        # 31 March, not 31 January
    assert (government.status, government.deadline) == ("on_time", date(2023, 3, 31))
    assert (after[("sfq-gov", 2024)].status, after[("sfq-gov", 2024)].days_late) == ("late", 8)
    assert (after[("ysq-wjw", 2018)].status, after[("ysq-wjw", 2018)].deadline) == ("on_time", date(2019, 3, 31))
    # Before the 2024 deadlines: sfq-wjj's missing report is still pending, ylx-wjj's report is not out yet.
    before = verdicts_by_key(DemoPortals(), date(2025, 1, 15))
    assert before[("sfq-wjj", 2024)].status == "pending"
    assert before[("ylx-wjj", 2024)].status == "pending"
    assert before[("sfq-ybj", 2024)].status == "pending"         # published 2025-01-16, after as_of
    assert before[("sfq-gov", 2024)].status == "pending"         # a government has until 31 March


def test_pending_turns_into_report_or_missing_by_as_of():
    portals = DemoPortals()
    assert verdicts_by_key(portals, date(2025, 1, 15))[("sfq-ybj", 2024)].status == "pending"
    assert verdicts_by_key(portals, date(2025, 1, 16))[("sfq-ybj", 2024)].status == "on_time"
    assert verdicts_by_key(portals, date(2025, 1, 31))[("sfq-wjj", 2024)].status == "pending"
    assert verdicts_by_key(portals, date(2025, 2, 1))[("sfq-wjj", 2024)].status == "missing"
    assert ("sfq-wjj", 2025) not in verdicts_by_key(portals, date(2025, 12, 31))


def test_copied_flag_is_expected_on_exactly_one_report():
    for edition in (1, 2):
        verdicts = verdicts_by_key(DemoPortals(edition=edition), date(2025, 7, 1))
        assert [key for key, v in verdicts.items() if FLAG_COPIED in v.flags] == [COPIED]
    assert verdicts[COPIED].status == "on_time"
    assert STORIES[COPIED].copied_from == (COPIED[0], COPIED[1] - 1)  # the agency's own previous year


def test_backdated_flag_only_once_the_report_is_listed():
    first = verdicts_by_key(DemoPortals(edition=1), date(2025, 7, 1))[("ylx-wjj", 2023)]
    second = verdicts_by_key(DemoPortals(edition=2), date(2025, 7, 1))[("ylx-wjj", 2023)]
    assert (first.status, first.flags) == ("missing", ())
    assert second.status == "on_time" and FLAG_BACKDATED in second.flags
    assert second.publication_date == date(2024, 1, 26)


def test_oracle_agrees_with_the_project_deadline_rules():
    from monitor.deadlines import verdict
    from parsers.record import DateEvidence

    for edition in (1, 2):
        portals = DemoPortals(edition=edition)
        for as_of in (date(2025, 1, 15), date(2025, 7, 1)):
            for expected in portals.expected_verdicts(as_of):
                level = portals.agency(expected.agency_id).level
                evidence = None
                if expected.publication_date:
                    evidence = DateEvidence(expected.publication_date, "meta_pubdate",
                                            expected.publication_date.isoformat())
                judged = verdict(expected.report_year, level, as_of=as_of, publication=evidence)
                assert (judged.status, judged.deadline, judged.days_late) == \
                    (expected.status, expected.deadline, expected.days_late), expected


def test_expected_reports_match_the_data():
    reports = DemoPortals(edition=2).expected_reports("http://x")
    assert len(reports) == len(REPORTS)
    assert len(DemoPortals().expected_reports()) == len(REPORTS) - 1  # the back-dated one is not there yet
    for report in reports:
        assert report.url.startswith("http://x/")
        assert report.days_late == max((report.publication_date - report.deadline).days, 0)
        assert report.status == ("late" if report.days_late else "on_time")
    years = {(r.agency_id, r.report_year) for r in reports}
    assert len(years) == len(reports)  # one report per agency and year


# ---------------------------------------------------------------- registry


def test_registry_yaml_describes_the_demo_agencies(server):
    from registry.agencies import validate

    agencies = DemoPortals().registry(server.base_url)
    assert validate(agencies) == []
    by_id = {a.id: a for a in agencies}
    assert set(by_id) == {a.id for a in AGENCIES}
    for site in AGENCIES:
        entry = by_id[site.id]
        assert (entry.name, entry.level, entry.parent, entry.aliases) == (site.name, site.level, site.parent,
                                                                          site.aliases)
        assert entry.homepage == server.base_url + site.homepage
        assert entry.report_index in ((), (server.base_url + site.column,))
        assert entry.robots == "obey"
        assert httpx.get(entry.homepage).status_code == 200
    assert sum(1 for a in agencies if not a.report_index) >= 2
    assert by_id["sfq-ybj"].render == "auto"
    assert {a.level for a in agencies} == {"government", "department"}


# ---------------------------------------------------------------- building blocks and the server itself


def test_substitute_replaces_everywhere_in_one_pass():
    doc = SeedDocument("t", "甲局2022年报告", [
        Paragraph("甲局2022年报告", "title"), Paragraph("2022年，甲局于2023年1月29日签发。"),
        Table([[Cell("甲局", colspan=2)], [Cell("2022年"), Cell("7")]])])
    changed = substitute(doc, {"甲局": "乙局", "2022年": "2023年", "2023年1月29日": "2024年1月26日"})
    assert changed.title == "乙局2023年报告"
    assert changed.blocks[1].text == "2023年，乙局于2024年1月26日签发。"
    assert table_grid(changed.blocks[2]) == [["乙局", "乙局"], ["2023年", "7"]]
    assert doc.blocks[1].text == "2022年，甲局于2023年1月29日签发。"  # the original is untouched
    seed = load_seed("001")
    assert substitute(seed, {}).blocks == seed.blocks


def test_server_refuses_non_loopback_and_stops_cleanly():
    with pytest.raises(ValueError):
        DemoServer(host="0.0.0.0")
    server = DemoServer(slow_seconds=30).start()
    base = server.base_url
    assert base.startswith("http://127.0.0.1:")
    slow = next(p for p in DemoPortals().expected_non_reports(base) if p.kind == "slow")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(slow.url, timeout=0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/robots.txt", timeout=2)


def test_command_line_entry_serves_until_stopped():
    process = subprocess.Popen([sys.executable, "-m", "demo.server", "--port", "0", "--quiet",
                                "--edition", "2", "--slow", "0.1"], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        backdated = next(r for r in DemoPortals(edition=2).expected_reports(base) if FLAG_BACKDATED in r.flags)
        assert httpx.get(backdated.url, timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
