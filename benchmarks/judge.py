"""The verdict step at national scale (issue #10): a full re-judge of 100,000 agencies × 10 report years, and the
incremental re-judge after a run that touched 1,000 of them, with the peak memory of each.

Run: .venv/bin/python benchmarks/judge.py [--agencies 100000] [--years 10] [--touched 1000] [--quick]
                                          [--database-url URL] [--keep DIR] [--profile full|incremental]
The catalog (SQLite in a temporary directory unless --database-url names an empty PostgreSQL database) is filled
with SQLAlchemy Core bulk inserts; that time is printed apart and counted in no figure. What it holds, per agency
and report year: the report page (its capture with the verdict facts, the report row with its text and its MinHash
signature), three looks at the report column (a listing response with its entries and two revisits), two 304
revisits of the report, a coverage row; about 3 % of the years have no report (their coverage proves 未发布 or
not), 0.5 % of the reports are edited later (a second version, parsed), 0.5 % answer 404 later, 0.1 % are copies
of another agency's report of the year and 0.1 % the agency's previous report again (疑似雷同). Report texts are
built from a pool of real-looking paragraphs (real reports' sentences, altered), about 1,000 characters each; their
signatures are those of ``parsers.shingles`` (the paragraphs are joined by prescribed wording, which the 5-grams
never span, so a text's signature is the minimum of its paragraphs').

Each phase runs in a child process of its own, so its peak RSS (``resource.getrusage``: the high-water mark) is
its own: the full re-judge (``monitor.verdicts.judge_and_store``, every agency, every year), then a simulated run
(1,000 agencies get news: an edited report, a 404, a new report of a missing year; 10,000 others get 304s, which
are no news) and the incremental re-judge after it (``monitor.rejudge.touched_by_run`` + ``rejudge``).
--profile runs the chosen phase under pyinstrument (``pip install pyinstrument``) and prints its top frames.
Targets (issue #10): incremental ≤ 30 s, full ≤ 15 min, memory < 2 GB.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# run as a script, this folder comes first on sys.path, and benchmarks/storage.py would hide the storage package
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402

from parsers.shingles import fingerprint, signature  # noqa: E402
from storage.catalog import Catalog, queries  # noqa: E402
from storage.catalog.models import (Agency, Capture, ColumnCoverage, CrawlRun, FetchError, Report,  # noqa: E402
                                    Segment)
from storage.config import Config  # noqa: E402
from storage.facts import FACTS_VERSION  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 7, 1)
LEVELS = ("department",) * 7 + ("government",) * 2 + ("township",)
BATCH = 5_000
SEGMENT = "warcs/bench/segment.warc.gz"
JOINER = "政府信息公开工作年度报告"      # prescribed wording: cut out before the 5-grams, so no 5-gram spans two parts
TARGETS = {"incremental": 30.0, "full": 15 * 60.0}
MEMORY_TARGET_MB = 2048


# ---------------------------------------------------------------- texts

def paragraph_pool(size: int, rng: random.Random) -> list[str]:
    """Paragraphs of about 100 characters made of real report sentences (the demo seeds and the real-pages corpus),
    a quarter of their characters swapped for others of the same texts: reports of the same wording, but not the
    same sentences (unrelated real reports share a few per cent of their 5-grams, and so do these)."""
    paths = [*sorted((ROOT / "demo" / "seeds").glob("seed*.txt")),
             *sorted((ROOT / "tests" / "realworld" / "items").glob("r*.txt"))]
    text = "".join(path.read_text("utf-8") for path in paths)
    clauses = [clause for clause in re.split(r"[，。；：\n]", text) if 6 <= len(clause) <= 40 and not clause.isdigit()]
    characters = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    pool = []
    for _ in range(size):
        parts, length = [], 0
        while length < 100:
            clause = "".join(rng.choice(characters) if rng.random() < 0.25 else ch for ch in rng.choice(clauses))
            parts.append(clause)
            length += len(clause)
        pool.append("，".join(parts) + "。")
    return pool


class Texts:
    """Report texts as parts: each part's 5-grams and MinHash are computed once, a text's are their union/min."""

    def __init__(self, rng: random.Random, pool_size: int):
        self.rng = rng
        self.parts: list[str] = []
        self.grams: list[frozenset[int]] = []
        self.minhashes: list[np.ndarray] = []
        for text in paragraph_pool(pool_size, rng):
            self.add(text)
        self.pool = len(self.parts)

    def add(self, text: str) -> int:
        grams = fingerprint(text)
        self.parts.append(text)
        self.grams.append(grams)
        self.minhashes.append(np.frombuffer(signature(grams), dtype="<u4"))
        return len(self.parts) - 1

    def random_parts(self, count: int) -> list[int]:
        return self.rng.sample(range(self.pool), count)

    def report(self, parts: list[int]) -> tuple[str, int, bytes]:
        """The text, its 5-gram count and its MinHash, as ``parsers.shingles.text_signature`` gives them."""
        text = JOINER.join(self.parts[part] for part in parts)
        grams = frozenset().union(*(self.grams[part] for part in parts))
        minhash = np.minimum.reduce([self.minhashes[part] for part in parts]).astype("<u4").tobytes()
        return text, len(grams), minhash


# ---------------------------------------------------------------- filling the catalog

def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


class Filler:
    def __init__(self, catalog: Catalog, agencies: int, years: int, seed: int = 10):
        self.catalog = catalog
        self.agencies = agencies
        self.years = list(range(AS_OF.year - years, AS_OF.year))
        self.rng = random.Random(seed)
        self.texts = Texts(self.rng, 4000)
        self.capture_id = 0
        self.report_id = 0
        self.offset = 0
        self.rows: dict[str, list[dict]] = {"captures": [], "reports": [], "coverage": [], "errors": []}

    def next_capture(self, **fields) -> int:
        self.capture_id += 1
        self.offset += 1000
        url = fields["url"]
        digest = fields.pop("digest", url)
        row = dict(id=self.capture_id, url=url, url_hash=queries.url_hash(url), surt=url[:200],
                   timestamp=fields.pop("timestamp"), status=fields.pop("status", 200),
                   mime=fields.pop("mime", "text/html; charset=utf-8"),
                   payload_sha1=hashlib.sha1(digest.encode()).hexdigest()[:32],
                   payload_sha256=hashlib.sha256(digest.encode()).hexdigest(), payload_length=1000,
                   warc_key=SEGMENT, offset=self.offset, length=900, group_length=1000,
                   record_id=f"<urn:uuid:bench-{self.capture_id}>", record_type=fields.pop("record_type", "response"),
                   refers_to_capture_id=fields.pop("refers_to", None), run_id=fields.pop("run_id", "bench"),
                   agency_id=fields.pop("agency_id"), role=fields.pop("role", None),
                   listing_title=fields.pop("listing_title", None), listing_date=fields.pop("listing_date", None),
                   redirected_from=None, concurrent_to_capture_id=None,
                   listing_items=fields.pop("listing_items", None), facts_version=FACTS_VERSION)
        self.rows["captures"].append(row)
        return self.capture_id

    def add_report(self, capture_id: int, agency_id: str, url: str, year: int, published: date, parts: list[int],
                   title: str) -> int:
        self.report_id += 1
        text, shingles, minhash = self.texts.report(parts)
        record = {"is_report": True, "kind": "report", "title": title, "agency": agency_id, "report_year": year,
                  "format": "2021", "publication_date": published.isoformat(), "date_source": "page_meta",
                  "dates": [{"date": published.isoformat(), "source": "page_meta", "raw": published.isoformat()}],
                  "tables": {}, "attachments": [], "consistency_errors": []}
        self.rows["reports"].append(dict(
            id=self.report_id, capture_id=capture_id, agency_id=agency_id, url=url, title=title, is_report=True,
            kind="report", report_year=year, format="2021", publication_date=published, date_source="page_meta",
            signing_date=None, needs_ocr=False, error=None, record_json=record, text=text,
            parsed_at=at(published), parser_version="bench", shingles=shingles, minhash=minhash))
        return self.report_id

    def flush(self, force: bool = False) -> None:
        tables = (("captures", Capture), ("reports", Report), ("coverage", ColumnCoverage), ("errors", FetchError))
        if not force and sum(len(rows) for rows in self.rows.values()) < BATCH:
            return
        if not self.catalog.is_sqlite:
            with self.catalog.engine.begin() as connection:
                for name, model in tables:
                    if self.rows[name]:
                        connection.execute(insert(model), self.rows[name])
                        self.rows[name] = []
            return
        # SQLite: the rows as the column types store them, straight to the driver (SQLAlchemy's per-value
        # processing took 80 % of the fill)
        raw = self.catalog.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN")
            for name, model in tables:
                rows = self.rows[name]
                if rows:
                    columns = list(rows[0])
                    cursor.executemany(f"INSERT INTO {model.__tablename__} ({', '.join(columns)}) "
                                       f"VALUES ({', '.join('?' * len(columns))})",
                                       [tuple(map(_stored, row.values())) for row in rows])
                    self.rows[name] = []
            cursor.execute("COMMIT")
        finally:
            raw.close()

    def fill(self) -> dict[str, int]:
        if self.catalog.is_sqlite:  # a bulk load: the file is thrown away if the machine stops meanwhile
            event.listen(self.catalog.engine, "connect",
                         lambda connection, _record: connection.execute("PRAGMA synchronous = OFF"))
            self.catalog.engine.dispose()
        with self.catalog.engine.begin() as connection:
            connection.execute(insert(CrawlRun), [{"id": "bench", "started_at": at(date(2016, 1, 1)),
                                                   "status": "finished", "counts": {}, "settings": {}}])
            connection.execute(insert(Segment), [{"key": SEGMENT, "run_id": "bench", "writer": "bench",
                                                  "state": "uploaded", "records": 0,
                                                  "created_at": at(date(2016, 1, 1))}])
            for start in range(0, self.agencies, BATCH):
                connection.execute(insert(Agency), [
                    {"id": agency_id(index), "name": f"第{index}号机关", "level": LEVELS[index % len(LEVELS)],
                     "region": f"地区{index % 300:03d}", "report_index": [], "aliases": []}
                    for index in range(start, min(start + BATCH, self.agencies))])
        # secondary indexes are built once at the end: faster than keeping them up to date row by row
        indexes = [index for model in (Capture, Report, ColumnCoverage, FetchError) for index in model.__table__.indexes]
        with self.catalog.engine.begin() as connection:
            for index in indexes:
                index.drop(connection)
            if self.catalog.is_sqlite:
                # the full-text search index of the reports (migration 0002) is not filled: judging never reads it,
                # and its trigram postings took most of the fill
                connection.exec_driver_sql("DROP TRIGGER reports_fts_after_insert")
        previous_parts: dict[int, list[int]] = {}
        for year in self.years:
            same_year: list[tuple[int, list[int]]] = []
            for index in range(self.agencies):
                self.agency_year(index, year, previous_parts, same_year)
                self.flush()
        self.flush(force=True)
        with self.catalog.engine.begin() as connection:
            for index in indexes:
                index.create(connection)
            if not self.catalog.is_sqlite:
                connection.exec_driver_sql("ANALYZE")
        if self.catalog.is_sqlite:
            with self.catalog.engine.begin() as connection:
                connection.exec_driver_sql("CREATE TRIGGER reports_fts_after_insert AFTER INSERT ON reports BEGIN "
                                           "INSERT INTO reports_fts(rowid, title, text) "
                                           "VALUES (new.id, new.title, new.text); END")
                connection.exec_driver_sql("ANALYZE")
        return {"captures": self.capture_id, "reports": self.report_id}

    def agency_year(self, index: int, year: int, previous_parts: dict[int, list[int]],
                    same_year: list[tuple[int, list[int]]]) -> None:
        rng, agency = self.rng, agency_id(index)
        deadline = date(year + 1, 3, 31) if LEVELS[index % len(LEVELS)] == "government" else date(year + 1, 1, 31)
        column = f"http://{agency}.gov.example/xxgk/ndbg/index.html"
        published = deadline - timedelta(days=rng.randint(-20, 25))
        url = f"http://{agency}.gov.example/xxgk/ndbg/{year}.html"
        title = f"第{index}号机关{year}年政府信息公开工作年度报告"
        has_report = rng.random() >= 0.03
        looks = [published - timedelta(days=10), published + timedelta(days=3), deadline + timedelta(days=40)]
        items = [[f"http://{agency}.gov.example/xxgk/ndbg/{other}.html",
                  f"第{index}号机关{other}年政府信息公开工作年度报告"]
                 for other in range(year, year - 6, -1) if other != year or has_report]
        listing = self.next_capture(url=column, timestamp=at(looks[0]), agency_id=agency, role="column",
                                    digest=f"{column}@{year}", listing_items=items)
        for look in looks[1:]:
            self.next_capture(url=column, timestamp=at(look), agency_id=agency, role="column", record_type="revisit",
                              refers_to=listing, digest=f"{column}@{year}")
        self.rows["coverage"].append(dict(
            run_id="bench", agency_id=agency, column_url=column, found_by="registry", read_at=at(looks[-1]),
            capture_id=listing, pages_walked=1, complete=rng.random() < 0.5, rendered=False, items_read=len(items),
            dated_items=len(items), earliest_item=date(year - 5, 2, 1), latest_item=published, reports_found=1,
            problem=None, detail=None, errors=[]))
        if not has_report:
            return
        seen = published + timedelta(days=rng.randint(0, 4))
        report_capture = self.next_capture(url=url, timestamp=at(seen, 11), agency_id=agency, role="item",
                                           listing_title=title, listing_date=published.isoformat())
        roll = rng.random()
        if roll < 0.001 and index in previous_parts:
            parts = list(previous_parts[index])                            # last year's text again
        elif roll < 0.002 and same_year:
            parts = list(rng.choice(same_year)[1])                         # another agency's report of the year
        else:
            parts = self.texts.random_parts(9)
        own = self.texts.add(f"第{index}号机关在{year}年认真贯彻落实政府信息公开条例，主动公开各类信息，"
                             f"依申请公开答复{rng.randint(1, 300)}件，举办政府开放日活动{rng.randint(1, 9)}次。")
        self.add_report(report_capture, agency, url, year, published, parts + [own], title)
        previous_parts[index] = parts
        if len(same_year) < 5000:
            same_year.append((index, parts))
        for later in (120, 300):
            self.next_capture(url=url, timestamp=at(seen + timedelta(days=later)), agency_id=agency,
                              status=304, record_type="revisit", refers_to=report_capture, role="item")
        roll = rng.random()
        if roll < 0.005:   # edited after publication: a second version, parsed by the crawl
            edited = self.next_capture(url=url, timestamp=at(seen + timedelta(days=200)), agency_id=agency,
                                       role="item", digest=f"{url}#edited")
            self.add_report(edited, agency, url, year, published, parts + [own, self.texts.random_parts(1)[0]],
                            title)
        elif roll < 0.01:  # removed
            self.next_capture(url=url, timestamp=at(seen + timedelta(days=330)), agency_id=agency, status=404,
                              digest="not found", role="item")


def _stored(value):
    """A value as SQLAlchemy's SQLite types store it (UTCDateTime: naive UTC text; JSON: text)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


