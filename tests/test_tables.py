"""parsers.tables: the standard tables rebuilt from flattened text (seeds, real PDF text) and from grids in the
shapes real pages use (merged headers, tables split into several, a table broken across PDF pages)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pdfplumber
import pytest

from parsers.record import ExtractedDocument, Grid
from parsers.tables import extract_tables, tables_from_grids, tables_from_text

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "demo" / "seeds"
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
TABLE_TEXTS = ROOT / "tests" / "fixtures" / "tables"
REALWORLD = ROOT / "tests" / "realworld" / "items"

APPLICANTS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]

# Table-3 row labels as the 2021 format prints them (column 2 and 3 of the real table), in order.
LABELS_2021 = [
    ("一、本年新收政府信息公开申请数量", "一、本年新收政府信息公开申请数量"),
    ("二、上年结转政府信息公开申请数量", "二、上年结转政府信息公开申请数量"),
    ("（一）予以公开", "（一）予以公开"),
    ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"),
    *[("（三）不予公开", item) for item in ("1.属于国家秘密", "2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”",
                                        "4.保护第三方合法权益", "5.属于三类内部事务信息", "6.属于四类过程性信息",
                                        "7.属于行政执法案卷", "8.属于行政查询事项")],
    *[("（四）无法提供", item) for item in ("1.本机关不掌握相关政府信息", "2.没有现成信息需要另行制作", "3.补正后申请内容仍不明确")],
    *[("（五）不予处理", item) for item in ("1.信访举报投诉类申请", "2.重复申请", "3.要求提供公开出版物",
                                        "4.无正当理由大量反复申请", "5.要求行政机关确认或重新出具已获取信息")],
    *[("（六）其他处理", item) for item in ("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
                                        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "3.其他")],
    ("（七）总计", "（七）总计"),
    ("四、结转下年度继续办理", "四、结转下年度继续办理"),
]


def seed(number: str) -> str:
    return (SEEDS / f"seed{number}.txt").read_text(encoding="utf-8")


def pdf_text_and_grids(name: str) -> tuple[str, list[Grid]]:
    with pdfplumber.open(CORPUS / name) as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
        grids = [Grid([[cell or "" for cell in row] for row in table], "pdf")
                 for page in pdf.pages for table in page.extract_tables()]
    return text, grids


def figures(k: int) -> list[str]:
    """Seven distinct figures for row k, so a row read into the wrong place shows."""
    return [str(k * 10 + c) for c in range(7)]


def table3_grid_rows(labels=LABELS_2021) -> list[list[str]]:
    """Data rows of table 3 with rowspan/colspan expanded: the 三、本年度办理结果 cell repeated down its rows."""
    rows = []
    for k, (group, item) in enumerate(labels):
        first = group if group.startswith(("一", "二", "四")) else "三、本年度办理结果"
        rows.append([first, group, item] + figures(k))
    return rows


# ------------------------------------------------------------------ seeds (flattened text)

def test_seed001_flattened_text_gives_all_three_tables():
    tables = tables_from_text(seed("001"))
    table2 = tables["table2"]
    assert table2["columns"] == "2021"
    assert table2["rows"]["行政处罚"] == {"本年处理决定数量": 173}
    assert table2["rows"]["规章"] == {"本年制发件数": 0, "本年废止件数": 0, "现行有效件数": 0}
    assert table2["rows"]["行政事业性收费"] == {"本年收费金额": 0}
    table3 = tables["table3"]
    assert table3["columns"] == APPLICANTS
    assert table3["rows"]["本年新收"] == dict(zip(APPLICANTS, [2, 0, 0, 0, 0, 0, 2]))
    assert table3["rows"]["予以公开"]["总计"] == 2 and table3["rows"]["总计"]["自然人"] == 2
    assert len(table3["rows"]) == 25
    # labels split by the extraction ("4 . 无正当理由大量反复 申 请", "（六）其 他处理") get their canonical names
    assert "不予处理/无正当理由大量反复申请" in table3["rows"]
    assert "其他处理/其他" in table3["rows"] and "其他处理" not in table3["rows"]
    assert set(tables["table4"]) == {"行政复议", "未经复议直接起诉", "复议后起诉"}
    assert tables["table4"]["复议后起诉"] == dict.fromkeys(["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"], 0)
    json.dumps(tables, ensure_ascii=False)  # the shape is printed by `xxgk parse --json`


def test_seed001_rows_land_where_their_labels_say():
    """Every table-3 figure of seed 001 made distinct: each row must come back under its own name."""
    text = seed("001")
    start, end = text.index("三、收到和处理政府信息公开申请情况"), text.index("四、政府信息公开行政复议")
    lines = text[start:end].split("\n")
    k, i = 0, 0
    while i < len(lines):
        if all(re.fullmatch(r"\t\d+", line) for line in lines[i:i + 7]) and len(lines[i:i + 7]) == 7:
            lines[i:i + 7] = ["\t" + f for f in figures(k)]
            k, i = k + 1, i + 7
        else:
            i += 1
    assert k == 25
    rows = tables_from_text(text[:start] + "\n".join(lines) + text[end:])["table3"]["rows"]
    assert rows["本年新收"]["自然人"] == 0 and rows["上年结转"]["总计"] == 16
    assert rows["不予公开/属于国家秘密"]["商业企业"] == 41
    assert rows["不予处理/无正当理由大量反复申请"] == dict(zip(APPLICANTS, [180, 181, 182, 183, 184, 185, 186]))
    assert rows["其他处理/其他"]["总计"] == 226
    assert rows["结转下年度继续办理"]["其他"] == 245


def test_a_missing_row_does_not_shift_the_others():
    """With one row gone, rows are matched by their labels instead of by position."""
    text = seed("001")
    block = re.search(r"\t（二）部分公开[^\n]*\n(?:\t0\n){7}", text)
    assert block
    rows = tables_from_text(text[:block.start()] + text[block.end():])["table3"]["rows"]
    assert "部分公开" not in rows
    assert len(rows) == 24
    assert rows["予以公开"]["自然人"] == 2 and rows["总计"]["总计"] == 2 and rows["本年新收"]["总计"] == 2
    assert rows["不予处理/无正当理由大量反复申请"]["总计"] == 0 and "其他处理/其他" in rows


def test_text_without_tabs_one_cell_per_line():
    """pdf/doc text: no tabs and no blank lines between rows; the same tables come out."""
    tabbed = tables_from_text(seed("001"))
    plain = "\n".join(line.strip() for line in seed("001").splitlines() if line.strip())
    assert "\t" not in plain
    assert tables_from_text(plain) == tabbed


def test_seed003_old_statistics_table():
    stats = tables_from_text(seed("003"))["old_stats"]
    assert stats["主动公开政府信息数"] == 566
    assert stats["政府网站公开政府信息数"] == 456
    assert stats["政务微信公开政府信息数"] == 110
    assert stats["回应公众关注热点或重大舆情数"] == 11
    assert stats["举报投诉数量"] == 19
    assert stats["收到申请数"] == 0 and stats["接受培训人员数"] == 30
    # "—" and empty cells are recorded as missing, never as 0
    assert "政务微博公开政府信息数" in stats and stats["政务微博公开政府信息数"] is None
    assert "当面申请数" in stats and stats["当面申请数"] is None
    # one indicator name used in two groups is told apart by its group
    assert "因政府信息公开引起的行政复议数量/被依法纠错数" in stats
    assert "因政府信息公开引起的行政诉讼数量/被依法纠错数" in stats
    # group headings (unit "——") are not indicators
    assert "主动公开情况" not in stats and "回应解读情况" not in stats
    assert "table3" not in tables_from_text(seed("003"))


def test_seed003_statistics_table_without_tabs_or_blank_lines():
    """Group headings ("一、主动公开情况 ——") must not swallow the next indicator when rows run together."""
    plain = "\n".join(line.strip() for line in seed("003").splitlines() if line.strip())
    assert tables_from_text(plain)["old_stats"] == tables_from_text(seed("003"))["old_stats"]


@pytest.mark.parametrize("number", ["000", "002", "004"])
def test_old_reports_without_tables_give_none(number):
    assert tables_from_text(seed(number)) == {}


# ------------------------------------------------------------------ real PDF text and tables

def test_real_pdf_text_one_row_per_line():
    text, _ = pdf_text_and_grids("szfgs2024.pdf")
    tables = tables_from_text(text)
    assert tables["table2"]["rows"]["行政许可"]["本年处理决定数量"] == 447228
    assert tables["table2"]["rows"]["行政事业性收费"]["本年收费金额"] == 96171.6
    rows = tables["table3"]["rows"]
    assert rows["本年新收"] == dict(zip(APPLICANTS, [3001, 53, 0, 0, 61, 4, 3119]))
    assert rows["其他处理/其他"]["总计"] == 110
    assert rows["总计"]["总计"] == 3050 and rows["结转下年度继续办理"]["总计"] == 103
    assert tables["table4"]["行政复议"] == {"结果维持": 72, "结果纠正": 64, "其他结果": 178, "尚未审结": 37, "总计": 351}
    assert tables["table4"]["复议后起诉"]["总计"] == 20


def test_real_pdf_with_labels_printed_beside_their_figures():
    """hzq2023: figures printed above their labels, a typo in a label, and a single (六)其他处理 row."""
    text, grids = pdf_text_and_grids("hzq2023_working.pdf")
    from_text, from_grids = tables_from_text(text), tables_from_grids(grids)
    rows = from_text["table3"]["rows"]
    assert rows["不予公开/属于国家秘密"]["自然人"] == 1
    assert rows["无法提供/本机关不掌握相关政府信息"]["总计"] == 10
    assert rows["其他处理"]["总计"] == 0 and "其他处理/其他" not in rows
    assert from_text["table4"]["行政复议"]["结果维持"] == 10
    assert from_text == from_grids


def test_first_row_figures_printed_above_its_label():
    text, _ = pdf_text_and_grids("szfgs2024.pdf")
    row = "一、本年新收政府信息公开申请数量 3001 53 0 0 61 4 3119"
    assert text.count(row) == 1
    moved = text.replace(row, "3001 53 0 0 61 4 3119\n一、本年新收政府信息公开申请数量")
    rows = tables_from_text(moved)["table3"]["rows"]
    assert rows["本年新收"]["总计"] == 3119 and rows["上年结转"]["总计"] == 34 and rows["结转下年度继续办理"]["总计"] == 103


@pytest.mark.parametrize("name", ["szfgs2024.pdf", "hzq2024_working.pdf"])
def test_real_pdf_grids_broken_across_pages_match_the_text(name):
    text, grids = pdf_text_and_grids(name)
    from_grids = tables_from_grids(grids)
    assert len(from_grids["table3"]["rows"]) >= 23
    assert from_grids == tables_from_text(text)


def test_table2_header_wrapped_over_two_lines_keeps_each_figure_in_its_column():
    """A walk's finding: narrow PDF header cells wrap as "本年制发 本年废止 现行有效件数" / "件数 件数"; only 现行有效件数
    was recognised and took the row's first figure (行政规范性文件 gave {"现行有效件数": 8}, its 本年制发件数).
    szfgs2024's real table 2 with its header wrapped that way: a row with a figure for each column reads in the form's
    order, and a row short of one cannot be placed, so its figures stay missing instead of moving."""
    text, _ = pdf_text_and_grids("szfgs2024.pdf")
    header = "信息内容 本年制发件数 本年废止件数 现行有效件数\n"
    assert text.count(header) == 1
    wrapped = text.replace(header, "信息内容 本年制发 本年废止 现行有效件数\n件数 件数\n")
    rows = tables_from_text(wrapped)["table2"]["rows"]
    assert rows["规章"] == {"本年制发件数": 1, "本年废止件数": 0, "现行有效件数": 11}
    assert rows["行政规范性文件"] == {"本年制发件数": 8, "本年废止件数": 26, "现行有效件数": 66}
    short = tables_from_text(wrapped.replace("行政规范性文件 8 26 66", "行政规范性文件 8 66"))["table2"]["rows"]
    assert short["行政规范性文件"] == {"现行有效件数": None}


def test_table2_header_with_cut_off_names_from_real_text():
    """tests/realworld/items/r040_yichun_shenji_2019.txt: the header prints "本年新 | 本年新 | 对外公开总数量"
    (制作数量/公开数量 cut off); only the last name was recognised and the row read {"对外公开总数量": 0}."""
    rows = tables_from_text((REALWORLD / "r040_yichun_shenji_2019.txt").read_text(encoding="utf-8"))["table2"]["rows"]
    assert rows["规章"] == {"本年新制作数量": 0, "本年新公开数量": 0, "对外公开总数量": 0}


@pytest.mark.parametrize("mention", [
    "2024年，市司法局本年新收政府信息公开申请3119件，上年结转34件，办结3050件，结转下年度继续办理\n103件。",
    "市司法局本年新收政府信息公开申请\n3119件。",
], ids=["sentence", "line-break-before-figure"])
def test_body_text_mentioning_the_first_row_does_not_start_table_3(mention):
    """A walk's finding: a body line naming 本年新收 whose "。" a PDF line break moved to the next line started table 3
    there, and table 2 (read only before table 3) was lost. szfgs2024's PDF text with such a line above table 2."""
    text, _ = pdf_text_and_grids("szfgs2024.pdf")
    heading = "二、主动公开政府信息情况\n"
    assert text.count(heading) == 1
    tables = tables_from_text(text.replace(heading, mention + "\n" + heading))
    original = tables_from_text(text)
    assert tables["table2"] == original["table2"] and tables["table3"] == original["table3"]


