"""WARC records as the project writes them: byte-exact HTTP, digests, one gzip member each, readable by warcio."""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from storage.warc import (REVISIT_PROFILE, SegmentWriter, WarcFormatError, iter_members, parse_http_head,
                          read_member, read_members, request_head, response_head, warc_date)
from tests.servers import venv_bin

URL = "http://www.example.gov.cn/xxgk/ndbg/202301/t20230130_1234567.html"
WHEN = datetime(2023, 1, 30, 10, 20, 30, 123456, tzinfo=timezone.utc)
HEADERS = [
    ("Server", "nginx"),
    ("Content-Type", "text/html; charset=GBK"),
    ("set-cookie", "a=1; Path=/"),
    ("Set-Cookie", "b=2; Path=/"),
    ("X-UPPER-lower", "MiXeD"),
    (b"Content-Disposition", "attachment; filename=\"2022年度报告.pdf\"".encode("gbk")),
    ("X-Latin", "caf\xe9"),
    ("X-Empty", ""),
]
PAYLOAD = "<html><title>2022年政府信息公开工作年度报告</title></html>".encode("gbk")


def b32_sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


@pytest.fixture
def segment(tmp_path: Path):
    """A segment with every record type the archive writes, and what was written."""
    path = tmp_path / "seg.warc.gz"
    head = response_head("HTTP/1.1", 200, "OK", HEADERS)
    sent = request_head("GET", URL, [("User-Agent", "xxgk-watch/0.1"), ("Accept", "*/*")])
    date = warc_date(WHEN)
    with open(path, "wb") as out:
        writer = SegmentWriter(out, path.name)
        written = {"warcinfo": writer.write_warcinfo({"run-id": "run-1"}, date)}
        written["response"] = writer.write_response(URL, head, PAYLOAD, date, ip="10.1.2.3")
        response_id = written["response"].record_id
        written["request"] = writer.write_request(URL, sent, b"", date, concurrent_to=response_id)
        written["metadata"] = writer.write_metadata(URL, [("run-id", "run-1"), ("agency-id", "bj-fgw"),
                                                          ("listing", {"title": "2022年报", "date": "2023-01-30"})],
                                                    date, concurrent_to=response_id)
        later = warc_date(WHEN.replace(year=2024))
        written["revisit"] = writer.write_revisit(URL, head, later, refers_to=response_id, refers_to_url=URL,
                                                  refers_to_date=date, digest=written["response"].payload_digest)
        written["resource"] = writer.write_resource("urn:xxgk:screenshot:" + URL, "image/png", b"\x89PNG\r\n\x1a\n",
                                                    date, concurrent_to=response_id)
    return path, written, head, sent


