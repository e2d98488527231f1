"""The other ways to a report column (``parsers.fallbacks``), on pages and sitemaps shaped like real portals'; and
how the crawl names the way a column was found (``crawler.fallbacks.columns_on_page``)."""
from __future__ import annotations

import gzip
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from crawler.coverage import CoverageRecorder
from crawler.fallbacks import Plan, columns_on_page
from parsers.fallbacks import (find_catalogue_columns, find_search_url, is_catalogue_page, read_sitemap,
                               sitemap_url)
from parsers.formats.page import Page
from registry.agencies import Agency

HOME = "http://www.xxq.gov.cn/index.html"


def _page(html: str, encoding: str = "utf-8") -> Page:
    return Page.from_bytes(html.encode(encoding), f"text/html; charset={encoding}")


def _query(url: str, encoding: str = "utf-8") -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True, encoding=encoding))


# ---------------------------------------------------------------- the site's own search

TRS_HEADER = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>某某区人民政府</title></head><body>
<div class="top"><form name="loginform" action="/member/login.jsp" method="post">
  <input type="text" name="username"><input type="password" name="pwd"><input type="submit" value="登录"></form>
<form name="searchform" id="searchform" action="/was5/web/search?channelid=1" method="get" target="_blank"
      onsubmit="return checkSearch()">
  <input type="hidden" name="channelid" value="229105">
  <input type="hidden" name="perpage" value="15">
  <input type="text" name="searchword" id="searchword" class="ss-input" value="请输入关键字"
         onfocus="if(this.value=='请输入关键字')this.value=''">
  <input type="submit" class="ss-btn" value="搜 索">
</form></div>
<div class="nav"><a href="/xwzx/">新闻中心</a><a href="/zwgk/">政务公开</a></div></body></html>"""


def test_a_trs_search_form_on_a_gbk_page_is_submitted_in_gbk():
    url = find_search_url(_page(TRS_HEADER, "gbk"), HOME)
    assert url is not None
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("www.xxq.gov.cn", "/was5/web/search")
    # the form's fields replace the action's own query, the hidden ones as the page sets them
    assert _query(url, "gbk") == {"channelid": "229105", "perpage": "15", "searchword": "年度报告"}
    assert "searchword=%C4%EA%B6%C8%B1%A8%B8%E6" in url  # 年度报告 in GBK, as the portal's search expects


HANWEB_HEADER = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>某某区人民政府门户网站</title></head><body>
<div class="search-box">
<form action="https://www.xxq.gov.cn/jsearchfront/search.do" method="get" target="_blank">
  <input type="hidden" name="websiteid" value="330108000000000">
  <input type="hidden" name="tpl" value="1541">
  <input type="hidden" name="p" value="1">
  <select name="pos"><option value="">全文</option><option value="title" selected>标题</option></select>
  <input type="checkbox" name="fuzzy" value="1">
  <input type="text" name="q" placeholder="请输入搜索内容" autocomplete="off">
  <button type="submit">搜索</button>
</form></div></body></html>"""


def test_a_hanweb_jsearch_form_keeps_its_hidden_fields_and_selected_option():
    url = find_search_url(_page(HANWEB_HEADER), HOME)
    assert url.startswith("https://www.xxq.gov.cn/jsearchfront/search.do?")
    assert _query(url) == {"websiteid": "330108000000000", "tpl": "1541", "p": "1", "pos": "title", "q": "年度报告"}


def test_other_words_can_be_searched():
    url = find_search_url(_page(HANWEB_HEADER), HOME, words="政府信息公开工作年度报告")
    assert _query(url)["q"] == "政府信息公开工作年度报告"


def test_a_search_box_without_a_search_like_name_is_known_by_its_form_and_button():
    html = """<html><body><form id="ssForm" action="/search.jsp"><input type="hidden" name="siteid" value="5">
    <input name="keyvalue" type="text"><input type="image" src="/images/ss_btn.gif" alt="检索"></form></body></html>"""
    url = find_search_url(_page(html), HOME)
    assert url == "http://www.xxq.gov.cn/search.jsp?siteid=5&keyvalue=" + quote("年度报告")


