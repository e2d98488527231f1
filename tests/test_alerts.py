"""Alerts after each run, against a real webhook receiver (http.server) and a real SMTP server (aiosmtpd), both on
loopback: every event kind is announced exactly once across runs, an outage or a refusal is retried on the next
run and delivered once, a digest is one message per run, and a delivery failure never fails the crawl."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from cli.alerts import after_run
from crawler.run import CrawlSummary
from demo.portals import DemoPortals
from monitor.clock import today
from storage.catalog import Catalog, queries
from storage.config import Config
from tests.test_cli_parse import run
from web.urls import Urls

# plain AUTH keeps the test server simple; the client sends the password all the same
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

WEB_BASE = "https://xxgk.example.org"
URLS = Urls(WEB_BASE)
SMTP_USER, SMTP_PASSWORD = "watcher", "s3cret-pw"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- a webhook receiver and an SMTP server

class Receiver:
    """A webhook receiver on loopback: keeps every POST it accepted, and first answers the statuses queued in
    ``answers`` (503 for an overloaded receiver). ``stop()`` closes the port: the receiver is down."""

    def __init__(self, port: int | None = None):
        self.port = port or _free_port()
        self.accepted: list[dict] = []
        self.posts: list[dict] = []           # every POST, accepted or not
        self.answers: list[int] = []
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
                post = {"body": body, "headers": {k.lower(): v for k, v in self.headers.items()}, "path": self.path}
                receiver.posts.append(post)
                status = receiver.answers.pop(0) if receiver.answers else 200
                if status == 200:
                    receiver.accepted.append(post)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def bodies(self) -> list[dict]:
        return [post["body"] for post in self.accepted]


class Inbox:
    """aiosmtpd handler: keeps every message it accepted; ``refuse`` (e.g. "550 …") answers DATA instead."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        if self.refuse:
            return self.refuse.pop(0)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=(auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode()))


@pytest.fixture()
def receiver():
    hook = Receiver().start()
    yield hook
    hook.stop()


@pytest.fixture()
def inbox(monkeypatch):
    monkeypatch.setenv("XXGK_TEST_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("XXGK_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), authenticator=_authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def _settings(path: Path, receiver: Receiver, inbox: Inbox, *, hook_digest=False, mail_digest=False,
              retries: int = 1, to=("office@example.org",), kinds: str = "") -> Path:
    recipients = ", ".join(f'"{address}"' for address in to)
    path.write_text(f"""
web_base = "{WEB_BASE}"
retries = {retries}

[[webhook]]
name = "ops"
url = "{receiver.url}"
headers = {{ "X-Team" = "opendata" }}
digest = {str(hook_digest).lower()}
timeout = 5
{kinds}

[[email]]
name = "office"
host = "127.0.0.1"
port = {inbox.port}
security = "none"
user_env = "XXGK_TEST_SMTP_USER"
password_env = "XXGK_TEST_SMTP_PASSWORD"
from = "xxgk@example.org"
to = [{recipients}]
digest = {str(mail_digest).lower()}
timeout = 5
""", encoding="utf-8")
    return path


# ---------------------------------------------------------------- catalog states as the crawl and judge leave them

