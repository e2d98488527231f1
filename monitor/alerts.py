"""What a crawl run has to tell its users: alert events from the verdicts it produced, the report columns that
stopped yielding items, and the run's own failure.

Every event has a stable key (``missing:<agency>:<year>``, ``changed:<agency>:<year>:<new digest>``, …) and is
recorded once (``queries.add_alert_event``): a later run that sees the same fact finds the key and announces
nothing. A fact that changes makes a new key — a report edited a second time, a column that recovered and failed
again. Only accusations the archive proves are events: ``missing`` is the status "missing" (an ``undetermined``
year is not an accusation), the flags are those the verdict raised.

Payloads hold ids and facts, never links: the message is written when it is sent (``monitor.alert_messages``).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from monitor.coverage import column_failures
from storage.catalog import queries
from storage.catalog.models import AlertEvent, CrawlRun, Report, Verdict

KINDS = ("missing", "late", "changed", "removed", "backdated", "column_failure", "run_failed")
KIND_LABELS = {"missing": "逾期未发布", "late": "逾期发布", "changed": "发布后修改", "removed": "已删除",
               "backdated": "倒签", "column_failure": "栏目失效", "run_failed": "抓取失败"}
_KEY_MAX = 255   # alert_events.key


@dataclass(frozen=True)
class Event:
    """An event as a run finds it, before it is recorded."""

    key: str
    kind: str
    agency_id: str | None = None
    report_year: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


def event_key(kind: str, *parts: Any) -> str:
    key = ":".join([kind, *map(str, parts)])
    if len(key) > _KEY_MAX:  # a long agency id: the key only has to be stable and unique
        key = f"{kind}:sha1:{hashlib.sha1(key.encode('utf-8')).hexdigest()}"
    return key


def run_events(session, *, agency_ids: Iterable[str], run_id: str | None = None,
               failure: str | None = None, dead_runs: Mapping[str, str] | None = None) -> list[Event]:
    """The events of one run over ``agency_ids``: their stored verdicts, the columns that failed in ``run_id``,
    the run itself when ``failure`` says why it failed, and each run it found dead (``dead_runs``, id -> why:
    their lock was taken over) — a failed run too, under the same key, so a run is announced as failed once."""
    wanted = list(dict.fromkeys(agency_ids))
    names = {agency.id: agency.name for agency in queries.list_agencies(session)}
    events: list[Event] = []
    for agency_id in wanted:
        for verdict in queries.verdicts(session, agency_id=agency_id):
            events += verdict_events(verdict, names.get(agency_id, agency_id))
    if run_id is not None:
        chosen = set(wanted)
        for failed in column_failures(session, run_id):
            if failed.agency_id in chosen:
                events.append(_column_failure(session, failed, names.get(failed.agency_id, failed.agency_id)))
    if failure is not None:
        # a run that could not start may have no crawl_runs row, so no run page to link to
        recorded = run_id is not None and queries.get_run(session, run_id) is not None
        events.append(Event(event_key("run_failed", run_id or queries.new_run_id()), "run_failed",
                            payload={"run_id": run_id, "recorded": recorded, "message": failure,
                                     "agencies": len(wanted)}))
    for dead_id, why in (dead_runs or {}).items():
        dead = queries.get_run(session, dead_id)
        events.append(Event(event_key("run_failed", dead_id), "run_failed",
                            payload={"run_id": dead_id, "recorded": dead is not None, "message": why,
                                     "found_by": run_id, "agencies": None}))
    return events


def verdict_events(verdict: Verdict, agency: str) -> list[Event]:
    """The events one stored verdict proves: its status (missing, late) and each flag it raised."""
    evidence = verdict.evidence or {}
    year = verdict.report_year
    base = {"agency": agency, "deadline": _iso(verdict.deadline), "legal_basis": verdict.legal_basis,
            "status": verdict.status, "reason": evidence.get("reason"), "as_of": evidence.get("as_of")}
    report = ({"report_id": verdict.report_id, "report_url": evidence.get("report_url"),
               "title": evidence.get("title"), "capture_id": evidence.get("capture_id")}
              if verdict.report_id is not None else {})

    def event(kind: str, *key_parts: Any, **facts: Any) -> Event:
        return Event(event_key(kind, verdict.agency_id, year, *key_parts), kind, verdict.agency_id, year,
                     {**base, **report, **facts})

    found: list[Event] = []
    if verdict.status == "missing":
        column = evidence.get("coverage") or {}
        found.append(event("missing", column_url=column.get("column_url"), column_capture_id=column.get("capture_id"),
                           column_read_at=column.get("read_at")))
    elif verdict.status == "late":
        found.append(event("late", publication_date=_iso(verdict.publication_date),
                           date_source=verdict.date_source, days_late=verdict.days_late))
    flags = set(verdict.flags or ())
    changed = evidence.get("changed")
    if "changed" in flags and isinstance(changed, Mapping):
        # a second edit is a new version: a new event
        found.append(event("changed", str(changed.get("to_sha256") or changed.get("to_capture_id"))[:16],
                           from_capture_id=changed.get("from_capture_id"), to_capture_id=changed.get("to_capture_id"),
                           message=changed.get("message")))
    removed = evidence.get("removed")
    if "removed" in flags and isinstance(removed, Mapping):
        # gone after the last good capture; back and gone again is a new event
        latest = removed.get("latest_failure") or {}
        found.append(event("removed", removed.get("last_ok_capture_id"),
                           last_ok_capture_id=removed.get("last_ok_capture_id"),
                           failure_capture_id=latest.get("capture_id"), failure_at=latest.get("at"),
                           message=removed.get("message")))
    backdated = evidence.get("backdated")
    if "backdated" in flags and isinstance(backdated, Mapping):
        found.append(event("backdated", claimed_date=backdated.get("claimed_date"),
                           listing_capture_id=backdated.get("listing_capture_id"),
                           listing_captured_at=backdated.get("listing_captured_at"), message=backdated.get("message")))
    return found


def _column_failure(session, failed, agency: str) -> Event:
    # one failure from the last good read on: the runs that keep failing after it say nothing new
    rows = queries.coverage_of_agency(session, failed.agency_id, run_id=failed.run_id)
    capture_id = next((row.capture_id for row in rows if row.capture_id is not None), None)
    return Event(event_key("column_failure", failed.agency_id, failed.last_good_run_id), "column_failure",
                 failed.agency_id, None,
                 {"agency": agency, **failed.to_json(), "column_capture_id": capture_id,
                  "column_urls": [row.column_url for row in rows if row.column_url]})


def rebuilt_events(catalog, *, as_of: date) -> list[Event]:
    """The events a rebuilt catalog's state proves (``xxgk reindex``: the alert tables are not in the WARCs, so
    without this the next run would announce every standing verdict again): the verdicts as the crawls left them,
    judged as of ``as_of`` (the day of the last run) for every year from the oldest report's on, not stored, and
    each run's column failures. A run's own failure is not among them: no later run announces an earlier one."""
    from monitor.verdicts import judging

    with catalog.reading() as session:
        oldest = session.scalar(select(func.min(Report.report_year)))
        run_ids = list(session.scalars(select(CrawlRun.id).order_by(CrawlRun.started_at)))
    years = list(range(min(oldest or as_of.year - 1, as_of.year - 1), as_of.year))
    events: list[Event] = []
    for result in judging(catalog, as_of=as_of, years=years, store=False):
        events += verdict_events(Verdict(**result.stored()), result.agency)
    with catalog.reading() as session:
        names = {agency.id: agency.name for agency in queries.list_agencies(session)}
        for run_id in run_ids:
            events += [_column_failure(session, failed, names.get(failed.agency_id, failed.agency_id))
                       for failed in column_failures(session, run_id)]
    return events


def record(session, events: Iterable[Event], channels_for: Callable[[str], list[str]], *,
           run_id: str | None = None) -> list[AlertEvent]:
    """Store the events not known yet, each with one undelivered row per channel that wants its kind; returns
    the new ones (the known ones were announced, or are waiting to be, already)."""
    new = []
    for event in events:
        row = queries.add_alert_event(session, event.key, event.kind, channels=channels_for(event.kind),
                                      run_id=run_id, agency_id=event.agency_id, report_year=event.report_year,
                                      payload=event.payload)
        if row is not None:
            new.append(row)
    return new


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
