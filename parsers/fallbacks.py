"""Other ways to a report column when neither the registry nor the homepage's links lead to one: pure functions.

- ``find_catalogue_columns``: on a 信息公开目录 page, its 年报 category (a link, or a node of a script-built tree);
- ``find_search_url``: the site's own search form, filled in for 年度报告 (the GET URL a browser would submit);
- ``read_sitemap``: ``sitemap.xml``, whose URLs name the column (…/ndbg/, …/xxgknb/, …/nb/, 年报 in the path) or
  sit under it; a sitemap index names further sitemaps.

Like ``parsers.discovery``: a page (or its text or bytes) and the URL it came from in, small dataclasses out, no
network; a page that cannot be read gives nothing, never an exception.
"""
from __future__ import annotations

import gzip
import io
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree

from parsers.discovery import LinkCandidate, PageLike, find_report_columns, is_same_site
from parsers.formats.page import absolute_url, as_page, document_base, element_text, link_text

DEFAULT_SEARCH_WORDS = "年度报告"

# ---------------------------------------------------------------- 信息公开目录

_CATALOGUE_TEXT = re.compile(r"(政府)?信息公开目录|主动公开目录|公开目录")
_CATALOGUE_URL = re.compile(r"(?:^|/)(?:gkml|xxgkml|zfxxgkml|zdgkml|gkmlpt)(?:[/_.-]|$)", re.IGNORECASE)
# a category label is short: 政府信息公开年报, 年度报告, 政务公开年度报告; not 企业年报 or 统计年报
_CATEGORY_TEXT = re.compile(r"^(?:(?:政府)?信息公开|政务公开)?(?:工作)?(?:年度报告|年报)(?:专栏)?$")
# tree nodes of zTree/jsTree-style catalogues: {id: 12, pId: 1, name: "政府信息公开年报", url: "/gkml/nb/"}
_TREE_NODE = re.compile(r"\{[^{}]{0,600}\}")
_NODE_FIELD = re.compile(r"""["']?(\w+)["']?\s*:\s*(["'])(.*?)(?<!\\)\2""", re.DOTALL)
_NODE_NAME_KEYS = ("name", "title", "text", "label", "catname", "catalogname", "channelname")
_NODE_URL_KEYS = ("url", "href", "link", "path", "linkurl", "caturl", "pageurl")


def is_catalogue_page(page: PageLike, page_url: str) -> bool:
    """A 信息公开目录 page: its title, first heading or breadcrumb says so, or its path is a /gkml/-style path."""
    root = as_page(page).root
    if root is None:
        return False
    if _CATALOGUE_URL.search(urlsplit(page_url).path):
        return True
    heads = [element_text(element) for element in root.iter("title", "h1", "h2")][:4]
    return any(_CATALOGUE_TEXT.search(_normalize(text)) for text in heads)


def find_catalogue_columns(page: PageLike, page_url: str) -> list[LinkCandidate]:
    """The 年报 category of a 信息公开目录 page, best first; nothing when the page is not a catalogue.

    Categories are links (``<a href="…">政府信息公开年报</a>``) or nodes of a tree the page builds with a script
    (zTree's ``{name: "…", url: "…"}``); a node whose link is ``javascript:`` leads nowhere a crawler can follow.
    """
    page = as_page(page)
    root = page.root
    if root is None or not is_catalogue_page(page, page_url):
        return []
    base = document_base(root, page_url)
    found: dict[str, LinkCandidate] = {}

    def add(url: str | None, text: str, points: int, reason: str) -> None:
        if url and is_same_site(url, page_url) and (url not in found or found[url].score < points):
            found[url] = LinkCandidate(url, text, points, ("catalogue:" + reason,))

    for element in root.iter("a"):
        text = link_text(element)
        if _CATEGORY_TEXT.match(_normalize(text)):
            add(absolute_url(element.get("href"), base), text, 10, "link")
    for script in root.iter("script"):
        for name, url in _tree_nodes(element_text(script)):
            if _CATEGORY_TEXT.match(_normalize(name)):
                add(absolute_url(url, base), name, 9, "tree node")
    # a catalogue page may also link the column in its ordinary navigation
    for candidate in find_report_columns(page, page_url):
        add(candidate.url, candidate.text, min(candidate.score, 8), "link")
    return sorted(found.values(), key=lambda candidate: (-candidate.score, candidate.url))


def _tree_nodes(script: str) -> list[tuple[str, str]]:
    nodes = []
    for match in _TREE_NODE.finditer(script):
        fields = {key.lower(): value for key, _, value in _NODE_FIELD.findall(match.group(0))}
        name = next((fields[key] for key in _NODE_NAME_KEYS if fields.get(key)), None)
        url = next((fields[key] for key in _NODE_URL_KEYS if fields.get(key)), None)
        if name and url:
            nodes.append((name.replace("\\/", "/"), url.replace("\\/", "/")))
    return nodes


# ---------------------------------------------------------------- the site's own search

