"""column coverage: what each crawl run read of each agency's report column

A verdict of "missing" accuses an agency; it must rest on a column the crawler actually read after the deadline,
with items reaching back before it (or its last page reached). ``column_coverage`` keeps that per run × agency ×
column, and the problems that left a column unread.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.catalog.migrations.column_types import JSON, BIG_ID, UTC

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None



def upgrade() -> None:
    op.create_table(
        "column_coverage",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=200), nullable=False),
        sa.Column("column_url", sa.Text(), nullable=True),
        sa.Column("found_by", sa.String(length=32), nullable=True),
        sa.Column("read_at", UTC, nullable=False),
        sa.Column("capture_id", sa.BigInteger(), nullable=True),
        sa.Column("pages_walked", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("rendered", sa.Boolean(), nullable=False),
        sa.Column("items_read", sa.Integer(), nullable=False),
        sa.Column("dated_items", sa.Integer(), nullable=False),
        sa.Column("earliest_item", sa.Date(), nullable=True),
        sa.Column("latest_item", sa.Date(), nullable=True),
        sa.Column("reports_found", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("errors", JSON, nullable=False),
        sa.CheckConstraint("problem IS NULL OR problem IN ('not_found', 'unreadable', 'robots', 'script_error', "
                           "'empty')", name=op.f("ck_column_coverage_problem")),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"], name=op.f("fk_column_coverage_run_id_crawl_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_column_coverage")),
    )
    op.create_index(op.f("ix_column_coverage_run_id"), "column_coverage", ["run_id"])
    op.create_index(op.f("ix_column_coverage_agency_id_read_at"), "column_coverage", ["agency_id", "read_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_column_coverage_agency_id_read_at"), table_name="column_coverage")
    op.drop_index(op.f("ix_column_coverage_run_id"), table_name="column_coverage")
    op.drop_table("column_coverage")
