"""The whole pipeline against a bare Scrapy fetch of the same URLs (issue #10): `xxgk crawl` as shipped, run as the
real CLI in a subprocess, beside a minimal Scrapy spider that fetches exactly the URLs the crawl archived.

Run: .venv/bin/python benchmarks/pipeline.py [--agencies 160] [--delay 0.2] [--quick] [--only xxgk|bare]
                                             [--no-polite] [--keep DIR] [--json FILE] [--profile DIR]

The portal set: ``--agencies`` fictional agencies, each on its own loopback address (127.1.X.Y, each with a port of
its own) so that Scrapy's per-host slots, delays and robots.txt behave as across real portals. Each agency is one
of the demo's portal styles (demo/portals.py: TRS in GBK, Hanweb, VSB, a listing filled by JavaScript from JSON,
attachments only; HTML, PDF and DOCX reports) or listing shapes (demo/shapes.py: a script shell paged in Chromium,
an iframe listing, a column reachable only through sections), in turn, with the demo's place names replaced by the
agency's own in every page and document, so that no two agencies serve the same bytes. Every answer waits
``--delay`` seconds first (slow county portals). The demo portals' 500, redirect loop and 5-second page are left
out (their links answer 404): they measure retry policy, not the pipeline; so is the form-posting shape (the bare
spider only GETs).

The runs, one after another over the same portals, each xxgk run into a fresh data directory:

1. ``xxgk crawl`` as shipped: screenshots on, the shipped politeness (1 s floor, AutoThrottle, 2 per host, 16 in all);
2. the bare spider over the URLs run 1 archived (read back with ``xxgk export-warc`` and warcio), same politeness;
   then again with the crawl's scheduler queue and robots middleware (crawler.queues), for comparison only: the
   targets are against Scrapy as it comes;
3. ``xxgk crawl --no-screenshots``, shipped politeness;
4. ``xxgk crawl --no-screenshots`` with politeness off (``--set``: no delay, no AutoThrottle, 64 in all, 8 per host);
5. the bare spider over the URLs run 4 archived, politeness off alike.

Both sides obey robots.txt: the bare spider's own robots.txt fetches stand for the crawl's; it neither retries nor
follows redirects, so each archived response is one request. Walls are whole subprocesses (start-up, crawl,
screenshots, verdicts). Memory is sampled with psutil over the process tree (crawl process, parse pool, Playwright
driver, Chromium): RSS every 0.25 s summed over the processes (an upper bound: shared pages count in each), PSS
every second. Targets (issue #10): shipped crawl ≤ 1.15× the polite bare fetch, politeness off ≤ 2×, peak RSS
< 600 MB, screenshots ≤ 200 KB on average. Exit status 1 when the bare spider did not fetch exactly the archived
URLs.

``--profile DIR`` then looks where the time goes (not timed with the runs above): the politeness-off
``--no-screenshots`` crawl under ``py-spy record --idle --subprocesses --threads`` (each thread's time as working,
in fsync or waiting; the crawl process's time under each suspect of issue #10); the screenshot pass (its first
SCREENSHOT_SAMPLE pages) and the verdicts over that archive with each phase timed, under py-spy; and one-setting
ablations of the politeness-off crawl. The raw stacks and ``profile.txt`` are left in DIR.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, time as day_time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo import portals as demo_portals  # noqa: E402
from demo import shapes as demo_shapes  # noqa: E402
from demo.portals import Resource  # noqa: E402
from demo.server import DemoServer  # noqa: E402
from registry.agencies import Agency, dump_registry  # noqa: E402

MB = 1024 * 1024
TARGETS = {"polite_ratio": 1.15, "off_ratio": 2.0, "peak_rss_mb": 600, "screenshot_kb": 200}

# ---------------------------------------------------------------- the portal set

# One agency per template, in this order, round and round: 2 of 8 read in Chromium (js, shell).
TEMPLATES = ("trs", "hanweb", "vsb", "js", "files", "shell", "iframe", "descent")
_DEMO_STYLES = {agency.style: agency for agency in demo_portals.AGENCIES}
_SHAPES = {"shell": "shape-shell", "iframe": "shape-iframe", "descent": "shape-descent"}
# the names of the demo's fictional places, replaced by each agency's own
_DEMO_PLACES = ("示范区", "样例区", "演示区")
_SHAPE_PLACE = "甲市乙区"
_LEFT_OUT = ("server_error", "redirect_loop")

_FIRST = "东西南北中新清平安永宁和兴长金青白云"
_SECOND = "山川河湖林江城阳泉桥原丰台溪"


def region_name(index: int) -> str:
    """A distinct fictional county or district name per agency (there are 2 × 18 × 14 = 504)."""
    first, rest = divmod(index, len(_SECOND) * 2)
    second, suffix = divmod(rest, 2)
    if first >= len(_FIRST):
        raise ValueError(f"at most {len(_FIRST) * len(_SECOND) * 2} agencies")
    return _FIRST[first] + _SECOND[second] + "区县"[suffix]


@dataclass
class Host:
    """One agency's portal: its template, the loopback address it is served on and what it serves."""

    index: int
    template: str
    region: str
    address: str
    site: dict[str, Resource]
    robots: bytes
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"


def host_address(index: int) -> str:
    return f"127.1.{index // 250}.{index % 250 + 1}"


def build_hosts(count: int) -> list[Host]:
    return [build_host(index, TEMPLATES[index % len(TEMPLATES)]) for index in range(count)]


def build_host(index: int, template: str) -> Host:
    region = region_name(index)
    if template in _DEMO_STYLES:
        site, robots = _demo_site(_DEMO_STYLES[template], region), demo_portals._robots_txt()
    else:
        shape = _shape(template, region)
        site = {path: _swapped(resource, {_SHAPE_PLACE: region})
                for path, resource in demo_shapes._agency_site(shape, 1).items()}
        robots = f"User-agent: *\nDisallow: {demo_shapes.ROBOTS_DISALLOWED}\n".encode()
    return Host(index, template, region, host_address(index), site, robots)


def _shape(template: str, region: str) -> "demo_shapes.ShapeAgency":
    shape = next(agency for agency in demo_shapes.SHAPES if agency.id == _SHAPES[template])
    return replace(shape, name=shape.name.replace(_SHAPE_PLACE, region))


def _demo_site(agency: "demo_portals.AgencySite", region: str) -> dict[str, Resource]:
    swap = dict.fromkeys(_DEMO_PLACES, region)
    left_out = set()
    for page in demo_portals.EXTRA_PAGES:
        if page.agency_id == agency.id and page.kind in _LEFT_OUT:
            left_out |= {page.path, page.loop_partner}
    documents = {}
    for report in demo_portals.REPORTS:
        if report.agency_id == agency.id and report.listed_from_edition == 1:
            documents[report.path] = report
            if report.attachment_path:
                documents[report.attachment_path] = report
    site = {}
    for path, resource in demo_portals._agency_site(agency, 1).items():
        if path in left_out:
            continue
        resource = replace(resource, slow=False)
        if path in documents and not resource.content_type.startswith("text/"):
            site[path] = replace(resource, body=_document(documents[path], resource.content_type, swap))
        else:
            site[path] = _swapped(resource, swap)
    return site


