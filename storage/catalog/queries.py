"""What the crawler, the parsers' caller and the web ask of the catalog. Every function takes an open Session.

Write with ``with catalog.session() as s: ...`` (one transaction), read with ``catalog.reading()``. Rows come back
as model objects that stay usable after the session ends.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Boolean, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from parsers.shingles import text_signature
from parsers.version import PARSER_VERSION
from storage.catalog.models import (COLUMN_FOUND_BY, COLUMN_PROBLEMS, FETCH_ERROR_KINDS, RUN_STATUSES, Agency,
                                    AlertDelivery, AlertEvent, Capture, ColumnCoverage, CrawlRun, FetchError, Report,
                                    ReportHistory, Segment, Verdict)
from storage.surt import surt

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SURT_MAX = 1000


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def url_hash(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()


def few(condition):
    """``condition``, said to hold for few rows: a run's rows (``Capture.run_id == run_id``) are few against the
    archive's, but SQLite's statistics (ANALYZE) gathered while the archive held one or two runs say a run holds
    all of it, and its planner then reads the whole table instead of the run's index: 14 s for a run's captures in
    a 12 GB catalog. On SQLite this is ``unlikely(condition)``, which keeps the index; PostgreSQL's statistics know
    each run's share, so it gets the condition as it is."""
    return _Few(condition)


class _Few(ColumnElement):
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True          # a condition of its own: no "= 1" after it, which no index serves
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]

    def __init__(self, condition):
        self.condition = condition


@compiles(_Few)
def _few_anywhere(element, compiler, **kw):
    return compiler.process(element.condition, **kw)


@compiles(_Few, "sqlite")
def _few_on_sqlite(element, compiler, **kw):
    return f"unlikely({compiler.process(element.condition, **kw)})"


# ---------------------------------------------------------------- agencies

_AGENCY_FIELDS = ("name", "level", "region", "parent", "homepage", "report_index", "render", "robots", "aliases")


def upsert_agency(session: Session, agency_id: str, name: str, *, level: str | None = None,
                  region: str | None = None, parent: str | None = None, homepage: str | None = None,
                  report_index: Sequence[str] = (), render: str | None = None, robots: str | None = None,
                  aliases: Sequence[str] = ()) -> Agency:
    """Insert the agency or overwrite every field of the existing row (the registry is the source of truth)."""
    upsert_agencies(session, [dict(agency_id=agency_id, name=name, level=level, region=region, parent=parent,
                                   homepage=homepage, report_index=report_index, render=render, robots=robots,
                                   aliases=aliases)])
    return session.get(Agency, agency_id, populate_existing=True)


def upsert_agencies(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """``upsert_agency`` for many (its arguments, by name; the last row of an id wins): the existing rows read in a
    few queries, the new ones inserted and the changed ones updated in one statement each. A crawl stores its
    whole registry when it starts: a query and a flush per agency took ~0.5 ms, most of a minute at a national
    registry's 100,000 agencies. Returns how many agencies the rows name."""
    values: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row.get("agency_id") or not row.get("name"):
            raise ValueError("an agency needs an id and a name")
        value = {field: row.get(field) for field in _AGENCY_FIELDS}
        value["report_index"], value["aliases"] = list(row.get("report_index") or ()), list(row.get("aliases") or ())
        values[row["agency_id"]] = {"id": row["agency_id"], **value}
    ids = list(values)
    existing: dict[str, tuple] = {}
    columns = [getattr(Agency, field) for field in _AGENCY_FIELDS]
    for start in range(0, len(ids), 500):   # under every database's limit of bound parameters
        existing.update((found[0], tuple(found[1:])) for found in
                        session.execute(select(Agency.id, *columns).where(Agency.id.in_(ids[start:start + 500]))))
    new = [value for agency_id, value in values.items() if agency_id not in existing]
    changed = [value for agency_id, value in values.items() if agency_id in existing
               and existing[agency_id] != tuple(value[field] for field in _AGENCY_FIELDS)]
    if new:
        session.execute(insert(Agency), new)
    if changed:
        session.execute(update(Agency), changed)   # by primary key, one executemany
    return len(values)


def get_agency(session: Session, agency_id: str) -> Agency | None:
    return session.get(Agency, agency_id)


def watch_agencies(session: Session, agency_ids: Iterable[str]) -> None:
    """Mark these agencies, and no other, as watched: the registry ``xxgk agencies import`` just stored replaces
    the one before (an agency it leaves out keeps its row and history, and is no longer crawled)."""
    wanted = set(agency_ids)
    marked = set(session.scalars(select(Agency.id).where(Agency.watched.is_(True))))
    # only the marks that change: each moves its agency's verdicts between tallies (a trigger, migration 0010)
    for ids, mark in ((sorted(marked - wanted), False), (sorted(wanted - marked), True)):
        for start in range(0, len(ids), 500):   # under every database's limit of bound parameters
            session.execute(update(Agency).where(Agency.id.in_(ids[start:start + 500])).values(watched=mark),
                            execution_options={"synchronize_session": False})


def registry_imported(session: Session) -> bool:
    """Whether ``xxgk agencies import`` (or ``xxgk reindex --registry``) marked who is watched: then the current
    figures (``xxgk status``, the dashboard, its exports and rates) count those agencies alone by default."""
    return session.scalar(select(Agency.id).where(Agency.watched.is_(True)).limit(1)) is not None


def count_agencies(session: Session, *, level: str | None = None, region: str | None = None,
                   watched: bool | None = None) -> int:
    return session.scalar(_agencies_where(select(func.count(Agency.id)), level, region, watched)) or 0


def list_agencies(session: Session, *, level: str | None = None, region: str | None = None,
                  watched: bool | None = None) -> list[Agency]:
    return list(session.scalars(_agencies_where(select(Agency).order_by(Agency.id), level, region, watched)))


def _agencies_where(query, level: str | None, region: str | None, watched: bool | None):
    if watched is not None:
        query = query.where(Agency.watched.is_(watched))
    if level:
        query = query.where(Agency.level == level)
    if region:
        query = query.where(Agency.region == region)
    return query


# ---------------------------------------------------------------- crawl runs

def new_run_id(now: datetime | None = None) -> str:
    """``20250130T102000Z-3f9a1c``: sortable by start time, unique enough for parallel starts."""
    moment = (now or utcnow()).astimezone(timezone.utc)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r}: use 1-64 letters, digits, '.', '_' or '-', not starting with a sign")
    return run_id


