"""Page discovery on pages shaped like real portals: TRS (GBK, createPageHTML, t2023… URLs), Hanweb (art/Y/M/D),
VSB (info/N/M.htm), a listing filled by JavaScript, ?page=N pagination, and navigation that must not become items."""
from __future__ import annotations

import json
from datetime import date

import pytest

from parsers.discovery import (
    LinkCandidate,
    ListingItem,
    find_attachments,
    find_disclosure_sections,
    find_json_endpoints,
    find_listing_items,
    find_pagination,
    find_report_columns,
    is_same_site,
    listing_items_from_json,
    looks_like_report_title,
    needs_javascript,
    pinned_at_top,
)
from parsers import FetchContext, parse_document
from parsers.formats.page import Page
from parsers.record import Link

NAV = """
<div class="header"><a href="/">首页</a><a href="/2023/0101.html">2023-01-01 系统升级</a></div>
<div class="nav"><ul>
  <li><a href="/zwdt/">政务动态</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/hdjl/">互动交流</a></li>
</ul></div>
<ul class="menu"><li><a href="/xxgk/zcwj/">政策文件</a></li><li><a href="/xxgk/rsxx/">人事信息</a></li></ul>
"""
FOOTER = '<div class="footer"><a href="http://www.gov.cn/">中国政府网</a> 网站标识码 3703050001 2023-12-01</div>'

TRS_LISTING = f"""<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>政府信息公开年报_临淄区人民政府</title></head><body>
{NAV}
<div class="position">当前位置：<a href="../../">首页</a> &gt; <a href="../">信息公开</a> &gt; 年报</div>
<div class="xxgk_list"><ul>
  <li><a href="./202301/t20230130_1234567.html" target="_blank"
         title="临淄区卫生健康局2022年政府信息公开工作年度报告">临淄区卫生健康局2022年政府信息公开工作...</a>
      <span class="date">2023-01-30</span></li>
  <li><a href="./202201/t20220128_7654321.html">临淄区卫生健康局2021年政府信息公开工作年度报告</a><span>[2022-01-28]</span></li>
  <li><a href="./202101/P020210129384756.pdf">临淄区卫生健康局2020年政府信息公开工作年度报告（附件）</a>
      <span>2021年01月29日</span></li>
  <li><a href="./201901/t20190130_1111.html">临淄区卫计局政府信息公开工作2018年年度报告</a><span>01-30</span></li>
</ul></div>
<div class="page"><script type="text/javascript">
function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt) {{ /* pager drawn by TRS */ }}
createPageHTML(4, 0, "index", "html");
</script></div>
{FOOTER}
</body></html>"""
TRS_URL = "http://www.linzi.gov.cn/xxgk/xxgknb/index.html"


# ---------------------------------------------------------------- TRS

def test_trs_gbk_listing_items_with_dates_and_kinds():
    items = find_listing_items(TRS_LISTING.encode("gbk"), TRS_URL)
    assert [item.url for item in items] == [
        "http://www.linzi.gov.cn/xxgk/xxgknb/202301/t20230130_1234567.html",
        "http://www.linzi.gov.cn/xxgk/xxgknb/202201/t20220128_7654321.html",
        "http://www.linzi.gov.cn/xxgk/xxgknb/202101/P020210129384756.pdf",
        "http://www.linzi.gov.cn/xxgk/xxgknb/201901/t20190130_1111.html",
    ]
    first, second, third, fourth = items
    assert first.title == "临淄区卫生健康局2022年政府信息公开工作年度报告"  # the full title attribute, not the cut text
    assert (first.date_raw, first.date) == ("2023-01-30", date(2023, 1, 30))
    assert (second.date_raw, second.date) == ("[2022-01-28]", date(2022, 1, 28))
    assert (third.date_raw, third.date, third.kind) == ("2021年01月29日", date(2021, 1, 29), "pdf")
    assert (fourth.date_raw, fourth.date) == ("01-30", None)  # month-day only: the year is not guessed
    assert {first.kind, second.kind, fourth.kind} == {"html"}
    assert all(isinstance(item, ListingItem) and item.source == "html" for item in items)


def test_trs_text_and_gbk_bytes_give_the_same_items():
    assert find_listing_items(TRS_LISTING, TRS_URL) == find_listing_items(TRS_LISTING.encode("gbk"), TRS_URL)


def test_navigation_header_footer_and_breadcrumb_links_are_not_items():
    urls = {item.url for item in find_listing_items(TRS_LISTING, TRS_URL)}
    for path in ("/zwgk/", "/xxgk/zcwj/", "/2023/0101.html", "/xxgk/"):
        assert "http://www.linzi.gov.cn" + path not in urls
    assert "http://www.gov.cn/" not in urls


def test_trs_create_page_html_gives_index_1_to_total_minus_1():
    assert find_pagination(TRS_LISTING, TRS_URL) == [
        "http://www.linzi.gov.cn/xxgk/xxgknb/index_1.html",
        "http://www.linzi.gov.cn/xxgk/xxgknb/index_2.html",
        "http://www.linzi.gov.cn/xxgk/xxgknb/index_3.html",
    ]


