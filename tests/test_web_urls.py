"""The URL builder (web/urls.py) over the demo archive: every URL it builds is served by the app, every link of
every page resolves, and no template or module of web/ spells a path by hand (only the route declarations do)."""
from __future__ import annotations

import ast
import re
from collections import deque
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html
import pytest
from fastapi.testclient import TestClient

from tests.web_fixtures import BASE, DemoArchive, shared_demo_archive
from web.app import DOC_PATHS, create_app
from web.urls import Urls

WEB = Path(__file__).resolve().parents[1] / "web"
# the first path segment of every route of the app: a string starting with one of them is a hand-written link
ROUTE_SEGMENTS = ("captures", "raw", "reports", "agencies", "runs", "diff", "search", "export", "api", "static",
                  "docs")
HAND_WRITTEN = re.compile(r"^/(?:" + "|".join(ROUTE_SEGMENTS) + r")\b")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoArchive:
    return shared_demo_archive(tmp_path_factory)


@pytest.fixture(scope="module")
def client(demo):
    with TestClient(create_app(demo.config)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def some(client, demo) -> dict:
    """One of each thing a URL can name, taken from the API."""
    agency = client.get("/api/agencies/sfq-wjj").json()
    edited = next(url for url, ids in demo.captures.items() if len(ids) == 2)
    return {"agency": "sfq-wjj", "report": agency["reports"][0]["id"], "capture": agency["captures"][0]["id"],
            "url": edited, "pair": demo.captures[edited], "run": demo.run_ids[0]}


def built_urls_of_pages(urls: Urls, some: dict) -> list[tuple[str, int]]:
    """What the builder makes of a capture of a web page (the edited report page)."""
    return [(urls.full_page(some["pair"][0]), 200)]


def built_urls(urls: Urls, some: dict) -> list[tuple[str, int]]:
    """(url, the status the app must answer) for every method of the builder."""
    a, b = some["pair"]
    return [
        (urls.dashboard(), 200), (urls.dashboard({"year": 2023, "status": "late"}, page=1), 200),
        (urls.dashboard({"level": "department"}, api=True), 200),
        (urls.agency(some["agency"]), 200), (urls.agency(some["agency"], api=True), 200),
        (urls.report(some["report"]), 200), (urls.report(some["report"], api=True), 200),
        (urls.captures(), 200), (urls.captures(url=some["url"]), 200), (urls.captures(url=some["url"], api=True), 200),
        (urls.capture(some["capture"]), 200), (urls.capture(some["capture"], api=True), 200),
        (urls.raw(some["capture"]), 200), (urls.raw(some["capture"], download=True), 200),
        (urls.latest(some["url"]), 302), (urls.latest(some["url"], raw=True), 302),
        (urls.diff(a, b), 200), (urls.diff(a, b, api=True), 200),
        (urls.search(q="行政复议"), 200), (urls.search({"q": "复议"}, api=True), 200),
        (urls.runs(), 200), (urls.runs(page=1, api=True), 200),
        (urls.run(some["run"]), 200), (urls.run(some["run"], api=True), 200),
        (urls.export("csv", {"year": 2023}), 200), (urls.export("xlsx"), 200), (urls.export("json"), 200),
        (urls.static("style.css"), 200), (urls.docs(), 200), (urls.docs_asset("swagger-ui.css"), 200),
    ]


def test_every_url_the_builder_makes_is_served(client, some):
    for url, status in built_urls(Urls(), some) + built_urls_of_pages(Urls(), some):
        assert url.startswith("/")
        response = client.get(url, follow_redirects=False)
        assert response.status_code == status, url


def test_with_a_base_the_same_urls_are_absolute_and_still_served(client, some):
    absolute = built_urls(Urls("http://testserver/"), some)
    relative = built_urls(Urls(), some)
    for (url, status), (path, _status) in zip(absolute, relative):
        assert url == "http://testserver" + path
        assert client.get(url, follow_redirects=False).status_code == status, url


def test_names_are_escaped_into_one_path_segment_and_ids_must_be_ids():
    urls = Urls()
    assert urls.agency("a/../b c") == "/agencies/a%2F..%2Fb%20c"
    assert urls.run("2025-03-01T02:00:00Z/x") == "/runs/2025-03-01T02%3A00%3A00Z%2Fx"
    assert urls.latest("http://x.test/年报.pdf?a=1&b=2", raw=True) == \
        "/captures/latest?url=http%3A%2F%2Fx.test%2F%E5%B9%B4%E6%8A%A5.pdf%3Fa%3D1%26b%3D2&view=raw"
    assert urls.dashboard({"year": None, "level": "", "status": "late"}) == "/?status=late"
    for bad in ("1/../2", None, True, 1.5):
        with pytest.raises(TypeError):
            urls.capture(bad)
    with pytest.raises(ValueError):
        urls.export("exe")


def test_every_link_of_every_page_resolves(client, demo):
    """Walk the UI from the dashboard (pages only, not the archived bytes under /raw/): no link is broken."""
    seen: set[str] = set()
    queue = deque(["/"])
    broken = []
    while queue and len(seen) < 2000:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, follow_redirects=False)
        if response.status_code not in (200, 302):
            broken.append((path, response.status_code))
            continue
        if not response.headers.get("content-type", "").startswith("text/html") or path.startswith("/raw/"):
            continue
        document = lxml.html.fromstring(response.text)
        for element in document.xpath("//*[@href or @src or @action]"):
            value = element.get("href") or element.get("src") or element.get("action")
            if value.startswith("data:"):
                continue
            parts = urlsplit(urljoin("http://testserver" + path, value))
            assert parts.netloc == "testserver", (path, value)  # every link of the UI stays on the UI
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            # exports and whole-page screenshots (a Chromium render each) are tested on their own
            if (not parts.path.startswith(("/export.", "/docs-assets/")) and not parts.path.endswith("/full-page.jpg")
                    and target not in seen):
                queue.append(target)
    assert broken == []
    kinds = {urlsplit(path).path.split("/")[1] for path in seen}
    assert {"", "agencies", "reports", "captures", "raw", "diff", "runs", "search", "static"} <= kinds


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def _route_literals(app) -> set[str]:
    declared = {route.path for route in app.routes} | set(DOC_PATHS)
    # prefixes the error handlers use to tell a JSON, raw or static request (routing, not linking)
    return declared | {"/api/", "/raw/", "/static/"}


