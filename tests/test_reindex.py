"""``xxgk reindex``: the WARC files are the source of truth — a catalog rebuilt from them alone gives back every
verdict, on the local store with SQLite and on S3 with PostgreSQL (issue #12)."""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from warcio.warcwriter import WARCWriter

from cli.common import IMPORTED, SHIPPED, watched_registry
from cli.main import main
from demo.portals import DemoPortals
from demo.shapes import DemoSite
from monitor.clock import today
from registry.agencies import load_registry
from storage.archive import Archive, ArchiveError
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture, ColumnCoverage, CrawlRun, FetchError, Report, Segment
from storage.config import Config
from storage.objects import open_store
from storage.recovery import scan_segment
from storage.reindex import rebuild
from storage.warc import NOTE_COVERAGE, NOTE_FETCH_ERROR
from tests.servers import free_port, venv_bin
from tests.test_alerts import Receiver
from tests.test_archive import crash_while_writing, fetch

AS_OF = today().isoformat()
YEARS = sorted({year for agency in DemoPortals().agencies for year in agency.watch_years})
# what `xxgk status` says of a verdict: status, dates, flags (and the report and the reason it rests on)
VERDICT_FIELDS = ("status", "deadline", "publication_date", "date_source", "days_late", "first_seen", "flags",
                  "undetermined_flags", "report_url", "capture_id", "reason")
T0 = datetime(2025, 3, 2, 1, 0, tzinfo=timezone.utc)


def clean_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("XXGK_")}
    env.update(values)
    return env


def demo(port: str, edition: str, env: dict[str, str]) -> None:
    """`xxgk demo` as a user runs it: serve the portals, crawl, parse, judge."""
    done = subprocess.run([str(venv_bin("xxgk")), "demo", "--port", port, "--edition", edition, "--as-of", AS_OF,
                           "--quiet"], capture_output=True, text=True, timeout=900, env=clean_env(**env))
    assert done.returncode == 0, done.stderr[-2000:]


