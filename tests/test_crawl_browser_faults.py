"""The crawl's Chromium under strain: killed in the middle of a render (as the kernel's OOM killer would), and
renders that take long. Neither may stall the crawl, lose a report, or slow the portal's other pages."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import threading
import time
from pathlib import Path

import psutil
import pytest

from demo.portals import JS_LIST_JSON, DemoPortals
from demo.server import DemoServer
from demo.shapes import SHAPES, DemoSite
from registry.agencies import Agency
from storage.catalog import queries
from tests.crawling import SLOW_PAGE_SECONDS, browser_processes, catalog_of, config_in, crawl

pytestmark = pytest.mark.slow

JS_AGENCY = "sfq-ybj"     # the demo portal whose column is filled by script from list.json
HANG_GUARD = 240          # seconds: a demo crawl takes ~10; past this it is stuck, not slow


def _chromium_browsers() -> list[psutil.Process]:
    """Chromium's browser processes below this one (not its renderers, zygotes or utility processes)."""
    found = []
    for pid in browser_processes():
        with contextlib.suppress(psutil.Error):   # gone meanwhile
            found.append(psutil.Process(pid))
    return found


def _screenshots_of_run(session, run_id: str):
    """The run's report pages (HTML), those with a screenshot, and the run's screenshot errors."""
    shot_errors = [error for error in queries.errors_by_run(session, run_id) if error.url.startswith("urn:screenshot:")]
    pages = {report.url for report in queries.list_reports(session, limit=10_000)
             if report.is_report and (report.record_json or {}).get("source_format") == "html"}
    shots = {url for url in pages if any(row.record_type == "resource" for row in
                                         queries.captures_of_url(session, "urn:screenshot:" + url))}
    return pages, shots, shot_errors


def _crawl_or_fail(config, agencies, guard: float = HANG_GUARD, **overrides):
    """The crawl's summary; a crawl still running after ``guard`` seconds is killed and the test fails, with the
    end of the crawl's log (written beside its data dir unless the test names a LOG_FILE)."""
    overrides.setdefault("LOG_FILE", str(config.data_dir.parent / "crawl.log"))
    # the servers this test process started before (the session's PostgreSQL and Redis) are not the crawl's
    before = {process.pid for process in psutil.Process().children(recursive=True)}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(crawl, config, agencies, **overrides)
        try:
            return running.result(timeout=guard)
        except concurrent.futures.TimeoutError:
            for process in psutil.Process().children(recursive=True):
                if process.pid not in before:
                    with contextlib.suppress(psutil.Error):
                        process.kill()
            log = Path(overrides["LOG_FILE"])
            tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else ["(no log)"]
            pytest.fail(f"the crawl was still running {guard:g} s after it started; its log ends:\n"
                        + "\n".join(tail))


def _kill_chromium_when(server, asked: str, times: int, stop: bool = False) -> tuple[threading.Thread, list[int]]:
    """A thread that kills Chromium's browser process (``stop``: freezes it with SIGSTOP, alive and answering
    nothing) once the demo server was asked for path ``asked`` ``times`` times; the pids it hit go into the list."""
    killed: list[int] = []

    def watch() -> None:
        deadline = time.monotonic() + HANG_GUARD
        while time.monotonic() < deadline and not killed:
            if sum(entry.path == asked for entry in server.requests) >= times:
                for browser in _chromium_browsers():
                    browser.suspend() if stop else browser.kill()
                    killed.append(browser.pid)
            time.sleep(0.01)

    killer = threading.Thread(target=watch, daemon=True)
    killer.start()
    return killer, killed