@pytest.mark.parametrize("name, item, row", [
    ("r109_yangling_zjj_2019.txt", "规章", {"本年新制作数量": 0, "本年新公开数量": 1, "对外公开总数量": 17}),
    ("r047_huichang_zhongcun_2020.txt", "行政规范性文件", {"本年新制作数量": 5, "本年新公开数量": 5, "对外公开总数量": 5}),
    ("r010_xixian_taiping_2022.txt", "行政规范性文件", {"本年制发件数": 0, "本年废止件数": 0, "现行有效件数": 0}),
], ids=["r109", "r047", "r010"])
def test_one_cell_per_line_with_blank_lines_between_cells(name, item, row):
    """Real page text (tests/realworld/items) with a blank line after every cell: a blank line ended the row, and
    every figure but a row's first was lost (r109's 规章 0 / 1 / 17 read [0, None, None])."""
    tables = tables_from_text((REALWORLD / name).read_text(encoding="utf-8"))
    assert tables["table2"]["rows"][item] == row


def test_pdftotext_output_reads_like_the_pdf_text():
    """`pdftotext szfgs2024.pdf` (tables 2 and 3; cells one a line, a blank line after each): table 3 was not found."""
    text, _ = pdf_text_and_grids("szfgs2024.pdf")
    tables = tables_from_text((TABLE_TEXTS / "szfgs2024_pdftotext.txt").read_text(encoding="utf-8"))
    original = tables_from_text(text)
    assert tables["table2"] == original["table2"] and tables["table3"] == original["table3"]


