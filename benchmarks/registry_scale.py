"""The crawl's work that grows with the registry, at a national registry's size (100,000 agencies).

Run: .venv/bin/python benchmarks/registry_scale.py [--agencies 100000] [--documents 2000] [--baseline-documents 40]

1. Attributing parsed documents to agencies: per document, the crawl's index (``registry.agencies.AgencyMatcher``,
   built once when the spider opens) against the scan the crawl did before 2026-12-01 (every name of every agency
   normalised and searched for, per document). The registry is synthetic (place names × the departments a county
   has, an alias for a quarter of some), the documents' agency names are names of random registry agencies, alone
   or inside a report title, as ``ReportRecord.agency`` holds them.
2. The column bookkeeping at each idle of the crawl and at its close: which agencies' columns gave items (the
   fallback plan's question, ``CoverageRecorder.agencies_with_items``) and the coverage rows, against the question
   asked per agency as before (each agency's question scanned every column read: agencies × reads). Every agency
   has one column read, 5 % of them without items, one in 50 shared with three other agencies.

3. The scheduler's queue with a request or more waiting for each of many hosts: a pop of the crawl's
   ``ReadyHostPriorityQueue`` against the same pick made as before 2026-12-01 (every host's state, then Scrapy's
   rule) and against Scrapy's own ``DownloaderAwarePriorityQueue`` (the bare crawl's queue: every host's count of
   downloads per pop). A host handed a request is not ready again for the download delay.

4. Storing the registry in the catalog when a crawl starts (``registry.catalog_sync.store_agencies``, in a new
   SQLite catalog, then again unchanged): against the row-by-row upsert of before 2026-12-01 (a query and a flush
   per agency), on a registry a tenth of the size.

Both ways must give the same answers (checked, or the script exits 1); the baselines run on fewer documents and a
smaller registry, since they are slow (the second grows with the square of the registry).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace

# run as a script, this folder comes first on sys.path
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

from crawler.coverage import CoverageRecorder  # noqa: E402
from crawler.fallbacks import Plan  # noqa: E402
from crawler.queues import ReadyHostPriorityQueue  # noqa: E402
from registry.agencies import Agency, AgencyMatcher, normalize_name  # noqa: E402

_PLACE_CHARS = "安北昌城崇大丹东凤福高广海和河华怀吉江金靖乐临龙隆平浦清庆仁瑞山上寿顺泰通桐望文武西仙新兴阳永玉元云长镇中"
_PLACE_KINDS = ("县", "区", "市", "旗")
_DEPARTMENTS = ("人民政府", "人民政府办公室", "发展和改革局", "教育局", "科学技术局", "工业和信息化局", "公安局",
                "民政局", "司法局", "财政局", "人力资源和社会保障局", "自然资源局", "生态环境局", "住房和城乡建设局",
                "交通运输局", "水利局", "农业农村局", "商务局", "文化和旅游局", "卫生健康局", "退役军人事务局",
                "应急管理局", "审计局", "市场监督管理局", "统计局", "医疗保障局", "林业局", "信访局")
_ALIASES = {"卫生健康局": "卫健局", "人力资源和社会保障局": "人社局", "住房和城乡建设局": "住建局",
            "市场监督管理局": "市场监管局", "发展和改革局": "发改局"}


def synthetic_registry(count: int, rng: random.Random) -> list[Agency]:
    agencies: list[Agency] = []
    seen: set[str] = set()
    while len(agencies) < count:
        place = "".join(rng.sample(_PLACE_CHARS, rng.choice((2, 2, 3)))) + rng.choice(_PLACE_KINDS)
        for department in _DEPARTMENTS:
            name = place + department
            if name in seen:
                continue
            seen.add(name)
            short = _ALIASES.get(department)
            aliases = (place + short,) if short and rng.random() < 0.25 else ()
            agencies.append(Agency(id=f"a{len(agencies)}", name=name, aliases=aliases, level="department",
                                   homepage=f"http://a{len(agencies)}.gov.cn/"))
            if len(agencies) == count:
                break
    return agencies


def scan_as_before(name: str, agencies: list[Agency]) -> Agency | None:
    """The crawl's attribution before the index: every agency's names normalised and looked for, per document."""
    haystack = normalize_name(name)
    if not haystack:
        return None
    best, best_length, tied = None, 0, False
    for agency in agencies:
        length = max((len(key) for key in map(normalize_name, agency.names()) if key and key in haystack), default=0)
        if length == 0 or length < best_length:
            continue
        if length == best_length and best is not None and best.id != agency.id:
            tied = True
            continue
        best, best_length, tied = agency, length, False
    return None if tied else best


def columns_read(agencies: list[Agency], rng: random.Random) -> CoverageRecorder:
    coverage = CoverageRecorder()
    coverage.expect(agency.id for agency in agencies)
    for index, agency in enumerate(agencies):
        column = f"{agency.homepage}ndbg/"
        read = coverage._read(agency.id, column, "registry")
        read.pages.add(column)
        if rng.random() > 0.05:
            read.items.update({f"{column}{item}.html": None for item in range(5)})
        if index % 50 == 0:
            for other in agencies[index + 1:index + 4]:
                coverage.shared[(other.id, column)] = "home"
    return coverage


def has_items_as_before(coverage: CoverageRecorder, agency_id: str) -> bool:
    """The fallback plan's question per agency as the crawl asked it before 2026-12-01: a scan of every read."""
    if any(read.items for (agency, _), read in coverage.reads.items() if agency == agency_id):
        return True
    source = lambda column: next((read for (_, url), read in coverage.reads.items() if url == column), None)  # noqa: E731
    return any(source(column) is not None and source(column).items
               for (agency, column) in coverage.shared if agency == agency_id)


