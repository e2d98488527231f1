"""The catalog's tables as SQLAlchemy 2 models (the migrations in ``migrations/versions`` create exactly these).

Times are stored in UTC and come back timezone-aware on SQLite and PostgreSQL alike. ``captures`` is the CDX-like
index of the WARC archive: one row per response, revisit or resource record, pointing at its gzip member
(``warc_key``, ``offset``, ``length``); ``group_length`` spans the member plus the request/metadata records written
with it. ``segments`` tracks each WARC file from spool to object store so a restart can finish or discard it.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer,
                        LargeBinary, MetaData, String, Text, TypeDecorator, UniqueConstraint)
from sqlalchemy import false, text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

FETCH_ERROR_KINDS = ("dns", "timeout", "tls", "reset", "http", "robots", "size", "redirect_loop", "other")
CAPTURE_RECORD_TYPES = ("response", "revisit", "resource")
SEGMENT_STATES = ("open", "sealed", "uploaded")
RUN_STATUSES = ("running", "finished", "failed", "interrupted", "skipped")   # skipped: another run held the lock
# How a crawl came to a report column: the registry's URL, a link whose text or URL names annual reports, a descent
# through 信息公开 sections, the 信息公开目录's 年报 category, the site's own search, its sitemap.xml.
COLUMN_FOUND_BY = ("registry", "link_text", "url_words", "section_descent", "catalogue", "site_search", "sitemap")
# Why a column gave no proof: none found, every fetch of it failed, robots.txt forbids it, its script failed in the
# browser, it was read but listed nothing.
COLUMN_PROBLEMS = ("not_found", "unreadable", "robots", "script_error", "empty")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; naive input is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Search-index objects migration 0002 creates outside the models: the SQLite FTS5 table (and the shadow tables
# FTS5 makes for it) and the PostgreSQL expression index. Schema comparisons must skip them.
SEARCH_INDEX_PREFIX = "reports_fts"
SEARCH_INDEX_NAMES = frozenset({"ix_reports_search"})


def include_in_comparison(name: str | None, type_: str, parent_names: dict) -> bool:
    """alembic ``include_name`` filter: False for the search index objects that have no model."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(SEARCH_INDEX_PREFIX):
        return False
    return not (type_ == "index" and name in SEARCH_INDEX_NAMES)


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str | None] = mapped_column(String(20))           # department | government | township
    region: Mapped[str | None] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(String(200))         # id of the parent agency, may be imported later
    homepage: Mapped[str | None] = mapped_column(Text)
    report_index: Mapped[Any] = mapped_column(Json, default=list)   # URLs of the annual-report column(s)
    render: Mapped[str | None] = mapped_column(String(20))          # how to fetch: e.g. plain | browser
    robots: Mapped[str | None] = mapped_column(String(20))          # e.g. obey | ignore
    aliases: Mapped[Any] = mapped_column(Json, default=list)
    # in the registry `xxgk agencies import` last stored: who `crawl`/`schedule` watch without --registry (0009)
    watched: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # the dashboard pages through agencies in id order, filtered by level or region (migration 0002), or the
    # watched ones only (0010)
    __table_args__ = (Index(None, "level", "id"), Index(None, "region", "id"), Index(None, "watched", "id"))


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")
    counts: Mapped[Any] = mapped_column(Json, default=dict)
    settings: Mapped[Any] = mapped_column(Json, default=dict)


class Segment(Base):
    __tablename__ = "segments"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)    # warcs/<run-id>/<segment>.warc.gz
    run_id: Mapped[str] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    writer: Mapped[str] = mapped_column(String(255))                   # host whose spool holds it until upload
    state: Mapped[str] = mapped_column(String(16), default="open")     # open | sealed | uploaded
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "writer", "state"),)


