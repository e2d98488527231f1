"""``xxgk export-warc``: one WARC file holding chosen captures, copied member by member from the archive.

Each capture's record group (response or revisit, request, metadata) is copied as stored, by one ranged read,
after checking it against the index; the original of every revisit comes along so the file replays on its own.
Then the notes of the chosen runs (the standalone JSON ``metadata`` records: fetch errors, column coverage, a
run's end), copied as stored: what a verdict of 未发布 or 无法判定 rests on leaves with the pages, and
``xxgk reindex`` over the file gives them back. Every other run the file holds records of (the older run a
revisit's original comes from) brings its end too, and only that: reindexed, it shows as it ended, not as 已中断
(an end the run never noted, it died, is looked for no further than the catalog). A note written before notes had
a URN of their own (its target URI was the page it is about, which replay tools then served as that page) is
written again under its URN, the same record otherwise. Notes are not indexed by position, so the segments of the chosen runs are read whole to
find them. The ``warcinfo`` record of every segment the file draws records from is copied before the first of
them: every ``WARC-Warcinfo-ID`` in the file names a record in it, and the run's settings, crawler and run id
travel with its records (reindex gives each record back to its own run by them). The file starts with a new
``warcinfo`` record of its own and appears at its destination only when complete.
"""
from __future__ import annotations

import io
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import or_, select, union

from storage.catalog import Catalog
from storage.catalog.queries import few
from storage.catalog.models import Capture as CaptureRow
from storage.catalog.models import ColumnCoverage, CrawlRun, FetchError, Segment
from storage.objects import ObjectNotFound, fsync_dir
from storage.reader import CaptureError, CaptureReader
from storage.recovery import scan_segment
from storage.spool import creation_order, spool_path
from storage.warc import (NOTE_RUN_END, NOTE_URN, SegmentWriter, WarcFormatError, WarcRecord, iter_members,
                          read_members, warc_date)

log = logging.getLogger(__name__)


class ExportError(Exception):
    """Nothing to export, an unwritable destination, or a capture that cannot be read."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    captures: int          # capture groups written (revisit originals included)
    originals_added: int   # originals pulled in only because a chosen revisit needs them
    bytes: int
    notes: int = 0         # fetch errors, column coverage and run ends copied with them
    carried_ends: int = 0  # of the notes, the ends of runs only some records of which the file holds


def select_captures(catalog: Catalog, *, run_id: str | None = None, agency_id: str | None = None,
                    everything: bool = False) -> list[CaptureRow]:
    """The chosen captures plus the originals their revisits refer to, oldest first."""
    if sum(bool(choice) for choice in (run_id, agency_id, everything)) != 1:
        raise ExportError("choose exactly one of a run, an agency, or everything")
    query = select(CaptureRow).order_by(CaptureRow.id)
    if run_id:
        query = query.where(few(CaptureRow.run_id == run_id))
    elif agency_id:
        query = query.where(CaptureRow.agency_id == agency_id)
    with catalog.reading() as session:
        rows = {row.id: row for row in session.scalars(query)}
        wanted = {row.refers_to_capture_id for row in rows.values() if row.refers_to_capture_id} - set(rows)
        if wanted:
            for row in session.scalars(select(CaptureRow).where(CaptureRow.id.in_(wanted))):
                rows[row.id] = row
    return [rows[key] for key in sorted(rows)]


def note_segments(catalog: Catalog, *, run_id: str | None = None, agency_id: str | None = None) -> list[str]:
    """The segments that may hold the chosen notes: the run's, or those of every run the agency has a capture, a
    fetch error or a coverage row in (a run that could not reach the agency at all left only notes), or all; with
    the segments that hold the run's captures (an imported export holds several runs in one segment)."""
    query = select(Segment.key).order_by(Segment.key)
    if run_id:
        query = query.where(or_(Segment.run_id == run_id,
                                Segment.key.in_(select(CaptureRow.warc_key).where(few(CaptureRow.run_id == run_id)))))
    elif agency_id:
        runs = union(select(CaptureRow.run_id).where(CaptureRow.agency_id == agency_id),
                     select(FetchError.run_id).where(FetchError.agency_id == agency_id),
                     select(ColumnCoverage.run_id).where(ColumnCoverage.agency_id == agency_id))
        query = query.where(Segment.run_id.in_(select(runs.subquery().c[0])))
    with catalog.reading() as session:
        return list(session.scalars(query))


@dataclass(frozen=True)
class _Note:
    key: str
    data: bytes            # the record as stored
    record: WarcRecord


class _Warcinfos:
    """The stored bytes of the warcinfo records the exported records name, found in their segments."""

    def __init__(self, reader: CaptureReader):
        self.reader = reader
        self._found: dict[str, bytes] = {}
        self._searched: set[str] = set()   # segments read whole: every warcinfo of theirs is known

    def learn(self, key: str, data: bytes, records: list) -> None:
        for offset, length, record in records:
            if record.record_type == "warcinfo" and record.record_id:
                self._found.setdefault(record.record_id, data[offset:offset + length])
        self._searched.add(key)

    def get(self, key: str, warcinfo_id: str) -> bytes | None:
        if warcinfo_id not in self._found and key not in self._searched:
            # a segment begins with its warcinfo; only an imported export holds more than one
            first = self._first_member(key)
            if first is not None:
                self.learn(key, first, read_members(first))
                self._searched.discard(key)
            if warcinfo_id not in self._found:
                data = self.reader.segment(key)
                self.learn(key, data, scan_segment(io.BytesIO(data))[0])
        return self._found.get(warcinfo_id)

    def _first_member(self, key: str) -> bytes | None:
        try:
            stream = open(spool_path(self.reader.spool_dir, key), "rb")
        except FileNotFoundError:
            stream = self.reader.store.open_stream(key)
        try:
            for _offset, length, _content in iter_members(stream):
                return self.reader.span(key, 0, length)
        except WarcFormatError:
            return None
        finally:
            stream.close()
        return None


