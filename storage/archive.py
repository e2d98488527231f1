"""The archive the crawler writes to: WARC records in segments, and an index row per capture once its bytes are durable.

Usage::

    archive = Archive.open(config, run_id=None)            # new run; Archive.open(config, run_id="…") resumes one
    ref = archive.record_fetch(
        url, "GET", request_headers,                       # request headers as sent: [(name, value), …]
        200, "OK", response_headers,                       # as received: order, case and bytes are kept
        payload,                                           # the body bytes (after transfer decoding)
        ip="1.2.3.4", fetched_at=datetime.now(timezone.utc), agency_id="bj-fgw",
        extra_metadata={"listing_title": "…", "listing_date": "2024-01-30"},
    )                                                      # -> CaptureRef(id, record_type, warc_key, offset, …)
    capture = archive.read_capture(ref.id)                 # -> Capture(url, status, headers, payload, …)
    archive.record_resource("urn:screenshot:" + url, png, "image/png", concurrent_to=ref.id)
    pending = archive.stage_fetch(url, "GET", …)            # -> PendingCapture; pending.future -> CaptureRef
    archive.record_error(url, "timeout", "read timed out after 30 s", agency_id="bj-fgw")
    archive.record_coverage(agency_id="bj-fgw", column_url=url, read_at=…, items_read=12, …)
    archive.finish("finished", counts={...})               # or close() to leave the run open

``record_fetch`` writes a ``response`` record, or a ``revisit`` (identical-payload-digest profile) when the newest
earlier capture of the same URL has the same payload digest, or a ``revisit`` with the server-not-modified profile
for a 304 answer when the URL has an earlier 200 capture (its index row then carries that capture's payload digests,
and ``read_capture`` returns that payload), then the ``request`` and a ``metadata`` record (run,
agency, the caller's extra fields, ``truncated``) concurrent to it. Segments roll at ``segment_size`` (default
100 MB) and are uploaded to the object store (``warcs/<run-id>/<segment>.warc.gz``); a segment that cannot be
uploaded now stays in the spool and is retried on the next roll, on close, or by the next ``Archive.open`` (which
first finishes whatever a dead writer left behind, see ``storage.recovery``).

Group commit. An index row is never written before the bytes it points at are durable. ``stage_fetch`` and
``stage_resource`` write the records and hand them to the operating system (readable on this host at once), and
return a :class:`PendingCapture`; the captures staged so far are committed together — one fsync of the segment,
then one catalog transaction with all their rows — when ``commit_records`` of them wait, when ``commit_ms`` passed
since the first of them (a timer thread, so rows appear without further traffic), and before anything else that
must be durable at once: ``commit()``, a fetch error, a coverage row, a roll, ``close`` and ``finish``. Each
pending capture's ``future`` then gives its :class:`CaptureRef`, or the :class:`ArchiveError` that kept it out of
the index (a batch whose fsync fails is cut from the segment; one whose rows fail is indexed when its segment
closes). Lookups see the pending captures too: a revisit
or a 304 of a URL staged a moment before refers to it, and ``validators`` offers its ETag. ``record_fetch`` and
``record_resource`` are the staging call plus a commit: they return once the capture is durable and indexed, for
callers that need its row at once. A process killed while captures wait loses no bytes the kernel got; the next
``Archive.open`` indexes them (``storage.recovery``).

``durability="fsync"`` (the default) fsyncs each batch before its rows are written; ``"os"`` only hands the
bytes to the operating system (fsync when the segment closes): that survives a crash of the process but not of
the machine, where the next open then drops the rows that point past what reached the disk. Use it for bulk
imports and tests.

Header values may be ``bytes`` (stored verbatim) or ``str`` (latin-1 if it fits, else UTF-8). An instance is safe
to share between threads. Bad arguments raise :class:`ArchiveInputError` before anything is written.

The WARCs are the source of truth and the catalog can be rebuilt from them (``storage.reindex``): besides the
captures, what verdicts rest on is written as standalone JSON ``metadata`` records (``SegmentWriter.write_note``),
each durable before its row, as a capture is — a fetch error (``record_error``), a column's coverage
(``record_coverage``) and the end of the run (``finish``); each segment's ``warcinfo`` names the run's start and
settings.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from sqlalchemy.orm import Session

from storage.catalog import Catalog
from storage.catalog import queries
from storage.catalog.models import COLUMN_FOUND_BY, COLUMN_PROBLEMS, FETCH_ERROR_KINDS, RUN_STATUSES
from storage.catalog.models import Capture as CaptureRow
from storage.catalog.models import ColumnCoverage
from storage.config import Config
from storage.facts import capture_facts
from storage.objects import ObjectStore, ObjectStoreError, open_store
from storage.reader import Capture, CaptureReader
from storage.recovery import RecoveryReport, index_segment, recover, scan_segment, upload_segment
from storage.spool import SpoolSegment, new_segment_name, segment_key, spool_writer
from storage.warc import (DEFAULT_COMPRESSLEVEL, NOT_MODIFIED_PROFILE, NOTE_COVERAGE, NOTE_FETCH_ERROR, NOTE_RUN_END,
                          REVISIT_PROFILE, HeaderList, digest_value, http_index_fields, new_record_id,
                          parse_http_head, payload_digest, request_head, response_head, warc_date, written_fields)

log = logging.getLogger(__name__)

DEFAULT_SEGMENT_SIZE = 100 * 1024 * 1024
# Group commit: measured with benchmarks/storage.py (benchmarks/README.md). 32 captures share one fsync and one
# transaction for most of the gain; 200 ms bounds how long a capture waits for its row when pages come slowly.
DEFAULT_COMMIT_RECORDS = 32
DEFAULT_COMMIT_MS = 200.0
DURABILITY = ("fsync", "os")
from storage.facts import RENDERED_DOM_PREFIX, rendered_page_url  # noqa: E402,F401 - where the crawler and web look
COVERAGE_FIELDS = frozenset(ColumnCoverage.__table__.columns.keys()) - {"id", "run_id"}


class ArchiveError(Exception):
    """The archive could not do what was asked; the message says what and why."""


class ArchiveInputError(ArchiveError, ValueError):
    """An argument that cannot be archived; nothing was written."""


@dataclass(frozen=True)
class CaptureRef:
    id: int
    url: str
    record_type: str          # response | revisit | resource
    timestamp: datetime
    status: int | None
    warc_key: str
    offset: int
    length: int
    record_id: str
    payload_sha1: str
    payload_sha256: str
    refers_to: int | None     # for a revisit: the capture holding the payload


def _ref(row: CaptureRow) -> CaptureRef:
    return CaptureRef(id=row.id, url=row.url, record_type=row.record_type, timestamp=row.timestamp, status=row.status,
                      warc_key=row.warc_key, offset=row.offset, length=row.length, record_id=row.record_id,
                      payload_sha1=row.payload_sha1, payload_sha256=row.payload_sha256,
                      refers_to=row.refers_to_capture_id)


@dataclass(eq=False)
class PendingCapture:
    """A capture whose records are in its segment (readable on this host, maybe not yet on disk) and whose index row
    waits for the group commit; ``future`` gives its :class:`CaptureRef` (or the ArchiveError that kept it from
    the index) once the batch is durable and indexed."""

    url: str
    record_id: str            # WARC-Record-ID: names the capture before it has a catalog id
    record_type: str          # response | revisit | resource
    timestamp: datetime
    status: int | None
    warc_key: str
    offset: int
    length: int
    payload_sha1: str
    payload_sha256: str
    payload_length: int
    refers_to: int | None              # for a revisit: the original's capture id, when it was indexed already
    refers_to_record: str | None       # for a revisit: the original's WARC-Record-ID
    etag: str | None = None
    last_modified: str | None = None
    first: bool = False                # a 2xx response with no earlier capture of its URL (see stage_fetch)
    future: Future = field(default_factory=Future, repr=False)
    _fields: dict = field(default_factory=dict, repr=False)         # the index row
    _original: "PendingCapture | None" = field(default=None, repr=False)  # an original in the same batch
    _capture_id: int | None = field(default=None, repr=False)

    @property
    def payload_record_id(self) -> str:
        """The WARC-Record-ID of the record holding the payload: this one, or a revisit's original."""
        return self.refers_to_record or self.record_id

    def result(self, timeout: float | None = None) -> CaptureRef:
        """Wait for the group commit; raises the ArchiveError that kept the capture from the index."""
        return self.future.result(timeout)

    def _row(self) -> dict:
        """The index row; a revisit of a capture of the same batch names its original's id, given by then."""
        if self._original is None:
            return self._fields
        if self._original._capture_id is None:
            raise ArchiveError(f"the original of the revisit {self.record_id} was not indexed")
        return {**self._fields, "refers_to_capture_id": self._original._capture_id}

    def _resolve(self) -> None:
        self.future.set_result(CaptureRef(
            id=self._capture_id, url=self.url, record_type=self.record_type, timestamp=self.timestamp,
            status=self.status, warc_key=self.warc_key, offset=self.offset, length=self.length,
            record_id=self.record_id, payload_sha1=self.payload_sha1, payload_sha256=self.payload_sha256,
            refers_to=self._original._capture_id if self._original is not None else self.refers_to))


