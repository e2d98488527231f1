"""parsers.consistency: the 勾稽 rules on real tables, body-text figures against the tables, the 2019/2021 template."""
from __future__ import annotations

import re
from pathlib import Path

import pdfplumber
import pytest

from parsers.consistency import check_tables, check_template, check_text_against_tables
from parsers.tables import TABLE3_ROWS_2019, tables_from_text

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "demo" / "seeds"
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
SECTIONS = ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
            "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]


def seed(number: str) -> str:
    return (SEEDS / f"seed{number}.txt").read_text(encoding="utf-8")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def broken(text: str) -> list[tuple[str, str, object, object]]:
    return [(e.rule, e.where, e.expected, e.found) for e in check_tables(tables_from_text(text))]


# ------------------------------------------------------------------ 勾稽 rules

def test_seed001_keeps_every_rule():
    text = seed("001")
    tables = tables_from_text(text)
    assert check_tables(tables) == []
    assert check_text_against_tables(text, tables) == []


def test_disclosed_figure_changed_breaks_its_column_and_row():
    """予以公开/自然人 2 -> 3: the 自然人 column no longer sums to its (七)总计 (3 vs 2), nor the 予以公开 row to its
    总计 (3 vs 2). The balance 一+二 = 三(七)+四 only uses totals, so it still holds."""
    text = replace_once(seed("001"), "\t（一）予以公开\n\t2\n", "\t（一）予以公开\n\t3\n")
    assert broken(text) == [("t3.col.total", "表三 自然人列", 3, 2), ("t3.row.total", "表三 予以公开行", 3, 2)]


def test_new_applications_changed_breaks_the_balance_and_its_row():
    """本年新收/自然人 2 -> 5: 5 + 0 ≠ 2 + 0 in the 自然人 column; the row now sums to 5, not its 总计 2."""
    text = replace_once(seed("001"), "申请数量\n\t2\n", "申请数量\n\t5\n")
    assert broken(text) == [("t3.col.balance", "表三 自然人列", 5, 2), ("t3.row.total", "表三 本年新收行", 5, 2)]


def test_carried_over_total_changed():
    """结转下年度/总计 0 -> 1: the 总计 column balance (2 + 0 vs 2 + 1) and that row (0 vs 1) break."""
    text = seed("001")
    block = re.search(r"\t四、结转下年度继续办理\n(?:\t0\n){6}\t0\n", text)
    assert block
    changed = text[:block.end() - 2] + "1\n" + text[block.end():]
    errors = check_tables(tables_from_text(changed))
    assert [(e.rule, e.where, e.expected, e.found) for e in errors] == [
        ("t3.col.balance", "表三 总计列", 2, 3), ("t3.row.total", "表三 结转下年度继续办理行", 0, 1)]
    assert all(e.message and "表三" in e.message for e in errors)


def test_table4_group_total():
    """行政复议 总计 0 -> 1 in seed 001: only that group breaks."""
    text = seed("001")
    block = re.search(r"(?:\t0\n){15}", text[text.index("四、政府信息公开行政复议"):])
    assert block
    start = text.index("四、政府信息公开行政复议") + block.start()
    values = ["0"] * 15
    values[4] = "1"
    changed = text[:start] + "".join(f"\t{v}\n" for v in values) + text[start + len(block.group(0)):]
    assert broken(changed) == [("t4.group.total", "表四 行政复议", 0, 1)]


def test_real_report_with_wrong_table4_totals():
    """hzq2023 prints 行政复议 10 维持 + 1 纠正 with 总计 0, and 复议后起诉 5 维持 with 总计 0."""
    with pdfplumber.open(CORPUS / "hzq2023_working.pdf") as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    errors = check_tables(tables_from_text(text))
    assert [(e.rule, e.where, e.expected, e.found) for e in errors] == [
        ("t4.group.total", "表四 行政复议", 11, 0), ("t4.group.total", "表四 复议后起诉", 5, 0)]


def test_missing_cells_skip_their_rules_only():
    tables = tables_from_text(seed("001"))
    rows = tables["table3"]["rows"]
    rows["予以公开"]["自然人"] = None      # 自然人 column total and 予以公开 row total cannot be judged
    rows["本年新收"]["总计"] = 99          # still judged: the 本年新收 row and the 总计 column balance
    assert [(e.rule, e.where) for e in check_tables(tables)] == [
        ("t3.col.balance", "表三 总计列"), ("t3.row.total", "表三 本年新收行")]
    del rows["部分公开"]                  # a missing row is a missing input too
    rows["总计"]["商业企业"] = 7
    assert ("t3.col.total", "表三 商业企业列") not in [(e.rule, e.where) for e in check_tables(tables)]


