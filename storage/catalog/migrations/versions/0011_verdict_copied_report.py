"""verdict copied report: the report a stored 疑似雷同 flag names, as an indexed column

After a run, ``monitor.rejudge`` judges again the agencies whose stored 疑似雷同 flag names one of the run's
reports (its text, or which of its copies is online, may have changed). The report was only in the verdict's
evidence JSON, which no index reaches: each re-judge read every verdict's evidence (1,000,000 at national scale,
2–3 s of a 30 s budget, and growing with every year judged). ``verdicts.copied_report_id`` holds it, written with
the evidence (``storage.catalog.queries``) and filled here from the evidence stored before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.catalog.migrations.column_types import BIG_ID, JSON

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_INDEX = "ix_verdicts_copied_report_id"


def upgrade() -> None:
    op.add_column("verdicts", sa.Column("copied_report_id", BIG_ID, nullable=True))
    verdicts = sa.table("verdicts", sa.column("evidence", JSON), sa.column("copied_report_id", BIG_ID))
    named = verdicts.c.evidence["copied"]["other_report_id"].as_integer()
    op.execute(sa.update(verdicts).where(named.is_not(None)).values(copied_report_id=named))
    op.create_index(_INDEX, "verdicts", ["copied_report_id"])


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="verdicts")
    op.drop_column("verdicts", "copied_report_id")