def test_trs_create_page_html_with_variables_from_a_later_page():
    page = """<div class="page"><script>
    var currentPage = 2;//所在页从0开始
    var prefix = "index"//文件名
    var suffix = "shtml"//文件扩展名
    var countPage = 4//共多少页
    createPageHTML(countPage, currentPage, prefix, suffix);
    </script></div>"""
    url = "http://www.zhangwan.gov.cn/xxgk/xxgknb/index_2.shtml"
    assert find_pagination(page, url) == [
        "http://www.zhangwan.gov.cn/xxgk/xxgknb/index.shtml",
        "http://www.zhangwan.gov.cn/xxgk/xxgknb/index_1.shtml",
        "http://www.zhangwan.gov.cn/xxgk/xxgknb/index_3.shtml",
    ]


def test_newer_trs_call_and_count_variable_alone():
    newer = "<script>createPageHTML('page_div', 3, 0, 'index', 'html', 41);</script>"
    assert find_pagination(newer, "https://www.trs.gov.cn/zwgk/zfxxgknb/") == [
        "https://www.trs.gov.cn/zwgk/zfxxgknb/index_1.html", "https://www.trs.gov.cn/zwgk/zfxxgknb/index_2.html"]
    variable_only = "<ul class='list'></ul><script>var countPage = 3;</script>"
    assert find_pagination(variable_only, "http://x.gov.cn/a/index.htm") == [
        "http://x.gov.cn/a/index_1.htm", "http://x.gov.cn/a/index_2.htm"]


def test_pager_window_is_filled_in_and_bounded_by_max_pages():
    page = """<div class="fenye">
      <a href="index_1.html">2</a><a href="index_2.html">3</a><span>…</span><a href="index_1.html">下一页</a>
      <a href="index_19.html">尾页</a></div>"""
    url = "http://www.fzja.gov.cn/zwgk/zfxxgknb/index.html"
    pages = find_pagination(page, url)
    assert pages == [f"http://www.fzja.gov.cn/zwgk/zfxxgknb/index_{n}.html" for n in range(1, 20)]
    assert find_pagination(page, url, max_pages=5) == pages[:5]
    assert find_pagination(page, url, max_pages=0) == []


# ---------------------------------------------------------------- Hanweb

HANWEB_COLUMN = """<html><head><meta charset="utf-8"></head><body>
<div class="nav-box"><a href="/col/col1229000001/index.html">首页</a></div>
<table class="tb_list" width="100%">
  <tr><td class="bt"><a href="/art/2024/1/22/art_1229063423_4327350.html" title="杭州市人力资源和社会保障局2023年政府信息公开工作年度报告">杭州市人力资源和社会保障局2023年政府信息公开工作年度报告</a></td>
      <td class="time">2024-01-22</td></tr>
  <tr><td class="bt"><a href="/art/2023/1/18/art_1229063423_3955242.html">杭州市人力资源和社会保障局2022年政府信息公开工作年度报告</a></td>
      <td class="time">2023/01/18</td></tr>
</table>
<div class="pager">共3页
  <a href="/col/col1229063423/index.html?uid=4770345&amp;pageNum=2">下一页</a>
  <a href="/col/col1229063423/index.html?uid=4770345&amp;pageNum=3">尾页</a>
</div>
<a href="https://www.zjzwfw.gov.cn/">浙江政务服务网 2024-01-01</a>
</body></html>"""
HANWEB_URL = "https://www.hangzhou.gov.cn/col/col1229063423/index.html"


def test_hanweb_table_rows_are_items():
    items = find_listing_items(HANWEB_COLUMN, HANWEB_URL)
    assert [(item.url, item.date) for item in items] == [
        ("https://www.hangzhou.gov.cn/art/2024/1/22/art_1229063423_4327350.html", date(2024, 1, 22)),
        ("https://www.hangzhou.gov.cn/art/2023/1/18/art_1229063423_3955242.html", date(2023, 1, 18)),
    ]


def test_hanweb_datastore_records_in_a_script_are_items():
    page = """<div class="nav"><a href="/">首页</a></div><div id="4770345">
    <script type="text/xml"><datastore>
      <nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&columnid=1229063423"></a>]]></nextgroup>
      <recordset>
        <record><![CDATA[<li><a href="/art/2024/1/19/art_1229063423_4327350.html" title="杭州市人力资源和社会保障局2023年政府信息公开工作年度报告">杭州市人力资源和社会保障局2023年...</a><span>2024-01-19</span></li>]]></record>
        <record><![CDATA[<li><a href="/art/2023/1/17/art_1229063423_3955242.html">杭州市人力资源和社会保障局2022年政府信息公开工作年度报告</a><span>2023-01-17</span></li>]]></record>
      </recordset></datastore></script></div>
    <script>var jpage = new JPage({ perPage: 15 }); $.ajax({ url: '/module/web/jpage/dataproxy.jsp' });</script>"""
    items = find_listing_items(page, HANWEB_URL)
    assert [(item.url, item.title, item.date) for item in items] == [
        ("https://www.hangzhou.gov.cn/art/2024/1/19/art_1229063423_4327350.html",
         "杭州市人力资源和社会保障局2023年政府信息公开工作年度报告", date(2024, 1, 19)),
        ("https://www.hangzhou.gov.cn/art/2023/1/17/art_1229063423_3955242.html",
         "杭州市人力资源和社会保障局2022年政府信息公开工作年度报告", date(2023, 1, 17)),
    ]
    assert needs_javascript(page) is False  # the rows are in the page, no browser needed


