"""The catalog on SQLite and on a real PostgreSQL server: migrations, constraints and the queries others use."""
from __future__ import annotations

import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from parsers.record import DateEvidence, ReportRecord
from storage.catalog import Catalog, CatalogError, CatalogMissing
from storage.catalog import queries
from storage.catalog.database import MIGRATIONS_DIR
from storage.catalog.models import Base, Capture, Report, include_in_comparison
from storage.config import Config

T0 = datetime(2023, 1, 30, 2, 20, 30, 123456, tzinfo=timezone.utc)


@pytest.fixture
def catalog(catalog_url):
    catalog = Catalog.open(catalog_url)
    yield catalog
    catalog.close()


def _segment(session, run_id="run-1", key="warcs/run-1/s1.warc.gz"):
    if queries.get_run(session, run_id) is None:
        queries.start_run(session, run_id, started_at=T0)
    if queries.get_segment(session, key) is None:
        queries.add_segment(session, key, run_id, "host-a")
    return key


def _capture(session, url, moment, *, offset, sha1="A" * 32, record_type="response", agency_id=None,
             run_id="run-1", refers_to=None, status=200):
    key = _segment(session, run_id, f"warcs/{run_id}/s1.warc.gz")
    return queries.add_capture(
        session, url=url, timestamp=moment, record_type=record_type, warc_key=key, offset=offset, length=100,
        group_length=300, record_id=f"<urn:uuid:{run_id}-{offset}>", payload_sha1=sha1, payload_sha256="0" * 64,
        payload_length=10, run_id=run_id, status=status, mime="text/html", agency_id=agency_id,
        refers_to_capture_id=refers_to, etag='"abc"', last_modified="Mon, 30 Jan 2023 02:20:30 GMT")


def test_open_migrates_to_head_and_the_schema_matches_the_models(catalog, catalog_url):
    script = ScriptDirectory.from_config(AlembicConfig(str(MIGRATIONS_DIR / "alembic.ini")))
    assert catalog.revision() == script.get_current_head()
    with catalog.engine.connect() as connection:
        # the search index objects of migration 0002 have no model: the comparison leaves them out
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "include_name": include_in_comparison})
        assert compare_metadata(context, Base.metadata) == []
    Catalog.open(catalog_url).close()  # a second open is a no-op
    assert catalog.revision() == script.get_current_head()


def test_parallel_first_opens_do_not_trip_over_each_other(catalog_url):
    errors: list[Exception] = []

    def open_once() -> None:
        try:
            Catalog.open(catalog_url).close()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with Catalog.open(catalog_url, create=False) as catalog:
        assert catalog.revision() is not None


def test_parallel_first_opens_from_separate_processes(catalog_url):
    code = "import sys; from storage.catalog import Catalog; Catalog.open(sys.argv[1]).close()"
    processes = [subprocess.Popen([sys.executable, "-c", code, catalog_url], stderr=subprocess.PIPE)
                 for _ in range(3)]
    failures = [process.communicate(timeout=120)[1].decode() for process in processes if process.wait(120) != 0]
    assert failures == []
    with Catalog.open(catalog_url, create=False) as catalog:
        with catalog.engine.connect() as connection:
            assert connection.execute(text("select count(*) from alembic_version")).scalar() == 1


def test_no_catalog_yet_is_reported_instead_of_created(tmp_path, postgres_url):
    config = Config.from_env({}, data_dir=tmp_path / "fresh")
    with pytest.raises(CatalogMissing, match="nothing has been archived"):
        Catalog.open(config, create=False)
    assert not (tmp_path / "fresh" / "catalog.sqlite3").exists()
    with pytest.raises(CatalogMissing):
        Catalog.open(postgres_url, create=False)


