"""``xxgk parse`` and the CLI contract, run as a user runs them: the installed console script."""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from demo.render import load_seed, render_html, seed_text

XXGK = shutil.which("xxgk", path=str(Path(sys.executable).parent)) or "xxgk"
COMMANDS = ["crawl", "parse", "status", "reports", "agencies", "serve", "schedule", "demo", "export-warc", "verify",
            "reindex", "reparse", "alerts"]


def test_the_help_test_names_every_command():
    """A new command cannot slip past the --help check below."""
    from cli.main import build_parser

    sub = next(action for action in build_parser()._actions if action.dest == "command")
    assert set(sub.choices) == set(COMMANDS)


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([XXGK, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = run(command, "--help")
    assert result.returncode == 0
    assert f"xxgk {command}" in result.stdout


def test_parse_file_json(tmp_path):
    path = tmp_path / "seed001.txt"
    path.write_bytes(seed_text("001"))
    result = run("parse", str(path), "--json", "--level", "department")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    for key in ("is_report", "kind", "title", "agency", "report_year", "format", "signing_date", "publication_date",
                "date_source", "dates", "tables", "consistency_errors", "needs_ocr", "error"):
        assert key in record
    assert record["is_report"] is True and record["kind"] == "report"
    assert record["agency"] == "临淄区卫生健康局"
    assert record["report_year"] == 2022
    assert record["format"] == "2021"
    assert record["signing_date"] == "2023-01-29"
    assert any(d["date"] == "2023-01-29" and d["source"] == "signing" for d in record["dates"])
    assert record["tables"]["table2"]["rows"]["行政处罚"]["本年处理决定数量"] == 173
    assert record["consistency_errors"] == []
    assert record["error"] is None
    assert "text" not in record  # only with --with-text
    # a department's 2022 report is due on 31 January 2023 (条例 2019, 第四十九条第一款)
    assert record["deadline"]["date"] == "2023-01-31" and "第四十九条第一款" in record["deadline"]["legal_basis"]


def test_parse_file_readable_table_in_chinese(tmp_path):
    path = tmp_path / "seed003.txt"
    path.write_bytes(seed_text("003"))
    result = run("parse", str(path), "--level", "department")
    assert result.returncode == 0, result.stderr
    agency_line = next(line for line in result.stdout.splitlines() if line.startswith("机关："))
    # where the name was read, and the level, in words, not the record's codes
    assert re.fullmatch(r"机关：普陀区卫生和计划生育局  \[来源：(标题|填报单位|落款|正文|网页元数据|信息公开目录)\]",
                        agency_line), agency_line
    assert "层级：政府部门" in result.stdout
    assert "截止日期：2019-03-31（《政府信息公开条例》(2008) 第三十一条）" in result.stdout   # a 2018 report
    assert "报告年度：2018" in result.stdout
    assert "政务公开工作总结" in result.stdout


@pytest.fixture()
def portal(tmp_path):
    """A one-page portal on loopback serving a GBK report page with a PubDate meta tag."""
    page = render_html(load_seed("002"), encoding="gbk", meta={"PubDate": "2018-02-12 09:30"})
    (tmp_path / "t20180212_1.html").write_bytes(page)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_parse_url_fetches_once(portal):
    result = run("parse", f"{portal}/t20180212_1.html", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["agency"] == "遂宁市安居区卫计局"
    assert record["report_year"] == 2017
    assert record["publication_date"] == "2018-02-12"
    assert record["date_source"] == "meta_pubdate"


def test_parse_url_404_is_one_line(portal):
    result = run("parse", f"{portal}/missing.html")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "404" in result.stderr


@pytest.mark.parametrize("args, code, words", [
    (["parse", "http://[::1"], 1, "xxgk parse: cannot fetch http://[::1: InvalidURL"),   # a traceback before
    (["parse", "http://127.0.0.1:9/x", "--timeout", "-1"], 2, "--timeout: expected a number above 0"),
    (["parse", "x.pdf", "--ocr-budget", "-5"], 2, "--ocr-budget: expected a number above 0"),   # taken silently
    (["schedule", "--max-runs", "0"], 2, "--max-runs: expected 1 or more"),    # meant "forever"
    (["crawl", "--worker", "--wait", "-3"], 2, "--wait: expected a number above 0"),
    (["crawl", "--wait", "5"], 1, "xxgk crawl: --wait 只用于 --worker"),                 # ignored silently before
    (["crawl", "--worker-id", "w1"], 1, "xxgk crawl: --worker-id 只用于 --worker 或 --coordinator"),
    (["parse", "/dev/null"], 1, "xxgk parse: not a regular file: /dev/null"),           # "no such file" before
])
def test_a_value_that_cannot_work_is_refused_in_one_line(tmp_path, args, code, words):
    result = run(*args, cwd=tmp_path, env={**os.environ, "XXGK_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == code and "Traceback" not in result.stderr
    assert words in result.stderr.strip().splitlines()[-1]   # the last line says why (argparse's usage above it)


def test_a_malformed_redis_url_is_one_line(tmp_path):
    env = {**os.environ, "XXGK_DATA_DIR": str(tmp_path / "d"), "XXGK_REDIS_URL": "notaurl"}
    for args in (["crawl", "--agency", "sfq-wjj"], ["schedule", "--now", "--max-runs", "1"]):
        result = run(*args, cwd=tmp_path, env=env)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr[-800:]
        assert "XXGK_REDIS_URL notaurl: expected a URL starting with redis://" in result.stderr


def test_parse_missing_file_is_one_line(tmp_path):
    result = run("parse", str(tmp_path / "nope.pdf"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"xxgk parse: no such file: {tmp_path / 'nope.pdf'}"


def test_parse_broken_document_exits_nonzero_with_the_error(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    result = run("parse", str(path), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]
    assert result.stderr.startswith(f"xxgk parse: {path}: ") and result.stderr.count("\n") == 1   # said on stderr too


@pytest.mark.parametrize("args", [["status", "--year", "2024"], ["reports"], ["alerts", "pending"],
                                  ["agencies", "coverage"], ["verify"]])
def test_a_data_directory_that_is_a_file_is_said_so(tmp_path, args):
    """Not "the catalog is empty: run xxgk crawl first", nor "nothing pending": the path itself is wrong."""
    afile = tmp_path / "data"
    afile.write_text("not a directory")
    result = run(*args, cwd=tmp_path, env={**os.environ, "XXGK_DATA_DIR": str(afile)})
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert f"the data directory {afile} is a file, not a directory" in result.stderr


def test_alerts_pending_on_a_data_directory_that_does_not_exist_is_not_an_empty_queue(tmp_path):
    env = {**os.environ, "XXGK_DATA_DIR": str(tmp_path / "typo")}
    result = run("alerts", "pending", cwd=tmp_path, env=env)
    assert result.returncode == 1 and "no data directory at" in result.stderr and result.stdout == ""
    (tmp_path / "typo").mkdir()   # a fresh data directory: nothing recorded yet, and that is the answer
    result = run("alerts", "pending", cwd=tmp_path, env=env)
    assert result.returncode == 0 and "没有待发送的告警" in result.stdout
