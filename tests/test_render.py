"""The five seed reports rendered as HTML (UTF-8, GBK), DOCX and PDF, read back with the real libraries."""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import docx
import lxml.html
import pdfplumber
import pytest

from demo.render import (
    SEED_IDS,
    Paragraph,
    Table,
    document_from_text,
    filled_table,
    load_seed,
    render_docx,
    render_html,
    render_pdf,
    seed_text,
    table_grid,
    with_changed_cell,
)

SEEDS_DIR = Path(__file__).resolve().parents[1] / "demo" / "seeds"

# What a reader checks first in each report: who, what, and one figure (in a table when the report has tables).
KEY_FACTS = {
    "000": {"agency": "临淄区卫计局", "title": None, "figure": "609", "in_table": False},
    "001": {"agency": "临淄区卫生健康局", "title": "2022年政府信息公开工作年度报告", "figure": "173", "in_table": True},
    "002": {"agency": "遂宁市安居区卫计局", "title": "2017年政府信息公开工作年度报告", "figure": "689", "in_table": False},
    "003": {"agency": "普陀区卫生和计划生育局", "title": "2018年政务公开工作总结", "figure": "566", "in_table": True},
    "004": {"agency": "镇海区卫生计生局", "title": "政府信息公开工作2015年年度报告", "figure": "828", "in_table": False},
}
CREATED = datetime(2023, 1, 29, 9, 0, tzinfo=timezone(timedelta(hours=8)))
MODIFIED = datetime(2023, 1, 30, 10, 20, tzinfo=timezone(timedelta(hours=8)))


def squeeze(text: str) -> str:
    return "".join(text.split())


def html_grids(root) -> list[list[list[str]]]:
    """Each <table border> of the article as rows of text, rowspan/colspan expanded."""
    grids = []
    for table in root.xpath('//div[@id="zoom"]//table'):
        taken: dict[tuple[int, int], str] = {}
        rows = table.xpath("./tr|./tbody/tr")
        for r, tr in enumerate(rows):
            c = 0
            for td in tr.xpath("./td|./th"):
                while (r, c) in taken:
                    c += 1
                rowspan, colspan = int(td.get("rowspan", 1)), int(td.get("colspan", 1))
                for dr in range(rowspan):
                    for dc in range(colspan):
                        taken[(r + dr, c + dc)] = td.text_content()
                c += colspan
        width = max(c for _, c in taken) + 1
        grids.append([[taken.get((r, c)) for c in range(width)] for r in range(len(rows))])
    return grids


def pdf_text_and_tables(data: bytes) -> tuple[str, list[list[list[str | None]]]]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        text = "".join(page.extract_text() or "" for page in pdf.pages)
        tables = [table for page in pdf.pages for table in page.extract_tables()]
    return text, tables


def cell_origins(table: Table) -> set[tuple[int, int]]:
    """Grid positions where a cell starts (the only positions pdfplumber fills for a merged cell)."""
    grid_width = len(table_grid(table)[0])
    origins, taken = set(), set()
    for r, row in enumerate(table.rows):
        c = 0
        for cell in row:
            while (r, c) in taken:
                c += 1
            origins.add((r, c))
            taken |= {(r + dr, c + dc) for dr in range(cell.rowspan) for dc in range(cell.colspan)}
            c += cell.colspan
    assert all(c < grid_width for _, c in origins)
    return origins


# ----------------------------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_seed_text_is_the_file_byte_for_byte(seed_id):
    assert seed_text(seed_id) == (SEEDS_DIR / f"seed{seed_id}.txt").read_bytes()


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_key_facts_are_in_the_seed_itself(seed_id):
    text = seed_text(seed_id).decode("utf-8")
    facts = KEY_FACTS[seed_id]
    assert facts["agency"] in text and facts["figure"] in text
    assert facts["title"] is None or facts["title"] in text


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_document_loses_nothing_of_the_seed_text(seed_id):
    doc = load_seed(seed_id)
    rebuilt = "".join(
        block.text if isinstance(block, Paragraph) else "".join(c.text for row in block.rows for c in row)
        for block in doc.blocks
    )
    original = seed_text(seed_id).decode("utf-8").replace("[bookmark: _GoBack]", "")
    assert squeeze(rebuilt) == squeeze(original)
    assert not any("[bookmark" in b.text for b in doc.blocks if isinstance(b, Paragraph))


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_titles_come_from_the_first_lines(seed_id):
    doc = load_seed(seed_id)
    facts = KEY_FACTS[seed_id]
    if facts["title"] is None:
        assert doc.title is None
        assert all(b.role != "title" for b in doc.blocks if isinstance(b, Paragraph))
        return
    assert doc.title.endswith(facts["title"])
    assert doc.blocks[0].role == "title"


