"""Is this document an agency's 政府信息公开工作年度报告, and if so whose, for which year, in which format?

Look-alikes are ruled out first (blank templates and the 年度报告格式 itself, notices about reports,
compilations of many agencies' reports), then a report is recognised by its title, or by its sections
when it has no title (seed 000). Agency, year and format each say where they were read from.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from parsers.dates import Signature, find_signature
from parsers.record import ExtractedDocument, FetchContext


@dataclass
class Classification:
    is_report: bool
    kind: str                   # report | notice | format_document | summary_of_many | other
    reason: str                 # one Chinese sentence
    title: str | None
    agency: str | None
    agency_source: str | None   # title | 填报单位 | signature | meta | catalog_box
    level: str | None           # department | government | township
    report_year: int | None
    format: str                 # 2021 | 2019 | old | work_summary | unknown
    format_reason: str


# ------------------------------------------------------------------ agency names

_TOWNSHIP = re.compile(r"((乡|镇|苏木)(人民)?政府|街道办事处|街道办|街道工作委员会|[乡镇]|街道)$")
_GOVERNMENT = re.compile(r"(人民)?政府$")
_DEPARTMENT_SUFFIXES = ("委员会", "办公室", "管委会", "局", "委", "办", "厅", "中心", "署", "部", "院", "所", "站",
                        "队", "处", "馆", "室", "会", "社", "行")
_PLACE_PREFIX = re.compile(r".+?(省|自治区|市|州|盟|地区|县|区|旗)")
_PLACE_START = re.compile(r"^.{1,12}?(省|自治区|市|州|盟|地区|县|区|旗|镇|乡)")
_NAME_PUNCTUATION = re.compile(r"[，。；：:、,;！？!?“”\"《》〈〉()（）\[\]【】]")


def normalise_agency(name: str) -> str:
    """The name as compared: NFKC (full-width letters and brackets), every space removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))


def agency_level(name: str) -> str | None:
    """township for 乡/镇人民政府 and 街道办事处, government for 人民政府, department for 局/委/办/厅/中心 …"""
    text = normalise_agency(name)
    if not text:
        return None
    if _TOWNSHIP.search(text):
        return "township"
    if _GOVERNMENT.search(text):
        return "government"
    if text.endswith(_DEPARTMENT_SUFFIXES):
        return "department"
    return None


def agencies_match(first: str, second: str) -> bool:
    """Same agency, allowing a leading higher place name: 淮安市洪泽区人民政府 ≈ 洪泽区人民政府.

    Names stay distinct (the record keeps what the document says); this only answers "same body?".
    Abbreviations such as 卫计局 for 卫生和计划生育局 are not guessed: the registry's aliases handle those.
    """
    a, b = normalise_agency(first), normalise_agency(second)
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    # the shorter name must still name a place itself, or 人民政府 would match every government
    if not long.endswith(short) or not _PLACE_START.match(short):
        return False
    return bool(_PLACE_PREFIX.fullmatch(long[: len(long) - len(short)]))


def looks_like_agency(name: str) -> bool:
    text = normalise_agency(name)
    if not 3 <= len(text) <= 40 or _NAME_PUNCTUATION.search(text) or re.match(r"^[一二三四五六七八九十\d]+、", text):
        return False
    if re.search(r"\d{4}年", text) or any(word in text for word in ("报告", "总结", "公开工作", "通知")):
        return False
    return agency_level(text) is not None


# ------------------------------------------------------------------ titles

_REPORT_END = re.compile(r"(年度报告|年报|工作总结|工作报告)$")
_TITLE_TAIL = re.compile(r"([（(【\[][^）)】\]]{0,12}[）)】\]]|全文|正文)$")
_SITE_SPLIT = re.compile(r"\s*(?:[_|｜]|\s[-—－]+\s)\s*")
_TITLE_WORDS = ("年度报告", "年报", "工作总结", "报告", "通知", "格式", "模板", "模版", "汇总")
_DISCLOSURE = ("政府信息公开", "政务公开", "信息公开")


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def is_report_title(title: str | None) -> bool:
    """A title that names an annual disclosure report or 政务公开工作总结 (and ends with it, so that news
    about a report, "…年度报告获评优秀", is not one)."""
    text = _strip_tail(compact(title or ""))
    return bool(text) and any(word in text for word in _DISCLOSURE) and bool(_REPORT_END.search(text))


def _strip_tail(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _TITLE_TAIL.sub("", text)
    return text


def _best_part(title: str) -> str:
    """"临淄区卫生健康局2022年…年度报告_临淄区人民政府" → the part that is the title, not the site name."""
    parts = [part for part in _SITE_SPLIT.split(title.strip()) if part]
    for part in parts:
        if is_report_title(part):
            return part
    return parts[0] if parts else title.strip()


def _title_lines(text: str, limit: int = 10) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()][:limit]


