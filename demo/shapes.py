"""Portals whose report column is hard to read, one listing shape each, as real portals build them.

The five demo portals (``demo.portals``) show what a crawl finds; these show what a crawl can miss, and what it must
say when it cannot read a column. Each agency's column is one shape:

- ``shape-shell``: a script shell — a placeholder "加载中…", items loaded as JSON from a URL the script builds by
  string concatenation, pager links ``javascript:load(n)`` (TRS/Hanweb JSON channels);
- ``shape-post``: a jQuery-style ``$.ajax`` POST with form-encoded page numbers and a "下一页" button;
- ``shape-iframe``: the listing inside an ``<iframe>``, with a static pager inside the frame;
- ``shape-descent``: no column in the registry; reachable only from the homepage through 政务公开 sections;
- ``shape-moved``: the registry's column URL; in edition 2 the site was redesigned, the old URL answers 404 and
  the homepage links the column at its new place;
and four columns no crawler can read, whose years must come out ``undetermined`` with the reason, never missing:
``shape-robots`` (robots.txt forbids it), ``shape-forbidden`` (403), ``shape-broken`` (its script throws) and
``shape-empty`` (the shell loads an empty list).

Served by ``demo.server.DemoServer`` (which answers POST for portals that take it); the truth (which reports exist,
the verdicts expected) is in ``SHAPES`` and ``expected_verdicts``.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, replace
from datetime import date
from typing import Mapping
from urllib.parse import parse_qs, urlsplit

from demo.portals import Resource

EDITIONS = (1, 2)
PAGE_SIZE = 4
FIELDS = {"edu": "学校招生、学生资助和教育收费", "mz": "低保救助、养老服务和婚姻登记", "sf": "法律援助、人民调解和行政复议",
          "sw": "防汛抗旱、河湖长制和供水保障", "jt": "道路运输、公交线网和工程建设", "wl": "文物保护、公共文化和旅游市场",
          "cg": "市容环境、违法建设整治和停车管理", "wj": "疾病预防、医疗服务和卫生监督", "da": "档案开放、查档服务和史志编纂"}
ROBOTS_DISALLOWED = "/blocked/"


@dataclass(frozen=True)
class ShapeAgency:
    id: str
    name: str
    field: str                      # key of FIELDS
    prefix: str                     # every path of the agency starts with /prefix/
    shape: str
    published: Mapping[int, str]    # report year → publication day (ISO) of the reports on the portal
    column: str                     # the column's path (edition 1)
    registry_column: bool = True    # the registry names the column; False: homepage only
    readable: bool = True


def _years(**days: str) -> dict[int, str]:
    return {int(year[1:]): day for year, day in days.items()}


ON_TIME = _years(y2020="2021-01-20", y2021="2022-01-18", y2022="2023-01-16", y2023="2024-01-22", y2024="2025-01-20")
SHAPES = (
    ShapeAgency("shape-shell", "甲市乙区教育局", "edu", "shell", "script_shell",
                {year: day for year, day in ON_TIME.items() if year != 2022}, "/shell/nb/index.html"),
    ShapeAgency("shape-post", "甲市乙区民政局", "mz", "post", "ajax_post",
                {**ON_TIME, 2021: "2022-03-02"}, "/post/ndbg/index.html"),
    ShapeAgency("shape-iframe", "甲市乙区司法局", "sf", "frame", "iframe", ON_TIME, "/frame/nb/index.html"),
    ShapeAgency("shape-descent", "甲市乙区水务局", "sw", "descent", "descent", ON_TIME,
                "/descent/zwgk/fdzdgknr/nb/index.html", registry_column=False),
    ShapeAgency("shape-moved", "甲市乙区交通运输局", "jt", "moved", "moved", ON_TIME, "/moved/old/nb/index.html"),
    ShapeAgency("shape-robots", "甲市乙区文化和旅游局", "wl", "blocked", "robots", ON_TIME, "/blocked/nb/index.html",
                readable=False),
    ShapeAgency("shape-forbidden", "甲市乙区城市管理局", "cg", "forbidden", "forbidden", ON_TIME,
                "/forbidden/nb/index.html", readable=False),
    ShapeAgency("shape-broken", "甲市乙区卫生健康委员会", "wj", "broken", "script_error", ON_TIME,
                "/broken/nb/index.html", readable=False),
    ShapeAgency("shape-empty", "甲市乙区档案馆", "da", "empty", "empty_shell", {}, "/empty/nb/index.html",
                readable=False),
)
MOVED_COLUMN = "/moved/xxgk/ndbg/index.html"   # shape-moved's column in edition 2
WATCH_YEARS = (2020, 2021, 2022, 2023, 2024)
# why each unreadable column cannot prove anything (the monitor.proof problem it must come out as)
UNREADABLE_PROBLEMS = {"shape-robots": "robots", "shape-forbidden": "unreadable", "shape-broken": "script_error",
                       "shape-empty": "empty"}


@dataclass(frozen=True)
class Item:
    title: str
    path: str
    day: str


def _items(agency: ShapeAgency) -> list[Item]:
    """The column's entries, newest first: the reports and the news an agency posts beside them."""
    entries = [Item(f"{agency.name}{year}年政府信息公开工作年度报告", f"/{agency.prefix}/art/{year}/nb{year}.html", day)
               for year, day in agency.published.items()]
    entries += [Item(f"{agency.name}召开{year}年政务公开工作推进会", f"/{agency.prefix}/art/{year}/news{year}.html",
                     f"{year}-06-15") for year in range(2020, 2025)]
    return sorted(entries, key=lambda item: (item.day, item.path), reverse=True)


