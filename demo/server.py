"""The HTTP server of the demo portals: serves ``DemoPortals`` on loopback, one thread per connection.

It adds what a real portal does around the bytes: ``Last-Modified`` and ``ETag`` with 304 answers to
``If-None-Match`` / ``If-Modified-Since``, redirects, errors, a slow page (delay = ``slow_seconds``) and a request
log, so that crawler tests can check what was fetched (and what must not have been).

Manual use: ``python -m demo.server --port 8700`` then open http://127.0.0.1:8700/.
"""
from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import threading
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from demo.portals import DemoPortals, Resource, not_found_page

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server answered."""

    method: str
    target: str          # path and query as requested
    status: int
    edition: int
    user_agent: str | None
    conditional: bool    # carried If-None-Match or If-Modified-Since

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


class DemoServer:
    """The five demo portals on one loopback port; a context manager (``with DemoServer() as server:``)."""

    def __init__(self, portals: DemoPortals | None = None, host: str = "127.0.0.1", port: int = 0,
                 slow_seconds: float = 5.0, log: bool = False):
        if not _is_loopback(host):
            raise ValueError(f"示范服务器只监听本机回环地址，不接受 {host!r}")
        if slow_seconds < 0:
            raise ValueError("slow_seconds 不能为负数")
        self._portals = portals or DemoPortals()
        self.host = host
        self.port = port
        self.slow_seconds = slow_seconds
        self.log = log
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[LoggedRequest] = []

    # --- life cycle

    def start(self) -> "DemoServer":
        if self._httpd is not None:
            return self
        self._portals.site()  # render before the first request, so no request waits for PDF rendering
        self._stopping.clear()
        handler = type("BoundDemoHandler", (_DemoHandler,), {"demo": self})
        server_class = _ThreadingHTTPServerV6 if ":" in self.host else ThreadingHTTPServer
        httpd = server_class((self.host, self.port), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"demo-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # cuts slow answers short
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> "DemoServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("示范服务器尚未启动")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- state

    @property
    def portals(self) -> DemoPortals:
        return self._portals

    @property
    def edition(self) -> int:
        return self._portals.edition

    def set_edition(self, edition: int) -> None:
        portals = self._portals.with_edition(edition)
        portals.site()  # render outside the lock and before the switch
        with self._lock:
            self._portals = portals

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._requests)

    def hits(self, path: str) -> int:
        """How many requests asked for ``path`` (query ignored)."""
        return sum(1 for request in self.requests if request.path == path)

    def clear_log(self) -> None:
        with self._lock:
            self._requests.clear()

    # --- used by the handler

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._requests.append(entry)

    def _snapshot(self) -> DemoPortals:
        with self._lock:
            return self._portals


class _DemoHandler(BaseHTTPRequestHandler):
    demo: DemoServer  # set on the bound subclass
    protocol_version = "HTTP/1.1"
    server_version = "DemoPortal/1.0"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection does not hold a thread for ever
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def do_POST(self) -> None:  # noqa: N802 - listings that page by form posts ($.ajax type: 'POST')
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(send_body=True, body=self.rfile.read(length) if length else b"")

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's signature
        if self.demo.log:
            sys.stderr.write(f"[demo {self.log_date_time_string()}] {format % args}\n")

    def _answer(self, send_body: bool, body: bytes | None = None) -> None:
        portals = self.demo._snapshot()
        if body is None:
            resource = portals.resource(self.path)
        elif getattr(portals, "answers_post", False):
            resource = portals.resource(self.path, method="POST", body=body)
        else:
            resource = Resource(405, b"", "text/plain")
        conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
        if resource is not None and resource.slow and self.demo._stopping.wait(self.demo.slow_seconds):
            self.close_connection = True  # the server is stopping: drop the connection instead of answering late
            return
        if resource is None:
            answer = (404, not_found_page(), "text/html; charset=utf-8", None)
        elif resource.location is not None:
            answer = (resource.status, b"", "text/html; charset=utf-8", {"Location": resource.location})
        elif resource.status == 200 and _not_modified(resource, self.headers):
            answer = (304, b"", None, _validators(resource))
        else:
            answer = (resource.status, resource.body, resource.content_type, _validators(resource))
        status, payload, content_type, headers = answer
        # logged before it is sent: a client that has its answer finds its request in the log
        self.demo._record(LoggedRequest(self.command, self.path, status, portals.edition,
                                        self.headers.get("User-Agent"), conditional))
        self._send(status, payload, content_type, send_body, headers)

    def _send(self, status: int, body: bytes, content_type: str | None, send_body: bool,
              headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            if content_type and status != 304:
                self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body and status != 304:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout): nothing to answer


class _ThreadingHTTPServerV6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _validators(resource: Resource) -> dict[str, str]:
    headers = {}
    if resource.etag:
        headers["ETag"] = resource.etag
    if resource.http_last_modified:
        headers["Last-Modified"] = resource.http_last_modified
    return headers


def _not_modified(resource: Resource, headers) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match:
        if if_none_match.strip() == "*":
            return True
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return resource.etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if not if_modified_since or resource.last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as the RFC asks
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    # HTTP dates have whole seconds.
    return resource.last_modified.replace(microsecond=0) <= since


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.server",
                                     description="在本机启动五个虚构机构的示范门户。")
    parser.add_argument("--host", default="127.0.0.1", help="回环地址（默认 127.0.0.1）")
    parser.add_argument("--port", type=int, default=8700, help="端口（默认 8700；0 表示任选空闲端口）")
    parser.add_argument("--edition", type=int, default=1, help="站点版本：1 为初始状态，2 含发布后修改与倒签（默认 1）")
    parser.add_argument("--slow", type=float, default=5.0, help="慢页面的延迟秒数（默认 5）")
    parser.add_argument("--quiet", action="store_true", help="不打印访问日志")
    args = parser.parse_args(argv)
    try:
        server = DemoServer(DemoPortals(edition=args.edition), host=args.host, port=args.port,
                            slow_seconds=args.slow, log=not args.quiet)
        server.start()
    except (ValueError, OSError) as exc:
        print(f"无法启动示范服务器：{exc}", file=sys.stderr)
        return 1
    print(f"示范门户已启动：{server.base_url}/ （第{server.edition}版，按 Ctrl-C 停止）", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
