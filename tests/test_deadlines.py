"""Legal deadlines from the rules table, user overrides, and verdicts that cite the article they applied."""
from __future__ import annotations

from datetime import date

import pytest

from monitor.deadlines import SHIPPED_RULES, NoRuleError, RuleError, load_rules, verdict
from parsers.record import DateEvidence


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def published(day: date, source: str = "meta_pubdate") -> DateEvidence:
    return DateEvidence(day, source, day.isoformat(), "PubDate" if source == "meta_pubdate" else None)


# ------------------------------------------------------------------ deadlines by year and level

@pytest.mark.parametrize("year, level, deadline, article", [
    (2017, "department", date(2018, 3, 31), "第三十一条"),
    (2018, "department", date(2019, 3, 31), "第三十一条"),   # published in 2019, still the 2008 rule
    (2018, "township", date(2019, 3, 31), "第三十一条"),
    (2022, "department", date(2023, 1, 31), "第四十九条第一款"),
    (2022, "government", date(2023, 3, 31), "第四十九条第二款"),
    (2019, "department", date(2020, 1, 31), "第四十九条第一款"),
    (2024, "township", date(2025, 1, 31), "省"),
])
def test_deadline_for_year_and_level(rules, year, level, deadline, article):
    found = rules.deadline_for(year, level)
    assert found.date == deadline
    assert article in found.rule.legal_basis


def test_every_shipped_rule_cites_its_source(rules):
    assert SHIPPED_RULES.is_file()
    assert rules.rules
    for rule in rules.rules:
        assert "条例" in rule.legal_basis or "省" in rule.legal_basis


def test_no_rule_before_the_2008_regulation(rules):
    with pytest.raises(NoRuleError):
        rules.deadline_for(2007, "department")


def test_unknown_level_after_2019_has_no_rule_but_before_2019_every_level_does(rules):
    assert rules.find(2022, None) is None
    assert rules.find(2017, None).date == date(2018, 3, 31)


# ------------------------------------------------------------------ verdicts

def test_published_on_the_deadline_day_is_on_time(rules):
    result = verdict(2022, "department", as_of=date(2023, 6, 1), publication=published(date(2023, 1, 31)), rules=rules)
    assert result.status == "on_time"
    assert result.deadline == date(2023, 1, 31)
    assert result.days_late == 0
    assert result.date_source == "meta_pubdate"
    assert "第四十九条第一款" in result.legal_basis and "第四十九条第一款" in result.reason


def test_one_day_after_the_deadline_is_late_by_one_day(rules):
    result = verdict(2022, "department", as_of=date(2023, 6, 1), publication=published(date(2023, 2, 1)), rules=rules)
    assert result.status == "late" and result.days_late == 1
    assert "1 天" in result.reason


def test_county_government_has_until_march(rules):
    result = verdict(2022, "government", as_of=date(2023, 6, 1), publication=published(date(2023, 2, 1)), rules=rules)
    assert result.status == "on_time" and result.deadline == date(2023, 3, 31)


def test_pending_then_missing_by_as_of(rules):
    before = verdict(2022, "department", as_of=date(2023, 1, 31), rules=rules)
    after = verdict(2022, "department", as_of=date(2023, 2, 1), rules=rules)
    assert (before.status, after.status) == ("pending", "missing")
    assert before.publication_date is None and after.deadline == date(2023, 1, 31)
    assert "1 天" in after.reason


def test_report_without_a_date_is_judged_by_first_seen(rules):
    early = verdict(2022, "department", as_of=date(2023, 6, 1), first_seen=date(2023, 1, 20), rules=rules)
    late = verdict(2022, "department", as_of=date(2023, 6, 1), first_seen=date(2023, 2, 20), rules=rules)
    assert early.status == "on_time" and early.date_source == "first_seen"
    assert "按首次抓取日期" in early.reason
    assert late.status == "undetermined" and late.days_late is None


def test_signing_date_is_not_accepted_as_publication(rules):
    signing = DateEvidence(date(2023, 1, 29), "signing", "2023年1月29日")
    result = verdict(2022, "department", as_of=date(2023, 6, 1), publication=signing, first_seen=date(2023, 3, 1),
                     rules=rules)
    assert result.status == "undetermined"
    assert "落款日期" in result.reason
    assert signing in result.evidence


def test_verdict_records_first_seen_and_all_evidence(rules):
    pub = published(date(2023, 1, 30))
    url = DateEvidence(date(2023, 1, 28), "url", "/t20230128_1", "TRS")
    result = verdict(2022, "department", as_of=date(2023, 6, 1), publication=pub, first_seen=date(2023, 1, 29),
                     evidence=[url], rules=rules)
    assert result.status == "on_time"
    assert result.first_seen == date(2023, 1, 29)
    assert result.evidence == [url, pub]
    assert "2023-01-29" in result.reason
    assert result.to_json()["deadline"] == "2023-01-31"


