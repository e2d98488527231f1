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
                               initializer=_start_worker)


def _start_worker() -> None:
    die_with_parent(signal.SIGKILL)
    # A worker inherits ignored signals through exec: a pool restarted after Scrapy's forced stop (which ignores
    # SIGTERM and SIGINT) could not be terminated, and its crawl process waited for it forever at exit. SIGTERM
    # ends a worker; Ctrl-C (the terminal signals the whole group) is the crawl process's to handle: the worker
    # finishes the document in hand and the graceful stop stores it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _minhash_without_the_package()


def _minhash_without_the_package() -> None:
    """Let ``datasketch.minhash`` (what ``parsers.shingles`` signs with) load without ``datasketch/__init__``,
    which imports every sketch of the package, scipy and redis with them: 59 MB of RSS in each worker (measured:
    50 MB after the parsers and the MinHash module alone, 109 with the package), for one class. A worker never
    needs the rest (the LSH index is the judge's, in another process); the submodules still load from the
    package's own directory."""
    import importlib.util
    import sys
    import types

    if "datasketch" in sys.modules:
        return
    spec = importlib.util.find_spec("datasketch")
    if spec is None or not spec.submodule_search_locations:
        return   # not installed as a package directory: the signature's own import says so
    package = types.ModuleType("datasketch")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules["datasketch"] = package


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
