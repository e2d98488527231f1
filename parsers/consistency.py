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

# A figure is compared only when its sentence states the quantity the table holds: this agency's count for the year.
_SENTENCE_END = re.compile(r"[。；;！!？?]")
# 截至2018年底累计… / 本区到年底累计… / 历年… / 2022年上半年…: a running total or another period, not the year's
# count, unless the sentence turns back to the year after it ("…5928条，其中，本年度新增…2110条").
_OTHER_PERIOD = re.compile(r"截至|截止|至今|迄今|以来|历年|年底|年末|月底|起累计|上半年|下半年|季度")
_BACK_TO_YEAR = re.compile(r"(?:本年度?|全年|当年|今年)新增")
# "2022年，我局…累计主动公开政府信息164条" / 全年累计: 累计 within the year is the year's count.
_YEAR_SCOPE = re.compile(r"(?:\d{4}年度?|全年|本年度?|今年|年内).*累计")
# 区政府办代表区政府受理…17件: what one office handled on the government's behalf, not the whole table.
_ON_BEHALF = re.compile(r"代表")
# 在局官方网站主动公开信息126条: one channel's count, another row of the old statistics table.
_CHANNEL = re.compile(r"网站|平台|微博|微信|公众号|新媒体|客户端|公报|公开栏|公告栏")
# "因政府信息公开被申请行政复议2件": a review/lawsuit figure is about 政府信息公开 when that word leads to it with no
# other figure between, other review/lawsuit figures of the same list excepted ("…行政复议0件，行政诉讼0件").
_DISCLOSURE = re.compile(r"信息公开|依申请公开")
_REVIEW_OR_LAWSUIT_FIGURE = re.compile(r"(?:复议|诉讼)\D{0,6}\d[\d,，]*(?:件|起|宗)")
_CARRIED_IN = re.compile(r"结转(?!下|至下|到下)")


def check_text_against_tables(text: str, tables: dict) -> list[ConsistencyError]:
    """Figures the body text states that contradict the tables. Only unambiguous phrasings are read; a figure its
    sentence qualifies as another quantity (a running total, one office's part, review work not about 政府信息公开)
    is not compared; a figure is reported only when none of the text's statements of it agrees with the table."""
    tables = tables if isinstance(tables, dict) else {}
    body = _compact(text)
    if not body:
        return []
    rows = _table3_rows(tables.get("table3"))
    table4 = tables.get("table4") if isinstance(tables.get("table4"), dict) else {}
    stats = tables.get("old_stats") if isinstance(tables.get("old_stats"), dict) else {}
    review = _number((table4.get(TABLE4_GROUPS[0]) or {}).get("总计")) if table4 else None
    lawsuits = _sum([(table4.get(group) or {}).get("总计") for group in TABLE4_GROUPS[1:]]) if table4 else None
    active = _number(stats.get("主动公开政府信息数")) if stats else None
    checks = (
        (_RECEIVED_PATTERNS, _received_values(rows), "表三 本年新收 总计", _received_message),
        ((_REVIEW_PATTERN,), _disclosure_values(review), "表四 行政复议 总计",
         lambda stated, table: f"正文称行政复议{stated}件，表四行政复议总计为{table[0]}件。"),
        ((_LAWSUIT_PATTERN,), _disclosure_values(lawsuits), "表四 行政诉讼 总计",
         lambda stated, table: f"正文称行政诉讼{stated}件，表四行政诉讼（未经复议直接起诉与复议后起诉）总计为{table[0]}件。"),
        ((_ACTIVE_PATTERN,), _active_values(active), "统计表 主动公开政府信息数",
         lambda stated, table: f"正文称主动公开政府信息{stated}条，统计表主动公开政府信息数为{table[0]}条。"),
    )
    errors = [_contradiction(body, *check) for check in checks]
    return [error for error in errors if error]


def _compact(text: str) -> str:
    """One line without spaces: PDF text breaks sentences across lines and spaces out numbers ("受理 21 件")."""
    return re.sub(r"[\s\u3000\xa0]+", "", unicodedata.normalize("NFKC", text or ""))


def _sentence_before(body: str, match: re.Match) -> str:
    """The figure's sentence up to the figure's phrase: where its qualifiers stand."""
    starts = [end.end() for end in _SENTENCE_END.finditer(body, 0, match.start())]
    return body[starts[-1] if starts else 0:match.start()]


def _sentence_after(body: str, match: re.Match) -> str:
    end = _SENTENCE_END.search(body, match.end())
    return body[match.end():end.start() if end else len(body)]


