"""The crawl's scheduler queue (crawler.queues): a request waits for its host's download delay in the queue, not
in the downloader where it would hold one of the CONCURRENT_REQUESTS places; politeness per host is unchanged."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DELAY = 0.4   # tests/queue_crawl.py: DOWNLOAD_DELAY, no jitter
# one host with many pages, four with two: Scrapy's queues hand out the many-page host's requests one after
# another, and each then waits for the delay holding one of the two places
PAGES = {"127.1.9.1": 6, "127.1.9.2": 2, "127.1.9.3": 2, "127.1.9.4": 2, "127.1.9.5": 2}


class _Hits:
    def __init__(self):
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, float]] = []   # (host, path, when)


def _handler(hits: _Hits):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with hits.lock:
                hits.log.append((self.server.server_address[0], self.path, time.monotonic()))
            body = (b"User-agent: *\nAllow: /\n" if self.path == "/robots.txt"
                    else f"<html><body>{self.path}</body></html>".encode())
            self.send_response(200)
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


def _crawl(tmp_path: Path, queue: str, ports: dict[str, int]) -> dict:
    urls = [f"http://{address}:{ports[address]}/page-{number}.html"
            for address, count in PAGES.items() for number in range(count)]
    out = tmp_path / f"{queue}.json"
    done = subprocess.run([sys.executable, "-m", "tests.queue_crawl", str(out), queue, *urls], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
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
