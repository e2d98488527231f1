"""Reading a capture back: one ranged read of its record group, parsed and checked against the index.

The bytes come from the spool while the segment is still being written or waits for upload, from the object store
afterwards. A revisit record carries the headers of its own fetch and resolves to its original's payload.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from storage.catalog import Catalog
from storage.content import content_or_payload
from storage.catalog import queries
from storage.catalog.models import Capture as CaptureRow
from storage.objects import ObjectNotFound, ObjectRangeError, ObjectStore
from storage.spool import read_spooled, spool_path
from storage.warc import WarcFormatError, WarcRecord, read_members
from parsers.headers import header_value


class CaptureError(Exception):
    """A capture could not be read; the message names the capture and what is wrong."""


class CaptureNotFound(CaptureError, LookupError):
    pass


class CaptureMissing(CaptureError):
    """The index knows the capture but its WARC segment is not in the store."""


class CaptureCorrupt(CaptureError):
    """The bytes at the indexed place are not the indexed record, or fail their digests."""


@dataclass(frozen=True)
class Capture:
    id: int
    url: str
    record_type: str                          # response | revisit | resource
    fetched_at: datetime
    status: int | None
    reason: str | None
    protocol: str | None
    headers: list[tuple[str, str]]            # as received, in order; values decoded latin-1 (byte-preserving)
    raw_headers: list[tuple[bytes, bytes]]
    http_head: bytes                          # the exact head bytes (status line, headers, blank line)
    payload: bytes                            # for a revisit: the original's payload
    mime: str | None
    payload_sha1: str                         # base32, without the "sha1:" label
    payload_sha256: str
    block_digest: str | None
    record_id: str
    refers_to: int | None                     # capture id of the original, for a revisit
    ip: str | None
    truncated: str | None
    run_id: str
    agency_id: str | None
    warc_key: str
    offset: int
    length: int
    metadata: dict[str, str] = field(default_factory=dict)
    request_head: bytes | None = None
    # the headers the payload was served with: a revisit's own (a 304's say nothing of the body) or its original's
    payload_headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def content(self) -> bytes:
        """The page itself: the payload with its Content-Encoding undone (as stored when it does not decode).
        The payload stays what the server sent, which the digests and a download of the original name."""
        return content_or_payload(self.payload_headers, self.payload)


class CaptureReader:
    def __init__(self, store: ObjectStore, catalog: Catalog, spool_dir: Path):
        self.store = store
        self.catalog = catalog
        self.spool_dir = Path(spool_dir)

    def span(self, key: str, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length) of a segment, from the spool if it is still there, else the store."""
        spooled = read_spooled(spool_path(self.spool_dir, key), offset, length)
        if spooled is not None and len(spooled) == length:
            return spooled
        return self.store.get_range(key, offset, length)

    def segment(self, key: str) -> bytes:
        """A whole segment, from the spool if it is still there, else the store (a segment still being written
        ends wherever its writer is: readers of it keep to its complete records)."""
        try:
            return spool_path(self.spool_dir, key).read_bytes()
        except FileNotFoundError:
            return self.store.get_bytes(key)

    def read(self, capture_id: int, *, digests: bool = False) -> Capture:
        with self.catalog.connection() as connection:
            row = queries.capture_row(connection, capture_id)
        if row is None:
            raise CaptureNotFound(f"no capture {capture_id} in the catalog")
        return self.read_row(row, digests=digests)

    def group(self, row: CaptureRow, *, digests: bool = True) -> list[tuple[int, int, WarcRecord]]:
        """The capture's records (primary first, then its request/metadata), checked against the index."""
        return self.checked_span(row, digests=digests)[1]

    def checked_span(self, row: CaptureRow, *, digests: bool = True) -> tuple[bytes, list[tuple[int, int, WarcRecord]]]:
        """The stored bytes of the capture's record group and the records in them, checked against the index.

        The gzip CRC of every member is always checked; ``digests`` also recomputes the WARC block and payload
        digests and the payload sha256 (what ``verify`` does; a plain read trusts the CRC).
        """
        try:
            data = self.span(row.warc_key, row.offset, row.group_length)
        except ObjectNotFound as exc:
            raise CaptureMissing(f"capture {row.id}: WARC segment {row.warc_key} is missing "
                                 f"from {self.store.location}") from exc
        except ObjectRangeError as exc:
            raise CaptureCorrupt(f"capture {row.id}: {row.warc_key} is shorter than the index says ({exc})") from exc
        try:
            records = read_members(data, row.offset)
        except WarcFormatError as exc:
            raise CaptureCorrupt(f"capture {row.id}: {exc}") from exc
        offset, length, primary = records[0]
        if primary.record_id != row.record_id or length != row.length:
            raise CaptureCorrupt(f"capture {row.id}: offset {row.offset} of {row.warc_key} holds "
                                 f"{primary.record_id or 'no record'}, not {row.record_id}")
        for _offset, _length, record in records if digests else ():
            problems = record.problems()
            if problems:
                raise CaptureCorrupt(f"capture {row.id}: {record.record_type} record at {_offset}: {'; '.join(problems)}")
        if primary.target_uri != row.url:
            raise CaptureCorrupt(f"capture {row.id}: record is for {primary.target_uri}, index says {row.url}")
        if digests and row.record_type != "revisit" and hashlib.sha256(primary.payload).hexdigest() != row.payload_sha256:
            raise CaptureCorrupt(f"capture {row.id}: payload sha256 differs from the index")
        return data, records

    def read_row(self, row: CaptureRow, *, digests: bool = False) -> Capture:
        """The capture as fetched; ``digests=True`` also re-checks every digest (see :meth:`checked_span`)."""
        records = self.group(row, digests=digests)
        primary = records[0][2]
        payload = primary.payload
        http = primary.http
        payload_headers = http.text_headers() if http else []
        if row.record_type == "revisit":
            original = self._original(row, digests)
            payload, payload_headers = original.payload, original.payload_headers
            if original.payload_sha1 != row.payload_sha1:
                raise CaptureCorrupt(f"capture {row.id}: revisit digest differs from its original {original.id}")
        metadata: dict[str, str] = {}
        request_head = None
        for _offset, _length, record in records[1:]:
            if primary.record_id not in record.concurrent_to:
                continue
            if record.record_type == "metadata":
                metadata.update(record.fields())
            elif record.record_type == "request" and record.http is not None:
                request_head = record.http.raw
        return Capture(
            id=row.id, url=row.url, record_type=row.record_type, fetched_at=primary.date,
            status=http.status if http else None,
            reason=http.first_line[2] if http else None,
            protocol=http.first_line[0] if http else None,
            headers=http.text_headers() if http else [],
            raw_headers=list(http.headers) if http else [],
            http_head=http.raw if http else b"",
            payload=payload, mime=row.mime, payload_sha1=row.payload_sha1, payload_sha256=row.payload_sha256,
            block_digest=primary.header("WARC-Block-Digest"), record_id=row.record_id,
            refers_to=row.refers_to_capture_id, ip=primary.header("WARC-IP-Address"),
            truncated=primary.header("WARC-Truncated"), run_id=row.run_id, agency_id=row.agency_id,
            warc_key=row.warc_key, offset=row.offset, length=row.length, metadata=metadata,
            request_head=request_head, payload_headers=payload_headers,
        )

    def _original(self, row: CaptureRow, digests: bool) -> Capture:
        if row.refers_to_capture_id is None:
            raise CaptureCorrupt(f"capture {row.id}: revisit without an original in the index")
        with self.catalog.connection() as connection:
            original = queries.capture_row(connection, row.refers_to_capture_id)
        if original is None:
            raise CaptureCorrupt(f"capture {row.id}: its original {row.refers_to_capture_id} is gone from the index")
        if original.record_type == "revisit":
            raise CaptureCorrupt(f"capture {row.id}: refers to another revisit ({original.id})")
        return self.read_row(original, digests=digests)