def idle_question(agencies: list[Agency], rng: random.Random, *, before: bool) -> tuple[float, float, set[str]]:
    """Seconds for the plan's pass over every agency, seconds for the coverage rows, the agencies past the pass."""
    coverage, plan = columns_read(agencies, rng), Plan(agencies)
    for agency in agencies:
        plan.start(agency)
    started = time.perf_counter()
    if before:
        with_items = {agency.id for agency in agencies if has_items_as_before(coverage, agency.id)}
    else:
        with_items = coverage.agencies_with_items()
    steps = plan.after_pass(with_items)
    asked = time.perf_counter() - started
    started = time.perf_counter()
    coverage.rows(finished=True)
    return asked, time.perf_counter() - started, set(steps)


def queue_pops(host_count: int, pops: int, way: str) -> tuple[float, list[str]]:
    """Seconds a pop, and the hosts picked, for ``pops`` pops of a queue holding 3 requests of each host."""
    from scrapy import Request
    from scrapy.pqueues import DownloaderAwarePriorityQueue
    from scrapy.settings import Settings
    from scrapy.squeues import FifoMemoryQueue

    slots: dict[str, SimpleNamespace] = {}
    downloader = SimpleNamespace(slots=slots, get_slot_key=lambda request: request.meta["host"])
    crawler = SimpleNamespace(settings=Settings({"DOWNLOAD_DELAY": 1.0}), stats=None,
                              engine=SimpleNamespace(downloader=downloader))
    kind = DownloaderAwarePriorityQueue if way == "scrapy" else ReadyHostPriorityQueue
    queue = kind(crawler, FifoMemoryQueue, "")
    queue._wake_in = lambda seconds: None
    for index in range(host_count):
        host = f"www.h{index:06d}.gov.cn"
        for page in range(3):
            queue.push(Request(f"http://{host}/{page}.html", meta={"host": host}))
    picked: list[str] = []
    started = time.perf_counter()
    for _ in range(pops):
        if way == "before":   # what the crawl's queue did per pop: every host's state, then Scrapy's rule
            now = time.monotonic()
            states = ((host, queue._host_state(host, slots, now)) for host in queue.pqueues)
            ready = [(active, host) for host, (active, wait) in states if wait is not None and wait <= 0]
            host = queue._next_slot(ready, update_state=True)
            request = queue.pqueues[host].pop()
        else:
            request = queue.pop()
        host = request.meta["host"]
        picked.append(host)
        slots[host] = SimpleNamespace(active=[], concurrency=2, delay=1.0, lastseen=time.monotonic(), queue=[])
    return (time.perf_counter() - started) / pops, picked


