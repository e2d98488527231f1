"""Rebuild the standard tables of an annual report from grids or from flattened text.

Grids (HTML/DOCX/PDF tables) and text (one cell per line, or one row per line as PDF text gives) are both turned
into one stream of cells: labels, values, empty cells and row breaks. Each table then has its own reader over that
stream, so a table split into several small tables, broken across pages or flattened into lines is read the same way.

Shape of the result (JSON-serialisable; a key is omitted when its table is absent)::

    {"table2": {"columns": "2021" | "2019", "rows": {"行政处罚": {"本年处理决定数量": 173}, ...}},
     "table3": {"columns": [...TABLE3_COLUMNS], "rows": {"本年新收": {"自然人": 2, ..., "总计": 2}, ...}},
     "table4": {"行政复议": {"结果维持": 0, ..., "总计": 0}, "未经复议直接起诉": {...}, "复议后起诉": {...}},
     "old_stats": {"主动公开政府信息数": 566, ...}}

A cell that is empty or holds "—", "/", "无" is None: a missing figure is recorded as missing, never as 0.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple

from parsers.record import ExtractedDocument, Grid

# ------------------------------------------------------------------ table 2 (第二十条 主动公开)

TABLE2_COLUMNS_2021 = ("本年制发件数", "本年废止件数", "现行有效件数", "本年处理决定数量", "本年收费金额")
TABLE2_COLUMNS_2019 = ("本年新制作数量", "本年新公开数量", "对外公开总数量", "上一年项目数量", "本年增/减", "处理决定数量",
                       "采购项目数量", "采购总金额")
# Money columns keep decimals; every other figure is a count.
TABLE2_MONEY_COLUMNS = ("本年收费金额", "采购总金额")

# Item -> its columns in each format, used when a header row is missing (a table broken across pages).
TABLE2_ITEMS: dict[str, dict[str, tuple[str, ...]]] = {
    "规章": {"2021": ("本年制发件数", "本年废止件数", "现行有效件数"),
             "2019": ("本年新制作数量", "本年新公开数量", "对外公开总数量")},
    "行政规范性文件": {"2021": ("本年制发件数", "本年废止件数", "现行有效件数"),
                "2019": ("本年新制作数量", "本年新公开数量", "对外公开总数量")},
    "行政许可": {"2021": ("本年处理决定数量",), "2019": ("上一年项目数量", "本年增/减", "处理决定数量")},
    "其他对外管理服务事项": {"2021": ("本年处理决定数量",), "2019": ("上一年项目数量", "本年增/减", "处理决定数量")},
    "行政处罚": {"2021": ("本年处理决定数量",), "2019": ("上一年项目数量", "本年增/减", "处理决定数量")},
    "行政强制": {"2021": ("本年处理决定数量",), "2019": ("上一年项目数量", "本年增/减", "处理决定数量")},
    "行政事业性收费": {"2021": ("本年收费金额",), "2019": ("上一年项目数量", "本年增/减")},
    "政府集中采购": {"2021": (), "2019": ("采购项目数量", "采购总金额")},
}
# The 2019 format says 规范性文件, the 2021 format 行政规范性文件: one key for both.
_TABLE2_ALIASES = {"规范性文件": "行政规范性文件"}

# Header text -> column name, longest first so 本年处理决定数量 is not read as 处理决定数量.
_TABLE2_HEADER_PATTERNS = sorted(
    [(name.replace("/", ""), name) for name in TABLE2_COLUMNS_2021 + TABLE2_COLUMNS_2019],
    key=lambda pair: -len(pair[0]),
)

# ------------------------------------------------------------------ table 3 (收到和处理政府信息公开申请)

TABLE3_APPLICANT_COLUMNS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
TABLE3_COLUMNS = TABLE3_APPLICANT_COLUMNS + ("总计",)

T3_NEW = "本年新收"
T3_CARRIED_IN = "上年结转"
T3_DISCLOSED = "予以公开"
T3_PARTLY = "部分公开"
T3_WITHHELD = tuple("不予公开/" + name for name in (
    "属于国家秘密", "其他法律行政法规禁止公开", "危及“三安全一稳定”", "保护第三方合法权益",
    "属于三类内部事务信息", "属于四类过程性信息", "属于行政执法案卷", "属于行政查询事项"))
T3_UNAVAILABLE = tuple("无法提供/" + name for name in (
    "本机关不掌握相关政府信息", "没有现成信息需要另行制作", "补正后申请内容仍不明确"))
T3_NOT_PROCESSED = tuple("不予处理/" + name for name in (
    "信访举报投诉类申请", "重复申请", "要求提供公开出版物", "无正当理由大量反复申请", "要求行政机关确认或重新出具已获取信息"))
T3_OTHER_2021 = tuple("其他处理/" + name for name in (
    "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
    "其他"))
T3_OTHER_2019 = ("其他处理",)
T3_TOTAL = "总计"
T3_CARRIED_OVER = "结转下年度继续办理"

TABLE3_RESULT_ROWS_2021 = (T3_DISCLOSED, T3_PARTLY) + T3_WITHHELD + T3_UNAVAILABLE + T3_NOT_PROCESSED + T3_OTHER_2021
TABLE3_RESULT_ROWS_2019 = (T3_DISCLOSED, T3_PARTLY) + T3_WITHHELD + T3_UNAVAILABLE + T3_NOT_PROCESSED + T3_OTHER_2019
TABLE3_ROWS_2021 = (T3_NEW, T3_CARRIED_IN) + TABLE3_RESULT_ROWS_2021 + (T3_TOTAL, T3_CARRIED_OVER)
TABLE3_ROWS_2019 = (T3_NEW, T3_CARRIED_IN) + TABLE3_RESULT_ROWS_2019 + (T3_TOTAL, T3_CARRIED_OVER)

# Words that name one row whatever the layout did to its label (numbering, line breaks, typos elsewhere).
# Most specific first: a label such as "三、本年度办理结果（三）不予公开1.属于国家秘密" names the item, not the group.
_TABLE3_ROW_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (T3_WITHHELD[0], ("国家秘密",)),
    (T3_WITHHELD[1], ("禁止公开",)),
    (T3_WITHHELD[2], ("三安全一稳定",)),
    (T3_WITHHELD[3], ("第三方合法权益",)),
    (T3_WITHHELD[4], ("内部事务",)),
    (T3_WITHHELD[5], ("过程性信息",)),
    (T3_WITHHELD[6], ("执法案卷",)),
    (T3_WITHHELD[7], ("查询事项",)),
    (T3_UNAVAILABLE[0], ("不掌握",)),
    (T3_UNAVAILABLE[1], ("另行制作",)),
    (T3_UNAVAILABLE[2], ("仍不明确",)),
    (T3_NOT_PROCESSED[0], ("信访举报投诉",)),
    (T3_NOT_PROCESSED[3], ("大量反复",)),
    (T3_NOT_PROCESSED[1], ("重复申请",)),
    (T3_NOT_PROCESSED[2], ("公开出版物",)),
    (T3_NOT_PROCESSED[4], ("重新出具", "确认或重")),
    (T3_OTHER_2021[0], ("逾期不补正", "不补正")),
    (T3_OTHER_2021[1], ("收费通知", "缴纳费用")),
    (T3_PARTLY, ("部分公开",)),
    (T3_DISCLOSED, ("予以公开",)),
    (T3_NEW, ("本年新收",)),
    (T3_CARRIED_IN, ("上年结转",)),
    (T3_CARRIED_OVER, ("结转下年度",)),
    (T3_TOTAL, ("(七)总计",)),
)

# ------------------------------------------------------------------ table 4 (行政复议、行政诉讼)

TABLE4_GROUPS = ("行政复议", "未经复议直接起诉", "复议后起诉")
TABLE4_FIELDS = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")

# ------------------------------------------------------------------ old statistics table (≤ 2018)

OLD_STATS_UNITS = frozenset({"条", "件", "次", "个", "人", "人次", "篇", "万元", "元", "项", "家", "场", "期"})
_OLD_STATS_MAX_LABEL = 80  # longer than any indicator: running text after the table

# ------------------------------------------------------------------ cells

LABEL, VALUE, EMPTY, BREAK = "label", "value", "empty", "break"

# What reports put in a cell that has no figure: dashes of any length, slashes, 无.
_NO_FIGURE = re.compile(r"[-—―–─/\\]+|无")
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_UNIT_SUFFIX = re.compile(r"(?:人次|万元|条|件|次|个|人|篇|元|项|家)$")
# "4 . 无正当理由", "1、申请人", "3 . 其他": item numbers that PDF/Word text detaches from their label.
_DETACHED_NUMBERING = re.compile(r"(?<![\d.])(\d{1,2})\s*[.．、]\s*(?=[^\d\s.．、])")
_PAGE_NUMBER_LINE = re.compile(r"^\s*(?:[-—－–]\s*\d+\s*[-—－–]|第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+)\s*$")
_QUOTES = re.compile(r"[“”\"'‘’「」『』]")
_SPACES = re.compile(r"[\s\u3000\xa0\u200b\ufeff]+")


class _Cell(NamedTuple):
    kind: str                        # LABEL | VALUE | EMPTY | BREAK
    text: str = ""                   # compact cell text (NFKC, no whitespace; labels also without quotes)
    value: int | float | None = None
    row: object = None               # line number (text) or (grid, row) (grids): labels of one row belong together
    col: int | None = None           # column index within a grid row; None for text


@dataclass(frozen=True)
class _Segment:
    """A run of values with the labels seen since the previous run."""

    labels: tuple[_Cell, ...]
    cells: tuple[_Cell, ...]         # VALUE and EMPTY cells, in order

    @property
    def label_text(self) -> str:
        return "".join(label.text for label in self.labels)

    @property
    def row_label(self) -> str:
        """The labels on the same row (or line) as the last label: the run's own row heading."""
        if not self.labels:
            return ""
        row = self.labels[-1].row
        tail = []
        for label in reversed(self.labels):
            if label.row != row:
                break
            tail.append(label.text)
        return "".join(reversed(tail))


