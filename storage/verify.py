"""``xxgk verify``: re-read every indexed capture and check it against the index and its digests.

Per capture: the segment must exist (else *missing*); the bytes at the indexed offset must be one gzip member
holding the indexed record, with matching WARC block/payload digests and payload sha256, followed by its
request/metadata records (else *corrupt*). Per segment: the whole object must still have the size and sha256
recorded at upload, which also catches damage outside the indexed records.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from storage.catalog import queries
from storage.catalog.models import Capture as CaptureRow
from storage.catalog.models import Segment
from storage.objects import ObjectNotFound
from storage.reader import CaptureCorrupt, CaptureMissing, CaptureReader
from storage.spool import spool_path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Problem:
    status: str              # missing | corrupt
    warc_key: str
    detail: str
    capture_id: int | None = None   # None: the problem concerns the whole segment
    url: str | None = None


@dataclass
class VerifyResult:
    checked: int = 0
    ok: int = 0
    missing: int = 0
    corrupt: int = 0
    segments: int = 0
    segments_missing: int = 0
    segments_corrupt: int = 0
    unindexed_objects: list[str] = field(default_factory=list)   # WARC objects no row points to (informational)
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.missing or self.corrupt or self.segments_missing or self.segments_corrupt)


def _segment_problem(store, segment: Segment | None, key: str) -> str | None:
    """Compare the stored object with what was recorded at upload; None when it matches (or nothing was)."""
    info = store.stat(key)
    if segment is None or segment.state != "uploaded":
        return None
    if segment.size is not None and info.size != segment.size:
        return f"segment is {info.size} bytes, {segment.size} were uploaded"
    if not segment.sha256:
        return None
    digest = hashlib.sha256()
    with store.open_stream(key) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != segment.sha256:
        return "segment sha256 differs from the one recorded at upload"
    return None


def _original_status(reader: CaptureReader, capture_id: int, outcome: dict[int, tuple[str, str]]) -> str:
    if capture_id in outcome:
        return outcome[capture_id][0]
    with reader.catalog.reading() as session:
        original = queries.get_capture(session, capture_id)
    if original is None:
        return "missing"
    try:
        reader.checked_span(original)
    except CaptureMissing:
        return "missing"
    except CaptureCorrupt:
        return "corrupt"
    return "ok"


def verify_archive(reader: CaptureReader, *, run_id: str | None = None) -> VerifyResult:
    result = VerifyResult()
    with reader.catalog.reading() as session:
        query = select(CaptureRow).order_by(CaptureRow.warc_key, CaptureRow.offset)
        if run_id:
            query = query.where(CaptureRow.run_id == run_id)
        by_segment: dict[str, list[CaptureRow]] = defaultdict(list)
        for row in session.scalars(query):
            by_segment[row.warc_key].append(row)
        segments = {segment.key: segment for segment in queries.segments(session, run_id=run_id)}
    outcome: dict[int, tuple[str, str]] = {}
    checked_rows: dict[int, CaptureRow] = {}
    for key, rows in by_segment.items():
        result.segments += 1
        segment = segments.get(key)
        spooled = segment is not None and segment.state != "uploaded" and spool_path(reader.spool_dir, key).exists()
        if not spooled:
            try:
                problem = _segment_problem(reader.store, segment, key)
            except ObjectNotFound:
                result.segments_missing += 1
                result.problems.append(Problem("missing", key, f"segment not in {reader.store.location}"))
                for row in rows:
                    outcome[row.id] = ("missing", f"capture {row.id}: WARC segment {key} is missing")
                    checked_rows[row.id] = row
                continue
            if problem:
                result.segments_corrupt += 1
                result.problems.append(Problem("corrupt", key, problem))
        for row in rows:
            try:
                reader.checked_span(row)
            except CaptureMissing as exc:
                outcome[row.id] = ("missing", str(exc))
            except CaptureCorrupt as exc:
                outcome[row.id] = ("corrupt", str(exc))
            else:
                outcome[row.id] = ("ok", "")
            checked_rows[row.id] = row
    # a revisit holds no payload of its own: it is only as readable as its original
    for row in checked_rows.values():
        if row.record_type != "revisit" or outcome[row.id][0] != "ok" or row.refers_to_capture_id is None:
            continue
        original_status = _original_status(reader, row.refers_to_capture_id, outcome)
        if original_status != "ok":
            outcome[row.id] = ("missing", f"capture {row.id}: its original, capture {row.refers_to_capture_id}, "
                                          f"is {original_status}")
    for capture_id, (status, detail) in outcome.items():
        row = checked_rows.get(capture_id)
        if row is None:
            continue
        if status == "ok":
            result.ok += 1
            continue
        setattr(result, status, getattr(result, status) + 1)
        result.problems.append(Problem(status, row.warc_key, detail, row.id, row.url))
    result.checked = len(checked_rows)
    if run_id is None:
        indexed = set(by_segment) | set(segments)
        result.unindexed_objects = [key for key in reader.store.list("warcs/") if key not in indexed]
    return result
