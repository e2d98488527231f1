"""The archive facade the crawler calls: write, index, read back, revisits, rolling, and restart recovery."""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete

from storage.archive import Archive, ArchiveError, ArchiveInputError, open_reader
from storage.catalog import Catalog
from storage.catalog import queries
from storage.catalog.models import Capture as CaptureRow
from storage.config import Config
from storage.objects import open_store
from storage.reader import CaptureMissing
from storage.warc import NOT_MODIFIED_PROFILE, read_members
from tests.servers import SeaweedS3, venv_bin

T0 = datetime(2024, 1, 30, 2, 20, 30, 654321, tzinfo=timezone.utc)
MB = 1024 * 1024
REPO = Path(__file__).resolve().parent.parent


def fetch(archive: Archive, url: str, payload: bytes, *, when: datetime = T0, status: int = 200,
          headers=None, **extra):
    return archive.record_fetch(url, "GET", [("User-Agent", "xxgk-watch/test")], status, "OK",
                                headers or [("Content-Type", "text/html; charset=utf-8")], payload,
                                ip="127.0.0.1", fetched_at=when, **extra)


def spooled(config: Config) -> list[Path]:
    root = config.data_dir / "spool"
    return sorted(p for p in root.rglob("*.warc.gz")) if root.exists() else []


# ---------------------------------------------------------------- one capture, end to end

def test_a_capture_reads_back_at_once_byte_identical(storage_config):
    headers = [("Server", "TRS WCM"), ("Content-Type", "text/html; charset=GBK"), ("set-cookie", "a=1"),
               ("Set-Cookie", "b=2"), ("Last-Modified", "Mon, 29 Jan 2024 08:00:00 GMT"), ("ETag", '"5f1-abc"'),
               (b"Content-Disposition", "inline; filename=年报.html".encode("gbk"))]
    payload = "<html><meta name=\"PubDate\" content=\"2024-01-29 16:00\">2023年政府信息公开工作年度报告</html>".encode("gbk")
    with Archive.open(storage_config) as archive:
        ref = archive.record_fetch(
            "http://www.example.gov.cn/xxgk/ndbg/202401/t20240129_1.html", "GET",
            [("User-Agent", "xxgk-watch/test"), ("Accept-Language", "zh-CN")], 200, "OK", headers, payload,
            ip="203.0.113.7", fetched_at=T0, agency_id="bj-fgw",
            extra_metadata={"listing_title": "2023年年报", "listing_date": "2024-01-29", "depth": 2})
        assert ref.record_type == "response" and ref.status == 200
        # readable before the segment is rolled: it is still in the spool, not in the store
        assert not archive.store.exists(ref.warc_key)
        capture = archive.read_capture(ref.id)
    assert capture.payload == payload
    assert (capture.status, capture.reason, capture.protocol) == (200, "OK", "HTTP/1.1")
    assert capture.raw_headers == [(n if isinstance(n, bytes) else n.encode("latin-1"),
                                    v if isinstance(v, bytes) else v.encode("latin-1")) for n, v in headers]
    assert capture.header("etag") == '"5f1-abc"'
    assert capture.fetched_at == T0
    assert capture.ip == "203.0.113.7"
    assert capture.agency_id == "bj-fgw"
    assert capture.metadata["listing_title"] == "2023年年报" and capture.metadata["depth"] == "2"
    assert capture.metadata["run-id"] == capture.run_id
    assert capture.request_head.startswith(b"GET /xxgk/ndbg/202401/t20240129_1.html HTTP/1.1\r\nHost: www.example.gov.cn")
    assert capture.payload_sha256 == hashlib.sha256(payload).hexdigest()
    # after close the segment is in the object store and the spool is empty
    reader = open_reader(storage_config)
    assert reader.store.exists(capture.warc_key)
    assert spooled(storage_config) == []
    assert reader.read(ref.id).payload == payload


def test_the_index_keeps_validators_for_conditional_get(storage_config):
    url = "http://www.example.gov.cn/ndbg/index.html"
    with Archive.open(storage_config) as archive:
        fetch(archive, url, b"v1", headers=[("ETag", '"e1"'), ("Last-Modified", "Mon, 29 Jan 2024 08:00:00 GMT")])
        fetch(archive, url, b"", status=304, when=T0 + timedelta(days=1))
        assert archive.validators(url) == {"If-None-Match": '"e1"',
                                           "If-Modified-Since": "Mon, 29 Jan 2024 08:00:00 GMT"}
        assert archive.latest_capture(url).status == 304
        assert archive.validators("http://never.example/") == {}


# ---------------------------------------------------------------- revisits