def test_query_pagination_keeps_other_parameters_and_stays_on_site():
    pages = find_pagination(HANWEB_COLUMN, HANWEB_URL)
    base = "https://www.hangzhou.gov.cn/col/col1229063423/index.html?uid=4770345&pageNum="
    assert base + "2" in pages and base + "3" in pages
    assert all(page.startswith(base) for page in pages)
    assert len(pages) == len(set(pages)) <= 3


def test_page_query_parameter_pages_are_filled_up_to_the_total():
    page = """<ul class="news-list">
      <li><a href="detail.jsp?id=101">遂宁市安居区财政局2019年政府信息公开工作年度报告</a> 2020-01-20</li></ul>
      <div class="pagination"><a href="list.jsp?cat=5&page=2">2</a><a href="list.jsp?cat=5&page=3">3</a>
      <a href="list.jsp?cat=5&page=2">下页</a><a href="javascript:goPage(7)">尾页</a> 共 7 页</div>
      <a href="http://www.other.com/list.jsp?page=2">2</a>"""
    url = "https://www.scanju.gov.cn/gongkai/list.jsp?cat=5&page=1"
    pages = find_pagination(page, url)
    assert pages == [f"https://www.scanju.gov.cn/gongkai/list.jsp?cat=5&page={n}" for n in range(2, 8)]


# ---------------------------------------------------------------- VSB

VSB_LIST = """<html><head><meta charset="utf-8"></head><body>
<ul class="menu-list"><li><a href="../index.htm">网站首页</a></li><li><a href="../xxgk.htm">信息公开</a></li></ul>
<div class="list_right"><ul>
  <li id="line_u7_0"><a href="../info/1025/61695.htm" target="_blank" title="云县人民政府2022年政府信息公开工作年度报告">云县人民政府2022年政府信息公开工作年度报告</a><span>2023-01-31</span></li>
  <li id="line_u7_1"><a href="../info/1025/50321.htm" target="_blank">云县人民政府2021年政府信息公开工作年度报告</a><span>2022-01-27</span></li>
</ul></div>
<div class="pb_sys_common pb_sys_normal pb_sys_style1"><span class="p_pages">
  <span class="p_first_d p_fun_d">首页</span><span class="p_prev_d p_fun_d">上页</span>
  <span class="p_no_d">1</span><span class="p_no"><a href="nb/4.htm">2</a></span><span class="p_no"><a href="nb/3.htm">3</a></span>
  <span class="p_next p_fun"><a href="nb/4.htm">下页</a></span><span class="p_last p_fun"><a href="nb/1.htm">尾页</a></span>
</span></div></body></html>"""
VSB_URL = "https://www.ynyx.gov.cn/xxgk/nb.htm"


def test_vsb_info_items_and_descending_numbered_pages():
    items = find_listing_items(VSB_LIST, VSB_URL)
    assert [item.url for item in items] == ["https://www.ynyx.gov.cn/info/1025/61695.htm",
                                            "https://www.ynyx.gov.cn/info/1025/50321.htm"]
    assert items[0].date == date(2023, 1, 31)
    assert sorted(find_pagination(VSB_LIST, VSB_URL)) == [f"https://www.ynyx.gov.cn/xxgk/nb/{n}.htm" for n in (1, 2, 3, 4)]


def test_an_article_page_is_not_taken_for_a_numbered_listing_page():
    assert find_pagination("<p>正文</p><a href='../1024/1.htm'>上一篇</a>",
                           "https://www.ynyx.gov.cn/info/1025/61695.htm") == []
    assert find_pagination("<p>正文</p>", "http://www.linzi.gov.cn/xxgk/202301/t20230130_1234567.html") == []


# ---------------------------------------------------------------- flat and undated listings

def test_flat_listing_without_row_elements_takes_the_date_after_each_link():
    page = """<div class="right_con">
      <a href="/a/1.shtml">安居区卫计局2017年政府信息公开工作年度报告</a>&nbsp;<font>(2018-01-25)</font><br>
      <a href="/a/2.shtml">安居区卫计局2016年政府信息公开工作年度报告</a>&nbsp;<font>(2017-01-20)</font><br>
      <a href="/a/3.shtml">安居区卫计局2015年政府信息公开工作年度报告</a>&nbsp;<font>(2016-03-28)</font><br>
      <a href="/a/4.shtml">安居区卫计局2014年政府信息公开工作年度报告</a>&nbsp;<font>(2015-03-30)</font><br>
    </div>"""
    items = find_listing_items(page, "http://www.scanju.gov.cn/a/")
    assert [(item.url.rsplit("/", 1)[-1], item.date_raw, item.date) for item in items] == [
        ("1.shtml", "(2018-01-25)", date(2018, 1, 25)), ("2.shtml", "(2017-01-20)", date(2017, 1, 20)),
        ("3.shtml", "(2016-03-28)", date(2016, 3, 28)), ("4.shtml", "(2015-03-30)", date(2015, 3, 30))]


