"""initial schema: agencies, crawl runs, WARC segments, captures, fetch errors, reports, verdicts

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.catalog.migrations.column_types import JSON, BIG_ID, UTC

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None



def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("parent", sa.String(length=200), nullable=True),
        sa.Column("homepage", sa.Text(), nullable=True),
        sa.Column("report_index", JSON, nullable=False),
        sa.Column("render", sa.String(length=20), nullable=True),
        sa.Column("robots", sa.String(length=20), nullable=True),
        sa.Column("aliases", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
    )
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
    )
    op.create_table(
        "fetch_errors",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("agency_id", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.CheckConstraint("kind IN ('dns', 'timeout', 'tls', 'reset', 'http', 'robots', 'size', 'redirect_loop', "
                           "'other')", name=op.f("ck_fetch_errors_kind")),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"], name=op.f("fk_fetch_errors_run_id_crawl_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_errors")),
    )
    op.create_index(op.f("ix_fetch_errors_agency_id"), "fetch_errors", ["agency_id"])
    op.create_index(op.f("ix_fetch_errors_run_id"), "fetch_errors", ["run_id"])

    op.create_table(
        "segments",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("writer", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("uploaded_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"], name=op.f("fk_segments_run_id_crawl_runs")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_segments")),
    )
    op.create_index(op.f("ix_segments_run_id"), "segments", ["run_id"])
    op.create_index(op.f("ix_segments_writer_state"), "segments", ["writer", "state"])

    op.create_table(
        "captures",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_hash", sa.String(length=40), nullable=False),
        sa.Column("surt", sa.String(length=1000), nullable=False),
        sa.Column("timestamp", UTC, nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("mime", sa.String(length=255), nullable=True),
        sa.Column("payload_sha1", sa.String(length=40), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload_length", sa.BigInteger(), nullable=False),
        sa.Column("warc_key", sa.String(length=512), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("group_length", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.String(length=100), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("refers_to_capture_id", BIG_ID, nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=200), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("truncated", sa.String(length=32), nullable=True),
        sa.CheckConstraint("record_type IN ('response', 'revisit', 'resource')",
                           name=op.f("ck_captures_record_type")),
        sa.ForeignKeyConstraint(["refers_to_capture_id"], ["captures.id"],
                                name=op.f("fk_captures_refers_to_capture_id_captures"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"], name=op.f("fk_captures_run_id_crawl_runs")),
        sa.ForeignKeyConstraint(["warc_key"], ["segments.key"], name=op.f("fk_captures_warc_key_segments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
        sa.UniqueConstraint("record_id", name=op.f("uq_captures_record_id")),
        sa.UniqueConstraint("warc_key", "offset", name=op.f("uq_captures_warc_key_offset")),
    )
    op.create_index(op.f("ix_captures_agency_id"), "captures", ["agency_id"])
    op.create_index(op.f("ix_captures_payload_sha1"), "captures", ["payload_sha1"])
    op.create_index(op.f("ix_captures_refers_to_capture_id"), "captures", ["refers_to_capture_id"])
    op.create_index(op.f("ix_captures_run_id"), "captures", ["run_id"])
    op.create_index(op.f("ix_captures_surt"), "captures", ["surt"])
    op.create_index(op.f("ix_captures_url_hash_timestamp"), "captures", ["url_hash", "timestamp"])

    op.create_table(
        "reports",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("capture_id", BIG_ID, nullable=False),
        sa.Column("agency_id", sa.String(length=200), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("is_report", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("report_year", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("publication_date", sa.Date(), nullable=True),
        sa.Column("date_source", sa.String(length=32), nullable=True),
        sa.Column("signing_date", sa.Date(), nullable=True),
        sa.Column("needs_ocr", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("record_json", JSON, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("parsed_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_reports_agency_id_agencies"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["capture_id"], ["captures.id"], name=op.f("fk_reports_capture_id_captures"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("capture_id", name=op.f("uq_reports_capture_id")),
    )
    op.create_index(op.f("ix_reports_agency_id"), "reports", ["agency_id"])
    op.create_index(op.f("ix_reports_report_year"), "reports", ["report_year"])

    op.create_table(
        "verdicts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("agency_id", sa.String(length=200), nullable=False),
        sa.Column("report_year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("publication_date", sa.Date(), nullable=True),
        sa.Column("date_source", sa.String(length=32), nullable=True),
        sa.Column("days_late", sa.Integer(), nullable=True),
        sa.Column("first_seen", UTC, nullable=True),
        sa.Column("report_id", BIG_ID, nullable=True),
        sa.Column("flags", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("computed_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_verdicts_agency_id_agencies"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name=op.f("fk_verdicts_report_id_reports"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
        sa.UniqueConstraint("agency_id", "report_year", name=op.f("uq_verdicts_agency_id_report_year")),
    )


def downgrade() -> None:
    for table in ("verdicts", "reports", "captures", "segments", "fetch_errors", "crawl_runs", "agencies"):
        op.drop_table(table)