def test_no_path_is_written_by_hand_outside_the_url_builder_and_the_routes(client):
    allowed_in_app = _route_literals(client.app)
    found = []
    for path in sorted(WEB.glob("*.py")):
        if path.name == "urls.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
                continue
            if HAND_WRITTEN.match(node.value) and not (path.name == "app.py" and node.value in allowed_in_app):
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    for template in sorted((WEB / "templates").glob("*.html")):
        for number, line in enumerate(template.read_text("utf-8").splitlines(), 1):
            for match in re.finditer(r"""(?:href|src|action)\s*=\s*["']([^"'{]*)""", line):
                if match.group(1).startswith("/"):
                    found.append(f"templates/{template.name}:{number}: {match.group(0)}")
            for match in re.finditer(r"""["'](/[^"'\s]*)""", line):
                if HAND_WRITTEN.match(match.group(1)):
                    found.append(f"templates/{template.name}:{number}: {match.group(1)}")
    assert found == []


def test_the_check_above_sees_a_hand_written_link(tmp_path):
    """The scan itself: an f-string path in a module and an href in a template are found."""
    tree = ast.parse('def link(i):\n    return f"/captures/{i}"\n')
    assert [value for _line, value in _literals(tree) if HAND_WRITTEN.match(value)] == ["/captures/"]
    assert re.search(r"""(?:href|src|action)\s*=\s*["']/""", '<a href="/reports/{{ r.id }}">')


def test_links_in_archived_pages_lead_to_the_builders_latest_capture_url(client, demo):
    document = lxml.html.fromstring(client.get(Urls().raw(demo.captures[BASE + "/trs/index.html"][0])).content)
    hrefs = [link.get("href") for link in document.xpath("//a[@href]")
             if not link.get("href").startswith(("#", "mailto:", "tel:"))]
    assert hrefs
    for href in hrefs:
        parts = urlsplit(href)
        assert parts.path == "/captures/latest" and parse_qs(parts.query)["view"] == ["raw"], href
        assert Urls().latest(parse_qs(parts.query)["url"][0], raw=True) == href.split("#")[0]
