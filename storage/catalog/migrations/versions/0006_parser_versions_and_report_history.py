"""parser versions and report history: which parser made each record, and what a re-parse replaced

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Rows parsed before this revision keep ``parser_version`` NULL: an unknown, older parser.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.catalog.migrations.column_types import JSON, BIG_ID, UTC

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None



def upgrade() -> None:
    op.add_column("reports", sa.Column("parser_version", sa.String(length=32), nullable=True))
    op.create_table(
        "report_history",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("report_id", BIG_ID, nullable=False),
        sa.Column("agency_id", sa.String(length=200), nullable=True),
        sa.Column("record_json", JSON, nullable=False),
        sa.Column("parser_version", sa.String(length=32), nullable=True),
        sa.Column("parsed_at", UTC, nullable=False),
        sa.Column("replaced_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE",
                                name=op.f("fk_report_history_report_id_reports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_history")),
    )
    op.create_index(op.f("ix_report_history_report_id"), "report_history", ["report_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_history_report_id"), table_name="report_history")
    op.drop_table("report_history")
    op.drop_column("reports", "parser_version")
