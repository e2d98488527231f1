"""Legal deadlines as data (``deadlines.toml``) and the on-time verdict that cites them.

The rules live in a TOML table the user can override per level or per agency (format in the file's header),
so that every verdict names the article it applied. No clock is read: the caller says ``as_of``.
"""
from __future__ import annotations

import calendar
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from monitor.labels import LEVEL_NAMES
from parsers.dates import PUBLICATION_PRIORITY, describe_source
from parsers.record import LEVELS, DateEvidence

SHIPPED_RULES = Path(__file__).with_name("deadlines.toml")
ANY_LEVEL = "*"
VERDICT_STATUSES = ("on_time", "late", "missing", "pending", "undetermined")

_REQUIRED = ("id", "level", "month", "day", "legal_basis")
_OPTIONAL = ("first_year", "last_year", "agency_id")


class RuleError(ValueError):
    """A rules file or table that cannot be used; the message names the file and the rule."""


class NoRuleError(LookupError):
    """No rule covers that report year and level."""


@dataclass(frozen=True)
class DeadlineRule:
    id: str
    level: str                 # department | government | township | "*"
    first_year: int | None
    last_year: int | None
    month: int
    day: int
    legal_basis: str           # e.g. "《政府信息公开条例》(2019修订) 第四十九条第一款"
    agency_id: str | None = None

    def covers(self, report_year: int) -> bool:
        return (self.first_year is None or report_year >= self.first_year) and \
               (self.last_year is None or report_year <= self.last_year)

    def deadline(self, report_year: int) -> date:
        year = report_year + 1
        # a 29 February rule falls on the 28th in common years
        return date(year, self.month, min(self.day, calendar.monthrange(year, self.month)[1]))


@dataclass(frozen=True)
class Deadline:
    date: date
    rule: DeadlineRule


@dataclass(frozen=True)
class Verdict:
    status: str                      # on_time | late | missing | pending | undetermined
    deadline: date | None
    legal_basis: str | None
    rule_id: str | None
    publication_date: date | None
    date_source: str | None          # the DateEvidence source used, or "first_seen"
    days_late: int | None
    first_seen: date | None
    evidence: list[DateEvidence] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "deadline": _iso(self.deadline),
            "legal_basis": self.legal_basis,
            "rule_id": self.rule_id,
            "publication_date": _iso(self.publication_date),
            "date_source": self.date_source,
            "days_late": self.days_late,
            "first_seen": _iso(self.first_seen),
            "evidence": [e.to_json() for e in self.evidence],
            "reason": self.reason,
        }


class RuleSet:
    """The rules in reading order; later rules win over earlier ones of the same specificity."""

    def __init__(self, rules: Iterable[DeadlineRule]):
        self.rules: tuple[DeadlineRule, ...] = tuple(rules)

    def find(self, report_year: int, level: str | None, agency_id: str | None = None) -> Deadline | None:
        best: tuple[int, int, DeadlineRule] | None = None
        for position, rule in enumerate(self.rules):
            specificity = _specificity(rule, level, agency_id)
            if specificity is None or not rule.covers(report_year):
                continue
            if best is None or (specificity, position) > best[:2]:
                best = (specificity, position, rule)
        return Deadline(best[2].deadline(report_year), best[2]) if best else None

    def deadline_for(self, report_year: int, level: str, agency_id: str | None = None) -> Deadline:
        found = self.find(report_year, level, agency_id)
        if found is None:
            raise NoRuleError(f"没有适用于 {report_year} 年度、{LEVEL_NAMES.get(level, level)} 的期限规则")
        return found


def _specificity(rule: DeadlineRule, level: str | None, agency_id: str | None) -> int | None:
    if rule.agency_id is not None:
        return 3 if agency_id is not None and rule.agency_id == agency_id else None
    if rule.level == ANY_LEVEL:
        return 1
    return 2 if level is not None and rule.level == level else None


# ------------------------------------------------------------------ loading

