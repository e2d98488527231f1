"""WARC segments on local disk while they are written, before they go to the object store.

A segment lives at ``<data dir>/spool/<key>`` (``spool/warcs/<run-id>/<name>.warc.gz``). Its writer holds an
exclusive ``flock`` on it for as long as it may still touch it, so a restart on the same host can tell a live
segment (locked: leave it alone) from one left behind by a dead process (lockable: finish or discard it).
A group of records is fsynced before the index rows that point at it are written (``storage.archive`` fsyncs a
whole batch of groups at once): that is what makes a capture row safe to write.
"""
from __future__ import annotations

import fcntl
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, TypeVar

from storage.objects import fsync_dir, validate_key
from storage.warc import DEFAULT_COMPRESSLEVEL, SegmentWriter, WrittenRecord, warc_date

SEGMENT_SUFFIX = ".warc.gz"
_T = TypeVar("_T")


def spool_writer(spool_dir: Path) -> str:
    """Who writes a segment, as recovery must tell it: the host and its spool. Two crawl processes with spools of
    their own (machines sharing a host name, or two data directories on one host) must never take each other's
    unfinished segments for lost ones."""
    import hashlib
    import socket

    spool = str(Path(spool_dir).resolve())
    where = spool if len(spool) <= 180 else hashlib.sha256(spool.encode()).hexdigest()
    return f"{socket.gethostname()}:{where}"


def segment_key(run_id: str, name: str) -> str:
    return validate_key(f"warcs/{run_id}/{name}{SEGMENT_SUFFIX}")


def new_segment_name(serial: int, now: datetime | None = None) -> str:
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%d%H%M%S%f}-{serial:05d}-{secrets.token_hex(4)}"


def creation_order(key: str) -> tuple[str, str]:
    """Sorts segment keys in the order the segments were begun: a segment's name starts with its UTC creation
    time (``new_segment_name``), whatever folder it is in."""
    return key.rsplit("/", 1)[-1], key


def spool_path(spool_dir: Path, key: str) -> Path:
    return Path(spool_dir).joinpath(*validate_key(key).split("/"))


def key_of_spool_path(spool_dir: Path, path: Path) -> str:
    return validate_key(path.relative_to(spool_dir).as_posix())


def spooled_files(spool_dir: Path) -> list[Path]:
    root = Path(spool_dir)
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob(f"*{SEGMENT_SUFFIX}") if path.is_file() and not path.name.startswith("."))


def try_lock(path: Path) -> BinaryIO | None:
    """Open ``path`` for update and lock it; None when another live process holds it (or it vanished)."""
    try:
        handle = open(path, "r+b")
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def read_spooled(path: Path, offset: int, length: int) -> bytes | None:
    """Bytes of a spooled segment, or None when the file is gone (uploaded and removed meanwhile)."""
    try:
        with open(path, "rb") as handle:
            data = os.pread(handle.fileno(), length, offset)
    except FileNotFoundError:
        return None
    return data


class SpoolSegment:
    """One segment being appended to, locked for its lifetime."""

    def __init__(self, key: str, path: Path, handle: BinaryIO, writer: SegmentWriter, sync: bool = True):
        self.key = key
        self.sync = sync
        self.path = path
        self.handle = handle
        self.writer = writer
        self.records = 0
        self.captures = 0

    @classmethod
    def create(cls, spool_dir: Path, key: str, warcinfo: dict, compresslevel: int = DEFAULT_COMPRESSLEVEL,
               now: datetime | None = None, sync: bool = True) -> "SpoolSegment":
        path = spool_path(spool_dir, key)
        for attempt in range(3):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                handle = open(path, "xb")
                break
            except FileNotFoundError:
                # another writer removed the emptied run folder between mkdir and open
                if attempt == 2:
                    raise
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            segment = cls(key, path, handle, SegmentWriter(handle, path.name, compresslevel), sync)
            segment.write_group(lambda writer: [writer.write_warcinfo(warcinfo, warc_date(now or datetime.now(timezone.utc)))])
            fsync_dir(path.parent)
        except BaseException:
            handle.close()
            path.unlink(missing_ok=True)
            raise
        return segment

    @property
    def size(self) -> int:
        return self.handle.tell()

    def write_group(self, write: Callable[[SegmentWriter], list[WrittenRecord]],
                    sync: bool | None = None) -> list[WrittenRecord]:
        """Append records and make them durable (``sync``, default the segment's) or at least visible to every
        reader on this host (then :meth:`sync_to_disk` makes them durable later); on any failure cut the file back
        so no half record stays."""
        start = self.handle.tell()
        try:
            written = write(self.writer)
            self.handle.flush()
            if self.sync if sync is None else sync:
                os.fsync(self.handle.fileno())
        except BaseException:
            self.cut_back(start)
            raise
        self.records += len(written)
        return written

    def cut_back(self, start: int) -> None:
        """Drop everything from ``start`` on (a half-written group, or groups that could not be made durable)."""
        try:
            self.handle.flush()
        except OSError:
            pass
        try:
            self.handle.seek(start)
            self.handle.truncate(start)
            os.fsync(self.handle.fileno())
        except OSError:
            pass  # the restart scan discards whatever partial member is left

    def sync_to_disk(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        """Release the file and its lock (only once the segment is uploaded or handed to recovery)."""
        if not self.handle.closed:
            try:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            except (OSError, ValueError):
                pass
            self.handle.close()