def _pages(items: list[Item]) -> list[list[Item]]:
    return [items[start:start + PAGE_SIZE] for start in range(0, len(items), PAGE_SIZE)] or [[]]


# ---------------------------------------------------------------- pages

def _page(title: str, body: str, head: str = "") -> bytes:
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'{head}</head><body><div class="header">甲市乙区人民政府门户网站</div>{body}'
            f'<div class="footer">主办：甲市乙区人民政府办公室</div></body></html>').encode("utf-8")


def _report(agency: ShapeAgency, year: int, day: str) -> bytes:
    """A short report page: title, 目录-style dates, the 2021 outline, the 落款 (too short for the copy check)."""
    published = date.fromisoformat(day)
    title = f"{agency.name}{year}年政府信息公开工作年度报告"
    body = (f'<div class="article"><h1>{title}</h1><div class="info">发布日期：{day}　来源：{agency.name}</div>'
            f"<p>本报告依据《中华人民共和国政府信息公开条例》和国办公开办函〔2021〕30号要求编制。</p>"
            f"<p>一、总体情况</p><p>{year}年，{agency.name}围绕{FIELDS[agency.field]}等事项主动公开政府信息。</p>"
            f"<p>二、主动公开政府信息情况</p><p>三、收到和处理政府信息公开申请情况</p>"
            f"<p>四、政府信息公开行政复议、行政诉讼情况</p><p>五、存在的主要问题及改进情况</p>"
            f"<p>六、其他需要报告的事项</p><p>本年度未收取信息处理费。</p>"
            f'<p style="text-align:right">{agency.name}</p>'
            f'<p style="text-align:right">{published.year}年{published.month}月{published.day}日</p></div>')
    return _page(title, body, f'<meta name="PubDate" content="{day} 09:00">')


def _news(agency: ShapeAgency, item: Item) -> bytes:
    return _page(item.title, f'<div class="article"><h1>{item.title}</h1><div class="info">发布日期：{item.day}</div>'
                             f"<p>会议总结了政务公开工作，部署下一阶段任务。</p></div>")


