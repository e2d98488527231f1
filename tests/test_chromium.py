"""One Playwright driver and one Chromium per crawl process (crawler.chromium): scrapy-playwright's two download
handlers (http and https) and the screenshot pipeline all start it at once, as a crawl does, and must end up with
one of each, counted from the operating system's process table."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from crawler.chromium import SharedChromium


def descendants() -> list[tuple[int, str, str]]:
    """(pid, command line, its parent's command line) of the live (not zombie) processes below this one."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [(pid, "") for pid in children.get(os.getpid(), [])]
    while todo:
        pid, parent = todo.pop()
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        found.append((pid, command, parent))
        todo.extend((child, command) for child in children.get(pid, []))
    return found


def drivers_and_browsers(ignored: frozenset[int] = frozenset()) -> tuple[int, int]:
    """Playwright drivers and Chromium browser processes, but for the ``ignored`` pids (an earlier test's driver
    may still be exiting). A child Chromium forks that has not run its own program yet still shows the browser's
    command line: a browser's child is not another browser."""
    commands = [(command, parent) for pid, command, parent in descendants() if pid not in ignored]
    drivers = sum("run-driver" in command for command, _parent in commands)
    browsers = sum("chromium" in command and "--type=" not in command and "chromium" not in parent
                   for command, parent in commands)
    return drivers, browsers


def test_every_user_in_the_process_shares_one_driver_and_one_chromium():
    earlier = frozenset(pid for pid, _command, _parent in descendants())

    async def crawl_like() -> tuple[bool, tuple[int, int], tuple[int, int], tuple[int, int]]:
        handlers = [SharedChromium(), SharedChromium()]   # what scrapy-playwright makes, one per scheme
        screenshots = SharedChromium()
        await asyncio.gather(*(handler.start() for handler in handlers))  # at engine_started, together
        started = drivers_and_browsers(earlier)
        browsers = await asyncio.gather(*(user.launch_browser() for user in (*handlers, screenshots)))
        same = all(browser is browsers[0] and browser.is_connected() for browser in browsers)
        running = drivers_and_browsers(earlier)
        await handlers[0].close()
        await handlers[1].close()
        kept = (browsers[0].is_connected(), await screenshots.launch_browser() is browsers[0])
        await screenshots.close()
        return same, started, running, kept

    same, started, running, kept = asyncio.run(crawl_like())
    assert same
    assert started == (1, 0)   # the driver at once, the browser on first use
    assert running == (1, 1)
    assert kept == (True, True)  # handlers closing leave the browser to its last user
    assert drivers_and_browsers(earlier) == (0, 0)  # the last user closed it all


def test_the_driver_runs_with_a_small_young_generation_and_the_callers_node_options_are_left_as_they_were(
        monkeypatch):
    """The driver's Node heap grew to ~180 MB over a crawl (benchmarks/README.md): it starts with 1 MB semi-spaces,
    after whatever NODE_OPTIONS the user set (kept, and in force), and this process's environment is not changed."""
    from storage.screenshots import DRIVER_NODE_OPTIONS, Chromium

    monkeypatch.setenv("NODE_OPTIONS", "--stack-trace-limit=7")

    def drivers() -> set[int]:
        """This process's Playwright drivers (other tests in it may have left theirs running)."""
        return {pid for pid, command, _parent in descendants() if "run-driver" in command}

    async def start_and_look() -> list[str]:
        before = drivers()
        chromium = Chromium()
        await chromium.start()
        try:
            options = []
            for pid in drivers() - before:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                options += [item.decode().partition("=")[2] for item in environ if item.startswith(b"NODE_OPTIONS=")]
            return options
        finally:
            await chromium.close()

    options = asyncio.run(start_and_look())
    assert options == [f"{DRIVER_NODE_OPTIONS} --stack-trace-limit=7"]
    assert os.environ["NODE_OPTIONS"] == "--stack-trace-limit=7"
    monkeypatch.delenv("NODE_OPTIONS")
    asyncio.run(start_and_look())
    assert "NODE_OPTIONS" not in os.environ



def test_the_render_handler_closing_with_a_frozen_chromium_kills_it_instead_of_waiting():
    """Chromium stopped (SIGSTOP) after the crawl's last render, with no render or screenshot left to notice:
    scrapy-playwright closes its browser contexts at the crawl's end without a bound, and the crawl never ended.
    The crawl's handler (``crawler.browser.RenderDownloadHandler``) asks the browser for its version first and kills
    it when it does not answer; the contexts' close then returns at once. The handler is scrapy-playwright's own
    close, run on what its render leaves (a context of the shared browser), without a Scrapy engine around it."""
    from types import SimpleNamespace

    import psutil

    from crawler.browser import RenderDownloadHandler

    async def render_freeze_close() -> tuple[int, float]:
        provider = SharedChromium()
        await provider.start()
        browser = await provider.launch_browser()
        context = await browser.new_context()
        page = await context.new_page()
        await page.set_content("<h1>政府信息公开工作年度报告</h1>")
        handler = object.__new__(RenderDownloadHandler)   # what scrapy-playwright keeps after a render
        handler.browser_provider = provider
        handler.context_wrappers = {"default": SimpleNamespace(context=context)}
        frozen = SharedChromium._shared._pid
        psutil.Process(frozen).suspend()
        started = time.monotonic()
        await asyncio.wait_for(handler._close(), 60)   # past this the close is stuck: the test fails
        return frozen, time.monotonic() - started

    frozen, took = asyncio.run(render_freeze_close())
    assert not psutil.pid_exists(frozen) or psutil.Process(frozen).status() == psutil.STATUS_ZOMBIE
    assert took < 20   # the version asked within 5 s, then the closes return at once
    assert SharedChromium._shared is None   # the provider closed too: nothing left for the next crawl
