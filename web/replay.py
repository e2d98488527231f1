"""Archived bytes as the browser may see them.

HTML is rebuilt on the server with lxml, the way pywb replays a page, but without running anything: scripts,
event handlers, ``javascript:`` and other active URLs, meta refresh (any ``http-equiv``), ``<object>``/``<embed>``/
``<applet>``, frames and external style sheets are dropped. Every URL of the page is resolved against the page's
own ``<base href>`` (then ``<base>`` is dropped: nothing relative is left for it to redirect) and leads into the
archive: links to the newest capture of their target (``Urls.latest``, which finds any spelling of the URL, see
``web.spellings``), images and backgrounds to their capture when the archive holds one, else they are removed.
Nothing of a replayed page points at the live site. That is defence in depth: the response also carries a CSP
``sandbox`` with ``default-src 'none'`` and ``base-uri 'none'`` (see ``RAW_HEADERS``), so nothing in it can run
even if something slipped through, and the UI shows it only inside ``<iframe sandbox>``. PDFs are served inline,
office files and anything unknown as attachments, always with the type taken from the bytes, never from what the
server claimed. An inline PDF (bytes that are a PDF, sent as application/pdf with ``nosniff``, so no browser reads
them as anything else) goes without the CSP's sandbox: Chrome treats its PDF viewer as a plugin, which a sandboxed document
may not load, and shows "This page has been blocked by Chrome" instead (the viewer runs the file in a process of its
own, without the archive's origin).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html

from parsers.formats.encoding import charset_from_content_type, charset_from_markup, decode_bytes
from parsers.formats.sniff import sniff_format
from parsers.headers import header_value
from parsers.record import FetchContext
from storage.archive import rendered_page_url
from web.urls import Urls

RAW_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'"
RAW_HEADERS = {
    "Content-Security-Policy": RAW_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# an inline PDF: the same headers, its CSP only kept from being framed elsewhere (see the module's docstring; a
# default-src, the UI's own included, would also keep the viewer's styles out in Chromes that apply it)
PDF_HEADERS = {**RAW_HEADERS, "Content-Security-Policy": "frame-ancestors 'self'"}

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "doc": "application/msword",
    "wps": "application/vnd.ms-works",
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png", "png"), (b"\xff\xd8\xff", "image/jpeg", "jpg"),
                (b"GIF87a", "image/gif", "gif"), (b"GIF89a", "image/gif", "gif"), (b"II*\x00", "image/tiff", "tif"),
                (b"MM\x00*", "image/tiff", "tif"))
EXTENSIONS = {"html": "html", "pdf": "pdf", "docx": "docx", "doc": "doc", "wps": "wps", "zip": "zip",
              "xlsx": "xlsx", "text": "txt", "unknown": "bin"}

# elements removed with everything inside them
_DROP = frozenset({"script", "iframe", "frame", "frameset", "portal", "noembed", "handler", "listener"})
# elements removed but their content kept: void elements the HTML parser may wrongly wrap the rest of the page in,
# and plugin elements whose content is the fallback meant for browsers without the plugin
_UNWRAP = frozenset({"object", "embed", "applet", "param", "base", "link", "animate", "set", "animatemotion",
                     "animatetransform"})
# attributes holding a URL the browser follows when clicked, or fetches to show the page
_FOLLOWED = frozenset({"href", "xlink:href", "cite", "longdesc", "usemap"})
_FETCHED = frozenset({"src", "background", "poster", "lowsrc", "dynsrc", "data", "icon"})
_FETCHED_HREF_ELEMENTS = frozenset({"image", "use", "feimage"})  # SVG elements whose href is loaded, not followed
# URL attributes that only submit, ping or load plugins and manifests: removed whatever they name
_NEUTRALISED = frozenset({"action", "formaction", "ping", "manifest", "codebase", "classid", "archive", "profile"})
_URL_ATTRIBUTES = _FOLLOWED | _FETCHED | _NEUTRALISED
# attributes dropped outright: they carry several URLs or open windows
_DROP_ATTRIBUTES = frozenset({"srcset", "imagesrcset", "target", "srcdoc", "http-equiv", "integrity", "nonce"})
_SAFE_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif|webp);", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)]*?))\s*\)", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(.))", re.DOTALL)
_IMAGE_SET = re.compile(r"(?:-webkit-)?image-set\(", re.IGNORECASE)
_CSS_STRING = re.compile(r"\"[^\"]*\"|'[^']*'")
# a string left in a style that names another host or scheme (content: "…", a font's src(), …): emptied
_REMOTE_IN_STRING = re.compile(r"^[\"'](?:[a-z][a-z0-9+.\-]*:(?!image/)|\s*//)", re.IGNORECASE)
# SVG paint and reference attributes take CSS url()s: fill="url(#grad)" (in this document) or a remote file
_CSS_VALUED_ATTRIBUTES = frozenset({"fill", "stroke", "filter", "mask", "clip-path", "marker-start", "marker-mid",
                                    "marker-end", "marker", "cursor"})
_ACTIVE_TEXT = re.compile(r"javascript:|vbscript:|expression\s*\(|-moz-binding|behavior\s*:", re.IGNORECASE)
_URL_WHITESPACE = re.compile(r"[\t\n\r]+")
_INERT_SCHEMES = ("mailto:", "tel:")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_FILENAME_UNSAFE = re.compile(r"[^\w.\-\u3400-\u9fff]+")


@dataclass(frozen=True)
class RawBody:
    body: bytes
    media_type: str
    disposition: str          # inline | attachment
    filename: str             # safe: letters, digits, CJK, '.', '-', '_'
    kind: str                 # html | pdf | docx | … | redirect | text | image | unknown (for the UI)


def archived_kind(payload: bytes, url: str, content_type: str | None) -> str:
    """What the archived bytes are (sniff_format: magic bytes first, the server's claim only as a tie-breaker)."""
    if not payload:
        return "empty"
    return sniff_format(payload, FetchContext(url=url, content_type=content_type))


# ``archived(urls)``: each of the urls the archive holds, mapped to the spelling it holds it under
Holdings = Callable[[Iterable[str]], Mapping[str, str]]


def has_full_page(kind: str | None, url: str, record_type: str) -> bool:
    """Whether a capture has a whole page to render (``web.full_page``): an HTTP(S) response or revisit whose bytes
    are HTML (a rendered DOM or a screenshot is a resource record of the crawler's own)."""
    return kind == "html" and record_type != "resource" and url.startswith(("http://", "https://"))


def raw_body(capture_id: int, url: str, status: int | None, headers: list[tuple[str, str]], payload: bytes,
             archived: Holdings, urls: Urls, *, download: bool = False) -> RawBody:
    """How to serve a capture's payload; links in HTML lead to ``urls.latest`` of their target."""
    content_type = header_value(headers, "content-type")
    location = header_value(headers, "location")
    kind = archived_kind(payload, url, content_type)
    extension = EXTENSIONS.get(kind, "bin")
    filename = safe_filename(url, capture_id, extension)
    if download:
        return RawBody(payload, "application/octet-stream", "attachment", filename, kind)
    if status is not None and 300 <= status < 400 and location and kind in ("empty", "html", "text"):
        page = redirect_page(urljoin(url, location.strip()), status, archived, urls)
        return RawBody(page.encode("utf-8"), "text/html; charset=utf-8", "inline",
                       safe_filename(url, capture_id, "html"), "redirect")   # the page served, not the payload
    if kind == "html":
        text = _decode(payload, content_type)
        page = rewrite_html(text, rendered_page_url(url), archived, urls)   # a rendered DOM's links are its page's
        return RawBody(page.encode("utf-8"), "text/html; charset=utf-8", "inline", filename, kind)
    if kind in ("text", "empty"):
        return RawBody(_decode(payload, content_type).encode("utf-8"), "text/plain; charset=utf-8", "inline",
                       filename, kind)
    if kind == "pdf":
        return RawBody(payload, MEDIA_TYPES["pdf"], "inline", filename, kind)
    if kind == "image":
        for magic, media_type, image_extension in _IMAGE_TYPES:
            if payload.startswith(magic):
                return RawBody(payload, media_type, "inline", safe_filename(url, capture_id, image_extension), kind)
    return RawBody(payload, MEDIA_TYPES.get(kind, "application/octet-stream"), "attachment", filename, kind)


def content_disposition(body: RawBody) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name, so no header injection and no mojibake."""
    ascii_name = body.filename.encode("ascii", "ignore").decode("ascii").strip("._") or "capture"
    if "." not in ascii_name and "." in body.filename:
        ascii_name += "." + body.filename.rsplit(".", 1)[1].encode("ascii", "ignore").decode("ascii")
    return f"{body.disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(body.filename, safe='')}"


def safe_filename(url: str, capture_id: int, extension: str) -> str:
    """The last path segment of the URL cleaned to letters, digits, CJK, '.', '-' and '_', with the right
    extension; ``capture-<id>.<ext>`` when nothing is left."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = unicodedata.normalize("NFKC", name)
    name = _FILENAME_UNSAFE.sub("_", name).strip("._")[:120]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip("._") or f"capture-{capture_id}"
    return f"{stem}.{extension}"


def _decode(payload: bytes, content_type: str | None) -> str:
    declared = [("HTTP", charset_from_content_type(content_type)), ("meta", charset_from_markup(payload))]
    return decode_bytes(payload, declared).text


# ---------------------------------------------------------------- HTML

@dataclass(frozen=True)
class _Link:
    """A URL attribute to rewrite: where it points (absolute, without fragment) and its fragment."""

    element: Any
    name: str
    target: str
    fragment: str

    @property
    def fetched(self) -> bool:
        """Loaded to show the page (an image), rather than followed when clicked."""
        key = self.name.lower()
        return key in _FETCHED or (key in ("href", "xlink:href")
                                   and _local_name(self.element.tag) in _FETCHED_HREF_ELEMENTS)


def rewrite_html(text: str, page_url: str, archived: Holdings, urls: Urls) -> str:
    """The page without anything active, every URL in it resolved against its own base and leading into the
    archive, or removed."""
    root = _parse(text)
    if root is None:
        return _EMPTY_PAGE
    base_url = _base_url(root, page_url)
    _remove_active(root)
    links = _url_attributes(root, base_url)
    styled = _styled_elements(root)
    holdings = archived({link.target for link in links} | _css_targets(styled, base_url))
    for element in styled:
        _set_style_text(element, partial(_rewrite_css, base_url=base_url, holdings=holdings, urls=urls))
    for link in links:
        _point_into_archive(link, holdings, urls)
    return _serialise(root)


_EMPTY_PAGE = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body></body></html>"


def _parse(text: str):
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True, no_network=True)
    try:
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text, count=1) or " ", parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return None
    return root