class Archive:
    """A catalog with agencies, runs, reports, verdicts and column coverage written through ``queries``."""

    def __init__(self, tmp_path: Path, settings: Path | None):
        self.config = Config.from_env({}, data_dir=tmp_path / "data", alerts_file=settings)
        self.catalog = Catalog.open(self.config)
        self.clock = datetime(2025, 2, 1, 2, 0, tzinfo=timezone.utc)
        self._offset = 0

    def close(self) -> None:
        self.catalog.close()

    def tick(self, hours: int = 24) -> datetime:
        self.clock += timedelta(hours=hours)
        return self.clock

    def agencies(self, *names: tuple[str, str]) -> None:
        with self.catalog.session() as s:
            for agency_id, name in names:
                queries.upsert_agency(s, agency_id, name, level="department")

    def run(self, run_id: str) -> None:
        with self.catalog.session() as s:
            queries.start_run(s, run_id, started_at=self.tick(1))
            queries.finish_run(s, run_id, finished_at=self.tick(1))
            queries.add_segment(s, f"warcs/{run_id}/0.warc.gz", run_id, "test", state="uploaded")

    def capture(self, run_id: str, agency_id: str, url: str, *, status: int = 200, sha: str = "a") -> int:
        self._offset += 1000
        with self.catalog.session() as s:
            row = queries.add_capture(
                s, url=url, timestamp=self.tick(1), record_type="response", warc_key=f"warcs/{run_id}/0.warc.gz",
                offset=self._offset, length=900, group_length=1000, record_id=f"<urn:uuid:{self._offset}>",
                payload_sha1="B" * 32, payload_sha256=(sha * 64)[:64], payload_length=800, run_id=run_id,
                status=status, mime="text/html", agency_id=agency_id)
            return row.id

    def report(self, run_id: str, agency_id: str, year: int, url: str, *, sha: str = "a") -> tuple[int, int]:
        capture_id = self.capture(run_id, agency_id, url, sha=sha)
        with self.catalog.session() as s:
            report = queries.add_report(s, capture_id, {"is_report": True, "kind": "report", "report_year": year,
                                                        "title": f"{year}年政府信息公开工作年度报告",
                                                        "format": "2021"})
            return report.id, capture_id

    def verdict(self, agency_id: str, year: int, status: str, *, report: tuple[int, int] | None = None,
                flags: tuple[str, ...] = (), evidence: dict | None = None, **fields) -> None:
        bundle = {"reason": f"{status} 的理由", "as_of": "2025-06-01", **(evidence or {})}
        if report is not None:
            bundle.update(report_id=report[0], capture_id=report[1], report_url=f"http://{agency_id}.example/{year}",
                          title=f"{year}年政府信息公开工作年度报告")
        with self.catalog.session() as s:
            queries.upsert_verdict(s, agency_id, year, status, deadline=date(year + 1, 1, 31),
                                   legal_basis="《政府信息公开条例》第五十条", report_id=report and report[0],
                                   flags=flags, evidence=bundle, **fields)

    def coverage(self, run_id: str, agency_id: str, items: int, *, capture_id: int | None = None) -> None:
        with self.catalog.session() as s:
            queries.add_coverage(s, run_id=run_id, agency_id=agency_id, read_at=self.tick(1),
                                 column_url=f"http://{agency_id}.example/ndbg/", found_by="registry",
                                 capture_id=capture_id, pages_walked=1, items_read=items, complete=items > 0,
                                 problem=None if items else "empty", detail=None if items else "列表为空")

    def after(self, run_id: str, agency_ids, *, status: str = "finished", message: str | None = None) -> None:
        """The crawl's hook after a run, as cli.crawl calls it."""
        summary = CrawlSummary(run_id=run_id, status=status, finish_reason="finished" if status == "finished"
                               else "crawler_error", pages=1, reports_found=0, reports_new=0, errors={},
                               parse_errors=0, duration=1.0, max_rss_kb=0, children_max_rss_kb=0, message=message)
        after_run(self.config, self.catalog, agency_ids, summary=summary)

    def deliveries(self) -> list:
        with self.catalog.reading() as s:
            return queries.alert_deliveries(s)


AGENCIES = (("a-wjj", "甲区卫生健康局"), ("b-jyj", "乙区教育局"), ("c-mzj", "丙区民政局"), ("d-sfj", "丁区司法局"),
            ("e-gov", "戊区人民政府"), ("f-ybj", "己区医疗保障局"), ("g-tjj", "庚区统计局"))
IDS = [agency_id for agency_id, _name in AGENCIES]
NAMES = dict(AGENCIES)