def test_undated_links_count_only_inside_a_list_container():
    page = """<ul class="newslist"><li><a href="/nb/2023.html">2023年度报告</a></li>
              <li><a href="/nb/2022.html">2022年度报告</a></li></ul>
              <ul class="other"><li><a href="/about.html">关于我们</a></li></ul>
              <ul class="list"><li><a href="#top">返回顶部</a></li><li><a href="javascript:print()">打印</a></li></ul>"""
    items = find_listing_items(page, "http://www.zhj.zh.gov.cn/xxgk/")
    assert [(item.url, item.date_raw) for item in items] == [
        ("http://www.zhj.zh.gov.cn/nb/2023.html", None), ("http://www.zhj.zh.gov.cn/nb/2022.html", None)]


def test_a_year_in_a_title_is_not_the_row_date_and_invalid_dates_give_none():
    page = """<ul class="list"><li><a href="/1.html">关于2023年1月31日前报送年报的通知</a><span>2022-12-20</span></li>
              <li><a href="/2.html">某局2022年年报</a><span>2023-02-30</span></li></ul>"""
    first, second = find_listing_items(page, "http://a.gov.cn/")
    assert (first.date_raw, first.date) == ("2022-12-20", date(2022, 12, 20))
    assert (second.date_raw, second.date) == ("2023-02-30", None)


# ---------------------------------------------------------------- JavaScript listings

JS_LISTING = """<html><head><meta charset="utf-8"><script src="/js/jquery.min.js"></script></head><body>
<div class="nav"><a href="/">首页</a><a href="/xxgk/">信息公开</a></div>
<ul id="report-list" class="list"></ul>
<div id="pager"></div>
<script>
  fetch('data/list.json').then(function (r) { return r.json(); }).then(function (data) {
    document.getElementById('report-list').innerHTML = data.list.map(function (d) {
      return '<li><a href="' + d.url + '">' + d.title + '</a><span>' + d.date + '</span></li>'; }).join('');
  });
  fetch('data/list_' + page + '.json');
  fetch(`data/${year}.json`);
</script></body></html>"""
JS_URL = "https://www.hejiang.gov.cn/gk/zfxxgknb/index.html"


def test_js_filled_listing_needs_javascript_and_names_its_json():
    assert find_listing_items(JS_LISTING, JS_URL) == []
    assert needs_javascript(JS_LISTING) is True
    assert find_json_endpoints(JS_LISTING, JS_URL) == ["https://www.hejiang.gov.cn/gk/zfxxgknb/data/list.json"]


def test_static_listing_and_plain_page_do_not_need_javascript():
    assert needs_javascript(TRS_LISTING) is False
    assert needs_javascript("<ul id='list' class='list'></ul><p>暂无信息</p>") is False  # empty, but no loader
    assert needs_javascript(JS_LISTING.replace('<ul id="report-list" class="list"></ul>', "")) is False


def test_noscript_asking_for_javascript_means_render():
    page = "<body><noscript>您的浏览器未启用JavaScript，请开启后访问本页面。</noscript><div id='app'></div></body>"
    assert needs_javascript(page) is True


def test_ajax_and_data_url_endpoints():
    page = """<div class="list" data-url="/api/xxgk/nb/list.do?columnId=12"></div>
      <a class="share" data-url="https://www.weibo.com/share">分享</a>
      <script>
        $.ajax({ type: 'post', url: '/module/web/jpage/dataproxy.jsp?startrecord=1', dataType: 'json' });
        $.getJSON("/nb/items.json", function (d) {});
        var xhr = new XMLHttpRequest(); xhr.open('GET', '/open/api/nbList?page=1');
        $.ajax({ url: '/js/ui.js' });
      </script>"""
    assert find_json_endpoints(page, "http://www.lishui.gov.cn/col/col1/index.html") == [
        "http://www.lishui.gov.cn/module/web/jpage/dataproxy.jsp?startrecord=1",
        "http://www.lishui.gov.cn/nb/items.json",
        "http://www.lishui.gov.cn/open/api/nbList?page=1",
        "http://www.lishui.gov.cn/api/xxgk/nb/list.do?columnId=12",
    ]


def test_json_listing_trs_shape():
    payload = {"code": 200, "data": {"total": 2, "list": [
        {"DOCID": 1, "DOCTITLE": "临淄区卫生健康局2022年政府信息公开工作年度报告",
         "DOCPUBURL": "./202301/t20230130_1234567.html", "DOCRELTIME": "2023-01-30 10:20:00"},
        {"DOCID": 2, "DOCTITLE": "<em>临淄区</em>卫生健康局2021年年报", "DOCPUBURL": "/files/nb2021.pdf",
         "DOCRELTIME": "2022/01/28"},
    ]}, "channel": {"name": "年报", "url": "/xxgk/xxgknb/"}}  # a title and url but no date: not an item
    items = listing_items_from_json(json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                                    "http://www.linzi.gov.cn/xxgk/xxgknb/data/list.json")
    assert [(i.url, i.title, i.date, i.kind, i.source) for i in items] == [
        ("http://www.linzi.gov.cn/xxgk/xxgknb/data/202301/t20230130_1234567.html",
         "临淄区卫生健康局2022年政府信息公开工作年度报告", date(2023, 1, 30), "html", "json"),
        ("http://www.linzi.gov.cn/files/nb2021.pdf", "临淄区卫生健康局2021年年报", date(2022, 1, 28), "pdf", "json"),
    ]
    assert items[0].date_raw == "2023-01-30 10:20:00"


