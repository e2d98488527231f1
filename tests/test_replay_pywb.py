"""A WARC exported by the project replays in pywb (installed in its own venv, `.pywb-venv`, by `make pywb`)."""
from __future__ import annotations

import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cli.main import main
from storage.archive import Archive
from storage.config import Config
from storage.warc import NOTE_FETCH_ERROR
from tests.servers import die_with_parent, free_port, wait_port
from tests.test_reindex import notes_filed_under_their_pages

REPO = Path(__file__).resolve().parent.parent
PYWB_VENV = REPO / ".pywb-venv"
T0 = datetime(2024, 1, 30, 2, 20, 30, 250000, tzinfo=timezone.utc)
COLUMN = "http://www.example.gov.cn/xxgk/ndbg/"
NEVER_ANSWERED = "http://www.example.gov.cn/xxgk/ndbg/2022.html"


def pywb_tool(name: str) -> Path:
    tool = PYWB_VENV / "bin" / name
    if not (PYWB_VENV / ".installed").exists() or not tool.exists():
        pytest.fail(f"pywb is not installed in {PYWB_VENV}: run `make pywb`")
    return tool


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


@pytest.fixture
def exported(tmp_path, capsys):
    """An archive with a GBK page, a PDF, a 404, a revisit, a column with its coverage and a fetch error,
    exported through the CLI."""
    config = Config.from_env({}, data_dir=tmp_path / "data")
    page = "<html><head><meta charset=\"gbk\"><title>2023年政府信息公开工作年度报告</title></head>" \
           "<body>一、总体情况</body></html>".encode("gbk")
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"
    captures = []
    with Archive.open(config, run_id="replay") as archive:
        for url, status, reason, headers, payload, when in [
            ("http://www.example.gov.cn/xxgk/ndbg/202401/t20240130_1.html", 200, "OK",
             [("Content-Type", "text/html; charset=GBK"), ("Server", "TRS")], page, T0),
            ("http://www.example.gov.cn/xxgk/ndbg/202401/P020240130.pdf", 200, "OK",
             [("Content-Type", "application/pdf")], pdf, T0 + timedelta(seconds=5)),
            ("http://www.example.gov.cn/xxgk/ndbg/old.html", 404, "Not Found",
             [("Content-Type", "text/html")], b"<h1>404</h1>", T0 + timedelta(seconds=9)),
            ("http://www.example.gov.cn/xxgk/ndbg/202401/t20240130_1.html", 200, "OK",
             [("Content-Type", "text/html; charset=GBK"), ("Server", "TRS")], page, T0 + timedelta(days=3)),
        ]:
            ref = archive.record_fetch(url, "GET", [("User-Agent", "xxgk-watch/test")], status, reason, headers,
                                       payload, fetched_at=when)
            captures.append((ref, status, payload))
        # a column read (its coverage is a note about the listing page) and a report that never answered
        listing = "<html><body><a href=\"202401/t20240130_1.html\">2023年年报</a></body></html>".encode()
        ref = archive.record_fetch(COLUMN, "GET", [], 200, "OK", [("Content-Type", "text/html; charset=utf-8")],
                                   listing, fetched_at=T0 + timedelta(seconds=20), agency_id="a1")
        captures.append((ref, 200, listing))
        archive.record_coverage(agency_id="a1", column_url=COLUMN, found_by="registry", read_at=ref.timestamp,
                                capture_id=ref.id, pages_walked=1, complete=True, items_read=1, dated_items=1)
        archive.record_error(NEVER_ANSWERED, "timeout", "read timed out", agency_id="a1", at=T0)
    assert captures[3][0].record_type == "revisit"
    notes_filed_under_their_pages(config, (NOTE_FETCH_ERROR,))   # the error note as archives were written before
    warc = tmp_path / "replay.warc.gz"
    assert main(["--data-dir", str(config.data_dir), "export-warc", "--run", "replay", str(warc)]) == 0
    capsys.readouterr()
    return warc, captures


def test_exported_warc_replays_in_pywb(exported, tmp_path):
    warc, captures = exported
    wb_manager, wayback = pywb_tool("wb-manager"), pywb_tool("wayback")
    home = tmp_path / "pywb"
    home.mkdir()
    for args in (["init", "C"], ["add", "C", str(warc)]):
        done = subprocess.run([str(wb_manager), *args], cwd=home, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    port = free_port()
    log = home / "wayback.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([str(wayback), "-b", "127.0.0.1", "-p", str(port)], cwd=home, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())
    try:
        wait_port(port, server, 60, log)
        for ref, status, payload in captures:
            url = f"http://127.0.0.1:{port}/C/{timestamp(ref.timestamp)}id_/{ref.url}"
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    got_status, body = response.status, response.read()
            except urllib.error.HTTPError as error:  # the archived 404 replays as a 404
                got_status, body = error.code, error.read()
            assert got_status == status, (ref, log.read_text(errors="replace")[-2000:])
            assert body == payload, ref
        # the notes are not pages: the column replays as its listing, the report that never answered is not there
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/C/{timestamp(T0)}id_/{NEVER_ANSWERED}",
                                        timeout=30) as response:
                got = response.status, response.headers.get("Content-Type"), response.read()[:200]
        except urllib.error.HTTPError as error:
            got = error.code, None, b""
        assert got[0] == 404, got
    finally:
        server.terminate()
        server.wait(20)
