"""The data every other part of xxgk-watch imports from the parsers.

Plain dataclasses: the parsers build them, the catalog stores them, the CLI and web show them.
``ReportRecord.to_json()`` is the stable JSON shape of ``xxgk parse --json``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from parsers.headers import header_value

# Where a date came from. Ordered roughly from strongest to weakest evidence of *publication*.
DATE_SOURCES = (
    "meta_pubdate",        # <meta name="PubDate"> (government page-tag convention)
    "catalog_box",         # 信息公开目录 box above the article: 公开日期 / 发布日期
    "page_label",          # visible 发布时间：/发布日期：/时间：/日期： near the title
    "listing",             # the date beside the link on the listing page (given by the crawler)
    "url",                 # TRS t20230130_, Hanweb art/2024/1/22/, /c/2026-01-15/ ...
    "http_last_modified",  # Last-Modified response header
    "pdf_metadata",        # PDF CreationDate / ModDate
    "docx_metadata",       # DOCX core properties created / modified
    "signing",             # 落款 date at the end of the text: not a publication date
    "written",             # 成文日期 (catalog box): the date written, not published
    "first_seen",          # the archive's own first capture: an upper bound
)

REPORT_KINDS = ("report", "notice", "format_document", "summary_of_many", "error_page", "blank_page", "report_news",
                "other")
REPORT_FORMATS = ("2021", "2019", "old", "work_summary", "unknown")
LEVELS = ("department", "government", "township")


@dataclass(frozen=True)
class FetchContext:
    """What the crawler (or the CLI) knows about a document besides its bytes."""

    url: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # response headers, any case
    listing_title: str | None = None
    listing_date: str | None = None  # raw text beside the link on the listing page
    filename: str | None = None
    level: str | None = None  # department | government | township, when the registry knows it

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True)
class DateEvidence:
    value: date
    source: str  # one of DATE_SOURCES
    raw: str     # the exact string the date was read from
    label: str | None = None  # e.g. 发布日期, 公开日期, CreationDate

    def to_json(self) -> dict[str, Any]:
        return {"date": self.value.isoformat(), "source": self.source, "raw": self.raw, "label": self.label}


@dataclass(frozen=True)
class Link:
    url: str          # absolute when the page URL is known
    text: str
    kind: str         # pdf | doc | docx | wps | zip | xls | xlsx | other

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Grid:
    """A table as rows of cell text, rowspan/colspan already expanded (each spanned cell repeated)."""

    rows: list[list[str]]
    source: str  # html | docx | pdf | text


@dataclass
class ExtractedDocument:
    """What a format reader gets out of bytes, before any interpretation."""

    format: str                       # html | pdf | docx | doc | wps | text | zip(+inner)
    text: str = ""                    # main text, paragraphs separated by newlines
    title: str | None = None
    grids: list[Grid] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)          # HTML meta tags by name (PubDate, ArticleTitle...)
    catalog_box: dict[str, str] = field(default_factory=dict)   # 索引号, 发布机构, 成文日期, 公开日期 ...
    page_dates: list[tuple[str, str]] = field(default_factory=list)  # (label, raw) seen near the title
    doc_metadata: dict[str, str] = field(default_factory=dict)  # CreationDate, ModDate, created, modified (raw)
    links: list[Link] = field(default_factory=list)             # attachment links found on an HTML page
    needs_ocr: bool = False
    text_source: str = "document"     # document | ocr | document+ocr (some pages had no text layer)
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConsistencyError:
    """One broken 勾稽 rule (or a body-text figure that contradicts a table)."""

    rule: str        # short id, e.g. "t3.col.balance", "t3.col.total", "t3.row.total", "t4.group.total", "text.vs.table"
    where: str       # e.g. "表三 自然人", "表三 一、本年新收", "表四 行政复议"
    expected: float | int | None
    found: float | int | None
    message: str     # one readable sentence, Chinese

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TemplateCheck:
    """Compliance with the prescribed 2019/2021 format."""

    sections_present: list[str] = field(default_factory=list)
    sections_missing: list[str] = field(default_factory=list)
    has_statistics_period: bool = False   # 本年度报告中所列数据统计期限从…到…
    cites_format_notice: str | None = None  # e.g. 国办公开办函〔2021〕30号
    # no statistics table in the text (tables as images or attachments): the format is the one the report cites
    tables_not_in_text: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReportRecord:
    is_report: bool = False
    kind: str = "other"               # one of REPORT_KINDS
    kind_reason: str = ""
    title: str | None = None
    agency: str | None = None
    agency_source: str | None = None  # title | 填报单位 | signature | meta | catalog_box
    level: str | None = None          # department | government | township: from the context, else from the name
    report_year: int | None = None
    format: str = "unknown"           # one of REPORT_FORMATS
    format_reason: str = ""
    signing_date: date | None = None
    publication_date: date | None = None
    date_source: str | None = None    # the DATE_SOURCES entry that won
    date_reason: str = ""
    dates: list[DateEvidence] = field(default_factory=list)
    text: str = ""
    tables: dict[str, Any] = field(default_factory=dict)  # see parsers.tables for the shape
    consistency_errors: list[ConsistencyError] = field(default_factory=list)
    template: TemplateCheck = field(default_factory=TemplateCheck)
    catalog_fields: dict[str, str] = field(default_factory=dict)
    attachments: list[Link] = field(default_factory=list)
    needs_ocr: bool = False
    text_source: str = "document"     # where ``text`` came from: document | ocr | document+ocr
    source_format: str | None = None  # html | pdf | docx | doc | wps | text | zip/<inner>
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "is_report": self.is_report,
            "kind": self.kind,
            "kind_reason": self.kind_reason,
            "title": self.title,
            "agency": self.agency,
            "agency_source": self.agency_source,
            "level": self.level,
            "report_year": self.report_year,
            "format": self.format,
            "format_reason": self.format_reason,
            "signing_date": _iso(self.signing_date),
            "publication_date": _iso(self.publication_date),
            "date_source": self.date_source,
            "date_reason": self.date_reason,
            "dates": [d.to_json() for d in self.dates],
            "tables": self.tables,
            "consistency_errors": [e.to_json() for e in self.consistency_errors],
            "template": self.template.to_json(),
            "catalog_fields": self.catalog_fields,
            "attachments": [a.to_json() for a in self.attachments],
            "needs_ocr": self.needs_ocr,
            "text_source": self.text_source,
            "source_format": self.source_format,
            "encoding": self.encoding,
            "warnings": self.warnings,
            "error": self.error,
            "text": self.text,
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