def _base_url(root, page_url: str) -> str:
    """The page's own <base href> decides how its relative links resolve, before <base> is removed."""
    for base in root.iter("base"):
        href = base.get("href")
        if href:
            resolved = _absolute(href, page_url)
            if resolved and urlsplit(resolved[0]).scheme in ("http", "https"):
                return resolved[0]
    return page_url


def _remove_active(root) -> None:
    _drop_active_elements(root)
    _drop_active_attributes(root)


def _drop_active_elements(root) -> None:
    """Scripts, frames and their kin go with their content; plugins, <base>, <link> and meta refresh/charset
    go but leave their content (the fallback text)."""
    for element in list(root.iter(lxml.etree.Element)):
        tag = _local_name(element.tag)
        if element is root or element.getparent() is None:
            continue
        if tag in _DROP:
            element.drop_tree()
        elif tag in _UNWRAP or (tag == "meta" and (element.get("http-equiv") is not None
                                                   or element.get("charset") is not None)):
            element.drop_tag()


def _drop_active_attributes(root) -> None:
    """Event handlers, script URLs, active CSS, attributes that open windows or carry several URLs, and what
    a form would submit to."""
    for element in root.iter(lxml.etree.Element):
        if _local_name(element.tag) == "style" and element.text:
            element.text = plain_css(element.text)
            if _ACTIVE_TEXT.search(element.text):
                element.text = ""
        for name in list(element.attrib):
            lowered = _local_name(name)
            if lowered == "style" or lowered in _CSS_VALUED_ATTRIBUTES:
                element.attrib[name] = plain_css(element.attrib[name])
            value = _url_text(element.attrib[name]).lower()
            if (lowered.startswith("on") or lowered in _DROP_ATTRIBUTES or name.lower() in _DROP_ATTRIBUTES
                    or value.startswith(("javascript:", "vbscript:"))
                    or ((lowered == "style" or lowered in _CSS_VALUED_ATTRIBUTES) and _ACTIVE_TEXT.search(value))):
                del element.attrib[name]
        if _local_name(element.tag) == "form":
            element.attrib.pop("action", None)
            element.attrib.pop("method", None)


