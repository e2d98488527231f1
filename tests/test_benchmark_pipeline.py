"""benchmarks/pipeline.py (issue #10): its portal set is what the comparison needs, and a small run goes end to end
with the bare spider fetching exactly what `xxgk crawl` archived. No timing is asserted."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.benchmark_scripts import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


def test_each_agency_is_its_own_host_with_its_own_bytes():
    from registry.agencies import validate

    bench = load_benchmark("pipeline")
    hosts = bench.build_hosts(len(bench.TEMPLATES) * 2)
    assert {host.template for host in hosts} == set(bench.TEMPLATES)
    assert len({host.address for host in hosts}) == len(hosts)
    assert len({host.region for host in hosts}) == len(hosts)
    # no document is served by two agencies (a shared digest would make the crawl's work cheaper than real)
    bodies = Counter(resource.body for host in hosts for resource in host.site.values() if len(resource.body) > 2000)
    assert bodies and max(bodies.values()) == 1
    kinds = {resource.content_type.split(";")[0] for host in hosts for resource in host.site.values()}
    assert {"text/html", "application/pdf", "application/json",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"} <= kinds
    assert validate([bench.registry_entry(host) for host in hosts]) == []
    # the region replaced the demo's place names everywhere, GBK pages included
    trs = next(host for host in hosts if host.template == "trs")
    page = trs.site["/trs/xxgk/xxgknb/index.html"].body.decode("gbk")
    assert trs.region in page and "示范区" not in page


@pytest.mark.slow
def test_a_small_run_fetches_exactly_the_archived_urls_on_both_sides(tmp_path):
    figures = tmp_path / "figures.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("XXGK_")}
    env["PYTHONPATH"] = str(ROOT)
    # six agencies: the first six templates, both listings that need Chromium among them
    work = tmp_path / "work"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pipeline.py"), "--agencies", "6",
                           "--delay", "0", "--no-polite", "--json", str(figures), "--keep", str(work)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(figures.read_text())
    crawl, bare = result["runs"]["xxgk_off"], result["runs"]["bare_off"]
    assert len(result["checks"]) == 1 and result["checks"][0].startswith("politeness off: yes")
    # every agency's column was read: robots.txt, listings, reports and attachments of six portals
    assert crawl["pages"] == bare["pages"] >= 6 * 8
    assert "6 个机关读到条目" in crawl["summary"]
    assert crawl["peak_rss_mb"] > bare["peak_rss_mb"] > 0 and crawl["peak_chromium_mb"] > 0
    assert crawl["warc_bytes"] > 0 and "xxgk crawl --no-screenshots, politeness off" in done.stdout

    # --profile's second part times what `xxgk crawl` does after the crawl over that (screenshot-less) archive,
    # wrapping the functions it calls by name: a renamed or moved one must fail here, not in a long profiling run
    data_dir = work / "xxgk_off"
    run_id = re.search(r"运行 (\S+?)，", (data_dir / "xxgk.stdout").read_text("utf-8")).group(1)
    phases = tmp_path / "after-crawl.json"
    env["XXGK_DATA_DIR"] = str(data_dir)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pipeline.py"), "--after-crawl", str(data_dir),
                           run_id, str(work / "registry.yaml"), str(phases)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    timed = json.loads(phases.read_text())
    calls = {label.strip(): count for label, count, _seconds in timed["phases"]}
    assert timed["taken"] > 0 and timed["failed"] == 0
    assert calls["render one page (all of the below)"] == calls["take the first-screen JPEG"] == timed["taken"]
    assert calls["archive the JPEG (staged for the group commit)"] == timed["taken"]
    assert calls["verdicts (judge)"] == 1


def test_the_tree_sampler_tells_chromium_and_playwright_from_the_crawl_and_its_workers(tmp_path):
    """The memory and CPU the benchmark reports per part: Chromium's utility processes (started as /proc/self/exe)
    and Playwright's driver (node-MainThread) once counted as parse workers."""
    bench = load_benchmark("pipeline")
    script = tmp_path / "tree.py"
    script.write_text(
        "import multiprocessing, sys, time\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from playwright.sync_api import sync_playwright\n"
        "from storage.config import CHROMIUM_LAUNCH_OPTIONS\n"
        "def work():\n"
        "    time.sleep(3)\n"
        "if __name__ == '__main__':\n"
        "    with sync_playwright() as playwright:\n"
        "        browser = playwright.chromium.launch(**CHROMIUM_LAUNCH_OPTIONS)\n"
        "        page = browser.new_page()\n"
        "        page.set_content('<p>页面</p>')\n"
        "        child = multiprocessing.get_context('spawn').Process(target=work)\n"
        "        child.start()\n"
        "        time.sleep(2)\n"
        "        child.join()\n"
        "        browser.close()\n")
    measured = bench.run_measured([sys.executable, str(script), str(ROOT)], bench.child_env(), tmp_path, "tree")
    assert measured.returncode == 0, (tmp_path / "tree.stderr").read_text()
    parts = measured.peak_parts
    # the spawned child is the one process that is neither the main process nor Chromium nor the driver
    assert set(parts) >= {"main process", "Chromium", "Playwright driver"}
    assert parts.get("crawl process", 0) + parts.get("parse workers", 0) < 100 * 2**20, parts
    assert parts["Chromium"] > parts["Playwright driver"] > 0
    assert measured.cpu_parts["Chromium"] > 0 and measured.cpu_parts["main process"] > 0
