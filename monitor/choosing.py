"""Which of a year's reports speaks for it: the verdict and copy detection choose the same one."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Protocol, TypeVar

from parsers.dates import PUBLICATION_PRIORITY


class Ranked(Protocol):
    url: str
    date_source: str | None
    publication_date: date | None
    capture_id: int
    report_year: int | None


R = TypeVar("R", bound=Ranked)

# where a report prints the agency it speaks for: its title, 填报单位 or 落款 (a page's 发布机构 box may name the
# office that put it online, not the report's agency)
PRINTED_SOURCES = ("title", "填报单位", "signature")


def printed_name(agency: str | None, source: str | None) -> str | None:
    """The agency name a report prints of itself, from its record's ``agency`` and ``agency_source``."""
    return agency if source in PRINTED_SOURCES else None


def _by_dates(report: Ranked) -> tuple:
    """A date that is possible first (not before the report's year ended: a listing entry of another year may lead
    to the report, its date with it), then the strongest publication-date evidence, then the earliest date."""
    source_rank = (PUBLICATION_PRIORITY.index(report.date_source)
                   if report.date_source in PUBLICATION_PRIORITY else len(PUBLICATION_PRIORITY))
    year = getattr(report, "report_year", None)
    impossible = (report.publication_date is not None and year is not None
                  and report.publication_date <= date(year, 12, 31))
    return (impossible, source_rank, report.publication_date or date.max)


def same_dates(report: R, reports: Iterable[R]) -> list[R]:
    """The reports that give the same dates as ``report``, in capture order: for the verdict, one report (a column
    that moved to new addresses, a page kept in two columns)."""
    return sorted((other for other in reports if _by_dates(other) == _by_dates(report)),
                  key=lambda other: other.capture_id)


def _first(reports: list[R]) -> R | None:
    return min(reports, key=lambda report: (_by_dates(report), report.capture_id), default=None)


def contested(reports: Iterable[R]) -> list[R]:
    """The copies ``best_report`` asks ``offline`` about: the best-dated reports when they sit at several addresses
    (none otherwise). A caller that reads fetch histories only for these reads none for most agencies."""
    reports = list(reports)
    if len(reports) < 2:
        return []
    copies = same_dates(_first(reports), reports)
    return copies if len({copy.url for copy in copies}) >= 2 else []


def best_report(reports: Iterable[R], *, offline: Callable[[R], bool] | None = None) -> R | None:
    """The best dates (``_by_dates``), then the earliest capture (a page and its attachment, or two versions of one
    URL, are one report). Among copies with the same dates at several addresses, one whose address has not failed
    since it last gave the report comes first when ``offline`` tells which: the verdict then rests on, and links, a
    page still online, and copy detection names it."""
    reports = list(reports)
    chosen = _first(reports)
    if chosen is None or offline is None:
        return chosen
    copies = contested(reports)   # one address: nothing to prefer (and no need to ask)
    return next((copy for copy in copies if not offline(copy)), chosen)