def test_a_crawl_whose_chromium_dies_mid_render_starts_it_again_and_loses_nothing(tmp_path):
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = server.portals.registry(server.base_url)
        # the crawl reads list.json itself first (it is named in the page's script); the next request for it is
        # the render's, made from inside Chromium
        killer, killed = _kill_chromium_when(server, JS_LIST_JSON, 2)
        config = config_in(tmp_path / "data")
        summary = _crawl_or_fail(config, agencies)
        killer.join(timeout=5)
        expected = {report.url for report in DemoPortals().expected_reports(server.base_url)}

    assert killed, "Chromium was never killed: the render did not ask for its listing"
    assert summary.status == "finished"
    assert summary.stats["playwright/browser_count"] == 2   # started again after the kill
    with catalog_of(config) as session:
        found = {report.url for report in queries.list_reports(session, limit=10_000) if report.is_report}
        [column] = [row for row in queries.coverage_of_run(session, summary.run_id) if row.agency_id == JS_AGENCY]
        pages, shots, shot_errors = _screenshots_of_run(session, summary.run_id)
    assert expected <= found, f"reports lost to the crash: {sorted(expected - found)}"
    # the column was read by a render, in the new Chromium, to its last page
    assert column.rendered and column.complete and column.problem is None
    assert column.reports_found == len([url for url in expected if "/jsportal/" in url])
    # every report page has its screenshot, or an error that says why not: none silently missing
    assert shots | {error.url.removeprefix("urn:screenshot:") for error in shot_errors} == pages


def test_a_listing_walk_cut_by_chromium_dying_is_rendered_again_to_its_end(tmp_path):
    """The walk through a script-paged column (shape-shell: three pages turned by ``javascript:load(n)``) loses
    its browser at the second page. What it read counts, and the column is rendered once more and walked to its
    end: without that the column stayed "not read to its end" and the agency's verdict 无法判断."""
    shell = next(agency for agency in SHAPES if agency.id == "shape-shell")
    with DemoServer(DemoSite(), slow_seconds=SLOW_PAGE_SECONDS) as server:   # `xxgk demo`'s portals and shapes
        agencies = server.portals.registry(server.base_url)
        killer, killed = _kill_chromium_when(server, f"/{shell.prefix}/api/list_2.json", 1)
        config = config_in(tmp_path / "data")
        summary = _crawl_or_fail(config, agencies)
        killer.join(timeout=5)
        asked_third = sum(entry.path == f"/{shell.prefix}/api/list_3.json" for entry in server.requests)
        base = server.base_url

    assert killed, "Chromium was never killed: the walk never asked for the listing's second page"
    assert summary.status == "finished"
    with catalog_of(config) as session:
        [column] = [row for row in queries.coverage_of_run(session, summary.run_id) if row.agency_id == shell.id]
        found = {report.url.removeprefix(base) for report in queries.list_reports(session, limit=10_000)
                 if report.is_report and report.agency_id == shell.id}
    assert column.rendered and column.complete and column.problem is None
    assert found == {f"/{shell.prefix}/art/{year}/nb{year}.html" for year in shell.published}
    assert asked_third >= 1   # the new render walked on past the page where the first one died
    # this render was asked again; so is any other render the dying browser held at that moment (the demo has a
    # few script columns: the clean-clone CI of 9050cd3 counted 2)
    assert summary.stats.get("discovery/js_render_retried", 0) >= 1


_SPINNING_COLUMN = """<html><head><meta charset="utf-8"><title>政府信息公开年报</title></head><body>
<h2>政府信息公开年报</h2><ul id="list"></ul><div id="pager"></div>
<script>window.addEventListener("load", function () { setTimeout(function () { for (;;) {} }, 200); });</script>
</body></html>"""


