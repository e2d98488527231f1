"""The crawl's report rows stored in batches (crawler.pipelines.ReportBatcher, store_reports) on a real catalog."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from crawler.pipelines import ReportBatcher, store_reports
from parsers.record import ReportRecord
from storage.catalog import Catalog, queries

T0 = datetime(2023, 1, 30, 2, 20, 30, tzinfo=timezone.utc)


class Writer:
    """CrawlArchive.call's part: each call on one thread, and the batches it was handed."""

    def __init__(self):
        self.batches: list[list[int]] = []

    async def call(self, function, catalog, rows):
        self.batches.append([row["capture_id"] for row in rows])
        return await asyncio.to_thread(function, catalog, rows)


@pytest.fixture
def catalog(tmp_path):
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    yield catalog
    catalog.close()


def _captures(catalog, count: int) -> list[int]:
    with catalog.session() as session:
        queries.upsert_agency(session, "a1", "某局")
        queries.start_run(session, "run-1", started_at=T0)
        queries.add_segment(session, "warcs/run-1/s1.warc.gz", "run-1", "host-a")
        return [queries.add_capture(
            session, url=f"http://x.example/{i}.html", timestamp=T0, record_type="response",
            warc_key="warcs/run-1/s1.warc.gz", offset=i, length=100, group_length=300,
            record_id=f"<urn:uuid:run-1-{i}>", payload_sha1="A" * 32, payload_sha256="0" * 64, payload_length=10,
            run_id="run-1", status=200, mime="text/html", agency_id="a1").id for i in range(count)]


def test_rows_go_in_batches_and_close_writes_what_waits(catalog):
    ids = _captures(catalog, 3)
    writer = Writer()

    async def crawl():
        batcher = ReportBatcher(writer, catalog, rows=2, ms=600_000)   # only a full batch or close sends
        stores = [asyncio.ensure_future(batcher.store(capture_id, ReportRecord(title=f"报告{capture_id}"), None,
                                                      f"http://x.example/{capture_id}", None))
                  for capture_id in ids]
        await asyncio.gather(*stores[:2])
        assert not stores[2].done()
        await batcher.close()
        return [store.result() for store in stores]

    report_ids = asyncio.run(crawl())
    assert writer.batches == [ids[:2], ids[2:]]
    with catalog.reading() as session:
        assert [queries.report_by_capture(session, capture_id).id for capture_id in ids] == report_ids
        assert [queries.report_by_capture(session, capture_id).title for capture_id in ids] == [
            f"报告{capture_id}" for capture_id in ids]


def test_a_refused_row_fails_its_own_store_alone(catalog):
    ids = _captures(catalog, 3)
    writer = Writer()

    async def crawl():
        batcher = ReportBatcher(writer, catalog, rows=3, ms=600_000)
        agencies = ["a1", "nobody", None]
        stores = [batcher.store(capture_id, ReportRecord(title="报告"), agency_id, "http://x/", None)
                  for capture_id, agency_id in zip(ids, agencies)]
        return await asyncio.gather(*stores, return_exceptions=True)

    first, refused, third = asyncio.run(crawl())
    assert writer.batches == [ids]
    assert isinstance(first, int) and isinstance(third, int)
    assert isinstance(refused, LookupError) and "unknown agency 'nobody'" in str(refused)


def test_a_batch_whose_transaction_fails_is_stored_row_by_row(catalog):
    ids = _captures(catalog, 3)
    rows = [dict(capture_id=capture_id, record=ReportRecord(title="报告"), agency_id=None, url="http://x/",
                 signature=None) for capture_id in ids]
    rows[1]["record"] = 42   # not a record: add_reports raises for the whole batch
    first, bad, third = store_reports(catalog, rows)
    assert isinstance(first, int) and isinstance(third, int) and isinstance(bad, TypeError)
    with catalog.reading() as session:
        assert queries.report_by_capture(session, ids[1]) is None
        assert queries.report_by_capture(session, ids[2]).id == third
