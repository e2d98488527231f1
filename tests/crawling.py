"""Helpers shared by the crawler tests (test_crawl_e2e, test_crawl_faults, test_crawl_redis): settings that make a
demo crawl take seconds, and reading back what a crawl left in the catalog."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from demo.portals import DemoPortals, Resource, not_found_page
from crawler.run import CrawlSummary, run_crawl
from storage.catalog import Catalog
from storage.config import Config

# Politeness off for loopback, durability "os" (a test does not need every capture fsynced), one retry without
# backoff, a short timeout so the slow page (slow_seconds=SLOW_PAGE_SECONDS) becomes a timeout quickly.
DOWNLOAD_TIMEOUT = 2
SLOW_PAGE_SECONDS = 4
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "RETRY_TIMES": 1,
    "RETRY_BACKOFF_BASE": 0,
    "DOWNLOAD_TIMEOUT": DOWNLOAD_TIMEOUT,
    "ARCHIVE_DURABILITY": "os",
    "LOG_LEVEL": "WARNING",
    "PROGRESS_INTERVAL": 0.3,
}


def browser_processes() -> set[int]:
    """The Chromium browser processes below this one (not renderers, zygotes or utility processes)."""
    import psutil

    found = set()
    for process in psutil.Process().children(recursive=True):
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if command and "chrom" in command[0] and not any(arg.startswith("--type=") for arg in command):
            found.add(process.pid)
    return found


def config_in(directory: Path, env: dict[str, str] | None = None) -> Config:
    return Config.from_env(env or {}, data_dir=directory)


def crawl(config: Config, agencies, progress=None, **overrides) -> CrawlSummary:
    return run_crawl(config, agencies, settings_overrides={**FAST_SETTINGS, **overrides}, progress=progress)


@contextmanager
def catalog_of(config: Config) -> Iterator:
    catalog = Catalog.open(config, create=False)
    try:
        with catalog.reading() as session:
            yield session
    finally:
        catalog.close()


def target_of(url: str) -> str:
    """Path and query of a URL, as the demo server's request log and ``DemoPortals.resource`` see them."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def served(portals: DemoPortals, url: str) -> tuple[int, bytes, dict[str, str]]:
    """What the demo server answers for ``url`` (without validators): status, body and the headers it sets."""
    resource: Resource | None = portals.resource(target_of(url))
    if resource is None:
        return 404, not_found_page(), {"Content-Type": "text/html; charset=utf-8"}
    if resource.location is not None:
        return resource.status, b"", {"Location": resource.location}
    headers = {"Content-Type": resource.content_type}
    if resource.etag:
        headers["ETag"] = resource.etag
    if resource.http_last_modified:
        headers["Last-Modified"] = resource.http_last_modified
    return resource.status, resource.body, headers