def start_run(session: Session, run_id: str | None = None, *, settings: Mapping[str, Any] | None = None,
              started_at: datetime | None = None) -> CrawlRun:
    """Create the run, or mark an existing one (a resumed run) as running again."""
    run_id = validate_run_id(run_id) if run_id else new_run_id(started_at)
    run = session.get(CrawlRun, run_id)
    if run is None:
        run = CrawlRun(id=run_id, started_at=started_at or utcnow(), status="running",
                       counts={}, settings=dict(settings or {}))
        session.add(run)
    else:
        run.status = "running"
        run.finished_at = None
        if settings:
            run.settings = dict(settings)
    session.flush()
    return run


def finish_run(session: Session, run_id: str, *, status: str = "finished", counts: Mapping[str, Any] | None = None,
               finished_at: datetime | None = None) -> CrawlRun:
    if status not in RUN_STATUSES:
        raise ValueError(f"run status {status!r}: expected one of {', '.join(RUN_STATUSES)}")
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise LookupError(f"no crawl run {run_id!r}")
    run.status = status
    run.finished_at = finished_at or utcnow()
    if counts is not None:
        run.counts = dict(counts)
    session.flush()
    return run


def get_run(session: Session, run_id: str) -> CrawlRun | None:
    return session.get(CrawlRun, run_id)


def list_runs(session: Session, limit: int = 50) -> list[CrawlRun]:
    return list(session.scalars(select(CrawlRun).order_by(CrawlRun.started_at.desc()).limit(limit)))


def latest_run(session: Session, *, status: str | None = None) -> CrawlRun | None:
    query = select(CrawlRun).order_by(CrawlRun.started_at.desc()).limit(1)
    if status:
        query = query.where(CrawlRun.status == status)
    return session.scalars(query).first()


# ---------------------------------------------------------------- WARC segments

def add_segment(session: Session, key: str, run_id: str, writer: str, *, created_at: datetime | None = None,
                state: str = "open") -> Segment:
    segment = Segment(key=key, run_id=run_id, writer=writer, state=state, records=0, created_at=created_at or utcnow())
    session.add(segment)
    session.flush()
    return segment


def get_segment(session: Session, key: str) -> Segment | None:
    return session.get(Segment, key)


def mark_segment(session: Session, key: str, state: str, *, size: int | None = None, sha256: str | None = None,
                 records: int | None = None) -> Segment:
    segment = session.get(Segment, key)
    if segment is None:
        raise LookupError(f"no WARC segment {key!r} in the catalog")
    segment.state = state
    if size is not None:
        segment.size = size
    if sha256 is not None:
        segment.sha256 = sha256
    if records is not None:
        segment.records = records
    if state == "uploaded":
        segment.uploaded_at = utcnow()
    session.flush()
    return segment


def unfinished_segments(session: Session, writer: str) -> list[Segment]:
    """Segments this host was writing or had not uploaded yet."""
    query = select(Segment).where(Segment.writer == writer, Segment.state.in_(("open", "sealed"))).order_by(Segment.key)
    return list(session.scalars(query))


def held_in_other_spool(connection, key: str, writer: str) -> bool:
    """Whether segment ``key`` is still in another writer's spool (not uploaded): its records cannot be read here
    yet."""
    row = connection.execute(select(Segment.__table__.c.writer, Segment.__table__.c.state)
                             .where(Segment.__table__.c.key == key)).first()
    return row is not None and row.state != "uploaded" and row.writer != writer


def segments(session: Session, *, run_id: str | None = None) -> list[Segment]:
    query = select(Segment).order_by(Segment.key)
    if run_id:
        query = query.where(Segment.run_id == run_id)
    return list(session.scalars(query))


def remove_segment(session: Session, key: str) -> int:
    """Forget a segment that holds nothing any more; returns how many capture rows went with it."""
    removed = remove_captures_in_segment(session, key)
    session.execute(delete(Segment).where(Segment.key == key))
    return removed