def test_no_rule_gives_undetermined_not_an_error(rules):
    result = verdict(2022, None, as_of=date(2023, 6, 1), publication=published(date(2023, 1, 5)), rules=rules)
    assert result.status == "undetermined" and result.deadline is None and result.reason


def test_default_rules_are_the_shipped_file():
    assert verdict(2017, "department", as_of=date(2018, 4, 1)).status == "missing"


# ------------------------------------------------------------------ overrides

USER_RULES = """
[[rule]]
id = "2019-township"
level = "township"
first_year = 2019
month = 3
day = 31
legal_basis = "某省政府信息公开规定 第十条"

[[rule]]
id = "linzi-health"
agency_id = "linzi-wsjkj"
level = "department"
first_year = 2022
last_year = 2022
month = 2
day = 15
legal_basis = "经批准延期至2月15日"
"""


def test_user_file_overrides_a_level_and_one_agency(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(USER_RULES, encoding="utf-8")
    rules = load_rules(path)
    township = rules.deadline_for(2022, "township")
    assert township.date == date(2023, 3, 31) and "某省" in township.rule.legal_basis
    assert len([r for r in rules.rules if r.id == "2019-township"]) == 1
    # the one agency gets its own date; every other department keeps the law's
    assert rules.deadline_for(2022, "department", agency_id="linzi-wsjkj").date == date(2023, 2, 15)
    assert rules.deadline_for(2022, "department", agency_id="other").date == date(2023, 1, 31)
    assert rules.deadline_for(2023, "department", agency_id="linzi-wsjkj").date == date(2024, 1, 31)
    result = verdict(2022, "department", as_of=date(2023, 6, 1), publication=published(date(2023, 2, 10)),
                     rules=rules, agency_id="linzi-wsjkj")
    assert result.status == "on_time" and result.rule_id == "linzi-health"
    assert "经批准延期" in result.reason


def test_overrides_dict_without_a_file():
    rules = load_rules(overrides={"rule": [{"id": "late-gov", "level": "government", "first_year": 2019,
                                            "month": 4, "day": 30, "legal_basis": "测试规则"}]})
    assert rules.deadline_for(2022, "government").date == date(2023, 4, 30)
    assert rules.deadline_for(2022, "department").date == date(2023, 1, 31)


def test_february_29_rule_in_a_common_year():
    rules = load_rules(overrides={"rule": [{"id": "leap", "level": "department", "first_year": 2019, "month": 2,
                                            "day": 29, "legal_basis": "测试规则"}]})
    assert rules.deadline_for(2022, "department").date == date(2023, 2, 28)
    assert rules.deadline_for(2023, "department").date == date(2024, 2, 29)


@pytest.mark.parametrize("content, words", [
    ("[[rule]]\nid = 'x'\nlevel = 'department'\nmonth = 1\nday = 31\n", "legal_basis"),
    ("[[rule]]\nid = 'x'\nlevel = 'county'\nmonth = 1\nday = 31\nlegal_basis = 'a'\n", "county"),
    ("[[rule]]\nid = 'x'\nlevel = 'department'\nmonth = 2\nday = 30\nlegal_basis = 'a'\n", "2 月 30 日"),
    ("[[rule]]\nid = 'x'\nlevel = 'department'\nmonth = 1\nday = 31\nlegal_basis = 'a'\nmonht = 2\n", "monht"),
    ("[[rule]]\nid = 'x'\nlevel = 'department'\nmonth = '1'\nday = 31\nlegal_basis = 'a'\n", "month"),
    ("[[rule]]\nid = 'x'\nlevel = '*'\nfirst_year = 2020\nlast_year = 2019\nmonth = 1\nday = 31\nlegal_basis = 'a'\n",
     "first_year"),
    ("[rules]\nid = 'x'\n", "rules"),
    ("[[rule]\nid = ", "TOML"),
])
def test_bad_user_file_is_a_clear_error(tmp_path, content, words):
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RuleError) as error:
        load_rules(path)
    assert str(path) in str(error.value) and words in str(error.value)


def test_missing_user_file_is_a_clear_error(tmp_path):
    with pytest.raises(RuleError, match="不存在"):
        load_rules(tmp_path / "nowhere.toml")