def test_pdftotext_output_in_its_own_order_gives_no_misplaced_row():
    """`pdftotext hzq2023_working.pdf`: cells come in an order of their own (several rows of figures, one a line,
    then their labels). What is read must be the PDF's; rows that cannot be placed stay out."""
    text, _ = pdf_text_and_grids("hzq2023_working.pdf")
    original = tables_from_text(text)
    tables = tables_from_text((TABLE_TEXTS / "hzq2023_pdftotext.txt").read_text(encoding="utf-8"))
    assert tables["table2"]["rows"]["行政规范性文件"] == {"本年制发件数": 0, "本年废止件数": 5, "现行有效件数": 5}
    for table in ("table2", "table3"):
        for name, row in tables.get(table, {"rows": {}})["rows"].items():
            assert row == original[table]["rows"][name], (table, name)


# ------------------------------------------------------------------ hand-built grids

def test_table3_grid_with_merged_header_rows():
    header = [["（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"] * 3 + ["申请人情况"] * 7,
              ["（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"] * 3
              + ["自然人", "法人或其他组织", "法人或其他组织", "法人或其他组织", "法人或其他组织", "法人或其他组织", "总计"],
              ["（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"] * 3
              + ["自然人", "商业\n企业", "科研\n机构", "社会公益组织", "法律服务机构", "其他", "总计"]]
    tables = tables_from_grids([Grid(header + table3_grid_rows(), "html")])
    rows = tables["table3"]["rows"]
    assert rows["本年新收"]["自然人"] == 0 and rows["本年新收"]["总计"] == 6
    assert rows["部分公开"]["商业企业"] == 31
    assert rows["无法提供/补正后申请内容仍不明确"]["法律服务机构"] == 144
    assert rows["结转下年度继续办理"] == dict(zip(APPLICANTS, range(240, 247)))
    assert "table2" not in tables and "table4" not in tables