def test_unreachable_database_names_the_setting(tmp_path):
    from tests.servers import free_port

    with pytest.raises(CatalogError, match="XXGK_DATABASE_URL"):
        Catalog.open(f"postgresql://nobody@127.0.0.1:{free_port()}/nothing?connect_timeout=2")
    with pytest.raises(CatalogError, match="XXGK_DATABASE_URL"):
        Catalog.open("mysql://x@localhost/db")


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path):
    with Catalog.open(Config.from_env({}, data_dir=tmp_path)) as catalog:
        with catalog.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    assert (tmp_path / "catalog.sqlite3").exists()


def test_agencies_are_inserted_then_updated(catalog):
    with catalog.session() as session:
        queries.upsert_agency(session, "bj-fgw", "北京市发展和改革委员会", level="department", region="北京市",
                              homepage="http://fgw.beijing.gov.cn/", report_index=["http://fgw.beijing.gov.cn/ndbg/"],
                              aliases=["北京市发改委"], render="plain", robots="obey")
    with catalog.session() as session:
        queries.upsert_agency(session, "bj-fgw", "北京市发展和改革委员会", level="department",
                              report_index=["http://fgw.beijing.gov.cn/ndbg/", "http://fgw.beijing.gov.cn/nb/"])
        queries.upsert_agency(session, "bj", "北京市人民政府", level="government")
    with catalog.reading() as session:
        agency = queries.get_agency(session, "bj-fgw")
        assert agency.report_index == ["http://fgw.beijing.gov.cn/ndbg/", "http://fgw.beijing.gov.cn/nb/"]
        assert agency.aliases == [] and agency.region is None
        assert [a.id for a in queries.list_agencies(session, level="government")] == ["bj"]


def test_a_registry_is_stored_whole_then_only_its_changes(catalog):
    """A crawl stores its whole registry when it starts (``upsert_agencies``): new agencies inserted, changed
    ones overwritten field by field, unchanged ones left as they are; more agencies than one query's ids."""
    first = [dict(agency_id=f"a{index:04d}", name=f"机关{index}", level="department",
                  homepage=f"http://a{index}.gov.cn/", report_index=[f"http://a{index}.gov.cn/nb/"],
                  aliases=[f"别名{index}"] if index % 3 == 0 else []) for index in range(1200)]
    with catalog.session() as session:
        assert queries.upsert_agencies(session, first) == 1200
    second = [dict(row) for row in first[:1100]]
    second[5].update(name="改名后的机关", aliases=[], report_index=[])
    second[6].update(region="某省", level="government")
    second.append(dict(agency_id="new", name="新机关", robots="ignore"))
    with catalog.session() as session:
        assert queries.upsert_agencies(session, second) == 1101
    with catalog.reading() as session:
        agencies = {agency.id: agency for agency in queries.list_agencies(session)}
    assert len(agencies) == 1201                  # the rows a registry no longer names stay
    changed, moved, kept, new = agencies["a0005"], agencies["a0006"], agencies["a0009"], agencies["new"]
    assert (changed.name, changed.aliases, changed.report_index) == ("改名后的机关", [], [])
    assert (moved.region, moved.level, moved.homepage) == ("某省", "government", "http://a6.gov.cn/")
    assert (kept.name, kept.aliases, kept.report_index) == ("机关9", ["别名9"], ["http://a9.gov.cn/nb/"])
    assert (new.name, new.robots, new.aliases, new.homepage) == ("新机关", "ignore", [], None)
    assert agencies["a1150"].name == "机关1150"


def test_runs_start_resume_and_finish(catalog):
    with catalog.session() as session:
        run = queries.start_run(session, settings={"depth": 3}, started_at=T0)
        run_id = run.id
    assert run_id.startswith("20230130T022030Z-")
    with catalog.session() as session:
        queries.finish_run(session, run_id, counts={"pages": 10}, finished_at=T0 + timedelta(hours=1))
    with catalog.reading() as session:
        run = queries.get_run(session, run_id)
        assert (run.status, run.counts, run.settings) == ("finished", {"pages": 10}, {"depth": 3})
        assert run.finished_at == T0 + timedelta(hours=1)
    with catalog.session() as session:
        assert queries.start_run(session, run_id).status == "running"  # resumed
    with pytest.raises(ValueError):
        with catalog.session() as session:
            queries.start_run(session, "../evil")
    with pytest.raises(ValueError):
        with catalog.session() as session:
            queries.finish_run(session, run_id, status="great")