def test_a_date_after_the_archive_already_held_the_report_is_not_its_publication(rules):
    """Due 2023-01-31; the report's page names 2023-02-20 (re-dated on an edit, say)."""
    named = DateEvidence(date(2023, 2, 20), "page_label", "2023-02-20", "发布日期")
    before = verdict(2022, "department", as_of=date(2023, 6, 1), publication=named, held_since=date(2023, 1, 25),
                     first_seen=date(2023, 1, 25), rules=rules)
    between = verdict(2022, "department", as_of=date(2023, 6, 1), publication=named, held_since=date(2023, 2, 10),
                      first_seen=date(2023, 2, 10), rules=rules)
    same_day = verdict(2022, "department", as_of=date(2023, 6, 1), publication=named, held_since=date(2023, 2, 20),
                       first_seen=date(2023, 2, 20), rules=rules)
    assert (before.status, before.days_late, before.date_source, before.publication_date) == \
        ("on_time", 0, "first_seen", date(2023, 1, 25))
    assert "2023-01-25" in before.reason and "不是发布日期" in before.reason
    assert (between.status, between.days_late) == ("undetermined", None)
    assert "2023-02-10" in between.reason and "无法判断" in between.reason
    assert (same_day.status, same_day.days_late) == ("late", 20)   # the archive does not contradict it


def test_an_on_time_date_stands_whatever_day_the_archive_first_held_the_report(rules):
    result = verdict(2022, "department", as_of=date(2023, 6, 1), publication=published(date(2023, 1, 20)),
                     held_since=date(2023, 1, 10), rules=rules)
    assert (result.status, result.publication_date, result.date_source) == ("on_time", date(2023, 1, 20), "meta_pubdate")


@pytest.mark.parametrize("source, label", [
    ("http_last_modified", "Last-Modified"), ("pdf_metadata", "ModDate"), ("pdf_metadata", "CreationDate"),
    ("docx_metadata", "modified"),
])
def test_a_late_date_a_file_or_its_server_keeps_proves_nothing_late(rules, source, label):
    """Due 2023-01-31, first held 2023-03-01, the report's only date 2023-02-20: a report published in time whose file
    was touched, re-exported or re-uploaded since (a corrected PDF, a site re-published) shows the same date."""
    named = DateEvidence(date(2023, 2, 20), source, "2023-02-20", label)
    result = verdict(2022, "department", as_of=date(2023, 6, 1), publication=named, first_seen=date(2023, 3, 1),
                     held_since=date(2023, 3, 1), rules=rules)
    assert (result.status, result.days_late) == ("undetermined", None)
    assert "不是机关标明的发布日期" in result.reason and "无法判断" in result.reason


@pytest.mark.parametrize("source, label", [
    ("http_last_modified", "Last-Modified"), ("pdf_metadata", "ModDate"), ("pdf_metadata", "CreationDate"),
    ("docx_metadata", "modified"),
])
def test_an_early_date_a_file_or_its_server_keeps_proves_nothing_on_time_either(rules, source, label):
    """Due 2023-01-31, the report's only date 2023-01-20 is its file's: a file made in time and posted late shows the
    same. Only the archive holding it by the deadline proves 按时; held from 2023-03-01 on, the year is 无法判断."""
    early = DateEvidence(date(2023, 1, 20), source, "2023-01-20", label)
    posted_late = verdict(2022, "department", as_of=date(2023, 6, 1), publication=early, first_seen=date(2023, 3, 1),
                          held_since=date(2023, 3, 1), rules=rules)
    assert (posted_late.status, posted_late.days_late) == ("undetermined", None), posted_late.reason
    assert "不是机关标明的发布日期" in posted_late.reason and "2023-03-01" in posted_late.reason
    held_in_time = verdict(2022, "department", as_of=date(2023, 6, 1), publication=early, first_seen=date(2023, 1, 25),
                           held_since=date(2023, 1, 25), rules=rules)
    assert (held_in_time.status, held_in_time.days_late) == ("on_time", 0), held_in_time.reason


# ------------------------------------------------------------------ dates the report's own dates refute

def test_a_date_before_the_report_year_ended_is_refuted_and_the_listing_date_decides(rules):
    """The 2024 report's page says 2024-03-01 (the year not over: impossible); the listing says 2025-01-20."""
    page = DateEvidence(date(2024, 3, 1), "page_label", "2024-03-01", "发布时间")
    listing = DateEvidence(date(2025, 1, 20), "listing", "2025-01-20")
    result = verdict(2024, "department", as_of=date(2025, 6, 1), publication=page, evidence=[page, listing],
                     first_seen=date(2025, 5, 1), held_since=date(2025, 5, 1), rules=rules)
    assert (result.status, result.publication_date, result.date_source) == ("on_time", date(2025, 1, 20), "listing")
    assert "2024 年尚未结束" in result.reason and "2025-01-20" in result.reason
    alone = verdict(2024, "department", as_of=date(2025, 6, 1), publication=page, evidence=[page],
                    first_seen=date(2025, 5, 1), held_since=date(2025, 5, 1), rules=rules)
    assert (alone.status, alone.days_late) == ("undetermined", None), alone.reason
    assert "2024 年尚未结束" in alone.reason and "无法判断" in alone.reason
    held = verdict(2024, "department", as_of=date(2025, 6, 1), publication=page, evidence=[page],
                   first_seen=date(2025, 1, 10), held_since=date(2025, 1, 10), rules=rules)
    assert (held.status, held.publication_date, held.date_source) == ("on_time", date(2025, 1, 10), "first_seen")


