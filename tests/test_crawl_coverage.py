"""What a run read of each agency's report column, and how it got there: the real crawl (a child process running
Scrapy, the archive, the parse pool) against small portals on loopback, then ``xxgk crawl`` for a second run.

Each agency of ``CoveragePortals`` reaches its column another way: the registry's URL (a two-page listing), a
registry URL that answers 404 with the column only in the site's own GBK search, only in ``sitemap.xml``, only in
the 信息公开目录's script-built tree, a column shared with another agency, a site with no column anywhere, and a
column that answers 403 in the second state, and a column whose second listing page answers 500. In the second state one report was deleted: gone from the listing,
its URL 404 — only asking for the known URL again shows it.
"""
from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from demo.portals import Resource
from demo.server import DemoServer
from registry.agencies import Agency, dump_registry
from storage.catalog import queries
from storage.catalog.models import Capture
from tests.crawling import catalog_of, config_in, crawl
from tests.servers import free_port
from tests.test_cli_parse import run

pytestmark = pytest.mark.slow

FIELDS = {"listed": "义务教育、学生资助和校园安全", "search": "城乡低保、特困供养和临时救助",
          "sm": "河道管护、防汛调度和农村供水", "gk": "文物保护、公共文化服务和旅游市场监管",
          "gone": "市容环境卫生、违法建设治理和停车管理", "broken": "公共卫生、医疗服务和疾病预防控制"}
NAMES = {"listed": "丙县教育局", "search": "丙县民政局", "sm": "丙县水利局", "gk": "丙县文化和旅游局",
         "gone": "丙县城市管理局", "nothing": "丙县档案馆", "shared": "丙县教育督导室", "blocked": "丙县司法局",
         "broken": "丙县卫生健康局", "fenced": "丙县统计局"}
YEARS = {"listed": (2019, 2020, 2021, 2022, 2023), "search": (2022, 2023), "sm": (2022, 2023), "gk": (2023,),
         "gone": (2023,), "broken": (2019, 2020, 2021, 2022, 2023)}
DELETED = "/listed/art/2021/nb2021.html"    # cov-listed's 2021 report, deleted in the second state
BROKEN_PAGE = "/broken/nb/index_1.html"      # cov-broken's second listing page: HTTP 500 in both states
FENCED_ROBOTS = "User-agent: *\nDisallow: /search/\nDisallow: /sitemap.xml\n"
FENCED_COLUMN = "/fenced/xxgk/ndbg/index.html"   # named only by the search results and the sitemap, both forbidden
SEARCH_WORDS = "年度报告"
PAGE_SIZE = 4
FAST = ["AUTOTHROTTLE_ENABLED=false", "DOWNLOAD_DELAY=0", "RETRY_TIMES=0", "RETRY_BACKOFF_BASE=0",
        "ARCHIVE_DURABILITY=os", "DISCOVERY_JS_RENDER=false"]


@dataclass(frozen=True)
class _Entry:
    title: str
    path: str
    day: str


def _page(title: str, body: str, head: str = "", encoding: str = "utf-8") -> bytes:
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="{encoding}"><title>{html.escape(title)}</title>'
            f'{head}</head><body><div class="header">丙县人民政府门户网站</div>{body}'
            f'<div class="footer">主办：丙县人民政府办公室</div></body></html>').encode(encoding)


def _report(prefix: str, year: int, day: str) -> bytes:
    name = NAMES[prefix]
    title = f"{name}{year}年政府信息公开工作年度报告"
    body = (f'<div class="article"><h1>{title}</h1><div class="info">发布日期：{day}</div>'
            f"<p>本报告依据《中华人民共和国政府信息公开条例》和国办公开办函〔2021〕30号要求编制。</p>"
            f"<p>一、总体情况</p><p>{year}年，{name}围绕{FIELDS[prefix]}主动公开政府信息{40 + year % 100}条。</p>"
            f"<p>二、主动公开政府信息情况</p><p>三、收到和处理政府信息公开申请情况</p>"
            f"<p>四、政府信息公开行政复议、行政诉讼情况</p><p>五、存在的主要问题及改进情况</p>"
            f"<p>六、其他需要报告的事项</p><p style=\"text-align:right\">{name}</p></div>")
    return _page(title, body, f'<meta name="PubDate" content="{day} 09:00">')