def agency_id(index: int) -> str:
    return f"ag{index:06d}"


def simulate_run(catalog: Catalog, agencies: int, touched: int, seed: int = 11) -> str:
    """A run after the full re-judge: ``touched`` agencies get news, ten times as many get 304s (no news)."""
    rng = random.Random(seed)
    run_id = queries.new_run_id()   # a kept catalog gets one more run each time
    when = at(AS_OF - timedelta(days=1), 3)
    chosen = rng.sample(range(agencies), min(agencies, touched * 11))
    quiet = set(chosen[touched:])
    year = AS_OF.year - 1
    with catalog.engine.begin() as connection:
        connection.execute(insert(CrawlRun), [{"id": run_id, "started_at": when, "status": "finished",
                                               "counts": {}, "settings": {}}])
        max_capture = connection.execute(select(Capture.id).order_by(Capture.id.desc()).limit(1)).scalar() or 0
        max_report = connection.execute(select(Report.id).order_by(Report.id.desc()).limit(1)).scalar() or 0
        reports = {row.agency_id: row for row in connection.execute(
            select(Report.agency_id, Report.capture_id, Report.url, Report.text, Report.record_json, Report.shingles,
                   Report.minhash).where(Report.report_year == year,
                                         Report.agency_id.in_([agency_id(index) for index in chosen])))}
        captures, new_reports, errors = [], [], []
        for number, index in enumerate(chosen):
            agency = agency_id(index)
            report = reports.get(agency)
            max_capture += 1
            url = report.url if report is not None else f"http://{agency}.gov.example/xxgk/ndbg/{year}.html"
            kind = "quiet" if index in quiet else ("edited", "gone", "late")[number % 3]
            if report is None and kind != "quiet":
                kind = "late"
            if kind == "quiet" and report is None:
                continue
            status = {"quiet": 304, "edited": 200, "gone": 404, "late": 200}[kind]
            captures.append(dict(
                id=max_capture, url=url, url_hash=queries.url_hash(url), surt=url[:200], timestamp=when,
                # a 304 carries the digest of the capture it confirms (storage.archive)
                status=status, mime="text/html", payload_sha1="x", payload_sha256=hashlib.sha256(
                    (url if kind == "quiet" else f"{url}#{kind}").encode()).hexdigest(), payload_length=1,
                warc_key=SEGMENT,
                offset=10**12 + max_capture, length=1, group_length=1, record_id=f"<urn:uuid:{run_id}-{number}>",
                record_type="revisit" if kind == "quiet" else "response",
                refers_to_capture_id=report.capture_id if kind == "quiet" else None, run_id=run_id,
                agency_id=agency, role="item", facts_version=FACTS_VERSION))
            if kind in ("edited", "late"):
                max_report += 1
                record = dict(report.record_json) if report is not None else {
                    "is_report": True, "kind": "report", "report_year": year, "date_source": "page_meta",
                    "publication_date": (AS_OF - timedelta(days=1)).isoformat(), "dates": []}
                new_reports.append(dict(
                    id=max_report, capture_id=max_capture, agency_id=agency, url=url, title=record.get("title"),
                    is_report=True, kind="report", report_year=year, format="2021",
                    publication_date=date.fromisoformat(record["publication_date"]), date_source="page_meta",
                    signing_date=None, needs_ocr=False, error=None, record_json=record,
                    text=(report.text if report is not None else "") + "新增一段。", parsed_at=when,
                    parser_version="bench", shingles=report.shingles if report is not None else 0,
                    minhash=report.minhash if report is not None else None))
            if kind == "gone":
                errors.append(dict(url=url + "?attachment", url_hash=queries.url_hash(url + "?attachment"),
                                   run_id=run_id, agency_id=agency, kind="http", message="HTTP 404", at=when))
        connection.execute(insert(Capture), captures)
        if new_reports:
            connection.execute(insert(Report), new_reports)
        if errors:
            connection.execute(insert(FetchError), errors)
    return run_id