def test_a_2021_table_without_its_two_blank_carry_rows_is_read_by_its_labels():
    """A walk's finding: a 2021 table whose 二、上年结转 and 四、结转下年度 rows are left blank (nothing carried) has
    23 rows with figures, as many as a whole 2019 table, and was read in the 2019 order: every figure a row off,
    and a table that adds up got five 勾稽 errors. Its 2021-only rows (逾期不补正, 收费通知) say which form it is."""
    header = [["", "", "", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]]
    rows = [row if k not in (1, len(LABELS_2021) - 1) else row[:3] + [""] * 7
            for k, row in enumerate(table3_grid_rows())]
    read = tables_from_grids([Grid(header + rows, "html")])["table3"]["rows"]
    assert "上年结转" not in read and "结转下年度继续办理" not in read
    assert read["予以公开"] == dict(zip(APPLICANTS, range(20, 27)))
    assert read["其他处理/其他"]["自然人"] == 220 and read["总计"]["总计"] == 236


def test_figures_printed_on_the_first_line_of_a_wrapped_label_land_on_that_label():
    """A walk's finding: the text of a borderless PDF whose narrow label cells wrap ("2.其他法 30 0 …" then "律行政法",
    "规禁止公开"), with a row left blank (3.要求提供公开出版物: no figures): the rows were matched by the labels before
    their figures, the previous row's tail, and every figure moved a row (禁止公开 showed 危及三安全一稳定's 11).
    Table 3 of 杭州市 2025 (its real figures), as pdfplumber reads such a PDF."""
    text = (ROOT / "tests" / "fixtures" / "tables" / "hangzhou2025_table3_narrow_labels.txt").read_text(encoding="utf-8")
    rows = tables_from_text(text)["table3"]["rows"]
    totals = {name: row["总计"] for name, row in rows.items()}
    assert totals["不予公开/属于国家秘密"] == 13 and totals["不予公开/其他法律行政法规禁止公开"] == 30
    assert totals["不予公开/危及“三安全一稳定”"] == 11 and totals["不予处理/信访举报投诉类申请"] == 203
    assert totals["不予处理/重复申请"] == 148 and totals["不予处理/无正当理由大量反复申请"] == 101
    assert "不予处理/要求提供公开出版物" not in rows   # its row printed no figure: missing, not another row's
    assert totals["其他处理/其他"] == 965 and totals["总计"] == 13810 and totals["结转下年度继续办理"] == 819