def _first_run(archive: Archive) -> dict[str, int]:
    """Run 1 (it failed): a proven missing report, a late one, an undetermined year, a column that stopped
    yielding items; the evidence capture of each, by kind."""
    archive.agencies(*AGENCIES)
    archive.run("r0")
    archive.coverage("r0", "e-gov", 14)
    archive.run("r1")
    column = archive.capture("r1", "a-wjj", "http://a-wjj.example/ndbg/")
    archive.coverage("r1", "a-wjj", 9, capture_id=column)
    archive.verdict("a-wjj", 2024, "missing", evidence={
        "coverage": {"capture_id": column, "read_at": "2025-03-02T10:00:00+08:00",
                     "column_url": "http://a-wjj.example/ndbg/"}, "missing_proof": {"proven": True}})
    late = archive.report("r1", "b-jyj", 2024, "http://b-jyj.example/2024")
    archive.verdict("b-jyj", 2024, "late", report=late, publication_date=date(2025, 2, 10),
                    date_source="meta_pubdate", days_late=10)
    archive.verdict("g-tjj", 2024, "undetermined", evidence={"missing_proof": {"proven": False}})
    empty = archive.capture("r1", "e-gov", "http://e-gov.example/ndbg/")
    archive.coverage("r1", "e-gov", 0, capture_id=empty)
    return {"missing": column, "late": late[1], "column_failure": empty}


def _second_run(archive: Archive) -> dict[str, int]:
    """Run 2: the missing report appears late, one report is edited, one removed, one back-dated; the column
    still yields nothing and the earlier verdicts stand."""
    archive.run("r2")
    archive.coverage("r2", "a-wjj", 10)
    appeared = archive.report("r2", "a-wjj", 2024, "http://a-wjj.example/2024")
    archive.verdict("a-wjj", 2024, "late", report=appeared, publication_date=date(2025, 6, 1),
                    date_source="page_label", days_late=121)
    edited_from = archive.report("r0", "c-mzj", 2024, "http://c-mzj.example/2024", sha="c")
    edited_to = archive.capture("r2", "c-mzj", "http://c-mzj.example/2024", sha="d")
    archive.verdict("c-mzj", 2024, "on_time", report=edited_from, flags=("changed",), evidence={"changed": {
        "from_capture_id": edited_from[1], "to_capture_id": edited_to, "from_sha256": "c" * 64, "to_sha256": "d" * 64,
        "message": "行政处罚 173→185"}})
    gone = archive.report("r0", "d-sfj", 2024, "http://d-sfj.example/2024")
    gone_404 = archive.capture("r2", "d-sfj", "http://d-sfj.example/2024", status=404)
    archive.verdict("d-sfj", 2024, "on_time", report=gone, flags=("removed",), evidence={"removed": {
        "last_ok_capture_id": gone[1], "latest_failure": {"capture_id": gone_404, "status": 404},
        "message": "再次访问报告网址得到 HTTP 404"}})
    backdated = archive.report("r2", "f-ybj", 2024, "http://f-ybj.example/2024")
    listing = archive.capture("r1", "f-ybj", "http://f-ybj.example/ndbg/")
    archive.verdict("f-ybj", 2024, "late", report=backdated, flags=("backdated",), days_late=40,
                    publication_date=date(2025, 3, 12), date_source="first_seen", evidence={"backdated": {
                        "listing_capture_id": listing, "claimed_date": "2025-01-20",
                        "message": "报告自称 2025-01-20 发布，但 2025-02-01 存档的栏目页没有列出它"}})
    empty = archive.capture("r2", "e-gov", "http://e-gov.example/ndbg/")
    archive.coverage("r2", "e-gov", 0, capture_id=empty)
    return {"late": appeared[1], "changed": edited_to, "removed": gone_404, "backdated": listing}


def _about(body: dict) -> tuple:
    return body["kind"], body["agency_id"], body["report_year"]


# ---------------------------------------------------------------- every kind, exactly once

