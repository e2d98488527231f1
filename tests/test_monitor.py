"""Verdict flags and evidence (monitor.flags, monitor.verdicts) over real archives built in temporary data dirs.

Every scenario archives real pages of the demo portals (or real report PDFs) with chosen capture times, parses the
report captures as the crawler's pipeline does, stores them, runs ``judge`` and reads back the stored verdicts.
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from monitor import flags
from registry.catalog_sync import store_agencies
from demo.portals import REPORTS, DemoPortals, not_found_page
from parsers.discovery import ListingItem, find_listing_items, looks_like_report_title
from monitor.verdicts import judge
from parsers.document import parse_document
from parsers.shingles import fingerprint
from parsers.record import FetchContext
from storage.archive import Archive, open_reader
from storage.catalog import queries
from storage.catalog.models import Capture, Report
from storage.facts import FACTS_VERSION, backfill
from storage.config import Config
from storage.objects import open_store

from parsers.beijing import BEIJING
BASE = "http://portal.example"
CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def report_spec(agency_id: str, year: int):
    return next(spec for spec in REPORTS if spec.agency_id == agency_id and spec.year == year)


def report_path(agency_id: str, year: int) -> str:
    return report_spec(agency_id, year).path


def column_path(agency_id: str) -> str:
    return DemoPortals().agency(agency_id).column


@dataclass
class Stage:
    """An archive in a temporary data dir with the demo agencies registered."""

    config: Config
    archive: Archive

    @property
    def catalog(self):
        return self.archive.catalog

    def fetch(self, edition: int, path: str, when: str, agency_id: str, *, role: str | None = None,
              extra: bytes = b""):
        """Archive what the demo portal in ``edition`` answers for ``path``, as fetched at ``when`` (Beijing)."""
        resource = DemoPortals(edition).resource(path)
        if resource is None:
            status, body, content_type, modified = 404, not_found_page(), "text/html; charset=utf-8", None
        else:
            status, body = resource.status, resource.body
            content_type, modified = resource.content_type, resource.http_last_modified
        headers = [("Content-Type", content_type)] + ([("Last-Modified", modified)] if modified else [])
        return self.archive.record_fetch(BASE + path, "GET", [("User-Agent", "test")], status, "OK", headers,
                                         body + extra, fetched_at=at(when), agency_id=agency_id,
                                         extra_metadata={"role": role} if role else None)

    def store_bytes(self, url: str, body: bytes, content_type: str, when: str, agency_id: str):
        return self.archive.record_fetch(url, "GET", [], 200, "OK", [("Content-Type", content_type)], body,
                                         fetched_at=at(when), agency_id=agency_id)

    def parse(self, ref, agency_id: str):
        """Parse the archived capture and store its record, as crawler.pipelines does."""
        capture = self.archive.read_capture(ref.id)
        record = parse_document(capture.payload, FetchContext(url=capture.url,
                                                              content_type=capture.header("Content-Type"),
                                                              headers=dict(capture.headers)))
        with self.catalog.session() as session:
            queries.add_report(session, ref.id, record, agency_id=agency_id)
        return record

    def read_column(self, agency_id: str, when: str, *, edition: int = 1, fetched: bool = True, **facts):
        """A crawl's read of the agency's report column at ``when``: the first listing page archived (unless
        ``fetched`` is false: robots.txt forbade it, nothing answered) and the coverage row the crawler writes,
        its numbers those of the archived page unless ``facts`` say otherwise (e.g. a later page the crawl
        walked, or a problem)."""
        path = column_path(agency_id)
        row = {"column_url": BASE + path, "found_by": "registry", "pages_walked": 0, "items_read": 0}
        if fetched:
            ref = self.fetch(edition, path, when, agency_id, role="column")
            items = find_listing_items(DemoPortals(edition).resource(path).body, BASE + path)
            dated = [item.date for item in items if item.date]
            row.update(capture_id=ref.id, pages_walked=1, items_read=len(items), dated_items=len(dated),
                       earliest_item=min(dated, default=None), latest_item=max(dated, default=None),
                       reports_found=sum(looks_like_report_title(item.title) for item in items))
        row.update(facts)
        with self.catalog.session() as session:
            return queries.add_coverage(session, run_id=self.archive.run_id, agency_id=agency_id, read_at=at(when),
                                        **row)

    def judge(self, as_of: date, years):
        judge(self.catalog, as_of=as_of, years=years)
        with self.catalog.reading() as session:
            return {(row.agency_id, row.report_year): row for row in queries.verdicts(session)}


def open_stage(data_dir: Path | Config) -> Stage:
    config = data_dir if isinstance(data_dir, Config) else Config.from_env({}, data_dir=data_dir)
    archive = Archive.open(config, durability="os")
    store_agencies(archive.catalog, DemoPortals().registry(BASE))
    return Stage(config, archive)


def seed_agency(stage: Stage) -> str:
    """The agency of seed 001 (临淄区卫生健康局), registered: a report is judged for the agency it names."""
    with stage.catalog.session() as session:
        queries.upsert_agency(session, "lz-wjj", "临淄区卫生健康局", level="department")
    return "lz-wjj"


@pytest.fixture
def stage(tmp_path):
    staged = open_stage(tmp_path / "data")
    yield staged
    staged.archive.close()


# ---------------------------------------------------------------- backdated

BACKDATED = ("ylx-wjj", 2023)


@pytest.mark.parametrize("role", ["column", None], ids=["crawler-role", "parsed-listing"])
def test_backdated_report_is_flagged_with_the_listing_capture_that_lacks_it(stage, role):
    agency, year = BACKDATED
    listing = stage.fetch(1, column_path(agency), "2024-01-28 10:00", agency, role=role)
    report = stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency, role="item" if role else None)
    stage.fetch(2, column_path(agency), "2025-06-21 09:00", agency, role=role)
    record = stage.parse(report, agency)
    assert record.is_report and record.publication_date == date(2024, 1, 26)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == ["backdated"]
    proof = verdict.evidence["backdated"]
    assert proof["listing_capture_id"] == listing.id
    assert proof["listing_url"] == BASE + column_path(agency)
    assert proof["listing_captured_at"].startswith("2024-01-28T10:00")
    assert proof["listing_found_by"] == ("role" if role else "parsing")
    assert proof["claimed_date"] == "2024-01-26" and proof["before_deadline"] is True
    assert proof["report_first_seen"].startswith("2025-06-21")
    assert proof["last_absent_at"].startswith("2024-01-28T10:00")
    # by its own date it would be on time; the archive knows only that it went up between 2024-01-28 (not listed)
    # and 2025-06-21 (first seen), and the deadline 2024-01-31 lies between
    assert verdict.status == "undetermined" and verdict.days_late is None
    assert (verdict.publication_date, verdict.date_source) == (date(2025, 6, 21), "first_seen")
    for day in ("2024-01-26", "2024-01-28", "2025-06-21", "2024-01-31"):
        assert day in verdict.evidence["reason"]


def test_a_back_dated_report_missing_from_a_listing_after_the_deadline_is_late_by_at_least_that_far(stage):
    agency, year = BACKDATED
    first = stage.fetch(1, column_path(agency), "2024-01-28 10:00", agency, role="column")
    stage.fetch(1, column_path(agency), "2024-03-01 10:00", agency, role="column")
    latest = stage.fetch(1, column_path(agency), "2024-05-10 10:00", agency, role="column")
    stage.parse(stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency, role="item"), agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == ["backdated"]
    proof = verdict.evidence["backdated"]
    assert proof["listing_capture_id"] == first.id            # the proof shown: the earliest, before the deadline
    assert proof["last_absent_capture_id"] == latest.id       # the bound: the latest absence
    assert proof["last_absent_at"].startswith("2024-05-10")
    # not listed on 2024-05-10: published at least 100 days after the 2024-01-31 deadline, never on its 2024-01-26
    assert (verdict.status, verdict.days_late) == ("late", 100)
    assert (verdict.publication_date, verdict.date_source) == (date(2025, 6, 21), "first_seen")
    reason = verdict.evidence["reason"]
    assert "2024-01-26" in reason and "2024-05-10" in reason and "2025-06-21" in reason and "至少 100 天" in reason


def test_a_back_dated_report_the_archive_saw_before_the_deadline_is_on_time_by_the_archives_date(stage):
    agency, year = BACKDATED
    stage.fetch(1, column_path(agency), "2024-01-27 10:00", agency, role="column")   # after the claimed 01-26
    stage.parse(stage.fetch(2, report_path(agency, year), "2024-01-30 09:00", agency, role="item"), agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == ["backdated"]
    assert (verdict.status, verdict.days_late) == ("on_time", 0)
    assert (verdict.publication_date, verdict.date_source) == (date(2024, 1, 30), "first_seen")
    assert "2024-01-26" in verdict.evidence["reason"] and "2024-01-30" in verdict.evidence["reason"]


def test_backdated_is_found_from_an_uploaded_archive_on_each_store(storage_config):
    stage = open_stage(storage_config)
    agency, year = BACKDATED
    listing = stage.fetch(1, column_path(agency), "2024-01-28 10:00", agency)
    stage.parse(stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency), agency)
    stage.archive.close()  # every segment is in the object store now, none in the spool
    assert not list((storage_config.data_dir / "spool").rglob("*.warc.gz"))
    reopened = open_stage(storage_config)
    try:
        verdict = reopened.judge(date(2025, 7, 1), [year])[(agency, year)]
    finally:
        reopened.archive.close()
    assert verdict.flags == ["backdated"] and verdict.evidence["backdated"]["listing_capture_id"] == listing.id


def test_listing_captures_that_prove_nothing_raise_no_backdated_flag(stage):
    agency, year = BACKDATED
    column = column_path(agency)
    stage.fetch(1, column, "2024-01-25 10:00", agency)              # before the claimed date
    stage.fetch(2, column + "?page=2", "2024-01-28 10:00", agency)   # page 2 of a look at the column …
    stage.fetch(2, column, "2024-01-28 10:05", agency)              # … whose page 1 lists the report
    report = stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency)
    stage.fetch(1, column, "2025-07-01 10:00", agency)              # after the archive saw the report
    stage.parse(report, agency)

    verdict = stage.judge(date(2025, 7, 2), [year])[(agency, year)]

    assert verdict.status == "on_time"
    assert verdict.flags == []
    assert "backdated" not in verdict.evidence


def test_a_look_at_the_column_whose_listing_page_failed_proves_no_back_dating(stage):
    """The run that read the column on 2024-01-28 without the report also failed on a listing page (500): the
    report may have been on it, so that look proves nothing against its claimed date."""
    agency, year = BACKDATED
    failed = [{"url": BASE + column_path(agency) + "?page=2", "kind": "http", "message": "HTTP 500"}]
    stage.read_column(agency, "2024-01-28 10:00", errors=failed)
    stage.parse(stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency, role="item"), agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == [] and "backdated" not in verdict.evidence, verdict.evidence.get("backdated")
    assert (verdict.status, verdict.publication_date) == ("on_time", date(2024, 1, 26)), verdict.evidence["reason"]


def test_a_listing_page_whose_dated_entries_all_came_after_the_claimed_day_proves_no_back_dating(stage):
    """Read on 2025-03-01, the column's first page lists only the 2024 report (2025-01-20): a 2023 report published
    on its claimed 2024-01-26 would sit on a later page, so its absence from this one proves nothing."""
    agency, year = BACKDATED
    name = DemoPortals().agency(agency).name
    page = ('<html><head><meta charset="utf-8"><title>年度报告</title></head><body><ul class="list">'
            f'<li><a href="/hanweb/2024.html">{name}2024年政府信息公开工作年度报告</a><span>2025-01-20</span></li>'
            '</ul><div class="page">共2页 <a href="?page=2">下一页</a></div></body></html>').encode()
    stage.store_bytes(BASE + column_path(agency), page, "text/html; charset=utf-8", "2025-03-01 10:00", agency)
    stage.parse(stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency, role="item"), agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == [] and "backdated" not in verdict.evidence, verdict.evidence.get("backdated")
    assert verdict.status == "on_time", verdict.evidence["reason"]


def test_an_abandoned_columns_silence_is_no_back_dating_of_a_report_the_new_column_lists(stage):
    """The agency moved to a new platform. Its old column, frozen since 2023 but still answering, was read on
    2025-02-10 and lists its 2021 and 2022 reports. The 2024 report, dated 2025-01-22, is listed in the new column
    and first archived on 2025-06-01. The old column never listing it says nothing of when it went up; a capture
    of the new column before 2025-06-01 would."""
    agency = "ylx-wjj"
    name = DemoPortals().agency(agency).name

    def listing(entries):
        rows = "".join(f'<li><a href="{href}">{name}{year}年政府信息公开工作年度报告</a><span>{day}</span></li>'
                       for href, year, day in entries)
        return (f'<html><head><meta charset="utf-8"><title>年度报告</title></head><body><ul class="list">{rows}'
                '</ul></body></html>').encode()

    html = "text/html; charset=utf-8"
    old = BASE + "/hanweb/col/col1100/index.html"
    stage.store_bytes(old, listing([("/hanweb/art/2023/1/20/a.html", 2022, "2023-01-20"),
                                    ("/hanweb/art/2022/1/20/b.html", 2021, "2022-01-20")]), html, "2025-02-10 10:00",
                      agency)
    new = BASE + "/zwgk/nb/index.html"
    stage.store_bytes(new, listing([(report_path(agency, 2024), 2024, "2025-01-22")]), html, "2025-06-01 09:00",
                      agency)
    stage.parse(stage.fetch(1, report_path(agency, 2024), "2025-06-01 09:01", agency, role="item"), agency)

    verdict = stage.judge(date(2025, 7, 1), [2024])[(agency, 2024)]
    assert "backdated" not in verdict.flags, verdict.evidence.get("backdated")
    assert verdict.status == "on_time", verdict.evidence["reason"]

    # the new column itself, read on 2025-02-10 without the report: that is back-dating
    stage.store_bytes(new, listing([(report_path(agency, 2023), 2023, "2024-01-26")]), html, "2025-02-10 10:05",
                      agency)
    verdict = stage.judge(date(2025, 7, 1), [2024])[(agency, 2024)]
    assert verdict.flags == ["backdated"] and verdict.evidence["backdated"]["listing_url"] == new
    assert verdict.status == "late", verdict.evidence["reason"]


def test_a_report_printing_another_agencys_name_neither_clears_nor_condemns_the_agency(stage):
    """A county column lists every department's reports: 样例区卫生健康局's 2021 report, found where 示范区卫生健康局
    (sfq-wjj) was looked for and attributed to it, is not sfq-wjj's. Alone, it leaves 2021 无法判断 naming it; next
    to sfq-wjj's own 2021 report, the own one is judged."""
    foreign = stage.fetch(1, report_path("ylx-wjj", 2021), "2022-01-21 10:00", "sfq-wjj", role="item")
    record = stage.parse(foreign, "sfq-wjj")
    assert record.is_report and record.agency == "样例区卫生健康局" and record.agency_source == "title"

    verdict = stage.judge(date(2025, 7, 1), [2021])[("sfq-wjj", 2021)]

    assert verdict.status == "undetermined", verdict.evidence["reason"]
    assert "样例区卫生健康局" in verdict.evidence["reason"] and "aliases" in verdict.evidence["reason"]
    assert [row["url"] for row in verdict.evidence["other_agency_reports"]] == [BASE + report_path("ylx-wjj", 2021)]

    own = stage.fetch(1, report_path("sfq-wjj", 2021), "2022-01-25 10:00", "sfq-wjj", role="item")
    stage.parse(own, "sfq-wjj")
    verdict = stage.judge(date(2025, 7, 1), [2021])[("sfq-wjj", 2021)]
    with stage.catalog.reading() as session:
        judged_url = session.get(Report, verdict.report_id).url
    assert verdict.status == "on_time" and judged_url == BASE + report_path("sfq-wjj", 2021)


