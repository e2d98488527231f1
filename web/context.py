"""What every page needs: the open catalog and archive reader, the URL builder, and the two ways a request can
fail."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from storage.catalog import Catalog
from storage.reader import CaptureReader
from web.urls import Urls

# catalog ids are 64-bit integers: a larger number cannot name anything (and overflows SQLite's binding)
MAX_ID = 2**63 - 1


class NotFound(LookupError):
    """Nothing in the catalog answers the request; the message says what was looked for (shown to the user)."""


class BadInput(ValueError):
    """A parameter that cannot be used; the message says which and why (shown to the user)."""


@dataclass(frozen=True)
class WebContext:
    catalog: Catalog
    reader: CaptureReader
    urls: Urls = field(default_factory=Urls)  # root-relative: what pages, redirects and archived HTML link to
    cache_dir: Path | None = None             # DATA_DIR/cache: pictures rendered on request (web.full_page)


def web_context(request: Request) -> WebContext:
    return request.app.state.xxgk


def checked_text(value: str, what: str, max_length: int) -> str:
    """A text parameter the catalog can be asked about: no control characters (PostgreSQL refuses NUL), bounded."""
    if len(value) > max_length:
        raise BadInput(f"{what}过长（最多 {max_length} 个字符）")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise BadInput(f"{what}含有控制字符")
    return value


def visible_text(value: str) -> str:
    """Text as a message may quote it: control characters shown as U+FFFD, not as a Python repr."""
    return "".join("\ufffd" if ord(char) < 32 or ord(char) == 127 else char for char in value)


def catalog_id(value: int, what: str) -> int:
    """An id from a URL, or NotFound when no catalog row can have it."""
    if not 0 < value <= MAX_ID:
        raise NotFound(f"没有编号为 {value} 的{what}")
    return value
