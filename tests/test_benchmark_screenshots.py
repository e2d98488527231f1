"""benchmarks/screenshots.py (issue #10): a page written into the tab, as shipped, looks as it did when the tab
navigated to it (the old way, the benchmark's baseline), in real Chromium; and the script runs end to end. No
timing is asserted."""
from __future__ import annotations

import asyncio
import io

from PIL import Image, ImageChops, ImageStat

from storage.config import Config
from storage.archive import Archive
from storage.screenshots import Chromium
from tests.benchmark_scripts import load_benchmark


GBK_PAGE = ('<!DOCTYPE html><html><head><meta charset="gbk"><title>示例县2023年政府信息公开工作年度报告</title>'
            '<style>body{margin:40px} h1{font-size:32px}</style></head><body><h1>示例县2023年政府信息公开工作年度报告</h1>'
            '<p>发布日期：2024-01-20</p><table border="1"><tr><td>本年新制作数量</td><td>12</td></tr></table>'
            '</body></html>').encode("gbk")


def test_a_page_written_into_the_tab_looks_as_it_did_navigated_to(tmp_path):
    bench = load_benchmark("screenshots")
    config = Config.from_env({}, data_dir=tmp_path / "data")
    ids = bench.archive_pages(config, 5)   # the five seed reports
    archive = Archive.open(config, durability="os")
    ids.append(archive.record_fetch("http://127.1.0.9/gbk.html", "GET", [], 200, "OK",
                                    [("Content-Type", "text/html; charset=GBK")], GBK_PAGE).id)
    archive.close()
    captures = bench.read_captures(config, ids)

    async def both():
        chromium = Chromium()
        try:
            browser = await chromium.browser()
            # one tab each: the order of the pictures is the order of the captures
            old = await bench.navigated(browser, list(reversed(captures)), 1)
            new = await bench.shipped(browser, captures, 1)
            return old, new
        finally:
            await chromium.close()

    old, new = asyncio.run(both())
    assert len(old) == len(new) == len(captures)
    for capture, before, after in zip(captures, old, new):
        before, after = (Image.open(io.BytesIO(image)).convert("L") for image in (before, after))
        assert before.size == after.size == (1280, 1000), capture.url
        difference = ImageStat.Stat(ImageChops.difference(before, after)).mean[0]
        assert difference < 2.0, f"{capture.url}: mean pixel difference {difference:.2f}"
        assert sum(after.histogram()[:64]) > 2_000, capture.url   # text drawn, not a blank page


def test_the_script_prints_both_variants_and_their_ratio(capsys):
    bench = load_benchmark("screenshots")
    assert bench.main(["--pages-count", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == ["navigated", "shipped"]
    assert all(" 4 shots " in line for line in lines[1:3])
    assert lines[3].startswith("shipped / navigated: wall ")
