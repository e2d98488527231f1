"""Page discovery: pure functions that read one fetched page and say where the crawler should go next.

Every function takes the page (a ``parsers.formats.page.Page``, parsed once and shared by every function; or its text or
bytes) and the URL it was fetched from, does no network I/O, and returns small dataclasses in document order (or by
score), so the spider stays a thin adapter. A page that cannot be parsed gives empty results, never an exception.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from html import unescape
from typing import Any, Iterable, Iterator
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

from parsers.beijing import BEIJING
from parsers.formats.page import Page, absolute_url, as_page, document_base, element_text, link_text
from parsers.formats.page import find_attachments as _find_attachments
from parsers.links import attachment_kind
from parsers.record import Link

DEFAULT_MAX_PAGES = 50

PageLike = Page | str | bytes


@dataclass(frozen=True)
class LinkCandidate:
    """A link worth following, with the score that ranks it and the reasons that made the score."""

    url: str
    text: str
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ListingItem:
    """One entry of a listing page (or of a JSON listing): a link with the date printed beside it."""

    url: str
    title: str
    date_raw: str | None   # the date text beside the link, NFKC-folded ("[2023-01-30]", "01-30"); None if none
    date: date | None      # None when there is no date or it has no year (01-30 with the year elsewhere)
    kind: str = "html"     # html for a page, else the attachment type: pdf, doc, docx, wps, zip …
    source: str = "html"   # html (a row of the page) | json (an object of a JSON listing)


# ---------------------------------------------------------------- small shared helpers

def is_same_site(url: str, base_url: str) -> bool:
    """True when ``url`` belongs to the site of ``base_url``.

    Same host (ignoring a leading ``www.``, the scheme and the port), or for ``*.gov.cn`` the same last three
    labels, because one government's departments live on sub-hosts of its portal (wjw.x.gov.cn ≈ www.x.gov.cn).
    """
    host, base = _host(url), _host(base_url)
    if not host or not base:
        return False
    if host.removeprefix("www.") == base.removeprefix("www."):
        return True
    if host.endswith(".gov.cn") and base.endswith(".gov.cn"):
        return host.split(".")[-3:] == base.split(".")[-3:]
    return False


_REPORT_WORDS = re.compile(r"年度报告|年报|工作总结|年度工作报告")
_DISCLOSURE_WORDS = re.compile(r"政府信息公开|政务公开|信息公开")


def looks_like_report_title(title: str) -> bool:
    """A cheap prefilter for ranking links: 年度报告/年报/工作总结 together with 政府信息公开/政务公开.

    Notices about reports and the format document also pass; telling them apart is the parsers' job.
    """
    text = _normalize(title)
    return bool(_REPORT_WORDS.search(text) and _DISCLOSURE_WORDS.search(text))


# ---------------------------------------------------------------- report columns and disclosure sections

_COLUMN_TEXT_RULES = (
    (re.compile(r"政府信息公开(工作)?(年度报告|年报)"), 10, "text:政府信息公开年报"),
    (re.compile(r"(政务|信息)公开(工作)?(年度报告|年报)"), 9, "text:信息公开年报"),
    (re.compile(r"年度报告|年报"), 6, "text:年报"),
)
# 企业年报/统计年报/年报公示 are other kinds of yearly report, common on 市场监管 and 统计 sites.
_COLUMN_TEXT_PENALTY = re.compile(r"企业|统计|工商|公示|财务|决算|预算|通知|格式")
_COLUMN_URL = re.compile(r"(?:^|[/_-])(?:zfxxgknb|xxgknb|gknb|zfxxgkndbg|xxgkndbg|gkndbg|ndbg|ndgzbg)[^/]*(?:/|$)"
                         r"|/nb/|annualreport|nbyear=", re.IGNORECASE)   # /nb/: a whole folder named 年报
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")

_SECTION_TEXT_RULES = (
    (re.compile(r"政府信息公开"), 6, "text:政府信息公开"),
    (re.compile(r"政务公开"), 5, "text:政务公开"),
    (re.compile(r"信息公开"), 5, "text:信息公开"),
)
_SECTION_TEXT_BONUS = re.compile(r"目录|专栏|平台|法定主动公开")
# Sections that sit under 信息公开 but never hold the yearly reports.
_SECTION_TEXT_PENALTY = re.compile(r"指南|申请|制度|规定|意见|保密|通知|解读")
_SECTION_URL = re.compile(r"(?:^|/)(?:zfxxgk|xxgk|zwgk|gkml|xxgkml|zfxxgkzl)[^/]*(?:/|$)", re.IGNORECASE)


def find_report_columns(page: PageLike, page_url: str) -> list[LinkCandidate]:
    """Links to the annual-report column (政府信息公开年报, 年度报告, …/xxgknb/, …/ndbg/ …), best first.

    Only same-site links that lead to a page (not an attachment or a single article) are candidates; a link text
    with a year in it is more likely one report than the column, so it ranks lower.
    """
    candidates = []
    for anchor in _anchors(as_page(page), page_url):
        if (not is_same_site(anchor.url, page_url) or _looks_like_document(anchor.url, anchor.text)
                or _same_page(anchor.url, page_url)):
            continue
        score, reasons = _score_text(anchor.text, _COLUMN_TEXT_RULES)
        if score and _COLUMN_TEXT_PENALTY.search(anchor.text):
            score, reasons = score - 8, reasons + ("text:other kind of report",)
        if _COLUMN_URL.search(urlsplit(anchor.url).path + "?" + urlsplit(anchor.url).query):
            score, reasons = score + 5, reasons + ("url:report column",)
        if score > 0 and _YEAR.search(anchor.text):
            score, reasons = score - 3, reasons + ("text:has a year",)
        if score > 0:
            candidates.append(LinkCandidate(anchor.url, anchor.text, score, reasons))
    return _best_per_url(candidates)


def find_disclosure_sections(page: PageLike, page_url: str, limit: int | None = None) -> list[LinkCandidate]:
    """Same-site links into 政府信息公开 / 政务公开 / 信息公开 sections (/xxgk/, /zfxxgk/, /zwgk/), best first.

    These are the pages to descend into when no report column is linked from the page itself; links that are
    report columns already (see ``find_report_columns``) are left out. ``limit`` keeps the best few.
    """
    page = as_page(page)
    columns = {candidate.url for candidate in find_report_columns(page, page_url)}
    candidates = []
    for anchor in _anchors(page, page_url):
        if (anchor.url in columns or not is_same_site(anchor.url, page_url)
                or _looks_like_document(anchor.url, anchor.text) or _same_page(anchor.url, page_url)):
            continue
        score, reasons = _score_text(anchor.text, _SECTION_TEXT_RULES)
        if score and _SECTION_TEXT_BONUS.search(anchor.text):
            score, reasons = score + 1, reasons + ("text:目录/专栏",)
        if _SECTION_URL.search(urlsplit(anchor.url).path):
            score, reasons = score + 3, reasons + ("url:disclosure section",)
        if score > 0 and not _SECTION_TEXT_PENALTY.search(anchor.text):
            candidates.append(LinkCandidate(anchor.url, anchor.text, score, reasons))
    best = _best_per_url(candidates)
    return best[:limit] if limit is not None else best


def _score_text(text: str, rules) -> tuple[int, tuple[str, ...]]:
    normalized = _normalize(text)
    for pattern, points, reason in rules:
        if pattern.search(normalized):
            # A column label is short; a long text that merely mentions it is a headline.
            if len(normalized) > 24:
                return points // 2, (reason, "text:long")
            return points, (reason,)
    return 0, ()


def _best_per_url(candidates: list[LinkCandidate]) -> list[LinkCandidate]:
    best: dict[str, LinkCandidate] = {}
    for candidate in candidates:
        kept = best.get(candidate.url)
        if kept is None or candidate.score > kept.score:
            best[candidate.url] = candidate
    return sorted(best.values(), key=lambda c: (-c.score, c.url))


# A single article rather than a column: TRS t20230130_123, Hanweb art_1229_88123, VSB info/1362/198554.htm …
_ARTICLE_URL = re.compile(r"/t\d{8}_\d+|/art_\d+_\d+|/info/\d+/\d+\.html?$|/content/post_\d+|/\d{6,}\.s?html?$",
                          re.IGNORECASE)


def _looks_like_document(url: str, text: str) -> bool:
    return attachment_kind(url, text) is not None or bool(_ARTICLE_URL.search(urlsplit(url).path))


# ---------------------------------------------------------------- listing items

# Full dates with a year: 2023-01-30, 2023/1/30, 2023.01.30, 2023年01月30日 (optionally bracketed by the caller).
_FULL_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})(?:\s*日)?(?!\d)")
# Month and day only: counted as "a date beside the link" but gives no date, since the year is elsewhere.
_SHORT_DATE = re.compile(r"(?<![\d\-/.])(\d{1,2})(?:-|/|月)(\d{1,2})日?(?![\d\-/.])")
_BRACKETS = "[]［］【】()（）"

# Class/id words of containers that hold articles, and of those that hold navigation (matched per word of
# "news_list main-content": words are split at spaces, "-" and "_").
_LIST_WORD = re.compile(r"\w*list\w*|news\w*|article\w*|items?|lb|wzlb|xxgk\w*|results?|docs?", re.IGNORECASE)
_NAV_WORD = re.compile(r"nav\w*|\w*nav|menu\w*|\w*menu|breadcrumbs?|crumbs?|footer|header|daohang|dh|yqlj|"
                       r"friendlinks?", re.IGNORECASE)
_NAV_TAGS = ("nav", "header", "footer")
_ROW_BOUNDARY = ("ul", "ol", "table", "tbody", "thead", "body", "html", "form")
_PAGER_TEXT = re.compile(r"^(?:上一?页|下一?页|首页|尾页|末页|后页|前页|更多|more|>>?|<<?|»|«|›|‹|\d+|…+|\.\.\.)$",
                         re.IGNORECASE)


def find_listing_items(page: PageLike, page_url: str) -> list[ListingItem]:
    """The entries of a listing page: links in rows that carry a date, or in a list-like container.

    A row is the link's nearest li/tr/dd/p/div that prints a date beside it (2023-01-30, [2023-01-30],
    2023年01月30日; a bare 01-30 marks the row but gives no date). Without a date, a link still counts when it sits
    in an ``li`` of a ``<ul class="…list…">``-like container. Links in nav/menu/header/footer containers, pager
    links and ``javascript:`` links are never items, unless their code opens an address
    (``javascript:openWin('/art/nb2025.html')``, ``onclick="window.open('…')"``): that address is the item. Hanweb column pages ship their rows as
    ``<script type="text/xml"><datastore><record><![CDATA[<li>…</li>]]></record>…``; those records are read too.
    Results are in page order, one per URL.
    """
    root = as_page(page).root
    if root is None:
        return []
    base = document_base(root, page_url)
    items: list[ListingItem] = []
    seen: set[str] = set()
    records = (Page(record).root for record in _datastore_records(root))
    trees = [root] + [tree for tree in records if tree is not None]
    for tree in trees:
        for element in tree.iter("a"):
            url = absolute_url(element.get("href"), base) or _script_target(element, base)
            title = link_text(element)
            if not url or not title or url in seen or _PAGER_TEXT.match(title) or _in_navigation(element):
                continue
            date_raw = _date_beside(element)
            if date_raw is None and not _in_list_container(element):
                continue
            seen.add(url)
            items.append(ListingItem(url=url, title=title, date_raw=date_raw, date=_date_of(date_raw),
                                     kind=attachment_kind(url, title) or "html"))
    return items


# an address a link's script opens: the first quoted string in its code that reads as a page or a file
_SCRIPT_ADDRESS = re.compile(r"""['"]((?:https?://|\.{0,2}/)[^'"\s]+|[^'"\s/]+\.(?:s?html?|jsp|php|aspx?|pdf|docx?|wps|ofd)"""
                             r"""(?:\?[^'"\s]*)?)['"]""", re.IGNORECASE)


# at most this many leading entries are taken as pinned: a column pins its guide or a notice, not a page of them
_MAX_PINNED = 5


def pinned_at_top(items: list[ListingItem]) -> set[str]:
    """The URLs of a listing's pinned (置顶) entries: leading dated entries older than the entry after them, in a
    listing otherwise newest first. A pinned 2019 guide above 2025, 2024, 2023 says nothing of how far the column
    reaches back (the rest may sit behind a "加载更多" script); a listing in any other order pins nothing."""
    dated = [item for item in items if item.date is not None]
    for cut in range(1, min(_MAX_PINNED, len(dated) - 2) + 1):
        rest = [item.date for item in dated[cut:]]
        newest_first = all(earlier >= later for earlier, later in zip(rest, rest[1:]))
        if newest_first and all(item.date < rest[0] for item in dated[:cut]):
            return {item.url for item in dated[:cut]}
    return set()


def _script_target(element, base: str) -> str | None:
    """The address a ``javascript:`` link (or a ``#`` link's ``onclick``) opens, when its code names one."""
    href = (element.get("href") or "").strip()
    code = href if _SCRIPT_HREF.match(href) else ""
    if not code and href in ("", "#") or code.lower().startswith("javascript:void"):
        code = element.get("onclick") or ""
    elif not code:
        return None
    found = _SCRIPT_ADDRESS.search(unquote(code))
    return absolute_url(found.group(1), base) if found else None


_DATASTORE_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.DOTALL | re.IGNORECASE)


