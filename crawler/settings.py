"""Scrapy settings of the ``reports`` crawl: the one place for defaults (``scrapy.cfg`` points here).

Our own settings carry one prefix per component: ``ARCHIVE_*`` (crawler.middlewares: archiving and fetch errors),
``DISCOVERY_*`` (crawler.spiders.reports), ``PARSE_*`` and ``REPORT_*`` (crawler.pipelines), ``SCREENSHOT_*``
(crawler.screenshots), ``PROGRESS_*`` (crawler.run).
Components read them once, in ``from_crawler``, without restating a default: the value here is the default.
``settings_for(config)`` adds what depends on the runtime configuration (the Redis scheduler); it is the only code
here that is not a constant, and Scrapy ignores it (lower case).
"""
from __future__ import annotations

from typing import Any

from crawler import USER_AGENT as PROJECT_USER_AGENT
from storage import screenshots as _screenshots   # lower case: not a setting
from storage.config import CHROMIUM_LAUNCH_OPTIONS

BOT_NAME = "xxgk"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
USER_AGENT = PROJECT_USER_AGENT

# ---------------------------------------------------------------- politeness a webmaster would accept

ROBOTSTXT_OBEY = True            # an agency with `robots: ignore` gets meta dont_obey_robotstxt (see the spider)
CONCURRENT_REQUESTS = 16         # across all hosts: a national crawl spans thousands of portals
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0             # a floor: AutoThrottle never goes below it
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0    # county portals on shared hosting answer in tens of seconds when busy
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# a request leaves the scheduler only when its host may be asked (crawler.queues): waiting for a host's delay
# holds none of the CONCURRENT_REQUESTS places
SCHEDULER_PRIORITY_QUEUE = "crawler.queues.ReadyHostPriorityQueue"
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 50 * 1024 * 1024   # scanned reports reach 30 MB; more is a video or a disk image
DOWNLOAD_WARNSIZE = 20 * 1024 * 1024
# A truncated body is a fetch error (kind "reset"), never a silently short capture.
DOWNLOAD_FAIL_ON_DATALOSS = True
COOKIES_ENABLED = True           # some WAFs set a cookie on the first answer and want it back
REDIRECT_MAX_TIMES = 10          # real chains are short; a longer one is recorded as redirect_loop
TELNETCONSOLE_ENABLED = False    # no listening port in a crawl that runs unattended
# nor Scrapy 2.19's remote control: an HTTP server on localhost that runs the Python sent to it, its token in a job
# file under ~/.local/state/scrapy (left behind by every crawl that is killed)
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

# Retries: the retry middleware re-queues, RetryBackoffMiddleware waits 2**n × base before the n-th retry (in the
# scheduler's queue, crawler.queues: the host is not asked meanwhile).
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 408, 429]
RETRY_BACKOFF_BASE = 2.0         # seconds before the first retry
RETRY_BACKOFF_MAX = 60.0

DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9",
}

# ---------------------------------------------------------------- middlewares, pipeline, reactor, browser

DOWNLOADER_MIDDLEWARES = {
    # outermost: sees only what is left after retries and redirects, so one failure is one error row
    "crawler.middlewares.FetchErrorMiddleware": 40,
    # Scrapy's own, with its waiting for robots.txt fixed (see the class); same place in the chain
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.RobotsTxtMiddleware": 100,
    "crawler.middlewares.RetryBackoffMiddleware": 560,
    # Scrapy's decompression, its failures recorded as the URL's fetch errors (see the class)
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.DecompressionMiddleware": 590,
    # Scrapy's meta refresh, which never replaces a report page (see the class)
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.MetaRefreshMiddleware": 580,
    # innermost (closest to the downloader): every raw response, 3xx and each retried 5xx included, is archived
    # before redirect, retry, decompression or cookies touch it
    "crawler.middlewares.ArchiveMiddleware": 950,
    # a browser render's page watch (crawler.browser): added after the scheduler, so that queued requests pickle
    "crawler.browser.BrowserMiddleware": 960,
}
SPIDER_MIDDLEWARES = {
    # closest to the spider: every listing request it yields joins its column before anything filters it
    "crawler.coverage.CoverageMiddleware": 950,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ParsePipeline": 300,
    "crawler.screenshots.ScreenshotPipeline": 400,   # after the parse: it asks the catalog for the report row
}
# Outputs of one response handled at once. Scrapy starts this many asyncio tasks for every response, whatever it
# yields (py-spy: ~5 of the crawl process's ~40 CPU s at the default 100); a response here yields requests, which
# are only queued, and at most one report item.
CONCURRENT_ITEMS = 8
# A check for spider authors (a generator callback returning a value): Scrapy reads and parses the callback's source
# for it on every response, since its cache is keyed by the bound method, new on each request (py-spy: ~1.6 s of
# the crawl process's reactor on 2,000 responses). The spider's callbacks are tested instead.
WARN_ON_GENERATOR_RETURN_VALUE = False