def test_captures_index_answers_latest_first_seen_and_by_run_or_agency(catalog):
    url = "https://www.example.gov.cn/xxgk/ndbg/index.html"
    with catalog.session() as session:
        first = _capture(session, url, T0, offset=0, agency_id="a1").id
        _capture(session, url, T0 + timedelta(days=2), offset=1000, sha1="B" * 32, agency_id="a1")
        _capture(session, url, T0 + timedelta(days=1), offset=2000, agency_id="a1")
        _capture(session, url + "?page=2", T0, offset=3000, agency_id="a2")
        _capture(session, url, T0 + timedelta(days=5), offset=4000, run_id="run-2", agency_id="a1", status=304)
    with catalog.reading() as session:
        latest = queries.latest_capture(session, url)
        assert latest.timestamp == T0 + timedelta(days=5) and latest.status == 304
        assert queries.latest_capture(session, url, before=T0 + timedelta(days=1, hours=1)).offset == 2000
        assert queries.latest_capture(session, url, status=200).offset == 1000
        assert [c.offset for c in queries.captures_of_url(session, url)] == [0, 2000, 1000, 4000]
        assert queries.first_seen(session, url) == T0
        assert queries.first_seen(session, url).microsecond == 123456
        assert queries.last_seen(session, url) == T0 + timedelta(days=5)
        assert queries.first_seen(session, "http://never.example/") is None
        assert [c.offset for c in queries.captures_by_run(session, "run-2")] == [4000]
        assert [c.offset for c in queries.captures_by_agency(session, "a2")] == [3000]
        assert queries.count_captures(session, run_id="run-1") == 4
        assert {c.offset for c in queries.captures_by_surt_prefix(session, "cn,gov,example)/xxgk/")} == {
            0, 1000, 2000, 3000, 4000}
        capture = queries.get_capture(session, first)
        assert capture.surt == "cn,gov,example)/xxgk/ndbg/index.html"
        assert capture.timestamp.tzinfo is not None


def test_urls_of_any_length_are_indexed(catalog):
    url = "http://www.example.gov.cn/search?" + "&".join(f"q{i}=政务公开{i}" for i in range(400))
    assert len(url.encode()) > 8000
    with catalog.session() as session:
        _capture(session, url, T0, offset=0)
    with catalog.reading() as session:
        assert queries.latest_capture(session, url).url == url


def test_capture_constraints_hold(catalog):
    with catalog.session() as session:
        _capture(session, "http://x.example/", T0, offset=0)
    with pytest.raises(Exception):  # the same place in the same segment cannot hold two records
        with catalog.session() as session:
            _capture(session, "http://y.example/", T0, offset=0)
    with pytest.raises(Exception):
        with catalog.session() as session:
            _capture(session, "http://z.example/", T0, offset=50, record_type="warcinfo")
    with pytest.raises(Exception):  # a capture must point into a known segment
        with catalog.session() as session:
            queries.add_capture(session, url="http://x/", timestamp=T0, record_type="response",
                                warc_key="warcs/nowhere.warc.gz", offset=1, length=1, group_length=1,
                                record_id="<urn:uuid:x>", payload_sha1="A", payload_sha256="0", payload_length=0,
                                run_id="run-1")


