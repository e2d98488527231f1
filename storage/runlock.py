"""One crawl at a time over one archive, across processes and machines: the run lock.

``open_run_lock(config, catalog)`` gives a lock kept in the catalog (table ``run_locks``, SQLite or PostgreSQL), or
in Redis when ``XXGK_REDIS_URL`` is set. Both behave alike:

- ``acquire(run_id)`` is atomic: it creates the lock, or takes over a stale one, in one step; it raises
  ``LockHeld`` (holder and a one-line reason) when a live run holds it.
- A lock is stale when its holder process is gone (holder on this host, its pid no longer runs) or its heartbeat
  is older than its TTL (any host: the holder or its machine died).
- ``refresh()`` renews the heartbeat (False once the lock was taken over); ``Heartbeat`` calls it from a
  background thread while the run goes on and releases the lock at the end.
- ``release()`` removes the lock only while it is still ours, so a run that lost it cannot free another's.
- ``finish_dead_run()``: the run whose stale lock was taken over died (SIGKILL, OOM, its machine) and will never
  finish its own ``crawl_runs`` row; the run that found it marks it ``interrupted``, saying when, why and who found it.

Heartbeats are compared with the clock of the machine that wants the lock: keep the TTL well above clock skew.
"""
from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from parsers.beijing import BEIJING
from storage.catalog.models import RunLock

LOCK_NAME = "crawl"
DEFAULT_TTL_SECONDS = 300          # a dead holder on another machine blocks the next run at most this long
HEARTBEATS_PER_TTL = 5             # a holder misses four heartbeats before its lock turns stale
# A Redis lock outlives its TTL this long (stale, as a catalog row does until taken over): the run that takes it
# over learns which run died (finish_dead_run); a key that expired at its TTL would leave that run 运行中 forever.
STALE_KEPT_SECONDS = 7 * 86400

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def this_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs on this host; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class LockHolder:
    holder: str                 # host:pid
    run_id: str | None
    acquired_at: datetime
    heartbeat_at: datetime
    ttl_seconds: int

    @property
    def host(self) -> str:
        return self.holder.rpartition(":")[0]

    @property
    def pid(self) -> int | None:
        text = self.holder.rpartition(":")[2]
        return int(text) if text.isdigit() else None

    def stale_reason(self, now: datetime, host: str, alive: Callable[[int], bool] = pid_alive) -> str | None:
        """Why this lock may be taken over, or None while its holder counts as alive."""
        if self.host == host and self.pid is not None and not alive(self.pid):
            return f"持有进程 {self.holder} 已不存在"
        if now - self.heartbeat_at > timedelta(seconds=self.ttl_seconds):
            return f"心跳已超过 {self.ttl_seconds} 秒未更新（最近 {_beijing(self.heartbeat_at)}）"
        return None

    def describe(self) -> str:
        return (f"运行 {self.run_id or '（未知）'}，持有者 {self.holder}，开始于 {_beijing(self.acquired_at)}，"
                f"最近心跳 {_beijing(self.heartbeat_at)}")

    def to_json(self) -> dict:
        return {"holder": self.holder, "run_id": self.run_id, "acquired_at": self.acquired_at.isoformat(),
                "heartbeat_at": self.heartbeat_at.isoformat(), "ttl_seconds": self.ttl_seconds}

    @classmethod
    def from_json(cls, data: dict) -> "LockHolder":
        return cls(holder=data["holder"], run_id=data.get("run_id"),
                   acquired_at=datetime.fromisoformat(data["acquired_at"]),
                   heartbeat_at=datetime.fromisoformat(data["heartbeat_at"]), ttl_seconds=int(data["ttl_seconds"]))


def _beijing(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M:%S} 北京时间"


