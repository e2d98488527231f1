"""watched agencies: which agencies the registry last imported by ``xxgk agencies import`` names

A crawl stores its registry's agencies in the catalog too (and the demo its own), so the catalog's agencies are
every agency ever crawled, not who is watched. ``agencies.watched`` marks the imported registry: ``xxgk crawl`` and
``xxgk schedule`` without ``--registry`` crawl those agencies. Rows from before this revision are not marked (an
import cannot be told from a crawl): the registry is imported again once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agencies", sa.Column("watched", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("agencies", "watched")