def test_no_search_url_from_post_forms_login_forms_other_sites_or_script_boxes():
    post = """<html><body><form action="/search/search.jsp" method="post"><input name="keyword"></form></body></html>"""
    login = """<html><body><form action="/login"><input name="q"><input type="password" name="p"></form>
    </body></html>"""
    elsewhere = """<html><body><form action="https://www.baidu.com/s" target="_blank"><input type="hidden" name="si"
    value="www.xxq.gov.cn"><input name="wd"><input type="submit" value="百度搜索"></form></body></html>"""
    script = """<html><body><div class="search"><input id="kw" type="text"><a href="javascript:void(0)"
    onclick="doSearch()">搜索</a></div></body></html>"""
    unrelated = """<html><body><form action="/hdjl/submit.do"><input name="name"><input name="phone"></form>
    </body></html>"""
    for html in (post, login, elsewhere, script, unrelated):
        assert find_search_url(_page(html), HOME) is None, html


# ---------------------------------------------------------------- the 信息公开目录's 年报 category

GKML_LINKS = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>政府信息公开目录_某某区卫生健康局</title></head>
<body><div class="nav"><a href="/index.html">首页</a></div>
<div class="gkml-left"><ul class="tree">
  <li><a href="/gkml/jgzn/">机构职能</a></li>
  <li><a href="/gkml/zcwj/">政策文件</a></li>
  <li><a href="/gkml/tjxx/">统计年报</a></li>
  <li><a href="/gkml/nb/">政府信息公开年报</a></li>
  <li><a href="/gkml/2023/nb2023.html">2023年政府信息公开工作年度报告</a></li>
</ul></div></body></html>"""

GKML_TREE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>某某区人民政府</title></head><body>
<h1>政府信息公开目录</h1><ul id="catalogTree" class="ztree"></ul>
<script type="text/javascript">
var zNodes = [
  {id: 1, pId: 0, name: "主动公开目录", open: true},
  {id: 11, pId: 1, name: "机构概况", url: "/zfxxgk/fdzdgknr/jggk/index.html", target: "listFrame"},
  {id: 12, pId: 1, name: "年度报告", url: "/zfxxgk/fdzdgknr/ndbg/index.html", target: "listFrame"},
  {"id": "13", "pId": "1", "name": "企业年报公示", "url": "\\/zfxxgk\\/qynb\\/index.html"}
];
$(document).ready(function () { $.fn.zTree.init($("#catalogTree"), setting, zNodes); });
</script></body></html>"""


def test_the_catalogue_category_is_found_among_its_links():
    url = "http://www.xxq.gov.cn/gkml/index.html"
    assert is_catalogue_page(_page(GKML_LINKS), url)
    columns = find_catalogue_columns(_page(GKML_LINKS), url)
    assert columns[0].url == "http://www.xxq.gov.cn/gkml/nb/"
    assert all("tjxx" not in column.url for column in columns)   # 统计年报 is another kind of report


def test_the_catalogue_category_is_found_in_a_script_built_tree():
    url = "http://www.xxq.gov.cn/zfxxgk/index.html"
    columns = find_catalogue_columns(_page(GKML_TREE), url)
    assert [column.url for column in columns] == ["http://www.xxq.gov.cn/zfxxgk/fdzdgknr/ndbg/index.html"]
    assert columns[0].text == "年度报告" and columns[0].reasons == ("catalogue:tree node",)


def test_a_page_that_is_no_catalogue_gives_no_catalogue_column():
    html = """<html><head><title>政务公开</title></head><body><a href="/zwgk/nb/">政府信息公开年报</a></body></html>"""
    assert not is_catalogue_page(_page(html), "http://www.xxq.gov.cn/zwgk/index.html")
    assert find_catalogue_columns(_page(html), "http://www.xxq.gov.cn/zwgk/index.html") == []


