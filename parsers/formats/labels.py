"""Dates printed with a label near a document's title ("发布时间：2023-01-30 10:20", "发布日期 2015-03-13 16:03",
"发文日期: | 2015-03-18 10:27:17 |"): the same reading for an HTML page's lines and a plain-text document's lines."""
from __future__ import annotations

import re

_DIGIT = "[0-9０-９]"
_DATE = (rf"[12１２]{_DIGIT}{{3}}\s*[-/.年－／．]\s*{_DIGIT}{{1,2}}\s*[-/.月－／．]\s*{_DIGIT}{{1,2}}\s*日?"
         rf"(?:\s*{_DIGIT}{{1,2}}[:：]{_DIGIT}{{2}}(?:[:：]{_DIGIT}{{2}})?)?")
# a label that may follow the text before it with nothing between ("来源：硚口区统计局发布时间：…", two spans)
_KNOWN_LABEL = ("(?:信息|首次)?发布(?:日期|时间)|公开(?:日期|时间)|发文日期|成文日期|生成日期|上网(?:日期|时间)|"
                "添加(?:日期|时间)|更新(?:日期|时间)")
# label, then a colon, a table-cell border or (in flattened rows) just a space before the date
_LABELLED_DATE = re.compile(rf"((?<![\u4e00-\u9fff])[\u4e00-\u9fff]{{0,4}}?(?:时间|日期)|{_KNOWN_LABEL})"
                            rf"(?:\s*[：:][\s|｜]*|\s*[|｜][\s|｜]*|\s+)({_DATE})")
_WINDOW_BEFORE = 3
_WINDOW_AFTER = 8
_MAX_UNANCHORED = 5
_MAX_UNANCHORED_LINE = 120
_WHITESPACE = re.compile(r"\s+")


def dates_near_title(lines: list[str], title: str | None) -> list[tuple[str, str]]:
    """(label, raw date) pairs in the lines around the title line; without a title line, the first few pairs of
    the short lines (a long line is body text, whose dates are not labels)."""
    anchor = _title_line(lines, title)
    if anchor is None:
        window = [line for line in lines if len(line) <= _MAX_UNANCHORED_LINE]
        limit = _MAX_UNANCHORED
    else:
        window = lines[max(0, anchor - _WINDOW_BEFORE): anchor + _WINDOW_AFTER + 1]
        limit = None
    found: list[tuple[str, str]] = []
    for line in window:
        for match in _LABELLED_DATE.finditer(line):
            pair = (match.group(1), match.group(2).strip())
            if pair not in found:
                found.append(pair)
    return found[:limit] if limit else found


def _title_line(lines: list[str], title: str | None) -> int | None:
    if not title:
        return None
    wanted = _WHITESPACE.sub("", title)[:20]
    if len(wanted) < 4:
        return None
    return next((index for index, line in enumerate(lines) if wanted in _WHITESPACE.sub("", line)), None)