def test_every_event_kind_is_delivered_exactly_once_across_two_runs(tmp_path, receiver, inbox, capsys):
    archive = Archive(tmp_path, _settings(tmp_path / "alerts.toml", receiver, inbox))
    try:
        evidence = _first_run(archive)
        archive.after("r1", IDS, status="failed", message="抓取进程异常退出")
        first = receiver.bodies()
        assert sorted(map(_about, first)) == sorted([
            ("missing", "a-wjj", 2024), ("late", "b-jyj", 2024), ("column_failure", "e-gov", None),
            ("run_failed", None, None)])
        # an undetermined year accuses nobody
        assert not any(body["agency_id"] == "g-tjj" for body in first)
        assert len(inbox.messages) == 4 and all(env == ("xxgk@example.org", ["office@example.org"])
                                                for env in inbox.envelopes)

        later = _second_run(archive)
        archive.after("r2", IDS)
        second = receiver.bodies()[len(first):]
        assert sorted(map(_about, second)) == sorted([
            ("late", "a-wjj", 2024), ("changed", "c-mzj", 2024), ("removed", "d-sfj", 2024),
            ("backdated", "f-ybj", 2024), ("late", "f-ybj", 2024)])
        assert len(inbox.messages) == 9

        archive.after("r2", IDS)   # the same states again: nothing new
        bodies = receiver.bodies()
        assert len(bodies) == 9 and len(inbox.messages) == 9
        assert len({body["key"] for body in bodies}) == 9
        assert [post["headers"]["idempotency-key"] for post in receiver.accepted] == [b["key"] for b in bodies]
        assert all(post["headers"]["x-team"] == "opendata" for post in receiver.accepted)
        assert all(delivery.sent_at is not None and delivery.attempts == 1 for delivery, _ in archive.deliveries())
    finally:
        archive.close()

    # what a reader checks: agency, year, deadline and the evidence permalink in the web UI's format
    by_kind = {(body["kind"], body["agency_id"]): body for body in bodies}
    missing = by_kind[("missing", "a-wjj")]
    assert missing["link"] == URLS.capture(evidence["missing"]) == f"{WEB_BASE}/captures/{evidence['missing']}"
    assert "甲区卫生健康局" in missing["text"] and "2024 年度" in missing["text"]
    assert "截止日期：2025-01-31" in missing["text"] and URLS.agency("a-wjj") in missing["text"]
    assert by_kind[("late", "b-jyj")]["link"] == URLS.capture(evidence["late"])
    assert "逾期 10 天" in by_kind[("late", "b-jyj")]["text"]
    assert "网页元数据 PubDate" in by_kind[("late", "b-jyj")]["text"]
    assert by_kind[("late", "a-wjj")]["link"] == URLS.capture(later["late"])
    changed = by_kind[("changed", "c-mzj")]
    assert changed["link"] == URLS.capture(later["changed"]) and "173→185" in changed["text"]
    assert by_kind[("removed", "d-sfj")]["link"] == URLS.capture(later["removed"])
    assert by_kind[("backdated", "f-ybj")]["link"] == URLS.capture(later["backdated"])
    assert "自称 2025-01-20 发布" in by_kind[("backdated", "f-ybj")]["text"]
    column = by_kind[("column_failure", "e-gov")]
    assert column["link"] == URLS.capture(evidence["column_failure"]) and "栏目为空" in column["text"]
    failed = by_kind[("run_failed", None)]
    assert failed["link"] == URLS.run("r1") and "抓取进程异常退出" in failed["text"]
    # the e-mails say the same in Chinese, with the permalink
    mails = {str(message["Subject"]): message.get_content() for message in inbox.messages}
    subject = "【政府信息公开年报监测】逾期未发布：甲区卫生健康局 2024 年度"
    assert subject in mails and URLS.capture(evidence["missing"]) in mails[subject]
    assert len({message["Message-ID"] for message in inbox.messages}) == 9
    assert "告警：新事件 4 个" in capsys.readouterr().out


def test_a_channel_gets_only_the_kinds_it_asked_for(tmp_path, receiver, inbox):
    archive = Archive(tmp_path, _settings(tmp_path / "alerts.toml", receiver, inbox,
                                          kinds='kinds = ["missing", "backdated"]'))
    try:
        _first_run(archive)
        archive.after("r1", IDS, status="failed", message="x")
        _second_run(archive)
        archive.after("r2", IDS)
    finally:
        archive.close()
    assert sorted(map(_about, receiver.bodies())) == [("backdated", "f-ybj", 2024), ("missing", "a-wjj", 2024)]
    assert len(inbox.messages) == 9   # the e-mail channel asked for every kind


