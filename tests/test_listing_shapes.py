"""Verdicts that rest on proof, end to end: the real crawl (Scrapy, Debian's Chromium, the archive, the parse pool)
against portals whose report column is hard to read (``demo.shapes``), then the real judge.

Every report behind a script shell, a POST pager, an iframe, a section descent or a moved column is found; the
browser's own JSON answers are archived, exported and verified; a year is ``missing`` only where a column read after
the deadline proves it, and the years of columns no crawler can read are ``undetermined`` with the reason.
"""
from __future__ import annotations

import os
from datetime import date
from types import SimpleNamespace

import pytest
from warcio.archiveiterator import ArchiveIterator

from demo.portals import Resource
from demo.server import DemoServer
from demo.shapes import SHAPES, UNREADABLE_PROBLEMS, WATCH_YEARS, ShapePortals, expected_status
from monitor.clock import today
from monitor.verdicts import judge
from storage.archive import open_reader
from storage.catalog import Catalog, queries
from tests.crawling import catalog_of, config_in, crawl
from tests.test_cli_parse import run

pytestmark = pytest.mark.slow

# judged as of today (Beijing): the archive's captures and column reads are taken now, and a verdict as of an
# earlier day cannot count what was archived after it; today is after every deadline of WATCH_YEARS
AS_OF = today()
READABLE = [agency for agency in SHAPES if agency.readable]


def _judge(config, agencies):
    catalog = Catalog.open(config)
    try:
        return {(row.agency_id, row.report_year): row
                for row in judge(catalog, as_of=AS_OF, years={agency.id: WATCH_YEARS for agency in agencies},
                                 agency_ids=[agency.id for agency in agencies])}
    finally:
        catalog.close()


@pytest.fixture(scope="module")
def shapes_crawl(tmp_path_factory):
    portals = ShapePortals()
    with DemoServer(portals) as server:
        base = server.base_url
        config = config_in(tmp_path_factory.mktemp("shapes") / "data")
        agencies = portals.registry(base)
        first = crawl(config, agencies)
        first_hits = {path: server.hits(path) for path in ("/shell/nb/index.html", "/shell/api/list_1.json",
                                                           "/shell/nb/notice.html")}
        data_hits = {path: server.hits(path) for path in portals.site() if path.startswith("/shell/api/")}
        first_verdicts = _judge(config, agencies)
        server.set_edition(2)   # shape-moved's site is redesigned: its registry column answers 404
        second = crawl(config, agencies)
        second_verdicts = _judge(config, agencies)
    yield SimpleNamespace(base=base, config=config, agencies=agencies, first=first, first_hits=first_hits,
                          data_hits=data_hits, second=second,
                          first_verdicts=first_verdicts, second_verdicts=second_verdicts, portals=portals)


def _report_urls(config, run_id=None) -> dict[str, set[str]]:
    with catalog_of(config) as session:
        found: dict[str, set[str]] = {}
        for report in queries.list_reports(session, only_reports=True, limit=10_000):
            if run_id is None or queries.get_capture(session, report.capture_id).run_id == run_id:
                found.setdefault(report.agency_id, set()).add(report.url)
    return found


@pytest.mark.parametrize("agency", READABLE, ids=lambda agency: agency.id)
def test_every_report_behind_each_listing_shape_is_found(shapes_crawl, agency):
    expected = shapes_crawl.portals.report_urls(shapes_crawl.base)[agency.id]
    assert _report_urls(shapes_crawl.config).get(agency.id, set()) == expected


@pytest.mark.parametrize("verdicts", ["first_verdicts", "second_verdicts"])
def test_verdicts_are_exact_and_missing_only_with_proof(shapes_crawl, verdicts):
    judged = getattr(shapes_crawl, verdicts)
    wrong = {(agency.id, year): judged[(agency.id, year)].verdict.status
             for agency in SHAPES for year in WATCH_YEARS
             if judged[(agency.id, year)].verdict.status != expected_status(agency, year)}
    assert wrong == {}


@pytest.mark.parametrize("agency_id, problem", sorted(UNREADABLE_PROBLEMS.items()))
def test_an_unreadable_column_gives_undetermined_with_its_reason(shapes_crawl, agency_id, problem):
    from monitor.proof import PROBLEM_REASONS

    catalog = Catalog.open(shapes_crawl.config, create=False)
    try:
        with catalog.reading() as session:
            stored = {row.report_year: row for row in queries.verdicts(session, agency_id=agency_id)}
            coverage = queries.coverage_of_agency(session, agency_id)
    finally:
        catalog.close()
    assert {year: stored[year].status for year in WATCH_YEARS} == {year: "undetermined" for year in WATCH_YEARS}
    for year in WATCH_YEARS:
        assert PROBLEM_REASONS[problem] in stored[year].evidence["reason"]
        assert stored[year].evidence["coverage"]["problem"] == problem
    assert coverage and all(row.problem == problem for row in coverage)


