"""The title of a document from the first lines of its text (PDF, DOCX, DOC, plain text, and HTML text when the
page gives no usable heading).

Reports open with the title, often split over two lines with the agency on its own line:
"临淄区卫生健康局" / "2022年政府信息公开工作年度报告". Real pages put other lines first: a breadcrumb
("您当前所在位置：首页 > … > 政务信息公开年报"), catalog labels ("索引号", "发布时间："), toolbar words ("关怀版 无障碍"),
a section heading ("引言", "（一）主动公开"). None of those is a title; a line that names a disclosure report
beats every other candidate. Only the opening lines are looked at, so a sentence in the body that mentions a 年度报告
is not taken for the title.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from parsers.formats.textnorm import compact_title, same_text_once

# Words a title ends with; a disclosure-report title also names 信息公开/政务公开.
TITLE_WORDS = re.compile(r"年度报告|年报|工作总结|报告|通知|通报|格式|模板|模版|汇总|函")
_REPORT_END = re.compile(r"(年度报告|年报|工作总结|工作报告|(信息公开|政务公开)(工作)?(情况)?的?报告)$")
_DISCLOSURE = ("政府信息公开", "政务公开", "信息公开")
# "（2016年）", "（全文）" after a title
_TITLE_TAIL = re.compile(r"([（(【\[][^）)】\]]{0,12}[）)】\]]|全文|正文)$")

_TITLE_START = re.compile(r"(?:政府)?信息公开|政务公开|(?:19|20)\d\d年|[二〇○一]{4}年|关于")
_AGENCY_END = re.compile(r"(?:人民政府|政府|办公室|办公厅|委员会|办事处|街道|局|委|办|厅|院|署|中心|镇|乡|部|会|所|站|队|馆|处)$")
_SENTENCE_PUNCTUATION = re.compile(r"[。，；,;！？!?]")
_CITATION = re.compile(r"[〔〕]|根据|依据|按照|本报告|本年报|以下简称")
_BREADCRUMB = re.compile(r"(当前|所在|您的|现在)的?位置|^首页\s*[>＞»/]|^[>＞»]|[>＞»]{2}"
                         r"|[^>＞»]+[>＞»][^>＞»]+[>＞»]")
# catalog and page labels that open a line: "索引号：…", "发布时间 2015-03-13", "来源 安康市卫生局"
_LABELS = ("索引号", "发布机构", "发布单位", "发文机关", "发文单位", "所属机构", "信息来源", "文章来源", "文件来源", "来源",
           "发布文号", "发布时间", "发布日期", "发表日期", "发文日期", "成文日期", "生成日期", "公文生成日期", "公开日期",
           "更新时间", "时间", "日期",
           "浏览次数", "点击数", "点击率", "点击次数", "访问量", "访问次数", "阅读次数", "字号", "字体", "文号", "发文字号",
           "文件编号", "主题分类", "体裁分类", "内容分类", "组配分类", "信息分类", "公开方式", "公开范围", "公开形式",
           "有效性", "关键词", "内容概述", "责任部门", "作者", "编辑", "今天是", "备注", "分享", "打印")
# labels whose value is the document's own title: "标题：|…年度报告|", "名 称：…年度报告"
_TITLE_LABELS = ("标题", "名称", "信息名称", "文件名称", "文章标题")


def _label_pattern(labels: tuple[str, ...]) -> str:
    """Labels as printed, with the spaces portals put between their characters ("索 引 号", "名 称")."""
    return "|".join(r"\s*".join(label) for label in sorted(labels, key=len, reverse=True))


# on lines whose spaces are kept: a label ends at a colon, a pipe, a space or the line's end
_LABEL_LINE = re.compile(r"^[-•·*【\[]*\s*(%s)\s*(?:[:：|｜】\]]|\s|$)" % _label_pattern(_LABELS + _TITLE_LABELS))
_TITLE_LABEL = re.compile(r"^[-•·*]*\s*(?:%s)\s*(?:[:：|｜]|\s)\s*[|｜]?\s*(?P<value>[^|｜]+)"
                          % _label_pattern(_TITLE_LABELS))
# a line of toolbar words only: "关怀版 无障碍", "登录 注册", "【字体：大 中 小】 打印"
_TOOLBAR = re.compile(r"^(登录|注册|无障碍(浏览|阅读)?|关怀版|长者版|适老化|设为首页|加入收藏|简体|繁体|EN|English|打印|关闭|分享|"
                      r"字体|字号|大|中|小|默认|超大|[【】\[\]()（）:：|｜/\-\s])+$", re.IGNORECASE)
# section headings and articles: "一、总体情况", "（一）主动公开", "1、机构设立", "第一条", "引言"
_HEADING = re.compile(r"^([一二三四五六七八九十]+\s*[、.．]|[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}\s*[、．](?!\d)|"
                      r"第[一二三四五六七八九十百]+[条章节部分])|^(引|前|序)\s*言$")
_DATE_ONLY = re.compile(r"^[\d\s\-/.:：年月日]+$|^[〇○零OＯ一二三四五六七八九十\d\s]{4,}年[一二三四五六七八九十元\d\s]+月"
                        r"[一二三四五六七八九十廿卅\d\s]+日$")
_ENDS_WITH_DATE = re.compile(r"(19|20)\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?$")
# "关于做好…年度报告" / "编制和发布工作的通知": a notice title split over lines, not a report title
NOTICE_SUBJECT = re.compile(r"^(?:.{0,30}?)关于(?:做好|印发|公布|发布|转发|开展|加强|进一步|报送|编制|规范|认真)")

_OPENING_LINES = 20      # a report title is looked for this far: portals open with many lines of furniture
_OTHER_TITLE_LINES = 10  # any other title (通知, 格式 …) only this far: below, it is a link or a heading
_MAX_TITLE_CHARS = 80
_MAX_AGENCY_CHARS = 30
_MAX_TAIL_CHARS = 30
_BODY_CHARS = 20
_BODY_LINES = 60         # a report's body starts within this many lines after its title
_MAX_TOOLBAR_CHARS = 40
_EDGE_PIPES = re.compile(r"^[|｜\s]+|[|｜\s]+$")


@dataclass(frozen=True)
class FoundTitle:
    title: str
    agency_line: str | None  # the agency on its own line right above the title, when there is one
    line: int                # index of the title's (first) line among the opening lines


def strip_title_tail(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _TITLE_TAIL.sub("", text)
    return text


def is_report_title(title: str | None) -> bool:
    """A title that names an annual disclosure report or 政务公开工作总结 (and ends with it, so that news
    about a report, "…年度报告获评优秀", is not one). "…政府信息公开报告（2016年）", "…信息公开的报告" and
    "…信息公开工作情况的报告" are report titles too; "关于做好…年度报告" (the first line of a notice) is not."""
    text = strip_title_tail(re.sub(r"\s+", "", unicodedata.normalize("NFKC", title or "")))
    return (bool(text) and any(word in text for word in _DISCLOSURE) and bool(_REPORT_END.search(text))
            and not NOTICE_SUBJECT.match(text))


def opening_lines(text: str, limit: int = _OPENING_LINES) -> list[str]:
    """The first ``limit`` non-empty lines, whitespace collapsed (spaces kept: "名称 …" is a label), table pipes
    trimmed."""
    kept: list[str] = []
    for line in (text or "").splitlines():
        line = " ".join(line.replace("\u200b", " ").replace("\ufeff", " ").split())
        if "|" in line or "｜" in line:
            line = _EDGE_PIPES.sub("", line)
        if line:
            kept.append(line)
            if len(kept) >= limit:
                break
    return kept


def _compact(line: str) -> str:
    return compact_title(line) if " " in line else line


def is_breadcrumb(line: str) -> bool:
    return bool(_BREADCRUMB.search(line))


def is_label_line(line: str) -> bool:
    """A catalog or page label opening the line ("索引号：…", "发布日期 2015-03-13", "来源 安康市卫生局");
    ``line`` with its spaces kept."""
    return bool(_LABEL_LINE.match(line))


def is_heading(line: str) -> bool:
    return bool(_HEADING.match(line))


def is_page_furniture(line: str) -> bool:
    """Breadcrumbs, catalog labels, toolbar words and bare dates: never a title nor an agency line."""
    return (is_breadcrumb(line) or is_label_line(line) or bool(_DATE_ONLY.match(line))
            or (len(line) <= _MAX_TOOLBAR_CHARS and bool(_TOOLBAR.match(line))))


def is_title_like(line: str, compact: str | None = None) -> bool:
    """Short, no sentence punctuation, not a citation, a heading or page furniture."""
    compact = _compact(line) if compact is None else compact
    return (len(compact) <= _MAX_TITLE_CHARS and not _SENTENCE_PUNCTUATION.search(compact)
            and not _CITATION.search(compact) and compact.count("《") == compact.count("》")
            and not is_heading(compact) and not is_page_furniture(line) and not _ENDS_WITH_DATE.search(compact))


def is_agency_line(line: str, compact: str | None = None) -> bool:
    compact = _compact(line) if compact is None else compact
    return (len(compact) <= _MAX_AGENCY_CHARS and not TITLE_WORDS.search(compact) and is_title_like(line, compact)
            and not re.search(r"[:：【】\d]", compact) and bool(_AGENCY_END.search(compact)))


@same_text_once  # classify asks for the title of the same text more than once
def find_title(text: str) -> FoundTitle | None:
    """The title among the opening lines: the first line (or two wrapped lines, or the value of a 标题/名称 label)
    that names a disclosure report, preferring one whose agency is known; else the first title-like line with a
    title word (通知, 格式, 报告 …). A report title must be followed by body text: a listing's last link is not."""
    lines = opening_lines(text, limit=_OPENING_LINES + _BODY_LINES)
    candidates = list(_candidates(lines[:_OPENING_LINES]))
    reports = [found for found in candidates if is_report_title(found.title) and _body_follows(lines, found)]
    if reports:
        with_agency = [found for found in reports if found.agency_line or _starts_with_name(found.title)]
        return (with_agency or reports)[0]
    return next((found for found in candidates if found.line < _OTHER_TITLE_LINES and TITLE_WORDS.search(found.title)),
                None)


