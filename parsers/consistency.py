"""Checks on a parsed report: the 勾稽 rules of its tables, body-text figures against the tables, and the template.

Every check reports what it found and never raises: a rule whose cells are missing (None) is skipped, not broken.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

from parsers.record import ConsistencyError, TemplateCheck
from parsers.tables import (
    T3_CARRIED_IN, T3_CARRIED_OVER, T3_NEW, T3_OTHER_2019, T3_TOTAL, TABLE3_APPLICANT_COLUMNS, TABLE3_COLUMNS,
    TABLE3_RESULT_ROWS_2019, TABLE3_RESULT_ROWS_2021, TABLE4_FIELDS, TABLE4_GROUPS,
)

_TOLERANCE = 1e-6  # figures are counts; this only absorbs float noise

# ------------------------------------------------------------------ 勾稽 rules


def check_tables(tables: dict) -> list[ConsistencyError]:
    """Broken 勾稽 rules of tables 3 and 4 (DOMAIN.md §2), in a stable order: by rule, then column/row/group."""
    tables = tables if isinstance(tables, dict) else {}
    errors: list[ConsistencyError] = []
    rows = _table3_rows(tables.get("table3"))
    if rows:
        errors += _table3_column_balance(rows)
        errors += _table3_column_total(rows)
        errors += _table3_row_total(rows)
    errors += _table4_group_total(tables.get("table4"))
    return errors


def _table3_rows(table3: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(table3, dict) or not isinstance(table3.get("rows"), dict):
        return {}
    return {name: row for name, row in table3["rows"].items() if isinstance(row, dict)}


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _sum(values: list[Any]) -> int | float | None:
    """The sum, or None when any input is missing: a rule with missing inputs cannot be judged."""
    numbers = [_number(value) for value in values]
    if any(number is None for number in numbers):
        return None
    return sum(numbers)


def _cell(rows: dict[str, dict[str, Any]], row: str, column: str) -> int | float | None:
    return _number((rows.get(row) or {}).get(column))


def _differs(expected: int | float, found: int | float) -> bool:
    return abs(expected - found) > _TOLERANCE


def _table3_column_balance(rows: dict[str, dict[str, Any]]) -> list[ConsistencyError]:
    errors = []
    for column in TABLE3_COLUMNS:
        expected = _sum([_cell(rows, T3_NEW, column), _cell(rows, T3_CARRIED_IN, column)])
        found = _sum([_cell(rows, T3_TOTAL, column), _cell(rows, T3_CARRIED_OVER, column)])
        if expected is None or found is None or not _differs(expected, found):
            continue
        errors.append(ConsistencyError(
            rule="t3.col.balance", where=f"表三 {column}列", expected=expected, found=found,
            message=f"表三{column}列：本年新收与上年结转之和为{expected}，办理结果总计与结转下年度继续办理之和却为{found}，两者应相等。",
        ))
    return errors


def _table3_column_total(rows: dict[str, dict[str, Any]]) -> list[ConsistencyError]:
    result_rows = TABLE3_RESULT_ROWS_2019 if T3_OTHER_2019[0] in rows else TABLE3_RESULT_ROWS_2021
    errors = []
    for column in TABLE3_COLUMNS:
        expected = _sum([_cell(rows, name, column) for name in result_rows])
        found = _cell(rows, T3_TOTAL, column)
        if expected is None or found is None or not _differs(expected, found):
            continue
        errors.append(ConsistencyError(
            rule="t3.col.total", where=f"表三 {column}列", expected=expected, found=found,
            message=f"表三{column}列：（七）总计为{found}，但予以公开、部分公开、不予公开、无法提供、不予处理、其他处理各项之和为{expected}。",
        ))
    return errors


def _table3_row_total(rows: dict[str, dict[str, Any]]) -> list[ConsistencyError]:
    errors = []
    for name, row in rows.items():
        expected = _sum([_number(row.get(column)) for column in TABLE3_APPLICANT_COLUMNS])
        found = _number(row.get("总计"))
        if expected is None or found is None or not _differs(expected, found):
            continue
        errors.append(ConsistencyError(
            rule="t3.row.total", where=f"表三 {name}行", expected=expected, found=found,
            message=f"表三{name}行：总计为{found}，但自然人与五类法人或其他组织之和为{expected}。",
        ))
    return errors


def _table4_group_total(table4: Any) -> list[ConsistencyError]:
    if not isinstance(table4, dict):
        return []
    errors = []
    for group in TABLE4_GROUPS:
        cells = table4.get(group)
        if not isinstance(cells, dict):
            continue
        expected = _sum([_number(cells.get(field)) for field in TABLE4_FIELDS[:4]])
        found = _number(cells.get("总计"))
        if expected is None or found is None or not _differs(expected, found):
            continue
        errors.append(ConsistencyError(
            rule="t4.group.total", where=f"表四 {group}", expected=expected, found=found,
            message=f"表四{group}：总计为{found}，但结果维持、结果纠正、其他结果、尚未审结之和为{expected}。",
        ))
    return errors


# ------------------------------------------------------------------ body text against the tables

_NUM = r"(\d[\d,，]*)"
_RECEIVED_PATTERNS = (
    # 收到政府信息公开申请21件 / 受理政府信息公开申请 21 件 / 共收到依申请公开申请2件
    re.compile(r"(?:收到|受理|接收)(?:政府信息公开|依申请公开)(?:政府信息)?(?:的)?申请(?:共|合计)?" + _NUM + r"(?:件|条|个|份|宗)"),
    # 共收到2条依申请公开政府信息 / 收到2件政府信息公开申请
    re.compile(r"(?:收到|受理|接收)" + _NUM + r"(?:件|条|个|份|宗)(?:依申请公开|政府信息公开申请)"),
)
_REVIEW_PATTERN = re.compile(r"行政复议(?:案件|申请)?(?:共)?" + _NUM + r"(?:件|起|宗)")
_LAWSUIT_PATTERN = re.compile(r"行政诉讼(?:案件)?(?:共)?" + _NUM + r"(?:件|起|宗)")
_ACTIVE_PATTERN = re.compile(r"主动公开(?:各类)?(?:政府)?信息(?:共|合计)?" + _NUM + r"条")


def check_text_against_tables(text: str, tables: dict) -> list[ConsistencyError]:
    """Figures the body text states that contradict the tables. Only unambiguous phrasings are read, and a figure
    is reported only when none of the text's statements of it agrees with the table."""
    tables = tables if isinstance(tables, dict) else {}
    body = _compact(text)
    if not body:
        return []
    errors = []
    rows = _table3_rows(tables.get("table3"))
    received = _cell(rows, T3_NEW, "总计") if rows else None
    error = _contradiction(body, _RECEIVED_PATTERNS, received, "表三 本年新收 总计",
                           "正文称收到政府信息公开申请{stated}件，表三本年新收总计为{table}件。")
    if error:
        errors.append(error)
    table4 = tables.get("table4") if isinstance(tables.get("table4"), dict) else {}
    review = _number((table4.get(TABLE4_GROUPS[0]) or {}).get("总计")) if table4 else None
    error = _contradiction(body, (_REVIEW_PATTERN,), review, "表四 行政复议 总计",
                           "正文称行政复议{stated}件，表四行政复议总计为{table}件。")
    if error:
        errors.append(error)
    lawsuits = _sum([(table4.get(group) or {}).get("总计") for group in TABLE4_GROUPS[1:]]) if table4 else None
    error = _contradiction(body, (_LAWSUIT_PATTERN,), lawsuits, "表四 行政诉讼 总计",
                           "正文称行政诉讼{stated}件，表四行政诉讼（未经复议直接起诉与复议后起诉）总计为{table}件。")
    if error:
        errors.append(error)
    stats = tables.get("old_stats") if isinstance(tables.get("old_stats"), dict) else {}
    active = _number(stats.get("主动公开政府信息数")) if stats else None
    error = _contradiction(body, (_ACTIVE_PATTERN,), active, "统计表 主动公开政府信息数",
                           "正文称主动公开政府信息{stated}条，统计表主动公开政府信息数为{table}条。")
    if error:
        errors.append(error)
    return errors