def test_fetch_errors_are_kept_with_their_kind(catalog):
    with catalog.session() as session:
        _segment(session)
        queries.add_error(session, "https://bad-tls.example/", "tls", "certificate has expired", run_id="run-1",
                          agency_id="a1", at=T0)
        queries.add_error(session, "http://slow.example/", "timeout", "30 s", run_id="run-1")
    with pytest.raises(ValueError, match="kind"):
        with catalog.session() as session:
            queries.add_error(session, "http://x/", "cosmic-ray", "?")
    with catalog.reading() as session:
        errors = queries.errors_by_run(session, "run-1")
        assert [(e.kind, e.url) for e in errors] == [("tls", "https://bad-tls.example/"),
                                                     ("timeout", "http://slow.example/")]
        assert errors[0].at == T0
        assert [e.kind for e in queries.errors_by_agency(session, "a1")] == ["tls"]


def test_column_coverage_keeps_what_a_run_read_and_refuses_unknown_problems(catalog):
    with catalog.session() as session:
        _segment(session)
        queries.add_coverage(session, run_id="run-1", agency_id="a1", read_at=T0, column_url="http://x/nb/",
                             found_by="registry", pages_walked=3, complete=True, items_read=41, dated_items=40,
                             earliest_item=date(2016, 3, 1), latest_item=date(2025, 1, 20), reports_found=9)
        queries.add_coverage(session, run_id="run-1", agency_id="a2", read_at=T0, problem="not_found",
                             detail="主页上没有找到年报栏目", errors=[{"url": "http://y/", "kind": "http",
                                                                   "message": "HTTP 403"}])
    for bad in ({"problem": "gremlins"}, {"found_by": "guesswork"}):
        with pytest.raises(ValueError):
            with catalog.session() as session:
                queries.add_coverage(session, run_id="run-1", agency_id="a3", read_at=T0, **bad)
    with catalog.reading() as session:
        read = queries.coverage_of_agency(session, "a1")
        assert [(row.column_url, row.complete, row.items_read, row.earliest_item) for row in read] == [
            ("http://x/nb/", True, 41, date(2016, 3, 1))]
        missing = queries.coverage_of_run(session, "run-1")[1]
        assert (missing.agency_id, missing.column_url, missing.problem, missing.items_read) == ("a2", None,
                                                                                               "not_found", 0)
        assert missing.errors == [{"url": "http://y/", "kind": "http", "message": "HTTP 403"}]


def _record(title: str, year: int) -> ReportRecord:
    return ReportRecord(
        is_report=True, kind="report", title=title, agency="北京市发展和改革委员会", report_year=year, format="2021",
        publication_date=date(year + 1, 1, 30), date_source="meta_pubdate", signing_date=date(year + 1, 1, 29),
        dates=[DateEvidence(date(year + 1, 1, 30), "meta_pubdate", "2023-01-30 10:20", "PubDate")],
        text=f"{title}\n一、总体情况\n本年度政务公开工作……", tables={"table3": {"rows": 3}})


def test_reports_store_the_full_record_and_are_replaced_by_a_new_parse(catalog):
    with catalog.session() as session:
        queries.upsert_agency(session, "bj-fgw", "北京市发展和改革委员会")
        capture_id = _capture(session, "http://fgw.example.gov.cn/nb/2022.html", T0, offset=0, agency_id="bj-fgw").id
        queries.add_report(session, capture_id, _record("北京市发改委2022年政府信息公开工作年度报告", 2022))
    with catalog.session() as session:
        report = queries.add_report(session, capture_id, _record("北京市发改委2022年政府信息公开工作年度报告（更正）", 2022))
        report_id = report.id
    with catalog.reading() as session:
        reports = queries.reports_of_agency(session, "bj-fgw")
        assert [r.id for r in reports] == [report_id]
        report = reports[0]
        assert report.title.endswith("（更正）") and report.report_year == 2022 and report.is_report
        assert report.publication_date == date(2023, 1, 30) and report.signing_date == date(2023, 1, 29)
        assert report.record_json["dates"][0] == {"date": "2023-01-30", "source": "meta_pubdate",
                                                  "raw": "2023-01-30 10:20", "label": "PubDate"}
        assert report.record_json["tables"] == {"table3": {"rows": 3}}
        assert [r.id for r in queries.search_reports(session, "更正 总体情况")] == [report_id]
        assert queries.search_reports(session, "行政复议") == []
        assert queries.report_by_capture(session, capture_id).id == report_id