def _is_title_like_line(line: str) -> bool:
    return len(compact(line)) <= 80 and not re.search(r"[，。；]", line) and not re.match(r"^[一二三四五六七八九十]+、", line)


def title_from_text(text: str) -> tuple[str | None, str | None]:
    """(title, agency line above it) from the first lines: a report-like line, joined to an agency line above."""
    lines = _title_lines(text)
    for index, line in enumerate(lines):
        if not _is_title_like_line(line) or not any(word in line for word in _TITLE_WORDS):
            continue
        above = lines[index - 1] if index > 0 else None
        if above and looks_like_agency(above) and not compact(line).startswith(compact(above)):
            return compact(above) + compact(line), compact(above)
        return compact(line), None
    for line in lines[:3]:
        if _is_title_like_line(line) and len(compact(line)) <= 40:
            return compact(line), None
    return None, None


def _meta(doc: ExtractedDocument, name: str) -> str | None:
    wanted = name.lower()
    for key, value in doc.meta.items():
        if key.strip().lower() == wanted and value and value.strip():
            return value.strip()
    return None


def _catalog(doc: ExtractedDocument, label: str) -> str | None:
    for key, value in doc.catalog_box.items():
        if re.sub(r"[\s:：]+", "", key) == label and value and value.strip():
            return value.strip()
    return None


def choose_title(doc: ExtractedDocument, context: FetchContext) -> str | None:
    """ArticleTitle, the reader's title, the listing title, else the first title-like lines of the text;
    the first that names a report (or a look-alike) wins over one that is just a site name."""
    article_title = _meta(doc, "ArticleTitle")
    if article_title and article_title.strip():
        # the page tag names the article itself; text lines may be breadcrumbs or column names
        return compact(_best_part(article_title))
    text_title, _ = title_from_text(doc.text)
    candidates = [doc.title, context.listing_title, text_title]
    cleaned = [compact(_best_part(c)) for c in candidates if c and c.strip()]
    for candidate in cleaned:
        if any(word in candidate for word in _TITLE_WORDS):
            return candidate
    return cleaned[0] if cleaned else None


# ------------------------------------------------------------------ kind

_PLACEHOLDER = re.compile(r"[（(]文字描述[^）)]{0,30}[）)]")
_FORMAT_TITLE = re.compile(r"年度报告格式|报告(格式)?模[板版]|格式模[板版]")
_NOTICE_TITLE = re.compile(r"^关于.*(通知|函|意见|方案)$|(通知|函)$")
_SUMMARY_TITLE = re.compile(r"汇总|合集|汇编|各(部门|单位|地|区|县|乡镇|街道).{0,10}(年度报告|年报)")
_REPORT_LINE = re.compile(r"^(?P<agency>.{2,40}?)(?P<year>\d{4})年度?.{0,20}(年度报告|年报)")
_SECTION_HEADING = re.compile(r"^[一二三四五六七八九十]+、(.*)$")
_SECTION_TOPICS = {
    "概述": ("概述",), "总体情况": ("总体情况",), "主动公开": ("主动公开",), "申请": ("申请",),
    "收费": ("收费",), "复议诉讼": ("复议", "诉讼"), "问题": ("问题",), "其他事项": ("其他需要报告",),
}


def classify(doc: ExtractedDocument, tables: dict, context: FetchContext) -> Classification:
    tables = tables or {}
    text = doc.text or ""
    title = choose_title(doc, context)
    kind, reason = _kind(doc, title)
    signature = find_signature(text)
    agency, agency_source = _agency(doc, title, signature)
    report_year, _ = _report_year(title, text, signature)
    fmt, format_reason = _format(title, _with_grid_text(doc), tables)
    return Classification(
        is_report=kind == "report",
        kind=kind,
        reason=reason,
        title=title,
        agency=agency,
        agency_source=agency_source,
        level=agency_level(agency) if agency else None,
        report_year=report_year,
        format=fmt,
        format_reason=format_reason,
    )


def _with_grid_text(doc: ExtractedDocument) -> str:
    """The text plus every table cell: HTML and DOCX readers keep table headers in grids, not in the text."""
    cells = [cell for grid in doc.grids for row in grid.rows for cell in row if cell]
    return "\n".join([doc.text or "", *cells])


def _kind(doc: ExtractedDocument, title: str | None) -> tuple[str, str]:
    """The first test in ``_KIND_TESTS`` that recognises the document decides its kind; else it is "other"."""
    for test in _KIND_TESTS:
        found = test(doc, title)
        if found is not None:
            return found
    return "other", f"{_shown(title)}和正文都不像政府信息公开工作年度报告。"