class Capture(Base):
    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(40))      # sha1 hex of url: an index key for URLs of any length
    surt: Mapped[str] = mapped_column(String(1000))        # clipped: it serves prefix searches, not identity
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int | None] = mapped_column(Integer)
    mime: Mapped[str | None] = mapped_column(String(255))
    payload_sha1: Mapped[str] = mapped_column(String(40))   # base32, as in CDX and WARC-Payload-Digest
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload_length: Mapped[int] = mapped_column(BigInteger)
    warc_key: Mapped[str] = mapped_column(ForeignKey("segments.key"))
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    group_length: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str] = mapped_column(String(100), unique=True)
    record_type: Mapped[str] = mapped_column(String(16))
    refers_to_capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"),
                                                             index=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    # not a foreign key: the archive keeps whatever was fetched, even for an agency not (yet) in the registry
    agency_id: Mapped[str | None] = mapped_column(String(200), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    truncated: Mapped[str | None] = mapped_column(String(32))
    # What the verdict step needs from the record group, kept when the capture is indexed (storage.facts, 0007):
    # judging reads no WARC record. ``facts_version`` NULL: not derived yet (indexed before 0007), 0: its record
    # could not be read to derive them.
    role: Mapped[str | None] = mapped_column(String(32))              # the crawler's request role (column, item …)
    listing_title: Mapped[str | None] = mapped_column(Text)           # the title the listing gave the link
    listing_date: Mapped[str | None] = mapped_column(Text)            # the date text beside it
    redirected_from: Mapped[str | None] = mapped_column(Text)         # the URL a redirect chain started from
    concurrent_to_capture_id: Mapped[int | None] = mapped_column(BigInteger)  # a resource: the capture it shows
    listing_items: Mapped[Any] = mapped_column(Json, nullable=True)   # [[url, title], …] of a report listing
    facts_version: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index(None, "url_hash", "timestamp"),
        Index(None, "surt"),
        Index(None, "payload_sha1"),
        # the listing captures around one report's dates (the 倒签 check), per agency (0007)
        Index(None, "agency_id", "timestamp"),
        Index("ix_captures_facts_pending", "id", sqlite_where=sql_text("facts_version IS NULL"),
              postgresql_where=sql_text("facts_version IS NULL")),
        UniqueConstraint("warc_key", "offset"),
        CheckConstraint("record_type IN ('response', 'revisit', 'resource')", name="record_type"),
    )


class FetchError(Base):
    __tablename__ = "fetch_errors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    agency_id: Mapped[str | None] = mapped_column(String(200), index=True)
    url_hash: Mapped[str | None] = mapped_column(String(40), index=True)   # sha1 hex of url, as captures (0007)
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('dns', 'timeout', 'tls', 'reset', 'http', 'robots', 'size', 'redirect_loop', "
                        "'other')", name="kind"),
    )


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"), unique=True)
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"), index=True)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    is_report: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(32))
    report_year: Mapped[int | None] = mapped_column(Integer, index=True)
    format: Mapped[str] = mapped_column(String(32))
    publication_date: Mapped[date | None] = mapped_column(Date)
    date_source: Mapped[str | None] = mapped_column(String(32))
    signing_date: Mapped[date | None] = mapped_column(Date)
    needs_ocr: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    record_json: Mapped[Any] = mapped_column(Json)
    text: Mapped[str] = mapped_column(Text, default="")
    parsed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    parser_version: Mapped[str | None] = mapped_column(String(32))   # parsers.version; NULL: before versions (0006)
    # the text as copy detection sees it (parsers.shingles, 0007): the number of its distinct masked 5-grams and
    # their MinHash (NULL for none); ``shingles`` NULL: not computed yet (stored before 0007)
    shingles: Mapped[int | None] = mapped_column(Integer)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_reports_signature_pending", "id", sqlite_where=sql_text("shingles IS NULL"),
              postgresql_where=sql_text("shingles IS NULL")),
    )