def test_a_publication_date_before_a_signature_after_the_deadline_does_not_clear_the_report(rules):
    """Page 2025-01-20, in time; the report's 落款 2025-02-15, after the 2025-01-31 deadline: it cannot have been
    published before it was signed."""
    page = DateEvidence(date(2025, 1, 20), "page_label", "2025-01-20", "发布时间")
    signing = DateEvidence(date(2025, 2, 15), "signing", "2025年2月15日")
    result = verdict(2024, "department", as_of=date(2025, 6, 1), publication=page, evidence=[page, signing],
                     first_seen=date(2025, 5, 1), held_since=date(2025, 5, 1), rules=rules)
    assert (result.status, result.days_late) == ("undetermined", None), result.reason
    assert "落款日期是 2025-02-15" in result.reason and "矛盾" in result.reason
    # signed in time, a few days after the page's date: both the agency's own dates are in time
    early = DateEvidence(date(2025, 1, 25), "signing", "2025年1月25日")
    fine = verdict(2024, "department", as_of=date(2025, 6, 1), publication=page, evidence=[page, early],
                   first_seen=date(2025, 5, 1), held_since=date(2025, 5, 1), rules=rules)
    assert fine.status == "on_time", fine.reason


def test_a_future_typo_refuted_by_the_archive_falls_back_to_the_listing_date(rules):
    """The 2025 report's page says 2027-01-05 (a typo); the archive held it on 2026-12-02; the listing says
    2026-01-05: the listing's date decides, not the archive's late sighting."""
    page = DateEvidence(date(2027, 1, 5), "page_label", "2027-01-05", "发布时间")
    listing = DateEvidence(date(2026, 1, 5), "listing", "2026-01-05")
    result = verdict(2025, "department", as_of=date(2026, 12, 2), publication=page, evidence=[page, listing],
                     first_seen=date(2026, 12, 2), held_since=date(2026, 12, 2), rules=rules)
    assert (result.status, result.publication_date, result.date_source) == ("on_time", date(2026, 1, 5), "listing")
    assert "2027-01-05" in result.reason and "不是发布日期" in result.reason


def test_the_agencys_own_dates_on_both_sides_of_the_deadline_prove_nothing_late(rules):
    """Page 2025-02-10 (after the 2025-01-31 deadline), listing 2025-01-20: a page re-dated when edited shows the
    same; 逾期 would rest on one of two dates the agency printed. The other way round, 按时 stands, the listing's
    later date said beside it."""
    page = DateEvidence(date(2025, 2, 10), "page_label", "2025-02-10", "发布时间")
    listing = DateEvidence(date(2025, 1, 20), "listing", "2025-01-20")
    result = verdict(2024, "department", as_of=date(2025, 6, 1), publication=page, evidence=[page, listing],
                     first_seen=date(2025, 5, 1), rules=rules)
    assert (result.status, result.days_late) == ("undetermined", None), result.reason
    assert "2025-02-10" in result.reason and "2025-01-20" in result.reason and "矛盾" in result.reason
    early = DateEvidence(date(2025, 1, 20), "page_label", "2025-01-20", "发布时间")
    later = DateEvidence(date(2025, 2, 15), "listing", "2025-02-15")
    fine = verdict(2024, "department", as_of=date(2025, 6, 1), publication=early, evidence=[early, later],
                   first_seen=date(2025, 5, 1), rules=rules)
    assert fine.status == "on_time" and "2025-02-15" in fine.reason and "不一致" in fine.reason, fine.reason
    # a file's time on the other side is no date the agency gave: the page's late date stands
    modified = DateEvidence(date(2025, 1, 10), "pdf_metadata", "D:20250110", "CreationDate")
    late = verdict(2024, "department", as_of=date(2025, 6, 1), publication=page, evidence=[page, modified],
                   first_seen=date(2025, 5, 1), rules=rules)
    assert (late.status, late.days_late) == ("late", 10), late.reason
