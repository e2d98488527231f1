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


R = TypeVar("R", bound=Ranked)


def best_report(reports: Iterable[R]) -> R | None:
    """Strongest publication-date evidence, then the earliest date, then the earliest capture (a page and its
    attachment, or two versions of one URL, are one report)."""

    def rank(report: Ranked):
        source_rank = (PUBLICATION_PRIORITY.index(report.date_source)
                       if report.date_source in PUBLICATION_PRIORITY else len(PUBLICATION_PRIORITY))
        return (source_rank, report.publication_date or date.max, report.capture_id)

    return min(reports, key=rank, default=None)