def load_rules(path: str | Path | None = None, overrides: dict | None = None) -> RuleSet:
    """The shipped ``deadlines.toml``, then the user's file ``path`` (same format) on top, then ``overrides``
    (the same structure as a parsed file: ``{"rule": [{...}, ...]}``). Raises RuleError on a bad file."""
    rules: list[DeadlineRule] = []
    layers = [(_read_toml(SHIPPED_RULES), str(SHIPPED_RULES))]
    if path is not None:
        layers.append((_read_toml(Path(path)), str(path)))
    if overrides is not None:
        layers.append((overrides, "overrides"))
    for data, origin in layers:
        for rule in parse_rules(data, origin):
            rules = [existing for existing in rules if existing.id != rule.id] + [rule]
    return RuleSet(rules)


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise RuleError(f"{path}: 期限规则文件不存在") from exc
    except OSError as exc:
        raise RuleError(f"{path}: 无法读取期限规则文件（{exc.strerror or exc}）") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: 不是有效的 TOML（{exc}）") from exc


def parse_rules(data: dict, origin: str = "rules") -> list[DeadlineRule]:
    """The ``[[rule]]`` entries of one parsed file, validated; each problem names the rule."""
    if not isinstance(data, dict):
        raise RuleError(f"{origin}: 顶层应为表（[[rule]] 列表）")
    unknown = set(data) - {"rule"}
    if unknown:
        raise RuleError(f"{origin}: 未知的键 {', '.join(sorted(unknown))}（只支持 [[rule]]）")
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise RuleError(f"{origin}: rule 应写成 [[rule]] 列表")
    return [_parse_rule(entry, f"{origin} 第 {number} 条规则") for number, entry in enumerate(entries, 1)]