def guess_title(text: str) -> str | None:
    """The report title from the opening lines of ``text`` (joined to an agency line above it), or None."""
    found = find_title(text)
    if found is None:
        return None
    if found.agency_line and not found.title.startswith(found.agency_line):
        return found.agency_line + found.title
    return found.title


def _candidates(lines: list[str]):
    compacts = [_compact(line) for line in lines]
    index = 0
    while index < len(lines):
        line, start = lines[index], index
        index += 1
        labelled = _TITLE_LABEL.match(line)
        if labelled:
            value = labelled.group("value").strip()
            if value and is_title_like(value):
                yield FoundTitle(_compact(value), None, start)
            continue
        if not is_title_like(line, compacts[start]):
            continue
        title = compacts[start]
        if index < len(lines) and _continues(title, compacts[index], lines[index]):
            title += compacts[index]
            index += 1
        above = start - 1
        agency = compacts[above] if above >= 0 and is_agency_line(lines[above], compacts[above]) else None
        yield FoundTitle(title, agency, start)


def _continues(line: str, following: str, raw_following: str) -> bool:
    """"…2023年度政府" / "信息公开工作年度报告", "…关于公布" / "…年度报告的通知": the title's last words on the next
    line. The first part must look like a title's start and not be a whole title itself (unless it opens a notice);
    the next line must not be a dated title of its own (a column name above the title is not its first half)."""
    if not following or len(following) > _MAX_TAIL_CHARS or not is_title_like(raw_following, following):
        return False
    if not re.search(r"(报告|年报|总结|通知|通报|函)$", following) or re.match(r"(19|20)\d\d", following):
        return False
    if is_report_title(following) and re.search(r"(19|20)\d\d", following):
        return False
    whole = bool(re.search(r"(年度报告|年报|工作总结|通知|通报)$", line))
    return bool(_TITLE_START.search(line)) and (not whole or bool(NOTICE_SUBJECT.match(line)))


def _starts_with_name(title: str) -> bool:
    """The title opens with a name before its year or subject: "东街街道2023年度…", "2016年船山区民政局…"."""
    head = re.split(r"(?:19|20)\d\d\s*年|政府信息公开|政务公开|信息公开", re.sub(r"^(?:19|20)\d\d\s*年度?", "", title),
                    maxsplit=1)[0]
    return len(head) >= 2


def _body_follows(lines: list[str], found: FoundTitle) -> bool:
    """Some sentence follows the title line: a report page has a body, a listing ends with its last link."""
    following = lines[found.line + 1: found.line + 1 + _BODY_LINES]
    return any(len(line) >= _BODY_CHARS and _SENTENCE_PUNCTUATION.search(line) for line in following)
