"""What the verdict step needs from each capture's WARC records, derived once when the capture is indexed.

Judging reads no WARC record: the facts it took from a capture's metadata record and payload are columns of its
index row (migration 0007), written by the archive as it indexes a fetch (``storage.archive``), by recovery and
``xxgk reindex`` from the segments (``storage.recovery.capture_fields``), and — for rows indexed before they
existed — by :func:`backfill`, once:

- ``role``, ``listing_title``, ``listing_date``, ``redirected_from``: what the crawler wrote in the metadata record
  (the request's role, the title and date the listing gave the link, the URL a redirect chain started from);
- ``concurrent_to_capture_id``: for a resource record (a screenshot, a rendered DOM), the capture it was made of
  (its ``WARC-Concurrent-To``, resolved to the capture id);
- ``listing_items``: for a page that may be a report listing (a listing role, or no role, and a page's MIME type),
  the ``[url, title]`` of each entry parsed from the payload, ``[url, title, "YYYY-MM-DD"]`` when the listing printed
  its whole date, when at least one looks like a report (or may be one: its title cut short, or titled by its year
  alone on the report column's page), ``[]`` when none does. A revisit holds none: its original's are the same
  bytes'. Rows derived before a rule was added keep what it gave then (entries without dates, for one).

The report texts' copy-detection signatures (``reports.shingles``/``minhash``, ``parsers.shingles``) are stored
with the report; :func:`backfill` computes those of reports stored before 0007 too.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select, update

from parsers.classify import cut_report_year, year_only_title
from parsers.discovery import find_listing_items, listing_items_from_json, looks_like_report_title
from parsers.shingles import text_signature
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture, Report
from storage.content import content_or_payload
from storage.objects import ObjectStoreError, StoreUnavailable
from storage.reader import CaptureError, CaptureReader
from storage.warc import WarcFormatError, WarcRecord, read_members

log = logging.getLogger(__name__)

FACTS_VERSION = 3           # facts derived as this module derives them (2: a rendered listing's entries; 3: a
                            # listing served gzip/deflate/br read decoded)
_RENDERED_LISTINGS_SINCE = 2   # rows derived before: their rendered DOMs and browser answers listed nothing
_DECODED_SINCE = 3          # rows derived before: a content-encoded listing page listed nothing
UNREADABLE = 0              # the record group could not be read: the facts are unknown for good
# Roles the crawler gives the requests of listing pages (crawler.spiders.reports, crawler.middlewares).
LISTING_ROLES = frozenset({"column", "json", "listing"})
BROWSER_ROLE = "browser"    # what a listing's script fetched in the crawler's browser (crawler.browser.ROLE)
# the URI of a page's DOM as the crawler's browser rendered it (a resource record beside the page's capture):
# ``urn:rendered-dom:<page URL>``, ``#page=N`` after a paging step; its links are the page's own
RENDERED_DOM_PREFIX = "urn:rendered-dom:"


def rendered_page_url(uri: str) -> str:
    """The page a rendered DOM's URI names (any other URI as it is): what its relative links resolve against."""
    return uri.removeprefix(RENDERED_DOM_PREFIX)
_PAGE_MIMES = ("html", "json", "xml", "text/plain")
FACT_FIELDS = ("role", "listing_title", "listing_date", "redirected_from", "concurrent_to_capture_id",
               "listing_items", "facts_version")


def may_be_page(mime: str | None) -> bool:
    """A capture whose type could be a listing page (an unknown type could be anything)."""
    mime = (mime or "").lower()
    return not mime or any(kind in mime for kind in _PAGE_MIMES)


def may_be_listing(role: str | None, mime: str | None) -> bool:
    """The crawler says it fetched a listing, or says nothing, about a page, or a listing's script fetched JSON in
    the browser: its entries are worth parsing."""
    if role == BROWSER_ROLE:
        return "json" in (mime or "").lower()
    return (role is None or role in LISTING_ROLES) and may_be_page(mime)


