"""Shared fixtures: real servers on loopback (see tests/servers.py) and configurations that use them.

Servers are started lazily, once per pytest(-xdist) worker, on ports of their own, and stopped at the end of the
session. Per test, each gets a fresh bucket or database so tests never see each other's data.

- ``s3_server`` / ``s3_env``: SeaweedFS with access keys; ``s3_env`` names a new bucket (created by open_store).
- ``postgres_server`` / ``postgres_url``: PostgreSQL; ``postgres_url`` is a new, empty database.
- ``redis_server``: redis-server (``.url``).
- ``storage_config``: a Config over each object-store backend (``local``, ``s3``), SQLite catalog.
- ``catalog_url``: a database URL for each catalog backend (``sqlite``, ``postgresql``).
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from storage.config import Config
from tests.servers import PostgresServer, RedisServer, SeaweedS3


def _serve(server):
    try:
        server.start()
    except BaseException:
        server.cleanup()
        raise
    return server


@pytest.fixture(scope="session")
def s3_server():
    server = _serve(SeaweedS3())
    yield server
    server.cleanup()


@pytest.fixture
def s3_env(s3_server) -> dict[str, str]:
    return s3_server.env(f"t-{uuid.uuid4().hex[:16]}")


@pytest.fixture(scope="session")
def postgres_server():
    server = _serve(PostgresServer())
    yield server
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    return postgres_server.create_database()


@pytest.fixture(scope="session")
def redis_server():
    server = _serve(RedisServer())
    yield server
    server.cleanup()


@pytest.fixture(params=["local", "s3"])
def storage_config(request, tmp_path: Path) -> Config:
    env: dict[str, str] = {}
    if request.param == "s3":
        env = request.getfixturevalue("s3_env")
    return Config.from_env(env, data_dir=tmp_path / "data")


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
