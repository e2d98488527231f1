"""What the crawl asks for once its first pass is over: other ways to an agency's report column, then every report
URL the archive already knows.

Ways to a column, in order, each tried only when the ways before it gave no listing item (the column URL failed,
or its listing was empty): the registry's column URLs; the homepage and its 信息公开 sections (links named like the
column, URL words, the 信息公开目录's 年报 category); the site's own search form filled in for 年度报告; the site's
``sitemap.xml``. ``Plan`` keeps where each agency stands; the spider asks it when the crawl goes idle, so every way
runs under the same robots.txt rules and delays as the rest of the crawl.

Known reports: a report deleted from the site disappears from its listing too, so only asking for its URL again
shows that it is gone (a 404 in the archive, the evidence of the 已删除 flag). URLs already fetched in the run are
dropped by the scheduler's duplicate filter, so only the reports the listings no longer lead to cost a request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Container, Iterable

from parsers.discovery import LinkCandidate, find_report_columns
from parsers.fallbacks import find_catalogue_columns, is_catalogue_page, sitemap_url
from registry.agencies import Agency

# how each way is named where the coverage row's detail lists the ways tried
WAY_LABELS = {"registry": "注册表中的栏目网址", "home": "首页及信息公开栏目", "site_search": "站内搜索",
              "sitemap": "sitemap.xml"}


@dataclass(frozen=True)
class Step:
    """One request a way to the column makes."""

    way: str                        # registry | home | site_search | sitemap (WAY_LABELS)
    url: str
    role: str                       # column | home | sitemap (the spider's request roles)
    found_by: str | None = None     # for a column entry: models.COLUMN_FOUND_BY
    probe: bool = False             # the site may well not have it: a 404 is no fetch error
    repeat: bool = False            # ask even if another agency asked for it already (a shared host's sitemap)


@dataclass
class _Progress:
    ways: list[str]
    tried: list[str] = field(default_factory=list)
    search_url: str | None = None


class Plan:
    """Where each agency stands on its ways to a report column."""

    def __init__(self, agencies: Iterable[Agency]):
        self.agencies = {agency.id: agency for agency in agencies}
        self._progress = {agency.id: _Progress(ways=(["registry"] if agency.report_index else [])
                                               + ["home", "site_search", "sitemap"])
                          for agency in self.agencies.values()}

    def start(self, agency: Agency) -> list[Step]:
        """The first way: the registry's column URLs, else the homepage."""
        return self._next(agency.id)

    def after_pass(self, with_items: Container[str]) -> dict[str, list[Step]]:
        """For each agency whose columns gave no item so far (not in ``with_items``), the requests of its next
        way (none left: absent)."""
        steps = {}
        for agency_id in self.agencies:
            if agency_id not in with_items:
                following = self._next(agency_id)
                if following:
                    steps[agency_id] = following
        return steps

    def saw_search_form(self, agency_id: str, url: str | None) -> None:
        """A page of the agency's site had a search form; its URL for 年度报告 is kept for the site_search way."""
        progress = self._progress.get(agency_id)
        if progress is not None and url and progress.search_url is None:
            progress.search_url = url

    def wants_search_form(self, agency_id: str) -> bool:
        progress = self._progress.get(agency_id)
        return progress is not None and progress.search_url is None and "site_search" in progress.ways

    def tried(self, agency_id: str) -> list[str]:
        return list(self._progress[agency_id].tried)

    def _next(self, agency_id: str) -> list[Step]:
        agency, progress = self.agencies[agency_id], self._progress[agency_id]
        while progress.ways:
            way = progress.ways.pop(0)
            steps = self._steps(way, agency, progress)
            if steps:
                progress.tried.append(way)
                return steps
        return []

    @staticmethod
    def _steps(way: str, agency: Agency, progress: _Progress) -> list[Step]:
        if way == "registry":
            return [Step(way, url, "column", "registry") for url in agency.report_index]
        if way == "home":
            return [Step(way, agency.homepage, "home")]
        if way == "site_search":
            return ([Step(way, progress.search_url, "column", "site_search", repeat=True)]
                    if progress.search_url else [])
        return [Step(way, sitemap_url(agency.homepage), "sitemap", probe=True, repeat=True)]


def columns_on_page(page, page_url: str, depth: int) -> list[tuple[LinkCandidate, str]]:
    """The report columns a homepage or section page links, best first, each with how it was found: a
    信息公开目录's 年报 category (``catalogue``); a link on the homepage or one section below it, by its text
    (``link_text``) or only by its URL words (``url_words``); a link further down the sections
    (``section_descent``)."""
    if is_catalogue_page(page, page_url):
        columns = find_catalogue_columns(page, page_url)
        if columns:
            return [(column, "catalogue") for column in columns]
    found = []
    for column in find_report_columns(page, page_url):
        if depth >= 2:
            how = "section_descent"
        elif any(reason.startswith("text:") and "年报" in reason for reason in column.reasons):  # text:…年报 rules
            how = "link_text"
        else:
            how = "url_words"
        found.append((column, how))
    return found


def known_report_urls(catalog, agency_ids: Iterable[str]) -> dict[str, list[str]]:
    """agency id → the URLs of its documents the catalog holds as reports."""
    from storage.catalog import queries

    with catalog.reading() as session:
        return queries.report_urls_of_agencies(session, agency_ids)
