"""The run lock (storage/runlock.py) on each of its stores: a SQLite catalog, a PostgreSQL catalog and Redis, all
real (tests/servers.py). One holder at a time, across threads and processes; a stale lock (its process is dead, or
its heartbeat older than its TTL) is taken over; the loser of a takeover can no longer refresh or free the lock."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage.catalog import Catalog
from storage.runlock import CatalogRunLock, LockHeld, RedisRunLock, this_holder

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 1, 31, 15, 55, tzinfo=timezone.utc)   # 23:55 in Beijing on a deadline day
TTL = 300


class Backend:
    """Makes locks of one name over one store, in this process or in another one."""

    def __init__(self, kind: str, catalog: Catalog | None = None, redis_url: str | None = None):
        self.kind = kind
        self.catalog = catalog
        self.redis_url = redis_url
        self.name = f"test-{uuid.uuid4().hex[:8]}"
        self.made: list = []

    def lock(self, **options):
        options.setdefault("ttl_seconds", TTL)
        if self.kind == "redis":
            lock = RedisRunLock(self.redis_url, self.name, **options)
        else:
            lock = CatalogRunLock(self.catalog, self.name, **options)
        self.made.append(lock)
        return lock

    def holder_process(self, run_id: str) -> subprocess.Popen:
        """``tests.lock_holder`` taking this lock; returns once it holds it."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("XXGK_")}
        env["XXGK_DATA_DIR"] = str(Path(self.catalog.url.database).parent) if self.kind == "sqlite" else "/nonexistent"
        args = [sys.executable, "-m", "tests.lock_holder", run_id, "--name", self.name]
        if self.kind == "redis":
            env["XXGK_REDIS_URL"] = self.redis_url
            args += ["--database-url", "sqlite://"]
        else:
            args += ["--database-url", self.catalog.url.render_as_string(hide_password=False)]
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True)
        line = process.stdout.readline()
        assert line.startswith("held "), line
        return process


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def backend(request, tmp_path):
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        made = Backend("redis", redis_url=server.url)
        yield made
        for lock in made.made:
            lock.release()
            lock.close()
        return
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else \
        f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    catalog = Catalog.open(url)
    try:
        yield Backend(request.param, catalog=catalog)
    finally:
        catalog.close()


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_one_holder_at_a_time_and_release_frees_the_lock(backend):
    first, second = backend.lock(), backend.lock()
    first.acquire("run-a")
    with pytest.raises(LockHeld) as held:
        second.acquire("run-b")
    assert held.value.holder.run_id == "run-a" and held.value.holder.holder == this_holder()
    assert "run-a" in str(held.value) and "\n" not in str(held.value)
    assert backend.lock().current().run_id == "run-a"
    first.release()
    second.acquire("run-b")
    assert second.took_over is None
    assert backend.lock().current().run_id == "run-b"


def test_a_lock_held_by_another_live_process_is_not_taken(backend):
    holder = backend.holder_process("run-elsewhere")
    try:
        with pytest.raises(LockHeld) as held:
            backend.lock().acquire("run-here")
        assert held.value.holder.pid == holder.pid and held.value.holder.run_id == "run-elsewhere"
    finally:
        holder.stdin.close()   # the holder releases its lock and exits
        assert holder.wait(timeout=30) == 0
    lock = backend.lock()
    lock.acquire("run-here")
    assert lock.took_over is None


def test_the_lock_of_a_killed_process_is_taken_over(backend):
    holder = backend.holder_process("run-killed")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert backend.lock().current().run_id == "run-killed"   # it never released its lock
    lock = backend.lock()
    lock.acquire("run-next")
    assert lock.took_over.run_id == "run-killed" and lock.took_over.pid == holder.pid
    assert "已不存在" in lock.took_over_reason
    assert backend.lock().current().run_id == "run-next"


def test_a_lock_whose_heartbeat_is_older_than_its_ttl_is_taken_over(backend):
    """Another machine's run: its pid cannot be checked from here, only its heartbeat."""
    remote = backend.lock(holder="crawler-2:4242", clock=Clock(T0))
    remote.acquire("run-remote")
    with pytest.raises(LockHeld):
        backend.lock(clock=Clock(T0 + timedelta(seconds=TTL - 1))).acquire("run-early")
    late = backend.lock(clock=Clock(T0 + timedelta(seconds=TTL + 1)))
    late.acquire("run-late")
    assert late.took_over.holder == "crawler-2:4242" and "心跳" in late.took_over_reason
    # the old holder learns it lost the lock, and cannot free the new holder's
    assert remote.refresh() is False
    remote.release()
    assert backend.lock().current().run_id == "run-late"


def test_a_dead_holders_redis_lock_outlives_its_ttl_so_the_next_run_learns_which_run_died(redis_server):
    """Its key must not expire at the TTL: the run taking the lock over marks the dead run interrupted, and an
    expired key would have named nobody."""
    backend = Backend("redis", redis_url=redis_server.url)
    try:
        dead = backend.lock(holder="crawler-2:4242", ttl_seconds=1)
        dead.acquire("run-dead")
        time.sleep(1.5)   # past its TTL, in Redis's own clock
        late = backend.lock(ttl_seconds=1)
        late.acquire("run-late")
        assert late.took_over is not None and late.took_over.run_id == "run-dead", late.took_over
        assert "心跳" in late.took_over_reason
        late.release()
    finally:
        for lock in backend.made:
            lock.close()