def _list_html(items: list[Item]) -> str:
    rows = "".join(f'<li><a href="{item.path}" title="{html.escape(item.title)}">{html.escape(item.title)}</a>'
                   f"<span>{item.day}</span></li>" for item in items)
    return f'<ul class="list">{rows}</ul>'


def _json_items(items: list[Item]) -> list[dict[str, str]]:
    return [{"title": item.title, "url": item.path, "pubDate": item.day} for item in items]


_XHR_LIST = """
function render(items) {
  var html = '<ul class="list">';
  for (var i = 0; i < items.length; i++) {
    html += '<li><a href="' + items[i].url + '">' + items[i].title + '</a><span>' + items[i].pubDate + '</span></li>';
  }
  document.getElementById('list').innerHTML = html + '</ul>';
}
"""


def _shell_column(agency: ShapeAgency) -> bytes:
    script = _XHR_LIST + f"""
var channel = '{agency.prefix}';
function load(n) {{
  var xhr = new XMLHttpRequest();
  xhr.open('GET', '/' + channel + '/api/' + 'list' + '_' + n + '.json');
  xhr.onload = function () {{
    var data = JSON.parse(xhr.responseText);
    render(data.items);
    var pager = '';
    for (var k = 1; k <= data.pages; k++) {{ pager += '<a href="javascript:load(' + k + ')">' + k + '</a> '; }}
    document.getElementById('pager').innerHTML = pager;
  }};
  xhr.send();
}}
load(1);
"""
    # like a real channel page it also loads a style sheet, a script file and a frame the script adds (the column's
    # notice): what the rendered page fetched besides its data
    head = (f'<link rel="stylesheet" href="/{agency.prefix}/css/list.css">'
            f'<script src="/{agency.prefix}/js/notice.js"></script>')
    return _page(f"政府信息公开年报_{agency.name}",
                 f'<h2>政府信息公开年报</h2><div id="notice"></div><div id="list">加载中…</div><div id="pager"></div>'
                 f'<script>{script}</script>', head)


def _shell_assets(agency: ShapeAgency) -> dict[str, bytes]:
    """The style sheet, script file and frame document the script shell loads (``_shell_column``)."""
    p = agency.prefix
    notice = (f"document.addEventListener('DOMContentLoaded', function () {{\n"
              f"  var frame = document.createElement('iframe');\n  frame.src = '/{p}/nb/notice.html';\n"
              f"  frame.width = '900'; frame.height = '40';\n"
              f"  document.getElementById('notice').appendChild(frame);\n}});\n")
    return {f"/{p}/css/list.css": b".list li span { margin-left: 1em; color: #666; }\n#pager a { margin: 0 4px; }\n",
            f"/{p}/js/notice.js": notice.encode(),
            f"/{p}/nb/notice.html": _page("栏目说明", f"<p>本栏目发布{agency.name}政府信息公开工作年度报告。</p>")}


def _post_column(agency: ShapeAgency) -> bytes:
    script = _XHR_LIST + """
var $ = {ajax: function (o) {
  var xhr = new XMLHttpRequest();
  xhr.open(o.type || 'GET', o.url);
  xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded; charset=UTF-8');
  xhr.onload = function () { o.success(JSON.parse(xhr.responseText)); };
  var body = [];
  for (var key in o.data) { body.push(encodeURIComponent(key) + '=' + encodeURIComponent(o.data[key])); }
  xhr.send(body.join('&'));
}};
var page = 1;
function show(data) {
  render(data.list);
  document.getElementById('next').style.display = data.pageNo < data.totalPage ? '' : 'none';
}
function go(n) { page = n; $.ajax({url: '/post/' + 'list.do', type: 'POST', data: {channelId: 'ndbg', pageNo: n},
                                  success: show}); }
go(1);
"""
    return _page(f"年度报告 - {agency.name}",
                 '<h2>政府信息公开年度报告</h2><div id="list"></div>'
                 '<a id="next" href="#" onclick="go(page + 1); return false;">下一页</a>'
                 f"<script>{script}</script>")


