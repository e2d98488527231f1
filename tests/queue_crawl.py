"""A small Scrapy crawl over several loopback hosts, run as its own process by tests/test_queues.py (Scrapy's
reactor starts once per process): what it records is what the test asserts.

    python -m tests.queue_crawl OUT.json QUEUE CONCURRENCY URL...

QUEUE is ``ready`` (the crawl's ``crawler.queues.ReadyHostPriorityQueue`` and robots middleware, as shipped) or
``scrapy`` (Scrapy's own queue and robots middleware); CONCURRENCY is CONCURRENT_REQUESTS. A 503 is retried once
after RETRY_BACKOFF_BASE (the crawl's RetryBackoffMiddleware). For every request that reaches a host's download
slot (robots.txt excepted) it records how long it would wait there for the host's download delay.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess

from crawler.queues import host_wait


BACKOFF = 1.5   # seconds before a retry


def settings_for(queue: str, concurrency: int) -> dict:
    settings = {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "DOWNLOAD_DELAY": 0.4,
        "DOWNLOAD_DELAY_JITTER": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "RETRY_TIMES": 1,
        "RETRY_HTTP_CODES": [503],
        "RETRY_BACKOFF_BASE": BACKOFF,
        "RETRY_BACKOFF_MAX": BACKOFF,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }
    middlewares = {"crawler.middlewares.RetryBackoffMiddleware": 560}
    if queue == "ready":
        settings["SCHEDULER_PRIORITY_QUEUE"] = "crawler.queues.ReadyHostPriorityQueue"
        middlewares.update({"scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
                            "crawler.middlewares.RobotsTxtMiddleware": 100})
    settings["DOWNLOADER_MIDDLEWARES"] = middlewares
    return settings


def main(out_file: str, queue: str, concurrency: str, *urls: str) -> int:
    waits: list[tuple[str, float]] = []
    answered: list[str] = []

    class QueueSpider(scrapy.Spider):
        name = "queue"

        async def start(self):
            for url in urls:
                yield scrapy.Request(url)

        def parse(self, response):
            answered.append(response.url)

    process = CrawlerProcess(settings_for(queue, int(concurrency)))
    crawler = process.create_crawler(QueueSpider)

    def reached(request, spider):
        if not request.url.endswith("/robots.txt"):
            waits.append((request.url, host_wait(crawler.engine.downloader, request)))

    crawler.signals.connect(reached, signal=signals.request_reached_downloader)
    started = time.monotonic()
    process.crawl(crawler)
    process.start()
    Path(out_file).write_text(json.dumps({"waits": waits, "answered": answered,
                                          "seconds": time.monotonic() - started,
                                          "sent_back": crawler.stats.get_value("scheduler/sent_back_for_host", 0)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