def test_warcio_check_and_index_accept_the_segment(segment):
    path, written, _head, _sent = segment
    check = subprocess.run([str(venv_bin("warcio")), "check", "-v", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 5  # every record but the revisit, whose digest is its original's
    index = subprocess.run([str(venv_bin("warcio")), "index", "-f", "offset,length,warc-type,warc-target-uri",
                            str(path)], capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in index.stdout.splitlines()]
    assert [row["warc-type"] for row in rows] == list(written)
    assert [(int(row["offset"]), int(row["length"])) for row in rows] == [(w.offset, w.length) for w in written.values()]


def test_every_record_is_one_gzip_member_at_its_offset(segment):
    path, written, _head, _sent = segment
    data = path.read_bytes()
    position = 0
    for record in written.values():
        assert record.offset == position
        member = data[record.offset: record.offset + record.length]
        decompressor = zlib.decompressobj(zlib.MAX_WBITS + 16)
        text = decompressor.decompress(member)
        assert decompressor.eof and decompressor.unused_data == b""
        assert text.startswith(b"WARC/1.1\r\n")
        position += record.length
    assert position == len(data)
    assert gzip.decompress(data).count(b"WARC/1.1\r\n") == len(written)


def test_response_keeps_the_http_head_byte_for_byte(segment):
    path, written, head, _sent = segment
    data = path.read_bytes()
    record = read_member(data[written["response"].offset: written["response"].offset + written["response"].length])
    assert record.http.raw == head
    assert record.payload == PAYLOAD
    assert record.http.first_line == ("HTTP/1.1", "200", "OK")
    assert [name for name, _ in record.http.headers] == [
        b"Server", b"Content-Type", b"set-cookie", b"Set-Cookie", b"X-UPPER-lower", b"Content-Disposition",
        b"X-Latin", b"X-Empty"]
    assert record.http.headers[5][1] == "attachment; filename=\"2022年度报告.pdf\"".encode("gbk")
    assert record.http.headers[6][1] == b"caf\xe9"
    assert record.http.headers[7][1] == b""
    assert record.problems() == []


def test_warc_headers_carry_digests_dates_address_and_links(segment):
    path, written, head, sent = segment
    records = {record.record_type: record for _o, _l, record in read_members(path.read_bytes())}
    response = records["response"]
    assert response.header("WARC-Payload-Digest") == b32_sha1(PAYLOAD)
    assert response.header("WARC-Block-Digest") == b32_sha1(head + PAYLOAD)
    assert response.header("WARC-Date") == "2023-01-30T10:20:30.123456Z"
    assert response.header("WARC-IP-Address") == "10.1.2.3"
    assert response.header("WARC-Target-URI") == URL
    assert response.header("Content-Type") == "application/http; msgtype=response"
    assert response.header("WARC-Warcinfo-ID") == records["warcinfo"].record_id
    assert records["request"].concurrent_to == [response.record_id]
    assert records["request"].http.raw == sent
    assert sent.startswith(b"GET /xxgk/ndbg/202301/t20230130_1234567.html HTTP/1.1\r\nHost: www.example.gov.cn\r\n")
    assert records["metadata"].concurrent_to == [response.record_id]
    assert records["metadata"].fields() == {"run-id": "run-1", "agency-id": "bj-fgw",
                                            "listing": '{"title": "2022年报", "date": "2023-01-30"}'}
    revisit = records["revisit"]
    assert revisit.header("WARC-Profile") == REVISIT_PROFILE
    assert revisit.header("WARC-Refers-To") == response.record_id
    assert revisit.header("WARC-Refers-To-Target-URI") == URL
    assert revisit.header("WARC-Refers-To-Date") == "2023-01-30T10:20:30.123456Z"
    assert revisit.header("WARC-Payload-Digest") == b32_sha1(PAYLOAD)
    assert revisit.payload == b"" and revisit.http.raw == head
    resource = records["resource"]
    assert resource.header("Content-Type") == "image/png" and resource.payload == b"\x89PNG\r\n\x1a\n"
    assert resource.concurrent_to == [response.record_id]


def test_warcio_reads_the_same_payload_and_headers(segment):
    path, _written, _head, _sent = segment
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                assert record.http_headers.get_statuscode() == "200"
                assert record.http_headers.get_header("X-UPPER-lower") == "MiXeD"
                assert record.raw_stream.read() == PAYLOAD
                return
    pytest.fail("warcio found no response record")


def test_line_breaks_in_header_values_cannot_forge_headers():
    head = response_head("HTTP/1.1", 200, "OK", [("X-A", "one\r\nX-Evil: 1"), ("X-B", "two\nthree")])
    parsed, payload = parse_http_head(head + b"body")
    assert parsed.headers == [(b"X-A", b"one X-Evil: 1"), (b"X-B", b"two three")]
    assert payload == b"body"


def test_a_cut_off_segment_yields_its_complete_records_then_says_where_it_breaks(segment):
    path, written, _head, _sent = segment
    data = path.read_bytes()
    cut = written["revisit"].offset + written["revisit"].length // 2
    seen = []
    with pytest.raises(WarcFormatError) as caught:
        for offset, length, _content in iter_members(io.BytesIO(data[:cut])):
            seen.append((offset, length))
    assert seen == [(w.offset, w.length) for w in list(written.values())[:4]]
    assert caught.value.offset == written["revisit"].offset


def test_a_flipped_byte_is_detected(segment):
    path, written, _head, _sent = segment
    data = bytearray(path.read_bytes())
    response = written["response"]
    data[response.offset + response.length // 2] ^= 0x01
    member = bytes(data[response.offset: response.offset + response.length])
    try:
        record = read_member(member)
    except WarcFormatError:
        return  # the gzip CRC or the deflate stream caught it
    assert record.problems() != []


def test_a_span_must_hold_exactly_one_member(segment):
    path, written, _head, _sent = segment
    data = path.read_bytes()
    both = data[written["response"].offset: written["metadata"].offset]
    with pytest.raises(WarcFormatError, match="more than one"):
        read_member(both)
    assert [record.record_type for _o, _l, record in read_members(both, written["response"].offset)] == [
        "response", "request"]