def test_a_departments_report_listed_in_a_county_column_makes_neither_agency_a_copier(stage):
    """样例区卫生健康局 (ylx-wjj) publishes its 2021 report; the column read for 示范区卫生健康局 (sfq-wjj) lists it
    too (the crawl attributes it to sfq-wjj), beside sfq-wjj's own. The verdict judges sfq-wjj on its own report;
    copy detection must count the listed copy as neither agency's second report: the same text under two agency
    ids is not 疑似雷同 of either."""
    stage.parse(stage.fetch(1, report_path("ylx-wjj", 2021), "2022-01-21 10:00", "ylx-wjj", role="item"), "ylx-wjj")
    stage.parse(stage.fetch(1, report_path("ylx-wjj", 2021), "2022-01-21 11:00", "sfq-wjj", role="item"), "sfq-wjj")
    stage.parse(stage.fetch(1, report_path("sfq-wjj", 2021), "2022-01-25 10:00", "sfq-wjj", role="item"), "sfq-wjj")

    verdicts = stage.judge(date(2025, 7, 1), [2021])

    for agency in ("ylx-wjj", "sfq-wjj"):
        verdict = verdicts[(agency, 2021)]
        assert verdict.status == "on_time", verdict.evidence["reason"]
        assert "copied" not in verdict.flags and "copied" not in verdict.evidence, verdict.evidence.get("copied")
    with stage.catalog.reading() as session:
        assert session.get(Report, verdicts[("sfq-wjj", 2021)].report_id).url == BASE + report_path("sfq-wjj", 2021)


def test_a_report_without_a_printed_name_at_one_address_under_two_agencies_is_nobodys_copy(stage):
    """样例区卫生健康局's 2021 report prints its name only in its body (no name in the title, no 落款 name), and the
    county's column lists it too: the same address under two agency ids is one document, not a copy."""
    body = DemoPortals(1).resource(report_path("ylx-wjj", 2021)).body.decode()
    body = body.replace("样例区卫生健康局2021年政府信息公开工作年度报告", "2021年政府信息公开工作年度报告")
    body = body.replace('<p style="text-align:right">样例区卫生健康局</p>', "")
    url = BASE + report_path("ylx-wjj", 2021)
    stage.parse(stage.store_bytes(url, body.encode(), "text/html; charset=utf-8", "2022-01-21 10:00", "ylx-wjj"),
                "ylx-wjj")
    record = stage.parse(stage.store_bytes(url, body.encode(), "text/html; charset=utf-8", "2022-01-21 11:00",
                                           "sfq-gov"), "sfq-gov")
    assert record.is_report and record.agency_source not in ("title", "填报单位", "signature")

    verdicts = stage.judge(date(2025, 7, 1), [2021])

    for agency in ("ylx-wjj", "sfq-gov"):
        assert "copied" not in verdicts[(agency, 2021)].flags, verdicts[(agency, 2021)].evidence.get("copied")


