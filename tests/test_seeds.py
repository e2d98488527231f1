"""The five seed reports, rendered into every format a portal serves, must all give the same facts.

This is the parsers' acceptance test: formats, tables, classification, dates and consistency together,
through the one public entry point ``parse_document``.
"""
from __future__ import annotations

from datetime import date

import pytest

from demo.render import (SEED_IDS, load_seed, render_docx, render_html, render_pdf, seed_text, table_grid,
                                  with_changed_cell)
from parsers import FetchContext, parse_document

EXPECTED = {
    "000": dict(agency="临淄区卫计局", report_year=2017, signing_date=date(2018, 3, 2), format="old"),
    "001": dict(agency="临淄区卫生健康局", report_year=2022, signing_date=date(2023, 1, 29), format="2021"),
    "002": dict(agency="遂宁市安居区卫计局", report_year=2017, signing_date=None, format="old"),
    "003": dict(agency="普陀区卫生和计划生育局", report_year=2018, signing_date=None, format="work_summary"),
    "004": dict(agency="镇海区卫生计生局", report_year=2015, signing_date=None, format="old"),
}

# Each variant: how the document is served, and the context a crawler would pass with it.
VARIANTS = {
    "text": lambda sid: (seed_text(sid), FetchContext(filename=f"seed{sid}.txt", content_type="text/plain; charset=utf-8")),
    "html-utf8": lambda sid: (render_html(load_seed(sid)),
                              FetchContext(url=f"http://portal.test/xxgk/ndbg/{sid}.html", content_type="text/html; charset=utf-8")),
    "html-gbk": lambda sid: (render_html(load_seed(sid), encoding="gbk"),
                             FetchContext(url=f"http://portal.test/xxgk/ndbg/{sid}.html", content_type="text/html; charset=GBK")),
    # GBK bytes with no declaration anywhere: the reader must detect the encoding.
    "html-gbk-undeclared": lambda sid: (render_html(load_seed(sid), encoding="gbk", declare_charset=False),
                                        FetchContext(url=f"http://portal.test/xxgk/ndbg/{sid}.html", content_type="text/html")),
    "docx": lambda sid: (render_docx(load_seed(sid)), FetchContext(filename=f"seed{sid}.docx")),
    "pdf": lambda sid: (render_pdf(load_seed(sid)), FetchContext(url=f"http://portal.test/uploads/seed{sid}.pdf",
                                                                 content_type="application/pdf")),
}


@pytest.fixture(scope="module")
def records():
    cache = {}

    def get(seed_id: str, variant: str):
        key = (seed_id, variant)
        if key not in cache:
            data, context = VARIANTS[variant](seed_id)
            cache[key] = parse_document(data, context)
        return cache[key]

    return get


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_every_format_gives_the_seed_facts(records, seed_id, variant):
    record = records(seed_id, variant)
    expected = EXPECTED[seed_id]
    assert record.error is None
    assert record.is_report, record.kind_reason
    assert record.kind == "report"
    assert record.agency == expected["agency"]
    assert record.report_year == expected["report_year"]
    assert record.signing_date == expected["signing_date"]
    assert record.format == expected["format"], record.format_reason
    assert record.level == "department"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_seed001_tables_and_consistency(records, variant):
    record = records("001", variant)
    tables = record.tables
    assert tables["table2"]["columns"] == "2021"
    assert tables["table2"]["rows"]["行政处罚"]["本年处理决定数量"] == 173
    assert tables["table2"]["rows"]["行政强制"]["本年处理决定数量"] == 0
    new = tables["table3"]["rows"]["本年新收"]
    assert new["自然人"] == 2 and new["总计"] == 2 and new["商业企业"] == 0
    assert tables["table3"]["rows"]["予以公开"]["总计"] == 2
    assert tables["table4"]["行政复议"]["总计"] == 0
    assert record.consistency_errors == []
    assert record.template.sections_missing == []
    assert record.template.has_statistics_period


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_seed003_statistics_table(records, variant):
    stats = records("003", variant).tables["old_stats"]
    assert stats["主动公开政府信息数"] == 566
    assert stats["政务微信公开政府信息数"] == 110
    assert stats["举报投诉数量"] == 19


def test_signing_date_is_evidence_not_publication(records):
    record = records("001", "text")
    signing = [d for d in record.dates if d.source == "signing"]
    assert [d.value for d in signing] == [date(2023, 1, 29)]
    assert signing[0].raw.strip() == "2023年1月29日"
    # a bare text file has nothing that says when it was published
    assert record.publication_date is None


def test_html_publication_date_comes_from_meta_with_its_source():
    doc = load_seed("001")
    html = render_html(doc, meta={"PubDate": "2023-01-30 10:20", "ArticleTitle": "临淄区卫生健康局2022年政府信息公开工作年度报告"},
                       page_date=("发布时间", "2023-01-30"))
    record = parse_document(html, FetchContext(url="http://www.linzi.gov.cn/gongkai/202301/t20230130_1234567.html",
                                               content_type="text/html; charset=utf-8"))
    assert record.publication_date == date(2023, 1, 30)
    assert record.date_source == "meta_pubdate"
    sources = {(d.source, d.value) for d in record.dates}
    assert ("meta_pubdate", date(2023, 1, 30)) in sources
    assert ("url", date(2023, 1, 30)) in sources
    assert ("signing", date(2023, 1, 29)) in sources
    raw = next(d.raw for d in record.dates if d.source == "meta_pubdate")
    assert raw == "2023-01-30 10:20"


def seed001_with_one_number_changed():
    """予以公开/自然人 2 -> 3 in the real table-3 grid of seed 001."""
    doc = load_seed("001")
    index = next(i for i, table in enumerate(doc.tables) if "予以公开" in str(table_grid(table)))
    grid = table_grid(doc.tables[index])
    row = next(r for r, cells in enumerate(grid) if any("予以公开" in cell for cell in cells))
    header = next(r for r, cells in enumerate(grid) if "自然人" in cells)
    col = grid[header].index("自然人")
    assert grid[row][col] == "2"
    return with_changed_cell(doc, index, row, col, "3")


CHANGED = {
    "html": lambda doc: (render_html(doc), FetchContext(url="http://portal.test/r.html", content_type="text/html")),
    "docx": lambda doc: (render_docx(doc), FetchContext(filename="r.docx")),
    "pdf": lambda doc: (render_pdf(doc), FetchContext(filename="r.pdf")),
}


@pytest.mark.parametrize("variant", list(CHANGED))
def test_one_changed_number_breaks_exactly_its_rules_in_every_format(variant):
    data, context = CHANGED[variant](seed001_with_one_number_changed())
    record = parse_document(data, context)
    assert record.is_report
    errors = sorted(record.consistency_errors, key=lambda e: e.rule)
    assert [e.rule for e in errors] == ["t3.col.total", "t3.row.total"]
    assert "自然人" in errors[0].where and "予以公开" in errors[1].where