def remove_captures_in_segment(session: Session, key: str, *, from_offset: int = 0,
                               keep_offsets: Iterable[int] | None = None) -> int:
    """Delete index rows that point into ``key`` at or after ``from_offset`` (or not at a known record start).

    Reports on those captures and revisits of them go too (ON DELETE CASCADE).
    """
    query = select(Capture.id).where(Capture.warc_key == key, Capture.offset >= from_offset)
    if keep_offsets is not None:
        keep = set(keep_offsets)
        ids = [row.id for row in session.execute(select(Capture.id, Capture.offset).where(Capture.warc_key == key))
               if row.offset >= from_offset or row.offset not in keep]
    else:
        ids = list(session.scalars(query))
    if ids:
        session.execute(delete(Capture).where(Capture.id.in_(ids)))
    return len(ids)


# ---------------------------------------------------------------- captures

CAPTURES = Capture.__table__


def _capture_values(*, url: str, timestamp: datetime, record_type: str, warc_key: str, offset: int, length: int,
                    group_length: int, record_id: str, payload_sha1: str, payload_sha256: str, payload_length: int,
                    run_id: str, status: int | None = None, mime: str | None = None,
                    refers_to_capture_id: int | None = None, agency_id: str | None = None, ip: str | None = None,
                    etag: str | None = None, last_modified: str | None = None,
                    truncated: str | None = None, role: str | None = None, listing_title: str | None = None,
                    listing_date: str | None = None, redirected_from: str | None = None,
                    concurrent_to_capture_id: int | None = None, listing_items: list | None = None,
                    facts_version: int | None = None) -> dict[str, Any]:
    """The row's columns; the verdict facts (``storage.facts``) left out mean "not derived yet"."""
    return dict(
        url=url, url_hash=url_hash(url), surt=surt(url)[:_SURT_MAX], timestamp=timestamp, status=status,
        mime=(mime or None) and mime[:255], payload_sha1=payload_sha1, payload_sha256=payload_sha256,
        payload_length=payload_length, warc_key=warc_key, offset=offset, length=length, group_length=group_length,
        record_id=record_id, record_type=record_type, refers_to_capture_id=refers_to_capture_id, run_id=run_id,
        agency_id=agency_id, ip=ip, etag=etag, last_modified=last_modified, truncated=truncated,
        role=role, listing_title=listing_title, listing_date=listing_date,
        redirected_from=redirected_from, concurrent_to_capture_id=concurrent_to_capture_id,
        listing_items=listing_items, facts_version=facts_version,
    )


def add_capture(session: Session, **fields: Any) -> Capture:
    """Index one WARC record (the fields of :func:`_capture_values`); returns the new row."""
    return session.scalars(insert(Capture).returning(Capture), [_capture_values(**fields)]).one()


def get_capture(session: Session, capture_id: int) -> Capture | None:
    return session.get(Capture, capture_id)


# The archive's per-fetch path uses plain Core rows (same attribute names as the model): an ORM session and unit
# of work cost more than the statement itself. ``connection`` is a Connection or a Session.

def insert_capture(connection, **fields: Any) -> int:
    """:func:`add_capture` without the ORM: returns the new capture id."""
    statement = insert(CAPTURES).values(_capture_values(**fields)).returning(CAPTURES.c.id)
    return connection.execute(statement).scalar_one()