@pytest.mark.parametrize("suffix", ["（更正）", ""], ids=["correction", "plain"])
def test_a_corrected_version_dated_after_the_deadline_is_not_late_by_the_corrections_date(stage, suffix):
    """The crawl began in April 2022. The agency's 2021 report online then is its 更正 version, re-published
    2022-03-15 at a new address; the original went up on a day the archive never saw. Without 更正 in its title
    the same page is 逾期 by its own date."""
    agency = "ylx-wjj"
    title = f"{DemoPortals().agency(agency).name}2021年政府信息公开工作年度报告"
    body = DemoPortals(1).resource(report_path(agency, 2021)).body.decode()
    body = body.replace(title, title + suffix).replace("2022-01-20", "2022-03-15")
    ref = stage.store_bytes(BASE + "/hanweb/art/2022/3/15/art_1229_88130.html", body.encode(),
                            "text/html; charset=utf-8", "2022-04-01 10:00", agency)
    record = stage.parse(ref, agency)
    assert record.title == title + suffix and record.publication_date == date(2022, 3, 15)

    verdict = stage.judge(date(2025, 7, 1), [2021])[(agency, 2021)]

    if not suffix:
        assert verdict.status == "late" and verdict.days_late == 43, verdict.evidence["reason"]
        return
    assert verdict.status == "undetermined" and verdict.days_late is None, verdict.evidence["reason"]
    assert "更正后的版本（“(更正)”）" in verdict.evidence["reason"] and "2022-03-15" in verdict.evidence["reason"]


def test_a_date_in_the_address_alone_makes_no_report_late(stage):
    """After a site migration every article got an address carrying the migration's date (DOMAIN: the URL date is
    the CMS's, off by years after a migration); the report page and its listing show no date, the crawl came
    later. The address's 2025-03-10 is not the agency's word that it published after the deadline."""
    body = DemoPortals(1).resource(report_path("ylx-wjj", 2024)).body.decode()
    body = body.replace('<meta name="PubDate" content="2025-01-22 09:00">', "")
    body = body.replace('<div class="info"><span class="date">发布日期：2025-01-22</span></div>', "")
    ref = stage.store_bytes(BASE + "/hanweb/art/2025/3/10/art_1229_99420.html", body.encode(),
                            "text/html; charset=utf-8", "2025-04-02 10:00", "ylx-wjj")
    record = stage.parse(ref, "ylx-wjj")
    assert record.date_source == "url" and record.publication_date == date(2025, 3, 10)

    verdict = stage.judge(date(2025, 7, 1), [2024])[("ylx-wjj", 2024)]

    assert verdict.status == "undetermined", verdict.evidence["reason"]
    assert "网址中的日期" in verdict.evidence["reason"]


# ---------------------------------------------------------------- no flags, evidence bundle

def test_on_time_report_seen_again_unchanged_has_no_flags_and_a_verifiable_bundle(stage):
    agency, year = "ylx-wjj", 2021
    stage.fetch(1, column_path(agency), "2022-01-20 18:00", agency)
    first = stage.fetch(1, report_path(agency, year), "2022-01-21 09:00", agency)
    again = stage.fetch(2, report_path(agency, year), "2023-03-01 09:00", agency)
    stage.parse(first, agency)
    assert again.record_type == "revisit"

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.flags == []
    bundle = verdict.evidence
    assert bundle["capture_id"] == first.id
    assert not [key for key in bundle if "permalink" in key]  # ids, never the web UI's paths
    body = DemoPortals(1).resource(report_path(agency, year)).body
    assert bundle["payload_sha256"] == hashlib.sha256(body).hexdigest()
    stage.archive.close()  # uploads the segment: the WARC location must now hold the record in the store
    store = open_store(stage.config)
    member = store.get_range(bundle["warc"]["key"], bundle["warc"]["offset"], bundle["warc"]["length"])
    record = gzip.decompress(member)
    assert record.startswith(b"WARC/1.1") and (BASE + report_path(agency, year)).encode() in record
    assert body in record
    assert bundle["screenshot"] is None and "截图" in bundle["screenshot_note"]


def test_screenshot_of_the_report_page_is_in_the_bundle(stage):
    agency, year = "ylx-wjj", 2021
    page = stage.fetch(1, report_path(agency, year), "2022-01-21 09:00", agency)
    stage.parse(page, agency)
    png = b"\x89PNG\r\n\x1a\n" + hashlib.sha256(b"screenshot").digest()
    shot = stage.archive.record_resource("urn:screenshot:" + page.url, png, "image/png",
                                         fetched_at=at("2022-01-21 09:00"), agency_id=agency, concurrent_to=page.id)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.evidence["screenshot"]["capture_id"] == shot.id
    assert verdict.evidence["screenshot"]["sha256"] == hashlib.sha256(png).hexdigest()
    assert "permalink" not in verdict.evidence["screenshot"]
    assert "screenshot_note" not in verdict.evidence
    assert verdict.evidence["screenshot"]["shows_capture_id"] == page.id


def test_the_bundles_screenshot_shows_the_reports_capture_not_merely_one_taken_near_it(stage):
    """A later, changed capture of the page was shot an hour after the report's capture; the report's own capture
    was shot weeks later: the evidence is the shot of the report's capture, and says which capture it shows."""
    agency, year = "ylx-wjj", 2021
    page = stage.fetch(1, report_path(agency, year), "2022-01-21 09:00", agency)
    stage.parse(page, agency)
    changed = stage.fetch(1, report_path(agency, year), "2022-01-21 10:00", agency, extra=b"<p>changed</p>")
    png = b"\x89PNG\r\n\x1a\n"
    near = stage.archive.record_resource("urn:screenshot:" + page.url, png + b"near", "image/png",
                                         fetched_at=at("2022-01-21 10:01"), agency_id=agency, concurrent_to=changed.id)
    own = stage.archive.record_resource("urn:screenshot:" + page.url, png + b"own", "image/png",
                                        fetched_at=at("2022-02-20 09:00"), agency_id=agency, concurrent_to=page.id)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.evidence["capture_id"] == page.id
    assert near.id != own.id
    assert (verdict.evidence["screenshot"]["capture_id"], verdict.evidence["screenshot"]["shows_capture_id"]) == (
        own.id, page.id)


# ---------------------------------------------------------------- changed

EDITED = ("sfq-wjj", 2023)


def test_edited_report_is_changed_down_to_the_table_cell(stage):
    agency, year = EDITED
    original = stage.fetch(1, report_path(agency, year), "2024-01-29 11:00", agency)
    edited = stage.fetch(2, report_path(agency, year), "2025-06-17 09:00", agency)
    stage.parse(original, agency)
    stage.parse(edited, agency)  # the crawler parses every version it fetches

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.publication_date == date(2024, 1, 29)
    assert verdict.flags == ["changed"]
    change = verdict.evidence["changed"]
    assert (change["from_capture_id"], change["to_capture_id"]) == (original.id, edited.id)
    assert change["from_sha256"] != change["to_sha256"]
    assert {"table": "table2", "row": "行政处罚", "column": "本年处理决定数量", "old": 173, "new": 185} in change["cells"]
    assert len(change["cells"]) == 1
    removed_lines = [line for line in change["text"]["diff"] if line.startswith("-")]
    added_lines = [line for line in change["text"]["diff"] if line.startswith("+")]
    assert any("745条" in line for line in removed_lines) and any("812条" in line for line in added_lines)
    assert "173→185" in change["message"]