def test_an_identical_payload_of_the_same_url_becomes_a_revisit(storage_config):
    url = "http://www.example.gov.cn/ndbg/2023.pdf"
    pdf = b"%PDF-1.4\n" + os.urandom(5000)
    with Archive.open(storage_config) as archive:
        first = fetch(archive, url, pdf, headers=[("Content-Type", "application/pdf"), ("Date", "day 1")])
        second = fetch(archive, url, pdf, when=T0 + timedelta(days=7),
                       headers=[("Content-Type", "application/pdf"), ("Date", "day 8")])
        third = fetch(archive, url, pdf, when=T0 + timedelta(days=14))
        other_url = fetch(archive, url + "?download=1", pdf, when=T0 + timedelta(days=14))
        changed = fetch(archive, url, pdf + b"%%EOF", when=T0 + timedelta(days=21))
        empty_a = fetch(archive, url + "?empty", b"", when=T0)
        empty_b = fetch(archive, url + "?empty", b"", when=T0 + timedelta(days=1))
        revisit = archive.read_capture(second.id)
    assert first.record_type == "response"
    assert second.record_type == "revisit" and second.refers_to == first.id
    assert third.record_type == "revisit" and third.refers_to == first.id  # never a revisit of a revisit
    assert other_url.record_type == "response"  # same payload, other URL: not the same resource
    assert changed.record_type == "response"
    assert (empty_a.record_type, empty_b.record_type) == ("response", "response")
    assert second.length < first.length - 4000  # the payload was not stored again
    assert revisit.payload == pdf
    assert revisit.header("Date") == "day 8"  # its own headers, the original's bytes
    assert revisit.fetched_at == T0 + timedelta(days=7)
    record = read_members(open_reader(storage_config).span(second.warc_key, second.offset, second.length),
                          second.offset)[0][2]
    assert record.header("WARC-Refers-To") == first.record_id
    assert record.header("WARC-Refers-To-Date") == "2024-01-30T02:20:30.654321Z"


def test_a_304_becomes_a_server_not_modified_revisit_of_the_last_200(storage_config):
    url = "http://www.example.gov.cn/ndbg/2023.html"
    page = "<html>2023年政府信息公开工作年度报告</html>".encode("utf-8")
    with Archive.open(storage_config) as archive:
        first = fetch(archive, url, page, headers=[("ETag", '"e1"'), ("Content-Type", "text/html")])
        same = fetch(archive, url, page, when=T0 + timedelta(days=1))
        answer = fetch(archive, url, b"", status=304, when=T0 + timedelta(days=2),
                       headers=[("ETag", '"e1"'), ("Date", "day 3")])
        later = fetch(archive, url, page, when=T0 + timedelta(days=3))
        nothing_earlier = fetch(archive, url + "?new", b"", status=304)
        capture = archive.read_capture(answer.id)
        record = read_members(archive.reader.span(answer.warc_key, answer.offset, answer.length), answer.offset)[0][2]
    assert same.record_type == "revisit" and same.refers_to == first.id
    assert answer.record_type == "revisit" and answer.status == 304
    assert answer.refers_to == first.id  # the response holding the bytes, not the identical-payload revisit
    assert answer.payload_sha1 == first.payload_sha1 and answer.payload_sha256 == first.payload_sha256
    assert record.header("WARC-Profile") == NOT_MODIFIED_PROFILE
    assert record.header("WARC-Refers-To") == first.record_id
    assert record.header("WARC-Payload-Digest") == f"sha1:{first.payload_sha1}"
    assert (capture.status, capture.payload, capture.header("Date")) == (304, page, "day 3")
    assert later.record_type == "revisit" and later.refers_to == first.id
    assert nothing_earlier.record_type == "response" and nothing_earlier.status == 304


def test_resources_and_errors(storage_config):
    with Archive.open(storage_config) as archive:
        page = fetch(archive, "http://www.example.gov.cn/js-listing.html", b"<html></html>", agency_id="a1")
        shot = archive.record_resource("urn:xxgk:screenshot:http://www.example.gov.cn/js-listing.html",
                                       b"\x89PNG fake", "image/png", fetched_at=T0, agency_id="a1",
                                       concurrent_to=page.id, extra_metadata={"viewport": "1280x800"})
        error_id = archive.record_error("https://expired.example.gov.cn/", "tls", "certificate has expired",
                                        agency_id="a2")
        with pytest.raises(ArchiveInputError, match="kind"):
            archive.record_error("http://x/", "bad-luck", "?")
        with pytest.raises(ArchiveInputError, match="concurrent_to"):
            archive.record_resource("urn:x", b"", "image/png", concurrent_to=10 ** 9)
        capture = archive.read_capture(shot.id)
        run_id = archive.run_id
    assert capture.record_type == "resource" and capture.payload == b"\x89PNG fake" and capture.mime == "image/png"
    assert capture.status is None and capture.metadata["viewport"] == "1280x800"
    assert capture.metadata["concurrent-to-capture"] == str(page.id)
    with Catalog.open(storage_config) as catalog, catalog.reading() as session:
        errors = queries.errors_by_run(session, run_id)
        assert [(e.id, e.kind, e.agency_id) for e in errors] == [(error_id, "tls", "a2")]


