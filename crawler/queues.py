"""The scheduler's queue for a crawl of many portals: a request leaves it only when its host may be asked.

Scrapy counts a request against ``CONCURRENT_REQUESTS`` from the moment the scheduler hands it to the downloader,
including the time it then waits in its host's download slot for ``DOWNLOAD_DELAY`` to pass. Scrapy's own queue
(``DownloaderAwarePriorityQueue``, its default) picks the host with the fewest requests in the downloader, which
says nothing of when that host was last asked; and every host's first request waits there for the delay after its
robots.txt (AutoThrottle's start delay, 2 s, ±50 %). Measured on benchmarks/pipeline.py: for the first 25 s of a
polite crawl 10–14 of the 16 places sat waiting like that while 150–290 requests of other hosts were queued, and
2–5 downloads were under way.

``ReadyHostPriorityQueue`` hands out a request only for a host that may be asked now: its delay since the last
download started has passed and it has room under ``CONCURRENT_REQUESTS_PER_DOMAIN``. Among those, the host with
the fewest requests in the downloader first, then round robin (Scrapy's ``DownloaderAwarePriorityQueue``, which
this extends: one priority queue per host, priorities kept within a host). When no host is ready it hands out
nothing and wakes the engine when the first one will be. A host's first request, once its robots.txt was asked,
comes back here (crawler.middlewares.RobotsTxtMiddleware), and so does a retry, its host paused for the backoff
(RetryBackoffMiddleware). The politeness is the same, only the waiting moves from the downloader (where it holds
a place) to the scheduler (where it does not).
"""
from __future__ import annotations

from bisect import bisect_right, insort
from time import monotonic

from scrapy.pqueues import DownloaderAwarePriorityQueue
from scrapy.utils.misc import load_object


# a wake-up sooner than this after the last is not worth a reactor call
_MIN_WAKE = 0.01
# on a request sent back to the queue: the monotonic time before which its host is not asked again (a retry's
# backoff, crawler.middlewares.RetryBackoffMiddleware)
META_HOST_NOT_BEFORE = "xxgk_host_not_before"


