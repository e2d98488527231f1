"""Dates in and around a report: reading every written form, finding the 落款, URL dates, and choosing the
publication date with its source."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import docx
import pdfplumber
import pytest

from parsers.dates import (
    PUBLICATION_PRIORITY,
    choose_publication_date,
    collect_dates,
    dates_from_url,
    find_signing_date,
    parse_date_text,
)
from parsers import parse_document
from parsers.record import DateEvidence, ExtractedDocument, FetchContext

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "demo" / "seeds"
CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def seed(seed_id: str) -> str:
    return (SEEDS / f"seed{seed_id}.txt").read_text(encoding="utf-8")


# ------------------------------------------------------------------ parse_date_text

@pytest.mark.parametrize("raw, expected", [
    ("2023-01-30 10:20", date(2023, 1, 30)),
    ("2023-01-30T10:20:00+08:00", date(2023, 1, 30)),
    ("2023年1月29日", date(2023, 1, 29)),
    ("2023 年 1 月 29 日", date(2023, 1, 29)),          # pdfplumber spacing
    ("二〇二三年一月二十九日", date(2023, 1, 29)),
    ("二○二三年一月二十九日", date(2023, 1, 29)),          # ○ (white circle) for zero
    ("二O二三年十二月廿九日", date(2023, 12, 29)),          # Latin O for zero, 廿 for twenty
    ("二〇一八年三月二日", date(2018, 3, 2)),
    ("二〇二三年一月三十一日", date(2023, 1, 31)),
    ("二〇二三年十月十日", date(2023, 10, 10)),
    ("２０２３年１月２９日", date(2023, 1, 29)),             # full-width digits
    ("2023/1/29", date(2023, 1, 29)),
    ("2023.01.29", date(2023, 1, 29)),
    ("[2023-01-30]", date(2023, 1, 30)),
    ("2023 1 1 日", date(2023, 1, 1)),                  # PDF text that lost 年 and 月
    ("20230130", date(2023, 1, 30)),
    ("发布时间：2023-01-30 10:20:31", date(2023, 1, 30)),
])
def test_every_written_form_is_read(raw, expected):
    assert parse_date_text(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "无", "2023年2月30日", "2023-13-01", "2017年1-4季度", "01-30", "2023年", "2023 1 1", "临政办字〔2017〕10号",
])
def test_non_dates_give_none(raw):
    assert parse_date_text(raw) is None


# ------------------------------------------------------------------ signing date (落款)

@pytest.mark.parametrize("seed_id, expected", [
    ("000", date(2018, 3, 2)), ("001", date(2023, 1, 29)), ("002", None), ("003", None), ("004", None),
])
def test_signing_date_of_each_seed(seed_id, expected):
    found = find_signing_date(seed(seed_id))
    if expected is None:
        assert found is None
        return
    assert found.value == expected and found.source == "signing"
    last_line = [line.strip() for line in seed(seed_id).splitlines() if line.strip()][-1]
    assert found.raw == last_line  # the exact text of the 落款 line, e.g. "2023年1月29日"


@pytest.mark.parametrize("written", ["二〇二三年一月二十九日", "２０２３年１月２９日", "2023 年 1 月 29 日"])
def test_signing_date_in_other_writings(written):
    text = seed("001").rstrip().rsplit("\n", 1)[0] + "\n" + written + "\n"
    found = find_signing_date(text)
    assert found is not None and found.value == date(2023, 1, 29)
    assert found.raw == written


def test_page_number_after_the_signature_is_skipped():
    text = seed("000") + "\n- 5 -\n"
    assert find_signing_date(text).value == date(2018, 3, 2)


def test_signature_above_an_attached_table_is_found():
    table = "\n".join(f"\t指标{i}\n\t件\n\t{i}" for i in range(30))
    text = seed("001") + "\n附件1\n政府信息公开情况统计表\n" + table
    assert find_signing_date(text).value == date(2023, 1, 29)


def test_a_date_inside_the_last_sentence_is_not_a_signature():
    text = seed("002") + "\n本制度自2023年1月1日起施行，由局办公室负责解释。\n"
    assert find_signing_date(text) is None


def test_a_page_label_is_not_a_signature():
    assert find_signing_date("关于开展健康活动的通知\n发布时间：2023-01-30\n活动在社区举行。") is None


# ------------------------------------------------------------------ URL dates

@pytest.mark.parametrize("url, expected, label", [
    ("http://www.linzi.gov.cn/gongkai/202301/t20230130_1234567.html", date(2023, 1, 30), "TRS"),
    ("https://www.huaian.gov.cn/art/2024/1/22/art_1229_88123.html", date(2024, 1, 22), "Hanweb"),
    ("http://www.example.gov.cn/c/2026-01-15/7097241.shtml", date(2026, 1, 15), "路径日期"),
    ("http://www.gov.cn/zhengce/content/2023-01/30/content_5739099.htm", date(2023, 1, 30), "路径日期"),
])
def test_url_dates_of_common_cms(url, expected, label):
    found = dates_from_url(url)
    assert [(d.value, d.source, d.label) for d in found] == [(expected, "url", label)]
    assert found[0].raw in url


@pytest.mark.parametrize("url", [
    "http://www.example.gov.cn/xxgk/202601/0176947114070778.html",   # month only: skipped, not the 1st
    "http://www.example.edu.cn/info/1362/198554.htm",                  # VSB: no date at all
    "http://www.example.gov.cn/ndbg/list.jsp?fbtime=2022&nbYear=2022",  # report-year parameters
    "http://www.example.gov.cn/ndbg/detail?date=2023-01-30",            # query strings are never dates
    "",
    "http://[broken",
])
def test_urls_without_a_full_date_in_the_path(url):
    assert dates_from_url(url) == []


# ------------------------------------------------------------------ collect_dates

def _pdf_metadata(name: str) -> dict[str, str]:
    with pdfplumber.open(CORPUS / name) as pdf:
        return {key: value for key, value in pdf.metadata.items() if key in {"CreationDate", "ModDate"}}


def test_collect_gathers_every_source_with_raw_and_label():
    doc = ExtractedDocument(
        format="html",
        text=seed("001"),
        meta={"pubdate": "2023-01-30 10:20", "ArticleTitle": "临淄区卫生健康局2022年政府信息公开工作年度报告"},
        catalog_box={"索引号：": "11370305MB2854/2023-00012", "公开日期：": "2023-01-30", "成文日期": "2023年01月20日"},
        page_dates=[("发布时间：", "2023-01-30 10:20"), ("更新时间", "2023-03-01 08:00")],
        doc_metadata=_pdf_metadata("szfgs2024.pdf"),
    )
    context = FetchContext(url="http://www.linzi.gov.cn/gongkai/202301/t20230128_1234567.html",
                           listing_date="[2023-01-31]",
                           headers={"last-modified": "Tue, 31 Jan 2023 17:30:00 GMT"})
    found = {(d.source, d.value) for d in collect_dates(doc, context)}
    assert ("meta_pubdate", date(2023, 1, 30)) in found
    assert ("catalog_box", date(2023, 1, 30)) in found
    assert ("written", date(2023, 1, 20)) in found
    assert ("page_label", date(2023, 1, 30)) in found
    assert ("page_label", date(2023, 3, 1)) in found           # kept as evidence, labelled 更新时间
    assert ("listing", date(2023, 1, 31)) in found
    assert ("url", date(2023, 1, 28)) in found
    assert ("http_last_modified", date(2023, 2, 1)) in found    # 17:30 GMT is the 1st in Beijing
    assert ("pdf_metadata", date(2025, 2, 25)) in found
    assert ("signing", date(2023, 1, 29)) in found
    evidence = collect_dates(doc, context)
    meta = next(d for d in evidence if d.source == "meta_pubdate")
    assert meta.raw == "2023-01-30 10:20" and meta.label == "pubdate"
    updated = next(d for d in evidence if d.value == date(2023, 3, 1))
    assert updated.label == "更新时间"


def test_pdf_creation_date_with_an_odd_offset():
    doc = ExtractedDocument(format="pdf", doc_metadata=_pdf_metadata("hzq2023_working.pdf"))
    found = collect_dates(doc, FetchContext())
    creation = next(d for d in found if d.label == "CreationDate")
    assert creation.source == "pdf_metadata" and creation.value == date(2024, 2, 26)
    assert "+06'41'" in creation.raw


def test_docx_core_properties_are_read_on_the_beijing_calendar():
    properties = docx.Document(CORPUS / "政务公开年报模版.docx").core_properties
    doc = ExtractedDocument(format="docx", doc_metadata={"created": properties.created.isoformat(),
                                                         "modified": properties.modified.isoformat()})
    found = {d.label: d for d in collect_dates(doc, FetchContext())}
    assert found["created"].source == "docx_metadata"
    assert found["created"].value == date(2025, 12, 3)    # 06:30 UTC
    assert found["modified"].value == date(2025, 12, 9)   # 22:17 UTC on the 8th is the 9th in Beijing


def test_implausible_and_unreadable_dates_are_dropped():
    doc = ExtractedDocument(format="html", meta={"PubDate": "1999-01-01"},
                            page_dates=[("发布日期", "2208-01-30"), ("日期", "不详")])
    context = FetchContext(headers={"Last-Modified": "not a date"}, listing_date="置顶")
    assert collect_dates(doc, context) == []


def test_metadata_keys_that_are_not_dates_are_ignored():
    doc = ExtractedDocument(format="pdf", doc_metadata={"Producer": "WPS 2023", "Title": "2022年报"})
    assert collect_dates(doc, FetchContext()) == []


# ------------------------------------------------------------------ choose_publication_date

def _evidence() -> list[DateEvidence]:
    """One piece of evidence per publication source, each on a different day so the winner is visible."""
    return [
        DateEvidence(date(2023, 1, 2), "docx_metadata", "2023-01-02T00:00:00", "created"),
        DateEvidence(date(2023, 1, 3), "pdf_metadata", "D:20230103", "CreationDate"),
        DateEvidence(date(2023, 1, 4), "http_last_modified", "Wed, 04 Jan 2023 01:00:00 GMT", "Last-Modified"),
        DateEvidence(date(2023, 1, 5), "url", "/t20230105_1", "TRS"),
        DateEvidence(date(2023, 1, 6), "listing", "2023-01-06"),
        DateEvidence(date(2023, 1, 7), "page_label", "2023-01-07", "发布日期"),
        DateEvidence(date(2023, 1, 8), "catalog_box", "2023-01-08", "公开日期"),
        DateEvidence(date(2023, 1, 9), "meta_pubdate", "2023-01-09 10:00", "PubDate"),
        DateEvidence(date(2023, 1, 1), "signing", "2023年1月1日"),
        DateEvidence(date(2022, 12, 30), "written", "2022-12-30", "成文日期"),
    ]


def test_priority_order_of_sources():
    remaining = _evidence()
    for expected in PUBLICATION_PRIORITY:
        chosen = choose_publication_date(remaining)
        winner = next(d for d in remaining if d.source == expected)
        assert (chosen.source, chosen.date) == (expected, winner.value)
        assert chosen.evidence == winner
        remaining = [d for d in remaining if d is not winner]
    # only the signing and 成文 dates are left: neither is a publication date
    chosen = choose_publication_date(remaining)
    assert chosen.date is None and chosen.source is None
    assert "落款日期" in chosen.reason and "成文日期" in chosen.reason


def test_reason_names_the_source_and_the_disagreement():
    chosen = choose_publication_date([
        DateEvidence(date(2023, 1, 30), "meta_pubdate", "2023-01-30 10:20", "PubDate"),
        DateEvidence(date(2023, 1, 27), "url", "/t20230127_1", "TRS"),
    ])
    assert chosen.date == date(2023, 1, 30)
    assert "PubDate" in chosen.reason and "2023-01-30" in chosen.reason
    assert "网址" in chosen.reason and "3 天" in chosen.reason


def test_agreeing_evidence_is_said_to_agree():
    chosen = choose_publication_date([
        DateEvidence(date(2023, 1, 30), "meta_pubdate", "2023-01-30 10:20", "PubDate"),
        DateEvidence(date(2023, 1, 30), "url", "/t20230130_1", "TRS"),
    ])
    assert "一致" in chosen.reason and "相差" not in chosen.reason


def test_update_time_is_never_the_publication_date():
    chosen = choose_publication_date([
        DateEvidence(date(2023, 3, 1), "page_label", "2023-03-01", "更新时间"),
        DateEvidence(date(2023, 1, 28), "url", "/t20230128_1", "TRS"),
    ])
    assert (chosen.source, chosen.date) == ("url", date(2023, 1, 28))


def test_publish_label_beats_a_bare_date_label():
    chosen = choose_publication_date([
        DateEvidence(date(2023, 2, 5), "page_label", "2023-02-05", "日期"),
        DateEvidence(date(2023, 1, 30), "page_label", "2023-01-30", "发布时间"),
    ])
    assert chosen.date == date(2023, 1, 30)


def test_future_dates_are_ignored_when_today_is_known():
    evidence = [DateEvidence(date(2030, 1, 1), "meta_pubdate", "2030-01-01", "PubDate"),
                DateEvidence(date(2023, 1, 30), "url", "/t20230130_1", "TRS")]
    chosen = choose_publication_date(evidence, today=date(2024, 6, 1))
    assert (chosen.source, chosen.date) == ("url", date(2023, 1, 30))
    assert "2030-01-01" in chosen.reason


def test_nothing_at_all():
    chosen = choose_publication_date([])
    assert chosen.date is None and chosen.reason


def test_seed_text_alone_has_no_publication_date():
    dates = collect_dates(ExtractedDocument(format="text", text=seed("001")), FetchContext(filename="seed001.txt"))
    assert [d.source for d in dates] == ["signing"]
    assert choose_publication_date(dates).date is None


# ------------------------------------------------------------------ real pages (tests/realworld)

REALWORLD = Path(__file__).parent / "realworld" / "items"


def real(prefix: str) -> bytes:
    (path,) = REALWORLD.glob(f"{prefix}_*.txt")
    return path.read_bytes()


@pytest.mark.parametrize("prefix, url, expected, label", [
    # "索引号 … 发布日期 2015-03-13 16:03": a flattened catalog row, no colon
    ("r032", "http://www.ankang.gov.cn/Content-75236.html", date(2015, 3, 13), "发布日期"),
    # "发文日期: | 2015-03-18 10:27:17 |": table-cell borders between label and value
    ("r034", "http://www.zichuan.gov.cn/gongkai/site_zcqwsjkj/channel_c_5f9f6a3dc916f710ccee90ee_n_1605683975.5193/"
             "doc_5fb48881189809a28f0dec45.html", date(2015, 3, 18), "发文日期"),
])
def test_labels_in_flattened_rows_give_the_publication_date(prefix, url, expected, label):
    record = parse_document(real(prefix), FetchContext(url=url, content_type="text/plain"))
    assert record.publication_date == expected
    assert record.date_source in ("page_label", "catalog_box")
    assert label in record.date_reason


def test_a_page_saved_as_plain_text_keeps_its_date_label():
    # the text reader reads "发布时间：…" as the HTML reader does
    record = parse_document(real("r022"), FetchContext(filename="r022.txt", content_type="text/plain"))
    assert record.source_format == "text"
    assert (record.publication_date, record.date_source) == (date(2010, 1, 5), "page_label")


def test_issue_date_is_a_publication_label_below_the_publish_date():
    chosen = choose_publication_date([
        DateEvidence(date(2025, 12, 18), "catalog_box", "2025-12-18", "发文日期"),
        DateEvidence(date(2025, 12, 19), "catalog_box", "2025-12-19 16:05", "发布日期"),
    ])
    assert chosen.date == date(2025, 12, 19)
    alone = choose_publication_date([DateEvidence(date(2025, 12, 18), "catalog_box", "2025-12-18", "发文日期")])
    assert alone.date == date(2025, 12, 18)


@pytest.mark.parametrize("written, expected", [
    ("二〇一〇年一月十九日", date(2010, 1, 19)),     # r025, the 落款 of 贺州市人民政府办公室's notice
    ("二○一一年十二月二日", date(2011, 12, 2)),      # l013, ○ (white circle) for zero
    ("二Ｏ二Ｏ年六月三十日", date(2020, 6, 30)),      # full-width letter O for zero
    ("二零二四年一月二十五日", date(2024, 1, 25)),
    ("二〇二四年元月八日", date(2024, 1, 8)),         # 元月: the first month
])
def test_signing_dates_written_in_chinese_numerals(written, expected):
    assert find_signing_date(f"全文完。\n某某镇人民政府\n{written}\n").value == expected


@pytest.mark.parametrize("after", [
    "上一篇：东宝区财政局2023年政府信息公开工作年度报告\n下一篇：2025年3月12日东宝区财政局预算公开",
    "【打印本页】 【关闭窗口】\n2026年12月2日",
    "2025年3月12日修订",
])
def test_the_next_articles_date_a_footers_today_or_a_revision_is_no_signing_date(after):
    """A walk on real-style pages: the 落款 2025年1月20日 was passed over for the 下一篇 line's date, the footer's
    today or a revision note below it, and an on-time report was 无法判断 "落款 2025-03-12，晚于期限"."""
    from parsers.dates import find_signature

    text = ("东宝区财政局2024年政府信息公开工作年度报告\n一、总体情况\n" + "我局认真贯彻落实《条例》。\n" * 8
            + "东宝区财政局\n2025年1月20日\n" + after)
    signature = find_signature(text)
    assert signature is not None and signature.date.value == date(2025, 1, 20), signature


def test_a_date_label_glued_to_the_text_before_it_is_read():
    """Two spans with nothing between them ("来源：硚口区统计局" "发布时间：2025-01-16", as a real page's text shows
    "來源:國家統計局發布時間:…"), and labels real portals use (信息发布日期, 添加时间): the page's date was lost and the
    verdict fell back to the listing, the address or the first capture."""
    from parsers.formats.labels import dates_near_title

    lines = ["东宝区统计局2024年政府信息公开工作年度报告", "来源：硚口区统计局发布时间：2025-01-16",
             "作者：办公室信息发布日期：2025-01-17", "添加时间：2025-01-18"]
    assert dates_near_title(lines, "东宝区统计局2024年政府信息公开工作年度报告") == [
        ("发布时间", "2025-01-16"), ("信息发布日期", "2025-01-17"), ("添加时间", "2025-01-18")]
    page = ("<html><head><meta charset='utf-8'><title>东宝区统计局2024年政府信息公开工作年度报告</title></head><body>"
            "<h1>东宝区统计局2024年政府信息公开工作年度报告</h1><div><span>来源：硚口区统计局</span>"
            "<span>发布时间：2025-01-16</span></div><div><p>一、总体情况</p><p>2024年，我局认真贯彻落实《条例》。</p>"
            "</div></body></html>").encode()
    record = parse_document(page, FetchContext(url="http://127.0.0.1/xxgk/nb/1.html", content_type="text/html"))
    assert (record.publication_date, record.date_source) == (date(2025, 1, 16), "page_label")


@pytest.mark.parametrize("line", ["相关链接：白城市人民政府网站政务公开专栏", "分享到："])
def test_a_line_of_the_reports_own_text_is_no_furniture(line):
    from parsers.dates import find_signature

    text = ("白城市农业农村局2024年政府信息公开工作年度报告\n" + "我局认真贯彻落实《条例》。\n" * 8 + f"{line}\n"
            "六、其他需要报告的事项\n无。\n白城市农业农村局\n2025年1月20日")
    assert find_signature(text).date.value == date(2025, 1, 20)


def test_a_revision_noted_beside_the_signing_date_leaves_the_signing_date():
    from parsers.dates import find_signature

    text = "白城市农业农村局2024年政府信息公开工作年度报告\n" + "我局认真贯彻落实《条例》。\n" * 8 + \
        "白城市农业农村局\n2025年1月20日（2025年3月12日修改）"
    assert find_signature(text).date.value == date(2025, 1, 20)