def test_coverage_says_how_each_column_was_found_and_read(shapes_crawl):
    with catalog_of(shapes_crawl.config) as session:
        rows = {(row.agency_id, row.run_id): row for row in queries.coverage_of_run(session, shapes_crawl.first.run_id)
                if row.items_read}
        moved = [row for row in queries.coverage_of_run(session, shapes_crawl.second.run_id)
                 if row.agency_id == "shape-moved"]
    first = shapes_crawl.first.run_id
    assert rows[("shape-shell", first)].rendered and rows[("shape-post", first)].rendered
    assert rows[("shape-shell", first)].pages_walked >= 3 and rows[("shape-post", first)].pages_walked >= 3
    assert rows[("shape-descent", first)].found_by == "section_descent"
    assert all(row.earliest_item is not None and row.earliest_item <= date(2021, 1, 31)
               for row in rows.values())
    # the moved column: the old URL is recorded as unreadable, the new one found from the homepage
    by_url = {row.column_url.removeprefix(shapes_crawl.base): row for row in moved if row.column_url}
    assert by_url["/moved/old/nb/index.html"].problem == "unreadable"
    new = by_url["/moved/xxgk/ndbg/index.html"]
    assert new.found_by in ("link_text", "url_words")
    # read to its last page, every report of the agency found there again
    moved_agency = next(agency for agency in SHAPES if agency.id == "shape-moved")
    assert new.complete and new.items_read == rows[("shape-moved", first)].items_read   # the same listing, moved
    assert new.reports_found == len(moved_agency.published)