# scrapy-playwright needs the asyncio reactor; only requests with meta["playwright"] use the browser
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DOWNLOAD_HANDLERS = {
    "http": "crawler.browser.RenderDownloadHandler",    # scrapy-playwright's, each render bounded in time
    "https": "crawler.browser.RenderDownloadHandler",
}
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = CHROMIUM_LAUNCH_OPTIONS   # Debian's Chromium: no `playwright install`
# one Playwright driver and one Chromium per crawl process, for both schemes' handlers and the screenshots
PLAYWRIGHT_BROWSER_PROVIDER = "crawler.chromium.SharedChromium"
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000   # ms
PLAYWRIGHT_MAX_CONTEXTS = 2                      # each context is a few hundred MB of Chromium
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 8   # renders at once (the spider holds the others back): mostly waiting
PLAYWRIGHT_ABORT_REQUEST = "crawler.browser.abort_unneeded"   # no images, media, fonts

# ---------------------------------------------------------------- our components

ARCHIVE_ENABLED = True
ARCHIVE_DURABILITY = "fsync"          # "os" for bulk runs and tests (see storage.archive)
# Group commit (storage.archive): captures share one fsync and one catalog transaction, every N captures or M ms
# after the first of a batch, whichever comes first (benchmarks/storage.py measured the defaults); 1 or 0 commits
# each capture on its own, as before
ARCHIVE_COMMIT_RECORDS = 32
ARCHIVE_COMMIT_MS = 200.0
ARCHIVE_SEGMENT_SIZE = 100 * 1024 * 1024
ARCHIVE_READERS = 2                   # threads for catalog reads (validators, 304 read-backs) beside the writer
ARCHIVE_CONDITIONAL_GET = True        # If-None-Match / If-Modified-Since from the last capture of the URL
ARCHIVE_SCREENSHOTS = True            # screenshots as resource records: each report page as it is parsed
                                      # (SCREENSHOT_*), and a PNG of every browser-rendered listing page
ARCHIVE_RUN_ID = None                 # None starts a new crawl run; an id resumes that run

DISCOVERY_MAX_DEPTH = 3               # homepage → 信息公开 → (sub-section) → report column
DISCOVERY_MAX_COLUMNS = 3             # report-column candidates followed per page, best first
DISCOVERY_MAX_SECTIONS = 3            # 信息公开 sections descended into per page when no column is linked
DISCOVERY_MAX_PAGES = 50              # listing pages followed per column
DISCOVERY_JS_RENDER = True            # allow the browser for column pages without dated items (render: auto/js)
DISCOVERY_JS_WAIT = "load"            # the load event; then DISCOVERY_JS_IDLE of quiet before the DOM is read
DISCOVERY_SEARCH_WORDS = "年度报告"     # typed into a site's own search form when no column is found otherwise
DISCOVERY_MAX_SITEMAPS = 5            # sitemaps read per agency (a sitemap index names more)
DISCOVERY_KNOWN_REPORTS = True        # re-request every known report URL of the crawled agencies (已删除 evidence)
DISCOVERY_JS_IDLE = 0.5               # seconds without a request in flight before a page (or paging step) is read
DISCOVERY_JS_STEP_TIMEOUT = 15.0      # seconds a paging step in the browser may take to go quiet
DISCOVERY_JS_RENDER_TIMEOUT = 90.0    # seconds a render may take in all (load 30, quiet 15, screenshot, a relaunch)

PARSE_ENABLED = True
PARSE_WORKERS = 2                     # processes: parsing a PDF is CPU-bound and must not stall the reactor
PARSE_TIMEOUT = 120.0                 # seconds per document; a parse past it is killed and recorded as an error
PARSE_OCR = True                      # read scanned PDF pages and images by OCR (parsers.formats.ocr)
PARSE_OCR_TIME_BUDGET = 60.0          # seconds of OCR per document: no page is started after it (< PARSE_TIMEOUT)
PARSE_OCR_MAX_PAGES = 30              # scanned pages read per document
# Report rows (crawler.pipelines) are stored in batches, one catalog transaction and one multi-row insert each, every
# N parses or M ms after the first of a batch, whichever comes first: a transaction per report cost the archive's
# writer thread most of its time; 1 or 0 stores each report on its own
REPORT_BATCH_ROWS = 32
REPORT_BATCH_MS = 200.0

# The report pages' screenshots (crawler.screenshots), rendered from the archive while the crawl runs
SCREENSHOT_PAGES = 2                  # pages rendered at once in the crawl's Chromium (a renderer each, ~50 MB)
SCREENSHOT_WIDTH = _screenshots.DEFAULT_SPEC.width       # px: the viewport, and the image (the first screen:
SCREENSHOT_HEIGHT = _screenshots.DEFAULT_SPEC.height     # title, dates, 目录 box)
SCREENSHOT_QUALITY = _screenshots.DEFAULT_SPEC.quality   # JPEG, 1-100
SCREENSHOT_TIMEOUT = _screenshots.DEFAULT_SPEC.timeout   # seconds per page: past it, a recorded failure

