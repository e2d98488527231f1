"""Archived bytes as the browser may see them.

HTML is rebuilt on the server with lxml: scripts, event handlers, ``javascript:`` and other active URLs, meta
refresh (any ``http-equiv``), ``<base>``, ``<object>``/``<embed>``/``<applet>``, frames and external style sheets
are dropped, and links are rewritten to the archive (``/captures/latest?url=…&view=raw``) when it holds the target,
else to the absolute original address. That is defence in depth: the response also carries a CSP ``sandbox`` with
``default-src 'none'`` (see ``RAW_HEADERS``), so nothing in it can run even if something slipped through, and the
UI shows it only inside ``<iframe sandbox>``. PDFs are served inline, office files and anything unknown as
attachments, always with the type taken from the bytes, never from what the server claimed.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html

from parsers.formats.encoding import charset_from_content_type, charset_from_markup, decode_bytes
from parsers.formats.sniff import sniff_format
from parsers.record import FetchContext

RAW_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
RAW_HEADERS = {
    "Content-Security-Policy": RAW_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}

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
# attributes holding a URL the browser may follow or fetch
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "background", "poster", "cite", "longdesc",
                             "lowsrc", "dynsrc", "usemap", "codebase", "data", "xlink:href", "ping", "manifest",
                             "icon", "profile", "classid", "archive"})
# attributes dropped outright: they carry several URLs or open windows
_DROP_ATTRIBUTES = frozenset({"srcset", "imagesrcset", "target", "srcdoc", "http-equiv", "integrity", "nonce"})
_FETCHED = frozenset({"src", "background", "poster", "lowsrc", "dynsrc"})  # loaded, not followed
_SAFE_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif|webp);", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)]*?))\s*\)", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
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


def raw_body(capture_id: int, url: str, status: int | None, headers: list[tuple[str, str]], payload: bytes,
             archived: Callable[[Iterable[str]], set[str]], *, download: bool = False) -> RawBody:
    """How to serve a capture's payload. ``archived(urls)`` says which of the urls the archive holds."""
    content_type = _header(headers, "content-type")
    location = _header(headers, "location")
    kind = archived_kind(payload, url, content_type)
    extension = EXTENSIONS.get(kind, "bin")
    filename = safe_filename(url, capture_id, extension)
    if download:
        return RawBody(payload, "application/octet-stream", "attachment", filename, kind)
    if status is not None and 300 <= status < 400 and location and kind in ("empty", "html", "text"):
        page = redirect_page(urljoin(url, location.strip()), status, archived)
        return RawBody(page.encode("utf-8"), "text/html; charset=utf-8", "inline", filename, "redirect")
    if kind == "html":
        text = _decode(payload, content_type)
        page = rewrite_html(text, url, archived)
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


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _decode(payload: bytes, content_type: str | None) -> str:
    declared = [("HTTP", charset_from_content_type(content_type)), ("meta", charset_from_markup(payload))]
    return decode_bytes(payload, declared).text


# ---------------------------------------------------------------- HTML

def archive_link(url: str) -> str:
    """Where a link to ``url`` leads inside the archive: its newest capture, shown as raw (in the same frame)."""
    return "/captures/latest?" + "url=" + quote(url, safe="") + "&view=raw"