def normalise_label(text: str) -> str:
    """Compare labels whatever the layout did: full/half width, spaces inside words, quote styles."""
    return _QUOTES.sub("", _SPACES.sub("", unicodedata.normalize("NFKC", text or "")))


def _compact(text: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


def parse_number(text: str | None) -> int | float | None:
    """A table figure: int, float when it has decimals, None when empty, a dash, "/" or "无" (or not a number)."""
    return _number(_compact(text or ""))


def _number(compact: str) -> int | float | None:
    if not compact or _NO_FIGURE.fullmatch(compact):
        return None
    compact = _UNIT_SUFFIX.sub("", compact)
    if not _NUMBER.fullmatch(compact):
        return None
    compact = compact.replace(",", "").lstrip("+")
    if "." in compact:
        return float(compact)
    return int(compact)


_FIGURE_START = frozenset("0123456789+-—―–─/\\无")


def _cell(compact: str, row: object, col: int | None) -> _Cell:
    """One cell from its compact text (NFKC, no whitespace)."""
    if not compact:
        return _Cell(EMPTY, "", None, row, col)
    if compact[0] in _FIGURE_START:  # most cells are labels: skip the number patterns for them
        if _NO_FIGURE.fullmatch(compact):
            return _Cell(VALUE, compact, None, row, col)
        number = _number(compact)
        if number is not None:
            return _Cell(VALUE, compact, number, row, col)
    return _Cell(LABEL, _QUOTES.sub("", compact), None, row, col)


def _grid_cells(grids: Iterable[Grid]) -> list[_Cell]:
    cells: list[_Cell] = []
    for g, grid in enumerate(grids):
        for r, row in enumerate(grid.rows or []):
            for c, text in enumerate(row or []):
                cells.append(_cell(_compact(text) if isinstance(text, str) else "", (g, r), c))
            cells.append(_Cell(BREAK))
        cells.append(_Cell(BREAK))
    return cells


def _text_cells(text: str) -> list[_Cell]:
    """Lines of flattened text as cells: a tab line is one cell (empty ones are merged cells), a blank line ends
    a row, and a line without tabs is split at spaces, so "规章 1 0 11" (PDF text) gives a label and three values.
    A blank line between two figures does not end the row: text that puts a blank line after every cell (pages
    whose cells are paragraphs, pdftotext) would otherwise keep only the first figure of each row."""
    cells: list[_Cell] = []
    blank = False
    for number, line in enumerate((text or "").splitlines()):
        if not line.strip():
            if "\t" in line:
                cells.append(_Cell(EMPTY))
            else:
                blank = True
            continue
        if _PAGE_NUMBER_LINE.match(line):
            continue
        line = _DETACHED_NUMBERING.sub(r"\1.", unicodedata.normalize("NFKC", line).replace("|", " "))
        pieces = [_cell(piece, number, None) for piece in _SPACES.split(line) if piece]
        if blank and pieces and not (pieces[0].kind == VALUE and cells and cells[-1].kind in (VALUE, EMPTY)):
            cells.append(_Cell(BREAK))
        blank = False
        cells.extend(pieces)
    if blank:
        cells.append(_Cell(BREAK))
    return cells


def _segments(cells: list[_Cell]) -> list[_Segment]:
    segments: list[_Segment] = []
    labels: list[_Cell] = []
    run: list[_Cell] = []

    def close_run() -> None:
        if any(cell.kind == VALUE for cell in run):
            segments.append(_Segment(tuple(labels), tuple(run)))
            labels.clear()
        run.clear()

    for cell in cells:
        if cell.kind in (VALUE, EMPTY):
            run.append(cell)
            continue
        if run:
            close_run()
        if cell.kind == LABEL:
            labels.append(cell)
    close_run()
    return segments


def _fit(cells: tuple[_Cell, ...] | list[_Cell], width: int) -> list[list[_Cell]] | None:
    """Split a run into rows of ``width`` values; surplus empty cells at the edges (spanned label cells) are dropped."""
    run = list(cells)
    while len(run) > width and len(run) % width and run[0].kind == EMPTY:
        run.pop(0)
    while len(run) > width and len(run) % width and run[-1].kind == EMPTY:
        run.pop()
    if not run or len(run) % width:
        return None
    return [run[i:i + width] for i in range(0, len(run), width)]


# ------------------------------------------------------------------ public API

def extract_tables(doc: ExtractedDocument) -> dict:
    """The standard tables of a document: from its grids, and from its text for any table the grids lack
    (or give less completely)."""
    from_grids = tables_from_grids(list(doc.grids or []))
    from_text = tables_from_text(doc.text or "")
    tables: dict[str, Any] = {}
    for key in ("table2", "table3", "table4", "old_stats"):
        grid_table, text_table = from_grids.get(key), from_text.get(key)
        if grid_table is None and text_table is None:
            continue
        if grid_table is None or (text_table is not None and _filled(text_table) > _filled(grid_table)):
            tables[key] = text_table
        else:
            tables[key] = grid_table
    return tables


def tables_from_grids(grids: list[Grid]) -> dict:
    return _tables_from_cells(_grid_cells(grids))


def tables_from_text(text: str) -> dict:
    return _tables_from_cells(_text_cells(text))


def _tables_from_cells(cells: list[_Cell]) -> dict:
    segments = _segments(cells)
    tables: dict[str, Any] = {}
    t3_start, t3_end = _table3_region(segments)
    table2 = _read_table2(segments[:t3_start] if t3_start is not None else segments)
    if table2:
        tables["table2"] = table2
    if t3_start is not None:
        table3 = _read_table3(segments[t3_start:t3_end])
        if table3:
            tables["table3"] = table3
    table4 = _read_table4(segments[t3_end:] if t3_end is not None else segments, require_anchor=t3_end is None)
    if table4:
        tables["table4"] = table4
    old_stats = _read_old_stats(cells)
    if old_stats:
        tables["old_stats"] = old_stats
    return tables


def _filled(table: dict) -> int:
    """How many figures a table holds: to prefer the more complete reading of the same table."""
    count = 0
    for value in table.values():
        if isinstance(value, dict):
            count += _filled(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            count += 1
    return count


# ------------------------------------------------------------------ table 2

def _table2_columns(text: str) -> list[str]:
    """Column names in a header, in order of appearance ("本年增/减" is also written 本年增／减 or 本年增减)."""
    text = text.replace("/", "")
    found: list[tuple[int, str]] = []
    taken = [False] * len(text)
    for pattern, name in _TABLE2_HEADER_PATTERNS:
        for match in re.finditer(re.escape(pattern), text):
            if any(taken[match.start():match.end()]):
                continue
            for i in range(match.start(), match.end()):
                taken[i] = True
            found.append((match.start(), name))
    return [name for _, name in sorted(found)]


def _table2_item(label: str) -> str | None:
    label = re.sub(r"^(?:\d+\.|\(\w\))", "", label)
    label = _TABLE2_ALIASES.get(label, label)
    return label if label in TABLE2_ITEMS else None


def _read_table2(segments: list[_Segment]) -> dict | None:
    header: list[tuple[str, int | None]] = []  # (column name, grid column index)
    seen_table = False
    votes = {"2021": 0, "2019": 0}
    found: list[tuple[str, list[tuple[str, int | None]] | None, tuple[_Cell, ...]]] = []
    for segment in segments:
        columns = _header_columns(segment)
        if columns:
            header = columns
            seen_table = True
            for name, _ in columns:
                votes["2021" if name in TABLE2_COLUMNS_2021 else "2019"] += 1
        if "第二十条" in segment.label_text:
            seen_table = True
        item = _table2_item(segment.row_label)
        if item is None or not seen_table:
            continue
        found.append((item, header or None, segment.cells))
    if not found:
        return None
    fmt = _table2_format(votes, found)
    rows: dict[str, dict[str, Any]] = {}
    for item, columns, cells in found:
        if item in rows:
            continue
        if not _columns_fit(item, columns):
            columns = [(name, None) for name in TABLE2_ITEMS[item][fmt]]
        elif _partial_text_header(item, fmt, columns):
            if sum(cell.kind == VALUE for cell in cells) != len(TABLE2_ITEMS[item][fmt]):
                rows[item] = {name: None for name, _ in columns}  # unplaceable: missing, not another's figure
                continue
            columns = [(name, None) for name in TABLE2_ITEMS[item][fmt]]  # a figure for each: the form's order
        if not columns:
            continue
        rows[item] = _table2_values(columns, cells)
    if not any(value is not None for row in rows.values() for value in row.values()):
        return None
    return {"columns": fmt, "rows": rows}


def _columns_fit(item: str, columns: list[tuple[str, int | None]] | None) -> bool:
    """Whether a header seen earlier can be this item's: 行政处罚 cannot take the 规章 header of the section above."""
    allowed = set(TABLE2_ITEMS[item]["2021"]) | set(TABLE2_ITEMS[item]["2019"])
    return bool(columns) and {name for name, _ in columns} <= allowed


def _partial_text_header(item: str, fmt: str, columns: list[tuple[str, int | None]]) -> bool:
    """A text header naming only some of the item's columns (wrapped as "本年制发 本年废止 现行有效件数" / "件数 件数",
    only 现行有效件数 is whole): the names found do not say which figure is theirs."""
    names = [name for name, _ in columns]
    return all(col is None for _, col in columns) and set(names) < set(TABLE2_ITEMS[item][fmt])


def _header_columns(segment: _Segment) -> list[tuple[str, int | None]]:
    """Table-2 column names in the labels before a run, with their grid column when known.
    A name spanning several grid columns (colspan repeated) keeps its first column."""
    columns: list[tuple[str, int | None]] = []
    names: set[str] = set()
    if all(label.col is not None for label in segment.labels):
        for label in segment.labels:
            for name in _table2_columns(label.text):
                if name not in names:
                    names.add(name)
                    columns.append((name, label.col))
        return columns
    for name in _table2_columns(segment.label_text):
        if name not in names:
            names.add(name)
            columns.append((name, None))
    return columns


def _table2_format(votes: dict[str, int], found: list) -> str:
    """2021 or 2019 by the column headers; with no header, by what only the 2019 format has (its items, or three
    different figures for 行政许可/处罚/强制 where the 2021 format has one, possibly repeated by a colspan)."""
    if votes["2019"] != votes["2021"]:
        return "2019" if votes["2019"] > votes["2021"] else "2021"
    items = {item for item, _, _ in found}
    if items & {"其他对外管理服务事项", "政府集中采购"}:
        return "2019"
    for item, _, cells in found:
        if item in ("行政许可", "行政处罚", "行政强制") and len([c for c in cells if c.kind == VALUE]) >= 3 \
                and len({c.value for c in cells if c.kind == VALUE}) > 1:
            return "2019"
    return "2021"


def _table2_values(columns: list[tuple[str, int | None]], cells: tuple[_Cell, ...]) -> dict[str, Any]:
    by_col = {cell.col: cell for cell in cells if cell.col is not None}
    positional = [cell for cell in cells if cell.kind == VALUE] or list(cells)
    values: dict[str, Any] = {}
    for position, (name, col) in enumerate(columns):
        cell = by_col.get(col) if col is not None and by_col else None
        if cell is None and col is None and position < len(positional):
            cell = positional[position]
        values[name] = _figure(cell.value if cell else None, name)
    return values


def _figure(value: int | float | None, column: str) -> int | float | None:
    if isinstance(value, float) and value.is_integer() and column not in TABLE2_MONEY_COLUMNS:
        return int(value)
    return value


# ------------------------------------------------------------------ table 3

_TABLE3_HEADER_WORDS = ("申请人情况", "自然人", "法人或其他组织", "总计", "机构", "组织", "企业", "其他", "勾稽")
_TABLE3_END_WORDS = ("行政复议", "行政诉讼", "维持", "存在的主要问题")


def _table3_region(segments: list[_Segment]) -> tuple[int | None, int | None]:
    """[start, end) of the segments that hold table 3, or (None, None)."""
    start = _table3_start(segments)
    if start is None:
        return None, None
    # PDF text may print a row's figures on the line above its label (vertically centred cells).
    if start > 0:
        before = segments[start - 1]
        if _fit(before.cells, 7) and any(word in before.label_text for word in _TABLE3_HEADER_WORDS) \
                and not any(name in before.label_text for name in ("本年处理决定数量", "本年收费金额", "上一年项目数量")):
            start -= 1
    end = len(segments)
    for i in range(start + 1, len(segments)):
        if any(word in segments[i].label_text for word in _TABLE3_END_WORDS):
            end = i
            break
    return start, end


# The row label: "一、本年新收政府信息公开申请数量" (numbering may be cut off or detached).
_T3_NEW_LABEL = re.compile(r"(?:[一1]?[、.])?" + T3_NEW)
# Body text that mentions the row ("本年新收政府信息公开申请2件，上年结转0件"), a PDF line break taking its "。" away.
_PROSE = re.compile(r"[,;。]|\d+件")


def _table3_start(segments: list[_Segment]) -> int | None:
    """The first segment whose labels hold the 本年新收 row label; failing one, any 本年新收 that is not a sentence
    (OCR and odd layouts glue text to the label). Prose must not start the table: everything before the start is
    where table 2 is read, and a mention above table 2 lost it."""
    labels = [(i, label.text) for i, segment in enumerate(segments) for label in segment.labels
              if T3_NEW in label.text and not _PROSE.search(label.text)]
    for i, text in labels:
        if _T3_NEW_LABEL.match(text):
            return i
    return labels[0][0] if labels else None


def _table3_chunks(segments: list[_Segment]) -> list[tuple[_Segment, int, list[_Cell]]]:
    chunks: list[tuple[_Segment, int, list[_Cell]]] = []
    for segment in segments:
        rows = _fit(segment.cells, 7)
        for n, row in enumerate(rows or []):
            chunks.append((segment, n, row))
    return chunks


def _labels_below(segments: list[_Segment]) -> list[_Segment]:
    """The same runs, each labelled by the label on its own line and the lines after it up to the next run's:
    narrow PDF label cells print a row's figures on the first line of its wrapped label ("2.其他法 30 0 …",
    then "律行政法", "规禁止公开"), where the labels since the previous run are that row's tail and this one's head."""
    relabelled = []
    for index, segment in enumerate(segments):
        line = segment.cells[0].row
        own = tuple(label for label in segment.labels if label.row == line)
        following = segments[index + 1] if index + 1 < len(segments) else None
        tail = tuple(label for label in following.labels if label.row != following.cells[0].row) if following else ()
        relabelled.append(_Segment(_last_of_each_line(own + tail), segment.cells))
    return relabelled


def _last_of_each_line(labels: tuple[_Cell, ...]) -> tuple[_Cell, ...]:
    """The item column's piece of each line: a wrapped group cell prints its own piece first on the same lines
    ("予公开 家秘密"), which would split the item's words ("1.属于国" + "家秘密")."""
    return tuple(label for index, label in enumerate(labels)
                 if index + 1 == len(labels) or labels[index + 1].row != label.row)


def _read_table3(segments: list[_Segment]) -> dict | None:
    chunks = _table3_chunks(segments)
    if not chunks:
        return None
    # A complete table read in order is the surest: labels may sit above or below their figures in PDF text. But
    # 23 rows are a whole 2019 table only if no label is one of the 2021 form's own: a 2021 table whose two
    # blank rows (nothing carried over) were left out read as the 2019 one, every figure a row off.
    if len(chunks) == len(TABLE3_ROWS_2021):
        assigned = dict(zip(TABLE3_ROWS_2021, (row for _, _, row in chunks)))
    elif len(chunks) == len(TABLE3_ROWS_2019) and not _names_2021_rows(segments):
        assigned = dict(zip(TABLE3_ROWS_2019, (row for _, _, row in chunks)))
    else:
        assigned = _table3_by_label(chunks)
        if any(label.row == segment.cells[0].row for segment in segments for label in segment.labels):
            below = _table3_by_label(_table3_chunks(_labels_below(segments)))
            assigned = below if len(below) > len(assigned) else assigned
    if not assigned:
        return None
    order = TABLE3_ROWS_2019 if T3_OTHER_2019[0] in assigned else TABLE3_ROWS_2021
    rows = {name: dict(zip(TABLE3_COLUMNS, (cell.value if cell.kind == VALUE else None for cell in assigned[name])))
            for name in order if name in assigned}
    return {"columns": list(TABLE3_COLUMNS), "rows": rows}


_ROW_WORDS_2021 = tuple(word for name, words in _TABLE3_ROW_KEYWORDS if name in T3_OTHER_2021[:2] for word in words)


def _names_2021_rows(segments: list[_Segment]) -> bool:
    """Whether the table's labels name a row only the 2021 form has (逾期不补正, 收费通知 …)."""
    return any(word in segment.label_text for segment in segments for word in _ROW_WORDS_2021)


def _table3_by_label(chunks: list[tuple[_Segment, int, list[_Cell]]]) -> dict[str, list[_Cell]]:
    assigned: dict[str, list[_Cell]] = {}
    other_items_seen = False
    several = {id(segment) for segment, n, _ in chunks if n}
    for segment, n, row in chunks:
        if n:  # a second row glued to the first on one line has no label of its own
            continue
        if id(segment) in several and _spread_over_lines(row):
            # Several rows of figures, one per line, with no label between them (pdftotext lists cells in its
            # own order): nothing says where the labelled row starts, so none of them is taken.
            continue
        name = _table3_row_name(segment, other_items_seen)
        if name is None or name in assigned:
            continue
        if name in T3_OTHER_2021:
            other_items_seen = True
        assigned[name] = row
    return assigned


def _spread_over_lines(row: list[_Cell]) -> bool:
    """Text cells of one row printed on different lines (grid cells are placed by their grid)."""
    return any(cell.col is None for cell in row) and len({cell.row for cell in row if cell.kind == VALUE}) > 1


def _table3_row_name(segment: _Segment, other_items_seen: bool) -> str | None:
    own = segment.row_label
    for text in (own, segment.label_text):
        for name, keywords in _TABLE3_ROW_KEYWORDS:
            if any(keyword in text for keyword in keywords):
                return name
        if text == "总计":
            return T3_TOTAL
        if re.fullmatch(r"(?:\d\.)?其他", text) and other_items_seen:
            return T3_OTHER_2021[2]
        if "其他处理" in text:
            return T3_OTHER_2021[2] if other_items_seen else T3_OTHER_2019[0]
    return None


# ------------------------------------------------------------------ table 4

def _read_table4(segments: list[_Segment], require_anchor: bool) -> dict | None:
    start = 0
    if require_anchor:
        for i, segment in enumerate(segments):
            if "维持" in segment.label_text and ("纠正" in segment.label_text or "行政复议" in segment.label_text):
                start = i
                break
        else:
            return None
    values: list[_Cell] = []
    for segment in segments[start:]:
        rows = _fit(segment.cells, 15) or _fit(segment.cells, 5)
        if not rows:
            break
        for row in rows:
            values.extend(row)
        if len(values) >= 15:
            break
    if len(values) < 15:
        return None
    table = {}
    for g, group in enumerate(TABLE4_GROUPS):
        cells = values[g * 5:(g + 1) * 5]
        table[group] = dict(zip(TABLE4_FIELDS, (cell.value if cell.kind == VALUE else None for cell in cells)))
    if not any(value is not None for group in table.values() for value in group.values()):
        return None
    return table


# ------------------------------------------------------------------ old statistics table

_OLD_STATS_ANCHORS = ("统计指标", "政府信息公开情况统计表")
_TOP_LEVEL = re.compile(r"^[一二三四五六七八九十]+[、.]")
_NUMBERING = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十\d]+\)|\d+[.、])")
_TRAILING_NOTE = re.compile(r"\([^()]*\)$")


