"""What the archive proves about a verdict that would accuse an agency.

Two accusations need more than the absence of a report or a date on a page:

- **missing** (未发布): the agency published nothing. That holds only when the archive read the agency's report
  column after the deadline, found items in it, an annual report among them (so what it read is the report column,
  not a homepage or a maintenance page answered at its address), and those items reach back to the deadline (or,
  the items undated, the column's last page was reached and the read lists a report of an earlier year, so it
  stood there at the deadline and nothing older is hidden), the column was still kept in the year the report fell
  due (an entry listed in that year or later, or the previous year's report: a site that moves to a new platform
  often leaves its old column in place, frozen), and no listing page of the read failed. Otherwise
  nobody knows, and the verdict is ``undetermined`` with the reason in words and the coverage row it rests on
  (``missing_proof``).
- **on time on a back-dated claim** (倒签): a page claims a date, but a listing captured after that date did not
  list the report. The claim cannot make the report on time; the archive's own bounds decide (``archive_bound``).

Pure functions over coverage rows (``storage.catalog.models.ColumnCoverage`` or anything with its fields).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from parsers.beijing import beijing_date, beijing_iso, end_of_beijing_day

# Why a column gave no proof, as the verdict's reason says it (the problems of models.COLUMN_PROBLEMS, and three
# that only a verdict can see: nothing read after the deadline, items that stop short of it, listing pages that
# failed).
PROBLEM_REASONS = {
    "never_read": "存档中没有该机关年报栏目的任何读取记录（未抓取过，或尚未找到栏目）",
    "not_found": "没有找到该机关的年报栏目",
    "robots": "网站的 robots.txt 禁止抓取年报栏目",
    "unreadable": "年报栏目无法读取",
    "script_error": "年报栏目的脚本在浏览器中出错，列表没有显示",
    "empty": "年报栏目读取成功但没有任何条目",
    "not_after_deadline": "截止日期之后没有读取过年报栏目",
    "not_far_enough": "年报栏目的列表没有回溯到截止日期",
    "fetch_errors": "年报栏目有列表页抓取出错，该年度的报告可能就在没有读到的列表页上",
    "no_reports": "读到的栏目条目中没有一篇是年度报告，不能确认读到的是该机关的年报栏目",
    "stale": "年报栏目在该年度之前一年多就不再有新条目，可能已停用：网站改版后，旧栏目常原样留在原地址，报告发在新栏目里",
}
# the order in which problems explain an unproven "missing": the most specific first
_PROBLEM_ORDER = ("not_far_enough", "empty", "script_error", "robots", "unreadable", "not_found")


class CoverageRow(Protocol):
    id: int
    column_url: str | None
    found_by: str | None
    read_at: datetime
    capture_id: int | None
    pages_walked: int
    complete: bool
    rendered: bool
    items_read: int
    dated_items: int
    earliest_item: date | None
    latest_item: date | None
    problem: str | None
    detail: str | None
    errors: list[dict[str, str]] | None   # [{"url", "kind", "message"}]: listing pages that failed
    report_items: int | None              # items whose listing titles are annual reports (None: not recorded)
    report_years: list[int] | None        # the report years those titles name (None: not recorded)


@dataclass(frozen=True)
class Proof:
    proven: bool
    reason: str                       # in words, for the verdict's reason
    problem: str | None = None        # a PROBLEM_REASONS key when not proven
    coverage: dict[str, Any] | None = None   # the coverage row it rests on (see coverage_evidence)


def coverage_evidence(row: CoverageRow) -> dict[str, Any]:
    """A coverage row as verdict evidence: ids and facts, never paths."""
    return {
        "coverage_id": row.id, "column_url": row.column_url, "found_by": row.found_by,
        "read_at": beijing_iso(row.read_at), "capture_id": row.capture_id, "pages_walked": row.pages_walked,
        "complete": bool(row.complete), "rendered": bool(row.rendered), "items_read": row.items_read,
        "earliest_item": row.earliest_item.isoformat() if row.earliest_item else None,
        "latest_item": row.latest_item.isoformat() if row.latest_item else None,
        "problem": row.problem, "detail": row.detail, "errors": list(getattr(row, "errors", None) or []),
        "report_items": getattr(row, "report_items", None), "report_years": getattr(row, "report_years", None),
    }


def _reaches_back(row: CoverageRow, deadline: date, year: int, listed_years: frozenset[int]) -> bool:
    """The read shows the column as it stood at the deadline: an item of its dated on or before it; or, its items
    undated, the column's last page reached and a report of an earlier year listed (the column held it before this
    year's report was due). A column read to its last page whose dated items all came after the deadline does not:
    it was begun, moved or pruned since (a 2008 report cannot be missing from a column that starts in 2021); nor
    does an undated one that lists no earlier report (nothing says it existed at the deadline). The earlier report
    must be this read's own: another column's old listing says nothing of when this one began."""
    if row.earliest_item is not None:
        return row.earliest_item <= deadline
    return bool(row.complete) and any(listed < year for listed in _years_listed(row, listed_years))


def _years_listed(row: CoverageRow, listed_years: frozenset[int]) -> frozenset[int]:
    """The report years the read's own items name; for a row written before the crawler recorded them, the years
    every listing of the agency names (as judged then)."""
    own = getattr(row, "report_years", None)
    return frozenset(own) if own is not None else listed_years


def _kept(row: CoverageRow, year: int) -> bool:
    """The column was still kept when ``year``'s report fell due: it lists an entry dated in ``year`` or later, or
    the report of the year before (listed in ``year``). A report column gains about one entry a year, so one that
    gained none for over a year before the deadline may have been left behind by a move: its read cannot tell a
    report published in the new column from one never published. (A row written before the crawler recorded
    either is taken as it was.)"""
    latest, years = row.latest_item, getattr(row, "report_years", None)
    if latest is None and years is None:
        return True
    return (latest is not None and latest >= date(year, 1, 1)) or any(listed >= year - 1 for listed in years or ())


def _lists_reports(row: CoverageRow) -> bool:
    """The read lists an annual report, of any year: what it read is a report column, not a homepage's or a
    maintenance page's news answered at the column's address. (A row written before the crawler counted them
    is taken as it was.)"""
    counted = getattr(row, "report_items", None)
    return counted is None or counted > 0


def missing_proof(rows: Iterable[CoverageRow], *, year: int, deadline: date, as_of: date,
                  listed_years: Iterable[int] = ()) -> Proof:
    """Does the archive prove that no report of ``year`` was published? Only column reads after the deadline and on
    or before ``as_of`` count (a later read is not what an evaluator could see on ``as_of``). ``listed_years``: the
    report years the agency's listings name (``parsers.classify.listed_report_year``), the reach of an undated
    column."""
    listed_years = frozenset(listed_years)
    known = [row for row in rows if row.read_at <= end_of_beijing_day(as_of)]
    if not known:
        return _unproven("never_read", None)
    after = [row for row in known if row.read_at > end_of_beijing_day(deadline)]
    if not after:
        last = max(known, key=lambda row: row.read_at)
        return _unproven("not_after_deadline", last,
                         f"最近一次读取是 {beijing_date(last.read_at).isoformat()}，截止日期是 {deadline.isoformat()}")
    read = [row for row in after if row.items_read > 0 and row.problem is None]
    if read and not any(_lists_reports(row) for row in read):
        row = max(read, key=lambda row: row.read_at)
        return _unproven("no_reports", row, f"{beijing_date(row.read_at).isoformat()} 读取了 {row.pages_walked} 页、"
                                            f"{row.items_read} 个条目，没有一个条目的标题是政府信息公开工作年度报告："
                                            f"栏目可能已撤销，网站在该地址回答的是首页、维护页或其他栏目")
    read = [row for row in read if _lists_reports(row)]
    # a listing page that failed may be any page of the walk, the one that lists the year among them (a pager
    # names every page: pages after it were read, their items reaching back past a gap), so it proves nothing
    reaching = [row for row in read if not getattr(row, "errors", None)
                and _reaches_back(row, deadline, year, listed_years)]
    proving = [row for row in reaching if _kept(row, year)]
    if reaching and not proving:
        row = max(reaching, key=lambda row: row.read_at)
        newest = max(getattr(row, "report_years", None) or (), default=None)
        last = (f"最新的条目是 {row.latest_item.isoformat()}" if row.latest_item is not None else "条目没有日期")
        return _unproven("stale", row, f"{beijing_date(row.read_at).isoformat()} 读取的栏目{last}"
                                       + (f"，列出的最新报告是 {newest} 年度" if newest is not None else "")
                                       + f"；{year} 年度报告的截止日期是 {deadline.isoformat()}。"
                                       f"该机关可能多年未发布，也可能在新栏目发布，需要找到它现在的年报栏目")
    if proving:
        row = max(proving, key=lambda row: row.read_at)
        how = (f"列表回溯到 {row.earliest_item.isoformat()}，早于截止日期" if row.earliest_item is not None
               else f"已读到栏目最后一页，条目没有日期，栏目列出了 {min(_years_listed(row, listed_years))} 年度的报告")
        return Proof(True, f"{beijing_date(row.read_at).isoformat()} 读取了年报栏目（{row.pages_walked} 页，"
                           f"{row.items_read} 个条目，{how}），其中没有该年度的报告", None, coverage_evidence(row))
    if read:
        row = max(read, key=lambda row: (row.earliest_item or date.max, -row.read_at.timestamp()))
        reach = (f"最早的条目是 {row.earliest_item.isoformat()}" if row.earliest_item
                 else "条目没有日期，看不出列表回溯到哪一天")
        failed = list(getattr(row, "errors", None) or [])
        if failed:
            # the year's items may be on the failed pages, so say which failed
            return _unproven("fetch_errors", row, f"{len({error.get('url') for error in failed})} 个列表页抓取失败，"
                                                  f"例如 {error_text(failed[0])}；读取了 "
                                                  f"{row.pages_walked} 页、{row.items_read} 个条目，{reach}，"
                                                  f"截止日期是 {deadline.isoformat()}")
        if row.complete and row.earliest_item is None:
            whole = "，已读到栏目最后一页，但栏目没有列出更早年度的报告：不能说明截止日期时栏目已经存在"
        elif row.complete:
            whole = "，已读到栏目最后一页：栏目中没有截止日期之前的条目"
        else:
            whole = ""
        return _unproven("not_far_enough", row, f"读取了 {row.pages_walked} 页、{row.items_read} 个条目，{reach}，"
                                                f"截止日期是 {deadline.isoformat()}{whole}")
    problems = {row.problem or "empty": row for row in sorted(after, key=lambda row: row.read_at)}
    problem = next(name for name in _PROBLEM_ORDER if name in problems)
    row = problems[problem]
    return _unproven(problem, row, row.detail)


def error_text(error: Mapping[str, Any]) -> str:
    """One fetch error of a coverage row's ``errors`` in words: the URL and what went wrong."""
    return f"{error.get('url') or ''}（{error.get('message') or error.get('kind') or '抓取失败'}）"