def _frame_pages(agency: ShapeAgency) -> dict[str, bytes]:
    pages = _pages(_items(agency))
    site = {agency.column: _page(f"年报 {agency.name}", '<h2>政府信息公开年报</h2>'
                                 f'<iframe src="/{agency.prefix}/nb/list_1.html" width="900" height="600"></iframe>')}
    for number, items in enumerate(pages, 1):
        pager = "".join(f'<a href="list_{n}.html">{n}</a> ' for n in range(1, len(pages) + 1))
        nxt = f'<a href="list_{number + 1}.html">下一页</a>' if number < len(pages) else ""
        site[f"/{agency.prefix}/nb/list_{number}.html"] = _page("列表", _list_html(items) + f'<div class="page">{pager}'
                                                                                        f'{nxt}共{len(pages)}页</div>')
    return site


def _static_column(agency: ShapeAgency, path: str) -> dict[str, bytes]:
    """A plain listing with a numbered pager: index.html, index_1.html, …"""
    pages = _pages(_items(agency))
    folder = path.rsplit("/", 1)[0]
    site = {}
    for number, items in enumerate(pages):
        name = "index.html" if number == 0 else f"index_{number}.html"
        links = " ".join(f'<a href="{"index.html" if n == 0 else f"index_{n}.html"}">{n + 1}</a>'
                         for n in range(len(pages)))
        site[f"{folder}/{name}"] = _page(f"政府信息公开年报 {agency.name}", "<h2>政府信息公开年报</h2>" + _list_html(items)
                                         + f'<div class="pager">{links} 共{len(pages)}页</div>')
    return site


def _homepage(agency: ShapeAgency, links: list[tuple[str, str]]) -> bytes:
    anchors = "".join(f'<li><a href="{path}">{html.escape(text)}</a></li>' for text, path in links)
    return _page(agency.name, f'<div class="nav"><ul>{anchors}</ul></div><div class="main">欢迎访问{agency.name}</div>')


def _agency_site(agency: ShapeAgency, edition: int) -> dict[str, Resource]:
    p = agency.prefix
    pages: dict[str, bytes] = {}
    status: dict[str, int] = {}
    home_links = [("首页", f"/{p}/index.html"), ("新闻动态", f"/{p}/xwdt/index.html")]
    if agency.shape == "script_shell":
        pages[agency.column] = _shell_column(agency)
        pages.update(_shell_assets(agency))
    elif agency.shape == "ajax_post":
        pages[agency.column] = _post_column(agency)
    elif agency.shape == "iframe":
        pages.update(_frame_pages(agency))
    elif agency.shape == "descent":
        home_links.append(("政务公开", f"/{p}/zwgk/index.html"))
        pages[f"/{p}/zwgk/index.html"] = _homepage(agency, [("政策文件", f"/{p}/zwgk/zcwj/index.html"),
                                                            ("法定主动公开内容", f"/{p}/zwgk/fdzdgknr/index.html")])
        pages[f"/{p}/zwgk/fdzdgknr/index.html"] = _homepage(agency, [("机构职能", f"/{p}/zwgk/jgzn/index.html"),
                                                                   ("政府信息公开年报", agency.column)])
        pages.update(_static_column(agency, agency.column))
    elif agency.shape == "moved":
        if edition == 1:
            pages.update(_static_column(agency, agency.column))
        else:  # redesigned: the old column is gone, the homepage links the new one
            home_links.append(("信息公开", f"/{p}/xxgk/index.html"))
            pages[f"/{p}/xxgk/index.html"] = _homepage(agency, [("政府信息公开指南", f"/{p}/xxgk/zn.html"),
                                                                ("政府信息公开年度报告", MOVED_COLUMN)])
            pages.update(_static_column(agency, MOVED_COLUMN))
    elif agency.shape == "robots":
        pages.update(_static_column(agency, agency.column))
    elif agency.shape == "forbidden":
        pages[agency.column] = _page("403 Forbidden", "<h1>403 Forbidden</h1><p>您的访问被拒绝。</p>")
        status[agency.column] = 403
    elif agency.shape == "script_error":
        pages[agency.column] = _page(f"年报 {agency.name}", '<h2>政府信息公开年报</h2><div id="list">正在加载…</div>'
                                     "<script>loadChannelList('nb', 1);</script>")
    elif agency.shape == "empty_shell":
        pages[agency.column] = _page(f"年报 {agency.name}", '<div id="app"></div><script>' + _XHR_LIST.replace(
            "getElementById('list')", "getElementById('app')") + "fetch('/empty/api/' + 'list.json')"
            ".then(function (r) { return r.json(); }).then(function (d) { render(d.items); });</script>")
        pages["/empty/api/list.json"] = json.dumps({"items": [], "pages": 0}).encode()
    pages[f"/{p}/index.html"] = _homepage(agency, home_links)
    for item in _items(agency):
        year = int(item.path.split("/")[3])
        pages[item.path] = (_report(agency, year, item.day) if item.path.rsplit("/", 1)[1].startswith("nb")
                            else _news(agency, item))
    if agency.shape == "script_shell":
        pages_of = _pages(_items(agency))
        for number, items in enumerate(pages_of, 1):
            pages[f"/{p}/api/list_{number}.json"] = json.dumps(
                {"pages": len(pages_of), "page": number, "items": _json_items(items)}, ensure_ascii=False).encode()
    site = {}
    for path, body in pages.items():
        kind = _TYPES.get(path.rsplit(".", 1)[-1], "text/html; charset=utf-8")
        site[path] = Resource(status.get(path, 200), body, kind)
    return site


