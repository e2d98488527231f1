"""Which of a year's reports speaks for it: the verdict and copy detection choose the same one."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Protocol, TypeVar

from parsers.dates import PUBLICATION_PRIORITY


class Ranked(Protocol):
    date_source: str | None
    publication_date: date | None
    capture_id: int
    report_year: int | None


R = TypeVar("R", bound=Ranked)


def best_report(reports: Iterable[R]) -> R | None:
    """A date that is possible first (not before the report's year ended: a listing entry of another year may lead
    to the report, its date with it), then the strongest publication-date evidence, then the earliest date, then
    the earliest capture (a page and its attachment, or two versions of one URL, are one report)."""

    def rank(report: Ranked):
        source_rank = (PUBLICATION_PRIORITY.index(report.date_source)
                       if report.date_source in PUBLICATION_PRIORITY else len(PUBLICATION_PRIORITY))
        year = getattr(report, "report_year", None)
        impossible = (report.publication_date is not None and year is not None
                      and report.publication_date <= date(year, 12, 31))
        return (impossible, source_rank, report.publication_date or date.max, report.capture_id)

    return min(reports, key=rank, default=None)