def test_the_browsers_own_answers_are_archived_exported_and_verified(shapes_crawl, tmp_path):
    """As a user checks it: ``xxgk export-warc --all`` writes the browser's JSON and form-post answers, and
    ``xxgk verify`` checks every capture the catalog holds, the browser's included."""
    config = shapes_crawl.config
    reader = open_reader(config)
    try:
        with catalog_of(config) as session:
            captures = queries.all_captures(session)
            browser = [row for row in captures if row.record_type in ("response", "revisit")
                       and reader.read_row(row).metadata.get("role") == "browser"]
    finally:
        reader.catalog.close()
        reader.store.close()
    urls = {row.url.removeprefix(shapes_crawl.base) for row in browser}
    assert {"/shell/api/list_1.json", "/shell/api/list_2.json", "/shell/api/list_3.json", "/post/list.do"} <= urls
    env = {**{key: value for key, value in os.environ.items() if not key.startswith("XXGK_")},
           "XXGK_DATA_DIR": str(config.data_dir)}
    out = tmp_path / "all.warc.gz"
    exported = run("export-warc", "--all", str(out), env=env)
    assert exported.returncode == 0, exported.stderr[-2000:]
    with open(out, "rb") as stream:
        in_warc = {record.rec_headers.get_header("WARC-Target-URI") for record in ArchiveIterator(stream)
                   if record.rec_type in ("response", "revisit")}
    assert {row.url for row in browser} <= in_warc
    verified = run("verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr[-2000:]
    assert f"已检查 {len(captures)} 条捕获" in verified.stdout, verified.stdout
    assert f"正常 ok       {len(captures)}" in verified.stdout, verified.stdout


def test_each_browser_answer_keeps_its_request_and_the_page_it_was_rendered_for(shapes_crawl):
    """The form posts that page shape-post are kept with their bodies (one per page walked), tied to the column
    page the browser rendered; the column page itself is not archived twice (Scrapy fetched it)."""
    base = shapes_crawl.base
    reader = open_reader(shapes_crawl.config)
    try:
        with catalog_of(shapes_crawl.config) as session:
            posts = queries.captures_of_url(session, f"{base}/post/list.do")
            shell_pages = queries.captures_of_url(session, f"{base}/shell/nb/index.html")
            bodies = set()
            for row in posts:
                capture = reader.read_row(row)
                assert capture.metadata["role"] == "browser"
                assert capture.metadata["rendered_for"] == f"{base}/post/ndbg/index.html"
                assert capture.request_head.startswith(b"POST /post/list.do ")
                request = next(record for _, _, record in reader.group(row) if record.record_type == "request")
                bodies.add(request.block.split(b"\r\n\r\n", 1)[1])
            roles = [reader.read_row(row).metadata.get("role") for row in shell_pages]
    finally:
        reader.catalog.close()
        reader.store.close()
    assert bodies == {f"channelId=ndbg&pageNo={n}".encode() for n in (1, 2, 3)}
    assert roles and "browser" not in roles


def test_what_a_rendered_page_loads_besides_its_data_is_archived_as_the_browsers(shapes_crawl):
    """The script shell loads a style sheet, a script file and (from that script) a frame document: each is a
    capture of the browser's, tied to the page it rendered, so a replay of the render has what the browser had.
    The frame is the browser's alone: a rendered page whose listing gave dated items is read, and the spider
    neither fetches its script-added frames again nor renders them."""
    base = shapes_crawl.base
    reader = open_reader(shapes_crawl.config)
    try:
        with catalog_of(shapes_crawl.config) as session:
            kept = {}
            for path in ("/shell/css/list.css", "/shell/js/notice.js", "/shell/nb/notice.html"):
                metadata = [(row.status, reader.read_row(row).metadata)
                            for row in queries.captures_of_url(session, base + path)]
                kept[path] = {(status, meta.get("rendered_for"), meta.get("resource_type"))
                              for status, meta in metadata if meta.get("role") == "browser"}
    finally:
        reader.catalog.close()
        reader.store.close()
    page = f"{base}/shell/nb/index.html"
    assert kept == {"/shell/css/list.css": {(200, page, "stylesheet")}, "/shell/js/notice.js": {(200, page, "script")},
                    "/shell/nb/notice.html": {(200, page, "document")}}
    assert shapes_crawl.first_hits["/shell/nb/notice.html"] == 1


def test_a_render_draws_the_archived_page_and_asks_the_portal_only_for_the_rest(shapes_crawl):
    """The script shell is fetched once by Scrapy (archived) and rendered from that capture: its data answers come
    from the portal through the browser, the page itself is not asked for a second time."""
    assert shapes_crawl.first.stats.get("discovery/js_render", 0) >= 1
    assert shapes_crawl.first_hits == {"/shell/nb/index.html": 1, "/shell/api/list_1.json": 1,
                                       "/shell/nb/notice.html": 1}


def test_the_walk_asks_each_page_of_the_listing_data_once(shapes_crawl):
    """A paging step is read once the request it caused was answered: read earlier, the step looks fruitless and
    the next way of paging asks the same page again."""
    assert len(shapes_crawl.data_hits) >= 2
    assert shapes_crawl.data_hits == {path: 1 for path in shapes_crawl.data_hits}


def test_renders_wait_for_a_free_browser_page_outside_the_downloader(tmp_path):
    """With one browser page, every render still happens, one at a time, the others held back by the spider (not
    queued inside Scrapy's downloader, where each would take one of CONCURRENT_REQUESTS); every report is found."""
    portals = ShapePortals()
    with DemoServer(portals) as server:
        config = config_in(tmp_path / "data")
        agencies = portals.registry(server.base_url)
        summary = crawl(config, agencies, PLAYWRIGHT_MAX_PAGES_PER_CONTEXT=1)
        expected = portals.report_urls(server.base_url)
    stats = summary.stats
    assert stats["discovery/js_render_requested"] >= 3
    assert stats["discovery/js_render"] == stats["discovery/js_render_requested"]
    assert stats["discovery/js_render_waited"] >= 1
    assert stats["playwright/page_count/max_concurrent"] == 1
    found = _report_urls(config)
    for agency in READABLE:
        assert expected[agency.id] <= found.get(agency.id, set()), agency.id


class ShellDataForbidden(ShapePortals):
    """The shapes' portals, but robots.txt also forbids the script shell's data URLs (shape-shell's /shell/api/)."""

    def site(self):
        site = super().site()
        site["/robots.txt"] = Resource(200, b"User-agent: *\nDisallow: /blocked/\nDisallow: /shell/api/\n",
                                       "text/plain; charset=utf-8")
        return site


def test_a_render_asks_for_nothing_robots_txt_forbids_and_its_column_says_why_it_proves_nothing(tmp_path):
    """robots.txt binds the browser too: the shell's column page may be fetched, its data URLs may not. The render
    asks the portal for none of them, each is a robots fetch error, and the column's coverage says robots, so
    every year is undetermined for that reason (not missing, not a script error)."""
    from monitor.proof import PROBLEM_REASONS
    from storage.catalog.models import FetchError

    portals = ShellDataForbidden()
    with DemoServer(portals) as server:
        base = server.base_url
        config = config_in(tmp_path / "data")
        shell = [agency for agency in portals.registry(base) if agency.id == "shape-shell"]
        summary = crawl(config, shell)
        data_hits = {path: server.hits(path) for path in portals.site() if path.startswith("/shell/api/")}
        column_hits = server.hits("/shell/nb/index.html")
        verdicts = _judge(config, [agency for agency in SHAPES if agency.id == "shape-shell"])
    assert summary.stats.get("discovery/js_render", 0) >= 1 and column_hits == 1
    assert data_hits and set(data_hits.values()) == {0}, data_hits
    assert summary.stats.get("robotstxt/browser_forbidden", 0) >= 1
    with catalog_of(config) as session:
        errors = [(row.url, row.kind, row.agency_id) for row in session.query(FetchError)]
        coverage = queries.coverage_of_agency(session, "shape-shell")
    assert any(url.startswith(f"{base}/shell/api/") and kind == "robots" and agency == "shape-shell"
               for url, kind, agency in errors), errors
    assert coverage and all(row.problem == "robots" and not row.complete for row in coverage), \
        [(row.problem, row.detail) for row in coverage]
    assert {year: verdicts[("shape-shell", year)].verdict.status for year in WATCH_YEARS} == \
        {year: "undetermined" for year in WATCH_YEARS}
    assert all(PROBLEM_REASONS["robots"] in verdicts[("shape-shell", year)].evidence["reason"] for year in WATCH_YEARS)


class ShellReportsFail(ShapePortals):
    """The shapes' portals, but the script shell's report pages answer 500."""

    def resource(self, target: str, method: str = "GET", body: bytes = b"") -> Resource | None:
        if target.startswith("/shell/art/") and "/nb" in target:
            return Resource(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
        return super().resource(target, method, body)

    def with_edition(self, edition: int) -> "ShellReportsFail":
        return self


def test_a_report_a_rendered_column_lists_but_the_archive_could_not_get_leaves_its_year_undetermined(tmp_path):
    """An operator's walk: a column read in Chromium listed the agency's reports, whose pages answered 500, and
    each year was 未发布 ("读取了年报栏目…其中没有该年度的报告"): the entries the browser drew were not among the
    listings the judge reads. Each such year is 无法判断, naming the listed report and its error, as for a column
    served as HTML."""
    portals = ShellReportsFail()
    with DemoServer(portals) as server:
        base = server.base_url
        config = config_in(tmp_path / "data")
        shell = [agency for agency in portals.registry(base) if agency.id == "shape-shell"]
        summary = crawl(config, shell, ARCHIVE_SCREENSHOTS=False)
        verdicts = _judge(config, [agency for agency in SHAPES if agency.id == "shape-shell"])
    assert summary.stats.get("discovery/js_render", 0) >= 1
    judged = {year: verdicts[("shape-shell", year)] for year in WATCH_YEARS}
    listed = [year for year, row in judged.items() if row.evidence.get("listed_not_archived")]
    assert listed, {year: (row.verdict.status, row.verdict.reason) for year, row in judged.items()}
    for year in listed:
        row = judged[year]
        assert row.verdict.status == "undetermined", (year, row.verdict.reason)
        assert "HTTP 500" in row.verdict.reason and f"/shell/art/{year}/" in row.verdict.reason, row.verdict.reason
    # every year whose report the shell lists (2022 has none: that year is proven 未发布, as with the HTML column)
    assert {2021, 2023, 2024} <= set(listed), listed

    # a catalog indexed before rendered listings had entries gets them from the WARC records
    from sqlalchemy import select, update

    from storage.archive import open_reader
    from storage.catalog.models import Capture
    from storage.facts import RENDERED_DOM_PREFIX, backfill, pending

    catalog = Catalog.open(config)
    try:
        rendered = Capture.url.like(RENDERED_DOM_PREFIX + "%")
        with catalog.reading() as session:
            before = dict(session.execute(select(Capture.id, Capture.listing_items).where(rendered)).all())
        assert any(before.values()), before
        with catalog.session() as session:
            session.execute(update(Capture).where(rendered).values(listing_items=None, facts_version=1))
        assert pending(catalog)
        backfill(catalog, open_reader(config))
        with catalog.reading() as session:
            after = dict(session.execute(select(Capture.id, Capture.listing_items).where(rendered)).all())
        assert after == before and not pending(catalog)
    finally:
        catalog.close()
