"""Rebuilding the catalog from the WARC archive alone, after the catalog is lost (``xxgk reindex``).

Every segment in the object store, and every one still waiting in the spool, is read once, oldest first (a segment's
name starts with the time it was created). Its ``warcinfo`` re-creates the crawl run (start, settings) — an
imported export holds several runs, each record naming its run's warcinfo (``_Owners``) —, its capture
groups the capture rows exactly as recovery re-indexes a dead writer's segment (``storage.recovery.index_segment``:
offsets, lengths, digests, agency, revisits tied to their originals by ``WARC-Refers-To``, resources to what they
show by ``WARC-Concurrent-To``), and its notes (``storage.warc.SegmentWriter.write_note``) the fetch errors, the
column coverage rows and each run's end. A revisit whose original sits in a later segment (two writers at once) is
indexed in a second pass, and a screenshot whose page does is tied to it at the end. Damage inside a segment loses
the records it hits, not those after it (each record is a gzip member of its own: ``scan_past_damage`` goes on at
the next one), and the report names the damaged spans.

Reports are not made here: which captures the crawl parses and which agency a report belongs to are the crawler's
and the registry's business (``cli.reparsing`` re-parses after this).

Spooled segments are indexed as ``sealed`` by this host, so that the next ``Archive.open`` uploads them
(``storage.recovery``); one that a live writer holds is refused, as is a store that cannot be read
(``ObjectStoreError`` propagates).
"""
from __future__ import annotations

import hashlib
import json
import logging
import socket
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from storage.archive import COVERAGE_FIELDS
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture, ColumnCoverage, CrawlRun, FetchError, Report, Segment
from storage.objects import ObjectStore
from storage.recovery import Located, group_records, index_segment, iso_moment, run_of_key, scan_past_damage
from storage.spool import SEGMENT_SUFFIX, creation_order, key_of_spool_path, spooled_files, try_lock
from storage.warc import NOTE_COVERAGE, NOTE_FETCH_ERROR, NOTE_RUN_END, WarcFormatError

log = logging.getLogger(__name__)

# what makes a catalog "not empty" for a rebuild: anything the archive would re-create (agencies come from the
# registry and verdicts are recomputed, so they do not count)
HOLDINGS = {"runs": CrawlRun.id, "segments": Segment.key, "captures": Capture.id, "errors": FetchError.id,
            "coverage": ColumnCoverage.id, "reports": Report.id}


class ReindexError(Exception):
    """The archive cannot be rebuilt from now; the message says why."""


@dataclass
class ReindexReport:
    runs: int = 0
    segments: int = 0
    spooled: int = 0              # of the segments, those read from the spool (uploaded by the next crawl)
    captures: int = 0
    errors: int = 0
    coverage: int = 0
    damaged: dict[str, str] = field(default_factory=dict)   # key -> the spans that could not be read, and why
    unresolved: int = 0           # revisits whose original is in no segment: left unindexed
    bad_notes: int = 0            # notes that could not be turned back into rows


def holdings(catalog: Catalog) -> dict[str, int]:
    """How many rows of each kind a rebuild would re-create the catalog already holds."""
    with catalog.reading() as session:
        return {name: session.scalar(select(func.count(column))) or 0 for name, column in HOLDINGS.items()}


@dataclass(frozen=True)
class _Source:
    key: str
    spool_path: Path | None = None    # None: read it from the store


@dataclass
class _Run:
    started_at: datetime | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    last_seen: datetime | None = None
    end: dict[str, Any] | None = None


def sources(store: ObjectStore, spool_dir: Path) -> list[_Source]:
    """Every segment of the archive, oldest first; a key both stored and spooled is read from the store (its
    upload completed, only the spool copy was not removed yet)."""
    stored = {key for key in store.list("warcs/") if key.endswith(SEGMENT_SUFFIX)}
    found = [_Source(key) for key in stored]
    for path in spooled_files(spool_dir):
        try:
            key = key_of_spool_path(spool_dir, path)
        except ValueError:
            continue
        if key not in stored:
            found.append(_Source(key, path))
    return sorted(found, key=lambda source: creation_order(source.key))


def held_by_writers(found: list[_Source]) -> list[Path]:
    """Spooled segments a live writer holds: a rebuild must wait for it."""
    held = []
    for source in found:
        if source.spool_path is not None:
            handle = try_lock(source.spool_path)
            if handle is None:
                held.append(source.spool_path)
            else:
                handle.close()
    return held


def _read(store: ObjectStore, source: _Source) -> bytes:
    if source.spool_path is None:
        return store.get_bytes(source.key)
    handle = try_lock(source.spool_path)
    if handle is None:
        raise ReindexError(f"{source.spool_path} is being written by a running crawl (or vanished): "
                           f"let it finish, then reindex")
    try:
        return handle.read()
    finally:
        handle.close()