_TYPES = {"json": "application/json; charset=utf-8", "css": "text/css; charset=utf-8",
          "js": "application/javascript; charset=utf-8"}


def _post_answer(agency: ShapeAgency, body: bytes) -> Resource:
    form = parse_qs(body.decode("utf-8", "replace"))
    try:
        number = int(form.get("pageNo", ["1"])[0])
    except ValueError:
        number = 1
    pages = _pages(_items(agency))
    items = pages[number - 1] if 1 <= number <= len(pages) else []
    answer = {"pageNo": number, "totalPage": len(pages), "list": _json_items(items)}
    return Resource(200, json.dumps(answer, ensure_ascii=False).encode(), "application/json; charset=utf-8")


@dataclass(frozen=True)
class ShapePortals:
    """The listing-shape portals in one state (``edition`` 2: shape-moved's site redesigned)."""

    edition: int = 1
    answers_post = True

    def with_edition(self, edition: int) -> "ShapePortals":
        return replace(self, edition=edition)

    @property
    def agencies(self) -> tuple[ShapeAgency, ...]:
        return SHAPES

    def site(self) -> dict[str, Resource]:
        site = {"/robots.txt": Resource(200, f"User-agent: *\nDisallow: {ROBOTS_DISALLOWED}\n".encode(),
                                        "text/plain; charset=utf-8")}
        for agency in SHAPES:
            site.update(_agency_site(agency, self.edition))
        return site

    def resource(self, target: str, method: str = "GET", body: bytes = b"") -> Resource | None:
        path = urlsplit(target).path or "/"
        if method == "POST":
            if path == "/post/list.do":
                return _post_answer(SHAPES[1], body)
            return Resource(405, b"method not allowed", "text/plain")
        site = self.site()
        if path.endswith("/"):
            path += "index.html"
        return site.get(path)

    def registry(self, base_url: str) -> list:
        from registry.agencies import Agency

        base = base_url.rstrip("/")
        return [Agency(id=agency.id, name=agency.name, level="department", region="999999",
                       homepage=f"{base}/{agency.prefix}/index.html",
                       report_index=(f"{base}{agency.column}",) if agency.registry_column else ())
                for agency in SHAPES]

    def report_urls(self, base_url: str) -> dict[str, set[str]]:
        """agency id → the URLs of its reports on the portal."""
        base = base_url.rstrip("/")
        return {agency.id: {f"{base}/{agency.prefix}/art/{year}/nb{year}.html" for year in agency.published}
                for agency in SHAPES}