def _datastore_records(root) -> list[str]:
    """The HTML rows a Hanweb ``<datastore>`` script holds, each wrapped as one list of its own."""
    records = []
    for script in root.iter("script"):
        code = element_text(script)
        if "<datastore" in code.lower():
            rows = "".join(_DATASTORE_RECORD.findall(code))
            if rows:
                records.append(f'<div class="datastore-list">{rows}</div>')
    return records


def _date_beside(anchor) -> str | None:
    """The date printed in the anchor's row, or right after the anchor when rows are not wrapped in elements."""
    node = anchor
    for _ in range(4):
        node = node.getparent()
        if node is None or not isinstance(node.tag, str) or node.tag in _ROW_BOUNDARY:
            break
        if _count_links(node) > 3:
            break  # a block holding many links is a container, not a row
        found = _find_date(_text_outside(node, anchor)) or _find_date(element_text(anchor), allow_short=False)
        if found:
            return found
    return _date_after(anchor)


def _date_after(anchor) -> str | None:
    """For flat listings (``<a>…</a><span>2023-01-30</span><br>``): text up to the next link."""
    parts = [anchor.tail or ""]
    for sibling in anchor.itersiblings():
        if not isinstance(sibling.tag, str):
            parts.append(sibling.tail or "")
            continue
        if sibling.tag == "a" or sibling.find(".//a") is not None:
            break
        parts.append(element_text(sibling))
        parts.append(sibling.tail or "")
        if len("".join(parts)) > 60:
            break
    return _find_date("".join(parts)[:60])


