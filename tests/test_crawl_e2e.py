"""End to end: the real crawl (a child process running Scrapy, Chromium for the script-filled listing, the parse
pool, the WARC archive in a temporary data dir with a SQLite catalog) against the five demo portals on loopback.

``first_crawl`` crawls all five agencies once (module scope: the tests below only read what it left). The
incremental test runs its own three crawls: unchanged portals, then edition 2.
"""
from __future__ import annotations

import io
import os
from collections import Counter
from types import SimpleNamespace

import pytest
from PIL import Image

from demo.portals import ROBOTS_DISALLOWED, DemoPortals
from demo.server import DemoServer
from crawler.run import CrawlProgress, CrawlSummary
from storage.archive import open_reader
from storage.catalog import queries
from storage.config import Config
from storage.warc import NOT_MODIFIED_PROFILE
from tests.crawling import SLOW_PAGE_SECONDS, catalog_of, config_in, crawl, served, target_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_crawl(tmp_path_factory):
    # the crawl child inherits this: where Scrapy would write a remote-control job file (platformdirs' state dir)
    state_home = tmp_path_factory.mktemp("state")
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(state_home)
    listening: set[tuple[str, int]] = set()

    def watch(update: CrawlProgress) -> None:
        progress.append(update)
        listening.update(_listening_ports_of_crawl_child())

    try:
        with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
            base = server.base_url
            config = config_in(tmp_path_factory.mktemp("crawl") / "data")
            agencies = server.portals.registry(base)
            progress: list[CrawlProgress] = []
            summary = crawl(config, agencies, progress=watch)
    finally:
        if saved is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = saved
    yield SimpleNamespace(server=server, base=base, config=config, summary=summary, progress=progress,
                          portals=DemoPortals(edition=1), agencies=agencies, listening=listening,
                          state_files=sorted(path.relative_to(state_home) for path in state_home.rglob("*")))


def _listening_ports_of_crawl_child() -> set[tuple[str, int]]:
    """TCP ports the crawl process (run_crawl's spawned child of this process) listens on."""
    import psutil

    ports = set()
    for child in psutil.Process().children():
        try:
            if "spawn_main" not in " ".join(child.cmdline()):
                continue
            ports.update((conn.laddr.ip, conn.laddr.port) for conn in child.net_connections("tcp")
                         if conn.status == psutil.CONN_LISTEN)
        except psutil.Error:
            continue
    return ports


def _reports(config: Config) -> list:
    with catalog_of(config) as session:
        return queries.list_reports(session, only_reports=False, limit=10_000)


def _errors(config: Config, run_id: str) -> list:
    with catalog_of(config) as session:
        return queries.errors_by_run(session, run_id)


def _report_pages(config: Config) -> set[str]:
    """The URLs of the reports published as web pages (not as PDF or Word attachments)."""
    return {r.url for r in _reports(config) if r.is_report and (r.record_json or {}).get("source_format") == "html"}


def _screenshots(config: Config, url: str) -> list:
    with catalog_of(config) as session:
        return [row for row in queries.captures_of_url(session, "urn:screenshot:" + url) if row.record_type == "resource"]


# ---------------------------------------------------------------- the first crawl

def test_run_finishes_and_reports_its_progress(first_crawl):
    summary: CrawlSummary = first_crawl.summary
    assert summary.status == "finished" and summary.exit_code == 0
    assert summary.pages >= 40 and summary.reports_found >= len(first_crawl.portals.expected_reports())
    assert first_crawl.progress, "no progress was streamed back from the crawl process"
    assert first_crawl.progress[-1].finished and first_crawl.progress[-1].pages == summary.pages
    assert all(p.run_id == summary.run_id for p in first_crawl.progress if p.run_id)
    with catalog_of(first_crawl.config) as session:
        run = queries.get_run(session, summary.run_id)
        assert run.status == "finished" and run.finished_at is not None
        assert run.counts["archive/response"] == first_crawl.summary.stats["archive/response"]
        assert run.settings["agencies"] == [agency.id for agency in first_crawl.agencies]


