"""Faults: each bad document or bad answer becomes a recorded error for its URL while the crawl goes on, and a
crawl killed with SIGKILL loses nothing it had archived.

A tiny fault server on loopback (below) serves one report column whose items misbehave in every way the demo
portals do not: a document that keeps the parser busy past PARSE_TIMEOUT, a truncated PDF, a GBK page that declares
UTF-8, a 500, a slow page, a redirect loop, a body larger than DOWNLOAD_MAXSIZE, a refused connection and a page
behind a self-signed certificate, next to one good report that must still be found.
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from demo.portals import REPORTS, ROBOTS_DISALLOWED, DemoPortals, registry_yaml_text
from demo.server import DemoServer
from registry.agencies import Agency
from storage.archive import Archive, open_reader
from storage.catalog import queries
from storage.recovery import group_records, scan_segment
from tests.crawling import SLOW_PAGE_SECONDS, catalog_of, config_in, crawl
from tests.servers import free_port

pytestmark = pytest.mark.slow

PARSE_TIMEOUT = 4.0   # twice what the good documents need on a loaded CI machine, half of what the bomb takes
MAX_SIZE = 8 * 1024 * 1024


def _demo_body(agency_id: str, year: int) -> bytes:
    spec = next(r for r in REPORTS if r.agency_id == agency_id and r.year == year)
    return DemoPortals().resource(spec.path).body


def _parser_bomb() -> bytes:
    """A report-like page whose 12000×40 table keeps the table parser busy for many seconds (~8 s on the
    developers' machine, alone), under DOWNLOAD_MAXSIZE (~7 MB)."""
    rows = "".join("<tr>" + "".join(f"<td>{i * j}</td>" for j in range(40)) + "</tr>" for i in range(12000))
    return (f'<html><head><meta charset="utf-8"></head><body><h1>示范区统计局2022年政府信息公开工作年度报告</h1>'
            f"<table>{rows}</table></body></html>").encode("utf-8")


def _with_news(title: str, main: str) -> bytes:
    """A page with a 工作动态 sidebar whose dated news reach back years: read as a column, it proves anything."""
    news = "".join(f'<li><a href="/news/{year}.html">{year}年工作动态</a><span>{year}-05-10</span></li>'
                   for year in range(2018, 2027))
    return (f'<html><head><meta charset="utf-8"><title>{title}</title></head><body>{main}'
            f'<div class="side"><h3>工作动态</h3><ul class="list">{news}</ul></div></body></html>').encode()


def _column(entries: list[tuple[str, str, str | None]], more: str = "") -> bytes:
    rows = "".join(f'<li><a href="{href}">{title}</a>{f"<span>{day}</span>" if day else ""}</li>'
                   for href, title, day in entries)
    return (f'<html><head><meta charset="utf-8"><title>政府信息公开年度报告</title></head><body>'
            f'<h2>政府信息公开年度报告</h2><ul class="list">{rows}</ul>{more}</body></html>').encode()


# a column whose page 1 pins the 2019 guide above its newest entries; the rest sits behind a script's 加载更多
PINNED_COLUMN = _column([
    ("/pinned/guide.html", "【置顶】示范区教育局政府信息公开指南", "2019-05-01"),
    ("/pinned/2024.html", "示范区教育局2024年政府信息公开工作年度报告", "2025-01-22"),
    ("/pinned/2023.html", "示范区教育局2023年政府信息公开工作年度报告", "2024-01-26"),
    ("/pinned/notice.html", "关于做好2023年政府信息公开工作年度报告编制工作的通知", "2023-12-15")],
    more='<div class="more"><a href="javascript:void(0)" onclick="loadMore()">加载更多</a></div>')
# a column begun on a new platform: its two entries undated, nothing older
UNDATED_COLUMN = _column([("/undated/2024.html", "示范区民政局2024年政府信息公开工作年度报告", None),
                          ("/undated/2023.html", "示范区民政局2023年政府信息公开工作年度报告", None)])
# a column a site's move left behind: read fine, its newest entry the 2019 report, listed in January 2020
FROZEN_COLUMN = _column([("/frozen/2019.html", "示范区水务局2019年政府信息公开工作年度报告", "2020-01-21"),
                         ("/frozen/2018.html", "示范区水务局2018年政府信息公开工作年度报告", "2019-01-25"),
                         ("/frozen/2017.html", "示范区水务局2017年政府信息公开工作年度报告", "2018-03-20")])


class FaultServer:
    """Loopback HTTP server: path → (status, headers, body, delay seconds)."""

    def __init__(self, routes: dict, certificate: tuple[Path, Path] | None = None):
        self.routes = routes
        self.requests: list[str] = []
        routes_ref, log = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                log.append(self.path)
                status, headers, body, delay = routes_ref.get(self.path, (404, {}, b"not found", 0))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, certificate))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if certificate else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for "localhost" signed by itself: the crawl reaches it as 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def fault_crawl(tmp_path_factory):
    work = tmp_path_factory.mktemp("faults")
    html = {"Content-Type": "text/html; charset=utf-8"}
    good = _demo_body("sfq-ybj", 2022)
    gbk = _demo_body("sfq-gov", 2022).decode("utf-8").encode("gbk")  # still declares utf-8, in meta and header
    pdf = _demo_body("ysq-wjw", 2015)
    refused = f"http://127.0.0.1:{free_port()}/gone.html"
    with FaultServer({"/docs/tls.html": (200, html, good, 0)}, certificate=_self_signed(work)) as tls:
        routes = {
            "/docs/good.html": (200, html, good, 0),
            "/docs/bomb.html": (200, html, _parser_bomb(), 0),
            "/docs/truncated.pdf": (200, {"Content-Type": "application/pdf"}, pdf[: len(pdf) // 3], 0),
            "/docs/gbk.html": (200, html, gbk, 0),
            "/docs/error.html": (500, html, "<h1>500 服务器内部错误</h1>".encode(), 0),
            "/docs/slow.html": (200, html, good, SLOW_PAGE_SECONDS),
            "/docs/loop-a.html": (302, {"Location": "/docs/loop-b.html"}, b"", 0),
            "/docs/loop-b.html": (302, {"Location": "/docs/loop-a.html"}, b"", 0),
            "/docs/huge.pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4\n" + b"0" * (MAX_SIZE + 1), 0),
            # bodies that do not decompress, and a gzip bomb: 16 MB of zeros in ~16 KB, over DOWNLOAD_MAXSIZE
            "/docs/badgzip.html": (200, {**html, "Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00garbage" * 50, 0),
            "/docs/badbr.html": (200, {**html, "Content-Encoding": "br"}, b"not brotli at all" * 20, 0),
            "/docs/gzipbomb.html": (200, {**html, "Content-Encoding": "gzip"}, gzip.compress(b"\0" * 2 * MAX_SIZE), 0),
            # another agency's report column, a redirect loop
            "/loop/column-a.html": (302, {"Location": "/loop/column-b.html"}, b"", 0),
            "/loop/column-b.html": (302, {"Location": "/loop/column-a.html"}, b"", 0),
            # two columns that answer 200 with news reaching back years, and are no column: the site's error page
            # with a sidebar, and the homepage a moved column redirects to
            "/soft/nb/index.html": (200, html, _with_news("页面不存在", "<h1>404</h1><p>抱歉，您访问的页面不存在或已被删除！</p>"), 0),
            "/moved/nb/index.html": (302, {"Location": "/moved/index.html"}, b"", 0),
            "/moved/index.html": (200, html, _with_news("示范区人民政府", "<h1>示范区人民政府门户网站</h1>"), 0),
            # the site's maintenance page, and a removed column answered with the homepage (no redirect)
            "/maint/nb/index.html": (200, html, _with_news("系统维护中", "<h1>系统升级维护中，请稍后访问</h1>"), 0),
            "/home200/nb/index.html": (200, html, _with_news("示范区交通运输局", "<h1>示范区交通运输局</h1>"), 0),
            "/pinned/nb/index.html": (200, html, PINNED_COLUMN, 0),
            "/undated/nb/index.html": (200, html, UNDATED_COLUMN, 0),
            "/frozen/nb/index.html": (200, html, FROZEN_COLUMN, 0),
        }
        with FaultServer(routes) as server:
            items = [server.base_url + path for path in routes
                     if path.startswith("/docs/") and path != "/docs/loop-b.html"]
            plain_as_https = server.base_url.replace("http://", "https://") + "/docs/good.html"
            items += [refused, tls.base_url + "/docs/tls.html", plain_as_https]
            rows = "".join(f'<li><a href="{url}">示范区医疗保障局2022年政府信息公开工作年度报告（{n}）</a>'
                           f"<span>2023-01-18</span></li>" for n, url in enumerate(items))
            server.routes["/column/index.html"] = (
                200, html, f'<html><body><ul class="list">{rows}</ul></body></html>'.encode("utf-8"), 0)
            agency = Agency(id="sfq-ybj", name="示范区医疗保障局", level="department",
                            homepage=server.base_url + "/", report_index=(server.base_url + "/column/index.html",))
            looped = Agency(id="sfq-wjj", name="示范区卫生健康局", level="department",
                            homepage=server.base_url + "/loop/", report_index=(server.base_url + "/loop/column-a.html",))
            soft = Agency(id="sfq-gov", name="示范区人民政府", level="government", homepage=server.base_url + "/soft/",
                          report_index=(server.base_url + "/soft/nb/index.html",), render="never")
            moved = Agency(id="ylx-wjj", name="样例区卫生健康局", level="department",
                           homepage=server.base_url + "/moved/",
                           report_index=(server.base_url + "/moved/nb/index.html",), render="never")
            others = [Agency(id=f"flt-{name}", name=title, level="department", homepage=server.base_url + f"/{name}/",
                             report_index=(server.base_url + f"/{name}/nb/index.html",), render="never")
                      for name, title in (("maint", "示范区财政局"), ("home200", "示范区交通运输局"),
                                          ("pinned", "示范区教育局"), ("undated", "示范区民政局"),
                                          ("frozen", "示范区水务局"))]
            config = config_in(work / "data")
            summary = crawl(config, [agency, looped, soft, moved, *others], PARSE_TIMEOUT=PARSE_TIMEOUT,
                            DOWNLOAD_MAXSIZE=MAX_SIZE)
            yield SimpleNamespace(config=config, summary=summary, base=server.base_url, tls=tls.base_url,
                                  refused=refused, plain_as_https=plain_as_https)


def _error_kinds(fault_crawl) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    with catalog_of(fault_crawl.config) as session:
        for error in queries.errors_by_run(session, fault_crawl.summary.run_id):
            kinds.setdefault(error.url, set()).add(error.kind)
    return kinds


def _report(fault_crawl, path: str):
    with catalog_of(fault_crawl.config) as session:
        reports = [r for r in queries.list_reports(session, only_reports=False) if r.url == fault_crawl.base + path]
    assert len(reports) == 1, f"{path}: {len(reports)} report rows"
    return reports[0]


def test_crawl_goes_on_and_the_good_report_is_found(fault_crawl):
    assert fault_crawl.summary.status == "finished"
    good = _report(fault_crawl, "/docs/good.html")
    assert good.is_report and good.report_year == 2022 and good.error is None


def test_document_that_outlasts_the_parse_timeout_is_an_error_record(fault_crawl):
    bomb = _report(fault_crawl, "/docs/bomb.html")
    assert bomb.error and "超时" in bomb.error and not bomb.is_report
    assert fault_crawl.summary.stats["parse/timeout"] == 1
    # the killed worker was replaced: documents parsed after it still have their records
    assert fault_crawl.summary.stats.get("parse/pool_restart", 0) >= 1


def test_truncated_pdf_is_an_error_record_tied_to_its_capture(fault_crawl):
    truncated = _report(fault_crawl, "/docs/truncated.pdf")
    assert truncated.error and not truncated.is_report
    capture = open_reader(fault_crawl.config).read(truncated.capture_id)
    assert capture.url.endswith("/docs/truncated.pdf") and capture.status == 200


def test_page_in_another_encoding_than_declared_still_parses(fault_crawl):
    page = _report(fault_crawl, "/docs/gbk.html")
    assert page.error is None and page.is_report and page.report_year == 2022
    assert "示范区人民政府" in (page.title or "") + page.text


def test_bad_answers_are_error_rows_for_their_urls(fault_crawl):
    kinds = _error_kinds(fault_crawl)
    base = fault_crawl.base
    assert kinds.get(base + "/docs/error.html") == {"http"}
    assert kinds.get(base + "/docs/slow.html") == {"timeout"}
    assert kinds.get(base + "/docs/loop-a.html") == {"redirect_loop"}
    assert kinds.get(base + "/docs/huge.pdf") == {"size"}
    assert kinds.get(fault_crawl.refused) == {"reset"}
    assert kinds.get(fault_crawl.plain_as_https) == {"tls"}  # no TLS handshake possible with a plain HTTP server
    with catalog_of(fault_crawl.config) as session:
        slow = [error.message for error in queries.errors_by_run(session, fault_crawl.summary.run_id)
                if error.url == base + "/docs/slow.html"]
    # said in words first, Scrapy's own message kept after it
    assert slow and all(re.match(r"超时：[\d.]+ 秒内没有得到完整答复（.*took longer than", message) for message in slow), slow


def test_bodies_that_do_not_decompress_are_error_rows_for_their_urls(fault_crawl):
    """A broken gzip, brotli garbage and a gzip bomb raised out of Scrapy's decompression unrecorded: the column
    listed the report, the archive had no error for its address, and the year could look unpublished (an
    error row makes it 无法判断, listed_not_archived)."""
    kinds = _error_kinds(fault_crawl)
    base = fault_crawl.base
    assert kinds.get(base + "/docs/badgzip.html") == {"other"}
    assert kinds.get(base + "/docs/badbr.html") == {"other"}
    assert kinds.get(base + "/docs/gzipbomb.html") == {"size"}
    with catalog_of(fault_crawl.config) as session:
        said = {error.url: error.message for error in queries.errors_by_run(session, fault_crawl.summary.run_id)}
    assert said[base + "/docs/badgzip.html"].startswith("压缩的内容无法解压（gzip）")
    assert said[base + "/docs/gzipbomb.html"].startswith("解压后超过下载大小上限")


def test_a_column_in_a_redirect_loop_is_unreadable_naming_the_loop_not_never_found(fault_crawl):
    with catalog_of(fault_crawl.config) as session:
        (row,) = queries.coverage_of_agency(session, "sfq-wjj", run_id=fault_crawl.summary.run_id)
    assert (row.problem, row.items_read) == ("unreadable", 0), (row.problem, row.detail)
    assert row.detail.startswith("重定向循环") and "/loop/column-a.html" in row.detail


@pytest.mark.parametrize("agency_id, said", [("sfq-gov", "栏目页是网站的错误页（页面写着“页面不存在”）"),
                                              ("ylx-wjj", "栏目网址被重定向到网站首页")])
def test_a_column_answering_the_error_page_or_the_homepage_is_unreadable_not_read(fault_crawl, agency_id, said):
    """Both answered 200 with news dated back to 2018: read as the column, their years were proven 未发布."""
    with catalog_of(fault_crawl.config) as session:
        (row,) = queries.coverage_of_agency(session, agency_id, run_id=fault_crawl.summary.run_id)
    assert (row.problem, row.items_read) == ("unreadable", 0), (row.problem, row.items_read, row.detail)
    assert row.detail.startswith(said), row.detail
    env = {**{key: value for key, value in os.environ.items() if not key.startswith("XXGK_")},
           "XXGK_DATA_DIR": str(fault_crawl.config.data_dir)}
    shown = subprocess.run([sys.executable, "-m", "cli.main", "status", "--year", "2024", "--format", "json"],
                           env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert shown.returncode == 0, shown.stderr[-2000:]
    verdict = next(row for row in json.loads(shown.stdout) if row["agency_id"] == agency_id)
    assert verdict["status"] == "undetermined" and said in verdict["reason"], verdict


def _verdict_2022(fault_crawl, agency_id: str, year: int = 2022):
    from monitor.clock import today
    from monitor.verdicts import judge
    from storage.catalog import Catalog

    catalog = Catalog.open(fault_crawl.config, create=False)
    try:
        (verdict,) = [row for row in judge(catalog, as_of=today(), years={agency_id: [year]},
                                           agency_ids=[agency_id], store=False) if row.report_year == year]
    finally:
        catalog.close()
    return verdict


def test_a_column_answering_the_sites_maintenance_page_is_unreadable(fault_crawl):
    """系统维护中, with a sidebar of news back to 2018: read as the column, 2022 was proven 未发布."""
    with catalog_of(fault_crawl.config) as session:
        (row,) = queries.coverage_of_agency(session, "flt-maint", run_id=fault_crawl.summary.run_id)
    assert (row.problem, row.items_read) == ("unreadable", 0), (row.problem, row.items_read, row.detail)
    assert row.detail == "栏目页是网站的错误页（页面写着“系统维护中”）", row.detail
    verdict = _verdict_2022(fault_crawl, "flt-maint")
    assert verdict.verdict.status == "undetermined" and "系统维护中" in verdict.evidence["reason"], verdict.evidence


def test_a_column_answered_with_the_homepage_lists_no_report_and_proves_nothing(fault_crawl):
    """A removed column whose address serves the homepage (200, no redirect): its news reach back to 2018, but no
    entry is an annual report, so nothing says the page is the report column."""
    with catalog_of(fault_crawl.config) as session:
        (row,) = queries.coverage_of_agency(session, "flt-home200", run_id=fault_crawl.summary.run_id)
    assert (row.problem, row.items_read, row.report_items, row.report_years) == (None, 9, 0, [])
    verdict = _verdict_2022(fault_crawl, "flt-home200")
    assert verdict.verdict.status == "undetermined", verdict.evidence["reason"]
    assert verdict.evidence["missing_proof"]["problem"] == "no_reports"
    assert "没有一篇是年度报告" in verdict.evidence["reason"], verdict.evidence["reason"]


def test_a_pinned_old_entry_does_not_stretch_the_columns_reach(fault_crawl):
    """Page 1 pins the 2019 guide above entries back to 2023-12-15; the rest sits behind a script the crawler
    does not run. The read reaches 2023-12-15, after the 2022 report's deadline: 未发布 is not proven."""
    with catalog_of(fault_crawl.config) as session:
        (row,) = queries.coverage_of_agency(session, "flt-pinned", run_id=fault_crawl.summary.run_id)
    assert (row.items_read, row.dated_items, row.earliest_item) == (4, 3, dt.date(2023, 12, 15))
    assert (row.report_items, row.report_years) == (2, [2023, 2024])
    verdict = _verdict_2022(fault_crawl, "flt-pinned")
    assert verdict.verdict.status == "undetermined", verdict.evidence["reason"]
    assert verdict.evidence["missing_proof"]["problem"] == "not_far_enough"


def test_a_columns_row_names_the_report_years_its_own_entries_list(fault_crawl):
    with catalog_of(fault_crawl.config) as session:
        (row,) = queries.coverage_of_agency(session, "flt-undated", run_id=fault_crawl.summary.run_id)
    assert (row.items_read, row.dated_items, row.report_items, row.report_years) == (2, 0, 2, [2023, 2024])


def test_a_column_frozen_since_a_move_proves_only_the_first_year_it_lacks(fault_crawl):
    """Read fine today, the column's newest entry is the 2019 report, listed in January 2020. The 2020 report fell
    due while the column was still kept: 未发布. Of 2022 it says nothing: the site may have moved its reports."""
    with catalog_of(fault_crawl.config) as session:
        (row,) = queries.coverage_of_agency(session, "flt-frozen", run_id=fault_crawl.summary.run_id)
    assert (row.problem, row.latest_item, row.report_years) == (None, dt.date(2020, 1, 21), [2017, 2018, 2019])
    later = _verdict_2022(fault_crawl, "flt-frozen")
    assert later.verdict.status == "undetermined", later.evidence["reason"]
    assert later.evidence["missing_proof"]["problem"] == "stale"
    assert "最新的条目是 2020-01-21" in later.evidence["reason"], later.evidence["reason"]
    first = _verdict_2022(fault_crawl, "flt-frozen", year=2020)
    assert first.verdict.status == "missing", first.evidence["reason"]


def test_response_over_a_certificate_that_would_not_verify_is_kept_and_marked(fault_crawl):
    with catalog_of(fault_crawl.config) as session:
        rows = queries.captures_of_url(session, fault_crawl.tls + "/docs/tls.html")
    assert [row.status for row in rows] == [200]
    capture = open_reader(fault_crawl.config).read(rows[0].id)
    assert set(capture.metadata["tls_problems"].split(",")) == {"self_signed", "hostname_mismatch"}


# ---------------------------------------------------------------- SIGKILL mid-run

def test_crawl_killed_with_sigkill_keeps_every_capture(tmp_path):
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        registry = tmp_path / "registry.yaml"
        registry.write_text(registry_yaml_text().replace("{base}", server.base_url), encoding="utf-8")
        data = tmp_path / "data"
        config = config_in(data)
        # the spider run directly, as `scrapy crawl` does it (scrapy.cfg at the root), so SIGKILL hits the crawl itself
        command = [sys.executable, "-m", "scrapy", "crawl", "reports", "-a", f"registry={registry}",
                   "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0.3", "-s", "LOG_LEVEL=ERROR",
                   "-s", "DISCOVERY_JS_RENDER=0"]
        child = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env={**os.environ, "XXGK_DATA_DIR": str(data)})
        seen = 0
        try:
            deadline = time.monotonic() + 60
            while seen < 12 and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.2)
                if (data / "catalog.sqlite3").exists():
                    try:
                        with catalog_of(config) as session:
                            seen = queries.count_captures(session)
                    except Exception:  # noqa: BLE001 - the catalog may be mid-migration on the first polls
                        seen = 0
            assert child.poll() is None, "the crawl ended before it could be killed"
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
    assert seen >= 12
    # what the kernel got of the dead crawl's WARCs: every complete capture in them (its group commit done or not)
    spooled = {}
    for path in sorted((data / "spool").rglob("*.warc.gz")):
        with open(path, "rb") as handle:
            spooled[path.relative_to(data / "spool").as_posix()] = len(group_records(scan_segment(handle)[0]))

    archive = Archive.open(config)  # recovery: finishes the dead writer's spool segment
    try:
        with archive.catalog.reading() as session:
            rows = queries.all_captures(session)
            killed_run = rows[0].run_id
            for key, captures in spooled.items():  # the ones still waiting for their rows got them now
                assert len(queries.captures_in_segment(session, key)) == captures, key
        assert len(rows) >= seen
        for row in rows:
            capture = archive.reader.read_row(row)
            assert capture.url == row.url and capture.status == row.status
    finally:
        archive.close()
    assert killed_run != archive.run_id


# ---------------------------------------------------------------- a run that cannot proceed

def test_crawl_that_cannot_open_its_archive_fails_with_one_clear_error(tmp_path):
    from crawler.run import CrawlError
    from storage.config import Config

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the catalog's directory should be")
    config = Config(data_dir=tmp_path / "data", database_url=f"sqlite:///{blocker}/catalog.sqlite3")
    agency = Agency(id="x", name="示范区卫生健康局", level="department", homepage="http://127.0.0.1:9/")
    with pytest.raises(CrawlError) as raised:
        crawl(config, [agency])
    message = str(raised.value)
    assert "抓取未能进行" in message and "not-a-directory" in message and "\n" not in message


# ---------------------------------------------------------------- a 304 whose original cannot be read

def test_a_304_whose_archived_original_is_unreadable_is_fetched_again_in_full(tmp_path):
    """The server says "not modified" but the archive cannot give the earlier bytes (another machine's spool, a lost
    segment): the page is asked for again without validators, so robots.txt still has its rules and pages parse."""
    import shutil

    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = server.portals.registry(server.base_url)
        config = config_in(tmp_path / "data")
        crawl(config, agencies, DISCOVERY_JS_RENDER=False)
        shutil.rmtree(config.objects_dir / "warcs")   # every earlier capture is now unreadable
        server.clear_log()
        second = crawl(config, agencies, DISCOVERY_JS_RENDER=False)
        robots = [entry for entry in server.requests if entry.path == "/robots.txt"]
    assert [entry.conditional for entry in robots] == [True, False]
    assert [entry.status for entry in robots] == [304, 200]
    assert not any(entry.path.startswith(ROBOTS_DISALLOWED) for entry in server.requests)
    assert second.stats.get("archive/not_modified_unreadable", 0) >= 1 and second.reports_found >= 5


# ---------------------------------------------------------------- a pager that never ends

class _Calendar(BaseHTTPRequestHandler):
    """A column by month: each month's page lists one news item and links 下一页 to the next month, forever."""

    def do_GET(self):  # noqa: N802
        month = re.search(r"month=(\d+)-(\d+)", self.path)
        year, number = (int(month.group(1)), int(month.group(2))) if month else (2026, 10)
        following = f"{year + number // 12}-{number % 12 + 1:02d}"
        body = (f'<html><head><meta charset="utf-8"></head><body><ul class="list"><li><a href="/cal/n{year}{number}.html">'
                f'{year}年{number}月工作动态</a><span>{year}-{number:02d}-01</span></li></ul>'
                f'<a href="/cal/index.html?month={following}">下一页</a></body></html>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_next_page_chain_to_ever_new_addresses_stops_at_the_page_limit(tmp_path):
    """A calendar's 下一月 (?month=4011-08 …) is no numbered pager find_pagination can cap: the crawl read 23,818
    pages of one until it was killed. The walk stops at DISCOVERY_MAX_PAGES and the crawl ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Calendar)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        agency = Agency(id="cal-gov", name="日历县人民政府", level="government", homepage=base + "/",
                        report_index=(base + "/cal/index.html",), render="never")
        config = config_in(tmp_path / "data")
        summary = crawl(config, [agency], DISCOVERY_MAX_PAGES=6)
    finally:
        server.shutdown()
        server.server_close()
    assert summary.status == "finished"
    assert summary.stats["discovery/pages_capped"] >= 1
    with catalog_of(config) as session:
        (row,) = queries.coverage_of_agency(session, "cal-gov", run_id=summary.run_id)
    assert row.pages_walked == 6 and not row.complete, (row.pages_walked, row.complete)


# ---------------------------------------------------------------- report pages that refresh elsewhere

def _refreshing_report(year: int, refresh: str) -> bytes:
    body = _demo_body("sfq-ybj", 2022).decode("utf-8").replace("2022", str(year))
    return body.replace("<head>", f'<head><meta http-equiv="refresh" content="{refresh}">', 1).encode("utf-8")


class _Refreshing(BaseHTTPRequestHandler):
    """A column of reports whose pages carry a meta refresh: to a script, to the homepage after 60 s, and a stub
    page that sends the browser on to the report at once."""
    pages = {}

    def do_GET(self):  # noqa: N802
        body = self.pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body or b"<html>not found</html>")

    def log_message(self, *args):
        pass


def test_report_pages_with_a_meta_refresh_are_parsed_and_a_stubs_target_fetched(tmp_path):
    """A web walk: report pages carrying ``<meta http-equiv="refresh">`` were archived and never parsed (Scrapy's
    meta refresh replaced the page by its target, or failed on a ``javascript:`` one), and their years were
    未发布. Each is parsed now, and a stub that refreshes to the report at once leads to it."""
    _Refreshing.pages = {
        "/nb/index.html": ('<html><head><meta charset="utf-8"></head><body><ul class="list">' + "".join(
            f'<li><a href="/nb/{year}.html">示范区医疗保障局{year}年政府信息公开工作年度报告</a><span>{year + 1}-01-20</span></li>'
            for year in (2021, 2022, 2023)) + "</ul></body></html>").encode(),
        "/nb/2021.html": _refreshing_report(2021, "0;url=javascript:alert(5)"),
        "/nb/2022.html": _refreshing_report(2022, "60;url=/home.html"),
        "/nb/2023.html": b'<html><head><meta http-equiv="refresh" content="0;url=/files/2023.html"></head></html>',
        "/files/2023.html": _refreshing_report(2023, "1800"),
        "/home.html": b'<html><head><meta charset="utf-8"><title>home</title></head><body>home</body></html>',
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refreshing)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        agency = Agency(id="sfq-ybj", name="示范区医疗保障局", level="department", homepage=base + "/",
                        report_index=(base + "/nb/index.html",), render="never")
        config = config_in(tmp_path / "data")
        summary = crawl(config, [agency], ARCHIVE_SCREENSHOTS=False)
    finally:
        server.shutdown()
        server.server_close()
    assert summary.status == "finished"
    with catalog_of(config) as session:
        reports = {row.url.removeprefix(base): (row.kind, row.report_year) for row in queries.list_reports(session, only_reports=False)}
    assert reports["/nb/2021.html"] == ("report", 2021), reports
    assert reports["/nb/2022.html"] == ("report", 2022), reports
    assert reports["/files/2023.html"] == ("report", 2023), reports