def test_bad_input_is_refused_before_anything_is_written(storage_config):
    with Archive.open(storage_config) as archive:
        good = fetch(archive, "http://x.example/a", b"ok")
        for bad in [
            lambda: fetch(archive, "http://x.example/b", "text, not bytes"),
            lambda: fetch(archive, "", b"x"),
            lambda: fetch(archive, "http://x.example/has space", b"x"),
            lambda: fetch(archive, "http://x.example/b", b"x", status=99),
            lambda: fetch(archive, "http://x.example/b", b"x", headers=[("only-a-name",)]),
            lambda: fetch(archive, "http://x.example/b", b"x", headers=[("X", 5)]),
            lambda: fetch(archive, "http://x.example/b", b"x", when="yesterday"),
            lambda: fetch(archive, "http://x.example/b", b"x", extra_metadata=["not", "a", "mapping"]),
            lambda: archive.record_fetch("http://x.example/b", "GE T", [], 200, "OK", [], b"x"),
        ]:
            size = archive._segment.size
            with pytest.raises(ArchiveInputError):
                bad()
            assert archive._segment.size == size
        assert archive.read_capture(good.id).payload == b"ok"
        with Catalog.open(storage_config) as catalog, catalog.reading() as session:
            assert queries.count_captures(session) == 1
    with pytest.raises(ArchiveInputError, match="run id"):
        Archive.open(storage_config, run_id="../../etc")


# ---------------------------------------------------------------- the round trip

def generated_responses(count: int, seed: int = 7):
    """HTML (UTF-8 and GBK), PDF, binary, empty, redirects and one 20 MB body, some URLs fetched twice."""
    rng = random.Random(seed)
    previous_html = b""
    pdf_head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n"
    for i in range(count):
        kind = ("html", "gbk", "pdf", "binary", "empty", "redirect", "repeat")[i % 7]
        url = f"http://www{i % 13}.example.gov.cn/xxgk/{kind}/{i}.html"
        status, reason = 200, "OK"
        if kind == "html":
            headers = [("Content-Type", "text/html; charset=utf-8"), ("X-Seq", str(i))]
            payload = f"<html><body>第{i}号 政府信息公开 {'内容' * rng.randint(1, 400)}</body></html>".encode()
        elif kind == "gbk":
            headers = [("Content-Type", "text/html"), (b"X-Title", f"年报{i}".encode("gbk"))]
            payload = f"<html>二〇二四年一月{i % 30 + 1}日 {'报告' * rng.randint(1, 300)}</html>".encode("gbk")
        elif kind == "pdf":
            headers = [("Content-Type", "application/pdf"), ("Content-Disposition", f"attachment; filename={i}.pdf")]
            payload = pdf_head + rng.randbytes(rng.randint(100, 60_000)) + b"\n%%EOF\n"
        elif kind == "binary":
            headers = [("Content-Type", "application/octet-stream")]
            payload = rng.randbytes(20 * MB) if i == 3 else rng.randbytes(rng.randint(1, 30_000))
        elif kind == "empty":
            status, reason, headers, payload = 204, "No Content", [], b""
        elif kind == "redirect":
            status, reason = 302, "Found"
            headers, payload = [("Location", f"/xxgk/{i}/"), ("Content-Length", "0")], b""
        else:  # the same URL and body as the HTML page fetched just before it: a revisit
            url = f"http://www{(i - 6) % 13}.example.gov.cn/xxgk/html/{i - 6}.html"
            headers = [("Content-Type", "text/html; charset=utf-8"), ("X-Seq", str(i - 6))]
            payload = previous_html
        if kind == "html":
            previous_html = payload
        yield url, status, reason, headers, payload, T0 + timedelta(seconds=i)


def test_a_thousand_responses_round_trip_byte_identical(storage_config):
    written = []
    with Archive.open(storage_config, segment_size=2 * MB, durability="os") as archive:
        for url, status, reason, headers, payload, when in generated_responses(1000):
            ref = archive.record_fetch(url, "GET", [("Accept", "*/*")], status, reason, headers, payload,
                                       fetched_at=when)
            written.append((ref, status, reason, headers, payload, when))
    reader = open_reader(storage_config)
    keys = {ref.warc_key for ref, *_ in written}
    assert len(keys) >= 4  # it rolled
    assert sorted(reader.store.list("warcs/")) == sorted(keys)
    assert spooled(storage_config) == []
    revisits = 0
    for ref, status, reason, headers, payload, when in written:
        capture = reader.read(ref.id)
        assert capture.payload == payload, ref
        assert (capture.status, capture.reason, capture.fetched_at) == (status, reason, when)
        assert capture.raw_headers == [(n.encode("latin-1") if isinstance(n, str) else n,
                                        v.encode("latin-1") if isinstance(v, str) else v) for n, v in headers]
        revisits += capture.record_type == "revisit"
    assert revisits == 142  # every "repeat" (i % 7 == 6) follows its original directly


