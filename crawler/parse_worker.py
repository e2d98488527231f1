"""What a parse worker process runs: the parsers and the text signature, nothing of the crawl.

The crawl (``crawler.pipelines``) and ``xxgk reparse`` (``cli.reparsing``) parse in ``spawn`` processes, and a
spawned worker imports the module of every function it is sent. Sent from ``crawler.pipelines``, the functions
brought Scrapy, Twisted, SQLAlchemy and the catalog into each worker (88 MB of RSS after the imports, against 30
for the parsers alone): here they import only ``parsers`` and ``crawler.processes``.
"""
from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor

from crawler.processes import die_with_parent
from parsers.formats.ocr import OcrOptions
from parsers.record import FetchContext, ReportRecord


def start_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` parse processes that die with the process that started them."""
    # spawn, not fork: the crawl process runs threads (reactor, archive writer) a fork would copy mid-flight
    return ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(signal.SIGKILL,))


def warm_parser() -> bool:
    """Run in each worker before its first document: the parsers' imports take about a second, datasketch's
    (for the signature, scipy with it) a few more; no document's PARSE_TIMEOUT should pay for them."""
    import parsers.document  # noqa: F401
    from parsers.shingles import text_signature

    text_signature("预热：载入计算文本签名所需的模块。")
    return True


def parse_in_worker(data: bytes, context: FetchContext, ocr: OcrOptions) -> ReportRecord:
    from parsers.document import parse_document

    return parse_document(data, context, ocr=ocr)


def parse_and_sign(data: bytes, context: FetchContext, ocr: OcrOptions) -> tuple[ReportRecord, tuple]:
    """``parse_in_worker`` and the text's copy-detection signature, both in the worker: hashing every 5-gram
    of a report is CPU work the crawl process (whose threads share one GIL) would otherwise do while it stores
    the row."""
    from parsers.shingles import text_signature

    record = parse_in_worker(data, context, ocr)
    return record, text_signature(record.text or "")