def test_json_listing_array_shape_with_epoch_dates_and_jsonp():
    rows = [{"title": "镇海区卫生计生局政府信息公开工作2015年年度报告", "link": "https://www.zhj.zh.gov.cn/art/1.html",
             "pubDate": 1453996800000},  # 2016-01-29 00:00 in China, still 2016-01-28 in UTC
            {"name": "岱山县卫生健康局2021年年报", "href": "/art/2.html", "publishTime": 1643299200},
            {"title": "无链接", "pubDate": "2020-01-01"}]
    text = "jQuery123(" + json.dumps({"rows": rows}, ensure_ascii=False) + ");"
    items = listing_items_from_json(text, "https://www.zhj.zh.gov.cn/col/")
    assert [(item.url, item.date) for item in items] == [
        ("https://www.zhj.zh.gov.cn/art/1.html", date(2016, 1, 29)),
        ("https://www.zhj.zh.gov.cn/art/2.html", date(2022, 1, 28)),
    ]
    assert items[0].date_raw == "1453996800000"


@pytest.mark.parametrize("bad", [b"", b"not json", b"\xff\xfe\x00garbage", "{\"a\": [1, 2", "callback(oops)"])
def test_json_walker_on_bad_input_gives_nothing(bad):
    assert listing_items_from_json(bad, "http://a.gov.cn/") == []


# ---------------------------------------------------------------- columns and sections

HOMEPAGE = """<html><body>
<div class="nav"><ul>
  <li><a href="/zfxxgk/">政府信息公开</a></li>
  <li><a href="/zwgk/">政务公开</a></li>
  <li><a href="/zfxxgk/zn/">政府信息公开指南</a></li>
  <li><a href="/zfxxgk/ysqgk/">依申请公开</a></li>
</ul></div>
<div class="sidebar">
  <a href="/zfxxgk/zfxxgknb/">政府信息公开年报</a>
  <a href="/zfxxgk/ndbg/">年度报告</a>
  <a href="/scjg/qynb/">企业年报公示</a>
  <a href="/tjsj/tjnb/">统计年报</a>
  <a href="/zfxxgk/zfxxgknb/202301/t20230130_11.html">2022年政府信息公开工作年度报告</a>
  <a href="/zfxxgk/zfxxgknb/2023nb/">2023年年报</a>
  <a href="http://www.gov.cn/zhengce/xxgknb/">国务院政府信息公开年报</a>
  <a href="/module/xxgk/xxgkAnnualReport.jsp?area=11370305&amp;fbtime=2023">信息公开年报</a>
</div></body></html>"""
HOME_URL = "http://www.linzi.gov.cn/"


def test_report_columns_ranked_with_reasons():
    columns = find_report_columns(HOMEPAGE, HOME_URL)
    urls = [column.url for column in columns]
    assert urls[0] == "http://www.linzi.gov.cn/zfxxgk/zfxxgknb/"
    assert set(urls) == {"http://www.linzi.gov.cn/zfxxgk/zfxxgknb/", "http://www.linzi.gov.cn/zfxxgk/ndbg/",
                         "http://www.linzi.gov.cn/zfxxgk/zfxxgknb/2023nb/",
                         "http://www.linzi.gov.cn/module/xxgk/xxgkAnnualReport.jsp?area=11370305&fbtime=2023"}
    scores = {column.url: column for column in columns}
    assert scores["http://www.linzi.gov.cn/zfxxgk/zfxxgknb/2023nb/"].score < columns[0].score
    assert "url:report column" in columns[0].reasons and all(isinstance(c, LinkCandidate) for c in columns)
    assert [c.score for c in columns] == sorted((c.score for c in columns), reverse=True)


def test_disclosure_sections_best_first_without_guides_or_report_columns():
    sections = find_disclosure_sections(HOMEPAGE, HOME_URL)
    urls = [section.url for section in sections]
    assert urls == ["http://www.linzi.gov.cn/zfxxgk/", "http://www.linzi.gov.cn/zwgk/"]
    assert find_disclosure_sections(HOMEPAGE, HOME_URL, limit=1)[0].text == "政府信息公开"


# ---------------------------------------------------------------- attachments, sites, titles