def xxgk(capsys, *argv: str) -> tuple[int, str, str]:
    """One `xxgk` command in this process (the environment says where the archive and catalog are)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def verdicts(capsys) -> dict[tuple[int, str], dict]:
    found = {}
    for year in YEARS:
        code, out, err = xxgk(capsys, "status", "--year", str(year), "--as-of", AS_OF, "--format", "json")
        assert code == 0, err
        for row in json.loads(out):
            found[(year, row["agency_id"])] = {name: row.get(name) for name in VERDICT_FIELDS}
    return found


def snapshot(config: Config) -> dict[str, object]:
    """What the catalog holds that the WARCs must give back, ids replaced by WARC record ids."""
    with Catalog.open(config, create=False) as catalog, catalog.reading() as session:
        record_of = {row.id: row.record_id for row in session.query(Capture)}
        ids = ("id", "refers_to_capture_id", "concurrent_to_capture_id")  # catalog ids: compared as record ids
        columns = [name for name in Capture.__table__.columns.keys() if name not in ids]
        return {
            "runs": sorted((run.id, run.status, run.started_at, run.finished_at) for run in session.query(CrawlRun)),
            "segments": sorted((s.key, s.run_id, s.state, s.size, s.sha256, s.records) for s in session.query(Segment)),
            "captures": sorted((tuple(getattr(row, name) for name in columns), record_of.get(row.refers_to_capture_id),
                                record_of.get(row.concurrent_to_capture_id))
                               for row in session.query(Capture)),
            "errors": sorted((e.url, e.run_id, e.agency_id, e.kind, e.message, e.at) for e in session.query(FetchError)),
            "coverage": sorted((tuple(getattr(row, name) for name in ColumnCoverage.__table__.columns.keys()
                                      if name not in ("id", "capture_id")) + (record_of.get(row.capture_id),)
                                for row in session.query(ColumnCoverage)), key=repr),
            "reports": sorted((record_of[r.capture_id], r.agency_id, r.is_report, r.kind, r.report_year,
                               r.publication_date, r.date_source, r.title, r.error) for r in session.query(Report)),
        }


# ---------------------------------------------------------------- the demo, crawled twice, rebuilt

@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_catalog_rebuilt_from_the_warcs_gives_the_same_verdicts(backend, tmp_path, request, monkeypatch, capsys):
    """Crawl both editions of the demo portals (revisits, an edited report, a back-dated one, fetch errors, column
    coverage), print every year's verdicts, lose the catalog, `xxgk reindex`: the same verdicts, and verify passes.
    On the local store the crawls also alert a webhook receiver on loopback: the alert tables are not in the WARCs,
    yet after the rebuild the next crawl delivers no event a second time."""
    data_dir = tmp_path / "data"
    env = {"XXGK_DATA_DIR": str(data_dir)}
    receiver = None
    if backend == "s3":
        env.update(request.getfixturevalue("s3_env"), XXGK_DATABASE_URL=request.getfixturevalue("postgres_url"))
    else:
        receiver = Receiver().start()
        request.addfinalizer(receiver.stop)
        settings = tmp_path / "alerts.toml"
        settings.write_text(f'web_base = "https://xxgk.example.org"\n[[webhook]]\nname = "ops"\n'
                            f'url = "{receiver.url}"\ntimeout = 5\n', encoding="utf-8")
        env["XXGK_ALERTS"] = str(settings)
    port = str(free_port())
    for edition in ("1", "2"):
        demo(port, edition, env)
    delivered = []
    if receiver is not None:
        delivered = [body["key"] for body in receiver.bodies()]
        kinds = {key.split(":")[0] for key in delivered}
        assert {"missing", "late", "changed", "backdated"} <= kinds, kinds
        assert len(delivered) == len(set(delivered))
    for name, value in clean_env(**env).items():
        monkeypatch.setenv(name, value)
    for name in [name for name in os.environ if name.startswith("XXGK_") and name not in env]:
        monkeypatch.delenv(name)
    before = verdicts(capsys)
    held = snapshot(Config.from_env())
    statuses = {verdict["status"] for verdict in before.values()}
    raised = {flag for verdict in before.values() for flag in verdict["flags"]}
    assert {"on_time", "late", "missing"} <= statuses and {"changed", "backdated", "copied"} <= raised, \
        (statuses, raised)
    assert held["errors"] and held["coverage"] and any(row[1] for row in held["captures"])  # errors, revisits

    # the catalog is lost: the SQLite file is deleted; the PostgreSQL catalog is replaced by an empty database
    if backend == "s3":
        monkeypatch.setenv("XXGK_DATABASE_URL", request.getfixturevalue("postgres_server").create_database())
    else:
        for path in data_dir.glob("catalog.sqlite3*"):
            path.unlink()
    code, _out, err = xxgk(capsys, "status", "--year", str(YEARS[-1]), "--as-of", AS_OF)
    assert code == 1 and "xxgk crawl" in err

    registry = data_dir / "demo-registry.yaml"   # what `xxgk demo` crawled, kept beside the archive
    assert [agency.id for agency in load_registry(registry)] == [
        agency.id for agency in DemoSite().registry(f"http://127.0.0.1:{port}")]
    code, out, err = xxgk(capsys, "reindex", "--registry", str(registry))
    assert code == 0, err
    reindexed = out
    rebuilt = snapshot(Config.from_env())
    counts = {name: len(rows) for name, rows in held.items()}
    assert {name: len(rows) for name, rows in rebuilt.items()} == counts
    assert (f"运行 {counts['runs']}，WARC 段 {counts['segments']}，捕获 {counts['captures']}" in out
            and f"抓取错误 {counts['errors']}，栏目覆盖记录 {counts['coverage']}" in out), out
    for name in ("runs", "segments", "captures", "errors", "coverage", "reports"):
        assert rebuilt[name] == held[name], name
    assert verdicts(capsys) == before

    code, out, err = xxgk(capsys, "verify")
    assert code == 0, out + err
    assert f"已检查 {counts['captures']} 条捕获" in out and "损坏 corrupt  0" in out

    if backend == "local":
        # the whole archive exported, then reindexed alone elsewhere: each run comes back as itself (a failed run
        # merged into a finished one would make its reads count), and so do the verdicts
        exported = tmp_path / "all.warc.gz"
        code, _out, err = xxgk(capsys, "export-warc", "--all", str(exported))
        assert code == 0, err
        imported = tmp_path / "elsewhere" / "objects" / "warcs" / "imported"
        imported.mkdir(parents=True)
        shutil.copy(exported, imported / exported.name)
        monkeypatch.setenv("XXGK_DATA_DIR", str(tmp_path / "elsewhere"))
        code, _out, err = xxgk(capsys, "reindex", "--registry", str(registry))
        assert code == 0, err
        again = snapshot(Config.from_env())
        assert again["runs"] == held["runs"]
        for name in ("errors", "coverage", "reports"):
            assert again[name] == held[name], name
        assert verdicts(capsys) == before
        monkeypatch.setenv("XXGK_DATA_DIR", str(data_dir))

    if receiver is not None:
        assert "记为已通知" in reindexed, reindexed
        assert len(receiver.bodies()) == len(delivered)   # a rebuild sends nothing itself
        demo(port, "2", env)
        again = [body["key"] for body in receiver.bodies()[len(delivered):]]
        assert again == [], again


# ---------------------------------------------------------------- refusing, forcing, failing

def small_archive(config: Config) -> dict[str, object]:
    """One run: a report page, its revisit, a fetch error, a coverage row; returns what the catalog holds."""
    with Archive.open(config, run_id="run-1", durability="os") as archive:
        page = fetch(archive, "http://a.example.gov.cn/nb/2024.html", b"<html>2024 report</html>", when=T0,
                     agency_id="a1", extra_metadata={"role": "column"})
        fetch(archive, "http://a.example.gov.cn/nb/2024.html", b"<html>2024 report</html>",
              when=T0 + timedelta(days=1), agency_id="a1", extra_metadata={"role": "column"})
        archive.record_error("http://a.example.gov.cn/nb/2023.html", "http", "HTTP 404 Not Found", agency_id="a1",
                             at=T0 + timedelta(hours=1))
        archive.record_coverage(agency_id="a1", column_url="http://a.example.gov.cn/nb/", found_by="registry",
                                read_at=T0, capture_id=page.id, pages_walked=2, complete=True, items_read=7,
                                dated_items=7, earliest_item=date(2016, 1, 20), latest_item=date(2025, 1, 30),
                                errors=[{"url": "http://a.example.gov.cn/nb/2023.html", "kind": "http",
                                         "message": "HTTP 404 Not Found"}])
        archive.finish("finished", counts={"pages": 2})
    return snapshot(config)


def write_registry(path: Path) -> Path:
    path.write_text("- id: a1\n  name: 甲局\n  level: department\n  homepage: http://a.example.gov.cn/\n",
                    encoding="utf-8")
    return path


def test_a_catalog_that_is_not_empty_is_refused_and_force_rebuilds_it(catalog_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XXGK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XXGK_DATABASE_URL", catalog_url)
    config = Config.from_env()
    held = small_archive(config)
    registry = write_registry(tmp_path / "registry.yaml")
    with Catalog.open(config) as catalog, catalog.session() as session:  # a row no WARC holds
        queries.add_error(session, "http://not-archived.example/", "dns", "made up", run_id="run-1")

    code, out, err = xxgk(capsys, "reindex", "--registry", str(registry))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "--force" in err, err
    assert len(snapshot(config)["errors"]) == 2  # untouched

    code, out, err = xxgk(capsys, "reindex", "--registry", str(registry), "--force")
    assert code == 0, err
    assert snapshot(config) == held
    assert "运行 1，WARC 段 1，捕获 2" in out and "抓取错误 1，栏目覆盖记录 1" in out
    with Catalog.open(config) as catalog, catalog.reading() as session:
        assert [agency.id for agency in queries.list_agencies(session)] == ["a1"]
        [row] = queries.coverage_of_agency(session, "a1")
        assert queries.get_capture(session, row.capture_id).timestamp == T0  # the capture it names, re-found

    with Archive.open(config, run_id="run-2", durability="os") as live:  # a crawl is writing its segment
        fetch(live, "http://a.example.gov.cn/", b"<html>home</html>", agency_id="a1")
        code, out, err = xxgk(capsys, "reindex", "--registry", str(registry), "--force")
        assert code == 1 and len(err.strip().splitlines()) == 1 and "running crawl" in err, err
        assert len(snapshot(config)["captures"]) == 3  # nothing dropped


def test_a_rebuild_given_the_imported_registry_keeps_it_as_the_one_crawls_watch(tmp_path, monkeypatch, capsys):
    """Production imports its registry, then loses the catalog and rebuilds it with that registry (README
    "Backups"): its agencies are watched again, so crawls and schedules without --registry take it, not the
    shipped one. Rebuilt with the shipped registry (no --registry), nothing is marked, as before the loss."""
    monkeypatch.setenv("XXGK_DATA_DIR", str(tmp_path / "data"))
    config = Config.from_env()
    small_archive(config)
    registry = write_registry(tmp_path / "registry.yaml")
    assert xxgk(capsys, "agencies", "import", str(registry))[0] == 0

    code, out, err = xxgk(capsys, "reindex", "--registry", str(registry), "--force")
    assert code == 0, err
    said = out
    code, out, err = xxgk(capsys, "agencies", "list", "--format", "json")
    assert code == 0 and [(row["id"], row["watched"]) for row in json.loads(out)] == [("a1", True)]
    assert f"监测名单：注册表 {registry} 的 1 个机构" in said
    assert watched_registry(config, None)[1] == IMPORTED

    code, out, err = xxgk(capsys, "reindex", "--force")
    assert code == 0, err
    with Catalog.open(config) as catalog, catalog.reading() as session:
        assert queries.list_agencies(session, watched=True) == []
    assert watched_registry(config, None)[1] == SHIPPED


def test_an_unreadable_store_fails_with_one_line_and_leaves_the_catalog(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XXGK_DATA_DIR", str(tmp_path / "data"))
    held = small_archive(Config.from_env())
    registry = write_registry(tmp_path / "registry.yaml")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("XXGK_S3_ENDPOINT", f"127.0.0.1:{port}")
    monkeypatch.setenv("XXGK_S3_ACCESS_KEY", "k")
    monkeypatch.setenv("XXGK_S3_SECRET_KEY", "s")
    code, out, err = xxgk(capsys, "reindex", "--registry", str(registry), "--force")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("xxgk reindex: cannot read the archive:"), err
    for name in ("XXGK_S3_ENDPOINT", "XXGK_S3_ACCESS_KEY", "XXGK_S3_SECRET_KEY"):
        monkeypatch.delenv(name)
    assert snapshot(Config.from_env()) == held   # --force dropped nothing: the store failed first

    shutil.rmtree(tmp_path / "data" / "objects")  # a local store without a single segment
    code, out, err = xxgk(capsys, "reindex", "--registry", str(registry), "--force")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "no WARC segment" in err, err
    assert snapshot(Config.from_env()) == held


def test_damage_inside_a_segment_loses_only_the_records_it_hits_and_verify_still_says_so(tmp_path, monkeypatch,
                                                                                           capsys):
    """A few bytes flipped inside one record in the middle of a segment: reindex keeps every record after it (each
    is a gzip member of its own) and says which bytes it could not read; verify, on the rebuilt catalog, still
    reports the segment damaged (its index no longer names what was lost, the bytes do)."""
    monkeypatch.setenv("XXGK_DATA_DIR", str(tmp_path / "data"))
    config = Config.from_env()
    registry = write_registry(tmp_path / "registry.yaml")
    with Archive.open(config, run_id="run-1", durability="os") as archive:
        refs = [fetch(archive, f"http://a.example.gov.cn/nb/{number}.html", f"<html>第 {number} 页 {'字' * 500}</html>"
                      .encode(), when=T0 + timedelta(minutes=number), agency_id="a1") for number in range(6)]
        archive.record_coverage(agency_id="a1", column_url="http://a.example.gov.cn/nb/", found_by="registry",
                                read_at=T0, capture_id=refs[0].id, pages_walked=1, complete=True, items_read=6,
                                dated_items=6, earliest_item=date(2016, 1, 20), latest_item=date(2025, 1, 30))
        archive.finish("finished", counts={"pages": 6})
    with Catalog.open(config) as catalog, catalog.reading() as session:
        damaged = queries.get_capture(session, refs[2].id)
        key, offset, length = damaged.warc_key, damaged.offset, damaged.length
    [segment] = list((config.objects_dir).rglob("*.warc.gz"))
    data = bytearray(segment.read_bytes())
    for position in range(offset + length // 2, offset + length // 2 + 40):   # inside record 2's deflate data
        data[position] ^= 0xFF
    segment.write_bytes(bytes(data))

    code, out, err = xxgk(capsys, "reindex", "--registry", str(registry), "--force")
    assert code == 0, err
    assert f"{key} 已损坏" in err and f"字节 {offset}–{offset + length}" in err, err
    with Catalog.open(config) as catalog, catalog.reading() as session:
        urls = {row.url for row in session.query(Capture)}
        assert len(queries.coverage_of_agency(session, "a1")) == 1   # the run's notes come after the damage
    assert urls == {f"http://a.example.gov.cn/nb/{number}.html" for number in (0, 1, 3, 4, 5)}

    code, out, err = xxgk(capsys, "verify")
    assert code == 1 and "段损坏 1" in out, out + err
    assert f"segment unreadable from byte {offset}" in out + err


# ---------------------------------------------------------------- what the WARCs hold

def test_errors_coverage_and_the_run_end_are_warc_records_written_before_their_rows(storage_config, monkeypatch,
                                                                                    tmp_path):
    archive = Archive.open(storage_config, run_id="run-1", durability="os")

    def broken(*_args, **_kwargs):
        raise RuntimeError("the catalog went away")

    monkeypatch.setattr(queries, "add_error", broken)
    with pytest.raises(ArchiveError, match="the catalog went away"):
        archive.record_error("http://lost.example/", "timeout", "read timed out", agency_id="a1", at=T0)
    monkeypatch.undo()
    archive.record_coverage(agency_id="a1", column_url=None, read_at=T0, problem="not_found", detail="首页没有栏目")
    with pytest.raises(ArchiveError):
        archive.record_coverage(agency_id="a1", read_at=T0, problem="no-such-problem")
    archive.finish("interrupted", counts={"pages": 0})
    [key] = list(open_store(storage_config).list("warcs/"))
    data = open_store(storage_config).get_bytes(key)
    notes = [record.note() for _o, _l, record in scan_segment(io.BytesIO(data))[0] if record.note() is not None]
    assert [note["xxgk"] for note in notes] == ["fetch-error", "column-coverage", "run-end"]
    assert notes[0]["url"] == "http://lost.example/" and notes[0]["at"] == T0.isoformat()
    assert notes[1]["problem"] == "not_found" and notes[2]["status"] == "interrupted"
    # each under a URN of its own, never a page's URL: replay tools index metadata records by their target URI
    uris = [record.target_uri for _o, _l, record in scan_segment(io.BytesIO(data))[0] if record.note() is not None]
    assert uris == ["urn:xxgk:fetch-error:http://lost.example/", "urn:xxgk:column-coverage:a1", "urn:xxgk:run:run-1"]
    local = tmp_path / "segment.warc.gz"
    local.write_bytes(data)
    check = subprocess.run([str(venv_bin("warcio")), "check", str(local)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    # the error whose row was never written is back after a rebuild; so are the run's end and the coverage row
    fresh = replace(storage_config, database_url=f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    with Catalog.open(fresh) as catalog:
        report = rebuild(open_store(fresh), catalog, fresh.data_dir / "spool")
        assert (report.runs, report.errors, report.coverage, report.captures) == (1, 1, 1, 0)
        with catalog.reading() as session:
            [error] = queries.errors_by_run(session, "run-1")
            assert (error.url, error.kind, error.at, error.agency_id) == ("http://lost.example/", "timeout", T0, "a1")
            run = queries.get_run(session, "run-1")
            assert run.status == "interrupted" and run.counts == {"pages": 0}
            assert [row.problem for row in queries.coverage_of_agency(session, "a1")] == ["not_found"]


def notes_filed_under_their_pages(config: Config, kinds=(NOTE_FETCH_ERROR, NOTE_COVERAGE)) -> int:
    """Rewrite the stored segments as archives were written before notes had URNs of their own: a fetch error's
    or a column's note had the page's URL as its WARC-Target-URI. The notes must follow every capture of their
    segment (the captures' offsets are kept). Returns how many notes were rewritten."""
    store = open_store(config)
    rewritten = 0
    for key in store.list("warcs/"):
        data = store.get_bytes(key)
        out = io.BytesIO()
        writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
        for offset, length, record in scan_segment(io.BytesIO(data))[0]:
            note = record.note()
            if note is None or note["xxgk"] not in kinds:
                assert not rewritten or note is not None, "a capture after a rewritten note would move"
                out.write(data[offset:offset + length])
                continue
            page = note.get("url") or note.get("column_url")
            headers = {name: value for name, value in record.headers
                       if name in ("WARC-Type", "WARC-Record-ID", "WARC-Date", "WARC-Warcinfo-ID")}
            writer.write_record(writer.create_warc_record(
                page, "metadata", payload=io.BytesIO(record.block), length=len(record.block),
                warc_content_type="application/json", warc_headers_dict={**headers, "WARC-Target-URI": page}))
            rewritten += 1
        store.put_bytes(key, out.getvalue())
    return rewritten


def test_notes_written_under_their_pages_urls_still_rebuild_the_same(tmp_path):
    """Archives written before notes had URNs of their own name the page in a note's WARC-Target-URI: reindex
    reads them the same (and an export files them under their URNs: tests/test_verify_export.py)."""
    config = Config.from_env({}, data_dir=tmp_path / "data")
    held = small_archive(config)
    assert notes_filed_under_their_pages(config) == 2
    fresh = replace(config, database_url=f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    with Catalog.open(fresh) as catalog:
        report = rebuild(open_store(fresh), catalog, fresh.data_dir / "spool")
    assert (report.errors, report.coverage, report.bad_notes) == (1, 1, 0)
    rebuilt = snapshot(fresh)
    for name in ("runs", "captures", "errors", "coverage"):
        assert rebuilt[name] == held[name], name


def test_a_revisit_whose_original_is_in_a_later_segment_and_a_dead_writers_spool_are_rebuilt(tmp_path):
    config = Config.from_env({}, data_dir=tmp_path / "data")
    page = b"<html>unchanged</html>"
    # two writers at once: the first segment begun holds a revisit of a capture in the second
    first = Archive.open(config, run_id="run-a", durability="os")
    fetch(first, "http://b.example/early", b"early", when=T0)
    second = Archive.open(config, run_id="run-b", durability="os")
    original = fetch(second, "http://b.example/page", page, when=T0 + timedelta(minutes=1))
    revisit = fetch(first, "http://b.example/page", page, when=T0 + timedelta(minutes=2))
    assert revisit.record_type == "revisit" and revisit.refers_to == original.id
    # and a screenshot of that capture: which capture it shows is resolved once every segment is indexed
    first.record_resource("urn:screenshot:http://b.example/page", b"\xff\xd8\xff\xe0 shot", "image/jpeg",
                          concurrent_to=original.id, fetched_at=T0 + timedelta(minutes=3))
    first.finish()
    second.finish()
    spooled_key = crash_while_writing(config, 2)   # a dead writer's segment, still in the spool
    held = snapshot(config)
    (tmp_path / "data" / "catalog.sqlite3").unlink()

    with Catalog.open(config) as catalog:
        report = rebuild(open_store(config), catalog, config.data_dir / "spool")
    assert (report.segments, report.spooled, report.captures, report.unresolved) == (3, 1, 6, 0)
    rebuilt = snapshot(config)
    assert rebuilt["captures"] == held["captures"]
    assert [row for row in rebuilt["segments"] if row[0] == spooled_key][0][2] == "sealed"
    with Archive.open(config) as archive:  # the next writer uploads what waited in the spool
        assert archive.recovery.uploaded == [spooled_key]
    assert open_store(config).exists(spooled_key)
