"""A parse worker, as the crawl and `xxgk reparse` start it, parses and signs a report without importing the crawl."""
from __future__ import annotations

from crawler.parse_worker import parse_and_sign, start_pool, warm_parser
from demo.render import load_seed, render_html
from parsers.document import parse_document
from parsers.formats.ocr import OcrOptions
from parsers.record import FetchContext

# what a worker has no use for: each is tens of MB of imports in every worker
CRAWL_SIDE = {"scrapy", "twisted", "sqlalchemy", "alembic", "storage", "registry", "monitor", "playwright",
              "scrapy_playwright", "minio", "scipy", "redis"}   # (scipy and redis came with datasketch's package)


def test_a_worker_parses_and_signs_a_report_with_the_parsers_alone():
    page = render_html(load_seed("000"))
    context = FetchContext(url="http://127.0.0.1/xxgk/ndbg/1.html", content_type="text/html; charset=utf-8")
    pool = start_pool(1)
    try:
        assert pool.submit(warm_parser).result(timeout=120) is True
        record, (grams, signature) = pool.submit(parse_and_sign, page, context, OcrOptions()).result(timeout=120)
        loaded = pool.submit(eval, "sorted({name.split('.')[0] for name in __import__('sys').modules})").result()
    finally:
        pool.shutdown()
    here = parse_document(page, context, ocr=OcrOptions())
    from datasketch import MinHash  # noqa: F401 - here the whole package, as the judge loads it
    from parsers.shingles import text_signature

    assert (grams, signature) == text_signature(here.text)   # the MinHash module alone signs the same
    assert record.error is None and record.title == here.title and record.report_year == here.report_year
    assert record.report_year is not None and grams > 100 and len(signature) > 0
    assert "parsers" in loaded and "datasketch" in loaded
    assert sorted(CRAWL_SIDE & set(loaded)) == []


def _ignores(pid: int, within: float) -> set[int]:
    """The signals among SIGTERM and SIGINT the process ignores, once SIGTERM is no longer among them (or at the
    end of ``within`` seconds)."""
    import signal
    import time

    deadline = time.monotonic() + within
    while True:
        mask = next(int(line.split()[1], 16) for line in open(f"/proc/{pid}/status") if line.startswith("SigIgn:"))
        ignored = {sig for sig in (signal.SIGTERM, signal.SIGINT) if mask & (1 << (sig - 1))}
        if signal.SIGTERM not in ignored or time.monotonic() > deadline:
            return ignored
        time.sleep(0.1)


def _ended(pid: int, within: float = 20.0) -> bool:
    import time

    import psutil

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_workers_started_while_sigterm_is_ignored_still_end_on_sigterm_and_leave_ctrl_c_to_the_crawl():
    """Scrapy's forced stop (a second signal) ignores SIGTERM and SIGINT in the crawl process; a pool restarted
    then (its workers died to the same group signal) inherited that through exec, could not be terminated, and the
    crawl process waited for it forever at exit (found 84 minutes later)."""
    import os
    import signal

    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        pool = start_pool(2)
        warm = [pool.submit(warm_parser) for _ in range(2)]   # as the crawl starts its workers
        assert [future.result(timeout=120) for future in warm] == [True, True]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    workers = list(pool._processes.values())
    try:
        assert len(workers) == 2
        # a worker still starting (both warm-ups may have run in the first) ignores what its parent ignored until
        # its initializer runs: wait for that, then read what each now ignores
        assert [_ignores(worker.pid, within=120) for worker in workers] == [{signal.SIGINT}] * 2
        os.kill(workers[0].pid, signal.SIGINT)   # Ctrl-C reaches every process of the terminal's group
        assert pool.submit(eval, "6 * 7").result(timeout=60) == 42
        assert all(worker.is_alive() for worker in workers)
        for worker in workers:
            worker.terminate()
        # the pool's own thread reaps them as it notices (a join here may find them reaped): watch the pids
        assert [_ended(worker.pid) for worker in workers] == [True, True]
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        pool.shutdown(wait=False, cancel_futures=True)


def test_the_crawl_process_ends_even_with_a_child_deaf_to_sigterm():
    """Whatever a worker ignores, the crawl process must not wait for it forever at exit."""
    import multiprocessing
    import signal
    import time

    from crawler.run import _close_what_a_forced_stop_left

    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        deaf = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(600,))
        deaf.start()
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        _close_what_a_forced_stop_left(None)
        assert not deaf.is_alive() and deaf.exitcode == -signal.SIGKILL
    finally:
        if deaf.is_alive():
            deaf.kill()