def test_attachments_of_a_report_page():
    page = """<div class="article"><p>附件：</p>
      <a href="/module/download/downfile.jsp?classid=0&amp;filename=2b1e9c.pdf">2022年年报</a>
      <a href="P020230130.wps">年报（WPS版）</a><a href="files/report.ofd">OFD版</a>
      <a href="/xxgk/xxgknb/202301/t20230130_1.html">上一篇</a><a href="mailto:a@b.cn">联系我们</a>
      <iframe src="/pdfjs/web/viewer.html?file=/files/nb.pdf"></iframe>
      <a href="/module/download/downfile.jsp?classid=0&amp;filename=2b1e9c.pdf">下载</a></div>"""
    links = find_attachments(page, "http://www.weishan.gov.cn/art/2024/1/20/art_1_2.html")
    assert [(link.url, link.kind) for link in links] == [
        ("http://www.weishan.gov.cn/module/download/downfile.jsp?classid=0&filename=2b1e9c.pdf", "pdf"),
        ("http://www.weishan.gov.cn/art/2024/1/20/P020230130.wps", "wps"),
        ("http://www.weishan.gov.cn/art/2024/1/20/files/report.ofd", "ofd"),
        ("http://www.weishan.gov.cn/pdfjs/web/viewer.html?file=/files/nb.pdf", "pdf"),
    ]
    assert links[0].text == "2022年年报"


def _nested(page: str, depth: int) -> str:
    """The page's body wrapped in ``depth`` layout elements, as table-in-table portal templates do (libxml2 drops
    everything below depth 256 unless the parser is told to allow huge trees)."""
    return page.replace("<body>", "<body>" + "<div>" * depth, 1).replace("</body>", "</div>" * depth + "</body>", 1)


def test_a_listing_nested_deeper_than_256_elements_gives_its_items_and_pages():
    deep = _nested(TRS_LISTING, 320)
    items = find_listing_items(deep, TRS_URL)
    assert len(items) == 4 and items == find_listing_items(TRS_LISTING, TRS_URL)
    assert find_pagination(deep, TRS_URL) == find_pagination(TRS_LISTING, TRS_URL) != []


REPORT_URL = "http://www.linzi.gov.cn/xxgk/xxgknb/202301/t20230130_1234567.html"
REPORT_PAGE = """<html><head><title>临淄区卫生健康局2022年政府信息公开工作年度报告_临淄区人民政府</title></head><body>
<div class="article"><h1>临淄区卫生健康局2022年政府信息公开工作年度报告</h1><p>根据《条例》要求，现公布本年度报告。</p>
<p>附件：<a href="/module/download/downfile.jsp?classid=0&amp;filename=2b1e9c.pdf"
  title="临淄区卫生健康局2022年政府信息公开工作年度报告.pdf">临淄区卫生健康局2022年…</a>
<a href="P0202301
  30.wps#page=1">WPS版</a> <a href="/xxgk/">返回</a></p>
<iframe src="/pdfjs/web/viewer.html?file=/files/nb.pdf" title="年报全文"></iframe></div></body></html>"""


@pytest.mark.parametrize("depth", [0, 320])
def test_the_record_names_exactly_the_attachments_the_crawler_fetches(depth):
    """Full title rather than the cut link text, the href without its line break and #fragment: one extractor."""
    page = _nested(REPORT_PAGE, depth)
    expected = [
        Link("http://www.linzi.gov.cn/module/download/downfile.jsp?classid=0&filename=2b1e9c.pdf",
             "临淄区卫生健康局2022年政府信息公开工作年度报告.pdf", "pdf"),
        Link("http://www.linzi.gov.cn/xxgk/xxgknb/202301/P020230130.wps", "WPS版", "wps"),
        Link("http://www.linzi.gov.cn/pdfjs/web/viewer.html?file=/files/nb.pdf", "年报全文", "pdf"),
    ]
    assert find_attachments(page, REPORT_URL) == expected
    record = parse_document(page.encode("utf-8"), FetchContext(url=REPORT_URL, content_type="text/html"))
    assert record.is_report and record.attachments == expected


@pytest.mark.parametrize("url, base, same", [
    ("http://www.x.gov.cn/a", "https://x.gov.cn/", True),
    ("http://wjw.x.gov.cn/a", "http://www.x.gov.cn/", True),
    ("http://www.y.gov.cn/a", "http://www.x.gov.cn/", False),
    ("http://www.x.gov.cn.evil.com/", "http://www.x.gov.cn/", False),
    ("http://a.example.com/", "http://b.example.com/", False),
    ("http://www.example.com:8080/", "http://example.com/", True),
    ("not a url", "http://www.x.gov.cn/", False),
])
def test_is_same_site(url, base, same):
    assert is_same_site(url, base) is same


@pytest.mark.parametrize("title, expected", [
    ("临淄区卫生健康局2022年政府信息公开工作年度报告", True),
    ("2018年政务公开工作总结", True),
    ("政府信息公开工作2015年年度报告", True),
    ("某局2020年信息公开年报", True),
    ("2022年度工作报告", False),
    ("关于印发政务公开工作要点的通知", False),
    ("企业年报公示", False),
])
def test_looks_like_report_title(title, expected):
    assert looks_like_report_title(title) is expected


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("page", ["", "   ", b"", b"\x00\x01\x02\xff\xfe", "<html", "<?xml version='1.0' encoding='gbk'?><a>"])
def test_bad_pages_give_empty_results(page):
    url = "http://www.x.gov.cn/"
    assert find_listing_items(page, url) == []
    assert find_pagination(page, url) == []
    assert find_report_columns(page, url) == []
    assert find_disclosure_sections(page, url) == []
    assert find_json_endpoints(page, url) == []
    assert find_attachments(page, url) == []
    assert needs_javascript(page) is False