def expected_status(agency: ShapeAgency, year: int) -> str:
    """The verdict a crawl must reach (as of a day after every deadline of WATCH_YEARS): on time or late by the
    published day, missing only where a readable column proves it, undetermined where the column is unreadable."""
    if not agency.readable:
        return "undetermined"
    day = agency.published.get(year)
    if day is None:
        return "missing"
    return "on_time" if date.fromisoformat(day) <= date(year + 1, 1, 31) else "late"



# ---------------------------------------------------------------- the demo's own share of the shapes

# `xxgk demo` serves its five portals and these two: a column that only a browser can read (paged by script), and
# one no crawler can read (403), whose years the demo must show as 无法判断 with the reason, never 未发布.
DEMO_SHAPES = ("shape-shell", "shape-forbidden")


@dataclass(frozen=True)
class DemoSite:
    """The five demo portals and ``DEMO_SHAPES`` on one server (their paths do not overlap; robots.txt is merged)."""

    edition: int = 1
    answers_post = True

    def __post_init__(self) -> None:
        from demo.portals import DemoPortals

        object.__setattr__(self, "portals", DemoPortals(edition=self.edition))
        object.__setattr__(self, "shapes", ShapePortals(edition=self.edition))

    def with_edition(self, edition: int) -> "DemoSite":
        return DemoSite(edition)

    @property
    def shape_agencies(self) -> tuple[ShapeAgency, ...]:
        return tuple(agency for agency in SHAPES if agency.id in DEMO_SHAPES)

    def _shape_paths(self) -> dict[str, Resource]:
        prefixes = tuple(f"/{agency.prefix}/" for agency in self.shape_agencies)
        return {path: resource for path, resource in self.shapes.site().items() if path.startswith(prefixes)}

    def site(self) -> dict[str, Resource]:
        site = {**self.portals.site(), **self._shape_paths()}
        site["/robots.txt"] = self._robots()
        return site

    def _robots(self) -> Resource:
        demo = self.portals.resource("/robots.txt")
        return Resource(200, demo.body.rstrip(b"\n") + f"\nDisallow: {ROBOTS_DISALLOWED}\n".encode(),
                        "text/plain; charset=utf-8")

    def resource(self, target: str, method: str = "GET", body: bytes = b"") -> Resource | None:
        path = urlsplit(target).path or "/"
        if method == "POST":
            return Resource(405, b"method not allowed", "text/plain")
        if path == "/robots.txt":
            return self._robots()
        if path.startswith(tuple(f"/{agency.prefix}/" for agency in self.shape_agencies)):
            return self.shapes.resource(target)
        return self.portals.resource(target)

    def registry(self, base_url: str) -> list:
        shapes = [agency for agency in self.shapes.registry(base_url) if agency.id in DEMO_SHAPES]
        return self.portals.registry(base_url) + shapes

    def watch_years(self) -> dict[str, tuple[int, ...]]:
        years = {agency.id: tuple(agency.watch_years) for agency in self.portals.agencies}
        years.update({agency.id: WATCH_YEARS for agency in self.shape_agencies})
        return years

    def expected_shape_verdicts(self) -> dict[tuple[str, int], tuple[str, int | None]]:
        """(status, days late) the demo must show for its shape agencies' years."""
        expected = {}
        for agency in self.shape_agencies:
            for year in WATCH_YEARS:
                status = expected_status(agency, year)
                day = agency.published.get(year)
                late = (date.fromisoformat(day) - date(year + 1, 1, 31)).days if day else None
                expected[(agency.id, year)] = (status, {"on_time": 0, "late": late}.get(status))
        return expected
