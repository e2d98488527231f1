"""WARC 1.1 records, written with warcio as one gzip member per record, and read back from byte spans.

Writing: :class:`SegmentWriter` appends to an open ``.warc.gz`` file and returns, for every record, where it landed
(:class:`WrittenRecord`: offset and length of its gzip member). HTTP heads are stored exactly as given: the status
line, header names in their case and order, values as bytes (``str`` values are encoded latin-1 like ``http.client``
decodes them, or UTF-8 when they do not fit). Payload and block digests are ``sha1:<base32>`` as warcio writes them.

Reading: :func:`read_member` turns one gzip member into a :class:`WarcRecord` (WARC headers, raw block, parsed HTTP
head, raw payload); :func:`read_members` splits a span of consecutive members; :func:`iter_members` walks a segment
file and tells where a cut-off or damaged member starts. ``WarcRecord.problems()`` checks the digests.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter
from parsers.headers import header_value

WARC_VERSION = "WARC/1.1"
DEFAULT_COMPRESSLEVEL = 6
SOFTWARE = "xxgk-watch (warcio)"
HTTP_RESPONSE_TYPE = "application/http; msgtype=response"
HTTP_REQUEST_TYPE = "application/http; msgtype=request"
WARC_FIELDS_TYPE = "application/warc-fields"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# a 304 answer to a conditional GET: the payload is the one of the capture the validators came from
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
# Facts of a crawl that are not captures (a fetch error, a column's coverage, a run's end) are kept as standalone
# metadata records with a JSON block {"xxgk": NOTE_…, …}, so that the catalog can be rebuilt from the WARCs alone.
NOTE_TYPE = "application/json"
NOTE_FETCH_ERROR = "fetch-error"
NOTE_COVERAGE = "column-coverage"
NOTE_RUN_END = "run-end"
# A note's WARC-Target-URI is a URN of its own (``urn:xxgk:<kind>:<subject>``), never the page it is about: replay
# tools (pywb, cdxj-indexer) index metadata records by their target URI and served an error note as that page, with
# status 200. Notes written before named the page itself; readers go by the JSON, so both forms read the same.
NOTE_URN = "urn:xxgk:"
_READ_CHUNK = 1 << 20

HeaderValue = str | bytes
HeaderList = Sequence[tuple[HeaderValue, HeaderValue]]


class WarcFormatError(Exception):
    """Bytes that are not a complete, well-formed gzip member holding one WARC record."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset


# ---------------------------------------------------------------- digests and dates

def sha1_base32(data: bytes) -> str:
    return base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def payload_digest(data: bytes) -> str:
    """``sha1:<base32>``, the form warcio writes in WARC-Payload-Digest and WARC-Block-Digest."""
    digester = Digester("sha1")
    digester.update(data)
    return str(digester)


def digest_matches(label: str | None, data: bytes) -> bool:
    """Whether a ``algo:value`` digest label (base32 or hex) describes ``data``."""
    if not label or ":" not in label:
        return False
    algorithm, _, value = label.partition(":")
    try:
        digest = hashlib.new(algorithm.strip().lower().replace("-", ""), data).digest()
    except ValueError:
        return False
    value = value.strip()
    return value.upper() in (base64.b32encode(digest).decode("ascii"), digest.hex().upper())


