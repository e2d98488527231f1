"""Chinese names of the codes verdicts and reports carry, one place for the CLI tables, the web UI and exports."""
from __future__ import annotations

from monitor.flags import FLAG_LABELS, MOVED_LABELS
from parsers.dates import SOURCE_NAMES

__all__ = ["STATUS_LABELS", "LEVEL_LABELS", "LEVEL_NAMES", "FLAG_LABELS", "MOVED_LABELS", "FIELD_LABELS", "KIND_LABELS",
           "FORMAT_LABELS",
           "SOURCE_NAMES", "LISTED_BY_LABELS", "AGENCY_SOURCE_LABELS", "RUN_STATUS_NAMES",
           "FETCH_ERROR_NAMES", "describe_date_source", "reason_beside_status",
           "status_label"]

STATUS_LABELS = {"on_time": "按时", "late": "逾期", "missing": "未发布", "pending": "未到期",
                 "undetermined": "无法判断"}
# Two maps on purpose: LEVEL_LABELS is the short cell of a table column (层级), LEVEL_NAMES the full name a
# sentence uses ("没有适用于 2024 年度乡镇人民政府/街道办事处的期限规则"), as the regulation names the level.
LEVEL_LABELS = {"department": "部门", "government": "人民政府", "township": "乡镇街道"}
LEVEL_NAMES = {"department": "政府部门", "government": "人民政府", "township": "乡镇人民政府/街道办事处"}
FIELD_LABELS = {
    "agency_id": "机关代码", "agency": "机关", "level": "层级", "region": "行政区划", "report_year": "报告年度",
    "status": "状态", "deadline": "截止日期", "legal_basis": "法律依据", "publication_date": "发布日期",
    "date_source": "日期依据", "first_seen": "首次抓取", "days_late": "逾期天数", "report_id": "报告编号",
    "report_url": "报告网址", "title": "标题", "signing_date": "落款日期", "format": "格式",
    "consistency_errors": "勾稽错误", "flags": "标记", "capture_id": "捕获编号", "permalink": "存档链接",
    "reason": "判定理由", "computed_at": "计算时间", "chosen": "用于判定", "undetermined_flags": "无法检查的标记",
    "as_of": "判定日期",
}

KIND_LABELS = {
    "report": "年度报告",
    "notice": "通知（非报告）",
    "format_document": "格式文件/模板（非报告）",
    "summary_of_many": "多个机关的汇总（非本机关报告）",
    "error_page": "网站错误页（页面不存在等）",
    "blank_page": "空白页、验证页或繁忙提示（非报告）",
    "report_news": "关于年度报告的新闻、会议或说明（非报告）",
    "other": "其他页面（非报告）",
}
# a crawl run's end (storage.catalog.models.RUN_STATUSES)
RUN_STATUS_NAMES = {"running": "运行中", "finished": "已完成", "failed": "失败", "interrupted": "已中断",
                    "skipped": "已跳过"}
# a fetch error's kind (storage.catalog.models.FETCH_ERROR_KINDS)
FETCH_ERROR_NAMES = {
    "dns": "域名解析失败",
    "timeout": "超时",
    "tls": "TLS/证书错误",
    "reset": "连接失败或中断",   # refused, reset or cut short: the message says which
    "http": "HTTP 错误",
    "robots": "robots.txt 禁止或无法取得",   # a robots.txt answering 5xx forbids the site (RFC 9309)
    "size": "超出大小限制",
    "redirect_loop": "重定向循环",
    "other": "其他错误",
}
# where the parser read the agency's name (parsers.record.ReportRecord.agency_source)
AGENCY_SOURCE_LABELS = {
    "title": "标题", "填报单位": "填报单位", "signature": "落款", "text": "正文", "meta": "网页元数据",
    "catalog_box": "信息公开目录",
}
# how a listing entry the archive could not get names the year (parsers.classify.listed_report_year): the evidence
# "listed_not_archived" of a year left 无法判断 carries it as ``named_by``
LISTED_BY_LABELS = {
    "title": "标题写明该年度",
    "cut": "标题被截断，可能是该年度的报告",
    "address": "标题没有年份，网址写明了该年度",
    "date": "标题没有年份，栏目列出它的日期晚于该年度",
    "undated": "标题没有年份，栏目也没有写日期，可能是此前任一年度的报告",
    "year": "栏目中只写年份的条目，可能是该年度的报告或其分栏目",
}
TEXT_SOURCE_LABELS = {
    "document": "文档自身文字",
    "ocr": "OCR 识别（扫描件）",
    "document+ocr": "文档文字，扫描页由 OCR 识别",
}

FORMAT_LABELS = {
    "2021": "2021年版格式（国办公开办函〔2021〕30号）",
    "2019": "2019年版格式（国办公开办函〔2019〕60号）",
    "old": "旧版格式（2018年及以前）",
    "work_summary": "政务公开工作总结",
    "unknown": "未能识别",
}


def describe_date_source(source: str | None) -> str:
    return SOURCE_NAMES.get(source, source) if source else ""


def reason_beside_status(reason: str | None) -> str | None:
    """A 无法判断 reason shown where its status is already named (a badge, a heading): without saying 无法判断 twice;
    the exports and the stored evidence keep it whole."""
    return reason.removeprefix(f"{STATUS_LABELS['undetermined']}：") if isinstance(reason, str) else reason


def status_label(status: str | None, days_late: int | None = None) -> str:
    """"逾期 12 天" for a late verdict, the plain status name otherwise."""
    if not status:
        return ""
    name = STATUS_LABELS.get(status, status)
    if status == "late" and days_late:
        return f"{name} {days_late} 天"
    return name
