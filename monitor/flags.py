"""Verdict flags: what the archive shows about a report beyond its timeliness. Pure decisions, no I/O.

``monitor.verdicts`` reads the catalog and the archive and hands the facts to these functions; each returns the
flag's evidence (a JSON-ready dict) when the flag applies, else None.

- ``backdated``: a capture of the agency's report listing, taken after the date the report claims and before the
  archive first saw the report, does not list it (by URL or by title): the claimed date is false.
- ``changed``: a later capture of the report URL has another payload; what changed, down to table cells and lines
  (a payload that differs only in page chrome, same tables and same text lines, is not a change).
- ``removed``: the report URL fails now: its newest fetch after the last success is a 4xx/5xx, a fetch error, or
  the site's error page answered with 200 (parsed as kind ``error_page``). Not while a report of the same year is
  online at another address (``online_since``): then the report moved or was replaced (``moved``), not deleted,
  whether the old address said the page is gone or only failed (a 5xx, a timeout: then the copy must be answering).
- ``copied``: the report's text is at least half the same as the agency's previous-year report or another
  agency's report of the same year (character 5-gram containment, numbers masked, prescribed wording left out).
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urldefrag

from parsers.beijing import beijing_date, beijing_iso
from parsers.discovery import ListingItem, looks_like_report_title

BACKDATED, CHANGED, REMOVED, COPIED = "backdated", "changed", "removed", "copied"
FLAGS = (BACKDATED, CHANGED, REMOVED, COPIED)
FLAG_LABELS = {BACKDATED: "倒签", CHANGED: "发布后修改", REMOVED: "已删除", COPIED: "疑似雷同"}
# ``moved``'s relation: no flag, what the archive shows instead of 已删除
MOVED_LABELS = {"moved": "已迁移", "replaced": "已替换"}
TABLE_LABELS = {"table2": "表二", "table3": "表三", "table4": "表四", "old_stats": "统计表"}

# Pages of one listing fetched within this span of each other in one crawl run are one look at the column.
SAME_LOOK = timedelta(hours=24)


# ================================================================ backdated

@dataclass(frozen=True)
class ListingSnapshot:
    """One archived capture of a listing page and the entries parsed from it."""

    capture_id: int
    url: str
    captured_at: datetime
    run_id: str
    items: tuple[ListingItem, ...]
    found_by: str                      # "role" (the crawler said it fetched a listing) | "parsing"


def report_like_items(items: Iterable[ListingItem]) -> list[ListingItem]:
    return [item for item in items if looks_like_report_title(item.title)]


def is_report_listing(items: Iterable[ListingItem]) -> bool:
    """A page of a report column lists at least one report-like entry."""
    return bool(report_like_items(items))


def normalize_url(url: str) -> str:
    """Scheme and fragment do not make another document."""
    bare, _fragment = urldefrag(url.strip())
    return re.sub(r"^https?://", "", bare, flags=re.IGNORECASE)


_TITLE_NOISE = re.compile(r"[\s\W_]+")
_ELLIPSIS = re.compile(r"(\.{2,}|…+|⋯+)$")
_MIN_TITLE_PREFIX = 8  # a truncated listing title must keep this many characters to identify a report


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title or "").strip()
    return _TITLE_NOISE.sub("", _ELLIPSIS.sub("", text))


def lists_report(items: Iterable[ListingItem], urls: Iterable[str], titles: Iterable[str]) -> bool:
    """Does the listing link the report: one of its URLs, or its title (listings truncate titles with …)?"""
    wanted_urls = {normalize_url(url) for url in urls if url}
    wanted_titles = [normalized for normalized in map(normalize_title, titles) if normalized]
    return any(normalize_url(item.url) in wanted_urls or _shows_title(item, wanted_titles) for item in items)


def listed_elsewhere(items: Iterable[ListingItem], urls: Iterable[str], titles: Iterable[str]) -> ListingItem | None:
    """The listing's entry of the report by its title at an address that is none of the report's own: the listing
    still links the report, moved there."""
    wanted_urls = {normalize_url(url) for url in urls if url}
    wanted_titles = [normalized for normalized in map(normalize_title, titles) if normalized]
    return next((item for item in items
                 if normalize_url(item.url) not in wanted_urls and _shows_title(item, wanted_titles)), None)


def _shows_title(item: ListingItem, wanted_titles: list[str]) -> bool:
    shown = normalize_title(item.title)
    if not shown:
        return False
    for title in wanted_titles:
        if shown == title:
            return True
        shorter, longer = sorted((shown, title), key=len)
        if len(shorter) >= _MIN_TITLE_PREFIX and longer.startswith(shorter):
            return True
    return False


def backdated(*, claimed: date | None, deadline: date | None, first_seen: datetime | None,
              report_urls: Sequence[str], report_titles: Sequence[str],
              listings: Sequence[ListingSnapshot], failed_runs: Collection[str] = ()) -> dict[str, Any] | None:
    """The report claims ``claimed``; a listing capture after that day and before the archive first saw the
    report, whose crawl saw no page listing it, proves the claim false.

    Only listing pages with report-like entries count, and, once a page in the window lists the report, only the
    earlier captures of that page's address (another column's silence proves nothing). Another page of the same
    look at the column (same run,
    within a day) that lists the report clears a page that does not (the report sat on page 2). A look proves
    nothing when a listing page of it failed (``failed_runs``: the report may have been on it), nor when its dated
    entries all came after the claimed day (the report, if then published, sat on a page it did not read). Among the
    proofs the earliest one before the deadline is given, else the earliest; ``last_absent_at`` is the latest
    proof, the lower bound of the real publication.
    """
    if claimed is None or first_seen is None:
        return None
    pages = [snap for snap in listings if is_report_listing(snap.items)]
    listed = {snap.capture_id for snap in pages if lists_report(snap.items, report_urls, report_titles)}
    # where the report turned up listed, only that listing's earlier silence counts: another column of the agency
    # (an old one, abandoned for a new platform) never listing it says nothing of when it was published
    listed_at = {snap.url for snap in pages if snap.capture_id in listed}
    proofs = []
    for snap in pages:
        if snap.capture_id in listed or beijing_date(snap.captured_at) <= claimed or snap.captured_at >= first_seen:
            continue
        if listed_at and snap.url not in listed_at:
            continue
        if snap.run_id in failed_runs:
            continue
        look = [other for other in listings
                if other.run_id == snap.run_id and abs(other.captured_at - snap.captured_at) <= SAME_LOOK]
        if any(other.capture_id in listed for other in look):
            continue
        dated = [item.date for other in look for item in other.items if item.date is not None]
        if dated and min(dated) > claimed:
            continue
        proofs.append(snap)
    if not proofs:
        return None
    before_deadline = [snap for snap in proofs if deadline is not None and beijing_date(snap.captured_at) <= deadline]
    proof = min(before_deadline or proofs, key=lambda snap: (snap.captured_at, snap.capture_id))
    # the latest absence bounds the real publication from below (monitor.proof.archive_bound)
    last_absent = max(proofs, key=lambda snap: (snap.captured_at, snap.capture_id))
    days_after = (beijing_date(proof.captured_at) - claimed).days
    return {
        "listing_capture_id": proof.capture_id,
        "listing_url": proof.url,
        "listing_captured_at": beijing_iso(proof.captured_at),
        "listing_found_by": proof.found_by,
        "listing_entries": len(proof.items),
        "claimed_date": claimed.isoformat(),
        "deadline": beijing_iso(deadline),
        "before_deadline": bool(before_deadline),
        "report_first_seen": beijing_iso(first_seen),
        "other_proofs": len(proofs) - 1,
        "last_absent_capture_id": last_absent.capture_id,
        "last_absent_at": beijing_iso(last_absent.captured_at),
        "message": (f"报告自称 {claimed.isoformat()} 发布，但 {beijing_date(proof.captured_at).isoformat()}"
                    f"（其后 {days_after} 天{'，期限之前' if before_deadline else ''}）存档的栏目页"
                    f"（捕获 {proof.capture_id}）没有列出它；存档首次见到该报告是 {beijing_date(first_seen).isoformat()}。"),
    }


# ================================================================ changed

@dataclass(frozen=True)
class Version:
    """One archived state of the report URL, with what its parse says (tables/text None when not parsed)."""

    capture_id: int
    captured_at: datetime
    payload_sha256: str
    tables: Mapping[str, Any] | None = None
    text: str | None = None


def _table_rows(table: Any) -> dict[str, Any]:
    """tables.py nests rows under "rows" for tables 2 and 3; table 4 and old_stats are the rows themselves."""
    if not isinstance(table, Mapping):
        return {}
    rows = table.get("rows") if "rows" in table else table
    return dict(rows) if isinstance(rows, Mapping) else {}


def table_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every cell that differs between two parsed tables dicts: {table, row, column, old, new}.

    A cell present on one side only is reported with None on the other; old_stats rows have column None.
    """
    old, new = old or {}, new or {}
    changes: list[dict[str, Any]] = []
    order = list(TABLE_LABELS)
    for table in sorted(set(old) | set(new), key=lambda name: (order.index(name) if name in order else len(order), name)):
        old_rows, new_rows = _table_rows(old.get(table)), _table_rows(new.get(table))
        for row in list(old_rows) + [name for name in new_rows if name not in old_rows]:
            before, after = old_rows.get(row), new_rows.get(row)
            if isinstance(before, Mapping) or isinstance(after, Mapping):
                before = before if isinstance(before, Mapping) else {}
                after = after if isinstance(after, Mapping) else {}
                for column in list(before) + [name for name in after if name not in before]:
                    if before.get(column) != after.get(column):
                        changes.append({"table": table, "row": row, "column": column,
                                        "old": before.get(column), "new": after.get(column)})
            elif before != after:
                changes.append({"table": table, "row": row, "column": None, "old": before, "new": after})
    return changes


