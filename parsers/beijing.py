"""China's one time zone (UTC+8, no daylight saving): deadlines and claimed dates are Beijing calendar days.

The only definition of it in the project; no function here reads the machine's clock (``monitor.clock`` does).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "CST")


def as_aware(moment: datetime) -> datetime:
    """Naive datetimes in the catalog and the archive are UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def beijing_date(moment: datetime) -> date:
    """A capture at 2023-01-31 20:00 UTC is already 1 February in China."""
    return as_aware(moment).astimezone(BEIJING).date()


def beijing_iso(moment: datetime | date | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return as_aware(moment).astimezone(BEIJING).isoformat()
    return moment.isoformat()


def end_of_beijing_day(day: date) -> datetime:
    """24:00 of ``day`` in Beijing (the instant evaluators check a deadline), as an aware UTC datetime."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), BEIJING).astimezone(timezone.utc)