def _entries(prefix: str, edition: int) -> list[_Entry]:
    entries = [_Entry(f"{NAMES[prefix]}{year}年政府信息公开工作年度报告", f"/{prefix}/art/{year}/nb{year}.html",
                      f"{year + 1}-01-2{year % 5}") for year in YEARS[prefix]]
    entries += [_Entry(f"{NAMES[prefix]}召开{year}年政务公开工作会议", f"/{prefix}/art/{year}/news{year}.html",
                       f"{year}-06-15") for year in YEARS[prefix][-2:]]
    if edition == 2:
        entries = [entry for entry in entries if entry.path != DELETED]
    return sorted(entries, key=lambda entry: entry.day, reverse=True)


def _list_html(entries: list[_Entry]) -> str:
    rows = "".join(f'<li><a href="{entry.path}">{html.escape(entry.title)}</a><span>{entry.day}</span></li>'
                   for entry in entries)
    return f'<ul class="list">{rows}</ul>'


def _listing(prefix: str, folder: str, edition: int) -> dict[str, bytes]:
    """A static listing with a numbered pager that states its total: index.html, index_1.html …"""
    entries = _entries(prefix, edition)
    pages = [entries[start:start + PAGE_SIZE] for start in range(0, len(entries), PAGE_SIZE)]
    names = ["index.html"] + [f"index_{n}.html" for n in range(1, len(pages))]
    pager = " ".join(f'<a href="{name}">{n + 1}</a>' for n, name in enumerate(names))
    return {f"{folder}{name}": _page(f"政府信息公开年报 {NAMES[prefix]}", "<h2>政府信息公开年报</h2>"
                                     + _list_html(chunk) + f'<div class="pager">{pager} 共{len(pages)}页</div>')
            for name, chunk in zip(names, pages)}


def _home(prefix: str, links: str = "", head_html: str = "", encoding: str = "utf-8") -> bytes:
    return _page(NAMES[prefix], f'{head_html}<div class="nav"><a href="/{prefix}/index.html">首页</a>'
                                f'<a href="/{prefix}/xwdt/index.html">新闻动态</a>{links}</div>'
                                f'<div class="main">欢迎访问{NAMES[prefix]}</div>', encoding=encoding)


# the search page of cov-search's GBK site: a TRS-style GET form with a hidden site id
SEARCH_FORM = ('<form name="searchform" action="/search/search.jsp" method="get"><input type="hidden" name="siteid" '
               'value="2"><input type="text" name="searchword" value="请输入关键字"><input type="submit" value="搜索">'
               "</form>")
CATALOGUE_TREE = """<script>
var zNodes = [{id: 1, pId: 0, name: "主动公开目录", open: true},
  {id: 11, pId: 1, name: "机构职能", url: "/gk/gkml/jgzn/index.html"},
  {id: 12, pId: 1, name: "政府信息公开年报", url: "/gk/gkml/nb/index.html"}];
</script>"""


def _site(edition: int) -> dict[str, Resource]:
    pages: dict[str, bytes] = {}
    status: dict[str, int] = {}
    gbk = "text/html; charset=GBK"
    pages.update(_listing("listed", "/listed/nb/", edition))
    pages["/listed/index.html"] = _home("listed")
    pages["/search/index.html"] = _home("search", head_html=SEARCH_FORM, encoding="gbk")
    pages["/sm/index.html"] = _home("sm")
    pages.update(_listing("sm", "/sm/xxgk/ndbg/", edition))
    pages["/gk/index.html"] = _home("gk", '<a href="/gk/gkml/index.html">政府信息公开目录</a>')
    pages["/gk/gkml/index.html"] = _page(f"政府信息公开目录_{NAMES['gk']}", '<ul id="tree" class="ztree"></ul>'
                                         + CATALOGUE_TREE)
    pages.update(_listing("gk", "/gk/gkml/nb/", edition))
    pages["/gone/index.html"] = _home("gone")
    if edition == 1:
        pages.update(_listing("gone", "/gone/nb/", edition))
    else:
        pages["/gone/nb/index.html"] = _page("403 Forbidden", "<h1>403 Forbidden</h1>")
        status["/gone/nb/index.html"] = 403
    pages["/nothing/index.html"] = _home("nothing")
    pages["/blocked/index.html"] = _home("blocked")
    pages.update(_listing("listed", "/blocked/nb/", edition))   # there, but robots.txt forbids it
    pages["/robots.txt"] = b"User-agent: *\nDisallow: /blocked/\n"
    pages["/broken/index.html"] = _home("broken")
    pages.update(_listing("broken", "/broken/nb/", edition))
    pages[BROKEN_PAGE] = _page("500 Internal Server Error", "<h1>500 Internal Server Error</h1>")
    status[BROKEN_PAGE] = 500
    for prefix in YEARS:
        for entry in _entries(prefix, 1):
            if edition == 2 and entry.path == DELETED:
                continue
            year = int(entry.path.split("/")[3])
            pages[entry.path] = (_report(prefix, year, entry.day) if "/nb" in entry.path
                                 else _page(entry.title, f"<h1>{entry.title}</h1><p>会议部署了政务公开工作。</p>"))
    pages["/sitemap.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>{base}/sm/index.html</loc></url><url><loc>{base}/sm/xxgk/ndbg/index.html</loc></url>"
        "<url><loc>{base}/sm/art/2023/nb2023.html</loc></url></urlset>").encode()
    site = {}
    for path, body in pages.items():
        kind = ("application/xml" if path.endswith(".xml") else "text/plain" if path.endswith(".txt")
                else gbk if path.startswith("/search/") else "text/html; charset=utf-8")
        site[path] = Resource(status.get(path, 200), body, kind, datetime(2025, 1, 1, tzinfo=timezone.utc))
    return site