_MAX_DIFF_LINES = 40
_MAX_LINE = 300


def text_changes(old: str, new: str) -> dict[str, Any]:
    """A unified-diff summary: how many lines were added and removed, and the first changed lines."""
    diff = list(difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(), lineterm="", n=0))
    lines = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return {
        "lines_added": sum(1 for line in lines if line.startswith("+")),
        "lines_removed": sum(1 for line in lines if line.startswith("-")),
        "diff": [line[:_MAX_LINE] for line in lines[:_MAX_DIFF_LINES]],
        "diff_truncated": len(lines) > _MAX_DIFF_LINES,
    }


def changed(base: Version, later: Sequence[Version]) -> dict[str, Any] | None:
    """The newest capture after ``base`` whose payload differs in what the report says, and what differs.

    A payload that differs while both parses agree on every table cell and every text line changed only the
    page around the report (a visit counter, a rotated banner): that is no change of the report. A version that
    could not be parsed counts as changed on its digest alone.
    """
    differing = sorted((version for version in later
                        if version.captured_at > base.captured_at and version.payload_sha256 != base.payload_sha256),
                       key=lambda version: (version.captured_at, version.capture_id), reverse=True)
    for newest in differing:
        cells = table_changes(base.tables, newest.tables) if None not in (base.tables, newest.tables) else None
        text = text_changes(base.text, newest.text) if None not in (base.text, newest.text) else None
        if cells == [] and text is not None and not (text["lines_added"] or text["lines_removed"]):
            continue
        return _change_evidence(base, newest, later, cells, text)
    return None


