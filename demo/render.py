"""The five seed reports as real documents: HTML (UTF-8 or GBK), DOCX, PDF and the original flattened text.

A seed is its flattened text (``seeds/seedNNN.txt``, the ground truth) plus a structured form authored by hand
(``seeds/seedNNN.json``) that says what the text alone cannot: how many leading lines are the title, how many
trailing lines are the 落款, role overrides, and the tables with their real merged cells. Each table replaces the
text lines strictly between ``after_line`` and ``before_line`` (``null``: start/end of the text), and loading checks
that the table's cells, read in row order, spell exactly those lines (whitespace aside): a table cannot drift from
the seed.

JSON form::

    {"title_lines": 2, "signature_lines": 2, "roles": {"<whole line>": "heading"},
     "tables": [{"after_line": "二、主动公开政府信息情况", "before_line": "三、…", "rows": [["规章", "0"],
                 [{"text": "申请人情况", "colspan": 7, "rowspan": 1, "header": true}]]}]}

Every renderer is deterministic: the same document and arguments give the same bytes (no clock, no randomness).
"""
from __future__ import annotations

import codecs
import copy
import html
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from xml.sax.saxutils import escape as xml_escape

SEED_IDS = ("000", "001", "002", "003", "004")
ROLES = ("title", "heading", "body", "signature")

# Word's "go back" bookmark leaks into text extracted from .docx; it is not part of the document.
BOOKMARK_MARKER = re.compile(r"^\[bookmark: [^\]]*\]")
# 一、… / （一）… / （1）…: section headings, when short and not a running sentence.
HEADING_START = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十\d]+）)")
HEADING_MAX_CHARS = 40

# ZIP cannot store dates before 1980: the fixed timestamp of every DOCX member when no date is given.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
PDF_FONT = "STSong-Light"


@dataclass
class Cell:
    text: str
    rowspan: int = 1
    colspan: int = 1
    header: bool = False


@dataclass
class Table:
    rows: list[list[Cell]]  # only the cells that start in a row (HTML-like), spans explicit


@dataclass
class Paragraph:
    text: str
    role: str = "body"  # title | heading | body | signature


@dataclass
class SeedDocument:
    seed_id: str
    title: str | None
    blocks: list[Paragraph | Table] = field(default_factory=list)

    @property
    def tables(self) -> list[Table]:
        return [block for block in self.blocks if isinstance(block, Table)]


# ---------------------------------------------------------------------------------------------------------------
# Seeds


def seed_text(seed_id: str) -> bytes:
    """The original flattened text, byte for byte."""
    return _seed_file(seed_id, "txt").read_bytes()


def load_seed(seed_id: str) -> SeedDocument:
    """The seed as paragraphs and tables (a fresh object each call: callers may change it)."""
    form = json.loads(_seed_file(seed_id, "json").read_text("utf-8"))
    return document_from_text(seed_id, seed_text(seed_id).decode("utf-8"), form)


def document_from_text(seed_id: str, text: str, form: dict) -> SeedDocument:
    """Build a SeedDocument from flattened text and its structured form; ValueError when they disagree."""
    lines = text.splitlines()
    regions = _table_regions(lines, form.get("tables", []))
    blocks: list[Paragraph | Table] = []
    index = 0
    while index < len(lines):
        region = regions.get(index)
        if region is not None:
            end, table = region
            blocks.append(table)
            index = end
            continue
        paragraph = _clean_line(lines[index])
        if paragraph:
            blocks.append(Paragraph(paragraph))
        index += 1
    _assign_roles(blocks, form)
    title_lines = [b.text for b in blocks if isinstance(b, Paragraph) and b.role == "title"]
    return SeedDocument(seed_id=seed_id, title="".join(title_lines) or None, blocks=blocks)


def table_grid(table: Table) -> list[list[str]]:
    """The table as rows of text with every spanned cell repeated (the shape of ``parsers.record.Grid``)."""
    n_rows, n_cols, placements = _layout(table)
    grid = [[""] * n_cols for _ in range(n_rows)]
    for row, col, cell in placements:
        for r in range(row, row + cell.rowspan):
            for c in range(col, col + cell.colspan):
                grid[r][c] = cell.text
    return grid


