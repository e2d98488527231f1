"""verdict facts and text signatures: what judging needs, kept in the catalog so that it reads no WARC record

Captures get the facts the verdict step read from each WARC record group (the crawler's role, the listing title and
date, the redirect origin, the capture a resource shows, the entries of a report listing); reports get their text's
5-gram count and MinHash signature for copy detection. An index on (agency_id, timestamp) serves the listing
captures around one report's dates.

Nothing read from the WARCs is backfilled here. A migration runs inside every ``Catalog.open`` in one transaction under the migration
lock and sees only the database: it cannot read the WARCs (it does not know the object store) and would hold every
writer for as long as a national archive takes to read. Rows from before this revision keep ``facts_version`` and
``shingles`` NULL (the partial indexes find them at once) and ``storage.facts.backfill`` derives them, once, in
committed batches, the first time an ``xxgk`` command judges (see ``cli.common.derive_pending_facts``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

from storage.catalog.migrations.column_types import JSON

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

def _capture_facts() -> list[sa.Column]:
    return [sa.Column("role", sa.String(length=32), nullable=True),
            sa.Column("listing_title", sa.Text(), nullable=True),
            sa.Column("listing_date", sa.Text(), nullable=True),
            sa.Column("redirected_from", sa.Text(), nullable=True),
            sa.Column("concurrent_to_capture_id", sa.BigInteger(), nullable=True),
            sa.Column("listing_items", JSON, nullable=True),
            sa.Column("facts_version", sa.Integer(), nullable=True)]


def _report_signature() -> list[sa.Column]:
    return [sa.Column("shingles", sa.Integer(), nullable=True),
            sa.Column("minhash", sa.LargeBinary(), nullable=True)]


ERRORS = sa.table("fetch_errors", sa.column("id", sa.BigInteger()), sa.column("url", sa.Text()),
                  sa.column("url_hash", sa.String(40)))
_BATCH = 1000


def _url_hash(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    op.add_column("fetch_errors", sa.Column("url_hash", sa.String(length=40), nullable=True))
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(sa.select(ERRORS.c.id, ERRORS.c.url).where(ERRORS.c.id > after)
                                  .order_by(ERRORS.c.id).limit(_BATCH)).all()
        if not rows:
            break
        after = rows[-1].id
        connection.execute(ERRORS.update().where(ERRORS.c.id == sa.bindparam("row_id"))
                           .values(url_hash=sa.bindparam("hash")),
                           [{"row_id": row.id, "hash": _url_hash(row.url)} for row in rows])
    op.create_index(op.f("ix_fetch_errors_url_hash"), "fetch_errors", ["url_hash"])
    for column in _capture_facts():
        op.add_column("captures", column)
    for column in _report_signature():
        op.add_column("reports", column)
    op.create_index(op.f("ix_captures_agency_id_timestamp"), "captures", ["agency_id", "timestamp"])
    op.create_index("ix_captures_facts_pending", "captures", ["id"], sqlite_where=sa.text("facts_version IS NULL"),
                    postgresql_where=sa.text("facts_version IS NULL"))
    op.create_index("ix_reports_signature_pending", "reports", ["id"], sqlite_where=sa.text("shingles IS NULL"),
                    postgresql_where=sa.text("shingles IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_reports_signature_pending", table_name="reports")
    op.drop_index("ix_captures_facts_pending", table_name="captures")
    op.drop_index(op.f("ix_captures_agency_id_timestamp"), table_name="captures")
    for column in reversed(_report_signature()):
        op.drop_column("reports", column.name)
    for column in reversed(_capture_facts()):
        op.drop_column("captures", column.name)
    op.drop_index(op.f("ix_fetch_errors_url_hash"), table_name="fetch_errors")
    op.drop_column("fetch_errors", "url_hash")
