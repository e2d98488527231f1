"""Alembic environment: migrates the connection the application hands over, or the configured database."""
from __future__ import annotations

from alembic import context
from sqlalchemy import text

from storage.catalog.models import Base, include_in_comparison

# any constant shared by all xxgk-watch processes: concurrent openers on PostgreSQL wait for each other here
MIGRATION_LOCK = 0x78786B67


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
        compare_type=True,
        include_name=include_in_comparison,  # the search tables have no model: autogenerate must not drop them
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported: run against a database")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        # the caller opened the transaction (BEGIN IMMEDIATE on SQLite): the whole upgrade is one unit
        run(connection)
        return
    from storage.catalog.database import Catalog
    from storage.config import Config

    catalog = Catalog.open(Config.from_env(), migrate=False)
    try:
        with catalog._writer.begin() as own_connection:
            run(own_connection)
    finally:
        catalog.close()


main()