def test_a_report_keeps_its_parser_version_and_the_records_it_replaced(catalog):
    from parsers.version import PARSER_VERSION

    with catalog.session() as session:
        queries.upsert_agency(session, "bj-fgw", "北京市发展和改革委员会")
        capture_id = _capture(session, "http://fgw.example.gov.cn/nb/2022.html", T0, offset=0, agency_id="bj-fgw").id
        older = queries.add_report(session, capture_id, _record("年度报告", 2023), parser_version="2025.01.01",
                                   parsed_at=T0)
        assert older.parser_version == "2025.01.01"
    with catalog.session() as session:   # a newer parser reads the year right: the older record is kept
        report = queries.add_report(session, capture_id, _record("年度报告", 2022))
        assert report.parser_version == PARSER_VERSION and report.report_year == 2022
        kept = queries.report_history(session, report.id)
        assert [(row.parser_version, row.parsed_at, row.agency_id, row.record_json["report_year"]) for row in kept] \
            == [("2025.01.01", T0, "bj-fgw", 2023)]
    with catalog.session() as session:   # the same record again: nothing to keep
        queries.add_report(session, capture_id, _record("年度报告", 2022))
        assert len(queries.report_history(session, report.id)) == 1


def test_the_text_is_stored_once_and_a_new_text_alone_keeps_the_old_record_whole(catalog):
    from dataclasses import replace

    first = _record("年度报告", 2022)
    with catalog.session() as session:
        queries.upsert_agency(session, "bj-fgw", "北京市发展和改革委员会")
        capture_id = _capture(session, "http://fgw.example.gov.cn/nb/2022.html", T0, offset=0, agency_id="bj-fgw").id
        report = queries.add_report(session, capture_id, first)
        assert "text" not in report.record_json and report.text == first.text
        assert queries.report_text(report) == first.text and queries.report_record(report) == first.to_json()
    with catalog.session() as session:   # only the text differs: still a new record, the old one kept whole
        report = queries.add_report(session, capture_id, replace(first, text=first.text + "\n二、主动公开"))
        [kept] = queries.report_history(session, report.id)
        assert kept.record_json == first.to_json() and report.text.endswith("二、主动公开")
        assert [r.id for r in queries.search_reports(session, "主动公开")] == [report.id]


def test_a_report_for_an_unknown_agency_is_refused(catalog):
    with catalog.session() as session:
        capture_id = _capture(session, "http://x.example/nb.html", T0, offset=0).id
    with pytest.raises(LookupError, match="unknown agency"):
        with catalog.session() as session:
            queries.add_report(session, capture_id, _record("x", 2022), agency_id="nobody")


def _report_columns(report) -> dict:
    return {column.name: getattr(report, column.key) for column in Report.__table__.columns
            if column.name not in ("id", "capture_id")}