def _compact(text: str) -> str:
    """One line without spaces: PDF text breaks sentences across lines and spaces out numbers ("受理 21 件")."""
    return re.sub(r"[\s\u3000\xa0]+", "", unicodedata.normalize("NFKC", text or ""))


def _contradiction(body: str, patterns, table_value, where: str, template: str) -> ConsistencyError | None:
    if table_value is None:
        return None
    stated = []
    for pattern in patterns:
        for match in pattern.finditer(body):
            stated.append(int(match.group(1).replace(",", "").replace("，", "")))
    if not stated or any(not _differs(value, table_value) for value in stated):
        return None
    return ConsistencyError(
        rule="text.vs.table", where=f"正文 vs {where}", expected=table_value, found=stated[0],
        message=template.format(stated=stated[0], table=table_value),
    )


# ------------------------------------------------------------------ template (2019 / 2021 formats)

TEMPLATE_SECTIONS = (
    ("一、总体情况", r"总体情况"),
    ("二、主动公开政府信息情况", r"主动公开(?:政府信息)?(?:的)?情况"),
    ("三、收到和处理政府信息公开申请情况", r"收到和处理(?:政府)?信息公开申请(?:的)?情况"),
    ("四、政府信息公开行政复议、行政诉讼情况", r"(?:政府信息公开)?(?:行政复议[、,，和及与]*行政诉讼|行政复议和诉讼)(?:的)?情况"),
    ("五、存在的主要问题及改进情况", r"存在的?主要问题(?:及|和|与|以及)?(?:改进|整改)(?:情况|措施)"),
    ("六、其他需要报告的事项", r"其他需要报告的?事项"),
)
# Only top-level numbering: "（一）主动公开情况" is a sub-heading of 总体情况, not section 二.
_SECTION_NUMBERING = r"(?:[一二三四五六七八九十]+[、.．])"
_HEADING_MAX = 40  # a heading is a short line; the preamble lists the same words in one long sentence
_NOTICE = re.compile(r"国办公开办函\s*[〔\[﹝【(（]\s*(\d{4})\s*[〕\]﹞】)）]\s*(\d+)\s*号")
_PERIOD = re.compile(r"统计(?:期限|时限|期间|时间)|(?:从|自)\d{4}年1月1日(?:起)?(?:到|至)(?:\d{4}年)?12月31日")


def check_template(text: str, format: str) -> TemplateCheck:
    """Sections present/missing (2019/2021 formats only), the 统计期限 statement and the format notice cited."""
    check = TemplateCheck(
        has_statistics_period=bool(_PERIOD.search(_compact(text))),
        cites_format_notice=_format_notice(text),
    )
    if format not in ("2019", "2021"):
        return check
    headings = _heading_lines(text)
    for name, body in TEMPLATE_SECTIONS:
        pattern = re.compile(rf"^{_SECTION_NUMBERING}?{body}")
        if any(pattern.match(line) for line in headings):
            check.sections_present.append(name)
        else:
            check.sections_missing.append(name)
    return check


def _heading_lines(text: str) -> list[str]:
    lines = []
    for line in (text or "").splitlines():
        compact = _compact(line)
        if compact and len(compact) <= _HEADING_MAX:
            lines.append(compact)
    return lines


def _format_notice(text: str) -> str | None:
    match = _NOTICE.search(unicodedata.normalize("NFKC", text or ""))  # NFKC also turns ﹝﹞ into 〔〕
    if not match:
        return None
    return f"国办公开办函〔{match.group(1)}〕{match.group(2)}号"