@dataclass(eq=False)
class _PendingRow:
    """A catalog row whose WARC note waits in the batch: a fetch error or a column's coverage."""

    insert: Callable[[Session], int]
    future: Future = field(default_factory=Future)
    _row_id: int | None = None

    def _insert(self, session: Session) -> None:
        self._row_id = self.insert(session)

    def _resolve(self) -> None:
        self.future.set_result(self._row_id)


# ---------------------------------------------------------------- argument checks

def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ArchiveInputError(f"url must be a non-empty string, not {url!r}")
    if any(ch in url for ch in "\r\n\x00 "):
        raise ArchiveInputError(f"url contains whitespace or NUL: {url!r} (percent-encode it)")
    return url


def _check_bytes(value: object, name: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ArchiveInputError(f"{name} must be bytes, not {type(value).__name__}")


def _check_headers(headers: object, name: str) -> list[tuple[Any, Any]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        headers = list(headers.items())
    try:
        pairs = [(key, value) for key, value in headers]  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise ArchiveInputError(f"{name} must be a list of (name, value) pairs") from exc
    for key, value in pairs:
        if not isinstance(key, (str, bytes)) or not isinstance(value, (str, bytes)) or not key:
            raise ArchiveInputError(f"{name}: bad header {key!r}: {value!r}")
    return pairs


def _check_status(status: object) -> int:
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        raise ArchiveInputError(f"status must be an HTTP status code (100-999), not {status!r}")
    return status


def _moment(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    if not isinstance(value, datetime):
        raise ArchiveInputError(f"fetched_at must be a datetime, not {type(value).__name__}")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# ---------------------------------------------------------------- the facade

class Archive:
    def __init__(self, config: Config, store: ObjectStore, catalog: Catalog, run_id: str, *,
                 segment_size: int = DEFAULT_SEGMENT_SIZE, compresslevel: int = DEFAULT_COMPRESSLEVEL,
                 owns: bool = False, recovery: RecoveryReport | None = None, durability: str = "fsync",
                 commit_records: int = DEFAULT_COMMIT_RECORDS, commit_ms: float = DEFAULT_COMMIT_MS):
        if durability not in DURABILITY:
            raise ArchiveInputError(f"durability {durability!r}: expected one of {', '.join(DURABILITY)}")
        self.durability = durability
        self.config = config
        self.store = store
        self.catalog = catalog
        self.run_id = run_id
        self.segment_size = max(int(segment_size), 1)
        self.compresslevel = compresslevel
        self.commit_records = max(int(commit_records), 1)
        self.commit_ms = max(float(commit_ms), 0.0)
        self.spool_dir = config.data_dir / "spool"
        self.writer_id = spool_writer(self.spool_dir)
        self.recovery = recovery or RecoveryReport()
        self.reader = CaptureReader(store, catalog, self.spool_dir)
        self._owns = owns
        self._lock = threading.RLock()
        self._segment: SpoolSegment | None = None
        self._unindexed = False       # an index insert failed: re-scan the segment before it is uploaded
        self._pending: list[SpoolSegment] = []
        self._serial = 0
        self._closed = False
        # the group commit: what waits for the next fsync and transaction (under _lock) …
        self._batch: list[PendingCapture | _PendingRow] = []
        self._batch_captures = 0
        self._unsynced_from: tuple[int, int] | None = None   # (offset, records) of the open segment where the
        # bytes not yet fsynced begin
        self._batch_since: float | None = None   # monotonic time the oldest waiting capture was staged
        self._due = threading.Condition(self._lock)
        self._timer: threading.Thread | None = None
        # … and the waiting captures by record id and URL, for lookups from other threads (under _index_lock only:
        # a capture leaves them after its row is committed, so a reader always finds it in one place or the other)
        self._index_lock = threading.Lock()
        self._staged: dict[str, PendingCapture] = {}
        self._staged_urls: dict[str, list[PendingCapture]] = {}
        # hash() of every URL this archive staged a response or revisit of (a collision only costs a lookup)
        self._staged_hashes: set[int] = set()

    @classmethod
    def open(cls, config: Config, run_id: str | None = None, *, settings: Mapping[str, Any] | None = None,
             segment_size: int = DEFAULT_SEGMENT_SIZE, compresslevel: int = DEFAULT_COMPRESSLEVEL,
             store: ObjectStore | None = None, catalog: Catalog | None = None,
             recover_spool: bool = True, durability: str = "fsync", join: bool = False,
             commit_records: int = DEFAULT_COMMIT_RECORDS, commit_ms: float = DEFAULT_COMMIT_MS) -> "Archive":
        """Open the store and catalog, finish what a dead writer left, and start (or resume) a crawl run;
        ``join``: write into the running run ``run_id`` of another process, leaving its row as it is."""
        if durability not in DURABILITY:
            raise ArchiveInputError(f"durability {durability!r}: expected one of {', '.join(DURABILITY)}")
        owns = store is None and catalog is None
        catalog = catalog or Catalog.open(config)
        try:
            store = store or open_store(config)
        except ObjectStoreError:
            if owns:
                catalog.close()
            raise
        spool_dir = config.data_dir / "spool"
        report = recover(store, catalog, spool_dir, spool_writer(spool_dir)) if recover_spool else None
        if report is not None and report.changed:
            log.warning("%s", report.summary())
        try:
            with catalog.session() as session:
                if join:
                    run = queries.get_run(session, run_id) if run_id else None
                    if run is None or run.status != "running":
                        ended = f"已结束（{run.status}）" if run is not None else "不在本机的目录数据库中"
                        raise ValueError(f"运行 {run_id} {ended}，工作进程无法加入（运行已结束，或本机的 "
                                         f"XXGK_DATABASE_URL 与协调进程的不是同一个目录）")
                else:
                    run = queries.start_run(session, run_id, settings=settings)
        except ValueError as exc:
            if owns:
                store.close()
                catalog.close()
            raise ArchiveInputError(str(exc)) from exc
        return cls(config, store, catalog, run.id, segment_size=segment_size, compresslevel=compresslevel,
                   owns=owns, recovery=report, durability=durability, commit_records=commit_records,
                   commit_ms=commit_ms)

    # -- writing

    def record_fetch(self, url: str, method: str, request_headers: HeaderList | None, status: int,
                     reason: str | bytes | None, response_headers: HeaderList | None, payload: bytes,
                     ip: str | None = None, fetched_at: datetime | None = None, agency_id: str | None = None,
                     extra_metadata: Mapping[str, Any] | None = None, *, protocol: str = "HTTP/1.1",
                     request_body: bytes = b"", truncated: str | None = None) -> CaptureRef:
        """Archive one HTTP exchange and index it; returns once it is durable and readable."""
        return self._committed(self.stage_fetch(
            url, method, request_headers, status, reason, response_headers, payload, ip=ip, fetched_at=fetched_at,
            agency_id=agency_id, extra_metadata=extra_metadata, protocol=protocol, request_body=request_body,
            truncated=truncated))

    def stage_fetch(self, url: str, method: str, request_headers: HeaderList | None, status: int,
                    reason: str | bytes | None, response_headers: HeaderList | None, payload: bytes,
                    ip: str | None = None, fetched_at: datetime | None = None, agency_id: str | None = None,
                    extra_metadata: Mapping[str, Any] | None = None, *, protocol: str = "HTTP/1.1",
                    request_body: bytes = b"", truncated: str | None = None, unseen: bool = False) -> PendingCapture:
        """Archive one HTTP exchange; its index row follows at the next group commit (see the module docstring).

        ``unseen``: the caller asked :meth:`request_facts` when it sent the request and heard that the archive had
        no capture of ``url``; unless this archive staged one since, no earlier capture is looked up (to make a
        revisit of) and the capture, if a 2xx response, is marked ``first``. A capture of the same URL that another
        process made meanwhile then only costs a response record where a revisit would do."""
        url = _check_url(url)
        payload = _check_bytes(payload, "payload")
        request_body = _check_bytes(request_body, "request_body")
        status = _check_status(status)
        if not isinstance(method, str) or not method.isalpha():
            raise ArchiveInputError(f"method must be an HTTP method name, not {method!r}")
        if not isinstance(protocol, str) or not protocol.startswith("HTTP/"):
            raise ArchiveInputError(f"protocol must look like HTTP/1.1, not {protocol!r}")
        moment = _moment(fetched_at)
        head = response_head(protocol, status, reason or "", _check_headers(response_headers, "response_headers"))
        sent = request_head(method, url, _check_headers(request_headers, "request_headers"), protocol)
        digest = payload_digest(payload)
        sha1 = digest_value(digest)
        sha256 = hashlib.sha256(payload).hexdigest()
        date = warc_date(moment)
        fields = self._metadata_fields(agency_id, extra_metadata, truncated)
        index_fields = http_index_fields(parse_http_head(head)[0])
        record_id = new_record_id()
        with self._lock:
            segment = self._open_segment()
            with self._index_lock:
                unseen = unseen and hash(url) not in self._staged_hashes
            if unseen:
                not_modified = original = None  # nothing earlier to confirm or to point a revisit at
            else:
                not_modified = self._not_modified_original(url, moment) if status == 304 else None
                original = (not_modified if not_modified is not None
                            else self._revisit_original(url, sha1, moment, payload))
            if not_modified is not None:
                # the payload the 304 confirms is the original's: index and digest name it, not the empty body
                sha1, sha256 = not_modified.payload_sha1, not_modified.payload_sha256
                digest, payload_length = f"sha1:{sha1}", not_modified.payload_length
            else:
                payload_length = len(payload)

            def write(writer):
                if original is not None:
                    primary = writer.write_revisit(url, head, date, refers_to=original.record_id,
                                                   refers_to_url=original.url,
                                                   refers_to_date=warc_date(original.timestamp),
                                                   digest=digest, record_id=record_id, ip=ip,
                                                   profile=NOT_MODIFIED_PROFILE if not_modified else REVISIT_PROFILE)
                else:
                    primary = writer.write_response(url, head, payload, date, record_id=record_id, ip=ip,
                                                    truncated=truncated, digest=digest)
                return [primary,
                        writer.write_request(url, sent, request_body, date, concurrent_to=record_id),
                        writer.write_metadata(url, fields, date, concurrent_to=record_id)]

            written = self._write(segment, write)
            record_type = written[0].record_type
            facts = capture_facts(written_fields(fields), record_type=record_type, url=url, mime=index_fields["mime"],
                                  payload=payload, headers=response_headers or ())
            staged_original = original if isinstance(original, PendingCapture) else None
            refers_to = original.id if original is not None and staged_original is None else None
            pending = PendingCapture(
                url=url, record_id=record_id, record_type=record_type, timestamp=moment, status=status,
                warc_key=segment.key, offset=written[0].offset, length=written[0].length, payload_sha1=sha1,
                payload_sha256=sha256, payload_length=payload_length, refers_to=refers_to,
                refers_to_record=original.record_id if original is not None else None,
                etag=index_fields["etag"], last_modified=index_fields["last_modified"],
                first=unseen and record_type == "response" and 200 <= status < 300,
                _original=staged_original, _fields=dict(
                    url=url, timestamp=moment, record_type=record_type, warc_key=segment.key,
                    offset=written[0].offset, length=written[0].length,
                    group_length=sum(record.length for record in written), record_id=record_id,
                    payload_sha1=sha1, payload_sha256=sha256, payload_length=payload_length, run_id=self.run_id,
                    status=status, refers_to_capture_id=refers_to, agency_id=agency_id, ip=ip, truncated=truncated,
                    **index_fields, **facts))
            self._stage(pending)
        return pending

    def record_resource(self, url: str, payload: bytes, content_type: str, *, fetched_at: datetime | None = None,
                        agency_id: str | None = None, concurrent_to: int | None = None,
                        extra_metadata: Mapping[str, Any] | None = None) -> CaptureRef:
        """Archive something the crawler made itself (a browser screenshot, a rendered DOM) as a resource record,
        and index it; returns once it is durable and readable.

        ``concurrent_to`` is the capture id of the page it belongs to.
        """
        return self._committed(self.stage_resource(url, payload, content_type, fetched_at=fetched_at,
                                                   agency_id=agency_id, concurrent_to=concurrent_to,
                                                   extra_metadata=extra_metadata))

    def stage_resource(self, url: str, payload: bytes, content_type: str, *, fetched_at: datetime | None = None,
                       agency_id: str | None = None, concurrent_to: int | None = None,
                       extra_metadata: Mapping[str, Any] | None = None) -> PendingCapture:
        """:meth:`record_resource` whose index row follows at the next group commit."""
        url = _check_url(url)
        payload = _check_bytes(payload, "payload")
        if not isinstance(content_type, str) or not content_type.strip() or "\n" in content_type:
            raise ArchiveInputError(f"content_type must be a MIME type, not {content_type!r}")
        moment = _moment(fetched_at)
        related = None
        if concurrent_to is not None:
            with self.catalog.connection() as connection:
                page = queries.capture_row(connection, concurrent_to)
            if page is None:
                raise ArchiveInputError(f"concurrent_to: no capture {concurrent_to}")
            related = page.record_id
        digest = payload_digest(payload)
        sha256 = hashlib.sha256(payload).hexdigest()
        date = warc_date(moment)
        fields = self._metadata_fields(agency_id, extra_metadata, None)
        if concurrent_to is not None:
            fields.append(("concurrent-to-capture", str(concurrent_to)))
        record_id = new_record_id()
        with self._lock:
            segment = self._open_segment()

            def write(writer):
                return [writer.write_resource(url, content_type, payload, date, record_id=record_id,
                                              concurrent_to=related, digest=digest),
                        writer.write_metadata(url, fields, date, concurrent_to=record_id)]

            written = self._write(segment, write)
            pending = PendingCapture(
                url=url, record_id=record_id, record_type="resource", timestamp=moment, status=None,
                warc_key=segment.key, offset=written[0].offset, length=written[0].length,
                payload_sha1=digest_value(digest), payload_sha256=sha256, payload_length=len(payload),
                refers_to=None, refers_to_record=None, _fields=dict(
                    url=url, timestamp=moment, record_type="resource", warc_key=segment.key,
                    offset=written[0].offset, length=written[0].length,
                    group_length=sum(record.length for record in written), record_id=record_id,
                    payload_sha1=digest_value(digest), payload_sha256=sha256, payload_length=len(payload),
                    run_id=self.run_id, status=None, mime=content_type, agency_id=agency_id, ip=None, etag=None,
                    last_modified=None, truncated=None,
                    **capture_facts(written_fields(fields), record_type="resource", url=url, mime=content_type,
                                    payload=payload, concurrent_to=concurrent_to)))
            self._stage(pending)
        return pending

    def record_error(self, url: str, kind: str, message: str, agency_id: str | None = None,
                     at: datetime | None = None) -> int:
        """Note a fetch that produced no response (dns, timeout, tls, reset, http, robots, size, redirect_loop,
        other); returns the error's id. The 已删除 flag and the column coverage rest on it: it goes into the WARC
        first, and its row is committed at once (with every capture waiting)."""
        row = self.stage_error(url, kind, message, agency_id, at)
        self.commit()
        return row.future.result()

    def stage_error(self, url: str, kind: str, message: str, agency_id: str | None = None,
                    at: datetime | None = None) -> "_PendingRow":
        """:meth:`record_error` whose row follows at the next group commit, as a capture's does (a crawl of many
        unreachable portals waited for an fsync per error: ~30 errors a second); its ``future`` gives the id."""
        if kind not in FETCH_ERROR_KINDS:
            raise ArchiveInputError(f"fetch error kind {kind!r}: expected one of {', '.join(FETCH_ERROR_KINDS)}")
        url, message, moment = str(url), str(message), _moment(at)
        note = {"xxgk": NOTE_FETCH_ERROR, "run_id": self.run_id, "url": url, "kind": kind, "message": message,
                "agency_id": agency_id, "at": moment.isoformat()}
        row = _PendingRow(lambda session: queries.add_error(session, url, kind, message, run_id=self.run_id,
                                                            agency_id=agency_id, at=moment).id)
        with self._lock:
            self._write_note(note, moment)
            self._batch.append(row)
            self._batch_due()
        return row

    def record_coverage(self, *, capture_record_id: str | None = None, **fields: Any) -> int:
        """Keep what this run read of one agency's report column (the fields of ``models.ColumnCoverage`` but
        ``id`` and ``run_id``; the column's first page may be named by its WARC-Record-ID instead of
        ``capture_id``); returns the row's id. A verdict of 未发布 rests on it: the WARC gets it first."""
        unknown = set(fields) - COVERAGE_FIELDS
        if unknown:
            raise ArchiveInputError(f"record_coverage: unknown field(s) {', '.join(sorted(unknown))}")
        if not fields.get("agency_id"):
            raise ArchiveInputError("record_coverage needs an agency_id")
        if fields.get("problem") is not None and fields["problem"] not in COLUMN_PROBLEMS:
            raise ArchiveInputError(f"coverage problem {fields['problem']!r}: expected one of "
                                    f"{', '.join(COLUMN_PROBLEMS)}")
        if fields.get("found_by") is not None and fields["found_by"] not in COLUMN_FOUND_BY:
            raise ArchiveInputError(f"coverage found_by {fields['found_by']!r}: expected one of "
                                    f"{', '.join(COLUMN_FOUND_BY)}")
        row = {**fields, "read_at": _moment(fields.get("read_at"))}
        if row.get("capture_id") is None and capture_record_id is not None:
            if self.staged(capture_record_id) is not None:
                self.commit()  # the page's row is still waiting: the coverage row names its id
            row["capture_id"] = self.capture_id(capture_record_id)
        page = None
        if row.get("capture_id") is not None:
            with self.catalog.connection() as connection:
                page = queries.capture_row(connection, row["capture_id"])
        # capture ids are the catalog's: the record id names the capture in a rebuilt catalog too
        note = {"xxgk": NOTE_COVERAGE, "run_id": self.run_id, **row, "read_at": row["read_at"].isoformat(),
                "capture_record_id": page.record_id if page is not None else None}
        pending = _PendingRow(lambda session: queries.add_coverage(session, run_id=self.run_id, **row).id)
        return self._note_with_row(note, row["read_at"], pending)

    def _note_with_row(self, note: Mapping[str, Any], moment: datetime, row: _PendingRow) -> int:
        """A JSON note and the catalog row it stands for, committed at once with whatever waits."""
        with self._lock:
            self._write_note(note, moment)
            self._batch.append(row)
            self._commit()
            self._roll_if_full()
        return row.future.result()

    def _write_note(self, note: Mapping[str, Any], moment: datetime) -> None:
        """A standalone JSON metadata record (filed under a URN of its own), durable at the next commit."""
        date = warc_date(moment)
        segment = self._open_segment()
        self._write(segment, lambda writer: [writer.write_note(note, date)])

    # -- the group commit

    def commit(self) -> None:
        """Make everything written so far durable (one fsync, as ``durability`` says) and write the rows that
        wait for it (one transaction). A failure is logged and handed to the waiting captures' futures."""
        with self._lock:
            self._commit()

    def staged(self, record_id: str) -> PendingCapture | None:
        """The capture named by its WARC-Record-ID while its row waits for a group commit; None once it is
        indexed (or when this archive did not write it)."""
        with self._index_lock:
            return self._staged.get(record_id)

    def capture_id(self, record_id: str) -> int | None:
        """The catalog id of the indexed capture named by its WARC-Record-ID."""
        with self.catalog.connection() as connection:
            return queries.capture_id_of_record(connection, record_id)

    def _committed(self, pending: PendingCapture) -> CaptureRef:
        with self._lock:
            self._commit()
        return pending.result()

    def _stage(self, pending: PendingCapture) -> None:
        """Keep a written capture for the next group commit (under ``_lock``)."""
        with self._index_lock:
            self._staged[pending.record_id] = pending
            if pending.record_type != "resource":
                self._staged_urls.setdefault(pending.url, []).append(pending)
                self._staged_hashes.add(hash(pending.url))
        self._batch.append(pending)
        self._batch_due()

    def _batch_due(self) -> None:
        """One more entry in the batch (under ``_lock``): committed when the batch is full, else by the timer."""
        self._batch_captures += 1
        if self._batch_since is None:
            self._batch_since = time.monotonic()
            self._start_timer()
            self._due.notify()
        if self._batch_captures >= self.commit_records or self.commit_ms <= 0:
            self._commit()
        self._roll_if_full()

    def _commit(self) -> None:
        """One fsync of the open segment, then one transaction for every row of the batch (under ``_lock``)."""
        batch, self._batch, self._batch_captures = self._batch, [], 0
        start, self._unsynced_from = self._unsynced_from, None
        self._batch_since = None
        if start is None:
            return
        segment = self._segment
        offset, records = start
        captures = [entry for entry in batch if isinstance(entry, PendingCapture)]
        try:
            try:
                if self.durability == "fsync":
                    segment.sync_to_disk()
            except OSError as exc:
                # never durable, so never indexed: the batch goes as a single failed write would
                segment.cut_back(offset)
                segment.records = records
                self._fail(batch, ArchiveError(f"cannot make {segment.path} durable ({exc}); the last "
                                               f"{len(batch)} capture(s) and note(s) written to it were dropped"))
                return
            try:
                with self.catalog.session() as session:
                    self._insert(session, batch)
            except Exception as exc:  # noqa: BLE001 - every waiting capture hears why
                self._unindexed = True
                for entry in captures:
                    entry._capture_id = None
                self._fail(batch, ArchiveError(
                    f"{len(batch)} record group(s) are safe in {segment.key} but their catalog rows failed "
                    f"({type(exc).__name__}: {exc}); the {len(captures)} capture(s) among them are indexed when the "
                    f"segment closes"))
                return
            segment.captures += len(captures)
            for entry in batch:
                entry._resolve()
        finally:
            with self._index_lock:
                for entry in captures:
                    self._staged.pop(entry.record_id, None)
                    same_url = self._staged_urls.get(entry.url)
                    if same_url is not None and entry in same_url:
                        same_url.remove(entry)
                        if not same_url:
                            del self._staged_urls[entry.url]

    @staticmethod
    def _insert(session: Session, batch: list) -> None:
        """The batch's rows in order: runs of captures in one multi-row statement each, cut before a revisit whose
        original is in the same run (it needs that id) and at each note's row."""
        run: list[PendingCapture] = []

        def flush() -> None:
            for entry, capture_id in zip(run, queries.insert_captures(session, [entry._row() for entry in run])):
                entry._capture_id = capture_id
            run.clear()

        for entry in batch:
            if isinstance(entry, PendingCapture) and (entry._original is None or entry._original not in run):
                run.append(entry)
                continue
            flush()
            if isinstance(entry, PendingCapture):
                run.append(entry)
            else:
                entry._insert(session)
        flush()

    def _fail(self, batch: list, error: ArchiveError) -> None:
        log.error("%s", error)
        for entry in batch:
            entry.future.set_exception(error)

    def _start_timer(self) -> None:
        if self._timer is None and self.commit_ms > 0:
            self._timer = threading.Thread(target=self._commit_when_due, name="xxgk-archive-commit", daemon=True)
            self._timer.start()

    def _commit_when_due(self) -> None:
        """The timer thread: commits a batch ``commit_ms`` after its first capture, however few followed it."""
        with self._due:
            while not self._closed:
                if self._batch_since is None:
                    self._due.wait()
                    continue
                left = self._batch_since + self.commit_ms / 1000 - time.monotonic()
                if left > 0:
                    self._due.wait(left)
                    continue
                try:
                    self._commit()
                except Exception:  # noqa: BLE001 - the timer must outlive a bad batch, or rows would stop coming
                    log.exception("the timed group commit of %s failed", self.run_id)

    # -- reading

    def read_capture(self, capture_id: int, *, digests: bool = False) -> Capture:
        """The capture as fetched (a revisit resolved to its original's payload); ``digests=True`` re-checks the
        WARC digests too, beyond the gzip CRC that every read checks."""
        return self.reader.read(capture_id, digests=digests)

    def latest_capture(self, url: str) -> CaptureRef | None:
        """The newest indexed capture of ``url`` (its row carries ETag/Last-Modified for a conditional GET)."""
        with self.catalog.connection() as connection:
            row = queries.latest_capture_row(connection, url)
        return _ref(row) if row is not None else None

    def request_facts(self, url: str) -> tuple[dict[str, str], bool]:
        """What a request for ``url`` needs from the archive, in one look: its :meth:`validators`, and whether any
        capture of ``url`` is indexed or waiting for its group commit (False: pass ``unseen=True`` to
        :meth:`stage_fetch` with the answer, which then looks nothing up again)."""
        latest = self._latest(url, None)
        if latest is None:
            return {}, False
        return self._validators_of(latest if latest.status == 200 else self._latest(url, None, status=200)), True

    def validators(self, url: str) -> dict[str, str]:
        """Headers for a conditional GET of ``url`` from its newest successful capture, indexed or waiting for
        its group commit ({} if none, or if that capture is still in another machine's spool)."""
        return self._validators_of(self._latest(url, None, status=200))

    def _validators_of(self, latest) -> dict[str, str]:
        if latest is None:
            return {}
        headers = {}
        if latest.etag:
            headers["If-None-Match"] = latest.etag
        if latest.last_modified:
            headers["If-Modified-Since"] = latest.last_modified
        if headers and not isinstance(latest, PendingCapture) and latest.run_id == self.run_id:
            # a 304 confirms bytes this process must then read: another machine of the run captured the URL a
            # moment ago and its segment is not uploaded yet, so ask in full once instead of twice (earlier runs'
            # segments are uploaded but for a dead writer's: a lookup per recrawled URL is not worth that rare case,
            # whose 304 is fetched again in full)
            with self.catalog.connection() as connection:
                if queries.held_in_other_spool(connection, latest.warc_key, self.writer_id):
                    return {}
        return headers

    # -- segments

    def _metadata_fields(self, agency_id: str | None, extra: Mapping[str, Any] | None,
                         truncated: str | None) -> list[tuple[str, Any]]:
        fields: list[tuple[str, Any]] = [("run-id", self.run_id), ("agency-id", agency_id),
                                         ("truncated", truncated)]
        reserved = {name for name, _ in fields}
        if extra is not None and not isinstance(extra, Mapping):
            raise ArchiveInputError("extra_metadata must be a mapping of field names to values")
        for name, value in (extra or {}).items():
            if str(name) not in reserved:
                fields.append((str(name), value))
        return fields

    def _latest(self, url: str, before: datetime | None, *, status: int | None = None):
        """The newest capture of ``url`` (at or before ``before``): a catalog row, or a capture still waiting for
        its row, which is newer than any row of the same moment."""
        with self._index_lock:
            waiting = [pending for pending in self._staged_urls.get(url, ())
                       if (before is None or pending.timestamp <= before)
                       and (status is None or pending.status == status)]
        staged = max(reversed(waiting), key=lambda pending: pending.timestamp) if waiting else None
        with self.catalog.connection() as connection:
            row = queries.latest_capture_row(connection, url, before=before, status=status)
        if staged is not None and (row is None or staged.timestamp >= row.timestamp):
            return staged
        return row

    def _holding_payload(self, latest):
        """The record holding ``latest``'s payload: itself, or a revisit's original (row or waiting capture)."""
        if latest is None or latest.record_type != "revisit":
            return latest
        if isinstance(latest, PendingCapture):
            if latest._original is not None:
                return latest._original
            original_id = latest.refers_to
        else:
            original_id = latest.refers_to_capture_id
        with self.catalog.connection() as connection:
            return queries.capture_row(connection, original_id)

    def _revisit_original(self, url: str, sha1: str, moment: datetime, payload: bytes):
        if not payload:
            return None  # nothing to deduplicate
        latest = self._latest(url, moment)
        if latest is None or latest.payload_sha1 != sha1:
            return None
        return self._holding_payload(latest)

    def _not_modified_original(self, url: str, moment: datetime):
        """The capture a 304 for ``url`` confirms: the newest earlier 200, resolved to the record with its payload."""
        return self._holding_payload(self._latest(url, moment, status=200))

    def _open_segment(self) -> SpoolSegment:
        if self._closed:
            raise ArchiveError("the archive is closed")
        if self._segment is not None:
            return self._segment
        self._serial += 1
        key = segment_key(self.run_id, new_segment_name(self._serial))
        with self.catalog.reading() as session:
            run = queries.get_run(session, self.run_id)
        # what a rebuilt catalog needs to re-create the run row (its end is a note written by finish)
        warcinfo = {"isPartOf": self.run_id, "run-id": self.run_id, "hostname": self.writer_id,
                    "run-started-at": run.started_at.isoformat() if run is not None else None,
                    "run-settings": dict(run.settings or {}) if run is not None else None}
        try:
            # the locked file exists before its row: recovery never mistakes a starting segment for a lost one
            segment = SpoolSegment.create(self.spool_dir, key, warcinfo, self.compresslevel,
                                          sync=self.durability == "fsync")
        except OSError as exc:
            raise ArchiveError(f"cannot create a WARC segment in {self.spool_dir}: {exc}") from exc
        try:
            with self.catalog.session() as session:
                queries.add_segment(session, key, self.run_id, self.writer_id)
        except Exception:
            segment.close()
            segment.path.unlink(missing_ok=True)
            raise
        self._segment = segment
        self._unindexed = False
        return segment

    def _write(self, segment: SpoolSegment, write) -> list:
        """Append a record group, handed to the operating system but not fsynced: the next commit does that."""
        start = (segment.size, segment.records)
        try:
            written = segment.write_group(write, sync=False)
        except OSError as exc:
            raise ArchiveError(f"cannot write to {segment.path}: {exc}; nothing of this capture was kept") from exc
        if self._unsynced_from is None:
            self._unsynced_from = start
        return written

    def _roll_if_full(self) -> None:
        if self._segment is not None and self._segment.size >= self.segment_size:
            self.roll()

    def roll(self) -> str | None:
        """Commit what waits, close the current segment and upload it (also retrying earlier failed uploads);
        returns its key."""
        with self._lock:
            self._commit()
            segment, self._segment = self._segment, None
            if segment is not None:
                self._seal(segment)
            self._upload_pending()
            return segment.key if segment is not None else None

    def _seal(self, segment: SpoolSegment) -> None:
        if self._unindexed:
            with open(segment.path, "rb") as handle:
                records, _end, _error = scan_segment(handle)
            with self.catalog.session() as session:
                index_segment(session, segment.key, self.run_id, records)
            self._unindexed = False
        if segment.captures == 0 and segment.records <= 1:
            # only the warcinfo record: nothing worth keeping
            segment.close()
            segment.path.unlink(missing_ok=True)
            with self.catalog.session() as session:
                queries.remove_segment(session, segment.key)
            return
        segment.sync_to_disk()
        with self.catalog.session() as session:
            queries.mark_segment(session, segment.key, "sealed", size=segment.size, records=segment.records)
        self._pending.append(segment)

    def _upload_pending(self) -> None:
        still: list[SpoolSegment] = []
        for segment in self._pending:
            try:
                upload_segment(self.store, self.catalog, segment.key, segment.path, self.run_id, segment.records)
            except ObjectStoreError as exc:
                log.warning("%s stays in the spool for now: %s", segment.key, exc)
                still.append(segment)
                continue
            segment.close()
        self._pending = still

    # -- ending

    def close(self) -> None:
        """Commit what waits and upload the open segment; a segment the store refuses now stays spooled for the
        next open."""
        with self._lock:
            if self._closed:
                return
            try:
                self.roll()
            finally:
                for segment in self._pending:
                    segment.close()  # unlocked: the next Archive.open uploads it
                self._pending = []
                self._closed = True
                self._due.notify_all()  # the timer thread ends once it gets the lock back
                if self._owns:
                    self.store.close()
                    self.catalog.close()

    def finish(self, status: str = "finished", counts: Mapping[str, Any] | None = None) -> None:
        """Close the archive and mark the crawl run finished (or failed/interrupted)."""
        if status not in RUN_STATUSES:
            raise ArchiveInputError(f"run status {status!r}: expected one of {', '.join(RUN_STATUSES)}")
        with self._lock:
            finished_at = datetime.now(timezone.utc)
            note = {"xxgk": NOTE_RUN_END, "run_id": self.run_id, "status": status,
                    "finished_at": finished_at.isoformat(), "counts": dict(counts) if counts is not None else None}
            try:
                self._write_note(note, finished_at)
            except ArchiveError as exc:  # the run is still finished in the catalog; only a rebuild would miss it
                log.warning("run %s: its end could not be written to the WARC: %s", self.run_id, exc)
            self.roll()
            if self._pending:
                log.warning("run %s finishes with %d segment(s) still in the spool", self.run_id, len(self._pending))
            with self.catalog.session() as session:
                queries.finish_run(session, self.run_id, status=status, counts=counts, finished_at=finished_at)
            self.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def open_reader(config: Config, *, store: ObjectStore | None = None,
                catalog: Catalog | None = None) -> CaptureReader:
    """A reader for the web UI and the CLI, which read captures without starting a run."""
    own_catalog = catalog is None
    catalog = catalog or Catalog.open(config, create=False)
    try:
        store = store or open_store(config, create_bucket=False)
    except ObjectStoreError:
        if own_catalog:
            catalog.close()
        raise
    return CaptureReader(store, catalog, Path(config.data_dir) / "spool")