def _document(report: "demo_portals.ReportSpec", content_type: str, swap: dict[str, str]) -> bytes:
    """The report's PDF or DOCX rendered again with the agency's own names (the bytes are compressed: no replace)."""
    from demo.render import render_docx, render_pdf
    from parsers.beijing import BEIJING

    doc = demo_portals.substitute(demo_portals.report_document(report, 1), swap)
    if content_type == demo_portals.CONTENT_TYPES[".docx"]:
        written = datetime.combine(report.signing_date or report.published.date(), day_time(), BEIJING)
        return render_docx(doc, created=written.replace(hour=9), modified=report.published - timedelta(hours=2))
    # as demo.portals renders them: a listed PDF a day before publication, an attachment two days before
    days = 1 if report.formats == ("pdf",) else 2
    return render_pdf(doc, creation_date=report.published - timedelta(days=days))


def _swapped(resource: Resource, swap: dict[str, str]) -> Resource:
    if not resource.body or not resource.content_type.startswith(("text/", "application/json")):
        return resource
    charset = "gbk" if "gbk" in resource.content_type.lower() else "utf-8"
    text = resource.body.decode(charset)
    for old, new in swap.items():
        text = text.replace(old, new)
    return replace(resource, body=text.encode(charset))


def registry_entry(host: Host) -> Agency:
    """The agency as the registry names it: the demo's entry with the region replaced, at the host's address."""
    if host.template in _DEMO_STYLES:
        template = _DEMO_STYLES[host.template]
        agency = next(entry for entry in demo_portals.DemoPortals().registry(host.base_url) if entry.id == template.id)
        swap = lambda text: _replace_all(text, dict.fromkeys(_DEMO_PLACES, host.region))  # noqa: E731
    else:
        agency = next(entry for entry in demo_shapes.ShapePortals().registry(host.base_url)
                      if entry.id == _SHAPES[host.template])
        swap = lambda text: text.replace(_SHAPE_PLACE, host.region)  # noqa: E731
    return replace(agency, id=f"bench-{host.index:03d}-{host.template}", name=swap(agency.name),
                   aliases=tuple(swap(alias) for alias in agency.aliases), parent=None, region=None)


def _replace_all(text: str, swap: dict[str, str]) -> str:
    for old, new in swap.items():
        text = text.replace(old, new)
    return text


class HostSite:
    """What ``demo.server.DemoServer`` serves for one host: its site and its robots.txt."""

    edition = 1
    answers_post = False

    def __init__(self, host: Host):
        self.host = host

    def site(self) -> dict[str, Resource]:
        return self.host.site

    def resource(self, target: str, method: str = "GET", body: bytes = b"") -> Resource | None:
        from urllib.parse import urlsplit

        path = urlsplit(target).path or "/"
        if path == "/robots.txt":
            return Resource(200, self.host.robots, "text/plain; charset=utf-8")
        if path.endswith("/"):
            path += "index.html"
        query = urlsplit(target).query
        if query:
            found = self.host.site.get(f"{path}?{query}")
            # as demo.portals answers: a page number that does not exist is a 404, other queries are ignored
            if found is not None or re.search(r"(?:^|&)page=", query):
                return found
        return self.host.site.get(path)


class DelayedServer(DemoServer):
    """The demo server, answering each request only after ``delay`` seconds."""

    def __init__(self, host: Host, delay: float):
        super().__init__(HostSite(host), host=host.address, port=0)
        self.delay = delay

    def _snapshot(self):
        # called once at the start of every answer, in the connection's own thread: the one place to wait
        if self.delay:
            self._stopping.wait(self.delay)
        return super()._snapshot()


class Portals:
    """Every host's server, started together."""

    def __init__(self, hosts: list[Host], delay: float):
        self.hosts = hosts
        self.servers = []
        for host in hosts:
            server = DelayedServer(host, delay).start()
            host.port = server.port
            self.servers.append(server)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def requests(self) -> int:
        return sum(len(server.requests) for server in self.servers)


# ---------------------------------------------------------------- running a process tree and measuring it

@dataclass
class Measured:
    wall: float
    returncode: int
    peak_rss: int = 0            # bytes, summed over the tree at its peak
    peak_chromium: int = 0       # … of which Chromium processes
    peak_processes: int = 0      # processes in the tree at the peak
    peak_pss: int = 0            # bytes: the tree's proportional set size at its peak (shared pages split)
    cpu: float = 0.0             # user + system seconds of the whole tree (every descendant is reaped)
    peak_parts: dict[str, int] = field(default_factory=dict)   # RSS at the peak by kind of process
    cpu_parts: dict[str, float] = field(default_factory=dict)  # CPU seconds by kind of process (last sample of each)
    load: tuple[float, float] = (0.0, 0.0)   # the machine's 1-minute load average at the start and at the end


class TreeSampler(threading.Thread):
    """Peak memory of a process and all its descendants: RSS every ``interval`` seconds (cheap), PSS every
    ``pss_every``-th time (it reads /proc/PID/smaps_rollup, ~2 ms a process)."""

    def __init__(self, pid: int, interval: float = 0.25, pss_every: int = 4):
        super().__init__(daemon=True)
        self.pid, self.interval, self.pss_every = pid, interval, pss_every
        self.done = threading.Event()
        self.peak, self.peak_chromium, self.peak_processes, self.peak_pss = 0, 0, 0, 0
        self.peak_parts: dict[str, int] = {}
        self._cpu: dict[int, tuple[str, float]] = {}   # pid -> (kind, CPU seconds at its last sample)

    @property
    def cpu_parts(self) -> dict[str, float]:
        """CPU seconds by kind of process, as last sampled (a process's last ``interval`` before it exits is
        missed: the tree's total from getrusage is the exact figure)."""
        parts: collections.Counter = collections.Counter()
        for kind, seconds in self._cpu.values():
            parts[kind] += seconds
        return dict(parts)

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        tick = 0
        while not self.done.is_set():
            total = chromium = count = pss = 0
            parts: collections.Counter = collections.Counter()
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in tree:
                try:
                    rss = process.memory_info().rss
                    kind = self._kind(process, root.pid)
                    times = process.cpu_times()
                    self._cpu[process.pid] = (kind, times.user + times.system)
                    if tick % self.pss_every == 0:
                        pss += process.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                count += 1
                parts[kind] += rss
                if kind == "Chromium":
                    chromium += rss
            if total > self.peak:
                self.peak, self.peak_chromium, self.peak_processes = total, chromium, count
                self.peak_parts = dict(parts)
            self.peak_pss = max(self.peak_pss, pss)
            tick += 1
            self.done.wait(self.interval)

    @staticmethod
    def _kind(process, root: int) -> str:
        name = process.name()
        arguments = process.cmdline()
        # Chromium's utility processes are named "exe" (started as /proc/self/exe), Playwright's driver "node-MainThread"
        if "chrom" in name or any(part.startswith("--type=") for part in arguments[1:]):
            return "Chromium"
        if name.startswith("node"):
            return "Playwright driver"
        if process.pid == root:
            return "main process"
        if "resource_tracker" in " ".join(arguments):
            return "other"
        # multiprocessing children: the crawl process is the main process's child, the parse pool its children
        return "crawl process" if process.ppid() == root else "parse workers"