def insert_captures(connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """:func:`insert_capture` for many rows in one statement (a group commit's batch); their ids, in order."""
    if not rows:
        return []
    statement = insert(CAPTURES).returning(CAPTURES.c.id, sort_by_parameter_order=True)
    return list(connection.execute(statement, [_capture_values(**row) for row in rows]).scalars())


def capture_row(connection, capture_id: int):
    """The capture's columns as a Row (``row.url``, ``row.offset``, …), or None."""
    return connection.execute(select(CAPTURES).where(CAPTURES.c.id == capture_id)).first()


def capture_id_of_record(connection, record_id: str) -> int | None:
    """The id of the capture whose WARC-Record-ID is ``record_id`` (unique), or None."""
    return connection.execute(select(CAPTURES.c.id).where(CAPTURES.c.record_id == record_id)).scalar()


def capture_by_record_id(session: Session, record_id: str) -> Capture | None:
    return session.scalars(select(Capture).where(Capture.record_id == record_id)).first()


@functools.lru_cache(maxsize=None)
def _latest_query(what, record_types: tuple[str, ...], before: bool, status: bool):
    """The newest-capture query, built once for each shape and then only bound to a URL: built on every call, its
    construction cost ~0.4 ms of Python (GIL) per request of a crawl, 4× the query's own."""
    columns = CAPTURES.c
    query = (select(what).where(columns.url_hash == bindparam("url_hash"), columns.url == bindparam("url"),
                                columns.record_type.in_(record_types))
             .order_by(columns.timestamp.desc(), columns.id.desc()).limit(1))
    if before:
        query = query.where(columns.timestamp <= bindparam("before"))
    if status:
        query = query.where(columns.status == bindparam("status"))
    return query


def _latest(what, url: str, before: datetime | None, record_types: Sequence[str], status: int | None):
    """(query, parameters) of the newest capture of exactly ``url``."""
    query = _latest_query(what, tuple(record_types), before is not None, status is not None)
    parameters: dict[str, Any] = {"url_hash": url_hash(url), "url": url}
    if before is not None:
        parameters["before"] = before
    if status is not None:
        parameters["status"] = status
    return query, parameters


def latest_capture(session: Session, url: str, *, before: datetime | None = None,
                   record_types: Sequence[str] = ("response", "revisit"), status: int | None = None) -> Capture | None:
    """The newest capture of exactly this URL (for conditional GET validators and revisit decisions)."""
    return session.scalars(*_latest(Capture, url, before, record_types, status)).first()


def latest_capture_row(connection, url: str, *, before: datetime | None = None,
                       record_types: Sequence[str] = ("response", "revisit"), status: int | None = None):
    """:func:`latest_capture` as a plain Row (see :func:`capture_row`)."""
    return connection.execute(*_latest(CAPTURES, url, before, record_types, status)).first()


def captures_of_url(session: Session, url: str) -> list[Capture]:
    query = (select(Capture).where(Capture.url_hash == url_hash(url), Capture.url == url)
             .order_by(Capture.timestamp, Capture.id))
    return list(session.scalars(query))


def first_seen(session: Session, url: str) -> datetime | None:
    """When the archive first captured this URL: an upper bound on when it was published."""
    return session.scalar(select(func.min(Capture.timestamp)).where(Capture.url_hash == url_hash(url),
                                                                    Capture.url == url))


def last_seen(session: Session, url: str) -> datetime | None:
    return session.scalar(select(func.max(Capture.timestamp)).where(Capture.url_hash == url_hash(url),
                                                                    Capture.url == url))


def captures_by_run(session: Session, run_id: str) -> list[Capture]:
    return list(session.scalars(select(Capture).where(few(Capture.run_id == run_id)).order_by(Capture.id)))


def captures_by_agency(session: Session, agency_id: str, *, run_id: str | None = None) -> list[Capture]:
    query = select(Capture).where(Capture.agency_id == agency_id).order_by(Capture.id)
    if run_id:
        query = query.where(few(Capture.run_id == run_id))
    return list(session.scalars(query))


def captures_by_surt_prefix(session: Session, prefix: str, limit: int = 1000) -> list[Capture]:
    """Captures under a host or path, e.g. ``cn,gov,beijing)/`` or ``cn,gov,beijing,``."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (select(Capture).where(Capture.surt.like(f"{escaped}%", escape="\\"))
             .order_by(Capture.surt, Capture.timestamp).limit(limit))
    return list(session.scalars(query))


def captures_in_segment(session: Session, key: str) -> list[Capture]:
    return list(session.scalars(select(Capture).where(Capture.warc_key == key).order_by(Capture.offset)))


def all_captures(session: Session) -> list[Capture]:
    return list(session.scalars(select(Capture).order_by(Capture.id)))


def count_captures(session: Session, *, run_id: str | None = None) -> int:
    query = select(func.count(Capture.id))
    if run_id:
        query = query.where(few(Capture.run_id == run_id))
    return session.scalar(query) or 0


# ---------------------------------------------------------------- fetch errors

def add_error(session: Session, url: str, kind: str, message: str, *, run_id: str | None = None,
              agency_id: str | None = None, at: datetime | None = None) -> FetchError:
    if kind not in FETCH_ERROR_KINDS:
        raise ValueError(f"fetch error kind {kind!r}: expected one of {', '.join(FETCH_ERROR_KINDS)}")
    error = FetchError(url=url, url_hash=url_hash(url), kind=kind, message=str(message), run_id=run_id,
                       agency_id=agency_id, at=at or utcnow())
    session.add(error)
    session.flush()
    return error


def find_error(session: Session, run_id: str, url: str, kind: str, at: datetime) -> FetchError | None:
    """The fetch error of this run, URL, kind and moment, if the catalog has it."""
    return session.scalars(select(FetchError).where(
        FetchError.run_id == run_id, FetchError.url_hash == url_hash(url), FetchError.url == url,
        FetchError.kind == kind, FetchError.at == at).limit(1)).first()


def errors_by_run(session: Session, run_id: str) -> list[FetchError]:
    return list(session.scalars(select(FetchError).where(few(FetchError.run_id == run_id)).order_by(FetchError.id)))


def errors_of_url(session: Session, url: str) -> list[FetchError]:
    return list(session.scalars(select(FetchError).where(FetchError.url_hash == url_hash(url), FetchError.url == url)
                                .order_by(FetchError.at)))


def errors_by_agency(session: Session, agency_id: str) -> list[FetchError]:
    return list(session.scalars(select(FetchError).where(FetchError.agency_id == agency_id)
                                .order_by(FetchError.at)))


# ---------------------------------------------------------------- column coverage

def add_coverage(session: Session, *, run_id: str, agency_id: str, read_at: datetime, column_url: str | None = None,
                 **fields: Any) -> ColumnCoverage:
    """One row of what a run read of an agency's report column (see ``models.ColumnCoverage``)."""
    problem = fields.get("problem")
    if problem is not None and problem not in COLUMN_PROBLEMS:
        raise ValueError(f"coverage problem {problem!r}: expected one of {', '.join(COLUMN_PROBLEMS)}")
    found_by = fields.get("found_by")
    if found_by is not None and found_by not in COLUMN_FOUND_BY:
        raise ValueError(f"coverage found_by {found_by!r}: expected one of {', '.join(COLUMN_FOUND_BY)}")
    row = ColumnCoverage(run_id=run_id, agency_id=agency_id, read_at=read_at, column_url=column_url,
                         errors=list(fields.pop("errors", None) or []), **fields)
    for name in ("pages_walked", "items_read", "dated_items", "reports_found"):
        if getattr(row, name) is None:
            setattr(row, name, 0)
    row.complete = bool(row.complete)
    row.rendered = bool(row.rendered)
    session.add(row)
    session.flush()
    return row


def coverage_of_agency(session: Session, agency_id: str, *, run_id: str | None = None) -> list[ColumnCoverage]:
    """The agency's coverage rows, oldest read first."""
    query = select(ColumnCoverage).where(ColumnCoverage.agency_id == agency_id)
    if run_id is not None:
        query = query.where(ColumnCoverage.run_id == run_id)
    return list(session.scalars(query.order_by(ColumnCoverage.read_at, ColumnCoverage.id)))


def coverage_of_run(session: Session, run_id: str) -> list[ColumnCoverage]:
    return list(session.scalars(select(ColumnCoverage).where(few(ColumnCoverage.run_id == run_id))
                                .order_by(ColumnCoverage.agency_id, ColumnCoverage.id)))


# ---------------------------------------------------------------- reports

def _record_json(record: Any) -> dict[str, Any]:
    if hasattr(record, "to_json"):
        return record.to_json()
    if is_dataclass(record):
        return asdict(record)
    if isinstance(record, Mapping):
        return dict(record)
    raise TypeError(f"expected a ReportRecord or its to_json() dict, not {type(record).__name__}")


def _iso_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def report_text(report: Report) -> str:
    """The main text of a parsed document. It is stored once, in ``reports.text`` (where full-text search reads
    it); ``record_json`` holds the rest of the record (migration 0008)."""
    return report.text or ""


def report_record(report: Report) -> dict[str, Any]:
    """The whole record as the parsers gave it (``ReportRecord.to_json()``): ``record_json`` with its text."""
    return {**(report.record_json or {}), "text": report_text(report)}


REPORTS = Report.__table__


def _no_capture(capture_id: int) -> LookupError:
    return LookupError(f"no capture {capture_id} in the catalog")


def _unknown_agency(agency_id: str) -> LookupError:
    return LookupError(f"unknown agency {agency_id!r}: upsert it into the registry first")


def _report_data(record: Any) -> tuple[dict[str, Any], str]:
    """The record as the JSON column gives it back (tuples become lists, so an identical re-parse compares equal),
    without its text, and the text."""
    data = json.loads(json.dumps(_record_json(record), ensure_ascii=False, default=str))
    return data, data.pop("text", None) or ""


def _report_columns(data: Mapping[str, Any], text: str, *, agency_id: str | None, url: str,
                    parsed_at: datetime | None, parser_version: str | None) -> dict[str, Any]:
    """A report row's columns for the record ``_report_data`` gave, but for its signature (``shingles``,
    ``minhash``), which a replacing parse keeps when the text is the same."""
    return dict(
        agency_id=agency_id, url=url, title=data.get("title"), is_report=bool(data.get("is_report")),
        kind=data.get("kind") or "other", report_year=data.get("report_year"),
        format=data.get("format") or "unknown", publication_date=_iso_date(data.get("publication_date")),
        date_source=data.get("date_source"), signing_date=_iso_date(data.get("signing_date")),
        needs_ocr=bool(data.get("needs_ocr")), error=data.get("error"), record_json=data, text=text,
        parsed_at=parsed_at or utcnow(), parser_version=parser_version,
    )


def add_report(session: Session, capture_id: int, record: Any, *, agency_id: str | None = None,
               url: str | None = None, parsed_at: datetime | None = None,
               parser_version: str | None = PARSER_VERSION, signature: tuple | None = None) -> Report:
    """Store (or replace) the parse of one capture: the searchable fields, the text (``reports.text``) and the rest
    of ``to_json()`` (``record_json``), and the version of the parsers that produced it (default: these parsers).
    A replaced record that differs from the new one (or was attributed to another agency) is kept whole, text
    included, in ``report_history``. ``signature`` is ``text_signature`` of the record's text when the caller
    computed it already (the crawl does, in its parse workers). :func:`add_reports` stores many at once."""
    capture = session.get(Capture, capture_id)
    if capture is None:
        raise _no_capture(capture_id)
    agency_id = agency_id if agency_id is not None else capture.agency_id
    if agency_id is not None and session.get(Agency, agency_id) is None:
        raise _unknown_agency(agency_id)
    data, text = _report_data(record)
    report = session.scalars(select(Report).where(Report.capture_id == capture_id)).first()
    if report is None:
        report = Report(capture_id=capture_id)
        session.add(report)
    elif report.record_json != data or report_text(report) != text or report.agency_id != agency_id:
        session.add(ReportHistory(report_id=report.id, agency_id=report.agency_id, record_json=report_record(report),
                                  parser_version=report.parser_version, parsed_at=report.parsed_at,
                                  replaced_at=utcnow()))
    if report.shingles is None or report.text != text:
        # once per text: copy detection only reads it
        report.shingles, report.minhash = signature if signature is not None else text_signature(text)
    for name, value in _report_columns(data, text, agency_id=agency_id, url=url or capture.url, parsed_at=parsed_at,
                                       parser_version=parser_version).items():
        setattr(report, name, value)
    session.flush()
    return report


def add_reports(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int | LookupError]:
    """:func:`add_report` for many parses in the session's one transaction (the crawl's batch): each row holds its
    arguments (``capture_id``, ``record`` and, optional, ``agency_id``, ``url``, ``parsed_at``, ``parser_version``,
    ``signature``). Returns, in order, each row's report id, or the LookupError of a row whose capture or agency
    is not in the catalog (that row alone is not stored).

    The crawl's captures are new, so their rows go in with one multi-row insert, after one query each for the
    captures, the agencies and the reports already there; a capture that has a report already (or twice in the
    batch) goes through :func:`add_report`, which keeps the history."""
    if not rows:
        return []
    results: list[int | LookupError | None] = [None] * len(rows)
    capture_ids = {row["capture_id"] for row in rows}
    captures = {row.id: row for row in session.execute(
        select(CAPTURES.c.id, CAPTURES.c.agency_id, CAPTURES.c.url).where(CAPTURES.c.id.in_(capture_ids)))}
    agency_of = [row.get("agency_id") if row.get("agency_id") is not None
                 else getattr(captures.get(row["capture_id"]), "agency_id", None) for row in rows]
    wanted = {agency_id for agency_id in agency_of if agency_id is not None}
    agencies = set(session.scalars(select(Agency.id).where(Agency.id.in_(wanted)))) if wanted else set()
    reported = set(session.scalars(select(REPORTS.c.capture_id).where(REPORTS.c.capture_id.in_(capture_ids))))
    fresh: list[int] = []          # rows of the multi-row insert
    replacing: list[int] = []      # rows for add_report, after it
    for index, row in enumerate(rows):
        capture = captures.get(row["capture_id"])
        if capture is None:
            results[index] = _no_capture(row["capture_id"])
        elif agency_of[index] is not None and agency_of[index] not in agencies:
            results[index] = _unknown_agency(agency_of[index])
        elif row["capture_id"] in reported:
            replacing.append(index)
        else:
            reported.add(row["capture_id"])   # a second parse of it in this batch replaces this one
            fresh.append(index)
    values = []
    for index in fresh:
        row = rows[index]
        data, text = _report_data(row["record"])
        signature = row.get("signature")
        shingles, minhash = signature if signature is not None else text_signature(text)
        values.append(dict(_report_columns(data, text, agency_id=agency_of[index],
                                           url=row.get("url") or captures[row["capture_id"]].url,
                                           parsed_at=row.get("parsed_at"),
                                           parser_version=row.get("parser_version", PARSER_VERSION)),
                           capture_id=row["capture_id"], shingles=shingles, minhash=minhash))
    if values:
        statement = insert(REPORTS).returning(REPORTS.c.id, sort_by_parameter_order=True)
        for index, report_id in zip(fresh, session.execute(statement, values).scalars()):
            results[index] = report_id
    for index in replacing:
        row = rows[index]
        results[index] = add_report(session, row["capture_id"], row["record"], agency_id=row.get("agency_id"),
                                    url=row.get("url"), parsed_at=row.get("parsed_at"),
                                    parser_version=row.get("parser_version", PARSER_VERSION),
                                    signature=row.get("signature")).id
    return results


def report_history(session: Session, report_id: int) -> list[ReportHistory]:
    """The records a report row held before, oldest first."""
    return list(session.scalars(select(ReportHistory).where(ReportHistory.report_id == report_id)
                                .order_by(ReportHistory.id)))


def report_by_capture(session: Session, capture_id: int) -> Report | None:
    return session.scalars(select(Report).where(Report.capture_id == capture_id)).first()


def report_by_capture_record(session: Session, record_id: str) -> Report | None:
    """The report of the capture whose WARC-Record-ID is ``record_id`` (None also while it has no row)."""
    return session.scalars(select(Report).join(Capture, Capture.id == Report.capture_id)
                           .where(Capture.record_id == record_id)).first()


def reports_of_agency(session: Session, agency_id: str, *, report_year: int | None = None,
                      only_reports: bool = False) -> list[Report]:
    query = select(Report).where(Report.agency_id == agency_id).order_by(Report.report_year, Report.id)
    if report_year is not None:
        query = query.where(Report.report_year == report_year)
    if only_reports:
        query = query.where(Report.is_report.is_(True))
    return list(session.scalars(query))


def report_urls_of_agencies(session: Session, agency_ids: Iterable[str]) -> dict[str, list[str]]:
    """agency id → the distinct URLs of its documents parsed as reports, in URL order."""
    wanted = list(agency_ids)
    found: dict[str, list[str]] = {agency_id: [] for agency_id in wanted}
    if not wanted:
        return found
    rows = session.execute(select(Report.agency_id, Report.url).where(Report.agency_id.in_(wanted),
                                                                      Report.is_report.is_(True))
                           .distinct().order_by(Report.agency_id, Report.url))
    for agency_id, url in rows:
        found[agency_id].append(url)
    return found


def list_reports(session: Session, *, report_year: int | None = None, only_reports: bool = True,
                 limit: int = 500) -> list[Report]:
    query = select(Report).order_by(Report.agency_id, Report.report_year, Report.id).limit(limit)
    if report_year is not None:
        query = query.where(Report.report_year == report_year)
    if only_reports:
        query = query.where(Report.is_report.is_(True))
    return list(session.scalars(query))


def search_reports(session: Session, words: str, *, limit: int = 50) -> list[Report]:
    """Reports whose title or text contains every whitespace-separated word (plain substring match)."""
    query = select(Report).order_by(Report.report_year.desc(), Report.id).limit(limit)
    for word in words.split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Report.title.like(pattern, escape="\\"), Report.text.like(pattern, escape="\\")))
    return list(session.scalars(query))


