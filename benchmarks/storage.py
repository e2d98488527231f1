"""Archive throughput: MB/s writing and reading captures through storage.archive, against raw warcio.

Run: .venv/bin/python benchmarks/storage.py [--captures 400] [--size-kb 64]
The baseline is warcio's WARCWriter writing the same responses (gzip per record) to a local file in this process,
and reading them back with warcio's ArchiveIterator. The archive does more per capture (request and metadata
records, an index row, a revisit lookup, segment upload), so the ratio shows what that costs. Measured for the
local store, and for S3 as well when XXGK_S3_ENDPOINT (with keys) is set. Writes use durability="fsync" (the
default) and "os"; all data goes to a temporary directory that is removed afterwards.
"""
from __future__ import annotations

import argparse
import io
import os
import random
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=400, help="responses per measurement (default 400)")
    parser.add_argument("--size-kb", type=int, default=64, help="payload size in KiB (default 64)")
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


if __name__ == "__main__":
    main()