def test_page_from_bytes_reads_gbk_with_or_without_declaration():
    text = "<p>临淄区卫生健康局 镕</p>"  # 镕 is GBK but not GB2312
    declared = ('<meta charset="gb2312">' + text).encode("gbk")
    assert "临淄区卫生健康局 镕" in Page.from_bytes(declared).text
    assert Page.from_bytes(text.encode("gbk")).text == text
    assert Page.from_bytes(("\ufeff" + text).encode("utf-8")).text == text
    assert Page.from_bytes(b'<meta charset="utf-8">' + text.encode("gbk")).text.endswith(text)  # a wrong declaration


# ---------------------------------------------------------------- frames, and pagers only a browser can follow

def test_frames_of_a_column_are_its_same_site_pages():
    from parsers.discovery import find_frames

    page = """<iframe src="/sf/nb/list_1.html" width="900"></iframe><iframe src="about:blank"></iframe>
    <iframe src="http://map.example.com/embed"></iframe><iframe src="/sf/files/nb2023.pdf"></iframe>
    <frame src="index.html"><iframe src="javascript:false"></iframe><iframe src="/sf/nb/list_1.html"></iframe>"""
    assert find_frames(page, "http://www.x.gov.cn/sf/nb/index.html") == ["http://www.x.gov.cn/sf/nb/list_1.html"]


def test_script_pager_maps_page_numbers_to_the_code_they_run():
    from parsers.discovery import find_script_pager

    pager = find_script_pager("""<div id="pager"><a href="javascript:load(1)">1</a> <a href="javascript:load(2)">2</a>
        <a href="javascript:load(%273%27)">3</a> <a href="list_9.html">9</a>
        <a href="javascript:void(0)" onclick="go(page + 1); return false;">下一页</a>
        <a href="javascript:nextPage()">下一页</a> <a href="javascript:load(3)">尾页</a></div>""")
    assert pager.calls == {1: "load(1)", 2: "load(2)", 3: "load('3')"}
    assert pager.next_call == "nextPage()"   # the onclick next control is clicked instead: it may be hidden
    assert pager.call_for(2) == "load(2)" and pager.call_for(4) == pager.next_call
    assert not pager.exhausted_at(3)   # the next link is still there


def test_script_pager_is_exhausted_at_its_highest_number_without_a_next_link():
    from parsers.discovery import find_script_pager

    pager = find_script_pager('<a href="javascript:load(1)">1</a><a href="#" onclick="load(2)">2</a>')
    assert pager.calls == {1: "load(1)", 2: "load(2)"}
    assert not pager.exhausted_at(1) and pager.exhausted_at(2)
    assert find_script_pager('<a href="index_1.html">2</a>').calls == {}


@pytest.mark.parametrize("url, body, expected", [
    ("http://x.gov.cn/post/list.do", "channelId=ndbg&pageNo=1",
     ("http://x.gov.cn/post/list.do", "channelId=ndbg&pageNo=2")),
    ("http://x.gov.cn/api/list", '{"pageIndex": 0, "size": 10}',
     ("http://x.gov.cn/api/list", '{"pageIndex": 1, "size": 10}')),
    ("http://x.gov.cn/api/list?channel=12&page=3&size=10", None,
     ("http://x.gov.cn/api/list?channel=12&page=4&size=10", None)),
    ("http://x.gov.cn/shell/api/list_1.json", None, ("http://x.gov.cn/shell/api/list_2.json", None)),
    ("http://x.gov.cn/api/nb/page/2", None, ("http://x.gov.cn/api/nb/page/3", None)),
])
def test_next_page_request_turns_the_page_field_the_request_names(url, body, expected):
    from parsers.discovery import next_page_request

    paged = next_page_request(url, body)
    assert (paged.url, paged.body) == expected


@pytest.mark.parametrize("url, body", [
    ("http://x.gov.cn/jsportal/zwgk/ndbg/list.json", None),        # one list, no page
    ("http://x.gov.cn/data/2023.json", None),                      # a year, not a page
    ("http://x.gov.cn/api/doc?id=7788123", "channelId=ndbg"),      # a document id
])
def test_next_page_request_is_none_when_no_page_is_named(url, body):
    from parsers.discovery import next_page_request

    assert next_page_request(url, body) is None


def test_listing_totals_are_read_where_json_listings_put_them():
    from parsers.discovery import ListingTotals, listing_totals_from_json

    assert listing_totals_from_json('{"pages": 3, "page": 1, "items": []}') == ListingTotals(pages=3)
    assert listing_totals_from_json('{"code": 0, "data": {"totalPage": "4", "total": 13, "list": []}}') == \
        ListingTotals(pages=4, items=13)
    assert listing_totals_from_json('cb({"result": {"page": {"recordCount": 9}}})') == ListingTotals(items=9)
    assert listing_totals_from_json("[1, 2]") == ListingTotals() == listing_totals_from_json(b"not json")


