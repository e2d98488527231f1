"""HTML report pages: main text, title, meta tags, the 信息公开目录 box, dates near the title, tables, attachments.

Nothing on the page is executed: scripts are dropped; lxml parses the page once, and BeautifulSoup reads only the
信息公开目录 box cut from that tree.
"""
from __future__ import annotations

import html as html_lib
import logging
import re
from functools import cached_property

from bs4 import BeautifulSoup
from lxml import etree

from parsers.formats.grids import make_grid
from parsers.formats.labels import dates_near_title
from parsers.formats.page import Page, find_attachments
from parsers.formats.textnorm import collapse_whitespace, join_pieces
from parsers.record import ExtractedDocument, FetchContext

logger = logging.getLogger(__name__)

_INERT_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "select", "button")
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "br", "caption", "center", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "html", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot", "thead", "tr", "ul",
})
_CELL_TAGS = frozenset({"td", "th"})
_MAX_COLSPAN = 64
_MAX_GRID_SLOTS = 100_000
_DATA_CELL_MAX_CHARS = 200    # a cell holding a longer paragraph belongs to a layout table
_MAIN_SHARE = 0.6             # the main container holds at least this share of the page's content
_TRAFILATURA_MIN_SHARE = 0.4  # of the main container's text: below, trafilatura missed the article
_TRAFILATURA_MAX_SHARE = 1.3  # above, it took the whole page
_TRAFILATURA_MAX_CHARS = 3 * 2**20
_MIN_ARTICLE_CHARS = 200      # a content block this long outside links is an article, not a listing's remains
_SENTENCE = re.compile(r"[^\n]{20,}?[。，；]")
_BOX_MAX_CHARS = 2000         # a 信息公开目录 box is small; anything bigger is the page around it
_MAX_CATALOG_VALUE = 200
_PAIR_ITEMS = frozenset({"td", "th", "dt", "dd", "li"})  # a catalog value never runs past the cell or item holding it

_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")
_TITLE_CLASS = re.compile(r"title|biaoti|(?:^|[\s_-])(?:bt|tit)(?:$|[\s_-])", re.IGNORECASE)
_TITLE_WORDS = re.compile(r"报告|年报|总结|通知|公告|公示|意见|办法")
_TITLE_SEPARATOR = re.compile(r"\s*(?:_|\||｜|--|—|－| - )\s*")

_CATALOG_LABELS = (
    "索引号", "发布机构", "发文机关", "发文机构", "发文单位", "所属机构", "成文日期", "公开日期", "发布日期", "生成日期",
    "发文日期", "印发日期", "实施日期", "废止日期", "文号", "发文字号", "主题分类", "组配分类", "体裁分类", "服务对象分类",
    "信息分类", "信息类别", "所属主题", "主题词", "关键词", "名称", "标题", "信息名称", "公开方式", "公开范围", "公开时限",
    "公开形式", "信息来源", "有效性", "效力状态", "统一编码", "内容概述", "摘要",
)
_LABEL_KEYS = frozenset(_CATALOG_LABELS)
_KNOWN_LABEL = "|".join(r"\s*".join(label) for label in sorted(_CATALOG_LABELS, key=len, reverse=True))
_LABEL_WITH_COLON = re.compile(rf"({_KNOWN_LABEL}|(?<!\S)[\u4e00-\u9fff]{{2,8}})\s*[：:]")
_LABEL_FOUND = re.compile(rf"({_KNOWN_LABEL})\s*[：:]|^\s*({_KNOWN_LABEL})\s*$")


def read_html(data: bytes, context: FetchContext) -> ExtractedDocument:
    """Read an HTML page; a page lxml cannot parse still gives a document (tag-stripped text) and a warning."""
    # This page is the reader's own, so pruning its tree below disturbs no other reader.
    page = Page.from_bytes(data, context.content_type or context.header("Content-Type"))
    doc = ExtractedDocument(format="html", encoding=page.encoding, warnings=list(page.warnings))
    root = page.root
    if root is None:
        doc.warnings.append("HTML 无法解析，或页面没有内容")
        doc.text = _strip_tags(page.text)
        return doc

    doc.meta = _meta_tags(root)
    doc.links = find_attachments(page, context.url)
    for element in list(root.iter(*_INERT_TAGS)):
        element.drop_tree()
    data_tables = {table for table in root.iter("table") if _is_data_table(table)}
    doc.grids = [grid for grid in (make_grid(_expand_table(table), "html") for table in root.iter("table")
                                   if table.find(".//table") is None) if grid]
    box = _catalog_box(root)
    doc.catalog_box = _catalog_pairs(box) if box is not None else {}
    container = _main_container(root, data_tables)
    doc.title = _title(root, doc.meta)
    doc.text = _main_text(page.text, root, container, data_tables)
    doc.page_dates = _page_dates(root, box, doc.title)
    if page.cut_short:  # the tree lost everything after the limit: the raw markup still has the words
        doc.warnings.append("页面标签嵌套过深，超出解析器上限：正文按去除标签后的文字读取")
        doc.text = _strip_tags(page.text)
    return doc


