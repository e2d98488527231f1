"""One HTML page as every reader sees it: the decoded text and the lxml tree, parsed once, on first use; how its
links resolve; and the one attachment extractor.

Page discovery (``parsers.discovery``) and the HTML reader (``parsers.formats.html``) both read a ``Page`` and both
take attachments from ``find_attachments``, so they see the same elements: an attachment the parsed record names is
one the crawler finds and fetches.
"""
from __future__ import annotations

import logging
import re
from functools import cached_property
from typing import Iterable
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
from lxml import etree

from parsers.formats.encoding import charset_from_content_type, charset_from_markup, decode_bytes
from parsers.formats.textnorm import collapse_whitespace
from parsers.links import attachment_kind
from parsers.record import Link

logger = logging.getLogger(__name__)

_BROKEN_HREF = re.compile(r"[\s\u200b]+")  # hrefs broken across lines by templates
_NOT_A_DOCUMENT = re.compile(r"(?i)(javascript|mailto|tel|data|about):")


class Page:
    """The decoded text of an HTML page, with its encoding and decoding warnings, and its tree (``root``).

    Every function given the page reads the same tree, so none may change it; the HTML reader prunes only the tree
    of a page it built for itself.
    """

    def __init__(self, text: str, encoding: str | None = None, warnings: Iterable[str] = ()) -> None:
        self.text = text
        self.encoding = encoding
        self.warnings = list(warnings)

    @classmethod
    def from_bytes(cls, data: bytes, content_type: str | None = None) -> Page:
        """Decode with the project's shared decoder: BOM, then the HTTP and ``<meta>`` charsets if the bytes really
        decode with them, then detection (GB2312/GBK read as GB18030)."""
        declared = [("HTTP 头", charset_from_content_type(content_type)), ("页面 meta", charset_from_markup(data))]
        decoded = decode_bytes(data, declared)
        return cls(decoded.text, decoded.encoding, decoded.warnings)

    @property
    def root(self) -> lxml.html.HtmlElement | None:
        """The document tree; None when the page is empty or lxml cannot parse it."""
        return self._parsed[0]

    @property
    def cut_short(self) -> bool:
        """True when libxml2 stopped early: nesting deeper than even ``huge_tree`` allows."""
        return self._parsed[1]

    @cached_property
    def _parsed(self) -> tuple[lxml.html.HtmlElement | None, bool]:
        if not self.text or not self.text.strip():
            return None, False
        # huge_tree: without it libxml2 stops at nesting depth 256 and silently drops the rest of the page.
        # UTF-8 bytes with the encoding fixed: lxml refuses str with an XML declaration, and a <meta charset>
        # inside must not re-decode text that is already decoded.
        parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
        try:
            root = lxml.html.document_fromstring(self.text.encode("utf-8", "replace"), parser=parser)
        except (etree.ParserError, ValueError) as exc:
            logger.info("unparsable HTML: %s", exc)
            return None, False
        return root, any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log)


def as_page(page: Page | str | bytes) -> Page:
    """A ``Page`` for what a caller holds: the page itself, its text, or its bytes (decoded here)."""
    if isinstance(page, Page):
        return page
    if isinstance(page, (bytes, bytearray)):
        return Page.from_bytes(bytes(page))
    return Page(page)


def element_text(element) -> str:
    """All text under an element, or "" for a node that has none (comments, processing instructions)."""
    try:
        return element.text_content() or ""
    except (ValueError, AttributeError):
        return ""


# ---------------------------------------------------------------- links

def document_base(root, page_url: str | None) -> str:
    """What the page's relative links resolve against: its first ``<base href>``, else its own URL ("" if unknown)."""
    for base in root.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            return urljoin(page_url or "", href)
    return page_url or ""


def absolute_url(href: str | None, base: str) -> str | None:
    """``href`` resolved against ``base``, without fragment: an http(s) URL, or with no base known the relative
    reference itself. None for javascript:, mailto:, '#' and the like."""
    if not href:
        return None
    href = _BROKEN_HREF.sub("", href)
    if not href or href.startswith("#") or _NOT_A_DOCUMENT.match(href):
        return None
    try:
        url = urldefrag(urljoin(base, href))[0]
        scheme = urlsplit(url).scheme
    except ValueError:  # a malformed host such as http://[::1
        return None
    return url if scheme in ("http", "https") or (not base and not scheme) else None


def link_text(element) -> str:
    """The link text, or the ``title`` attribute when the text is missing or cut short (portals truncate with …)."""
    text = collapse_whitespace(element_text(element))
    title = collapse_whitespace(element.get("title") or "")
    if title and (not text or text.endswith(("…", "...")) or len(title) > len(text) and title.startswith(text[:4])):
        return title
    return text


def find_attachments(page: Page, page_url: str | None) -> list[Link]:
    """Attachment links of a page in page order, one per URL (with the first text that says something): ``<a>``
    and ``<area>`` hrefs, ``<iframe>``/``<embed>`` sources and ``<object>`` data whose path, query
    (``download.jsp?filename=x.pdf``) or text names an attachment type (``parsers.links.attachment_kind``)."""
    root = page.root
    if root is None:
        return []
    base = document_base(root, page_url)
    links: dict[str, Link] = {}
    for element in root.iter("a", "area", "iframe", "embed", "object"):
        target = element.get("href") if element.tag in ("a", "area") else element.get("src") or element.get("data")
        url = absolute_url(target, base)
        if url is None or (url in links and links[url].text):
            continue
        text = link_text(element)
        kind = attachment_kind(url, text)
        if kind:
            links[url] = Link(url=url, text=text, kind=kind)
    return list(links.values())