def warc_date(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds (WARC 1.1 allows them)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return datetime_to_iso_date(moment, use_micros=True)


def parse_warc_date(text: str) -> datetime:
    try:
        return iso_date_to_datetime(text, tz_aware=True)
    except (TypeError, ValueError) as exc:
        raise WarcFormatError(f"bad WARC-Date {text!r}") from exc


# ---------------------------------------------------------------- HTTP heads, byte-exact

def header_bytes(value: HeaderValue) -> bytes:
    """A header name or value as it goes on the wire. Line breaks would forge headers: they become spaces."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        text = str(value)
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            data = text.encode("utf-8")
    return data.replace(b"\r\n", b" ").replace(b"\r", b" ").replace(b"\n", b" ")


def _header_lines(headers: HeaderList) -> bytes:
    return b"".join(header_bytes(name) + b": " + header_bytes(value) + b"\r\n" for name, value in headers)


def response_head(protocol: str, status: int, reason: HeaderValue, headers: HeaderList) -> bytes:
    status_line = f"{protocol} {int(status)} ".encode("ascii") + header_bytes(reason or b"")
    return status_line.rstrip(b" ") + b"\r\n" + _header_lines(headers) + b"\r\n"


def request_head(method: str, url: str, headers: HeaderList, protocol: str = "HTTP/1.1") -> bytes:
    """The request as sent: origin-form target; a Host header is added only when the caller gave none."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = list(headers)
    if parts.netloc and not any(header_bytes(name).lower() == b"host" for name, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    line = header_bytes(method.upper()) + b" " + header_bytes(target) + b" " + protocol.encode("ascii") + b"\r\n"
    return line + _header_lines(headers) + b"\r\n"


@dataclass(frozen=True)
class HttpHead:
    """A parsed HTTP head; ``raw`` is the exact bytes, headers keep their order, case and bytes."""

    first_line: tuple[str, str, str]      # (protocol, status, reason) or (method, target, protocol)
    headers: list[tuple[bytes, bytes]]
    raw: bytes

    @property
    def status(self) -> int | None:
        try:
            return int(self.first_line[1])
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def text_headers(self) -> list[tuple[str, str]]:
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self.headers]


def parse_http_head(block: bytes) -> tuple[HttpHead, bytes]:
    """Split an ``application/http`` block into its head and raw payload (the inverse of :func:`response_head`)."""
    end = block.find(b"\r\n\r\n")
    if end < 0:
        raise WarcFormatError("HTTP head without the blank line that ends it")
    raw = block[: end + 4]
    lines = raw[:-4].split(b"\r\n")
    first = lines[0].split(b" ", 2)
    first_line = tuple(part.decode("latin-1") for part in first + [b""] * (3 - len(first)))
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise WarcFormatError(f"HTTP header line without a colon: {line[:80]!r}")
        headers.append((name, value[1:] if value.startswith(b" ") else value))
    return HttpHead(first_line, headers, raw), block[end + 4:]  # type: ignore[arg-type]


class _RawHttpHead(StatusAndHeaders):
    """Hands warcio our exact head bytes instead of letting it re-serialise (and percent-encode) the headers."""

    def __init__(self, raw: bytes):
        head, _ = parse_http_head(raw)
        super().__init__(" ".join(head.first_line[1:]).strip(), head.text_headers(), protocol=head.first_line[0])
        self._raw = raw
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter=None):
        self.headers_buff = self._raw


# ---------------------------------------------------------------- writing

@dataclass(frozen=True)
class WrittenRecord:
    record_type: str
    record_id: str
    offset: int
    length: int
    date: str
    block_digest: str | None = None
    payload_digest: str | None = None


