"""Distributed crawl: with XXGK_REDIS_URL set, scrapy-redis's scheduler and dupefilter hold the request queue in a
real redis-server (tests/servers.py, started on a free loopback port), and the demo crawl finds the same reports."""
from __future__ import annotations

import uuid

import pytest
import redis

from demo.server import DemoServer
from storage.catalog import queries
from tests.crawling import SLOW_PAGE_SECONDS, catalog_of, config_in, crawl

pytestmark = pytest.mark.slow


def test_demo_crawl_through_redis_finds_every_report(redis_server, tmp_path):
    prefix = f"xxgk-test-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_server.url)
    seen_keys: set[str] = set()

    def watch(progress) -> None:
        seen_keys.update(key.decode() for key in client.scan_iter(f"{prefix}:*"))

    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        base = server.base_url
        config = config_in(tmp_path / "data", {"XXGK_REDIS_URL": redis_server.url})
        summary = crawl(config, server.portals.registry(base), progress=watch,
                        SCHEDULER_QUEUE_KEY=f"{prefix}:%(spider)s:requests",
                        SCHEDULER_DUPEFILTER_KEY=f"{prefix}:%(spider)s:dupefilter")

    assert summary.status == "finished"
    assert summary.stats["scheduler/enqueued/redis"] >= 40
    assert summary.stats.get("discovery/js_render", 0) >= 1  # the browser request survived the trip through redis
    assert f"{prefix}:reports:dupefilter" in seen_keys, f"keys seen during the crawl: {sorted(seen_keys)}"
    assert not list(client.scan_iter(f"{prefix}:*")), "SCHEDULER_PERSIST is off: the queue must be gone"
    with catalog_of(config) as session:
        run = queries.get_run(session, summary.run_id)
        assert run.settings["SCHEDULER"] == "scrapy_redis.scheduler.Scheduler"
        found = {(r.url, r.agency_id, r.report_year, r.publication_date)
                 for r in queries.list_reports(session, limit=10_000)}
    expected = {(r.url, r.agency_id, r.report_year, r.publication_date)
                for r in server.portals.expected_reports(base)}
    assert expected <= found
