"""Which ``Host`` the UI answers: a defence against DNS rebinding.

The UI has no login and is meant for loopback. A web page the user opens elsewhere can still make its own host name
resolve to 127.0.0.1 and then read the UI and its API as same-origin; its requests carry that host name, not ours,
so answering only the names the server was started for stops it. (Starlette's TrustedHostMiddleware does the same
but answers in English and may redirect to a ``www.`` name.)
"""
from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")
ANY_HOST = "*"


def host_name(header: str | None) -> str | None:
    """The host of a ``Host`` header ("[::1]:8000" → "::1", "Example.org." → "example.org"); None if malformed."""
    if not header or any(char in header for char in "/?#@\\ \t"):
        return None
    try:
        parts = urlsplit("//" + header)
        parts.port   # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return None
    return (parts.hostname or "").rstrip(".") or None


def serve_hosts(bind: str, extra: Iterable[str] = ()) -> set[str]:
    """The names ``xxgk serve --host bind`` answers to: loopback, the bound address, ``extra`` (``--allowed-host``);
    bound to every interface, also this machine's own names and addresses."""
    hosts = {*LOOPBACK_NAMES, *(name.strip().lower().rstrip(".") for name in extra if name.strip())}
    if bind in WILDCARD_ADDRESSES:
        names = {socket.gethostname(), socket.getfqdn()}
        for name in set(names):
            try:
                names.update(info[4][0] for info in socket.getaddrinfo(name, None))
            except OSError:
                pass
        hosts.update(name.lower() for name in names if name)
    else:
        hosts.add(bind.strip("[]").lower())
    return hosts


class AllowedHosts:
    """ASGI middleware: a request whose ``Host`` is not in ``hosts`` gets a 400 and reaches no route."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]):
        self.app = app
        self.hosts = {name.lower() for name in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or ANY_HOST in self.hosts:
            await self.app(scope, receive, send)
            return
        header = next((value.decode("latin-1") for key, value in scope["headers"] if key == b"host"), None)
        name = host_name(header)
        if name is not None and name.lower() in self.hosts:
            await self.app(scope, receive, send)
            return
        shown = (header or "")[:100].encode("ascii", "backslashreplace").decode("ascii")
        response = PlainTextResponse(f"请求的主机名“{shown}”不在本服务允许的名称之列"
                                     f"（xxgk serve --allowed-host 可以添加）", status_code=400,
                                     headers={"X-Content-Type-Options": "nosniff"})
        await response(scope, receive, send)