def run_measured(command: list[str], env: dict[str, str], log_dir: Path, name: str) -> Measured:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.monotonic()
    with open(log_dir / f"{name}.stdout", "wb") as out, open(log_dir / f"{name}.stderr", "wb") as err:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err, cwd=log_dir)
        sampler = TreeSampler(child.pid)
        sampler.start()
        returncode = child.wait()
    wall = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(wall, returncode, sampler.peak, sampler.peak_chromium, sampler.peak_processes, sampler.peak_pss,
                    cpu, sampler.peak_parts, sampler.cpu_parts, (load, os.getloadavg()[0]))


def child_env(data_dir: Path | None = None) -> dict[str, str]:
    """This checkout's code (the venv's editable install may point at another), a data directory of its own and
    none of the caller's XXGK_* settings (an S3 endpoint or Redis would change what is measured)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("XXGK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    if data_dir is not None:
        env["XXGK_DATA_DIR"] = str(data_dir)
    return env


def venv_bin(program: str) -> Path:
    return Path(sys.executable).parent / program


# ---------------------------------------------------------------- the xxgk side

# Politeness off, for both sides: no delay floor, no AutoThrottle, a high concurrency.
POLITENESS_OFF = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 64,
                  "CONCURRENT_REQUESTS_PER_DOMAIN": 8}


@dataclass
class XxgkRun:
    label: str
    measured: Measured
    crawl_seconds: float | None          # the crawl phase, as the CLI's summary states it (用时)
    archived: list[str] = field(default_factory=list)   # target URI of every response and revisit record
    warc_bytes: int = 0                  # WARC segments the run left in the object directory
    finished: dict = field(default_factory=dict)   # finish_times(): when each template's hosts were done
    data_dir: Path | None = None
    screenshots: int = 0
    screenshot_bytes: int = 0
    summary: str = ""


def xxgk_command(registry: Path, screenshots: bool, polite: bool) -> list[str]:
    command = [str(venv_bin("xxgk")), "crawl", "--registry", str(registry), "--quiet"]
    if not screenshots:
        command.append("--no-screenshots")
    if not polite:
        for name, value in POLITENESS_OFF.items():
            command += ["--set", f"{name}={json.dumps(value)}"]
    return command


def run_xxgk(label: str, registry: Path, work: Path, *, screenshots: bool, polite: bool) -> XxgkRun:
    data_dir = work / label
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    print(f"  {label}: {' '.join(xxgk_command(registry, screenshots, polite)[1:])}", file=sys.stderr, flush=True)
    measured = run_measured(xxgk_command(registry, screenshots, polite), child_env(data_dir), data_dir, "xxgk")
    stdout = (data_dir / "xxgk.stdout").read_text("utf-8", "replace")
    if measured.returncode != 0:
        stderr = (data_dir / "xxgk.stderr").read_text("utf-8", "replace")
        raise SystemExit(f"{label}: xxgk crawl exited {measured.returncode}\n{stdout}\n{stderr[-3000:]}")
    found = re.search(r"用时 ([\d.]+) 秒", stdout)
    run = XxgkRun(label, measured, float(found.group(1)) if found else None,
                  summary=" ".join(stdout.splitlines()[:2]), data_dir=data_dir)
    read_archive(run, data_dir)
    return run


def read_archive(run: XxgkRun, data_dir: Path) -> None:
    """What the run archived, read back as a user would: ``xxgk export-warc --all``, then warcio."""
    from warcio.archiveiterator import ArchiveIterator

    export = data_dir / "export.warc.gz"
    done = subprocess.run([str(venv_bin("xxgk")), "export-warc", "--all", str(export)], env=child_env(data_dir),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{run.label}: xxgk export-warc failed: {done.stderr.strip()}")
    with open(export, "rb") as stream:
        for record in ArchiveIterator(stream):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            if record.rec_type in ("response", "revisit") and uri.startswith("http"):
                run.archived.append(uri)
            elif record.rec_type == "resource" and uri.startswith("urn:screenshot:"):
                run.screenshots += 1
                run.screenshot_bytes += len(record.content_stream().read())
    run.warc_bytes = sum(path.stat().st_size for path in (data_dir / "objects").rglob("*")
                         if path.is_file() and ".warc" in path.name)
    export.unlink()


# ---------------------------------------------------------------- the bare side

def bare_settings(polite: bool, host_queue: bool = False) -> dict:
    """The crawl's own politeness (read from crawler.settings, so the two cannot drift apart), and nothing else:
    no archive, no parsing, no browser; no retries or redirects, so each archived record is one request. With
    ``host_queue``, also the crawl's scheduler queue and robots middleware (crawler.queues): the same bare fetch
    without requests waiting for their host inside the downloader."""
    from crawler import settings as shipped

    names = ("ROBOTSTXT_OBEY", "CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY",
             "AUTOTHROTTLE_ENABLED", "AUTOTHROTTLE_START_DELAY", "AUTOTHROTTLE_MAX_DELAY",
             "AUTOTHROTTLE_TARGET_CONCURRENCY", "DOWNLOAD_TIMEOUT", "DOWNLOAD_MAXSIZE", "USER_AGENT",
             "DEFAULT_REQUEST_HEADERS", "COOKIES_ENABLED", "TWISTED_REACTOR")
    settings = {name: getattr(shipped, name) for name in names}
    settings.update({"RETRY_ENABLED": False, "REDIRECT_ENABLED": False, "HTTPERROR_ALLOW_ALL": True,
                     "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
                     "REMOTE_CONTROL_ENABLED": False})
    if host_queue:
        settings.update({"SCHEDULER_PRIORITY_QUEUE": shipped.SCHEDULER_PRIORITY_QUEUE,
                         "DOWNLOADER_MIDDLEWARES": {
                             "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
                             "crawler.middlewares.RobotsTxtMiddleware":
                                 shipped.DOWNLOADER_MIDDLEWARES["crawler.middlewares.RobotsTxtMiddleware"]}})
    if not polite:
        settings.update(POLITENESS_OFF)
    return settings


def bare_child(urls_file: str, settings_file: str, out_file: str) -> int:
    """The bare spider, in its own process (Scrapy's reactor starts once per process): fetch the URLs, keep
    nothing but which URLs answered."""
    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    urls = json.loads(Path(urls_file).read_text())
    fetched: list[str] = []

    class BareSpider(scrapy.Spider):
        name = "bare"

        async def start(self):
            for url in urls:
                yield scrapy.Request(url, dont_filter=True)

        def parse(self, response):
            return None

    process = CrawlerProcess(json.loads(Path(settings_file).read_text()))
    crawler = process.create_crawler(BareSpider)
    def received(response, request, spider):
        fetched.append(response.url)

    # a named function that lives as long as the crawl: Scrapy holds signal receivers by weak reference
    crawler.signals.connect(received, signal=signals.response_received)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    Path(out_file).write_text(json.dumps({"fetched": fetched, "seconds": stats.get("elapsed_time_seconds"),
                                          "errors": stats.get("downloader/exception_count", 0)}))
    return 0


@dataclass
class BareRun:
    label: str
    measured: Measured
    fetched: list[str]
    errors: int


def run_bare(label: str, urls: list[str], work: Path, *, polite: bool, host_queue: bool = False) -> BareRun:
    folder = work / label
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # robots.txt is fetched by Scrapy's own robots middleware, once per host, as the crawl fetched it
    wanted = [url for url in urls if not url.endswith("/robots.txt")]
    (folder / "urls.json").write_text(json.dumps(wanted))
    (folder / "settings.json").write_text(json.dumps(bare_settings(polite, host_queue)))
    print(f"  {label}: bare Scrapy, {len(wanted)} URLs + robots.txt", file=sys.stderr, flush=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--bare-child", str(folder / "urls.json"),
               str(folder / "settings.json"), str(folder / "result.json")]
    measured = run_measured(command, child_env(), folder, "bare")
    if measured.returncode != 0:
        raise SystemExit(f"{label}: the bare spider exited {measured.returncode}: "
                         f"{(folder / 'bare.stderr').read_text('utf-8', 'replace')[-3000:]}")
    result = json.loads((folder / "result.json").read_text())
    return BareRun(label, measured, result["fetched"], int(result["errors"]))


# ---------------------------------------------------------------- the table

def finish_times(data_dir: Path, hosts: list[Host]) -> dict[str, tuple[float, float, float]]:
    """Per portal template: when its hosts were done (their last capture), in seconds after the run's first
    capture: (first host, median host, last host). Read from the run's SQLite catalog, which is the default."""
    import sqlite3
    from urllib.parse import urlsplit

    template = {host.address: host.template for host in hosts}
    with sqlite3.connect(data_dir / "catalog.sqlite3") as connection:
        rows = connection.execute("SELECT url, timestamp FROM captures WHERE record_type != 'resource'").fetchall()
    moments = [(urlsplit(url).hostname, datetime.fromisoformat(stamp)) for url, stamp in rows]
    start = min(moment for _, moment in moments)
    last: dict[str, float] = {}
    for host, moment in moments:
        if host in template:
            last[host] = max(last.get(host, 0.0), (moment - start).total_seconds())
    spans: dict[str, list[float]] = collections.defaultdict(list)
    for host, seconds in last.items():
        spans[template[host]].append(seconds)
    return {name: (min(v), sorted(v)[len(v) // 2], max(v)) for name, v in spans.items()}


def finish_line(times: dict[str, tuple[float, float, float]]) -> str:
    return "  hosts done (s after the first capture, median/last): " + ", ".join(
        f"{name} {middle:.0f}/{last:.0f}" for name, (_, middle, last) in sorted(times.items(), key=lambda i: i[1][2]))

def same_urls(archived: list[str], fetched: list[str]) -> tuple[bool, str]:
    """Whether the bare spider fetched exactly the archived URLs, as many times each; the difference if not."""
    want, got = collections.Counter(archived), collections.Counter(fetched)
    if want == got:
        return True, f"yes ({sum(got.values())} fetches of {len(got)} URLs)"
    missing, extra = want - got, got - want
    sample = ", ".join(sorted(missing)[:3] + [f"+{url}" for url in sorted(extra)[:3]])
    return False, f"NO: {sum(missing.values())} archived not fetched, {sum(extra.values())} fetched not archived ({sample})"


def _row(label: str, measured: Measured, pages: int, crawl: float | None = None) -> str:
    rate = pages / measured.wall if measured.wall else 0.0
    crawl_text = f"{crawl:8.1f}" if crawl is not None else f"{'':>8}"
    return (f"{label:<42} {measured.wall:8.1f} {crawl_text} {pages:6d} {rate:8.1f} {measured.cpu:7.1f} "
            f"{measured.peak_rss / MB:7.0f} {measured.peak_chromium / MB:7.0f} {measured.peak_pss / MB:7.0f} "
            f"{measured.peak_processes:5d} {measured.load[0]:5.1f}-{measured.load[1]:.1f}")


def _verdict(value: float, limit: float, below: bool = True) -> str:
    met = value <= limit if below else value < limit
    return "met" if met else "NOT met"


def report(hosts: list[Host], delay: float, runs: dict, checks: list[str]) -> tuple[str, dict]:
    for run in runs.values():
        if isinstance(run, XxgkRun) and not run.finished and (run.data_dir / "catalog.sqlite3").exists():
            run.finished = finish_times(run.data_dir, hosts)
    """The printed table and the same figures as JSON."""
    lines, figures = [], {"agencies": len(hosts), "delay": delay, "runs": {}, "checks": checks}
    templates = collections.Counter(host.template for host in hosts)
    lines.append(f"portals: {len(hosts)} agencies on 127.1.x.y ({', '.join(f'{k} {v}' for k, v in templates.items())}),"
                 f" every answer delayed {delay:g} s")
    lines.append(f"{'run':<42} {'wall s':>8} {'crawl s':>8} {'pages':>6} {'pages/s':>8} {'CPU s':>7} "
                 f"{'RSS MB':>7} {'Chrom.':>7} {'PSS MB':>7} {'procs':>5} {'load':>5}")
    names = {"xxgk": "xxgk crawl (shipped: screenshots, polite)", "bare": "bare Scrapy, same politeness",
             "bare_queue": "bare Scrapy, same politeness, xxgk's queue",
             "xxgk_noshots": "xxgk crawl --no-screenshots, polite",
             "xxgk_off": "xxgk crawl --no-screenshots, politeness off", "bare_off": "bare Scrapy, politeness off"}
    for key, name in names.items():
        run = runs.get(key)
        if run is None:
            continue
        pages = len(run.archived) if isinstance(run, XxgkRun) else len(run.fetched)
        crawl = run.crawl_seconds if isinstance(run, XxgkRun) else None
        lines.append(_row(name, run.measured, pages, crawl))
        if isinstance(run, XxgkRun) and run.finished:
            lines.append(finish_line(run.finished))
        entry = {"wall": round(run.measured.wall, 2), "pages": pages, "cpu": round(run.measured.cpu, 1),
                 "peak_rss_mb": round(run.measured.peak_rss / MB), "peak_chromium_mb":
                 round(run.measured.peak_chromium / MB), "peak_pss_mb": round(run.measured.peak_pss / MB),
                 "processes_at_peak": run.measured.peak_processes, "load": run.measured.load,
                 "rss_at_peak_mb": {kind: round(rss / MB) for kind, rss in run.measured.peak_parts.items()},
                 "cpu_seconds_by_part": {kind: round(seconds, 1) for kind, seconds in run.measured.cpu_parts.items()}}
        if isinstance(run, XxgkRun):
            entry.update(crawl_phase=run.crawl_seconds, warc_bytes=run.warc_bytes, screenshots=run.screenshots,
                         hosts_done={name: [round(x, 1) for x in span] for name, span in run.finished.items()},
                         screenshot_bytes=run.screenshot_bytes, summary=run.summary)
        else:
            entry.update(fetch_errors=run.errors)
        figures["runs"][key] = entry
    lines.append("(wall: the whole subprocess; crawl: the crawl phase as `xxgk crawl` states it, the rest is the "
                 "screenshot pass, verdicts and start-up; CPU: user+system seconds of the process tree; RSS: the "
                 "tree's peak summed over its processes (shared pages counted in each), Chromium's part of it; "
                 "PSS: the tree's peak with shared pages split; procs: processes at the RSS peak; load: the machine's "
                 "1-minute load average at the start and the end of the run)")
    ratio_lines = []

    def ratio(key: str, base: str, label: str, target: float | None) -> None:
        if key in runs and base in runs:
            value = runs[key].measured.wall / runs[base].measured.wall
            figures[f"ratio_{key}"] = round(value, 2)
            aim = f"target ≤ {target:g}×: {_verdict(value, target)}" if target else "(no target)"
            ratio_lines.append(f"{label:<52} {value:6.2f}×   {aim}")

    ratio("xxgk", "bare", "xxgk crawl (shipped) / bare, polite", TARGETS["polite_ratio"])
    ratio("xxgk_noshots", "bare", "xxgk crawl --no-screenshots / bare, polite", None)
    ratio("xxgk", "bare_queue", "xxgk crawl (shipped) / bare with xxgk's queue", None)
    ratio("xxgk_noshots", "bare_queue", "xxgk crawl --no-screenshots / bare with xxgk's queue", None)
    ratio("xxgk_off", "bare_off", "xxgk crawl --no-screenshots / bare, politeness off", TARGETS["off_ratio"])
    lines += ratio_lines
    shipped = runs.get("xxgk")
    if shipped is not None:
        for what, peak in (("RSS", shipped.measured.peak_rss / MB), ("PSS", shipped.measured.peak_pss / MB)):
            lines.append(f"{f'peak {what} of the shipped crawl (process tree)':<52} {peak:6.0f} MB  target < "
                         f"{TARGETS['peak_rss_mb']} MB: {_verdict(peak, TARGETS['peak_rss_mb'], below=False)}")
        parts = sorted(shipped.measured.peak_parts.items(), key=lambda item: -item[1])
        lines.append("  RSS at the peak: " + ", ".join(f"{kind} {rss / MB:.0f} MB" for kind, rss in parts))
        cpu = sorted(shipped.measured.cpu_parts.items(), key=lambda item: -item[1])
        lines.append("  CPU by part: " + ", ".join(f"{kind} {seconds:.0f} s" for kind, seconds in cpu))
        if shipped.screenshots:
            average = shipped.screenshot_bytes / shipped.screenshots / 1024
            lines.append(f"{'screenshots: ' + str(shipped.screenshots) + ', average size':<52} {average:6.0f} KB  "
                         f"target ≤ {TARGETS['screenshot_kb']} KB: {_verdict(average, TARGETS['screenshot_kb'])}")
    for key in ("xxgk", "xxgk_noshots", "xxgk_off"):
        run = runs.get(key)
        if run is not None and run.archived:
            lines.append(f"{'archive bytes per page, ' + names[key]:<52} {run.warc_bytes / len(run.archived):8.0f} B "
                         f"({run.warc_bytes / MB:.1f} MB for {len(run.archived)} pages)")
    lines += [f"same URLs: {check}" for check in checks]
    return "\n".join(lines), figures


# ---------------------------------------------------------------- where the time goes (--profile)

SAMPLE_RATE = 50   # py-spy samples per second: one sample of a thread stands for 1/50 s of it
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
# the call a thread's top frame sits on when it waits rather than works (py-spy --idle samples waiting threads too)
_WAITING = re.compile(r"\b(select|poll|wait|wait_for|sleep|acquire|__enter__|waitpid|_recv|recv|recv_bytes|get|accept|"
                      r"join|readline|readinto|read|_wait_for_tstate_lock|run_until_complete)\(|^\s*for line in f:")


@dataclass
class Sample:
    process: str          # py-spy's chain of `process PID:"command"` frames, outermost first
    thread: str           # `thread (ID)`
    name: str             # the thread's name when py-spy gives it (`thread (ID): NAME`), else ""
    frames: list[str]     # `function (file:line)`, outermost first
    count: int


def read_stacks(raw: Path) -> list[Sample]:
    """py-spy's raw output (``--subprocesses --threads --full-filenames``), one Sample a line."""
    samples = []
    for line in raw.read_text("utf-8", "replace").splitlines():
        text, _, count = line.rpartition(" ")
        if not text or not count.isdigit():
            continue
        parts = _split_frames(text)
        own = max((i for i, frame in enumerate(parts) if frame.startswith("process ")), default=-1)
        process, rest = ";".join(parts[:own + 1]), parts[own + 1:]
        thread = rest.pop(0) if rest and rest[0].startswith("thread (") else ""
        ident, _, name = thread.partition(": ")
        samples.append(Sample(process, ident, name, rest, int(count)))
    return samples


def _split_frames(text: str) -> list[str]:
    """Split on ';' except inside a process frame's quoted command line (``-c "…; spawn_main(…)"``)."""
    parts: list[str] = []
    for piece in text.split(";"):
        if parts and parts[-1].startswith("process ") and parts[-1].count('"') % 2 == 1:
            parts[-1] += ";" + piece
        else:
            parts.append(piece)
    return parts


def _file_line(frame: str) -> tuple[str, int]:
    found = _FRAME.match(frame)
    return (found.group("file"), int(found.group("line") or 0)) if found else ("", 0)


def _short(path: str) -> str:
    import site
    import sysconfig

    roots = [str(ROOT), *site.getsitepackages(), sysconfig.get_paths()["stdlib"], str(Path(sys.executable).parent.parent)]
    # the venv may be a symlink: py-spy reports the paths as the processes resolved them
    prefixes = sorted({f"{path}/" for root in roots for path in (root, os.path.realpath(root))}, key=len, reverse=True)
    return next((path[len(prefix):] for prefix in prefixes if path.startswith(prefix)), path)


def _key(frame: str) -> str:
    """``function (file)``, the file shortened: one key for every line of a function."""
    found = _FRAME.match(frame)
    return f"{found.group('function')} ({_short(found.group('file'))})" if found else frame


def kind_of(sample: Sample) -> str:
    """``fsync`` (the thread is in os.fsync), ``waiting`` (blocked in a wait, a select, a queue) or ``working``,
    read from the source line the top frame is on."""
    import linecache

    if not sample.frames:
        return "waiting"
    path, line = _file_line(sample.frames[-1])
    source = linecache.getline(path, line)
    if "fsync(" in source:
        return "fsync"
    return "waiting" if _WAITING.search(source) else "working"


def _roles(samples: list[Sample]) -> dict[tuple[str, str], str]:
    """A name for each thread: which process (by what it runs) and what the thread does."""
    seen: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    names: dict[tuple[str, str], str] = {}
    for sample in samples:
        seen[(sample.process, sample.thread)] |= {_key(frame) for frame in sample.frames}
        if sample.name:
            names[(sample.process, sample.thread)] = sample.name
    processes: dict[str, str] = {}
    for (process, _), keys in seen.items():
        text = " ".join(keys)
        if process.count("process ") == 1:
            processes[process] = "xxgk CLI"
        elif "_child_main (crawler/run.py)" in text:
            processes[process] = "crawl process"
        elif "parse_in_worker (crawler/parse_worker.py)" in text or "_process_worker" in text:
            processes.setdefault(process, "parse worker")
    roles = {}
    for (process, thread), keys in seen.items():
        text, name = " ".join(keys), names.get((process, thread), "")
        owner = processes.get(process, "other process")
        if name == "MainThread":
            what = "main thread"
        elif name.startswith("xxgk-archive-read"):   # crawler.middlewares.CrawlArchive's thread names
            what = "archive readers"
        elif name.startswith("xxgk-archive") or "Archive.record_fetch (storage/archive.py)" in text:
            what = "archive writer"
        elif "scrapy_playwright" in text or "playwright" in text:
            what = "Playwright"
        else:
            what = "other threads"
        roles[(process, thread)] = f"{owner}: {what}"
    return roles


# What the crawl is suspected of spending its time on (issue #10), as frames a sample passes through.
CATEGORIES = (
    ("fsync of each WARC record group (spool)", lambda s, k, f: k == "fsync"),
    ("catalog commits (SQLAlchemy → SQLite COMMIT)", lambda s, k, f: "do_commit (" in f),
    ("all catalog work (SQLAlchemy)", lambda s, k, f: "(sqlalchemy/" in f),
    ("WARC writing (storage/warc.py, gzip members)", lambda s, k, f: "(storage/warc.py)" in f),
    ("archiving a response (Archive.record_fetch)", lambda s, k, f: "Archive.record_fetch (" in f),
    ("discovery over each page (parsers/discovery.py)", lambda s, k, f: "(parsers/discovery.py)" in f),
    ("  of it find_listing_items", lambda s, k, f: "find_listing_items (parsers/discovery.py)" in f),
    ("  of it find_pagination", lambda s, k, f: "find_pagination (parsers/discovery.py)" in f),
    ("  of it needs_javascript", lambda s, k, f: "needs_javascript (parsers/discovery.py)" in f),
    ("  of it find_json_endpoints", lambda s, k, f: "find_json_endpoints (parsers/discovery.py)" in f),
    ("HTML trees (parsers/formats/page.py)", lambda s, k, f: "(parsers/formats/page.py)" in f),
    ("the spider's callbacks (crawler/spiders/reports.py)", lambda s, k, f: "(crawler/spiders/reports.py)" in f),
    ("column coverage (crawler/coverage.py)", lambda s, k, f: "(crawler/coverage.py)" in f),
    ("parse pool round trip, crawl side (crawler/pipelines.py)", lambda s, k, f: "(crawler/pipelines.py)" in f),
    ("browser rendering and paging (scrapy-playwright, crawler/paging.py, browser.py)",
     lambda s, k, f: "scrapy_playwright" in f or "(crawler/paging.py)" in f or "(crawler/browser.py)" in f),
    ("start-up imports", lambda s, k, f: "_find_and_load (" in f),
)


def crawl_profile(raw: Path, wall: float) -> str:
    """The crawl profile as text: each thread's time (working, in fsync, waiting), the crawl process's time by
    suspect, the archive writer's time by what it does, the top functions."""
    samples = read_stacks(raw)
    roles = _roles(samples)
    per_thread: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    threads_per_role: dict[str, set] = collections.defaultdict(set)
    own, inclusive = collections.Counter(), collections.Counter()
    categories: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    waits: collections.Counter = collections.Counter()
    writer: collections.Counter = collections.Counter()
    per_role: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for sample in samples:
        role = roles[(sample.process, sample.thread)]
        kind = kind_of(sample)
        per_thread[role][kind] += sample.count
        threads_per_role[role].add((sample.process, sample.thread))
        keys = [_key(frame) for frame in sample.frames]
        joined = ";".join(keys)
        if kind == "waiting":
            waits[keys[-1] if keys else "?"] += sample.count
            if role.endswith("archive writer"):
                writer["waiting for work"] += sample.count
            continue
        if keys:
            own[keys[-1]] += sample.count
        for key in set(keys):
            if key.endswith(")") and any(f"({d}" in key for d in ("parsers/", "storage/", "registry/", "crawler/",
                                                                      "monitor/", "cli/")):
                inclusive[key] += sample.count
                per_role[role][key] += sample.count
        process = role.split(":")[0]
        for name, test in CATEGORIES:
            if test(sample, kind, joined):
                categories[name][process] += sample.count
        if role.endswith("archive writer"):
            writer[_writer_part(kind, joined)] += sample.count

    def seconds(count: int) -> str:
        return f"{count / SAMPLE_RATE:7.1f}"

    lines = [f"wall of the profiled run: {wall:.1f} s; every thread sampled {SAMPLE_RATE}×/s (py-spy --idle), so "
             f"the seconds below are thread time", "",
             f"{'thread':<44} {'n':>3} {'total s':>7} {'working':>7} {'fsync':>7} {'waiting':>7}"]
    for role, kinds in sorted(per_thread.items(), key=lambda item: -item[1]["working"]):
        lines.append(f"{role:<44} {len(threads_per_role[role]):3d} {seconds(sum(kinds.values()))} "
                     f"{seconds(kinds['working'])} {seconds(kinds['fsync'])} {seconds(kinds['waiting'])}")
    crawl_working = sum(kinds["working"] + kinds["fsync"] for role, kinds in per_thread.items()
                        if role.startswith("crawl process"))
    lines += ["", f"the suspects: thread seconds working (or in fsync) under each, by process; share of the crawl "
                  f"process's {crawl_working / SAMPLE_RATE:.1f} s",
              f"{'':<62} {'crawl s':>7} {'share':>6} {'parse s':>7} {'CLI s':>7}"]
    for name, _ in CATEGORIES:
        found = categories.get(name, collections.Counter())
        crawl = found.get("crawl process", 0)
        lines.append(f"{name:<62} {seconds(crawl)} {100 * crawl / max(crawl_working, 1):5.1f}% "
                     f"{seconds(found.get('parse worker', 0))} {seconds(found.get('xxgk CLI', 0))}")
    lines += ["", "the archive writer thread (every capture's WARC write, fsync and catalog row pass through it):"]
    lines += [f"  {seconds(count)} s  {part}" for part, count in writer.most_common()]
    for role in ("crawl process: archive writer", "crawl process: main thread"):
        lines += ["", f"{role}: top project functions by working samples under them"]
        lines += [f"  {seconds(count)} s  {name}" for name, count in per_role[role].most_common(15)]
    lines += ["", "top 25 functions by own working samples (the frame on top), all processes:"]
    total = sum(own.values()) or 1
    lines += [f"  {seconds(count)} s {100 * count / total:5.1f}%  {name}" for name, count in own.most_common(25)]
    lines += ["", "top 30 project functions by working samples under them (themselves and what they call):"]
    lines += [f"  {seconds(count)} s {100 * count / total:5.1f}%  {name}" for name, count in inclusive.most_common(30)]
    lines += ["", "what waiting threads were blocked in (top frame), for the record:"]
    lines += [f"  {seconds(count)} s  {name}" for name, count in waits.most_common(8)]
    return "\n".join(lines) + "\n"


def _writer_part(kind: str, joined: str) -> str:
    if kind == "fsync":
        return "fsync"
    if "do_commit (" in joined:
        return "catalog COMMIT"
    if "(sqlalchemy/" in joined:
        return "catalog statements (SQLAlchemy)"
    if "(storage/warc.py)" in joined:
        return "building and compressing WARC records"
    return "other work"


def cpu_profile(raw: Path, title: str, top: int = 25) -> str:
    """A profile without --idle, of one process tree: top functions by own and by total samples."""
    samples = read_stacks(raw)
    own, inclusive = collections.Counter(), collections.Counter()
    for sample in samples:
        if kind_of(sample) == "waiting":   # py-spy takes a few waits for work
            continue
        keys = [_key(frame) for frame in sample.frames]
        if keys:
            own[keys[-1]] += sample.count
        for key in set(keys):
            if any(f"({d}" in key for d in ("parsers/", "storage/", "registry/", "crawler/", "monitor/", "cli/")):
                inclusive[key] += sample.count
    total = sum(own.values()) or 1
    lines = [title, f"{total} samples = {total / SAMPLE_RATE:.1f} s of working thread time", "",
             f"top {top} functions by own samples:"]
    lines += [f"  {count / SAMPLE_RATE:7.1f} s {100 * count / total:5.1f}%  {name}" for name, count in own.most_common(top)]
    lines += ["", f"top {top} project functions by samples under them:"]
    lines += [f"  {count / SAMPLE_RATE:7.1f} s {100 * count / total:5.1f}%  {name}"
              for name, count in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def py_spy(command: list[str], raw: Path, env: dict[str, str], cwd: Path, *, idle: bool) -> float:
    """Run ``command`` under py-spy (every subprocess, thread ids, full file names); returns its wall."""
    spy = [str(venv_bin("py-spy")), "record", "--subprocesses", "--threads", "--full-filenames",
           "--rate", str(SAMPLE_RATE), "--format", "raw", "--output", str(raw)] + (["--idle"] if idle else [])
    started = time.monotonic()
    done = subprocess.run(spy + ["--"] + command, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0 or not raw.exists():
        raise SystemExit(f"py-spy failed ({done.returncode}): {done.stderr[-2000:]}")
    (cwd / "py-spy.stdout").write_text(done.stdout)
    return time.monotonic() - started


class PhaseTimer:
    """Wall time spent in wrapped functions (calls, seconds); wrapping changes nothing else."""

    def __init__(self):
        self.calls: collections.Counter = collections.Counter()
        self.seconds: collections.Counter = collections.Counter()

    def wrap(self, owner, name: str, label: str) -> None:
        import functools
        import inspect

        original = getattr(owner, name)

        def counted(started: float) -> None:
            self.calls[label] += 1
            self.seconds[label] += time.perf_counter() - started

        if inspect.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    counted(started)
        else:
            @functools.wraps(original)
            def timed(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    counted(started)

        setattr(owner, name, timed)


SCREENSHOT_SAMPLE = 100   # pages the profiled screenshot pass renders (all of them would take ~10 minutes)


def after_crawl(data_dir: str, run_id: str, registry: str, out_file: str) -> int:
    """What `xxgk crawl` does after the crawl (cli.crawl._crawl_and_judge): the screenshot pass into the crawl's
    run (its first SCREENSHOT_SAMPLE pages), then the verdicts as of today, each phase timed by wrapping the
    functions it calls."""
    from playwright.async_api._generated import Page

    from monitor import verdicts
    from monitor.clock import today
    from registry.agencies import load_registry
    from storage import screenshots
    from storage.archive import Archive
    from storage.catalog import Catalog
    from storage.config import Config

    timer = PhaseTimer()
    for owner, name, label in (
            (screenshots, "pages_missing_screenshots", "find the report pages without a screenshot"),
            (screenshots.Chromium, "browser", "start Chromium (the first call) or hand it out"),
            (screenshots.OfflineRenderer, "_render", "render one page (all of the below)"),
            (screenshots.OfflineRenderer, "_tab", "  a tab: opened (the first shots) or reused"),
            (screenshots, "page_markup", "  the archived page as markup for the tab"),
            (Page, "set_content", "  write it into the tab, wait for its load"),
            (screenshots.OfflineRenderer, "_archived", "    serve a sub-resource from the archive"),
            (Page, "evaluate", "  read the page height"),
            (Page, "screenshot", "  take the first-screen JPEG"),
            (Archive, "read_capture", "read the page's capture from the WARC"),
            (Archive, "stage_resource", "archive the JPEG (staged for the group commit)"),
            (verdicts, "judge", "verdicts (judge)"),
            (verdicts._ArchiveView, "__init__", "  read a chunk's reports, captures and errors")):
        timer.wrap(owner, name, label)
    config = Config.from_env(data_dir=data_dir)
    started = time.perf_counter()
    shots = screenshots.take_missing_screenshots(config, run_id=run_id, limit=SCREENSHOT_SAMPLE)
    shot_seconds = time.perf_counter() - started
    catalog = Catalog.open(config)
    started = time.perf_counter()
    try:
        as_of = today()
        verdicts.judge(catalog, as_of=as_of, years=[as_of.year - 1],
                       agency_ids=[agency.id for agency in load_registry(registry)])
    finally:
        catalog.close()
    judge_seconds = time.perf_counter() - started
    Path(out_file).write_text(json.dumps({
        "screenshot_pass": shot_seconds, "judge": judge_seconds, "taken": shots.taken, "failed": shots.failed,
        "left": shots.remaining,
        "phases": [[label, timer.calls[label], timer.seconds[label]] for label in timer.seconds]}, ensure_ascii=False))
    return 0


# one setting (or two) changed in the --no-screenshots crawl, to see what moves its wall: (label, settings, polite)
ABLATIONS = (
    ("ARCHIVE_DURABILITY=os (no fsync per record group)", ("ARCHIVE_DURABILITY=os",), False),
    ("PARSE_ENABLED=false (no parse pool)", ("PARSE_ENABLED=false",), False),
    # the crawl renders in one browser context (Scrapy stats: playwright/context_count/max_concurrent 1), so the
    # shipped settings give it 2 pages at a time, whatever PLAYWRIGHT_MAX_CONTEXTS says
    ("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT=4 (4 browser pages, not 2)", ("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT=4",), False),
    ("both: no fsync and 4 browser pages", ("ARCHIVE_DURABILITY=os", "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT=4"), False),
    # polite: every host is done at nearly the same time, the crawl crawling at ~3 captures a second while the
    # JavaScript listings are rendered; suspects: the order the scheduler hands requests out in (Scrapy's queue for
    # broad crawls spreads them over hosts), the archive writer every response waits for while it holds its
    # downloader slot, and render requests waiting for one of the browser pages while they hold theirs
    ("polite, as shipped", (), True),
    # Scrapy's own queue (its default in Scrapy 2.19): requests wait for their host's delay inside the downloader
    ("polite, SCHEDULER_PRIORITY_QUEUE=DownloaderAwarePriorityQueue (Scrapy's default, not crawler.queues)",
     ("SCHEDULER_PRIORITY_QUEUE=scrapy.pqueues.DownloaderAwarePriorityQueue",), True),
    ("polite, ARCHIVE_DURABILITY=os", ("ARCHIVE_DURABILITY=os",), True),
    ("polite, PLAYWRIGHT_MAX_PAGES_PER_CONTEXT=8 (8 browser pages)", ("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT=8",), True),
    ("polite, CONCURRENT_REQUESTS=64 (still 2 per host, 1 s apart)", ("CONCURRENT_REQUESTS=64",), True),
)


def profile(registry: Path, hosts: list[Host], work: Path, out_dir: Path, baseline: XxgkRun | None) -> str:
    """Profile the politeness-off crawl (py-spy --idle on every thread), then the screenshot pass and the verdicts
    over its archive (phases timed, py-spy on the CPU), then the ABLATIONS of the politeness-off crawl."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data_dir = work / "profile-crawl"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    print("  profile: py-spy --idle on xxgk crawl --no-screenshots, politeness off", file=sys.stderr, flush=True)
    raw = out_dir / "crawl-off-noshots.stacks.txt"
    wall = py_spy(xxgk_command(registry, screenshots=False, polite=False), raw, child_env(data_dir), data_dir,
                  idle=True)
    stdout = (data_dir / "py-spy.stdout").read_text("utf-8", "replace")
    run_id = re.search(r"运行 (\S+?)，", stdout).group(1)
    text = ["== xxgk crawl --no-screenshots, politeness off (py-spy record --idle --subprocesses --threads) ==",
            crawl_profile(raw, wall)]

    print("  profile: the screenshot pass and the verdicts over that archive", file=sys.stderr, flush=True)
    raw = out_dir / "after-crawl.stacks.txt"
    phases = out_dir / "after-crawl.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--after-crawl", str(data_dir), run_id, str(registry),
               str(phases)]
    py_spy(command, raw, child_env(data_dir), data_dir, idle=False)
    timed = json.loads(phases.read_text())
    text += ["== the screenshot pass and the verdicts (what `xxgk crawl` does after the crawl), over that archive ==",
             f"screenshot pass {timed['screenshot_pass']:.1f} s for {timed['taken']} screenshots "
             f"({timed['failed']} failed; {timed['left']} more pages left out of the sample), "
             f"{timed['screenshot_pass'] / max(timed['taken'], 1):.2f} s each; "
             f"verdicts {timed['judge']:.1f} s", "", f"{'phase (wall, nested lines are inside the one above)':<56} "
             f"{'calls':>6} {'s':>7} {'ms/call':>8}"]
    text += [f"{label:<56} {calls:6d} {seconds:7.1f} {1000 * seconds / max(calls, 1):8.1f}"
             for label, calls, seconds in timed["phases"]]
    text += ["", cpu_profile(raw, "CPU samples of that process (py-spy without --idle; Playwright's own Python runs "
                                  "in a greenlet, so its frames do not sit under the screenshot functions)")]

    print("  profile: ablations of the politeness-off crawl", file=sys.stderr, flush=True)
    text += ["== ablations: xxgk crawl --no-screenshots, politeness off unless said, one setting changed (timed, one run "
             "each) =="]
    if baseline is not None:
        text.append(f"{'as shipped (the timed run above)':<64} {baseline.measured.wall:7.1f} s wall, "
                    f"crawl phase {baseline.crawl_seconds} s, CPU {baseline.measured.cpu:.0f} s, "
                    f"load {baseline.measured.load[0]:.1f}-{baseline.measured.load[1]:.1f}")
        if baseline.finished:
            text.append(finish_line(baseline.finished))
    for number, (label, settings, polite) in enumerate(ABLATIONS, 1):
        command = xxgk_command(registry, screenshots=False, polite=polite)
        for setting in settings:
            command += ["--set", setting]
        folder = work / f"ablation-{number}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        measured = run_measured(command, child_env(folder), folder, "xxgk")
        found = re.search(r"用时 ([\d.]+) 秒", (folder / "xxgk.stdout").read_text("utf-8", "replace"))
        text.append(f"{label:<64} {measured.wall:7.1f} s wall, crawl phase {found.group(1) if found else '?'} s, "
                    f"CPU {measured.cpu:.0f} s, load {measured.load[0]:.1f}-{measured.load[1]:.1f}")
        text.append(finish_line(finish_times(folder, hosts)))
    result = "\n".join(text) + "\n"
    (out_dir / "profile.txt").write_text(result)
    return result


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, help="agencies in the portal set (default 160; --quick 16)")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each answer waits (default 0.2)")
    parser.add_argument("--quick", action="store_true", help="a small set (16 agencies) for a smoke run")
    parser.add_argument("--only", choices=("xxgk", "bare"), help="run one side only (bare: the URLs come from "
                        "--keep DIR's earlier xxgk runs, else from an untimed politeness-off crawl)")
    parser.add_argument("--no-polite", dest="polite", action="store_false",
                        help="only the politeness-off pair (smoke tests)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (data directories, logs, URL lists)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--profile", metavar="DIR", help="also profile with py-spy: stacks and summaries in DIR")
    parser.add_argument("--bare-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--after-crawl", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_child:
        return bare_child(*args.bare_child)
    if args.after_crawl:
        return after_crawl(*args.after_crawl)
    count = args.agencies or (16 if args.quick else 160)
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="xxgk-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    hosts = build_hosts(count)
    portals = Portals(hosts, args.delay)
    try:
        registry = work / "registry.yaml"
        dump_registry([registry_entry(host) for host in hosts], registry)
        print(f"portals: {count} agencies, {sum(len(h.site) for h in hosts)} paths, built and serving in "
              f"{time.monotonic() - started:.1f} s; work directory {work}", file=sys.stderr, flush=True)
        runs, checks = measure(args, hosts, registry, work)
        table, figures = report(hosts, args.delay, runs, checks)
        figures["served_requests"] = portals.requests()
        print(table, flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=1))
        if args.profile:
            print(profile(registry, hosts, work, Path(args.profile).resolve(), runs.get("xxgk_off")), flush=True)
    finally:
        portals.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"benchmark wall {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0 if all(": yes" in check for check in checks) else 1


def measure(args, hosts: list[Host], registry: Path, work: Path) -> tuple[dict, list[str]]:
    """The runs, each bare run right after the xxgk run whose URLs it fetches (the machine's load drifts)."""
    runs: dict = {}
    checks: list[str] = []
    xxgk, bare = args.only in (None, "xxgk"), args.only in (None, "bare")
    urls = {key: _current_ports(json.loads((work / f"urls-{key}.json").read_text()), hosts)
            for key in ("polite", "off") if not xxgk and (work / f"urls-{key}.json").exists()}

    def crawl(key: str, urls_key: str | None, **how) -> None:
        runs[key] = run_xxgk(key, registry, work, **how)
        if urls_key:
            urls[urls_key] = runs[key].archived
            (work / f"urls-{urls_key}.json").write_text(json.dumps(runs[key].archived))

    def fetch(key: str, urls_key: str, polite: bool, host_queue: bool = False) -> None:
        if urls_key not in urls:   # --only bare without an earlier run's URLs: learn them, untimed
            urls[urls_key] = run_xxgk(f"learn_urls_{urls_key}", registry, work, screenshots=False,
                                      polite=polite).archived
        runs[key] = run_bare(key, urls[urls_key], work, polite=polite, host_queue=host_queue)
        checks.append(f"{'polite' if polite else 'politeness off'}{', xxgk queue' if host_queue else ''}: "
                      f"{same_urls(urls[urls_key], runs[key].fetched)[1]}")

    if args.polite:
        if xxgk:
            crawl("xxgk", "polite", screenshots=True, polite=True)
        if bare:
            fetch("bare", "polite", polite=True)
            fetch("bare_queue", "polite", polite=True, host_queue=True)
        if xxgk:
            crawl("xxgk_noshots", None, screenshots=False, polite=True)
    if xxgk:
        crawl("xxgk_off", "off", screenshots=False, polite=False)
    if bare:
        fetch("bare_off", "off", polite=False)
    return runs, checks


def _current_ports(urls: list[str], hosts: list[Host]) -> list[str]:
    """URLs archived by an earlier run (``--keep DIR``), at this run's ports: the addresses stay, the ports change."""
    from urllib.parse import urlsplit

    ports = {host.address: host.port for host in hosts}
    moved = []
    for url in urls:
        parts = urlsplit(url)
        moved.append(parts._replace(netloc=f"{parts.hostname}:{ports.get(parts.hostname, parts.port)}").geturl())
    return moved


if __name__ == "__main__":
    sys.exit(main())
