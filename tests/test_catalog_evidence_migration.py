"""Migration 0004 on SQLite and on a real PostgreSQL server: verdict evidence written by the old code (a web path
beside every capture id) keeps its ids and loses its paths; downgrading puts the paths back."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import sqlalchemy as sa

from storage.catalog import Catalog

BEFORE = "0003"
AGENCIES = sa.table("agencies", sa.column("id"), sa.column("name"), sa.column("report_index", sa.JSON()),
                    sa.column("aliases", sa.JSON()))
VERDICTS = sa.table("verdicts", sa.column("id"), sa.column("agency_id"), sa.column("report_year"),
                    sa.column("status"), sa.column("flags", sa.JSON()), sa.column("evidence", sa.JSON()),
                    sa.column("computed_at", sa.DateTime(timezone=True)))
PATH_KEYS = ("permalink", "listing_permalink", "from_permalink", "to_permalink", "other_permalink")


def old_evidence(capture_id: int) -> dict:
    """Evidence as monitor.verdicts and monitor.flags wrote it before: every flag, each with its path."""
    return {
        "reason": "报告于期限后 3 天发布", "report_id": 7, "report_url": "http://x.test/r.html", "title": "年报",
        "capture_id": capture_id, "permalink": f"/captures/{capture_id}", "captured_at": "2024-02-03T10:00:00+08:00",
        "warc": {"key": "warcs/r/s.warc.gz", "offset": 10, "length": 20},
        "screenshot": {"capture_id": 11, "permalink": "/captures/11", "sha256": "0" * 64, "mime": "image/png"},
        "backdated": {"listing_capture_id": 3, "listing_permalink": "/captures/3", "message": "栏目页没有列出它"},
        "changed": {"from_capture_id": 4, "to_capture_id": 5, "from_permalink": "/captures/4",
                    "to_permalink": "/captures/5",
                    "cells": [{"table": "table3", "row": "本年新收", "column": "自然人", "old": 173, "new": 185}]},
        "removed": {"last_ok_capture_id": 6,
                    "first_failure": {"at": "2025-01-01T00:00:00+08:00", "status": 404, "capture_id": 8,
                                      "permalink": "/captures/8"},
                    "latest_failure": {"at": "2025-02-01T00:00:00+08:00", "status": None, "capture_id": None,
                                       "permalink": None, "error_kind": "dns"}},
        "copied": {"other_report_id": 9, "other_capture_id": 12, "other_permalink": "/captures/12", "score": 0.93,
                   "more_matches": [{"report_id": 13, "score": 0.9}]},
    }


def without_paths(evidence: dict) -> dict:
    """What the migrated evidence must be: the same, less the path keys (nothing else touched)."""
    expected = copy.deepcopy(evidence)
    for place in (expected, expected["screenshot"], expected["backdated"], expected["changed"],
                  expected["removed"]["first_failure"], expected["removed"]["latest_failure"], expected["copied"]):
        for key in PATH_KEYS:
            place.pop(key, None)
    return expected


def stored(catalog: Catalog) -> dict[int, dict]:
    with catalog.connection() as connection:
        rows = connection.execute(sa.select(VERDICTS.c.report_year, VERDICTS.c.evidence)).all()
    return {year: evidence if isinstance(evidence, dict) else json.loads(evidence) for year, evidence in rows}


def test_old_evidence_keeps_its_ids_and_loses_its_paths_both_ways(catalog_url):
    catalog = Catalog.open(catalog_url, migrate=False)
    try:
        catalog.upgrade(BEFORE)
        clean = {"reason": "尚未到期", "checks": {"archive": "permalink 一词出现在正文里也不算路径"}}
        # more rows than one batch of the migration, so its paging is exercised too
        old = {2000 + index: old_evidence(100 + index) for index in range(520)}
        with catalog.write_connection() as connection:
            connection.execute(sa.insert(AGENCIES), [{"id": "a", "name": "甲机关", "report_index": [], "aliases": []}])
            moment = datetime(2025, 7, 1, tzinfo=timezone.utc)
            connection.execute(sa.insert(VERDICTS), [
                {"agency_id": "a", "report_year": year, "status": "late", "flags": ["changed"], "evidence": evidence,
                 "computed_at": moment} for year, evidence in [*old.items(), (1999, clean)]])

        catalog.upgrade("head")
        migrated = stored(catalog)
        assert migrated[1999] == clean
        for year, evidence in old.items():
            assert migrated[year] == without_paths(evidence), year
        assert "permalink\"" not in json.dumps(migrated, ensure_ascii=False)

        catalog.downgrade(BEFORE)
        restored = stored(catalog)
        assert restored[1999] == clean
        assert all(restored[year] == evidence for year, evidence in old.items())
        catalog.upgrade("head")  # and up again: the same clean evidence
        assert stored(catalog) == migrated
    finally:
        catalog.close()