def test_the_crawl_opens_no_listening_port_and_leaves_no_job_file(first_crawl):
    """An unattended crawl serves nothing: Scrapy 2.19's remote control (an HTTP server that runs Python sent to it,
    its port and token written to a job file in the user's state directory) is off, as the telnet console is."""
    assert len(first_crawl.progress) >= 2, "the crawl process was never looked at while it ran"
    assert first_crawl.listening == set()
    assert first_crawl.state_files == []


def test_every_report_of_every_agency_is_found_with_its_year_and_date(first_crawl):
    found = {(r.url, r.agency_id): r for r in _reports(first_crawl.config) if r.is_report}
    missing = []
    for expected in first_crawl.portals.expected_reports(first_crawl.base):
        report = found.get((expected.url, expected.agency_id))
        if report is None:
            missing.append(f"{expected.agency_id} {expected.report_year} {expected.url}")
            continue
        assert report.report_year == expected.report_year, expected.url
        assert report.publication_date == expected.publication_date, expected.url
    assert not missing, "reports not found: " + "; ".join(missing)


def test_no_look_alike_is_taken_for_a_report(first_crawl):
    by_url = {r.url: r for r in _reports(first_crawl.config)}
    look_alikes = [page for page in first_crawl.portals.expected_non_reports(first_crawl.base)
                   if page.http_status == 200 and page.kind in ("notice", "news", "format_document")]
    assert len(look_alikes) >= 6
    for page in look_alikes:
        assert page.url in by_url, f"look-alike never fetched and parsed: {page.url}"
        assert not by_url[page.url].is_report, f"{page.kind} taken for a report: {page.title}"


def test_every_capture_reads_back_byte_identical_with_its_headers(first_crawl):
    reader = open_reader(first_crawl.config)
    try:
        with catalog_of(first_crawl.config) as session:
            rows = queries.captures_by_run(session, first_crawl.summary.run_id)
        http_rows = [row for row in rows if row.record_type != "resource"]
        assert len(http_rows) == first_crawl.summary.pages
        for row in http_rows:
            capture = reader.read_row(row)
            status, body, headers = served(first_crawl.portals, row.url)
            assert capture.status == status, row.url
            assert capture.payload == body, row.url
            for name, value in headers.items():
                assert capture.header(name) == value, f"{row.url}: {name}"
    finally:
        reader.catalog.close()


def test_every_request_the_server_answered_was_archived(first_crawl):
    """The other direction: nothing fetched over plain HTTP escaped the archive."""
    with catalog_of(first_crawl.config) as session:
        archived = {target_of(row.url) for row in queries.captures_by_run(session, first_crawl.summary.run_id)
                    if row.record_type != "resource"}
    slow = {target_of(page.url) for page in first_crawl.portals.expected_non_reports(first_crawl.base)
            if page.kind == "slow"}
    # the browser's own requests (the listing it renders, the list.json it loads) are for URLs Scrapy fetched too
    answered = {request.target for request in first_crawl.server.requests}
    assert answered - archived - slow == set()


def test_fetch_failures_are_error_rows_of_the_run(first_crawl):
    errors = {(error.url, error.kind) for error in _errors(first_crawl.config, first_crawl.summary.run_id)}
    wanted = {"dead_link": "http", "server_error": "http", "redirect_loop": "redirect_loop", "slow": "timeout",
              "robots_private": "robots"}
    for page in first_crawl.portals.expected_non_reports(first_crawl.base):
        if page.kind in wanted:
            assert (page.url, wanted[page.kind]) in errors, f"{page.kind}: {page.url}"
    assert first_crawl.summary.errors["timeout"] >= 1 and first_crawl.summary.errors["redirect_loop"] >= 1


def test_robots_txt_is_honoured(first_crawl):
    assert first_crawl.server.hits("/robots.txt") >= 1
    assert not [request for request in first_crawl.server.requests if request.path.startswith(ROBOTS_DISALLOWED)]


def test_script_filled_listing_is_rendered_in_chromium(first_crawl):
    assert first_crawl.summary.stats.get("discovery/js_render", 0) >= 1
    ybj_reports = [r for r in first_crawl.portals.expected_reports(first_crawl.base) if r.agency_id == "sfq-ybj"]
    column = first_crawl.portals.agency("sfq-ybj").column
    with catalog_of(first_crawl.config) as session:
        renders = [row for row in queries.captures_of_url(session, f"urn:rendered-dom:{first_crawl.base}{column}")]
    assert renders, "the rendered listing was not archived"
    dom = open_reader(first_crawl.config).read(renders[0].id).payload.decode("utf-8")
    for report in ybj_reports:
        assert target_of(report.url) in dom, "the browser did not fill the listing from list.json"
    found = {r.url for r in _reports(first_crawl.config) if r.is_report}
    assert {report.url for report in ybj_reports} <= found