def test_table3_header_rows_merged_into_one():
    header = [["", "", "", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]]
    rows = tables_from_grids([Grid(header + table3_grid_rows(), "docx")])["table3"]["rows"]
    assert rows["予以公开"]["其他"] == 25 and rows["总计"]["自然人"] == 230


def test_pdf_table_split_across_two_grids():
    """Page break inside 无法提供: the second grid has no header and the split label '法提供'."""
    rows = table3_grid_rows()
    first, second = rows[:13], rows[13:]
    second[0] = ["", "法提供", "2.没有现成信息需要另行制作"] + figures(13)
    for row in second[1:]:
        row[0] = ""
    header = [["", "", "", "自然人", "法人或其他组织", "", "", "", "", "总计"],
              ["", "", "", "", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", ""]]
    parsed = tables_from_grids([Grid(header + first, "pdf"), Grid(second, "pdf")])["table3"]["rows"]
    assert len(parsed) == 25
    assert parsed["无法提供/没有现成信息需要另行制作"]["自然人"] == 130
    assert parsed["不予处理/信访举报投诉类申请"]["总计"] == 156


def test_table2_as_four_small_tables_with_spanned_values():
    grids = [
        Grid([["第二十条第（一）项"] * 4, ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
              ["规章", "1", "2", "3"], ["行政规范性文件", "4", "5", "6"]], "html"),
        Grid([["第二十条第（五）项"] * 4, ["信息内容"] + ["本年处理决定数量"] * 3, ["行政许可"] + ["550"] * 3], "html"),
        Grid([["第二十条第（六）项"] * 4, ["信息内容"] + ["本年处理决定数量"] * 3,
              ["行政处罚"] + ["173"] * 3, ["行政强制"] + ["—"] * 3], "html"),
        Grid([["第二十条第（八）项"] * 4, ["信息内容"] + ["本年收费金额（单位：万元）"] * 3, ["行政事业性收费"] + ["12.5"] * 3], "html"),
    ]
    table2 = tables_from_grids(grids)["table2"]
    assert table2["columns"] == "2021"
    assert table2["rows"] == {
        "规章": {"本年制发件数": 1, "本年废止件数": 2, "现行有效件数": 3},
        "行政规范性文件": {"本年制发件数": 4, "本年废止件数": 5, "现行有效件数": 6},
        "行政许可": {"本年处理决定数量": 550},
        "行政处罚": {"本年处理决定数量": 173},
        "行政强制": {"本年处理决定数量": None},
        "行政事业性收费": {"本年收费金额": 12.5},
    }


def test_table2_in_the_2019_format():
    grid = Grid([
        ["第二十条第（一）项"] * 4,
        ["信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量"],
        ["规章", "0", "0", "2"],
        ["规范性文件", "7", "7", "41"],
        ["第二十条第（五）项"] * 4,
        ["信息内容", "上一年项目数量", "本年增/减", "处理决定数量"],
        ["行政许可", "35", "+3", "1206"],
        ["其他对外管理服务事项", "4", "-1", "18"],
        ["第二十条第（六）项"] * 4,
        ["信息内容", "上一年项目数量", "本年增／减", "处理决定数量"],
        ["行政处罚", "120", "0", "88"],
        ["行政强制", "6", "", "2"],
        ["第二十条第（八）项"] * 4,
        ["信息内容", "上一年项目数量", "本年增/减", "本年增/减"],
        ["行政事业性收费", "3", "0", "0"],
        ["第二十条第（九）项"] * 4,
        ["信息内容", "采购项目数量", "采购总金额", "采购总金额"],
        ["政府集中采购", "12", "356.75", "356.75"],
    ], "html")
    table2 = tables_from_grids([grid])["table2"]
    assert table2["columns"] == "2019"
    rows = table2["rows"]
    assert rows["行政规范性文件"] == {"本年新制作数量": 7, "本年新公开数量": 7, "对外公开总数量": 41}
    assert rows["行政许可"] == {"上一年项目数量": 35, "本年增/减": 3, "处理决定数量": 1206}
    assert rows["其他对外管理服务事项"]["本年增/减"] == -1
    assert rows["行政强制"] == {"上一年项目数量": 6, "本年增/减": None, "处理决定数量": 2}
    assert rows["行政事业性收费"] == {"上一年项目数量": 3, "本年增/减": 0}
    assert rows["政府集中采购"] == {"采购项目数量": 12, "采购总金额": 356.75}


def test_table3_of_the_2019_format_has_one_other_row():
    labels = LABELS_2021[:20] + [("（六）其他处理", "（六）其他处理")] + LABELS_2021[23:]
    rows = tables_from_grids([Grid(table3_grid_rows(labels), "html")])["table3"]["rows"]
    assert len(rows) == 23
    assert rows["其他处理"]["自然人"] == 200
    assert rows["总计"]["自然人"] == 210 and "其他处理/其他" not in rows


def test_table4_grid_and_missing_cells_stay_missing():
    grid = Grid([["行政复议"] * 5 + ["行政诉讼"] * 10,
                 ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] + ["未经复议直接起诉"] * 5 + ["复议后起诉"] * 5,
                 ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] * 3,
                 ["1", "2", "3", "4", "10", "0", "", "/", "无", "0", "5", "0", "0", "1", "6"]], "docx")
    table4 = tables_from_grids([grid])["table4"]
    assert table4["行政复议"] == {"结果维持": 1, "结果纠正": 2, "其他结果": 3, "尚未审结": 4, "总计": 10}
    assert table4["未经复议直接起诉"] == {"结果维持": 0, "结果纠正": None, "其他结果": None, "尚未审结": None, "总计": 0}
    assert table4["复议后起诉"]["总计"] == 6


