"""`xxgk verify` and `xxgk export-warc`, run through the real CLI entry point on both object stores."""
from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cli.main import main
from storage.archive import Archive
from storage.catalog import Catalog
from storage.catalog import queries
from storage.catalog.models import Capture as CaptureRow
from storage.catalog.models import Segment
from storage.config import Config
from storage.objects import open_store
from storage.warc import read_members
from tests.servers import venv_bin

T0 = datetime(2024, 1, 30, 2, 0, 0, tzinfo=timezone.utc)
STORAGE_ENV = ("XXGK_DATA_DIR", "XXGK_DATABASE_URL", "XXGK_S3_ENDPOINT", "XXGK_S3_ACCESS_KEY", "XXGK_S3_SECRET_KEY",
               "XXGK_S3_BUCKET", "XXGK_S3_SECURE")


@pytest.fixture
def cli_env(storage_config, monkeypatch):
    """The environment the CLI reads, pointing at this test's data dir (and bucket)."""
    for name in STORAGE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XXGK_DATA_DIR", str(storage_config.data_dir))
    if storage_config.uses_s3:
        monkeypatch.setenv("XXGK_S3_ENDPOINT", storage_config.s3_endpoint)
        monkeypatch.setenv("XXGK_S3_ACCESS_KEY", storage_config.s3_access_key)
        monkeypatch.setenv("XXGK_S3_SECRET_KEY", storage_config.s3_secret_key)
        monkeypatch.setenv("XXGK_S3_BUCKET", storage_config.s3_bucket)
    return storage_config


def archive_two_runs(config: Config) -> dict:
    """Run 1: three pages in two segments (agency a1, a2). Run 2: a revisit of run 1's page and a new page."""
    made = {}
    with Archive.open(config, run_id="run-1", segment_size=1) as archive:  # every capture rolls a segment
        made["p1"] = archive.record_fetch("http://a1.example.gov.cn/nb/2023.html", "GET", [], 200, "OK",
                                          [("Content-Type", "text/html")], "年报 2023".encode() * 200,
                                          fetched_at=T0, agency_id="a1")
        made["p2"] = archive.record_fetch("http://a1.example.gov.cn/nb/2023.pdf", "GET", [], 200, "OK",
                                          [("Content-Type", "application/pdf")], b"%PDF-1.4 " + bytes(range(256)) * 40,
                                          fetched_at=T0, agency_id="a1")
        made["p3"] = archive.record_fetch("http://a2.example.gov.cn/", "GET", [], 200, "OK", [], b"a2 home",
                                          fetched_at=T0, agency_id="a2")
    with Archive.open(config, run_id="run-2") as archive:
        made["revisit"] = archive.record_fetch("http://a1.example.gov.cn/nb/2023.html", "GET", [], 200, "OK",
                                               [("Content-Type", "text/html")], "年报 2023".encode() * 200,
                                               fetched_at=T0 + timedelta(days=30), agency_id="a1")
        made["p4"] = archive.record_fetch("http://a2.example.gov.cn/new", "GET", [], 200, "OK", [], b"new",
                                          fetched_at=T0 + timedelta(days=30), agency_id="a2")
    assert made["revisit"].record_type == "revisit"
    return made


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- verify

def test_verify_reports_a_sound_archive(cli_env, capsys):
    archive_two_runs(cli_env)
    code, out, err = run_cli(capsys, "verify")
    assert code == 0, err
    assert "已检查 5 条捕获" in out
    assert "正常 ok       5" in out and "缺失 missing  0" in out and "损坏 corrupt  0" in out
    code, out, _ = run_cli(capsys, "verify", "--run", "run-2")
    assert code == 0 and "已检查运行 run-2 的 2 条捕获" in out