def test_a_column_whose_script_never_yields_is_a_recorded_timeout_not_a_stalled_crawl(tmp_path):
    """A column page whose script spins forever once loaded: its renderer never answers again, and Playwright
    bounds none of the calls the render and the walk make around it (the page's content, an evaluate, a close).
    The crawl used to wait for them forever. Now the render ends at DISCOVERY_JS_RENDER_TIMEOUT, is asked once more,
    and the column is recorded as unreadable with the timeout in words (so the agency is 无法判断, not 未发布),
    while the demo portals, rendered by the same Chromium, are read in full."""
    from tests.test_crawl_faults import FaultServer

    page = ("text/html; charset=utf-8", _SPINNING_COLUMN.encode("utf-8"))
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server, \
            FaultServer({"/spin/nb/index.html": (200, {"Content-Type": page[0]}, page[1], 0)}) as spinning:
        column_url = spinning.base_url + "/spin/nb/index.html"
        agencies = [*server.portals.registry(server.base_url),
                    Agency(id="spin-ju", name="示范区统计局", level="department", homepage=spinning.base_url + "/",
                           report_index=(column_url,))]
        config = config_in(tmp_path / "data")
        # without the listing screenshot (a page method Playwright does bound, at 30 s) nothing ended the render
        summary = _crawl_or_fail(config, agencies, DISCOVERY_JS_RENDER_TIMEOUT=8.0, ARCHIVE_SCREENSHOTS=False)
        expected = {report.url for report in DemoPortals().expected_reports(server.base_url)}
        renders = spinning.requests.count("/spin/nb/index.html")

    assert summary.status == "finished"
    with catalog_of(config) as session:
        found = {report.url for report in queries.list_reports(session, limit=10_000) if report.is_report}
        coverage = {row.agency_id: row for row in queries.coverage_of_run(session, summary.run_id)}
        errors = [error for error in queries.errors_by_run(session, summary.run_id) if error.url == column_url]
    spin = coverage["spin-ju"]
    assert not spin.complete and spin.problem == "unreadable" and "8 秒内未完成渲染" in spin.detail
    assert {error.kind for error in errors} == {"timeout"} and len(errors) == 2   # rendered twice, twice too long
    assert summary.stats.get("discovery/js_render_retried") == 1 and renders == 1   # the browser got it from the archive
    assert expected <= found, f"reports lost beside the hung page: {sorted(expected - found)}"
    assert coverage[JS_AGENCY].rendered and coverage[JS_AGENCY].complete


def test_a_chromium_that_stops_answering_is_replaced_and_the_render_made_again(tmp_path):
    """Chromium frozen (SIGSTOP: alive, answering nothing, as a hung browser) while it renders the demo's
    script-filled column. The render ends at DISCOVERY_JS_RENDER_TIMEOUT; the browser, asked for its version, does
    not answer either, so it is killed and a new one renders the column again, to its end. Without that, every render
    after the freeze waited out its bound twice and every script-built column ended unread."""
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = server.portals.registry(server.base_url)
        frozen_by, frozen = _kill_chromium_when(server, JS_LIST_JSON, 2, stop=True)
        config = config_in(tmp_path / "data")
        summary = _crawl_or_fail(config, agencies, DISCOVERY_JS_RENDER_TIMEOUT=8.0)
        frozen_by.join(timeout=5)
        expected = {report.url for report in DemoPortals().expected_reports(server.base_url)}

    assert frozen, "Chromium was never frozen: the render did not ask for its listing"
    assert not psutil.pid_exists(frozen[0]) or psutil.Process(frozen[0]).status() == psutil.STATUS_ZOMBIE
    assert summary.status == "finished"
    assert summary.stats.get("discovery/js_browser_unwedged") == 1
    assert summary.stats["playwright/browser_count"] == 2
    with catalog_of(config) as session:
        found = {report.url for report in queries.list_reports(session, limit=10_000) if report.is_report}
        [column] = [row for row in queries.coverage_of_run(session, summary.run_id) if row.agency_id == JS_AGENCY]
    assert column.rendered and column.complete and column.problem is None
    assert expected <= found, f"reports lost to the frozen browser: {sorted(expected - found)}"


