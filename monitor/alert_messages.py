"""The words of an alert: subject, text and JSON body of one event, of a digest, of a test message.

Links are absolute, built by ``links`` — an object with the web UI's URL builder methods ``agency(id)``,
``capture(id)``, ``diff(a, b)`` and ``run(id)`` (``web.urls.Urls(web_base)``, passed in by the CLI: the monitor does
not import the web UI). The ``link`` of a message is its evidence permalink: the archived capture that proves it.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.alerts import KIND_LABELS
from monitor.coverage import PROBLEM_LABELS
from monitor.labels import describe_date_source
from parsers.beijing import beijing_iso

SUBJECT_PREFIX = "【政府信息公开年报监测】"


class Links(Protocol):
    def agency(self, agency_id: str) -> str: ...
    def capture(self, capture_id: int) -> str: ...
    def diff(self, a: int, b: int) -> str: ...
    def run(self, run_id: str) -> str: ...


class AlertRecord(Protocol):
    """An ``AlertEvent`` row, or anything with its fields."""

    key: str
    kind: str
    run_id: str | None
    agency_id: str | None
    report_year: int | None
    payload: Any
    created_at: Any


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    link: str | None            # the evidence permalink
    body: dict[str, Any]        # what a webhook receives (JSON)


def render(event: AlertRecord, links: Links) -> Message:
    facts = dict(event.payload or {})
    headline, lines, link = _WRITERS[event.kind](event, facts, links)
    agency = facts.get("agency")
    if agency:
        about = f"{agency} {event.report_year} 年度" if event.report_year else agency
    else:
        about = f"运行 {facts['run_id']}" if facts.get("run_id") else "未能开始的运行"
    subject = f"{SUBJECT_PREFIX}{KIND_LABELS.get(event.kind, event.kind)}：{about}"
    text = "\n".join([headline, *(line for line in lines if line)])
    body = {"key": event.key, "kind": event.kind, "kind_label": KIND_LABELS.get(event.kind, event.kind),
            "subject": subject, "text": text, "link": link, "agency_id": event.agency_id, "agency": agency,
            "report_year": event.report_year, "deadline": facts.get("deadline"), "run_id": event.run_id,
            "created_at": beijing_iso(event.created_at) if event.created_at else None, "facts": facts}
    return Message(subject, text, link, body)


def render_digest(events: Sequence[AlertRecord], links: Links) -> Message:
    """Every event waiting for one channel, in one message."""
    messages = [render(event, links) for event in events]
    counts = Counter(KIND_LABELS.get(event.kind, event.kind) for event in events)
    summary = "、".join(f"{label} {count}" for label, count in counts.items())
    subject = f"{SUBJECT_PREFIX}{len(events)} 条提醒（{summary}）"
    blocks = [f"共 {len(events)} 条提醒：{summary}。"]
    blocks += [f"{index}. " + message.text.replace("\n", "\n   ") for index, message in enumerate(messages, 1)]
    return Message(subject, "\n\n".join(blocks), None,
                   {"digest": True, "subject": subject, "text": "\n\n".join(blocks), "count": len(events),
                    "events": [message.body for message in messages]})


def render_test(web_base: str, channel: str) -> Message:
    subject = f"{SUBJECT_PREFIX}测试消息"
    text = (f"这是一条测试消息：告警渠道 {channel} 已能收到政府信息公开年报监测的提醒。\n"
            f"监测网站：{web_base}")
    return Message(subject, text, web_base, {"test": True, "channel": channel, "subject": subject, "text": text,
                                             "link": web_base})


# ---------------------------------------------------------------- one writer per kind: (headline, lines, link)

def _name(event: AlertRecord, facts: dict) -> str:
    return f"{facts.get('agency') or event.agency_id}（{event.agency_id}）"


def _deadline(facts: dict) -> str:
    basis = facts.get("legal_basis")
    return f"截止日期：{facts.get('deadline') or '未知'}" + (f"（{basis}）" if basis else "")


def _report(facts: dict) -> str | None:
    if not facts.get("report_url"):
        return None
    return f"报告：{facts.get('title') or '（无标题）'}  {facts['report_url']}"


def _capture(links: Links, capture_id: Any) -> str | None:
    return links.capture(capture_id) if isinstance(capture_id, int) and not isinstance(capture_id, bool) else None


def _tail(links: Links, event: AlertRecord, evidence: str | None, label: str = "证据") -> list[str]:
    return [f"{label}：{evidence}" if evidence else None, f"机关页面：{links.agency(event.agency_id)}"]


def _missing(event, facts, links):
    link = _capture(links, facts.get("column_capture_id"))
    read = f"（{facts['column_read_at'][:10]} 读取的年报栏目）" if facts.get("column_read_at") and link else ""
    return (f"{_name(event, facts)}的 {event.report_year} 年度政府信息公开工作年度报告：截止日期已过，未发布",
            [_deadline(facts), f"判定理由：{facts.get('reason') or ''}",
             *_tail(links, event, link and link + read)], link)


def _late(event, facts, links):
    link = _capture(links, facts.get("capture_id"))
    source = describe_date_source(facts.get("date_source"))
    return (f"{_name(event, facts)}的 {event.report_year} 年度政府信息公开工作年度报告逾期发布"
            f"（逾期 {facts.get('days_late')} 天）",
            [_deadline(facts), f"发布日期：{facts.get('publication_date')}" + (f"（{source}）" if source else ""),
             _report(facts), f"判定理由：{facts.get('reason') or ''}", *_tail(links, event, link)], link)


def _changed(event, facts, links):
    link = _capture(links, facts.get("to_capture_id"))
    before, after = facts.get("from_capture_id"), facts.get("to_capture_id")
    compare = links.diff(before, after) if all(isinstance(i, int) for i in (before, after)) else None
    return (f"{_name(event, facts)}的 {event.report_year} 年度政府信息公开工作年度报告发布后被修改",
            [_deadline(facts), _report(facts), f"改动：{facts.get('message') or ''}",
             f"前后对比：{compare}" if compare else None, *_tail(links, event, link, "修改后的存档")], link)


def _removed(event, facts, links):
    link = _capture(links, facts.get("failure_capture_id")) or _capture(links, facts.get("last_ok_capture_id"))
    last = _capture(links, facts.get("last_ok_capture_id"))
    return (f"{_name(event, facts)}的 {event.report_year} 年度政府信息公开工作年度报告已从网站删除",
            [_deadline(facts), _report(facts), f"情况：{facts.get('message') or ''}",
             f"最后存档的版本：{last}" if last and last != link else None, *_tail(links, event, link)], link)


def _backdated(event, facts, links):
    link = _capture(links, facts.get("listing_capture_id"))
    report = _capture(links, facts.get("capture_id"))
    return (f"{_name(event, facts)}的 {event.report_year} 年度政府信息公开工作年度报告疑似倒签"
            f"（自称 {facts.get('claimed_date')} 发布）",
            [_deadline(facts), _report(facts), f"证据说明：{facts.get('message') or ''}",
             f"报告存档：{report}" if report else None, *_tail(links, event, link, "证据（当时的栏目页）")], link)


def _column_failure(event, facts, links):
    link = _capture(links, facts.get("column_capture_id"))
    why = "、".join(PROBLEM_LABELS.get(problem, problem) for problem in facts.get("problems") or []) or "没有读到条目"
    urls = "、".join(facts.get("column_urls") or [])
    return (f"{_name(event, facts)}的年报栏目失效：本次抓取没有读到任何条目（{why}）",
            [f"栏目：{urls}" if urls else None,
             f"上次读到条目：{str(facts.get('last_good_read_at') or '')[:10]}（{facts.get('last_good_items')} 个条目，"
             f"运行 {facts.get('last_good_run_id')}）",
             f"本次运行：{links.run(facts['run_id'])}" if facts.get("run_id") else None,
             *_tail(links, event, link, "证据（本次读取的栏目页）")], link)


def _run_failed(event, facts, links):
    run_id = facts.get("run_id")
    link = links.run(run_id) if run_id and facts.get("recorded") else None
    return ("抓取运行失败" + (f"：运行 {run_id}" if run_id else ""),
            [f"原因：{facts.get('message') or '未知'}",
             # a run found dead: how many agencies it had is not known here
             f"涉及机关：{facts.get('agencies')} 个" if facts.get("agencies") is not None else None,
             f"运行记录：{link}" if link else None], link)


_WRITERS = {"missing": _missing, "late": _late, "changed": _changed, "removed": _removed, "backdated": _backdated,
            "column_failure": _column_failure, "run_failed": _run_failed}
