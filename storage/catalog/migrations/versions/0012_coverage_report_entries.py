"""coverage report entries: what a column read's own items say of annual reports

A verdict of 未发布 rests on one column read. An undated column proved the column stood at the deadline by "a
report of an earlier year listed", but those years were pooled from every listing of the agency ever archived:
an old, abandoned column's 2020 report made a new column begun in 2024 "reach back". And a read whose items were
a homepage's news (a removed column answered with the homepage, no redirect) proved as much as a real column.
``report_items`` (how many items' listing titles are annual reports) and ``report_years`` (the years they name)
are the read's own; rows written before stay NULL and are judged as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.catalog.migrations.column_types import JSON

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("column_coverage", sa.Column("report_items", sa.Integer(), nullable=True))
    op.add_column("column_coverage", sa.Column("report_years", JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("column_coverage", "report_years")
    op.drop_column("column_coverage", "report_items")