# the indexed expression of migration 0002, spelled the same way so that PostgreSQL uses its GIN index
_PG_SEARCH_DOCUMENT = "to_tsvector('simple', xxgk_bigrams(lower(coalesce(title, '') || ' ' || text)))"
_FTS_MIN_TERM = 3  # the trigram tokenizer cannot answer shorter terms


def full_text_search(session: Session, words: str, *, limit: int = 50, offset: int = 0) -> list[Report]:
    """The matches of :func:`search_reports` (every whitespace-separated word is a substring of the title or the
    text), newest report year first, answered from the search index of migration 0002.

    SQLite: FTS5 trigram index for words of three or more characters. PostgreSQL: GIN index over character bigrams
    for words of two or more, each candidate confirmed by ILIKE. Shorter words fall back to a substring scan.
    """
    terms = words.split()
    if not terms:
        return []
    dialect = session.get_bind().dialect.name
    query = (select(Report).order_by(Report.report_year.desc().nulls_last(), Report.id)
             .limit(max(limit, 0)).offset(max(offset, 0)))
    long_terms = [term for term in terms if len(term) >= _FTS_MIN_TERM]
    if dialect == "sqlite" and long_terms:
        phrases = " AND ".join('"' + term.replace('"', '""') + '"' for term in long_terms)
        query = query.where(text("reports.id IN (SELECT rowid FROM reports_fts WHERE reports_fts MATCH :fts_query)")
                            .bindparams(fts_query=phrases))
        terms = [term for term in terms if len(term) < _FTS_MIN_TERM]
    for index, term in enumerate(terms):
        if dialect == "postgresql" and _has_bigrams(session, term):
            name = f"search_term_{index}"
            query = query.where(text(f"{_PG_SEARCH_DOCUMENT} @@ plainto_tsquery('simple', xxgk_bigrams(lower(:{name})))")
                                .bindparams(**{name: term}))
        pattern = _like_pattern(term)
        if dialect == "postgresql":
            query = query.where(or_(Report.title.ilike(pattern, escape="\\"), Report.text.ilike(pattern, escape="\\")))
        else:
            query = query.where(or_(Report.title.like(pattern, escape="\\"), Report.text.like(pattern, escape="\\")))
    return list(session.scalars(query))


