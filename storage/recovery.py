"""Finishing what a dead writer left behind, run when an archive opens.

For every spooled segment nobody holds a lock on: cut off a record that was interrupted mid-write, drop index rows
that point past the end or between records, index complete records that never got a row (the process died between
fsync and insert) and restore the fetch errors whose row waited for a group commit that never came, then upload
the segment and forget the spool file (or delete it if it holds nothing but its warcinfo: a segment of notes
alone — fetch errors, coverage — is kept, the catalog can be rebuilt from them).
For segments this host was writing whose spool file is gone: mark them uploaded if the store has them, otherwise
remove the rows that point to nothing.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable

from sqlalchemy.orm import Session

from storage.catalog import Catalog
from storage.catalog import queries
from storage.facts import capture_facts, group_metadata
from storage.objects import ObjectNotFound, ObjectStore, ObjectStoreError, fsync_dir
from storage.spool import key_of_spool_path, spool_path, spooled_files, try_lock
from storage.warc import (NOTE_FETCH_ERROR, WarcFormatError, WarcRecord, digest_value, http_index_fields,
                          iter_members, parse_record)

log = logging.getLogger(__name__)

PRIMARY_TYPES = ("response", "revisit", "resource")

Located = tuple[int, int, WarcRecord]  # (offset, compressed length, record)


@dataclass
class RecoveryReport:
    uploaded: list[str] = field(default_factory=list)     # spooled segments finished and uploaded
    discarded: list[str] = field(default_factory=list)    # spooled segments holding only their warcinfo
    confirmed: list[str] = field(default_factory=list)    # already in the store, only the catalog lagged
    lost: list[str] = field(default_factory=list)         # neither spooled nor stored: their rows were removed
    pending: list[str] = field(default_factory=list)      # could not be uploaded now (store unreachable)
    truncated: dict[str, int] = field(default_factory=dict)  # key -> bytes of cut-off record removed
    indexed: int = 0
    errors: int = 0          # fetch-error rows restored from their WARC notes
    removed_rows: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.uploaded or self.discarded or self.confirmed or self.lost or self.truncated
                    or self.indexed or self.errors or self.removed_rows)

    def summary(self) -> str:
        return (f"恢复：上传 {len(self.uploaded)} 个段，丢弃 {len(self.discarded)} 个空段，确认 {len(self.confirmed)} 个，"
                f"丢失 {len(self.lost)} 个，待上传 {len(self.pending)} 个；截去 {sum(self.truncated.values())} 字节残缺记录，"
                f"补建索引 {self.indexed} 条、抓取错误 {self.errors} 条，删除悬空索引 {self.removed_rows} 条")


def scan_segment(handle: BinaryIO) -> tuple[list[Located], int, str | None]:
    """All complete records from the start of the file, where the sound part ends, and why it ends there."""
    handle.seek(0)
    records: list[Located] = []
    good_end = 0
    try:
        for offset, length, content in iter_members(handle):
            records.append((offset, length, parse_record(content, offset)))
            good_end = offset + length
    except WarcFormatError as exc:
        return records, good_end, str(exc)
    return records, good_end, None


GZIP_MEMBER_START = b"\x1f\x8b\x08"


def scan_past_damage(data: bytes) -> tuple[list[Located], list[tuple[int, int, str]]]:
    """Every readable record of a whole segment, and the damaged spans ``(start, end, why)`` stepped over.

    Each record is a gzip member of its own, so damage inside one loses that record, not the ones after it: the
    scan goes on at the next offset where a gzip member that holds a WARC record begins. (``scan_segment`` stops
    at the first damage instead: crash recovery cuts a torn tail off there.)"""
    records: list[Located] = []
    damaged: list[tuple[int, int, str]] = []
    position = 0
    while position < len(data):
        handle = io.BytesIO(data)
        handle.seek(position)
        try:
            for offset, length, content in iter_members(handle, position):
                records.append((offset, length, parse_record(content, offset)))
                position = offset + length
            return records, damaged
        except WarcFormatError as exc:
            start = exc.offset if exc.offset is not None else position
            resume = _next_record_start(data, start + 1)
            damaged.append((start, resume, str(exc)))
            position = resume
    return records, damaged


def _next_record_start(data: bytes, after: int) -> int:
    """The offset of the next gzip member that decompresses to the start of a WARC record, or the end of data."""
    found = data.find(GZIP_MEMBER_START, after)
    while found >= 0:
        try:
            head = zlib.decompressobj(zlib.MAX_WBITS + 16).decompress(data[found:found + 4096], 64)
        except zlib.error:
            head = b""
        if head.startswith(b"WARC/"):
            return found
        found = data.find(GZIP_MEMBER_START, found + 1)
    return len(data)


def group_records(records: list[Located]) -> list[list[Located]]:
    """Split records into capture groups: a primary record and the request/metadata records concurrent to it."""
    groups: list[list[Located]] = []
    current: list[Located] | None = None
    for item in records:
        record = item[2]
        if record.record_type in PRIMARY_TYPES:
            current = [item]
            groups.append(current)
        elif current is not None and current[0][2].record_id in record.concurrent_to:
            current.append(item)
        else:
            current = None
    return groups


def capture_fields(key: str, run_id: str, group: list[Located], original=None, concurrent: int | None = None) -> dict:
    """The index row of a capture group, as :meth:`Archive.record_fetch` writes it, with its verdict facts
    (``storage.facts``); ``concurrent``: for a resource, the id of the capture it was made of."""
    offset, length, record = group[0]
    metadata = group_metadata(group, record.record_id)
    if record.record_type == "revisit":
        payload_sha256 = original.payload_sha256
        payload_length = original.payload_length
    else:
        payload_sha256 = hashlib.sha256(record.payload).hexdigest()
        payload_length = len(record.payload)
    if record.record_type == "resource":
        index_fields = {"mime": record.header("Content-Type"), "etag": None, "last_modified": None}
    else:
        index_fields = http_index_fields(record.http)
    return dict(
        url=record.target_uri or "", timestamp=record.date, record_type=record.record_type, warc_key=key,
        offset=offset, length=length, group_length=sum(item[1] for item in group), record_id=record.record_id,
        payload_sha1=digest_value(record.header("WARC-Payload-Digest")), payload_sha256=payload_sha256,
        payload_length=payload_length, run_id=run_id,
        status=record.http.status if record.http is not None and record.record_type != "resource" else None,
        refers_to_capture_id=original.id if original is not None else None,
        agency_id=metadata.get("agency-id") or None, ip=record.header("WARC-IP-Address"),
        truncated=record.header("WARC-Truncated"), **index_fields,
        **capture_facts(metadata, record_type=record.record_type, url=record.target_uri or "",
                        mime=index_fields["mime"], payload=record.payload, concurrent_to=concurrent,
                        headers=record.http.headers if record.http is not None else ()),
    )


def index_segment(session: Session, key: str, run_id: str, records: list[Located],
                  run_of: Callable[[list[Located]], str] | None = None) -> int:
    """Add rows for the capture groups of a segment that have none; returns how many were added. ``run_of``
    names each group's run where a segment holds more than one (an imported export), else all are ``run_id``'s."""
    added = 0
    for group in group_records(records):
        record = group[0][2]
        if not record.record_id or queries.capture_by_record_id(session, record.record_id) is not None:
            continue
        original = None
        if record.record_type == "revisit":
            original = queries.capture_by_record_id(session, record.header("WARC-Refers-To") or "")
            if original is None:
                log.warning("revisit %s in %s: its original is not indexed; left unindexed", record.record_id, key)
                continue
        concurrent = None
        if record.record_type == "resource" and record.concurrent_to:
            page = queries.capture_by_record_id(session, record.concurrent_to[0])
            concurrent = page.id if page is not None else None
        queries.add_capture(session, **capture_fields(key, run_of(group) if run_of else run_id, group, original,
                                                      concurrent))
        added += 1
    return added


def restore_errors(session: Session, run_id: str, records: list[Located]) -> int:
    """Add the fetch errors a segment's notes hold and the catalog lacks (a crawl stages an error's row for the
    next group commit, as a capture's); returns how many were added."""
    added = 0
    for _offset, _length, record in records:
        note = record.note()
        if note is None or note.get("xxgk") != NOTE_FETCH_ERROR:
            continue
        try:
            at = iso_moment(note["at"])
            if at is None:
                raise ValueError("the note gives no time")
            if queries.find_error(session, run_id, note["url"], note["kind"], at) is None:
                queries.add_error(session, note["url"], note["kind"], note["message"], run_id=run_id,
                                  agency_id=note.get("agency_id"), at=at)
                added += 1
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("fetch-error note %s not restored: %s", record.record_id, exc)
    return added


