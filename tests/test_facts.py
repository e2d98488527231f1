"""The verdict facts of each capture (storage.facts): kept on its index row when it is archived, the same when the
catalog is rebuilt from the WARCs, and derived once from the WARCs for captures indexed before migration 0007 —
on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from demo.portals import DemoPortals
from parsers.shingles import text_signature
from storage.archive import Archive, open_reader
from storage.catalog import Catalog, queries
from storage.catalog.models import Capture, FetchError, Report
from storage.config import Config
from storage.facts import FACTS_VERSION, backfill, pending
from storage.objects import open_store
from storage.reindex import rebuild

T0 = datetime(2025, 1, 20, 2, 0, tzinfo=timezone.utc)
BASE = "http://portal.example"
FACTS = ("role", "listing_title", "listing_date", "redirected_from", "listing_items", "facts_version")
COLUMN = DemoPortals().agency("ylx-wjj").column
REPORT = "/hanweb/art/2024/1/26/art_1229_99001.html"


def archive_a_crawl(archive: Archive) -> dict[str, int]:
    """What a crawl archives of one agency: its column (role column), the column again (a revisit), a report it
    lists (with the title and date the listing gave, reached through a redirect), a screenshot of the report page,
    and a fetch error. Returns the capture ids by name."""
    column = DemoPortals().resource(COLUMN)
    html = [("Content-Type", column.content_type)]
    ids = {}
    ids["column"] = archive.record_fetch(BASE + COLUMN, "GET", [], 200, "OK", html, column.body, fetched_at=T0,
                                         agency_id="ylx-wjj", extra_metadata={"role": "column"}).id
    ids["again"] = archive.record_fetch(BASE + COLUMN, "GET", [], 200, "OK", html, column.body,
                                        fetched_at=T0 + timedelta(days=1), agency_id="ylx-wjj",
                                        extra_metadata={"role": "column"}).id
    ids["report"] = archive.record_fetch(
        BASE + REPORT, "GET", [], 200, "OK", [("Content-Type", "text/html; charset=utf-8")],
        "<html><body><h1>样例市卫生健康委员会2023年政府信息公开工作年度报告</h1></body></html>".encode(),
        fetched_at=T0 + timedelta(hours=1), agency_id="ylx-wjj",
        extra_metadata={"role": "item", "listing_title": "样例市卫生健康委员会2023年\n政府信息公开工作年度报告",
                        "listing_date": "2024-01-26", "redirected_from": BASE + "/old/report.html"}).id
    ids["screenshot"] = archive.record_resource("urn:screenshot:" + BASE + REPORT, b"\x89PNG\r\n\x1a\npixels",
                                                "image/png", fetched_at=T0 + timedelta(hours=2),
                                                agency_id="ylx-wjj", concurrent_to=ids["report"]).id
    archive.record_error(BASE + "/gone.html", "http", "HTTP 404", agency_id="ylx-wjj", at=T0)
    return ids


def facts_by_record(catalog: Catalog) -> dict[str, tuple]:
    with catalog.reading() as session:
        record_of = {row.id: row.record_id for row in session.scalars(select(Capture))}
        return {row.record_id: (*(getattr(row, name) for name in FACTS), record_of.get(row.concurrent_to_capture_id))
                for row in session.scalars(select(Capture))}


def test_the_archive_keeps_the_facts_and_a_rebuild_from_the_warcs_gives_the_same(tmp_path):
    config = Config.from_env({}, data_dir=tmp_path / "data")
    with Archive.open(config, durability="os") as archive:
        ids = archive_a_crawl(archive)
    with Catalog.open(config) as catalog:
        kept = facts_by_record(catalog)
        with catalog.reading() as session:
            rows = {name: session.get(Capture, capture_id) for name, capture_id in ids.items()}
    column, again, report, shot = rows["column"], rows["again"], rows["report"], rows["screenshot"]
    assert column.role == "column" and column.facts_version == FACTS_VERSION
    assert column.listing_items[0] == [BASE + "/hanweb/art/2025/1/22/art_1229_88420.html",
                                       "样例区卫生健康局2024年政府信息公开工作年度报告",
                                       "2025-01-22"]  # every entry, in page order, with the date printed beside it
    assert len(column.listing_items) == 4
    assert again.record_type == "revisit" and again.listing_items is None  # its original's entries are its own
    assert (report.role, report.listing_date, report.redirected_from) == ("item", "2024-01-26",
                                                                          BASE + "/old/report.html")
    assert report.listing_title == "样例市卫生健康委员会2023年 政府信息公开工作年度报告"  # as the WARC gives it back
    assert report.listing_items is None  # a report page is no listing
    assert shot.concurrent_to_capture_id == report.id

    rebuilt = Config.from_env({"XXGK_DATABASE_URL": f"sqlite:///{tmp_path}/rebuilt.sqlite3"},
                              data_dir=tmp_path / "data")
    with Catalog.open(rebuilt) as catalog:
        rebuild(open_store(rebuilt), catalog, rebuilt.data_dir / "spool")
        assert facts_by_record(catalog) == kept


def test_captures_and_reports_from_before_0007_get_their_facts_once_from_the_warcs(catalog_url, tmp_path):
    config = Config.from_env({"XXGK_DATABASE_URL": catalog_url}, data_dir=tmp_path / "data")
    text = (DemoPortals().resource(REPORT) or DemoPortals().resource(COLUMN)).body.decode("utf-8", "replace")
    with Archive.open(config, durability="os") as archive:
        archive_a_crawl(archive)
        with archive.catalog.session() as session:
            queries.upsert_agency(session, "ylx-wjj", "样例县卫生健康局")
            report = queries.add_report(session, archive.latest_capture(BASE + REPORT).id,
                                        {"is_report": True, "kind": "report", "report_year": 2023, "text": text})
            report_id = report.id
    with Catalog.open(config) as catalog:
        kept = facts_by_record(catalog)
        # what 0006 held: the same rows without the columns 0007 adds (a downgrade drops them, the upgrade adds
        # them back empty, as it finds a catalog written before it)
        catalog.downgrade("0006")
        catalog.upgrade()
        assert pending(catalog)
        with catalog.reading() as session:
            assert all(row.facts_version is None for row in session.scalars(select(Capture)))
            [error] = session.scalars(select(FetchError))
            assert error.url_hash == hashlib.sha1(error.url.encode()).hexdigest()  # filled by the migration
            assert session.get(Report, report_id).shingles is None

        reader = open_reader(config, catalog=catalog)
        try:
            done = backfill(catalog, reader, batch=2)   # batches smaller than the rows: it goes on where it was
        finally:
            reader.store.close()
        assert (done.captures, done.unreadable, done.reports, done.stopped) == (len(kept), 0, 1, None)
        assert facts_by_record(catalog) == kept
        with catalog.reading() as session:
            stored = session.get(Report, report_id)
            assert (stored.shingles, stored.minhash) == text_signature(text)
        assert not pending(catalog)
        assert backfill(catalog, None).done == 0  # once: nothing is derived twice


def test_a_report_columns_page_whose_entries_are_years_alone_keeps_them():
    """A report column that lists "2024年度", "2023年度" (its name says the rest) keeps its entries, so a verdict can
    see what they point at; the same links on a page the crawler did not fetch as the column are no listing."""
    from storage.facts import listing_entries

    rows = "".join(f'<li><a href="/nb/{year}/">{year}年度</a><span>{year + 1}-01-20</span></li>'
                   for year in (2024, 2023, 2022))
    page = f'<html><body><ul class="list">{rows}</ul></body></html>'.encode()
    kept = listing_entries(page, BASE + "/nb/", "text/html", "column")
    assert [entry[1] for entry in kept] == ["2024年度", "2023年度", "2022年度"]
    assert kept[0][0] == BASE + "/nb/2024/"
    assert listing_entries(page, BASE + "/nb/", "text/html", None) == []


def test_a_column_served_gzip_lists_its_entries_and_rows_read_before_get_them_once(tmp_path):
    """The archive keeps a gzip-served column as gzip; its entries are read from the page decoded (facts version
    3). A catalog whose facts were derived before (version 2) read no entry from it: the next judging command
    reads that capture again, while a column whose entries were read (served plain) is not read again."""
    import gzip

    from sqlalchemy import update

    config = Config.from_env({}, data_dir=tmp_path / "data")
    column = DemoPortals().resource(COLUMN)
    with Archive.open(config, durability="os") as archive:
        zipped = archive.record_fetch(BASE + COLUMN, "GET", [], 200, "OK",
                                      [("Content-Type", column.content_type), ("Content-Encoding", "gzip")],
                                      gzip.compress(column.body), fetched_at=T0, agency_id="ylx-wjj",
                                      extra_metadata={"role": "column"}).id
        plain = archive.record_fetch(BASE + COLUMN + "?plain", "GET", [], 200, "OK",
                                     [("Content-Type", column.content_type)], column.body,
                                     fetched_at=T0, agency_id="ylx-wjj", extra_metadata={"role": "column"}).id
    with Catalog.open(config) as catalog:
        with catalog.reading() as session:
            entries = session.get(Capture, plain).listing_items
            assert len(entries) == 4 and session.get(Capture, zipped).listing_items == entries
        with catalog.session() as session:   # as version 2 left them
            session.execute(update(Capture).where(Capture.id == zipped).values(facts_version=2, listing_items=[]))
            session.execute(update(Capture).where(Capture.id == plain).values(facts_version=2))
        assert pending(catalog)
        reader = open_reader(config, catalog=catalog)
        try:
            done = backfill(catalog, reader)
        finally:
            reader.store.close()
        assert done.captures == 1   # the plain column's entries stood: moved on without reading the archive
        with catalog.reading() as session:
            assert session.get(Capture, zipped).listing_items == entries
            assert {session.get(Capture, capture_id).facts_version for capture_id in (zipped, plain)} == {FACTS_VERSION}
        assert not pending(catalog)