def indicator_name(label: str) -> str:
    """"（一）主动公开政府信息数（不同渠道和方式公开相同信息计1条）" -> "主动公开政府信息数"."""
    name = normalise_label(label)
    name = _NUMBERING.sub("", name)
    name = re.sub(r"^其中[:：]", "", name)
    previous = None
    while previous != name:
        previous, name = name, _TRAILING_NOTE.sub("", name)
    return name


def _read_old_stats(cells: list[_Cell]) -> dict | None:
    start = _old_stats_start(cells)
    if start is None:
        return None
    return _old_stats_keys(_old_stats_entries(_old_stats_rows(cells[start:]))) or None


@dataclass
class _OldStatsRow:
    """One indicator row of the old table: its label (maybe wrapped over several cells), unit and figure."""

    parts: list[str]
    unit: str | None = None
    heading: bool = False              # "——" in the unit column: a group heading, not a figure
    value: int | float | None = None
    done: bool = False                 # the figure is read; later values belong to no one

    @property
    def label_open(self) -> bool:
        """Still reading the label: neither a unit nor the heading mark has come."""
        return self.unit is None and not self.heading

    def take_value(self, cell: _Cell) -> None:
        if self.done:
            return
        if self.label_open and cell.value is None:
            self.heading = True
        elif self.unit and not self.heading:
            self.value, self.done = cell.value, True