# ---------------------------------------------------------------- phases (each in its own process)

def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(args) -> dict:
    config = Config.from_env({"XXGK_DATABASE_URL": args.database_url}, data_dir=Path(args.dir))
    catalog = Catalog.open(config)
    result: dict = {"phase": args.phase}
    started = time.perf_counter()
    profiler = None
    if args.profile == args.phase:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    if args.phase == "generate":
        counts = Filler(catalog, args.agencies, args.years).fill()
        result.update(counts)
    elif args.phase == "full":
        from monitor.verdicts import judge_and_store

        result["verdicts"] = judge_and_store(catalog, as_of=AS_OF, years=[AS_OF.year - 1])
    elif args.phase == "incremental":
        from monitor.rejudge import new_reports_of_run, rejudge, report_years, touched_by_run

        run_id = simulate_run(catalog, args.agencies, args.touched)
        started = time.perf_counter()  # the run's own inserts are the crawl's, not the judge's
        reports = new_reports_of_run(catalog, run_id)   # as `xxgk crawl` does: read once, used twice
        touched = touched_by_run(catalog, run_id, as_of=AS_OF, agency_ids=[], years=[AS_OF.year - 1],
                                 reports=reports)
        result["touched"] = len(touched)
        result["touched_seconds"] = round(time.perf_counter() - started, 2)
        done = rejudge(catalog, touched, as_of=AS_OF, years=[AS_OF.year - 1], report_years=report_years(reports),
                       new_reports=[report.id for report in reports])
        result["agencies"] = done.agencies
        result["verdicts"] = done.judged
        result["status_changes"] = len(done.changes)
    result["seconds"] = round(time.perf_counter() - started, 2)
    if profiler is not None:
        profiler.stop()
        result["profile"] = profiler.output_text(unicode=True, color=False, show_all=False)
    result["peak_rss_mb"] = round(peak_mb(), 1)
    catalog.close()
    return result


