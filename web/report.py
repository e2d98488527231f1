"""The report page: the parsed record with its date evidence, the standard tables with the cells of broken 勾稽
rules marked, the template check, the main text, and the captures it came from."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from monitor.labels import AGENCY_SOURCE_LABELS
from parsers import tables as standard
from storage.catalog import queries
from storage.catalog.models import Agency, Report, Verdict
from web.context import NotFound, WebContext, catalog_id
from web.labels import (TABLE_NAMES, format_label, kind_label, rule_label, source_label, status_label,
                        text_source_label)
from web.summaries import capture_summary, iso, report_summary

_WHERE = re.compile(r"^(?:正文 vs )?(表三|表四|统计表) (.+)$")


def report_data(ctx: WebContext, report_id: int) -> dict[str, Any]:
    catalog_id(report_id, "报告")
    with ctx.catalog.reading() as session:
        report = session.get(Report, report_id)
        if report is None:
            raise NotFound(f"没有编号为 {report_id} 的报告")
        agency = session.get(Agency, report.agency_id) if report.agency_id else None
        captures = queries.captures_of_url(session, report.url)
        verdicts = list(session.scalars(select(Verdict).where(Verdict.report_id == report.id)
                                        .order_by(Verdict.report_year)))
        history = [_earlier_parse(row) for row in reversed(queries.report_history(session, report.id))]
    record = report.record_json if isinstance(report.record_json, Mapping) else {}
    errors = [error for error in record.get("consistency_errors") or [] if isinstance(error, Mapping)]
    broken = broken_cells(errors)
    return {
        "report": report_summary(report),
        "agency": {"id": agency.id, "name": agency.name} if agency else None,
        "record": {
            "kind_reason": record.get("kind_reason"), "agency": record.get("agency"),
            "agency_source": record.get("agency_source"),
            "agency_source_label": AGENCY_SOURCE_LABELS.get(record.get("agency_source") or "",
                                                            record.get("agency_source")),
            "level": record.get("level"),
            "format_reason": record.get("format_reason"), "date_reason": record.get("date_reason"),
            "source_format": record.get("source_format"), "encoding": record.get("encoding"),
            "text_source": record.get("text_source") or "document",
            "text_source_label": text_source_label(record.get("text_source") or "document"),
            "warnings": list(record.get("warnings") or []), "catalog_fields": dict(record.get("catalog_fields") or {}),
            "attachments": [link for link in record.get("attachments") or [] if isinstance(link, Mapping)],
        },
        "dates": [_date_evidence(item, report.publication_date, report.date_source, verdicts)
                  for item in record.get("dates") or [] if isinstance(item, Mapping)],
        "tables": render_tables(record.get("tables") if isinstance(record.get("tables"), Mapping) else {}, broken,
                                queries.report_text(report)),
        "consistency_errors": [{**error, "rule_label": rule_label(error.get("rule"))} for error in errors],
        "template": record.get("template") if isinstance(record.get("template"), Mapping) else {},
        "text": queries.report_text(report),
        "parser_version": report.parser_version, "parsed_at": iso(report.parsed_at),
        "history": history,
        "captures": [capture_summary(capture) for capture in captures],
        # the verdict's own words: it may refuse the date the parser chose (a 落款 after it, 倒签)
        "verdicts": [{"report_year": verdict.report_year, "status": verdict.status,
                      "label": status_label(verdict.status, verdict.days_late), "deadline": iso(verdict.deadline),
                      "legal_basis": verdict.legal_basis, "agency_id": verdict.agency_id,
                      "publication_date": iso(verdict.publication_date), "date_source": verdict.date_source,
                      "reason": (verdict.evidence or {}).get("reason")} for verdict in verdicts],
    }


def _earlier_parse(row) -> dict[str, Any]:
    """What an older parser said about this document (kept by ``xxgk reparse`` when a newer one differed)."""
    record = row.record_json if isinstance(row.record_json, Mapping) else {}
    return {"parser_version": row.parser_version, "parsed_at": iso(row.parsed_at), "replaced_at": iso(row.replaced_at),
            "agency_id": row.agency_id, "kind_label": kind_label(record.get("kind")),
            "is_report": bool(record.get("is_report")), "report_year": record.get("report_year"),
            "agency": record.get("agency"), "format_label": format_label(record.get("format")),
            "publication_date": record.get("publication_date"), "date_source_label": source_label(record.get("date_source")),
            "consistency_errors": len(record.get("consistency_errors") or [])}


def _date_evidence(item: Mapping, chosen_date, chosen_source: str | None, verdicts=()) -> dict[str, Any]:
    """One date the parser found; ``chosen``: the parser's pick; ``refused``: a verdict on the report did not use
    it (it said why: a 落款 after it, listings that prove it false)."""
    chosen = chosen_date is not None and item.get("source") == chosen_source and item.get("date") == chosen_date.isoformat()
    refused = chosen and any(iso(verdict.publication_date) != item.get("date") for verdict in verdicts)
    return {"date": item.get("date"), "source": item.get("source"), "source_label": source_label(item.get("source")),
            "raw": item.get("raw"), "label": item.get("label"), "chosen": chosen, "refused": refused}


# ---------------------------------------------------------------- 勾稽 errors → cells

def broken_cells(errors: Iterable[Mapping]) -> dict[tuple[str, str, str], list[str]]:
    """(table, row, column) → the messages of the broken rules that cell takes part in."""
    cells: dict[tuple[str, str, str], list[str]] = {}
    for error in errors:
        message = str(error.get("message") or error.get("rule") or "")
        for cell in involved_cells(str(error.get("rule") or ""), str(error.get("where") or "")):
            cells.setdefault(cell, []).append(message)
    return cells


def involved_cells(rule: str, where: str) -> list[tuple[str, str, str]]:
    """The cells a rule adds up, read from its ``where`` (``表三 自然人列``, ``表三 本年新收行``, ``表四 行政复议``,
    ``正文 vs 表三 本年新收 总计``)."""
    match = _WHERE.match(where.strip())
    if not match:
        return []
    table, rest = match.groups()
    if rule == "t3.col.balance" and rest.endswith("列"):
        column = rest[:-1]
        rows = (standard.T3_NEW, standard.T3_CARRIED_IN, standard.T3_TOTAL, standard.T3_CARRIED_OVER)
        return [("table3", row, column) for row in rows]
    if rule == "t3.col.total" and rest.endswith("列"):
        column = rest[:-1]
        rows = dict.fromkeys(standard.TABLE3_RESULT_ROWS_2021 + standard.TABLE3_RESULT_ROWS_2019 + (standard.T3_TOTAL,))
        return [("table3", row, column) for row in rows]
    if rule == "t3.row.total" and rest.endswith("行"):
        return [("table3", rest[:-1], column) for column in standard.TABLE3_COLUMNS]
    if rule == "t4.group.total":
        return [("table4", rest, field) for field in standard.TABLE4_FIELDS]
    if rule == "text.vs.table":
        if table == "统计表":
            return [("old_stats", rest, "数值")]
        name, _, column = rest.rpartition(" ")
        if table == "表四" and name == "行政诉讼":
            return [("table4", group, column) for group in standard.TABLE4_GROUPS[1:]]
        return [("table3" if table == "表三" else "table4", name, column)]
    return []


# ---------------------------------------------------------------- tables

def render_tables(tables: Mapping, broken: dict[tuple[str, str, str], list[str]],
                  text: str = "") -> list[dict[str, Any]]:
    """The standard tables as header + rows of cells ({value, broken, messages}), in the prescribed order; rows
    without one (the old statistics table) in the order the report's text names them."""
    rendered = []
    if isinstance(tables.get("table2"), Mapping):
        rendered.append(_table2(tables["table2"], broken, text))
    if isinstance(tables.get("table3"), Mapping):
        rendered.append(_table3(tables["table3"], broken, text))
    if isinstance(tables.get("table4"), Mapping):
        table4 = tables["table4"]
        rendered.append(_grid("table4", list(standard.TABLE4_FIELDS),
                              _ordered(table4, standard.TABLE4_GROUPS, text), table4, broken))
    if isinstance(tables.get("old_stats"), Mapping):
        stats = {name: {"数值": value} for name, value in tables["old_stats"].items()}
        rendered.append(_grid("old_stats", ["数值"], _ordered(stats, (), text), stats, broken))
    return rendered