def _table3_2019(other: int) -> dict:
    names = TABLE3_ROWS_2019
    zero = dict.fromkeys(["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"], 0)
    rows = {name: dict(zero) for name in names}
    rows["本年新收"].update(自然人=4, 总计=4)
    rows["予以公开"].update(自然人=3, 总计=3)
    rows["其他处理"].update(自然人=other, 总计=other)
    rows["总计"].update(自然人=4, 总计=4)
    assert len(rows) == 23 and "其他处理" in rows
    return {"table3": {"columns": list(zero), "rows": rows}}


def test_2019_layout_counts_its_single_other_row():
    assert check_tables(_table3_2019(other=1)) == []
    assert [(e.rule, e.where, e.expected, e.found) for e in check_tables(_table3_2019(other=2))] == [
        ("t3.col.total", "表三 自然人列", 5, 4), ("t3.col.total", "表三 总计列", 5, 4)]


@pytest.mark.parametrize("tables", [{}, {"table3": "x"}, {"table3": {"rows": {"总计": "x"}}},
                                    {"table4": {"行政复议": {"结果维持": "1", "总计": 2}}}, None])
def test_malformed_tables_are_not_judged(tables):
    assert check_tables(tables) == []  # type: ignore[arg-type]


# ------------------------------------------------------------------ body text against the tables

def test_body_text_contradicting_table3():
    text = replace_once(seed("001"), "共收到2条依申请公开政府信息", "共收到5条依申请公开政府信息")
    errors = check_text_against_tables(text, tables_from_text(text))
    assert [(e.rule, e.expected, e.found) for e in errors] == [("text.vs.table", 2, 5)]
    assert "本年新收" in errors[0].where and "5" in errors[0].message


def test_body_text_figures_for_review_and_lawsuits():
    text = seed("001")
    tables = tables_from_text(text)
    tables["table4"]["复议后起诉"]["总计"] = 1
    claim = text + "\n本年度发生政府信息公开行政复议 2 件，行政诉讼1件。"
    errors = check_text_against_tables(claim, tables)
    assert [(e.where, e.expected, e.found) for e in errors] == [("正文 vs 表四 行政复议 总计", 0, 2)]


def test_old_statistics_against_body_text():
    text = seed("003")
    assert check_text_against_tables(text, tables_from_text(text)) == []
    assert text.count("主动公开政府信息566条") == 2
    changed = text.replace("主动公开政府信息566条", "主动公开政府信息600条")
    errors = check_text_against_tables(changed, tables_from_text(changed))
    assert [(e.rule, e.expected, e.found) for e in errors] == [("text.vs.table", 566, 600)]


def test_a_figure_that_agrees_somewhere_is_not_a_contradiction():
    text = seed("001") + "\n其中，收到政府信息公开申请2件。"
    text = replace_once(text, "共收到2条依申请公开政府信息", "共收到3条依申请公开政府信息")
    assert check_text_against_tables(text, tables_from_text(seed("001"))) == []


def _table3(new: int, carried: int = 0) -> dict:
    return {"table3": {"rows": {"本年新收": {"总计": new}, "上年结转": {"总计": carried}}}}


def _table4(review: int, lawsuits: int) -> dict:
    return {"table4": {"行政复议": {"总计": review}, "未经复议直接起诉": {"总计": lawsuits}, "复议后起诉": {"总计": 0}}}