def _find_date(text: str, allow_short: bool = True) -> str | None:
    text = unicodedata.normalize("NFKC", text)
    for pattern in (_FULL_DATE, _SHORT_DATE) if allow_short else (_FULL_DATE,):
        match = pattern.search(text)
        if match:
            return _with_brackets(text, match.start(), match.end())
    return None


def _with_brackets(text: str, start: int, end: int) -> str:
    if start > 0 and end < len(text) and text[start - 1] in _BRACKETS and text[end] in _BRACKETS:
        return text[start - 1:end + 1]
    return text[start:end]


def _date_of(raw: str | None) -> date | None:
    """The date of a listing's date text; None for a month-day without year or an impossible date."""
    if not raw:
        return None
    match = _FULL_DATE.search(unicodedata.normalize("NFKC", raw))
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _in_navigation(element) -> bool:
    return any(ancestor.tag in _NAV_TAGS or _marked(ancestor, _NAV_WORD) for ancestor in element.iterancestors())


def _marked(element, words: re.Pattern) -> bool:
    """True when a word of the element's class or id matches ``words`` (``news_list`` → news, list)."""
    marker = " ".join(filter(None, (element.get("class"), element.get("id"))))
    return any(words.fullmatch(word) for word in re.split(r"[\s_-]+", marker) if word)