def test_seed_000_keeps_agency_and_date_only_in_the_signature():
    doc = load_seed("000")
    signature = [b.text for b in doc.blocks if isinstance(b, Paragraph) and b.role == "signature"]
    assert signature == ["临淄区卫计局", "2018年3月2日"]
    assert doc.blocks[0].text.startswith("按照市政府办公厅")


def test_seed_001_tables_have_the_2021_format_shape_and_merges():
    doc = load_seed("001")
    assert [len(t.rows) for t in doc.tables] == [14, 28, 4]
    grids = [table_grid(t) for t in doc.tables]
    assert [len(g[0]) for g in grids] == [4, 10, 15]
    cells = {cell.text: cell for t in doc.tables for row in t.rows for cell in row}
    assert (cells["申请人情况"].colspan, cells["法人或其他组织"].colspan) == (7, 5)
    assert cells["三、本年度办理结果"].rowspan == 22
    assert cells["（三）不予公开"].rowspan == 8
    assert cells["未经复议直接起诉"].colspan == 5
    assert [c.rowspan for c in doc.tables[2].rows[1][:5]] == [2] * 5  # 行政复议 结果维持 … 总计
    assert "商业企业" in cells and "4.无正当理由大量反复申请" in cells
    # Labels read like the document, not like the line-broken extraction.
    assert not [text for text in cells if squeeze(text) != text]
    assert grids[0][9] == ["行政处罚", "173", "173", "173"]
    assert grids[1][3] == ["一、本年新收政府信息公开申请数量"] * 3 + ["2", "0", "0", "0", "0", "0", "2"]


def test_seed_003_statistics_table_has_the_seed_numbers():
    doc = load_seed("003")
    (table,) = doc.tables
    grid = table_grid(table)
    assert len(grid) == 60 and all(len(row) == 3 for row in grid)
    by_label = {squeeze(row[0]): row[1:] for row in grid}
    assert by_label["（一）主动公开政府信息数（不同渠道和方式公开相同信息计1条）"] == ["条", "566"]
    assert by_label["1.政府网站公开政府信息数"] == ["条", "456"]
    assert by_label["（三）接受培训人员数"] == ["人次", "30"]
    assert all(cell.header for cell in table.rows[0])


def test_a_table_that_does_not_spell_its_text_is_refused():
    text = seed_text("001").decode("utf-8")
    form = json.loads((SEEDS_DIR / "seed001.json").read_text("utf-8"))
    assert document_from_text("001", text, form).tables  # the real form passes
    wrong_number = copy.deepcopy(form)
    wrong_number["tables"][0]["rows"][9][1]["text"] = "174"
    with pytest.raises(ValueError, match="do not spell"):
        document_from_text("001", text, wrong_number)
    missing_anchor = copy.deepcopy(form)
    missing_anchor["tables"][2]["before_line"] = "五、不存在的标题"
    with pytest.raises(ValueError, match="found 0 times"):
        document_from_text("001", text, missing_anchor)
    ragged = copy.deepcopy(form)
    ragged["tables"][2]["rows"][3].pop()
    with pytest.raises(ValueError):
        document_from_text("001", text, ragged)


def test_unknown_seed_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown seed"):
        load_seed("005")
    with pytest.raises(ValueError, match="unknown seed"):
        seed_text("../seeds/seed001")