# Real sentences whose figure is not the quantity the table holds: comparing them accused the agency falsely.
@pytest.mark.parametrize("sentence, tables", [
    # one office's part: 上海市政府办公厅 2019 report (walkF r02), 洪泽区 2024 report (tests/fixtures/corpus/hzq2024)
    ("市政府办公厅代表市政府共受理政府信息公开申请859件，申请数量较去年回落12.3%；", _table3(900)),
    ("2024 年，区政府办代表区政府受理政府\n信息公开申请 17 件，均已在法定期限内予以答复。", _table3(95)),
    # half a year: www.shpt.gov.cn/shpt/tjsj-tjsjzhzwqfbzfwj2021/20220725/847939.html (pages corpus)
    ("2022年上半年，全区各行政机关共受理政府信息公开申请267件，答复263件。", _table3(540)),
    # the agency's review work in general, not disclosure cases (walkF e2, a 法治政府建设 paragraph)
    ("（五）法治政府建设。全年办理行政复议案件1236件，应诉行政诉讼案件320件。", _table4(790, 212)),
    # running totals: walkF p22; realworld r027 (www.mhk… 兴华乡 2010)
    ("2018年全年新增公开信息566条，截至2018年底累计主动公开政府信息4321条。", {"old_stats": {"主动公开政府信息数": 566}}),
    ("截止20101231日，全乡累计主动公开政府信息65条。", {"old_stats": {"主动公开政府信息数": 20}}),
    # one channel's count: realworld r147 (温岭市文广旅体局 2024)
    ("2024年度，通过“温岭文旅”微信公众号等新媒体发布信息数734条。在局官方网站主动公开信息126条。",
     {"old_stats": {"主动公开政府信息数": 150}}),
])
def test_figures_qualified_as_another_quantity_are_not_compared(sentence, tables):
    assert check_text_against_tables(sentence, tables) == []


def test_total_including_carried_over_applications():
    """"14629件（含上年结转560件）" is 新收 14069 + 结转 560 (walkF e2): consistent; 14630 is not."""
    sentence = "2025年，本机关共收到政府信息公开申请{}件（含上年结转560件），均在法定期限内答复。"
    assert check_text_against_tables(sentence.format(14629), _table3(14069, 560)) == []
    errors = check_text_against_tables(sentence.format(14630), _table3(14069, 560))
    assert [(e.expected, e.found) for e in errors] == [(14069, 14630)] and "14629" in errors[0].message
    unknown_carried = {"table3": {"rows": {"本年新收": {"总计": 14069}}}}
    assert check_text_against_tables(sentence.format(14630), unknown_carried) == []  # the total cannot be judged


def test_real_report_whose_office_figure_is_not_the_district_table():
    """hzq2024: 区政府办代表区政府受理…17件 while table 3 counts the whole district, 95."""
    with pdfplumber.open(CORPUS / "hzq2024_working.pdf") as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    assert check_text_against_tables(text, tables_from_text(text)) == []


@pytest.mark.parametrize("sentence, tables, expected, found", [
    # js.changchun.gov.cn/zcbm/styjrswj/ndbg/202401/t20240115_3271106.html: its own table 3 says 本年新收 3
    ("本年度，共受理政府信息公开申请2件，都在法定期限内予以答复。", _table3(3), 3, 2),
    # www.lishui.gov.cn/art/2025/3/7/art_1229850027_100030.html (figures of table 4 changed)
    ("全年因政府信息公开申请引起的行政复议93件，行政诉讼19件。", _table4(90, 19), 90, 93),
    # realworld r015 (桃江县松木塘镇 2022): the lawsuit figure follows the review one in the same list
    ("因政府信息依申请公开引起行政复议0件，行政诉讼0件", _table4(0, 2), 2, 0),
    # realworld r080 (全年累计 is the year's count) and the pages corpus m.pinggu.org/bbs/thread-15273420-1-1.html
    ("全年累计主动公开政府信息246条，涉及卫生健康工作领域的政策信息。", {"old_stats": {"主动公开政府信息数": 240}}, 240, 246),
    ("本区到年底累计主动公开政府信息5928条，全文电子化率达90.3%，其中，本年度新增主动公开政府信息2110条。",
     {"old_stats": {"主动公开政府信息数": 2100}}, 2100, 2110),
])
def test_real_sentences_stating_the_tables_quantity_are_still_compared(sentence, tables, expected, found):
    assert [(e.expected, e.found) for e in check_text_against_tables(sentence, tables)] == [(expected, found)]


def test_no_tables_no_text_checks():
    assert check_text_against_tables("收到政府信息公开申请3件。行政复议1件。", {}) == []


# ------------------------------------------------------------------ template

def test_template_of_seed001():
    check = check_template(seed("001"), "2021")
    assert check.sections_present == SECTIONS and check.sections_missing == []
    assert check.has_statistics_period
    assert check.cites_format_notice == "国办公开办函〔2021〕30号"


def test_template_missing_a_section():
    text = replace_once(seed("001"), "五、存在的主要问题及改进情况\n", "")
    check = check_template(text, "2021")
    assert check.sections_missing == ["五、存在的主要问题及改进情况"]
    assert len(check.sections_present) == 5


