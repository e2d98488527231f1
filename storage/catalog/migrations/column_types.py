"""The column types of the catalog as the migrations create them, spelled out once and never changed: a revision
must build the same table whatever ``storage.catalog.models`` says later (a new type gets a new name here)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)