def _url_attributes(root, base_url: str) -> list[_Link]:
    """Every http(s) URL attribute left after ``_remove_active``; the others are settled here: in-page anchors
    and mail/phone links stay, inline data stays on images only, neutralised and unusable URLs are removed."""
    links = []
    for element in root.iter(lxml.etree.Element):
        for name in list(element.attrib):
            key = name.lower()
            if key not in _URL_ATTRIBUTES:
                continue
            value = _url_text(element.attrib[name])
            if key in _NEUTRALISED:
                del element.attrib[name]
            elif value.startswith("#"):
                element.attrib[name] = value  # this document: no base, no archive lookup, no reload
            elif key == "href" and value.lower().startswith(_INERT_SCHEMES):
                continue  # mail and phone links open nothing inside the sandbox
            elif (target := _absolute(value, base_url)) is None:
                del element.attrib[name]
            elif target[0].startswith("data:"):
                if not (_local_name(element.tag) == "img" and key == "src"):
                    del element.attrib[name]  # only images may be inline data (the CSP allows img-src data:)
            else:
                links.append(_Link(element, name, *target))
    return links


def _point_into_archive(link: _Link, holdings: Mapping[str, str], urls: Urls) -> None:
    """A followed link always leads to the archive's newest capture of its target (a clear "not archived" page
    when there is none: never the live site); a fetched resource only when the archive holds it."""
    stored = holdings.get(link.target)
    if stored is None and link.fetched:
        del link.element.attrib[link.name]  # nothing to load; the sandbox would block the live fetch anyway
        link.element.attrib["data-original-src"] = link.target
        return
    link.element.attrib[link.name] = urls.latest(stored or link.target, raw=True) + (
        f"#{link.fragment}" if link.fragment else "")