def test_permanent_redirect_is_its_own_capture_and_its_target_is_found(first_crawl):
    redirected = [r for r in first_crawl.portals.expected_reports(first_crawl.base) if r.listing_url != r.url]
    assert redirected
    with catalog_of(first_crawl.config) as session:
        for report in redirected:
            hops = queries.captures_of_url(session, report.listing_url)
            assert [row.status for row in hops] == [301]
            assert queries.captures_of_url(session, report.url)
    found = {r.url for r in _reports(first_crawl.config) if r.is_report}
    assert {report.url for report in redirected} <= found


def test_reports_are_attributed_to_their_agencies(first_crawl):
    ids = {agency.id for agency in first_crawl.agencies}
    reports = [r for r in _reports(first_crawl.config) if r.is_report]
    assert reports and all(r.agency_id in ids for r in reports)
    # seed 002 prints the old name 样例区卫计局: an alias of ylx-wjj, matched through the registry
    assert any(r.agency_id == "ylx-wjj" and r.report_year == 2017 for r in reports)


def test_report_text_is_stored_once_and_the_ui_api_and_search_show_it(first_crawl):
    import html
    import re

    from fastapi.testclient import TestClient

    from web.app import create_app

    reports = _reports(first_crawl.config)
    assert reports and not [report.url for report in reports if "text" in (report.record_json or {})]
    report = max((r for r in reports if r.is_report), key=lambda r: len(r.text))
    # a plain sentence of the report (no character the page escapes), long enough to find only a few reports
    line = max((line.strip() for line in report.text.splitlines() if re.fullmatch(r"[\u4e00-\u9fff，。、0-9]+",
                                                                                     line.strip())), key=len)
    assert len(line) >= 12, report.text[:500]
    with TestClient(create_app(first_crawl.config)) as client:
        assert client.get(f"/api/reports/{report.id}").json()["text"] == report.text
        page = client.get(f"/reports/{report.id}")
        assert page.status_code == 200 and html.escape(line) in page.text
        found = client.get("/api/search", params={"q": line[:12]}).json()["results"]
        assert report.id in [item["id"] for item in found]
        snippet = next(item for item in found if item["id"] == report.id)["snippet"]
        assert line[:12] in [part["text"] for part in snippet if part["hit"]]


def test_the_copy_signature_made_in_the_parse_workers_is_the_texts_own(first_crawl):
    """The crawl hashes each report's 5-grams in its parse workers, not in the catalog write: what it stored is
    exactly what the catalog computes from the stored text (copy detection compares these)."""
    from parsers.shingles import text_signature

    reports = [report for report in _reports(first_crawl.config) if report.is_report]
    assert reports
    for report in reports:
        assert report.minhash and (report.shingles, report.minhash) == text_signature(report.text), report.url


def test_each_agencys_column_read_proves_its_missing_years(first_crawl):
    """Every year the demo leaves unpublished is proven missing by what the run read of the agency's column: read
    after the deadline, its listing walked to the last page or back past the deadline."""
    from monitor.clock import today
    from monitor.proof import missing_proof

    as_of = today()
    missing = [v for v in first_crawl.portals.expected_verdicts(as_of, first_crawl.base) if v.status == "missing"]
    assert missing
    with catalog_of(first_crawl.config) as session:
        rows = {agency.id: queries.coverage_of_agency(session, agency.id, run_id=first_crawl.summary.run_id)
                for agency in first_crawl.agencies}
    assert all(rows.values()) and all(row.items_read and row.problem is None for found in rows.values()
                                      for row in found)
    for verdict in missing:
        proof = missing_proof(rows[verdict.agency_id], year=verdict.report_year, deadline=verdict.deadline,
                              as_of=as_of)
        assert proof.proven, (verdict.agency_id, verdict.report_year, proof.reason)
    assert first_crawl.summary.coverage == {"read": len(first_crawl.agencies), "not_found": 0, "unreadable": 0}