def test_a_chromium_frozen_as_soon_as_it_starts_does_not_hold_the_crawl(tmp_path):
    """Chromium frozen (SIGSTOP) the moment its process appears, before Playwright has connected to it: the launch
    cannot finish, so the render ends at its bound, is asked once more and launches a new Chromium, which renders
    the column to its end; the frozen one is gone when the crawl ends, and the run finishes with every report.
    (Frozen just after Playwright connected, the browser cannot say its process id: tests/test_screenshots.py.)"""
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = server.portals.registry(server.base_url)
        frozen_by, frozen = _kill_chromium_when(server, JS_LIST_JSON, 0, stop=True)   # the first browser to appear
        config = config_in(tmp_path / "data")
        summary = _crawl_or_fail(config, agencies, guard=120, DISCOVERY_JS_RENDER_TIMEOUT=8.0,
                                 ARCHIVE_SCREENSHOTS=False)
        frozen_by.join(timeout=5)
        expected = {report.url for report in DemoPortals().expected_reports(server.base_url)}

    assert frozen, "Chromium was never frozen"
    assert not psutil.pid_exists(frozen[0]) or psutil.Process(frozen[0]).status() == psutil.STATUS_ZOMBIE
    assert summary.status == "finished"
    with catalog_of(config) as session:
        found = {report.url for report in queries.list_reports(session, limit=10_000) if report.is_report}
        [column] = [row for row in queries.coverage_of_run(session, summary.run_id) if row.agency_id == JS_AGENCY]
    assert column.rendered and column.complete and column.problem is None
    assert expected <= found, f"reports lost to the frozen browser: {sorted(expected - found)}"


def test_a_chromium_that_freezes_while_it_takes_screenshots_is_replaced(tmp_path):
    """No render at all (DISCOVERY_JS_RENDER off): the report screenshots are Chromium's only work, and it freezes
    (SIGSTOP) once it has a page open. Playwright bounds the picture, not the calls around it (a new page, the
    page's height, a close): the crawl's end waited for them forever. Now a shot past its bound asks Chromium for
    its version, kills it when it does not answer, and the next shots run in a new one; every report page has a
    screenshot or an error that says why not. On a busy machine the freezer may see the page only after the last
    shot: then the crawl's end must not wait on the frozen browser (it waited for ever: one CI run hung so)."""
    frozen: list[int] = []

    def freeze_once_a_page_is_open() -> None:
        deadline = time.monotonic() + HANG_GUARD
        while time.monotonic() < deadline and not frozen:
            for browser in _chromium_browsers():
                try:
                    pages = [child for child in browser.children(recursive=True)
                             if "--type=renderer" in child.cmdline()]
                except psutil.Error:
                    continue
                if pages:
                    browser.suspend()
                    frozen.append(browser.pid)
            time.sleep(0.01)

    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = server.portals.registry(server.base_url)
        freezer = threading.Thread(target=freeze_once_a_page_is_open, daemon=True)
        freezer.start()
        config = config_in(tmp_path / "data")
        summary = _crawl_or_fail(config, agencies, DISCOVERY_JS_RENDER=False, SCREENSHOT_TIMEOUT=3.0)
        freezer.join(timeout=5)

    assert frozen, "Chromium was never frozen: no screenshot page was opened"
    assert not psutil.pid_exists(frozen[0]) or psutil.Process(frozen[0]).status() == psutil.STATUS_ZOMBIE
    assert summary.status == "finished"
    with catalog_of(config) as session:
        pages, shots, shot_errors = _screenshots_of_run(session, summary.run_id)
    assert shots | {error.url.removeprefix("urn:screenshot:") for error in shot_errors} == pages
    if any("未完成截图" in error.message for error in shot_errors):   # frozen during a shot
        assert any("已结束它" in error.message for error in shot_errors)   # killed, not left frozen
        assert shots, "no screenshot was taken"
    else:   # frozen after the last one: killed when the screenshot pages closed, not waited for
        log = (tmp_path / "crawl.log").read_text()
        assert ("Chromium answered nothing when the screenshot pages were to close: killed" in log
                or "the screenshot context did not close in 10 s: Chromium answered nothing and was killed" in log), log