def _styled_elements(root) -> list:
    return [element for element in root.iter(lxml.etree.Element)
            if element.get("style") or (_local_name(element.tag) == "style" and element.text)
            or any(_local_name(name) in _CSS_VALUED_ATTRIBUTES for name in element.attrib)]


def _css_targets(styled: list, base_url: str) -> set[str]:
    return {target for element in styled for target in _css_urls(_style_text(element), base_url)}


def _serialise(root) -> str:
    """The document as UTF-8 HTML (what the response says), with its own charset declaration first."""
    head = root.find("head")
    if head is None:
        head = lxml.etree.Element("head")
        root.insert(0, head)
    head.insert(0, lxml.etree.Element("meta", charset="utf-8"))
    return "<!DOCTYPE html>\n" + lxml.html.tostring(root, encoding="unicode", method="html")


def _url_text(value: str) -> str:
    """A URL as browsers read it: leading/trailing controls and spaces dropped, tabs and newlines removed."""
    return _URL_WHITESPACE.sub("", (value or "").strip(_C0_AND_SPACE))


def _style_text(element) -> str:
    """All the CSS an element carries: its text (<style>), its style attribute, its SVG paint attributes."""
    if _local_name(element.tag) == "style":
        return element.text or ""
    return " ".join(value for name, value in element.attrib.items()
                    if _local_name(name) == "style" or _local_name(name) in _CSS_VALUED_ATTRIBUTES)


def _set_style_text(element, rewrite: Callable[[str], str]) -> None:
    if _local_name(element.tag) == "style":
        # "<" cannot end a <style> in CSS, but inside SVG or MathML a browser parses <style> as markup (an
        # <img onerror> in it is an element there, as lxml never sees): no "<" is left to open a tag
        element.text = rewrite(element.text or "").replace("<", "\\3c ")
        return
    for name in list(element.attrib):
        if _local_name(name) == "style" or _local_name(name) in _CSS_VALUED_ATTRIBUTES:
            element.set(name, rewrite(element.attrib[name]))