def with_changed_cell(doc: SeedDocument, table_index: int, row: int, col: int, new_text: str) -> SeedDocument:
    """A copy of ``doc`` where the cell covering grid position (row, col) of table ``table_index`` reads ``new_text``.

    Coordinates are those of ``table_grid`` (0-based, spans expanded); a merged cell is changed once, as a whole.
    """
    changed = copy.deepcopy(doc)
    tables = changed.tables
    if not 0 <= table_index < len(tables):
        raise IndexError(f"seed {doc.seed_id} has {len(tables)} tables, no table {table_index}")
    n_rows, n_cols, placements = _layout(tables[table_index])
    if not (0 <= row < n_rows and 0 <= col < n_cols):
        raise IndexError(f"table {table_index} is {n_rows}×{n_cols}, no cell ({row}, {col})")
    for top, left, cell in placements:
        if top <= row < top + cell.rowspan and left <= col < left + cell.colspan:
            cell.text = new_text
            return changed
    raise IndexError(f"no cell covers ({row}, {col})")  # unreachable: _layout refuses holes


def filled_table(table: Table, values: dict[tuple[int, int], str]) -> Table:
    """A copy of ``table`` where the cell covering each grid position (row, col) of ``values`` reads its text.

    Coordinates are those of ``table_grid``; two positions inside one merged cell must not ask for different text.
    """
    filled = copy.deepcopy(table)
    n_rows, n_cols, placements = _layout(filled)
    owners = {}
    for top, left, cell in placements:
        for r in range(top, top + cell.rowspan):
            for c in range(left, left + cell.colspan):
                owners[(r, c)] = cell
    written: dict[int, str] = {}
    for (row, col), text in values.items():
        if (row, col) not in owners:
            raise IndexError(f"table is {n_rows}×{n_cols}, no cell ({row}, {col})")
        cell = owners[(row, col)]
        if written.setdefault(id(cell), text) != text:
            raise ValueError(f"cell ({row}, {col}) is merged with a cell already set to {written[id(cell)]!r}")
        cell.text = text
    return filled


# ---------------------------------------------------------------------------------------------------------------
# HTML


def render_html(
    doc: SeedDocument,
    *,
    encoding: str = "utf-8",
    declare_charset: bool = True,
    meta: dict[str, str] | None = None,
    catalog_box: dict[str, str] | None = None,
    page_date: tuple[str, str] | None = None,
    attachments: list[tuple[str, str]] = (),
    site_name: str = "示例区人民政府",
) -> bytes:
    """A government article page: header, breadcrumb, optional 信息公开目录 box, title, date line, body, footer."""
    codec = _codec_name(encoding)
    esc = html.escape
    out: list[str] = ["<!DOCTYPE html>", '<html lang="zh-CN">', "<head>"]
    if declare_charset:
        out.append(f'<meta charset="{esc(encoding)}">')
    page_title = f"{doc.title}_{site_name}" if doc.title else site_name
    out.append(f"<title>{esc(page_title)}</title>")
    for name, content in (meta or {}).items():
        out.append(f'<meta name="{esc(name)}" content="{esc(content)}">')
    out += [
        "<style>body{font-family:SimSun,serif;margin:0}.main{width:1000px;margin:0 auto}"
        ".content p{text-indent:2em;line-height:2}.content table{border-collapse:collapse;margin:0 auto}"
        ".content td,.content th{padding:4px;text-align:center}</style>",
        "</head>",
        "<body>",
        f'<div class="header"><div class="site-name">{esc(site_name)}</div></div>',
        '<div class="main">',
        '<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/xxgk/">信息公开</a>'
        ' &gt; <a href="/xxgk/ndbg/">政府信息公开年报</a></div>',
    ]
    if catalog_box:
        out.append(_html_catalog_box(catalog_box))
    out.append('<div class="article">')
    if doc.title:
        out.append(f'<h1 class="title">{esc(doc.title)}</h1>')
    if page_date:
        label, value = page_date
        out.append(f'<div class="info"><span class="date">{esc(label)}：{esc(value)}</span></div>')
    out.append('<div class="content" id="zoom">')
    for block in doc.blocks:
        if isinstance(block, Table):
            out.append(_html_table(block))
        elif block.role != "title":  # the title is the <h1>
            out.append(_html_paragraph(block))
    out.append("</div>")
    if attachments:
        out.append('<div class="attachments"><p>附件：</p><ul>')
        out += [f'<li><a href="{esc(href)}">{esc(text)}</a></li>' for href, text in attachments]
        out.append("</ul></div>")
    out += [
        "</div>",
        "</div>",
        f'<div class="footer"><p>主办单位：{esc(site_name)}　版权所有</p></div>',
        "</body>",
        "</html>",
    ]
    # Characters outside a legacy charset become character references: nothing is lost.
    return ("\n".join(out) + "\n").encode(codec, errors="xmlcharrefreplace")


