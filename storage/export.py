"""``xxgk export-warc``: one WARC file holding chosen captures, copied member by member from the archive.

Each capture's record group (response or revisit, request, metadata) is copied as stored, by one ranged read,
after checking it against the index; the original of every revisit comes along so the file replays on its own.
Then the notes of the chosen runs (the standalone JSON ``metadata`` records: fetch errors, column coverage, a
run's end), copied as stored: what a verdict of 未发布 or 无法判定 rests on leaves with the pages, and
``xxgk reindex`` over the file gives them back. A note written before notes had a URN of their own (its target
URI was the page it is about, which replay tools then served as that page) is written again under its URN, the
same record otherwise. Notes are not indexed by position, so the segments of the chosen
runs are read whole to find them. The file starts with a new ``warcinfo`` record and appears at its destination
only when complete.
"""
from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select, union

from storage.catalog import Catalog
from storage.catalog.models import Capture as CaptureRow
from storage.catalog.models import ColumnCoverage, FetchError, Segment
from storage.objects import ObjectNotFound, fsync_dir
from storage.reader import CaptureError, CaptureReader
from storage.recovery import scan_segment
from storage.warc import NOTE_RUN_END, NOTE_URN, SegmentWriter, WarcRecord, warc_date


class ExportError(Exception):
    """Nothing to export, an unwritable destination, or a capture that cannot be read."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    captures: int          # capture groups written (revisit originals included)
    originals_added: int   # originals pulled in only because a chosen revisit needs them
    bytes: int
    notes: int = 0         # fetch errors, column coverage and run ends copied with them


def select_captures(catalog: Catalog, *, run_id: str | None = None, agency_id: str | None = None,
                    everything: bool = False) -> list[CaptureRow]:
    """The chosen captures plus the originals their revisits refer to, oldest first."""
    if sum(bool(choice) for choice in (run_id, agency_id, everything)) != 1:
        raise ExportError("choose exactly one of a run, an agency, or everything")
    query = select(CaptureRow).order_by(CaptureRow.id)
    if run_id:
        query = query.where(CaptureRow.run_id == run_id)
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
    fetch error or a coverage row in (a run that could not reach the agency at all left only notes), or all."""
    query = select(Segment.key).order_by(Segment.key)
    if run_id:
        query = query.where(Segment.run_id == run_id)
    elif agency_id:
        runs = union(select(CaptureRow.run_id).where(CaptureRow.agency_id == agency_id),
                     select(FetchError.run_id).where(FetchError.agency_id == agency_id),
                     select(ColumnCoverage.run_id).where(ColumnCoverage.agency_id == agency_id))
        query = query.where(Segment.run_id.in_(select(runs.subquery().c[0])))
    with catalog.reading() as session:
        return list(session.scalars(query))


def chosen_notes(reader: CaptureReader, keys: list[str], agency_id: str | None = None) -> list[tuple[bytes, WarcRecord]]:
    """The stored bytes of each note in those segments (of the agency's, and each run's end, when one is named)."""
    found = []
    for key in keys:
        try:
            data = reader.segment(key)
        except ObjectNotFound as exc:
            raise ExportError(f"segment {key} is missing from the archive (run `xxgk verify` for the full "
                              f"picture)") from exc
        records, _end, _problem = scan_segment(io.BytesIO(data))  # a damaged tail: `xxgk verify` reports it
        for offset, length, record in records:
            note = record.note()
            if note is not None and (agency_id is None or note.get("agency_id") == agency_id
                                     or note["xxgk"] == NOTE_RUN_END):
                found.append((data[offset:offset + length], record))
    return found


def export_warc(reader: CaptureReader, out: str | Path, *, run_id: str | None = None,
                agency_id: str | None = None, everything: bool = False) -> ExportResult:
    rows = select_captures(reader.catalog, run_id=run_id, agency_id=agency_id, everything=everything)
    what = f"run {run_id}" if run_id else f"agency {agency_id}" if agency_id else "the archive"
    notes = chosen_notes(reader, note_segments(reader.catalog, run_id=run_id, agency_id=agency_id), agency_id)
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
            for row in rows:
                data, _records = reader.checked_span(row)  # refuse to copy bytes that no longer match the index
                handle.write(data)
            for stored, record in notes:
                if (record.target_uri or "").startswith(NOTE_URN):
                    handle.write(stored)
                else:
                    writer.refile_note(record)
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
    return ExportResult(target, len(rows), chosen_originals, size, len(notes))
