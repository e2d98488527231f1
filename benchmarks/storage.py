"""Archive throughput: MB/s writing and reading captures through storage.archive, against raw warcio; and
captures/s with one fsync and one catalog transaction per capture against the group commit.

Run: .venv/bin/python benchmarks/storage.py [--captures 400] [--size-kb 64] [--group-captures 400]
    [--group-size-kb 16] [--database-url URL] [--repeat 3]
The baseline is warcio's WARCWriter writing the same responses (gzip per record) to a local file in this process,
and reading them back with warcio's ArchiveIterator. The archive does more per capture (request and metadata
records, an index row, a revisit lookup, segment upload), so the ratio shows what that costs. Measured for the
local store, and for S3 as well when XXGK_S3_ENDPOINT (with keys) is set. Writes use durability="fsync" (the
default) and "os"; all data goes to a temporary directory that is removed afterwards.

Group commit: the same K responses archived one ``record_fetch`` at a time (each capture fsynced and indexed in its
own transaction: what the crawl did before) and staged with ``stage_fetch`` under ``commit_records`` = N (one fsync
and one transaction per N captures), timed until the last capture is durable and indexed; printed as captures/s
and the ratio to per-capture, for a range of N (median of ``--repeat`` interleaved runs). The catalog is a fresh SQLite file, or ``--database-url`` (a
PostgreSQL database, whose commits cost a WAL flush each).
"""
from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

# run as a script, this folder comes first on sys.path, and this file's name would hide the storage package
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

from warcio.archiveiterator import ArchiveIterator  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from storage.archive import Archive, open_reader  # noqa: E402
from storage.config import Config  # noqa: E402

T0 = datetime(2024, 1, 30, tzinfo=timezone.utc)