def _like_pattern(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _has_bigrams(session: Session, term: str) -> bool:
    """Whether the term yields any lexeme: an empty tsquery matches nothing, so such a term is only scanned."""
    return bool(session.scalar(text("SELECT numnode(plainto_tsquery('simple', xxgk_bigrams(lower(:term))))"),
                               {"term": term}))


# ---------------------------------------------------------------- verdicts

def upsert_verdict(session: Session, agency_id: str, report_year: int, status: str, *,
                   deadline: date | None = None, legal_basis: str | None = None,
                   publication_date: date | None = None, date_source: str | None = None,
                   days_late: int | None = None, first_seen: datetime | None = None, report_id: int | None = None,
                   flags: Sequence[str] = (), evidence: Mapping[str, Any] | None = None,
                   computed_at: datetime | None = None) -> Verdict:
    """One verdict per agency and report year: a new computation replaces the old one."""
    if session.get(Agency, agency_id) is None:
        raise LookupError(f"unknown agency {agency_id!r}: upsert it into the registry first")
    verdict = session.scalars(select(Verdict).where(Verdict.agency_id == agency_id,
                                                    Verdict.report_year == report_year)).first()
    if verdict is None:
        verdict = Verdict(agency_id=agency_id, report_year=report_year)
        session.add(verdict)
    verdict.status = status
    verdict.deadline = deadline
    verdict.legal_basis = legal_basis
    verdict.publication_date = publication_date
    verdict.date_source = date_source
    verdict.days_late = days_late
    verdict.first_seen = first_seen
    verdict.report_id = report_id
    verdict.flags = list(flags)
    verdict.evidence = dict(evidence or {})
    verdict.copied_report_id = copied_report_id(verdict.evidence)
    verdict.computed_at = computed_at or utcnow()
    session.flush()
    return verdict


VERDICT_FIELDS = ("status", "deadline", "legal_basis", "publication_date", "date_source", "days_late", "first_seen",
                  "report_id", "flags", "evidence")


def copied_report_id(evidence: Mapping[str, Any] | None) -> int | None:
    """The report a verdict's 疑似雷同 evidence names (kept in ``verdicts.copied_report_id`` beside it)."""
    named = ((evidence or {}).get("copied") or {}).get("other_report_id")
    return named if isinstance(named, int) and not isinstance(named, bool) else None


def store_verdicts(session: Session, rows: Sequence[Mapping[str, Any]], *, computed_at: datetime | None = None) -> int:
    """:func:`upsert_verdict` for many verdicts of agencies the catalog has (the keyword arguments of each, as
    dicts), in one round trip per batch instead of two per verdict; returns how many were written."""
    moment = computed_at or utcnow()
    values = {(row["agency_id"], row["report_year"]): {**{name: row.get(name) for name in VERDICT_FIELDS},
                                                        "agency_id": row["agency_id"],
                                                        "report_year": row["report_year"],
                                                        "flags": list(row.get("flags") or ()),
                                                        "evidence": dict(row.get("evidence") or {}),
                                                        "copied_report_id": copied_report_id(row.get("evidence")),
                                                        "computed_at": moment}
              for row in rows}
    agencies = sorted({agency_id for agency_id, _year in values})
    existing: dict[tuple[str, int], int] = {}
    for start in range(0, len(agencies), 500):
        existing.update(((agency_id, year), verdict_id) for verdict_id, agency_id, year in session.execute(
            select(Verdict.id, Verdict.agency_id, Verdict.report_year)
            .where(Verdict.agency_id.in_(agencies[start:start + 500]))))
    updates = [{"verdict_id": existing[key], **value} for key, value in values.items() if key in existing]
    inserts = [value for key, value in values.items() if key not in existing]
    table = Verdict.__table__
    if updates:  # Core executemany: the ORM's bulk update costs more than the statements
        session.connection().execute(table.update().where(table.c.id == bindparam("verdict_id"))
                                     .values({name: bindparam(name)
                                              for name in (*VERDICT_FIELDS, "copied_report_id", "computed_at")}),
                                     updates)
    if inserts:
        session.connection().execute(table.insert(), inserts)
    return len(values)


def verdicts(session: Session, *, agency_id: str | None = None, report_year: int | None = None,
             status: str | None = None) -> list[Verdict]:
    query = select(Verdict).order_by(Verdict.agency_id, Verdict.report_year)
    if agency_id:
        query = query.where(Verdict.agency_id == agency_id)
    if report_year is not None:
        query = query.where(Verdict.report_year == report_year)
    if status:
        query = query.where(Verdict.status == status)
    return list(session.scalars(query))


def set_run_counts(session: Session, run_id: str, counts: Mapping[str, Any]) -> None:
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(counts=dict(counts)))