def iso_moment(text: str | None) -> datetime | None:
    """A moment a WARC note wrote (ISO 8601 with its zone); a time without a zone is refused, not guessed."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return moment


def run_of_key(key: str) -> str:
    parts = key.split("/")
    return parts[1] if len(parts) >= 3 else "recovered"


def finish_spooled(store: ObjectStore, catalog: Catalog, spool_dir: Path, path: Path, handle: BinaryIO,
                   writer: str, report: RecoveryReport) -> None:
    """Repair, index and upload one locked spool file (see the module docstring)."""
    key = key_of_spool_path(spool_dir, path)
    records, good_end, error = scan_segment(handle)
    size = os.fstat(handle.fileno()).st_size
    if good_end < size:
        log.warning("%s: discarding %d bytes after offset %d (%s)", key, size - good_end, good_end, error)
        handle.seek(good_end)
        handle.truncate(good_end)
        handle.flush()
        os.fsync(handle.fileno())
        report.truncated[key] = size - good_end
    starts = [offset for offset, _length, _record in records]
    with catalog.session() as session:
        segment = queries.get_segment(session, key)
        if segment is None:
            run_id = run_of_key(key)
            if queries.get_run(session, run_id) is None:
                queries.start_run(session, run_id)
                queries.finish_run(session, run_id, status="interrupted")
            segment = queries.add_segment(session, key, run_id, writer, state="sealed")
        run_id = segment.run_id
        report.removed_rows += queries.remove_captures_in_segment(session, key, from_offset=good_end,
                                                                  keep_offsets=starts)
        report.indexed += index_segment(session, key, run_id, records)
        report.errors += restore_errors(session, run_id, records)
    if all(record.record_type == "warcinfo" for _o, _l, record in records):
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)
        with catalog.session() as session:
            queries.remove_segment(session, key)
        report.discarded.append(key)
        return
    with catalog.session() as session:
        queries.mark_segment(session, key, "sealed", records=len(records))
    upload_segment(store, catalog, key, path, run_id, len(records))
    report.uploaded.append(key)


def upload_segment(store: ObjectStore, catalog: Catalog, key: str, path: Path, run_id: str, records: int) -> None:
    """Put a sealed spool file into the store, record that, then drop the spool copy (in that order)."""
    info = store.put_file(key, path, metadata={"run-id": run_id})
    with catalog.session() as session:
        queries.mark_segment(session, key, "uploaded", size=info.size, sha256=info.sha256, records=records)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
    try:
        path.parent.rmdir()  # the run's spool folder, once its last segment is up
    except OSError:
        pass


def recover(store: ObjectStore, catalog: Catalog, spool_dir: Path, writer: str) -> RecoveryReport:
    report = RecoveryReport()
    for path in spooled_files(spool_dir):
        handle = try_lock(path)
        if handle is None:
            continue  # a live writer holds it
        try:
            finish_spooled(store, catalog, spool_dir, path, handle, writer, report)
        except ObjectStoreError as exc:
            log.warning("%s stays in the spool: %s", path, exc)
            report.pending.append(key_of_spool_path(spool_dir, path))
        finally:
            handle.close()
    with catalog.reading() as session:
        unfinished = queries.unfinished_segments(session, writer)
    for segment in unfinished:
        if spool_path(spool_dir, segment.key).exists():
            continue  # live, or waiting for the store
        try:
            info = store.stat(segment.key)
        except ObjectNotFound:
            with catalog.session() as session:
                report.removed_rows += queries.remove_segment(session, segment.key)
            report.lost.append(segment.key)
            continue
        except ObjectStoreError as exc:
            log.warning("cannot check %s in the store: %s", segment.key, exc)
            report.pending.append(segment.key)
            continue
        with catalog.session() as session:
            queries.mark_segment(session, segment.key, "uploaded", size=info.size, sha256=info.sha256)
        report.confirmed.append(segment.key)
    return report