def test_numbered_pages_without_an_index_page_start_at_the_first_number_shown():
    pages = find_pagination('<div class="page"><a href="list_1.html">1</a> <a href="list_2.html">2</a> '
                            '<a href="list_3.html">3</a> <a href="list_2.html">下一页</a> 共3页</div>',
                            "http://www.x.gov.cn/sf/nb/list_1.html")
    assert pages == ["http://www.x.gov.cn/sf/nb/list_2.html", "http://www.x.gov.cn/sf/nb/list_3.html"]


def test_a_link_whose_script_opens_an_address_is_an_item_at_that_address():
    """``javascript:openWin('/art/…')`` (the shape real portals use, ``openWin('/Article_Show.asp?id=…', …)``) and a
    ``#`` link's ``onclick="window.open('…')"`` were dropped: the column listed the year's report, the crawl never
    asked for it, and the year looked unpublished. A script that names no address (a pager's ``load(3)``, a
    ``goDetail(123)``) stays no item."""
    page = ('<html><body><ul class="list">'
            """<li><a href="javascript:openWin('/jslink/art/nb2025.html','win',800,600)">样本县档案局2025年政府信息公开工作年度报告</a>"""
            '<span>2026-01-20</span></li>'
            """<li><a href="#" onclick="window.open('/x/nb2024.html')">样本县档案局2024年政府信息公开工作年度报告</a>"""
            '<span>2025-01-20</span></li>'
            """<li><a href="javascript:void(0)" onclick="location.href='show.asp?id=7'">样本县档案局2023年政府信息公开工作年度报告</a>"""
            '<span>2024-01-20</span></li>'
            '<li><a href="javascript:goDetail(123)">关于调整办公时间的通知</a><span>2024-01-20</span></li>'
            '</ul><div class="page"><a href="javascript:load(3)">3</a></div></body></html>').encode()
    items = find_listing_items(page, "http://a.gov.cn/col/index.html")
    assert [(item.url, item.date) for item in items] == [
        ("http://a.gov.cn/jslink/art/nb2025.html", date(2026, 1, 20)),
        ("http://a.gov.cn/x/nb2024.html", date(2025, 1, 20)),
        ("http://a.gov.cn/col/show.asp?id=7", date(2024, 1, 20)),
    ]


def test_a_listing_still_loading_beside_a_dated_news_sidebar_needs_javascript():
    """The column's list is "加载中…" until its script fetches the JSON; a 工作动态 sidebar beside it prints dated news.
    Those dates made the page look static: never rendered, its news read as the column's items, the year 未发布."""
    page = ('<html><body><div class="side"><h3>工作动态</h3><ul class="news">'
            '<li><a href="/n/1.html">防汛工作会议召开</a><span>2026-06-15</span></li>'
            '<li><a href="/n/2.html">开展安全生产检查</a><span>2024-06-15</span></li></ul></div>'
            '<div id="list">加载中…</div>'
            "<script>$.getJSON('/jsok/api/' + 'list.json', function (data) { render(data); });</script>"
            '</body></html>').encode()
    assert needs_javascript(page) is True
    loaded = page.replace("加载中…".encode(), b"").replace(b'<div id="list"></div>', b"")
    assert needs_javascript(loaded) is False   # no container waiting: the dated rows are the page's own


def _dated_listing(*entries: tuple[str, str]) -> list[ListingItem]:
    rows = "".join(f'<li><a href="/{number}.html">{title}</a><span>{day}</span></li>'
                   for number, (title, day) in enumerate(entries))
    return find_listing_items(f'<html><body><ul class="list">{rows}</ul></body></html>'.encode(),
                              "http://a.gov.cn/col/index.html")


def test_a_listings_pinned_entries_are_the_leading_ones_older_than_the_newest_after_them():
    pinned = _dated_listing(("【置顶】政府信息公开指南", "2019-05-01"), ("政府信息公开制度", "2020-03-01"),
                            ("2024年政府信息公开工作年度报告", "2025-01-22"),
                            ("2023年政府信息公开工作年度报告", "2024-01-26"), ("关于做好年报编制工作的通知", "2023-12-15"))
    assert pinned_at_top(pinned) == {"http://a.gov.cn/0.html", "http://a.gov.cn/1.html"}
    newest_first = _dated_listing(("2024年报", "2025-01-22"), ("2023年报", "2024-01-26"), ("2022年报", "2023-01-20"))
    assert pinned_at_top(newest_first) == set()
    # oldest first (some columns list 2008 on top): nothing is out of the listing's order
    oldest_first = _dated_listing(("2008年报", "2009-03-30"), ("2009年报", "2010-03-30"), ("2010年报", "2011-03-30"))
    assert pinned_at_top(oldest_first) == set()
    # out of order in the middle: no pinned prefix to take away, nothing is guessed
    shuffled = _dated_listing(("2024年报", "2025-01-22"), ("指南", "2019-05-01"), ("2023年报", "2024-01-26"),
                              ("2022年报", "2023-01-20"))
    assert pinned_at_top(shuffled) == set()
