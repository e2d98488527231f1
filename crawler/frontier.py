"""One crawl run shared by processes on many machines: the frontier in Redis (``FRONTIER_ROLE``).

The coordinator (``xxgk crawl --coordinator``) holds the run lock, announces its run id and agencies
(``announce``), seeds the start requests and decides when the run is over; workers (``xxgk crawl --worker``)
join the announced run (``current_run``), take requests from the shared queue and archive into the same run with
WARC segments of their own. Every process also fetches. The keys of run R are ``xxgk:run:R:*``:

- ``requests`` / ``dupefilter``: scrapy-redis's priority queue and fingerprints, kept for the whole run
  (``SCHEDULER_PERSIST``) and deleted by the coordinator at the end;
- ``state`` (worker → busy | idle) and ``beat`` (worker → Redis server time of its last heartbeat);
- ``inflight:W``: what worker W took and has not finished. A request moves from the queue into it atomically
  (``_TAKE``); it leaves when its callback's output is queued, when a redirect or retry that replaces it is queued,
  or when W goes idle. A worker restarted under the same ``--worker-id`` puts its ``inflight`` back into the queue;
  a worker silent for ``FRONTIER_TTL`` seconds has it put back by the coordinator. So a killed worker loses no
  request; at worst a page it had already fetched is fetched again.
- ``items`` and ``columns``: agencies and column URLs that gave listing items (the coordinator's fallbacks need
  the whole run's answer); ``sessions``, ``session`` (worker → its current session) and ``coverage`` (session →
  its column reads, pushed when it closes): the coordinator merges them into one set of ``column_coverage`` rows.
- ``done``: set by the coordinator once the frontier drained (queue empty and every live worker idle, read in one
  atomic step, ``_DRAINED``); idle workers then close (as they do when another run was announced: a persistent
  worker, ``xxgk crawl --worker --forever``, then joins that one).
"""
from __future__ import annotations

import asyncio
import json
import logging
import pickle
import secrets
import socket
import time
from dataclasses import asdict
from typing import Any

from registry.agencies import Agency

log = logging.getLogger(__name__)

ROLES = ("coordinator", "worker")
CURRENT_KEY = "xxgk:frontier:current"      # the run id the coordinator announced
META_TOKEN = "xxgk_frontier_token"         # which inflight entry a request is

# move the best request of the priority queue into the worker's inflight hash and mark the worker busy
_TAKE = """
local found = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #found == 0 then return false end
redis.call('ZREM', KEYS[1], found[1])
local token = redis.sha1hex(found[1])
redis.call('HSET', KEYS[2], token, found[2] .. '|' .. found[1])
redis.call('HSET', KEYS[3], ARGV[1], 'busy')
return {token, found[1]}
"""
# everything a worker holds goes back into the queue, with its priority
_REQUEUE = """
local held = redis.call('HGETALL', KEYS[2])
for i = 2, #held, 2 do
  local cut = string.find(held[i], '|', 1, true)
  redis.call('ZADD', KEYS[1], string.sub(held[i], 1, cut - 1), string.sub(held[i], cut + 1))
end
redis.call('DEL', KEYS[2])
return #held / 2
"""
_IDLE = """
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], 'idle')
"""
_DRAINED = """
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
for _, state in ipairs(redis.call('HVALS', KEYS[2])) do
  if state ~= 'idle' then return 0 end
end
return 1
"""
_BEAT = "local now = redis.call('TIME') redis.call('HSET', KEYS[1], ARGV[1], now[1]) return now[1]"
_NOW = "return redis.call('TIME')[1]"


FRONTIER_LOST = "frontier_lost"   # the finish reason of a run whose Redis state vanished


class FrontierError(RuntimeError):
    """No run to join, or the frontier's Redis cannot be used; the message is one line for the user."""


def run_key(run_id: str, part: str) -> str:
    return f"xxgk:run:{run_id}:{part}"


def default_worker_id() -> str:
    """Unique per process: a worker restarted without ``--worker-id`` gets its requests back after the TTL."""
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


def _client(redis_url: str):
    import redis

    return redis.Redis.from_url(redis_url)


# ---------------------------------------------------------------- announcing and joining a run

def announce(client, run_id: str, agencies: list[Agency]) -> None:
    """The coordinator's run becomes the one workers join (its agencies first, so a joiner always finds them)."""
    client.set(run_key(run_id, "agencies"), json.dumps([asdict(agency) for agency in agencies], ensure_ascii=False))
    client.set(CURRENT_KEY, run_id)


