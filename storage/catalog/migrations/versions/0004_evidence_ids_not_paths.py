"""evidence: ids, not paths — drop the web paths ("permalink": "/captures/10", …) from stored verdict evidence

Verdict evidence used to store, next to each capture id, the web UI's path to it: ``permalink`` (the report's
capture and the screenshot's), ``backdated.listing_permalink``, ``changed.from_permalink``/``to_permalink``,
``removed.first_failure.permalink``/``latest_failure.permalink`` and ``copied.other_permalink``. The ids are all
there (``capture_id``, ``listing_capture_id``, ``from_capture_id``, …); the web UI builds its links from them
(``web.urls``), so the database no longer depends on where the UI happens to serve a capture.

Only rows whose evidence mentions a permalink are read and rewritten, a batch at a time in id order. Downgrading
puts the paths back, built from the same ids.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.catalog.migrations.column_types import JSON

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 500
VERDICTS = sa.table("verdicts", sa.column("id", sa.BigInteger()), sa.column("evidence", JSON))

# (where in the evidence, the path key, the id key beside it); () is the top level
PERMALINKS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    ((), "permalink", "capture_id"),
    (("screenshot",), "permalink", "capture_id"),
    (("backdated",), "listing_permalink", "listing_capture_id"),
    (("changed",), "from_permalink", "from_capture_id"),
    (("changed",), "to_permalink", "to_capture_id"),
    (("removed", "first_failure"), "permalink", "capture_id"),
    (("removed", "latest_failure"), "permalink", "capture_id"),
    (("copied",), "other_permalink", "other_capture_id"),
)
OLD_PATH = "/captures/{}"  # the path the code before this revision wrote (for the downgrade only)


def _place(evidence: Any, where: tuple[str, ...]) -> dict | None:
    for key in where:
        evidence = evidence.get(key) if isinstance(evidence, dict) else None
    return evidence if isinstance(evidence, dict) else None


def without_paths(evidence: Any) -> Any:
    """The evidence with every permalink key removed (a new dict; anything else is returned as it is)."""
    if not isinstance(evidence, dict):
        return evidence
    cleaned = copy.deepcopy(evidence)
    for where, path_key, _id_key in PERMALINKS:
        place = _place(cleaned, where)
        if place is not None:
            place.pop(path_key, None)
    return cleaned


def with_paths(evidence: Any) -> Any:
    """The evidence as the code before this revision wrote it: a path beside every capture id that had one."""
    if not isinstance(evidence, dict):
        return evidence
    restored = copy.deepcopy(evidence)
    for where, path_key, id_key in PERMALINKS:
        place = _place(restored, where)
        if place is None or id_key not in place:
            continue
        if where == () and "report_id" not in place:
            continue  # the top-level capture_id exists only beside a report
        capture_id = place[id_key]
        place[path_key] = OLD_PATH.format(capture_id) if isinstance(capture_id, int) else None
    return restored


def _rewrite(change, only_with_paths: bool) -> None:
    connection = op.get_bind()
    after = None
    while True:
        query = sa.select(VERDICTS.c.id, VERDICTS.c.evidence).order_by(VERDICTS.c.id).limit(BATCH)
        if only_with_paths:
            query = query.where(sa.cast(VERDICTS.c.evidence, sa.Text).like("%permalink%"))
        if after is not None:
            query = query.where(VERDICTS.c.id > after)
        rows = connection.execute(query).all()
        for row_id, evidence in rows:
            changed = change(evidence)
            if changed != evidence:
                connection.execute(sa.update(VERDICTS).where(VERDICTS.c.id == row_id).values(evidence=changed))
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def upgrade() -> None:
    _rewrite(without_paths, only_with_paths=True)


def downgrade() -> None:
    _rewrite(with_paths, only_with_paths=False)
