"""A report's text as copy detection compares it: its masked character 5-grams, and their MinHash signature.

The 5-grams (``fingerprint``) decide the 疑似雷同 flag exactly (``monitor.flags.copied``); the signature
(``signature``) is what finds the reports worth that exact comparison among every report of a year without
comparing all pairs (``monitor.copies``). The catalog keeps each report's signature and 5-gram count, computed
once when the report is stored (``storage.catalog.queries.add_report``), so judging hashes only new texts.

Numbers are masked (a report reusing last year's text with new figures is still the same text) and the wording
the 2019/2021 formats prescribe is cut out first (every report shares it).
"""
from __future__ import annotations

import re
import unicodedata
import zlib

from parsers import tables as standard_tables
from parsers.consistency import TEMPLATE_SECTIONS

SHINGLE_SIZE = 5

# MinHash: 384 permutations of datasketch's "affine32" scheme (uint32 values), seed 1 (monitor.copies says why
# 384). Stored signatures are only comparable with signatures made the same way: changing any of these means
# computing every stored one again.
NUM_PERM = 384
SEED = 1
SCHEME = "affine32"
SIGNATURE_BYTES = NUM_PERM * 4

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NOT_TEXT = re.compile(r"[^\w#]|_")

# Wording the 2019/2021 formats prescribe (table headers, notes, fixed phrases): every report shares it.
_PRESCRIBED_PHRASES = (
    "政府信息公开工作年度报告", "中华人民共和国政府信息公开条例", "以下简称条例", "国务院令第711号",
    "第二十条第一项", "第二十条第五项", "第二十条第六项", "第二十条第八项", "第二十条第九项", "信息内容",
    "本年收费金额单位万元", "采购总金额单位万元", "申请人情况", "法人或其他组织", "本年度办理结果",
    "本年新收政府信息公开申请数量", "上年结转政府信息公开申请数量", "区分处理的只计这一情形不计其他情形",
    "本列数据的勾稽关系为第一项加第二项之和等于第三项加第四项之和", "结转下年度继续办理",
    "收到和处理政府信息公开申请情况", "政府信息公开行政复议行政诉讼情况", "主动公开政府信息情况",
    "行政复议", "行政诉讼", "未经复议直接起诉", "复议后起诉", "本年度报告中所列数据统计期限",
)


def _standard_labels() -> list[str]:
    labels: list[str] = list(_PRESCRIBED_PHRASES)
    for name in dir(standard_tables):
        value = getattr(standard_tables, name)
        if name.isupper() and isinstance(value, tuple) and all(isinstance(item, str) for item in value):
            labels.extend(value)
    labels.extend(standard_tables.TABLE2_ITEMS)
    labels.extend(heading for heading, _pattern in TEMPLATE_SECTIONS)
    return labels


def masked_text(text: str) -> str:
    """The text as compared: NFKC, numbers → #, no whitespace or punctuation."""
    folded = unicodedata.normalize("NFKC", text or "")
    return _NOT_TEXT.sub("", _NUMBER.sub("#", folded))


# Shorter labels (自然人, 总计, 其他) are ordinary words in running text: cutting them out would cut the prose.
_MIN_PHRASE = 4
_PRESCRIBED = re.compile("|".join(re.escape(phrase) for phrase in sorted(
    {masked_text(label.replace("/", "")) for label in _standard_labels()} - {""}, key=len, reverse=True)
    if len(phrase) >= _MIN_PHRASE))


def fingerprint(text: str) -> frozenset[int]:
    """The text's 5-grams (CRC-32 of each), numbers masked; the prescribed wording is cut out first, so no
    5-gram spans it (table labels follow each other in the same order in every report)."""
    grams: set[int] = set()
    for segment in _PRESCRIBED.split(masked_text(text)):
        grams.update(zlib.crc32(segment[i:i + SHINGLE_SIZE].encode("utf-8"))
                     for i in range(len(segment) - SHINGLE_SIZE + 1))
    return frozenset(grams)


def _same(value: int) -> int:
    return value  # the 5-grams are hashed already (CRC-32 fits the 32-bit scheme)


_EMPTY = []  # the empty MinHash, made once: drawing the permutations costs more than hashing a report


def signature(grams: frozenset[int]) -> bytes | None:
    """The MinHash of a 5-gram set: NUM_PERM little-endian uint32 values (None for an empty set)."""
    if not grams:
        return None
    if not _EMPTY:
        # imported here: datasketch's package import pulls in its LSH modules and scipy (seconds), for one class
        from datasketch.minhash import MinHash

        _EMPTY.append(MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=_same, scheme=SCHEME))
    minhash = _EMPTY[0].copy()
    minhash.update_batch(sorted(grams))
    return minhash.hashvalues.astype("<u4").tobytes()


def text_signature(text: str) -> tuple[int, bytes | None]:
    """What the catalog keeps of a report's text for copy detection: its 5-gram count and MinHash."""
    grams = fingerprint(text)
    return len(grams), signature(grams)
