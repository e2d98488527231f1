"""A real archive for the web tests: the demo portals' bytes archived as WARC, parsed, judged.

``build_demo_archive(data_dir)`` archives every page of the five demo portals (edition 1, fetched on
2025-03-01), then the pages edition 2 changed (fetched on 2025-07-01: sfq-wjj's 2023 report edited in place,
ylx-wjj's back-dated 2023 report), records two fetch errors, parses every report and look-alike page with
``parse_document``, stores the records with ``queries.add_report``, records what each run read of each report
column (the coverage rows the crawler writes: every listed entry, the last page reached) and judges every agency
with ``monitor.verdicts.judge`` (from the catalog alone, as always). Nothing is mocked: these are
the same calls the crawler makes. Extra pages (the security tests' hostile page) can be archived alongside.
"""
from __future__ import annotations

import math
import re
import selectors
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from registry.catalog_sync import store_agencies
from demo.portals import EXTRA_PAGES, DemoPortals, Resource
from monitor.verdicts import judge
from parsers.document import parse_document
from parsers.record import FetchContext
from storage.archive import Archive
from storage.catalog import Catalog, queries
from storage.config import Config

BASE = "http://demo.xxgk.test"
FIRST_LOOK = datetime(2025, 3, 1, 2, 0, tzinfo=timezone.utc)
SECOND_LOOK = datetime(2025, 7, 1, 2, 0, tzinfo=timezone.utc)
AS_OF = date(2025, 7, 2)
REQUEST_HEADERS = [("User-Agent", "xxgk-watch tests"), ("Accept", "*/*")]
_SERVING = re.compile(r"(http://[^\s/]+)/")


@dataclass(frozen=True)
class ExtraPage:
    url: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    agency_id: str | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()  # more response headers (archive_pages), e.g. a Location


@dataclass
class DemoArchive:
    config: Config
    portals: DemoPortals
    captures: dict[str, list[int]] = field(default_factory=dict)   # url → capture ids, oldest first
    reports: dict[str, int] = field(default_factory=dict)           # url of the newest parsed capture → report id
    run_ids: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return BASE + path


def _agency_of(portals: DemoPortals, path: str) -> str | None:
    for agency in portals.agencies:
        if path.startswith(agency.prefix):
            return agency.id
    return None


def _response_headers(resource: Resource) -> list[tuple[str, str]]:
    headers = [("Content-Type", resource.content_type), ("Content-Length", str(len(resource.body)))]
    if resource.http_last_modified:
        headers.append(("Last-Modified", resource.http_last_modified))
    if resource.etag:
        headers.append(("ETag", resource.etag))
    if resource.location:
        headers.append(("Location", resource.location))
    return headers


def _parsed_paths(portals: DemoPortals) -> dict[str, tuple[str, str]]:
    """Documents the crawler parses (reports and look-alike pages): path → (listing title, listing date)."""
    wanted: dict[str, tuple[str, str]] = {}
    for report in portals.reports():
        listed = (report.title, report.published.date().isoformat())
        wanted[report.path] = listed
        if report.attachment_path:
            wanted[report.attachment_path] = listed
    for page in portals.expected_non_reports():
        if page.http_status == 200 and page.kind in ("notice", "news", "format_document"):
            wanted[page.url] = (page.title, "")
    return wanted


def build_demo_archive(data_dir: Path, extra_pages: tuple[ExtraPage, ...] = (),
                       env: dict[str, str] | None = None) -> DemoArchive:
    """``env``: XXGK_* settings, e.g. XXGK_DATABASE_URL for a PostgreSQL catalog (default: SQLite in data_dir)."""
    config = Config.from_env(env or {}, data_dir=data_dir)
    first = DemoPortals(edition=1)
    built = DemoArchive(config, first)
    archive = Archive.open(config, durability="os", settings={"purpose": "web tests, edition 1"})
    try:
        store_agencies(archive.catalog, first.registry(BASE))
        built.run_ids.append(archive.run_id)
        _archive_site(archive, built, first, FIRST_LOOK, only=None)
        for page in extra_pages:
            ref = archive.record_fetch(page.url, "GET", REQUEST_HEADERS, page.status, "OK",
                                       [("Content-Type", page.content_type)], page.body, fetched_at=FIRST_LOOK,
                                       agency_id=page.agency_id)
            built.captures.setdefault(page.url, []).append(ref.id)
        archive.record_error(BASE + "/hanweb/art/2022/6/1/art_1229_88150.html", "http", "HTTP 500 服务器内部错误",
                             agency_id="ylx-wjj", at=FIRST_LOOK)
        archive.record_error(BASE + "/jsportal/c/2024-12-20/slow.shtml", "timeout", "读取超时（2 秒）",
                             agency_id="sfq-ybj", at=FIRST_LOOK)
        _record_coverage(archive, built, first, FIRST_LOOK, only=None)
        archive.finish("finished", counts={"pages": len(built.captures), "errors": 2})
    except BaseException:
        archive.close()
        raise
    second = DemoPortals(edition=2)
    changed = {path for path, resource in second.site().items() if first.site().get(path) != resource}
    archive = Archive.open(config, durability="os", settings={"purpose": "web tests, edition 2"})
    try:
        built.run_ids.append(archive.run_id)
        _archive_site(archive, built, second, SECOND_LOOK, only=changed)
        _record_coverage(archive, built, second, SECOND_LOOK, only=changed)
        archive.finish("finished", counts={"pages": len(changed)})
    except BaseException:
        archive.close()
        raise
    with Catalog.open(config) as catalog:
        judge(catalog, as_of=AS_OF, years={agency.id: agency.watch_years for agency in first.agencies})
    return built