@pytest.mark.parametrize("path", ["/zwgk/gknb/", "/xxgk/xxgknb/", "/zwgk/ndbg/", "/nb/"])
def test_a_link_with_meaningless_text_is_a_column_by_its_url_words(path):
    home = f"""<html><head><title>首页</title></head><body><a href="/xwzx/index.html">新闻中心</a>
    <a href="{path}">点击进入</a><a href="/zwgk/zcwj/">点击进入</a></body></html>"""
    found = {column.url.removeprefix("http://www.xxq.gov.cn"): how
             for column, how in columns_on_page(_page(home), HOME, depth=0)}
    assert found == {path: "url_words"}


def test_how_a_column_was_found_depends_on_the_page_and_its_depth():
    home = """<html><head><title>首页</title></head><body><a href="/xxgk/ndbg/">政府信息公开年度报告</a>
    <a href="/zwgk/gknb/">点击进入</a></body></html>"""
    found = {column.url.removeprefix("http://www.xxq.gov.cn"): how
             for column, how in columns_on_page(_page(home), HOME, depth=0)}
    assert found == {"/xxgk/ndbg/": "link_text", "/zwgk/gknb/": "url_words"}
    deep = {how for _, how in columns_on_page(_page(home), HOME, depth=2)}
    assert deep == {"section_descent"}
    catalogue = {how for _, how in columns_on_page(_page(GKML_LINKS), "http://www.xxq.gov.cn/gkml/index.html", 1)}
    assert catalogue == {"catalogue"}


# ---------------------------------------------------------------- sitemap.xml

SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>http://www.xxq.gov.cn/</loc><lastmod>2025-01-20</lastmod><changefreq>daily</changefreq></url>
  <url><loc>http://www.xxq.gov.cn/xwzx/zwyw/index.html</loc></url>
  <url><loc>http://www.xxq.gov.cn/zwgk/zfxxgknb/index.html</loc><lastmod>2025-01-20</lastmod></url>
  <url><loc>http://www.xxq.gov.cn/zwgk/zfxxgknb/202501/t20250120_4412345.html</loc></url>
  <url><loc>http://www.xxq.gov.cn/tjsj/tjnb/index.html</loc></url>
  <url><loc>https://www.gov.cn/zhengce/xxgknb/index.htm</loc></url>
</urlset>"""


def test_a_sitemap_names_the_column():
    links = read_sitemap(SITEMAP.encode(), "http://www.xxq.gov.cn/sitemap.xml")
    assert [column.url for column in links.columns] == ["http://www.xxq.gov.cn/zwgk/zfxxgknb/index.html"]
    assert links.sitemaps == []


def test_the_column_is_the_folder_of_the_reports_a_sitemap_lists():
    sitemap = f"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <url><loc>http://www.xxq.gov.cn/art/2025/1/22/art_1229_88420.html</loc></url>
    <url><loc>http://www.xxq.gov.cn/zwgk/ndbg/202401/t20240126_123.html</loc></url>
    <url><loc>http://www.xxq.gov.cn/zwgk/ndbg/202301/t20230130_99.html</loc></url>
    <url><loc>http://www.xxq.gov.cn/{quote("信息公开")}/{quote("年度报告")}/list.html</loc></url>
    </urlset>"""
    columns = [column.url for column in read_sitemap(sitemap.encode(), "http://www.xxq.gov.cn/sitemap.xml").columns]
    assert columns == [f"http://www.xxq.gov.cn/{quote('信息公开')}/{quote('年度报告')}/list.html",
                       "http://www.xxq.gov.cn/zwgk/ndbg/"]


def test_a_sitemap_index_names_further_sitemaps_and_gzip_is_read():
    index = """<?xml version="1.0" encoding="UTF-8"?>
    <sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>http://www.xxq.gov.cn/sitemap_zwgk.xml.gz</loc><lastmod>2025-01-20</lastmod></sitemap>
      <sitemap><loc>http://www.xxq.gov.cn/sitemap_xwzx.xml</loc></sitemap>
    </sitemapindex>"""
    links = read_sitemap(gzip.compress(index.encode()), "http://www.xxq.gov.cn/sitemap.xml")
    assert links.columns == []
    assert links.sitemaps == ["http://www.xxq.gov.cn/sitemap_zwgk.xml.gz", "http://www.xxq.gov.cn/sitemap_xwzx.xml"]