def rebuild(store: ObjectStore, catalog: Catalog, spool_dir: Path, *, segments: list[_Source] | None = None,
            writer: str | None = None) -> ReindexReport:
    """Re-create runs, segments, captures, fetch errors and coverage rows from every segment (``segments``, as
    :func:`sources` lists them; see the module docstring) in a catalog that holds none of them yet."""
    writer = writer or socket.gethostname()
    report = ReindexReport()
    runs: dict[str, _Run] = {}
    coverage: list[tuple[str, dict]] = []
    second_pass: list[_Source] = []
    shown: list[tuple[str, str]] = []   # (resource record id, the record it was made of)
    for source in segments if segments is not None else sources(store, Path(spool_dir)):
        data = _read(store, source)
        records, damaged = scan_past_damage(data)
        if damaged:
            report.damaged[source.key] = "；".join(f"字节 {start}–{end} 无法读取（{why}）" for start, end, why in damaged)
        with catalog.session() as session:
            owners = _Owners(records, run_of_key(source.key))
            _segment_rows(session, source, data, records, writer, runs, owners)
            report.captures += index_segment(session, source.key, owners.segment_run, records, owners.of_group)
            shown += _made_of(records)
            if _unresolved(session, records):
                second_pass.append(source)
            for _offset, _length, record in records:
                note = record.note()
                if note is not None:
                    run_id = owners.of(record)
                    _take_note(session, note, run_id, runs[run_id], coverage, report)
        report.segments += 1
        report.spooled += source.spool_path is not None
    for source in second_pass:  # each original is indexed by now, wherever it was
        records = scan_past_damage(_read(store, source))[0]
        owners = _Owners(records, run_of_key(source.key))
        with catalog.session() as session:
            report.captures += index_segment(session, source.key, owners.segment_run, records, owners.of_group)
            report.unresolved += _unresolved(session, records)
    with catalog.session() as session:
        _resolve_made_of(session, shown)
        for run_id, fields in coverage:
            try:
                queries.add_coverage(session, run_id=run_id, **_coverage_row(session, fields))
                report.coverage += 1
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("coverage note of run %s not restored: %s", run_id, exc)
                report.bad_notes += 1
        for run_id, run in runs.items():
            _finish(session, run_id, run)
    report.runs = len(runs)
    return report


class _Owners:
    """Which run each record of a segment belongs to. A crawl's segment holds one run, named by the warcinfo it
    begins with; an export imported under ``warcs/`` holds the records of several, each naming its run's warcinfo
    (copied into the file) by WARC-Warcinfo-ID, and each note or capture metadata stating its run as well (an
    export written before it carried the warcinfos has only that). A record that names no run belongs to the
    segment's: the first run named in it, else the folder's (``warcs/<run-id>/``)."""

    def __init__(self, records: list[Located], folder_run: str):
        self._runs = {record.record_id: record.fields().get("run-id") for _o, _l, record in records
                      if record.record_type == "warcinfo"}
        first = records[0][2] if records and records[0][2].record_type == "warcinfo" else None
        named = next((run for run in (self._named(record) for _o, _l, record in records) if run), None)
        # an export's own warcinfo names no run, and its date is the export's: it dates no run unless none is named
        self.anonymous = named is None
        self.segment_run = (first.fields().get("run-id") if first is not None else None) or named or folder_run

    def _named(self, record) -> str | None:
        if record.record_type == "warcinfo":
            return record.fields().get("run-id")
        run = self._runs.get(record.header("WARC-Warcinfo-ID") or "")
        if run:
            return run
        note = record.note()
        if note is not None:
            return note.get("run_id") if isinstance(note.get("run_id"), str) else None
        return record.fields().get("run-id") if record.record_type == "metadata" else None

    def of(self, record) -> str:
        return self._named(record) or self.segment_run

    def of_group(self, group: list[Located]) -> str:
        """A capture's run: its warcinfo's, else the run its metadata record states."""
        return next((run for run in (self._named(record) for _o, _l, record in group) if run), self.segment_run)

    def warcinfo_fields(self, records: list[Located], run_id: str) -> dict[str, str]:
        """What the run's first warcinfo in the segment says (its start and settings); an export's own names none."""
        infos = [record.fields() for _o, _l, record in records if record.record_type == "warcinfo"]
        return next((fields for fields in infos if fields.get("run-id") == run_id),
                    infos[0] if infos and self.anonymous else {})