def _shown(title: str | None) -> str:
    return f"标题“{title}”" if title else "无标题的文档"


def _format_document_title(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    if title and _FORMAT_TITLE.search(title):
        return "format_document", f"{_shown(title)}是年度报告格式文件或模板，不是某个机关的报告。"
    return None


def _blank_template(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    placeholders = len(_PLACEHOLDER.findall(doc.text or ""))
    if placeholders >= 2:
        return "format_document", f"正文有 {placeholders} 处“（文字描述）”占位符，是未填写的年度报告模板。"
    return None


def _notice_title(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    if title and _NOTICE_TITLE.search(title):
        return "notice", f"{_shown(title)}是一份通知或函，讲的是年度报告工作，不是报告本身。"
    return None


def _summary_title(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    if title and _SUMMARY_TITLE.search(title):
        return "summary_of_many", f"{_shown(title)}是多个机关年度报告的汇总，不是单个机关的报告。"
    return None


def _lists_many_agencies(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    many = _many_reports(doc)
    if len(many) >= 3:
        names = "、".join(many[:3])
        return "summary_of_many", f"页面列出 {len(many)} 个机关的年度报告（{names}等），是汇总页，不是单个机关的报告。"
    return None


def _lists_many_years(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    listed = _listed_report_years(doc)
    if len(listed) >= 2 and not (title and _YEAR.search(title)):
        years = "、".join(str(year) for year in sorted(listed))
        return "other", f"{_shown(title)}是年报栏目的列表页（列出 {years} 年度的报告），不是报告本身。"
    return None


def _report_title(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    # a title without a year ("政府信息公开年报") is a column name; the body must then show it is a report
    if not (is_report_title(title) and _YEAR.search(title)):
        return None
    if "工作总结" in title:
        return "report", f"{_shown(title)}是政务公开工作总结，按本机关的年度报告计。"
    return "report", f"{_shown(title)}是政府信息公开工作年度报告。"


def _report_sections(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    topics = _section_topics(doc.text or "")
    if len(topics) >= 3 and any(word in (doc.text or "") for word in _DISCLOSURE):
        return "report", f"{_shown(title)}，但正文有年度报告的章节（{'、'.join(topics)}），按年度报告计。"
    return None


# Look-alikes are ruled out before a report is recognised; each test returns (kind, reason) or None.
_KIND_TESTS = (_format_document_title, _blank_template, _notice_title, _summary_title, _lists_many_agencies,
               _lists_many_years, _report_title, _report_sections)


def _many_reports(doc: ExtractedDocument) -> list[str]:
    """Distinct agencies whose report titles a page lists (as links or as lines)."""
    agencies: list[str] = []
    texts = [link.text for link in doc.links] + _title_lines(doc.text or "", limit=400)
    for item in texts:
        match = _REPORT_LINE.match(compact(item))
        if match and looks_like_agency(match.group("agency")) and match.group("agency") not in agencies:
            agencies.append(match.group("agency"))
    return agencies


_YEAR = re.compile(r"(19|20)\d{2}")


def _listed_report_years(doc: ExtractedDocument) -> set[int]:
    """Report years of the report titles a page lists: a listing page names several years' reports."""
    years: set[int] = set()
    for item in [link.text for link in doc.links] + _title_lines(doc.text or "", limit=400):
        match = _REPORT_LINE.match(compact(item))
        if match:
            years.add(int(match.group("year")))
    return years


def _section_topics(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        heading = _SECTION_HEADING.match(line.strip())
        if not heading:
            continue
        for topic, words in _SECTION_TOPICS.items():
            if topic not in found and any(word in heading.group(1) for word in words):
                found.append(topic)
    return found


# ------------------------------------------------------------------ agency

_FILLER = re.compile(r"填报单位[（(]?(?:盖章|公章)?[）)]?[:：]\s*(?P<name>[^\s（(]{2,40})")
# Where the agency part of a title can end: 遂宁市安居区卫计局|2017年…, 镇海区卫生计生局|政府信息公开工作2015年…
_TITLE_CUT = re.compile(r"(?=\d{4}年|政府信息公开|政务公开|信息公开)")


def _agency(doc: ExtractedDocument, title: str | None,
            signature: Signature | None) -> tuple[str | None, str | None]:
    text = doc.text or ""
    if is_report_title(title):
        prefix = _agency_in_title(title)
        if prefix:
            return prefix, "title"
    above = _agency_above_report_title(text)
    if above:
        return above, "title"
    filler = _FILLER.search(text)
    if filler and looks_like_agency(filler.group("name")):
        return normalise_agency(filler.group("name")), "填报单位"
    signer = _signing_agency(signature)
    if signer:
        return signer, "signature"
    source = _meta(doc, "ContentSource")
    if source and looks_like_agency(source):
        return normalise_agency(source), "meta"
    publisher = _catalog(doc, "发布机构")
    if publisher and looks_like_agency(publisher):
        return normalise_agency(publisher), "catalog_box"
    return None, None


def _agency_in_title(title: str) -> str | None:
    """The shortest title prefix that is an agency name (a cut inside 某市政务公开办公室 is not one)."""
    for cut in _TITLE_CUT.finditer(title):
        prefix = re.sub(r"^关于|关于$", "", title[: cut.start()])
        if prefix and looks_like_agency(prefix):
            return normalise_agency(prefix)
    return None


def _agency_above_report_title(text: str) -> str | None:
    lines = _title_lines(text)
    for index, line in enumerate(lines):
        if is_report_title(line):
            if index > 0 and looks_like_agency(lines[index - 1]):
                return normalise_agency(lines[index - 1])
            return None
    return None


def _signing_agency(signature: Signature | None) -> str | None:
    if signature is None:
        return None
    same_line = normalise_agency(signature.line.replace(signature.date.raw, ""))
    if same_line and looks_like_agency(same_line):
        return same_line
    if signature.lines_above and looks_like_agency(signature.lines_above[0]):
        return normalise_agency(signature.lines_above[0])
    return None


# ------------------------------------------------------------------ report year

_YEAR_IN_TITLE = re.compile(r"(?<!\d)(20\d{2}|19\d{2})年度?")
_STATISTICS_PERIOD = re.compile(r"统计期限[^。]{0,12}?(20\d{2})年")
_YEAR_HEADER = re.compile(r"[（(](20\d{2})年度[）)]")
_YEAR_OF = re.compile(r"(?<![\d〔\[［﹝])(20\d{2})年度")
_YEAR_ANY = re.compile(r"(?<![\d〔\[［﹝])(20\d{2})年")


def _report_year(title: str | None, text: str, signature: Signature | None) -> tuple[int | None, str | None]:
    """The year reported on (not the year published): title, 统计期限, the text, else signing year − 1."""
    if is_report_title(title) or (title and any(w in title for w in _TITLE_WORDS)):
        match = _YEAR_IN_TITLE.search(title or "")
        if match:
            return int(match.group(1)), "title"
    body = compact(text)
    for pattern in (_STATISTICS_PERIOD, _YEAR_HEADER):
        match = pattern.search(body)
        if match:
            return int(match.group(1)), "统计期限"
    signing_year = signature.date.value.year if signature else None
    if signature:
        body = body.replace(compact(signature.date.raw), "")  # the 落款 names the publication year, not the report's
    for pattern in (_YEAR_OF, _YEAR_ANY):
        years = [int(y) for y in pattern.findall(body) if signing_year is None or int(y) <= signing_year]
        if years:
            return Counter(years).most_common(1)[0][0], "text"
    if signing_year:
        return signing_year - 1, "signing"
    return None, None


# ------------------------------------------------------------------ format

_HEADERS_2021 = ("本年制发件数", "本年废止件数", "现行有效件数")
_HEADERS_2019 = ("本年新制作数量", "本年新公开数量", "对外公开总数量")
_OLD_MARKERS = (
    ("概述", re.compile(r"(^|\n)\s*[一1][、.．]\s*概\s*述")),
    ("收费及减免", re.compile(r"收费(及|与|和)减免")),
    ("政府信息公开情况统计表", re.compile(r"政府信息公开情况统计表")),
)


def _format(title: str | None, text: str, tables: dict) -> tuple[str, str]:
    """Which format the report follows, judged by what its tables are (DOMAIN.md §2), not by what it cites."""
    columns = (tables.get("table2") or {}).get("columns")
    if columns in ("2021", "2019"):
        headers = "、".join(_HEADERS_2021 if columns == "2021" else _HEADERS_2019)
        return columns, f"表二的列标题为{headers}，是 {columns} 年版格式。"
    if title and "工作总结" in title:
        return "work_summary", f"标题“{title}”是政务公开工作总结。"
    body = compact(text)
    hits_2021 = [h for h in _HEADERS_2021 if h in body]
    hits_2019 = [h for h in _HEADERS_2019 if h in body]
    if hits_2021 or hits_2019:
        chosen, hits = ("2021", hits_2021) if len(hits_2021) >= len(hits_2019) else ("2019", hits_2019)
        return chosen, f"正文中的表格列标题有{'、'.join(hits)}，是 {chosen} 年版格式。"
    old = [name for name, pattern in _OLD_MARKERS if pattern.search(text)]
    if tables.get("old_stats"):
        old = old or ["政府信息公开情况统计表"]
    if old:
        return "old", f"有旧版（2018年及以前）格式的内容：{'、'.join(old)}。"
    return "unknown", "没有找到能判断格式的表格列标题或章节。"