# ------------------------------------------------------------------ walking

def _without_scripts(text: str) -> str:
    """``text`` without <script>/<style> elements, in one linear pass (a regex would go quadratic on
    thousands of unclosed tags)."""
    lower = text.lower()
    kept: list[str] = []
    position = 0
    next_open = {tag: lower.find(f"<{tag}", 0) for tag in ("script", "style")}
    while True:
        for tag, found in next_open.items():
            if 0 <= found < position:
                next_open[tag] = lower.find(f"<{tag}", position)
        starts = [(found, tag) for tag, found in next_open.items() if found >= 0]
        if not starts:
            kept.append(text[position:])
            break
        start, tag = min(starts)
        kept.append(text[position:start])
        end = lower.find(f"</{tag}", start)
        if end < 0:
            break  # unclosed: the rest is script
        close = lower.find(">", end)
        position = len(text) if close < 0 else close + 1
    return " ".join(kept)


def _strip_tags(text: str) -> str:
    """Last resort when no usable tree exists: the text between tags, scripts and styles removed."""
    text = html_lib.unescape(_TAG.sub("\n", _without_scripts(text)))
    lines = (collapse_whitespace(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _walk_lines(top, skip=frozenset()) -> list[str]:
    """Visible text of ``top`` as lines: block elements break lines, table cells are tab-separated."""
    pieces: list[str] = []
    walker = etree.iterwalk(top, events=("start", "end"))
    for event, element in walker:
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if tag in _BLOCK_TAGS:
                pieces.append("\n")
            if element in skip:
                walker.skip_subtree()
                continue
            if element.text:
                pieces.append(element.text)
            continue
        if tag in _BLOCK_TAGS:
            pieces.append("\n")
        elif tag in _CELL_TAGS:
            pieces.append("\t")
        if element is not top and element.tail:
            pieces.append(element.tail)
    lines = []
    for line in "".join(pieces).split("\n"):
        cells = [collapse_whitespace(cell) for cell in line.split("\t")]
        line = "\t".join(cell for cell in cells if cell)
        if line:
            lines.append(line)
    return lines


def _visible_length(text: str) -> int:
    return len(_WHITESPACE.sub("", text))


# ------------------------------------------------------------------ meta, tables

def _meta_tags(root) -> dict[str, str]:
    meta: dict[str, str] = {}
    for element in root.iter("meta"):
        name, content = element.get("name"), element.get("content")
        if name and name.strip() and content is not None:
            meta.setdefault(name.strip(), content.strip())
    return meta


def _meta_value(meta: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in meta.items() if key.lower() == wanted and value), None)


def _is_data_table(table) -> bool:
    """A table of figures (kept as a Grid), as opposed to a layout table holding the article's paragraphs."""
    if table.find(".//table") is not None:
        return False
    return all(_visible_length(cell.text_content()) <= _DATA_CELL_MAX_CHARS for cell in table.iter("td", "th"))


def _expand_table(table) -> list[list[str]]:
    """Rows of cell text with rowspan/colspan expanded: a spanned cell's text fills every slot it covers."""
    rows = table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
    slots: dict[tuple[int, int], str] = {}
    for row_index, row in enumerate(rows):
        column = 0
        for cell in row.xpath("./td | ./th"):
            while (row_index, column) in slots:
                column += 1
            text = join_pieces(list(cell.itertext()))
            rowspan = _span(cell.get("rowspan"), len(rows) - row_index, zero_means_rest=True)
            colspan = _span(cell.get("colspan"), _MAX_COLSPAN)
            for down in range(rowspan):
                for across in range(colspan):
                    slots[(row_index + down, column + across)] = text
            column += colspan
            if len(slots) > _MAX_GRID_SLOTS:
                break
    if not slots:
        return []
    width = max(column for _, column in slots) + 1
    return [[slots.get((row_index, column), "") for column in range(width)] for row_index in range(len(rows))]


def _span(raw: str | None, limit: int, zero_means_rest: bool = False) -> int:
    match = re.match(r"\s*(\d+)", raw or "")
    if not match:
        return 1
    value = int(match.group(1))
    if value == 0:
        return max(limit, 1) if zero_means_rest else 1
    return max(1, min(value, limit))


# ------------------------------------------------------------------ 信息公开目录 box

def _catalog_box(root):
    """The smallest element that holds most of the catalog labels (索引号, 发布机构, 成文日期 ...)."""
    labels_under: dict = {}
    for text in root.xpath("//text()"):
        found = _labels_in(text) if ("：" in text or ":" in text or len(text) < 12) else None
        if not found:
            continue
        node = text.getparent()
        if text.is_tail:  # a tail belongs to the element around the one it follows
            node = node.getparent()
        while node is not None:
            labels_under.setdefault(node, set()).update(found)
            node = node.getparent()
    candidates = [
        element for element, labels in labels_under.items()
        if (len(labels) >= 3 or ("索引号" in labels and len(labels) >= 2))
        and _visible_length(element.text_content()) <= _BOX_MAX_CHARS
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda element: (len(labels_under[element]), _depth(element)))


def _labels_in(text: str) -> set[str]:
    return {_WHITESPACE.sub("", match.group(1) or match.group(2)) for match in _LABEL_FOUND.finditer(text)}


def _depth(element) -> int:
    return sum(1 for _ in element.iterancestors())


def _catalog_pairs(box) -> dict[str, str]:
    """Label/value pairs of the box, whatever markup pairs them: ``<td>索引号：</td><td>…</td>``, ``<th>索引号</th>``,
    ``<li><span>索引号：</span>…</li>``, ``<dt>``/``<dd>``, or several "label：value" sharing one line.

    BeautifulSoup reads only the box, serialised from the page's one lxml tree (a few hundred bytes, never the page a
    second time). A value is the text after its label, markup inside it included (临淄区<b>卫生健康局</b>), and ends
    with the table cell or list item that holds it: a label alone in its cell takes the next cell, never the cells
    after it, so a label we do not know (备注/文号, 所属目录 in catkins10/cms's 公开信息 view) stays out of the value
    before it.
    """
    fragment = BeautifulSoup(etree.tostring(box, encoding="unicode", method="html", with_tail=False), "lxml")
    pairs: dict[str, str] = {}
    label: str | None = None
    value: list[str] = []

    def flush() -> None:
        text = join_pieces(value)
        if label and text and len(text) <= _MAX_CATALOG_VALUE:
            pairs.setdefault(label, text)

    item = None
    for string in fragment.strings:
        piece = collapse_whitespace(string)
        if not piece:
            continue
        holder = next((parent for parent in string.parents if parent.name in _PAIR_ITEMS), None)
        if holder is not item:
            if item is not None and label and join_pieces(value):  # the item that held the value has ended
                flush()
                label = None
            item = holder
        if _WHITESPACE.sub("", piece) in _LABEL_KEYS:  # a label cell without colon: <th>索引号</th>, <dt>索引号</dt>
            flush()
            label, value = _WHITESPACE.sub("", piece), []
            continue
        position = 0
        for match in _LABEL_WITH_COLON.finditer(piece):
            if label:
                value.append(piece[position:match.start()])
            flush()
            label, value = _WHITESPACE.sub("", match.group(1)), []
            position = match.end()
        if label:
            value.append(piece[position:])
    flush()
    return pairs


# ------------------------------------------------------------------ main container, title, text, dates

def _main_container(root, data_tables: set):
    """The deepest element holding most of the page's running text (tables of figures not counted)."""
    return _deepest_holding_most(root, lambda element: element in data_tables)


def _content_block(root):
    """The deepest element holding most of the page's content outside links: a portal's navigation is links,
    however long, and an article's tables of figures (most of a 2021-format report) are content."""
    return _deepest_holding_most(root, lambda element: element.tag == "a")


def _deepest_holding_most(root, uncounted):
    body = root.find("body")
    body = body if body is not None else root
    lengths: dict = {}
    for event, element in etree.iterwalk(body, events=("end",)):
        if uncounted(element):
            lengths[element] = 0
            continue
        length = _visible_length(element.text or "")
        for child in element:
            length += lengths.get(child, 0) + _visible_length(child.tail or "")
        lengths[element] = length
    total = lengths.get(body, 0)
    node = body
    while total:
        child = next((c for c in node if lengths.get(c, 0) >= _MAIN_SHARE * total), None)
        if child is None:
            break
        node = child
    return node


class _TitleClues:
    """What the title extractors read; headings are collected only when an extractor asks for them."""

    def __init__(self, root, meta: dict[str, str]) -> None:
        self.root = root
        self.meta = meta
        # markup typed into <title> stays text there ("…年度报告<br>_某某区人民政府"): drop it
        self.head_title = collapse_whitespace(_TAG.sub(" ", html_lib.unescape(root.findtext(".//title") or "")))

    @cached_property
    def headings(self) -> list[str]:
        """h1–h3 and title-classed elements outside links, in page order, the site's name left out."""
        site_name = _meta_value(self.meta, "SiteName") or ""
        headings: list[str] = []
        for element in self.root.iter():
            if not isinstance(element.tag, str):
                continue
            if element.tag not in ("h1", "h2", "h3") and not _TITLE_CLASS.search(
                    f"{element.get('class', '')} {element.get('id', '')}"):
                continue
            if element.tag == "a" or any(ancestor.tag == "a" for ancestor in element.iterancestors()):
                continue
            text = collapse_whitespace(element.text_content())
            if 4 <= len(text) <= 150 and text != site_name:
                headings.append(text)
        return headings


def _title(root, meta: dict[str, str]) -> str | None:
    clues = _TitleClues(root, meta)
    for extract in _TITLE_EXTRACTORS:
        title = extract(clues)
        if title:
            return title
    return None


def _title_from_meta(clues: _TitleClues) -> str | None:
    found = _meta_value(clues.meta, "ArticleTitle")
    return collapse_whitespace(found) if found else None


def _heading_like_a_title(clues: _TitleClues) -> str | None:
    """A heading that the <title> repeats, or that reads like one (报告, 通知 …)."""
    return next((text for text in clues.headings if text in clues.head_title or _TITLE_WORDS.search(text)), None)


def _first_heading(clues: _TitleClues) -> str | None:
    return clues.headings[0] if clues.headings else None


def _head_title(clues: _TitleClues) -> str | None:
    """The <title> without the site name after its separator ("…年度报告_临淄区人民政府")."""
    if not clues.head_title:
        return None
    parts = _TITLE_SEPARATOR.split(clues.head_title)
    return parts[0] if len(parts) > 1 and len(parts[0]) >= 4 else clues.head_title


# Most specific first; each returns the title or None.
_TITLE_EXTRACTORS = (_title_from_meta, _heading_like_a_title, _first_heading, _head_title)


def _main_text(html_text: str, root, container, data_tables: set) -> str:
    walked = "\n".join(_walk_lines(container, skip=data_tables))
    extracted = _trafilatura_text(html_text)
    # Too little: trafilatura missed a table-heavy article. Too much: on short pages it falls back to
    # the whole page, navigation and catalog box included.
    if extracted and _agrees(extracted, walked):
        return extracted
    if _mostly_links(container):
        # the running text was the portal's navigation (hundreds of links around a table-heavy report): the
        # article is the page's largest block of content outside links, when it holds sentences
        block = _content_block(root)
        block_text = "\n".join(_walk_lines(block, skip=data_tables)) if block is not container else ""
        if _visible_length(block_text) >= _MIN_ARTICLE_CHARS and _SENTENCE.search(block_text):
            return extracted if extracted and _agrees(extracted, block_text) else block_text
    return walked if walked or not extracted else extracted


def _agrees(extracted: str, walked: str) -> bool:
    share = _visible_length(extracted) / max(_visible_length(walked), 1)
    return _TRAFILATURA_MIN_SHARE <= share <= _TRAFILATURA_MAX_SHARE


def _mostly_links(element) -> bool:
    in_links = sum(_visible_length(link.text_content()) for link in element.iter("a"))
    return in_links > _visible_length(element.text_content()) / 2


def _trafilatura_text(html_text: str) -> str | None:
    if len(html_text) > _TRAFILATURA_MAX_CHARS:
        return None  # its cost grows faster than the page: the DOM walk alone reads huge pages
    try:
        import trafilatura

        # fast: its own extraction only, not also readability's and jusText's to compare with (half the HTML
        # parse's CPU); the DOM walk above is the comparison that decides, so their second opinion changed no
        # record on the pages measured (benchmarks/README.md, session of 2026-12-01)
        text = trafilatura.extract(html_text, include_tables=False, favor_recall=True, include_comments=False,
                                   include_images=False, include_links=False, deduplicate=False,
                                   output_format="txt", with_metadata=False, fast=True)
    except Exception:  # trafilatura is a fallback-chain step: its failure means "use the DOM walk"
        logger.warning("trafilatura failed", exc_info=True)
        return None
    if not text:
        return None
    lines = (collapse_whitespace(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _page_dates(root, box, title: str | None) -> list[tuple[str, str]]:
    """(label, raw date) pairs printed near the title, outside the catalog box."""
    body = root.find("body")
    lines = _walk_lines(body if body is not None else root, skip={box} if box is not None else frozenset())
    return dates_near_title(lines, title)