# ---------------------------------------------------------------- outages and refusals: retried, delivered once

def test_a_receiver_outage_is_retried_on_the_next_run_and_delivered_once(tmp_path, inbox, capsys):
    receiver = Receiver()   # not started: the receiver is down
    archive = Archive(tmp_path, _settings(tmp_path / "alerts.toml", receiver, inbox, retries=1))
    try:
        _first_run(archive)
        archive.after("r1", IDS, status="failed", message="x")
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "告警未能送达" in err and "webhook:ops" in err and "下次运行时重试" in err
        hook = [(d, e) for d, e in archive.deliveries() if d.channel == "webhook:ops"]
        assert len(hook) == 4 and all(d.sent_at is None for d, _ in hook)
        # the first message was tried twice (one immediate retry); the others wait without a try
        assert sorted(d.attempts for d, _ in hook) == [0, 0, 0, 2]
        assert "无法连接" in next(d.last_error for d, _ in hook if d.attempts)
        assert len(inbox.messages) == 4   # the other channel does not wait for it

        receiver.start()
        _second_run(archive)
        archive.after("r2", IDS)
        archive.after("r2", IDS)
        bodies = receiver.bodies()
        assert len(bodies) == 9 and len({body["key"] for body in bodies}) == 9
        assert len(receiver.posts) == 9
        assert all(d.sent_at is not None for d, _ in archive.deliveries())
    finally:
        receiver.stop()
        archive.close()


def test_a_5xx_is_retried_at_once_and_then_on_the_next_run(tmp_path, receiver, inbox):
    archive = Archive(tmp_path, _settings(tmp_path / "alerts.toml", receiver, inbox, retries=1))
    try:
        archive.agencies(*AGENCIES)
        archive.run("r1")
        late = archive.report("r1", "b-jyj", 2024, "http://b-jyj.example/2024")
        archive.verdict("b-jyj", 2024, "late", report=late, publication_date=date(2025, 2, 10), days_late=10)
        receiver.answers = [503]              # overloaded once: the immediate retry delivers it
        archive.after("r1", IDS)
        assert len(receiver.posts) == 2 and len(receiver.accepted) == 1
        delivery = next(d for d, _ in archive.deliveries() if d.channel == "webhook:ops")
        assert delivery.sent_at is not None and delivery.attempts == 2 and delivery.last_error is None

        archive.run("r2")
        gone = archive.report("r2", "d-sfj", 2024, "http://d-sfj.example/2024")
        archive.verdict("d-sfj", 2024, "on_time", report=gone, flags=("removed",), evidence={"removed": {
            "last_ok_capture_id": gone[1], "latest_failure": {"capture_id": None}, "message": "HTTP 404"}})
        receiver.answers = [500, 500]         # down for this run's tries
        archive.after("r2", IDS)
        assert len(receiver.accepted) == 1
        pending = run("alerts", "pending", "--data-dir", str(tmp_path / "data"), env=_env(tmp_path))
        assert pending.returncode == 0, pending.stderr
        assert "removed:d-sfj:2024" in pending.stdout and "webhook:ops" in pending.stdout
        assert "HTTP 500" in pending.stdout and "共 1 条待发送" in pending.stdout

        archive.after("r2", IDS)              # the next run: it goes, once
        assert [_about(body) for body in receiver.bodies()] == [("late", "b-jyj", 2024), ("removed", "d-sfj", 2024)]
        assert "没有待发送的告警" in run("alerts", "pending", "--data-dir", str(tmp_path / "data"),
                                          env=_env(tmp_path)).stdout
    finally:
        archive.close()


