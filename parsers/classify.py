"""Is this document an agency's 政府信息公开工作年度报告, and if so whose, for which year, in which format?

Look-alikes are ruled out first (blank templates and the 年度报告格式 itself, explanations of a report, notices about
reports, compilations of many agencies' reports, listings, rules), then a report is recognised by its title, or,
when it has none (seed 000, most pages whose excerpt starts below the title), by its body: its sections, the way it
speaks of itself ("本报告由…编制", "现公布…年度报告"), the prescribed statistics tables, or a first section
一、总体情况 about disclosure work. Agency, year and format each say where they were read from.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

from parsers.agency import (NAMED_REPORT, agencies_match, agency_in_body, agency_in_title, agency_level,
                            agency_mentioned_in_body, is_fuller_name, level_from_pronouns, looks_like_agency,
                            normalise_agency, opening_of, report_titles_in_body)
from parsers.dates import Signature, find_signature
from parsers.formats.page import as_page, element_text
from parsers.formats.textnorm import fold_width, same_text_once
from parsers.formats.titles import (NOTICE_SUBJECT, TITLE_WORDS, find_title, is_report_title, is_title_like,
                                    opening_lines)
from parsers.record import ExtractedDocument, FetchContext

__all__ = ["Classification", "agencies_match", "agency_level", "choose_title", "classify", "is_report_title",
           "cut_report_year", "listed_report_year", "looks_like_agency", "normalise_agency", "report_year_of_title",
           "title_from_text", "year_only_title"]


@dataclass
class Classification:
    is_report: bool
    kind: str                   # report | notice | format_document | summary_of_many | error_page | other
    reason: str                 # one Chinese sentence
    title: str | None
    agency: str | None
    agency_source: str | None   # title | 填报单位 | signature | text | meta | catalog_box
    level: str | None           # department | government | township
    report_year: int | None
    format: str                 # 2021 | 2019 | old | work_summary | unknown
    format_reason: str
    format_cited: bool = False  # read from the format notice the report cites: its tables are not in the text


# ------------------------------------------------------------------ titles

_SITE_SPLIT = re.compile(r"\s*(?:[_|｜]|\s[-—－]+\s)\s*")
_YEAR_IN = re.compile(r"(?:19|20)\d\d")
_FALLBACK_TITLE_CHARS = 40


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def _best_part(title: str) -> str:
    """"临淄区卫生健康局2022年…年度报告_临淄区人民政府" → the part that is the title, not the site name."""
    parts = [part for part in _SITE_SPLIT.split(title.strip()) if part]
    for part in parts:
        if is_report_title(part):
            return part
    return parts[0] if parts else title.strip()


def title_from_text(text: str) -> tuple[str | None, str | None]:
    """(title, agency line above it) from the opening lines (``parsers.formats.titles.find_title``: breadcrumbs,
    labels and headings skipped, a report title first); else the first short line that is neither."""
    found = find_title(text)
    if found is not None:
        if found.agency_line and not found.title.startswith(found.agency_line):
            return found.agency_line + found.title, found.agency_line
        return found.title, None
    for line in opening_lines(text, limit=3):
        if is_title_like(line) and len(compact(line)) <= _FALLBACK_TITLE_CHARS:
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
        value = re.sub(r"^[\s|｜•·\-]+|[\s|｜•·\-]+$", "", value or "")  # cell borders and list bullets
        if re.sub(r"[\s:：]+", "", key) == label and value:
            return value
    return None


def choose_title(doc: ExtractedDocument, context: FetchContext) -> str | None:
    """ArticleTitle, else the reader's title, the listing title and the title-like lines of the text: the first
    that names a dated disclosure report wins (a breadcrumb, a column name or a label never does), else the first
    that names a report or a look-alike (通知, 格式 …), else the first, which may be just a site name."""
    article_title = _meta(doc, "ArticleTitle")
    if article_title and article_title.strip():
        # the page tag names the article itself; text lines may be breadcrumbs or column names
        return compact(_best_part(article_title))
    text_title, _ = title_from_text(doc.text)
    candidates = [doc.title, context.listing_title, text_title]
    cleaned = [compact(_best_part(c)) for c in candidates if c and c.strip()]
    for candidate in cleaned:
        if is_report_title(candidate) and _YEAR_IN.search(candidate):
            return candidate
    for candidate in cleaned:
        if TITLE_WORDS.search(candidate):
            return candidate
    return cleaned[0] if cleaned else None


# ------------------------------------------------------------------ kind

# a portal's page for a missing or blocked address, answered with 200 (a "soft 404")
_ERROR_PAGE = re.compile(
    r"(?:页面|网页)(?:不存在|未找到|找不到|已(?:被)?删除|已过期|已下线|无法访问)"
    r"|[您你](?:要|所)?(?:访问|查看|浏览|请求|查找)的(?:页面|网页|文章|信息|内容|文件|资源|栏目)"
    r"(?:不存在|未找到|找不到|已(?:被)?删除|已过期|已下线|已撤[销稿]|无法访问)"
    r"|(?:找不到|无法找到|未找到)[您你](?:要|所)?(?:访问|查看|浏览)的(?:页面|网页|文章|信息|内容)"
    r"|[您你]的(?:访问|请求)(?:请求)?(?:被|已被)(?:拒绝|拦截|阻断)|(?<![\d.])404(?![\d.])|NotFound|Forbidden")
_ERROR_PAGE_CHARS = 600   # characters of main text, whitespace aside

_PLACEHOLDER = re.compile(r"[（(]文字描述[^）)]{0,30}[）)]")
_FORMAT_TITLE = re.compile(r"年度报告格式|报告(格式)?模[板版]|格式模[板版]")
# 文字解读：…年度报告, 一图读懂…年报, …年报政策解读, 图解…: explain a report; 范文: a model text to copy
_ABOUT_A_REPORT_TITLE = re.compile(r"解读|图解|读懂|图说|范文")
_NOTICE_TITLE = re.compile(r"^关于.*(通知|函|意见|方案)$|(通知|函)$|(年度报告|年报).*通报$")
_SUMMARY_TITLE = re.compile(r"汇总|合集|汇编|各(部门|单位|地|区|县|乡镇|街道).{0,10}(年度报告|年报)")
_REPORT_LINE = re.compile(r"^(?P<agency>.{2,40}?)(?P<year>\d{4})年度?.{0,20}(年度报告|年报)")
# a section heading at a line start or inside a flattened line ("。一、概述", "…组成。 一、总体情况 2022年,…")
_SECTION_HEADING = re.compile(r"(?:^|[。\s])[一二三四五六七八九十]+、\s*(?P<heading>[^。\n]{1,30})")
_SECTION_TOPICS = {
    "概述": ("概述",), "总体情况": ("总体情况",), "主动公开": ("主动公开",), "申请": ("申请",),
    "收费": ("收费",), "复议诉讼": ("复议", "诉讼"), "问题": ("问题",), "其他事项": ("其他需要报告",),
}
# the five parts of 一、总体情况 the 2019/2021 formats prescribe, as "（一）主动公开" sub-headings
_OVERVIEW_HEADING = re.compile(r"(?:^|[。\s])[一1][、.．]\s*总体情况")
_SUBHEADING = re.compile(r"(?:^|[。\s])[(（][一二三四五六七八九十][)）](?P<heading>[^。\n]{1,30})")
_OVERVIEW_TOPICS = {"主动公开": ("主动公开",), "依申请公开": ("依申请公开",), "政府信息管理": ("信息管理",),
                    "平台建设": ("平台建设",), "监督保障": ("监督保障",)}
# a rule or regulation: "第一条 为…", "第二条 本制度…" (not "第二十条第（一）项", a row of the statistics table)
_ARTICLE = re.compile(r"^第[一二三四五六七八九十百]+条(?!第)\s*\S")
# the report speaks of itself: "本报告由…编制", "编制本年度报告", "本年报中所列数据的统计期限"
_SELF_REFERENCE = re.compile(r"本(?:年度)?(?:报告|年报)(?:是|系)?(?:根据|依据|按照|由|中|所列|的?电子版|包括|全文|分为|共分|内容|使用|数据)"
                             r"|对本(?:年度)?(?:报告|年报)有"
                             r"|编(?:制|写)(?:了|形成)?本(?:年度)?(?:报告|年报)|制定本报告"
                             r"|(?:报告|年报)中?所列(?:的)?(?:政府信息公开)?数据")
_TABLE3_HEADERS = ("本年新收政府信息公开申请数量", "申请人情况")
_SENTENCE = re.compile(r"[^\n]{20,}?[。，；,;]")
_OVERVIEW_CHARS = 300
_FULLER_NAME_CHARS = 3000


def classify(doc: ExtractedDocument, tables: dict, context: FetchContext,
             published: date | None = None) -> Classification:
    """``published``: the date the page says it was published, if any (a report cannot be of a year that had
    not ended by then)."""
    tables = tables or {}
    text = doc.text or ""
    title = choose_title(doc, context)
    # a page the listing named by its year alone, without a sentence of its own: that year's part of the column
    year_part = year_only_title(context.listing_title) is not None and not _SENTENCE.search(doc.text or "")
    kind, reason = _kind(doc, title, year_part=year_part)
    signature = find_signature(text)
    agency, agency_source = _agency(doc, title, signature)
    report_year, _ = _report_year(title, text, signature, context.url, published)
    fmt, format_reason = _format(title, _with_grid_text(doc), tables, report_year, cited=kind == "report")
    level = agency_level(agency) if agency else None
    return Classification(
        is_report=kind == "report",
        kind=kind,
        reason=reason,
        title=title,
        agency=agency,
        agency_source=agency_source,
        level=level or (level_from_pronouns(text) if kind == "report" else None),
        report_year=report_year,
        format=fmt,
        format_reason=format_reason,
        format_cited=format_reason.startswith(TABLES_NOT_IN_TEXT),
    )


def _with_grid_text(doc: ExtractedDocument) -> str:
    """The text plus every table cell: HTML and DOCX readers keep table headers in grids, not in the text."""
    cells = [cell for grid in doc.grids for row in grid.rows for cell in row if cell]
    return "\n".join([doc.text or "", *cells])


def _kind(doc: ExtractedDocument, title: str | None, *, year_part: bool = False) -> tuple[str, str]:
    """The first test in ``_KIND_TESTS`` that recognises the document decides its kind; else it is "other".

    ``year_part``: the listing named the page by its year alone ("2012年度") and it has no sentence of its own, so it
    may be that year's part of the column, whose only text is its links: a report title there is a link's text, not
    the page's, and only the report's own content (its sections, tables) makes the page the report."""
    for test in _KIND_TESTS:
        if year_part and test is _report_title:
            continue
        found = test(doc, title)
        if found is not None:
            return found
    if year_part and is_report_title(title):
        return "other", (f"栏目中只写年份的条目打开的页面，{_shown(title)}只是其中的链接文字，正文不是年度报告："
                         f"是该年度的分栏目。")
    return "other", f"{_shown(title)}和正文都不像政府信息公开工作年度报告。"


def _shown(title: str | None) -> str:
    return f"标题“{title}”" if title else "无标题的文档"


@same_text_once
def _folded(text: str) -> str:
    return fold_width(text)


def _error_page(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    """A portal's error page answered with 200 ("对不起，您访问的页面不存在或已被删除", a firewall's block page): short,
    and saying so in its own title or text. Whatever title the listing gave its link, it is not a report."""
    body = compact(doc.text or "")
    if len(body) > _ERROR_PAGE_CHARS:
        return None   # a report, even the shortest, says far more
    said = _ERROR_PAGE.search(compact(doc.title or "")) or _ERROR_PAGE.search(body)
    if said:
        return "error_page", f"页面写着“{said.group(0)}”，是网站的错误页，不是报告。"
    return None


_NO_TEXT_CHARS = 40   # "系统繁忙，请稍后再试", "Please enable JavaScript …": a report's page says far more
# words of a page about disclosure, however short ("本机关2023年收到政府信息公开申请2件。"): no blank page says them
_DISCLOSURE_WORDS_SHORT = ("公开", "年报", "年度报告", "申请", "报告")


# a site's page for the time it is down ("系统维护中", "网站正在升级维护", "暂停访问"): the address is not gone (so no
# _ERROR_PAGE, which is proof of a deleted report), but what the page lists is not what the address holds
_UNAVAILABLE_PAGE = re.compile(r"(?:系统|网站|平台|服务器)(?:正在|目前)?(?:升级维护|停机维护|升级改造|升级|维护)中?"
                               r"|维护中|(?:暂停|暂时停止|停止)(?:访问|服务)|系统繁忙")


def error_page_heading(page) -> str | None:
    """What a page's ``<title>`` or first ``<h1>`` says when it is the site's error page, answered with 200
    ("页面不存在", "404"), or its page for a maintenance window ("系统维护中"): a report column behind it was not
    read, whatever its sidebar's news lists (the length test of ``_error_page`` does not hold for such a page)."""
    root = as_page(page).root
    if root is None:
        return None
    for element in (root.find(".//title"), root.find(".//h1")):
        heading = compact(element_text(element)) if element is not None else ""
        said = _ERROR_PAGE.search(heading) or _UNAVAILABLE_PAGE.search(heading)
        if said:
            return said.group(0)
    return None