def listing_entries(payload: bytes, url: str, mime: str | None, role: str | None) -> list[list[str]]:
    """``[url, title]`` (and the entry's date, ISO, when the listing printed it whole) of every entry of a report
    listing (HTML rows or JSON objects); [] when no entry looks like a report (or may be one, its title cut short;
    or, on a page the crawler fetched as the report column, is titled by its year alone, "2024年度"): a page
    without one proves nothing about a report."""
    is_json = "json" in (mime or "").lower() or role == "json" or payload.lstrip()[:1] in (b"{", b"[")
    items = listing_items_from_json(payload, url) if is_json else find_listing_items(payload, url)
    column = role in LISTING_ROLES
    if not any(looks_like_report_title(item.title) or cut_report_year(item.title) is not None
               or (column and year_only_title(item.title) is not None) for item in items):
        return []
    return [[item.url, item.title, item.date.isoformat()] if item.date else [item.url, item.title] for item in items]


def capture_facts(metadata: Mapping[str, str], *, record_type: str, url: str, mime: str | None,
                  payload: bytes | None, concurrent_to: int | None = None,
                  headers: Mapping | Iterable[tuple] = ()) -> dict[str, Any]:
    """The fact columns of one capture from its metadata fields (as read back from the WARC, see
    ``storage.warc.written_fields``) and, for a response, its payload (as served with ``headers``: a gzip-served
    listing is read once decoded)."""
    role = (metadata.get("role") or None) and metadata["role"][:32]
    items = None
    if record_type == "response" and payload is not None and may_be_listing(role, mime):
        items = listing_entries(content_or_payload(headers, payload), url, mime, role)
    elif record_type == "resource" and payload is not None and url.startswith(RENDERED_DOM_PREFIX):
        # a listing as the crawler's browser drew it (it renders listing pages only): the entries its script wrote
        items = listing_entries(payload, rendered_page_url(url).split("#page=")[0], "text/html", "listing")
    return {"role": role, "listing_title": metadata.get("listing_title") or None,
            "listing_date": metadata.get("listing_date") or None,
            "redirected_from": metadata.get("redirected_from") or None,
            "concurrent_to_capture_id": concurrent_to if record_type == "resource" else None,
            "listing_items": items, "facts_version": FACTS_VERSION}


def group_metadata(records: list[tuple[int, int, WarcRecord]], record_id: str) -> dict[str, str]:
    """The fields of the metadata records written concurrent to the record ``record_id``."""
    fields: dict[str, str] = {}
    for _offset, _length, record in records:
        if record.record_type == "metadata" and record_id in record.concurrent_to:
            fields.update(record.fields())
    return fields


# ---------------------------------------------------------------- rows indexed before the facts existed

@dataclass
class Backfilled:
    captures: int = 0           # captures whose facts were derived from their WARC records
    unreadable: int = 0         # … whose records could not be read: their facts stay unknown (UNREADABLE)
    reports: int = 0            # reports whose text signature was computed
    stopped: str | None = None  # the object store stopped answering: the rest waits for the next time

    @property
    def done(self) -> int:
        return self.captures + self.unreadable + self.reports


def pending(catalog: Catalog) -> bool:
    """Whether any capture or report still waits for its facts (answered from the partial indexes)."""
    with catalog.reading() as session:
        return (session.scalar(select(Capture.id).where(_facts_wanted()).limit(1)) is not None
                or session.scalar(select(Report.id).where(Report.shingles.is_(None)).limit(1)) is not None)


def _facts_wanted():
    """Captures whose facts are not derived, or were derived before a rule that now finds some (a rendered
    listing's entries, a listing script's JSON)."""
    return or_(Capture.facts_version.is_(None),
               and_(Capture.facts_version > UNREADABLE, Capture.facts_version < _RENDERED_LISTINGS_SINCE,
                    or_(Capture.url.like(RENDERED_DOM_PREFIX + "%"), Capture.role == BROWSER_ROLE)),
               and_(Capture.facts_version > UNREADABLE, Capture.facts_version < _DECODED_SINCE,
                    Capture.record_type == "response", Capture.role.in_(sorted(LISTING_ROLES))))