class _GzipMembers:
    """File wrapper for warcio: everything written until ``flush()`` becomes one gzip member."""

    def __init__(self, out: BinaryIO, level: int):
        self._out = out
        self.level = level          # for the next member
        self._compressor = None

    def write(self, data: bytes) -> None:
        if self._compressor is None:
            self._compressor = zlib.compressobj(self.level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self._out.write(self._compressor.compress(data))

    def flush(self) -> None:
        if self._compressor is not None:
            self._out.write(self._compressor.flush())
            self._compressor = None
        self._out.flush()


_SAMPLE = 8192


def member_level(payload: bytes, default: int) -> int:
    """Compression level for a record carrying ``payload``: 0 (stored) when a sample from its middle does not
    shrink, as with PDFs, images and archives, whose deflate would cost time and save nothing."""
    if len(payload) < 4 * _SAMPLE or default == 0:
        return default
    middle = len(payload) // 2
    sample = payload[middle - _SAMPLE // 2: middle + _SAMPLE // 2]
    return 0 if len(zlib.compress(sample, 1)) > 0.95 * len(sample) else default


def new_record_id() -> str:
    return StatusAndHeadersParser.make_warc_id()


def _field_pairs(fields: Iterable[tuple[str, object]]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in fields:
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        key = "".join(ch for ch in str(name) if ch.isprintable() and ch not in ": ") or "field"
        pairs.append((key, " ".join(text.splitlines())))
    return pairs


def _field_lines(fields: Iterable[tuple[str, object]]) -> bytes:
    return "".join(f"{key}: {value}\r\n" for key, value in _field_pairs(fields)).encode("utf-8")


def written_fields(fields: Iterable[tuple[str, object]]) -> dict[str, str]:
    """What a metadata record of ``fields`` gives back when read (``WarcRecord.fields``): the index derives its
    facts from this at write time, so a catalog rebuilt from the WARCs holds the same."""
    return {key: value.strip() for key, value in _field_pairs(fields)}


def uri_safe(text: str) -> str:
    """A WARC-Target-URI from ``text``: whitespace and NUL would break the header line, so they are escaped."""
    return re.sub(r"[\s\x00]", lambda match: "%{:02X}".format(ord(match.group())), text)


def note_uri(note: Mapping[str, object]) -> str:
    """The URN a note is filed under: its kind and what it is about (the URL stays in the JSON as given)."""
    kind = str(note.get("xxgk") or "note")
    if kind == NOTE_RUN_END:
        kind, subject = "run", note.get("run_id")
    elif kind == NOTE_FETCH_ERROR:
        subject = note.get("url")
    elif kind == NOTE_COVERAGE:
        subject = note.get("column_url") or note.get("agency_id")
    else:
        subject = None
    return uri_safe(f"{NOTE_URN}{kind}:{subject or ''}")


class SegmentWriter:
    """Appends WARC records to one open binary file, one gzip member each, reporting offsets as it goes."""

    def __init__(self, out: BinaryIO, filename: str, compresslevel: int = DEFAULT_COMPRESSLEVEL):
        self._out = out
        self.filename = filename
        self.compresslevel = compresslevel
        self._members = _GzipMembers(out, compresslevel)
        self._writer = WARCWriter(self._members, gzip=False, warc_version=WARC_VERSION)
        self.warcinfo_id: str | None = None

    def tell(self) -> int:
        return self._out.tell()

    def _headers(self, record_type: str, url: str | None, date: str, record_id: str | None,
                 extra: Mapping[str, str | None]) -> dict[str, str]:
        headers = {"WARC-Type": record_type, "WARC-Record-ID": record_id or new_record_id(), "WARC-Date": date}
        if url:
            headers["WARC-Target-URI"] = url
        if self.warcinfo_id and record_type != "warcinfo":
            headers["WARC-Warcinfo-ID"] = self.warcinfo_id
        headers.update({name: value for name, value in extra.items() if value})
        return headers

    def _write(self, record, payload: bytes = b"") -> WrittenRecord:
        start = self._out.tell()
        self._members.level = member_level(payload, self.compresslevel)
        self._writer.write_record(record)
        headers = record.rec_headers
        return WrittenRecord(
            record_type=headers.get_header("WARC-Type"),
            record_id=headers.get_header("WARC-Record-ID"),
            offset=start,
            length=self._out.tell() - start,
            date=headers.get_header("WARC-Date"),
            block_digest=headers.get_header("WARC-Block-Digest"),
            payload_digest=headers.get_header("WARC-Payload-Digest"),
        )

    def write_warcinfo(self, fields: Mapping[str, object], date: str) -> WrittenRecord:
        record_id = new_record_id()
        body = _field_lines([("software", SOFTWARE), ("format", "WARC File Format 1.1"),
                             ("conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"),
                             *fields.items()])
        headers = self._headers("warcinfo", None, date, record_id, {"WARC-Filename": self.filename})
        record = self._writer.create_warc_record("", "warcinfo", payload=io.BytesIO(body), length=len(body),
                                                 warc_content_type=WARC_FIELDS_TYPE, warc_headers_dict=headers)
        written = self._write(record)
        self.warcinfo_id = record_id
        return written

    def write_response(self, url: str, head: bytes, payload: bytes, date: str, *, record_id: str | None = None,
                       ip: str | None = None, truncated: str | None = None,
                       digest: str | None = None) -> WrittenRecord:
        headers = self._headers("response", url, date, record_id, {
            "WARC-IP-Address": ip, "WARC-Truncated": truncated,
            "WARC-Payload-Digest": digest or payload_digest(payload)})
        record = self._writer.create_warc_record(url, "response", payload=io.BytesIO(payload), length=len(payload),
                                                 warc_content_type=HTTP_RESPONSE_TYPE, warc_headers_dict=headers,
                                                 http_headers=_RawHttpHead(head))
        return self._write(record, payload)

    def write_revisit(self, url: str, head: bytes, date: str, *, refers_to: str, refers_to_url: str,
                      refers_to_date: str, digest: str, record_id: str | None = None,
                      ip: str | None = None, profile: str = REVISIT_PROFILE) -> WrittenRecord:
        headers = self._headers("revisit", url, date, record_id, {"WARC-IP-Address": ip, "WARC-Refers-To": refers_to})
        record = self._writer.create_revisit_record(url, digest, refers_to_url, refers_to_date,
                                                    http_headers=_RawHttpHead(head), warc_headers_dict=headers)
        if profile != REVISIT_PROFILE:
            record.rec_headers.replace_header("WARC-Profile", profile)
        record.content_type = HTTP_RESPONSE_TYPE
        return self._write(record)

    def write_request(self, url: str, head: bytes, body: bytes, date: str, *, concurrent_to: str) -> WrittenRecord:
        headers = self._headers("request", url, date, None, {"WARC-Concurrent-To": concurrent_to})
        record = self._writer.create_warc_record(url, "request", payload=io.BytesIO(body), length=len(body),
                                                 warc_content_type=HTTP_REQUEST_TYPE, warc_headers_dict=headers,
                                                 http_headers=_RawHttpHead(head))
        return self._write(record)

    def write_metadata(self, url: str, fields: Iterable[tuple[str, object]], date: str, *,
                       concurrent_to: str) -> WrittenRecord:
        body = _field_lines(fields)
        headers = self._headers("metadata", url, date, None, {"WARC-Concurrent-To": concurrent_to})
        record = self._writer.create_warc_record(url, "metadata", payload=io.BytesIO(body), length=len(body),
                                                 warc_content_type=WARC_FIELDS_TYPE, warc_headers_dict=headers)
        return self._write(record)

    def write_note(self, note: Mapping[str, object], date: str) -> WrittenRecord:
        """A standalone ``metadata`` record whose block is JSON (read back by :meth:`WarcRecord.note`), filed
        under :func:`note_uri`."""
        body = json.dumps(note, ensure_ascii=False, default=str).encode("utf-8")
        uri = note_uri(note)
        headers = self._headers("metadata", uri, date, None, {})
        record = self._writer.create_warc_record(uri, "metadata", payload=io.BytesIO(body), length=len(body),
                                                 warc_content_type=NOTE_TYPE, warc_headers_dict=headers)
        return self._write(record)

    def refile_note(self, stored: "WarcRecord") -> WrittenRecord:
        """A note written before notes had a URI of their own, again under :func:`note_uri`: the same record id,
        date, warcinfo and JSON block byte for byte (so its digest is unchanged), only the target URI differs."""
        note = stored.note()
        if note is None:
            raise ValueError("not a note")
        uri = note_uri(note)
        headers = {"WARC-Type": "metadata", "WARC-Record-ID": stored.record_id or new_record_id(),
                   "WARC-Date": stored.header("WARC-Date") or "", "WARC-Target-URI": uri}
        if stored.header("WARC-Warcinfo-ID"):
            headers["WARC-Warcinfo-ID"] = stored.header("WARC-Warcinfo-ID")
        record = self._writer.create_warc_record(uri, "metadata", payload=io.BytesIO(stored.block),
                                                 length=len(stored.block), warc_content_type=NOTE_TYPE,
                                                 warc_headers_dict=headers)
        return self._write(record)

    def write_resource(self, url: str, content_type: str, payload: bytes, date: str, *,
                       record_id: str | None = None, concurrent_to: str | None = None,
                       digest: str | None = None) -> WrittenRecord:
        headers = self._headers("resource", url, date, record_id, {
            "WARC-Concurrent-To": concurrent_to, "WARC-Payload-Digest": digest or payload_digest(payload)})
        record = self._writer.create_warc_record(url, "resource", payload=io.BytesIO(payload), length=len(payload),
                                                 warc_content_type=content_type or "application/octet-stream",
                                                 warc_headers_dict=headers)
        return self._write(record, payload)


# ---------------------------------------------------------------- reading

_WARC_PARSER = StatusAndHeadersParser(["WARC/1.1", "WARC/1.0"], verify=True)


@dataclass
class WarcRecord:
    version: str
    headers: list[tuple[str, str]]
    block: bytes
    http: HttpHead | None = None
    payload: bytes = b""
    _problems: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def record_type(self) -> str:
        return (self.header("WARC-Type") or "").lower()

    @property
    def record_id(self) -> str | None:
        return self.header("WARC-Record-ID")

    @property
    def target_uri(self) -> str | None:
        return self.header("WARC-Target-URI")

    @property
    def date(self) -> datetime:
        return parse_warc_date(self.header("WARC-Date") or "")

    @property
    def concurrent_to(self) -> list[str]:
        return [value for key, value in self.headers if key.lower() == "warc-concurrent-to"]

    def note(self) -> dict | None:
        """The JSON of a standalone metadata record written by :meth:`SegmentWriter.write_note`, else None."""
        if self.record_type != "metadata" or self.concurrent_to \
                or not (self.header("Content-Type") or "").lower().startswith(NOTE_TYPE):
            return None
        try:
            data = json.loads(self.block)
        except ValueError:
            return None
        return data if isinstance(data, dict) and isinstance(data.get("xxgk"), str) else None

    def fields(self) -> dict[str, str]:
        """The ``name: value`` lines of a warcinfo or metadata record."""
        result = {}
        for line in self.block.decode("utf-8", "replace").splitlines():
            name, sep, value = line.partition(":")
            if sep:
                result[name.strip()] = value.strip()
        return result

    def problems(self) -> list[str]:
        """Digest mismatches and framing faults; empty when the record is sound."""
        found = list(self._problems)
        block_digest = self.header("WARC-Block-Digest")
        if block_digest and not digest_matches(block_digest, self.block):
            found.append(f"WARC-Block-Digest mismatch ({block_digest})")
        digest = self.header("WARC-Payload-Digest")
        if digest and self.record_type != "revisit" and not digest_matches(digest, self.payload):
            found.append(f"WARC-Payload-Digest mismatch ({digest})")
        return found


def _decompress_member(data: bytes, offset: int) -> tuple[bytes, int]:
    """Decompress the gzip member at the start of ``data``; return (content, compressed length)."""
    decompressor = zlib.decompressobj(zlib.MAX_WBITS + 16)
    try:
        content = decompressor.decompress(data)
    except zlib.error as exc:
        raise WarcFormatError(f"damaged gzip member at offset {offset}: {exc}", offset) from exc
    if not decompressor.eof:
        raise WarcFormatError(f"gzip member at offset {offset} is cut off", offset)
    return content, len(data) - len(decompressor.unused_data)


def parse_record(content: bytes, offset: int = 0) -> WarcRecord:
    """Parse one uncompressed WARC record (header, block, the closing CRLF CRLF)."""
    end = content.find(b"\r\n\r\n")
    if end < 0:
        raise WarcFormatError(f"record at offset {offset} has no end of WARC headers", offset)
    try:
        parsed = _WARC_PARSER.parse(io.BytesIO(content[: end + 4]))
    except Exception as exc:  # noqa: BLE001 - warcio raises several types for garbage
        raise WarcFormatError(f"record at offset {offset}: bad WARC header: {exc}", offset) from exc
    record = WarcRecord(version=parsed.protocol, headers=list(parsed.headers), block=b"")
    try:
        length = int(record.header("Content-Length") or "")
    except ValueError as exc:
        raise WarcFormatError(f"record at offset {offset} has no valid Content-Length", offset) from exc
    start = end + 4
    record.block = content[start: start + length]
    if len(record.block) != length:
        raise WarcFormatError(f"record at offset {offset} is shorter than its Content-Length", offset)
    if content[start + length:] != b"\r\n\r\n":
        record._problems.append("record does not end with CRLF CRLF after its block")
    record.payload = record.block
    content_type = (record.header("Content-Type") or "").lower()
    if content_type.startswith("application/http") and record.record_type in ("response", "request", "revisit"):
        record.http, record.payload = parse_http_head(record.block)
    return record


def read_member(data: bytes, offset: int = 0) -> WarcRecord:
    """The record in exactly one gzip member (as stored at ``offset``); trailing bytes are an error."""
    content, used = _decompress_member(data, offset)
    if used != len(data):
        raise WarcFormatError(f"span at offset {offset} holds more than one gzip member", offset)
    return parse_record(content, offset)


def read_members(data: bytes, offset: int = 0) -> list[tuple[int, int, WarcRecord]]:
    """Every record in a span of consecutive gzip members, as (absolute offset, length, record)."""
    records = []
    position = 0
    while position < len(data):
        content, used = _decompress_member(data[position:], offset + position)
        records.append((offset + position, used, parse_record(content, offset + position)))
        position += used
    return records


def iter_members(stream: BinaryIO, start: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """Walk a segment: yield (offset, compressed length, uncompressed record) for each complete gzip member.

    Raises :class:`WarcFormatError` with ``offset`` set to where the first cut-off or damaged member begins.
    """
    offset = start
    pending = b""
    while True:
        decompressor = zlib.decompressobj(zlib.MAX_WBITS + 16)
        pieces: list[bytes] = []
        used = 0
        while not decompressor.eof:
            if not pending:
                pending = stream.read(_READ_CHUNK)
                if not pending:
                    if used == 0:
                        return
                    raise WarcFormatError(f"gzip member at offset {offset} is cut off", offset)
            try:
                pieces.append(decompressor.decompress(pending))
            except zlib.error as exc:
                raise WarcFormatError(f"damaged gzip member at offset {offset}: {exc}", offset) from exc
            if decompressor.eof:
                used += len(pending) - len(decompressor.unused_data)
                pending = decompressor.unused_data
            else:
                used += len(pending)
                pending = b""
        yield offset, used, b"".join(pieces)
        offset += used


def http_index_fields(head: HttpHead | None) -> dict[str, str | None]:
    """What the capture index keeps from a response head: the type, and the validators for a conditional GET."""
    if head is None:
        return {"mime": None, "etag": None, "last_modified": None}
    mime = head.header("Content-Type")
    return {"mime": mime.strip() if mime else None, "etag": head.header("ETag"),
            "last_modified": head.header("Last-Modified")}


def digest_value(label: str | None) -> str:
    """``sha1:ABC`` -> ``ABC`` (the index stores the bare value, as CDX does)."""
    return (label or "").partition(":")[2] or (label or "")
