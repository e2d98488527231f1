"""The spellings one URL may have in the archive: a page links ``年报.pdf`` while the crawler recorded
``%E5%B9%B4%E6%8A%A5.pdf`` (Scrapy and browsers percent-encode what a page writes raw), or links
``it%27s.pdf`` while the archive has ``it's.pdf``. The catalog finds captures by exact URL, so a link is looked up
under each of its spellings (as pywb canonicalises before a lookup).

A spelling never changes what the URL means: escapes of the characters that give a URL its structure
(``% / ? # & = +``) are kept as they are, every other escape may be decoded and every other character encoded.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# escaped or literal, these keep their form: decoding %2F or %26 would make another URL
_STRUCTURAL = frozenset("%/?#&=+")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# what browsers (WHATWG URL standard) and Scrapy percent-encode in a path; the query adds the apostrophe
_BROWSER_ENCODES = frozenset(" \"<>`{}")
_HEX = frozenset("0123456789abcdefABCDEF")


def spellings(url: str) -> list[str]:
    """``url`` first, then the other ways it may be written (decoded, as browsers encode it, fully encoded),
    each once. A URL that cannot be split is its only spelling."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    if parts.scheme.lower() not in ("http", "https"):
        return [url]
    scheme, netloc = parts.scheme.lower(), _host(parts.netloc)
    path, query = _tokens(parts.path or "/"), _tokens(parts.query)
    found = [url]
    for path_form, query_form in (("decoded", "decoded"), ("browser", "browser-query"), ("browser", "browser"),
                                  ("browser-query", "browser-query"), ("strict", "strict")):
        spelled = urlunsplit((scheme, netloc, _render(path, path_form), _render(query, query_form), ""))
        if spelled not in found:
            found.append(spelled)
    return found


def _host(netloc: str) -> str:
    """Host names are case-insensitive; user info (before '@') is not touched."""
    user, at, host = netloc.rpartition("@")
    return user + at + host.lower()


def _tokens(component: str) -> list[tuple[str, int | str]]:
    """The component as ('esc', byte) for a kept escape, ('lit', char) for a structural character and
    ('byte', value) for every byte of everything else (text as UTF-8, other escapes decoded)."""
    tokens: list[tuple[str, int | str]] = []
    index = 0
    while index < len(component):
        char = component[index]
        digits = component[index + 1:index + 3]
        if char == "%" and len(digits) == 2 and _HEX.issuperset(digits):
            value = int(digits, 16)
            tokens.append(("esc", value) if chr(value) in _STRUCTURAL else ("byte", value))
            index += 3
            continue
        if char in _STRUCTURAL:
            tokens.append(("lit", char))  # a stray '%' (no two hex digits) stays as browsers send it
        else:
            tokens.extend(("byte", value) for value in char.encode("utf-8", "surrogatepass"))
        index += 1
    return tokens


def _render(tokens: list[tuple[str, int | str]], form: str) -> str:
    out: list[str] = []
    run = bytearray()

    def flush() -> None:
        if run:
            out.append(_decoded(bytes(run)) if form == "decoded" else "".join(_byte(value, form) for value in run))
            run.clear()

    for kind, value in tokens:
        if kind == "byte":
            run.append(value)
            continue
        flush()
        out.append(f"%{value:02X}" if kind == "esc" else value)
    flush()
    return "".join(out)


def _byte(value: int, form: str) -> str:
    char = chr(value)
    if value >= 0x80 or value < 0x21 or value == 0x7F:
        return f"%{value:02X}"
    if form == "strict":
        return char if char in _UNRESERVED else f"%{value:02X}"
    if char in _BROWSER_ENCODES or (form == "browser-query" and char == "'"):
        return f"%{value:02X}"
    return char


def _decoded(data: bytes) -> str:
    """Bytes as text where they are UTF-8; other bytes and control characters stay escaped."""
    text = data.decode("utf-8", "surrogateescape")
    return "".join(f"%{ord(char) - 0xDC00:02X}" if 0xDC80 <= ord(char) <= 0xDCFF
                   else f"%{ord(char):02X}" if ord(char) < 0x20 or ord(char) == 0x7F else char for char in text)