def store_seconds(agencies: list[Agency], *, before: bool) -> tuple[float, float, int]:
    """Seconds to store the registry in a new catalog, seconds to store it again, rows in the catalog."""
    import tempfile

    from registry.catalog_sync import store_agencies
    from storage.catalog import queries
    from storage.catalog.database import open_catalog
    from storage.catalog.models import Agency as AgencyRow

    def row_by_row(catalog, registry):
        with catalog.session() as session:
            for agency in registry:
                row = session.get(AgencyRow, agency.id)
                if row is None:
                    row = AgencyRow(id=agency.id)
                    session.add(row)
                row.name, row.level, row.region, row.parent = agency.name, agency.level, agency.region, agency.parent
                row.homepage, row.render, row.robots = agency.homepage, agency.render, agency.robots
                row.report_index, row.aliases = list(agency.report_index), list(agency.aliases)
                session.flush()

    store = row_by_row if before else store_agencies
    with tempfile.TemporaryDirectory() as directory:
        catalog = open_catalog(f"sqlite:///{directory}/catalog.sqlite3")
        times = []
        for _ in range(2):
            started = time.perf_counter()
            store(catalog, agencies)
            times.append(time.perf_counter() - started)
        with catalog.reading() as session:
            count = len(queries.list_agencies(session))
        catalog.close()
    return times[0], times[1], count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=100_000)
    parser.add_argument("--documents", type=int, default=2_000)
    parser.add_argument("--baseline-documents", type=int, default=40)
    args = parser.parse_args(argv)
    rng = random.Random(2026)
    agencies = synthetic_registry(args.agencies, rng)
    names = [rng.choice(rng.choice(agencies).names()) for _ in range(args.documents)]
    documents = [name if rng.random() < 0.6 else f"{name}{rng.randint(2008, 2025)}年政府信息公开工作年度报告"
                 for name in names]

    started = time.perf_counter()
    matcher = AgencyMatcher(agencies)
    built = time.perf_counter() - started
    started = time.perf_counter()
    indexed = [matcher.match(document) for document in documents]
    per_document = (time.perf_counter() - started) / len(documents)

    sample = documents[:args.baseline_documents]
    started = time.perf_counter()
    scanned = [scan_as_before(document, agencies) for document in sample]
    per_document_before = (time.perf_counter() - started) / len(sample)

    same = all((a and a.id) == (b and b.id) for a, b in zip(indexed, scanned))
    attributed = sum(result is not None for result in indexed)
    print(f"registry: {len(agencies):,} agencies ({sum(len(a.aliases) for a in agencies):,} aliases); "
          f"documents: {len(documents):,} ({attributed:,} attributed)")
    print(f"index (AgencyMatcher)    built once {built:6.2f} s   {per_document * 1e3:9.3f} ms a document")
    print(f"scan as before           per document          {per_document_before * 1e3:9.3f} ms a document "
          f"({len(sample)} documents)")
    print(f"scan / index             {per_document_before / per_document:,.0f}×   same agency on the "
          f"{len(sample)} documents both did: {'yes' if same else 'NO'}")
    print(f"a crawl of 1,000,000 documents: index {per_document * 1e6 / 60:.1f} min + {built:.0f} s to build, "
          f"scan {per_document_before * 1e6 / 3600:.1f} h")

    print("column bookkeeping (the fallback plan's pass at an idle; the coverage rows at the close):")
    answers_agree = True
    for size in sorted({min(args.agencies, 4_000), min(args.agencies, 16_000), args.agencies}):
        registry = agencies[:size]
        asked, rows, past = idle_question(registry, random.Random(size), before=False)
        line = f"  {size:>7,} agencies   one pass {asked:7.2f} s   rows {rows:6.2f} s"
        if size <= 16_000:
            asked_before, _, past_before = idle_question(registry, random.Random(size), before=True)
            answers_agree = answers_agree and past == past_before
            line += (f"   per-agency scan as before {asked_before:7.2f} s ({asked_before / asked:,.0f}×, "
                     f"same agencies: {'yes' if past == past_before else 'NO'})")
        print(line)

    print("the scheduler's queue, a pop with 3 requests queued for each host:")
    for hosts in sorted({min(args.agencies, 2_000), min(args.agencies, 20_000), args.agencies}):
        now, picked = queue_pops(hosts, 2_000, "ready")
        before, picked_before = queue_pops(hosts, 200, "before")
        scrapy, _ = queue_pops(hosts, 200, "scrapy")
        answers_agree = answers_agree and picked[:200] == picked_before
        print(f"  {hosts:>7,} hosts   ReadyHostPriorityQueue {now * 1e3:7.3f} ms   as before {before * 1e3:7.2f} ms "
              f"({before / now:,.0f}×, same hosts: {'yes' if picked[:200] == picked_before else 'NO'})   "
              f"Scrapy's own queue {scrapy * 1e3:6.2f} ms")

    print("storing the registry in the catalog at a crawl's start (SQLite), new catalog / again unchanged:")
    first, again, count = store_seconds(agencies, before=False)
    sample = agencies[:len(agencies) // 10]
    first_before, again_before, count_before = store_seconds(sample, before=True)
    answers_agree = answers_agree and count == len(agencies) and count_before == len(sample)
    print(f"  {len(agencies):>7,} agencies   store_agencies {first:6.2f} s / {again:6.2f} s   "
          f"row by row as before, {len(sample):,} agencies: {first_before:6.2f} s / {again_before:6.2f} s "
          f"(per agency {first_before / len(sample) / (first / len(agencies)):,.0f}× / "
          f"{again_before / len(sample) / (again / len(agencies)):,.0f}×)")
    return 0 if same and answers_agree else 1


if __name__ == "__main__":
    sys.exit(main())
