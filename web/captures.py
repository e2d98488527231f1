"""The capture browser: every capture of a URL, one capture's metadata and headers, its bytes, the newest capture."""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from parsers.formats.textnorm import CJK_CHAR
from storage.catalog import queries
from storage.catalog.models import Capture, Report
from storage.reader import Capture as ArchivedCapture
from storage.reader import CaptureError, CaptureNotFound
from web.context import BadInput, NotFound, WebContext, catalog_id, checked_text
from web.labels import HEADER_DECODING_NAMES
from web.replay import RawBody, archived_kind, has_full_page, raw_body
from web.spellings import spellings
from web.summaries import capture_summary, error_summary, iso

PAGE_SIZE = 100
MAX_URL = 8_000
_LOOKUP_BATCH = 500


def captures_data(ctx: WebContext, url: str = "", page: int = 1) -> dict[str, Any]:
    """Every capture of ``url`` under any of its spellings (oldest first, with its parsed report and links to
    compare neighbours), or without a URL the newest captures of the archive, a page at a time."""
    url = checked_text(url.strip(), "网址", MAX_URL)
    if page < 1:
        raise BadInput("页码须大于 0")
    with ctx.catalog.reading() as session:
        if not url:
            rows = list(session.scalars(select(Capture).order_by(Capture.timestamp.desc(), Capture.id.desc())
                                        .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
            total = session.scalar(select(func.count(Capture.id))) or 0
            return {"url": None, "captures": [capture_summary(row) for row in rows[:PAGE_SIZE]], "errors": [],
                    "total": total, "page": {"number": page, "has_previous": page > 1,
                                             "has_next": len(rows) > PAGE_SIZE}}
        rows = _captures_of(session, url)
        reports = _reports_of(session, [row.id for row in rows])
        errors = sorted((error for spelling in spellings(url) for error in queries.errors_of_url(session, spelling)),
                        key=lambda error: (error.at, error.id))
    captures = []
    previous = None
    for row in rows:
        item = capture_summary(row)
        item["report_id"] = reports.get(row.id)
        item["diff_previous"] = previous.id if previous is not None and previous.payload_sha1 != row.payload_sha1 else None
        item["same_as_previous"] = previous is not None and previous.payload_sha1 == row.payload_sha1
        captures.append(item)
        if row.record_type != "resource":
            previous = row
    return {"url": url, "captures": captures, "errors": [error_summary(error) for error in errors],
            "total": len(captures), "page": {"number": 1, "has_previous": False, "has_next": False}}


def _captures_of(session, url: str) -> list[Capture]:
    """The captures of every spelling of ``url``, oldest first."""
    found = {row.id: row for spelling in spellings(url) for row in queries.captures_of_url(session, spelling)}
    return sorted(found.values(), key=lambda row: (row.timestamp, row.id))


def _reports_of(session, capture_ids: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for start in range(0, len(capture_ids), _LOOKUP_BATCH):
        batch = capture_ids[start:start + _LOOKUP_BATCH]
        for report_id, capture_id in session.execute(select(Report.id, Report.capture_id)
                                                     .where(Report.capture_id.in_(batch))):
            found[capture_id] = report_id
    return found


def capture_data(ctx: WebContext, capture_id: int) -> dict[str, Any]:
    """One capture: its index row, what the WARC record says (status line, headers, metadata, request), how the
    UI can show it, the report parsed from it and the other captures of the same URL."""
    catalog_id(capture_id, "捕获")
    with ctx.catalog.reading() as session:
        row = queries.get_capture(session, capture_id)
        if row is None:
            raise NotFound(f"没有编号为 {capture_id} 的捕获")
        report = queries.report_by_capture(session, capture_id)
        siblings = queries.captures_of_url(session, row.url)
    data: dict[str, Any] = {
        "capture": {**capture_summary(row), "warc_key": row.warc_key, "offset": row.offset, "length": row.length,
                    "record_id": row.record_id, "ip": row.ip, "etag": row.etag, "last_modified": row.last_modified},
        "report_id": report.id if report else None,
        "others": [{**capture_summary(other), "same_payload": other.payload_sha1 == row.payload_sha1}
                   for other in siblings if other.id != row.id],
        "archived": None, "read_error": None, "view": None, "full_page": False,
    }
    try:
        archived = ctx.reader.read(capture_id)
    except CaptureError as exc:
        data["read_error"] = f"无法从存档读取该捕获：{exc}"
        return data
    content_type = archived.header("content-type")
    # header bytes shown as text a person reads (the WARC keeps them as sent; the download gives them back)
    shown = [(shown_bytes(name), shown_bytes(value)) for name, value in archived.raw_headers]
    reason = shown_bytes(archived.reason.encode("latin-1")) if archived.reason else None
    data["archived"] = {
        "fetched_at": iso(archived.fetched_at), "status": archived.status, "reason": reason[0] if reason else None,
        "reason_decoding_label": HEADER_DECODING_NAMES.get(reason[1]) if reason else None,
        "protocol": archived.protocol, "headers": [[name[0], value[0]] for name, value in shown],
        # per header: None (plain ASCII), else how its name or value was turned into text (labels beside)
        "header_decodings": [value[1] or name[1] for name, value in shown],
        "header_decoding_labels": [HEADER_DECODING_NAMES.get(value[1] or name[1]) for name, value in shown],
        "metadata": dict(archived.metadata),
        "request": "\n".join(shown_bytes(line)[0] for line in archived.request_head.split(b"\r\n"))
        if archived.request_head else None,
        "block_digest": archived.block_digest, "payload_bytes": len(archived.payload),
    }
    data["view"] = archived_kind(archived.content, archived.url, content_type)
    data["full_page"] = has_full_page(data["view"], archived.url, archived.record_type)  # 整页截图 on request
    if archived.status is not None and 300 <= archived.status < 400 and archived.header("location"):
        data["view"] = "redirect"
        data["archived"]["location"] = archived.header("location")
    return data


_GB_PUNCTUATION = frozenset("·‐‑‒–—―‖‘’“”…‰′″※")   # what Chinese text uses beside CJK_CHAR's ranges


def shown_bytes(raw: bytes) -> tuple[str, str | None]:
    """Archived header bytes as text to show, and how they were read: None for ASCII, else ``utf-8``, then
    ``gb18030`` (what Chinese portals send raw, e.g. a file name in Content-Disposition), else ``escaped``: every
    byte outside printable ASCII, and the backslash, as ``\\xNN`` — never Latin-1 mojibake. Characters that
    would not show or could disguise the text (controls, bidi overrides) are escaped in any case."""
    if raw.isascii():
        return _printable(raw.decode("ascii")), None
    try:
        return _printable(raw.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    # bytes that decode only to symbols, user-defined areas or rare scripts are not Chinese text: show them escaped
    if text is not None and all(ch.isascii() or CJK_CHAR.match(ch) or ch in _GB_PUNCTUATION for ch in text):
        return _printable(text), "gb18030"
    return "".join(chr(byte) if 0x20 <= byte < 0x7F and byte != 0x5C else f"\\x{byte:02x}" for byte in raw), \
        "escaped"


def _printable(text: str) -> str:
    return "".join(ch if ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cf") else
                   f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}" for ch in text)


def archived_urls(ctx: WebContext, urls: Iterable[str]) -> dict[str, str]:
    """Which of ``urls`` the archive holds a capture of, each mapped to the spelling it is held under (the URL
    itself first; one indexed lookup per batch of spellings)."""
    wanted: dict[str, list[str]] = {}   # spelling → the requested urls it spells
    for url in urls:
        if url and len(url) <= MAX_URL:
            for spelling in spellings(url):
                wanted.setdefault(spelling, []).append(url)
    hashes = sorted({queries.url_hash(spelling) for spelling in wanted})
    held: set[str] = set()
    with ctx.catalog.reading() as session:
        for start in range(0, len(hashes), _LOOKUP_BATCH):
            batch = hashes[start:start + _LOOKUP_BATCH]
            held.update(session.scalars(select(Capture.url).distinct().where(Capture.url_hash.in_(batch))))
    found: dict[str, str] = {}
    for spelling, requested in wanted.items():  # in spelling order: the URL as written wins
        if spelling in held:
            for url in requested:
                found.setdefault(url, spelling)
    return found


def latest_capture_id(ctx: WebContext, url: str) -> int:
    """The newest capture of ``url`` under any of its spellings."""
    url = checked_text(url.strip(), "网址", MAX_URL)
    if not url:
        raise BadInput("请给出要查找的网址（url 参数）")
    with ctx.catalog.reading() as session:
        rows = [queries.latest_capture(session, spelling, record_types=("response", "revisit", "resource"))
                for spelling in spellings(url)]
    rows = [row for row in rows if row is not None]
    if not rows:
        raise NotFound(f"存档中没有该网址的捕获：{url}")
    return max(rows, key=lambda row: (row.timestamp, row.id)).id


def read_archived(ctx: WebContext, capture_id: int) -> ArchivedCapture:
    catalog_id(capture_id, "捕获")
    try:
        return ctx.reader.read(capture_id)
    except CaptureNotFound as exc:
        raise NotFound(f"没有编号为 {capture_id} 的捕获") from exc


def raw_of(ctx: WebContext, capture_id: int, *, download: bool = False) -> RawBody:
    """The payload of a capture as it may be served (see ``web.replay``). CaptureError (the WARC bytes are
    missing or damaged) propagates: the route answers it with a clear error."""
    archived = read_archived(ctx, capture_id)
    # the page, as a browser would have it: a gzip-served body decoded (the WARC keeps the bytes as sent)
    return raw_body(archived.id, archived.url, archived.status, archived.headers, archived.content,
                    lambda urls: archived_urls(ctx, urls), ctx.urls, download=download)