def _html_catalog_box(fields: dict[str, str]) -> str:
    cells = [f"<th>{html.escape(k)}：</th><td>{html.escape(v)}</td>" for k, v in fields.items()]
    rows = ["<tr>" + "".join(cells[i:i + 2]) + "</tr>" for i in range(0, len(cells), 2)]
    return '<div class="xxgk-catalog"><table>' + "".join(rows) + "</table></div>"


def _html_paragraph(paragraph: Paragraph) -> str:
    text = html.escape(paragraph.text)
    if paragraph.role == "heading":
        return f"<p><strong>{text}</strong></p>"
    if paragraph.role == "signature":
        return f'<p style="text-align:right">{text}</p>'
    return f"<p>{text}</p>"


def _html_table(table: Table) -> str:
    out = ['<table border="1" cellspacing="0" cellpadding="4">']
    for row in table.rows:
        cells = []
        for cell in row:
            tag = "th" if cell.header else "td"
            spans = "".join(
                f' {name}="{value}"' for name, value in (("rowspan", cell.rowspan), ("colspan", cell.colspan)) if value != 1
            )
            cells.append(f"<{tag}{spans}>{html.escape(cell.text)}</{tag}>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None


# ---------------------------------------------------------------------------------------------------------------
# DOCX


def render_docx(doc: SeedDocument, *, created: datetime | None = None, modified: datetime | None = None) -> bytes:
    """A Word document with real tables (merged cells) and core properties; dates only when given.

    Aware datetimes are stored in UTC as Word does; naive ones are taken as UTC.
    """
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = docx.Document()
    _set_east_asian_font(document.styles["Normal"], "宋体")
    for block in doc.blocks:
        if isinstance(block, Table):
            _docx_table(document, block)
            continue
        paragraph = document.add_paragraph()
        run = paragraph.add_run(block.text)
        if block.role == "title":
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run.bold = True
            run.font.size = Pt(18)
        elif block.role == "heading":
            run.bold = True
        elif block.role == "signature":
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        else:
            paragraph.paragraph_format.first_line_indent = Pt(24)
    _docx_core_properties(document, doc, created, modified)
    buffer = io.BytesIO()
    document.save(buffer)
    return _normalized_zip(buffer.getvalue(), modified or created)


def _docx_table(document, table: Table) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.table import _Cell

    n_rows, n_cols, placements = _layout(table)
    word_table = document.add_table(rows=n_rows, cols=n_cols)
    word_table.style = "Table Grid"
    # Cells taken once from the fresh, unmerged rows: Table.cell() re-walks the whole table on every call.
    # Spans never overlap, so a merge only touches cells of its own rectangle.
    fresh = [[_Cell(tc, word_table) for tc in row._tr.tc_lst] for row in word_table.rows]
    # Merge every span before writing text, so no merge moves content around.
    targets = []
    for row, col, cell in placements:
        target = fresh[row][col]
        if cell.rowspan > 1 or cell.colspan > 1:
            target = target.merge(fresh[row + cell.rowspan - 1][col + cell.colspan - 1])
        targets.append((target, cell))
    for target, cell in targets:
        paragraph = target.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(cell.text)
        run.bold = cell.header


def _set_east_asian_font(style, font_name: str) -> None:
    from docx.oxml.ns import qn

    style.font.name = font_name
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), font_name)


def _docx_core_properties(document, doc: SeedDocument, created: datetime | None, modified: datetime | None) -> None:
    from docx.oxml.ns import qn

    core = document.core_properties
    core.title = doc.title or ""
    core.author = ""
    core.last_modified_by = ""
    core.revision = 1
    # python-docx's template carries 2013 dates: a date nobody gave must not become metadata evidence.
    for name, value in (("created", created), ("modified", modified)):
        if value is not None:
            # python-docx writes the wall-clock time with a "Z": convert first, or +08:00 becomes UTC unchanged.
            setattr(core, name, value.astimezone(timezone.utc) if value.tzinfo else value)
            continue
        for element in core._element.findall(qn(f"dcterms:{name}")):
            core._element.remove(element)


