"""Text diff of two captures of the same URL: the stored report text, else the text parsers.formats extracts."""
from __future__ import annotations

import difflib
import os
from typing import Any

from parsers.formats import DocumentError, extract
from parsers.record import FetchContext
from storage.catalog import queries
from storage.reader import CaptureError
from web.context import BadInput, NotFound, WebContext, catalog_id
from web.summaries import capture_summary

CONTEXT_LINES = 3
MAX_LINES = 20_000
# the changed middle of an edited line (what lies between the text both versions begin and end with) is compared
# character by character up to this length, else marked changed whole: the comparison grows faster than the
# square of the length (a 10,000-character paragraph took 16 s and held a worker)
INLINE_DIFF_CHARS = 2_000


def diff_data(ctx: WebContext, a: int, b: int) -> dict[str, Any]:
    catalog_id(a, "捕获")
    catalog_id(b, "捕获")
    with ctx.catalog.reading() as session:
        rows = {capture_id: queries.get_capture(session, capture_id) for capture_id in (a, b)}
        for capture_id, row in rows.items():
            if row is None:
                raise NotFound(f"没有编号为 {capture_id} 的捕获")
        if rows[a].url != rows[b].url:
            raise BadInput(f"只能比较同一网址的两次捕获：{a} 是 {rows[a].url}，{b} 是 {rows[b].url}")
        reports = {capture_id: queries.report_by_capture(session, capture_id) for capture_id in (a, b)}
    old_text, old_source = _text(ctx, a, reports[a])
    new_text, new_source = _text(ctx, b, reports[b])
    old_lines, new_lines = _lines(old_text), _lines(new_text)
    blocks, added, removed = diff_blocks(old_lines, new_lines)
    return {
        "url": rows[a].url,
        "a": {**capture_summary(rows[a]), "text_source": old_source},
        "b": {**capture_summary(rows[b]), "text_source": new_source},
        "same_payload": rows[a].payload_sha1 == rows[b].payload_sha1,
        "identical_text": old_lines == new_lines,
        "added": added, "removed": removed, "blocks": blocks,
    }


def _text(ctx: WebContext, capture_id: int, report) -> tuple[str, str]:
    """(text, where it came from); an unreadable capture gives an explanation instead of failing the page."""
    if report is not None and queries.report_text(report):
        return queries.report_text(report), "解析后的报告正文"
    try:
        archived = ctx.reader.read(capture_id)
    except CaptureError as exc:
        return f"（无法读取存档：{exc}）", "读取失败"
    context = FetchContext(url=archived.url, content_type=archived.header("content-type"),
                           headers=dict(archived.headers))
    try:
        return extract(archived.content, context).text, "从存档字节提取的正文"
    except DocumentError as exc:
        return f"（无法提取正文：{exc}）", "提取失败"


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()][:MAX_LINES]


def diff_blocks(old: list[str], new: list[str]) -> tuple[list[dict[str, Any]], int, int]:
    """Blocks of lines ({kind: equal|delete|insert|skip, lines: [{old, new, text}]}), unchanged runs cut down to
    CONTEXT_LINES around each change; with the counts of added and removed lines."""
    blocks: list[dict[str, Any]] = []
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    opcodes = matcher.get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            keep_head = CONTEXT_LINES if index > 0 else 0
            keep_tail = CONTEXT_LINES if index < len(opcodes) - 1 else 0
            if i2 - i1 > keep_head + keep_tail:
                if keep_head:
                    blocks.append(_block("equal", old, i1, i1 + keep_head, j1))
                blocks.append({"kind": "skip", "count": i2 - i1 - keep_head - keep_tail, "lines": []})
                if keep_tail:
                    blocks.append(_block("equal", old, i2 - keep_tail, i2, j2 - keep_tail))
            else:
                blocks.append(_block("equal", old, i1, i2, j1))
            continue
        paired = tag == "replace" and i2 - i1 == j2 - j1  # line for line: mark what changed inside each
        if i2 > i1:
            blocks.append({"kind": "delete", "lines": [
                {"old": i + 1, "new": None, "text": old[i],
                 "parts": changed_parts(old[i], new[j1 + i - i1])[0] if paired else [_unchanged(old[i])]}
                for i in range(i1, i2)]})
            removed += i2 - i1
        if j2 > j1:
            blocks.append({"kind": "insert", "lines": [
                {"old": None, "new": j + 1, "text": new[j],
                 "parts": changed_parts(old[i1 + j - j1], new[j])[1] if paired else [_unchanged(new[j])]}
                for j in range(j1, j2)]})
            added += j2 - j1
    return blocks, added, removed


def changed_parts(before: str, after: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both lines cut into parts ({text, changed}): a number edited inside a long paragraph stands out."""
    head = len(os.path.commonprefix([before, after]))
    tail = len(os.path.commonprefix([before[head:][::-1], after[head:][::-1]]))
    old_middle, new_middle = before[head:len(before) - tail], after[head:len(after) - tail]
    if max(len(old_middle), len(new_middle)) <= INLINE_DIFF_CHARS:
        opcodes = difflib.SequenceMatcher(None, old_middle, new_middle, autojunk=False).get_opcodes()
    else:
        opcodes = [("replace", 0, len(old_middle), 0, len(new_middle))]
    old_parts = [{"text": before[:head], "changed": False}] if head else []
    new_parts = list(old_parts)
    for tag, i1, i2, j1, j2 in opcodes:
        if i2 > i1:
            old_parts.append({"text": old_middle[i1:i2], "changed": tag != "equal"})
        if j2 > j1:
            new_parts.append({"text": new_middle[j1:j2], "changed": tag != "equal"})
    if tail:
        old_parts.append({"text": before[len(before) - tail:], "changed": False})
        new_parts.append({"text": after[len(after) - tail:], "changed": False})
    return old_parts, new_parts


def _unchanged(line: str) -> dict[str, Any]:
    return {"text": line, "changed": False}


def _block(kind: str, old: list[str], start: int, end: int, new_start: int) -> dict[str, Any]:
    return {"kind": kind, "lines": [{"old": i + 1, "new": new_start + (i - start) + 1, "text": old[i],
                                     "parts": [_unchanged(old[i])]} for i in range(start, end)]}
