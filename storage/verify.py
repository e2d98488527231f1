"""``xxgk verify``: re-read every indexed capture and check it against the index and its digests.

Per capture: the segment must exist (else *missing*); the bytes at the indexed offset must be one gzip member
holding the indexed record, with matching WARC block/payload digests and payload sha256, followed by its
request/metadata records (else *corrupt*). Per segment: the whole object must still have the size and sha256
recorded at upload and read as gzip members from end to end, which also catches damage outside the indexed records
(and damage ``xxgk reindex`` stepped over, whose index no longer names what it lost).

A revisit holds no payload of its own: when its original is missing or corrupt, the revisit is counted apart
(*original_missing*, *original_corrupt*), since its own bytes are sound and the damage to look for is elsewhere.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import select

from storage.catalog import queries
from storage.catalog.models import Capture as CaptureRow
from storage.catalog.models import Segment
from storage.objects import ObjectNotFound
from storage.reader import CaptureCorrupt, CaptureMissing, CaptureReader
from storage.spool import spool_path
from storage.warc import WarcFormatError, iter_members

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Problem:
    status: str              # missing | corrupt | original_missing | original_corrupt
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
    # revisits whose own record is sound but whose original (which holds their payload) is missing / corrupt
    original_missing: int = 0
    original_corrupt: int = 0
    segments: int = 0
    segments_missing: int = 0
    segments_corrupt: int = 0
    unindexed_objects: list[str] = field(default_factory=list)   # WARC objects no row points to (informational)
    # segments not uploaded yet, read from this machine's spool: checked there, not in the object store
    spooled_segments: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.missing or self.corrupt or self.original_missing or self.original_corrupt
                    or self.segments_missing or self.segments_corrupt)


def _segment_problem(store, segment: Segment | None, key: str) -> str | None:
    """Compare the stored object with what was recorded at upload, and read every gzip member of it; None when
    it matches and reads whole. (After ``xxgk reindex`` the recorded digest is the object's own: damage it stepped
    over shows only in the reading.)"""
    info = store.stat(key)
    if segment is None or segment.state != "uploaded":
        return None
    if segment.size is not None and info.size != segment.size:
        return f"segment is {info.size} bytes, {segment.size} were uploaded"
    with store.open_stream(key) as stream:
        hashing = _Hashing(stream)
        try:
            for _member in iter_members(hashing):
                pass
            damage = None
        except WarcFormatError as exc:
            damage = f"segment unreadable from byte {exc.offset}: {exc}"
        hashing.drain()
    if segment.sha256 and hashing.digest.hexdigest() != segment.sha256:
        return "segment sha256 differs from the one recorded at upload"
    return damage


class _Hashing:
    """A stream whose bytes are hashed as they are read."""

    def __init__(self, stream):
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


@dataclass
class _CaptureCheck:
    row: CaptureRow
    status: str              # ok | missing | corrupt | original_missing | original_corrupt
    detail: str = ""


def verify_archive(reader: CaptureReader, *, run_id: str | None = None) -> VerifyResult:
    """Every segment and capture of ``run_id`` (all runs when None); see the module docstring for the checks."""
    result = VerifyResult()
    by_segment, segments = _indexed_captures(reader, run_id)
    checks: dict[int, _CaptureCheck] = {}
    for key, rows in by_segment.items():
        if _spooled(reader, key, segments.get(key)):
            result.spooled_segments.append(key)
        problem = _verify_segment(reader, key, segments.get(key))
        _count_segment(result, problem)
        if problem is not None and problem.status == "missing":
            checks.update((row.id, _CaptureCheck(row, "missing", f"capture {row.id}: WARC segment {key} is missing"))
                          for row in rows)
        else:
            checks.update((row.id, _verify_capture(reader, row)) for row in rows)
    _fail_revisits_of_unreadable_originals(reader, checks)
    _count_captures(result, checks.values())
    if run_id is None:
        result.unindexed_objects = _unindexed_objects(reader, set(by_segment) | set(segments))
    return result


def _indexed_captures(reader: CaptureReader,
                      run_id: str | None) -> tuple[dict[str, list[CaptureRow]], dict[str, Segment]]:
    """The capture rows grouped by WARC segment (in file order), and the segment rows by key."""
    with reader.catalog.reading() as session:
        query = select(CaptureRow).order_by(CaptureRow.warc_key, CaptureRow.offset)
        if run_id:
            query = query.where(queries.few(CaptureRow.run_id == run_id))
        by_segment: dict[str, list[CaptureRow]] = defaultdict(list)
        for row in session.scalars(query):
            by_segment[row.warc_key].append(row)
        segments = {segment.key: segment for segment in queries.segments(session, run_id=run_id)}
    return by_segment, segments


def _verify_segment(reader: CaptureReader, key: str, segment: Segment | None) -> Problem | None:
    """The whole stored object against its upload record. A segment not uploaded yet whose spool file is still
    there is read from the spool: there is no stored object to compare."""
    if _spooled(reader, key, segment):
        return None
    try:
        detail = _segment_problem(reader.store, segment, key)
    except ObjectNotFound:
        return Problem("missing", key, f"segment not in {reader.store.location}")
    return Problem("corrupt", key, detail) if detail else None


def _spooled(reader: CaptureReader, key: str, segment: Segment | None) -> bool:
    return segment is not None and segment.state != "uploaded" and spool_path(reader.spool_dir, key).exists()


def _count_segment(result: VerifyResult, problem: Problem | None) -> None:
    result.segments += 1
    if problem is None:
        return
    attribute = f"segments_{problem.status}"
    setattr(result, attribute, getattr(result, attribute) + 1)
    result.problems.append(problem)


def _verify_capture(reader: CaptureReader, row: CaptureRow) -> _CaptureCheck:
    try:
        reader.checked_span(row)
    except CaptureMissing as exc:
        return _CaptureCheck(row, "missing", str(exc))
    except CaptureCorrupt as exc:
        return _CaptureCheck(row, "corrupt", str(exc))
    return _CaptureCheck(row, "ok")


def _fail_revisits_of_unreadable_originals(reader: CaptureReader, checks: dict[int, _CaptureCheck]) -> None:
    """A revisit holds no payload of its own: it is only as readable as its original."""
    for check in checks.values():
        row = check.row
        if row.record_type != "revisit" or check.status != "ok" or row.refers_to_capture_id is None:
            continue
        original_status = _original_status(reader, row.refers_to_capture_id, checks)
        if original_status != "ok":
            # missing and corrupt originals need different repairs: say which, not "missing" for both
            check.status = f"original_{original_status}"
            check.detail = f"capture {row.id}: its original, capture {row.refers_to_capture_id}, is {original_status}"


def _original_status(reader: CaptureReader, capture_id: int, checks: dict[int, _CaptureCheck]) -> str:
    """The status of a revisit's original: as checked above, or checked now when it is outside the checked set
    (a revisit of this run pointing into an earlier one)."""
    if capture_id in checks:
        return checks[capture_id].status
    with reader.catalog.reading() as session:
        original = queries.get_capture(session, capture_id)
    if original is None:
        return "missing"
    return _verify_capture(reader, original).status


def _count_captures(result: VerifyResult, checks: Iterable[_CaptureCheck]) -> None:
    for check in checks:
        result.checked += 1
        if check.status == "ok":
            result.ok += 1
            continue
        setattr(result, check.status, getattr(result, check.status) + 1)
        result.problems.append(Problem(check.status, check.row.warc_key, check.detail, check.row.id, check.row.url))


def _unindexed_objects(reader: CaptureReader, indexed: set[str]) -> list[str]:
    """WARC objects in the store that no segment or capture row points to (informational)."""
    return [key for key in reader.store.list("warcs/") if key not in indexed]
