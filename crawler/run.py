"""Run one crawl programmatically: ``run_crawl(config, agencies) -> CrawlSummary``.

Scrapy's reactor starts once per process, so ``run_crawl`` runs the crawl in a child process (multiprocessing,
spawn) and streams ``CrawlProgress`` back through a queue every ``PROGRESS_INTERVAL`` seconds: the CLI can show a
live display, and tests can run several crawls in one pytest process. ``crawl_in_process`` is the same crawl in
the calling process (the child itself; ``scrapy crawl reports`` is the other way to run the spider directly).

The child exits non-zero only when the run could not proceed (no archive, bad settings, a crash); fetch errors,
parse errors and timeouts are the run's results, counted in the summary. ``run_crawl`` raises ``CrawlError`` then.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
import resource
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from crawler.processes import die_with_parent
from registry.agencies import Agency

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CANNOT_RUN = 2


class CrawlError(Exception):
    """The crawl could not run at all; the message says why (one line)."""


@dataclass(frozen=True)
class CrawlProgress:
    run_id: str | None
    pages: int             # responses archived (new, revisit or not modified)
    reports_found: int     # documents the parsers took for reports (new or unchanged)
    errors: int            # fetch errors recorded
    elapsed: float         # seconds since the crawl started
    rate: float            # pages per second so far
    in_flight: int = 0     # requests being downloaded
    finished: bool = False


@dataclass(frozen=True)
class CrawlSummary:
    run_id: str | None
    status: str                   # finished | interrupted | failed (the crawl_runs status)
    finish_reason: str | None     # Scrapy's: finished, shutdown, …
    pages: int
    reports_found: int
    reports_new: int              # report rows created by this run (unchanged documents create none)
    errors: dict[str, int]        # fetch errors by kind (timeout, http, robots, redirect_loop, …)
    parse_errors: int
    duration: float               # seconds
    max_rss_kb: int               # peak resident memory of the crawl process
    children_max_rss_kb: int      # largest of its children (parse workers, Chromium)
    stats: dict[str, Any] = field(default_factory=dict)
    exit_code: int = EXIT_OK
    message: str | None = None
    # agencies by what their report column gave (crawler.coverage.outcome_counts): read, not_found, unreadable
    coverage: dict[str, int] = field(default_factory=dict)
    # 栏目失效, one line per agency whose column gave items in an earlier run and none in this one: filled by the
    # caller that reads the catalog's history (cli.crawl, through monitor.coverage), empty from the crawl itself
    column_failures: list[str] = field(default_factory=list)
    # one line per fetch error of the run (kind, URL, message), filled by the caller from the catalog, and where
    # the run's full log was written when it did not go to the terminal
    fetch_errors: list[str] = field(default_factory=list)
    log_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- settings and progress

def crawl_settings(config, overrides: dict[str, Any] | None = None, progress_sink: Callable | None = None):
    """The project's settings (``crawler.settings``), the runtime config, then the caller's overrides."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("XXGK_CONFIG", config, priority="project")
    if progress_sink is not None:
        settings.set("PROGRESS_SINK", progress_sink, priority="project")
        extensions = dict(settings.getdict("EXTENSIONS"))
        extensions["crawler.run.ProgressExtension"] = 900
        settings.set("EXTENSIONS", extensions, priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def progress_of(stats: dict[str, Any], run_id: str | None, started: float, *, in_flight: int = 0,
                finished: bool = False) -> CrawlProgress:
    pages = sum(int(stats.get(f"archive/{kind}", 0)) for kind in ("response", "revisit", "not_modified"))
    errors = sum(int(value) for key, value in stats.items() if key.startswith("archive/error/"))
    elapsed = max(time.monotonic() - started, 1e-9)
    return CrawlProgress(run_id=run_id, pages=pages, reports_found=int(stats.get("reports/found", 0)),
                         errors=errors, elapsed=round(elapsed, 3), rate=round(pages / elapsed, 2),
                         in_flight=in_flight, finished=finished)


class ProgressExtension:
    """Sends ``("progress", CrawlProgress)`` to ``PROGRESS_SINK`` every ``PROGRESS_INTERVAL`` seconds and at the end."""

    def __init__(self, crawler, sink: Callable, interval: float):
        self.crawler = crawler
        self.sink = sink
        self.interval = interval
        self.started = time.monotonic()
        self._task = None

    @classmethod
    def from_crawler(cls, crawler) -> "ProgressExtension":
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        sink = crawler.settings.get("PROGRESS_SINK")
        if sink is None:
            raise NotConfigured("no PROGRESS_SINK")
        extension = cls(crawler, sink, crawler.settings.getfloat("PROGRESS_INTERVAL"))
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def engine_started(self) -> None:
        from twisted.internet import task

        self.started = time.monotonic()
        self._task = task.LoopingCall(self.report)
        self._task.start(self.interval, now=True)

    def spider_closed(self, spider, reason) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
        self.report(finished=True)

    def report(self, finished: bool = False) -> None:
        holder = getattr(self.crawler, "_xxgk_archive", None)
        engine = getattr(self.crawler, "engine", None)
        in_flight = len(getattr(getattr(engine, "downloader", None), "active", ()) or ())
        progress = progress_of(self.crawler.stats.get_stats(), holder.run_id if holder else None, self.started,
                               in_flight=in_flight, finished=finished)
        try:
            self.sink(("progress", progress))
        except (OSError, ValueError) as exc:  # the parent went away: the crawl itself goes on
            self.crawler.stats.inc_value("progress/lost")
            if finished:
                print(f"progress not delivered: {exc}", file=sys.stderr)


# ---------------------------------------------------------------- one crawl in this process

def crawl_in_process(config, agencies: Iterable[Agency], settings_overrides: dict[str, Any] | None = None,
                     progress_sink: Callable | None = None) -> CrawlSummary:
    """Run the crawl here, blocking until it ends (the Twisted reactor can start only once per process)."""
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.reports import ReportsSpider

    agencies = list(agencies)
    if not agencies:
        raise CrawlError("没有要抓取的机构")
    started = time.monotonic()
    process = CrawlerProcess(crawl_settings(config, settings_overrides, progress_sink))
    crawler = process.create_crawler(ReportsSpider)
    failures: list[str] = []
    deferred = process.crawl(crawler, agencies=agencies)
    deferred.addErrback(lambda failure: failures.append(_failure_text(failure.value)))
    process.start()
    holder = getattr(crawler, "_xxgk_archive", None)
    _close_what_a_forced_stop_left(holder)
    stats = _plain(crawler.stats.get_stats()) if crawler.stats else {}
    reason = stats.get("finish_reason")
    if holder is None or failures:
        message = failures[0] if failures else "the archive was never opened"
        return _summary(None, "failed", reason, stats, started, EXIT_CANNOT_RUN, message)
    from crawler.middlewares import run_status
    return _summary(holder.run_id, run_status(reason or "failed"), reason, stats, started, EXIT_OK, None)


def _failure_text(exc: BaseException) -> str:
    """What stopped the run, in one line: the archive's refusals are written for the user; anything else is named
    by its type, for whoever reads the log."""
    from storage.archive import ArchiveInputError

    return str(exc) if isinstance(exc, ArchiveInputError) else f"{type(exc).__name__}: {exc}"


def _close_what_a_forced_stop_left(holder) -> None:
    """A forced stop (a second Ctrl-C or signal) stops the reactor before the spider closes: the run would stay
    open with its last batch uncommitted, and the parse workers, never told to stop, would keep this process from
    ever exiting (it joins its children at exit)."""
    if holder is not None and not holder.finished:
        log.warning("the crawl was stopped before it closed: finishing its run as interrupted")
        holder.spider_closed(None, "shutdown")
    workers = multiprocessing.active_children()
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(5)
        if worker.is_alive():   # a worker deaf to SIGTERM must not keep this process from exiting
            worker.kill()
            worker.join(5)


def _summary(run_id, status, reason, stats, started, exit_code, message) -> CrawlSummary:
    errors = {key.removeprefix("archive/error/"): int(value) for key, value in stats.items()
              if key.startswith("archive/error/")}
    progress = progress_of(stats, run_id, started, finished=True)
    return CrawlSummary(
        run_id=run_id, status=status, finish_reason=reason, pages=progress.pages,
        reports_found=progress.reports_found, reports_new=int(stats.get("reports/new", 0)), errors=errors,
        parse_errors=int(stats.get("parse/error", 0)), duration=round(time.monotonic() - started, 3),
        max_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        children_max_rss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        stats=stats, exit_code=exit_code, message=message,
        coverage={outcome: int(stats.get(f"coverage/{outcome}", 0)) for outcome in ("read", "not_found", "unreadable")})


def _plain(stats: dict[str, Any]) -> dict[str, Any]:
    from crawler.middlewares import stats_counts

    return stats_counts(stats)


# ---------------------------------------------------------------- one crawl in a child process

def run_crawl(config, agencies: list[Agency], *, settings_overrides: dict[str, Any] | None = None,
              progress: Callable[[CrawlProgress], None] | None = None) -> CrawlSummary:
    """Run one crawl in a child process and return its summary; ``progress`` is called in this process."""
    agencies = list(agencies)
    if not agencies:
        raise CrawlError("没有要抓取的机构")
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    child = context.Process(target=_child_main, args=(config, agencies, dict(settings_overrides or {}), messages),
                            name="xxgk-crawl")
    child.start()
    summary: CrawlSummary | None = None
    failure: str | None = None
    try:
        while True:
            try:
                kind, payload = messages.get(timeout=0.2)
            except queue_module.Empty:
                if child.is_alive():
                    continue
                break
            if kind == "progress" and progress is not None:
                progress(payload)
            elif kind == "summary":
                summary = payload
            elif kind == "failed":
                failure = payload
    except BaseException:
        _stop_child(child)
        raise
    child.join()
    if summary is None or summary.exit_code != EXIT_OK:
        reason = failure or (summary.message if summary else None) or f"抓取进程异常退出（退出码 {child.exitcode}）"
        raise CrawlError(f"抓取未能进行：{reason}")
    return summary


def _stop_child(child) -> None:
    """Ctrl-C in the parent: let Scrapy shut down gracefully (the run is marked interrupted), then insist."""
    if not child.is_alive():
        return
    try:
        os.kill(child.pid, signal.SIGINT)
    except OSError:
        return
    child.join(30)
    if child.is_alive():
        child.kill()
        child.join(5)


class _QueueSink:
    """``queue.put`` as a setting value: Scrapy deep-copies its settings, and a queue must not be copied."""

    def __init__(self, messages):
        self.messages = messages

    def __call__(self, message) -> None:
        self.messages.put(message)

    def __deepcopy__(self, memo) -> "_QueueSink":
        return self


def _child_main(config, agencies: list[Agency], overrides: dict[str, Any], messages) -> None:
    die_with_parent()
    try:
        summary = crawl_in_process(config, agencies, overrides, progress_sink=_QueueSink(messages))
    except Exception as exc:  # noqa: BLE001 - anything that stops the run is reported, then a non-zero exit
        messages.put(("failed", _failure_text(exc)))
        messages.close()
        messages.join_thread()
        sys.exit(EXIT_CANNOT_RUN)
    messages.put(("summary", summary))
    messages.close()
    messages.join_thread()
    sys.exit(summary.exit_code)
