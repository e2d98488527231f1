"""What the archive shows of a report's address: every attempt at it by a cut-off, as ``monitor.flags.FetchEvent``.

Its captures (the site's error page or a blank page answered with 200 told apart from the report's own bytes, by
what the parsers read them as) and its fetch errors. The verdict (``monitor.verdicts``: 已删除, 已迁移, the copy a
verdict rests on) and copy detection (``monitor.copies``: the same copy, so that 疑似雷同 names the source where it
is online) both read them here, so both choose the same report of a year (``monitor.choosing.best_report``).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from monitor.flags import FetchEvent, removed
from storage.catalog import queries
from storage.catalog.models import Capture, FetchError, Report

_IN_BATCH = 500

# what an attempt needs of a capture
CAPTURE_COLUMNS = (Capture.id, Capture.url, Capture.timestamp, Capture.status, Capture.record_type,
                   Capture.payload_sha256, Capture.refers_to_capture_id, Capture.run_id)


def no_document_ids(session, rows: Iterable[Any], report_digest: str | None,
                    kinds: tuple[str, ...] = ("error_page",)) -> set[int]:
    """The ids of the capture rows the parsers read as one of ``kinds`` (the site's error page; a blank or
    challenge page too, when asked) (a revisit: its original's bytes); a row with the report's own bytes is the
    report (nothing asked)."""
    original = {row.id: row.refers_to_capture_id or row.id for row in rows
                if report_digest is None or row.payload_sha256 != report_digest}
    if not original:
        return set()
    errors = set(session.scalars(select(Report.capture_id).where(
        Report.capture_id.in_(set(original.values())), Report.kind.in_(kinds))))
    return {row_id for row_id, parsed in original.items() if parsed in errors}


def fetch_events(session, captures: Sequence[Any], errors: Iterable[Any],
                 report_digest: str | None) -> list[FetchEvent]:
    """The attempts at one address: ``captures`` its page captures (no screenshots) and ``errors`` its fetch errors,
    both by the cut-off; ``report_digest`` the payload digest of the capture the report was parsed from."""
    answered = [row for row in captures if row.status is not None and 200 <= row.status < 300]
    error_pages = no_document_ids(session, answered, report_digest)
    blank_pages = no_document_ids(session, answered, report_digest, ("blank_page",))
    events = [FetchEvent(at=row.timestamp, status=row.status, capture_id=row.id, error_page=row.id in error_pages,
                         blank_page=row.id in blank_pages, run_id=row.run_id)
              for row in captures]
    events += [FetchEvent(at=error.at, error_kind=error.kind, error_id=error.id, message=error.message)
               for error in errors]
    return events


class Addresses:
    """The attempts at a few addresses by ``cutoff``, read in batched queries. For copy detection, which reads no
    capture otherwise: only the addresses among which a choice depends on which is still online are asked for."""

    def __init__(self, session, cutoff: datetime, urls: Iterable[str]):
        self.session = session
        urls = set(urls)
        hashes = sorted({queries.url_hash(url) for url in urls})
        self._captures: dict[str, list] = {}
        self._errors: dict[str, list] = {}
        errors = FetchError.__table__
        for start in range(0, len(hashes), _IN_BATCH):
            batch = hashes[start:start + _IN_BATCH]
            for row in session.execute(select(*CAPTURE_COLUMNS).where(
                    Capture.url_hash.in_(batch), Capture.timestamp <= cutoff, Capture.record_type != "resource")):
                if row.url in urls:
                    self._captures.setdefault(row.url, []).append(row)
            for error in session.execute(select(errors).where(errors.c.url_hash.in_(batch), errors.c.at <= cutoff)):
                if error.url in urls:
                    self._errors.setdefault(error.url, []).append(error)
        for rows in self._captures.values():
            rows.sort(key=lambda row: (row.timestamp, row.id))
        self._offline: dict[tuple[str, int], bool] = {}

    def offline(self, report) -> bool:
        """Not known online: the report's address (``report.url``) failed since its last good answer."""
        key = (report.url, report.capture_id)
        if key not in self._offline:
            captures = self._captures.get(report.url, [])
            digest = next((row.payload_sha256 for row in captures if row.id == report.capture_id), None)
            events = fetch_events(self.session, captures, self._errors.get(report.url, ()), digest)
            self._offline[key] = removed(events) is not None
        return self._offline[key]
