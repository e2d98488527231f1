"""report text once: the main text of a report lives in ``reports.text`` alone, no longer also in ``record_json``

Every report row used to hold its text twice: in ``reports.text`` (which full-text search indexes) and as
``record_json["text"]``, so the largest part of the catalog was stored two times. The key is removed from
``record_json``; code reads the text from ``reports.text`` (``storage.catalog.queries.report_text``), and
``queries.report_record`` gives the whole record back. ``report_history`` rows are left as they are: each holds a
replaced record whole, text included (it is not the current text, so it is no second copy).

Only rows whose ``record_json`` has the key are rewritten, a batch of ids at a time, by the database itself
(SQLite ``json_remove``, PostgreSQL ``jsonb - 'text'``). Downgrading puts the key back from ``reports.text``.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000

# (rows that have the key, rows that lack it, record_json without it, record_json with it from reports.text)
SQL = {
    "sqlite": ("json_type(record_json, '$.text') IS NOT NULL", "json_type(record_json, '$.text') IS NULL",
               "json_remove(record_json, '$.text')", "json_set(record_json, '$.text', coalesce(text, ''))"),
    "postgresql": ("record_json -> 'text' IS NOT NULL", "record_json -> 'text' IS NULL",
                   "record_json - 'text'", "jsonb_set(record_json, '{text}', to_jsonb(coalesce(text, '')))"),
}


def _rewrite(where: str, value: str) -> None:
    connection = op.get_bind()
    after = 0
    while True:
        ids = connection.execute(sa.text(f"SELECT id FROM reports WHERE id > :after AND {where} "
                                         f"ORDER BY id LIMIT {BATCH}"), {"after": after}).scalars().all()
        if not ids:
            return
        connection.execute(sa.text(f"UPDATE reports SET record_json = {value} WHERE id >= :first AND id <= :last "
                                   f"AND {where}"), {"first": ids[0], "last": ids[-1]})
        after = ids[-1]


def upgrade() -> None:
    has_text, _lacks_text, without_text, _with_text = SQL[op.get_bind().dialect.name]
    _rewrite(has_text, without_text)


def downgrade() -> None:
    _has_text, lacks_text, _without_text, with_text = SQL[op.get_bind().dialect.name]
    _rewrite(lacks_text, with_text)
