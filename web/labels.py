"""Chinese names of the codes the catalog stores, for pages and exports (the JSON API keeps the codes as well).

Names other modules already define are imported from there, so the web, the CLI and the exports say the same.
"""
from __future__ import annotations

from monitor.labels import (FETCH_ERROR_NAMES, FIELD_LABELS, FLAG_LABELS, FORMAT_LABELS, KIND_LABELS, LEVEL_LABELS,
                            RUN_STATUS_NAMES, SOURCE_NAMES, STATUS_LABELS, TEXT_SOURCE_LABELS, status_label)

__all__ = ["FIELD_LABELS", "FLAG_LABELS", "LEVEL_LABELS", "STATUS_LABELS", "RECORD_TYPE_NAMES", "RUN_STATUS_NAMES",
           "FETCH_ERROR_NAMES", "RULE_NAMES", "TABLE_NAMES", "status_label", "level_label", "source_label",
           "kind_label", "format_label", "text_source_label", "flag_label", "rule_label", "error_kind_label", "record_type_label",
           "run_status_label", "SEGMENT_STATE_NAMES", "segment_state_label", "HEADER_DECODING_NAMES"]

RECORD_TYPE_NAMES = {"response": "响应", "revisit": "重复内容（revisit）", "resource": "资源"}
# a WARC segment's state (storage.catalog.models.SEGMENT_STATES)
SEGMENT_STATE_NAMES = {"open": "写入中", "sealed": "已封存，待上传", "uploaded": "已上传"}
# how the capture page shows an archived header value that is not plain ASCII (web.captures.shown_bytes)
HEADER_DECODING_NAMES = {"utf-8": "按 UTF-8 解码显示", "gb18030": "按 GB18030 解码显示",
                         "escaped": "无法按 UTF-8 或 GB18030 解码：非 ASCII 字节以 \\xNN 显示"}

RULE_NAMES = {
    "t3.col.balance": "表三列平衡：本年新收 + 上年结转 = 办理结果总计 + 结转下年度继续办理",
    "t3.col.total": "表三列合计：（七）总计 = 各项办理结果之和",
    "t3.row.total": "表三行合计：总计 = 自然人 + 五类法人或其他组织",
    "t4.group.total": "表四合计：总计 = 结果维持 + 结果纠正 + 其他结果 + 尚未审结",
    "text.vs.table": "正文数字与表格不符",
}

TABLE_NAMES = {
    "table2": "表二 主动公开政府信息情况",
    "table3": "表三 收到和处理政府信息公开申请情况",
    "table4": "表四 政府信息公开行政复议、行政诉讼情况",
    "old_stats": "政府信息公开情况统计表（旧版）",
}


def table_short_name(code: str | None) -> str:
    """"表二" for "table2" (a changed cell's table), the code itself for anything unknown."""
    name = TABLE_NAMES.get(code or "")
    return name.split()[0] if name else (code or "")


def check_label(name: str) -> str:
    """What a note on the checks is about: a flag's name ("疑似雷同"), or the archive's facts."""
    return "存档事实" if name == "archive" else flag_label(name)


def _named(names: dict[str, str], code: str | None) -> str:
    return names.get(code or "", code or "")


def level_label(level: str | None) -> str:
    return _named(LEVEL_LABELS, level)


def source_label(source: str | None) -> str:
    return _named(SOURCE_NAMES, source)


def kind_label(kind: str | None) -> str:
    return _named(KIND_LABELS, kind)


def format_label(fmt: str | None) -> str:
    return _named(FORMAT_LABELS, fmt)


def text_source_label(source: str | None) -> str:
    return _named(TEXT_SOURCE_LABELS, source)


def flag_label(flag: str | None) -> str:
    return _named(FLAG_LABELS, flag)


def rule_label(rule: str | None) -> str:
    return _named(RULE_NAMES, rule)


def error_kind_label(kind: str | None) -> str:
    return _named(FETCH_ERROR_NAMES, kind)


def record_type_label(record_type: str | None) -> str:
    return _named(RECORD_TYPE_NAMES, record_type)


def run_status_label(status: str | None) -> str:
    return _named(RUN_STATUS_NAMES, status)


def segment_state_label(state: str | None) -> str:
    return _named(SEGMENT_STATE_NAMES, state)
