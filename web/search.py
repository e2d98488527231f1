"""Full-text search over report titles and texts (``queries.full_text_search``), with a snippet around the hit."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.catalog import queries
from storage.catalog.models import Agency
from web.context import BadInput, WebContext, checked_text
from web.summaries import report_summary

PAGE_SIZE = 20
MAX_QUERY = 200
MAX_TERMS = 10
SNIPPET_RADIUS = 60


def search_data(ctx: WebContext, q: str = "", page: int = 1) -> dict[str, Any]:
    query = checked_text(" ".join(q.split()), "搜索词", MAX_QUERY)
    terms = query.split()
    if len(terms) > MAX_TERMS:
        raise BadInput(f"搜索词过多（最多 {MAX_TERMS} 个，以空格分隔）")
    if page < 1:
        raise BadInput("页码须大于 0")
    if not terms:
        return {"q": "", "terms": [], "results": [], "page": {"number": 1, "has_previous": False, "has_next": False}}
    with ctx.catalog.reading() as session:
        found = queries.full_text_search(session, query, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        agency_ids = {report.agency_id for report in found if report.agency_id}
        names = dict(session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids))).all())
    results = []
    for report in found[:PAGE_SIZE]:
        results.append({**report_summary(report), "agency_name": names.get(report.agency_id),
                        "snippet": snippet(queries.report_text(report) or report.title or "", terms),
                        "title_parts": highlight(report.title or "", terms)})
    return {"q": query, "terms": terms, "results": results,
            "page": {"number": page, "has_previous": page > 1, "has_next": len(found) > PAGE_SIZE}}


def snippet(text: str, terms: list[str]) -> list[dict[str, Any]]:
    """A window of the text around the first hit, as parts ({text, hit}) the template marks (escaped)."""
    folded = _fold(text)
    positions = [folded.find(_fold(term)) for term in terms]
    hits = [position for position in positions if position >= 0]
    start = max(min(hits) - SNIPPET_RADIUS, 0) if hits else 0
    end = min(start + 2 * SNIPPET_RADIUS + max((len(term) for term in terms), default=0), len(text))
    window = " ".join(text[start:end].split())
    parts = highlight(window, terms)
    if start > 0:
        parts.insert(0, {"text": "…", "hit": False})
    if end < len(text):
        parts.append({"text": "…", "hit": False})
    return parts


def highlight(text: str, terms: list[str]) -> list[dict[str, Any]]:
    """``text`` cut into parts, the occurrences of any term marked as hits (case-insensitive)."""
    folded = _fold(text)
    marks = [False] * len(text)
    for term in terms:
        needle = _fold(term)
        if not needle:
            continue
        position = folded.find(needle)
        while position >= 0:
            for index in range(position, min(position + len(needle), len(text))):
                marks[index] = True
            position = folded.find(needle, position + 1)
    parts: list[dict[str, Any]] = []
    for char, hit in zip(text, marks):
        if parts and parts[-1]["hit"] == hit:
            parts[-1]["text"] += char
        else:
            parts.append({"text": char, "hit": hit})
    return parts


def _fold(text: str) -> str:
    """Lower case where that keeps every character in place (positions in the folded text are positions in text)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text
