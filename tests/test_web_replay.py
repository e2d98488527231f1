"""Replay fidelity over a real archive (WARC + catalog, tests/web_fixtures.archive_pages): a page's own
``<base href>`` decides how its relative links resolve and then leads nowhere live; links to attachments resolve to
their capture whatever spelling of the URL the page and the archive use (percent-encoded or raw Chinese names,
quotes, apostrophes); what the archive does not hold is neutralised or explained, never fetched from the live site.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from fastapi.testclient import TestClient

from storage.config import Config
from tests.web_fixtures import ExtraPage, archive_pages
from web.app import create_app
from web.spellings import spellings
from web.urls import Urls

PORTAL = "http://portal.xxgk.test"
OTHER = "http://other.xxgk.test"  # the host a <base href> names: "live" for the reader, archived here in part
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
URLS = Urls()

BASED_PAGE = f"""<!DOCTYPE html>
<html><head><base href="{OTHER}/dir/"><title>设了 base 的页面</title>
<style>.banner {{ background: url(banner.png) }} .gone {{ background: url('gone.png') }}</style></head>
<body>
<a id="archived" href="kept.html">存档过的相对链接</a>
<a id="unarchived" href="elsewhere.html">没有存档的相对链接</a>
<a id="rooted" href="/root.html">根路径链接</a>
<a id="parent" href="../up.html#part">上级目录</a>
<a id="live" href="http://live.xxgk.test/page.html">外部链接</a>
<a id="protocol-relative" href="//cdn.xxgk.test/lib.html">协议相对链接</a>
<a id="anchor" href="#section">页内锚点</a>
<a id="mail" href="mailto:gk@example.gov.cn">信箱</a>
<a id="pinged" href="kept.html" ping="{OTHER}/ping">带 ping 的链接</a>
<img id="logo" src="logo.png" usemap="#m"><img id="missing" src="missing.png">
<map name="m"><area id="area" href="area.html"></map>
<div id="bg" style="background-image: url(bg.png)">背景</div>
<video id="video" poster="poster.png"><source id="source" src="clip.mp4"></video>
<q id="quote" cite="quote.html">引文</q>
<form><button id="button" formaction="submit.html">提交</button></form>
<svg><image id="svg-image" href="logo.png"/><a id="svg-link" href="kept.html"><text>svg</text></a></svg>
<p id="section">正文</p>
</body></html>""".encode()

ATTACHMENTS_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>附件</title></head><body>
<a id="encoded" href="%E5%B9%B4%E6%8A%A5.pdf">年报（页面编码，存档为原文）</a>
<a id="lower-hex" href="%e5%b9%b4%e6%8a%a5.pdf">年报（小写十六进制）</a>
<a id="raw" href="附件二.pdf">附件二（页面原文，存档为编码）</a>
<a id="apostrophe" href='it&#39;s 2023.pdf'>撇号与空格</a>
<a id="apostrophe-encoded" href="O%27Neil.pdf">编码的撇号</a>
<a id="quotes" href='&quot;final&quot;.pdf'>引号</a>
<a id="query" href="download.jsp?file=%E5%B9%B4%E6%8A%A5.pdf&amp;name=it's">查询参数</a>
<a id="slash" href="a%2Fb.pdf">编码的斜杠是另一个网址</a>
<img id="scan" src="%E6%89%AB%E6%8F%8F.png">
</body></html>""".encode()

# (link id, the URL the archive holds it under); None: the archive must not claim to hold it
ATTACHMENTS = {
    "encoded": f"{PORTAL}/att/年报.pdf",
    "lower-hex": f"{PORTAL}/att/年报.pdf",
    "raw": f"{PORTAL}/att/%E9%99%84%E4%BB%B6%E4%BA%8C.pdf",
    "apostrophe": f"{PORTAL}/att/it's%202023.pdf",
    "apostrophe-encoded": f"{PORTAL}/att/O'Neil.pdf",
    "quotes": f"{PORTAL}/att/%22final%22.pdf",
    "query": f"{PORTAL}/att/download.jsp?file=%E5%B9%B4%E6%8A%A5.pdf&name=it%27s",  # as browsers send it
}