class CoveragePortals:
    """The small portals above, in one state, for ``demo.server.DemoServer``."""

    answers_post = False

    def __init__(self, edition: int = 1, base: str = ""):
        self.edition = edition
        self.base = base
        self._site = _site(edition)

    def with_edition(self, edition: int) -> "CoveragePortals":
        return CoveragePortals(edition, self.base)

    def site(self) -> dict[str, Resource]:
        return self._site

    def resource(self, target: str) -> Resource | None:
        parts = urlsplit(target)
        if parts.path == "/search/search.jsp":
            words = parse_qs(parts.query, encoding="gbk").get("searchword", [""])[0]
            found = [entry for entry in _entries("search", self.edition) if words and words in entry.title]
            return Resource(200, _page("检索结果", f"<p>共找到{len(found)}条结果</p>{_list_html(found)}",
                                       encoding="gbk"), "text/html; charset=GBK")
        found = self._site.get(parts.path)
        if found is not None and parts.path == "/sitemap.xml":
            return Resource(200, found.body.replace(b"{base}", self.base.encode()), found.content_type)
        return found


class FencedPortals:
    """A second site whose robots.txt forbids its search page and its sitemap.xml, the only ways to its column (a
    homepage with a search form and no column link): the crawl must not take them."""

    answers_post = False

    def __init__(self, edition: int = 1):
        self.edition = edition
        entry = _Entry(f"{NAMES['fenced']}2023年政府信息公开工作年度报告", "/fenced/art/2023/nb2023.html", "2024-01-23")
        pages = {"/robots.txt": FENCED_ROBOTS.encode(), "/fenced/index.html": _home("fenced", head_html=SEARCH_FORM,
                                                                                    encoding="gbk"),
                 FENCED_COLUMN: _page("政府信息公开年报", _list_html([entry])),
                 "/sitemap.xml": ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                                  f'schemas/sitemap/0.9"><url><loc>{FENCED_COLUMN}</loc></url></urlset>').encode(),
                 "/search/search.jsp": _page("检索结果", _list_html([entry]), encoding="gbk")}
        kinds = {"/robots.txt": "text/plain", "/sitemap.xml": "application/xml",
                 "/fenced/index.html": "text/html; charset=GBK", "/search/search.jsp": "text/html; charset=GBK"}
        self._site = {path: Resource(200, body, kinds.get(path, "text/html; charset=utf-8"))
                      for path, body in pages.items()}

    def with_edition(self, edition: int) -> "FencedPortals":
        return FencedPortals(edition)

    def site(self) -> dict[str, Resource]:
        return self._site

    def resource(self, target: str) -> Resource | None:
        return self._site.get(urlsplit(target).path)


def _agencies(base: str, fenced: str) -> list[Agency]:
    def agency(prefix: str, *columns: str, name: str | None = None, home: str | None = None) -> Agency:
        return Agency(id=f"cov-{prefix}", name=name or NAMES[prefix], level="department",
                      homepage=f"{base}/{home or prefix}/index.html", report_index=tuple(base + c for c in columns))

    return [agency("listed", "/listed/nb/index.html"), agency("shared", "/listed/nb/index.html", home="listed"),
            agency("search", "/search/old/nb.html"), agency("sm"), agency("gk"),
            agency("gone", "/gone/nb/index.html"), agency("nothing"), agency("blocked", "/blocked/nb/index.html"),
            agency("broken", "/broken/nb/index.html"),
            Agency(id="cov-fenced", name=NAMES["fenced"], level="department", homepage=f"{fenced}/fenced/index.html")]


