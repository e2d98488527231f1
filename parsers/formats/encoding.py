"""Bytes to text for HTML and plain-text documents.

Order: a byte-order mark wins; then each declared charset (HTTP header, ``<meta>``), but only if the bytes
really decode with it; then detection. Chinese portals mislabel GBK pages as UTF-8 (and the reverse) often
enough that a declaration is a hint, never a fact.
"""
from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass, field

from parsers.formats.textnorm import CJK_CHAR

logger = logging.getLogger(__name__)

_BOMS = (  # UTF-32 first: its little-endian mark starts with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# GB2312 and GBK are subsets of GB18030: decoding with the superset never loses a character.
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "euc_cn", "euccn", "x-gbk", "windows-936", "hz", "iso2022_cn"}
_SINGLE_BYTE_PREFIXES = ("ascii", "latin", "iso8859", "cp12", "windows-12", "cp437", "cp85", "koi8", "mac")
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]{0,100}?encoding\s*=\s*[\"']([\w.:+-]+)", re.IGNORECASE)
_DETECTION_SAMPLE = 256 * 1024
_TRUNCATION_SLACK = 3  # a fetch cut inside the last multi-byte character is still a clean decode


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    warnings: list[str] = field(default_factory=list)


def canonical_encoding(name: str | None) -> str | None:
    """Python's name for a declared charset (GB family -> gb18030), or None if unknown."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'"))
    except LookupError:
        return None
    python_name = codec.name.lower()
    if python_name in _GB_FAMILY or name.strip().lower() in _GB_FAMILY:
        return "gb18030"
    if python_name in {"utf-8-sig", "utf8"}:
        return "utf-8"
    return python_name


def charset_from_content_type(value: str | None) -> str | None:
    if not value:
        return None
    match = _CHARSET_PARAM.search(value)
    return match.group(1) if match else None


def charset_from_markup(data: bytes) -> str | None:
    """The charset a page declares for itself: ``<meta charset>``, ``<meta http-equiv>`` or ``<?xml encoding?>``."""
    head = data[:8192]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def decode_bytes(data: bytes, declared: list[tuple[str, str | None]] | None = None) -> DecodedText:
    """Decode ``data``; ``declared`` lists (where, charset) in order of authority, e.g. [("HTTP", "utf-8")]."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            return _decode(data[len(mark):], encoding, [])

    warnings: list[str] = []
    rejected: list[tuple[str, str]] = []
    for where, raw_name in declared or []:
        if not raw_name:
            continue
        encoding = canonical_encoding(raw_name)
        if encoding is None:
            warnings.append(f"{where} 声明了未知的编码 {raw_name}，已忽略")
            continue
        if _decodes_cleanly(data, encoding) and not _contradicted(data, encoding):
            return _decode(data, encoding, warnings + _mismatches(rejected, encoding))
        rejected.append((raw_name, encoding))

    encoding = detect_encoding(data)
    return _decode(data, encoding, warnings + _mismatches(rejected, encoding))


def detect_encoding(data: bytes) -> str:
    """Best guess for undeclared bytes, biased to what Chinese portals use: UTF-8, then GB18030."""
    if data.isascii() or _decodes_cleanly(data, "utf-8"):
        return "utf-8"
    if _decodes_cleanly(data, "gb18030") and _mostly_chinese(_sample(data, "gb18030")):
        return "gb18030"
    guess = _charset_normalizer_guess(data[:_DETECTION_SAMPLE])
    if guess:
        return guess
    # Neither decodes cleanly: a GBK page with a few broken bytes is the likeliest case on these portals.
    utf8_errors = data.decode("utf-8", "replace").count("\ufffd")
    gb_errors = data.decode("gb18030", "replace").count("\ufffd")
    return "utf-8" if utf8_errors <= gb_errors else "gb18030"


def _mismatches(rejected: list[tuple[str, str]], used: str) -> list[str]:
    return [f"声明的编码 {raw_name} 与内容不符，按 {used} 解码" for raw_name, encoding in rejected if encoding != used]


def _decode(data: bytes, encoding: str, warnings: list[str]) -> DecodedText:
    text = data.decode(encoding, "replace")
    replaced = text.count("\ufffd")
    if replaced:
        warnings = warnings + [f"{replaced} 处字节无法按 {encoding} 解码，已替换为 �"]
    return DecodedText(text=text, encoding=encoding, warnings=warnings)


def _decodes_cleanly(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - _TRUNCATION_SLACK and _decodes_prefix(data[: exc.start], encoding)
    except LookupError:
        return False
    return True


def _decodes_prefix(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _contradicted(data: bytes, encoding: str) -> bool:
    """A declaration that decodes without error can still be wrong: single-byte charsets accept anything."""
    if encoding == "utf-8" or data.isascii():
        return False
    if _decodes_cleanly(data, "utf-8"):
        return True  # non-ASCII bytes that happen to be valid UTF-8 are UTF-8, whatever was declared
    if encoding.startswith(_SINGLE_BYTE_PREFIXES):
        return _decodes_cleanly(data, "gb18030") and _mostly_chinese(_sample(data, "gb18030"))
    return False


def _sample(data: bytes, encoding: str) -> str:
    return data[:_DETECTION_SAMPLE].decode(encoding, "replace")


def _mostly_chinese(text: str) -> bool:
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return False
    chinese = sum(1 for ch in non_ascii if CJK_CHAR.match(ch))
    return chinese / len(non_ascii) >= 0.9


def _charset_normalizer_guess(sample: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
    except Exception:  # a detector failure must not stop decoding: the caller falls back
        logger.warning("charset detection failed", exc_info=True)
        return None
    if best is None:
        return None
    return canonical_encoding(best.encoding)