def _change_evidence(base: Version, newest: Version, later: Sequence[Version], cells: list | None,
                     text: dict | None) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "from_capture_id": base.capture_id,
        "to_capture_id": newest.capture_id,
        "from_captured_at": beijing_iso(base.captured_at),
        "to_captured_at": beijing_iso(newest.captured_at),
        "from_sha256": base.payload_sha256,
        "to_sha256": newest.payload_sha256,
        "versions": len({base.payload_sha256, *(version.payload_sha256 for version in later
                                                 if version.captured_at > base.captured_at)}),
        "cells": cells,
        "text": text,
    }
    if cells is None:
        evidence["cells_note"] = "有一个版本未能解析，无法逐格比较表格"
    shown = "；".join(f"{TABLE_LABELS.get(c['table'], c['table'])} {c['row']}"
                     f"{' ' + c['column'] if c['column'] else ''}：{c['old']}→{c['new']}" for c in (cells or [])[:3])
    more = len(cells or []) - 3
    evidence["message"] = (f"{beijing_date(newest.captured_at).isoformat()} 的捕获 {newest.capture_id} 与原捕获 "
                           f"{base.capture_id} 内容不同" + (f"：{shown}" if shown else "")
                           + (f"，另有 {more} 处表格改动" if more > 0 else "")
                           + (f"；正文 +{text['lines_added']}/-{text['lines_removed']} 行" if text else "") + "。")
    return evidence