def _unproven(problem: str, row: CoverageRow | None, detail: str | None = None) -> Proof:
    reason = PROBLEM_REASONS[problem] + (f"（{detail}）" if detail else "")
    return Proof(False, f"无法判断：{reason}，不能证明该机关未发布报告", problem,
                 coverage_evidence(row) if row is not None else None)


@dataclass(frozen=True)
class Bound:
    """What the archive says of a back-dated report's real publication: not before ``not_before`` (a listing
    captured then did not list it), not after ``not_after`` (the archive had it then)."""

    status: str                   # on_time | late | undetermined
    days_late: int | None         # for late: at least this many days
    reason: str


def archive_bound(*, claimed: date, deadline: date, backdated: Mapping[str, Any], first_seen: datetime) -> Bound:
    """The verdict of a report whose claimed date a listing capture contradicts (the 倒签 evidence of
    ``monitor.flags.backdated``), from the archive's dates alone."""
    seen = beijing_date(first_seen)
    # the latest listing capture that did not list the report bounds its publication from below
    absent = backdated.get("last_absent_at") or backdated.get("listing_captured_at")
    not_before = datetime.fromisoformat(absent).date() if absent else claimed
    both = (f"报告自称 {claimed.isoformat()} 发布，但 {not_before.isoformat()} 的栏目页没有列出它（倒签）；"
            f"存档首次见到它是 {seen.isoformat()}")
    if seen <= deadline:
        return Bound("on_time", 0, f"{both}，仍不晚于截止日期 {deadline.isoformat()}，按存档日期判断按时。")
    if not_before > deadline:
        days = (not_before - deadline).days
        return Bound("late", days, f"{both}；据存档，发布晚于截止日期 {deadline.isoformat()} 至少 {days} 天。")
    return Bound("undetermined", None, f"{both}；真实发布日期在 {not_before.isoformat()} 与 {seen.isoformat()} 之间，"
                                       f"截止日期 {deadline.isoformat()} 落在其中，无法判断是否按时。")