def _in_list_container(anchor) -> bool:
    """The anchor is in an li of a ul/ol/div whose class or id says it is a list of articles."""
    parent = anchor.getparent()
    depth = 0
    while parent is not None and depth < 4 and parent.tag != "li":
        parent, depth = parent.getparent(), depth + 1
    if parent is None or parent.tag != "li":
        return False
    for ancestor in parent.iterancestors():
        if ancestor.tag in ("body", "html"):
            return False
        if _marked(ancestor, _LIST_WORD):
            return True
    return False


def _count_links(node) -> int:
    return sum(1 for a in node.iter("a") if a.get("href"))


# ---------------------------------------------------------------- pagination

_NEXT_TEXT = re.compile(r"^(?:下一?页|下页|后页|尾页|末页|最后一?页|>|>>|»|›|next|last)$", re.IGNORECASE)
_TRS_PAGE = re.compile(r"^(?P<stem>.+?)_(?P<n>\d+)\.(?P<ext>s?html?)$", re.IGNORECASE)
_NUMBERED_PAGE = re.compile(r"^(?P<n>\d+)\.(?P<ext>s?html?)$", re.IGNORECASE)
_QUERY_PAGE = re.compile(r"(?:^|&)(?:page|pageno|pagenum|pageindex|pagenumber|currentpage|curpage|cpage|pn|p)="
                         r"(?P<n>\d+)(?=&|$)", re.IGNORECASE)
_CREATE_PAGE_HTML = re.compile(r"createPageHTML\s*\(([^)]*)\)")
_PAGE_COUNT_VAR = re.compile(r"(?:var|let|const)?\s*\b(countPage|pageCount|page_count|totalPage|totalPages|"
                             r"pageTotal|totalpage|pagecount|maxPage)\s*[=:]\s*['\"]?(\d+)", re.IGNORECASE)
_PAGE_COUNT_TEXT = re.compile(r"共\s*(\d+)\s*页")
_JS_ASSIGNMENT = re.compile(r"\b(?:var|let|const)?\s*([A-Za-z_$][\w$]*)\s*=\s*(?:(\d+)|['\"]([^'\"]*)['\"])")


@dataclass(frozen=True)
class _PageScheme:
    """How the pages of one listing are named, so that page numbers the pager does not show can be filled in."""

    kind: str        # trs (index_N.html, page 0 = index.html) | numbered (VSB list/N.htm) | query (?page=N)
    template: str    # the URL with "{n}" in place of the page number
    first: str       # URL of page 0 for trs (index.html); unused otherwise
    seen: frozenset  # page numbers linked from this page

    def url(self, number: int) -> str:
        if self.kind == "trs" and number == 0:
            return self.first
        return self.template.replace("{n}", str(number))


def find_pagination(page: PageLike, page_url: str, max_pages: int = DEFAULT_MAX_PAGES) -> list[str]:
    """Every further page of this listing, in page order, at most ``max_pages`` URLs.

    Reads next/last links (下一页, 尾页, >, 下页), numbered pager links (index_N.html, list/N.htm, ?page=N,
    &pageIndex=N …), ``<option>`` page jumps, the TRS ``createPageHTML(total, current, "index", "html")`` call and
    ``var countPage = N`` style variables or 共N页 text. Pages between the lowest and highest number seen (or up to
    the stated total) are filled in, because pagers show only a window of page numbers. Same-site URLs only; the
    page itself is never returned.
    """
    root = as_page(page).root
    if root is None or max_pages <= 0:
        return []
    base = document_base(root, page_url)
    scripts = "\n".join(element_text(script) for script in root.iter("script"))
    links = list(_pager_links(root, base))
    schemes = _page_schemes(links, page_url)
    total = _page_total(scripts, element_text(root))

    urls: list[str] = _trs_create_page_html(scripts, base, max_pages)
    if not urls and total and not schemes and _looks_like_trs_index(page_url):
        urls = _trs_pages(base, "index", _page_extension(page_url), total, max_pages)
    for scheme in schemes:
        urls += [scheme.url(n) for n in _page_numbers(scheme, total, max_pages)]
    urls += links  # next links that follow no numbered scheme

    result: list[str] = []
    for url in urls:
        if url in result or _same_page(url, page_url) or not is_same_site(url, page_url):
            continue
        result.append(url)
        if len(result) >= max_pages:
            break
    return result


def _pager_links(root, base: str) -> Iterator[str]:
    """URLs of next/last links, of numbered page links and of page-jump ``<option>`` values."""
    for anchor in root.iter("a"):
        url = absolute_url(anchor.get("href"), base)
        if not url:
            continue
        text = _normalize(element_text(anchor)) or _normalize(anchor.get("title") or "")
        if _NEXT_TEXT.match(text) or (text.isdigit() and _scheme_of(url) is not None):
            yield url
    for option in root.iter("option"):
        url = absolute_url(option.get("value"), base)
        if url and _scheme_of(url) is not None:
            yield url


def _page_schemes(links: list[str], page_url: str) -> list[_PageScheme]:
    schemes: dict[str, _PageScheme] = {}
    for url in links + [page_url]:
        scheme = _scheme_of(url, numbered=url != page_url)
        if scheme is None:
            continue
        known = schemes.get(scheme.template)
        schemes[scheme.template] = scheme if known is None else _PageScheme(
            known.kind, known.template, known.first, known.seen | scheme.seen)
    return list(schemes.values())


# Page numbers beyond this are document ids (t20230130_1234567.html, info/1025/61695.htm), not pages.
_MAX_PAGE_NUMBER = 9999