@pytest.fixture(scope="module")
def coverage_crawl(tmp_path_factory):
    root = tmp_path_factory.mktemp("coverage")
    port = free_port()
    base = f"http://127.0.0.1:{port}"   # known before the server starts: the sitemap names absolute URLs
    with DemoServer(CoveragePortals(1, base), port=port) as server, DemoServer(FencedPortals()) as fenced:
        config = config_in(root / "data")
        agencies = _agencies(base, fenced.base_url)
        first = crawl(config, agencies, DISCOVERY_JS_RENDER=False)
        first_requests = server.requests
        server.set_edition(2)
        server.clear_log()
        registry = root / "registry.yaml"
        dump_registry(agencies, registry)
        env = {**{key: value for key, value in os.environ.items() if not key.startswith("XXGK_")},
               "XXGK_DATA_DIR": str(root / "data")}
        sets = [arg for setting in FAST for arg in ("--set", setting)]
        second = run("crawl", "--registry", str(registry), "--quiet", "--no-screenshots", *sets, env=env)
        requests = server.requests
        fenced_requests, fenced_base = fenced.requests, fenced.base_url
    with catalog_of(config) as session:
        runs = [run_.id for run_ in queries.list_runs(session)]
    yield SimpleNamespace(base=base, config=config, first=first, first_requests=first_requests, second=second,
                          second_requests=requests,
                          second_run=next(run_id for run_id in runs if run_id != first.run_id), agencies=agencies,
                          fenced_base=fenced_base, fenced_requests=fenced_requests)


def _rows(config, run_id) -> dict[str, list]:
    with catalog_of(config) as session:
        rows: dict[str, list] = {}
        for row in queries.coverage_of_run(session, run_id):
            rows.setdefault(row.agency_id, []).append(row)
    return rows


def test_a_registry_column_is_read_to_its_last_page_with_the_span_of_its_dates(coverage_crawl):
    (row,) = _rows(coverage_crawl.config, coverage_crawl.first.run_id)["cov-listed"]
    entries = _entries("listed", 1)
    assert row.column_url == coverage_crawl.base + "/listed/nb/index.html" and row.found_by == "registry"
    assert (row.pages_walked, row.complete, row.rendered) == (2, True, False)
    assert row.items_read == row.dated_items == len(entries)
    assert (row.earliest_item, row.latest_item) == (date(2020, 1, 24), date(2024, 1, 23))
    assert row.reports_found == len(YEARS["listed"]) and row.problem is None and row.errors == []
    with catalog_of(coverage_crawl.config) as session:
        capture = queries.get_capture(session, row.capture_id)
    assert capture.url == row.column_url and capture.run_id == coverage_crawl.first.run_id


def test_a_column_two_agencies_share_is_read_once_and_counted_for_both(coverage_crawl):
    rows = _rows(coverage_crawl.config, coverage_crawl.first.run_id)
    (listed,), (shared,) = rows["cov-listed"], rows["cov-shared"]
    assert shared.column_url == listed.column_url and shared.items_read == listed.items_read
    assert shared.reports_found == 0   # the reports name 丙县教育局, not the 督导室


def test_a_registry_column_that_answers_404_falls_back_to_the_sites_own_search(coverage_crawl):
    rows = {row.found_by: row for row in _rows(coverage_crawl.config, coverage_crawl.first.run_id)["cov-search"]}
    assert set(rows) == {"registry", "site_search"}
    broken = rows["registry"]
    assert (broken.problem, broken.detail, broken.items_read) == ("unreadable", "HTTP 404 Not Found", 0)
    assert broken.errors == [{"url": broken.column_url, "kind": "http", "message": "HTTP 404 Not Found"}]
    search = rows["site_search"]
    assert search.column_url.startswith(coverage_crawl.base + "/search/search.jsp?siteid=2&searchword=%C4%EA")
    assert search.items_read == len(YEARS["search"]) and search.problem is None  # the hits for 年度报告
    assert search.reports_found == len(YEARS["search"])


