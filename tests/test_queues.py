"""The crawl's scheduler queue (crawler.queues): a request waits for its host's download delay, and a retry for
its backoff, in the queue, not in the downloader where it would hold one of the CONCURRENT_REQUESTS places;
politeness per host is unchanged."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DELAY = 0.4     # tests/queue_crawl.py: DOWNLOAD_DELAY, no jitter
BACKOFF = 1.5   # tests/queue_crawl.py: seconds before the retry of a 503
# one host with many pages, four with two: Scrapy's queues hand out the many-page host's requests one after
# another, and each then waits for the delay holding one of the two places
PAGES = {"127.1.9.1": 8, "127.1.9.2": 2, "127.1.9.3": 2, "127.1.9.4": 2, "127.1.9.5": 2}


class _Hits:
    def __init__(self):
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, float]] = []   # (host, path, when)


def _handler(hits: _Hits):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            host = self.server.server_address[0]
            with hits.lock:
                asked_before = any(hit[:2] == (host, self.path) for hit in hits.log)
                hits.log.append((host, self.path, time.monotonic()))
            body = (b"User-agent: *\nAllow: /\n" if self.path == "/robots.txt"
                    else f"<html><body>{self.path}</body></html>".encode())
            # a flaky page fails the first time it is asked
            self.send_response(503 if self.path.startswith("/flaky") and not asked_before else 200)
            self.send_header("Content-Type", "text/plain" if self.path == "/robots.txt" else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def hosts():
    hits = _Hits()
    servers = []
    for address in PAGES:
        server = ThreadingHTTPServer((address, 0), _handler(hits))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield hits, {address: server.server_address[1] for address, server in zip(PAGES, servers)}
    for server in servers:
        server.shutdown()
        server.server_close()


def _pages(ports: dict[str, int]) -> list[str]:
    return [f"http://{address}:{ports[address]}/page-{number}.html"
            for address, count in PAGES.items() for number in range(count)]


def _crawl(tmp_path: Path, queue: str, ports: dict[str, int], urls: list[str] | None = None,
           concurrency: int = 2) -> dict:
    urls = urls or _pages(ports)
    out = tmp_path / f"{queue}.json"
    done = subprocess.run([sys.executable, "-m", "tests.queue_crawl", str(out), queue, str(concurrency), *urls],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert sorted(result["answered"]) == sorted(urls)
    return result


def test_no_request_waits_for_its_host_inside_the_downloader(tmp_path, hosts):
    hits, ports = hosts
    result = _crawl(tmp_path, "ready", ports)
    waited = [(url, round(wait, 3)) for url, wait in result["waits"] if wait > 0.001]
    assert not waited, f"requests that reached their host's slot before its delay had passed: {waited}"
    # the first request of each host, held up by its robots.txt, went back to the queue to wait there
    assert result["sent_back"] >= len(PAGES)

    by_host = defaultdict(list)
    for host, _path, when in sorted(hits.log, key=lambda hit: hit[2]):
        by_host[host].append(when)
    for host, times in by_host.items():   # robots.txt included: politeness as before
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        assert min(gaps) >= DELAY - 0.05, f"{host} asked {min(gaps):.3f} s after its previous request"
    moments = sorted(when for _host, _path, when in hits.log)
    # no host ready and nothing in flight: the queue wakes the engine when the first host may be asked, not the
    # engine's own 5 s heartbeat
    assert max(later - earlier for earlier, later in zip(moments, moments[1:])) < 2 * DELAY + 0.5


def test_scrapys_own_queue_makes_requests_wait_in_the_downloader(tmp_path, hosts):
    """The measurement above can fail: with Scrapy's queue and robots middleware the same crawl sends requests to
    hosts that may not be asked yet."""
    _hits, ports = hosts
    result = _crawl(tmp_path, "scrapy", ports)
    assert max(wait for _url, wait in result["waits"]) > DELAY / 2


def _asked(hits: _Hits, host: str, path: str) -> list[float]:
    return [when for hit_host, hit_path, when in hits.log if (hit_host, hit_path) == (host, path)]


@pytest.mark.parametrize("queue", ["ready", "scrapy"])
def test_a_retry_backoff_pauses_its_host_in_the_queue_not_in_a_downloader_place(tmp_path, hosts, queue):
    hits, ports = hosts
    flaky_host, busy_host = "127.1.9.2", "127.1.9.1"
    # first in (start requests leave in order): it fails while the busy host still has pages to go
    urls = [f"http://{flaky_host}:{ports[flaky_host]}/flaky.html", *_pages(ports)]
    # one place in all: a retry waiting inside the downloader stops the whole crawl for its backoff
    _crawl(tmp_path, queue, ports, urls, concurrency=1)
    failed, retried = _asked(hits, flaky_host, "/flaky.html")
    assert retried - failed >= BACKOFF - 0.05
    during_backoff = [hit for hit in hits.log if retried - BACKOFF + 0.1 < hit[2] < retried]
    if queue == "scrapy":
        # the control (the measurement can fail): with Scrapy's queue the retry held the one place while it waited
        assert during_backoff == []
        return
    # the struggling host was left alone for the backoff before its retry; the crawl went on meanwhile
    assert not [hit for hit in during_backoff if hit[0] == flaky_host]
    assert [hit for hit in during_backoff if hit[0] == busy_host]


def test_the_host_picked_is_scrapys_pick_among_the_ready_hosts_however_many_hosts_wait(monkeypatch):
    """The queue visits its hosts in Scrapy's round-robin order and stops at the first idle ready one; whatever the
    downloader's state, the host it hands a request for must be the one Scrapy's rule picks among every host that
    may be asked now (fewest requests in the downloader, then the next name after the last pick), and nothing
    while none may be."""
    from types import SimpleNamespace

    from scrapy import Request
    from scrapy.settings import Settings
    from scrapy.squeues import FifoMemoryQueue

    from crawler.queues import ReadyHostPriorityQueue

    import crawler.queues

    rng = random.Random(5)
    clock = [1000.0]   # one clock for the queue and this test's rule: no host becomes ready between the two
    monkeypatch.setattr(crawler.queues, "monotonic", lambda: clock[0])
    slots: dict[str, SimpleNamespace] = {}
    downloader = SimpleNamespace(slots=slots, get_slot_key=lambda request: urlsplit(request.url).hostname)
    crawler = SimpleNamespace(settings=Settings({"DOWNLOAD_DELAY": 1.0}), engine=SimpleNamespace(downloader=downloader),
                              stats=None)
    queue = ReadyHostPriorityQueue(crawler, FifoMemoryQueue, "")
    queue._wake_in = lambda seconds: None   # the engine's wake-up is the reactor's: not this test's
    hosts = [f"h{index:03d}.gov.cn" for index in range(300)]
    for host in hosts:
        for page in range(rng.randint(1, 3)):
            queue.push(Request(f"http://{host}/{page}.html"))
    picked = 0
    for _ in range(600):
        clock[0] += rng.uniform(0, 0.3)
        now = clock[0]
        for host in rng.sample(hosts, 60):   # the downloader moves on: downloads start and end, delays pass
            slots[host] = SimpleNamespace(active=[None] * rng.choice((0, 0, 1, 2)), concurrency=2, delay=1.0,
                                          lastseen=now - rng.uniform(0, 2.5), queue=[])
        queue._handed_out.clear()
        if rng.random() < 0.3:   # sometimes only hosts with downloads under way may be asked
            for host, slot in slots.items():
                if not slot.active:
                    slot.lastseen = now
        # may be asked now (nothing was handed out since the slots were read): a host Scrapy holds no slot of, or
        # one with a free place whose delay since its last download has passed
        ready = [(len(slots[host].active) if host in slots else 0, host) for host in queue.pqueues
                 if host not in slots or (len(slots[host].active) < slots[host].concurrency
                                          and slots[host].lastseen + slots[host].delay <= now)]
        last = queue._last_selected_slot
        expected = queue._next_slot(ready, update_state=False) if ready else None
        queue._last_selected_slot = last
        request = queue.pop()
        assert (request and urlsplit(request.url).hostname) == expected
        picked += request is not None
        if not queue.pqueues:
            break
    assert picked > 100    # the queue handed requests out, idle and busy hosts both
    queue.close()
