"""A crawl behind an HTTP proxy (``http_proxy`` / ``no_proxy`` in the environment, as on a government intranet whose
only way out is the office proxy): every request takes it, the browser's as well as Scrapy's.

The portal's host name (``*.invalid``) resolves nowhere: only the proxy, a real forwarding proxy on loopback, knows
where it lives. A script-shell column (``demo.shapes``: items loaded as JSON by the page's script, in Chromium)
is then read only if Chromium asks the proxy too: Scrapy reads the proxy environment (HttpProxyMiddleware), and so
does Debian's Chromium on its own (with ``no_proxy`` naming the host, its render fails: ERR_NAME_NOT_RESOLVED).
"""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from demo.server import DemoServer
from demo.shapes import ShapePortals
from tests.crawling import config_in, crawl
from tests.test_listing_shapes import _report_urls

pytestmark = pytest.mark.slow

HIDDEN_HOST = "portal.invalid"
HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


class ForwardProxy:
    """A plain HTTP forward proxy: absolute-URI requests, ``HIDDEN_HOST`` sent to ``target`` (host, port); the URL of
    every request it saw kept in ``seen``."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                parts = urlsplit(self.path)
                proxy.seen.append(self.path)
                if parts.hostname != HIDDEN_HOST:
                    self.send_error(502, f"no route to {parts.hostname}")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(*proxy.target, timeout=30)
                try:
                    upstream.request(self.command, parts.path + (f"?{parts.query}" if parts.query else ""),
                                     body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ForwardProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _proxy_environment(monkeypatch, proxy_url: str) -> None:
    """Only this proxy, whatever the machine's environment names."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("http_proxy", proxy_url)
    monkeypatch.setenv("no_proxy", "")


def test_a_crawl_behind_a_proxy_reads_a_script_column_through_it(tmp_path, monkeypatch):
    portals = ShapePortals()
    with DemoServer(portals) as server, ForwardProxy(("127.0.0.1", server.port)) as proxy:
        _proxy_environment(monkeypatch, proxy.url)   # the crawl process inherits it
        base = f"http://{HIDDEN_HOST}:{server.port}"
        agencies = [agency for agency in portals.registry(base) if agency.id == "shape-shell"]
        config = config_in(tmp_path / "data")
        summary = crawl(config, agencies)
    assert summary.status == "finished"
    expected = portals.report_urls(base)["shape-shell"]
    assert _report_urls(config).get("shape-shell", set()) == expected
    # Chromium's own requests took the proxy too: the page's style sheet and script (no spider asks for those)
    # and the JSON its script built the list from
    paths = {urlsplit(url).path for url in proxy.seen}
    assert {"/shell/css/list.css", "/shell/js/notice.js", "/shell/api/list_1.json"} <= paths, sorted(paths)