def test_preamble_listing_the_sections_is_not_the_sections():
    preamble = seed("001").splitlines()[3]
    assert "总体情况、主动公开政府信息情况" in preamble
    check = check_template(preamble, "2021")
    assert check.sections_present == [] and check.sections_missing == SECTIONS
    assert check.has_statistics_period
    # a paragraph that merely starts with a section's words is running text, not the heading
    paragraph = "总体情况良好，" + "区卫健局认真贯彻《中华人民共和国政府信息公开条例》，不断完善制度建设。" * 2
    assert check_template(paragraph, "2021").sections_present == []


# Real headings of sections 四 and 五 (from the report, or from the list of its sections in its preamble).
@pytest.mark.parametrize("heading", [
    "五、政府信息公开工作存在的主要问题及改进情况",  # 上海市人民政府办公厅 2019 (walkF r02); 威海市文登区信访局 2022
    "五、存在问题及改进情况",  # preamble of 61.150.65.235/zfxxgk/zfxxgknb/bmxxgknb/1906985018193408001.html (区统计局 2023)
    "五、存在主要问题及改进情况",  # preamble of www.nanjing.gov.cn/…/t20230220_3830939.html (高淳区 2022)
    "五、政府信息公开工作存在主要问题及改进情况",  # preamble of www.tl.gov.cn/openness/OpennessAnnualReport/show/3475.html
    "五、政府信息公开工作中存在的主要问题及改进情况",  # preamble of a realworld item
    "五、政府信息公开工作存在的主要问题和改进情况",  # heading of a realworld item
    "五、存在的主要问题和改进措施",  # preamble of www.zhanjiang.gov.cn/…/post_1871569.html
])
def test_real_variants_of_section_five(heading):
    text = replace_once(seed("001"), "五、存在的主要问题及改进情况\n", heading + "\n")
    assert check_template(text, "2021").sections_missing == []


@pytest.mark.parametrize("heading", [
    "四、因政府信息公开工作被申请行政复议、提起行政诉讼情况",  # preamble of a realworld item
    "四、因政府信息公开工作被申请行政复议和提起行政诉讼情况",  # preamble of shanghai.gov.cn/nw12344/20230331/…
    "四、因政府信息公开工作被申请行政复议提起行政诉讼情况",  # 180.76.149.248:88/book/2022dzs/xinfang/… p.8 (文登区信访局)
    "四、因政府信息公开被申请行政复议和提起行政诉讼情况",  # preamble of www.tl.gov.cn/…/show/3475.html
    "四、政府信息公开行政复议及行政诉讼情况",  # preamble of www.zhanjiang.gov.cn/…/post_1871569.html
    "四、政府信息公开行政复议行政诉讼情况",  # preamble of a realworld item
])
def test_real_variants_of_section_four(heading):
    text = replace_once(seed("001"), "四、政府信息公开行政复议、行政诉讼情况\n", heading + "\n")
    assert check_template(text, "2021").sections_missing == []


@pytest.mark.parametrize("line", [
    "全年因政府信息公开申请引起的行政复议93件，行政诉讼19件。",  # www.lishui.gov.cn/art/2025/3/7/art_1229850027_100030.html
    "因政府信息依申请公开引起行政复议0件，行政诉讼0件",  # realworld r015
    "（一）存在的主要问题和困难：一是政府信息主动公开的意识还有待进一步提高；",  # flbook.com.cn/c/sd3hnq6wjw
    "目前，我市政府信息公开工作还存在一些不足：",  # m.zjtcn.com/news/50268662.html
    # a preamble wrapped by the page's line breaks: realworld r123 (北京市统计局 2012)
    "行政复议、提起行政诉讼的情况,政府信息公开工作存在的主",
])
def test_body_lines_mentioning_the_words_are_not_sections(line):
    assert check_template(line, "2021").sections_present == []


@pytest.mark.parametrize("cited, expected", [
    ("国办公开办函﹝2019﹞60号", "国办公开办函〔2019〕60号"),
    ("国办公开办函[2021]30号", "国办公开办函〔2021〕30号"),
    ("国办公开办函〔2021〕 30 号", "国办公开办函〔2021〕30号"),
    ("国办发〔2021〕30号", None),
])
def test_format_notice_brackets(cited, expected):
    assert check_template(f"本报告按照《通知》（{cited}）编制。", "2019").cites_format_notice == expected


def test_old_format_gets_only_what_applies():
    check = check_template(seed("000"), "old")
    assert check.sections_present == [] and check.sections_missing == []
    assert not check.has_statistics_period and check.cites_format_notice is None