def responses(count: int, size: int, seed: int = 1) -> list[tuple[str, list[tuple[str, str]], bytes]]:
    """Half compressible HTML-like text, half incompressible bytes (PDFs, images), all distinct."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        if i % 2:
            body = rng.randbytes(size)
            headers = [("Content-Type", "application/pdf"), ("Content-Length", str(size))]
        else:
            words = "政府信息公开工作年度报告 主动公开 依申请公开 行政复议 ".encode()
            body = (words * (size // len(words) + 1))[:size - 8] + rng.randbytes(8)
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(size))]
        items.append((f"http://bench{i % 50}.example.gov.cn/xxgk/{i}.html", headers, body))
    return items


def raw_warcio(items, directory: Path) -> tuple[float, float]:
    path = directory / "raw.warc.gz"
    started = time.perf_counter()
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        for url, headers, body in items:
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          length=len(body), http_headers=http))
    written = time.perf_counter() - started
    started = time.perf_counter()
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            record.raw_stream.read()
    return written, time.perf_counter() - started


def through_archive(items, config: Config, durability: str) -> tuple[float, float]:
    refs = []
    started = time.perf_counter()
    with Archive.open(config, durability=durability, segment_size=32 * 1024 * 1024) as archive:
        for n, (url, headers, body) in enumerate(items):
            refs.append(archive.record_fetch(url, "GET", [("User-Agent", "bench")], 200, "OK", headers, body,
                                             fetched_at=T0 + timedelta(seconds=n)))
    written = time.perf_counter() - started
    reader = open_reader(config)
    started = time.perf_counter()
    for ref in refs:
        reader.read(ref.id)
    read = time.perf_counter() - started
    reader.catalog.close()
    reader.store.close()
    return written, read


def archived_per_second(items, config: Config, durability: str, commit_records: int | None) -> float:
    """Captures/s until the last one is durable and indexed: ``record_fetch`` each (None) or ``stage_fetch`` with
    a group commit every ``commit_records`` captures."""
    run = uuid.uuid4().hex[:8]  # URLs of their own: a catalog shared by runs (--database-url) sees no revisits
    with Archive.open(config, durability=durability, segment_size=1024 * 1024 * 1024,
                      commit_records=commit_records or 1, commit_ms=60_000) as archive:
        started = time.perf_counter()
        for n, (url, headers, body) in enumerate(items):
            url = f"{url}?run={run}"
            if commit_records is None:
                archive.record_fetch(url, "GET", [("User-Agent", "bench")], 200, "OK", headers, body,
                                     fetched_at=T0 + timedelta(seconds=n))
            else:
                archive.stage_fetch(url, "GET", [("User-Agent", "bench")], 200, "OK", headers, body,
                                    fetched_at=T0 + timedelta(seconds=n))
        archive.commit()
        elapsed = time.perf_counter() - started
    return len(items) / elapsed


GROUP_SIZES = (None, 4, 8, 16, 32, 64, 128)   # None: per capture


def group_commit(items, base: Path, database_url: str | None, repeat: int) -> None:
    print(f"\ngroup commit: {len(items)} responses of {len(items[0][2]) // 1024} KiB, catalog "
          f"{'PostgreSQL' if database_url else 'SQLite'}, median of {repeat} runs")
    for durability in ("fsync", "os"):
        rates: dict[int | None, list[float]] = {records: [] for records in GROUP_SIZES}
        for attempt in range(repeat):  # interleaved, so that a busy moment of the machine hits every N alike
            for records in GROUP_SIZES:
                data_dir = base / f"group-{durability}-{records or 'each'}-{attempt}"
                url = database_url or f"sqlite:///{data_dir / 'catalog.sqlite3'}"
                config = replace(Config.from_env({}, data_dir=data_dir), database_url=url)
                rates[records].append(archived_per_second(items, config, durability, records))
        results = [(records, statistics.median(rates[records])) for records in GROUP_SIZES]
        each = results[0][1]
        for records, rate in results:
            label = "per capture (record_fetch)" if records is None else f"grouped, N={records}"
            print(f"  {durability:5} {label:28} {rate:8.1f} captures/s   ratio {rate / each:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=400, help="responses per measurement (default 400)")
    parser.add_argument("--size-kb", type=int, default=64, help="payload size in KiB (default 64)")
    parser.add_argument("--group-captures", type=int, default=400,
                        help="responses per group-commit measurement (default 400; 0 skips it)")
    parser.add_argument("--group-size-kb", type=int, default=16, help="their payload size in KiB (default 16)")
    parser.add_argument("--database-url", help="the catalog of the group-commit measurement (default: SQLite)")
    parser.add_argument("--repeat", type=int, default=3, help="group-commit runs per N, the median is shown")
    args = parser.parse_args()
    items = responses(args.captures, args.size_kb * 1024)
    megabytes = sum(len(body) for _u, _h, body in items) / 1e6
    print(f"{args.captures} responses, {megabytes:.1f} MB of payload")

    with tempfile.TemporaryDirectory(prefix="xxgk-bench-") as tmp:
        base = Path(tmp)
        raw_write, raw_read = raw_warcio(items, base)
        print(f"{'raw warcio, local file':34} write {megabytes / raw_write:8.1f} MB/s   read {megabytes / raw_read:8.1f} MB/s")
        backends = [("local", Config.from_env({}, data_dir=base / "local"))]
        if os.environ.get("XXGK_S3_ENDPOINT"):
            s3 = Config.from_env(data_dir=base / "s3")
            backends.append(("S3 " + (s3.s3_endpoint or ""), replace(s3, s3_bucket=f"bench-{uuid.uuid4().hex[:12]}")))
        for name, config in backends:
            for durability in ("fsync", "os"):
                run_config = replace(config, data_dir=config.data_dir / durability,
                                     database_url=f"sqlite:///{config.data_dir / durability / 'catalog.sqlite3'}")
                write, read = through_archive(items, run_config, durability)
                label = f"archive, {name}, {durability}"
                print(f"{label:34} write {megabytes / write:8.1f} MB/s   read {megabytes / read:8.1f} MB/s"
                      f"   (ratio to raw: write {raw_write / write:.2f}, read {raw_read / read:.2f})")
        if args.group_captures > 0:
            group_commit(responses(args.group_captures, args.group_size_kb * 1024, seed=2), base, args.database_url,
                         max(args.repeat, 1))


if __name__ == "__main__":
    main()