def _scheme_of(url: str, numbered: bool = True) -> _PageScheme | None:
    """The paging scheme a URL follows, or None when it is not a numbered listing page.

    ``numbered=False`` refuses the bare ``N.htm`` shape, which for the page itself is more often an article.
    """
    parts = urlsplit(url)
    for match in _QUERY_PAGE.finditer(parts.query):
        if int(match["n"]) <= _MAX_PAGE_NUMBER:
            # Template the raw query so the other parameters keep their exact spelling.
            query = parts.query[:match.start("n")] + "{n}" + parts.query[match.end("n"):]
            template = urlunsplit(parts._replace(query=query, fragment=""))
            return _PageScheme("query", template, "", frozenset({int(match["n"])}))
    directory, _, name = parts.path.rpartition("/")
    match = _TRS_PAGE.match(name)
    if match and int(match["n"]) <= _MAX_PAGE_NUMBER and not re.fullmatch(r"t\d{8}", match["stem"]):
        template = urlunsplit(parts._replace(path=f"{directory}/{match['stem']}_{{n}}.{match['ext']}", query="",
                                             fragment=""))
        first = urlunsplit(parts._replace(path=f"{directory}/{match['stem']}.{match['ext']}", query="", fragment=""))
        return _PageScheme("trs", template, first, frozenset({int(match["n"])}))
    match = _NUMBERED_PAGE.match(name)
    if numbered and match and int(match["n"]) <= _MAX_PAGE_NUMBER:
        # VSB: list.htm, then list/4.htm, list/3.htm … list/1.htm
        template = urlunsplit(parts._replace(path=f"{directory}/{{n}}.{match['ext']}", query="", fragment=""))
        return _PageScheme("numbered", template, "", frozenset({int(match["n"])}))
    return None


def _page_numbers(scheme: _PageScheme, total: int | None, max_pages: int) -> range:
    low, high = min(scheme.seen), max(scheme.seen)
    if scheme.kind == "trs":
        # page 0 without a number is TRS's index.html; list_1.html, list_2.html … start at the first number shown
        start = 0 if _looks_like_trs_index(scheme.first) else low
        stop = max(high, (total or 0) - 1) + 1
    elif scheme.kind == "numbered":
        start, stop = 1, max(high, (total or 0) - 1) + 1
    else:
        start, stop = min(low, 1), max(high, total or 0) + 1
    return range(start, min(stop, start + max_pages + 1))  # +1: the page itself is among them


def _page_total(scripts: str, text: str) -> int | None:
    match = _PAGE_COUNT_VAR.search(scripts) or _PAGE_COUNT_TEXT.search(text)
    return int(match.group(match.lastindex)) if match else None


def pager_total(page: PageLike) -> int | None:
    """How many pages the listing's pager says the listing has (the TRS ``createPageHTML`` total, a
    ``countPage``-style variable, 共N页); None when the page states no total. A crawler that read that many pages
    of one pager has reached the listing's last page."""
    root = as_page(page).root
    if root is None:
        return None
    scripts = "\n".join(element_text(script) for script in root.iter("script"))
    call = _create_page_html_call(scripts)
    return call[0] if call else _page_total(scripts, element_text(root))


def _trs_create_page_html(scripts: str, base: str, max_pages: int) -> list[str]:
    """Pages of a TRS ``createPageHTML(total, current, "index", "html")`` call (page 0 is index.html)."""
    call = _create_page_html_call(scripts)
    if call is None:
        return []
    total, name, extension = call
    return _trs_pages(base, name, extension, total, max_pages)


def _create_page_html_call(scripts: str) -> tuple[int, str, str] | None:
    """(total, page name, extension) of the first TRS ``createPageHTML(total, current, "index", "html")`` call.

    Also the newer ``createPageHTML('page_div', total, current, 'index', 'html', count)`` form, and arguments given
    as variables assigned earlier in the scripts (``var countPage = 5``). The function's own definition has only
    parameter names for arguments, so it yields no page count and is passed over.
    """
    variables = {name: number or string for name, number, string in _JS_ASSIGNMENT.findall(scripts)}
    for match in _CREATE_PAGE_HTML.finditer(scripts):
        numbers: list[int] = []
        strings: list[str] = []
        for argument in (part.strip() for part in match.group(1).split(",")):
            if re.fullmatch(r"[A-Za-z_$][\w$]*", argument):
                argument = variables.get(argument, "")
            value = argument.strip("'\" ")
            if value.isdigit():
                numbers.append(int(value))
            elif value:
                strings.append(value)
        if numbers:
            name, extension = (strings[-2], strings[-1]) if len(strings) >= 2 else ("index", "html")
            return numbers[0], name, extension
    return None


def _trs_pages(base: str, name: str, extension: str, total: int, max_pages: int) -> list[str]:
    count = min(total, max_pages + 1)
    return [urljoin(base, f"{name}.{extension}" if n == 0 else f"{name}_{n}.{extension}") for n in range(count)]


def _page_extension(url: str) -> str:
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    match = re.fullmatch(r"index(?:_\d+)?\.(s?html?)", name)
    return match.group(1) if match else "html"


def _looks_like_trs_index(url: str) -> bool:
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return name == "" or bool(re.fullmatch(r"index(_\d+)?\.s?html?", name))


def _same_page(url: str, page_url: str) -> bool:
    def canonical(value: str) -> str:
        parts = urlsplit(urldefrag(value)[0])
        path = re.sub(r"/index\.s?html?$", "/", parts.path) or "/"
        return f"{(parts.hostname or '').removeprefix('www.')}{path}?{parts.query}"

    return canonical(url) == canonical(page_url)