def test_blank_template_gives_no_invented_figures():
    """The published format (every figure cell empty) must not become a table of zeros."""
    grids = [Grid([["第二十条第（一）项"] * 4, ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
                   ["规章", "\u3000\u3000", "\u3000", ""]], "docx"),
             Grid([[first, group, item] + [""] * 7 for first, group, item, *_ in table3_grid_rows()], "docx")]
    assert tables_from_grids(grids) == {}


def test_old_statistics_table_as_a_grid():
    grid = Grid([["统　计　指　标", "单位", "统计数"],
                 ["一、主动公开情况", "——", ""],
                 ["（一）主动公开政府信息数（不同渠道和方式公开相同信息计1条）", "条", "1,204"],
                 ["1.政府网站公开政府信息数", "条", "980"],
                 ["其中：主要负责同志参加新闻发布会次数", "次", "—"],
                 ["六、举报投诉数量", "件", "3"],
                 ["七、依申请公开信息收取的费用", "万元", "0.35"]], "html")
    assert tables_from_grids([grid])["old_stats"] == {
        "主动公开政府信息数": 1204, "政府网站公开政府信息数": 980, "主要负责同志参加新闻发布会次数": None,
        "举报投诉数量": 3, "依申请公开信息收取的费用": 0.35}


# ------------------------------------------------------------------ extract_tables: grids first, text for the rest