# ================================================================ removed

# A fetch error of these kinds says nothing about the document: it was not (fully) asked for.
NOT_A_FAILURE = frozenset({"robots", "size"})
GONE_STATUSES = frozenset({404, 410, 451})
_HTTP_STATUS = re.compile(r"HTTP (\d{3})\b")


@dataclass(frozen=True)
class FetchEvent:
    """One attempt at the report URL: a capture (with its HTTP status) or a fetch error (with its kind)."""

    at: datetime
    status: int | None = None
    capture_id: int | None = None
    error_kind: str | None = None
    error_id: int | None = None
    message: str = ""
    error_page: bool = False   # a 200 the parsers read as the site's error page ("您访问的页面不存在")
    blank_page: bool = False   # a 200 with no document: a blank, challenge or "系统繁忙" page (no word of it gone)
    run_id: str | None = None  # the crawl run of a capture

    @property
    def ok(self) -> bool:
        return (self.status is not None and (200 <= self.status < 300 or self.status == 304)
                and not self.error_page and not self.blank_page)

    @property
    def says_gone(self) -> bool:
        """The site answered that the page is not there (404, 410, 451, its error page): not a network error, a
        server error or a block (403, 429), which say nothing of the report."""
        if self.error_page:
            return True
        status = self.status
        if status is None and self.error_kind == "http":   # an error answer the archive did not keep
            found = _HTTP_STATUS.match(self.message or "")
            status = int(found.group(1)) if found else None
        return status in GONE_STATUSES

    @property
    def failed(self) -> bool:
        if self.error_page or self.blank_page:
            return True
        if self.status is not None:
            return self.status >= 400
        return self.error_kind is not None and self.error_kind not in NOT_A_FAILURE


def _one_event_per_attempt(events: Sequence[FetchEvent]) -> list[FetchEvent]:
    """An error answer is archived (a capture with its status) and then recorded as a fetch error of kind http
    ("HTTP 404 …") by the same request: one attempt, kept as the capture, which the evidence can then show."""
    merged: list[FetchEvent] = []
    for event in sorted(events, key=lambda event: (event.at, event.error_kind is not None)):
        previous = merged[-1] if merged else None
        if (event.error_kind == "http" and previous is not None and previous.capture_id is not None
                and previous.status is not None and previous.status >= 400 and previous.error_id is None
                and event.message.startswith(f"HTTP {previous.status}")):
            merged[-1] = replace(previous, error_kind=event.error_kind, error_id=event.error_id, message=event.message)
        else:
            merged.append(event)
    return merged