def current_run(redis_url: str, wait: float | None = 0.0, poll: float = 0.5) -> tuple[str, list[Agency]]:
    """The announced run and its agencies, waiting up to ``wait`` seconds (None: without limit, a persistent
    worker between scheduled runs) for a coordinator to announce one."""
    import redis

    deadline = None if wait is None else time.monotonic() + wait
    try:
        client = _client(redis_url)
        try:
            while True:
                run_id = client.get(CURRENT_KEY)
                if run_id is not None:
                    run_id = run_id.decode()
                    raw = client.get(run_key(run_id, "agencies"))
                    if raw is not None and not client.exists(run_key(run_id, "done")):
                        agencies = [Agency(**{name: tuple(value) if isinstance(value, list) else value
                                              for name, value in entry.items()}) for entry in json.loads(raw)]
                        return run_id, agencies
                if deadline is not None and time.monotonic() >= deadline:
                    raise FrontierError(f"没有可加入的分布式抓取（等待 {wait:.0f} 秒，Redis 中无协调进程宣布的运行）")
                time.sleep(poll)
        finally:
            client.close()
    except redis.RedisError as exc:
        raise FrontierError(f"无法读取 Redis（XXGK_REDIS_URL）：{exc}") from exc


# ---------------------------------------------------------------- one process's part in the run