def finish_dead_run(catalog, stale: LockHolder, *, reason: str | None, found_by: str,
                    at: datetime | None = None) -> bool:
    """Mark the run of a lock taken over as ``interrupted`` (its end: ``at``, when it was found dead — the last
    moment it was known to be over, so the history shows no run of this archive overlapping it) with who found it
    and why in its settings (``interrupted_by``, ``interrupted_found_at``, ``interrupted_reason``,
    ``interrupted_holder``, ``interrupted_last_heartbeat``). True when the run died unfinished: its row was still
    running, or it never got one (it died before its crawl started); False when the lock named no run or its run
    had finished (it died between finishing and releasing)."""
    from storage.catalog import queries

    if stale.run_id is None:
        return False
    at = at or utcnow()
    with catalog.session() as session:
        run = queries.get_run(session, stale.run_id)
        if run is None:
            return True
        if run.status != "running":
            return False
        queries.finish_run(session, run.id, status="interrupted", finished_at=max(at, run.started_at))
        run.settings = {**(run.settings or {}), "interrupted_by": found_by, "interrupted_found_at": at.isoformat(),
                        "interrupted_reason": reason, "interrupted_holder": stale.holder,
                        "interrupted_last_heartbeat": stale.heartbeat_at.isoformat()}
    return True


def finish_unlocked_runs(catalog, *, found_by: str, at: datetime | None = None) -> list[str]:
    """Mark ``interrupted`` every run still ``running`` but this one (``found_by``), once this one holds the lock:
    none can be alive (a live run holds the lock). Such a row is left by a command that failed after its crawl
    and released the lock without finishing its run (the catalog stopped answering as it judged). The ids."""
    from sqlalchemy import select

    from storage.catalog import queries
    from storage.catalog.models import CrawlRun

    at = at or utcnow()
    with catalog.session() as session:
        left = list(session.scalars(select(CrawlRun).where(CrawlRun.status == "running", CrawlRun.id != found_by)))
        for run in left:
            queries.finish_run(session, run.id, status="interrupted", finished_at=max(at, run.started_at))
            run.settings = {**(run.settings or {}), "interrupted_by": found_by, "interrupted_found_at": at.isoformat(),
                            "interrupted_reason": "运行没有结束，也没有持有运行锁：其命令在结束运行前出错退出"}
        return [run.id for run in left]


class LockHeld(Exception):
    """A live run holds the lock; ``str()`` is the one line shown to the user."""

    def __init__(self, holder: LockHolder):
        self.holder = holder
        super().__init__(f"另一次抓取正在进行（{holder.describe()}），本次未运行")


class LockUnavailable(Exception):
    """The lock's store (catalog or Redis) cannot be reached; the message names the setting to check."""


class _Lock:
    """What both kinds of lock share: who we are, the clock, and the run we hold the lock for."""

    def __init__(self, name: str, *, ttl_seconds: int, clock: Clock, holder: str | None,
                 alive: Callable[[int], bool]):
        if ttl_seconds <= 0:
            raise ValueError("a lock's TTL must be positive")
        self.name = name
        self.ttl_seconds = int(ttl_seconds)
        self.clock = clock
        self.holder = holder or this_holder()
        self.host = self.holder.rpartition(":")[0]
        self.alive = alive
        self.run_id: str | None = None
        self.took_over: LockHolder | None = None   # the stale lock the last acquire replaced, and why it was stale
        self.took_over_reason: str | None = None

    def _mine(self, now: datetime, run_id: str) -> LockHolder:
        return LockHolder(self.holder, run_id, now, now, self.ttl_seconds)

    def _taken(self, run_id: str, stale: LockHolder | None = None, reason: str | None = None) -> None:
        self.run_id, self.took_over, self.took_over_reason = run_id, stale, reason

    def hold(self, run_id: str, interval: float | None = None) -> "Heartbeat":
        """Acquire for ``run_id`` and keep the heartbeat going: ``with lock.hold(run_id): ...``."""
        self.acquire(run_id)
        return Heartbeat(self, interval)

    def close(self) -> None:
        """Let go of connections of its own (the catalog's belong to its owner)."""