def test_add_reports_writes_the_rows_add_report_would(catalog):
    from dataclasses import replace

    from parsers.shingles import text_signature

    records = [
        dict(record=_record("年度报告", 2022)),                                  # the capture's agency
        dict(record=_record("另一局年报", 2021), agency_id="a2", url="http://y.example/moved.html"),
        dict(record=replace(_record("带签名", 2022), text="签名已算好的正文"), signature=text_signature("签名已算好的正文"),
             parser_version="2025.01.01"),
        dict(record={"title": "失败", "error": "解析超时", "kind": None, "text": None}),   # a failed parse, as a dict
        dict(record=ReportRecord(title="无机关", text="正文"), agency_id=None),
    ]
    with catalog.session() as session:
        queries.upsert_agency(session, "a1", "某局")
        queries.upsert_agency(session, "a2", "另一局")
        one = [_capture(session, f"http://x.example/{i}.html", T0, offset=i, agency_id=None if i == 4 else "a1").id
               for i in range(len(records))]
        batch = [_capture(session, f"http://x.example/{i}.html", T0, offset=100 + i,
                          agency_id=None if i == 4 else "a1").id for i in range(len(records))]
    with catalog.session() as session:
        singles = [queries.add_report(session, capture_id, parsed_at=T0, **row).id
                   for capture_id, row in zip(one, records)]
    with catalog.session() as session:
        ids = queries.add_reports(session, [dict(row, capture_id=capture_id, parsed_at=T0)
                                            for capture_id, row in zip(batch, records)])
    assert all(isinstance(report_id, int) for report_id in ids)
    with catalog.reading() as session:
        for single, batched, capture_id in zip(singles, ids, batch):
            stored = session.get(Report, batched)
            assert stored.capture_id == capture_id
            assert _report_columns(stored) == _report_columns(session.get(Report, single))
        assert session.get(Report, ids[1]).agency_id == "a2" and session.get(Report, ids[0]).agency_id == "a1"
        assert session.get(Report, ids[2]).shingles is not None
        assert [r.id for r in queries.search_reports(session, "签名已算好")] == sorted([singles[2], ids[2]])
    with catalog.session() as session:
        assert queries.add_reports(session, []) == []


def test_add_reports_refuses_an_unknown_agency_or_capture_for_that_row_alone(catalog):
    with catalog.session() as session:
        queries.upsert_agency(session, "a1", "某局")
        first = _capture(session, "http://x.example/1.html", T0, offset=0, agency_id="a1").id
        second = _capture(session, "http://x.example/2.html", T0, offset=1).id
        third = _capture(session, "http://x.example/3.html", T0, offset=2, agency_id="a1").id
    with catalog.session() as session:
        results = queries.add_reports(session, [
            dict(capture_id=first, record=_record("甲", 2022)),
            dict(capture_id=second, record=_record("乙", 2022), agency_id="nobody"),
            dict(capture_id=third + 1000, record=_record("丙", 2022)),
            dict(capture_id=third, record=_record("丁", 2022)),
        ])
    assert isinstance(results[0], int) and isinstance(results[3], int)
    assert isinstance(results[1], LookupError) and "unknown agency 'nobody'" in str(results[1])
    assert isinstance(results[2], LookupError) and f"no capture {third + 1000}" in str(results[2])
    with catalog.reading() as session:
        assert queries.report_by_capture(session, first).id == results[0]
        assert queries.report_by_capture(session, second) is None
        assert queries.report_by_capture(session, third).title == "丁"


def test_add_reports_keeps_the_history_of_a_capture_that_has_a_report(catalog):
    with catalog.session() as session:
        queries.upsert_agency(session, "a1", "某局")
        old = _capture(session, "http://x.example/1.html", T0, offset=0, agency_id="a1").id
        twice = _capture(session, "http://x.example/2.html", T0, offset=1, agency_id="a1").id
        report_id = queries.add_report(session, old, _record("年度报告", 2023), parser_version="2025.01.01",
                                       parsed_at=T0).id
    with catalog.session() as session:
        results = queries.add_reports(session, [
            dict(capture_id=old, record=_record("年度报告", 2022)),
            dict(capture_id=twice, record=_record("初读", 2022)),
            dict(capture_id=twice, record=_record("再读", 2022)),   # the same capture again in one batch
        ])
    assert results[0] == report_id and results[1] == results[2]
    with catalog.session() as session:
        assert queries.report_by_capture(session, old).report_year == 2022
        assert [(row.parser_version, row.parsed_at, row.record_json["report_year"])
                for row in queries.report_history(session, report_id)] == [("2025.01.01", T0, 2023)]
        assert queries.report_by_capture(session, twice).title == "再读"
        assert [row.record_json["title"] for row in queries.report_history(session, results[1])] == ["初读"]
        # the same record again: nothing to keep
        assert queries.add_reports(session, [dict(capture_id=old, record=_record("年度报告", 2022))]) == [report_id]
        assert len(queries.report_history(session, report_id)) == 1