def test_a_refreshed_lock_stays_held_past_its_first_ttl(backend):
    clock = Clock(T0)
    lock = backend.lock(holder="crawler-2:4242", clock=clock)
    lock.acquire("run-long")
    clock.now = T0 + timedelta(seconds=TTL - 10)
    assert lock.refresh() is True
    with pytest.raises(LockHeld) as held:
        backend.lock(clock=Clock(T0 + timedelta(seconds=TTL + 60))).acquire("run-other")
    assert held.value.holder.heartbeat_at == T0 + timedelta(seconds=TTL - 10)


def test_the_heartbeat_thread_refreshes_while_the_run_goes_on_and_releases_at_the_end(backend):
    clock = Clock(T0)
    lock = backend.lock(clock=clock)
    heartbeat = lock.hold("run-beating", interval=0.01)
    clock.now = T0 + timedelta(minutes=1)
    with heartbeat:
        deadline = time.monotonic() + 20
        while heartbeat.beats < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        current = backend.lock().current()
        assert heartbeat.beats >= 2 and heartbeat.error is None
        assert current.run_id == "run-beating" and current.heartbeat_at == T0 + timedelta(minutes=1)
    assert backend.lock().current() is None
    assert not heartbeat.lost


@pytest.mark.parametrize("state", ["free", "stale"])
def test_of_many_simultaneous_acquirers_exactly_one_wins(backend, state):
    if state == "stale":
        backend.lock(holder="crawler-9:1", clock=Clock(T0 - timedelta(hours=1))).acquire("run-dead")
    racers = [backend.lock(holder=f"racer-{index}:1", clock=Clock(T0)) for index in range(6)]
    start = threading.Barrier(len(racers))
    outcomes: dict[int, str] = {}

    def race(index: int) -> None:
        start.wait()
        try:
            racers[index].acquire(f"run-{index}")
            outcomes[index] = "won"
        except LockHeld as exc:
            outcomes[index] = f"held by {exc.holder.run_id}"

    threads = [threading.Thread(target=race, args=(index,)) for index in range(len(racers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [index for index, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == len(racers) and len(winners) == 1, outcomes
    assert set(outcomes.values()) == {"won", f"held by run-{winners[0]}"}
    assert backend.lock().current().run_id == f"run-{winners[0]}"


def test_a_run_left_running_without_the_lock_is_marked_interrupted_by_the_next(catalog_url):
    """An operator's walk: PostgreSQL stopped as a crawl judged its verdicts; the command failed after releasing
    the lock, and its run stayed 运行中 forever (the next crawl found no stale lock to take over). The next run that
    holds the lock marks every other running run 已中断, saying why."""
    from storage.catalog import queries
    from storage.config import Config
    from storage.runlock import finish_unlocked_runs

    catalog = Catalog.open(Config.from_env({"XXGK_DATABASE_URL": catalog_url}, data_dir=Path("/nonexistent")),
                           create=True)
    try:
        with catalog.session() as session:
            queries.start_run(session, "left-running")
            queries.start_run(session, "done")
            queries.finish_run(session, "done")
            queries.start_run(session, "this-one")
        assert finish_unlocked_runs(catalog, found_by="this-one") == ["left-running"]
        with catalog.reading() as session:
            runs = {run.id: run for run in queries.list_runs(session)}
            assert {run_id: run.status for run_id, run in runs.items()} == {
                "left-running": "interrupted", "done": "finished", "this-one": "running"}
            assert "没有持有运行锁" in runs["left-running"].settings["interrupted_reason"]
    finally:
        catalog.close()


def test_a_catalog_that_stops_answering_mid_command_is_one_line():
    """What ``xxgk`` prints for a catalog or object store that stopped answering after the command began (a page of
    SQLAlchemy and psycopg traceback before): a real connection refused by a port nothing listens on."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from cli.main import _unreachable
    from storage.objects import StoreUnavailable
    from tests.servers import free_port

    engine = create_engine(f"postgresql+psycopg://x@127.0.0.1:{free_port()}/x")
    with pytest.raises(OperationalError) as refused:
        engine.connect()
    line = _unreachable(refused.value)
    assert line.startswith("目录数据库无法访问，命令未完成（OperationalError:") and "\n" not in line
    assert _unreachable(StoreUnavailable("s3 endpoint 127.0.0.1:1 refused")).startswith("对象存储无法访问")
    assert _unreachable(ValueError("a bug")) is None   # anything else is a bug: its traceback stays


@pytest.mark.parametrize("holder_has_redis", [True, False], ids=["redis-holds", "catalog-holds"])
def test_a_process_without_the_redis_setting_meets_a_distributed_runs_lock(tmp_path, redis_server, holder_has_redis):
    """An operator's walk: `xxgk schedule --coordinator` (XXGK_REDIS_URL set) and a cron line that lacked the
    setting crawled one archive at once: each took the lock of its own backend. The catalog's lock is taken by
    both now, so whichever comes second is refused."""
    from storage.config import Config
    from storage.runlock import open_run_lock

    catalog_url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    name = f"test-{uuid.uuid4().hex[:8]}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("XXGK_")}
    env["XXGK_DATA_DIR"] = str(tmp_path)
    if holder_has_redis:
        env["XXGK_REDIS_URL"] = redis_server.url
    holder = subprocess.Popen([sys.executable, "-m", "tests.lock_holder", "first", "--name", name,
                               "--database-url", catalog_url], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().startswith("held ")
        second_env = {} if holder_has_redis else {"XXGK_REDIS_URL": redis_server.url}
        catalog = Catalog.open(catalog_url)
        try:
            lock = open_run_lock(Config.from_env(second_env, data_dir=tmp_path), catalog, name=name, ttl_seconds=TTL)
            with pytest.raises(LockHeld):
                lock.acquire("second")
            lock.close()
        finally:
            catalog.close()
    finally:
        holder.stdin.close()
        holder.wait(30)