_SEARCH_ACTION = re.compile(r"search|sousuo|jsearch|was5|query|fulltext|retrieval|solr|/s\.(?:htm|html|jsp)|"
                            r"/so[./]|(?:^|/)ss\.(?:jsp|do|html?)|(?:^|[/_-])ss(?:/|$)", re.IGNORECASE)
_SEARCH_FIELD = re.compile(r"^(?:q|qt|query|keys?|keywords?|searchword|searchwords|searchkey|searchtext|sw|kw|wd|"
                           r"word|words|searchvalue|text|title|content)$", re.IGNORECASE)
_SEARCH_MARK = re.compile(r"search|sousuo|ss", re.IGNORECASE)
_SEARCH_LABEL = re.compile(r"搜索|检索|查询|搜\s*索")
_TEXT_TYPES = ("", "text", "search")
_NOT_SUBMITTED = ("submit", "button", "image", "reset", "file", "password")


def find_search_url(page: PageLike, page_url: str, words: str = DEFAULT_SEARCH_WORDS) -> str | None:
    """The URL a browser would open when ``words`` are typed into the site's search form and submitted.

    The form must submit with GET (the default); POST forms and script-only search boxes are passed over, and so
    are login forms (a password field) and forms that post to another site. The hidden fields stay as the page
    sets them (siteid, channelid, tpl…), the search field gets ``words``, and the query is encoded in the form's
    ``accept-charset`` or else the page's own encoding, as a browser does (GBK portals expect GBK).
    """
    page = as_page(page)
    root = page.root
    if root is None:
        return None
    base = document_base(root, page_url)
    best: tuple[int, str] | None = None
    for form in root.iter("form"):
        if (form.get("method") or "get").strip().lower() != "get":
            continue
        fields = [element for element in form.iter("input", "select", "textarea")
                  if element.get("name") and element.get("disabled") is None]
        if any((element.get("type") or "").lower() == "password" for element in form.iter("input")):
            continue
        box = _search_box(fields)
        if box is None:
            continue
        action = (form.get("action") or "").strip()
        target = urljoin(base, action) if action and not action.lower().startswith("javascript:") else page_url
        if urlsplit(target).scheme not in ("http", "https") or not is_same_site(target, page_url):
            continue
        score = _form_score(form, box, target)
        if score < 3:
            continue
        url = _submitted_url(target, fields, box, words, _form_encoding(form, page.encoding))
        if url and (best is None or score > best[0]):
            best = (score, url)
    return best[1] if best else None


def _search_box(fields) -> object | None:
    """The form's text field for the words: a search-like name, else its only visible text field."""
    texts = [element for element in fields if element.tag == "input"
             and (element.get("type") or "").strip().lower() in _TEXT_TYPES]
    named = [element for element in texts if _SEARCH_FIELD.match(element.get("name", ""))]
    if named:
        return named[0]
    return texts[0] if len(texts) == 1 else None


def _form_score(form, box, target: str) -> int:
    score = 0
    if _SEARCH_ACTION.search(urlsplit(target).path + "?" + urlsplit(target).query):
        score += 3
    if _SEARCH_FIELD.match(box.get("name", "")):
        score += 2
    marks = " ".join(filter(None, (form.get("id"), form.get("name"), form.get("class"), box.get("id"))))
    if _SEARCH_MARK.search(marks):
        score += 2
    labels = element_text(form) + " ".join(filter(None, (element.get("value") or element.get("alt") or ""
                                                         for element in form.iter("input", "button"))))
    if _SEARCH_LABEL.search(labels) or _SEARCH_LABEL.search(box.get("placeholder") or ""):
        score += 2
    return score


def _form_encoding(form, page_encoding: str | None) -> str:
    for label in re.split(r"[\s,]+", form.get("accept-charset") or "") + [page_encoding or ""]:
        label = label.strip().lower()
        if label in ("gb2312", "gbk"):
            label = "gb18030"  # the same bytes for every character GB2312/GBK have, and a superset of both
        if label:
            try:
                "年".encode(label)
                return label
            except (LookupError, UnicodeEncodeError):
                continue
    return "utf-8"


def _submitted_url(target: str, fields, box, words: str, encoding: str) -> str | None:
    pairs: list[tuple[str, str]] = []
    for element in fields:
        name = element.get("name")
        kind = (element.get("type") or "").strip().lower()
        if element is box:
            pairs.append((name, words))
        elif element.tag == "select":
            options = list(element.iter("option"))
            chosen = next((option for option in options if option.get("selected") is not None), None)
            chosen = chosen if chosen is not None else (options[0] if options else None)
            if chosen is not None:
                pairs.append((name, chosen.get("value", element_text(chosen).strip())))
        elif element.tag == "textarea":
            pairs.append((name, element_text(element)))
        elif kind in ("checkbox", "radio"):
            if element.get("checked") is not None:
                pairs.append((name, element.get("value", "on")))
        elif kind not in _NOT_SUBMITTED:
            pairs.append((name, element.get("value", "")))
    # a GET form replaces the action's own query with the form's fields (HTML: "mutate action URL")
    parts = urlsplit(target)
    return urlunsplit(parts._replace(query=urlencode(pairs, encoding=encoding), fragment=""))