def test_on_a_shared_portal_only_the_agencys_part_of_the_sitemap_counts():
    sitemap = """<urlset><url><loc>http://www.xxq.gov.cn/bm/wjw/xxgk/nb/index.html</loc></url>
    <url><loc>http://www.xxq.gov.cn/bm/mzj/xxgk/nb/index.html</loc></url></urlset>"""
    links = read_sitemap(sitemap.encode(), "http://www.xxq.gov.cn/sitemap.xml",
                         scope="http://www.xxq.gov.cn/bm/mzj/index.html")
    assert [column.url for column in links.columns] == ["http://www.xxq.gov.cn/bm/mzj/xxgk/nb/index.html"]


def test_a_plain_text_sitemap_and_garbage_are_read_without_error():
    text = "http://www.xxq.gov.cn/\nhttp://www.xxq.gov.cn/xxgk/gknb/\n"
    assert [c.url for c in read_sitemap(text.encode(), "http://www.xxq.gov.cn/sitemap.txt").columns] == \
        ["http://www.xxq.gov.cn/xxgk/gknb/"]
    for garbage in (b"", b"<html><body>404 Not Found</body></html>", b"\x1f\x8b broken gzip", b"\x00\xff" * 50):
        assert read_sitemap(garbage, "http://www.xxq.gov.cn/sitemap.xml").columns == []


def test_the_sitemap_is_at_the_root_of_the_homepages_host():
    assert sitemap_url("https://www.xxq.gov.cn:8443/bm/wjw/index.html?x=1") == "https://www.xxq.gov.cn:8443/sitemap.xml"


# ---------------------------------------------------------------- the order of the ways

def test_each_agency_tries_the_next_way_only_while_it_has_no_item():
    listed = Agency(id="a", name="甲", level="department", homepage="http://a.gov.cn/index.html",
                    report_index=("http://a.gov.cn/nb/",))
    unlisted = Agency(id="b", name="乙", level="department", homepage="http://b.gov.cn/index.html")
    plan = Plan([listed, unlisted])
    assert [(step.way, step.url) for step in plan.start(listed)] == [("registry", "http://a.gov.cn/nb/")]
    assert [step.way for step in plan.start(unlisted)] == ["home"]
    plan.saw_search_form("b", "http://b.gov.cn/search.jsp?q=%E5%B9%B4%E5%BA%A6%E6%8A%A5%E5%91%8A")
    with_items: set[str] = set()
    first = plan.after_pass(with_items)
    assert {agency: [step.way for step in steps] for agency, steps in first.items()} == \
        {"a": ["home"], "b": ["site_search"]}
    with_items.add("b")
    second = plan.after_pass(with_items)
    assert [(step.way, step.url, step.probe) for step in second["a"]] == \
        [("sitemap", "http://a.gov.cn/sitemap.xml", True)]   # no search form seen on a's site
    assert plan.after_pass(with_items) == {}
    assert plan.tried("a") == ["registry", "home", "sitemap"]


def test_the_agencies_past_the_fallbacks_are_those_a_column_gave_items_their_own_or_one_they_share():
    coverage = CoverageRecorder()
    coverage._read("a", "http://a.gov.cn/nb/", "registry").items["http://a.gov.cn/nb/1.html"] = None
    coverage._read("b", "http://b.gov.cn/nb/", "registry").pages.add("http://b.gov.cn/nb/")   # read, no item
    coverage.shared[("c", "http://a.gov.cn/nb/")] = "home"    # entered a's column, read once for both
    coverage.shared[("d", "http://b.gov.cn/nb/")] = "home"    # b's column gave nothing
    coverage.shared[("e", "http://e.gov.cn/nb/")] = "home"    # a column no read of this process holds
    with_items = coverage.agencies_with_items()
    assert with_items == {"a", "c"}
    agencies = [Agency(id=agency_id, name=agency_id, level="department", homepage=f"http://{agency_id}.gov.cn/")
                for agency_id in "abcde"]
    plan = Plan(agencies)
    for agency in agencies:
        plan.start(agency)
    assert set(plan.after_pass(with_items)) == {"b", "d", "e"}