def test_extract_tables_takes_each_table_from_the_best_source():
    text = seed("001")
    grid = Grid([["", "", "", *APPLICANTS]] + table3_grid_rows(), "html")
    doc = ExtractedDocument(format="html", text=text, grids=[grid])
    tables = extract_tables(doc)
    assert tables["table3"]["rows"]["本年新收"]["总计"] == 6          # from the grid
    assert tables["table2"]["rows"]["行政处罚"]["本年处理决定数量"] == 173  # not in any grid: from the text
    # a grid holding only part of table 3 loses to a text holding all of it
    partial = Grid([["", "", "", *APPLICANTS]] + table3_grid_rows()[:5], "html")
    tables = extract_tables(ExtractedDocument(format="html", text=text, grids=[partial]))
    assert len(tables["table3"]["rows"]) == 25 and tables["table3"]["rows"]["本年新收"]["总计"] == 2


@pytest.mark.parametrize("text", ["", "\t\n\n\t", "规章\n\n行政处罚 x y", "一、本年新收\n" + "1 2 3\n" * 50,
                                  "统计指标\n条\n件\n" * 100, "—\n/\n无\n" * 30])
def test_garbage_text_never_crashes(text):
    tables = tables_from_text(text)
    json.dumps(tables)
    assert "table3" not in tables


def test_ragged_grids_never_crash():
    grids = [Grid([], "pdf"), Grid([[]], "pdf"), Grid([["规章"], ["1", "2"], [None, "行政处罚", None]], "pdf"),  # type: ignore[list-item]
             Grid([["一、本年新收政府信息公开申请数量", "1", "1"]], "html")]
    tables = tables_from_grids(grids)
    assert "table3" not in tables
