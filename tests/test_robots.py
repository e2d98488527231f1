"""robots.txt as RFC 9309 reads it, in a real crawl against a loopback portal: a robots.txt the server cannot give
(5xx, after the retries) forbids the whole site, a missing one (4xx) allows it. The crawl asks nothing else of a
host whose robots.txt answered 503, records each request it did not make, and the agency's years come out
undetermined with that reason, never missing."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware

from demo.portals import Resource
from demo.server import DemoServer
from demo.shapes import SHAPES, WATCH_YEARS, ShapePortals
from monitor.clock import today
from monitor.verdicts import judge
from storage.catalog import Catalog, queries
from storage.catalog.models import FetchError
from tests.crawling import catalog_of, config_in, crawl

AGENCY = "shape-iframe"   # a static column (its listing in a frame): nothing but robots.txt stands in the way


@dataclass(frozen=True)
class RobotsAnswers(ShapePortals):
    """The shapes' portals with robots.txt answering ``robots_status``."""

    robots_status: int = 503

    def site(self):
        site = super().site()
        site["/robots.txt"] = Resource(self.robots_status, b"<html><body>Service Unavailable</body></html>",
                                       "text/html; charset=utf-8")
        return site


def _crawl(tmp_path, status: int):
    portals = RobotsAnswers(robots_status=status)
    with DemoServer(portals) as server:
        base = server.base_url
        config = config_in(tmp_path / "data")
        summary = crawl(config, [agency for agency in portals.registry(base) if agency.id == AGENCY])
        hits = {path: server.hits(path) for path in portals.site() if path.startswith("/frame/")}
        robots_hits = server.hits("/robots.txt")
    catalog = Catalog.open(config)
    try:
        judged = {row.report_year: row for row in judge(catalog, as_of=today(), years={AGENCY: WATCH_YEARS},
                                                        agency_ids=[AGENCY])}
    finally:
        catalog.close()
    with catalog_of(config) as session:
        errors = [(row.url, row.kind, row.message) for row in session.query(FetchError)]
        coverage = queries.coverage_of_agency(session, AGENCY)
    return summary, hits, robots_hits, judged, errors, coverage


def test_a_robots_txt_answering_503_forbids_the_whole_site_and_says_why(tmp_path, capsys):
    from cli.crawl import _print_summary

    summary, hits, robots_hits, judged, errors, coverage = _crawl(tmp_path, 503)
    # the run's summary does not say the site forbids the crawler when its robots.txt could not be had
    _print_summary(summary)
    printed = capsys.readouterr().out
    assert "robots.txt 禁止或无法取得" in printed and "（robots.txt 禁止 " not in printed, printed
    assert robots_hits >= 1
    assert hits and set(hits.values()) == {0}, {path: n for path, n in hits.items() if n}
    assert summary.stats.get("robotstxt/unreachable") == 1
    assert errors and {kind for _url, kind, _message in errors} == {"robots"}, errors
    assert all("HTTP 503" in message and "RFC 9309" in message for _url, _kind, message in errors), errors
    assert coverage and all(row.problem == "robots" and not row.complete for row in coverage)
    assert {year: row.verdict.status for year, row in judged.items()} == \
        {year: "undetermined" for year in WATCH_YEARS}


def test_a_robots_txt_answering_404_allows_the_site(tmp_path):
    summary, hits, _robots_hits, judged, errors, _coverage = _crawl(tmp_path, 404)
    assert hits["/frame/nb/index.html"] == 1
    assert summary.stats.get("robotstxt/unreachable") is None
    assert not [error for error in errors if error[1] == "robots"]
    agency = next(agency for agency in SHAPES if agency.id == AGENCY)
    assert {year for year, row in judged.items() if row.verdict.status == "on_time"} == set(agency.published)


def test_the_scrapy_step_the_middleware_overrides_is_still_there():
    """``_parse_robots(response, netloc, request)`` is Scrapy's private step the 5xx rule hooks into: a Scrapy that
    renamed it would silently read error pages as rules again."""
    import inspect

    step = getattr(ScrapyRobotsTxtMiddleware, "_parse_robots", None)
    assert step is not None and list(inspect.signature(step).parameters) == ["self", "response", "netloc", "request"]


@dataclass(frozen=True)
class RobotsOnceUnavailable(ShapePortals):
    """The shapes' portals, robots.txt answering 503 the first time it is asked (a server busy for a moment)."""

    asked: list = field(default_factory=list)   # when robots.txt was asked (monotonic seconds)

    def resource(self, target, method="GET", body=b""):
        if target.split("?")[0] == "/robots.txt":
            self.asked.append(time.monotonic())
            if len(self.asked) == 1:
                return Resource(503, b"busy", "text/plain; charset=utf-8")
        return super().resource(target, method, body)


def test_a_robots_txt_busy_once_is_asked_again_after_the_backoff_and_then_obeyed(tmp_path):
    """The retry of a robots.txt waits out RETRY_BACKOFF_BASE like any retry (it is downloaded past the scheduler,
    where a retry's pause is otherwise taken): a moment's 503 must not forbid a whole site for the run."""
    portals = RobotsOnceUnavailable()
    with DemoServer(portals) as server:
        config = config_in(tmp_path / "data")
        summary = crawl(config, [agency for agency in portals.registry(server.base_url) if agency.id == AGENCY],
                        RETRY_BACKOFF_BASE=1.5)
        column_hits = server.hits("/frame/nb/index.html")
    assert len(portals.asked) == 2 and portals.asked[1] - portals.asked[0] >= 1.4, portals.asked
    assert column_hits == 1 and summary.stats.get("robotstxt/unreachable") is None