def plain_css(css: str) -> str:
    """CSS as a browser tokenizes it, for the checks that follow: comments gone, escapes decoded (``u\\72l(`` is
    ``url(``, ``expr\\65ssion`` is ``expression``)."""
    def unescape(match: re.Match) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return "" if match.group(2) in "\n\r\f" else match.group(2)

    return _CSS_ESCAPE.sub(unescape, _CSS_COMMENT.sub("", css))


def _image_set_urls(css: str) -> str:
    """``image-set("a.png" 1x)``: a bare string there is a URL the browser loads, written as ``url("a.png")``."""
    out, position = [], 0
    for match in _IMAGE_SET.finditer(css):
        if match.start() < position:
            continue
        depth, end = 1, match.end()
        while end < len(css) and depth:
            depth += {"(": 1, ")": -1}.get(css[end], 0)
            end += 1
        inside = css[match.end():end]
        inside = _CSS_STRING.sub(lambda found: f"url({found.group(0)})", _without_url_strings(inside))
        out.append(css[position:match.end()] + inside)
        position = end
    return "".join(out) + css[position:]


def _without_url_strings(text: str) -> str:
    """``url("a.png")`` inside image-set as ``url(a.png)``: its string is already a URL, not a bare one."""
    return _CSS_URL.sub(lambda match: "url(" + next(g for g in match.groups() if g is not None) + ")", text)


def _css_urls(css: str, base_url: str) -> set[str]:
    found = set()
    for match in _CSS_URL.finditer(_image_set_urls(css)):
        target = _absolute(next(group for group in match.groups() if group is not None), base_url)
        if target is not None and not target[0].startswith("data:"):
            found.add(target[0])
    return found


def _rewrite_css(css: str, base_url: str, holdings: Mapping[str, str], urls: Urls) -> str:
    """``url(…)`` to the archived copy when we have it, else ``none`` (``url(#id)``, this document's own, kept);
    ``@import`` dropped (no external CSS); a string naming another host or scheme emptied."""
    def replace(match: re.Match) -> str:
        value = _url_text(next(group for group in match.groups() if group is not None))
        if value.startswith("#"):
            return f'url("{value}")' if '"' not in value else "none"
        target = _absolute(value, base_url)
        if target is None:
            return "none"
        if target[0].startswith("data:"):
            return match.group(0)
        stored = holdings.get(target[0])
        return f'url("{urls.latest(stored, raw=True)}")' if stored else "none"

    rewritten = _CSS_URL.sub(replace, _image_set_urls(_CSS_IMPORT.sub("", css)))
    return _CSS_STRING.sub(lambda found: '""' if _REMOTE_IN_STRING.match(found.group(0)) else found.group(0),
                           rewritten)


def _absolute(value: str, base_url: str) -> tuple[str, str] | None:
    """(absolute URL without its fragment, fragment) for http(s) links and data: images; None for anything else."""
    cleaned = _url_text(value)
    if not cleaned:
        return None
    if cleaned.lower().startswith("data:"):
        return (cleaned, "") if _SAFE_DATA_IMAGE.match(cleaned) else None
    try:
        absolute = urljoin(base_url, cleaned)
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None
    url, fragment = urldefrag(absolute)
    return url, fragment


def _local_name(tag) -> str:
    if not isinstance(tag, str):
        return ""
    tag = tag.rsplit("}", 1)[-1]
    return tag.rsplit(":", 1)[-1].lower()


def redirect_page(target: str, status: int, archived: Holdings, urls: Urls) -> str:
    """What an archived redirect shows: where it pointed, as a link into the archive."""
    resolved = _absolute(target, target)
    if resolved is None:
        body = f"<p>抓取时该网址返回 HTTP {status}，重定向目标无法显示。</p>"
        return _EMPTY_PAGE.replace("<body></body>", f"<body>{body}</body>")
    url, fragment = resolved
    href = urls.latest(archived({url}).get(url) or url, raw=True)
    element = lxml.html.fragment_fromstring("<p></p>")
    element.text = f"抓取时该网址返回 HTTP {status}，重定向到："
    link = lxml.etree.SubElement(element, "a", href=href + (f"#{fragment}" if fragment else ""))
    link.text = url
    body = lxml.html.tostring(element, encoding="unicode")
    return _EMPTY_PAGE.replace("<body></body>", f"<body>{body}</body>")