def _listed_already(row: Capture) -> bool:
    """A listing page whose entries were read before content-encoded pages were decoded, and found some: it was
    served plain, and a new read would find the same (its version is moved on without reading the archive)."""
    return (row.facts_version is not None and UNREADABLE < row.facts_version < _DECODED_SINCE
            and not row.url.startswith(RENDERED_DOM_PREFIX) and row.role != BROWSER_ROLE and bool(row.listing_items))


def backfill(catalog: Catalog, reader: CaptureReader | None, *, batch: int = 500,
             progress: Callable[[int], None] | None = None) -> Backfilled:
    """Derive the facts of every capture indexed before 0007 from its WARC records and the signature of every
    report stored before it, in committed batches (an interrupted backfill goes on where it stopped). Without a
    reader only the signatures are computed. A store that stops answering ends the capture part (``stopped``);
    a record that cannot be read (missing segment, damaged bytes) gets ``facts_version`` UNREADABLE."""
    done = Backfilled()
    after = 0
    while reader is not None and done.stopped is None:
        with catalog.reading() as session:
            rows = list(session.scalars(select(Capture).where(_facts_wanted(), Capture.id > after)
                                        .order_by(Capture.id).limit(batch)))
        if not rows:
            break
        after = rows[-1].id
        values = []
        for row in rows:
            if _listed_already(row):
                values.append({"id": row.id, "facts_version": FACTS_VERSION})
                continue
            try:
                values.append({"id": row.id, **_derived(reader, catalog, row)})
                done.captures += 1
            except StoreUnavailable as exc:
                done.stopped = str(exc)
                break
            except (CaptureError, ObjectStoreError, WarcFormatError) as exc:
                log.warning("facts of capture %s cannot be derived: %s", row.id, exc)
                values.append({"id": row.id, "facts_version": UNREADABLE})
                done.unreadable += 1
        if values:
            with catalog.session() as session:
                session.execute(update(Capture), values)
        if progress is not None:
            progress(done.done)
    after = 0
    while True:
        with catalog.reading() as session:
            rows = session.execute(select(Report.id, Report.text).where(Report.shingles.is_(None), Report.id > after)
                                   .order_by(Report.id).limit(batch)).all()
        if not rows:
            break
        after = rows[-1].id
        values = [dict(zip(("shingles", "minhash"), text_signature(text or "")), id=report_id)
                  for report_id, text in rows]
        with catalog.session() as session:
            session.execute(update(Report), values)
        done.reports += len(values)
        if progress is not None:
            progress(done.done)
    return done


def _derived(reader: CaptureReader, catalog: Catalog, row: Capture) -> dict[str, Any]:
    """The facts of one capture, from one ranged read: the whole group when the payload or the primary record's
    headers are needed (a page that may be a listing, a resource), else only its request and metadata records."""
    whole = row.record_type == "resource" or (row.record_type == "response" and may_be_page(row.mime))
    if whole or row.group_length <= row.length:
        records = reader.group(row, digests=False)
        primary = records[0][2]
    else:
        start = row.offset + row.length
        records = read_members(reader.span(row.warc_key, start, row.group_length - row.length), start)
        primary = None
    metadata = group_metadata(records, row.record_id)
    concurrent = None
    if row.record_type == "resource" and primary is not None and primary.concurrent_to:
        with catalog.reading() as session:
            page = queries.capture_by_record_id(session, primary.concurrent_to[0])
        concurrent = page.id if page is not None else None
    return capture_facts(metadata, record_type=row.record_type, url=row.url, mime=row.mime,
                         payload=primary.payload if primary is not None else None,
                         concurrent_to=concurrent,
                         headers=primary.http.headers if primary is not None and primary.http is not None else ())