def run_phase(name: str, args, directory: str) -> dict:
    command = [sys.executable, __file__, "--phase", name, "--dir", directory, "--agencies", str(args.agencies),
               "--years", str(args.years), "--touched", str(args.touched), "--database-url", args.database_url]
    if args.profile:
        command += ["--profile", args.profile]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"phase {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--touched", type=int, default=1_000, help="agencies the simulated run brings news of")
    parser.add_argument("--quick", action="store_true", help="2,000 agencies × 3 years, 100 touched")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite in a temp dir)")
    parser.add_argument("--keep", metavar="DIR", help="build the catalog in DIR and keep it")
    parser.add_argument("--profile", choices=["full", "incremental"], help="profile this phase (pyinstrument)")
    parser.add_argument("--phase", choices=["generate", "full", "incremental"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.agencies, args.years, args.touched = 2_000, 3, 100
    if args.phase:
        print(json.dumps(phase(args), ensure_ascii=False))
        return
    directory = args.keep or tempfile.mkdtemp(prefix="xxgk-judge-bench-")
    Path(directory).mkdir(parents=True, exist_ok=True)
    args.database_url = args.database_url or f"sqlite:///{Path(directory) / 'catalog.sqlite3'}"
    with Catalog.open(args.database_url) as catalog, catalog.reading() as session:
        print(f"catalog: {catalog.display_url}")
        filled = session.scalar(select(Agency.id).limit(1)) is not None
    if filled:  # a catalog kept by an earlier --keep run (the runs it simulated stay in it)
        print("reusing the catalog filled before")
    else:
        generated = run_phase("generate", args, directory)
        print(f"generated {args.agencies:,} agencies × {args.years} years: {generated['reports']:,} reports, "
              f"{generated['captures']:,} captures in {generated['seconds']:.0f} s (not counted)")
    for name in ("full", "incremental"):
        result = run_phase(name, args, directory)
        extra = (f", {result['touched']:,} agencies touched (found in {result['touched_seconds']} s)"
                 if name == "incremental" else "")
        verdict = "ok" if result["seconds"] <= TARGETS[name] and result["peak_rss_mb"] < MEMORY_TARGET_MB else "MISSED"
        print(f"{name:12s} {result['seconds']:8.1f} s  {result['verdicts']:>9,} verdicts{extra}; "
              f"peak RSS {result['peak_rss_mb']:,.0f} MB  (target ≤ {TARGETS[name]:.0f} s, < {MEMORY_TARGET_MB} MB: "
              f"{verdict})")
        if "profile" in result:
            print(result["profile"])


if __name__ == "__main__":
    main()
