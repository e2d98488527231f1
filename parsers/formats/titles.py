"""The title of a report from the first lines of its text (PDF, DOCX, DOC, plain text).

Reports open with the title, often split over two lines with the agency on its own line:
"临淄区卫生健康局" / "2022年政府信息公开工作年度报告". Only the opening lines are looked at, so a sentence
in the body that mentions a 年度报告 is not taken for the title.
"""
from __future__ import annotations

import re

from parsers.formats.textnorm import compact_title

_TITLE_WORDS = re.compile(r"年度报告|年报|工作总结|工作报告|年度工作情况")
_TITLE_START = re.compile(r"(?:政府)?信息公开|政务公开|20\d\d\s*年|19\d\d\s*年|[二〇○一]{4}年")
_AGENCY_END = re.compile(r"(?:人民政府|政府|办公室|办公厅|委员会|办事处|街道|局|委|办|厅|院|署|中心|镇|乡|部|会|所|站|队|馆|处)$")
_SENTENCE_PUNCTUATION = re.compile(r"[。，；,;！？!?]")
_LABEL_COLON = re.compile(r"[：:]")
_OPENING_LINES = 8
_MAX_TITLE_CHARS = 80
_MAX_AGENCY_CHARS = 30


def guess_title(text: str) -> str | None:
    """The report title from the opening lines of ``text``, or None when none looks like one."""
    lines = [compact_title(line) for line in text.splitlines()]
    lines = [line for line in lines if line][: _OPENING_LINES + 2]
    for index, line in enumerate(lines[:_OPENING_LINES]):
        title = _title_at(lines, index)
        if title:
            return title
    return None


def _title_at(lines: list[str], index: int) -> str | None:
    line = lines[index]
    if len(line) > _MAX_TITLE_CHARS:
        return None
    if not _TITLE_WORDS.search(line):
        # "…2022年政府信息公开工作" / "年度报告": a title broken before its last words
        following = lines[index + 1] if index + 1 < len(lines) else ""
        joined = line + following
        if not (_TITLE_START.search(line) and _TITLE_WORDS.search(following) and len(joined) <= _MAX_TITLE_CHARS):
            return None
        line = joined
    if _SENTENCE_PUNCTUATION.search(line):
        return None
    previous = lines[index - 1] if index > 0 else ""
    if previous and _is_agency_line(previous):
        return previous + line
    return line


def _is_agency_line(line: str) -> bool:
    return (len(line) <= _MAX_AGENCY_CHARS and not _TITLE_WORDS.search(line)
            and not _SENTENCE_PUNCTUATION.search(line) and not _LABEL_COLON.search(line)
            and bool(_AGENCY_END.search(line)))