class Frontier:
    """This process's side of the shared frontier of run ``run_id``."""

    def __init__(self, client, run_id: str, role: str, worker_id: str, ttl: float):
        if role not in ROLES:
            raise ValueError(f"FRONTIER_ROLE {role!r}: expected one of {', '.join(ROLES)}")
        self.client = client
        self.run_id = run_id
        self.role = role
        self.worker_id = worker_id
        self.ttl = ttl
        self.session = f"{worker_id}#{secrets.token_hex(4)}"
        self.queue_key = run_key(run_id, "requests")
        self._state = run_key(run_id, "state")
        self._beat = run_key(run_id, "beat")
        self._items_told: set[str] = set()
        self._take = client.register_script(_TAKE)
        self._requeue = client.register_script(_REQUEUE)
        self._idle = client.register_script(_IDLE)
        self._drained = client.register_script(_DRAINED)
        self._beat_script = client.register_script(_BEAT)

    @classmethod
    def of(cls, crawler) -> "Frontier | None":
        """The crawl's frontier when ``FRONTIER_ROLE`` is set (None otherwise), created on first use."""
        if hasattr(crawler, "_xxgk_frontier"):
            return crawler._xxgk_frontier
        settings = crawler.settings
        role = settings.get("FRONTIER_ROLE")
        frontier = None
        if role:
            from crawler.middlewares import CrawlArchive

            config = settings.get("XXGK_CONFIG")
            redis_url = settings.get("REDIS_URL") or getattr(config, "redis_url", None)
            if not redis_url:
                raise FrontierError("分布式抓取需要 XXGK_REDIS_URL")
            run_id = CrawlArchive.of(crawler).run_id
            frontier = cls(_client(redis_url), run_id, role, settings.get("FRONTIER_WORKER") or default_worker_id(),
                           settings.getfloat("FRONTIER_TTL"))
        crawler._xxgk_frontier = frontier
        return frontier

    @property
    def coordinating(self) -> bool:
        return self.role == "coordinator"

    def key(self, part: str) -> str:
        return run_key(self.run_id, part)

    def _inflight(self, worker_id: str | None = None) -> str:
        return self.key(f"inflight:{worker_id or self.worker_id}")

    # -- joining, heartbeats, leaving

    def join(self, agencies: list[Agency]) -> int:
        """Enter the run: announce it (coordinator), take back what this worker id held when it died; returns
        how many requests went back into the queue."""
        if self.coordinating:
            announce(self.client, self.run_id, agencies)
        returned = int(self._requeue(keys=[self.queue_key, self._inflight()]))
        pipe = self.client.pipeline()
        pipe.sadd(self.key("sessions"), self.session)
        pipe.hset(self.key("session"), self.worker_id, self.session)
        pipe.hset(self._state, self.worker_id, "idle")
        pipe.execute()
        self.beat()
        if returned:
            log.warning("worker %s: %d request(s) it held before a restart are queued again", self.worker_id,
                        returned)
        return returned

    def beat(self) -> None:
        self._beat_script(keys=[self._beat], args=[self.worker_id])

    def leave(self) -> None:
        """This process is done with the run (after its coverage went to Redis). What it still holds (stopped
        mid-run: SIGTERM to a persistent worker) goes back into the queue: once it has left, no reaping will."""
        self._requeue(keys=[self.queue_key, self._inflight()])
        pipe = self.client.pipeline()
        pipe.hdel(self._state, self.worker_id)
        pipe.hdel(self._beat, self.worker_id)
        pipe.execute()

    # -- requests

    def take(self) -> tuple[str, bytes] | None:
        """The next request (token, encoded), now held by this worker."""
        found = self._take(keys=[self.queue_key, self._inflight(), self._state], args=[self.worker_id])
        if not found:
            return None
        token, data = found
        return token.decode() if isinstance(token, bytes) else token, data

    def finished(self, token: str | None) -> None:
        """The request ``token`` is done: what it led to is in the queue."""
        if token:
            self.client.hdel(self._inflight(), token)

    def idle(self) -> None:
        """Nothing in hand in this process: everything it took is done."""
        self._idle(keys=[self._state, self._inflight()], args=[self.worker_id])

    # -- the coordinator's view

    def reap(self) -> list[str]:
        """Workers silent for longer than the TTL: what they held goes back into the queue, they leave the run."""
        now = int(self.client.eval(_NOW, 0))
        beats = {worker.decode(): int(value) for worker, value in self.client.hgetall(self._beat).items()}
        gone = [worker for worker in (name.decode() for name in self.client.hkeys(self._state))
                if worker != self.worker_id and now - beats.get(worker, 0) > self.ttl]
        for worker in gone:
            returned = self._requeue(keys=[self.queue_key, self._inflight(worker)])
            self.client.hdel(self._state, worker)
            self.client.hdel(self._beat, worker)
            log.warning("worker %s silent for over %.0f s: left the run, %s request(s) queued again", worker,
                        self.ttl, returned)
        return gone

    def drained(self) -> bool:
        """The queue is empty and every live process is idle, read in one step."""
        self.reap()
        return bool(self._drained(keys=[self.queue_key, self._state]))

    def lost(self) -> bool:
        """Redis no longer knows this process's part in the run (restarted without its data, flushed): the queue
        and what every process held are gone, and nothing says the run read what it was meant to."""
        return not self.client.sismember(self.key("sessions"), self.session)

    def mark_done(self) -> None:
        self.client.set(self.key("done"), "1")

    def is_done(self) -> bool:
        """The coordinator ended the run, or another run was announced since (this run's coordinator died and a
        new one started): a persistent worker must not wait in an abandoned run forever."""
        pipe = self.client.pipeline()
        pipe.exists(self.key("done"))
        pipe.get(CURRENT_KEY)
        done, current = pipe.execute()
        return bool(done) or (current or b"").decode() != self.run_id

    # -- what the run's columns gave, across processes

    def gave_items(self, agency_id: str, column: str) -> None:
        if (agency_id, column) in self._items_told:
            return
        self._items_told.add((agency_id, column))
        pipe = self.client.pipeline()
        pipe.sadd(self.key("items"), agency_id)
        pipe.sadd(self.key("columns"), column)
        pipe.execute()

    def shared_column(self, agency_id: str, column: str) -> None:
        self.client.sadd(self.key("shared"), json.dumps([agency_id, column]))

    def agencies_with_items(self) -> set[str]:
        """The agencies a column of which gave items in any process of the run (their own, or one they share)."""
        with_items = {agency.decode() for agency in self.client.smembers(self.key("items"))}
        columns = {column.decode() for column in self.client.smembers(self.key("columns"))}
        shared = (json.loads(entry) for entry in self.client.smembers(self.key("shared")))
        return with_items | {agency for agency, column in shared if column in columns}

    def push_coverage(self, state: dict[str, Any]) -> None:
        self.client.hset(self.key("coverage"), self.session, pickle.dumps(state))

    def gather_coverage(self, wait: float) -> tuple[list[dict[str, Any]], int]:
        """Every other session's column reads, waiting up to ``wait`` seconds for live workers to push theirs;
        returns them and how many sessions never will (killed, or gone silent)."""
        deadline = time.monotonic() + wait
        while True:
            self.reap()
            sessions = {entry.decode() for entry in self.client.smembers(self.key("sessions"))} - {self.session}
            pushed = {entry.decode() for entry in self.client.hkeys(self.key("coverage"))}
            current = {session.decode() for session in self.client.hvals(self.key("session"))}
            live = {worker.decode() for worker in self.client.hkeys(self._state)}
            waiting = {session for session in sessions - pushed
                       if session in current and session.partition("#")[0] in live}
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        states = [pickle.loads(self.client.hget(self.key("coverage"), session)) for session in sessions & pushed]
        return states, len(sessions - pushed)

    def clear(self) -> None:
        """The run is over: its keys go (the coordinator, last)."""
        keys = [self.key(part) for part in ("requests", "dupefilter", "state", "beat", "sessions", "session",
                                            "coverage", "items", "columns", "shared", "agencies", "done")]
        keys += list(self.client.scan_iter(self.key("inflight:*")))
        self.client.delete(*keys)
        if (self.client.get(CURRENT_KEY) or b"").decode() == self.run_id:
            self.client.delete(CURRENT_KEY)

    def close(self) -> None:
        self.client.close()


