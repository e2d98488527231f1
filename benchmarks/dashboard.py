"""Dashboard response time over 100,000 agencies × 10 report years (1,000,000 verdicts), against a bare
``SELECT count(*)`` over the verdicts in the same session.

Run: .venv/bin/python benchmarks/dashboard.py [--agencies 100000] [--years 10] [--repeat 7]
The catalog is a SQLite file in a temporary directory, filled with SQLAlchemy Core bulk inserts through the same
triggers that keep the verdict tallies in production (so the fill time includes them). Each page is requested
through FastAPI's in-process TestClient; the figure is the median of --repeat requests after one warm-up.
Target (monitoring issue): the first page under 200 ms, with and without a filter. The pages are timed twice: with
no registry imported (every agency counts), then after an import that marks nine agencies in ten watched (the
figures count those alone, ``all=1`` every one), the import itself timed (its triggers move the tallies).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

# run as a script, this folder comes first on sys.path, and benchmarks/storage.py would hide the storage package
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from storage.catalog import Catalog, queries  # noqa: E402
from storage.catalog.models import Agency, Verdict  # noqa: E402
from storage.config import Config  # noqa: E402
from web.app import create_app  # noqa: E402

TARGET_MS = 200
LEVELS = ("department", "government", "township")
# a plausible spread: most reports on time, a rare status among them
STATUS_CYCLE = ("on_time",) * 14 + ("late",) * 3 + ("missing",) * 2 + ("pending",)
BATCH = 20_000


def fill(catalog: Catalog, agencies: int, years: int) -> tuple[float, float]:
    """Insert the agencies and their verdicts; returns (seconds for agencies, seconds for verdicts)."""
    first_year = 2024 - years + 1
    computed = datetime(2025, 6, 1, tzinfo=timezone.utc)
    started = time.perf_counter()
    with catalog.engine.begin() as connection:
        for start in range(0, agencies, BATCH):
            connection.execute(insert(Agency), [
                {"id": f"ag{index:06d}", "name": f"第{index}号机关", "level": LEVELS[index % 3],
                 "region": f"地区{index % 300:03d}", "report_index": [], "aliases": []}
                for index in range(start, min(start + BATCH, agencies))])
    agencies_done = time.perf_counter()
    with catalog.engine.begin() as connection:
        rows = []
        for index in range(agencies):
            for year in range(first_year, first_year + years):
                status = STATUS_CYCLE[(index * 7 + year) % len(STATUS_CYCLE)]
                if (index + year) % 997 == 0:
                    status = "undetermined"  # the rare status: one verdict in a thousand
                rows.append({"agency_id": f"ag{index:06d}", "report_year": year, "status": status,
                             "deadline": date(year + 1, 1, 31), "legal_basis": "《政府信息公开条例》第四十九条",
                             "days_late": 5 if status == "late" else (0 if status == "on_time" else None),
                             "flags": [], "evidence": {}, "computed_at": computed})
                if len(rows) == BATCH:
                    connection.execute(insert(Verdict), rows)
                    rows = []
        if rows:
            connection.execute(insert(Verdict), rows)
    return agencies_done - started, time.perf_counter() - agencies_done


def median_ms(work: Callable[[], object], repeat: int) -> float:
    work()  # warm-up: lazy imports, template compilation, page cache
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xxgk-dashboard-") as directory:
        config = Config.from_env({}, data_dir=Path(directory))
        catalog = Catalog.open(config)
        agencies_seconds, verdicts_seconds = fill(catalog, args.agencies, args.years)
        with catalog.reading() as session:
            verdicts = session.scalar(select(func.count()).select_from(Verdict))
        print(f"catalog: {args.agencies} agencies, {verdicts} verdicts (SQLite, {Path(directory)})")
        print(f"fill: agencies {agencies_seconds:.1f} s, verdicts {verdicts_seconds:.1f} s "
              f"({verdicts / verdicts_seconds:,.0f} verdicts/s including the tally triggers)")

        def count_verdicts() -> int:
            with catalog.reading() as session:
                return session.scalar(select(func.count()).select_from(Verdict))

        baseline = median_ms(count_verdicts, args.repeat)
        print(f"baseline  SELECT count(*) FROM verdicts: {baseline:8.1f} ms")

        middle_year = 2024 - args.years // 2
        pages = [
            ("first page, no filter", "/"),
            (f"first page, year={middle_year}", f"/?year={middle_year}"),
            ("first page, status=late", "/?status=late"),
            ("first page, status=undetermined (rare)", "/?status=undetermined"),
            ("first page, level=township", "/?level=township"),
            ("first page, region=地区042", "/?region=地区042"),
            (f"first page, level+year+status", f"/?level=department&year={middle_year}&status=missing"),
            ("page 1000, no filter", "/?page=1000"),
            ("JSON API, no filter", "/api/dashboard"),
        ]
        worst = 0.0

        def time_pages(scope: str, suffix: str = "") -> None:
            nonlocal worst
            with TestClient(create_app(config)) as client:
                for label, path in pages:
                    if suffix:
                        path += ("&" if "?" in path else "?") + suffix

                    def request(path=path):
                        response = client.get(path)
                        assert response.status_code == 200, (path, response.status_code, response.text[:300])
                    elapsed = median_ms(request, args.repeat)
                    worst = max(worst, elapsed)
                    print(f"dashboard {scope:9} {label:40} {elapsed:8.1f} ms   ratio to count(*): "
                          f"{elapsed / baseline:6.2f}")

        time_pages("no import")
        started = time.perf_counter()
        with catalog.session() as session:   # what `xxgk agencies import` does to the marks
            queries.watch_agencies(session, (f"ag{index:06d}" for index in range(args.agencies) if index % 10))
        print(f"import marking {args.agencies - (args.agencies + 9) // 10:,} of {args.agencies:,} agencies "
              f"watched: {time.perf_counter() - started:.1f} s (the triggers move their verdicts' tallies)")
        time_pages("imported")
        time_pages("all=1", "all=1")
        catalog.close()
        verdict = "meets" if worst < TARGET_MS else "MISSES"
        print(f"target: every first page under {TARGET_MS} ms: {verdict} (slowest {worst:.1f} ms)")


if __name__ == "__main__":
    main()