def _archive_site(archive: Archive, built: DemoArchive, portals: DemoPortals, moment: datetime,
                  only: set[str] | None) -> None:
    parsed = _parsed_paths(portals)
    # a report the site dates after this look is archived on its own date: the archive cannot have held it before
    # the day it was published (monitor.deadlines would take that earlier day instead)
    published = {report.url: datetime(day.year, day.month, day.day, 2, tzinfo=timezone.utc)   # 10:00 in Beijing
                 for report in portals.expected_reports(BASE) if (day := report.publication_date)}
    for path, resource in sorted(portals.site().items()):
        if only is not None and path not in only:
            continue
        if path.startswith("/trs/private/"):
            continue  # robots.txt forbids it: the crawler never fetches it
        url = BASE + path
        agency_id = _agency_of(portals, path)
        fetched_at = max(moment, published.get(url, moment))
        ref = archive.record_fetch(url, "GET", REQUEST_HEADERS, resource.status, "OK" if resource.status == 200 else "",
                                   _response_headers(resource), resource.body, fetched_at=fetched_at,
                                   agency_id=agency_id)
        built.captures.setdefault(url, []).append(ref.id)
        if path in parsed and resource.status == 200:
            title, listed = parsed[path]
            level = portals.agency(agency_id).level if agency_id else None
            context = FetchContext(url=url, content_type=resource.content_type, headers=dict(_response_headers(resource)),
                                   listing_title=title, listing_date=listed or None, level=level,
                                   filename=path.rsplit("/", 1)[-1])
            record = parse_document(resource.body, context)
            with archive.catalog.session() as session:
                built.reports[url] = queries.add_report(session, ref.id, record, agency_id=agency_id).id


def _record_coverage(archive: Archive, built: DemoArchive, portals: DemoPortals, moment: datetime,
                     only: set[str] | None) -> None:
    """One coverage row per agency whose report column the run archived: the crawl walked every listing page,
    so it read every entry the portal lists in this edition (reports and look-alikes, each with its date)."""
    with archive.catalog.session() as session:
        for agency in portals.agencies:
            if only is not None and agency.column not in only:
                continue
            listed = [report for report in portals.reports() if report.agency_id == agency.id]
            reports = [report.published.date() for report in listed]
            others = [page.published.date() for page in EXTRA_PAGES if page.agency_id == agency.id]
            dates = reports + others
            queries.add_coverage(
                session, run_id=archive.run_id, agency_id=agency.id, read_at=moment, column_url=BASE + agency.column,
                found_by="registry", capture_id=built.captures[BASE + agency.column][-1],
                pages_walked=math.ceil(len(dates) / agency.page_size), complete=True, rendered=agency.style == "js",
                items_read=len(dates), dated_items=len(dates), earliest_item=min(dates), latest_item=max(dates),
                reports_found=len(reports), report_items=len(listed),
                report_years=sorted({report.year for report in listed}))


def archive_pages(config: Config, pages: tuple[ExtraPage, ...], moment: datetime = FIRST_LOOK) -> dict[str, int]:
    """A small real archive: each page recorded as a fetch (WARC + catalog) in one finished run; url → capture id."""
    archive = Archive.open(config, durability="os", settings={"purpose": "web tests, extra pages"})
    try:
        ids = {}
        for page in pages:
            ref = archive.record_fetch(page.url, "GET", REQUEST_HEADERS, page.status, "OK",
                                       [("Content-Type", page.content_type), *page.headers], page.body,
                                       fetched_at=moment, agency_id=page.agency_id)
            ids[page.url] = ref.id
        archive.finish("finished", counts={"pages": len(pages)})
    except BaseException:
        archive.close()
        raise
    return ids


_SHARED: dict[str, DemoArchive] = {}


def shared_demo_archive(tmp_path_factory) -> DemoArchive:
    """One demo archive per test process (the routes and browser tests only read it): built once, ~15 s."""
    if "demo" not in _SHARED:
        _SHARED["demo"] = build_demo_archive(tmp_path_factory.mktemp("web-demo") / "data")
    return _SHARED["demo"]


@contextmanager
def serving(data_dir: Path, *options: str, timeout: float = 60.0) -> Iterator[str]:
    """``xxgk serve --port 0 [options]`` over ``data_dir`` in a child process; yields its base URL, stops it
    afterwards."""
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "serve", "--port", "0",
                                *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise RuntimeError(f"xxgk serve printed nothing in {timeout:g} s")
        line = process.stdout.readline()
        found = _SERVING.search(line)
        if not found:
            process.kill()
            raise RuntimeError(f"xxgk serve did not start: {line!r} {process.stderr.read()!r}")
        yield found.group(1)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def chromium_browser() -> Iterator:
    """Debian's Chromium through playwright, launched as the crawler launches it; for module-scoped fixtures."""
    from playwright.sync_api import sync_playwright

    from storage.config import CHROMIUM_LAUNCH_OPTIONS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(**CHROMIUM_LAUNCH_OPTIONS)
        yield launched
        launched.close()