# ----------------------------------------------------------------------------------------------- HTML


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_html_utf8_page_has_title_body_and_real_tables(seed_id):
    doc = load_seed(seed_id)
    facts = KEY_FACTS[seed_id]
    data = render_html(doc, meta={"PubDate": "2023-01-30 10:20"}, page_date=("发布时间", "2023-01-30"),
                       site_name="临淄区人民政府")
    root = lxml.html.fromstring(data)  # lxml reads the declared charset itself
    assert root.xpath('//meta[@name="PubDate"]/@content') == ["2023-01-30 10:20"]
    assert "发布时间：2023-01-30" in root.xpath('string(//div[@class="info"])')
    assert "首页" in root.xpath('string(//div[@class="breadcrumb"])')
    body = root.xpath('string(//div[@id="zoom"])')
    assert facts["agency"] in body and facts["figure"] in body
    h1 = root.xpath("//h1")
    if facts["title"] is None:
        assert h1 == []
    else:
        assert h1[0].text_content() == doc.title
        assert facts["title"] in h1[0].text_content()
    assert html_grids(root) == [table_grid(t) for t in doc.tables]
    paragraphs = [squeeze(p.text_content()) for p in root.xpath('//div[@id="zoom"]/p')]
    assert paragraphs == [squeeze(b.text) for b in doc.blocks if isinstance(b, Paragraph) and b.role != "title"]


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_html_gbk_is_really_gbk_with_or_without_declaration(seed_id):
    doc = load_seed(seed_id)
    facts = KEY_FACTS[seed_id]
    declared = render_html(doc, encoding="gbk")
    undeclared = render_html(doc, encoding="gbk", declare_charset=False)
    with pytest.raises(UnicodeDecodeError):
        declared.decode("utf-8")
    assert b'<meta charset="gbk">' in declared
    assert b"charset" not in undeclared.lower()
    for data in (declared, undeclared):
        root = lxml.html.fromstring(data.decode("gbk"))
        body = root.xpath('string(//div[@id="zoom"])')
        assert facts["agency"] in body and facts["figure"] in body
        assert html_grids(root) == [table_grid(t) for t in doc.tables]
    assert declared.decode("gbk") == render_html(doc).decode("utf-8").replace(
        '<meta charset="utf-8">', '<meta charset="gbk">')


def test_html_catalog_box_attachments_and_escaping():
    doc = with_changed_cell(load_seed("001"), 0, 9, 1, "<b>173</b> & 😀")
    data = render_html(
        doc, encoding="gbk",
        catalog_box={"索引号": "11370305/2023-00012", "发布机构": "临淄区卫生健康局", "成文日期": "2023-01-29",
                     "公开日期": "2023-01-30"},
        attachments=[("/xxgk/P020230130.pdf?a=1&b=2", "2022年年报.pdf")],
        meta={"ArticleTitle": 'A "quoted" title'},
    )
    root = lxml.html.fromstring(data.decode("gbk"))
    box = root.xpath('string(//div[@class="xxgk-catalog"])')
    assert "索引号：" in box and "11370305/2023-00012" in box and "公开日期：" in box and "2023-01-30" in box
    assert root.xpath('//div[@class="attachments"]//a/@href') == ["/xxgk/P020230130.pdf?a=1&b=2"]
    assert root.xpath('//meta[@name="ArticleTitle"]/@content') == ['A "quoted" title']
    # Markup in text stays text, and a character GBK lacks survives as a character reference.
    assert html_grids(root)[0][9][1] == "<b>173</b> & 😀"
    assert root.xpath('//div[@id="zoom"]//b') == []


def test_html_refuses_an_unknown_encoding():
    with pytest.raises(ValueError, match="unknown encoding"):
        render_html(load_seed("002"), encoding="no-such-charset")