def _old_stats_rows(cells: list[_Cell]) -> Iterator[_OldStatsRow]:
    """Rows from the table's first cell on, until a label too long for an indicator (running text again)."""
    row: _OldStatsRow | None = None
    for cell in cells:
        if cell.kind == LABEL:
            if len(cell.text) > _OLD_STATS_MAX_LABEL:
                break
            if row is not None and row.label_open:
                if cell.text in OLD_STATS_UNITS:
                    row.unit = cell.text
                else:
                    row.parts.append(cell.text)  # one indicator label wrapped over several lines or cells
                continue
            if row is not None:
                yield row
            row = _OldStatsRow([cell.text])
        elif row is None:
            continue
        elif cell.kind == VALUE:
            row.take_value(cell)
        elif cell.kind == EMPTY:
            if row.unit and not row.heading:
                row.done = True
        else:  # a break between blocks ends the row
            yield row
            row = None
    if row is not None:
        yield row


def _old_stats_entries(rows: Iterable[_OldStatsRow]) -> list[tuple[str | None, str, int | float | None]]:
    """(group, indicator, figure) for every row with a unit; a top-level label starts a new group."""
    entries: list[tuple[str | None, str, int | float | None]] = []
    parent: str | None = None
    for row in rows:
        label = "".join(row.parts)
        name = indicator_name(label)
        if _TOP_LEVEL.match(label):
            parent = name
        if row.unit and not row.heading and name:
            entries.append((parent, name, row.value))
    return entries


def _old_stats_start(cells: list[_Cell]) -> int | None:
    """Where the table starts: the row whose labels spell 统计指标 (often spaced out: "统　计　指　标")."""
    longest = max(len(anchor) for anchor in _OLD_STATS_ANCHORS)
    anchors = re.compile("|".join(_OLD_STATS_ANCHORS))
    row, first, tail = object(), 0, ""
    for index, cell in enumerate(cells):
        if cell.kind != LABEL:
            continue
        if cell.row != row:
            row, first, tail = cell.row, index, ""
        tail = (tail + cell.text)[-(longest + len(cell.text)):]  # bounded: one huge line must not cost n²
        if anchors.search(tail):
            return first
    return None


def _old_stats_keys(entries: list[tuple[str | None, str, Any]]) -> dict[str, Any]:
    """Indicator names as keys; a name used twice (被依法纠错数 under 复议 and under 诉讼) is qualified by its group."""
    counts: dict[str, int] = {}
    for _, name, _ in entries:
        counts[name] = counts.get(name, 0) + 1
    stats: dict[str, Any] = {}
    for parent, name, value in entries:
        key = name if counts[name] == 1 or not parent or parent == name else f"{parent}/{name}"
        stats.setdefault(key, value)
    return stats