PROGRESS_INTERVAL = 1.0               # seconds between progress reports of crawler.run
PROGRESS_SINK = None                  # set by crawler.run: a callable that receives ("progress", CrawlProgress)

XXGK_CONFIG = None                    # set by crawler.run: a storage.config.Config; None reads the XXGK_* environment

# One run over many machines (crawler.frontier; needs XXGK_REDIS_URL): None is a crawl of its own.
FRONTIER_ROLE = None                  # "coordinator" (seeds, judges the end) | "worker" (joins the announced run)
FRONTIER_WORKER = None                # this process's name in the run; None: host:pid (a restart is a new worker)
FRONTIER_TTL = 60.0                   # seconds without a heartbeat before a worker's requests go back to the queue


class SettingError(ValueError):
    """A NAME=VALUE override is malformed; the message quotes it."""


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs (``xxgk crawl --set``) as settings: the value read as JSON when it is JSON
    (numbers, true/false, lists), as a plain string otherwise. Checked before any crawl starts (a bad value
    otherwise failed every request, or every scheduled run, with the crawl still exiting 0): the name must be a
    setting of Scrapy, of this project or of a component it runs (``PLAYWRIGHT_*``, ``REDIS_*``, ``SCHEDULER_*``),
    and the value of the default's kind (a number for a number, true/false for a switch, a list or an object
    for one), never below 0 for a timeout, a delay or a concurrency."""
    import json

    overrides: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isupper() or not name[0].isalpha():
            raise SettingError(f"takes NAME=VALUE with an upper-case Scrapy setting name, not {pair!r}")
        try:
            overrides[name] = json.loads(value)
        except ValueError:
            # Scrapy's own spelling of a switch (``-s AUTOTHROTTLE_ENABLED=False``) is a switch too
            overrides[name] = {"true": True, "false": False}.get(value.strip().lower(), value)
        _check_override(name, overrides[name])
    return overrides


# settings of components that read their own names at run time and list no defaults Scrapy could show
_COMPONENT_PREFIXES = ("PLAYWRIGHT_", "REDIS_", "SCHEDULER_", "DUPEFILTER_")
_NOT_NEGATIVE = ("TIMEOUT", "DELAY", "CONCURRENT")
_MISSING = object()


def _check_override(name: str, value: Any) -> None:
    from scrapy.settings import default_settings

    default = globals().get(name, getattr(default_settings, name, _MISSING))
    if default is _MISSING:
        if name.startswith(_COMPONENT_PREFIXES):
            return
        raise SettingError(f"{name}: no such setting in Scrapy or in this crawler (crawler/settings.py)")
    shown = json_text(value)
    if isinstance(default, bool):
        if not isinstance(value, bool) and value not in (0, 1):
            raise SettingError(f"{name}={shown}: expected true or false")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingError(f"{name}={shown}: expected a number")
        if value < 0 and any(word in name for word in _NOT_NEGATIVE):
            raise SettingError(f"{name}={shown}: expected 0 or more")
    elif isinstance(default, (dict, list, tuple)):
        if not isinstance(value, (dict, list)):
            raise SettingError(f"{name}={shown}: expected a JSON {'object' if isinstance(default, dict) else 'list'}")


def json_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def settings_for(config: Any, frontier_role: str | None = None, run_id: str | None = None) -> dict[str, Any]:
    """Settings that follow from a ``storage.config.Config``: scrapy-redis's scheduler and dupefilter when
    ``XXGK_REDIS_URL`` is set, so that several crawl processes share one queue; with a ``frontier_role``, the
    run's own queue and fingerprints (``xxgk:run:<run id>:*``), kept until the coordinator ends the run."""
    if config is None or not getattr(config, "redis_url", None):
        return {}
    settings = {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": config.redis_url,
        "SCHEDULER_PERSIST": False,   # a finished run leaves no queue behind for the next one to inherit
    }
    if frontier_role:
        if not run_id:
            raise SettingError("FRONTIER_ROLE needs ARCHIVE_RUN_ID: every process of the run names the same run")
        settings.update({
            "SCHEDULER": "crawler.frontier.FrontierScheduler",
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",   # the one crawler.frontier pops from
            "SCHEDULER_QUEUE_KEY": f"xxgk:run:{run_id}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"xxgk:run:{run_id}:dupefilter",
            "SCHEDULER_PERSIST": True,    # one worker closing must not empty the queue the others still use
            "SPIDER_MIDDLEWARES": {**SPIDER_MIDDLEWARES, "crawler.frontier.FrontierMiddleware": 1},
        })
    return settings