# ---------------------------------------------------------------- sitemap.xml

# a path segment that names the annual-report column: ndbg, xxgknb, gknb, nb, ndbg_2023, 年报, 年度报告 …
_COLUMN_SEGMENT = re.compile(r"^(?:zfxxgknb|xxgknb|gknb|zfxxgkndbg|xxgkndbg|gkndbg|ndbg|ndgzbg|nb|annualreports?)"
                             r"(?:[_-]\w*)?$|年报|年度报告", re.IGNORECASE)
_INDEX_NAME = re.compile(r"^(?:index|default|list)(?:_\d+)?\.(?:s?html?|jsp|aspx?|php)$", re.IGNORECASE)
_MAX_SITEMAP_BYTES = 50 * 1024 * 1024   # the sitemaps.org limit for one file, uncompressed


@dataclass(frozen=True)
class SitemapLinks:
    """What a sitemap says about the report column: column URLs (best first) and further sitemaps to read."""

    columns: list[LinkCandidate]
    sitemaps: list[str]


def sitemap_url(homepage: str) -> str:
    """Where a site keeps its sitemap by convention: ``/sitemap.xml`` at the root of the homepage's host."""
    parts = urlsplit(homepage)
    return urlunsplit((parts.scheme, parts.netloc, "/sitemap.xml", "", ""))


def read_sitemap(data: bytes, url: str, scope: str | None = None) -> SitemapLinks:
    """The report columns a sitemap (XML ``urlset`` or ``sitemapindex``, plain text, or gzipped) points at.

    A URL whose path names the column is the column; a page below such a path (an article in
    ``/xxgk/ndbg/202401/``) gives the column's folder. Only same-site URLs count, and with ``scope`` (the agency's
    homepage) only those under the homepage's folder, so that one department's sitemap entries on a shared county
    portal are not taken for another's.
    """
    text_urls, sitemaps = _sitemap_entries(_ungzipped(data))
    folder = _folder(scope) if scope else None
    listed: dict[str, int] = {}
    derived: dict[str, int] = {}
    for entry in text_urls:
        if not is_same_site(entry, url) or (folder and not _within(entry, folder)):
            continue
        column = _column_of(entry)
        if column is None:
            continue
        column_url, is_listed = column
        target = listed if is_listed else derived
        target[column_url] = target.get(column_url, 0) + 1
    listed_folders = {_folder(column) for column in listed}
    candidates = [LinkCandidate(column, "", 10, ("sitemap:column",)) for column in listed]
    candidates += [LinkCandidate(column, "", 5 + min(count, 3), ("sitemap:folder of listed pages",))
                   for column, count in derived.items() if _folder(column) not in listed_folders]
    candidates.sort(key=lambda candidate: (-candidate.score, candidate.url))
    further = [entry for entry in sitemaps if is_same_site(entry, url)]
    return SitemapLinks(candidates, list(dict.fromkeys(further)))


def _ungzipped(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                return stream.read(_MAX_SITEMAP_BYTES)
        except (OSError, EOFError):
            return b""
    return data[:_MAX_SITEMAP_BYTES]


def _sitemap_entries(data: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, sitemap URLs) of a sitemap: XML with or without the sitemaps.org namespace, or one URL a line."""
    if not data.strip():
        return [], []
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(data.lstrip(), parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        root = None
    if root is None or not isinstance(root.tag, str):
        lines = data.decode("utf-8", "replace").split()
        return [line for line in lines if line.startswith(("http://", "https://"))], []
    pages, sitemaps = [], []
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname != "loc":
            continue
        loc = (element.text or "").strip()
        if not loc.startswith(("http://", "https://")):
            continue
        parent = element.getparent()
        kind = etree.QName(parent).localname if parent is not None and isinstance(parent.tag, str) else ""
        (sitemaps if kind == "sitemap" else pages).append(loc)
    return pages, sitemaps


def _column_of(url: str) -> tuple[str, bool] | None:
    """(the column's URL, whether ``url`` is the column itself) when a segment of the path names the column."""
    parts = urlsplit(url)
    segments = unquote(parts.path).split("/")
    for index, segment in enumerate(segments):
        if not segment or not _COLUMN_SEGMENT.search(unicodedata.normalize("NFKC", segment)):
            continue
        if "." in segment and index == len(segments) - 1:
            # a file named like the column (ndbg.htm, gknb.html) is the column's page itself; a document is not
            return (url, True) if segment.rsplit(".", 1)[1].lower() in ("htm", "html", "shtml", "jsp") else None
        rest = [part for part in segments[index + 1:] if part]
        if not rest or (len(rest) == 1 and _INDEX_NAME.match(rest[0])):
            return url, True
        folder = parts.path.split("/")[:index + 1]
        return urlunsplit((parts.scheme, parts.netloc, "/".join(folder) + "/", "", "")), False
    return None


def _folder(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return path or "/"


def _within(url: str, folder: str) -> bool:
    return (urlsplit(url).path or "/").startswith(folder)


def _normalize(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))