# ---------------------------------------------------------------- JavaScript listings

_JSON_CALL = re.compile(
    r"""(?:\bfetch|\$\.getJSON|\$\.get|\$\.post|jQuery\.getJSON|axios\.get|axios\.post|\.open\s*\(\s*['"](?:GET|POST)['"]\s*,)"""
    r"""\s*\(?\s*(['"`])([^'"`\s]+)\1(?!\s*\+)""", re.IGNORECASE)
_URL_PROPERTY = re.compile(r"""\burl\s*:\s*(['"`])([^'"`\s]+)\1(?!\s*\+)""")
_STATIC_ASSET = re.compile(r"\.(?:js|css|png|jpe?g|gif|svg|ico|woff2?|ttf|html?|shtml)(?:$|\?)", re.IGNORECASE)
_JSON_HINT = re.compile(r"json|api|\.do\b|\.action\b|\.ashx\b|/data/", re.IGNORECASE)


def find_json_endpoints(page: PageLike, page_url: str) -> list[str]:
    """URLs a JavaScript listing loads its items from, in page order.

    Reads string literals passed to ``fetch(…)``, ``$.getJSON``/``$.get``/``$.post``, ``axios``, ``xhr.open`` and
    ``url: '…'`` properties (``$.ajax``), plus ``data-url`` / ``data-api`` / ``data-src`` attributes that look like
    data. A URL built by concatenation (``'list_' + page``) is skipped: only complete literals are returned.
    """
    root = as_page(page).root
    if root is None:
        return []
    base = document_base(root, page_url)
    found: list[str] = []
    for script in root.iter("script"):
        code = element_text(script)
        calls = [match for pattern in (_JSON_CALL, _URL_PROPERTY) for match in pattern.finditer(code)]
        found += [match.group(2) for match in sorted(calls, key=lambda match: match.start())]
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in ("data-url", "data-api", "data-src", "data-json"):
            value = (element.get(attribute) or "").strip()
            if value and (_JSON_HINT.search(value) or attribute == "data-json"):
                found.append(value)
    result = []
    for raw in found:
        url = absolute_url(raw, base)
        if "{" in raw or not url or _STATIC_ASSET.search(urlsplit(url).path) or url in result:
            continue  # ${page} in a template literal: not a complete URL
        result.append(url)
    return result


_TITLE_KEYS = ("title", "doctitle", "articletitle", "bt", "name", "subject", "wzbt", "infotitle")
_URL_KEYS = ("url", "link", "href", "docpuburl", "linkurl", "detailurl", "pageurl", "fileurl", "path", "infourl")
_DATE_KEYS = ("pubdate", "publishtime", "docreltime", "fbrq", "date", "time", "pubtime", "publishdate",
              "releasedate", "fbsj", "docpubtime", "createtime", "inputtime")
_TAG = re.compile(r"<[^>]+>")


def listing_items_from_json(data: bytes | str, base_url: str) -> list[ListingItem]:
    """Listing items from any JSON (or JSONP) document: every object with a title-like, a URL-like and a date field.

    Field names are matched case-insensitively (title/name/bt/DOCTITLE; url/link/href/DOCPUBURL; date/time/pubDate/
    publishTime/fbrq/DOCRELTIME …), at any depth. Dates may be text or epoch seconds/milliseconds (read in China
    time). Text that is not JSON gives an empty list.
    """
    document = _load_json(data)
    if document is None:
        return []
    items: list[ListingItem] = []
    seen: set[str] = set()
    for mapping in _walk_objects(document):
        keys = {str(key).lower(): key for key in mapping}
        title = _first_text(mapping, keys, _TITLE_KEYS)
        link = _first_text(mapping, keys, _URL_KEYS)
        date_key = next((keys[name] for name in _DATE_KEYS if name in keys), None)
        if not title or not link or date_key is None:
            continue
        url = absolute_url(link, base_url)
        if not url or url in seen:
            continue
        seen.add(url)
        date_raw, value = _json_date(mapping[date_key])
        title = _normalize_space(unescape(_TAG.sub("", title)))
        items.append(ListingItem(url=url, title=title, date_raw=date_raw, date=value,
                                 kind=attachment_kind(url, title) or "html", source="json"))
    return items