def _page(url: str, body: bytes, content_type: str = "text/html; charset=utf-8", **more) -> ExtraPage:
    return ExtraPage(url, body, content_type, **more)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    config = Config.from_env({}, data_dir=tmp_path_factory.mktemp("replay"))
    pages = (
        _page(f"{PORTAL}/news/based.html", BASED_PAGE),
        _page(f"{OTHER}/dir/kept.html", "<p id='kept'>存档过的页面</p>".encode()),
        _page(f"{OTHER}/up.html", "<p id='up'>上级目录页面</p>".encode()),
        _page(f"{OTHER}/dir/logo.png", PNG, "image/png"),
        _page(f"{OTHER}/dir/bg.png", PNG, "image/png"),
        _page(f"{OTHER}/dir/banner.png", PNG, "image/png"),
        _page(f"{PORTAL}/att/list.html", ATTACHMENTS_PAGE),
        *(_page(url, PDF, "application/pdf") for url in dict.fromkeys(ATTACHMENTS.values())),
        _page(f"{PORTAL}/att/a/b.pdf", PDF, "application/pdf"),
        _page(f"{PORTAL}/att/扫描.png", PNG, "image/png"),
        _page(f"{PORTAL}/moved.html", b"", status=301,
              headers=(("Location", "http://live.xxgk.test/new%20home.html"),)),
    )
    ids = archive_pages(config, pages)
    with TestClient(create_app(config)) as client:
        yield client, ids


def replayed(client, capture_id: int) -> lxml.html.HtmlElement:
    response = client.get(URLS.raw(capture_id))
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    return lxml.html.fromstring(response.content)


def archived_target(href: str) -> str:
    """The original URL an archive link names (``/captures/latest?url=…&view=raw``)."""
    parts = urlsplit(href)
    assert parts.path == "/captures/latest" and not parts.netloc, href
    query = parse_qs(parts.query)
    assert query["view"] == ["raw"], href
    return query["url"][0]


def lands_on(client, href: str) -> int | None:
    """The capture a click on ``href`` shows (None: the archive says it does not hold it)."""
    response = client.get(href, follow_redirects=False)
    if response.status_code == 404:
        assert "存档中没有该网址的捕获" in response.text
        return None
    assert response.status_code == 302, (href, response.status_code)
    location = response.headers["location"]
    assert location.startswith("/raw/")
    return int(location.rsplit("/", 1)[1])


# ---------------------------------------------------------------- <base href>

def test_nothing_in_a_page_with_a_base_href_points_at_a_live_host(archive):
    client, ids = archive
    document = replayed(client, ids[f"{PORTAL}/news/based.html"])
    assert not document.xpath("//base")
    for element in document.iter(lxml.etree.Element):
        for name, value in element.attrib.items():
            if name == "data-original-src":
                continue  # kept for the reader to see, never loaded
            assert not urlsplit(value.strip()).netloc, (element.tag, name, value)  # no host: never the live web
            if name in ("href", "src", "xlink:href", "cite", "poster", "background"):
                assert value.startswith(("/captures/latest?", "#", "mailto:")), (element.tag, name, value)
            assert name not in ("ping", "formaction", "action"), (element.tag, name)
            if name == "style":
                assert "url(" not in value or 'url("/captures/latest?' in value, value
    css = " ".join(style.text or "" for style in document.xpath("//style"))
    assert 'url("/captures/latest?' in css and "gone.png" not in css