class ReportHistory(Base):
    """A record a later parse of the same capture replaced (``xxgk reparse``): what the report row held before,
    kept for the diff and for whoever asks what the older parser said."""

    __tablename__ = "report_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[str | None] = mapped_column(String(200))   # the attribution then: no key, the agency may go
    record_json: Mapped[Any] = mapped_column(Json)
    parser_version: Mapped[str | None] = mapped_column(String(32))
    parsed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Verdict(Base):
    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    report_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    deadline: Mapped[date | None] = mapped_column(Date)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    publication_date: Mapped[date | None] = mapped_column(Date)
    date_source: Mapped[str | None] = mapped_column(String(32))
    days_late: Mapped[int | None] = mapped_column(Integer)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    flags: Mapped[Any] = mapped_column(Json, default=list)
    evidence: Mapped[Any] = mapped_column(Json, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the report the 疑似雷同 flag names (evidence.copied.other_report_id): a re-judge finds the flags naming a
    # run's reports by index, not by reading every verdict's evidence (0011)
    copied_report_id: Mapped[int | None] = mapped_column(BigId, index=True)

    __table_args__ = (
        UniqueConstraint("agency_id", "report_year"),
        # a dashboard page's cells read from the index alone; agencies with a verdict of a rare status (0002)
        Index(None, "agency_id", "report_year", "status"),
        Index(None, "status", "agency_id"),
    )


class VerdictTally(Base):
    """How many verdicts there are per report year, status, agency level and region ('' when unknown), and
    whether the agency is in the imported registry (``agencies.watched``).

    Kept exact by database triggers on ``verdicts`` and ``agencies`` (migrations 0002, 0010): never written by
    code, read by the dashboard, whose counts would otherwise scan every verdict.
    """

    __tablename__ = "verdict_tallies"

    report_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[str] = mapped_column(String(20), primary_key=True)
    region: Mapped[str] = mapped_column(Text, primary_key=True)
    watched: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class ColumnCoverage(Base):
    """What one crawl run read of one agency's report column: the proof a verdict of "missing" rests on.

    One row per run × agency × column URL; a run that found no column for an agency writes one row with
    ``column_url`` NULL and ``problem`` 'not_found'. ``complete`` says the listing's last page was reached (the
    pager announced no further page), so items missing from it are missing from the column. Item dates are the
    dates the listing shows beside its links (Beijing calendar days).
    """

    __tablename__ = "column_coverage"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    agency_id: Mapped[str] = mapped_column(String(200))
    column_url: Mapped[str | None] = mapped_column(Text)
    found_by: Mapped[str | None] = mapped_column(String(32))        # COLUMN_FOUND_BY
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)          # the first listing page of the column, fetched
    capture_id: Mapped[int | None] = mapped_column(BigInteger)      # … and archived as this capture
    pages_walked: Mapped[int] = mapped_column(Integer, default=0)   # listing pages and JSON pages read
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    rendered: Mapped[bool] = mapped_column(Boolean, default=False)  # a browser read it
    items_read: Mapped[int] = mapped_column(Integer, default=0)
    dated_items: Mapped[int] = mapped_column(Integer, default=0)
    earliest_item: Mapped[date | None] = mapped_column(Date)
    latest_item: Mapped[date | None] = mapped_column(Date)
    reports_found: Mapped[int] = mapped_column(Integer, default=0)
    # what the items' listing titles say (parsers.classify.listed_report_year): how many are annual reports, and the
    # report years they name; NULL for a row written before the crawler recorded them (0012)
    report_items: Mapped[int | None] = mapped_column(Integer, nullable=True)
    report_years: Mapped[Any] = mapped_column(Json, nullable=True)
    problem: Mapped[str | None] = mapped_column(String(32))         # COLUMN_PROBLEMS, or NULL when items were read
    detail: Mapped[str | None] = mapped_column(Text)                # the problem in words
    errors: Mapped[Any] = mapped_column(Json, default=list)         # [{"url", "kind", "message"}] met in the column

    __table_args__ = (
        Index(None, "agency_id", "read_at"),
        CheckConstraint("problem IS NULL OR problem IN ('not_found', 'unreadable', 'robots', 'script_error', "
                        "'empty')", name="problem"),
    )


class RunLock(Base):
    """One crawl at a time over one archive, across processes and machines (``xxgk crawl``, ``xxgk schedule``).

    The holder refreshes ``heartbeat_at`` while it runs; a lock whose holder process is gone (same host) or whose
    heartbeat is older than its ``ttl_seconds`` is stale and may be taken over.
    """

    __tablename__ = "run_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)      # "crawl"
    holder: Mapped[str] = mapped_column(String(255))                     # host:pid
    run_id: Mapped[str | None] = mapped_column(String(64))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ttl_seconds: Mapped[int] = mapped_column(Integer)


class AlertEvent(Base):
    """Something a user asked to be told about (a deadline passed with no report, a late report appeared, …),
    recorded once by its ``key`` so that the same event is never announced twice."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)           # e.g. missing:agency:2024
    kind: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[str | None] = mapped_column(String(64))
    agency_id: Mapped[str | None] = mapped_column(String(200), index=True)
    report_year: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[Any] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertDelivery(Base):
    """An event on one channel (a webhook, an e-mail address): sent once, retried until it is."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(255))                    # webhook:NAME | email:NAME
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("event_id", "channel"), Index(None, "channel", "sent_at"))
