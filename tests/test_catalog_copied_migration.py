"""Migration 0011 on SQLite and on a real PostgreSQL server: the report a stored 疑似雷同 flag names, kept until
then only in the verdict's evidence, becomes the indexed ``verdicts.copied_report_id`` (a re-judge finds the flags
naming a run's reports by it); new verdicts are written with it; downgrading drops it."""
from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa

from monitor.rejudge import _named_by_copies
from storage.catalog import Catalog, queries

BEFORE = "0010"
AGENCIES = sa.table("agencies", sa.column("id"), sa.column("name"), sa.column("report_index", sa.JSON()),
                    sa.column("aliases", sa.JSON()))
VERDICTS = sa.table("verdicts", sa.column("agency_id"), sa.column("report_year"), sa.column("status"),
                    sa.column("flags", sa.JSON()), sa.column("evidence", sa.JSON()),
                    sa.column("computed_at", sa.DateTime(timezone=True)))


def copied(other_report_id) -> dict:
    return {"reason": "按时发布", "copied": {"method": "char-5gram-containment", "score": 0.97,
                                         "other_report_id": other_report_id, "other_agency_id": "z"}}


def test_a_stored_copy_flag_names_its_report_in_an_indexed_column_both_ways(catalog_url):
    catalog = Catalog.open(catalog_url, migrate=False)
    try:
        catalog.upgrade(BEFORE)
        evidence = {"a": copied(41), "b": copied(42), "c": {"reason": "按时发布"},
                    "d": {"reason": "按时发布", "copied": None}, "e": {"reason": "x", "checks": {"copied": "无法判断"}}}
        with catalog.write_connection() as connection:
            connection.execute(sa.insert(AGENCIES), [{"id": agency, "name": f"{agency}机关", "report_index": [],
                                                      "aliases": []} for agency in evidence])
            connection.execute(sa.insert(VERDICTS), [
                {"agency_id": agency, "report_year": 2024, "status": "on_time", "flags": [], "evidence": value,
                 "computed_at": datetime(2025, 7, 1, tzinfo=timezone.utc)} for agency, value in evidence.items()])

        catalog.upgrade("head")
        with catalog.reading() as session:
            assert dict(session.execute(sa.text("SELECT agency_id, copied_report_id FROM verdicts")).all()) == {
                "a": 41, "b": 42, "c": None, "d": None, "e": None}
        assert _named_by_copies(catalog, {42, 7}) == {"b"}
        assert _named_by_copies(catalog, {41, 42}) == {"a", "b"}

        with catalog.session() as session:   # written again: the flag now names another report, or none
            queries.store_verdicts(session, [
                dict(agency_id="a", report_year=2024, status="on_time", evidence=copied(7)),
                dict(agency_id="b", report_year=2024, status="on_time", evidence={"reason": "按时发布"}),
                dict(agency_id="c", report_year=2023, status="late", deadline=date(2024, 1, 31), evidence=copied(8))])
            queries.upsert_verdict(session, "d", 2024, "on_time", evidence=copied(9))
        assert _named_by_copies(catalog, {41, 42}) == set()
        assert _named_by_copies(catalog, {7, 8, 9}) == {"a", "c", "d"}

        catalog.downgrade(BEFORE)
        with catalog.reading() as session:
            columns = {column["name"] for column in sa.inspect(session.connection()).get_columns("verdicts")}
        assert "copied_report_id" not in columns
        catalog.upgrade("head")   # and up again: filled from the evidence as it now stands
        assert _named_by_copies(catalog, {7, 8, 9}) == {"a", "c", "d"}
    finally:
        catalog.close()