def test_relative_links_resolve_against_the_archived_base(archive):
    client, ids = archive
    document = replayed(client, ids[f"{PORTAL}/news/based.html"])
    href = {element.get("id"): element.get("href") for element in document.xpath("//*[@id and @href]")}
    assert archived_target(href["archived"]) == f"{OTHER}/dir/kept.html"
    assert archived_target(href["unarchived"]) == f"{OTHER}/dir/elsewhere.html"
    assert archived_target(href["rooted"]) == f"{OTHER}/root.html"
    assert archived_target(href["parent"].split("#")[0]) == f"{OTHER}/up.html" and href["parent"].endswith("#part")
    assert archived_target(href["live"]) == "http://live.xxgk.test/page.html"
    assert archived_target(href["protocol-relative"]) == "http://cdn.xxgk.test/lib.html"
    assert archived_target(href["area"]) == f"{OTHER}/dir/area.html"
    assert href["anchor"] == "#section" and href["mail"] == "mailto:gk@example.gov.cn"
    # a click leads to the archived copy, or to the archive's own "not archived" answer
    assert lands_on(client, href["archived"]) == ids[f"{OTHER}/dir/kept.html"]
    assert lands_on(client, href["svg-link"]) == ids[f"{OTHER}/dir/kept.html"]
    assert lands_on(client, href["parent"].split("#")[0]) == ids[f"{OTHER}/up.html"]
    for unarchived in ("unarchived", "rooted", "live", "protocol-relative", "area"):
        assert lands_on(client, href[unarchived]) is None, unarchived


def test_images_load_from_the_archive_or_not_at_all(archive):
    client, ids = archive
    document = replayed(client, ids[f"{PORTAL}/news/based.html"])
    logo = document.get_element_by_id("logo")
    assert lands_on(client, logo.get("src")) == ids[f"{OTHER}/dir/logo.png"]
    assert logo.get("usemap") == "#m"
    assert lands_on(client, document.get_element_by_id("svg-image").get("href")) == ids[f"{OTHER}/dir/logo.png"]
    missing = document.get_element_by_id("missing")
    assert missing.get("src") is None and missing.get("data-original-src") == f"{OTHER}/dir/missing.png"
    for element_id, name in (("video", "poster"), ("source", "src")):
        assert document.get_element_by_id(element_id).get(name) is None
    background = document.get_element_by_id("bg").get("style")
    target = background.split('url("', 1)[1].split('")', 1)[0]
    assert lands_on(client, target) == ids[f"{OTHER}/dir/bg.png"]


def test_an_archived_redirect_points_into_the_archive(archive):
    client, ids = archive
    document = replayed(client, ids[f"{PORTAL}/moved.html"])
    link = document.xpath("//a")[0]
    assert archived_target(link.get("href")) == "http://live.xxgk.test/new%20home.html"
    assert "HTTP 301" in document.text_content()
    assert lands_on(client, link.get("href")) is None
    # saved from the browser, the page it was shown is an HTML file
    disposition = client.get(URLS.raw(ids[f"{PORTAL}/moved.html"])).headers["content-disposition"]
    assert disposition.startswith("inline;") and '.html"' in disposition and ".bin" not in disposition


# ---------------------------------------------------------------- spellings of attachment names

def test_attachment_links_reach_their_capture_whatever_the_spelling(archive):
    client, ids = archive
    document = replayed(client, ids[f"{PORTAL}/att/list.html"])
    for link_id, stored in ATTACHMENTS.items():
        href = document.get_element_by_id(link_id).get("href")
        assert archived_target(href) == stored, link_id  # the archive's own spelling, found when rewriting
        assert lands_on(client, href) == ids[stored], link_id
    scan = document.get_element_by_id("scan").get("src")
    assert scan is not None and lands_on(client, scan) == ids[f"{PORTAL}/att/扫描.png"]
    # %2F is part of a file name, not a directory: a/b.pdf is another document
    assert lands_on(client, document.get_element_by_id("slash").get("href")) is None