def _normalized_zip(data: bytes, stamp: datetime | None) -> bytes:
    """Repack a zip with one fixed timestamp and fixed attributes, keeping member order and content."""
    date_time = stamp.timetuple()[:6] if stamp and stamp.year >= 1980 else ZIP_EPOCH
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=date_time)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            target.writestr(member, source.read(info.filename))
    return output.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# PDF


def render_pdf(doc: SeedDocument, *, creation_date: datetime | None = None,
               keep_tables_together: bool = False) -> bytes:
    """An A4 PDF in the CID font STSong-Light with ruled tables (GRID + SPAN) that pdfplumber can extract.

    Tables flow across pages as Word would print them; ``keep_tables_together`` starts a table on a new page
    instead when that keeps it whole (a table taller than a page still splits).
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, SimpleDocTemplate

    _register_pdf_font()
    styles = _pdf_styles()
    margin = 20 * mm
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        invariant=1,
        title=doc.title or "",
        author="",
        subject="",
        creator="",
    )
    width = A4[0] - 2 * margin
    story = []
    for block in doc.blocks:
        if isinstance(block, Table):
            flowable = _pdf_table(block, width, styles["cell"], styles["space"])
            story.append(KeepTogether([flowable]) if keep_tables_together else flowable)
        else:
            story.append(_pdf_paragraph(block, styles))

    def stamp(canvas, _template):
        if creation_date is not None:
            formatted = _pdf_date(creation_date)
            canvas.setDateFormatter(lambda *_ignored: formatted)

    template.build(story, onFirstPage=stamp, onLaterPages=stamp)
    return buffer.getvalue()


def _register_pdf_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))


def _pdf_styles() -> dict:
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=12, leading=20, wordWrap="CJK", firstLineIndent=24,
                          spaceAfter=4)
    return {
        "title": ParagraphStyle("title", parent=body, fontSize=18, leading=28, alignment=TA_CENTER, firstLineIndent=0),
        "heading": ParagraphStyle("heading", parent=body, fontSize=13, leading=22, firstLineIndent=24, spaceBefore=4),
        "body": body,
        "signature": ParagraphStyle("signature", parent=body, alignment=TA_RIGHT, firstLineIndent=0),
        "cell": ParagraphStyle("cell", fontName=PDF_FONT, fontSize=8, leading=10, wordWrap="CJK", alignment=TA_CENTER),
        "space": 8,
    }


def _pdf_paragraph(paragraph: Paragraph, styles: dict):
    from reportlab.platypus import Paragraph as PdfParagraph

    return PdfParagraph(xml_escape(paragraph.text), styles.get(paragraph.role, styles["body"]))


def _pdf_table(table: Table, width: float, cell_style, space: float):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph as PdfParagraph
    from reportlab.platypus import Table as PdfTable

    n_rows, n_cols, placements = _layout(table)
    data: list[list] = [[""] * n_cols for _ in range(n_rows)]
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]
    for row, col, cell in placements:
        data[row][col] = PdfParagraph(xml_escape(cell.text), cell_style)
        if cell.rowspan > 1 or cell.colspan > 1:
            commands.append(("SPAN", (col, row), (col + cell.colspan - 1, row + cell.rowspan - 1)))
    return PdfTable(data, colWidths=_column_widths(table, n_cols, placements, width), style=commands,
                    spaceBefore=space, spaceAfter=space)


def _column_widths(table: Table, n_cols: int, placements, width: float) -> list[float]:
    """Share the width by the longest unspanned text of each column (bounded, so no column starves)."""
    weights = [4] * n_cols
    for _row, col, cell in placements:
        if cell.colspan == 1:
            weights[col] = max(weights[col], min(len(cell.text.strip()), 16))
    total = sum(weights)
    return [width * w / total for w in weights]


def _pdf_date(value: datetime) -> str:
    stamp = value.strftime("D:%Y%m%d%H%M%S")
    offset = value.utcoffset()
    if offset is None:
        return stamp
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{stamp}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"


# ---------------------------------------------------------------------------------------------------------------
# Internals shared by the loaders and renderers


def _seed_file(seed_id: str, suffix: str):
    if seed_id not in SEED_IDS:
        raise ValueError(f"unknown seed {seed_id!r}: expected one of {', '.join(SEED_IDS)}")
    return resources.files("demo").joinpath("seeds", f"seed{seed_id}.{suffix}")


def _clean_line(line: str) -> str:
    return BOOKMARK_MARKER.sub("", line.strip()).strip()


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _table_regions(lines: list[str], specs: list[dict]) -> dict[int, tuple[int, Table]]:
    """Map the first line of each table region to (end line, table), after checking cells against the text."""
    regions: dict[int, tuple[int, Table]] = {}
    previous_end = 0
    for number, spec in enumerate(specs):
        start = _anchor_index(lines, spec.get("after_line"), default=-1) + 1
        end = _anchor_index(lines, spec.get("before_line"), default=len(lines))
        if start < previous_end or end <= start:
            raise ValueError(f"table {number}: region lines {start}–{end} are empty or overlap the previous table")
        table = Table(rows=[[_cell_from_json(c) for c in row] for row in spec["rows"]])
        _layout(table)  # refuse ragged or overlapping spans now, not in a renderer
        cells_text = _squeeze("".join(cell.text for row in table.rows for cell in row))
        region_text = _squeeze("".join(lines[start:end]))
        if cells_text != region_text:
            raise ValueError(f"table {number}: cells do not spell the text they replace "
                             f"(first difference at character {_first_difference(cells_text, region_text)})")
        regions[start] = (end, table)
        previous_end = end
    return regions


def _anchor_index(lines: list[str], anchor: str | None, default: int) -> int:
    if anchor is None:
        return default
    found = [i for i, line in enumerate(lines) if _clean_line(line) == anchor]
    if len(found) != 1:
        raise ValueError(f"anchor line {anchor!r} found {len(found)} times, expected once")
    return found[0]


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _cell_from_json(value: str | dict) -> Cell:
    if isinstance(value, str):
        return Cell(value)
    return Cell(text=value["text"], rowspan=int(value.get("rowspan", 1)), colspan=int(value.get("colspan", 1)),
                header=bool(value.get("header", False)))


def _assign_roles(blocks: list[Paragraph | Table], form: dict) -> None:
    paragraphs = [b for b in blocks if isinstance(b, Paragraph)]
    title_count = int(form.get("title_lines", 0))
    signature_count = int(form.get("signature_lines", 0))
    if title_count + signature_count > len(paragraphs):
        raise ValueError("more title and signature lines than paragraphs")
    if title_count and any(isinstance(b, Table) for b in blocks[:title_count]):
        raise ValueError("a table sits among the title lines")
    overrides = form.get("roles", {})
    for role in overrides.values():
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    for position, paragraph in enumerate(paragraphs):
        if position < title_count:
            paragraph.role = "title"
        elif position >= len(paragraphs) - signature_count:
            paragraph.role = "signature"
        elif paragraph.text in overrides:
            paragraph.role = overrides[paragraph.text]
        elif _looks_like_heading(paragraph.text):
            paragraph.role = "heading"


def _looks_like_heading(text: str) -> bool:
    if not HEADING_START.match(text) or len(text) > HEADING_MAX_CHARS:
        return False
    # "（一）…：无。" and "（一）…方面。全平台…" are sentences that happen to start like a heading.
    return "。" not in text[:-1] and "：" not in text


def _layout(table: Table) -> tuple[int, int, list[tuple[int, int, Cell]]]:
    """Place each cell on the grid: (rows, columns, [(row, column, cell)]); ValueError on holes or overlaps."""
    occupied: set[tuple[int, int]] = set()
    placements: list[tuple[int, int, Cell]] = []
    n_rows = len(table.rows)
    n_cols = 0
    for row_index, row in enumerate(table.rows):
        col = 0
        for cell in row:
            if cell.rowspan < 1 or cell.colspan < 1:
                raise ValueError(f"row {row_index}: spans must be at least 1 ({cell.text!r})")
            if row_index + cell.rowspan > n_rows:
                raise ValueError(f"row {row_index}: {cell.text!r} spans past the last row")
            while (row_index, col) in occupied:
                col += 1
            for r in range(row_index, row_index + cell.rowspan):
                for c in range(col, col + cell.colspan):
                    if (r, c) in occupied:
                        raise ValueError(f"row {row_index}: {cell.text!r} overlaps another cell at ({r}, {c})")
                    occupied.add((r, c))
            placements.append((row_index, col, cell))
            col += cell.colspan
            n_cols = max(n_cols, col)
    holes = [(r, c) for r in range(n_rows) for c in range(n_cols) if (r, c) not in occupied]
    if holes:
        raise ValueError(f"table rows do not cover the same columns: no cell at {holes[0]}")
    return n_rows, n_cols, placements
