"""Opening the catalog: engine, connection settings, and ``alembic upgrade head`` on every open.

SQLite (the default, ``<data dir>/catalog.sqlite3``) runs in WAL mode with foreign keys on and a busy timeout, and
with real transactions (pysqlite's own transaction handling is switched off so that SAVEPOINT and ``BEGIN IMMEDIATE``
work). PostgreSQL is used when ``XXGK_DATABASE_URL`` says so (``postgresql+psycopg://``; plain ``postgresql://`` is
taken to mean psycopg 3 as well).
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# alembic keeps its running context in module globals: two upgrades in one process must not overlap
_UPGRADE_LOCK = threading.Lock()


class CatalogError(Exception):
    """The catalog cannot be opened or used; the message says which setting or step to check."""


class CatalogMissing(CatalogError):
    """There is no catalog yet (nothing was archived) and opening was told not to create one."""


def normalize_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CatalogError(f"XXGK_DATABASE_URL is not a database URL: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise CatalogError(f"XXGK_DATABASE_URL: unsupported database {parsed.drivername!r} (use sqlite or postgresql)")
    return parsed


def _json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _sqlite_settings(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # writers take the write lock up front: a deferred transaction that reads first and then writes can fail
        # with SQLITE_BUSY no matter how long it waits
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


class Catalog:
    """A migrated catalog database. Use :meth:`session` for writes and :meth:`reading` for reads."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.url = engine.url
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else engine
        self._write_sessions = sessionmaker(bind=self._writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @classmethod
    def open(cls, config: Config | str, *, create: bool = True, migrate: bool = True) -> "Catalog":
        """Open (and by default create) the catalog and bring its schema to the newest revision.

        ``create=False`` raises :class:`CatalogMissing` instead of creating an empty catalog.
        """
        url = normalize_url(config if isinstance(config, str) else config.database_url)
        if url.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url, create)
        else:
            engine = create_engine(url, json_serializer=_json_dumps, pool_pre_ping=True)
        catalog = cls(engine)
        try:
            if not create and not catalog.has_schema():
                raise CatalogMissing(f"no catalog in {catalog.display_url}: nothing has been archived yet")
            if migrate:
                catalog.upgrade()
        except CatalogError:
            engine.dispose()
            raise
        except (OperationalError, SQLAlchemyError) as exc:
            engine.dispose()
            raise CatalogError(f"cannot open the catalog {catalog.display_url}: {_first_line(exc)} "
                               f"(check XXGK_DATABASE_URL)") from exc
        return catalog

    def has_schema(self) -> bool:
        with self.engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")

    def upgrade(self, revision: str = "head") -> None:
        """``alembic upgrade head`` in-process; concurrent openers serialise on a lock (see env.py)."""
        self._migrate("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        """``alembic downgrade <revision>`` in-process, under the same lock: undoing a migration (and its tests)."""
        self._migrate("downgrade", revision)

    def recreate(self) -> None:
        """Drop everything the migrations made (``alembic downgrade base``) and make it again, empty, in one
        transaction: ``xxgk reindex --force`` before it rebuilds the catalog from the WARCs."""
        self._migrate("downgrade", "base", then="head")

    def _migrate(self, direction: str, revision: str, *, then: str | None = None) -> None:
        from alembic import command
        from alembic.config import Config as AlembicConfig

        alembic_config = AlembicConfig(str(MIGRATIONS_DIR / "alembic.ini"))
        alembic_config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with _UPGRADE_LOCK, self._writer.begin() as connection:
            alembic_config.attributes["connection"] = connection
            getattr(command, direction)(alembic_config, revision)
            if then is not None:
                command.upgrade(alembic_config, then)

    def revision(self) -> str | None:
        from alembic.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._write_sessions() as session:
            with session.begin():
                yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            with session.begin():
                yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in a read transaction, for hot single-statement lookups."""
        with self.engine.connect() as connection:
            with connection.begin():
                yield connection

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite), committed at the end."""
        with self._writer.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _sqlite_engine(url: URL, create: bool) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        if not path.exists():
            if not create:
                raise CatalogMissing(f"no catalog at {path}: nothing has been archived yet (check XXGK_DATA_DIR)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"cannot create {path.parent}: {exc} (check XXGK_DATA_DIR)") from exc
    engine = create_engine(url, json_serializer=_json_dumps,
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
    _sqlite_settings(engine)
    return engine


def open_catalog(config: Config | str, *, create: bool = True) -> Catalog:
    return Catalog.open(config, create=create)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