def _tallies(catalog) -> tuple[dict, dict]:
    """The dashboard's tallies as the triggers keep them, and the same counted from the verdicts now."""
    with catalog.connection() as connection:
        kept = {tuple(row[:5]): row[5] for row in connection.execute(text(
            "SELECT report_year, status, level, region, watched, count FROM verdict_tallies"))}
        counted = {tuple(row[:5]): row[5] for row in connection.execute(text(
            "SELECT v.report_year, v.status, coalesce(a.level, ''), coalesce(a.region, ''), a.watched, count(*) "
            "FROM verdicts v JOIN agencies a ON a.id = v.agency_id "
            "GROUP BY v.report_year, v.status, coalesce(a.level, ''), coalesce(a.region, ''), a.watched"))}
    normal = lambda cells: {(year, status, level, region, bool(watched)): count
                            for (year, status, level, region, watched), count in cells.items()}
    return normal(kept), normal(counted)


def test_the_tallies_count_each_verdict_under_its_agencys_registry_mark(catalog):
    """The dashboard counts the imported registry's agencies apart (0010): an import that drops an agency, adds
    one back, a level that changes, verdicts written, changed and removed, an agency deleted: the tallies stay
    what the verdicts say, on both backends."""
    with catalog.session() as session:
        for index in range(6):
            queries.upsert_agency(session, f"a{index}", f"机关{index}", level=("department", "government")[index % 2],
                                  region=f"地区{index % 3}" if index != 5 else None)
            for year in (2022, 2023):
                queries.upsert_verdict(session, f"a{index}", year, ("on_time", "late", "missing")[(index + year) % 3])
    steps = [
        lambda session: queries.watch_agencies(session, ["a0", "a1", "a2", "a3"]),        # the first import
        lambda session: queries.watch_agencies(session, ["a1", "a2", "a3", "a5"]),        # a0 dropped, a5 in
        lambda session: queries.upsert_agency(session, "a1", "机关1", level="township", region="地区9"),
        lambda session: queries.upsert_verdict(session, "a0", 2023, "undetermined"),
        lambda session: queries.upsert_verdict(session, "a5", 2021, "late"),
        lambda session: session.execute(text("DELETE FROM verdicts WHERE agency_id = 'a2' AND report_year = 2022")),
        lambda session: session.execute(text("DELETE FROM agencies WHERE id = 'a3'")),
        lambda session: queries.watch_agencies(session, []),
    ]
    for number, step in enumerate(steps):
        with catalog.session() as session:
            step(session)
        kept, counted = _tallies(catalog)
        assert kept == counted, f"after step {number}"
        if number == 1:
            assert sum(n for key, n in kept.items() if key[4]) == 8 and len(counted) > 4


def test_upgrading_to_0010_splits_the_tallies_by_mark_and_downgrading_joins_them(catalog_url):
    catalog = Catalog.open(catalog_url, migrate=False)
    try:
        catalog.upgrade("0009")
        with catalog.session() as session:
            for index in range(4):
                session.execute(text("INSERT INTO agencies (id, name, level, region, report_index, aliases, watched) "
                                     "VALUES (:id, :name, 'department', :region, '[]', '[]', :watched)"),
                                {"id": f"a{index}", "name": f"机关{index}", "region": f"地区{index % 2}",
                                 "watched": index < 2})
                for year in (2022, 2023):
                    session.execute(text("INSERT INTO verdicts (agency_id, report_year, status, flags, evidence, "
                                         "computed_at) VALUES (:id, :year, 'on_time', '[]', '{}', :at)"),
                                    {"id": f"a{index}", "year": year, "at": T0})
        catalog.upgrade("head")
        kept, counted = _tallies(catalog)
        assert kept == counted and sum(n for key, n in kept.items() if key[4]) == 4
        catalog.downgrade("0009")
        with catalog.connection() as connection:
            assert sorted(connection.execute(text("SELECT report_year, region, count FROM verdict_tallies"))) == [
                (2022, "地区0", 2), (2022, "地区1", 2), (2023, "地区0", 2), (2023, "地区1", 2)]
        catalog.upgrade("head")
        with catalog.session() as session:   # the triggers of head are back: a mark moves the counts
            queries.watch_agencies(session, ["a3"])
        kept, counted = _tallies(catalog)
        assert kept == counted and sum(n for key, n in kept.items() if key[4]) == 2
    finally:
        catalog.close()