def _table2(table: Mapping, broken, text: str) -> dict[str, Any]:
    rows = table.get("rows") if isinstance(table.get("rows"), Mapping) else {}
    prescribed = standard.TABLE2_COLUMNS_2019 if table.get("columns") == "2019" else standard.TABLE2_COLUMNS_2021
    present = {column for cells in rows.values() if isinstance(cells, Mapping) for column in cells}
    columns = [column for column in prescribed if column in present] + sorted(present - set(prescribed))
    rendered = _grid("table2", columns, _ordered(rows, standard.TABLE2_ITEMS, text), rows, broken)
    rendered["variant"] = table.get("columns")
    return rendered


def _table3(table: Mapping, broken, text: str) -> dict[str, Any]:
    rows = table.get("rows") if isinstance(table.get("rows"), Mapping) else {}
    prescribed = standard.TABLE3_ROWS_2019 if standard.T3_OTHER_2019[0] in rows else standard.TABLE3_ROWS_2021
    columns = [column for column in table.get("columns") or standard.TABLE3_COLUMNS if isinstance(column, str)]
    return _grid("table3", columns, _ordered(rows, prescribed, text), rows, broken)


def _ordered(rows: Mapping, prescribed: Iterable[str], text: str) -> list[str]:
    """Row names in the prescribed order, then the others in the order the report's text has them (stored order
    cannot be used: PostgreSQL's JSONB does not keep it), then by name."""
    prescribed = list(prescribed)
    others = [name for name in rows if name not in prescribed]
    parts = {part for name in others for part in name.split("/")}
    return [name for name in prescribed if name in rows] + sorted(
        others, key=lambda name: _text_position(name, text, parts))