# ---------------------------------------------------------------- scrapy-redis scheduler over the frontier

def _scheduler_base():
    from scrapy_redis.scheduler import Scheduler

    return Scheduler


class FrontierScheduler(_scheduler_base()):
    """scrapy-redis's scheduler whose requests are held by this worker until done (``Frontier.take``)."""

    def open(self, spider):
        super().open(spider)
        from crawler.middlewares import CrawlArchive

        crawler = spider.crawler
        self.frontier = Frontier.of(crawler)
        self.frontier.join(getattr(spider, "agencies", []))
        holder = CrawlArchive.of(crawler)
        holder.before_finish(self._leave)   # after the coverage hook: the coordinator waits for our reads
        from twisted.internet import task

        # Scrapy looks at a scheduler that had nothing every 5 s; here other processes fill the queue, so look
        # every second (the engine's own attribute: no public setting exists)
        if getattr(crawler, "engine", None) is not None:
            crawler.engine._SLOT_HEARTBEAT_INTERVAL = 1.0
        self._beats = task.LoopingCall(self._heartbeat)
        self._beats.start(max(self.frontier.ttl / 10, 0.5), now=False)

    def _heartbeat(self) -> None:
        import redis

        try:
            self.frontier.beat()
        except redis.RedisError as exc:  # a missed beat: the TTL allows several
            log.warning("frontier heartbeat failed: %s", exc)

    def _leave(self, reason: str) -> None:
        if self._beats.running:
            self._beats.stop()
        if self.frontier.coordinating:
            self.frontier.clear()
        else:
            self.frontier.leave()
        self.frontier.close()

    def enqueue_request(self, request):
        # a redirect or retry carries the token of the request it replaces: that one is done once this is queued
        replaced = request.meta.pop(META_TOKEN, None)
        queued = super().enqueue_request(request)
        self.frontier.finished(replaced)
        return queued

    def next_request(self):
        taken = self.frontier.take()
        if taken is None:
            return None
        token, data = taken
        request = self.queue._decode_request(data)
        request.meta[META_TOKEN] = token
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis", spider=self.spider)
        return request


class FrontierMiddleware:
    """Spider middleware closest to the engine: a response's request is done once all it yielded is queued and
    its capture is durable (its group commit done: a worker that dies before gets the request back); a request
    that ended in a fetch error is done when the error is recorded (its errback yields nothing)."""

    def __init__(self, frontier: Frontier, holder=None):
        self.frontier = frontier
        self.holder = holder            # crawler.middlewares.CrawlArchive, None without the archive
        self._finishing: set = set()

    @classmethod
    def from_crawler(cls, crawler) -> "FrontierMiddleware":
        from scrapy.exceptions import NotConfigured

        from crawler.middlewares import CrawlArchive, fetch_failed

        frontier = Frontier.of(crawler)
        if frontier is None:
            raise NotConfigured("no FRONTIER_ROLE")
        holder = CrawlArchive.of(crawler) if crawler.settings.getbool("ARCHIVE_ENABLED") else None
        middleware = cls(frontier, holder)
        crawler.signals.connect(middleware.request_failed, signal=fetch_failed)
        return middleware

    async def process_spider_output(self, response, result):
        from crawler.middlewares import META_CAPTURE

        async for output in result:
            yield output
        token = response.meta.get(META_TOKEN)
        capture = response.meta.get(META_CAPTURE)
        if self.holder is None or not token or self.holder.archive.staged(capture or "") is None:
            self.frontier.finished(token)
            return
        # in the background: the response is done for Scrapy, only its frontier entry waits for the commit
        task = asyncio.ensure_future(self._finish_when_durable(token, capture))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish_when_durable(self, token: str, capture: str) -> None:
        try:
            await self.holder.committed(capture)
        except Exception as exc:  # noqa: BLE001 - the failed commit is logged by the archive
            log.debug("frontier entry %s finished without its capture indexed: %s", token, exc)
        finally:
            self.frontier.finished(token)

    def request_failed(self, request, **_) -> None:
        self.frontier.finished(request.meta.get(META_TOKEN))