class ReadyHostPriorityQueue(DownloaderAwarePriorityQueue):
    def __init__(self, crawler, *args, **kwargs):
        super().__init__(crawler, *args, **kwargs)
        self._engine = crawler.engine
        self._wake_call = None
        self._min_delay = crawler.settings.getfloat("DOWNLOAD_DELAY")
        # when each host was last handed a request: until it reaches the host's download slot (the downloader
        # middlewares come first), the slot does not show it
        self._handed_out: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}   # hosts backing off after a failed request
        # the hosts with queued requests in the order Scrapy's round robin visits them (its slot names, sorted)
        self._hosts: list[str] = sorted(self.pqueues)

    def push(self, request) -> None:
        host = self._downloader_interface.get_slot_key(request)
        not_before = request.meta.pop(META_HOST_NOT_BEFORE, None)
        if not_before is not None:
            self._paused_until[host] = max(self._paused_until.get(host, 0.0), not_before)
        if host not in self.pqueues:
            insort(self._hosts, host)
        super().push(request)

    def pop(self):
        if not self.pqueues:
            return None
        host = self._choose_host()
        if host is None:
            return None
        if self._min_delay:
            self._handed_out[host] = monotonic()
        queue = self.pqueues[host]
        request = queue.pop()
        if len(queue) == 0:
            del self.pqueues[host]
            del self._hosts[bisect_right(self._hosts, host) - 1]
            queue.close()
            self._forget_handed_out(now=monotonic())
        return request

    def _choose_host(self) -> str | None:
        """The host Scrapy's ``_next_slot`` would pick among the ready ones (fewest requests in the downloader,
        then the next name after the last one picked, round robin); None, and a wake-up set, when none is ready.

        Visited in that round-robin order, the first ready host with nothing in the downloader is that pick, and
        in a national crawl (thousands of hosts, most of them idle) it comes after a few: only when no idle host
        is ready are they all looked at. (Asking every host on every pop cost a national crawl's reactor
        ~20 ms a request.)"""
        slots = self._downloader_interface.downloader.slots
        now = monotonic()
        hosts = self._hosts
        start = bisect_right(hosts, self._last_selected_slot) if self._last_selected_slot is not None else 0
        ready: list[tuple[int, str]] = []
        soonest: float | None = None
        for index in range(start, start + len(hosts)):
            host = hosts[index % len(hosts)]
            active, wait = self._host_state(host, slots, now)
            if wait is None:
                continue
            if wait <= 0:
                if active == 0:
                    self._last_selected_slot = host
                    return host
                ready.append((active, host))
            elif soonest is None or wait < soonest:
                soonest = wait
        if not ready:
            self._wake_in(soonest)
            return None
        return self._next_slot(ready, update_state=True)

    def _forget_handed_out(self, now: float) -> None:
        """Hosts handed a request longer than a delay ago: their slots show it by now (a national crawl's
        thousands of hosts must not pile up here)."""
        if len(self._handed_out) > 2 * len(self.pqueues) + 64:
            self._handed_out = {host: when for host, when in self._handed_out.items()
                                if when + self._min_delay > now}
        if self._paused_until:
            self._paused_until = {host: until for host, until in self._paused_until.items() if until > now}

    def _host_state(self, host: str, slots, now: float) -> tuple[int, float | None]:
        """(requests of the host in the downloader, seconds until it may be asked: None while its slot is full,
        since a download ending wakes the engine)."""
        slot = slots.get(host)
        handed = self._handed_out.get(host)
        wait = handed + self._min_delay - now if handed is not None else 0.0
        if host in self._paused_until:
            wait = max(wait, self._paused_until[host] - now)
        if slot is None:       # never asked, or idle so long that Scrapy forgot its slot
            return 0, wait
        active = len(slot.active)
        if active >= slot.concurrency:
            return active, None
        if slot.delay:
            wait = max(wait, slot.lastseen + slot.delay - now)
            if slot.queue:
                wait = max(wait, slot.delay)   # one already waits for the delay: another would wait twice
        return active, wait

    def _wake_in(self, seconds: float | None) -> None:
        """Ask the engine for requests again once the first waiting host may be asked (the engine's own
        heartbeat, every 5 s, would also come, but that late)."""
        if seconds is None:
            return
        from twisted.internet import reactor

        if self._wake_call is not None and self._wake_call.active():
            if self._wake_call.getTime() - reactor.seconds() <= seconds + _MIN_WAKE:
                return
            self._wake_call.cancel()
        self._wake_call = reactor.callLater(max(seconds, _MIN_WAKE), self._wake)

    def _wake(self) -> None:
        self._wake_call = None
        # the engine's next-request call: the same one a finished download or a new request triggers
        slot = getattr(self._engine, "_slot", None)
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()

    def close(self):
        if self._wake_call is not None and self._wake_call.active():
            self._wake_call.cancel()
        return super().close()


def holds_requests_for_hosts(settings) -> bool:
    """Whether the crawl's scheduler queue is ``ReadyHostPriorityQueue`` (Scrapy's own scheduler: the shared Redis
    queue of a distributed crawl hands out requests in its own order), so a request sent back to it waits there
    for its host instead of in the downloader."""
    if settings.get("SCHEDULER") != "scrapy.core.scheduler.Scheduler":
        return False
    queue = settings.get("SCHEDULER_PRIORITY_QUEUE")
    queue = load_object(queue) if isinstance(queue, str) else queue
    return isinstance(queue, type) and issubclass(queue, ReadyHostPriorityQueue)


def not_before(seconds: float) -> dict[str, float]:
    """The meta that keeps a request's host from being asked for ``seconds`` once the request is back here."""
    return {META_HOST_NOT_BEFORE: monotonic() + seconds}


def host_wait(downloader, request) -> float:
    """Seconds until the request's host may be asked again under its download delay (0: now)."""
    slot = downloader.slots.get(downloader.get_slot_key(request))
    if slot is None or not slot.delay:
        return 0.0
    return max(0.0, slot.lastseen + slot.delay - monotonic())