def last_success(events: Sequence[FetchEvent]) -> FetchEvent | None:
    return max((event for event in events if event.ok), key=lambda event: event.at, default=None)


def removed(events: Sequence[FetchEvent]) -> dict[str, Any] | None:
    """Evidence when the newest attempt after the last success failed; redirects and robots skips are no answer.
    ``gone``: one of those failures was the site saying the page is not there (``FetchEvent.says_gone``); else the
    failures (a timeout, a refused connection, a 500, a 403) do not show the report removed."""
    events = _one_event_per_attempt(events)
    last_ok = last_success(events)
    if last_ok is None:
        return None
    after = sorted((event for event in events if event.at > last_ok.at and (event.ok or event.failed)),
                   key=lambda event: event.at)
    if not after or not after[-1].failed:
        return None
    latest, first = after[-1], after[0]
    gone = [event for event in after if event.says_gone]
    shown = gone[-1] if gone else latest

    def describe(event: FetchEvent) -> dict[str, Any]:
        return {"at": beijing_iso(event.at), "status": event.status, "capture_id": event.capture_id,
                "error_kind": event.error_kind, "error_id": event.error_id, "message": event.message or None,
                **({"error_page": True} if event.error_page else {}),
                **({"blank_page": True} if event.blank_page else {})}

    what = ("网站的错误页（HTTP 200，“页面不存在”之类）" if shown.error_page
            else "空白页或验证页（HTTP 200，没有报告内容）" if shown.blank_page
            else f"HTTP {shown.status}" if shown.status is not None
            else f"抓取错误（{shown.error_kind}：{shown.message}）" if shown.message else f"抓取错误（{shown.error_kind}）")
    return {
        "gone": bool(gone),
        "last_ok_capture_id": last_ok.capture_id,
        "last_ok_at": beijing_iso(last_ok.at),
        "first_failure": describe(first),
        "latest_failure": describe(latest),
        "failures": len(after),
        "message": f"{beijing_date(shown.at).isoformat()} 再次访问报告网址得到 {what}；"
                   f"最后一次成功抓取是 {beijing_date(last_ok.at).isoformat()}（捕获 {last_ok.capture_id}）。",
    }


def online_since(events: Sequence[FetchEvent], since: FetchEvent) -> FetchEvent | None:
    """The newest good answer of an address at or after ``since`` (the last good answer of the address a report
    left) or in the same crawl run, unless the address said since that it is gone: the report is still online
    there. A failure that does not say gone (a timeout) takes nothing back: it does not show the copy gone."""
    found = removed(events)
    if found is not None and found["gone"]:
        return None
    return max((event for event in events
                if event.ok and (event.at >= since.at or (event.run_id is not None and event.run_id == since.run_id))),
               key=lambda event: event.at, default=None)


def moved(gone: Mapping[str, Any], *, url: str, title: str | None, copy_url: str, copy_title: str | None,
          copy_report_id: int, seen: FetchEvent) -> dict[str, Any]:
    """What ``removed``'s evidence ``gone`` for ``url`` shows when the year's report is online at ``copy_url``
    (``online_since`` gave ``seen``): the report moved (same title: a column that moved to new addresses) or was
    replaced (another title: a 更正 version), never deleted. The old address may have said the page is not there
    (``gone["gone"]``) or only failed (a 5xx, a timeout): the copy online shows where the report is either way,
    and the message says that such a failure proves nothing of a deletion."""
    relation = "moved" if normalize_title(title or "") == normalize_title(copy_title or "") else "replaced"
    what = "迁移到" if relation == "moved" else "替换为"
    # a server error or a timeout is no answer about the page: say so, the move rests on the copy alone
    failed = "" if gone["gone"] else "原网址出错不能说明报告已删除；"
    return {
        "relation": relation,
        "gone": bool(gone["gone"]),
        "from_url": url,
        "last_ok_capture_id": gone["last_ok_capture_id"],
        "last_ok_at": gone["last_ok_at"],
        "latest_failure": gone["latest_failure"],
        "url": copy_url,
        "title": copy_title,
        "report_id": copy_report_id,
        "capture_id": seen.capture_id,
        "captured_at": beijing_iso(seen.at),
        "message": f"原网址 {url}：{gone['message']}{failed}同一年度的报告已{what} {copy_url}（{beijing_date(seen.at).isoformat()} "
                   f"存档，捕获 {seen.capture_id}），仍在网站上：不是删除。",
    }