# ---------------------------------------------------------------- screenshots while the crawl runs

SHOT_BUDGET = 200 * 1024   # bytes: a first-screen screenshot's average (issue #10)


def test_every_new_report_page_got_a_first_screen_jpeg_while_the_crawl_ran(first_crawl):
    config, run_id = first_crawl.config, first_crawl.summary.run_id
    pages = _report_pages(config)
    assert len(pages) >= 10
    reader = open_reader(config)
    sizes = []
    try:
        with catalog_of(config) as session:
            run = queries.get_run(session, run_id)
            for url in sorted(pages):
                [shot] = _screenshots(config, url)
                [page] = [row for row in queries.captures_of_url(session, url) if row.status == 200]
                assert shot.mime == "image/jpeg" and shot.run_id == run_id, url
                assert shot.timestamp <= run.finished_at, f"{url}: taken after the crawl, not while it ran"
                archived = reader.read_row(shot)
                assert archived.metadata["rendered_from_capture"] == str(page.id)
                image = Image.open(io.BytesIO(archived.payload))
                assert image.format == "JPEG" and image.size == (1280, 1000), url  # the configured viewport
                sizes.append(len(archived.payload))
    finally:
        reader.catalog.close()
    assert sum(sizes) / len(sizes) <= SHOT_BUDGET
    stats = first_crawl.summary.stats
    assert stats["screenshots/taken"] == len(pages) and "screenshots/failed" not in stats
    assert 1 <= stats["screenshots/max_open"] <= 2  # SCREENSHOT_PAGES, by default 2
    # a first crawl: every page was new to the archive, and its shot was taken without asking the catalog
    assert stats["screenshots/first_capture"] == len(pages)


def test_screenshots_are_rendered_from_the_archive_not_fetched_again(first_crawl):
    """Each report page was asked of the portal exactly as often as the run archived an answer for it."""
    pages = _report_pages(first_crawl.config)
    with catalog_of(first_crawl.config) as session:
        archived = Counter(target_of(row.url) for row in queries.captures_by_run(session, first_crawl.summary.run_id)
                           if row.record_type != "resource" and row.url in pages)
    answered = Counter(request.target for request in first_crawl.server.requests)
    assert {target: answered[target] for target in archived} == dict(archived)


def test_failed_screenshots_are_recorded_and_the_next_crawl_takes_them_one_page_at_a_time(tmp_path):
    portals = DemoPortals()
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = [agency for agency in portals.registry(server.base_url) if agency.id in ("sfq-wjj", "ylx-wjj")]
        config = config_in(tmp_path / "data")
        # a time limit no page can load in: every shot fails, the crawl does not
        first = crawl(config, agencies, SCREENSHOT_TIMEOUT=0.001)
        second = crawl(config, agencies, SCREENSHOT_PAGES=1)
    pages = _report_pages(config)
    assert len(pages) >= 4
    assert first.status == "finished" and first.stats["screenshots/failed"] == len(pages)
    assert "screenshots/taken" not in first.stats
    with catalog_of(config) as session:
        failed = {error.url: error for error in queries.errors_by_run(session, first.run_id)
                  if error.url.startswith("urn:screenshot:")}
        assert set(failed) == {"urn:screenshot:" + url for url in pages}
        assert all(error.kind == "other" and error.message.startswith("截图失败") for error in failed.values())
        # the report pages themselves answered: no error of theirs (that would read as 已删除)
        assert not [url for url in pages if queries.errors_of_url(session, url)]
    # the next crawl found the pages unchanged and took the missing shots, never two pages at once
    assert second.status == "finished" and second.reports_new == 0
    assert second.stats["screenshots/taken"] == len(pages) and second.stats["screenshots/max_open"] == 1
    assert all([shot.run_id for shot in _screenshots(config, url)] == [second.run_id] for url in pages)


# ---------------------------------------------------------------- incremental runs

