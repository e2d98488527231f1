"""What one report-page screenshot costs, as shipped and as it was: navigated to, versus written into the tab.

Archives report pages (the demo's renderings of the five seed reports, each at its own address on one of 40
hosts) in a temporary data dir, then renders every one twice in the same Chromium, ``--pages`` tabs at a time:

- ``navigated``: the way screenshots were taken before 2026-11-30 (kept here as the baseline): ``page.goto`` the
  page's URL, the route answering the navigation with the archived payload;
- ``shipped``: ``storage.screenshots.OfflineRenderer`` as the crawl and the after-crawl pass use it (the page written
  into the kept tab, ``page_markup``).

Prints, per variant, the wall time per shot and the CPU per shot of the whole process tree split by process type
(this Python process, the Playwright driver, Chromium's browser, renderer and GPU processes; psutil), the average
JPEG size, and the ratio of the two. Nothing is fetched from any network; sub-resources are refused.

    .venv/bin/python benchmarks/screenshots.py [--pages-count 120] [--pages 2]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from demo.render import SEED_IDS, load_seed, render_html  # noqa: E402
from storage.archive import Archive, open_reader  # noqa: E402
from storage.config import Config  # noqa: E402
from storage.reader import Capture  # noqa: E402
from storage.screenshots import DEFAULT_SPEC, Chromium, OfflineRenderer  # noqa: E402

HOSTS = 40


@dataclass
class Result:
    variant: str
    shots: int
    wall: float
    cpu: dict[str, float]
    average_bytes: float

    @property
    def cpu_per_shot(self) -> float:
        return sum(self.cpu.values()) / self.shots

    def line(self) -> str:
        parts = ", ".join(f"{kind} {1000 * seconds / self.shots:.0f}" for kind, seconds in sorted(self.cpu.items())
                          if seconds >= 0.005)
        return (f"{self.variant:10s} {self.shots:5d} shots  wall {1000 * self.wall / self.shots:6.1f} ms/shot  "
                f"CPU {1000 * self.cpu_per_shot:6.1f} ms/shot ({parts})  {self.average_bytes / 1024:.0f} KB")


def tree_cpu() -> dict[str, float]:
    """CPU seconds so far of this process and its descendants, by kind (Chromium by its --type)."""
    me = psutil.Process()
    totals: dict[str, float] = {}
    for process in [me, *me.children(recursive=True)]:
        try:
            times, name, argv = process.cpu_times(), process.name(), process.cmdline()
        except psutil.Error:
            continue
        if process.pid == me.pid:
            kind = "python"
        elif "node" in name:
            kind = "driver"
        else:
            kind = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("--type=")), "browser")
        totals[kind] = totals.get(kind, 0.0) + times.user + times.system
    return totals


def archive_pages(config: Config, count: int) -> list[int]:
    """``count`` report pages, as a crawl would have archived them; their capture ids."""
    bodies = [render_html(load_seed(seed_id)) for seed_id in SEED_IDS]
    archive = Archive.open(config, durability="os")
    ids = []
    try:
        for index in range(count):
            url = f"http://127.1.0.{index % HOSTS + 1}/xxgk/ndbg/{index}.html"
            ref = archive.record_fetch(url, "GET", [], 200, "OK", [("Content-Type", "text/html; charset=utf-8")],
                                       bodies[index % len(bodies)])
            ids.append(ref.id)
    finally:
        archive.close()
    return ids


def read_captures(config: Config, ids: list[int]) -> list[Capture]:
    reader = open_reader(config)
    try:
        return [reader.read(capture_id) for capture_id in ids]
    finally:
        reader.store.close()
        reader.catalog.close()


async def navigated(browser, captures: list[Capture], pages: int) -> list[bytes]:
    """The baseline: each shot a navigation answered from the archive by the route."""
    spec = DEFAULT_SPEC
    queue = list(captures)
    images: list[bytes] = []

    async def tab() -> None:
        context = await browser.new_context(java_script_enabled=False, viewport=spec.viewport,
                                            service_workers="block", accept_downloads=False)
        page = await context.new_page()
        serving: dict[str, Capture | None] = {"capture": None}

        async def handle(route) -> None:
            request = route.request
            capture = serving["capture"]
            if request.is_navigation_request() and request.frame == page.main_frame and capture is not None:
                serving["capture"] = None
                await route.fulfill(status=200, body=capture.payload,
                                    headers={"Content-Type": capture.header("Content-Type") or "text/html"})
            else:
                await route.abort("blockedbyclient")

        await page.route("**/*", handle)
        while queue:
            capture = serving["capture"] = queue.pop()
            await page.goto(capture.url, wait_until="load")
            await page.evaluate("() => document.documentElement.scrollHeight")
            images.append(await page.screenshot(type="jpeg", quality=spec.quality, animations="disabled"))
        await context.close()

    await asyncio.gather(*(tab() for _ in range(pages)))
    return images


async def shipped(browser, captures: list[Capture], pages: int) -> list[bytes]:
    async def no_subresource(_url: str):
        return None

    async def given(capture: Capture) -> Capture:
        return capture

    async def the_browser():
        return browser

    renderer = OfflineRenderer(the_browser, no_subresource, pages)
    try:
        shots = await asyncio.gather(*(renderer.render(lambda capture=capture: given(capture)) for capture in captures))
    finally:
        await renderer.close()
    return [shot.jpeg for shot in shots]


async def measure(captures: list[Capture], pages: int) -> list[Result]:
    chromium = Chromium()
    results = []
    try:
        browser = await chromium.browser()
        for name, variant in (("navigated", navigated), ("shipped", shipped)):
            await variant(browser, captures[:pages], pages)  # warm: tabs, fonts, renderer processes
            before, start = tree_cpu(), time.monotonic()
            images = await variant(browser, captures, pages)
            wall, after = time.monotonic() - start, tree_cpu()
            cpu = {kind: after.get(kind, 0.0) - before.get(kind, 0.0) for kind in after}
            results.append(Result(name, len(images), wall, cpu, sum(map(len, images)) / len(images)))
    finally:
        await chromium.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages-count", type=int, default=120, help="report pages to render (default 120)")
    parser.add_argument("--pages", type=int, default=2, help="tabs at once, as SCREENSHOT_PAGES (default 2)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xxgk-shots-") as work:
        config = Config.from_env({}, data_dir=Path(work) / "data")
        captures = read_captures(config, archive_pages(config, args.pages_count))
        results = asyncio.run(measure(captures, args.pages))
    print(f"{args.pages_count} archived report pages (the demo's seed reports on {HOSTS} hosts), "
          f"{args.pages} tabs at once, {DEFAULT_SPEC.width}x{DEFAULT_SPEC.height} JPEG q{DEFAULT_SPEC.quality}; "
          "CPU of the process tree per shot, by process type")
    for result in results:
        print(result.line())
    base, new = results
    print(f"shipped / navigated: wall {new.wall / base.wall:.2f}×, CPU {new.cpu_per_shot / base.cpu_per_shot:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