def test_an_smtp_refusal_is_retried_on_the_next_run_and_delivered_once(tmp_path, receiver, inbox, capsys):
    archive = Archive(tmp_path, _settings(tmp_path / "alerts.toml", receiver, inbox, retries=2))
    try:
        _first_run(archive)
        inbox.refuse = ["550 5.7.1 拒收：策略不允许"]   # permanent: no immediate retry, the next run tries again
        archive.after("r1", IDS, status="failed", message="x")
        assert "SMTP 550" in capsys.readouterr().err
        mail = [d for d, _ in archive.deliveries() if d.channel.startswith("email:")]
        assert sorted(d.attempts for d in mail) == [0, 0, 0, 1] and not any(d.sent_at for d in mail)
        assert len(inbox.messages) == 0 and len(receiver.bodies()) == 4

        inbox.refuse = ["451 4.3.0 稍后再试"]           # temporary: the immediate retry delivers it
        archive.after("r1", IDS)
        assert len(inbox.messages) == 4
        assert len({str(message["Subject"]) for message in inbox.messages}) == 4
        archive.after("r1", IDS)
        assert len(inbox.messages) == 4 and len(receiver.bodies()) == 4
    finally:
        archive.close()


def test_a_run_that_cannot_start_is_announced_and_still_fails(tmp_path, receiver, inbox):
    from cli.common import CommandError
    from cli.crawl import crawl_and_judge

    settings = _settings(tmp_path / "a.toml", receiver, inbox)
    config = Config.from_env({}, data_dir=tmp_path / "data", alerts_file=settings)
    with pytest.raises(CommandError, match="没有要抓取的机构"):
        crawl_and_judge(config, [], quiet=True, screenshots=False)
    (body,) = receiver.bodies()
    assert body["kind"] == "run_failed" and "原因：没有要抓取的机构" in body["text"]
    assert body["link"] is None   # the run never started: it has no page
    assert str(inbox.messages[0]["Subject"]) == "【政府信息公开年报监测】抓取失败：运行 " + body["run_id"]


# ---------------------------------------------------------------- digests

def test_digest_mode_sends_one_message_per_run(tmp_path, receiver, inbox):
    archive = Archive(tmp_path, _settings(tmp_path / "alerts.toml", receiver, inbox, hook_digest=True,
                                          mail_digest=True, to=("office@example.org", "press@example.org")))
    try:
        _first_run(archive)
        archive.after("r1", IDS, status="failed", message="x")
        assert len(receiver.accepted) == 1 and len(inbox.messages) == 2   # one per address
        digest = receiver.bodies()[0]
        assert digest["digest"] is True and digest["count"] == 4 and len(digest["events"]) == 4
        assert digest["text"].startswith("共 4 条提醒")
        assert {to for _sender, (to,) in inbox.envelopes} == {"office@example.org", "press@example.org"}
        assert "4 条提醒" in str(inbox.messages[0]["Subject"])

        _second_run(archive)
        archive.after("r2", IDS)
        assert len(receiver.accepted) == 2 and len(inbox.messages) == 4
        assert receiver.bodies()[1]["count"] == 5
        archive.after("r2", IDS)              # nothing new, nothing sent
        assert len(receiver.accepted) == 2 and len(inbox.messages) == 4
    finally:
        archive.close()
    body = inbox.messages[2].get_content()
    assert "1. " in body and "5. " in body and "6. " not in body and WEB_BASE + "/captures/" in body


# ---------------------------------------------------------------- the CLI