def test_unchanged_portals_are_revisits_then_edition_two_adds_versions(tmp_path):
    portals = DemoPortals()
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        base = server.base_url
        agencies = portals.registry(base)
        config = config_in(tmp_path / "data")
        first = crawl(config, agencies)
        reports_after_first = {r.capture_id for r in _reports(config)}
        server.clear_log()

        second = crawl(config, agencies)
        conditional = [request for request in server.requests if request.conditional]
        assert conditional, "the second run sent no conditional request"
        assert any(request.status == 304 for request in conditional)
        assert second.stats.get("archive/not_modified", 0) >= 15
        assert second.reports_new == 0 and second.reports_found == first.reports_found
        assert {r.capture_id for r in _reports(config)} == reports_after_first, "a re-fetch created report rows"

        edited = next(r for r in portals.expected_reports(base) if r.agency_id == "sfq-wjj" and r.report_year == 2023)
        reader = open_reader(config)
        with catalog_of(config) as session:
            rows = queries.captures_of_url(session, edited.url)
            assert [row.status for row in rows] == [200, 304]
            revisit = rows[1]
            assert revisit.record_type == "revisit" and revisit.refers_to_capture_id == rows[0].id
            assert reader.group(revisit)[0][2].header("WARC-Profile") == NOT_MODIFIED_PROFILE
            assert queries.last_seen(session, edited.url) > queries.first_seen(session, edited.url)
        assert reader.read(revisit.id).payload == served(portals, edited.url)[1]

        server.set_edition(2)
        third = crawl(config, agencies)

    edition_two = DemoPortals(edition=2)
    with catalog_of(config) as session:
        versions = [row for row in queries.captures_of_url(session, edited.url) if row.status == 200]
        assert len({row.payload_sha1 for row in versions}) == 2
        bodies = [reader.read(row.id).payload for row in versions]
        assert bodies == [served(portals, edited.url)[1], served(edition_two, edited.url)[1]]
        texts = [queries.report_by_capture(session, row.id).text for row in versions]
        assert "主动公开各类信息745条" in texts[0] and "主动公开各类信息812条" in texts[1]

        backdated = next(r for r in edition_two.expected_reports(base) if "backdated" in r.flags)
        found = [r for r in queries.reports_of_agency(session, backdated.agency_id, report_year=backdated.report_year)
                 if r.is_report and r.url == backdated.url]
        assert found and found[0].publication_date == backdated.publication_date
        first_seen = queries.first_seen(session, backdated.url)
        first_run = queries.get_run(session, first.run_id)
        assert first_seen > first_run.finished_at, "the back-dated report was seen before edition 2"
        assert queries.get_run(session, third.run_id).status == "finished"
    assert third.reports_new == 2  # the edited version and the back-dated report
    reader.catalog.close()


# ---------------------------------------------------------------- other ways in

def test_scrapy_crawl_command_runs_the_same_spider(tmp_path):
    """``scrapy crawl reports -a registry=FILE -a agency=ID`` (scrapy.cfg → crawler.settings, config from XXGK_*)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from demo.portals import registry_yaml_text

    repo = Path(__file__).resolve().parents[1]
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        registry = tmp_path / "registry.yaml"
        registry.write_text(registry_yaml_text().replace("{base}", server.base_url), encoding="utf-8")
        env = {**os.environ, "XXGK_DATA_DIR": str(tmp_path / "data")}
        done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "reports", "-a", f"registry={registry}",
                               "-a", "agency=ysq-wjw", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0",
                               "-s", "ARCHIVE_DURABILITY=os", "-s", "LOG_LEVEL=WARNING"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=120)
        expected = [r for r in server.portals.expected_reports(server.base_url) if r.agency_id == "ysq-wjw"]
    assert done.returncode == 0, done.stderr[-2000:]
    config = config_in(tmp_path / "data")
    found = {(r.url, r.report_year) for r in _reports(config) if r.is_report}
    assert {(r.url, r.report_year) for r in expected} <= found
    with catalog_of(config) as session:
        (run,) = queries.list_runs(session)
        assert run.status == "finished" and run.settings["agencies"] == ["ysq-wjw"]


def test_agency_with_robots_ignore_is_fetched_past_robots_txt(tmp_path):
    from dataclasses import replace

    portals = DemoPortals()
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        trs = next(a for a in portals.registry(server.base_url) if a.id == "sfq-wjj")
        summary = crawl(config_in(tmp_path / "data"), [replace(trs, robots="ignore")])
        private = [request for request in server.requests if request.path.startswith(ROBOTS_DISALLOWED)]
    assert summary.status == "finished" and "robots" not in summary.errors
    assert [request.status for request in private] == [200]
