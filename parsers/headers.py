"""HTTP header lookup: names are case-insensitive (RFC 9110), whichever shape the headers are kept in."""
from __future__ import annotations

from collections.abc import Iterable, Mapping


def header_value(headers: Mapping | Iterable[tuple], name: str) -> str | None:
    """The first value of header ``name`` in a mapping or a list of (name, value) pairs, str or bytes
    (bytes are read as Latin-1, as HTTP/1.1 heads are)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    wanted = name.lower()
    for key, value in pairs:
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if key.lower() == wanted:
            return value.decode("latin-1") if isinstance(value, bytes) else value
    return None