@pytest.mark.parametrize("written, stored", [
    (f"{PORTAL}/att/%E5%B9%B4%E6%8A%A5.pdf", f"{PORTAL}/att/年报.pdf"),
    (f"{PORTAL}/att/附件二.pdf", f"{PORTAL}/att/%E9%99%84%E4%BB%B6%E4%BA%8C.pdf"),
    (f"{PORTAL}/att/it%27s%202023.pdf", f"{PORTAL}/att/it's%202023.pdf"),
    (f"{PORTAL.upper().replace('HTTP://', 'http://')}/att/\"final\".pdf", f"{PORTAL}/att/%22final%22.pdf"),
])
def test_the_capture_pages_find_a_url_under_any_spelling(archive, written, stored):
    client, ids = archive
    response = client.get(URLS.latest(written), follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == URLS.capture(ids[stored])
    listed = client.get(URLS.captures(url=written, api=True)).json()
    assert [item["id"] for item in listed["captures"]] == [ids[stored]]


def test_spellings_keep_what_gives_a_url_its_structure():
    assert f"{PORTAL}/att/年报.pdf" in spellings(f"{PORTAL}/att/%E5%B9%B4%E6%8A%A5.pdf")
    assert f"{PORTAL}/att/%E5%B9%B4%E6%8A%A5.pdf" in spellings(f"{PORTAL}/att/年报.pdf")
    assert spellings("http://x.test/a%2Fb?q=1%262&r=a+b%2Bc") == [
        "http://x.test/a%2Fb?q=1%262&r=a+b%2Bc"]  # nothing else to spell: every escape there is structural
    assert all("%C4%EA" in spelling for spelling in spellings("http://x.test/%C4%EA.pdf"))  # GBK bytes stay
    assert spellings("mailto:a@b.c") == ["mailto:a@b.c"]
    assert "http://x.test/" in spellings("http://X.TEST")


# ---------------------------------------------------------------- a DOM the crawler's browser rendered

def test_the_links_of_a_rendered_listing_lead_to_the_reports_it_lists(tmp_path):
    """A script-built listing is archived as the DOM Chromium rendered (``urn:rendered-dom:<page URL>``, with
    ``#page=N`` after a paging step): its relative links are the page's and resolve against the page's URL."""
    from storage.archive import RENDERED_DOM_PREFIX, Archive

    config = Config.from_env({}, data_dir=tmp_path / "data")
    ids = archive_pages(config, (
        _page(f"{PORTAL}/js/list.html", b"<html><body><div id='app'></div><script src='app.js'></script></body></html>"),
        _page(f"{PORTAL}/js/art/2024/nb2024.html", "<p>2024年度报告</p>".encode()),
        _page(f"{PORTAL}/js/nb2023.html", "<p>2023年度报告</p>".encode()),
    ))
    dom = ("<html><body><ul><li><a id='rooted' href='/js/art/2024/nb2024.html'>2024年政府信息公开工作年度报告</a></li>"
           "<li><a id='relative' href='nb2023.html'>2023年政府信息公开工作年度报告</a></li></ul></body></html>").encode()
    archive = Archive.open(config, durability="os")
    rendered = {page: archive.record_resource(f"{RENDERED_DOM_PREFIX}{PORTAL}/js/list.html{suffix}", dom,
                                              "text/html; charset=utf-8", concurrent_to=ids[f"{PORTAL}/js/list.html"])
                for page, suffix in ((1, ""), (2, "#page=2"))}
    archive.finish("finished")
    with TestClient(create_app(config)) as client:
        for ref in rendered.values():
            document = replayed(client, ref.id)
            rooted, relative = (document.get_element_by_id(name).get("href") for name in ("rooted", "relative"))
            assert archived_target(rooted) == f"{PORTAL}/js/art/2024/nb2024.html"
            assert archived_target(relative) == f"{PORTAL}/js/nb2023.html"
            assert lands_on(client, rooted) == ids[f"{PORTAL}/js/art/2024/nb2024.html"]
            assert lands_on(client, relative) == ids[f"{PORTAL}/js/nb2023.html"]
