"""Human-readable rendering of one ``ReportRecord`` for the terminal (``xxgk parse``)."""
from __future__ import annotations

from monitor.labels import AGENCY_SOURCE_LABELS, FORMAT_LABELS, KIND_LABELS, LEVEL_NAMES, TEXT_SOURCE_LABELS
from parsers.dates import SOURCE_NAMES as SOURCE_LABELS
from parsers.record import ReportRecord


def render_record_text(record: ReportRecord) -> str:
    lines: list[str] = []
    add = lines.append
    if record.error:
        add(f"错误：{record.error}")
        return "\n".join(lines) + "\n"
    add(f"标题：{record.title or '（无）'}")
    add(f"类型：{KIND_LABELS.get(record.kind, record.kind)}" + (f"（{record.kind_reason}）" if record.kind_reason else ""))
    if record.needs_ocr:
        add("需要 OCR：文档没有文字层")
    elif record.text_source != "document":
        add(f"正文来源：{TEXT_SOURCE_LABELS.get(record.text_source, record.text_source)}（识别结果可能有误字，表格数字请核对原件）")
    source = AGENCY_SOURCE_LABELS.get(record.agency_source or "", record.agency_source)
    add(f"机关：{record.agency or '（未识别）'}" + (f"  [来源：{source}]" if source else ""))
    if record.level:
        add(f"层级：{LEVEL_NAMES.get(record.level, record.level)}")
    add(f"报告年度：{record.report_year or '（未识别）'}")
    add(f"格式：{FORMAT_LABELS.get(record.format, record.format)}" + (f"（{record.format_reason}）" if record.format_reason else ""))
    add(f"落款日期：{_iso(record.signing_date)}")
    add(f"发布日期：{_iso(record.publication_date)}"
        + (f"  [依据：{SOURCE_LABELS.get(record.date_source or '', record.date_source)}]" if record.date_source else ""))
    if record.date_reason:
        add(f"  {record.date_reason}")
    if record.dates:
        add("日期证据：")
        for evidence in record.dates:
            label = f" {evidence.label}" if evidence.label else ""
            add(f"  {evidence.value.isoformat()}  {SOURCE_LABELS.get(evidence.source, evidence.source)}{label}  「{evidence.raw}」")
    if record.tables:
        add("表格：" + "、".join(_table_names(record.tables)))
    if record.is_report:
        if record.consistency_errors:
            add(f"勾稽关系错误：{len(record.consistency_errors)} 处")
            for error in record.consistency_errors:
                add(f"  {error.where}：{error.message}")
        else:
            add("勾稽关系：全部成立" if record.tables else "勾稽关系：无可检查的表格")
        if record.template.sections_missing:
            add("缺少章节：" + "、".join(record.template.sections_missing))
    if record.attachments:
        add("附件：")
        for link in record.attachments:
            add(f"  [{link.kind}] {link.text}  {link.url}")
    for warning in record.warnings:
        add(f"注意：{warning}")
    return "\n".join(lines) + "\n"


_TABLE_NAMES = {"table2": "表二 主动公开", "table3": "表三 依申请公开", "table4": "表四 复议诉讼", "old_stats": "统计表（旧版）"}


def _table_names(tables: dict) -> list[str]:
    return [_TABLE_NAMES.get(key, key) for key in tables]


def _iso(value) -> str:
    return value.isoformat() if value else "（无）"