# ---------------------------------------------------------------- alerts

def add_alert_event(session: Session, key: str, kind: str, *, channels: Iterable[str] = (), run_id: str | None = None,
                    agency_id: str | None = None, report_year: int | None = None,
                    payload: Mapping[str, Any] | None = None, created_at: datetime | None = None) -> AlertEvent | None:
    """Record an event once by its key, with one undelivered row per channel; None when the key is known already
    (an event is never announced twice, whichever run sees it again)."""
    if session.scalar(select(AlertEvent.id).where(AlertEvent.key == key)) is not None:
        return None
    try:
        with session.begin_nested():  # another process may record the same key meanwhile: only this insert fails
            event = AlertEvent(key=key, kind=kind, run_id=run_id, agency_id=agency_id, report_year=report_year,
                               payload=dict(payload or {}), created_at=created_at or utcnow())
            session.add(event)
            session.flush()
            session.add_all(AlertDelivery(event_id=event.id, channel=channel, attempts=0)
                            for channel in dict.fromkeys(channels))
            session.flush()
    except IntegrityError:
        return None
    return event


def alert_events(session: Session, *, kind: str | None = None) -> list[AlertEvent]:
    query = select(AlertEvent).order_by(AlertEvent.id)
    if kind:
        query = query.where(AlertEvent.kind == kind)
    return list(session.scalars(query))


