"""One run over many machines: `xxgk crawl --coordinator` and two `xxgk crawl --worker` processes share a real
redis-server (the frontier), PostgreSQL (the catalog) and SeaweedFS (the S3 archive) on loopback, crawling the demo
portals. Together they fetch what one process fetches, each URL once; a worker killed with SIGKILL and started
again loses nothing and duplicates nothing; a persistent worker serves one scheduled run after another."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import date

import pytest
import redis
from sqlalchemy import func, select

from demo.server import DemoServer
from registry.agencies import dump_registry
from storage.catalog.models import Capture, ColumnCoverage, CrawlRun, Report, Verdict
from tests.crawling import SLOW_PAGE_SECONDS, catalog_of, config_in, crawl, target_of
from tests.servers import venv_bin

pytestmark = pytest.mark.slow

AS_OF = date(2025, 6, 1)
SETTINGS = ["AUTOTHROTTLE_ENABLED=false", "DOWNLOAD_DELAY=0", "RETRY_TIMES=1", "RETRY_BACKOFF_BASE=0",
            "DOWNLOAD_TIMEOUT=2", "ARCHIVE_DURABILITY=os", "FRONTIER_TTL=20",
            "CONCURRENT_REQUESTS=2",   # few requests in hand per process: the queue is shared, not emptied by one
            "LOG_LEVEL=DEBUG"]         # the log files name every retried request
_RETRIED = re.compile(r"Retrying <(?:GET|POST) (\S+)>")


def _env(tmp_path, name, postgres_url, s3_env, redis_url) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("XXGK_")}
    # processes on one machine share its data directory (the spool); each machine has its own
    env.update(s3_env, XXGK_DATA_DIR=str(tmp_path / name), XXGK_DATABASE_URL=postgres_url,
               XXGK_REDIS_URL=redis_url)
    return env


def _start(env, *args) -> subprocess.Popen:
    sets = [item for setting in SETTINGS for item in ("--set", setting)]
    return subprocess.Popen([str(venv_bin("xxgk")), "crawl", "--quiet", "--no-screenshots", *sets, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _finish(process: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = process.communicate(timeout=timeout)
    text = out.decode("utf-8", "replace")
    assert process.returncode == 0, text[-3000:]
    return text


def _coordinator(env, registry, *extra):
    return _start(env, "--coordinator", "--registry", str(registry), "--as-of", AS_OF.isoformat(), *extra)


def _worker(env, name, *extra):
    return _start(env, "--worker", "--worker-id", name, "--wait", "120", *extra)


def _announced_run(client, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_id = client.get("xxgk:frontier:current")
        if run_id:
            return run_id.decode()
        time.sleep(0.2)
    raise AssertionError("the coordinator announced no run")


def _no_duplicates(session, *run_ids: str) -> None:
    records = session.execute(select(Capture.record_id, func.count()).group_by(Capture.record_id)
                              .having(func.count() > 1)).all()
    assert not records, f"WARC records indexed twice: {records}"
    reports = session.execute(select(Report.agency_id, Report.url, Report.report_year, func.count())
                              .group_by(Report.agency_id, Report.url, Report.report_year)
                              .having(func.count() > 1)).all()
    assert not reports, f"reports duplicated: {reports}"
    verdicts = session.execute(select(Verdict.agency_id, Verdict.report_year, func.count())
                               .group_by(Verdict.agency_id, Verdict.report_year).having(func.count() > 1)).all()
    assert not verdicts, f"verdicts duplicated: {verdicts}"
    assert all(session.get(CrawlRun, run_id).status == "finished" for run_id in run_ids)
    assert session.scalar(select(func.count()).select_from(CrawlRun)) == len(run_ids), \
        "workers must join the run, not start one"


def _retried(logs) -> Counter:
    """Paths that Scrapy's retry middleware asked for again, as often as it did (a timeout on a loaded machine is
    a second request for the same URL, not a duplicate)."""
    return Counter(target_of(match).split("?")[0] for log in logs
                   for match in _RETRIED.findall(log.read_text("utf-8", "replace")))


def _first_requests(hits: Counter, retried: Counter) -> dict[str, int]:
    return {path: count - retried[path] for path, count in hits.items() if not path.endswith("/robots.txt")}


def _paths(session, run_id: str) -> set[str]:
    return {target_of(url) for url in session.scalars(select(Capture.url).where(Capture.run_id == run_id))
            if url.startswith("http")}


def test_workers_and_coordinator_fetch_once_what_one_process_fetches(tmp_path, redis_server, postgres_url,
                                                                     s3_env):
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = server.portals.registry(server.base_url)
        registry = tmp_path / "registry.yaml"
        dump_registry(agencies, registry)
        single = crawl(config_in(tmp_path / "single"), agencies, LOG_LEVEL="DEBUG",
                       LOG_FILE=str(tmp_path / "single.log"))
        time.sleep(SLOW_PAGE_SECONDS)   # the slow page is logged when its late answer is done
        single_hits = Counter(entry.path for entry in server.requests)
        with catalog_of(config_in(tmp_path / "single")) as session:
            single_paths = _paths(session, single.run_id)
        server.clear_log()

        client = redis.Redis.from_url(redis_server.url)
        env = _env(tmp_path, "machine-a", postgres_url, s3_env, redis_server.url)
        # the workers wait for the coordinator's announcement
        workers = [_worker(_env(tmp_path, f"machine-{name}", postgres_url, s3_env, redis_server.url), name)
                   for name in ("b", "c")]
        # a paced coordinator keeps requests in the shared frontier while the workers start (seconds on a busy
        # machine): otherwise it may fetch the small demo alone before they take anything
        coordinator = _coordinator(env, registry, "--set", "DOWNLOAD_DELAY=0.5")
        run_id = _announced_run(client)
        outputs = [_finish(process) for process in (coordinator, *workers)]
        time.sleep(SLOW_PAGE_SECONDS)
        hits = Counter(entry.path for entry in server.requests)

    assert all("工作进程" in text for text in outputs[1:]), outputs
    assert any("页面 0，" not in text for text in outputs[1:]), f"no worker fetched anything: {outputs}"
    # robots.txt is read once by each process; every other URL once in the whole run, as often as one process does
    # (a retry, logged, is the same request again)
    assert _first_requests(hits, _retried(tmp_path.glob("machine-*/logs/*.log"))) == \
        _first_requests(single_hits, _retried([tmp_path / "single.log"]))
    config = config_in(tmp_path / "machine-a", {**s3_env, "XXGK_DATABASE_URL": postgres_url})
    with catalog_of(config) as session:
        assert _paths(session, run_id) == single_paths
        _no_duplicates(session, run_id)
        workers_writers = session.scalars(select(Capture.warc_key).where(Capture.run_id == run_id)).all()
        assert len(set(workers_writers)) >= 2, "each process that fetched writes segments of its own"
        proven = session.scalars(select(func.count()).select_from(ColumnCoverage)
                                 .where(ColumnCoverage.run_id == run_id, ColumnCoverage.complete.is_(True))).one()
        assert proven >= 1, "merged column reads reach a column's last page"
    assert not list(client.scan_iter(f"xxgk:run:{run_id}:*")), "the run's frontier keys are gone"
    verify = subprocess.run([str(venv_bin("xxgk")), "verify", "--run", run_id], env=env, capture_output=True,
                            text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_worker_killed_mid_run_and_started_again_loses_and_duplicates_nothing(tmp_path, redis_server,
                                                                                postgres_url, s3_env):
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        base = server.base_url
        agencies = server.portals.registry(base)
        registry = tmp_path / "registry.yaml"
        dump_registry(agencies, registry)
        client = redis.Redis.from_url(redis_server.url)
        env = _env(tmp_path, "machine-a", postgres_url, s3_env, redis_server.url)
        env_b = _env(tmp_path, "machine-b", postgres_url, s3_env, redis_server.url)
        victim = _worker(env_b, "b", "--set", "DOWNLOAD_DELAY=0.5")   # holds its requests a while
        # a slow coordinator leaves the frontier full until b has started (a busy machine starts it late)
        coordinator = _coordinator(env, registry, "--set", "DOWNLOAD_DELAY=1")
        run_id = _announced_run(client)
        deadline = time.monotonic() + 120
        while not client.hlen(f"xxgk:run:{run_id}:inflight:b"):  # it holds requests: kill it mid-fetch
            assert time.monotonic() < deadline, "worker b never took a request"
            time.sleep(0.01)
        os.killpg(victim.pid, signal.SIGKILL)   # the machine dies: worker, crawl child, parse workers, Chromium
        victim.wait()
        assert client.hlen(f"xxgk:run:{run_id}:inflight:b"), "what b held is still recorded as held"
        survivor = _worker(_env(tmp_path, "machine-c", postgres_url, s3_env, redis_server.url), "c")
        restarted = _worker(env_b, "b")
        for process in (coordinator, survivor, restarted):
            _finish(process)
        expected = {(r.url, r.agency_id, r.report_year) for r in server.portals.expected_reports(base)}

    config = config_in(tmp_path / "machine-a", {**s3_env, "XXGK_DATABASE_URL": postgres_url})
    with catalog_of(config) as session:
        _no_duplicates(session, run_id)
        found = {(r.url, r.agency_id, r.report_year) for r in session.scalars(select(Report))}
        assert expected <= found, f"reports lost: {expected - found}"
        rows = session.scalars(select(ColumnCoverage).where(ColumnCoverage.run_id == run_id)).all()
        assert rows and not any(row.complete for row in rows), "a run that lost a worker's reads proves nothing"
        assert not any(row.problem == "not_found" for row in rows)
    verify = subprocess.run([str(venv_bin("xxgk")), "verify", "--run", run_id], env=env, capture_output=True,
                            text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _lines_until(path, pattern: re.Pattern, count: int, process: subprocess.Popen, timeout: float = 300) -> list:
    """The matches of ``pattern`` in the log ``path`` once there are ``count`` of them (the process still running)."""
    deadline = time.monotonic() + timeout
    while len(found := pattern.findall(path.read_text("utf-8", "replace"))) < count:
        assert process.poll() is None, path.read_text("utf-8", "replace")[-3000:]
        assert time.monotonic() < deadline, path.read_text("utf-8", "replace")[-3000:]
        time.sleep(0.2)
    return found


def test_a_persistent_worker_serves_one_scheduled_run_after_another_and_stops_on_sigterm(tmp_path, redis_server,
                                                                                          postgres_url, s3_env):
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        # two demo agencies keep the two runs short
        agencies = [agency for agency in server.portals.registry(server.base_url)
                    if agency.id in ("sfq-gov", "sfq-wjj")]
        registry = tmp_path / "registry.yaml"
        dump_registry(agencies, registry)
        env = _env(tmp_path, "machine-a", postgres_url, s3_env, redis_server.url)
        log = tmp_path / "worker.out"
        with log.open("wb") as out:
            # a service: started once, before any run is announced, and left running
            sets = [item for setting in SETTINGS for item in ("--set", setting)]
            worker = subprocess.Popen([str(venv_bin("xxgk")), "crawl", "--worker", "--forever", "--worker-id", "w",
                                       "--quiet", "--no-screenshots", *sets],
                                      env=_env(tmp_path, "machine-b", postgres_url, s3_env, redis_server.url),
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            # the scheduler coordinates each of its runs: two runs a second apart. The coordinator is paced: the
            # worker starts a crawl process for each run (seconds on a busy machine) and must find requests left
            scheduler = subprocess.run(
                [str(venv_bin("xxgk")), "schedule", "--coordinator", "--now", "--every", "1s", "--max-runs", "2",
                 "--registry", str(registry), "--no-screenshots", *sets, "--set", "DOWNLOAD_DELAY=2"],
                env=env, capture_output=True, text=True, timeout=600)
            assert scheduler.returncode == 0, scheduler.stdout + scheduler.stderr
            served = _lines_until(log, re.compile(r"工作进程 w 结束：运行 (\S+)，页面 (\d+)，报告 (\d+)"), 2, worker)
            # between runs, waiting for the next: SIGTERM (docker stop, systemctl stop) ends it cleanly
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0, log.read_text("utf-8", "replace")[-3000:]
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    output = log.read_text("utf-8", "replace")
    assert "工作进程 w 已停止（完成了 2 次运行）" in output, output[-3000:]
    assert scheduler.stdout.count("抓取完成") == 2, scheduler.stdout + scheduler.stderr

    config = config_in(tmp_path / "machine-a", {**s3_env, "XXGK_DATABASE_URL": postgres_url})
    with catalog_of(config) as session:
        runs = session.scalars(select(CrawlRun.id).order_by(CrawlRun.started_at)).all()
        assert [run_id for run_id, _, _ in served] == runs, "the worker joined each scheduled run, in order"
        _no_duplicates(session, *runs)
        for run_id, pages, reports in served:
            assert int(pages) > 0 and int(reports) > 0, f"the worker found no report in run {run_id}: {output}"
        assert {agency for agency, in session.execute(select(Verdict.agency_id))} == {"sfq-gov", "sfq-wjj"}
    client = redis.Redis.from_url(redis_server.url)
    assert not [key for run_id in runs for key in client.scan_iter(f"xxgk:run:{run_id}:*")], \
        "each run's frontier keys are gone"


def test_a_worker_gives_back_what_it_holds_when_it_leaves_and_quits_an_abandoned_run(redis_server):
    from crawler.frontier import CURRENT_KEY, Frontier, announce

    client = redis.Redis.from_url(redis_server.url)
    try:
        announce(client, "run-a", [])
        frontier = Frontier(client, "run-a", "worker", "w", ttl=20)
        frontier.join([])
        client.zadd(frontier.queue_key, {b"request": 0})
        assert frontier.take() is not None and not client.zcard(frontier.queue_key)
        assert not frontier.is_done()
        frontier.leave()   # stopped mid-run (SIGTERM): nobody would reap a worker that left
        assert client.zrange(frontier.queue_key, 0, -1) == [b"request"]
        # the coordinator of run-a died; a new run is announced: a persistent worker must not wait in run-a
        announce(client, "run-b", [])
        assert frontier.is_done()
    finally:
        client.delete(CURRENT_KEY, *client.scan_iter("xxgk:run:run-*"))
        client.close()


def test_the_agencies_with_items_are_those_any_process_of_the_run_told(redis_server):
    from crawler.frontier import CURRENT_KEY, Frontier, announce

    client = redis.Redis.from_url(redis_server.url)
    try:
        announce(client, "run-a", [])
        one = Frontier(client, "run-a", "worker", "w1", ttl=20)
        other = Frontier(client, "run-a", "worker", "w2", ttl=20)
        one.gave_items("a", "http://a.gov.cn/nb/")
        other.shared_column("c", "http://a.gov.cn/nb/")     # read by one process for a, entered by c in another
        other.shared_column("d", "http://d.gov.cn/nb/")     # nobody's read of it gave items
        assert one.agencies_with_items() == other.agencies_with_items() == {"a", "c"}
    finally:
        client.delete(CURRENT_KEY, *client.scan_iter("xxgk:run:run-*"))
        client.close()


@pytest.mark.parametrize("argv, message", [
    (["crawl", "--worker", "--forever"], "--worker 需要 XXGK_REDIS_URL"),
    (["schedule", "--coordinator", "--now", "--max-runs", "1"], "--coordinator 需要 XXGK_REDIS_URL"),
    (["crawl", "--forever"], "--forever 只用于 --worker"),
])
def test_the_shared_run_options_say_what_they_need(argv, message, tmp_path, monkeypatch, capsys):
    from cli.main import main

    monkeypatch.delenv("XXGK_REDIS_URL", raising=False)
    assert main(["--data-dir", str(tmp_path), *argv]) == 1
    assert message in capsys.readouterr().err


def test_a_persistent_worker_stopped_mid_run_gives_back_what_it_held(tmp_path, redis_server, postgres_url,
                                                                     s3_env):
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        base = server.base_url
        agencies = [agency for agency in server.portals.registry(base) if agency.id in ("sfq-gov", "sfq-wjj")]
        registry = tmp_path / "registry.yaml"
        dump_registry(agencies, registry)
        client = redis.Redis.from_url(redis_server.url)
        log = tmp_path / "worker.out"
        with log.open("wb") as out:
            sets = [item for setting in SETTINGS for item in ("--set", setting)]
            worker = subprocess.Popen([str(venv_bin("xxgk")), "crawl", "--worker", "--forever", "--worker-id", "w",
                                       "--quiet", "--no-screenshots", *sets, "--set", "DOWNLOAD_DELAY=0.5"],
                                      env=_env(tmp_path, "machine-b", postgres_url, s3_env, redis_server.url),
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            coordinator = _coordinator(_env(tmp_path, "machine-a", postgres_url, s3_env, redis_server.url),
                                       registry, "--set", "DOWNLOAD_DELAY=1")
            run_id = _announced_run(client)
            deadline = time.monotonic() + 120
            while not client.hlen(f"xxgk:run:{run_id}:inflight:w"):   # it holds requests: stop it mid-fetch
                assert time.monotonic() < deadline, "worker w never took a request"
                time.sleep(0.01)
            worker.send_signal(signal.SIGTERM)   # docker stop / systemctl stop: to the xxgk process only
            assert worker.wait(timeout=120) == 0, log.read_text("utf-8", "replace")[-3000:]
            assert not client.hlen(f"xxgk:run:{run_id}:inflight:w"), "what it held went back into the queue"
            _finish(coordinator)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        expected = {(r.url, r.agency_id, r.report_year) for r in server.portals.expected_reports(base)
                    if r.agency_id in ("sfq-gov", "sfq-wjj")}
    assert "工作进程 w 已停止（完成了 0 次运行）" in log.read_text("utf-8", "replace")
    config = config_in(tmp_path / "machine-a", {**s3_env, "XXGK_DATABASE_URL": postgres_url})
    with catalog_of(config) as session:
        _no_duplicates(session, run_id)
        found = {(r.url, r.agency_id, r.report_year) for r in session.scalars(select(Report))}
        assert expected <= found, f"reports lost: {expected - found}"


def test_a_run_whose_redis_state_vanishes_ends_failed_and_proves_nothing_missing(tmp_path, redis_server,
                                                                                postgres_url, s3_env):
    """An operator's walk: Redis restarted without its data mid-run; the coordinator found an empty queue, called
    the run 抓取完成 with a third of its pages, exited 0, and a column read one page deep proved 未发布. Now the run
    ends 失败, the command says why and exits 1, and no year is 未发布 on its reads."""
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        registry = tmp_path / "registry.yaml"
        dump_registry(server.portals.registry(server.base_url), registry)
        client = redis.Redis.from_url(redis_server.url)
        env = _env(tmp_path, "machine-a", postgres_url, s3_env, redis_server.url)
        coordinator = _coordinator(env, registry, "--set", "DOWNLOAD_DELAY=0.5")
        run_id = _announced_run(client)
        deadline = time.monotonic() + 120
        config = config_in(tmp_path / "machine-a", env)
        while time.monotonic() < deadline:
            with catalog_of(config) as session:
                if session.scalar(select(func.count()).select_from(Capture)) >= 5:
                    break
            time.sleep(0.5)
        client.flushall()   # what a restart without persistence leaves
        out, _ = coordinator.communicate(timeout=600)
        text = out.decode("utf-8", "replace")
    assert coordinator.returncode == 1, text[-3000:]
    assert "Redis 中本次运行的队列与状态丢失" in text, text[-3000:]
    with catalog_of(config) as session:
        assert session.get(CrawlRun, run_id).status == "failed"
        statuses = Counter(session.scalars(select(Verdict.status)))
    assert statuses and not statuses.get("missing"), statuses