def _not_the_years_own(before: str) -> bool:
    """A running total or another period, or a part one office handled on another's behalf (its own clause)."""
    back = list(_BACK_TO_YEAR.finditer(before))
    since = before[back[-1].start():] if back else before
    if _OTHER_PERIOD.search(since) or ("累计" in since and not _YEAR_SCOPE.search(since)):
        return True
    return bool(_ON_BEHALF.search(re.split(r"[，,：:]", before)[-1]))


def _received_values(rows: dict):
    """本年新收; a sentence that also speaks of 上年结转 ("14629件（含上年结转560件）") may state 新收 + 结转."""
    new = _cell(rows, T3_NEW, "总计") if rows else None
    carried = _cell(rows, T3_CARRIED_IN, "总计") if rows else None

    def values(body: str, match: re.Match) -> tuple | None:
        if new is None or _not_the_years_own(_sentence_before(body, match)):
            return None
        if not _CARRIED_IN.search(_sentence_after(body, match)):
            return (new,)
        return None if carried is None else (new, new + carried)
    return values


def _received_message(stated, table: tuple) -> str:
    if len(table) == 1:
        return f"正文称收到政府信息公开申请{stated}件，表三本年新收总计为{table[0]}件。"
    return f"正文称收到政府信息公开申请{stated}件（并提及上年结转），表三本年新收总计为{table[0]}件，加上年结转为{table[1]}件。"


def _disclosure_values(table_value):
    """A 行政复议/行政诉讼 figure is read only where the sentence ties it to 政府信息公开: "全年办理行政复议案件1236件"
    is the agency's review work in general, which table 4 does not count."""
    def values(body: str, match: re.Match) -> tuple | None:
        before = _sentence_before(body, match)
        if table_value is None or _not_the_years_own(before):
            return None
        words = list(_DISCLOSURE.finditer(before))
        if not words or re.search(r"\d", _REVIEW_OR_LAWSUIT_FIGURE.sub("", before[words[-1].end():])):
            return None
        return (table_value,)
    return values


def _active_values(table_value):
    def values(body: str, match: re.Match) -> tuple | None:
        before = _sentence_before(body, match)
        if table_value is None or _not_the_years_own(before) or _CHANNEL.search(before):
            return None
        return (table_value,)
    return values


def _contradiction(body: str, patterns, values, where: str, message) -> ConsistencyError | None:
    """The first comparable statement, unless some comparable statement agrees with one of its table values."""
    stated = []
    for pattern in patterns:
        for match in pattern.finditer(body):
            table = values(body, match)
            if table is not None:
                stated.append((int(match.group(1).replace(",", "").replace("，", "")), table))
    if not stated or any(not _differs(value, option) for value, table in stated for option in table):
        return None
    value, table = stated[0]
    return ConsistencyError(rule="text.vs.table", where=f"正文 vs {where}", expected=table[0], found=value,
                            message=message(value, table))


# ------------------------------------------------------------------ template (2019 / 2021 formats)

TEMPLATE_SECTIONS = (
    ("一、总体情况", r"总体情况"),
    ("二、主动公开政府信息情况", r"主动公开(?:政府信息)?(?:的)?情况"),
    ("三、收到和处理政府信息公开申请情况", r"收到和处理(?:政府)?信息公开申请(?:的)?情况"),
    # 政府信息公开行政复议、行政诉讼情况 / 因政府信息公开工作被申请行政复议、提起行政诉讼情况 (上海) / …复议、提起诉讼的情况
    ("四、政府信息公开行政复议、行政诉讼情况",
     r"(?:因)?(?:政府)?(?:信息公开)?(?:工作)?(?:相关|类)?(?:被)?(?:申请)?(?:行政)?复议[、,，和及与]*(?:被)?(?:提起)?(?:行政)?诉讼(?:的)?情况"),
    # 存在的主要问题及改进情况 / 存在问题及改进情况 / 政府信息公开工作(中)存在(的)(主要)问题和改进措施
    ("五、存在的主要问题及改进情况",
     r"(?:政府)?(?:信息公开)?(?:工作)?(?:中)?存在的?(?:主要)?问题(?:及|和|与|以及)?(?:改进|整改)(?:情况|措施)"),
    ("六、其他需要报告的事项", r"其他需要报告的?事项"),
)
# Only top-level numbering: "（一）主动公开情况" is a sub-heading of 总体情况, not section 二.
_SECTION_NUMBERING = r"(?:[一二三四五六七八九十]+[、.．])"
_HEADING_MAX = 40  # a heading is a short line; the preamble lists the same words in one long sentence
# …but a PDF wraps that sentence: a line "行政复议、提起行政诉讼情况、政府信息公开工作存在的…" goes on listing.
_LIST_GOES_ON = r"(?![、，,及和以])"
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
        pattern = re.compile(rf"^{_SECTION_NUMBERING}?{body}{_LIST_GOES_ON}")
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