# ----------------------------------------------------------------------------------------------- DOCX


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_docx_has_the_text_and_real_merged_tables(seed_id):
    doc = load_seed(seed_id)
    facts = KEY_FACTS[seed_id]
    word = docx.Document(io.BytesIO(render_docx(doc, created=CREATED, modified=MODIFIED)))
    text = "\n".join(p.text for p in word.paragraphs)
    assert facts["agency"] in text
    assert facts["title"] is None or facts["title"] in text
    assert len(word.tables) == len(doc.tables)
    for word_table, table in zip(word.tables, doc.tables):
        assert [[cell.text for cell in row.cells] for row in word_table.rows] == table_grid(table)
    table_text = "".join(cell.text for t in word.tables for row in t.rows for cell in row.cells)
    assert facts["figure"] in (table_text if facts["in_table"] else text)
    assert word.core_properties.created == CREATED.astimezone(timezone.utc)
    assert word.core_properties.modified == MODIFIED.astimezone(timezone.utc)
    assert word.core_properties.title == (doc.title or "")


def test_docx_merged_cells_are_word_merges():
    word = docx.Document(io.BytesIO(render_docx(load_seed("001"))))
    table3 = word.tables[1]
    assert table3.cell(5, 0)._tc is table3.cell(26, 0)._tc  # 三、本年度办理结果, rowspan 22
    assert table3.cell(5, 0).text == "三、本年度办理结果"
    assert table3.cell(1, 4)._tc is table3.cell(1, 8)._tc  # 法人或其他组织, colspan 5
    assert table3.cell(3, 3)._tc is not table3.cell(3, 4)._tc


def test_docx_without_dates_carries_no_dates():
    data = render_docx(load_seed("004"))
    word = docx.Document(io.BytesIO(data))
    assert word.core_properties.created is None and word.core_properties.modified is None
    assert word.core_properties.author == ""
    assert {info.date_time for info in zipfile.ZipFile(io.BytesIO(data)).infolist()} == {(1980, 1, 1, 0, 0, 0)}


# ----------------------------------------------------------------------------------------------- PDF


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_pdf_text_is_readable_and_tables_are_found(seed_id):
    doc = load_seed(seed_id)
    facts = KEY_FACTS[seed_id]
    text, tables = pdf_text_and_tables(render_pdf(doc, creation_date=MODIFIED))
    flat = squeeze(text)
    assert facts["agency"] in flat and facts["figure"] in flat
    assert facts["title"] is None or facts["title"] in flat
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            assert squeeze(block.text) in flat
    assert len(tables) >= len(doc.tables)
    found_cells = {squeeze(cell) for table in tables for row in table for cell in row if cell}
    expected_cells = {squeeze(cell.text) for t in doc.tables for row in t.rows for cell in row if cell.text.strip()}
    assert expected_cells <= found_cells
    assert (facts["figure"] in found_cells) == facts["in_table"]


def test_pdf_tables_of_seed_001_keep_their_merged_cells():
    doc = load_seed("001")
    _, tables = pdf_text_and_tables(render_pdf(doc, keep_tables_together=True))
    assert len(tables) == 3
    for extracted, table in zip(tables, doc.tables):
        grid = table_grid(table)
        assert (len(extracted), len(extracted[0])) == (len(grid), len(grid[0]))
        origins = cell_origins(table)
        for r, row in enumerate(extracted):
            for c, value in enumerate(row):
                # pdfplumber fills a merged cell once, at its top-left corner.
                assert (value is not None) == ((r, c) in origins)
                if value is not None:
                    assert squeeze(value) == squeeze(grid[r][c])


def test_pdf_table_of_seed_003_spans_pages_without_losing_rows():
    doc = load_seed("003")
    _, tables = pdf_text_and_tables(render_pdf(doc))
    rows = [[squeeze(cell or "") for cell in row] for table in tables for row in table]
    assert rows == [[squeeze(cell) for cell in row] for row in table_grid(doc.tables[0])]


def test_pdf_metadata_dates_only_when_given():
    doc = load_seed("001")
    with pdfplumber.open(io.BytesIO(render_pdf(doc, creation_date=MODIFIED))) as pdf:
        assert pdf.metadata["CreationDate"] == "D:20230130102000+08'00'"
        assert pdf.metadata["Title"] == doc.title
    with pdfplumber.open(io.BytesIO(render_pdf(doc))) as pdf:
        assert not pdf.metadata["CreationDate"].startswith(f"D:{datetime.now().year}")


