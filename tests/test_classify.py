"""Reports told apart from look-alikes; agency, level, report year and format read from real documents."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import docx
import pdfplumber
import pytest

from parsers.agency import agency_in_title
from parsers.classify import agencies_match, agency_level, classify, looks_like_agency, normalise_agency
from parsers.record import ExtractedDocument, FetchContext, Grid, Link

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "demo" / "seeds"
CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def seed(seed_id: str) -> str:
    return (SEEDS / f"seed{seed_id}.txt").read_text(encoding="utf-8")


def text_doc(text: str, **fields) -> ExtractedDocument:
    return ExtractedDocument(format="text", text=text, title=None, **fields)


def pdf_text(name: str) -> str:
    with pdfplumber.open(CORPUS / name) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


# ------------------------------------------------------------------ the seeds

SEED_FACTS = {
    "000": ("临淄区卫计局", 2017, "old", "signature"),
    "001": ("临淄区卫生健康局", 2022, "2021", "title"),
    "002": ("遂宁市安居区卫计局", 2017, "old", "title"),
    "003": ("普陀区卫生和计划生育局", 2018, "work_summary", "填报单位"),
    "004": ("镇海区卫生计生局", 2015, "old", "title"),
}


@pytest.mark.parametrize("seed_id", sorted(SEED_FACTS))
def test_seed_reports(seed_id):
    agency, year, fmt, agency_source = SEED_FACTS[seed_id]
    found = classify(text_doc(seed(seed_id)), {}, FetchContext(filename=f"seed{seed_id}.txt"))
    assert found.is_report and found.kind == "report", found.reason
    assert found.agency == agency
    assert found.agency_source == agency_source
    assert found.level == "department"
    assert found.report_year == year
    assert found.format == fmt, found.format_reason
    assert found.reason and found.format_reason


def test_seed_without_title_is_recognised_by_its_sections():
    found = classify(text_doc(seed("000")), {}, FetchContext())
    assert found.title is None
    assert "概述" in found.reason


def test_title_joins_the_agency_line():
    found = classify(text_doc(seed("001")), {}, FetchContext())
    assert found.title == "临淄区卫生健康局2022年政府信息公开工作年度报告"


def test_report_year_is_not_the_publication_year():
    # seed 000 says 2017 and is signed in 2018: the report is for 2017
    found = classify(text_doc(seed("000")), {}, FetchContext())
    assert found.report_year == 2017


# ------------------------------------------------------------------ the real corpus

@pytest.mark.parametrize("name, agency, year", [
    ("szfgs2024.pdf", "淮安市人民政府", 2024),
    ("hzq2023_working.pdf", "洪泽区人民政府", 2023),
    ("hzq2024_working.pdf", "淮安市洪泽区人民政府", 2024),
])
def test_corpus_pdfs(name, agency, year):
    found = classify(ExtractedDocument(format="pdf", text=pdf_text(name)), {}, FetchContext(filename=name))
    assert found.is_report, found.reason
    assert found.agency == agency
    assert found.level == "government"
    assert found.report_year == year
    assert found.format == "2021"            # derived from 本年制发件数 … in the text
    assert "本年制发件数" in found.format_reason


def test_the_two_hongze_names_are_distinct_but_the_same_agency():
    first = classify(ExtractedDocument(format="pdf", text=pdf_text("hzq2023_working.pdf")), {}, FetchContext()).agency
    second = classify(ExtractedDocument(format="pdf", text=pdf_text("hzq2024_working.pdf")), {}, FetchContext()).agency
    assert first != second
    assert agencies_match(first, second)


def test_blank_template_docx_is_a_format_document():
    document = docx.Document(CORPUS / "政务公开年报模版.docx")
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    found = classify(ExtractedDocument(format="docx", text=text), {}, FetchContext(filename="政务公开年报模版.docx"))
    assert not found.is_report
    assert found.kind == "format_document"
    assert found.reason


def test_a_filled_in_title_with_placeholders_is_still_a_template():
    text = ("临淄区卫生健康局\n2022年政府信息公开工作年度报告\n一、总体情况\n（文字描述）\n二、主动公开政府信息情况\n"
            "五、存在的主要问题及改进情况\n（文字描述）\n六、其他需要报告的事项\n（文字描述，收取信息处理费情况在此处报告。）\n")
    found = classify(text_doc(text), {}, FetchContext())
    assert found.kind == "format_document" and not found.is_report
    assert "3" in found.reason


# ------------------------------------------------------------------ look-alikes

NOTICE = """关于做好2022年政府信息公开工作年度报告编制工作的通知
各镇人民政府、街道办事处，区政府各部门：
根据《中华人民共和国政府信息公开条例》第四十九条规定，现就做好2022年政府信息公开工作年度报告编制和发布工作通知如下。
一、各单位应于2023年1月31日前在本单位政府信息公开专栏发布本机关2022年政府信息公开工作年度报告。
二、年度报告应严格按照《中华人民共和国政府信息公开工作年度报告格式》编制，主动公开、依申请公开、行政复议等数据应准确。
三、存在的主要问题及改进情况要具体。
临淄区人民政府办公室
2022年12月1日
"""

FORMAT_DOCUMENT = """中华人民共和国政府信息公开工作年度报告格式
一、总体情况
（文字描述）
二、主动公开政府信息情况
第二十条第（一）项
信息内容 本年制发件数 本年废止件数 现行有效件数
三、收到和处理政府信息公开申请情况
四、政府信息公开行政复议、行政诉讼情况
五、存在的主要问题及改进情况
六、其他需要报告的事项
"""

NEWS = """临淄区卫生健康局开展健康知识进社区活动
近日，临淄区卫生健康局组织医务人员走进社区，开展健康知识宣传活动，发放宣传材料500余份。
活动现场，医务人员为群众免费测量血压、血糖，并讲解慢性病防治知识。
"""

NEWS_ABOUT_A_REPORT = """我区2022年政府信息公开工作年度报告获评全市优秀
近日，市政务公开办公布了2022年度政府信息公开工作年度报告评查结果，我区报告获评优秀等次。
"""

SUMMARY_TITLE = """淮安市2022年度政府信息公开工作年度报告汇总
淮安市人民政府2022年政府信息公开工作年度报告
淮安市发展和改革委员会2022年政府信息公开工作年度报告
"""

SUMMARY_LISTING = """政府信息公开年报
淮安市发展和改革委员会2022年政府信息公开工作年度报告
淮安市教育局2022年政府信息公开工作年度报告
淮安市公安局2022年政府信息公开工作年度报告
淮安市民政局2022年政府信息公开工作年度报告
"""


@pytest.mark.parametrize("text, kind", [
    (NOTICE, "notice"),
    (FORMAT_DOCUMENT, "format_document"),
    (NEWS, "other"),
    (NEWS_ABOUT_A_REPORT, "report_news"),
    (SUMMARY_TITLE, "summary_of_many"),
    (SUMMARY_LISTING, "summary_of_many"),
], ids=["notice", "format-document", "news", "news-about-a-report", "summary-title", "summary-listing"])
def test_look_alikes_are_not_reports(text, kind):
    found = classify(text_doc(text), {}, FetchContext())
    assert not found.is_report
    assert found.kind == kind, found.reason
    assert found.reason


@pytest.mark.parametrize("mark", ["（征求意见稿）", "（内部审核稿）", "(送审稿)", "草案"])
def test_a_draft_of_a_real_report_is_no_report(mark):
    """Seed 001, the whole real report, under its title marked as a draft: not what the agency published."""
    agency, title, body = seed("001").split("\n", 2)   # its title is two lines: the agency, the rest
    found = classify(text_doc(f"{agency}\n{title}{mark}\n{body}"), {}, FetchContext())
    assert not found.is_report and found.kind == "other", found.reason
    assert mark.strip("（）()") in found.reason
    assert classify(text_doc(seed("001")), {}, FetchContext()).is_report   # without the mark: the report


_NEWS_BODY = ("近日，东宝区人民政府在区政府门户网站“政府信息公开年报”栏目发布了《东宝区2024年政府信息公开工作年度报告》，"
              "全面反映了2024年全区政府信息公开工作情况。报告包括总体情况、主动公开政府信息情况等六个部分。"
              "下一步，区政府办公室将继续做好政务公开工作，切实保障人民群众知情权、参与权和监督权。")


@pytest.mark.parametrize("title", [
    "东宝区发布2024年政府信息公开工作年度报告", "我区按时发布2024年政府信息公开工作年度报告",
    "东宝区2024年政府信息公开工作年度报告编制工作培训会召开", "市政府办公室召开2024年度政府信息公开工作年度报告编制推进会",
    "关于2024年政府信息公开工作年度报告的说明", "关于东宝区2024年政府信息公开工作年度报告的更正说明",
    "东宝区2024年政府信息公开工作年度报告发布情况", "2024年政府信息公开工作年度报告撰写要点",
    "关于报送2024年政府信息公开工作年度报告的提示", "东宝区2024年政府信息公开工作年度报告起草说明",
    "东宝区2024年政府信息公开工作年度报告评查结果公示", "一图看懂东宝区2024年政府信息公开工作年度报告",
    "关于发布《东宝区2024年政府信息公开工作年度报告》的公告"])
def test_news_about_a_report_is_no_report(title):
    """News that a report came out, a meeting on compiling it, a note or a graphic about it (the headlines real
    portals give them), over a story that names the report in 《》: each was read as the report (its body "发布了
    《…年度报告》"), and a year was 逾期 on a meeting notice while the report itself was listed on time."""
    found = classify(text_doc(f"{title}\n{_NEWS_BODY}"), {}, FetchContext())
    assert (found.is_report, found.kind) == (False, "report_news"), found.reason


def test_a_report_published_under_a_news_like_page_stays_the_report():
    """The same headline over the report itself (its sections), or with the report attached, is the report."""
    title = "东宝区发布2024年政府信息公开工作年度报告"
    assert classify(text_doc(f"{title}\n{seed('001').split(chr(10), 2)[2]}"), {}, FetchContext()).is_report
    attached = ExtractedDocument(format="html", text=_NEWS_BODY, title=title,
                                 links=[Link("http://127.0.0.1/nb/2024.pdf", "东宝区2024年政府信息公开工作年度报告", "pdf")])
    assert classify(attached, {}, FetchContext()).is_report
    # a real report's own opening ("现公布…年度报告") under its own title
    real = ("昭通市2024年政府信息公开工作年度报告\n根据《中华人民共和国政府信息公开条例》（以下简称《条例》）规定，"
            "现公布昭通市2024年政府信息公开工作年度报告。本报告由总体情况、主动公开政府信息情况等6个部分组成。")
    assert classify(text_doc(real), {}, FetchContext()).is_report


@pytest.mark.parametrize("text", ["", "系统繁忙，请稍后再试", "Please enable JavaScript to continue."],
                         ids=["blank", "busy", "challenge"])
def test_a_page_with_next_to_no_text_is_no_report_whatever_its_listing_title(text):
    """A firewall's script challenge, a blank answer, "系统繁忙" at a report's address: the listing's report title
    made each a report, dated by the listing (按时), and a later one a new version of it (发布后修改)."""
    page = ExtractedDocument(format="html", text=text, title=None)
    found = classify(page, {}, FetchContext(listing_title="测试县医保局2024年政府信息公开工作年度报告"))
    assert (found.is_report, found.kind) == (False, "blank_page"), found.reason
    # an article page that holds the report's title around an embedded or attached file stays the report
    titled = ExtractedDocument(format="html", text="测试县医保局2024年政府信息公开工作年度报告", title=None)
    assert classify(titled, {}, FetchContext(listing_title="测试县医保局2024年政府信息公开工作年度报告")).is_report


def test_page_linking_many_reports_is_a_summary():
    links = [Link(f"http://www.huaian.gov.cn/ndbg/{i}.pdf", f"{name}2023年政府信息公开工作年度报告", "pdf")
             for i, name in enumerate(["淮安市教育局", "淮安市公安局", "淮安市民政局", "淮安市司法局"])]
    doc = ExtractedDocument(format="html", text="各部门政府信息公开工作年度报告", title="部门年报", links=links)
    found = classify(doc, {}, FetchContext())
    assert found.kind == "summary_of_many" and "4" in found.reason


def test_page_with_one_attachment_is_not_a_summary():
    links = [Link("http://www.linzi.gov.cn/ndbg/1.pdf", "临淄区卫生健康局2022年政府信息公开工作年度报告.pdf", "pdf")]
    doc = ExtractedDocument(format="html", text="附件：", title="临淄区卫生健康局2022年政府信息公开工作年度报告", links=links)
    found = classify(doc, {}, FetchContext())
    assert found.is_report and found.agency == "临淄区卫生健康局"


def test_a_page_the_listing_names_by_its_year_alone_is_a_report_only_by_its_content():
    """A column's "2022年度" entry may open that year's part of the column, its one link the agency's report: the
    report title there is the link's text, and the page is no report (before, it was, dated by the column's entry).
    The same page under the report's own title stays a report (an article page holding only its attachment, as
    above); a whole report under "2022年度" is one by its sections."""
    year_part = ExtractedDocument(format="html", text="临淄区卫生健康局2022年政府信息公开工作年度报告\n2023-01-20",
                                  title="2022年度")
    found = classify(year_part, {}, FetchContext(listing_title="2022年度"))
    assert (found.is_report, found.kind) == (False, "other") and "分栏目" in found.reason, found.reason
    named = classify(year_part, {}, FetchContext(listing_title="临淄区卫生健康局2022年政府信息公开工作年度报告"))
    assert named.is_report
    whole = classify(text_doc(seed("001")), {}, FetchContext(listing_title="2022年度"))
    assert whole.is_report and whole.report_year == 2022, whole.reason


# ------------------------------------------------------------------ titles, agency and year from other places

def test_article_title_with_site_suffix():
    doc = ExtractedDocument(format="html", text=seed("004"),
                            meta={"ArticleTitle": "镇海区卫生计生局政府信息公开工作2015年年度报告_镇海区人民政府"})
    found = classify(doc, {}, FetchContext())
    assert found.title == "镇海区卫生计生局政府信息公开工作2015年年度报告"
    assert found.report_year == 2015 and found.agency == "镇海区卫生计生局"


def test_listing_title_is_used_when_the_document_has_none():
    found = classify(text_doc(seed("000")), {}, FetchContext(listing_title="临淄区卫计局2017年政府信息公开工作年度报告"))
    assert found.title == "临淄区卫计局2017年政府信息公开工作年度报告"
    assert (found.agency, found.agency_source) == ("临淄区卫计局", "title")


def test_agency_from_the_title_when_the_text_starts_with_the_body():
    # an HTML reader keeps the <h1> as the title and the article body as the text
    body = seed("004").split("一、概述", 1)[1]
    doc = ExtractedDocument(format="html", text="一、概述" + body, title="镇海区卫生计生局政府信息公开工作2015年年度报告")
    found = classify(doc, {}, FetchContext())
    assert (found.agency, found.agency_source, found.report_year) == ("镇海区卫生计生局", "title", 2015)


def test_agency_name_containing_the_subject_words():
    found = classify(text_doc("正文。"), {}, FetchContext(listing_title="某某市政务公开办公室2022年政府信息公开工作年度报告"))
    assert found.agency == "某某市政务公开办公室"


@pytest.mark.parametrize("title, year", [
    ("2022年政府信息公开工作年度报告", 2022),
    ("政府信息公开工作2015年年度报告", 2015),
    ("2018年政务公开工作总结", 2018),
    ("某某区教育局2022年度政府信息公开年报", 2022),
])
def test_report_year_from_title_forms(title, year):
    found = classify(text_doc("正文。"), {}, FetchContext(listing_title=title))
    assert found.is_report and found.report_year == year


def test_report_year_from_the_statistics_period():
    text = ("本年度报告中所列数据统计期限从2021年1月1日到12月31日止。\n一、总体情况\n二、主动公开政府信息情况\n"
            "三、收到和处理政府信息公开申请情况\n四、政府信息公开行政复议、行政诉讼情况\n2022年，我局将继续……")
    found = classify(text_doc(text), {}, FetchContext())
    assert found.is_report and found.report_year == 2021


_SECTIONS = ("一、总体情况\n二、主动公开政府信息情况\n三、收到和处理政府信息公开申请情况\n"
             "四、政府信息公开行政复议、行政诉讼情况\n五、存在的主要问题及改进情况\n")


@pytest.mark.parametrize("published, year", [(date(2025, 1, 15), 2024), (date(2026, 1, 15), 2025), (None, 2025)])
def test_a_title_naming_the_year_it_came_out_yields_to_the_statistics_period(published, year):
    """A walk on real-style pages: "东宝区民政局2025年…年度报告" out on 2025-01-15, its 统计期限 2024, was the 2025
    report and 2024 was 未发布. Out before the title's year ended, the period decides; out after it, the period is a
    leftover of last year's text and the title stands (as it does when nothing says when it came out)."""
    text = (f"东宝区民政局2025年政府信息公开工作年度报告\n根据《中华人民共和国政府信息公开条例》规定，现公布本报告。"
            f"本报告中所列数据的统计期限为2024年1月1日至2024年12月31日。\n{_SECTIONS}")
    found = classify(text_doc(text), {}, FetchContext(), published=published)
    assert found.is_report and found.report_year == year


@pytest.mark.parametrize("about, year", [(2021, 2021), (2022, 2022)])
def test_a_title_naming_the_year_it_came_out_yields_to_a_text_about_the_year_before(about, year):
    """A walk: the 2021 report, out on 2022-01-20, titled "…2022年…" (a typo, or the year it came out) and without a
    统计期限 sentence, was the 2022 report, and 2021 was proven 未发布. Out before its title's year ended, a text
    about the year before decides; a text about the title's year (its plans) leaves the title standing."""
    text = (f"样例区卫生健康局2022年政府信息公开工作年度报告\n{_SECTIONS}{about}年，我局坚持以习近平新时代中国特色社会主义"
            f"思想为指导。{about}年主动公开政府信息120条。{about}年收到政府信息公开申请5件。")
    found = classify(text_doc(text), {}, FetchContext(), published=date(2022, 1, 20))
    assert found.is_report and found.report_year == year
    # out after the title's year ended, the title stands whatever the text says
    assert classify(text_doc(text), {}, FetchContext(), published=date(2023, 1, 20)).report_year == 2022


def test_plans_for_the_year_a_report_came_out_in_do_not_make_it_that_years():
    """No year in the title, no 统计期限: "2025年度" three times in its plans outnumbered the "2024年" of its
    opening, and the report out on 2025-01-16 was the 2025 report (2024 未发布). A report out on 25 December of its
    own year, naming no earlier one, stays that year's."""
    text = (f"东宝区司法局政府信息公开工作年度报告\n根据《中华人民共和国政府信息公开条例》规定，现将我局2024年政府信息"
            f"公开工作情况报告如下。\n{_SECTIONS}2025年度，我局将制定2025年度政务公开工作要点，把2025年度工作任务落实到科室。")
    assert classify(text_doc(text), {}, FetchContext(), published=date(2025, 1, 16)).report_year == 2024
    december = "现将2020年政府信息公开工作报告如下：\n一、2020年政务公开工作完成情况及成效\n二、主动公开政府信息情况"
    assert classify(text_doc(december), {}, FetchContext(), published=date(2020, 12, 25)).report_year == 2020


def test_report_year_falls_back_to_signing_year_minus_one():
    text = ("一、概述\n我局认真贯彻政府信息公开条例。\n二、主动公开政府信息情况\n全年主动公开信息。\n"
            "三、依申请公开情况\n无。\n四、收费及减免情况\n无。\n某某县统计局\n2019年2月1日\n")
    found = classify(text_doc(text), {}, FetchContext())
    assert found.report_year == 2018
    assert (found.agency, found.agency_source) == ("某某县统计局", "signature")


def test_agency_from_page_metadata_when_the_text_names_none():
    text = "2022年政府信息公开工作年度报告\n一、总体情况\n本年度我局……"
    doc = ExtractedDocument(format="html", text=text, meta={"ContentSource": "临淄区卫生健康局"})
    found = classify(doc, {}, FetchContext())
    assert (found.agency, found.agency_source, found.level) == ("临淄区卫生健康局", "meta", "department")


def test_agency_from_the_catalog_box():
    text = "2022年政府信息公开工作年度报告\n一、总体情况\n本年度本镇……"
    doc = ExtractedDocument(format="html", text=text, catalog_box={"发布机构：": "皇城镇人民政府"})
    found = classify(doc, {}, FetchContext())
    assert (found.agency, found.agency_source, found.level) == ("皇城镇人民政府", "catalog_box", "township")


# ------------------------------------------------------------------ format

def test_format_from_the_table2_columns_wins_over_words():
    # a 2023 report that cites 〔2021〕30号 but whose table 2 has 2019 columns is recorded as 2019
    text = seed("001").replace("2022年", "2023年")
    found = classify(text_doc(text), {"table2": {"columns": "2019", "rows": {}}}, FetchContext())
    assert found.format == "2019"
    assert "表二" in found.format_reason and "本年新制作数量" in found.format_reason


def test_format_2019_from_the_table_headers_in_text():
    text = ("某某县民政局\n2020年政府信息公开工作年度报告\n一、总体情况\n二、主动公开政府信息情况\n第二十条第（一）项\n"
            "信息内容\n本年新制作数量\n本年新公开数量\n对外公开总数量\n规章\n0\n0\n0\n")
    found = classify(text_doc(text), {}, FetchContext())
    assert found.format == "2019" and "本年新公开数量" in found.format_reason


def test_format_from_table_headers_kept_in_grids():
    grid = Grid([["第二十条第（一）项"] * 4, ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
                 ["规章", "0", "0", "0"]], "html")
    doc = ExtractedDocument(format="html", text="临淄区卫生健康局\n2022年政府信息公开工作年度报告\n一、总体情况\n",
                            grids=[grid])
    assert classify(doc, {}, FetchContext()).format == "2021"
    assert classify(ExtractedDocument(format="html", text=doc.text), {}, FetchContext()).format == "unknown"


def test_old_statistics_table_alone_means_old_format():
    text = "某某县民政局\n2016年政府信息公开工作年度报告\n今年我局做了很多工作。\n"
    found = classify(text_doc(text), {"old_stats": {"主动公开政府信息数": 5}}, FetchContext())
    assert found.format == "old"


def test_unknown_format_says_so():
    found = classify(text_doc("某某县民政局\n2016年政府信息公开工作年度报告\n今年我局做了很多工作。\n"), {}, FetchContext())
    assert found.format == "unknown" and found.format_reason


# ------------------------------------------------------------------ names and levels

@pytest.mark.parametrize("name, level", [
    ("淮安市人民政府", "government"),
    ("淮安市洪泽区人民政府", "government"),
    ("洪泽区政府", "government"),
    ("皇城镇人民政府", "township"),
    ("某某乡人民政府", "township"),
    ("东城街道办事处", "township"),
    ("临淄区卫计局", "department"),
    ("淮安市发展和改革委员会", "department"),
    ("淮安市人民政府办公室", "department"),
    ("山东省财政厅", "department"),
    ("淮安市政务服务中心", "department"),
    ("镇海区卫生计生局", "department"),   # 镇 at the start is a place name, not a township
    ("张三", None),
    ("", None),
])
def test_agency_level(name, level):
    assert agency_level(name) == level


def test_normalise_agency_removes_every_kind_of_space():
    assert normalise_agency(" 淮安市\u3000洪泽区 人民政府\n") == "淮安市洪泽区人民政府"


@pytest.mark.parametrize("first, second, same", [
    ("淮安市洪泽区人民政府", "洪泽区人民政府", True),
    ("淮安市 人民政府", "淮安市人民政府", True),
    ("淮安市人民政府", "洪泽区人民政府", False),
    ("淮安市人民政府", "人民政府", False),
    ("临淄区卫计局", "临淄区卫生健康局", False),   # abbreviations are the registry's aliases, not guessed
])
def test_agencies_match(first, second, same):
    assert agencies_match(first, second) is same


# ------------------------------------------------------------------ pages around reports on a real portal

_COLUMN_PAGE = """<html><head><meta charset="utf-8"><title>政府信息公开年报_示范区卫生健康局</title></head><body>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/xxgk/">信息公开</a> &gt; <a href="/xxgk/nb/">政府信息公开年报</a></div>
<h2>政府信息公开年报</h2><ul class="list">{items}</ul></body></html>"""


def _html_doc(html: str, url: str = "http://portal.test/xxgk/nb/index.html"):
    from parsers.formats import extract

    return extract(html.encode("utf-8"), FetchContext(url=url))


def test_listing_page_of_a_report_column_is_not_a_report():
    items = "".join(f'<li><a href="/xxgk/nb/{y}.html">示范区卫生健康局{y}年政府信息公开工作年度报告</a><span>{y + 1}-01-20</span></li>'
                    for y in (2021, 2022, 2023))
    doc = _html_doc(_COLUMN_PAGE.format(items=items))
    found = classify(doc, {}, FetchContext(url="http://portal.test/xxgk/nb/index.html"))
    assert not found.is_report
    assert found.kind == "other"
    assert "列表" in found.reason


def test_last_listing_page_with_one_item_is_not_a_report():
    items = '<li><a href="/xxgk/nb/2020.html">示范区卫生健康局2020年政府信息公开工作年度报告</a><span>2021-01-20</span></li>'
    doc = _html_doc(_COLUMN_PAGE.format(items=items))
    assert not classify(doc, {}, FetchContext()).is_report


def test_article_title_wins_over_a_breadcrumb_column_name():
    html = ('<html><head><meta charset="utf-8"><meta name="ArticleTitle" content="示范区卫生健康局召开2023年政务公开工作推进会">'
            '<title>示范区卫生健康局</title></head><body><div>当前位置：首页 &gt; 信息公开 &gt; 政府信息公开年报</div>'
            '<h1>示范区卫生健康局召开2023年政务公开工作推进会</h1><p>5月16日，示范区卫生健康局召开推进会，'
            '通报2022年政府信息公开工作年度报告发布情况。</p></body></html>')
    found = classify(_html_doc(html, "http://portal.test/xxgk/nb/t20230516_1.html"), {}, FetchContext())
    assert found.title == "示范区卫生健康局召开2023年政务公开工作推进会"
    assert not found.is_report and found.kind == "report_news"


# ------------------------------------------------------------------ real pages (tests/realworld): what a user checks

REALWORLD = Path(__file__).parent / "realworld" / "items"


def real(prefix: str) -> str:
    """The text of one real page excerpt of tests/realworld (see its README for where each came from)."""
    (path,) = REALWORLD.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def classify_real(prefix: str, url: str | None = None):
    return classify(text_doc(real(prefix)), {}, FetchContext(url=url))


@pytest.mark.parametrize("prefix, title", [
    ("r047", "中村乡2020年政府信息公开工作年度报告"),             # after 关怀版 … and a breadcrumb naming 政务信息公开年报
    ("r013", "马头铺镇人民政府2022年度政府信息公开工作年度报告"),  # breadcrumb split over five lines
    ("r082", "下陆区卫生健康局2021年政府信息公开工作年度报告"),     # 名 称: label in the catalog rows
    ("r034", "淄川区卫生和计划生育局2014年政府信息公开工作年度报告"),  # 标题: | … | table row
    ("r003", "西咸新区底张街道办事处2023年度政府信息公开工作年度报告"),  # title wrapped over two lines
    ("r035", "城厢区卫生局关于2014年度政府信息公开工作的年度报告"),     # wrapped, under a document number
    ("r025", "贺州市2009年度政府信息公开工作年度报告"),             # the report a 关于公布…的通知 publishes
])
def test_the_report_title_beats_breadcrumbs_labels_and_headings(prefix, title):
    found = classify_real(prefix)
    assert found.title == title
    assert found.is_report, found.reason


@pytest.mark.parametrize("prefix", ["r125", "r026", "r027", "r116"])
def test_old_title_wordings_are_report_titles(prefix):
    # …政府信息公开报告(2016年), …2011年度信息公开的报告, …2010年政府信息公开报告, …工作情况的报告
    found = classify_real(prefix)
    assert found.is_report and found.kind == "report", found.reason


def test_a_title_without_a_year_that_names_its_agency_is_a_report():
    found = classify_real("r128")  # 丽水市民政局政府信息公开工作年度报告; the body says 2010年度
    assert found.is_report
    assert (found.agency, found.report_year) == ("丽水市民政局", 2010)


@pytest.mark.parametrize("prefix, shown", [
    ("r031", "编制本年度报告"),       # no title: 编制本年度报告。本报告由概述…
    ("r133", "深圳市司法局"),         # 现公布深圳市司法局2023年政府信息公开工作年度报告
    ("r094", "本报告根据"),
    ("r044", "总体情况"),            # only （一）…主动公开 （二）…依申请公开 under 一、总体情况
    ("r136", "一、总体情况"),         # the first section is 一、总体情况 and speaks of 政府信息公开
    ("r039", "本年新制作数量"),       # the 2019 format's statistics table
    ("r014", "临洮县新添镇"),         # a whole report on one line
])
def test_a_report_without_a_title_is_recognised_by_its_body(prefix, shown):
    found = classify_real(prefix)
    assert found.is_report and found.kind == "report"
    assert shown in found.reason


def test_a_breadcrumb_naming_every_township_is_not_a_summary():
    found = classify_real("r075")  # 首页 > 各乡镇信息公开 > 对坊乡 > 年度报告 > 信息公开年度报告
    assert found.is_report
    assert found.agency == "对坊乡" and found.level == "township"


@pytest.mark.parametrize("prefix, kind", [
    ("l018", "other"),    # a township's rule, 第一条…第六条, listing the six old section names
    ("l003", "other"),    # 两家满族乡人民政府信息公开工作年度报告制度
    ("l005", "other"),    # 政府信息公开年度工作报告范文: a model text
    ("l011", "notice"),   # …年度报告编制公布情况的通报
    ("l007", "other"),    # an article quoting the law: 公布本机关的政府信息公开工作年报
    ("l034", "other"),    # …信息公开年度工作报告说明, under a breadcrumb naming the report column
    ("l019", "other"),    # 绩效 self-assessment opening with 一、总体情况
])
def test_real_look_alikes_stay_look_alikes(prefix, kind):
    found = classify_real(prefix)
    assert not found.is_report, found.reason
    assert found.kind == kind


@pytest.mark.parametrize("title", [
    "文字解读：某某区卫生健康局2023年政府信息公开工作年度报告",
    "一图读懂某某区2023年政府信息公开工作年报",
    "某某区2023年政府信息公开工作年报政策解读",
])
def test_explanations_of_a_report_are_not_the_report(title):
    found = classify(text_doc("正文。"), {}, FetchContext(listing_title=title))
    assert not found.is_report and found.kind == "other"


@pytest.mark.parametrize("prefix, agency, level", [
    ("r097", "延边州林管局", "department"),              # 2015年延边州林管局…: the year before the name
    ("r119", "湖口县大垅乡", "township"),                # 2025湖口县大垅乡2025年度…
    ("r036", "福州市晋安区人民政府", "government"),       # 福州市晋安区2016年…: a place alone
    ("r019", "上海市人民政府", "government"),            # 2022年上海市政府信息公开…: 上海市 + 政府信息公开
    ("r015", "桃江县松木塘镇人民政府", "township"),       # on its own line between two title lines
    ("r134", "高新区(新市区)司法局", "department"),       # a bracketed part inside the name
    ("r017", "信访局", "department"),                   # 由信访局结合有关统计数据编制
    ("r133", "深圳市司法局", "department"),              # 现公布深圳市司法局2023年…年度报告
    ("r093", "荆州市荆州区人民政府办公室", "department"),  # …年度报告(以下简称年报)是根据…
    ("r008", "厚桥街道", "township"),                   # 由…人民政府厚桥街道党政办公室综合科编制
    ("r001", "南平市人民政府", "government"),            # 由南平市人民政府信息公开工作领导小组办公室…编制
    ("r094", "泸州市人民政府", "government"),            # 请与泸州市信息公开办公室联系
    ("r020", "昌江区工信局", "department"),              # 请与昌江区工信局办公室联系
    ("r038", "广元市人民政府重点建设项目领导小组办公室", "department"),  # …办公室综合科: the office is the body
    ("r132", "眉山市司法局", "department"),              # 根据2023年眉山市司法局信息公开工作实际编制
    ("r074", "大兴乡人民政府", "township"),              # 2023年,大兴乡人民政府坚持…
    ("r124", "邹城市统计局", "department"),              # 先后制定…如《邹城市统计局信息公开制度》
    ("r061", "区教育局", "department"),                 # 可与区教育局办公室306联系
    ("r143", "武江区龙归镇人民政府", "township"),         # the fuller name its first line gives the report
])
def test_agency_and_level_from_real_reports(prefix, agency, level):
    found = classify_real(prefix)
    assert (found.agency, found.level) == (agency, level)


@pytest.mark.parametrize("prefix", ["r013", "r071", "r147"])
def test_a_breadcrumb_never_names_the_agency(prefix):
    found = classify_real(prefix)
    assert found.agency and ">" not in found.agency and found.agency != "政府"


@pytest.mark.parametrize("prefix, level", [
    ("r016", "township"),    # 我镇
    ("r049", "township"),    # 我乡
    ("r064", "township"),    # 我街道
    ("r039", "department"),  # 我局
    ("r044", "department"),  # 我委
])
def test_a_report_that_names_itself_only_as_we_still_has_a_level(prefix, level):
    found = classify_real(prefix)
    assert found.is_report and found.level == level


@pytest.mark.parametrize("name, level", [
    ("下各镇", "township"),
    ("中村乡", "township"),
    ("螅镇", "township"),
    ("南关区永吉街道办事处", "township"),
    ("浑南区国资局", "department"),
    ("区政府国资局", "department"),
    ("地税局", "department"),
    ("通过政府", None),      # a word, not a government: 2021年通过政府网站主动公开…
    ("各镇", None),
])
def test_township_and_department_names(name, level):
    assert agency_level(name) == level if level else not looks_like_agency(name)


def test_format_only_cited_is_recorded_as_such():
    found = classify_real("r133")  # cites 国办公开办函〔2021〕30号; the excerpt has no table
    assert found.format == "2021" and found.format_cited
    assert "没有统计表" in found.format_reason


@pytest.mark.parametrize("prefix, fmt", [
    ("r069", "2019"),     # a 2020 report citing 年度报告格式（试行）
    ("r100", "unknown"),  # a 2022 report citing 〔2019〕60号, the notice still in force, not its format
    ("r010", "2021"),     # cites 〔2019〕60号 but its table heads are the 2021 ones
    ("r124", "old"),      # 一、政府信息公开工作概述
    ("r143", "old"),      # "。 一、概述" inside one long line
    ("r123", "old"),      # 全文包括概述, …
    ("r089", "unknown"),  # a 2021 report that still calls its first part 一、概述
])
def test_format_from_citations_and_old_sections(prefix, fmt):
    assert classify_real(prefix).format == fmt


def test_report_year_from_the_addresss_report_folder():
    # no year in the text (本年度 only): the column folder nb2024 of its address says it
    url = "https://www.gzhezhang.gov.cn/zwgk/zfxxgkzl/zfxxgknb/nb2024/202501/t20250121_86658880.html"
    assert classify_real("r118", url).report_year == 2024


def test_a_subject_name_wrapped_across_pdf_lines_comes_out_whole():
    from parsers.agency import agency_mentioned_in_body
    assert agency_mentioned_in_body("2023年，洪泽区人民\n政府坚持以习近平新时代中国特色社会主义思想为指导") == (
        "洪泽区人民政府", "正文主语")


def test_a_contents_page_names_no_agency():
    # the cover and contents of a real 部门决算 PDF (staged held-out l902): "2024 年度" then 目录, 第一部分 …
    from parsers.agency import agency_mentioned_in_body
    cover = "上海市普陀区规划和自然\n资源局\n2024 年度部门决算\n目\n录\n第一部分 上海市普陀区规划和自然资源局概况\n一、主要职能"
    assert agency_mentioned_in_body(cover) is None


@pytest.mark.parametrize("title, text", [
    ("临淄区人民政府", "首页 政务公开 年度报告\n对不起，您访问的页面不存在或已被删除！\n返回首页\n主办单位：临淄区人民政府办公室"),
    ("404 Not Found", "404 Not Found\nnginx"),
    ("提示信息", "抱歉，找不到您要访问的页面。\n5秒后自动返回首页"),
    ("安全提示", "您的访问请求已被拦截，如有疑问请联系网站管理员。"),
])
def test_a_sites_error_page_behind_a_report_title_is_not_the_report(title, text):
    """A portal answers a missing (or blocked) address with its own page and 200: the link's title names the
    report, the page says it is not there."""
    result = classify(ExtractedDocument(format="html", text=text, title=title), {},
                      FetchContext(listing_title="临淄区卫生健康局2021年政府信息公开工作年度报告"))
    assert result.kind == "error_page" and not result.is_report, result.reason
    assert "错误页" in result.reason


def test_a_report_that_speaks_of_a_missing_page_is_still_a_report():
    """The error words alone decide nothing: a report is long, and may quote them (申请公开的信息不存在, 页面不存在
    as a complaint it handled)."""
    text = seed("001") + "\n群众反映部分链接页面不存在的问题已整改。"
    result = classify(text_doc(text), {}, FetchContext(listing_title="临淄区卫生健康局2022年政府信息公开工作年度报告"))
    assert result.kind == "report", result.reason


LISHUI = "http://www.lishui.gov.cn/module/xxgk/xxgkAnnualReport.jsp?fbtime=2017&area=113325000026455663"


@pytest.mark.parametrize("title, url, expected", [
    ("丽水市民政局2017年政府信息公开工作年度报告", None, (2017, "title")),
    ("丽水市民政局2017年政府信息公开工作年...", None, (2017, "cut")),
    ("丽水市民政局政府信息公开工作年度报告", LISHUI, (2017, "address")),          # the real platform's address
    # no year in the title or the address, no date: the report of any year before the listing was read
    ("丽水市民政局政府信息公开工作年度报告", "http://x.gov.cn/art/2018/1/2/art_1_2.html", (None, "undated")),
    ("关于做好政府信息公开工作年度报告的通知", LISHUI, (None, None)),
    ("政府信息公开工作年度报告格式", None, (None, None)),
    ("丽水市民政局2017年政府信息公开工作要点...", None, (None, None)),
])
def test_the_year_a_listing_entry_may_be_the_report_of(title, url, expected):
    from parsers.classify import listed_report_year

    assert listed_report_year(title, url) == expected


@pytest.mark.parametrize("title, in_column, expected", [
    ("2024年度", True, (2024, "year")),
    ("【2023年】", True, (2023, "year")),
    ("2022年报", True, (2022, "year")),
    ("2024年度", False, (None, None)),             # only the report column's page names the rest
    ("2024年第一季度", True, (None, None)),
    ("2024年度部门预算", True, (None, None)),
])
def test_an_entry_of_the_report_column_may_be_named_by_its_year_alone(title, in_column, expected):
    from parsers.classify import listed_report_year

    assert listed_report_year(title, "http://x.gov.cn/nb/1.html", in_column=in_column) == expected


@pytest.mark.parametrize("title, url, expected", [
    ("丽水市民政局政府信息公开工作年度报告", "http://x.gov.cn/art/2018/1/2/art_1_2.html", (2017, "date")),
    ("丽水市民政局政府信息公开工作年度报告", LISHUI, (2017, "address")),   # the address names it first
    ("丽水市民政局2016年政府信息公开工作年度报告", None, (2016, "title")),   # a title's own year, whatever the date
    ("关于做好政府信息公开工作年度报告的通知", None, (None, None)),           # a look-alike: no year by its date
    ("政府信息公开工作年度报告格式", None, (None, None)),
    ("丽水市民政局政府信息公开工作年度报告（征求意见稿）", None, (None, None)),
])
def test_a_report_title_without_a_year_may_be_the_report_of_the_year_before_its_listing_date(title, url, expected):
    """A report page titled without its year (丽水市民政局's are), listed on 2018-01-20: reports come out in the year
    after theirs, so it may be the 2017 report."""
    from parsers.classify import listed_report_year

    assert listed_report_year(title, url, listed_on=date(2018, 1, 20)) == expected


@pytest.mark.parametrize("title, agency", [
    ("东宝区卫生健康局（区中医药管理局）2024年政府信息公开工作年度报告", "东宝区卫生健康局"),
    ("【年度报告】东宝区财政局2024年政府信息公开工作年度报告", "东宝区财政局"),
    ("2024年政府信息公开工作年度报告（东宝区财政局）", "东宝区财政局"),
    ("东宝区财政局2022-2023年度政府信息公开工作年度报告", "东宝区财政局"),
])
def test_the_agency_of_a_title_with_a_merged_office_a_tag_or_its_name_after_it(title, agency):
    """Titles real portals give: the agency was lost (None) and the report given to the column's agency (a county
    government 按时 on its health bureau's report, the bureau 未发布)."""
    assert agency_in_title(title) == agency


_SHORT_REPORT = ("2024年，我局认真贯彻落实《中华人民共和国政府信息公开条例》，主动公开政府信息38条，"
                 "收到政府信息公开申请3件，均已按期答复。\n白城市农业农村局\n2025年1月20日")


@pytest.mark.parametrize("title, body", [
    ("白城市农业农村局2024年政府信息公开工作年度报告（公示）", _SHORT_REPORT),
    ("白城市农业农村局2024年政府信息公开工作年度报告", "近日，我局按照要求编制了本年度报告。\n" + _SHORT_REPORT),
    ("白城市农业农村局发布2024年政府信息公开工作年度报告", _SHORT_REPORT),
    ("白城市农业农村局2024年政府信息公开工作年度报告（更正）", ""),
    ("中国人民政治协商会议白城市委员会办公室2024年政府信息公开工作年度报告", ""),
])
def test_a_short_report_under_a_news_like_headline_stays_the_report(title, body):
    """Real reports a check of the news rule found misread (helper walk on real report text): a report published
    "（公示）", one opening "近日，", one under "…发布…" with its figures and 落款 on the page, a corrected report
    shown as images, an agency whose name holds 会议. Each is the report."""
    found = classify(text_doc(f"{title}\n{body}" if body else title), {}, FetchContext())
    assert (found.is_report, found.kind) == (True, "report"), found.reason


@pytest.mark.parametrize("text, signed, published", [
    ("白城市农业农村局政府信息公开工作年度报告\n2024年，我局主动公开政府信息38条，较2023年增加5条。", date(2024, 12, 31),
     date(2024, 12, 31)),
    ("白城市农业农村局2024年政府信息公开工作年度报告\n2024年，我局结转上年度（2023年度）申请1件。", date(2024, 12, 31),
     date(2025, 1, 6)),
    ("白城市农业农村局2024年政府信息公开工作年度报告\n本报告统计期限为2023年12月1日至2024年11月30日。", date(2024, 12, 25),
     date(2024, 12, 26)),
])
def test_a_report_out_in_december_of_its_own_year_stays_that_years(text, signed, published):
    """Reports come out in late December too: a year then not over is still theirs, a （2023年度） in the text is no
    统计期限, and a period across two years does not move the title's year."""
    signature = f"\n白城市农业农村局\n{signed.year}年{signed.month}月{signed.day}日"
    found = classify(text_doc(text + signature), {}, FetchContext(), published=published)
    assert found.report_year == 2024, found


def test_a_title_agency_in_brackets_is_a_whole_name_never_a_short_one():
    assert agency_in_title("2024年政府信息公开工作年度报告（局办公室）") is None
    assert agency_in_title("【荆门市财政局】2024年政府信息公开工作年度报告") == "荆门市财政局"
    assert agency_in_title("【区文广旅局】2024年政府信息公开工作年度报告") is None


@pytest.mark.parametrize("html, said", [
    ("<title>系统维护中</title><h1>系统升级维护中，请稍后访问</h1>", "系统维护中"),
    ("<title>温馨提示</title><h1>网站正在升级维护，暂停访问</h1>", "网站正在升级维护"),
    ("<title>页面不存在</title>", "页面不存在"),
    ("<title>政府信息公开年度报告_示范区人民政府</title><h1>政府信息公开年度报告</h1>", None),
    # a column page whose list holds a maintenance notice: only its own title and heading count
    ("<title>通知公告</title><h1>通知公告</h1><ul><li><a href='/1.html'>关于系统升级维护的公告</a></li></ul>", None),
])
def test_a_column_page_that_is_the_sites_error_or_maintenance_page_says_so_in_its_heading(html, said):
    from parsers.classify import error_page_heading
    assert error_page_heading(f"<html><head><meta charset='utf-8'>{html}</head><body></body></html>".encode()) == said