def _env(tmp_path: Path) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("XXGK_") or k.startswith("XXGK_TEST_")}
    env["XXGK_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_alerts_test_sends_one_message_to_each_channel(tmp_path, receiver, inbox):
    settings = _settings(tmp_path / "alerts.toml", receiver, inbox, to=("office@example.org", "press@example.org"))
    result = run("alerts", "test", "--alerts", str(settings), env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "3 个渠道，0 个失败" in result.stdout
    assert [body["test"] for body in receiver.bodies()] == [True]
    assert len(inbox.messages) == 2 and all("测试消息" in str(m["Subject"]) for m in inbox.messages)

    receiver.stop()
    result = run("alerts", "test", "--alerts", str(settings), env=_env(tmp_path))
    assert result.returncode == 1
    assert "失败    webhook:ops" in result.stdout and "3 个渠道，1 个失败" in result.stdout


def test_alert_settings_are_checked_before_the_crawl_starts(tmp_path, receiver, inbox):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'web_base = "{WEB_BASE}"\n[[webhook]]\nname = "ops"\nurl = "{receiver.url}"\nkind = ["late"]\n',
                   encoding="utf-8")
    result = run("crawl", "--alerts", str(bad), env=_env(tmp_path))
    assert result.returncode == 2 and "unknown key(s) kind" in result.stderr
    assert not (tmp_path / "data").exists()   # nothing was crawled
    settings = _settings(tmp_path / "alerts.toml", receiver, inbox)
    env = {k: v for k, v in _env(tmp_path).items() if k != "XXGK_TEST_SMTP_PASSWORD"}
    result = run("alerts", "test", "--alerts", str(settings), env=env)
    assert result.returncode == 2 and "XXGK_TEST_SMTP_PASSWORD" in result.stderr and "is not set" in result.stderr


# ---------------------------------------------------------------- the real crawl: a failing delivery never fails it

AS_OF = today()


def test_demo_runs_alert_once_and_survive_a_receiver_outage(tmp_path, inbox):
    """Two `xxgk demo` runs (edition 1, then 2) with the webhook receiver down during the first: both crawls
    succeed; the second delivers the first run's events once plus its own (发布后修改, 倒签), and the e-mail digest
    is one message per run."""
    receiver = Receiver()
    settings = _settings(tmp_path / "alerts.toml", receiver, inbox, mail_digest=True, retries=0)
    env = {**_env(tmp_path), "XXGK_ALERTS": str(settings)}
    port = str(_free_port())
    try:
        first = run("demo", "--port", port, "--as-of", AS_OF.isoformat(), "--quiet", env=env)
        assert first.returncode == 0, first.stderr[-2000:]
        assert "抓取完成" in first.stdout
        told = [line for line in first.stderr.splitlines() if "告警" in line]
        assert len(told) == 1 and told[0].startswith("xxgk: 告警未能送达") and "webhook:ops" in told[0]
        assert len(inbox.messages) == 1   # the digest of run 1
        first_digest = inbox.messages[0].get_content()

        receiver.start()
        second = run("demo", "--port", port, "--edition", "2", "--as-of", AS_OF.isoformat(), "--quiet", env=env)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "告警未能送达" not in second.stderr
    finally:
        receiver.stop()
    bodies = receiver.bodies()
    keys = [body["key"] for body in bodies]
    assert len(keys) == len(set(keys))
    about = {(body["kind"], body["agency_id"], body["report_year"]) for body in bodies}
    names = {agency.id: agency.name for agency in DemoPortals().agencies}
    # the demo's facts: sfq-gov's 2024 report came 8 days late (run 1), sfq-wjj's 2023 report was edited and
    # ylx-wjj's 2023 report back-dated (run 2)
    assert {("late", "sfq-gov", 2024), ("changed", "sfq-wjj", 2023), ("backdated", "ylx-wjj", 2023)} <= about
    assert len(inbox.messages) == 2   # one digest per run
    second_digest = inbox.messages[1].get_content()
    late = f"{names['sfq-gov']}（sfq-gov）的 2024 年度政府信息公开工作年度报告逾期发布（逾期 8 天）"
    assert late in first_digest and late not in second_digest
    assert "发布后修改" in second_digest and "疑似倒签" in second_digest
    catalog = Catalog.open(Config.from_env({}, data_dir=tmp_path / "data"))
    try:
        with catalog.reading() as session:
            deliveries = queries.alert_deliveries(session)
            verdicts = {(v.agency_id, v.report_year): v for v in queries.verdicts(session)}
    finally:
        catalog.close()
    assert deliveries and all(delivery.sent_at is not None for delivery, _event in deliveries)
    changed = next(body for body in bodies if body["kind"] == "changed")
    assert changed["link"] == URLS.capture(verdicts[("sfq-wjj", 2023)].evidence["changed"]["to_capture_id"])
    assert "截止日期：2024-01-31" in changed["text"]


# ---------------------------------------------------------------- the catalog's side, on SQLite and PostgreSQL

def test_an_event_is_recorded_once_and_its_deliveries_wait_until_sent(catalog_url):
    catalog = Catalog.open(catalog_url)
    try:
        with catalog.session() as s:
            first = queries.add_alert_event(s, "late:b-jyj:2024", "late", channels=["webhook:ops", "email:o:a@x.org"],
                                            run_id="r1", agency_id="b-jyj", report_year=2024, payload={"days_late": 3})
            again = queries.add_alert_event(s, "late:b-jyj:2024", "late", channels=["webhook:ops"], run_id="r2")
        assert first is not None and again is None
        with catalog.reading() as s:
            pending = queries.alert_deliveries(s, pending=True)
        assert [(d.channel, e.key, e.payload) for d, e in pending] == [
            ("email:o:a@x.org", "late:b-jyj:2024", {"days_late": 3}),
            ("webhook:ops", "late:b-jyj:2024", {"days_late": 3})]
        hook = next(d for d, _ in pending if d.channel == "webhook:ops")
        with catalog.session() as s:
            queries.record_delivery(s, [hook.id], attempts=3, error="HTTP 503")
        with catalog.session() as s:
            queries.record_delivery(s, [hook.id], attempts=1)
        with catalog.session() as s:   # a late duplicate report of success changes nothing
            queries.record_delivery(s, [hook.id], attempts=1)
        with catalog.reading() as s:
            sent = {d.channel: d for d, _ in queries.alert_deliveries(s)}
            assert [d.channel for d, _ in queries.alert_deliveries(s, pending=True)] == ["email:o:a@x.org"]
        assert sent["webhook:ops"].attempts == 4 and sent["webhook:ops"].sent_at is not None
        assert sent["webhook:ops"].last_error == "HTTP 503"
    finally:
        catalog.close()


def test_settings_name_what_is_wrong(tmp_path, monkeypatch):
    from monitor.alert_settings import AlertSettingsError, load_settings

    monkeypatch.setenv("XXGK_TEST_HOOK_TOKEN", "Bearer t0k")
    path = tmp_path / "alerts.toml"
    path.write_text('web_base = "https://w.example/"\n[[webhook]]\nname = "a"\nurl = "https://h.example/x"\n'
                    'headers_env = { Authorization = "XXGK_TEST_HOOK_TOKEN" }\nkinds = ["late", "removed"]\n'
                    '[[email]]\nname = "m"\nhost = "smtp.example"\nsecurity = "ssl"\nfrom = "x@example.org"\n'
                    'to = ["a@example.org", "b@example.org"]\ndigest = true\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.web_base == "https://w.example" and settings.retries == 2
    assert dict(settings.webhooks[0].headers) == {"Authorization": "Bearer t0k"}
    assert settings.emails[0].port == 465 and settings.emails[0].digest is True
    assert settings.channels_for("late") == ["webhook:a", "email:m:a@example.org", "email:m:b@example.org"]
    assert settings.channels_for("missing") == ["email:m:a@example.org", "email:m:b@example.org"]
    for text, words in [('[[webhook]]\nname = "a"\nurl = "https://h.example"\n', "web_base"),
                        ('web_base = "https://w"\n[[webhook]]\nname = "a"\nurl = "ftp://h"\n', "url must be"),
                        ('web_base = "https://w"\n[[webhook]]\nname = "a"\nurl = "https://h"\nkinds = ["late", "x"]\n',
                         "unknown kind(s) x"),
                        ('web_base = "https://w"\n[[email]]\nname = "m"\nhost = "h"\nfrom = "x@y"\nto = ["a@b"]\n'
                         'password_env = "XXGK_TEST_NOPE"\nuser = "u"\n', "XXGK_TEST_NOPE"),
                        ('web_base = "https://w"\nretries = 9\n', "retries"),
                        ('web_base = "https://w"\n[[webhook]]\nname = "a"\nurl = "https://h"\n'
                         '[[webhook]]\nname = "a"\nurl = "https://i"\n', "unique")]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(AlertSettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
            load_settings(path)