def _no_text(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    """A web page with next to no text of its own, no table and no attachment (a blank answer, a firewall's
    script challenge, "系统繁忙"): whatever title the listing gave its link, the archive got no report there; unlike
    the site's error page, it does not say the report is gone."""
    if doc.format != "html" or doc.needs_ocr or doc.grids or doc.links:
        return None
    body = compact(doc.text or "")
    if len(body) >= _NO_TEXT_CHARS or any(word in body for word in _DISCLOSURE_WORDS_SHORT):
        return None   # a short page about disclosure (an article page around an embedded file) is judged below
    shown = f"“{body}”" if body else "没有任何文字"
    return "blank_page", (f"页面{shown}（{len(body)} 字），没有表格或附件：空白页、网站的验证页或繁忙提示，"
                          f"不是报告。")


def _format_document_title(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    if title and _FORMAT_TITLE.search(title):
        return "format_document", f"{_shown(title)}是年度报告格式文件或模板，不是某个机关的报告。"
    return None


def _blank_template(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    placeholders = len(_PLACEHOLDER.findall(doc.text or ""))
    if placeholders >= 2:
        return "format_document", f"正文有 {placeholders} 处“（文字描述）”占位符，是未填写的年度报告模板。"
    return None


def _about_a_report_title(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    if title and _ABOUT_A_REPORT_TITLE.search(title):
        return "other", f"{_shown(title)}是对年度报告的解读、图解或范文，不是报告本身。"
    return None


# news about a report, by its headline: a meeting on it, its publication told by someone else, a graphic or a
# video of it, a note about it, its review ("东宝区审计局召开2024年度…年度报告编制推进会", "我区按时发布2024年…年度
# 报告", "一图看懂…", "…年度报告的更正说明", "…年度报告评查结果公示"). Not a word an agency's name or a report's own
# title may hold: 会议 (政治协商会议), 公示 and 更正 alone (a report published "（公示）", a corrected report)
_NEWS_TITLE = re.compile(
    r"召开|举办|举行|部署|推进会|培训会|座谈会|调度会|工作会议|发布会|一图|图读|数说|速览|视频[:：]|评查|评估结果|"
    r"撰写要点|起草说明|更正说明|的说明$|提示$|发布情况|(?<!关于)(?<!关于公布)(?:按时|正式|如期|依法|顺利|集中)?发布了?"
    r"(?=.{0,40}(?:年度报告|年报)$)")
# the report's own figures told in prose ("主动公开政府信息38条", "收到政府信息公开申请12件"): news about a report
# gives none of them
_OWN_FIGURES = re.compile(r"主动公开[^。；]{0,12}?\d+\s*[条件项]|(?:收到|受理)[^。；]{0,16}?申请[^。；]{0,6}?\d+\s*件")
# a news story's first words: "近日，", "日前，", "3月5日，"
_NEWS_OPENING = re.compile(r"^(?:近日|日前|近期|\d{1,2}月\d{1,2}日(?:上午|下午)?)[,，]")


def _news_about_a_report(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    """A news item or note about a report (its headline, or a story's opening) that holds none of the report:
    no section of the format, no prescribed table, no attachment. Its report title in 《》 ("发布了《…年度报告》",
    "研究编制《…》") is the story's subject, not the page's own: the report is somewhere else."""
    headline = _NEWS_TITLE.search(compact(fold_width(title))) if title else None
    opening = next((match for match in (_NEWS_OPENING.match(line)
                                        for line in opening_of(doc.text or "").splitlines()[:4]) if match), None)
    if headline is None and opening is None:
        return None
    text = doc.text or ""
    if not re.search(r"年度报告|年报", f"{title or ''}{text}"):
        return None   # news, but not about a report
    if (doc.links or _report_sections(doc, title) or _prescribed_tables(doc, title) or _overview_parts(doc, title)
            or find_signature(text) is not None or _OWN_FIGURES.search(compact(text))):
        return None   # the report's own content, figures or 落款: the report (or its page), whatever the headline
    said = f"标题中的“{headline.group(0)}”" if headline else f"正文以“{opening.group(0)}”开头"
    return "report_news", (f"{_shown(title)}是关于年度报告的新闻、会议或说明（{said}），页面上没有报告的章节、统计表、"
                           f"附件、数字或落款，不是报告本身。")


def _notice_title(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    if title and _NOTICE_TITLE.search(title):
        return "notice", f"{_shown(title)}是一份通知或函，讲的是年度报告工作，不是报告本身。"
    return None


def _draft_title(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    draft = _DRAFT_TITLE.search(title or "")
    if draft:
        return "other", f"{_shown(title)}标明是{draft.group(0)}，不是机关正式发布的年度报告。"
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
    # a title without a year ("政府信息公开年报") is a column name, unless it opens with the agency's name and a body
    # follows ("丽水市民政局政府信息公开工作年度报告" over sentences that give the year; not a column's one link)
    if not is_report_title(title):
        return None
    if not (_YEAR.search(title) or (agency_in_title(title) and _SENTENCE.search(doc.text or ""))):
        return None
    if "工作总结" in title:
        return "report", f"{_shown(title)}是政务公开工作总结，按本机关的年度报告计。"
    return "report", f"{_shown(title)}是政府信息公开工作年度报告。"


def _rule_articles(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    articles = [line for line in opening_lines(doc.text, limit=40) if _ARTICLE.match(line)]
    if len(articles) >= 2:
        return "other", f"{_shown(title)}按“第一条、第二条……”分条，是规章制度，不是年度报告。"
    return None


def _report_sections(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    topics = _section_topics(doc.text or "")
    if len(topics) >= 3 and any(word in (doc.text or "") for word in _DISCLOSURE):
        return "report", f"{_shown(title)}，但正文有年度报告的章节（{'、'.join(topics)}），按年度报告计。"
    return None


def _names_itself(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    opening = opening_of(doc.text or "")
    named = report_titles_in_body(doc.text or "")
    if named:
        return "report", f"{_shown(title)}，但正文开头写明本文是《{named[0]}》，按年度报告计。"
    itself = _SELF_REFERENCE.search(opening)
    if itself and any(word in opening for word in _DISCLOSURE):
        return "report", f"{_shown(title)}，但正文开头以“{itself.group(0)}”说明本报告，按年度报告计。"
    return None


def _prescribed_tables(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    body = compact(_with_grid_text(doc))
    heads = [head for head in (*_HEADERS_2021, *_HEADERS_2019, *_TABLE3_HEADERS) if head in body]
    if heads:
        return "report", f"{_shown(title)}，但正文有年度报告格式规定的统计表（{'、'.join(heads[:3])}），按年度报告计。"
    return None


def _opens_with_overview(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    """The first section is the formats' first, 一、总体情况 (or the old 一、概述), and it speaks of disclosure work.
    A weak sign: only for a document without a title of its own (a 通报 or 要点 may open the same way)."""
    if title and TITLE_WORDS.search(title):
        return None
    text = _folded(doc.text or "")
    first = _SECTION_HEADING.search(text)
    if not first or not re.match(r"(?:政府信息公开(?:工作)?的?)?(?:总体情况|概述)", first.group("heading")):
        return None
    if any(word in text[first.end(): first.end() + _OVERVIEW_CHARS] for word in _DISCLOSURE):
        return "report", f"{_shown(title)}，但正文第一部分是“{first.group(0).strip()}”，讲的是政府信息公开工作，按年度报告计。"
    return None


def _overview_parts(doc: ExtractedDocument, title: str | None) -> tuple[str, str] | None:
    text = _folded(doc.text or "")
    if not _OVERVIEW_HEADING.search(text):
        return None
    headings = [match.group("heading") for match in _SUBHEADING.finditer(text)]
    parts = [topic for topic, words in _OVERVIEW_TOPICS.items()
             if any(word in heading for heading in headings for word in words)]
    if len(parts) >= 2:
        return "report", f"{_shown(title)}，但“一、总体情况”下有年度报告格式规定的分项（{'、'.join(parts)}），按年度报告计。"
    return None


# Look-alikes are ruled out before a report is recognised; each test returns (kind, reason) or None.
_KIND_TESTS = (_error_page, _no_text, _format_document_title, _blank_template, _about_a_report_title, _notice_title,
               _draft_title, _news_about_a_report, _summary_title, _lists_many_agencies, _lists_many_years, _report_title, _rule_articles,
               _report_sections, _names_itself, _prescribed_tables, _overview_parts, _opens_with_overview)


def _many_reports(doc: ExtractedDocument) -> list[str]:
    """Distinct agencies whose report titles of one year a page lists (as links or as lines, a table of contents'
    numbers and page numbers aside: "3.霍山县落儿岭镇2022年政务公开年度工作总结 8"). One agency's reports of several
    years under changing names (卫计局, 卫生计生局 …) are a column's listing, not a compilation."""
    by_year: dict[int | None, list[str]] = {}
    for item in [compact(link.text) for link in doc.links] + _listed_lines(doc.text or ""):
        line = _TOC_PAGE.sub("", _TOC_NUMBER.sub("", item)) if item[:1].isdigit() or item[-1:].isdigit() else item
        match = _REPORT_LINE.match(line)
        name = match.group("agency") if match and looks_like_agency(match.group("agency")) else None
        if name is None and _TITLE_END.search(line) and is_report_title(line):
            name = agency_in_title(line)
        if name:
            year = _YEAR_IN_TITLE.search(line)
            names = by_year.setdefault(int(year.group(1)) if year else None, [])
            if name not in names:
                names.append(name)
    return max(by_year.values(), key=len, default=[])


@same_text_once
def _listed_lines(text: str) -> list[str]:
    """The first 400 lines, without spaces: where a listing or a compilation names its reports."""
    return [compact(line) for line in _title_lines(text, limit=400)]


_TITLE_END = re.compile(r"(报告|年报|总结)(?:[(（][^)）]{0,12}[)）])?$")  # cheap test before is_report_title
_TOC_NUMBER = re.compile(r"^\d{1,3}[.、．]")
_TOC_PAGE = re.compile(r"(?<=[告报结])\d{1,4}$")
_YEAR = re.compile(r"(19|20)\d{2}")
_DISCLOSURE = ("政府信息公开", "政务公开", "信息公开")


def _title_lines(text: str, limit: int = 10) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()][:limit]


def _listed_report_years(doc: ExtractedDocument) -> set[int]:
    """Report years of the report titles a page lists: a listing page names several years' reports."""
    years: set[int] = set()
    for item in [compact(link.text) for link in doc.links] + _listed_lines(doc.text or ""):
        match = _REPORT_LINE.match(item)
        if match:
            years.add(int(match.group("year")))
    return years


def _section_topics(text: str) -> list[str]:
    text = text or ""
    found = []
    for match in _SECTION_HEADING.finditer(_folded(text)):
        heading = match.group("heading")
        for topic, words in _SECTION_TOPICS.items():
            if topic not in found and any(word in heading for word in words):
                found.append(topic)
    return found


# ------------------------------------------------------------------ agency

_FILLER = re.compile(r"填报单位[（(]?(?:盖章|公章)?[）)]?[:：]\s*(?P<name>[^\s（(]{2,40})")


def _agency(doc: ExtractedDocument, title: str | None,
            signature: Signature | None) -> tuple[str | None, str | None]:
    """The agency, strongest evidence first: the report title, the agency line above it, 填报单位, the 落款, the
    body's own statement (the report named in a sentence, the compiler), page metadata, the catalog box's
    发布机构, and last the body's mentions (the contact office, the subject of the first dated sentence)."""
    text = doc.text or ""
    if is_report_title(title):
        prefix = agency_in_title(title)
        if prefix:
            # "2016年龙归镇…" heads a report whose first line names it 武江区龙归镇人民政府…年度报告
            stated = agency_in_body(text) if _named_more_fully(prefix, text) else None
            if stated and stated[1] == NAMED_REPORT and is_fuller_name(prefix, stated[0]):
                return stated[0], "text"
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
    stated = agency_in_body(text)
    if stated:
        return stated[0], "text"
    source = _meta(doc, "ContentSource")
    if source and looks_like_agency(source):
        return normalise_agency(source), "meta"
    publisher = _catalog(doc, "发布机构")
    if publisher and looks_like_agency(publisher):
        return normalise_agency(publisher), "catalog_box"
    mentioned = agency_mentioned_in_body(text)
    if mentioned:
        return mentioned[0], "text"
    return None, None


def _named_more_fully(name: str, text: str) -> bool:
    """The opening names a dated report after a fuller form of ``name`` ("武江区龙归镇人民政府2016年…"): a cheap test
    before reading the body."""
    escaped = re.escape(name)
    fuller = rf"(?:[\u4e00-\u9fff]{escaped}(?:人民政府|政府|办事处)?|{escaped}(?:人民政府|政府|办事处))(?:19|20)\d\d年"
    return bool(re.search(fuller, text[:_FULLER_NAME_CHARS]))


def _agency_above_report_title(text: str) -> str | None:
    """"桃江县松木塘镇人民政府" / "2022年政府信息公开工作年度报告": the agency on its own line above a report title."""
    found = find_title(text)
    if found is not None and found.agency_line and looks_like_agency(found.agency_line):
        return normalise_agency(found.agency_line)
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
# a report-year folder or parameter in the address: /zfxxgknb/nb2024/…, ?nbYear=2022, ?fbtime=2017
_URL_REPORT_YEAR = re.compile(r"(?i)(?:/(?:nb|ndbg|gknb|xxgknb)[_-]?|[?&](?:nbyear|fbtime)=)(20\d\d)(?!\d)")


_FILE_EXTENSION = re.compile(r"\.(?:pdf|docx?|wps|xlsx?|ofd|html?)$", re.IGNORECASE)
# a draft names itself: "…年度报告（内部审核稿）", "…（征求意见稿）" is not the report an agency published
_DRAFT_TITLE = re.compile(r"(?:审核|征求意见|送审|讨论)稿|草稿|初稿|草案")


def report_year_of_title(title: str | None) -> int | None:
    """The year a title names when it is an annual report's own title ("…2024年政府信息公开工作年度报告" → 2024), as a
    listing shows it; None for a notice about a report, an explanation of one, a compilation of many, the format,
    a draft ("…（内部审核稿）"), a title cut short ("…工作年...") or one without a year."""
    text = _report_title_text(title)
    match = _YEAR_IN_TITLE.search(text) if text else None
    return int(match.group(1)) if match else None


def _report_title_text(title: str | None) -> str | None:
    """A listing's title, compacted, when it is an annual report's own title (with or without a year)."""
    if not title or not title.strip():
        return None
    text = _FILE_EXTENSION.sub("", compact(_best_part(title)))   # a listing may show the attachment's file name
    if not is_report_title(text) or any(pattern.search(text) for pattern in (_NOTICE_TITLE, _ABOUT_A_REPORT_TITLE,
                                                                            _SUMMARY_TITLE, _FORMAT_TITLE,
                                                                            _DRAFT_TITLE)):
        return None
    return text


# a report re-published corrected: "…年度报告（更正）", "…（修订版）", "…年度报告更正版"; its date is the correction's
_CORRECTED_TITLE = re.compile(r"[（(【\[](?:更正|修订|修正|更新|重新发布|重发)版?[）)】\]]$|(?:更正|修订|修正)版$")


def corrected_version(title: str | None) -> str | None:
    """The words of a report's title that call it a corrected version of one published before ("（更正）")."""
    found = _CORRECTED_TITLE.search(compact(fold_width(title or "")))
    return found.group(0) if found else None


# what in a listing entry names the report year itself (not a guess from the date beside it)
NAMED_YEAR_HOWS = ("title", "cut", "address", "year")


def listed_report_year(title: str | None, url: str | None = None, *, in_column: bool = False,
                       listed_on: date | None = None) -> tuple[int | None, str | None]:
    """The year of the report a listing entry may be, and what says so: its whole title names it ("title",
    ``report_year_of_title``); its title, cut short by the listing, may be the start of that year's report title
    ("cut", ``cut_report_year``); a report title without a year links to an address naming the report year
    ("address": ``xxgkAnnualReport.jsp?fbtime=2017``, ``/nb2024/``), or else was listed on ``listed_on`` (the date
    the listing printed beside it): the report of a year before that date's, the year before it the latest and
    likeliest, the year returned ("date": a report may come out years late); or it was listed with no date: the
    report of any year before the listing was read ("undated", year None); or, on a page the crawler read as the
    report column (``in_column``), the entry is just a year ("2024年度", "2024年报": the column names the rest; it
    may be the report or that year's part of the column). (None, None) for anything else."""
    year = report_year_of_title(title)
    if year is not None:
        return year, "title"
    year = cut_report_year(title)
    if year is not None:
        return year, "cut"
    text = _report_title_text(title)
    in_url = _URL_REPORT_YEAR.search(url or "") if text and not _YEAR_IN_TITLE.search(text) else None
    if in_url:
        return int(in_url.group(1)), "address"
    if text and listed_on is not None and not _YEAR_IN_TITLE.search(text):
        return listed_on.year - 1, "date"
    year = year_only_title(title) if in_column else None
    if year is not None:
        return year, "year"
    return (None, "undated") if text and not _YEAR_IN_TITLE.search(text) else (None, None)


# a report column's entry that is just its year: "2024年度", "2024年", "2024年度报告", "【2024年】"
_YEAR_ONLY_TITLE = re.compile(r"^[\[【(（]?((?:19|20)\d\d)年?度?(?:年度)?(?:报告|年报|工作报告)?[\]】)）]?$")


def year_only_title(title: str | None) -> int | None:
    """The year of an entry titled by its year alone ("2024年度", "2023年报"), as a report column lists them."""
    match = _YEAR_ONLY_TITLE.match(compact(fold_width(title or "")))
    return int(match.group(1)) if match else None


# a listing cuts a long title short with an ellipsis ("…工作年...", "…年度报…")
_CUT_SHORT = re.compile(r"(?:…|\.{2,}|。。。?|⋯)+$")
# where a cut report title may stop after its disclosure words: "工作年度报告", "年报" or any start of them
_REPORT_ENDINGS = ("工作年度报告", "工作年报", "工作报告", "工作情况报告", "工作情况的报告", "工作的年度报告",
                   "工作总结", "年度工作报告", "年度报告", "年报", "报告", "的报告")
_DISCLOSURE_WORDS = re.compile(r"政府信息公开|政务公开|信息公开")


def cut_report_year(title: str | None) -> int | None:
    """The year of a listing title cut short ("…2024年政府信息公开工作年...") whose visible part could be the start
    of that year's report title: a year, then the disclosure words followed by nothing or by the start of a report
    ending ("工作年", "年度报"), and nothing that makes it a notice, an explanation, a compilation, the format or
    a draft. None for a whole title (``report_year_of_title`` reads those) and for a cut look-alike
    ("…工作要点..."). Such an entry may be the year's report; nobody can tell from the listing which it is."""
    if not title:
        return None
    text = compact(fold_width(title))
    visible = _CUT_SHORT.sub("", text)
    if visible == text or not visible:
        return None
    if (NOTICE_SUBJECT.match(visible)   # "关于做好2024年政府信息公开…" (but "…关于2014年度…的年度报告" is one)
            or any(pattern.search(visible) for pattern in (_ABOUT_A_REPORT_TITLE, _SUMMARY_TITLE, _FORMAT_TITLE,
                                                           _DRAFT_TITLE))):
        return None
    disclosure = ([None] + list(_DISCLOSURE_WORDS.finditer(visible)))[-1]   # the last: what follows it is the ending
    year = _YEAR_IN_TITLE.search(visible)
    if year is not None and disclosure is None:
        # cut inside the disclosure words themselves: "…财政局2024年政…", "…2024年度信息…"
        tail = visible[year.end():]
        cut_inside = tail and any(word.startswith(tail) for word in ("政府信息公开", "政务公开", "信息公开"))
        return int(year.group(1)) if cut_inside else None
    if disclosure is None or year is None or year.start() > disclosure.start():
        return None
    rest = visible[disclosure.end():]
    if rest and not any(ending.startswith(rest) for ending in _REPORT_ENDINGS):
        return None
    return int(year.group(1))


_PERIOD_CLAUSE = re.compile(r"统计期限[^。；;]{0,60}")


def _whole_period(body: str) -> int | None:
    """The one year a 统计期限 sentence names ("统计期限为2024年1月1日至2024年12月31日"); None for none, or for a
    period across two years ("2023年12月1日至2024年11月30日")."""
    clause = _PERIOD_CLAUSE.search(body)
    years = {int(year) for year in re.findall(r"(20\d{2})年", clause.group(0))} if clause else set()
    return years.pop() if len(years) == 1 else None


def _report_year(title: str | None, text: str, signature: Signature | None, url: str | None = None,
                 published: date | None = None) -> tuple[int | None, str | None]:
    """The year reported on (not the year published): title, 统计期限, the text, the address's report-year
    folder, else signing year − 1. A title may name the year it was published in ("…2025年…年度报告" out on
    2025-01-15, its 统计期限 2024): signed or published before the title's year ended, the 统计期限 of the year
    before decides."""
    body = compact(text)
    period = next((int(match.group(1)) for match in (pattern.search(body) for pattern in (_STATISTICS_PERIOD,
                                                                                          _YEAR_HEADER)) if match),
                  None)
    signing_year = signature.date.value.year if signature else None
    # the first year whose end had not come when the report was signed or published (a report out in December is
    # its own year's: reports come out then too)
    out_by = min((moment.year + (moment.month == 12) for moment in (signature.date.value if signature else None,
                                                                    published) if moment), default=None)
    if is_report_title(title) or (title and TITLE_WORDS.search(title)):
        match = _YEAR_IN_TITLE.search(title or "")
        if match:
            named = int(match.group(1))
            if out_by == named and _whole_period(body) == named - 1:
                return named - 1, "统计期限"
            if out_by == named and _whole_period(body) is None and _text_speaks_of(body, title, named - 1, named):
                # out before its title's year ended, its text about the year before: the title names the year
                # it came out in, or mistypes the year; either way the report is not of a year not yet over
                return named - 1, "text"
            return named, "title"
    if period is not None:
        return period, "统计期限"
    if signature:
        body = body.replace(compact(signature.date.raw), "")  # the 落款 names the publication year, not the report's
    named = [[int(y) for y in pattern.findall(body) if out_by is None or int(y) <= out_by]
             for pattern in (_YEAR_OF, _YEAR_ANY)]
    # a year not over when the report was signed or published is a plan's ("2025年度，我局将…"), unless the text
    # names no earlier one (a report out on 25 December of its own year)
    over = [[year for year in years if year < out_by] for years in named] if out_by is not None else [[], []]
    for years in (*over, *named):
        if years:
            return Counter(years).most_common(1)[0][0], "text"
    in_url = _URL_REPORT_YEAR.search(url or "")
    if in_url:
        return int(in_url.group(1)), "url"
    if signing_year:
        return signing_year - 1, "signing"
    return None, None


def _text_speaks_of(body: str, title: str | None, year: int, other: int) -> bool:
    """The text, its title aside, names ``year`` ("2021年，我局…") more often than ``other``, at least twice."""
    text = body.replace(compact(title or ""), "")
    counted = Counter(int(found) for found in _YEAR_ANY.findall(text))
    return counted[year] >= 2 and counted[year] > counted[other]


# ------------------------------------------------------------------ format

_HEADERS_2021 = ("本年制发件数", "本年废止件数", "现行有效件数")
_HEADERS_2019 = ("本年新制作数量", "本年新公开数量", "对外公开总数量")
_OLD_MARKERS = (
    ("概述", re.compile(r"(?:^|[。\s])[一1][、.．]\s*(?:政府信息公开(?:工作)?的?)?概\s*述|(?:由|包括|包含)概述")),
    ("收费及减免", re.compile(r"收费(及|与|和)减免")),
    ("政府信息公开情况统计表", re.compile(r"政府信息公开情况统计表")),
)
# the format notices: 国办公开办函〔2021〕30号 (2021 format), 〔2019〕60号 and 年度报告格式（试行） (2019 format)
_CITES_2021 = re.compile(r"国办公开办函\s*[〔\[［﹝【(（]\s*2021\s*[〕\]］﹞】)）]\s*30\s*号")
_CITES_2019 = re.compile(r"国办公开办函\s*[〔\[［﹝【(（]\s*2019\s*[〕\]］﹞】)）]\s*60\s*号|年度报告格式\s*[(（]\s*试行\s*[)）]")
_LAST_OLD_FORMAT_YEAR = 2018  # the 2019 format (国办公开办函〔2019〕60号) applies from the 2019 reports on
TABLES_NOT_IN_TEXT = "正文中没有统计表（可能是图片或附件）"


def _format(title: str | None, text: str, tables: dict, report_year: int | None = None,
            cited: bool = True) -> tuple[str, str]:
    """Which format the report follows: judged by what its tables are (DOMAIN.md §2); when the text holds no
    statistics table (images, attachments), by the format notice a report cites (``cited``); else by the old
    sections."""
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
    notices = body if cited else ""
    if _CITES_2021.search(notices) and (report_year is None or report_year >= 2021):
        return "2021", f"{TABLES_NOT_IN_TEXT}；正文引用国办公开办函〔2021〕30号，按 2021 年版格式计。"
    if _CITES_2019.search(notices) and report_year in (2019, 2020):
        return "2019", f"{TABLES_NOT_IN_TEXT}；{report_year}年度报告引用 2019 年版格式文件，按 2019 年版格式计。"
    old = [name for name, pattern in _OLD_MARKERS if pattern.search(text)]
    if tables.get("old_stats"):
        old = old or ["政府信息公开情况统计表"]
    if old and (report_year is None or report_year <= _LAST_OLD_FORMAT_YEAR or tables.get("old_stats")):
        return "old", f"有旧版（2018年及以前）格式的内容：{'、'.join(old)}。"
    return "unknown", "没有找到能判断格式的表格列标题或章节。"