def test_a_differing_version_nobody_parsed_leaves_changed_undetermined_not_dropped(stage):
    """Judging reads no archived bytes: a later version with other bytes and no parse stored (archived outside
    the crawler) cannot be compared, and the verdict says so instead of guessing."""
    agency, year = EDITED
    stage.parse(stage.fetch(1, report_path(agency, year), "2024-01-29 11:00", agency), agency)
    edited = stage.fetch(2, report_path(agency, year), "2025-06-17 09:00", agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.flags == []
    assert verdict.evidence["undetermined_flags"] == ["changed"]
    assert verdict.evidence["checks"]["changed"].startswith("无法判断") and "没有解析记录" in \
        verdict.evidence["checks"]["changed"]
    stage.parse(edited, agency)
    assert stage.judge(date(2025, 7, 1), [year])[(agency, year)].flags == ["changed"]


def test_same_document_with_other_page_chrome_is_not_changed(stage):
    agency, year = EDITED
    original = stage.fetch(1, report_path(agency, year), "2024-01-29 11:00", agency)
    stage.fetch(1, report_path(agency, year), "2024-06-01 09:00", agency, extra=b"<!-- visits: 4711 -->\n")
    stage.parse(original, agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == []


# ---------------------------------------------------------------- removed

def test_report_url_answering_404_later_is_removed(stage):
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    ok = stage.fetch(1, path, "2022-01-21 09:00", agency)
    stage.parse(ok, agency)
    stage.archive.record_fetch(BASE + path, "GET", [], 404, "Not Found", [("Content-Type", "text/html")],
                               not_found_page(), fetched_at=at("2024-03-01 09:00"), agency_id=agency)
    gone = stage.archive.record_fetch(BASE + path, "GET", [], 404, "Not Found", [("Content-Type", "text/html")],
                                      not_found_page(), fetched_at=at("2024-04-01 09:00"), agency_id=agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.flags == ["removed"]
    evidence = verdict.evidence["removed"]
    assert evidence["last_ok_capture_id"] == ok.id
    assert evidence["latest_failure"]["status"] == 404 and evidence["latest_failure"]["capture_id"] == gone.id
    assert evidence["first_failure"]["at"].startswith("2024-03-01") and evidence["failures"] == 2


@pytest.mark.parametrize("linked", ["/zwgk/nb/2021.html", None], ids=["new-address", "old-address"])
def test_a_404_while_the_column_links_the_report_at_a_new_address_it_could_not_fetch_is_no_deletion(stage, linked):
    """2024-03-01: the report's old address answers 404; the column read a minute before lists the same title at a
    new address, whose fetch timed out. The archive shows the report still listed, not deleted. A column that
    still links the dead old address (never updated) shows nothing moved: 已删除 stands."""
    agency, year = "ylx-wjj", 2021
    name = DemoPortals().agency(agency).name
    path = report_path(agency, year)
    linked = linked or path
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", agency, role="item"), agency)
    stage.archive.record_fetch(BASE + path, "GET", [], 404, "Not Found", [("Content-Type", "text/html")],
                               not_found_page(), fetched_at=at("2024-03-01 09:00"), agency_id=agency,
                               extra_metadata={"role": "item"})
    column = (f'<html><head><meta charset="utf-8"><title>年度报告</title></head><body><ul class="list">'
              f'<li><a href="{linked}">{name}{year}年政府信息公开工作年度报告</a><span>2022-01-20</span></li>'
              f'<li><a href="/zwgk/nb/2020.html">{name}2020年政府信息公开工作年度报告</a><span>2021-01-20</span></li>'
              '</ul></body></html>').encode()
    stage.archive.record_fetch(BASE + column_path(agency), "GET", [], 200, "OK",
                               [("Content-Type", "text/html; charset=utf-8")], column,
                               fetched_at=at("2024-03-01 08:59"), agency_id=agency, extra_metadata={"role": "column"})
    stage.archive.record_error(BASE + linked, "timeout", "took longer than 180 seconds", agency_id=agency,
                               at=at("2024-03-01 09:03"))

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    if linked == path:
        assert verdict.flags == ["removed"], verdict.evidence.get("checks")
        return
    assert "removed" not in verdict.flags and "removed" in verdict.evidence["undetermined_flags"], verdict.flags
    said = verdict.evidence["checks"]["removed"]
    assert said.startswith("无法判断") and "2024-03-01 的栏目页仍列出该报告" in said and "/zwgk/nb/2021.html" in said


def test_a_404_on_a_day_the_whole_site_answered_404_is_no_deletion(stage):
    """2024-03-01: the report's address, the column and the homepage all answer 404 in the same run (a firewall, a
    rebuilt site). Nothing says the report was deleted; a run in which the homepage answers and the report's
    address still says 404 does."""
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", agency, role="item"), agency)
    for url, role in ((BASE + "/hanweb/index.html", "home"), (BASE + column_path(agency), "column"),
                      (BASE + path, "item")):
        stage.archive.record_fetch(url, "GET", [], 404, "Not Found", [("Content-Type", "text/html")],
                                   not_found_page(), fetched_at=at("2024-03-01 09:00"), agency_id=agency,
                                   extra_metadata={"role": role})

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert "removed" not in verdict.flags and "removed" in verdict.evidence["undetermined_flags"], verdict.flags
    said = verdict.evidence["checks"]["removed"]
    assert "其他 2 个页面也都没有正常答复" in said and "整个网站当时不可用" in said, said

    later = Archive.open(stage.config, durability="os")   # another run: the site answers, the report does not
    try:
        later.record_fetch(BASE + "/hanweb/index.html", "GET", [], 200, "OK", [("Content-Type", "text/html")],
                           b"<html><body>home</body></html>", fetched_at=at("2024-04-01 09:00"), agency_id=agency,
                           extra_metadata={"role": "home"})
        later.record_fetch(BASE + path, "GET", [], 404, "Not Found", [("Content-Type", "text/html")],
                           not_found_page(), fetched_at=at("2024-04-01 09:01"), agency_id=agency,
                           extra_metadata={"role": "item"})
    finally:
        later.close()
    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.flags == ["removed"], verdict.evidence.get("checks")


def test_report_url_answering_the_sites_error_page_with_200_later_is_removed(stage):
    """Portals often answer a deleted article with their "页面不存在" page and 200: the report is gone all the same.
    A later 200 that is the report again clears the flag."""
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    ok = stage.fetch(1, path, "2022-01-21 09:00", agency)
    stage.parse(ok, agency)
    soft = ('<html><head><meta charset="utf-8"><title>样例县人民政府</title></head><body><div class="main">'
            '<p>对不起，您访问的页面不存在或已被删除！</p><a href="/">返回首页</a></div></body></html>').encode()
    gone = stage.store_bytes(BASE + path, soft, "text/html; charset=utf-8", "2024-04-01 09:00", agency)
    assert stage.parse(gone, agency).kind == "error_page"

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.flags == ["removed"]
    evidence = verdict.evidence["removed"]
    assert evidence["last_ok_capture_id"] == ok.id and evidence["latest_failure"]["capture_id"] == gone.id
    assert evidence["latest_failure"]["error_page"] is True and "错误页" in evidence["message"]

    back = stage.fetch(1, path, "2024-05-01 09:00", agency, extra=b"<!-- again -->\n")
    stage.parse(back, agency)
    assert stage.judge(date(2025, 7, 1), [year])[(agency, year)].flags == []


def test_a_blank_or_challenge_page_at_the_report_address_later_is_neither_an_edit_nor_a_removal(stage):
    """The report's address later answers a firewall's script challenge with 200: it made 发布后修改 (a new version
    by its digest). It is no version of the report, and it does not say the report is gone: 已删除 is 无法判断."""
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", agency), agency)
    challenge = (b'<html><head><script>document.cookie="__jsl=1";location.reload()</script></head>'
                 b'<body></body></html>')
    blank = stage.store_bytes(BASE + path, challenge, "text/html; charset=utf-8", "2024-04-01 09:00", agency)
    assert stage.parse(blank, agency).kind == "blank_page"

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.flags == [], verdict.flags
    assert verdict.evidence["undetermined_flags"] == ["removed"], verdict.evidence
    assert "空白页或验证页" in verdict.evidence["checks"]["removed"]


def test_the_sites_error_page_at_the_address_before_the_report_is_no_first_sighting(stage):
    """Portals answer an address with nothing behind it yet by their "页面不存在" page and 200: the report was first
    seen when the address gave the report, and the 倒签 window starts there."""
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    soft = ('<html><head><meta charset="utf-8"><title>样例县人民政府</title></head><body><div class="main">'
            '<p>对不起，您访问的页面不存在或已被删除！</p><a href="/">返回首页</a></div></body></html>').encode()
    early = stage.store_bytes(BASE + path, soft, "text/html; charset=utf-8", "2022-01-05 09:00", agency)
    assert stage.parse(early, agency).kind == "error_page"
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", agency), agency)

    judged = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert judged.status == "on_time"
    assert judged.first_seen is not None and judged.first_seen.date() == date(2022, 1, 21), judged.first_seen


def test_a_portal_down_after_the_last_success_leaves_removed_undetermined_until_it_answers_not_found(stage):
    """A refused connection, a timeout or a 500 after the report was archived says nothing of the report (the
    portal was down that night): 已删除 is 无法判断 with what happened, not raised; the site answering 404 is."""
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", agency), agency)
    stage.archive.record_error(BASE + path, "robots", "disallowed by robots.txt", agency_id=agency,
                               at=at("2023-01-01 09:00"))
    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.flags == [] and "removed" not in verdict.evidence.get("undetermined_flags", [])

    stage.archive.record_error(BASE + path, "reset", "Connection was refused by other side: 111: Connection refused.",
                               agency_id=agency, at=at("2024-01-01 09:00"))
    stage.archive.record_fetch(BASE + path, "GET", [], 500, "Internal Server Error", [], b"<html>error</html>",
                               fetched_at=at("2024-01-02 09:00"), agency_id=agency)
    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.flags == [] and verdict.evidence["undetermined_flags"] == ["removed"], verdict.evidence
    note = verdict.evidence["checks"]["removed"]
    assert note.startswith("无法判断：2024-01-02 再次访问报告网址得到 HTTP 500") and "不能说明报告已被删除" in note, note

    stage.archive.record_fetch(BASE + path, "GET", [], 404, "Not Found", [], not_found_page(),
                               fetched_at=at("2024-02-01 09:00"), agency_id=agency)
    stage.archive.record_error(BASE + path, "timeout", "took longer than 180 seconds", agency_id=agency,
                               at=at("2024-03-01 09:00"))
    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.flags == ["removed"]   # the 404 said it; a timeout after it takes nothing back
    evidence = verdict.evidence["removed"]
    assert evidence["latest_failure"]["error_kind"] == "timeout" and evidence["failures"] == 4
    assert evidence["message"].startswith("2024-02-01 再次访问报告网址得到 HTTP 404"), evidence["message"]


def test_404_before_publication_is_neither_removed_nor_the_first_sighting(stage):
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    stage.archive.record_fetch(BASE + path, "GET", [], 404, "Not Found", [], not_found_page(),
                               fetched_at=at("2022-01-10 09:00"), agency_id=agency)
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", agency), agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == []
    assert verdict.first_seen.astimezone(BEIJING) == at("2022-01-21 09:00")


def test_recomputing_replaces_the_flags(stage):
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", agency), agency)
    stage.archive.record_fetch(BASE + path, "GET", [], 404, "Not Found", [], not_found_page(),
                               fetched_at=at("2024-03-01 09:00"), agency_id=agency)
    assert stage.judge(date(2025, 7, 1), [year])[(agency, year)].flags == ["removed"]

    stage.fetch(1, path, "2024-03-02 09:00", agency)  # back again
    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.flags == [] and "removed" not in verdict.evidence


def _gone_and_copied(stage, agency: str, year: int, new_path: str, *, retitle: str = "", status: int = 404,
                     published: str = ""):
    """The report archived in 2022; on 2024-03-01 its address answers ``status`` (404: the site's not-found page)
    and the same report (its title ended by ``retitle``, a 更正 version; dated ``published`` instead of its own
    date) is archived at ``new_path`` a minute later, as one crawl run finds a moved column."""
    path = report_path(agency, year)
    resource = DemoPortals(1).resource(path)
    old = stage.fetch(1, path, "2022-01-21 09:00", agency)
    stage.parse(old, agency)
    answer = not_found_page() if status == 404 else b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    failure = stage.archive.record_fetch(BASE + path, "GET", [], status, "Error", [("Content-Type", "text/html")],
                                         answer, fetched_at=at("2024-03-01 09:00"), agency_id=agency)
    body = resource.body
    if retitle:
        title = report_spec(agency, year).title
        body = body.replace(title.encode(), f"{title}{retitle}".encode())
        assert body != resource.body
    if published:
        own = resource.body.split(b'name="PubDate" content="')[1][:10]
        body = body.replace(own, published.encode())
    copy = stage.store_bytes(BASE + new_path, body, resource.content_type, "2024-03-01 09:01", agency)
    record = stage.parse(copy, agency)
    assert record.is_report and record.report_year == year and record.title.endswith(retitle), record.title
    assert not published or record.publication_date == date.fromisoformat(published), record.publication_date
    return old, failure, copy


def test_a_report_whose_column_moved_is_not_removed_and_the_verdict_rests_on_the_copy_online(stage):
    """A site redesign moved the column: the old address answers 404, the same report is archived at its new
    address in the same crawl. It moved, it was not deleted: no 已删除 and no removed alert; the evidence names the
    copy; the verdict rests on the copy still online, first seen when the old address gave the report."""
    from monitor.alerts import verdict_events

    agency, year = "ylx-wjj", 2021
    old, failure, copy = _gone_and_copied(stage, agency, year, "/zwgk/nb/2021.html")

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.flags == [], verdict.flags
    assert "removed" not in verdict.evidence and "removed" not in verdict.evidence.get("undetermined_flags", [])
    assert verdict.evidence["report_url"] == BASE + "/zwgk/nb/2021.html" and verdict.evidence["capture_id"] == copy.id
    assert verdict.first_seen.astimezone(BEIJING) == at("2022-01-21 09:00")
    [moved] = verdict.evidence["moved"]
    assert moved["relation"] == "moved" and moved["from_url"] == BASE + report_path(agency, year)
    assert moved["url"] == BASE + "/zwgk/nb/2021.html" and moved["capture_id"] == copy.id
    assert moved["report_id"] == verdict.report_id and moved["last_ok_capture_id"] == old.id
    assert moved["latest_failure"]["capture_id"] == failure.id
    assert "迁移到" in moved["message"] and "不是删除" in moved["message"], moved["message"]
    assert [event.kind for event in verdict_events(verdict, "样例区卫生健康局")] == []


def test_a_report_replaced_by_a_corrected_version_is_not_removed(stage):
    """The report's page is taken down when its 更正 version is published at another address: replaced, not
    deleted. The verdict keeps the original (the earlier date), and its evidence names the correction."""
    agency, year = "ylx-wjj", 2021
    old, _failure, copy = _gone_and_copied(stage, agency, year, "/hanweb/art/2024/3/1/gz.html", retitle="（更正）")

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == [] and "removed" not in verdict.evidence, verdict.evidence
    [moved] = verdict.evidence["moved"]
    assert moved["relation"] == "replaced" and moved["capture_id"] == copy.id and moved["title"].endswith("（更正）")
    assert "替换为" in moved["message"]


def test_a_report_gone_at_its_old_and_its_new_address_is_removed(stage):
    """Moved, then gone at the new address too: the report is nowhere online, 已删除 stands."""
    agency, year = "ylx-wjj", 2021
    _gone_and_copied(stage, agency, year, "/zwgk/nb/2021.html")
    stage.archive.record_fetch(BASE + "/zwgk/nb/2021.html", "GET", [], 404, "Not Found", [], not_found_page(),
                               fetched_at=at("2024-04-01 09:00"), agency_id=agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == ["removed"] and "moved" not in verdict.evidence, verdict.evidence


@pytest.mark.parametrize("status", [500, 502, 503])
def test_an_old_address_answering_a_server_error_while_the_report_is_online_elsewhere_is_a_move(stage, status):
    """A site redesign moved the column and the old address answers a server error, not 404. The archive proves the
    report online at its new address: the verdict rests on it, 已删除 is neither raised nor 无法判断 (the year does not
    look removed), and the evidence says the report moved, the old address's error named, linking the copy."""
    agency, year = "ylx-wjj", 2021
    old, failure, copy = _gone_and_copied(stage, agency, year, "/zwgk/nb/2021.html", status=status)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.flags == [], verdict.flags
    assert "removed" not in verdict.evidence and "removed" not in verdict.evidence.get("undetermined_flags", [])
    assert "removed" not in verdict.evidence.get("checks", {}), verdict.evidence.get("checks")
    assert verdict.evidence["report_url"] == BASE + "/zwgk/nb/2021.html" and verdict.evidence["capture_id"] == copy.id
    [moved] = verdict.evidence["moved"]
    assert moved["relation"] == "moved" and moved["from_url"] == BASE + report_path(agency, year)
    assert moved["url"] == BASE + "/zwgk/nb/2021.html" and moved["capture_id"] == copy.id
    assert moved["report_id"] == verdict.report_id and moved["last_ok_capture_id"] == old.id
    assert moved["gone"] is False and moved["latest_failure"]["capture_id"] == failure.id
    assert moved["latest_failure"]["status"] == status
    assert f"HTTP {status}" in moved["message"] and "迁移到" in moved["message"], moved["message"]
    assert "不能说明" in moved["message"], moved["message"]   # the error itself proves no deletion


def test_a_report_replaced_by_a_later_dated_correction_while_its_old_address_answers_500_is_not_unknown_removed(stage):
    """The 更正 version, dated when it came out, is online at another address; the original's address answers 500.
    The verdict keeps the original's earlier date; 已删除 is not 无法判断 (the year's report is online), the
    evidence says it was replaced, the 500 named."""
    agency, year = "ylx-wjj", 2021
    old, failure, copy = _gone_and_copied(stage, agency, year, "/hanweb/art/2024/2/28/gz.html", retitle="（更正）",
                                          status=500, published="2024-02-28")

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "on_time" and verdict.flags == [], verdict.flags
    assert verdict.evidence["capture_id"] == old.id and verdict.publication_date == date(2022, 1, 20)
    assert "removed" not in verdict.evidence.get("undetermined_flags", []), verdict.evidence
    [moved] = verdict.evidence["moved"]
    assert moved["relation"] == "replaced" and moved["capture_id"] == copy.id and moved["gone"] is False
    assert moved["latest_failure"]["capture_id"] == failure.id and "替换为" in moved["message"]


def test_a_server_error_at_both_addresses_is_no_move(stage):
    """The old address answers 500 and so, later, does the new one: the archive does not show the report online
    anywhere now, so no 已迁移; 已删除 stays 无法判断 (a server error proves no deletion)."""
    agency, year = "ylx-wjj", 2021
    _gone_and_copied(stage, agency, year, "/zwgk/nb/2021.html", status=500)
    stage.archive.record_fetch(BASE + "/zwgk/nb/2021.html", "GET", [], 500, "Error", [], b"<html>error</html>",
                               fetched_at=at("2024-04-01 09:00"), agency_id=agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.flags == [] and "moved" not in verdict.evidence, verdict.evidence
    assert verdict.evidence["undetermined_flags"] == ["removed"], verdict.evidence


# ---------------------------------------------------------------- copied

def test_report_reusing_the_previous_years_text_is_copied(stage):
    agency = "sfq-ybj"  # the demo's one copied report: its 2024 text is its 2023 text with new numbers
    stage.parse(stage.fetch(1, report_path(agency, 2023), "2024-01-31 17:00", agency), agency)
    stage.parse(stage.fetch(1, report_path(agency, 2024), "2025-01-16 11:00", agency), agency)

    verdicts = stage.judge(date(2025, 7, 1), [2023, 2024])

    later = verdicts[(agency, 2024)]
    assert later.flags == ["copied"]
    found = later.evidence["copied"]
    assert found["relation"] == "previous_year" and found["other_report_year"] == 2023
    assert found["score"] >= 0.5 and found["method"] == flags.SIMILARITY_METHOD
    assert found["other_report_id"] == verdicts[(agency, 2023)].report_id
    assert "copied" not in verdicts[(agency, 2023)].flags  # its 2022 report is not archived here


def test_two_agencies_publishing_the_same_text_are_both_copied(stage):
    year = 2023
    stage.parse(stage.fetch(1, report_path("sfq-wjj", year), "2024-01-29 11:00", "sfq-wjj"), "sfq-wjj")
    # sfq-ybj publishing sfq-wjj's report word for word under its own name (the demo portals' reports of one year
    # are all distinct)
    page = DemoPortals(1).resource(report_path("sfq-wjj", year))
    body = page.body.decode("gb18030").replace("示范区卫生健康局", "示范区医疗保障局").encode("gb18030")  # a GBK portal
    twin = stage.store_bytes(BASE + "/jsportal/c/2024-01-31/7052299.shtml", body, page.content_type,
                             "2024-01-31 17:00", "sfq-ybj")
    stage.parse(twin, "sfq-ybj")

    verdicts = stage.judge(date(2025, 7, 1), [year])

    for agency, other in (("sfq-wjj", "sfq-ybj"), ("sfq-ybj", "sfq-wjj")):
        found = verdicts[(agency, year)].evidence["copied"]
        assert "copied" in verdicts[(agency, year)].flags
        assert found["relation"] == "same_year_other_agency" and found["other_agency_id"] == other
        assert found["score"] >= 0.5


@pytest.mark.parametrize("status", [404, 500])
def test_a_copy_names_its_source_where_it_is_online_now_not_the_address_it_left(stage, status):
    """Another agency published 样例区卫生健康局's 2021 report as its own; the source's column then moved (its old
    address answers ``status``, the report is archived at its new address). 疑似雷同 names the source where a
    journalist can open it now, the report and capture its own verdict rests on, not the address it left."""
    source, copier, year = "ylx-wjj", "sfq-ybj", 2021
    page = DemoPortals(1).resource(report_path(source, year))
    twin = page.body.replace("样例区卫生健康局".encode(), "示范区医疗保障局".encode())
    stage.parse(stage.store_bytes(BASE + "/jsportal/c/2022-01-25/8000001.shtml", twin, page.content_type,
                                  "2022-01-25 10:00", copier), copier)
    _old, _failure, moved_copy = _gone_and_copied(stage, source, year, "/zwgk/nb/2021.html", status=status)

    verdicts = stage.judge(date(2025, 7, 1), [year])

    found = verdicts[(copier, year)].evidence["copied"]
    assert "copied" in verdicts[(copier, year)].flags and found["other_agency_id"] == source
    assert found["other_url"] == BASE + "/zwgk/nb/2021.html", found["other_url"]
    assert found["other_capture_id"] == moved_copy.id
    assert found["other_report_id"] == verdicts[(source, year)].report_id
    # … and the source's own 疑似雷同 names the copier, compared on the text its verdict rests on
    assert verdicts[(source, year)].evidence["copied"]["other_agency_id"] == copier


def test_distinct_real_reports_of_one_year_are_not_copied(stage):
    with stage.catalog.session() as session:
        queries.upsert_agency(session, "hzq-gov", "淮安市洪泽区人民政府", level="government")
        queries.upsert_agency(session, "ha-gov", "淮安市人民政府", level="government")
    texts = {}
    for agency, name in (("hzq-gov", "hzq2024_working.pdf"), ("ha-gov", "szfgs2024.pdf")):
        ref = stage.store_bytes(f"{BASE}/corpus/{name}", (CORPUS / name).read_bytes(), "application/pdf",
                                "2025-02-26 10:00", agency)
        record = stage.parse(ref, agency)
        assert record.is_report and record.report_year == 2024
        texts[agency] = record.text

    verdicts = stage.judge(date(2025, 7, 1), [2024])

    assert "copied" not in verdicts[("hzq-gov", 2024)].flags
    assert "copied" not in verdicts[("ha-gov", 2024)].flags
    score = flags.similarity(fingerprint(texts["hzq-gov"]), fingerprint(texts["ha-gov"])).score
    assert score < flags.COPY_THRESHOLD


# ---------------------------------------------------------------- the pure decisions

def test_table_changes_name_every_changed_cell_in_every_table_shape():
    old = {"table2": {"columns": "2021", "rows": {"行政处罚": {"本年处理决定数量": 173}}},
           "table4": {"行政复议": {"结果维持": 1, "总计": 1}},
           "old_stats": {"主动公开政府信息数": 566}}
    new = {"table2": {"columns": "2021", "rows": {"行政处罚": {"本年处理决定数量": 185}}},
           "table4": {"行政复议": {"结果维持": 1, "总计": 2}},
           "old_stats": {"主动公开政府信息数": 566, "收到申请数": 3}}
    assert flags.table_changes(old, new) == [
        {"table": "table2", "row": "行政处罚", "column": "本年处理决定数量", "old": 173, "new": 185},
        {"table": "table4", "row": "行政复议", "column": "总计", "old": 1, "new": 2},
        {"table": "old_stats", "row": "收到申请数", "column": None, "old": None, "new": 3},
    ]
    assert flags.table_changes(old, old) == []


def test_fingerprint_ignores_numbers_and_the_prescribed_wording():
    text = (Path(__file__).parents[1] / "demo" / "seeds" / "seed001.txt").read_text("utf-8")
    renumbered = "".join(str((int(ch) + 3) % 10) if ch.isdigit() else ch for ch in text)
    assert renumbered != text
    assert flags.similarity(fingerprint(text), fingerprint(renumbered)).score == 1.0
    template_only = "三、收到和处理政府信息公开申请情况\n行政复议\n行政诉讼\n未经复议直接起诉\n复议后起诉\n"
    assert fingerprint(template_only) == frozenset()


def test_removed_needs_the_newest_answer_after_the_last_success_to_fail():
    day = lambda n: datetime(2024, 1, n, tzinfo=timezone.utc)  # noqa: E731
    assert flags.removed([flags.FetchEvent(day(1), 200, 1), flags.FetchEvent(day(2), 404, 2)])["gone"]
    for status in (410, 451):
        assert flags.removed([flags.FetchEvent(day(1), 200, 1), flags.FetchEvent(day(2), status, 2)])["gone"]
    for status in (403, 429, 500, 503):   # a block or a server error: failed, the report not shown gone
        assert not flags.removed([flags.FetchEvent(day(1), 200, 1), flags.FetchEvent(day(2), status, 2)])["gone"]
    assert flags.removed([flags.FetchEvent(day(1), 200, 1),
                          flags.FetchEvent(day(2), error_kind="http", message="HTTP 410 Gone")])["gone"]
    assert flags.removed([flags.FetchEvent(day(1), 200, 1), flags.FetchEvent(day(2), 404, 2),
                          flags.FetchEvent(day(3), 304, 3)]) is None
    assert flags.removed([flags.FetchEvent(day(1), 200, 1), flags.FetchEvent(day(2), 301, 2)]) is None
    assert flags.removed([flags.FetchEvent(day(2), 404, 2)]) is None
    # the 404 archived and the fetch error the same request recorded just after it: one failure, the capture's
    later = datetime(2024, 1, 2, 0, 0, 1, tzinfo=timezone.utc)
    evidence = flags.removed([flags.FetchEvent(day(1), 200, 1), flags.FetchEvent(day(2), 404, 2),
                              flags.FetchEvent(later, error_kind="http", error_id=7, message="HTTP 404 Not Found")])
    assert evidence["failures"] == 1
    assert evidence["latest_failure"] == evidence["first_failure"] == {
        "at": "2024-01-02T08:00:00+08:00", "status": 404, "capture_id": 2, "error_kind": "http", "error_id": 7,
        "message": "HTTP 404 Not Found"}


def test_a_copy_is_online_when_it_answered_since_the_old_address_last_did_or_in_that_run():
    day = lambda n: datetime(2024, 1, n, tzinfo=timezone.utc)  # noqa: E731
    since = flags.FetchEvent(day(5), 200, 1, run_id="r5")
    assert flags.online_since([flags.FetchEvent(day(6), 200, 2)], since).capture_id == 2
    assert flags.online_since([flags.FetchEvent(day(4), 200, 2, run_id="r5")], since).capture_id == 2  # same run
    assert flags.online_since([flags.FetchEvent(day(4), 200, 2, run_id="r4")], since) is None   # seen only before
    # gone there too: nowhere online; a timeout since says nothing of the copy
    assert flags.online_since([flags.FetchEvent(day(6), 200, 2), flags.FetchEvent(day(7), 404, 3)], since) is None
    assert flags.online_since([flags.FetchEvent(day(6), 200, 2),
                               flags.FetchEvent(day(7), error_kind="timeout")], since).capture_id == 2


def test_listing_matches_a_truncated_title_or_another_url_of_the_report():
    item = ListingItem(url="http://x/a/1.html", title="样例区卫生健康局2023年政府信息公开工作…",
                       date_raw="2024-01-26", date=date(2024, 1, 26))
    title = "样例区卫生健康局2023年政府信息公开工作年度报告"
    assert flags.lists_report([item], ["http://x/other.html"], [title])
    assert flags.lists_report([item], ["https://x/a/1.html#top"], [])
    assert not flags.lists_report([item], ["http://x/other.html"], ["样例区卫生健康局2022年政府信息公开工作年度报告"])


def test_lost_warc_segments_cost_no_flag_but_facts_never_derived_from_them_are_undetermined(stage):
    agency, year = BACKDATED
    listing = stage.fetch(1, column_path(agency), "2024-01-28 10:00", agency)
    stage.parse(stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency), agency)
    stage.archive.close()  # uploads the segment to the local store …
    segments = list((stage.config.objects_dir / "warcs").rglob("*.warc.gz"))
    assert segments
    for segment in segments:
        segment.unlink()   # … which then loses them

    # judging reads the facts kept when the captures were indexed, not the lost bytes
    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.flags == ["backdated"] and "checks" not in verdict.evidence

    forget_facts(stage.catalog, listing.id)  # as if indexed before they were kept: they can no longer be derived
    done = backfill(stage.catalog, open_reader(stage.config, catalog=stage.catalog))
    assert (done.captures, done.unreadable) == (0, 1)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.status == "on_time" and verdict.publication_date == date(2024, 1, 26)
    assert verdict.flags == []
    assert "无法读取" in verdict.evidence["checks"]["archive"]
    # the check that needed the lost facts says it could not tell: the flag is not silently dropped
    assert verdict.evidence["undetermined_flags"] == ["backdated"]
    why = verdict.evidence["checks"]["backdated"]
    assert why.startswith("无法判断") and "无法读取" in why


# ---------------------------------------------------------------- judging as of a past day

def test_as_of_a_day_before_the_report_appeared_it_was_pending_then_missing_then_late(stage):
    """sfq-gov's 2024 report (a government: due 2025-03-31) says 2025-04-08 and was first archived that day."""
    agency, year = "sfq-gov", 2024
    stage.parse(stage.fetch(1, report_path(agency, year), "2025-04-08 10:00", agency), agency)

    assert stage.judge(date(2025, 1, 10), [year])[(agency, year)].status == "pending"
    on_deadline_day = stage.judge(date(2025, 3, 31), [year])[(agency, year)]
    assert on_deadline_day.status == "missing"   # evaluators check at 24:00 of the deadline day
    assert on_deadline_day.report_id is None and "2025-04-08" in on_deadline_day.evidence["reason"]
    # no column read proves it (none could, on the deadline day itself): the agency's own later date does
    assert on_deadline_day.evidence["missing_proof"] == {"proven": False, "problem": "never_read"}
    late = stage.judge(date(2025, 4, 8), [year])[(agency, year)]
    assert (late.status, late.days_late) == ("late", 8)


@pytest.mark.parametrize("fetched, status, days_late, words", [
    ("2025-03-20 10:00", "on_time", 0, "按存档日期判断不晚于"),    # held before the deadline: the archive proves it
    ("2025-04-02 10:00", "undetermined", None, "无法判断"),         # after it, but before the day it names
    ("2025-04-08 10:00", "late", 8, "晚于"),                         # on the day it names: the date stands
])
def test_a_report_the_archive_held_before_the_day_it_names_is_not_late_by_that_day(stage, fetched, status, days_late,
                                                                                   words):
    """sfq-gov's 2024 report (due 2025-03-31) says 2025-04-08; a page re-dated when edited, or a file uploaded again,
    names a day after the archive already held it. That day is not its publication and proves nothing late."""
    agency, year = "sfq-gov", 2024
    stage.parse(stage.fetch(1, report_path(agency, year), fetched, agency), agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert (verdict.status, verdict.days_late) == (status, days_late)
    assert "2025-04-08" in verdict.evidence["reason"] and words in verdict.evidence["reason"]
    if status != "late":
        assert verdict.date_source == "first_seen" and fetched[:10] in verdict.evidence["reason"]


def test_an_earlier_page_at_the_reports_address_is_not_when_the_archive_first_held_the_report(stage):
    """Before the report, its address answered something else (a notice that it is being prepared): that capture
    is no sighting of the report, and its late date stands."""
    agency, year = "sfq-gov", 2024
    url = BASE + report_path(agency, year)
    notice = "<html><head><title>通知</title></head><body><p>本机关年报正在编制中，敬请关注。</p></body></html>"
    stage.parse(stage.store_bytes(url, notice.encode(), "text/html; charset=utf-8", "2025-03-20 10:00", agency), agency)
    stage.parse(stage.fetch(1, report_path(agency, year), "2025-04-08 10:00", agency), agency)

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert (verdict.status, verdict.days_late) == ("late", 8)


def test_a_report_dated_only_by_its_last_modified_header_after_the_deadline_is_not_late(stage):
    """A real 2022 report (a seed) served as text with no date of its own but its server's Last-Modified, three weeks
    after the 2023-01-31 deadline, first archived after that: a site re-published since would show the same."""
    agency = seed_agency(stage)
    text = (Path(__file__).resolve().parents[1] / "demo" / "seeds" / "seed001.txt").read_bytes()
    ref = stage.archive.record_fetch(BASE + "/sfq-wjj/nb2022.txt", "GET", [], 200, "OK",
                                     [("Content-Type", "text/plain; charset=utf-8"),
                                      ("Last-Modified", "Mon, 20 Feb 2023 08:00:00 GMT")], text,
                                     fetched_at=at("2023-03-05 10:00"), agency_id=agency)
    assert stage.parse(ref, agency).date_source == "http_last_modified"

    verdict = stage.judge(date(2023, 6, 1), [2022])[(agency, 2022)]

    assert (verdict.status, verdict.days_late) == ("undetermined", None)
    assert "2023-02-20" in verdict.evidence["reason"] and "不是机关标明的发布日期" in verdict.evidence["reason"]


def test_a_report_without_a_date_is_judged_by_the_day_the_archive_first_held_it_not_its_address(stage):
    """A real 2022 report (a seed) with no date at all, served as text after the 2023-01-31 deadline; in January its
    address answered with a notice that it is being prepared. The notice is no sighting of the report."""
    agency, url = seed_agency(stage), BASE + "/sfq-wjj/nb2022.txt"
    notice = "<html><head><title>通知</title></head><body><p>本机关年报正在编制中，敬请关注。</p></body></html>"
    stage.parse(stage.store_bytes(url, notice.encode(), "text/html; charset=utf-8", "2023-01-10 10:00", agency), agency)
    text = (Path(__file__).resolve().parents[1] / "demo" / "seeds" / "seed001.txt").read_bytes()
    stage.parse(stage.store_bytes(url, text, "text/plain; charset=utf-8", "2023-02-15 10:00", agency), agency)

    verdict = stage.judge(date(2023, 6, 1), [2022])[(agency, 2022)]

    assert (verdict.status, verdict.date_source) == ("undetermined", "first_seen")
    assert "2023-02-15" in verdict.evidence["reason"] and "无法判断" in verdict.evidence["reason"]


def test_a_report_first_archived_after_the_day_claiming_an_earlier_date_is_undetermined_then(stage):
    """The archive first saw the report after the as-of day; it claims a date before: the archive cannot tell
    whether it was there on that day, so the verdict does not say 未发布."""
    agency, year = "sfq-wjj", 2023
    stage.parse(stage.fetch(1, report_path(agency, year), "2024-06-01 10:00", agency), agency)

    verdict = stage.judge(date(2024, 3, 1), [year])[(agency, year)]

    assert verdict.status == "undetermined" and verdict.report_id is None
    assert "2024-01-29" in verdict.evidence["reason"] and "无法判断" in verdict.evidence["reason"]
    assert verdict.evidence["as_of"] == "2024-03-01"


def test_a_back_dated_report_did_not_exist_before_the_archive_saw_it(stage):
    agency, year = BACKDATED
    stage.read_column(agency, "2024-01-28 10:00")
    stage.parse(stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency, role="item"), agency)
    stage.read_column(agency, "2025-06-21 09:00", edition=2)

    # the listing of 2024-01-28 proves the claimed 2024-01-26 false, but it was read before the 2024-01-31
    # deadline: nothing the archive held on 2024-06-01 shows the column after it
    unproven = stage.judge(date(2024, 6, 1), [year])[(agency, year)]
    assert unproven.status == "undetermined" and unproven.report_id is None
    assert "倒签" in unproven.evidence["reason"] and "截止日期之后没有读取过年报栏目" in unproven.evidence["reason"]
    assert unproven.evidence["missing_proof"] == {"proven": False, "problem": "not_after_deadline"}

    after_deadline = stage.read_column(agency, "2024-03-01 10:00")   # its first page reaches back to 2022
    verdict = stage.judge(date(2024, 6, 1), [year])[(agency, year)]
    assert verdict.status == "missing" and verdict.flags == [] and verdict.report_id is None
    assert verdict.evidence["coverage"]["coverage_id"] == after_deadline.id
    assert stage.judge(date(2025, 7, 1), [year])[(agency, year)].flags == ["backdated"]


# ---------------------------------------------------------------- missing needs the column read after the deadline

MISSING = ("ylx-wjj", 2022)   # the demo's missing year: no 2022 report, ever; a department's, due 2023-01-31


def test_a_year_is_missing_when_the_column_read_after_the_deadline_reaches_back_before_it(stage):
    agency, year = MISSING
    read = stage.read_column(agency, "2025-03-01 09:00")
    assert read.earliest_item == date(2022, 6, 1) and read.items_read == 4

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "missing" and verdict.report_id is None and verdict.days_late is None
    assert verdict.evidence["missing_proof"] == {"proven": True, "problem": None}
    coverage = verdict.evidence["coverage"]
    assert (coverage["coverage_id"], coverage["capture_id"]) == (read.id, read.capture_id)
    assert coverage["column_url"] == BASE + column_path(agency) and coverage["read_at"].startswith("2025-03-01")
    assert not [key for key in coverage if "path" in key or "permalink" in key]
    reason = verdict.evidence["reason"]
    assert "2023-01-31" in reason and "2025-03-01 读取了年报栏目" in reason and "2022-06-01" in reason


@pytest.mark.parametrize("reads, problem, words", [
    ([], "never_read", "没有该机关年报栏目的任何读取记录"),
    # read on the deadline day (before 24:00) and never since
    ([("2023-01-31 15:00", {"latest_item": date(2022, 6, 1), "items_read": 2, "dated_items": 2})],
     "not_after_deadline", "截止日期之后没有读取过年报栏目（最近一次读取是 2023-01-31"),
    # the crawl stopped after a page whose items reach back only to 2023-04-10
    ([("2025-03-01 09:00", {"earliest_item": date(2023, 4, 10), "items_read": 3, "dated_items": 3})],
     "not_far_enough", "最早的条目是 2023-04-10"),
    ([("2025-03-01 09:00", {"fetched": False, "problem": "empty", "detail": "栏目页没有任何条目",
                            "pages_walked": 1})], "empty", "读取成功但没有任何条目"),
    ([("2025-03-01 09:00", {"fetched": False, "problem": "robots", "detail": "Disallow: /hanweb/col/"})],
     "robots", "robots.txt 禁止"),
    ([("2025-03-01 09:00", {"fetched": False, "problem": "unreadable", "detail": "HTTP 403"})],
     "unreadable", "年报栏目无法读取（HTTP 403）"),
    ([("2025-03-01 09:00", {"fetched": False, "problem": "script_error", "rendered": True,
                            "detail": "ReferenceError: loadList is not defined"})],
     "script_error", "ReferenceError: loadList is not defined"),
    # page 1 read, page 2 answered 500: the walk stopped before the items reached back to the deadline
    ([("2025-03-01 09:00", {"earliest_item": date(2023, 4, 10), "items_read": 3, "dated_items": 3,
                            "errors": [{"url": BASE + "/ylx/wjj/nb/index_1.html", "kind": "http",
                                        "message": "HTTP 500 Internal Server Error"}]})],
     "fetch_errors", f"1 个列表页抓取失败，例如 {BASE}/ylx/wjj/nb/index_1.html（HTTP 500 Internal Server Error）"),
], ids=["no-coverage", "read-before-deadline", "not-reaching-back", "empty", "robots", "unreadable", "script-error",
        "fetch-errors"])
def test_a_year_without_report_and_without_proof_is_undetermined_with_the_reason(stage, reads, problem, words):
    agency, year = MISSING
    rows = [stage.read_column(agency, when, **facts) for when, facts in reads]

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "undetermined" and verdict.report_id is None and verdict.flags == []
    reason = verdict.evidence["reason"]
    assert reason.startswith("无法判断：") and words in reason and "不能证明该机关未发布报告" in reason
    assert verdict.evidence["missing_proof"] == {"proven": False, "problem": problem}
    if rows:
        assert verdict.evidence["coverage"]["coverage_id"] == rows[-1].id
    else:
        assert verdict.evidence["coverage"] is None


def test_a_failed_read_after_a_good_one_still_proves_missing_and_the_good_read_is_the_evidence(stage):
    agency, year = MISSING
    good = stage.read_column(agency, "2025-03-01 09:00")
    stage.read_column(agency, "2025-06-01 09:00", fetched=False, problem="unreadable", detail="HTTP 503")

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]

    assert verdict.status == "missing" and verdict.evidence["coverage"]["coverage_id"] == good.id


def test_a_column_read_after_the_as_of_day_proves_nothing_on_that_day(stage):
    agency, year = MISSING
    stage.read_column(agency, "2025-03-01 09:00")

    def status_as_of(day: date) -> str:
        [result] = [row for row in judge(stage.catalog, as_of=day, years=[year], agency_ids=[agency],
                                         store=False) if row.report_year == year]
        return result.verdict.status

    assert status_as_of(date(2025, 2, 28)) == "undetermined"
    assert status_as_of(date(2025, 3, 1)) == "missing"


def test_captures_after_the_as_of_day_do_not_count_for_changed_or_removed(stage):
    edited_agency, edited_year = EDITED
    stage.parse(stage.fetch(1, report_path(edited_agency, edited_year), "2024-01-29 11:00", edited_agency),
                edited_agency)
    stage.parse(stage.fetch(2, report_path(edited_agency, edited_year), "2025-06-17 09:00", edited_agency),
                edited_agency)
    agency, year = "ylx-wjj", 2021
    path = report_path(agency, year)
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", agency), agency)
    stage.archive.record_fetch(BASE + path, "GET", [], 404, "Not Found", [("Content-Type", "text/html")],
                               not_found_page(), fetched_at=at("2024-03-01 09:00"), agency_id=agency)
    stage.archive.record_error(BASE + path, "dns", "name does not resolve", agency_id=agency,
                               at=at("2024-04-01 09:00"))

    before = stage.judge(date(2024, 2, 1), [edited_year, year])
    assert before[EDITED].status == "on_time" and before[EDITED].flags == []
    assert before[(agency, year)].status == "on_time" and before[(agency, year)].flags == []

    after = stage.judge(date(2025, 7, 1), [edited_year, year])
    assert after[EDITED].flags == ["changed"] and after[(agency, year)].flags == ["removed"]


def test_a_copy_published_after_the_as_of_day_does_not_make_the_original_copied(stage):
    year = 2023
    stage.parse(stage.fetch(1, report_path("sfq-wjj", year), "2024-01-29 11:00", "sfq-wjj"), "sfq-wjj")
    original = DemoPortals(1).resource(report_path("sfq-wjj", year))
    # the same text, word for word but the agency's name, months later
    copied_text = original.body.decode("gbk").replace("示范区卫生健康局", "示范区医疗保障局").encode("gbk")
    copy = stage.store_bytes(BASE + "/jsportal/c/2024-09-01/copy.shtml", copied_text, original.content_type,
                             "2024-09-01 10:00", "sfq-ybj")
    stage.parse(copy, "sfq-ybj")

    assert "copied" not in stage.judge(date(2024, 6, 1), [year])[("sfq-wjj", year)].flags
    assert "copied" in stage.judge(date(2025, 7, 1), [year])[("sfq-wjj", year)].flags


def test_judging_without_storing_returns_the_verdicts_and_leaves_the_stored_ones(stage):
    agency, year = "sfq-gov", 2024
    stage.parse(stage.fetch(1, report_path(agency, year), "2025-04-08 10:00", agency), agency)
    stored = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert stored.status == "late" and stored.evidence["as_of"] == "2025-07-01"

    computed = {(row.agency_id, row.report_year): row
                for row in judge(stage.catalog, as_of=date(2025, 1, 10), years=[year], store=False)}

    assert computed[(agency, year)].verdict.status == "pending"
    assert computed[(agency, year)].evidence["as_of"] == "2025-01-10"
    with stage.catalog.reading() as session:
        again = {(row.agency_id, row.report_year): row for row in queries.verdicts(session)}
    assert again[(agency, year)].status == "late" and again[(agency, year)].computed_at == stored.computed_at
    assert again[(agency, year)].evidence == stored.evidence


# ---------------------------------------------------------------- facts the catalog does not have (yet)

FACT_COLUMNS = ("role", "listing_title", "listing_date", "redirected_from", "concurrent_to_capture_id",
                "listing_items", "facts_version")


def forget_facts(catalog, capture_id: int) -> dict:
    """The capture as indexed before migration 0007 kept its facts; returns the facts it had."""
    with catalog.session() as session:
        row = session.get(Capture, capture_id)
        had = {name: getattr(row, name) for name in FACT_COLUMNS}
        for name in FACT_COLUMNS:
            setattr(row, name, None)
    return had


def test_a_listing_capture_without_its_facts_is_undetermined_until_they_are_derived_from_the_warc(stage):
    agency, year = BACKDATED
    listing = stage.fetch(1, column_path(agency), "2024-01-28 10:00", agency, role="column")
    stage.parse(stage.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency, role="item"), agency)
    indexed = forget_facts(stage.catalog, listing.id)
    assert indexed["role"] == "column" and indexed["facts_version"] == FACTS_VERSION
    assert any("2023" in title for _url, title, *_day in indexed["listing_items"])

    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.flags == [] and verdict.evidence["undetermined_flags"] == ["backdated"]
    assert verdict.evidence["checks"]["backdated"].startswith("无法判断")
    assert "尚未从 WARC 补录" in verdict.evidence["checks"]["backdated"]

    done = backfill(stage.catalog, stage.archive.reader)
    assert (done.captures, done.unreadable, done.stopped) == (1, 0, None)
    with stage.catalog.reading() as session:
        row = session.get(Capture, listing.id)
        assert {name: getattr(row, name) for name in FACT_COLUMNS} == indexed  # as the index had them
    verdict = stage.judge(date(2025, 7, 1), [year])[(agency, year)]
    assert verdict.flags == ["backdated"] and verdict.evidence["backdated"]["listing_capture_id"] == listing.id


def test_a_stopped_s3_server_changes_no_flag_and_a_backfill_waits_for_it(tmp_path):
    from storage.objects import RetryPolicy
    from tests.servers import SeaweedS3

    server = SeaweedS3()  # a private server: stopping it disturbs no other test
    try:
        server.start()
        config = Config.from_env(server.env("outage"), data_dir=tmp_path / "data")
        staged = open_stage(config)
        agency, year = BACKDATED
        listing = staged.fetch(1, column_path(agency), "2024-01-28 10:00", agency)
        staged.parse(staged.fetch(2, report_path(agency, year), "2025-06-21 09:00", agency), agency)
        staged.archive.close()  # every segment is in the S3 bucket now
        reader = open_reader(config, store=open_store(config, create_bucket=False, retry=RetryPolicy(attempts=1)))
        try:
            server.stop()
            [down] = [row for row in judge(reader.catalog, as_of=date(2025, 7, 1), years=[year],
                                           agency_ids=[agency]) if row.report_year == year]
            assert down.verdict.status == "undetermined" and down.flags == ("backdated",)
            assert down.undetermined_flags == ()

            forget_facts(reader.catalog, listing.id)
            stopped = backfill(reader.catalog, reader)
            assert stopped.captures == 0 and stopped.stopped  # the store is down: nothing marked unreadable
            server.restart()
            assert backfill(reader.catalog, reader).captures == 1
            [up] = [row for row in judge(reader.catalog, as_of=date(2025, 7, 1), years=[year],
                                         agency_ids=[agency]) if row.report_year == year]
            assert up.flags == ("backdated",) and up.evidence == down.evidence
        finally:
            reader.catalog.close()
            reader.store.close()
    finally:
        server.cleanup()