def chosen_notes(reader: CaptureReader, keys: list[str], agency_id: str | None = None,
                 run_id: str | None = None, warcinfos: _Warcinfos | None = None) -> list[_Note]:
    """Each note in those segments (of the agency's, and each run's end, when one is named; of the run when one
    is named)."""
    found = []
    for key in keys:
        try:
            data = reader.segment(key)
        except ObjectNotFound as exc:
            raise ExportError(f"segment {key} is missing from the archive (run `xxgk verify` for the full "
                              f"picture)") from exc
        records, _end, _problem = scan_segment(io.BytesIO(data))  # a damaged tail: `xxgk verify` reports it
        if warcinfos is not None:
            warcinfos.learn(key, data, records)
        for offset, length, record in records:
            note = record.note()
            if note is None or (run_id is not None and note.get("run_id", run_id) != run_id):
                continue
            if agency_id is None or note.get("agency_id") == agency_id or note["xxgk"] == NOTE_RUN_END:
                found.append(_Note(key, data[offset:offset + length], record))
    return found


def carried_run_ends(reader: CaptureReader, runs: set[str], scanned: set[str],
                     warcinfos: _Warcinfos | None = None) -> list[_Note]:
    """The end of each of ``runs``, whose records the file holds without their notes (a revisit's original from an
    older run): without it ``xxgk reindex`` of the file shows a run that finished as 已中断. A run notes its end
    last, so its segments are read newest first until one holds it (``scanned``: segments whose every run end
    was taken already). A run the catalog knows ended without noting it (still running, or found dead by the run
    that took its lock over) is not searched."""
    found: list[_Note] = []
    for run in sorted(runs):
        with reader.catalog.reading() as session:
            row = session.get(CrawlRun, run)
        if row is None or row.status == "running" or (row.settings or {}).get("interrupted_by"):
            continue
        keys = sorted(set(note_segments(reader.catalog, run_id=run)) - scanned, key=creation_order, reverse=True)
        for key in keys:
            try:
                notes = chosen_notes(reader, [key], run_id=run, warcinfos=warcinfos)
            except ExportError as exc:  # another segment of that run is lost: the chosen records still export
                log.warning("the end of run %s, carried for its records, not looked for in %s: %s", run, key, exc)
                continue
            ends = [note for note in notes if note.record.note()["xxgk"] == NOTE_RUN_END]
            if ends:
                found += ends
                break
    return found


def export_warc(reader: CaptureReader, out: str | Path, *, run_id: str | None = None,
                agency_id: str | None = None, everything: bool = False) -> ExportResult:
    rows = select_captures(reader.catalog, run_id=run_id, agency_id=agency_id, everything=everything)
    what = f"run {run_id}" if run_id else f"agency {agency_id}" if agency_id else "the archive"
    warcinfos = _Warcinfos(reader)
    keys = note_segments(reader.catalog, run_id=run_id, agency_id=agency_id)
    notes = chosen_notes(reader, keys, agency_id, run_id, warcinfos)
    ended = {note.record.note().get("run_id", run_id) for note in notes
             if note.record.note()["xxgk"] == NOTE_RUN_END}
    # without --run every run end of the segments read was taken; with it, only the run's own
    carried = carried_run_ends(reader, {row.run_id for row in rows} - ended - {run_id},
                               set(keys) if run_id is None else set(), warcinfos)
    notes = carried + notes
    if not rows and not notes:
        raise ExportError(f"no captures for {what} (and no notes of fetch errors or coverage)")
    # a run that reached nothing still exports: its fetch errors are the record of it
    chosen_originals = sum(1 for row in rows if (run_id and row.run_id != run_id)
                           or (agency_id and row.agency_id != agency_id))
    target = Path(out).expanduser().resolve()
    if target.is_dir():
        raise ExportError(f"{target} is a directory: give a file name such as export.warc.gz")
    if not target.parent.is_dir():
        raise ExportError(f"no such directory: {target.parent}")
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with open(temporary, "xb") as handle:
            writer = SegmentWriter(handle, target.name)
            writer.write_warcinfo({"description": f"xxgk-watch export of {what}", "captures": str(len(rows)),
                                   "notes": str(len(notes)), "exported-at": warc_date(datetime.now(timezone.utc))},
                                  warc_date(datetime.now(timezone.utc)))
            copied: set[str] = set()

            def warcinfo_of(key: str, record: WarcRecord) -> None:
                """The warcinfo the record names, before the record, once."""
                named = record.header("WARC-Warcinfo-ID")
                if named and named not in copied:
                    info = warcinfos.get(key, named)
                    if info is None:
                        log.warning("%s: warcinfo %s not found; the file names it all the same", key, named)
                    else:
                        handle.write(info)
                    copied.add(named)

            for row in rows:
                data, records = reader.checked_span(row)  # refuse to copy bytes that no longer match the index
                warcinfo_of(row.warc_key, records[0][2])
                handle.write(data)
            for note in notes:
                warcinfo_of(note.key, note.record)
                if (note.record.target_uri or "").startswith(NOTE_URN):
                    handle.write(note.data)
                else:
                    writer.refile_note(note.record)
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
        os.replace(temporary, target)
        fsync_dir(target.parent)
    except CaptureError as exc:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"{exc} (run `xxgk verify` for the full picture)") from exc
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return ExportResult(target, len(rows), chosen_originals, size, len(notes), len(carried))