# ----------------------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("seed_id", SEED_IDS)
def test_rendering_twice_gives_identical_bytes(seed_id):
    doc = load_seed(seed_id)
    for render in (
        lambda d: render_html(d, meta={"PubDate": "2023-01-30 10:20"}),
        lambda d: render_html(d, encoding="gbk"),
        lambda d: render_docx(d, created=CREATED, modified=MODIFIED),
        lambda d: render_docx(d),
        lambda d: render_pdf(d, creation_date=CREATED),
        lambda d: render_pdf(d),
    ):
        assert render(doc) == render(load_seed(seed_id))


def test_another_process_renders_the_same_bytes():
    script = (
        "import sys, hashlib\n"
        "from demo.render import load_seed, render_docx, render_pdf, render_html\n"
        "d = load_seed('001')\n"
        "for b in (render_html(d, encoding='gbk'), render_docx(d), render_pdf(d)):\n"
        "    print(hashlib.sha256(b).hexdigest())\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    doc = load_seed("001")
    here = [hashlib.sha256(b).hexdigest() for b in (render_html(doc, encoding="gbk"), render_docx(doc), render_pdf(doc))]
    assert result.stdout.split() == here


# ----------------------------------------------------------------------------------------------- one cell changed


def test_with_changed_cell_changes_exactly_that_cell():
    original = load_seed("001")
    before = [table_grid(t) for t in original.tables]
    changed = with_changed_cell(original, 1, 3, 3, "3")  # 表三 一、本年新收 × 自然人
    after = [table_grid(t) for t in changed.tables]
    differences = [(t, r, c) for t in range(3) for r in range(len(before[t])) for c in range(len(before[t][r]))
                   if before[t][r][c] != after[t][r][c]]
    assert differences == [(1, 3, 3)]
    assert after[1][3][3] == "3"
    assert [table_grid(t) for t in original.tables] == before  # the original is untouched
    assert [b for b in changed.blocks if isinstance(b, Paragraph)] == \
        [b for b in original.blocks if isinstance(b, Paragraph)]
    # The change reaches every format.
    root = lxml.html.fromstring(render_html(changed))
    assert html_grids(root)[1][3][3] == "3"
    word = docx.Document(io.BytesIO(render_docx(changed)))
    assert word.tables[1].cell(3, 3).text == "3"


def test_with_changed_cell_on_a_merged_cell_changes_it_as_a_whole():
    changed = with_changed_cell(load_seed("001"), 0, 9, 2, "174")  # 行政处罚, colspan 3
    assert table_grid(changed.tables[0])[9] == ["行政处罚", "174", "174", "174"]
    _, tables = pdf_text_and_tables(render_pdf(changed, keep_tables_together=True))
    assert tables[0][9][1] == "174"


def test_with_changed_cell_out_of_range_is_a_clear_error():
    doc = load_seed("001")
    with pytest.raises(IndexError, match="no table 3"):
        with_changed_cell(doc, 3, 0, 0, "x")
    with pytest.raises(IndexError, match="28×10"):
        with_changed_cell(doc, 1, 28, 0, "x")
    with pytest.raises(IndexError):
        with_changed_cell(load_seed("000"), 0, 0, 0, "x")


def test_filled_table_writes_the_given_cells_and_leaves_the_original_alone():
    table2 = load_seed("001").tables[0]
    filled = filled_table(table2, {(9, 1): "96", (9, 3): "96", (3, 1): "2"})  # 行政处罚 is one cell over 3 columns
    assert table_grid(filled)[9] == ["行政处罚", "96", "96", "96"]
    assert table_grid(filled)[3] == ["行政规范性文件", "2", "0", "0"]
    assert table_grid(table2)[9] == ["行政处罚", "173", "173", "173"]
    with pytest.raises(ValueError, match="merged"):
        filled_table(table2, {(9, 1): "96", (9, 2): "97"})
    with pytest.raises(IndexError, match="14×4"):
        filled_table(table2, {(14, 0): "x"})
