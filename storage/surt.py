"""SURT keys (Sort-friendly URI Reordering Transform) for the capture index, in the CDX convention.

No installed library provides one (warcio and scrapy have none), so this is the small common subset:
``http://www.Example.com:80/A/b?z=1&a=2#top`` -> ``com,example)/a/b?a=2&z=1``.
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
_WWW = re.compile(r"^www\d*\.")


def surt(url: str) -> str:
    """The SURT of ``url``; anything that is not an http(s)/ftp URL is only lower-cased and trimmed."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text.lower()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return text.lower()
    host = _ascii_host(host)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host_key = f"{_reverse_host(host)}:{port}"
    else:
        host_key = _reverse_host(host)
    path = parts.path or "/"
    query = "&".join(sorted(param for param in parts.query.split("&") if param))
    return f"{host_key}){path}{'?' + query if query else ''}".lower()


def _ascii_host(host: str) -> str:
    if host.isascii():
        return host.lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host.lower()


def _reverse_host(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host  # addresses are not reversed
    except ValueError:
        pass
    host = _WWW.sub("", host)
    return ",".join(reversed(host.split(".")))
