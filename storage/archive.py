"""The archive the crawler writes to: WARC records in segments, an index row per capture, all in one call.

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
    archive.record_error(url, "timeout", "read timed out after 30 s", agency_id="bj-fgw")
    archive.record_coverage(agency_id="bj-fgw", column_url=url, read_at=…, items_read=12, …)
    archive.finish("finished", counts={...})               # or close() to leave the run open

``record_fetch`` writes a ``response`` record, or a ``revisit`` (identical-payload-digest profile) when the newest
earlier capture of the same URL has the same payload digest, or a ``revisit`` with the server-not-modified profile
for a 304 answer when the URL has an earlier 200 capture (its index row then carries that capture's payload digests,
and ``read_capture`` returns that payload), then the ``request`` and a ``metadata`` record (run,
agency, the caller's extra fields, ``truncated``) concurrent to it. The group is fsynced before its index row is
written, so every row points at durable bytes; the returned capture can be read at once, from the spool until its
segment is uploaded. Segments roll at ``segment_size`` (default 100 MB) and are uploaded to the object store
(``warcs/<run-id>/<segment>.warc.gz``); a segment that cannot be uploaded now stays in the spool and is retried on
the next roll, on close, or by the next ``Archive.open`` (which first finishes whatever a dead writer left behind,
see ``storage.recovery``).

``durability="fsync"`` (the default) fsyncs every record group before its row is written; ``"os"`` only hands
the bytes to the operating system (fsync when the segment closes): that survives a crash of the process but not of
the machine, where the next open then drops the rows that point past what reached the disk. Use it for bulk
imports and tests, where a few ms per capture matter.

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
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

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
DURABILITY = ("fsync", "os")
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


def _note_uri(text: str) -> str:
    """A WARC-Target-URI for a note about ``text`` (an error's URL is kept as given, in the note's JSON)."""
    return re.sub(r"[\s\x00]", lambda match: "%{:02X}".format(ord(match.group())), text) or "urn:xxgk:empty"


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
                 owns: bool = False, recovery: RecoveryReport | None = None, durability: str = "fsync"):
        if durability not in DURABILITY:
            raise ArchiveInputError(f"durability {durability!r}: expected one of {', '.join(DURABILITY)}")
        self.durability = durability
        self.config = config
        self.store = store
        self.catalog = catalog
        self.run_id = run_id
        self.segment_size = max(int(segment_size), 1)
        self.compresslevel = compresslevel
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

    @classmethod
    def open(cls, config: Config, run_id: str | None = None, *, settings: Mapping[str, Any] | None = None,
             segment_size: int = DEFAULT_SEGMENT_SIZE, compresslevel: int = DEFAULT_COMPRESSLEVEL,
             store: ObjectStore | None = None, catalog: Catalog | None = None,
             recover_spool: bool = True, durability: str = "fsync", join: bool = False) -> "Archive":
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
                        raise ValueError(f"no running crawl run {run_id!r} to join")
                else:
                    run = queries.start_run(session, run_id, settings=settings)
        except ValueError as exc:
            if owns:
                store.close()
                catalog.close()
            raise ArchiveInputError(str(exc)) from exc
        return cls(config, store, catalog, run.id, segment_size=segment_size, compresslevel=compresslevel,
                   owns=owns, recovery=report, durability=durability)

    # -- writing

    def record_fetch(self, url: str, method: str, request_headers: HeaderList | None, status: int,
                     reason: str | bytes | None, response_headers: HeaderList | None, payload: bytes,
                     ip: str | None = None, fetched_at: datetime | None = None, agency_id: str | None = None,
                     extra_metadata: Mapping[str, Any] | None = None, *, protocol: str = "HTTP/1.1",
                     request_body: bytes = b"", truncated: str | None = None) -> CaptureRef:
        """Archive one HTTP exchange and index it; returns once it is durable and readable."""
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
        http_fields = http_index_fields(parse_http_head(head)[0])
        record_id = new_record_id()
        with self._lock:
            segment = self._open_segment()
            not_modified = self._not_modified_original(url, moment) if status == 304 else None
            original = not_modified if not_modified is not None else self._revisit_original(url, sha1, moment, payload)
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
            facts = capture_facts(written_fields(fields), record_type=record_type, url=url, mime=http_fields["mime"],
                                  payload=payload)
            ref = self._index(segment, dict(
                url=url, timestamp=moment, record_type=record_type, warc_key=segment.key,
                offset=written[0].offset, length=written[0].length,
                group_length=sum(record.length for record in written), record_id=record_id,
                payload_sha1=sha1, payload_sha256=sha256, payload_length=payload_length, run_id=self.run_id,
                status=status, refers_to_capture_id=original.id if original is not None else None,
                agency_id=agency_id, ip=ip, truncated=truncated, **http_fields, **facts,
            ))
            self._roll_if_full()
        return ref

    def record_resource(self, url: str, payload: bytes, content_type: str, *, fetched_at: datetime | None = None,
                        agency_id: str | None = None, concurrent_to: int | None = None,
                        extra_metadata: Mapping[str, Any] | None = None) -> CaptureRef:
        """Archive something the crawler made itself (a browser screenshot, a rendered DOM) as a resource record.

        ``concurrent_to`` is the capture id of the page it belongs to.
        """
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
            ref = self._index(segment, dict(
                url=url, timestamp=moment, record_type="resource", warc_key=segment.key, offset=written[0].offset,
                length=written[0].length, group_length=sum(record.length for record in written),
                record_id=record_id, payload_sha1=digest_value(digest),
                payload_sha256=hashlib.sha256(payload).hexdigest(), payload_length=len(payload), run_id=self.run_id,
                status=None, mime=content_type, agency_id=agency_id, ip=None, etag=None, last_modified=None,
                truncated=None, **capture_facts(written_fields(fields), record_type="resource", url=url,
                                                mime=content_type, payload=None, concurrent_to=concurrent_to),
            ))
            self._roll_if_full()
        return ref

    def record_error(self, url: str, kind: str, message: str, agency_id: str | None = None,
                     at: datetime | None = None) -> int:
        """Note a fetch that produced no response (dns, timeout, tls, reset, http, robots, size, redirect_loop,
        other); returns the error's id. The 已删除 flag and the column coverage rest on it: it goes into the WARC
        first."""
        if kind not in FETCH_ERROR_KINDS:
            raise ArchiveInputError(f"fetch error kind {kind!r}: expected one of {', '.join(FETCH_ERROR_KINDS)}")
        url, message, moment = str(url), str(message), _moment(at)
        note = {"xxgk": NOTE_FETCH_ERROR, "run_id": self.run_id, "url": url, "kind": kind, "message": message,
                "agency_id": agency_id, "at": moment.isoformat()}
        with self._lock:
            self._write_note(_note_uri(url), note, moment)
            with self.catalog.session() as session:
                error_id = queries.add_error(session, url, kind, message, run_id=self.run_id, agency_id=agency_id,
                                             at=moment).id
            self._roll_if_full()
        return error_id

    def record_coverage(self, **fields: Any) -> int:
        """Keep what this run read of one agency's report column (the fields of ``models.ColumnCoverage`` but
        ``id`` and ``run_id``); returns the row's id. A verdict of 未发布 rests on it: the WARC gets it first."""
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
        page = None
        if row.get("capture_id") is not None:
            with self.catalog.connection() as connection:
                page = queries.capture_row(connection, row["capture_id"])
        # capture ids are the catalog's: the record id names the capture in a rebuilt catalog too
        note = {"xxgk": NOTE_COVERAGE, "run_id": self.run_id, **row, "read_at": row["read_at"].isoformat(),
                "capture_record_id": page.record_id if page is not None else None}
        uri = row.get("column_url") or f"urn:xxgk:column-coverage:{row['agency_id']}"
        with self._lock:
            self._write_note(_note_uri(uri), note, row["read_at"])
            with self.catalog.session() as session:
                coverage_id = queries.add_coverage(session, run_id=self.run_id, **row).id
            self._roll_if_full()
        return coverage_id

    def _write_note(self, uri: str, note: Mapping[str, Any], moment: datetime) -> None:
        """A standalone JSON metadata record, durable (as ``durability`` says) when this returns."""
        date = warc_date(moment)
        segment = self._open_segment()
        self._write(segment, lambda writer: [writer.write_note(uri, note, date)])

    # -- reading

    def read_capture(self, capture_id: int, *, digests: bool = False) -> Capture:
        """The capture as fetched (a revisit resolved to its original's payload); ``digests=True`` re-checks the
        WARC digests too, beyond the gzip CRC that every read checks."""
        return self.reader.read(capture_id, digests=digests)

    def latest_capture(self, url: str) -> CaptureRef | None:
        """The newest capture of ``url`` (its row carries ETag/Last-Modified for a conditional GET)."""
        with self.catalog.connection() as connection:
            row = queries.latest_capture_row(connection, url)
        return _ref(row) if row is not None else None

    def validators(self, url: str) -> dict[str, str]:
        """Headers for a conditional GET of ``url`` from its newest successful capture ({} if none)."""
        with self.catalog.connection() as connection:
            row = queries.latest_capture_row(connection, url, status=200)
        if row is None:
            return {}
        headers = {}
        if row.etag:
            headers["If-None-Match"] = row.etag
        if row.last_modified:
            headers["If-Modified-Since"] = row.last_modified
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

    def _revisit_original(self, url: str, sha1: str, moment: datetime, payload: bytes) -> CaptureRow | None:
        if not payload:
            return None  # nothing to deduplicate
        with self.catalog.connection() as connection:
            latest = queries.latest_capture_row(connection, url, before=moment)
            if latest is None or latest.payload_sha1 != sha1:
                return None
            if latest.record_type == "revisit":
                latest = queries.capture_row(connection, latest.refers_to_capture_id)
        return latest

    def _not_modified_original(self, url: str, moment: datetime) -> CaptureRow | None:
        """The capture a 304 for ``url`` confirms: the newest earlier 200, resolved to the record with its payload."""
        with self.catalog.connection() as connection:
            latest = queries.latest_capture_row(connection, url, before=moment, status=200)
            if latest is not None and latest.record_type == "revisit":
                latest = queries.capture_row(connection, latest.refers_to_capture_id)
        return latest

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
        try:
            return segment.write_group(write)
        except OSError as exc:
            raise ArchiveError(f"cannot write to {segment.path}: {exc}; nothing of this capture was kept") from exc

    def _index(self, segment: SpoolSegment, fields: dict) -> CaptureRef:
        try:
            with self.catalog.write_connection() as connection:
                capture_id = queries.insert_capture(connection, **fields)
        except Exception as exc:
            self._unindexed = True
            raise ArchiveError(f"the WARC record of {fields['url']} is safe in {segment.key} but its index row "
                               f"failed ({type(exc).__name__}: {exc}); it is indexed when the segment closes") from exc
        segment.captures += 1
        return CaptureRef(id=capture_id, url=fields["url"], record_type=fields["record_type"],
                          timestamp=fields["timestamp"], status=fields.get("status"), warc_key=fields["warc_key"],
                          offset=fields["offset"], length=fields["length"], record_id=fields["record_id"],
                          payload_sha1=fields["payload_sha1"], payload_sha256=fields["payload_sha256"],
                          refers_to=fields.get("refers_to_capture_id"))

    def _roll_if_full(self) -> None:
        if self._segment is not None and self._segment.size >= self.segment_size:
            self.roll()

    def roll(self) -> str | None:
        """Close the current segment and upload it (also retrying earlier failed uploads); returns its key."""
        with self._lock:
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
        """Upload the open segment; a segment the store refuses now stays spooled for the next open."""
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
                self._write_note(f"urn:xxgk:run:{self.run_id}", note, finished_at)
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
