"""``xxgk export-warc``: one WARC file holding chosen captures, copied member by member from the archive.

Each capture's record group (response or revisit, request, metadata) is copied as stored, by one ranged read,
after checking it against the index; the original of every revisit comes along so the file replays on its own.
The file starts with a new ``warcinfo`` record and appears at its destination only when complete.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from storage.catalog import Catalog
from storage.catalog.models import Capture as CaptureRow
from storage.objects import fsync_dir
from storage.reader import CaptureError, CaptureReader
from storage.warc import SegmentWriter, warc_date


class ExportError(Exception):
    """Nothing to export, an unwritable destination, or a capture that cannot be read."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    captures: int          # capture groups written (revisit originals included)
    originals_added: int   # originals pulled in only because a chosen revisit needs them
    bytes: int


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


def export_warc(reader: CaptureReader, out: str | Path, *, run_id: str | None = None,
                agency_id: str | None = None, everything: bool = False) -> ExportResult:
    rows = select_captures(reader.catalog, run_id=run_id, agency_id=agency_id, everything=everything)
    what = f"run {run_id}" if run_id else f"agency {agency_id}" if agency_id else "the archive"
    if not rows:
        raise ExportError(f"no captures for {what}")
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
                                   "exported-at": warc_date(datetime.now(timezone.utc))},
                                  warc_date(datetime.now(timezone.utc)))
            for row in rows:
                data, _records = reader.checked_span(row)  # refuse to copy bytes that no longer match the index
                handle.write(data)
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
    return ExportResult(target, len(rows), chosen_originals, size)
