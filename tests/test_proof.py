"""monitor.proof: a verdict that accuses an agency rests on what the archive read, or it is undetermined."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pytest

from monitor.proof import archive_bound, missing_proof
from parsers.beijing import BEIJING

DEADLINE = date(2025, 1, 31)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


@dataclass
class Row:
    read_at: datetime
    items_read: int = 0
    earliest_item: date | None = None
    complete: bool = False
    problem: str | None = None
    detail: str | None = None
    id: int = 1
    column_url: str | None = "http://x.gov.cn/nb/"
    found_by: str | None = "registry"
    capture_id: int | None = 7
    pages_walked: int = 1
    rendered: bool = False
    dated_items: int = 0
    latest_item: date | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    report_items: int | None = None
    report_years: list[int] | None = None


def test_a_column_read_after_the_deadline_reaching_back_before_it_proves_missing():
    proof = missing_proof([Row(at("2025-02-10 09:00"), items_read=20, earliest_item=date(2023, 5, 1))],
                          year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert proof.proven and proof.coverage["coverage_id"] == 1 and "2023-05-01" in proof.reason


def test_a_complete_undated_column_listing_an_earlier_report_proves_missing():
    """Read to its last page, its items undated, a column that lists the 2022 report stood there when the 2024
    report was due: the 2024 report is not in it."""
    proof = missing_proof([Row(at("2025-02-10 09:00"), items_read=3, complete=True)], year=2024, deadline=DEADLINE,
                          as_of=date(2025, 3, 1), listed_years=[2022, 2023])
    assert proof.proven and "最后一页" in proof.reason and "2022 年度" in proof.reason


@pytest.mark.parametrize("listed", [(), (2024,), (2024, 2025)])
def test_a_complete_undated_column_without_an_earlier_report_proves_nothing(listed):
    """Undated items give no reach: a column listing no report older than the year may have begun after its
    deadline (a portal rebuilt in 2025), so its last page says nothing of 2024."""
    proof = missing_proof([Row(at("2025-02-10 09:00"), items_read=3, complete=True)], year=2024, deadline=DEADLINE,
                          as_of=date(2025, 3, 1), listed_years=listed)
    assert not proof.proven and proof.problem == "not_far_enough", proof.reason
    assert proof.reason.startswith("无法判断") and "条目没有日期" in proof.reason and "更早年度" in proof.reason
    assert "最早的条目是" not in proof.reason   # it has none: said in words, not "最早的条目是 （条目没有日期）"


def test_an_undated_column_reaches_back_only_by_the_reports_it_lists_itself():
    """A new column (begun 2024, its items undated) lists the 2023 and 2024 reports; an old column of the agency,
    archived years ago, listed 2020 and 2021. The old listing says nothing of when the new column began."""
    new = Row(at("2025-03-01 09:00"), items_read=2, complete=True, report_items=2, report_years=[2023, 2024])
    proof = missing_proof([new], year=2022, deadline=date(2023, 1, 31), as_of=date(2025, 7, 1),
                          listed_years=[2020, 2021, 2023, 2024])
    assert not proof.proven and proof.problem == "not_far_enough", proof.reason
    listing_2021 = Row(at("2025-03-01 09:00"), items_read=3, complete=True, report_items=3,
                       report_years=[2021, 2023, 2024])
    assert missing_proof([listing_2021], year=2022, deadline=date(2023, 1, 31), as_of=date(2025, 7, 1),
                         listed_years=[2020]).proven


def test_a_read_listing_no_annual_report_is_no_proof_whatever_its_dates():
    """A column address answered with the homepage (200, no redirect): news back to 2018, not one report."""
    news = Row(at("2025-02-10 09:00"), items_read=9, earliest_item=date(2018, 5, 10), dated_items=9,
               report_items=0, report_years=[])
    proof = missing_proof([news], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert not proof.proven and proof.problem == "no_reports"
    assert "没有一个条目的标题是政府信息公开工作年度报告" in proof.reason and proof.coverage["report_items"] == 0
    column = Row(at("2025-02-11 09:00"), items_read=9, earliest_item=date(2018, 5, 10), report_items=1,
                 report_years=[2023], id=2)
    both = missing_proof([news, column], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert both.proven and both.coverage["coverage_id"] == 2
    # a row written before the crawler counted report entries is judged as it was
    legacy = Row(at("2025-02-10 09:00"), items_read=9, earliest_item=date(2018, 5, 10))
    assert missing_proof([legacy], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1)).proven


def test_a_complete_column_that_starts_after_the_deadline_does_not_prove_an_old_year_missing():
    """Read to its last page in 2025, a column whose oldest item is of 2021 was begun, moved or pruned since: it
    says nothing of a 2008 report, nor of a year whose deadline came before its first item."""
    row = Row(at("2025-02-10 09:00"), items_read=12, complete=True, earliest_item=date(2021, 9, 30), dated_items=12)
    old = missing_proof([row], year=2008, deadline=date(2009, 3, 31), as_of=date(2025, 3, 1))
    assert not old.proven and old.problem == "not_far_enough"
    assert "2021-09-30" in old.reason and "已读到栏目最后一页" in old.reason and old.reason.startswith("无法判断")
    recent = missing_proof([row], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert recent.proven and "列表回溯到 2021-09-30" in recent.reason


@pytest.mark.parametrize("rows, problem", [
    ([], "never_read"),
    ([Row(at("2025-01-20 09:00"), items_read=20, earliest_item=date(2020, 1, 1))], "not_after_deadline"),
    # read at 23:00 on the deadline day is still "on the deadline", not after it
    ([Row(at("2025-01-31 23:00"), items_read=20, earliest_item=date(2020, 1, 1))], "not_after_deadline"),
    ([Row(at("2025-02-10 09:00"), items_read=20, earliest_item=date(2025, 2, 3))], "not_far_enough"),
    ([Row(at("2025-02-10 09:00"), problem="empty", detail="0 个条目")], "empty"),
    ([Row(at("2025-02-10 09:00"), problem="robots")], "robots"),
    ([Row(at("2025-02-10 09:00"), problem="unreadable", detail="HTTP 403")], "unreadable"),
    ([Row(at("2025-02-10 09:00"), problem="script_error", detail="ReferenceError: load is not defined")],
     "script_error"),
    ([Row(at("2025-02-10 09:00"), column_url=None, problem="not_found")], "not_found"),
    # page 1 read, page 2 answered 500: the items stop short of the deadline because the walk stopped
    ([Row(at("2025-02-10 09:00"), items_read=10, earliest_item=date(2025, 2, 3), pages_walked=1,
          errors=[{"url": "http://x.gov.cn/nb/index_2.html", "kind": "http",
                   "message": "HTTP 500 Internal Server Error"}])], "fetch_errors"),
])
def test_without_proof_missing_is_undetermined_with_the_reason(rows, problem):
    proof = missing_proof(rows, year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert not proof.proven and proof.problem == problem and proof.reason.startswith("无法判断")
    if rows:
        assert proof.coverage is not None and proof.coverage["column_url"] == rows[0].column_url


def test_a_walk_stopped_by_failed_pages_names_them_in_the_reason():
    errors = [{"url": "http://x.gov.cn/nb/index_2.html", "kind": "http", "message": "HTTP 500 Internal Server Error"},
              {"url": "http://x.gov.cn/nb/index_3.html", "kind": "timeout", "message": "timed out"}]
    proof = missing_proof([Row(at("2025-02-10 09:00"), items_read=10, earliest_item=date(2025, 2, 3),
                               errors=errors)], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert not proof.proven and proof.problem == "fetch_errors"
    assert "列表页抓取出错" in proof.reason and "2 个列表页抓取失败" in proof.reason
    assert "http://x.gov.cn/nb/index_2.html（HTTP 500 Internal Server Error）" in proof.reason
    assert proof.coverage["errors"] == errors


def test_a_failed_listing_page_proves_nothing_even_when_later_pages_reach_back():
    """The pager named pages 1–4; page 2 answered 500; pages 3 and 4 reach back to 2020: the year's report may be
    on page 2, so the read proves nothing and the reason names the failed page."""
    failed = [{"url": "http://x.gov.cn/nb/index_1.html", "kind": "http", "message": "HTTP 500"}]
    gap = Row(at("2025-02-10 09:00"), items_read=5, pages_walked=3, earliest_item=date(2020, 1, 20), errors=failed)
    proof = missing_proof([gap], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert not proof.proven and proof.problem == "fetch_errors", proof.reason
    assert "http://x.gov.cn/nb/index_1.html（HTTP 500）" in proof.reason
    # … while a later read of the whole column, no page failing, does prove it
    whole = Row(at("2025-02-20 09:00"), items_read=7, pages_walked=4, earliest_item=date(2020, 1, 20), id=2)
    assert missing_proof([gap, whole], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1)).proven
    # items stopping short without any failed page: the listing itself ends there
    short = Row(at("2025-02-10 09:00"), items_read=4, earliest_item=date(2025, 2, 3))
    assert missing_proof([short], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1)).problem == "not_far_enough"


def test_a_read_after_as_of_does_not_count():
    rows = [Row(at("2025-04-01 09:00"), items_read=20, earliest_item=date(2020, 1, 1))]
    assert missing_proof(rows, year=2024, deadline=DEADLINE, as_of=date(2025, 4, 1)).proven
    assert missing_proof(rows, year=2024, deadline=DEADLINE, as_of=date(2025, 3, 31)).problem == "never_read"


def test_one_good_read_outweighs_failed_ones():
    rows = [Row(at("2025-02-02 09:00"), problem="unreadable", id=1),
            Row(at("2025-02-09 09:00"), items_read=9, earliest_item=date(2024, 1, 1), id=2)]
    proof = missing_proof(rows, year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert proof.proven and proof.coverage["coverage_id"] == 2


def test_back_dated_report_is_judged_by_the_archive_not_by_its_claim():
    evidence = {"listing_captured_at": "2025-02-05T09:00:00+08:00", "last_absent_at": "2025-03-10T09:00:00+08:00"}
    late = archive_bound(claimed=date(2025, 1, 26), deadline=DEADLINE, backdated=evidence,
                         first_seen=at("2025-03-20 09:00"))
    assert (late.status, late.days_late) == ("late", 38)
    assert "2025-01-26" in late.reason and "2025-03-20" in late.reason and "至少 38 天" in late.reason

    unsure = archive_bound(claimed=date(2025, 1, 10), deadline=DEADLINE,
                           backdated={"listing_captured_at": "2025-01-20T09:00:00+08:00"},
                           first_seen=at("2025-03-20 09:00"))
    assert unsure.status == "undetermined" and "2025-01-20" in unsure.reason

    in_time = archive_bound(claimed=date(2025, 1, 5), deadline=DEADLINE,
                            backdated={"listing_captured_at": "2025-01-20T09:00:00+08:00"},
                            first_seen=at("2025-01-30 09:00"))
    assert in_time.status == "on_time"


# a column left behind by a site's move: its newest entry is the 2020 report, listed in January 2021
FROZEN = dict(items_read=5, complete=True, earliest_item=date(2019, 1, 18), latest_item=date(2021, 1, 22),
              dated_items=5, report_items=3, report_years=[2018, 2019, 2020])


def test_a_column_without_a_new_entry_for_over_a_year_does_not_prove_a_later_year_missing():
    """Sites that move to a new platform often leave the old report column in place, read fine and frozen: its
    newest entry the 2020 report, listed in January 2021. Read in 2025, it says nothing of the 2024 report, which
    the agency may have published in its new column; nor of 2022, the year after the first it lacks."""
    proof = missing_proof([Row(at("2025-02-10 09:00"), **FROZEN)], year=2024, deadline=DEADLINE,
                          as_of=date(2025, 3, 1))
    assert not proof.proven and proof.problem == "stale", proof.reason
    assert proof.reason.startswith("无法判断") and "2021-01-22" in proof.reason and "2020 年度" in proof.reason
    assert proof.coverage["latest_item"] == "2021-01-22"
    assert missing_proof([Row(at("2025-02-10 09:00"), **FROZEN)], year=2022, deadline=date(2023, 1, 31),
                         as_of=date(2025, 3, 1)).problem == "stale"


def test_the_first_year_a_kept_column_lacks_is_still_proven_missing():
    """The same column received the 2020 report in January 2021: it was kept when the 2021 report fell due, and the
    2021 report is not in it."""
    proof = missing_proof([Row(at("2025-02-10 09:00"), **FROZEN)], year=2021, deadline=date(2022, 1, 31),
                          as_of=date(2025, 3, 1))
    assert proof.proven, proof.reason


@pytest.mark.parametrize("kept", [
    dict(latest_item=date(2024, 6, 3)),                          # some entry added in the year itself
    dict(latest_item=None, dated_items=0, earliest_item=None, report_years=[2018, 2019, 2020, 2023]),
])
def test_a_column_that_gained_an_entry_since_is_kept(kept):
    """An entry listed in 2024, or the 2023 report (listed in 2024) with the entries undated: the column was kept
    when the 2024 report fell due."""
    row = Row(at("2025-02-10 09:00"), **{**FROZEN, **kept})
    assert missing_proof([row], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1)).proven


def test_an_undated_column_whose_newest_report_is_years_old_is_stale():
    row = Row(at("2025-02-10 09:00"), items_read=2, complete=True, report_items=2, report_years=[2019, 2020])
    proof = missing_proof([row], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert not proof.proven and proof.problem == "stale" and "2020 年度" in proof.reason, proof.reason
    assert "条目没有日期" in proof.reason


def test_the_new_column_proves_what_the_frozen_one_cannot():
    frozen = Row(at("2025-02-10 09:00"), **FROZEN)
    new = Row(at("2025-02-10 09:05"), items_read=6, earliest_item=date(2022, 1, 20), latest_item=date(2024, 1, 25),
              report_items=3, report_years=[2021, 2022, 2023], id=2, column_url="http://x.gov.cn/zfxxgk/nb/")
    proof = missing_proof([frozen, new], year=2024, deadline=DEADLINE, as_of=date(2025, 3, 1))
    assert proof.proven and proof.coverage["coverage_id"] == 2