class CatalogRunLock(_Lock):
    """The lock as a ``run_locks`` row: the whole decision is one write transaction (``BEGIN IMMEDIATE`` on
    SQLite; on PostgreSQL an insert that does nothing on conflict, then the row locked ``FOR UPDATE``)."""

    def __init__(self, catalog, name: str = LOCK_NAME, *, ttl_seconds: int = DEFAULT_TTL_SECONDS,
                 clock: Clock = utcnow, holder: str | None = None, alive: Callable[[int], bool] = pid_alive):
        super().__init__(name, ttl_seconds=ttl_seconds, clock=clock, holder=holder, alive=alive)
        self.catalog = catalog
        self.table = RunLock.__table__

    def acquire(self, run_id: str) -> None:
        now = self.clock()
        values = {"name": self.name, "holder": self.holder, "run_id": run_id, "acquired_at": now,
                  "heartbeat_at": now, "ttl_seconds": self.ttl_seconds}
        try:
            self._taken(run_id, *self._take(values, now))
        except SQLAlchemyError as exc:
            raise LockUnavailable(f"无法读写运行锁（目录数据库 {self.catalog.display_url}）：{exc}") from exc

    def _take(self, values: dict, now: datetime) -> tuple[LockHolder | None, str | None]:
        """(the stale lock replaced and why it was stale) or (None, None) for a free lock."""
        dialect = postgresql if self.catalog.engine.dialect.name == "postgresql" else sqlite
        with self.catalog.write_connection() as connection:
            inserted = connection.execute(dialect.insert(self.table).values(**values)
                                          .on_conflict_do_nothing(index_elements=["name"])
                                          .returning(self.table.c.name)).first()
            if inserted is None:
                row = connection.execute(select(self.table).where(self.table.c.name == self.name)
                                         .with_for_update()).mappings().one()
                current = LockHolder(row["holder"], row["run_id"], row["acquired_at"], row["heartbeat_at"],
                                     row["ttl_seconds"])
                reason = current.stale_reason(now, self.host, self.alive)
                if reason is None:
                    raise LockHeld(current)
                connection.execute(update(self.table).where(self.table.c.name == self.name).values(**values))
                return current, reason
        return None, None

    def _ours(self):
        return ((self.table.c.name == self.name) & (self.table.c.holder == self.holder)
                & (self.table.c.run_id == self.run_id))

    def refresh(self) -> bool:
        if self.run_id is None:
            return False
        with self.catalog.write_connection() as connection:
            return connection.execute(update(self.table).where(self._ours())
                                      .values(heartbeat_at=self.clock())).rowcount == 1

    def release(self) -> None:
        if self.run_id is None:
            return
        with self.catalog.write_connection() as connection:
            connection.execute(delete(self.table).where(self._ours()))
        self.run_id = None

    def current(self) -> LockHolder | None:
        with self.catalog.connection() as connection:
            row = connection.execute(select(self.table).where(self.table.c.name == self.name)).mappings().first()
        return None if row is None else LockHolder(row["holder"], row["run_id"], row["acquired_at"],
                                                   row["heartbeat_at"], row["ttl_seconds"])


# compare-and-set: the lock changes only if it still holds exactly what we read (or wrote) last
_REPLACE = ("if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) "
            "return 1 end return 0")
_DELETE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class RedisRunLock(_Lock):
    """The lock as one Redis key: ``SET NX PX`` creates it, the value (holder, run, heartbeat as JSON) is the
    token every later change compares against; staleness is judged from the heartbeat as for the catalog lock, and
    the key's expiry (``STALE_KEPT_SECONDS`` after its TTL) only clears a lock nobody came to take over."""

    KEY_PREFIX = "xxgk:lock:"

    def __init__(self, url_or_client, name: str = LOCK_NAME, *, ttl_seconds: int = DEFAULT_TTL_SECONDS,
                 clock: Clock = utcnow, holder: str | None = None, alive: Callable[[int], bool] = pid_alive):
        import redis

        super().__init__(name, ttl_seconds=ttl_seconds, clock=clock, holder=holder, alive=alive)
        self.client = redis.Redis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self.key = self.KEY_PREFIX + name
        self._value: bytes | None = None

    def _expiry_ms(self) -> int:
        return (self.ttl_seconds + STALE_KEPT_SECONDS) * 1000

    def _encode(self, holder: LockHolder) -> bytes:
        return json.dumps(holder.to_json(), sort_keys=True).encode()

    def acquire(self, run_id: str) -> None:
        import redis

        try:
            self._acquire(run_id)
        except redis.RedisError as exc:
            raise LockUnavailable(f"无法读写运行锁（Redis，XXGK_REDIS_URL）：{exc}") from exc

    def _acquire(self, run_id: str) -> None:
        ttl_ms = self._expiry_ms()
        current = None
        for _attempt in range(5):  # the key may vanish or change between our reads: look again
            now = self.clock()
            value = self._encode(self._mine(now, run_id))
            if self.client.set(self.key, value, nx=True, px=ttl_ms):
                self._value = value
                self._taken(run_id)
                return
            raw = self.client.get(self.key)
            if raw is None:
                continue
            current = LockHolder.from_json(json.loads(raw))
            reason = current.stale_reason(now, self.host, self.alive)
            if reason is None:
                raise LockHeld(current)
            if self.client.eval(_REPLACE, 1, self.key, raw, value, ttl_ms):
                self._value = value
                self._taken(run_id, current, reason)
                return
        if current is None:  # created and deleted under our feet five times: someone is busy with it
            current = LockHolder("?", None, self.clock(), self.clock(), self.ttl_seconds)
        raise LockHeld(current)

    def refresh(self) -> bool:
        if self._value is None:
            return False
        previous = LockHolder.from_json(json.loads(self._value))
        value = self._encode(LockHolder(previous.holder, previous.run_id, previous.acquired_at, self.clock(),
                                        self.ttl_seconds))
        if not self.client.eval(_REPLACE, 1, self.key, self._value, value, self._expiry_ms()):
            return False
        self._value = value
        return True

    def release(self) -> None:
        if self._value is None:
            return
        self.client.eval(_DELETE, 1, self.key, self._value)
        self._value = self.run_id = None

    def current(self) -> LockHolder | None:
        raw = self.client.get(self.key)
        return None if raw is None else LockHolder.from_json(json.loads(raw))

    def close(self) -> None:
        self.client.close()