def _text_position(label: str, text: str, parts: set[str]) -> tuple[int, str]:
    """Where the table names ``label``: its last mention (the statistics table follows the prose that may mention
    the same indicator); a nested label ``总项/分项`` is the 分项 after its 总项. A mention inside a longer label
    (同意公开答复数 in 不同意公开答复数) does not count."""
    position = -1
    for index, part in enumerate(label.split("/")):
        longer = [other for other in parts if part in other and other != part]
        found = [at for at in _occurrences(text, part)
                 if not any(text.startswith(other, at - other.index(part)) for other in longer if other.index(part) <= at)]
        found = found[-1:] if index == 0 else [at for at in found if at > position][:1]
        if not found:
            return len(text) + 1, label
        position = found[0]
    return position, label


def _occurrences(text: str, part: str) -> list[int]:
    found, at = [], text.find(part)
    while at >= 0 and part:
        found.append(at)
        at = text.find(part, at + 1)
    return found


def _grid(key: str, columns: list[str], row_names: list[str], rows: Mapping, broken) -> dict[str, Any]:
    body = []
    for name in row_names:
        values = rows.get(name) if isinstance(rows.get(name), Mapping) else {}
        cells = []
        for column in columns:
            messages = broken.get((key, name, column), [])
            cells.append({"column": column, "value": values.get(column), "broken": bool(messages),
                          "messages": messages})
        body.append({"label": name, "cells": cells, "broken": any(cell["broken"] for cell in cells)})
    return {"key": key, "name": TABLE_NAMES.get(key, key), "columns": columns, "rows": body}