def _parse_rule(entry: Any, where: str) -> DeadlineRule:
    if not isinstance(entry, dict):
        raise RuleError(f"{where}: 应为表")
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise RuleError(f"{where}: 缺少字段 {', '.join(missing)}")
    unknown = set(entry) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise RuleError(f"{where}: 未知字段 {', '.join(sorted(unknown))}")
    where = f"{where}（{entry['id']}）"
    for key in ("id", "level", "legal_basis"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise RuleError(f"{where}: {key} 应为非空字符串")
    if entry["level"] not in (*LEVELS, ANY_LEVEL):
        raise RuleError(f"{where}: level 应为 {' | '.join((*LEVELS, ANY_LEVEL))}，而不是 {entry['level']!r}")
    for key in ("month", "day", "first_year", "last_year"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise RuleError(f"{where}: {key} 应为整数")
    try:
        date(2000, entry["month"], entry["day"])  # a leap year, so 29 February is accepted
    except ValueError as exc:
        raise RuleError(f"{where}: {entry['month']} 月 {entry['day']} 日不是有效日期") from exc
    first, last = entry.get("first_year"), entry.get("last_year")
    if first is not None and last is not None and first > last:
        raise RuleError(f"{where}: first_year {first} 晚于 last_year {last}")
    agency_id = entry.get("agency_id")
    if agency_id is not None and (not isinstance(agency_id, str) or not agency_id.strip()):
        raise RuleError(f"{where}: agency_id 应为非空字符串")
    return DeadlineRule(entry["id"].strip(), entry["level"], first, last, entry["month"], entry["day"],
                        entry["legal_basis"].strip(), agency_id.strip() if agency_id else None)


# ------------------------------------------------------------------ verdicts

# Dates a file or its server keeps (Last-Modified, a PDF's CreationDate/ModDate, a DOCX's created/modified): when the
# file was made or changed, not a publication the agency states: never the proof that a report came late, nor that it
# came in time unless the archive held it by the deadline.
FILE_DATES = frozenset({"http_last_modified", "pdf_metadata", "docx_metadata"})
# The date in the report's address (…/art/2025/3/10/…, …/202503/t20250310_…): usually the CMS's date for the
# address, which a site migration gives every old article anew: weak in the same way.
SYSTEM_DATES = FILE_DATES | {"url"}


def _system_date(source: str) -> str:
    """What a SYSTEM_DATES date is, in the reason's words."""
    return ("这是网址中的日期（网站系统生成网址的日期，网站改版后会变）" if source == "url"
            else "这是文件或服务器记录的时间")


def verdict(report_year: int, level: str | None, *, as_of: date, publication: DateEvidence | None = None,
            first_seen: date | None = None, evidence: Iterable[DateEvidence] = (), rules: RuleSet | None = None,
            agency_id: str | None = None, day_over: bool = False, held_since: date | None = None) -> Verdict:
    """Was the report for ``report_year`` published on time?

    ``publication``: the chosen publication date (signing/成文/first-seen evidence is not accepted as one).
    ``first_seen``: when the archive first captured the report; None together with no publication means
    no report was found. A report without a usable date is judged by first_seen as an upper bound.
    ``held_since``: the day the archive first held this very report (a capture parsed as it): a publication date
    after it is contradicted, and proves nothing late.
    ``day_over``: ``as_of`` is a whole day that has ended (judged at its 24:00, as evaluators check), so on the
    deadline day itself a report not found is missing; otherwise the rest of that day is still to come.
    """
    rules = rules or load_rules()
    evidence = list(evidence)
    if publication is not None and publication not in evidence:
        evidence.append(publication)
    usable = publication if publication is not None and publication.source in PUBLICATION_PRIORITY else None
    refused = ""
    if publication is not None and usable is None:
        refused = f"{describe_source(publication)}不是发布日期，未采用；"

    def make(status: str, deadline: Deadline | None, reason: str, *, published: date | None = None,
             source: str | None = None, days_late: int | None = None) -> Verdict:
        return Verdict(status, deadline.date if deadline else None, deadline.rule.legal_basis if deadline else None,
                       deadline.rule.id if deadline else None, published, source, days_late, first_seen,
                       evidence, refused + reason)

    deadline = rules.find(report_year, level, agency_id)
    if deadline is None:
        who = LEVEL_NAMES.get(level or "", "未知层级的机关")
        return make("undetermined", None, f"没有适用于 {report_year} 年度{who}的期限规则，无法判断。",
                    published=usable.value if usable else None, source=usable.source if usable else None)
    due = deadline.date
    cite = f"期限 {due.isoformat()}（{deadline.rule.legal_basis}）"
    seen = f"；首次抓取于 {first_seen.isoformat()}" if first_seen else ""

    if usable is not None:
        published = usable.value
        said = f"{describe_source(usable)}显示 {published.isoformat()} 发布"
        year_end = date(report_year, 12, 31)
        signed = next((item.value for item in evidence if item.source == "signing"), None)
        impossible = None
        if published <= year_end:
            impossible = f"{said}，但那时 {report_year} 年尚未结束，报告不可能已经发布，该日期不是发布日期，未采用"
        elif signed is not None and published <= due < signed:
            # signed after the deadline, "published" before it: the classic sign of a back-dated page
            impossible = (f"{said}，但报告落款日期是 {signed.isoformat()}，晚于期限：报告不会在落款之前发布，"
                          f"两个日期矛盾，未采用")
        if impossible is not None:
            # the report's own dates refute the claim: another date the agency gave (the listing's), if it is
            # possible, or the archive's own sighting decide; never the refuted one
            other = _possible_date(evidence, usable, after=max(year_end, signed or year_end),
                                   by=held_since or first_seen)
            if other is not None:
                found = verdict(report_year, level, as_of=as_of, publication=other, first_seen=first_seen,
                                evidence=evidence, rules=rules, agency_id=agency_id, day_over=day_over,
                                held_since=held_since)
                return replace(found, reason=f"{refused}{impossible}；{found.reason}")
            archived_on = held_since or first_seen
            if archived_on is not None and archived_on <= due:
                return make("on_time", deadline, f"{impossible}；存档在 {archived_on.isoformat()} 已抓取到该报告，"
                                                 f"不晚于{cite}，按时。", published=archived_on, source="first_seen",
                            days_late=0)
            return make("undetermined", deadline, f"{impossible}{seen}，无法判断是否按时发布。", source="first_seen")
        if published > due and held_since is not None and held_since < published:
            # the archive held the report before the day it names (a page re-dated when edited, a server's
            # Last-Modified, a PDF's CreationDate): that day is not when it was published and proves nothing late
            contradicted = f"{said}，但存档在 {held_since.isoformat()} 已抓取到该报告，该日期不是发布日期，未采用"
            other = _possible_date(evidence, usable, after=max(year_end, signed or year_end), by=held_since)
            if other is not None:
                found = verdict(report_year, level, as_of=as_of, publication=other, first_seen=first_seen,
                                evidence=evidence, rules=rules, agency_id=agency_id, day_over=day_over,
                                held_since=held_since)
                return replace(found, reason=f"{refused}{contradicted}；{found.reason}")
            if held_since <= due:
                return make("on_time", deadline, f"{contradicted}；按存档日期判断不晚于{cite}，按时。",
                            published=held_since, source="first_seen", days_late=0)
            return make("undetermined", deadline, f"{contradicted}；存档首次见到它是 {held_since.isoformat()}，晚于"
                                                  f"{cite}，无法判断是否按时发布。", source="first_seen")
        if published > due and usable.source in SYSTEM_DATES:
            # a file's or a server's time, not a date the agency published: a report published in time whose file
            # was touched, re-exported or re-uploaded since (a corrected PDF, a site-wide re-publish) shows the same
            return make("undetermined", deadline, f"{said}，但{_system_date(usable.source)}，不是机关标明的发布日期，"
                                                  f"不能证明晚于{cite}才发布{seen}，无法判断是否按时发布。",
                        source="first_seen")
        archived_on = held_since or first_seen
        if published <= due and usable.source in SYSTEM_DATES and archived_on is not None and archived_on > due:
            # a file made (or a server's copy touched) in time says nothing of when it was posted: only the archive
            # holding it by the deadline would prove 按时, and it first held it later
            return make("undetermined", deadline, f"{said}，但{_system_date(usable.source)}，不是机关标明的发布日期，"
                                                  f"不能证明不晚于{cite}发布；存档首次见到它是 {archived_on.isoformat()}，"
                                                  f"晚于期限，无法判断是否按时发布。", source="first_seen")
        # another date the agency itself printed (its listing's, its page's) on the other side of the deadline
        other = next((item for item in sorted(evidence, key=lambda item: PUBLICATION_PRIORITY.index(item.source)
                                              if item.source in PUBLICATION_PRIORITY else len(PUBLICATION_PRIORITY))
                      if item.source in PUBLICATION_PRIORITY and item.source not in SYSTEM_DATES
                      and item.value > year_end and (item.value <= due) != (published <= due)), None)
        disagree = (f"{describe_source(other)}显示 {other.value.isoformat()} 发布" if other is not None else None)
        if published <= due:
            note = f"（{disagree}，晚于期限，与之不一致）" if disagree else ""
            return make("on_time", deadline, f"{said}，不晚于{cite}，按时{note}{seen}。",
                        published=published, source=usable.source, days_late=0)
        late = (published - due).days
        if disagree:
            # the agency's own dates fall on both sides of the deadline: the later one (a page re-dated when
            # edited) cannot prove it late
            return make("undetermined", deadline, f"{said}，晚于{cite} {late} 天；但{disagree}，不晚于期限：机关给出的"
                                                  f"两个日期矛盾{seen}，无法判断是否按时发布。", source=usable.source)
        return make("late", deadline, f"{said}，晚于{cite} {late} 天{seen}。",
                    published=published, source=usable.source, days_late=late)

    # the day the archive first held the report itself, when known: its address may have answered earlier with
    # something else (a notice that the report is being prepared)
    seen_day = held_since or first_seen
    if seen_day is not None:
        if seen_day <= due:
            return make("on_time", deadline, f"报告没有可用的发布日期，按首次抓取日期 {seen_day.isoformat()} 判断："
                                             f"不晚于{cite}，按时。", published=None, source="first_seen", days_late=0)
        return make("undetermined", deadline, f"报告没有可用的发布日期，首次抓取日期 {seen_day.isoformat()} 晚于"
                                              f"{cite}，无法判断是否按时发布。", source="first_seen")

    if as_of < due or (as_of == due and not day_over):
        return make("pending", deadline, f"截至 {as_of.isoformat()} 尚未发现报告，{cite}未到。")
    overdue = (as_of - due).days
    if overdue == 0:
        return make("missing", deadline, f"截至 {as_of.isoformat()} 24:00 未发现报告，{cite}已过。")
    return make("missing", deadline, f"截至 {as_of.isoformat()} 未发现报告，已超过{cite} {overdue} 天。")


def _possible_date(evidence: Iterable[DateEvidence], refused: DateEvidence, *, after: date,
                   by: date | None) -> DateEvidence | None:
    """The most trusted publication date other than the refused one that the report's own dates and the archive
    allow: after ``after`` (the year's end, its 落款) and not after ``by`` (the day the archive held it)."""
    possible = [item for item in evidence
                if item.source in PUBLICATION_PRIORITY and item.value != refused.value and item.value > after
                and (by is None or item.value <= by)]
    return min(possible, key=lambda item: PUBLICATION_PRIORITY.index(item.source), default=None)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