def rewrite_html(text: str, page_url: str, archived: Callable[[Iterable[str]], set[str]]) -> str:
    """The page without anything active, its links pointing into the archive where it can."""
    root = _parse(text)
    if root is None:
        return _EMPTY_PAGE
    base_url = _base_url(root, page_url)
    _remove_active(root)
    links = []  # (element, attribute, absolute url without fragment, fragment)
    for element in root.iter(lxml.etree.Element):
        for name in list(element.attrib):
            if name.lower() not in _URL_ATTRIBUTES:
                continue
            if _url_text(element.attrib[name]).lower().startswith(_INERT_SCHEMES) and name.lower() == "href":
                continue  # mail and phone links open nothing inside the sandbox
            target = _absolute(element.attrib[name], base_url)
            if target is None:
                del element.attrib[name]
            elif target[0].startswith("data:"):
                if not (element.tag == "img" and name.lower() == "src"):
                    del element.attrib[name]  # only images may be inline data (the CSP allows img-src data:)
            else:
                links.append((element, name, *target))
    styles = [element for element in root.iter(lxml.etree.Element)
              if element.get("style") or (_local_name(element.tag) == "style" and element.text)]
    css_targets = {target for element in styles for target in _css_urls(_style_text(element), base_url)}
    holdings = archived({target for _element, _name, target, _fragment in links} | css_targets)
    for element in styles:
        _set_style_text(element, _rewrite_css(_style_text(element), base_url, holdings))
    for element, name, target, fragment in links:
        if target in holdings:
            element.attrib[name] = archive_link(target) + (f"#{fragment}" if fragment else "")
        elif name.lower() in _FETCHED:
            del element.attrib[name]  # not archived: the sandbox would block the live fetch anyway
            element.attrib["data-original-src"] = target
        else:
            element.attrib[name] = target + (f"#{fragment}" if fragment else "")
    head = root.find("head")
    if head is None:
        head = lxml.etree.Element("head")
        root.insert(0, head)
    head.insert(0, lxml.etree.Element("meta", charset="utf-8"))
    return "<!DOCTYPE html>\n" + lxml.html.tostring(root, encoding="unicode", method="html")


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
    for element in list(root.iter(lxml.etree.Element)):
        tag = _local_name(element.tag)
        if element is root or element.getparent() is None:
            continue
        if tag in _DROP:
            element.drop_tree()
        elif tag in _UNWRAP or (tag == "meta" and (element.get("http-equiv") is not None
                                                   or element.get("charset") is not None)):
            element.drop_tag()
    for element in root.iter(lxml.etree.Element):
        if _local_name(element.tag) == "style" and _ACTIVE_TEXT.search(element.text or ""):
            element.text = ""
        for name in list(element.attrib):
            lowered = _local_name(name)
            value = _url_text(element.attrib[name]).lower()
            if (lowered.startswith("on") or lowered in _DROP_ATTRIBUTES or name.lower() in _DROP_ATTRIBUTES
                    or value.startswith(("javascript:", "vbscript:"))
                    or (lowered == "style" and _ACTIVE_TEXT.search(value))):
                del element.attrib[name]
        if _local_name(element.tag) == "form":
            element.attrib.pop("action", None)
            element.attrib.pop("method", None)


def _url_text(value: str) -> str:
    """A URL as browsers read it: leading/trailing controls and spaces dropped, tabs and newlines removed."""
    return _URL_WHITESPACE.sub("", (value or "").strip(_C0_AND_SPACE))


def _style_text(element) -> str:
    if _local_name(element.tag) == "style":
        return element.text or ""
    return element.get("style") or ""


def _set_style_text(element, text: str) -> None:
    if _local_name(element.tag) == "style":
        element.text = text
    else:
        element.set("style", text)


def _css_urls(css: str, base_url: str) -> set[str]:
    found = set()
    for match in _CSS_URL.finditer(css):
        target = _absolute(next(group for group in match.groups() if group is not None), base_url)
        if target is not None and not target[0].startswith("data:"):
            found.add(target[0])
    return found


def _rewrite_css(css: str, base_url: str, holdings: set[str]) -> str:
    """``url(…)`` to the archived copy when we have it, else ``none``; ``@import`` dropped (no external CSS)."""
    def replace(match: re.Match) -> str:
        target = _absolute(next(group for group in match.groups() if group is not None), base_url)
        if target is None:
            return "none"
        if target[0].startswith("data:"):
            return match.group(0)
        return f'url("{archive_link(target[0])}")' if target[0] in holdings else "none"

    return _CSS_URL.sub(replace, _CSS_IMPORT.sub("", css))


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


def redirect_page(target: str, status: int, archived: Callable[[Iterable[str]], set[str]]) -> str:
    """What an archived redirect shows: where it pointed, as a link into the archive when we have that page."""
    resolved = _absolute(target, target)
    if resolved is None:
        body = f"<p>抓取时该网址返回 HTTP {status}，重定向目标无法显示。</p>"
        return _EMPTY_PAGE.replace("<body></body>", f"<body>{body}</body>")
    url, fragment = resolved
    href = archive_link(url) if url in archived({url}) else url
    element = lxml.html.fragment_fromstring("<p></p>")
    element.text = f"抓取时该网址返回 HTTP {status}，重定向到："
    link = lxml.etree.SubElement(element, "a", href=href + (f"#{fragment}" if fragment else ""))
    link.text = url
    body = lxml.html.tostring(element, encoding="unicode")
    return _EMPTY_PAGE.replace("<body></body>", f"<body>{body}</body>")