def test_segments_written_by_the_archive_pass_warcio_check(storage_config, tmp_path):
    with Archive.open(storage_config, segment_size=64 * 1024) as archive:
        for url, status, reason, headers, payload, when in generated_responses(60, seed=3):
            if len(payload) < MB:
                archive.record_fetch(url, "GET", [], status, reason, headers, payload, fetched_at=when)
        archive.record_resource("urn:xxgk:screenshot:x", b"\x89PNG", "image/png")
    store = open_store(storage_config)
    keys = list(store.list("warcs/"))
    assert len(keys) >= 2
    for key in keys:
        local = tmp_path / key.replace("/", "_")
        local.write_bytes(store.get_bytes(key))
        check = subprocess.run([str(venv_bin("warcio")), "check", str(local)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        index = subprocess.run([str(venv_bin("warcio")), "index", str(local)], capture_output=True, text=True)
        assert index.returncode == 0 and json.loads(index.stdout.splitlines()[0])["warc-type"] == "warcinfo"


def test_threads_can_share_one_archive(storage_config):
    results: dict[int, list] = {}

    def worker(n: int) -> None:
        results[n] = [(fetch(archive, f"http://t{n}.example/{i}", f"{n}-{i}".encode() * 100), f"{n}-{i}")
                      for i in range(30)]

    with Archive.open(storage_config, segment_size=32 * 1024) as archive:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        refs = [ref for batch in results.values() for ref, _ in batch]
        assert len({(ref.warc_key, ref.offset) for ref in refs}) == 120
        for batch in results.values():
            for ref, body in batch:
                assert archive.read_capture(ref.id).payload == body.encode() * 100


def test_postgres_catalog_with_the_same_archive(storage_config, postgres_url):
    config = replace(storage_config, database_url=postgres_url)
    with Archive.open(config) as archive:
        first = fetch(archive, "http://pg.example/a", b"payload")
        second = fetch(archive, "http://pg.example/a", b"payload", when=T0 + timedelta(days=1))
    reader = open_reader(config)
    assert second.refers_to == first.id
    assert reader.read(second.id).payload == b"payload"


# ---------------------------------------------------------------- group commit

def stage(archive: Archive, url: str, payload: bytes, *, when: datetime = T0, status: int = 200, headers=None):
    return archive.stage_fetch(url, "GET", [("User-Agent", "xxgk-watch/test")], status, "OK",
                               headers or [("Content-Type", "text/html; charset=utf-8")], payload,
                               ip="127.0.0.1", fetched_at=when)


def indexed(config: Config) -> int:
    """Capture rows as another process would see them."""
    with Catalog.open(config) as catalog, catalog.reading() as session:
        return queries.count_captures(session)


def local_config(tmp_path: Path, database_url: str | None = None) -> Config:
    return Config.from_env({"XXGK_DATABASE_URL": database_url} if database_url else {}, data_dir=tmp_path / "data")


def test_staged_captures_are_indexed_together_when_the_batch_is_full(tmp_path):
    config = local_config(tmp_path)
    with Archive.open(config, commit_records=4, commit_ms=600_000) as archive:
        first = [stage(archive, f"http://batch.example/{i}", f"page {i}".encode()) for i in range(3)]
        assert indexed(config) == 0 and not any(pending.future.done() for pending in first)
        last = stage(archive, "http://batch.example/3", b"page 3")
        assert indexed(config) == 4
        refs = [pending.result(timeout=0) for pending in [*first, last]]
        assert len({ref.id for ref in refs}) == 4
        assert [archive.read_capture(ref.id).payload for ref in refs] == [f"page {i}".encode() for i in range(4)]
        straggler = stage(archive, "http://batch.example/4", b"page 4")
    assert straggler.result(timeout=0).id > refs[-1].id  # close committed what was still waiting
    assert indexed(config) == 5


def test_a_batch_is_committed_after_commit_ms_without_further_traffic(tmp_path):
    config = local_config(tmp_path)
    with Archive.open(config, commit_records=1000, commit_ms=50) as archive:
        pending = [stage(archive, f"http://quiet.example/{i}", b"one of few") for i in range(2)]
        deadline = time.monotonic() + 60  # a limit for a loaded machine, not a measurement
        while indexed(config) < 2:
            assert time.monotonic() < deadline, "two staged captures were never committed"
            time.sleep(0.05)
        assert [archive.read_capture(item.result(timeout=60).id).payload for item in pending] == [b"one of few"] * 2


def test_lookups_see_captures_still_waiting_for_their_commit(tmp_path, catalog_url):
    config = local_config(tmp_path, catalog_url)
    url = "http://wait.example/ndbg/2024.html"
    page = "<html>2024年政府信息公开工作年度报告</html>".encode()
    with Archive.open(config, commit_records=1000, commit_ms=600_000) as archive:
        original = stage(archive, url, page, headers=[("ETag", '"v1"'), ("Content-Type", "text/html")])
        # a conditional GET right after: the validators come from the capture that has no row yet
        assert archive.validators(url) == {"If-None-Match": '"v1"'}
        assert archive.staged(original.record_id) is original and archive.capture_id(original.record_id) is None
        same = stage(archive, url, page, when=T0 + timedelta(seconds=1))
        answer = stage(archive, url, b"", status=304, when=T0 + timedelta(seconds=2))
        assert (same.record_type, same.refers_to_record) == ("revisit", original.record_id)
        assert (answer.record_type, answer.refers_to_record) == ("revisit", original.record_id)
        assert same.payload_record_id == answer.payload_record_id == original.record_id
        assert indexed(config) == 0
        archive.commit()
        first = original.result(timeout=0)
        assert same.result(timeout=0).refers_to == answer.result(timeout=0).refers_to == first.id
        assert archive.staged(original.record_id) is None and archive.capture_id(original.record_id) == first.id
        assert archive.read_capture(answer.result().id).payload == page
        assert archive.read_capture(same.result().id).payload == page


def test_a_url_the_archive_had_not_seen_is_stored_without_a_second_lookup_and_a_stale_hint_loses_no_revisit(
        tmp_path, catalog_url):
    """request_facts tells the crawl, when it sends a request, whether the archive holds the URL; stage_fetch then
    trusts "unseen" (no lookup for a revisit, the capture marked first) unless this archive staged the URL since,
    committed or not: a hint gone stale meanwhile still gives the revisit."""
    config = local_config(tmp_path, catalog_url)
    url, other = "http://seen.example/ndbg/2024.html", "http://seen.example/ndbg/2023.html"
    page = "<html>2024年政府信息公开工作年度报告</html>".encode()
    with Archive.open(config, commit_records=1000, commit_ms=600_000) as archive:
        assert archive.request_facts(url) == ({}, False)
        first = archive.stage_fetch(url, "GET", [], 200, "OK", [("ETag", '"v1"')], page, fetched_at=T0, unseen=True)
        assert (first.record_type, first.first) == ("response", True)
        # the hint of a second request for the same URL, sent before the first answer was archived, is stale now
        again = archive.stage_fetch(url, "GET", [], 200, "OK", [("ETag", '"v1"')], page,
                                    fetched_at=T0 + timedelta(seconds=1), unseen=True)
        assert (again.record_type, again.refers_to_record, again.first) == ("revisit", first.record_id, False)
        archive.commit()
        assert archive.request_facts(url) == ({"If-None-Match": '"v1"'}, True)
        later = archive.stage_fetch(url, "GET", [], 200, "OK", [], page, fetched_at=T0 + timedelta(seconds=2),
                                    unseen=True)
        assert (later.record_type, later.first) == ("revisit", False)  # committed since: still no stale trust
        missing = archive.stage_fetch(other, "GET", [], 404, "Not Found", [], b"gone", fetched_at=T0, unseen=True)
        assert (missing.record_type, missing.first) == ("response", False)  # first, but not a page to show
        # the 404 is a capture too: the next request knows the URL, without validators (no 200 to confirm)
        assert archive.request_facts(other) == ({}, True)


def test_no_conditional_get_from_a_capture_still_in_another_machines_spool(tmp_path, catalog_url, s3_env):
    """Two machines of one distributed run share the catalog and the store: a capture the other machine made a
    moment ago is indexed, but its segment is in that machine's spool until uploaded. A 304 confirming it could not
    be answered with its bytes here, so no validators come from it until it is uploaded (the crawl would otherwise
    ask the portal twice)."""
    env = {"XXGK_DATABASE_URL": catalog_url, **s3_env}
    url = "http://spool.example/zwgk/ndbg/list.json"
    with Archive.open(Config.from_env(env, data_dir=tmp_path / "a")) as first:
        with Archive.open(Config.from_env(env, data_dir=tmp_path / "b"), run_id=first.run_id, join=True) as second:
            fetch(first, url, b'{"items": []}', headers=[("ETag", '"l1"'), ("Content-Type", "application/json")])
            assert first.validators(url) == {"If-None-Match": '"l1"'}   # its own spool: readable here
            assert second.request_facts(url) == ({}, True)
            first.roll()
            assert second.request_facts(url) == ({"If-None-Match": '"l1"'}, True)
            assert second.read_capture(first.latest_capture(url).id).payload == b'{"items": []}'


def test_a_roll_commits_the_waiting_captures_into_the_segment_it_closes(tmp_path):
    config = local_config(tmp_path)
    with Archive.open(config, commit_records=1000, commit_ms=600_000, segment_size=64 * 1024) as archive:
        pending = [stage(archive, f"http://roll.example/{i}", os.urandom(20_000)) for i in range(8)]
        refs = [item.result(timeout=0) for item in pending if item.future.done()]
        assert refs, "the segment rolled with captures waiting and left them unindexed"
        assert len({ref.warc_key for ref in refs}) >= 2
    reader = open_reader(config)
    assert [len(reader.read(item.result(timeout=0).id).payload) for item in pending] == [20_000] * 8


def test_no_row_is_written_for_a_batch_that_could_not_be_made_durable(tmp_path, monkeypatch):
    """A disk that refuses fsync (a fault no real server here can be made to produce): the batch's captures get no
    index rows, their bytes are cut from the segment, and every waiting capture hears why."""
    import storage.spool

    config = local_config(tmp_path)
    with Archive.open(config, commit_records=1000, commit_ms=600_000) as archive:
        kept = archive.record_fetch("http://disk.example/kept", "GET", [], 200, "OK", [], b"durable")
        size = archive._segment.size
        pending = [stage(archive, f"http://disk.example/{i}", b"never durable") for i in range(3)]
        real_fsync = os.fsync

        def refusing(fd):
            if os.path.realpath(f"/proc/self/fd/{fd}") == str(archive._segment.path):
                raise OSError(5, "Input/output error")
            return real_fsync(fd)

        monkeypatch.setattr(storage.spool.os, "fsync", refusing)
        archive.commit()
        monkeypatch.setattr(storage.spool.os, "fsync", real_fsync)
        for item in pending:
            with pytest.raises(ArchiveError, match="durable"):
                item.result(timeout=0)
        assert indexed(config) == 1 and archive._segment.size == size
        assert archive.validators("http://disk.example/0") == {}
        after = archive.record_fetch("http://disk.example/after", "GET", [], 200, "OK", [], b"written later")
    reader = open_reader(config)
    assert reader.read(kept.id).payload == b"durable" and reader.read(after.id).payload == b"written later"
    assert indexed(config) == 2


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from datetime import datetime, timedelta, timezone
    from storage.archive import Archive
    from storage.config import Config

    archive = Archive.open(Config.from_env(), run_id="killed-run", commit_records=1000, commit_ms=600_000)
    when = datetime(2024, 1, 30, 1, 2, 3, tzinfo=timezone.utc)

    def fetch(i, body, status=200, headers=(("Content-Type", "text/plain"), ("ETag", '"e"'))):
        return archive.stage_fetch(f"http://kill.example/{i}", "GET", [], status, "OK", list(headers), body,
                                   agency_id="a1", fetched_at=when + timedelta(seconds=fetch.n))
    fetch.n = 0
    for i in range(3):
        fetch.n += 1
        fetch(i, f"indexed {i} ".encode() * 40)
    archive.stage_error("http://kill.example/gone", "http", "HTTP 404", agency_id="a1", at=when)
    archive.commit()
    for i in range(3, 9):
        fetch.n += 1
        fetch(i, f"waiting {i} ".encode() * 40)
    fetch.n += 1
    fetch(3, b"waiting 3 " * 40)          # an identical payload: a revisit of a capture that waits too
    fetch.n += 1
    fetch(4, b"", status=304)             # a 304 of one that waits
    for i in range(2):                    # fetch errors wait for the commit as captures do
        archive.stage_error(f"http://kill.example/down{i}", "timeout", "timed out", agency_id="a1",
                            at=when + timedelta(seconds=20 + i))
    print(archive._segment.key, flush=True)
    time.sleep(600)                       # killed here, with eight captures and two errors waiting for their commit
""")


def xxgk_verify(config: Config) -> tuple[int, str]:
    done = subprocess.run([str(venv_bin("xxgk")), "verify"], env=child_env(config), capture_output=True, text=True,
                          timeout=300)
    return done.returncode, done.stdout + done.stderr


def test_sigkill_while_a_batch_waits_leaves_only_rows_on_intact_bytes_and_recovery_indexes_the_rest(
        storage_config):
    from storage.recovery import group_records, scan_segment

    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER], env=child_env(storage_config),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        key = child.stdout.readline().strip()
        assert key, child.stderr.read()
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    spool_file = storage_config.data_dir / "spool" / key
    with open(spool_file, "rb") as handle:
        records, _end, error = scan_segment(handle)
    assert error is None and len(group_records(records)) == 11  # every record the kernel got is whole
    assert indexed(storage_config) == 3  # only the committed batch has rows …
    with Catalog.open(storage_config) as catalog, catalog.reading() as session:
        assert [error.url for error in queries.errors_by_run(session, "killed-run")] == ["http://kill.example/gone"]
    code, output = xxgk_verify(storage_config)
    assert code == 0 and "已检查 3 条捕获" in output and "损坏 corrupt  0" in output, output  # … on intact bytes

    with Archive.open(storage_config) as archive:  # recovery: the dead writer's durable records get their rows
        report = archive.recovery
    assert report.indexed == 8 and report.errors == 2 and report.uploaded == [key]
    code, output = xxgk_verify(storage_config)
    assert code == 0 and "已检查 11 条捕获" in output and "正常 ok       11" in output, output
    with Catalog.open(storage_config) as catalog, catalog.reading() as session:
        rows = queries.captures_in_segment(session, key)
        by_id = {row.id: row for row in rows}
        revisits = [row for row in rows if row.record_type == "revisit"]
        assert sorted(by_id[row.refers_to_capture_id].url for row in revisits) == \
            ["http://kill.example/3", "http://kill.example/4"]
        errors = queries.errors_by_run(session, "killed-run")
        assert [(error.url, error.kind) for error in errors] == [   # the committed one not added twice
            ("http://kill.example/gone", "http"), ("http://kill.example/down0", "timeout"),
            ("http://kill.example/down1", "timeout")]
    reader = open_reader(storage_config)
    assert {reader.read(row.id).payload for row in revisits} == {b"waiting 3 " * 40, b"waiting 4 " * 40}


# ---------------------------------------------------------------- restart recovery

CRASHING_WRITER = textwrap.dedent("""
    import os, sys
    from datetime import datetime, timezone
    from storage.archive import Archive
    from storage.config import Config

    archive = Archive.open(Config.from_env(), run_id="crashed-run")
    count, with_revisit = int(sys.argv[1]), sys.argv[2] == "revisit"
    fetches = [*range(count), *([0] if with_revisit else [])]  # the revisit: capture 0's URL and body again
    for n, i in enumerate(fetches):
        archive.record_fetch(f"http://crash.example/{i}", "GET", [], 200, "OK", [("Content-Type", "text/plain")],
                             f"payload {i} ".encode() * 50, agency_id="a1",
                             fetched_at=datetime(2024, 1, 30, 1, 2, 3, n, tzinfo=timezone.utc))
    print(archive._segment.key, flush=True)
    os._exit(0)  # dies without closing: the segment stays in the spool
""")


def child_env(config: Config) -> dict[str, str]:
    """The environment of a child process (a writer, ``xxgk``) that uses ``config``'s data dir and store."""
    env = {**os.environ, "XXGK_DATA_DIR": str(config.data_dir), "PYTHONPATH": str(REPO)}
    for name in ("XXGK_S3_ENDPOINT", "XXGK_S3_ACCESS_KEY", "XXGK_S3_SECRET_KEY", "XXGK_S3_BUCKET",
                 "XXGK_DATABASE_URL"):
        env.pop(name, None)
    if config.uses_s3:
        env.update({"XXGK_S3_ENDPOINT": config.s3_endpoint, "XXGK_S3_ACCESS_KEY": config.s3_access_key,
                    "XXGK_S3_SECRET_KEY": config.s3_secret_key, "XXGK_S3_BUCKET": config.s3_bucket})
    return env


def crash_while_writing(config: Config, captures: int, *, revisit: bool = False) -> str:
    env = child_env(config)
    done = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(captures), "revisit" if revisit else "-"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def rows_of(config: Config, key: str) -> list[dict]:
    with Catalog.open(config) as catalog, catalog.reading() as session:
        return [{column: getattr(row, column) for column in CaptureRow.__table__.columns.keys() if column != "id"}
                for row in queries.captures_in_segment(session, key)]


def test_restart_cuts_a_half_written_record_indexes_orphans_and_uploads(storage_config):
    key = crash_while_writing(storage_config, 5, revisit=True)
    spool_file = storage_config.data_dir / "spool" / key
    assert spool_file.exists()
    before = rows_of(storage_config, key)
    assert [row["record_type"] for row in before] == ["response"] * 5 + ["revisit"]
    # the process died after the last records were durable but before their rows were written …
    with Catalog.open(storage_config) as catalog, catalog.session() as session:
        session.execute(delete(CaptureRow).where(CaptureRow.record_type == "revisit"))
        session.execute(delete(CaptureRow).where(CaptureRow.url == "http://crash.example/4"))
    # … and a later record was being written when it died
    good_size = spool_file.stat().st_size
    with open(spool_file, "ab") as handle:
        handle.write(spool_file.read_bytes()[-700:-300])

    with Archive.open(storage_config) as archive:
        report = archive.recovery
    assert report.truncated == {key: 400}
    assert report.indexed == 2 and report.uploaded == [key]
    assert not spool_file.exists()
    store = open_store(storage_config)
    assert store.stat(key).size == good_size
    assert rows_of(storage_config, key) == before  # the re-built row equals the lost one
    reader = open_reader(storage_config)
    with Catalog.open(storage_config) as catalog, catalog.reading() as session:
        for row in queries.captures_in_segment(session, key):
            index = int(row.url.rsplit("/", 1)[1])
            assert reader.read(row.id).payload == f"payload {index} ".encode() * 50


def test_restart_drops_rows_that_point_past_what_reached_the_disk(storage_config):
    key = crash_while_writing(storage_config, 3)
    spool_file = storage_config.data_dir / "spool" / key
    rows = rows_of(storage_config, key)
    last = max(rows, key=lambda row: row["offset"])
    with open(spool_file, "r+b") as handle:  # as after a power cut with durability="os"
        handle.truncate(last["offset"] + last["length"] // 2)
    with Archive.open(storage_config) as archive:
        report = archive.recovery
    assert report.removed_rows == 1
    assert [row["url"] for row in rows_of(storage_config, key)] == ["http://crash.example/0", "http://crash.example/1"]


def test_restart_removes_rows_whose_segment_is_gone(storage_config):
    key = crash_while_writing(storage_config, 3)
    with Catalog.open(storage_config) as catalog, catalog.session() as session:
        queries.upsert_agency(session, "a1", "某局")
        capture = queries.captures_in_segment(session, key)[0]
        queries.add_report(session, capture.id, {"title": "某局年报", "is_report": True, "kind": "report"})
    (storage_config.data_dir / "spool" / key).unlink()  # the spool disk was lost
    with Archive.open(storage_config) as archive:
        report = archive.recovery
    assert report.lost == [key] and report.removed_rows == 3
    with Catalog.open(storage_config) as catalog, catalog.reading() as session:
        assert queries.count_captures(session) == 0
        assert queries.reports_of_agency(session, "a1") == []
        assert queries.get_segment(session, key) is None


def test_restart_leaves_a_live_writers_segment_alone(storage_config):
    with Archive.open(storage_config) as live:
        ref = fetch(live, "http://live.example/", b"still writing")
        with Archive.open(storage_config) as restarted:
            assert restarted.recovery.uploaded == [] and restarted.recovery.lost == []
            assert restarted.read_capture(ref.id).payload == b"still writing"
        more = fetch(live, "http://live.example/2", b"and more")
    reader = open_reader(storage_config)
    assert reader.read(more.id).payload == b"and more"
    assert reader.store.exists(ref.warc_key)


def test_segments_wait_in_the_spool_while_the_store_is_down(tmp_path):
    server = SeaweedS3()
    try:
        server.start()
        config = Config.from_env(server.env("outage"), data_dir=tmp_path / "data")
        from storage.objects import RetryPolicy
        store = open_store(config, retry=RetryPolicy(attempts=2, first_delay=0.05))
        archive = Archive.open(config, store=store, catalog=Catalog.open(config), segment_size=4096)
        first = fetch(archive, "http://down.example/0", os.urandom(5000))
        assert store.exists(first.warc_key)
        server.stop()
        refs = [fetch(archive, f"http://down.example/{i}", os.urandom(5000)) for i in range(1, 4)]
        assert len(spooled(config)) >= 2  # rolled, could not upload, kept
        for ref in refs:
            assert len(archive.read_capture(ref.id).payload) == 5000
        server.restart()
        archive.close()
        assert spooled(config) == []
        reader = open_reader(config)
        for ref in [first, *refs]:
            assert len(reader.read(ref.id).payload) == 5000
    finally:
        server.cleanup()


def test_a_missing_segment_is_reported_on_read(storage_config):
    with Archive.open(storage_config) as archive:
        ref = fetch(archive, "http://gone.example/", b"bytes")
    open_store(storage_config).delete(ref.warc_key)
    with pytest.raises(CaptureMissing, match=ref.warc_key):
        open_reader(storage_config).read(ref.id)


def test_joining_a_run_that_ended_says_so_in_words(tmp_path):
    """An operator's walk: a worker started after its run ended printed "ArchiveInputError: no running crawl run …
    to join" — no hint that the run was over, or that its catalog was another's."""
    from storage.archive import ArchiveInputError

    config = local_config(tmp_path)
    ended = Archive.open(config)
    run_id = ended.run_id
    ended.finish("finished")
    with pytest.raises(ArchiveInputError) as refused:
        Archive.open(config, run_id=run_id, join=True)
    assert f"运行 {run_id} 已结束" in str(refused.value) and "XXGK_DATABASE_URL" in str(refused.value)
    with pytest.raises(ArchiveInputError) as unknown:
        Archive.open(config, run_id="never-ran", join=True)
    assert "不在本机的目录数据库中" in str(unknown.value)