class BothLocks:
    """The catalog's lock and Redis's, taken together (catalog first): a process started without
    ``XXGK_REDIS_URL`` (a cron line missing it) takes the catalog's alone, and must meet a distributed run there,
    not crawl the same archive beside it. Behaves as one lock: held while both are, taken over when either was."""

    def __init__(self, catalog_lock: CatalogRunLock, redis_lock: RedisRunLock):
        self.parts = (catalog_lock, redis_lock)
        self.name, self.ttl_seconds, self.holder = redis_lock.name, redis_lock.ttl_seconds, redis_lock.holder

    @property
    def run_id(self) -> str | None:
        return self.parts[1].run_id

    @property
    def took_over(self) -> LockHolder | None:
        return next((part.took_over for part in self.parts if part.took_over is not None), None)

    @property
    def took_over_reason(self) -> str | None:
        return next((part.took_over_reason for part in self.parts if part.took_over is not None), None)

    def acquire(self, run_id: str) -> None:
        catalog_lock, redis_lock = self.parts
        catalog_lock.acquire(run_id)
        try:
            redis_lock.acquire(run_id)
        except BaseException:
            catalog_lock.release()
            raise

    def hold(self, run_id: str, interval: float | None = None) -> "Heartbeat":
        self.acquire(run_id)
        return Heartbeat(self, interval)

    def refresh(self) -> bool:
        return all([part.refresh() for part in self.parts])   # both refreshed, whatever the first said

    def release(self) -> None:
        for part in reversed(self.parts):
            part.release()

    def current(self) -> LockHolder | None:
        return self.parts[1].current()

    def close(self) -> None:
        for part in self.parts:
            part.close()


def open_run_lock(config, catalog, **options) -> CatalogRunLock | BothLocks:
    """The crawl lock of this archive: in the catalog, and in Redis as well when ``XXGK_REDIS_URL`` is set."""
    if config.redis_url:
        return BothLocks(CatalogRunLock(catalog, **options), RedisRunLock(config.redis_url, **options))
    return CatalogRunLock(catalog, **options)


class Heartbeat:
    """Keeps a held lock alive from a daemon thread (every TTL/5 by default) and releases it on exit.

    ``lost`` turns true when a refresh finds the lock taken over (the run outlived its TTL unseen); a failed
    refresh (database or Redis briefly away) is kept in ``error`` and retried at the next beat."""

    def __init__(self, lock, interval: float | None = None):
        self.lock = lock
        self.interval = interval if interval is not None else lock.ttl_seconds / HEARTBEATS_PER_TTL
        self.lost = False
        self.beats = 0
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"xxgk-lock-{lock.name}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.lock.refresh():
                    self.lost = True
                    return
                self.beats += 1
            except Exception as exc:  # noqa: BLE001 - keep beating; the TTL decides when the lock is gone
                self.error = exc

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.lock.release()
        except Exception as error:  # noqa: BLE001 - the run's own outcome matters more; the TTL frees the lock
            self.error = error