def test_a_column_only_the_sitemap_names_and_one_only_the_catalogue_tree_names_are_found(coverage_crawl):
    rows = _rows(coverage_crawl.config, coverage_crawl.first.run_id)
    (sitemap,), (catalogue,) = rows["cov-sm"], rows["cov-gk"]
    assert (sitemap.found_by, sitemap.column_url) == ("sitemap", coverage_crawl.base + "/sm/xxgk/ndbg/index.html")
    assert (catalogue.found_by, catalogue.column_url) == ("catalogue", coverage_crawl.base + "/gk/gkml/nb/index.html")
    assert sitemap.items_read and catalogue.items_read and sitemap.complete and catalogue.complete


def test_an_agency_without_any_column_gets_one_not_found_row_saying_what_was_tried(coverage_crawl):
    (row,) = _rows(coverage_crawl.config, coverage_crawl.first.run_id)["cov-nothing"]
    assert (row.column_url, row.problem, row.items_read) == (None, "not_found", 0)
    assert "首页" in row.detail and "sitemap.xml" in row.detail
    assert coverage_crawl.first.coverage == {"read": 7, "not_found": 1, "unreadable": 2}


def test_a_column_robots_txt_forbids_is_never_fetched_and_says_so(coverage_crawl):
    (row,) = _rows(coverage_crawl.config, coverage_crawl.first.run_id)["cov-blocked"]
    assert (row.problem, row.detail, row.items_read) == ("robots", "robots.txt 禁止抓取", 0)
    # asked for together with every other start request, while robots.txt was still being fetched
    assert not [request for request in coverage_crawl.first_requests if request.path.startswith("/blocked/")]