def alert_deliveries(session: Session, *, channel: str | None = None,
                     pending: bool = False) -> list[tuple[AlertDelivery, AlertEvent]]:
    """Deliveries with their events, oldest event first; ``pending``: only those not sent yet."""
    query = (select(AlertDelivery, AlertEvent).join(AlertEvent, AlertEvent.id == AlertDelivery.event_id)
             .order_by(AlertEvent.id, AlertDelivery.channel))
    if channel is not None:
        query = query.where(AlertDelivery.channel == channel)
    if pending:
        query = query.where(AlertDelivery.sent_at.is_(None))
    return [(row.AlertDelivery, row.AlertEvent) for row in session.execute(query)]


def record_delivery(session: Session, delivery_ids: Iterable[int], *, attempts: int, error: str | None = None,
                    at: datetime | None = None) -> None:
    """After ``attempts`` tries at one message: sent (no ``error``) or still pending with the last error."""
    ids = list(delivery_ids)
    if not ids:
        return
    values: dict[str, Any] = {"attempts": AlertDelivery.attempts + attempts}
    if error is None:
        values["sent_at"] = at or utcnow()
    else:
        values["last_error"] = error
    session.execute(update(AlertDelivery).where(AlertDelivery.id.in_(ids), AlertDelivery.sent_at.is_(None))
                    .values(**values))