def _segment_rows(session, source: _Source, data: bytes, records: list[Located], writer: str,
                  runs: dict[str, _Run], owners: _Owners) -> None:
    """The runs (each created on its first segment) and the segment row of one segment."""
    info = records[0][2] if records and records[0][2].record_type == "warcinfo" else None
    fields = info.fields() if info is not None else {}
    run_at = {offset: owners.of(record) for offset, _length, record in records}
    for group in group_records(records):   # a capture's request and metadata are of its run
        run_at.update((offset, owners.of_group(group)) for offset, _length, _record in group)
    dated: dict[str, list[datetime]] = {}
    for offset, _length, record in records:
        moment = _date_of(record)
        if record.record_type == "warcinfo" and not owners.anonymous and not record.fields().get("run-id"):
            continue
        dated.setdefault(run_at[offset], []).extend([moment] if moment is not None else [])
    dated.setdefault(owners.segment_run, [])
    for run_id, dates in dated.items():
        _run_rows(session, run_id, runs.setdefault(run_id, _Run()), owners.warcinfo_fields(records, run_id), dates)
    dates = [moment for moment in (_date_of(record) for _offset, _length, record in records) if moment is not None]
    spooled = source.spool_path is not None
    # a spooled segment is this host's to upload (storage.recovery); a stored one keeps the writer it names
    queries.add_segment(session, source.key, owners.segment_run,
                        writer if spooled else fields.get("hostname") or writer,
                        created_at=dates[0] if dates else None, state="sealed" if spooled else "uploaded")
    if spooled:  # the next Archive.open uploads it and records its size and digest then
        queries.mark_segment(session, source.key, "sealed", records=len(records))
    else:
        queries.mark_segment(session, source.key, "uploaded", size=len(data),
                             sha256=hashlib.sha256(data).hexdigest(), records=len(records))


def _run_rows(session, run_id: str, run: _Run, fields: dict[str, str], dates: list[datetime]) -> None:
    """One run's start (from its warcinfo, else its earliest record), last record and settings; its row."""
    try:
        started = iso_moment(fields.get("run-started-at")) or min(dates, default=None)
    except ValueError:
        started = min(dates, default=None)
    if started is not None and (run.started_at is None or started < run.started_at):
        run.started_at = started
    if dates and (run.last_seen is None or max(dates) > run.last_seen):
        run.last_seen = max(dates)
    if not run.settings:
        run.settings = _json_object(fields.get("run-settings"))
    if queries.get_run(session, run_id) is None:
        queries.start_run(session, run_id, settings=run.settings, started_at=run.started_at)


def _unresolved(session, records: list[Located]) -> int:
    """Revisits of this segment still without a row (their original was not indexed yet)."""
    return sum(1 for group in group_records(records)
               if group[0][2].record_type == "revisit" and group[0][2].record_id
               and queries.capture_by_record_id(session, group[0][2].record_id) is None)


def _made_of(records: list[Located]) -> list[tuple[str, str]]:
    """(record id, WARC-Concurrent-To) of each resource group of a segment: a screenshot and what it shows."""
    return [(group[0][2].record_id, group[0][2].concurrent_to[0]) for group in group_records(records)
            if group[0][2].record_type == "resource" and group[0][2].record_id and group[0][2].concurrent_to]


def _resolve_made_of(session, shown: list[tuple[str, str]]) -> None:
    """Tie each resource row to the capture it shows where its segment was indexed before that capture's (two
    writers at once): which page a screenshot shows is read from this column (storage.screenshots)."""
    for record_id, page_record_id in shown:
        resource = queries.capture_by_record_id(session, record_id)
        if resource is None or resource.concurrent_to_capture_id is not None:
            continue
        page = queries.capture_by_record_id(session, page_record_id)
        if page is not None:
            resource.concurrent_to_capture_id = page.id


def _take_note(session, note: dict, run_id: str, run: _Run, coverage: list, report: ReindexReport) -> None:
    kind = note["xxgk"]
    try:
        if kind == NOTE_FETCH_ERROR:
            queries.add_error(session, note["url"], note["kind"], note["message"], run_id=run_id,
                              agency_id=note.get("agency_id"), at=iso_moment(note["at"]))
            report.errors += 1
        elif kind == NOTE_COVERAGE:
            coverage.append((run_id, note))  # after every capture is indexed: it names one by its record id
        elif kind == NOTE_RUN_END:
            finished = iso_moment(note["finished_at"])
            if run.end is None or finished >= iso_moment(run.end["finished_at"]):
                run.end = note
        else:
            log.info("unknown note %r in run %s: skipped", kind, run_id)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("%s note of run %s not restored: %s", kind, run_id, exc)
        report.bad_notes += 1


def _coverage_row(session, note: dict) -> dict[str, Any]:
    row = {name: note[name] for name in COVERAGE_FIELDS if name in note}
    row["read_at"] = iso_moment(note["read_at"])
    for name in ("earliest_item", "latest_item"):
        row[name] = date.fromisoformat(row[name]) if row.get(name) else None
    capture = queries.capture_by_record_id(session, note.get("capture_record_id") or "")
    row["capture_id"] = capture.id if capture is not None else None
    return row


def _finish(session, run_id: str, run: _Run) -> None:
    """The run's start as its segments tell it, its end as it was noted; a run that never noted its end died (or
    is still running): interrupted."""
    if run.started_at is not None:
        queries.get_run(session, run_id).started_at = run.started_at
    if run.end is not None:
        queries.finish_run(session, run_id, status=run.end.get("status") or "finished",
                           counts=run.end.get("counts"), finished_at=iso_moment(run.end["finished_at"]))
    else:
        queries.finish_run(session, run_id, status="interrupted", finished_at=run.last_seen)


def _date_of(record) -> datetime | None:
    try:
        return record.date
    except WarcFormatError:
        return None


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