def test_a_column_whose_second_page_fails_leaves_the_older_years_undetermined_naming_the_error(coverage_crawl):
    url = coverage_crawl.base + BROKEN_PAGE
    (row,) = _rows(coverage_crawl.config, coverage_crawl.first.run_id)["cov-broken"]
    assert (row.complete, row.problem, row.items_read, row.reports_found) == (False, None, PAGE_SIZE, 2)
    assert row.errors == [{"url": url, "kind": "http", "message": "HTTP 500 Internal Server Error"}]
    assert coverage_crawl.second.returncode == 0, coverage_crawl.second.stderr[-2000:]
    # page 1 reaches back to 2022-06-15: the 2021 report (due 2022-01-31) may be behind the page that failed
    env = {**{key: value for key, value in os.environ.items() if not key.startswith("XXGK_")},
           "XXGK_DATA_DIR": str(coverage_crawl.config.data_dir)}
    shown = run("status", "--year", "2021", "--format", "json", env=env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    verdict = next(row for row in json.loads(shown.stdout) if row["agency_id"] == "cov-broken")
    assert verdict["status"] == "undetermined"
    assert "列表页抓取出错" in verdict["reason"] and "1 个列表页抓取失败" in verdict["reason"]
    assert f"{url}（HTTP 500 Internal Server Error）" in verdict["reason"]
    table = run("status", "--year", "2021", env=env)
    # under the table's 无法判断的理由 heading, the reason without its own 无法判断：
    assert f"丙县卫生健康局（2021 年度）：{verdict['reason'].removeprefix('无法判断：')}" in table.stdout, table.stdout


def test_fallbacks_robots_txt_forbids_are_not_fetched_and_coverage_says_why(coverage_crawl):
    asked = [request.path for request in coverage_crawl.fenced_requests]
    assert "/fenced/index.html" in asked and "/robots.txt" in asked
    assert not [path for path in asked if path.startswith("/search/") or path == "/sitemap.xml"
                or path == FENCED_COLUMN], asked
    base = coverage_crawl.fenced_base
    for run_id in (coverage_crawl.first.run_id, coverage_crawl.second_run):
        (row,) = _rows(coverage_crawl.config, run_id)["cov-fenced"]
        # the search the homepage's form offers is the column tried, refused by robots.txt; so is the sitemap
        assert (row.found_by, row.problem, row.detail, row.items_read) == (
            "site_search", "robots", "robots.txt 禁止抓取", 0)
        assert row.column_url.startswith(base + "/search/search.jsp?")
        assert [(error["url"], error["kind"]) for error in row.errors] == [
            (row.column_url, "robots"), (base + "/sitemap.xml", "robots")]


def test_a_deleted_report_is_asked_for_again_and_its_404_is_archived(coverage_crawl):
    assert coverage_crawl.second.returncode == 0, coverage_crawl.second.stderr[-2000:]
    url = coverage_crawl.base + DELETED
    asked = [request for request in coverage_crawl.second_requests if request.path == DELETED]
    # asked again as a known report URL, conditionally (validators of its last capture): the answer is the 404
    assert [(request.status, request.conditional) for request in asked] == [(404, True)]
    with catalog_of(coverage_crawl.config) as session:
        captures = queries.captures_of_url(session, url)
        errors = [error for error in queries.errors_of_url(session, url) if error.run_id == coverage_crawl.second_run]
    assert [capture.status for capture in captures] == [200, 404]
    assert [(error.kind, error.message) for error in errors] == [("http", "HTTP 404 Not Found")]
    # a report still listed is asked for once, by its listing, not a second time as a known URL, and conditionally:
    # unchanged, it answers 304
    still = [(request.status, request.conditional) for request in coverage_crawl.second_requests
             if request.path == "/listed/art/2022/nb2022.html"]
    assert still == [(304, True)]


def test_the_deleted_report_is_flagged_removed(coverage_crawl):
    from monitor.clock import today
    from monitor.verdicts import judge
    from storage.catalog import Catalog

    catalog = Catalog.open(coverage_crawl.config, create=False)
    try:
        judged = {row.report_year: row for row in judge(catalog, as_of=today(), years={"cov-listed": [2021]},
                                                        agency_ids=["cov-listed"], store=False)}
    finally:
        catalog.close()
    assert "removed" in judged[2021].flags
    assert "removed" not in judged[2022].flags
    # the evidence is the second run's 404 capture of the report URL, after the first run's 200
    with catalog_of(coverage_crawl.config) as session:
        captures = queries.captures_of_url(session, coverage_crawl.base + DELETED)
    ((ok_id, ok_run),) = [(row.id, row.run_id) for row in captures if row.status == 200]
    ((gone_id, gone_run),) = [(row.id, row.run_id) for row in captures if row.status == 404]
    assert (ok_run, gone_run) == (coverage_crawl.first.run_id, coverage_crawl.second_run)
    removed = judged[2021].evidence["removed"]
    assert removed["last_ok_capture_id"] == ok_id
    assert (removed["latest_failure"]["capture_id"], removed["latest_failure"]["status"]) == (gone_id, 404)
    assert "HTTP 404" in removed["message"]


def test_the_second_runs_summary_counts_the_columns_and_calls_out_the_one_that_failed(coverage_crawl):
    out = coverage_crawl.second.stdout
    assert "年报栏目：6 个机关读到条目，1 个未找到栏目，3 个栏目无法读取或没有条目" in out, out
    failures = [line for line in out.splitlines() if "栏目失效" in line]
    assert len(failures) == 1 and failures[0].startswith("cov-gone：栏目失效（栏目无法读取）"), out
    (gone,) = [row for row in _rows(coverage_crawl.config, coverage_crawl.second_run)["cov-gone"] if row.column_url]
    assert (gone.problem, gone.detail) == ("unreadable", "HTTP 403 Forbidden")
    # the read names the 403 page the archive kept, so a reader sees what the column answered
    with catalog_of(coverage_crawl.config) as session:
        answered = session.get(Capture, gone.capture_id) if gone.capture_id else None
    assert answered is not None and answered.status == 403 and answered.url == gone.column_url, gone.capture_id


def test_a_columns_first_page_asked_again_as_page_one_counts_once():
    """A walk's finding: a hanweb column's pager links its first page as `?uid=…&pageNum=1`; the same bytes
    fetched at two addresses counted as two pages (3 pages walked for a 2-page column). A second page whose bytes
    differ still counts."""
    from scrapy.http import HtmlResponse, Request

    from crawler.coverage import META_AGENCY, META_COLUMN, META_FOUND_BY, CoverageRecorder

    column = "http://a.gov.cn/col/col123/index.html"
    recorder = CoverageRecorder()

    def read(url: str, body: str) -> None:
        meta = {META_AGENCY: "a", META_COLUMN: column, META_FOUND_BY: "registry"}
        request = Request(url, meta=meta)
        recorder.listing_page(HtmlResponse(url, body=body.encode(), encoding="utf-8", request=request,
                                           headers={"Content-Type": "text/html; charset=utf-8"}))

    first = "<ul><li><a href='/art/1.html'>2024年报</a></li></ul> 共2页"
    read(column, first)
    read(f"{column}?uid=1&pageNum=1", first)
    read(f"{column}?uid=1&pageNum=2", "<ul><li><a href='/art/2.html'>2023年报</a></li></ul> 共2页")
    assert recorder.reads[("a", column)].pages_walked == 2
