"""Whitespace rules shared by the readers: table cells, catalog values and titles."""
from __future__ import annotations

import re
import unicodedata
from functools import wraps

# Ideographs, CJK punctuation and full-width forms: between two of these a space is layout, not content.
_CJK = "\u2e80-\u2fff\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")
_SPACE_BESIDE_CJK = re.compile(rf"(?<=[{_CJK}]) | (?=[{_CJK}])")
_WHITESPACE = re.compile(r"[\s\u3000\xa0\u200b\ufeff]+")
CJK_CHAR = re.compile(f"[{_CJK}]")
# full-width ASCII forms, small forms (﹝﹞) and the ideographic space: what NFKC changes in Chinese text
_WIDE_FORMS = re.compile("[\u3000\ufe50-\ufe6b\uff01-\uff5e]+")


def collapse_whitespace(text: str) -> str:
    """Every run of whitespace (full-width space and NBSP included) becomes one space; ends trimmed."""
    return _WHITESPACE.sub(" ", text).strip()


def cell_text(text: str) -> str:
    """A table cell as one line: wrapped labels such as "商业\\n企业" or "（三）不 予公开" are joined."""
    return _SPACE_BETWEEN_CJK.sub("", collapse_whitespace(text))


def compact_title(text: str) -> str:
    """A title without the spaces PDF layout puts around Chinese text ("2024 年政府" -> "2024年政府")."""
    return _SPACE_BESIDE_CJK.sub("", collapse_whitespace(text))


def join_pieces(pieces: list[str]) -> str:
    """Join text pieces split by markup: no space between Chinese pieces, one space otherwise."""
    return cell_text(" ".join(piece for piece in pieces if piece and piece.strip()))


def fold_width(text: str) -> str:
    """``text`` with its full-width punctuation, digits and letters as ASCII ("，（２０２１）" → ",(2021)"): NFKC
    where Chinese text needs it, at a fraction of its cost on long text."""
    return _WIDE_FORMS.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)


def same_text_once(function):
    """Remember ``function``'s answer for the one text object it was last given: classify asks several questions of
    one document's text (its title, its opening), each needing the same reading, and a new text reads afresh."""
    last: list = [None, None]

    @wraps(function)
    def remembered(text):
        seen, answer = last
        if seen is not None and seen is text:
            return answer
        answer = function(text)
        last[:] = [text, answer]
        return answer

    return remembered
