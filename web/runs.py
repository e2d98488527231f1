"""Crawl runs: when, how long, how it ended, what it archived and what failed."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.catalog import queries
from storage.catalog.models import Capture, CrawlRun, FetchError
from web.context import BadInput, NotFound, WebContext
from web.labels import error_kind_label, record_type_label, run_status_label, segment_state_label
from web.summaries import capture_summary, error_summary, iso

PAGE_SIZE = 50
LIST_LIMIT = 500


def runs_data(ctx: WebContext, page: int = 1) -> dict[str, Any]:
    if page < 1:
        raise BadInput("页码须大于 0")
    with ctx.catalog.reading() as session:
        runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.started_at.desc(), CrawlRun.id)
                                    .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
        ids = [run.id for run in runs[:PAGE_SIZE]]
        captures = dict(session.execute(select(Capture.run_id, func.count(Capture.id))
                                        .where(queries.few(Capture.run_id.in_(ids))).group_by(Capture.run_id)).all())
        errors = dict(session.execute(select(FetchError.run_id, func.count(FetchError.id))
                                      .where(queries.few(FetchError.run_id.in_(ids))).group_by(FetchError.run_id)).all())
    return {"runs": [{**run_summary(run), "captures": captures.get(run.id, 0), "errors": errors.get(run.id, 0)}
                     for run in runs[:PAGE_SIZE]],
            "page": {"number": page, "has_previous": page > 1, "has_next": len(runs) > PAGE_SIZE}}


def run_data(ctx: WebContext, run_id: str) -> dict[str, Any]:
    try:
        queries.validate_run_id(run_id)
    except ValueError as exc:
        raise NotFound(f"没有运行“{run_id}”") from exc
    with ctx.catalog.reading() as session:
        run = queries.get_run(session, run_id)
        if run is None:
            raise NotFound(f"没有运行“{run_id}”")
        by_type = session.execute(select(Capture.record_type, func.count(Capture.id))
                                  .where(queries.few(Capture.run_id == run_id)).group_by(Capture.record_type)).all()
        by_status = session.execute(select(Capture.status, func.count(Capture.id))
                                    .where(queries.few(Capture.run_id == run_id)).group_by(Capture.status)
                                    .order_by(Capture.status)).all()
        by_kind = session.execute(select(FetchError.kind, func.count(FetchError.id))
                                  .where(queries.few(FetchError.run_id == run_id)).group_by(FetchError.kind)).all()
        errors = list(session.scalars(select(FetchError).where(queries.few(FetchError.run_id == run_id))
                                      .order_by(FetchError.at, FetchError.id).limit(LIST_LIMIT)))
        captures = list(session.scalars(select(Capture).where(queries.few(Capture.run_id == run_id))
                                        .order_by(Capture.id).limit(LIST_LIMIT)))
        segments = queries.segments(session, run_id=run_id)
    return {
        "run": run_summary(run),
        "settings": dict(run.settings or {}),
        "captures_by_type": [{"record_type": kind, "label": record_type_label(kind), "count": count}
                             for kind, count in by_type],
        "captures_by_status": [{"status": status, "count": count} for status, count in by_status],
        "errors_by_kind": [{"kind": kind, "label": error_kind_label(kind), "count": count} for kind, count in by_kind],
        "capture_total": sum(count for _kind, count in by_type),
        "error_total": sum(count for _kind, count in by_kind),
        "errors": [error_summary(error) for error in errors],
        "captures": [capture_summary(capture) for capture in captures],
        "segments": [{"key": segment.key, "state": segment.state,
                      "state_label": segment_state_label(segment.state), "size": segment.size, "records": segment.records,
                      "sha256": segment.sha256, "uploaded_at": iso(segment.uploaded_at)} for segment in segments],
    }


# the few of a run's counts (Scrapy's stats: a hundred keys) its line in the history shows; the run's page shows all
RUN_COUNT_SUMMARY = (("archive/response", "存档响应"), ("archive/resource", "截图"), ("reports/found", "报告"),
                     ("reports/new", "新报告"), ("parse/error", "解析错误"), ("pages", "页面"), ("errors", "错误"))


def run_summary(run: CrawlRun) -> dict[str, Any]:
    """A run as the history lists it; a skipped run (``xxgk schedule`` found another crawl going) says why and
    which run held the lock (``skip_reason``, ``blocked_by``); a run found dead when its lock was taken over
    (``storage.runlock.finish_dead_run``) says when, why and which run found it (``interrupted_*``)."""
    settings = run.settings or {}
    skipped = run.status == "skipped"
    dead = run.status == "interrupted" and bool(settings.get("interrupted_by"))
    return {"id": run.id, "status": run.status, "status_label": run_status_label(run.status),
            "started_at": iso(run.started_at), "finished_at": iso(run.finished_at),
            "duration": duration_text(run.started_at, run.finished_at), "counts": dict(run.counts or {}),
            "count_summary": [{"label": label, "value": (run.counts or {})[key]} for key, label in RUN_COUNT_SUMMARY
                              if key in (run.counts or {})],
            "skip_reason": settings.get("skip_reason") if skipped else None,
            "blocked_by": _run_id_or_none(settings.get("lock_run_id")) if skipped else None,
            "interrupted_by": _run_id_or_none(settings.get("interrupted_by")) if dead else None,
            "interrupted_found_at": settings.get("interrupted_found_at") if dead else None,
            "interrupted_reason": settings.get("interrupted_reason") if dead else None}


def _run_id_or_none(value: Any) -> str | None:
    """A run id fit for a link, or None (settings are free-form JSON)."""
    try:
        return queries.validate_run_id(value)
    except ValueError:
        return None


def duration_text(started: datetime | None, finished: datetime | None) -> str | None:
    """"1 小时 2 分 3 秒"; None while the run has not finished."""
    if started is None or finished is None:
        return None
    seconds = max(int((finished - started).total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} 小时" if hours else "", f"{minutes} 分" if minutes else "", f"{seconds} 秒"]
    return " ".join(part for part in parts if part)
