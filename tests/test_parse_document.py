"""``parse_document`` as the crawler uses it: look-alikes told apart, bad input turned into error records."""
from __future__ import annotations

import io
import os
import time
import zipfile

import pytest

from demo.render import load_seed, render_docx, render_html, render_pdf, seed_text
from parsers import FetchContext, parse_document

ARTICLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{pubdate}"></head>
<body><div class="nav"><a href="/">首页</a> &gt; <a href="/xxgk/">信息公开</a></div>
<h1>{title}</h1><div class="info">发布时间：{pubdate}</div><div class="content">{body}</div></body></html>"""


def _page(title: str, body: str, pubdate: str = "2022-12-01 09:00") -> bytes:
    return ARTICLE.format(title=title, body=body, pubdate=pubdate).encode("utf-8")


NOTICE = _page(
    "关于做好2022年政府信息公开工作年度报告编制工作的通知",
    "<p>各镇人民政府、街道办事处，区政府各部门：</p>"
    "<p>根据《中华人民共和国政府信息公开条例》第四十九条规定，现就做好2022年政府信息公开工作年度报告编制和发布工作通知如下。</p>"
    "<p>一、各单位应于2023年1月31日前在本单位政府信息公开专栏发布本机关2022年政府信息公开工作年度报告。</p>"
    "<p>二、年度报告应严格按照《中华人民共和国政府信息公开工作年度报告格式》编制。</p>"
    "<p>临淄区人民政府办公室</p><p>2022年12月1日</p>",
)
FORMAT_DOCUMENT = _page(
    "国务院办公厅政府信息与政务公开办公室关于印发《中华人民共和国政府信息公开工作年度报告格式》的通知",
    "<p>国办公开办函〔2021〕30号</p><p>各省、自治区、直辖市人民政府办公厅，国务院各部委、各直属机构办公厅（室）：</p>"
    "<p>为进一步规范政府信息公开工作年度报告的编制和发布，现将修订后的《中华人民共和国政府信息公开工作年度报告格式》印发给你们，"
    "请遵照执行。</p><p>中华人民共和国政府信息公开工作年度报告格式</p><p>一、总体情况</p><p>（文字描述）</p>"
    "<p>二、主动公开政府信息情况</p><p>三、收到和处理政府信息公开申请情况</p><p>四、政府信息公开行政复议、行政诉讼情况</p>"
    "<p>五、存在的主要问题及改进情况</p><p>六、其他需要报告的事项</p>",
    pubdate="2021-09-26 10:00",
)
NEWS = _page(
    "临淄区卫生健康局开展健康知识进社区活动",
    "<p>近日，临淄区卫生健康局组织医务人员走进社区，开展健康知识宣传活动，发放宣传材料500余份。</p>"
    "<p>活动现场，医务人员为群众免费测量血压、血糖，并讲解慢性病防治知识。</p>",
)


@pytest.mark.parametrize(
    "data, kind",
    [(NOTICE, "notice"), (FORMAT_DOCUMENT, "format_document"), (NEWS, "other")],
    ids=["notice", "format-document", "news"],
)
def test_look_alikes_are_not_reports(data, kind):
    record = parse_document(data, FetchContext(url="http://www.linzi.gov.cn/xxgk/ndbg/page.html", content_type="text/html"))
    assert record.error is None
    assert not record.is_report
    assert record.kind == kind
    assert record.kind_reason
    assert record.consistency_errors == []  # rules are only checked on reports


def test_changed_table3_number_reports_exactly_the_broken_rules():
    """予以公开/自然人 2 -> 3 in seed 001: only the 自然人 column total and the 予以公开 row total break."""
    text = seed_text("001").decode("utf-8")
    marker = "（一）予以公开\n\t2\n"
    assert text.count(marker) == 1
    broken = parse_document(text.replace(marker, "（一）予以公开\n\t3\n").encode("utf-8"),
                            FetchContext(filename="seed001.txt"))
    assert broken.error is None and broken.is_report
    errors = sorted(broken.consistency_errors, key=lambda e: e.rule)
    assert [e.rule for e in errors] == ["t3.col.total", "t3.row.total"]
    column, row = errors
    assert "自然人" in column.where and (column.expected, column.found) in {(3, 2), (2, 3)}
    assert "予以公开" in row.where and (row.expected, row.found) in {(3, 2), (2, 3)}


# ------------------------------------------------------------------ bad input

def _truncated_pdf() -> bytes:
    data = render_pdf(load_seed("002"))
    return data[: len(data) // 3]


def _docx_that_is_html() -> bytes:
    return render_html(load_seed("004"))


BAD_INPUTS = {
    "empty": (lambda: b"", FetchContext(filename="empty.pdf")),
    "truncated-pdf": (_truncated_pdf, FetchContext(filename="report.pdf", content_type="application/pdf")),
    "random-bytes": (lambda: os.urandom(200_000), FetchContext(url="http://portal.test/download?id=7")),
    "broken-zip-docx": (lambda: b"PK\x03\x04" + os.urandom(5000), FetchContext(filename="report.docx")),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_becomes_an_error_record(name):
    make, context = BAD_INPUTS[name]
    record = parse_document(make(), context)
    assert record.error, f"{name}: expected an error message"
    assert not record.is_report
    assert len(record.error) < 300 and "\n" not in record.error


def test_fifty_megabytes_are_refused_quickly():
    data = b"<html><body>" + b"<p>\xe5\xb9\xb4\xe6\x8a\xa5</p>" * (50 * 2**20 // 16) + b"</body></html>"
    started = time.monotonic()
    record = parse_document(data, FetchContext(url="http://portal.test/big.html", content_type="text/html"))
    elapsed = time.monotonic() - started
    assert record.error and "MB" in record.error
    assert elapsed < 10, "a huge document must be refused, not parsed"


def test_docx_that_is_really_html_is_read_as_html():
    record = parse_document(_docx_that_is_html(), FetchContext(filename="report.docx",
                                                               content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
    assert record.error is None
    assert record.source_format == "html"
    assert record.agency == "镇海区卫生计生局" and record.report_year == 2015
    assert record.warnings


def test_wrong_charset_declaration_is_corrected():
    gbk = render_html(load_seed("002"), encoding="gbk", declare_charset=False)
    record = parse_document(gbk, FetchContext(url="http://portal.test/a.html", content_type="text/html; charset=utf-8"))
    assert record.error is None
    assert record.agency == "遂宁市安居区卫计局"
    assert record.encoding and record.encoding.lower().replace("-", "") in {"gb18030", "gbk", "gb2312"}
    assert record.warnings


def test_docx_and_pdf_in_a_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("说明.txt", "附件说明")
        archive.writestr("临淄区卫生健康局2022年政府信息公开工作年度报告.docx", render_docx(load_seed("001")))
    record = parse_document(buffer.getvalue(), FetchContext(filename="nianbao.zip"))
    assert record.error is None
    assert record.source_format == "zip/docx"
    assert record.agency == "临淄区卫生健康局" and record.report_year == 2022


def test_image_needs_ocr():
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
           b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
    record = parse_document(png, FetchContext(filename="scan.png"))
    assert record.needs_ocr
    assert not record.is_report