def test_one_verdict_per_agency_and_year(catalog):
    with catalog.session() as session:
        queries.upsert_agency(session, "bj-fgw", "北京市发展和改革委员会", level="department")
        queries.upsert_verdict(session, "bj-fgw", 2022, "missing", deadline=date(2023, 1, 31),
                               legal_basis="《政府信息公开条例》第四十九条第一款")
    with catalog.session() as session:
        queries.upsert_verdict(session, "bj-fgw", 2022, "on_time", deadline=date(2023, 1, 31),
                               legal_basis="《政府信息公开条例》第四十九条第一款", publication_date=date(2023, 1, 30),
                               date_source="meta_pubdate", days_late=0, first_seen=T0, flags=["backdated?"],
                               evidence={"listing": "2023-01-30"})
        queries.upsert_verdict(session, "bj-fgw", 2021, "late", days_late=3)
    with catalog.reading() as session:
        rows = queries.verdicts(session, agency_id="bj-fgw")
        assert [(v.report_year, v.status) for v in rows] == [(2021, "late"), (2022, "on_time")]
        assert rows[1].flags == ["backdated?"] and rows[1].first_seen == T0
        assert [v.report_year for v in queries.verdicts(session, status="late")] == [2021]


def test_removing_a_segments_rows_takes_reports_and_revisits_with_them(catalog):
    with catalog.session() as session:
        queries.upsert_agency(session, "a1", "某局")
        original = _capture(session, "http://x.example/nb.html", T0, offset=0, agency_id="a1")
        _capture(session, "http://x.example/nb.html", T0 + timedelta(days=1), offset=500, record_type="revisit",
                 refers_to=original.id)
        queries.add_report(session, original.id, _record("某局2022年报", 2022))
        queries.upsert_verdict(session, "a1", 2022, "on_time",
                               report_id=queries.report_by_capture(session, original.id).id)
    with catalog.session() as session:
        assert queries.remove_captures_in_segment(session, "warcs/run-1/s1.warc.gz", from_offset=0) == 2
    with catalog.reading() as session:
        assert session.query(Capture).count() == 0
        assert session.query(Report).count() == 0
        assert queries.verdicts(session, agency_id="a1")[0].report_id is None


def test_concurrent_writers_each_get_their_rows_in(catalog_url):
    with Catalog.open(catalog_url) as catalog:
        with catalog.session() as session:
            _segment(session)
    errors: list[Exception] = []

    def write(worker: int) -> None:
        try:
            with Catalog.open(catalog_url) as own:
                for i in range(40):
                    with own.session() as session:
                        url = f"http://x.example/{worker}/{i}"
                        if queries.latest_capture(session, url) is None:
                            _capture(session, url, T0, offset=worker * 1000 + i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with Catalog.open(catalog_url) as catalog, catalog.reading() as session:
        assert queries.count_captures(session) == 120


def test_postgres_url_without_driver_means_psycopg3(postgres_server):
    url = postgres_server.create_database().replace("postgresql+psycopg://", "postgresql://")
    with Catalog.open(url) as catalog:
        assert catalog.engine.dialect.driver == "psycopg"
        with catalog.engine.connect() as connection:
            assert connection.execute(text("select count(*) from alembic_version")).scalar() == 1
