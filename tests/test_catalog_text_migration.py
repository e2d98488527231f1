"""Migration 0008 on SQLite and on a real PostgreSQL server: report rows written by the old code (the text in
``reports.text`` and again in ``record_json["text"]``) keep the text in ``reports.text`` alone; downgrading puts it
back into ``record_json``."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import sqlalchemy as sa

from storage.catalog import Catalog
from storage.catalog.models import Report
from storage.catalog.queries import report_record

BEFORE = "0006"
T0 = datetime(2025, 1, 30, tzinfo=timezone.utc)
RUNS = sa.table("crawl_runs", sa.column("id"), sa.column("started_at", sa.DateTime(timezone=True)),
                sa.column("status"), sa.column("counts", sa.JSON()), sa.column("settings", sa.JSON()))
SEGMENTS = sa.table("segments", sa.column("key"), sa.column("run_id"), sa.column("writer"), sa.column("state"),
                    sa.column("records"), sa.column("created_at", sa.DateTime(timezone=True)))
CAPTURES = sa.table("captures", *(sa.column(name) for name in (
    "id", "url", "url_hash", "surt", "payload_sha1", "payload_sha256", "payload_length", "warc_key", "offset",
    "length", "group_length", "record_id", "record_type", "run_id")), sa.column("timestamp", sa.DateTime(timezone=True)))
REPORTS = sa.table("reports", *(sa.column(name) for name in (
    "id", "capture_id", "url", "title", "is_report", "kind", "format", "needs_ocr", "text", "parser_version")),
    sa.column("record_json", sa.JSON()), sa.column("parsed_at", sa.DateTime(timezone=True)))


def old_record(index: int) -> tuple[dict, str]:
    """A record as the code before 0008 stored it, and its text (the same in both places)."""
    text = f"第{index}号报告\n一、总体情况\n本年度政务公开工作……" + "“引号”、\\反斜杠\\ 与 \"双引号\"" * (index % 3)
    record = {"is_report": True, "kind": "report", "title": f"年度报告{index}", "report_year": 2024,
              "tables": {"table3": {"rows": index}}, "dates": [{"date": "2025-01-20", "source": "meta_pubdate"}],
              "error": None, "text": text}
    return record, text


def stored(catalog: Catalog) -> dict[int, tuple[dict, str]]:
    with catalog.connection() as connection:
        rows = connection.execute(sa.select(REPORTS.c.id, REPORTS.c.record_json, REPORTS.c.text)).all()
    return {row_id: (record if isinstance(record, dict) else json.loads(record), text) for row_id, record, text in rows}


def test_report_text_leaves_record_json_and_comes_back_on_downgrade(catalog_url):
    catalog = Catalog.open(catalog_url, migrate=False)
    try:
        catalog.upgrade(BEFORE)
        count = 2 * 1000 + 7  # more rows than two batches of the migration, so its paging is exercised
        old = {100 + index: old_record(index) for index in range(count)}
        with catalog.write_connection() as connection:
            connection.execute(sa.insert(RUNS), [{"id": "r", "started_at": T0, "status": "finished", "counts": {},
                                                  "settings": {}}])
            connection.execute(sa.insert(SEGMENTS), [{"key": "warcs/r/s.warc.gz", "run_id": "r", "writer": "h",
                                                      "state": "uploaded", "records": 0, "created_at": T0}])
            connection.execute(sa.insert(CAPTURES), [
                {"id": row_id, "url": f"http://x.test/{row_id}", "url_hash": f"{row_id:040d}", "surt": "test,x)/",
                 "payload_sha1": "A" * 32, "payload_sha256": "0" * 64, "payload_length": 1,
                 "warc_key": "warcs/r/s.warc.gz", "offset": row_id, "length": 1, "group_length": 1,
                 "record_id": f"<urn:uuid:{row_id}>", "record_type": "response", "run_id": "r", "timestamp": T0}
                for row_id in old])
            connection.execute(sa.insert(REPORTS), [
                {"id": row_id, "capture_id": row_id, "url": f"http://x.test/{row_id}", "title": record["title"],
                 "is_report": True, "kind": "report", "format": "2021", "needs_ocr": False, "text": text,
                 "record_json": record, "parsed_at": T0, "parser_version": None}
                for row_id, (record, text) in old.items()])

        catalog.upgrade("head")
        migrated = stored(catalog)
        for row_id, (record, text) in old.items():
            assert migrated[row_id] == ({key: value for key, value in record.items() if key != "text"}, text), row_id
        with catalog.reading() as session:  # the whole record, as readers get it, is what was stored before
            report = session.get(Report, 100 + 5)
            assert report_record(report) == old[105][0]

        catalog.downgrade(BEFORE)
        assert stored(catalog) == old
        catalog.upgrade("head")  # and up again: the same rows
        assert stored(catalog) == migrated
    finally:
        catalog.close()