def test_verify_finds_a_flipped_byte_in_a_stored_segment(cli_env, capsys):
    made = archive_two_runs(cli_env)
    store = open_store(cli_env)
    target = made["p2"]
    data = bytearray(store.get_bytes(target.warc_key))
    data[target.offset + target.length // 2] ^= 0x20
    store.put_bytes(target.warc_key, bytes(data))
    code, out, _err = run_cli(capsys, "verify")
    assert code == 1
    assert "正常 ok       4" in out and "损坏 corrupt  1" in out and "缺失 missing  0" in out
    assert f"捕获 {target.id} {target.url}" in out


def test_verify_finds_damage_outside_the_indexed_records(cli_env, capsys):
    made = archive_two_runs(cli_env)
    store = open_store(cli_env)
    target = made["p3"]
    data = bytearray(store.get_bytes(target.warc_key))
    data[5] ^= 0x01  # inside the segment's warcinfo record, which no capture row points at
    store.put_bytes(target.warc_key, bytes(data))
    code, out, _err = run_cli(capsys, "verify")
    assert code == 1
    assert "正常 ok       5" in out and "段损坏 1" in out


def test_verify_finds_a_deleted_segment(cli_env, capsys):
    made = archive_two_runs(cli_env)
    open_store(cli_env).delete(made["p1"].warc_key)
    code, out, _err = run_cli(capsys, "verify")
    assert code == 1
    # the page, and apart from it its revisit in run 2, which holds no payload of its own
    assert "缺失 missing  1" in out and "正常 ok       3" in out and "损坏 corrupt  0" in out
    assert "原始记录缺失 1，原始记录损坏 0" in out
    assert made["p1"].warc_key in out
    assert f"原始记录缺失 捕获 {made['revisit'].id} " in out
    assert f"its original, capture {made['p1'].id}, is missing" in out


def test_verify_tells_a_revisit_whose_original_is_damaged_from_one_whose_original_is_missing(cli_env, capsys):
    """An archivist's walk: with the original's bytes damaged, verify listed its sound revisit as 缺失, sending
    them to look for a file that is there. The revisit is counted apart, and says its original is damaged."""
    made = archive_two_runs(cli_env)
    store = open_store(cli_env)
    target = made["p1"]
    data = bytearray(store.get_bytes(target.warc_key))
    data[target.offset + target.length // 2] ^= 0x20
    store.put_bytes(target.warc_key, bytes(data))
    code, out, _err = run_cli(capsys, "verify")
    assert code == 1
    assert "正常 ok       3" in out and "缺失 missing  0" in out and "损坏 corrupt  1" in out
    assert "原始记录缺失 0，原始记录损坏 1" in out
    assert f"损坏 捕获 {target.id} {target.url}" in out
    assert f"原始记录损坏 捕获 {made['revisit'].id} {target.url}: " in out
    assert f"its original, capture {target.id}, is corrupt" in out
    # run 2 alone: its revisit's original is in run 1, checked all the same
    code, out, _err = run_cli(capsys, "verify", "--run", "run-2")
    assert code == 1
    assert "正常 ok       1" in out and "缺失 missing  0" in out and "损坏 corrupt  0" in out
    assert "原始记录缺失 0，原始记录损坏 1" in out


def test_verify_and_export_without_a_catalog_say_so(tmp_path, monkeypatch, capsys):
    for name in STORAGE_ENV:
        monkeypatch.delenv(name, raising=False)
    code, out, err = run_cli(capsys, "--data-dir", str(tmp_path / "empty"), "verify")
    assert code == 1 and out == ""
    assert err.startswith("xxgk verify: no catalog") and err.count("\n") == 1
    code, _out, err = run_cli(capsys, "--data-dir", str(tmp_path / "empty"), "export-warc", "--all",
                              str(tmp_path / "x.warc.gz"))
    assert code == 1 and err.startswith("xxgk export-warc: no catalog")
    assert not (tmp_path / "empty").exists()


def test_verify_with_wrong_s3_credentials_names_the_setting(s3_env, tmp_path, monkeypatch, capsys):
    config = Config.from_env(s3_env, data_dir=tmp_path / "data")
    archive_two_runs(config)
    for name, value in {**s3_env, "XXGK_S3_SECRET_KEY": "wrong", "XXGK_DATA_DIR": str(config.data_dir)}.items():
        monkeypatch.setenv(name, value)
    code, _out, err = run_cli(capsys, "verify")
    assert code == 1 and "XXGK_S3_SECRET_KEY" in err and err.count("\n") == 1


def test_help_exits_zero(capsys):
    for command in ("verify", "export-warc"):
        with pytest.raises(SystemExit) as caught:
            main([command, "--help"])
        assert caught.value.code == 0
        assert "usage: xxgk " + command in capsys.readouterr().out


# ---------------------------------------------------------------- export-warc

def warcio_index(path: Path) -> list[dict]:
    check = subprocess.run([str(venv_bin("warcio")), "check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    done = subprocess.run([str(venv_bin("warcio")), "index", "-f", "warc-type,warc-target-uri,warc-record-id",
                           str(path)], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def runs_named(path: Path) -> list[str]:
    """The run of every warcinfo in an exported file, once each verified that every record's WARC-Warcinfo-ID
    names a warcinfo in the file (an archivist reading it needs the run's crawler, settings and robots policy)."""
    records = [record for _o, _l, record in read_members(path.read_bytes())]
    infos = {record.record_id: record.fields() for record in records if record.record_type == "warcinfo"}
    named = [record.header("WARC-Warcinfo-ID") for record in records if record.record_type != "warcinfo"]
    assert named and all(name in infos for name in named), set(named) - set(infos)
    assert all(infos[name].get("isPartOf") == infos[name].get("run-id") for name in named)
    return list(dict.fromkeys(infos[name]["run-id"] for name in named))


def test_export_of_a_run_brings_the_originals_of_its_revisits(cli_env, capsys, tmp_path):
    made = archive_two_runs(cli_env)
    out_file = tmp_path / "run-2.warc.gz"
    code, out, err = run_cli(capsys, "export-warc", "--run", "run-2", str(out_file))
    assert code == 0, err
    assert "已导出 3 条捕获，含 1 条被 revisit 引用的原始记录" in out
    index = warcio_index(out_file)
    # each run's warcinfo comes before its first record (run-1's for the original, run-2's for the rest)
    assert [row["warc-type"] for row in index] == ["warcinfo"] + ["warcinfo", "response", "request", "metadata"] + \
        ["warcinfo", "revisit", "request", "metadata"] + ["response", "request", "metadata"]
    assert runs_named(out_file) == ["run-1", "run-2"]
    ids = [row["warc-record-id"] for row in index if row["warc-type"] in ("response", "revisit")]
    assert ids == [made["p1"].record_id, made["revisit"].record_id, made["p4"].record_id]
    records = {record.record_id: record for _o, _l, record in read_members(out_file.read_bytes())}
    assert records[made["p1"].record_id].payload == "年报 2023".encode() * 200
    assert records[made["revisit"].record_id].header("WARC-Refers-To") == made["p1"].record_id


def test_export_by_agency_and_everything(cli_env, capsys, tmp_path):
    archive_two_runs(cli_env)
    code, _out, err = run_cli(capsys, "export-warc", "--agency", "a2", str(tmp_path / "a2.warc.gz"))
    assert code == 0, err
    uris = [row["warc-target-uri"] for row in warcio_index(tmp_path / "a2.warc.gz") if row["warc-type"] == "response"]
    assert uris == ["http://a2.example.gov.cn/", "http://a2.example.gov.cn/new"]
    code, out, err = run_cli(capsys, "export-warc", "--all", str(tmp_path / "all.warc.gz"))
    assert code == 0 and "已导出 5 条捕获到" in out
    assert sum(row["warc-type"] in ("response", "revisit") for row in warcio_index(tmp_path / "all.warc.gz")) == 5
    # run-1 wrote three segments: the warcinfo of each, before its record
    assert sum(row["warc-type"] == "warcinfo" for row in warcio_index(tmp_path / "all.warc.gz")) == 1 + 3 + 1
    assert runs_named(tmp_path / "all.warc.gz") == ["run-1", "run-2"]


def test_export_refuses_what_it_cannot_do(cli_env, capsys, tmp_path):
    made = archive_two_runs(cli_env)
    code, _out, err = run_cli(capsys, "export-warc", "--run", "no-such-run", str(tmp_path / "x.warc.gz"))
    assert code == 1 and "no captures for run no-such-run" in err
    code, _out, err = run_cli(capsys, "export-warc", "--all", str(tmp_path / "missing-dir" / "x.warc.gz"))
    assert code == 1 and "no such directory" in err
    with pytest.raises(SystemExit) as caught:
        main(["export-warc", "--run", "a", "--all", str(tmp_path / "x.warc.gz")])
    assert caught.value.code == 2
    capsys.readouterr()
    open_store(cli_env).delete(made["p3"].warc_key)
    code, _out, err = run_cli(capsys, "export-warc", "--all", str(tmp_path / "x.warc.gz"))
    assert code == 1 and "xxgk verify" in err
    assert not (tmp_path / "x.warc.gz").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_export_reads_segments_still_in_the_spool(cli_env, capsys, tmp_path):
    archive = Archive.open(cli_env)
    ref = archive.record_fetch("http://spool.example/", "GET", [], 200, "OK", [], b"not uploaded yet", fetched_at=T0)
    try:
        code, _out, err = run_cli(capsys, "export-warc", "--run", archive.run_id, str(tmp_path / "s.warc.gz"))
        assert code == 0, err
        records = read_members((tmp_path / "s.warc.gz").read_bytes())
        assert [r.payload for _o, _l, r in records if r.record_type == "response"] == [b"not uploaded yet"]
        code, out, _err = run_cli(capsys, "verify")
        assert code == 0 and "正常 ok       1" in out
        # an operator's walk: with S3 down all crawl long, verify said the segment was sound in S3 (0 objects)
        assert "1 个 WARC 段尚未上传，只在本机暂存区" in out, out
    finally:
        archive.close()
    with Catalog.open(cli_env) as catalog, catalog.reading() as session:
        assert queries.get_segment(session, ref.warc_key).state == "uploaded"


def exported_notes(path: Path) -> list[dict]:
    return [note for note in (record.note() for _o, _l, record in read_members(path.read_bytes())) if note]


def test_export_carries_what_verdicts_rest_on_and_reindex_gives_it_back(cli_env, capsys, tmp_path):
    """A fetch error, a column's coverage and a run's end are notes, not captures: an export without them would
    turn an agency's 无法判定 into 未发布 wherever the file is read again."""
    from storage.reindex import rebuild
    from tests.test_reindex import small_archive, snapshot

    held = small_archive(cli_env)   # run-1: agency a1's pages, a fetch error, its column's coverage, the run's end
    with Archive.open(cli_env, run_id="run-2") as archive:   # a run that never reached agency a2
        archive.record_error("http://b.example.gov.cn/", "timeout", "连接超时", agency_id="a2", at=T0)
        archive.finish("finished")

    code, out, err = run_cli(capsys, "export-warc", "--run", "run-1", str(tmp_path / "run-1.warc.gz"))
    assert code == 0, err
    assert "另有 3 条运行记录" in out
    notes = exported_notes(tmp_path / "run-1.warc.gz")
    assert [(note["xxgk"], note.get("agency_id")) for note in notes] == [
        ("fetch-error", "a1"), ("column-coverage", "a1"), ("run-end", None)]
    assert notes[0]["url"] == "http://a.example.gov.cn/nb/2023.html" and notes[1]["items_read"] == 7

    # an agency with no capture at all still has something to export: the error that says why
    code, out, err = run_cli(capsys, "export-warc", "--agency", "a2", str(tmp_path / "a2.warc.gz"))
    assert code == 0, err
    assert "已导出 0 条捕获" in out
    assert [(note["xxgk"], note.get("run_id")) for note in exported_notes(tmp_path / "a2.warc.gz")] == [
        ("fetch-error", "run-2"), ("run-end", "run-2")]
    code, _out, err = run_cli(capsys, "export-warc", "--agency", "nobody", str(tmp_path / "x.warc.gz"))
    assert code == 1 and "no captures for agency nobody" in err

    # the exported file alone, as the only segment of an empty archive, rebuilds what the verdicts read
    elsewhere = Config.from_env({}, data_dir=tmp_path / "elsewhere")
    store = open_store(elsewhere)
    store.put_bytes("warcs/run-1/20240130T020000Z-export.warc.gz", (tmp_path / "run-1.warc.gz").read_bytes())
    with Catalog.open(elsewhere) as catalog:
        report = rebuild(store, catalog, elsewhere.data_dir / "spool")
    assert report.bad_notes == 0
    rebuilt = snapshot(elsewhere)
    assert rebuilt["errors"] == held["errors"] and rebuilt["coverage"] == held["coverage"]
    assert [(run[0], run[1], run[3]) for run in rebuilt["runs"]] == [(run[0], run[1], run[3]) for run in held["runs"]]
    assert len(rebuilt["captures"]) == len(held["captures"])


def test_a_run_export_carries_the_end_of_the_older_run_its_originals_come_from(cli_env, capsys, tmp_path):
    """An archivist's walk: `export-warc --run run-2` brought run-1's page (the original of run-2's revisit) but not
    run-1's end, so the file reindexed showed run-1, which had finished, as 已中断. The end comes along, and only
    it: run-1's fetch errors and coverage are not run-2's to export."""
    from storage.reindex import rebuild
    from tests.test_reindex import small_archive, snapshot

    small_archive(cli_env)    # run-1, finished: a page (and its revisit), a fetch error, its column's coverage
    with Archive.open(cli_env, run_id="run-2") as archive:
        revisit = archive.record_fetch("http://a.example.gov.cn/nb/2024.html", "GET", [], 200, "OK", [],
                                       b"<html>2024 report</html>", fetched_at=T0 + timedelta(days=400),
                                       agency_id="a1")
        archive.finish("failed", counts={"pages": 1})
    assert revisit.record_type == "revisit"
    held = snapshot(cli_env)
    assert [run[:2] for run in held["runs"]] == [("run-1", "finished"), ("run-2", "failed")]

    out_file = tmp_path / "run-2.warc.gz"
    code, out, err = run_cli(capsys, "export-warc", "--run", "run-2", str(out_file))
    assert code == 0, err
    assert "另有 2 条运行记录" in out and "含原始记录所属较早运行的结束记录 1 条" in out
    assert [(note["xxgk"], note["run_id"], note["status"]) for note in exported_notes(out_file)] == [
        ("run-end", "run-1", "finished"), ("run-end", "run-2", "failed")]
    assert runs_named(out_file) == ["run-1", "run-2"]

    elsewhere = Config.from_env({}, data_dir=tmp_path / "elsewhere")
    store = open_store(elsewhere)
    store.put_bytes("warcs/imported/run-2.warc.gz", out_file.read_bytes())
    with Catalog.open(elsewhere) as catalog:
        report = rebuild(store, catalog, elsewhere.data_dir / "spool")
    assert (report.runs, report.bad_notes, report.errors, report.coverage) == (2, 0, 0, 0)
    # each run as it ended, started and finished when it did
    assert snapshot(elsewhere)["runs"] == held["runs"]


def test_export_files_every_note_under_a_urn_of_its_own(cli_env, capsys, tmp_path):
    """pywb and cdxj-indexer index a metadata record by its WARC-Target-URI: a note filed under the page's URL
    replayed as that page (200, the JSON), for a page that never answered. Notes are written under URNs now, and
    those an older archive filed under the page are filed under their URNs when exported, the same records else."""
    from tests.test_reindex import notes_filed_under_their_pages, small_archive

    small_archive(cli_env)
    assert notes_filed_under_their_pages(cli_env) == 2    # as archives were written before
    stored = {record.record_id: record for key in open_store(cli_env).list("warcs/")
              for _o, _l, record in read_members(open_store(cli_env).get_bytes(key)) if record.note()}
    assert sorted(record.target_uri for record in stored.values())[0].startswith("http://")
    out_file = tmp_path / "run-1.warc.gz"
    code, _out, err = run_cli(capsys, "export-warc", "--run", "run-1", str(out_file))
    assert code == 0, err
    notes = [record for _o, _l, record in read_members(out_file.read_bytes()) if record.note()]
    assert [record.target_uri for record in notes] == [
        "urn:xxgk:fetch-error:http://a.example.gov.cn/nb/2023.html", "urn:xxgk:column-coverage:http://a.example.gov.cn/nb/",
        "urn:xxgk:run:run-1"]
    for record in notes:
        original = stored[record.record_id]
        assert (record.block, record.header("WARC-Date"), record.header("WARC-Warcinfo-ID")) == (
            original.block, original.header("WARC-Date"), original.header("WARC-Warcinfo-ID"))
    uris = {row["warc-target-uri"] for row in warcio_index(out_file) if row["warc-type"] != "warcinfo"}
    assert uris == {"http://a.example.gov.cn/nb/2024.html"} | {record.target_uri for record in notes}
    assert runs_named(out_file) == ["run-1"]


def test_reindexing_an_export_gives_each_record_back_to_its_own_run(cli_env, capsys, tmp_path):
    """An export under `warcs/imported/` was rebuilt as one run named `imported`, finished: a failed run's column
    read then counted as proof of 未发布 (a failed run's reads prove nothing). Each run comes back as itself."""
    from storage.reindex import rebuild
    from tests.test_reindex import small_archive, snapshot

    small_archive(cli_env)   # run-1, finished: agency a1's pages, a fetch error, its column's coverage
    with Archive.open(cli_env, run_id="run-2") as archive:   # run-2 failed, after reading the same column
        page = archive.record_fetch("http://a.example.gov.cn/nb/", "GET", [], 200, "OK", [], b"<html>column</html>",
                                    fetched_at=T0 + timedelta(days=400), agency_id="a1")
        archive.record_coverage(agency_id="a1", column_url="http://a.example.gov.cn/nb/", found_by="registry",
                                read_at=page.timestamp, capture_id=page.id, pages_walked=1, complete=True,
                                items_read=0, dated_items=0)
        archive.finish("failed")
    held = snapshot(cli_env)
    code, _out, err = run_cli(capsys, "export-warc", "--all", str(tmp_path / "all.warc.gz"))
    assert code == 0, err
    assert runs_named(tmp_path / "all.warc.gz") == ["run-1", "run-2"]

    elsewhere = Config.from_env({}, data_dir=tmp_path / "elsewhere")
    store = open_store(elsewhere)
    store.put_bytes("warcs/imported/all.warc.gz", (tmp_path / "all.warc.gz").read_bytes())
    with Catalog.open(elsewhere) as catalog:
        report = rebuild(store, catalog, elsewhere.data_dir / "spool")
    assert (report.runs, report.bad_notes) == (2, 0)
    rebuilt = snapshot(elsewhere)
    assert rebuilt["runs"] == held["runs"]
    assert [row[1] for row in rebuilt["runs"]] == ["finished", "failed"]
    assert rebuilt["errors"] == held["errors"] and rebuilt["coverage"] == held["coverage"]
    with Catalog.open(elsewhere) as catalog, catalog.reading() as session:
        runs = {row.record_id: row.run_id for row in session.query(CaptureRow)}
        assert [(s.key, s.run_id) for s in session.query(Segment)] == [("warcs/imported/all.warc.gz", "run-1")]
    with Catalog.open(cli_env) as catalog, catalog.reading() as session:
        assert runs == {row.record_id: row.run_id for row in session.query(CaptureRow)}