def _load_json(data: bytes | str) -> Any:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            data = data.decode("gb18030", errors="replace")
    text = data.strip()
    if text and text[0] not in "[{":
        # JSONP: callback({...});
        start, end = text.find("("), text.rfind(")")
        if start < 0 or end <= start:
            return None
        text = text[start + 1:end]
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _walk_objects(document: Any) -> Iterator[dict]:
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def _first_text(mapping: dict, keys: dict[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        value = mapping.get(keys[name]) if name in keys else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _json_date(value: Any) -> tuple[str | None, date | None]:
    if isinstance(value, bool) or value is None:
        return None, None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return str(value), datetime.fromtimestamp(seconds, BEIJING).date()
        except (OverflowError, OSError, ValueError):
            return str(value), None
    if isinstance(value, str) and value.strip():
        raw = value.strip()
        return raw, _date_of(_find_date(raw))
    return None, None


_EMPTY_CONTAINER_TAGS = ("ul", "ol", "tbody", "table", "div", "dl")
_LOADER_SCRIPT = re.compile(r"\bfetch\s*\(|\$\.(?:ajax|get|getJSON|post)\b|XMLHttpRequest|axios|template\s*\(|"
                            r"laytpl|art-template|\.innerHTML\s*[+]?=|\.append\s*\(|\bnew Vue\b|createApp",
                            re.IGNORECASE)
_NOSCRIPT_ASKS = re.compile(r"javascript|脚本|启用|开启|浏览器", re.IGNORECASE)


def needs_javascript(page: PageLike) -> bool:
    """True when the listing is built by scripts: no items in the static HTML, and either an empty list container
    with a script that loads or templates data (fetch/ajax/template), or a ``<noscript>`` asking for JavaScript."""
    page = as_page(page)
    root = page.root
    if root is None:
        return False
    loading = any(_is_loading(element) for element in root.iter(*_EMPTY_CONTAINER_TAGS))
    if not loading and any(item.date_raw for item in find_listing_items(page, "http://localhost/")):
        # a sidebar of sub-columns is not a listing: only dated rows prove items are static; but a container
        # still saying "加载中…" is the listing a script fills, whatever dated news a sidebar prints beside it
        return False
    for noscript in root.iter("noscript"):
        if _NOSCRIPT_ASKS.search(element_text(noscript)):
            return True
    scripts = "\n".join(element_text(script) for script in root.iter("script"))
    has_loader = bool(_LOADER_SCRIPT.search(scripts)) or any(
        (script.get("type") or "").lower() in ("text/template", "text/html", "text/x-template")
        for script in root.iter("script"))
    if not has_loader:
        return False
    return any(_is_empty_container(element) for element in root.iter(*_EMPTY_CONTAINER_TAGS))


_LOADING_TEXT = re.compile(r"(?:数据)?(?:正在)?加载中?(?:，请稍候)?[.…。]*|loading[.…]*", re.IGNORECASE)


def _is_loading(element) -> bool:
    """A named container holding only a loading placeholder ("加载中…", "正在加载..."), no element of its own."""
    if not (element.get("id") or element.get("class")) or _marked(element, _NAV_WORD) or len(element):
        return False
    return bool(_LOADING_TEXT.fullmatch(element_text(element).strip()))


def _is_empty_container(element) -> bool:
    if not (element.get("id") or element.get("class")) or _marked(element, _NAV_WORD):
        return False
    if element.tag == "div" and not _marked(element, _LIST_WORD):
        return False  # empty divs are everywhere (clearfix, ads); only a list-named one counts
    return len(element) == 0 and (not element_text(element).strip() or _is_loading(element))


# ---------------------------------------------------------------- frames, and pagers only a browser can follow

_NOT_A_FRAME_PAGE = re.compile(r"^\s*(?:about|javascript|data|blob):", re.IGNORECASE)


def find_frames(page: PageLike, page_url: str) -> list[str]:
    """Same-site pages shown in ``<iframe>`` / ``<frame>`` elements, in page order: a listing kept in a frame is read
    at the frame's own URL. A document shown in a frame (a PDF viewer), other sites and the page itself are left out."""
    root = as_page(page).root
    if root is None:
        return []
    base = document_base(root, page_url)
    found: list[str] = []
    for element in root.iter("iframe", "frame"):
        raw = (element.get("src") or "").strip()
        url = None if _NOT_A_FRAME_PAGE.match(raw) else absolute_url(raw, base)
        if (not url or url in found or not is_same_site(url, page_url) or _same_page(url, page_url)
                or attachment_kind(url) is not None):
            continue
        found.append(url)
    return found


_SCRIPT_HREF = re.compile(r"^\s*javascript\s*:", re.IGNORECASE)
_SCRIPT_NOOP = re.compile(r"^(?:void\s*\(?\s*0\s*\)?|return\s+false|undefined)?\s*;?$", re.IGNORECASE)
# "next" only: 尾页 / >> / » jump to the end and would skip the pages between
_NEXT_ONLY_TEXT = re.compile(r"^(?:下一?页|下页|后一?页|next(?:page)?|>|›)$", re.IGNORECASE)


@dataclass(frozen=True)
class ScriptPager:
    """A pager whose links run script instead of naming a page (``<a href="javascript:load(3)">3</a>``,
    ``<a href="#" onclick="go(2)">2</a>``, ``<a href="javascript:next()">下一页</a>``): the code behind each page
    number it shows and behind its ``javascript:`` next link."""

    calls: dict[int, str]
    next_call: str | None = None

    def call_for(self, number: int) -> str | None:
        """The code that shows page ``number`` (counting from 1 as the pager prints them), else the next link's."""
        return self.calls.get(number) or self.next_call

    def exhausted_at(self, number: int) -> bool:
        """Page ``number`` is the last the pager offers: numbered links, none beyond it, and no next link."""
        return bool(self.calls) and self.next_call is None and max(self.calls) <= number


def find_script_pager(page: PageLike) -> ScriptPager:
    """The script pager of a rendered listing (see ``ScriptPager``); empty when its pager links name real pages,
    which ``find_pagination`` reads instead. The code of a ``javascript:`` link is percent-decoded as a browser
    runs it; a numbered no-op link (``href="#"``, ``javascript:void(0)``) gives its ``onclick``. A next control
    that works by ``onclick`` is left to be clicked, so that whether it is still shown counts."""
    root = as_page(page).root
    calls: dict[int, str] = {}
    next_call = None
    for anchor in root.iter("a") if root is not None else ():
        href = (anchor.get("href") or "").strip()
        script = _SCRIPT_HREF.match(href)
        code = unquote(href[script.end():]).strip() if script else ""
        text = _normalize(element_text(anchor)) or _normalize(anchor.get("title") or "")
        if text.isdigit():
            if _SCRIPT_NOOP.match(code) and (script or href in ("", "#")):
                code = (anchor.get("onclick") or "").strip()
            if not _SCRIPT_NOOP.match(code):
                calls.setdefault(int(text), code)
        elif script and next_call is None and not _SCRIPT_NOOP.match(code) and _NEXT_ONLY_TEXT.match(text):
            next_call = code
    return ScriptPager(calls, next_call)


_PAGE_FIELD = re.compile(r"page|pageno|page_no|pagenum|page_num|pageindex|page_index|pagenumber|currentpage|"
                         r"current_page|curpage|cpage|pn|p", re.IGNORECASE)
_FORM_FIELD = re.compile(r"(?:^|&)(?P<name>[^=&]+)=(?P<n>\d{1,4})(?=&|$)")
_JSON_FIELD = re.compile(r"""["'](?P<name>\w+)["']\s*:\s*["']?(?P<n>\d{1,4})(?=["']?\s*[,}])""")
# list_2.json, /page/2, data-3.do: at most 999, so that a year (2023.json) or a document id is never taken for one
_PATH_PAGE = re.compile(r"(?<=[_/-])(?P<n>\d{1,3})(?=(?:\.[A-Za-z]{2,6})?/?$)")


@dataclass(frozen=True)
class PagedRequest:
    """A data request of a listing, asking for another page."""

    url: str
    body: str | None
    number: int       # the page number (or index) it asks for


def next_page_request(url: str, body: str | None = None) -> PagedRequest | None:
    """The same data request one page on: the page field of a form or JSON body (``pageNo=1`` → 2), else of the
    query (``?page=1``), else the number ending the path (``list_1.json`` → ``list_2.json``, ``/page/1``). None when
    the request names no page number. Everything else is kept as spelled."""
    if body:
        for pattern in (_FORM_FIELD, _JSON_FIELD):
            for match in pattern.finditer(body):
                if _PAGE_FIELD.fullmatch(unquote(match["name"])):
                    number = int(match["n"]) + 1
                    return PagedRequest(url, body[:match.start("n")] + str(number) + body[match.end("n"):], number)
    parts = urlsplit(url)
    for match in _FORM_FIELD.finditer(parts.query):
        if _PAGE_FIELD.fullmatch(unquote(match["name"])):
            number = int(match["n"]) + 1
            query = parts.query[:match.start("n")] + str(number) + parts.query[match.end("n"):]
            return PagedRequest(urlunsplit(parts._replace(query=query)), body, number)
    match = _PATH_PAGE.search(parts.path)
    if match:
        number = int(match["n"]) + 1
        path = parts.path[:match.start("n")] + str(number) + parts.path[match.end("n"):]
        return PagedRequest(urlunsplit(parts._replace(path=path)), body, number)
    return None


_TOTAL_PAGES_KEYS = frozenset({"totalpage", "totalpages", "pagecount", "pagetotal", "pages", "totalpagenum",
                               "countpage", "maxpage"})
_TOTAL_ITEMS_KEYS = frozenset({"total", "totalcount", "totalrecord", "totalrecords", "recordcount", "totalnum",
                               "totalsize", "totalelements", "totalrow", "totalrows", "rowcount"})


@dataclass(frozen=True)
class ListingTotals:
    """What a JSON listing says of its own size; None where it says nothing."""

    pages: int | None = None
    items: int | None = None


def listing_totals_from_json(data: bytes | str) -> ListingTotals:
    """The page count (totalPage, pageCount, pages …) and item count (total, totalCount, recordCount …) a JSON (or
    JSONP) listing states, at its top level or in the objects it wraps its list in (``{"data": {"total": 9}}``)."""
    document = _load_json(data)
    pages = items = None
    level = [document] if isinstance(document, dict) else []
    for _ in range(3):
        children = []
        for mapping in level:
            for key, value in mapping.items():
                name = str(key).lower()
                number = value if isinstance(value, int) and not isinstance(value, bool) else (
                    int(value) if isinstance(value, str) and value.strip().isdigit() else None)
                if number is not None and pages is None and name in _TOTAL_PAGES_KEYS:
                    pages = number
                elif number is not None and items is None and name in _TOTAL_ITEMS_KEYS:
                    items = number
                elif isinstance(value, dict):
                    children.append(value)
        level = children
    return ListingTotals(pages, items)


# ---------------------------------------------------------------- attachments

def find_attachments(page: PageLike, page_url: str) -> list[Link]:
    """Attachment links of a page, by the same extractor that gives the parsed record its attachments
    (``parsers.formats.page.find_attachments``)."""
    return _find_attachments(as_page(page), page_url)


# ---------------------------------------------------------------- parsing helpers

@dataclass(frozen=True)
class _Anchor:
    url: str
    text: str


def _anchors(page: Page, page_url: str) -> list[_Anchor]:
    root = page.root
    if root is None:
        return []
    base = document_base(root, page_url)
    anchors = []
    for element in root.iter("a"):
        url = absolute_url(element.get("href"), base)
        text = link_text(element)
        if url and text:
            anchors.append(_Anchor(url, text))
    return anchors


def _text_outside(node, anchor) -> str:
    """The text of ``node`` minus the anchor's own text (a title may hold a year, never the row's date)."""
    full = element_text(node)
    own = element_text(anchor)
    return full.replace(own, " ", 1) if own else full


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def _normalize_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _normalize(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))