# ================================================================ copied

COPY_THRESHOLD = 0.5
# Below this many distinct 5-grams (after masking) a text is a cover page or a scan: too little to judge.
MIN_SHINGLES = 150
SIMILARITY_METHOD = "char-5gram-containment"
SIMILARITY_DESCRIPTION = ("正文按字符 5-gram 比较：数字一律替换为 #，去掉空白与标点，并剔除年报格式规定的固定用语"
                          "（章节标题、表格行列名称与勾稽说明）；得分 = 本报告的 5-gram 中也出现在对方报告中的比例。")


@dataclass(frozen=True)
class Similarity:
    score: float        # containment: share of this text's 5-grams found in the other
    jaccard: float
    shared: int
    size: int
    other_size: int


def similarity(mine: frozenset[int], other: frozenset[int]) -> Similarity:
    shared = len(mine & other)
    union = len(mine) + len(other) - shared   # not len(mine | other): building the union was 2/3 of the time
    return Similarity(round(shared / len(mine), 4) if mine else 0.0, round(shared / union, 4) if union else 0.0,
                      shared, len(mine), len(other))


@dataclass(frozen=True)
class TextCandidate:
    """A report the judged one may have been copied from."""

    relation: str                  # previous_year | same_year_other_agency
    report_id: int
    agency_id: str | None
    agency: str | None
    report_year: int | None
    url: str
    capture_id: int
    fingerprint: frozenset[int] = field(repr=False, default=frozenset())


def copied(mine: frozenset[int], candidates: Iterable[TextCandidate], *,
           threshold: float = COPY_THRESHOLD) -> dict[str, Any] | None:
    """The best match at or above ``threshold`` (containment), with the other matches named."""
    if len(mine) < MIN_SHINGLES:
        return None
    matches = []
    for candidate in candidates:
        if len(candidate.fingerprint) < MIN_SHINGLES:
            continue
        found = similarity(mine, candidate.fingerprint)
        if found.score >= threshold:
            matches.append((found, candidate))
    if not matches:
        return None
    matches.sort(key=lambda pair: (-pair[0].score, pair[1].relation != "previous_year", pair[1].report_id))
    best, other = matches[0]
    relation = "上一年度本机关报告" if other.relation == "previous_year" else f"同年度其他机关（{other.agency or other.agency_id}）报告"
    return {
        "method": SIMILARITY_METHOD,
        "description": SIMILARITY_DESCRIPTION,
        "threshold": threshold,
        "score": best.score,
        "jaccard": best.jaccard,
        "shared_shingles": best.shared,
        "shingles": best.size,
        "other_shingles": best.other_size,
        "relation": other.relation,
        "other_report_id": other.report_id,
        "other_agency_id": other.agency_id,
        "other_agency": other.agency,
        "other_report_year": other.report_year,
        "other_url": other.url,
        "other_capture_id": other.capture_id,
        "more_matches": [{"relation": c.relation, "report_id": c.report_id, "agency_id": c.agency_id,
                          "report_year": c.report_year, "score": s.score} for s, c in matches[1:6]],
        "message": f"正文与{relation}相同的比例为 {best.score:.0%}（字符 5-gram 包含度，数字已屏蔽），"
                   f"达到 {threshold:.0%} 的雷同标准。",
    }
