"""整页截图: the whole archived page of one capture, rendered in Chromium when asked for, then cached.

The crawl archives the first screen of each report page (storage.screenshots); the rest of a long report is rendered
on request by the same renderer from the same archived bytes: JavaScript off, every request the page makes answered
from the archive or refused, so nothing of the untrusted page runs and nothing reaches a portal. The capture is
named by its catalog id (an integer in the route) and the cache file by a hash of the capture's WARC-Record-ID and
the render settings: nothing from the request becomes part of a path.

A cache file, not a WARC record: the web UI is read-only (its visitors are anonymous; a GET must not grow the
evidence archive, nor need a crawl run to write into), and the picture proves nothing the archived bytes do not:
it can be rendered again from them at any time. Files live in ``DATA_DIR/cache/full-page/``, written atomically,
the least recently served removed beyond CACHE_BYTES. One render at a time per web process (each starts a
Chromium of its own): up to MAX_WAITING requests wait their turn, each up to WAIT_SECONDS, then get a 503; any more
get the 503 at once. A waiting request holds one of the server's worker threads, which every page shares: a burst
of uncached pictures must not leave the dashboard none.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from storage.screenshots import DEFAULT_SPEC, render_capture
from web.context import BadInput, WebContext
from web.captures import read_archived
from web.replay import archived_kind, has_full_page, safe_filename

log = logging.getLogger(__name__)

CACHE_BYTES = 256 * 1024 * 1024
WAIT_SECONDS = 60.0
MAX_WAITING = 4                # of the 40 threads Starlette runs synchronous routes in
RENDER_VERSION = 1             # bump when the rendering changes, so older cached pictures are not served
_RENDERING = threading.Lock()
_WAITING = threading.BoundedSemaphore(MAX_WAITING)


class Busy(Exception):
    """Another whole page is being rendered and did not finish in time; the message is shown to the user."""


@dataclass(frozen=True)
class FullPage:
    jpeg: bytes
    filename: str


def full_page(ctx: WebContext, capture_id: int) -> FullPage:
    """The whole page of capture ``capture_id`` as JPEG, from the cache or rendered now. NotFound, BadInput,
    Busy; CaptureError when the archive cannot be read, ShotError when Chromium cannot render it."""
    archived = read_archived(ctx, capture_id)
    if not has_full_page(archived_kind(archived.content, archived.url, archived.header("content-type")), archived.url,
                      archived.record_type):
        raise BadInput("只有存档的 HTML 网页才有整页截图")
    name = hashlib.sha256(f"{archived.record_id}|{DEFAULT_SPEC}|{RENDER_VERSION}".encode()).hexdigest()
    folder = ctx.cache_dir / "full-page" if ctx.cache_dir is not None else None
    path = folder / f"{name}.jpg" if folder is not None else None
    filename = safe_filename(archived.url, capture_id, "jpg")
    cached = _cached(path)
    if cached is not None:
        return FullPage(cached, filename)
    if not _WAITING.acquire(blocking=False):
        raise Busy(f"正在生成其他整页截图，另有 {MAX_WAITING} 个请求在排队，请稍后再试")
    try:
        if not _RENDERING.acquire(timeout=WAIT_SECONDS):
            raise Busy(f"正在生成其他整页截图，请稍后再试（已等待 {WAIT_SECONDS:g} 秒）")
    finally:
        _WAITING.release()
    try:
        cached = _cached(path)  # rendered by the request this one waited for
        if cached is not None:
            return FullPage(cached, filename)
        shot = render_capture(ctx.reader, capture_id, DEFAULT_SPEC, full_page=True)
    finally:
        _RENDERING.release()
    if folder is not None:
        _store(folder, path, shot.jpeg)
    return FullPage(shot.jpeg, filename)


def _cached(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.read_bytes()
        os.utime(path)  # served now: the last to be evicted
    except OSError:
        return None
    return data


def _store(folder: Path, path: Path, data: bytes) -> None:
    """Write atomically, then evict the least recently served files beyond CACHE_BYTES. A cache that cannot be
    written costs a render next time, nothing else."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
        files = sorted((entry.stat().st_mtime, entry.stat().st_size, entry) for entry in folder.glob("*.jpg"))
        total = sum(size for _when, size, _entry in files)
        for _when, size, entry in files:
            if total <= CACHE_BYTES or entry == path:
                continue
            entry.unlink(missing_ok=True)
            total -= size
    except OSError as exc:
        log.warning("whole-page screenshot not cached in %s: %s", folder, exc)