def test_a_long_render_does_not_slow_the_portals_other_pages(tmp_path):
    """AutoThrottle sets a portal's delay from how long its answers take. A render takes as long as the browser
    needs (the load, the wait for quiet, the screenshot), though the portal answered its requests at once:
    learnt as the portal's latency, it made every later request of that portal wait as long. Watched with Scrapy's
    own AUTOTHROTTLE_DEBUG log: no answer the delay learnt from took as long as the render, and the delay never
    grew to it."""
    render_quiet = 3.0   # seconds each render waits without requests before its DOM is read
    log_file = tmp_path / "crawl.log"
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = server.portals.registry(server.base_url)
        config = config_in(tmp_path / "data")
        summary = _crawl_or_fail(
            config, agencies, AUTOTHROTTLE_ENABLED=True, AUTOTHROTTLE_DEBUG=True, DOWNLOAD_DELAY=0.05,
            AUTOTHROTTLE_START_DELAY=0.05, DISCOVERY_JS_IDLE=render_quiet, LOG_LEVEL="INFO", LOG_FILE=str(log_file))
    assert summary.status == "finished"
    with catalog_of(config) as session:
        [column] = [row for row in queries.coverage_of_run(session, summary.run_id) if row.agency_id == JS_AGENCY]
    assert column.rendered and column.complete
    adjustments = [(int(delay), int(latency)) for delay, latency in re.findall(
        r"slot: \S+ \| conc:\s*\d+ \| delay:\s*(\d+) ms \([+-]\d+\) \| latency:\s*(\d+) ms", log_file.read_text())]
    assert len(adjustments) >= 20, "AutoThrottle logged too few answers to judge"
    assert max(latency for _delay, latency in adjustments) < render_quiet * 1000
    assert max(delay for delay, _latency in adjustments) < render_quiet * 1000


@pytest.mark.parametrize("how", ["renderer_crash", "chromium_killed"])
def test_a_page_that_dies_with_a_request_in_flight_is_not_waited_for(how):
    """The wait for a rendered page to go quiet (before its DOM is read, after each paging step) ends when the page
    dies: a request in flight in a crashed renderer or a dead Chromium never ends, and every step of the walk waited
    out DISCOVERY_JS_STEP_TIMEOUT for it."""
    import socket

    from playwright.async_api import async_playwright
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import MemoryStatsCollector

    from crawler.browser import PageWatch
    from crawler.spiders.reports import ReportsSpider
    from storage.config import CHROMIUM_LAUNCH_OPTIONS

    silent = socket.socket()   # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    listing = f"http://127.0.0.1:{silent.getsockname()[1]}/api/list.json"
    step_timeout = 120.0

    async def run() -> tuple[bool, float]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**CHROMIUM_LAUNCH_OPTIONS)
            try:
                page = await browser.new_page()
                watch = PageWatch(None, MemoryStatsCollector(Crawler(ReportsSpider)), page_url="about:blank",
                                  agency_id=None, static_capture=None)
                await watch.attach(page)
                await page.set_content(f"<ul id='list'></ul><script>fetch('{listing}')</script>")
                deadline = time.monotonic() + 30
                while watch._in_flight == 0:   # the page's data request has left
                    assert time.monotonic() < deadline, "the page never asked for its listing"
                    await asyncio.sleep(0.05)
                if how == "renderer_crash":
                    session = await page.context.new_cdp_session(page)
                    with contextlib.suppress(Exception):   # the renderer dies without answering
                        await asyncio.wait_for(session.send("Page.crash"), timeout=2)
                else:
                    for process in _chromium_browsers():
                        process.kill()
                started = time.monotonic()
                settled = await asyncio.wait_for(watch.quiet(0.3, step_timeout), timeout=60)
                return settled, time.monotonic() - started
            finally:
                with contextlib.suppress(Exception):
                    await browser.close()

    try:
        settled, waited = asyncio.run(run())
    finally:
        silent.close()
    assert not settled               # never quiet: its request did not end, the page did
    assert waited < step_timeout / 4
