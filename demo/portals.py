"""Five fictional agency portals for the demo and the crawler tests: the site data, its rendering, and the truth.

All five live on ONE server, each under its own path prefix (simpler than Host headers: no DNS, one port):

| prefix      | style                  | agency (fictional)          | level      | what it exercises                          |
|-------------|------------------------|-----------------------------|------------|--------------------------------------------|
| /trs/       | TRS WCM                | 示范区卫生健康局 sfq-wjj     | department | GBK pages, createPageHTML pagination, t2023… URLs, late report, 301, 404, robots |
| /hanweb/    | Hanweb (大汉)           | 样例区卫生健康局 ylx-wjj     | department | art/Y/M/D URLs, ?page=N, missing year, back-dated report, 500 |
| /vsb/       | VSB (博达)              | 示范区人民政府 sfq-gov       | government | info/1362/N.htm URLs, 信息公开目录 box, 31 March deadline, redirect loop |
| /jsportal/  | listing filled by JS    | 示范区医疗保障局 sfq-ybj     | department | empty <ul id="list"> + list.json, broken 勾稽 rule, slow page, copied report |
| /files/     | attachments only        | 演示区卫生和计划生育局 ysq-wjw | department | direct PDF/DOCX links, a page with a PDF attachment, 2008-rule years |

The 2021-format reports are written for their agency and year by ``demo.narrative`` (each agency its own voice,
each year its own events and numbers, the tables filled from those numbers), so that no two honest reports look
copied. Exactly one is not honest: sfq-ybj's 2024 report reuses its 2023 text with only the year and the numbers
changed and one paragraph added (``expected_*`` mark it ``copied``). The older reports (2015–2018 formats) are built from the real seeds
(demo/seeds) by ``substitute``: real place names, addresses, phone numbers and e-mail addresses are replaced by
fictional ones.

Everything here is pure and deterministic: fixed dates (Beijing time), no clock, no randomness; the same edition
always renders the same bytes. ``DemoPortals(edition=2)`` is the same sites after two changes made "later":

1. sfq-wjj's 2023 report is edited after publication (same URL): table 2 行政处罚 173 → 185 and the sentence
   "…主动公开各类信息745条" → "…812条"; its Last-Modified moves to 2025-06-16 and its ETag changes.
2. ylx-wjj's 2023 report appears — back-dated. In edition 1 the report URL answers 404 and no listing page links it.
   In edition 2 the listing shows it with the date 2024-01-26 (before the 2024-01-31 deadline) and the page carries
   ``<meta name="PubDate" content="2024-01-26 10:00">`` and 发布日期：2024-01-26, while its URL
   (/hanweb/art/2025/6/20/art_1229_88501.html) and its Last-Modified (2025-06-20) tell when it really went up.
   How the archive sees it: every edition-1 capture of the listing, although taken after 2024-01-26, lacks the
   link; the first capture that has it is an edition-2 capture. By the portal's date the verdict is on time; the
   archive's captures prove the date false: ``expected_*`` mark it with the flag ``backdated``.

``expected_reports()`` and ``expected_verdicts(as_of)`` are the ground truth the crawler tests assert. They are
computed from the definitions below, never from the project's parsers, and use their own small deadline table
(``statutory_deadline``), so that a mistake in the verdict code cannot hide in its own test oracle.
"""
from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from functools import lru_cache
from importlib import resources
from typing import Iterable, Mapping
from urllib.parse import urlsplit

from demo.narrative import STORIES, Story, compose
from demo.render import (
    Paragraph,
    SeedDocument,
    Table,
    load_seed,
    render_docx,
    render_html,
    render_pdf,
    table_grid,
    with_changed_cell,
)
from parsers.beijing import BEIJING

EDITIONS = (1, 2)
ROBOTS_DISALLOWED = "/trs/private/"

CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}

# Statuses and flags used in the expected results.
ON_TIME, LATE, MISSING, PENDING = "on_time", "late", "missing", "pending"
FLAG_BACKDATED = "backdated"                  # (verdict flag id as in monitor.flags) the portal's date is earlier than the report really appeared
FLAG_EDITED = "changed"                       # same URL, content changed (edition ≥ 2); verdict flag id as in monitor.flags
FLAG_COPIED = "copied"                        # the text reuses the agency's previous-year report; verdict flag id as in monitor.flags
FLAG_REDIRECTED = "redirected"                # the listing links an old URL that answers 301 → the report
FLAG_CONSISTENCY = "consistency_broken"       # one table number changed so that a 勾稽 rule fails
FLAG_DEADLINE_DAY = "on_deadline_day"         # published on the deadline itself: still on time
FLAG_DIRECT_ATTACHMENT = "direct_attachment"  # the listing links the PDF/DOCX itself
FLAG_ATTACHMENT_PAGE = "attachment_page"      # a short page whose attachment is the report


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


# ---------------------------------------------------------------------------------------------------------------
# Data model


@dataclass(frozen=True)
class AgencySite:
    """One fictional agency and the shape of its portal."""

    id: str
    name: str
    level: str                 # government | department
    style: str                 # trs | hanweb | vsb | js | files
    prefix: str                # every path of the portal starts with it
    homepage: str
    xxgk_index: str            # 信息公开 page that links the report column
    column: str                # first page of the report column (the listing)
    column_label: str          # how the report column is named on the 信息公开 page
    xxgk_label: str            # how the 信息公开 link is named on the homepage
    encoding: str = "utf-8"
    watch_years: tuple[int, ...] = ()   # years the ground truth judges even without a report
    page_size: int = 10
    parent: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def site_name(self) -> str:
        return self.name


@dataclass(frozen=True)
class Revision:
    """A change made to a published report in a later edition, at the same URL."""

    edition: int
    at: datetime
    sentence: tuple[str, str]                  # (old text, new text) within a paragraph
    cell: tuple[int, int, int, str, str]       # (table index, grid row, grid col, old text, new text)


@dataclass(frozen=True)
class ReportSpec:
    """One annual report as the portal publishes it."""

    agency_id: str
    year: int
    title: str                        # as on the listing
    published: datetime               # the date the portal shows (PubDate / listing / 公开日期)
    path: str                         # where the document is served
    printed_name: str                 # the agency name as the report itself prints it
    key_strings: tuple[str, ...]      # text the document contains (edition 1)
    story: Story | None = None        # a report written for its agency and year (demo.narrative) …
    seed: str | None = None           # … or a real seed with its names replaced
    replacements: tuple[tuple[str, str], ...] = ()
    formats: tuple[str, ...] = ("html",)
    listing_path: str | None = None   # the href on the listing, when it is an old URL that redirects
    attachment_path: str | None = None  # the PDF behind a short attachment page
    listed_from_edition: int = 1
    appeared: datetime | None = None  # when it really went online, if not when the portal says
    revision: Revision | None = None
    broken_cell: tuple[int, int, int, str] | None = None  # (table, row, col, new text): a 勾稽 rule fails
    signing_date: date | None = None
    flags: tuple[str, ...] = ()
    note: str = ""

    @property
    def href(self) -> str:
        return self.listing_path or self.path


@dataclass(frozen=True)
class ExtraPage:
    """A listing entry that is not a report: a look-alike page or a link that misbehaves."""

    agency_id: str
    title: str
    published: datetime
    path: str
    kind: str          # notice | news | format_document | dead_link | server_error | redirect_loop | slow | robots_private
    paragraphs: tuple[str, ...] = ()
    loop_partner: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Resource:
    """What the server answers for one path."""

    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    last_modified: datetime | None = None
    location: str | None = None
    slow: bool = False

    @property
    def etag(self) -> str | None:
        if self.status != 200:
            return None
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'

    @property
    def http_last_modified(self) -> str | None:
        if self.last_modified is None:
            return None
        return format_datetime(self.last_modified.astimezone(timezone.utc), usegmt=True)


@dataclass(frozen=True)
class ExpectedReport:
    agency_id: str
    agency_name: str              # registry name
    printed_name: str             # as the report prints it (may be an alias)
    level: str
    report_year: int
    title: str
    url: str                      # the document (after redirects); base_url + path
    listing_url: str              # the href the listing gives
    attachment_url: str | None
    formats: tuple[str, ...]
    publication_date: date        # the date the portal shows
    listing_date: str             # the raw text beside the link
    deadline: date
    status: str                   # on_time | late, by the portal's date
    days_late: int                # 0 when on time (as monitor.deadlines.verdict gives it)
    flags: tuple[str, ...]
    key_strings: tuple[str, ...]  # text the document contains in this edition
    appeared: date | None         # when a back-dated report really went online
    note: str


@dataclass(frozen=True)
class ExpectedVerdict:
    agency_id: str
    report_year: int
    status: str                   # on_time | late | missing | pending
    deadline: date
    publication_date: date | None
    days_late: int | None         # 0 when on time, None without a report
    url: str | None
    flags: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class ExpectedPage:
    """A listed link that is not a report, and how the server answers it."""

    agency_id: str
    title: str
    url: str
    kind: str                     # see ExtraPage.kind; slow answers 200 late, robots_private must not be fetched
    http_status: int              # what the server answers (the first hop of a redirect loop: 302)
    note: str


# ---------------------------------------------------------------------------------------------------------------
# The deadline oracle (DOMAIN.md §1), kept apart from the verdict code on purpose


def statutory_deadline(report_year: int, level: str) -> date:
    """31 March for every agency up to report year 2018 (2008 条例 第三十一条); from 2019 31 January for departments
    (第四十九条第一款) and 31 March for governments (第四十九条第二款)."""
    if report_year <= 2018 or level == "government":
        return date(report_year + 1, 3, 31)
    return date(report_year + 1, 1, 31)


# ---------------------------------------------------------------------------------------------------------------
# Turning a real seed into a fictional report


def substitute(doc: SeedDocument, replacements: Mapping[str, str]) -> SeedDocument:
    """A copy of ``doc`` with every key replaced by its value in the title, paragraphs and table cells.

    All keys are replaced in one pass, longest first at each position, so a replacement is never replaced again
    ("2022年" → "2023年" next to "2023年1月29日" → "2024年1月26日" cannot chain).
    """
    if not replacements:
        return replace(doc, blocks=[_copy_block(block) for block in doc.blocks])
    keys = sorted(replacements, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(key) for key in keys))

    def swap(text: str) -> str:
        return pattern.sub(lambda match: replacements[match.group(0)], text)

    blocks: list[Paragraph | Table] = []
    for block in doc.blocks:
        copied = _copy_block(block)
        if isinstance(copied, Table):
            for row in copied.rows:
                for cell in row:
                    cell.text = swap(cell.text)
        else:
            copied.text = swap(copied.text)
        blocks.append(copied)
    return SeedDocument(seed_id=doc.seed_id, title=swap(doc.title) if doc.title else doc.title, blocks=blocks)


def _copy_block(block: Paragraph | Table) -> Paragraph | Table:
    if isinstance(block, Table):
        return Table(rows=[[replace(cell) for cell in row] for row in block.rows])
    return replace(block)


def _narrated(agency_id: str, year: int, published: str, signed: date, path: str, key_strings: tuple[str, ...],
              **extra) -> ReportSpec:
    """A 2021-format report whose text ``demo.narrative`` wrote for this agency and year."""
    story = STORIES[(agency_id, year)]
    flags = extra.pop("flags", ())
    if story.copied_from is not None:
        flags = (*flags, FLAG_COPIED)
    return ReportSpec(
        agency_id=agency_id,
        year=year,
        title=f"{story.voice.name}{year}年政府信息公开工作年度报告",
        published=_at(published),
        path=path,
        printed_name=story.voice.name,
        key_strings=key_strings,
        story=story,
        signing_date=signed,
        flags=flags,
        **extra,
    )


# ---------------------------------------------------------------------------------------------------------------
# The five agencies


AGENCIES: tuple[AgencySite, ...] = (
    AgencySite(
        id="sfq-wjj", name="示范区卫生健康局", level="department", style="trs", prefix="/trs/",
        homepage="/trs/index.html", xxgk_index="/trs/xxgk/index.html", column="/trs/xxgk/xxgknb/index.html",
        column_label="政府信息公开年报", xxgk_label="信息公开", encoding="gbk",
        watch_years=(2021, 2022, 2023, 2024), page_size=3, parent="sfq-gov", aliases=("示范区卫健局",),
    ),
    AgencySite(
        id="ylx-wjj", name="样例区卫生健康局", level="department", style="hanweb", prefix="/hanweb/",
        homepage="/hanweb/index.html", xxgk_index="/hanweb/col/col1200/index.html",
        column="/hanweb/col/col1229/index.html", column_label="政府信息公开年度报告", xxgk_label="政务公开",
        watch_years=(2021, 2022, 2023, 2024), page_size=4, aliases=("样例区卫健局", "样例区卫计局"),
    ),
    AgencySite(
        id="sfq-gov", name="示范区人民政府", level="government", style="vsb", prefix="/vsb/",
        homepage="/vsb/index.htm", xxgk_index="/vsb/xxgk.htm", column="/vsb/xxgk/gknb.htm",
        column_label="年度报告", xxgk_label="信息公开", watch_years=(2022, 2023, 2024), page_size=4,
        aliases=("示范区政府",),
    ),
    AgencySite(
        id="sfq-ybj", name="示范区医疗保障局", level="department", style="js", prefix="/jsportal/",
        homepage="/jsportal/index.html", xxgk_index="/jsportal/zwgk/index.html",
        column="/jsportal/zwgk/ndbg/index.html", column_label="信息公开年报", xxgk_label="政务公开",
        watch_years=(2022, 2023, 2024), parent="sfq-gov", aliases=("示范区医保局",),
    ),
    AgencySite(
        id="ysq-wjw", name="演示区卫生和计划生育局", level="department", style="files", prefix="/files/",
        homepage="/files/index.html", xxgk_index="/files/xxgk/index.html", column="/files/xxgk/gknb/index.html",
        column_label="政府信息公开年报", xxgk_label="政府信息公开", watch_years=(2015, 2016, 2017, 2018),
        aliases=("演示区卫计局", "演示区卫生计生局"),
    ),
)

JS_LIST_JSON = "/jsportal/zwgk/ndbg/list.json"
_TRS_COLUMN_DIR = "/trs/xxgk/xxgknb/"

REPORTS: tuple[ReportSpec, ...] = (
    # --- sfq-wjj (TRS, GBK): 2021 on time behind a 301, 2022 late by 10 days, 2023 edited in edition 2, 2024 none
    _narrated(
        "sfq-wjj", 2021, "2022-01-25 15:00", date(2022, 1, 24), _TRS_COLUMN_DIR + "202201/t20220125_7100101.html",
        ("主动公开各类政府信息612条", "疫苗接种点位、时间安排和接种须知等信息96条"),
        listing_path=_TRS_COLUMN_DIR + "202201/t20220125_7100001.html", flags=(FLAG_REDIRECTED,),
        note="栏目列表仍链接旧网址，旧网址 301 跳转到新网址。",
    ),
    _narrated(
        "sfq-wjj", 2022, "2023-02-10 09:30", date(2023, 1, 29), _TRS_COLUMN_DIR + "202302/t20230208_7100002.html",
        ("在政府网站发布各类信息689条", "编发疫情防控答问41期"),
        note="部门报告，2023-02-10 发布，超过 2023-01-31 期限 10 天；网址日期（2月8日）是稿件创建日，不是发布日期。",
    ),
    _narrated(
        "sfq-wjj", 2023, "2024-01-29 10:20", date(2024, 1, 26), _TRS_COLUMN_DIR + "202401/t20240129_7100003.html",
        ("主动公开各类信息745条", "“双随机、一公开”抽查结果58条"),
        revision=Revision(edition=2, at=_at("2025-06-16 10:00"),
                          sentence=("主动公开各类信息745条", "主动公开各类信息812条"),
                          cell=(0, 9, 1, "173", "185")),
        note="第2版起同一网址的内容被修改：表二行政处罚 173→185，正文 745条→812条。",
    ),
    # --- ylx-wjj (Hanweb): 2017 old format, 2021 on time, 2022 missing, 2023 back-dated (edition 2), 2024 on time
    ReportSpec(
        agency_id="ylx-wjj", year=2017, title="样例区卫计局2017年政府信息公开工作年度报告",
        published=_at("2018-03-20 16:05"), path="/hanweb/art/2018/3/20/art_1229_80017.html", seed="002",
        replacements=(
            ("遂宁市安居区卫计局", "样例区卫计局"), ("遂宁市安居区", "样例区"), ("安居区", "样例区"),
            ("遂宁日报", "样例日报"), ("安居周刊", "样例周刊"), ("灵动安居", "灵动样例"), ("遂宁", "样例"),
            ("蟠龙路5号", "和平路5号"), ("http://www.scanju.gov.cn/", "http://www.example.gov.cn/"),
            ("邮编：629006", "邮编：000000"), ("0825—8663655", "0000—7654321"),
            ("531313422@qq.com", "ylxwjj@example.gov.cn"),
        ),
        printed_name="样例区卫计局", key_strings=("累计主动公开政府信息已达689条",),
        note="2018年及以前的报告，期限为次年3月31日（2008年条例第三十一条）；报告以旧名称“卫计局”署名。",
    ),
    _narrated(
        "ylx-wjj", 2021, "2022-01-20 11:00", date(2022, 1, 18), "/hanweb/art/2022/1/20/art_1229_88123.html",
        ("本局全年主动公开政府信息356条",),
    ),
    _narrated(
        "ylx-wjj", 2023, "2024-01-26 10:00", date(2024, 1, 25), "/hanweb/art/2025/6/20/art_1229_88501.html",
        ("主动公开政府信息418条",),
        listed_from_edition=2, appeared=_at("2025-06-20 17:42"), flags=(FLAG_BACKDATED,),
        note="倒签：页面与列表均显示 2024-01-26，但第1版列表（抓取时间晚于该日期）没有这篇、其网址在第1版返回 404；"
             "第2版才出现。网址日期与 Last-Modified 为 2025-06-20。",
    ),
    _narrated(
        "ylx-wjj", 2024, "2025-01-22 09:00", date(2025, 1, 21), "/hanweb/art/2025/1/22/art_1229_88420.html",
        ("本年度主动公开政府信息447条",),
    ),
    # --- sfq-gov (VSB, government, 31 March): 2022 on time, 2023 on the deadline day, 2024 late by 8 days
    _narrated(
        "sfq-gov", 2022, "2023-03-28 10:00", date(2023, 3, 27), "/vsb/info/1362/198421.htm",
        ("主动公开政府信息2864条", "收到政府信息公开申请36件"),
        note="政府报告期限为次年3月31日：2023-03-28 按时（若按部门的1月31日期限则会误判为逾期）。",
    ),
    _narrated(
        "sfq-gov", 2023, "2024-03-31 17:00", date(2024, 3, 29), "/vsb/info/1362/198554.htm",
        ("全年主动公开政府信息3105条",),
        flags=(FLAG_DEADLINE_DAY,), note="期限当天发布，按时。",
    ),
    _narrated(
        "sfq-gov", 2024, "2025-04-08 09:00", date(2025, 4, 3), "/vsb/info/1362/198601.htm",
        ("主动公开政府信息3342条",),
        note="2025-04-08 发布，超过 2025-03-31 期限 8 天。",
    ),
    # --- sfq-ybj (JS listing): 2022 on time, 2023 on the deadline day with a broken 勾稽 rule, 2024 on time but copied
    _narrated(
        "sfq-ybj", 2022, "2023-01-18 14:30", date(2023, 1, 17), "/jsportal/c/2023-01-18/7011305.shtml",
        ("全年主动公开政府信息386条",),
    ),
    _narrated(
        "sfq-ybj", 2023, "2024-01-31 16:00", date(2024, 1, 30), "/jsportal/c/2024-01-31/7052210.shtml",
        ("本年度共主动公开信息402条",),
        broken_cell=(1, 3, 3, "3"), flags=(FLAG_DEADLINE_DAY, FLAG_CONSISTENCY),
        note="期限当天发布，按时；表三“一、本年新收”自然人改为 3（总计仍为 2），违反列平衡与行合计两条勾稽规则。",
    ),
    _narrated(
        "sfq-ybj", 2024, "2025-01-16 10:00", date(2025, 1, 15), "/jsportal/c/2025-01-16/7097241.shtml",
        ("本年度共主动公开信息431条",),
        note="疑似雷同：正文照搬本机关2023年报告，只改了年份和数字、补了一段新内容（唯一一篇刻意雷同的示范报告）。",
    ),
    # --- ysq-wjw (attachments only; report years ≤ 2018: 31 March for departments too): 2016 missing
    ReportSpec(
        agency_id="ysq-wjw", year=2015, title="演示区卫生计生局政府信息公开工作2015年年度报告",
        published=_at("2016-03-25 09:00"), path="/files/uploads/2016/03/P020160325_4451.pdf", seed="004",
        replacements=(("镇海区卫生计生局", "演示区卫生计生局"), ("镇海", "演示"),
                      ("http://www.zhj.zh.gov.cn", "http://www.example.gov.cn")),
        printed_name="演示区卫生计生局", key_strings=("政府信息公开工作2015年年度报告",), formats=("pdf",),
        flags=(FLAG_DIRECT_ATTACHMENT,), note="栏目列表直接链接 PDF。",
    ),
    ReportSpec(
        agency_id="ysq-wjw", year=2017, title="演示区卫计局2017年政府信息公开工作年度报告",
        published=_at("2018-03-05 10:00"), path="/files/uploads/2018/03/P020180305_4471.docx", seed="000",
        replacements=(("临淄区卫计局", "演示区卫计局"), ("临淄区", "演示区"), ("山东省", "示范省"),
                      ("临政办字", "演政办字")),
        printed_name="演示区卫计局", key_strings=("2017年度",), formats=("docx",), signing_date=date(2018, 3, 2),
        flags=(FLAG_DIRECT_ATTACHMENT,), note="栏目列表直接链接 DOCX；文档本身没有标题，机关名称只在正文和落款中。",
    ),
    ReportSpec(
        agency_id="ysq-wjw", year=2018, title="演示区卫生和计划生育局2018年政务公开工作总结",
        published=_at("2019-02-20 15:00"), path="/files/xxgk/gknb/201902/t20190220_5566.html", seed="003",
        replacements=(("普陀区卫生和计划生育局", "演示区卫生和计划生育局"), ("浙江省", "示范省")),
        printed_name="演示区卫生和计划生育局", key_strings=("2018年全年主动公开政府信息566条",),
        formats=("html", "pdf"), attachment_path="/files/uploads/2019/02/P020190220_5566.pdf",
        flags=(FLAG_ATTACHMENT_PAGE,),
        note="短页面加 PDF 附件（报告在附件中）；2018年度报告适用2008年条例，期限 2019-03-31，2019-02-20 按时。",
    ),
)

EXTRA_PAGES: tuple[ExtraPage, ...] = (
    ExtraPage("sfq-wjj", "关于做好2022年政府信息公开工作年度报告编制工作的通知", _at("2022-12-20 09:00"),
              _TRS_COLUMN_DIR + "202212/t20221220_7100050.html", "notice", (
                  "各科室、各直属单位：",
                  "根据《中华人民共和国政府信息公开条例》规定，现就做好2022年政府信息公开工作年度报告编制和发布工作通知如下：",
                  "一、各单位于2023年1月10日前将本单位2022年度政府信息公开工作情况报局办公室。",
                  "二、年度报告按照国办公开办函〔2021〕30号规定的格式编制，于2023年1月31日前在本栏目发布。",
                  "示范区卫生健康局办公室", "2022年12月20日"),
              note="关于年报的通知，不是年报。"),
    ExtraPage("sfq-wjj", "示范区卫生健康局召开2023年政务公开工作推进会", _at("2023-05-16 15:20"),
              _TRS_COLUMN_DIR + "202305/t20230516_7100060.html", "news", (
                  "5月16日，示范区卫生健康局召开2023年政务公开工作推进会，通报2022年政府信息公开工作年度报告发布情况。",
                  "会议要求各科室按时更新主动公开目录，做好政策解读。"),
              note="新闻，不是年报。"),
    ExtraPage("sfq-wjj", "示范区卫生健康局2020年政府信息公开工作年度报告", _at("2021-01-28 10:00"),
              _TRS_COLUMN_DIR + "202101/t20210128_7100000.html", "dead_link",
              note="列表上的链接指向已删除的页面：404。"),
    ExtraPage("sfq-wjj", "示范区卫生健康局2024年政府信息公开工作年度报告（内部审核稿）", _at("2025-01-10 08:30"),
              ROBOTS_DISALLOWED + "202501/t20250110_7199999.html", "robots_private",
              note="robots.txt 禁止抓取 /trs/private/；页面存在且像年报，遵守 robots 的爬虫不得请求它。"),
    ExtraPage("ylx-wjj", "关于做好2023年政府信息公开工作年度报告编制工作的通知", _at("2023-12-15 09:00"),
              "/hanweb/art/2023/12/15/art_1229_88200.html", "notice", (
                  "各股室、各医疗卫生单位：",
                  "为做好2023年政府信息公开工作年度报告编制和发布工作，现将有关事项通知如下：",
                  "一、年度报告应于2024年1月31日前在区政府门户网站政府信息公开专栏发布。",
                  "二、报告格式按照《中华人民共和国政府信息公开工作年度报告格式》执行。",
                  "样例区卫生健康局", "2023年12月15日"),
              note="关于年报的通知，不是年报。"),
    ExtraPage("ylx-wjj", "样例区卫生健康局2023年政务公开工作要点", _at("2023-04-10 10:00"),
              "/hanweb/art/2023/4/10/art_1229_88180.html", "news", (
                  "为深入推进政务公开工作，结合我局实际，制定2023年政务公开工作要点如下。",
                  "一、加强政策解读。二、做好依申请公开。三、按时发布政府信息公开工作年度报告。"),
              note="工作要点，不是年报。"),
    ExtraPage("ylx-wjj", "样例区卫生健康局政府信息公开指南", _at("2022-06-01 10:00"),
              "/hanweb/art/2022/6/1/art_1229_88150.html", "server_error", note="这个链接总是返回 500。"),
    ExtraPage("sfq-gov", "中华人民共和国政府信息公开工作年度报告格式", _at("2021-09-30 10:00"),
              "/vsb/info/1362/198300.htm", "format_document", (
                  "一、总体情况",
                  "二、主动公开政府信息情况",
                  "三、收到和处理政府信息公开申请情况",
                  "四、政府信息公开行政复议、行政诉讼情况",
                  "五、存在的主要问题及改进情况",
                  "六、其他需要报告的事项"),
              note="年报格式文件本身，不是年报。"),
    ExtraPage("sfq-gov", "示范区召开2024年政务公开工作会议", _at("2024-04-18 16:00"),
              "/vsb/info/1362/198560.htm", "news", (
                  "4月18日，示范区召开2024年政务公开工作会议，总结2023年政府信息公开工作年度报告编制经验。",),
              note="新闻，不是年报。"),
    ExtraPage("sfq-gov", "示范区政务公开专栏（旧版）", _at("2022-01-05 10:00"),
              "/vsb/info/1362/198400.htm", "redirect_loop", loop_partner="/vsb/info/1023/198400.htm",
              note="两个网址互相 302 跳转，永不结束。"),
    ExtraPage("sfq-ybj", "示范区医疗保障局开展医保政策宣传月活动", _at("2023-06-01 09:00"),
              "/jsportal/c/2023-06-01/7030001.shtml", "news", (
                  "6月，示范区医疗保障局开展医保政策宣传月活动，发放宣传资料2000余份。",),
              note="新闻，不是年报。"),
    ExtraPage("sfq-ybj", "关于做好2024年政府信息公开工作年度报告编制工作的通知", _at("2024-12-20 09:00"),
              "/jsportal/c/2024-12-20/7090002.shtml", "notice", (
                  "各科室：",
                  "请于2025年1月10日前报送2024年度政府信息公开工作情况，年度报告于2025年1月31日前发布。",
                  "示范区医疗保障局", "2024年12月20日"),
              note="关于年报的通知，不是年报。"),
    ExtraPage("sfq-ybj", "示范区医疗保障局政务公开工作考核情况通报", _at("2024-05-20 10:00"),
              "/jsportal/c/2024-05-20/7060001.shtml", "slow", (
                  "根据考核安排，现将2023年度政务公开工作考核情况通报如下。",),
              note="服务器延迟 slow_seconds（默认 5 秒）才回答：超过爬虫超时即应记为超时。"),
)

# ---------------------------------------------------------------------------------------------------------------
# The demo portals


@dataclass(frozen=True)
class DemoPortals:
    """The five portals in one state (``edition``); rendering is cached per edition."""

    edition: int = 1

    def __post_init__(self) -> None:
        if self.edition not in EDITIONS:
            raise ValueError(f"未知的版本 {self.edition}：可用 {', '.join(map(str, EDITIONS))}")

    @property
    def agencies(self) -> tuple[AgencySite, ...]:
        return AGENCIES

    def with_edition(self, edition: int) -> "DemoPortals":
        return replace(self, edition=edition)

    def agency(self, agency_id: str) -> AgencySite:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(f"没有这个示范机构：{agency_id}")

    # --- serving

    def site(self) -> Mapping[str, Resource]:
        """Every served path (with ``?query`` where it matters) → its resource, for this edition."""
        return _cached_site(self.edition)

    def resource(self, target: str) -> Resource | None:
        """The resource for a request target (path and query); None means 404."""
        site = self.site()
        parts = urlsplit(target)
        path = parts.path or "/"
        if path.endswith("/") and path + "index.html" in site:
            path += "index.html"
        if parts.query:
            found = site.get(f"{path}?{parts.query}")
            if found is not None:
                return found
            # A page number that does not exist is a 404, any other query (cache busters) is ignored.
            if re.search(r"(?:^|&)page=", parts.query):
                return None
        return site.get(path)

    # --- truth

    def reports(self) -> list[ReportSpec]:
        """The reports on the portals in this edition."""
        return [report for report in REPORTS if report.listed_from_edition <= self.edition]

    def expected_reports(self, base_url: str = "") -> list[ExpectedReport]:
        base = str(base_url).rstrip("/")
        expected = []
        for report in self.reports():
            agency = self.agency(report.agency_id)
            deadline = statutory_deadline(report.year, agency.level)
            published = report.published.date()
            late = (published - deadline).days
            expected.append(ExpectedReport(
                agency_id=agency.id, agency_name=agency.name, printed_name=report.printed_name, level=agency.level,
                report_year=report.year, title=report.title, url=base + report.path,
                listing_url=base + report.href,
                attachment_url=base + report.attachment_path if report.attachment_path else None,
                formats=report.formats, publication_date=published, listing_date=_listing_date(agency, published),
                deadline=deadline, status=LATE if late > 0 else ON_TIME, days_late=max(late, 0),
                flags=self._flags(report), key_strings=self._key_strings(report),
                appeared=report.appeared.date() if report.appeared else None, note=report.note,
            ))
        return expected

    def expected_verdicts(self, as_of: date, base_url: str = "", *,
                          first_look: date | None = None) -> list[ExpectedVerdict]:
        """One verdict per agency and year (its watched years, and every year from its first report's through the
        latest of those, as a crawl judges them), as of a date.

        A report counts from the date the portal shows; with no report the year is pending up to its deadline
        and missing after it. A back-dated report is judged by the archive, not by its claim: ``first_look`` is the
        (Beijing) day of the crawl of edition 1, whose listing did not show it, so it was published after that day
        (late by at least that many days after the deadline).
        """
        reports = {(r.agency_id, r.report_year): r for r in self.expected_reports(base_url)}
        verdicts = []
        for agency in self.agencies:
            reported = {year for (aid, year) in reports if aid == agency.id}
            years = set(agency.watch_years) | (set(range(min(reported), max(reported | set(agency.watch_years)) + 1))
                                               if reported else set())
            for year in sorted(years):
                if year >= as_of.year:
                    continue  # the report for a year is written after the year ends
                deadline = statutory_deadline(year, agency.level)
                report = reports.get((agency.id, year))
                if report is not None and report.publication_date <= as_of:
                    status, days_late = report.status, report.days_late
                    if "backdated" in report.flags and first_look is not None and first_look > deadline:
                        status, days_late = LATE, (first_look - deadline).days
                    verdicts.append(ExpectedVerdict(
                        agency.id, year, status, deadline, report.publication_date, days_late,
                        report.url, report.flags, report.note))
                    continue
                status = PENDING if as_of <= deadline else MISSING
                note = f"截至 {as_of.isoformat()} 未发布，期限 {deadline.isoformat()}"
                verdicts.append(ExpectedVerdict(agency.id, year, status, deadline, None, None, None, (), note))
        return verdicts

    def expected_non_reports(self, base_url: str = "") -> list[ExpectedPage]:
        """Every listed link that is not a report: look-alikes (200) and faulty links."""
        base = str(base_url).rstrip("/")
        statuses = {"notice": 200, "news": 200, "format_document": 200, "dead_link": 404, "server_error": 500,
                    "redirect_loop": 302, "slow": 200, "robots_private": 200}
        return [ExpectedPage(page.agency_id, page.title, base + page.path, page.kind, statuses[page.kind], page.note)
                for page in EXTRA_PAGES]

    def registry(self, base_url: str) -> list:
        """The demo agencies as ``registry.agencies.Agency`` objects, ``{base}`` replaced by ``base_url``."""
        from registry.agencies import registry_from_yaml

        text = registry_yaml_text().replace("{base}", str(base_url).rstrip("/"))
        return registry_from_yaml(text, source="demo/registry.yaml")

    def _flags(self, report: ReportSpec) -> tuple[str, ...]:
        # An edit is only a fact once the site has changed.
        if report.revision and self.edition >= report.revision.edition:
            return (*report.flags, FLAG_EDITED)
        return report.flags

    def _key_strings(self, report: ReportSpec) -> tuple[str, ...]:
        revision = report.revision
        if revision is None or self.edition < revision.edition:
            return report.key_strings
        old, new = revision.sentence
        return tuple(new if text == old else text for text in report.key_strings)


def registry_yaml_text() -> str:
    """The demo registry with its ``{base}`` placeholders (demo/registry.yaml)."""
    return resources.files("demo").joinpath("registry.yaml").read_text("utf-8")


# ---------------------------------------------------------------------------------------------------------------
# Documents


def report_document(report: ReportSpec, edition: int) -> SeedDocument:
    """The report's text and tables as they stand in ``edition``."""
    if report.story is not None:
        doc = compose(report.story, signed=report.signing_date or report.published.date())
    else:
        doc = substitute(load_seed(report.seed), dict(report.replacements))
    if report.broken_cell is not None:
        table, row, col, text = report.broken_cell
        doc = with_changed_cell(doc, table, row, col, text)
    revision = report.revision
    if revision is not None and edition >= revision.edition:
        table, row, col, old, new = revision.cell
        found = table_grid(doc.tables[table])[row][col]
        if found != old:  # the seed moved under the planned edit: fail loudly rather than edit the wrong number
            raise ValueError(f"{report.path}: table {table} cell ({row}, {col}) reads {found!r}, expected {old!r}")
        doc = substitute(doc, dict([revision.sentence]))
        doc = with_changed_cell(doc, table, row, col, new)
    return doc


def _extra_document(page: ExtraPage) -> SeedDocument:
    blocks: list[Paragraph | Table] = [Paragraph(page.title, "title")]
    blocks += [Paragraph(text) for text in page.paragraphs]
    return SeedDocument(seed_id="extra", title=page.title, blocks=blocks)


def _private_document() -> SeedDocument:
    """What hides behind robots.txt: a report-like draft that would wrongly fill sfq-wjj's 2024 gap (last year's
    text with the year changed, as drafts begin)."""
    draft = replace(STORIES[("sfq-wjj", 2023)], year=2024)
    return compose(draft, signed=date(2025, 1, 9), title_suffix="（内部审核稿）")


# ---------------------------------------------------------------------------------------------------------------
# Rendering a whole site


def render_site(edition: int) -> dict[str, Resource]:
    """Render every page and document of the five portals for one edition (uncached; ``DemoPortals.site`` caches)."""
    site: dict[str, Resource] = {}
    for agency in AGENCIES:
        site.update(_agency_site(agency, edition))
    site["/"] = Resource(200, _root_page(), last_modified=None)
    site["/robots.txt"] = Resource(200, _robots_txt(), CONTENT_TYPES[".txt"])
    return site


_cached_site = lru_cache(maxsize=len(EDITIONS))(render_site)


def _robots_txt() -> bytes:
    return ("# 示范门户：遵守 robots 的爬虫不得请求以下路径\n"
            "User-agent: *\n"
            f"Disallow: {ROBOTS_DISALLOWED}\n").encode("utf-8")


def _root_page() -> bytes:
    links = "\n".join(f'<li><a href="{a.homepage}">{html.escape(a.name)}</a>（{a.style}）</li>' for a in AGENCIES)
    return (f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n<title>示范门户</title>\n</head>\n'
            f"<body>\n<h1>示范门户（虚构机构，仅供测试）</h1>\n<ul>\n{links}\n</ul>\n</body>\n</html>\n").encode("utf-8")


@dataclass(frozen=True)
class _Entry:
    """One link on a listing."""

    title: str
    path: str          # the href target (absolute path)
    published: datetime
    changed: datetime  # when the entry last changed the listing


def _entries(agency: AgencySite, edition: int) -> list[_Entry]:
    entries = [
        _Entry(r.title, r.href, r.published, r.appeared or r.published)
        for r in REPORTS if r.agency_id == agency.id and r.listed_from_edition <= edition
    ]
    entries += [_Entry(p.title, p.path, p.published, p.published) for p in EXTRA_PAGES if p.agency_id == agency.id]
    return sorted(entries, key=lambda e: (e.published, e.path), reverse=True)


def _agency_site(agency: AgencySite, edition: int) -> dict[str, Resource]:
    site: dict[str, Resource] = {}
    entries = _entries(agency, edition)
    listing_changed = max(e.changed for e in entries)
    html_type = f"text/html; charset={_charset_label(agency.encoding)}"

    site[agency.homepage] = Resource(200, _homepage(agency, entries), html_type, listing_changed)
    site[agency.xxgk_index] = Resource(200, _xxgk_page(agency), html_type, listing_changed)
    for path, body in _listing_pages(agency, entries).items():
        content_type = CONTENT_TYPES[".json"] if path.endswith(".json") else html_type
        site[path] = Resource(200, body, content_type, listing_changed)

    for report in REPORTS:
        if report.agency_id != agency.id or report.listed_from_edition > edition:
            continue
        site.update(_report_resources(agency, report, edition, html_type))
    for page in EXTRA_PAGES:
        if page.agency_id == agency.id:
            site.update(_extra_resources(agency, page, html_type))
    return site


def _report_resources(agency: AgencySite, report: ReportSpec, edition: int, html_type: str) -> dict[str, Resource]:
    doc = report_document(report, edition)
    changed = report.appeared or report.published
    if report.revision is not None and edition >= report.revision.edition:
        changed = report.revision.at
    resources_: dict[str, Resource] = {}
    if report.listing_path:
        resources_[report.listing_path] = Resource(301, location=report.path)
    if report.formats == ("pdf",):
        body = render_pdf(doc, creation_date=report.published - timedelta(days=1))
        resources_[report.path] = Resource(200, body, CONTENT_TYPES[".pdf"], changed)
    elif report.formats == ("docx",):
        written = datetime.combine(report.signing_date or report.published.date(), datetime.min.time(), BEIJING)
        body = render_docx(doc, created=written.replace(hour=9), modified=report.published - timedelta(hours=2))
        resources_[report.path] = Resource(200, body, CONTENT_TYPES[".docx"], changed)
    elif report.attachment_path:
        pdf = render_pdf(doc, creation_date=report.published - timedelta(days=2))
        resources_[report.attachment_path] = Resource(200, pdf, CONTENT_TYPES[".pdf"], changed)
        cover = SeedDocument(seed_id=doc.seed_id, title=report.title, blocks=[
            Paragraph(report.title, "title"),
            Paragraph(f"现将{report.title}予以公开，全文详见附件。"),
        ])
        name = posixpath.basename(report.attachment_path)
        page = _article(agency, cover, report.published, attachments=[(report.attachment_path, f"{report.title}.pdf（{name}）")])
        resources_[report.path] = Resource(200, page, html_type, changed)
    else:
        page = _article(agency, doc, report.published, title=report.title, signing=report.signing_date)
        resources_[report.path] = Resource(200, page, html_type, changed)
    return resources_


def _extra_resources(agency: AgencySite, page: ExtraPage, html_type: str) -> dict[str, Resource]:
    if page.kind == "dead_link":
        return {}
    if page.kind == "server_error":
        body = _plain_page("500 服务器内部错误", "服务器暂时无法处理该请求。")
        return {page.path: Resource(500, body)}
    if page.kind == "redirect_loop":
        return {page.path: Resource(302, location=page.loop_partner),
                page.loop_partner: Resource(302, location=page.path)}
    if page.kind == "robots_private":
        body = _article(agency, _private_document(), page.published, title=page.title)
        return {page.path: Resource(200, body, html_type, page.published)}
    body = _article(agency, _extra_document(page), page.published, title=page.title)
    return {page.path: Resource(200, body, html_type, page.published, slow=page.kind == "slow")}


def _article(agency: AgencySite, doc: SeedDocument, published: datetime, *, title: str | None = None,
             signing: date | None = None, attachments: list[tuple[str, str]] = ()) -> bytes:
    """An article page in the agency's style: where the date is shown differs by CMS."""
    title = title or doc.title or ""
    stamp = published.strftime("%Y-%m-%d %H:%M")
    day = published.strftime("%Y-%m-%d")
    options: dict = {"encoding": agency.encoding, "site_name": agency.site_name, "attachments": list(attachments)}
    if agency.style == "trs":
        options["meta"] = {"PubDate": stamp, "ArticleTitle": title, "ContentSource": agency.name,
                           "ColumnName": agency.column_label, "SiteName": agency.site_name}
        options["page_date"] = ("发布时间", stamp)
    elif agency.style == "hanweb":
        options["meta"] = {"PubDate": stamp, "ArticleTitle": title, "ColumnName": agency.column_label}
        options["page_date"] = ("发布日期", day)
    elif agency.style == "vsb":
        options["catalog_box"] = {
            "索引号": f"11000000MB0000000X/{published.year}-{published.strftime('%m%d')}",
            "发布机构": agency.name,
            "成文日期": (signing or published.date()).isoformat(),
            "公开日期": day,
        }
        options["page_date"] = ("时间", day)
    elif agency.style == "js":
        options["meta"] = {"ArticleTitle": title}
        options["page_date"] = ("发布日期", day)
    else:
        options["page_date"] = ("发布日期", day)
    body = render_html(doc, **options)
    return _localize_breadcrumb(body, agency)


def _localize_breadcrumb(body: bytes, agency: AgencySite) -> bytes:
    """render_html's breadcrumb points at a single-site layout (/, /xxgk/, /xxgk/ndbg/): point it at this portal."""
    for generic, local in (("/xxgk/ndbg/", agency.column), ("/xxgk/", agency.xxgk_index), ("/", agency.homepage)):
        body = body.replace(f'<a href="{generic}">'.encode("ascii"), f'<a href="{local}">'.encode("ascii"), 1)
    return body


# ---------------------------------------------------------------------------------------------------------------
# Homepages, 信息公开 pages and listings


def _charset_label(encoding: str) -> str:
    return "GBK" if encoding.lower() == "gbk" else "utf-8"


def _frame(agency: AgencySite, title: str, body: str, head: str = "") -> bytes:
    """The portal chrome around a page: header, navigation (首页, 信息公开), footer, in the portal's encoding."""
    esc = html.escape
    text = (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n"
        f'<meta charset="{_charset_label(agency.encoding)}">\n'
        f"<title>{esc(title)}_{esc(agency.site_name)}</title>\n{head}</head>\n<body>\n"
        f'<div class="header"><div class="site-name">{esc(agency.site_name)}</div></div>\n'
        f'<div class="nav"><a href="{agency.homepage}">首页</a> | <a href="#">新闻动态</a> | '
        f'<a href="{agency.xxgk_index}">{esc(agency.xxgk_label)}</a> | <a href="#">互动交流</a></div>\n'
        f'<div class="main">\n{body}\n</div>\n'
        f'<div class="footer"><p>主办单位：{esc(agency.name)}　版权所有</p></div>\n'
        "</body>\n</html>\n"
    )
    return text.encode(agency.encoding, errors="xmlcharrefreplace")


def _plain_page(title: str, message: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"</head>\n<body>\n<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>\n</body>\n</html>\n"
            ).encode("utf-8")


def not_found_page() -> bytes:
    return _plain_page("404 页面不存在", "您访问的页面不存在或已被删除。")


def _homepage(agency: AgencySite, entries: list[_Entry]) -> bytes:
    news_paths = {page.path for page in EXTRA_PAGES if page.agency_id == agency.id and page.kind == "news"}
    news = [entry for entry in entries if entry.path in news_paths]
    items = "\n".join(f'<li><a href="{e.path}">{html.escape(e.title)}</a></li>' for e in news)
    body = (f'<div class="banner">欢迎访问{html.escape(agency.site_name)}</div>\n'
            f'<div class="block"><h2>最新动态</h2>\n<ul>\n{items}\n</ul></div>\n'
            f'<div class="block"><h2>政务服务</h2><ul><li><a href="#">办事指南</a></li></ul></div>')
    return _frame(agency, "首页", body)


def _xxgk_page(agency: AgencySite) -> bytes:
    body = (f'<div class="breadcrumb">当前位置：<a href="{agency.homepage}">首页</a> &gt; {html.escape(agency.xxgk_label)}</div>\n'
            '<ul class="xxgk-menu">\n'
            '<li><a href="#">政府信息公开指南</a></li>\n'
            '<li><a href="#">政府信息公开制度</a></li>\n'
            '<li><a href="#">法定主动公开内容</a></li>\n'
            f'<li><a href="{agency.column}">{html.escape(agency.column_label)}</a></li>\n'
            "</ul>")
    return _frame(agency, agency.xxgk_label, body)


def _listing_date(agency: AgencySite, published: date | datetime) -> str:
    if agency.style == "vsb":
        return f"{published.year}年{published.month:02d}月{published.day:02d}日"
    return published.strftime("%Y-%m-%d")


def _pages(entries: list[_Entry], size: int) -> list[list[_Entry]]:
    return [entries[i:i + size] for i in range(0, len(entries), size)] or [[]]


def _listing_pages(agency: AgencySite, entries: list[_Entry]) -> dict[str, bytes]:
    builders = {"trs": _trs_listing, "hanweb": _hanweb_listing, "vsb": _vsb_listing, "js": _js_listing,
                "files": _files_listing}
    return builders[agency.style](agency, entries)


def _items_html(agency: AgencySite, entries: Iterable[_Entry], page_path: str, *, relative: bool) -> str:
    lines = []
    for entry in entries:
        href = posixpath.relpath(entry.path, posixpath.dirname(page_path)) if relative else entry.path
        if relative and not href.startswith("."):
            href = "./" + href
        title = html.escape(entry.title)
        lines.append(f'<li><a href="{href}" target="_blank" title="{title}">{title}</a>'
                     f"<span>{_listing_date(agency, entry.published)}</span></li>")
    return "\n".join(lines)


def _column_frame(agency: AgencySite, list_html: str, pager: str, head: str = "") -> bytes:
    body = (f'<div class="breadcrumb">当前位置：<a href="{agency.homepage}">首页</a> &gt; '
            f'<a href="{agency.xxgk_index}">{html.escape(agency.xxgk_label)}</a> &gt; {html.escape(agency.column_label)}</div>\n'
            f'<div class="column-title">{html.escape(agency.column_label)}</div>\n'
            f'{list_html}\n<div class="page">{pager}</div>')
    return _frame(agency, agency.column_label, body, head)


# TRS publishes its pager as a script call; the function is the usual one, kept here so the page works in a browser.
_TRS_PAGER_SCRIPT = """<script type="text/javascript">
function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){
  if(_nPageCount == null || _nPageCount <= 1){ return; }
  var nCurrIndex = _nCurrIndex || 0;
  function pageUrl(i){ return i == 0 ? _sPageName + "." + _sPageExt : _sPageName + "_" + i + "." + _sPageExt; }
  document.write("共" + _nPageCount + "页&nbsp;");
  if(nCurrIndex == 0){ document.write("首页&nbsp;上一页&nbsp;"); }
  else { document.write("<a href=\\"" + pageUrl(0) + "\\">首页</a>&nbsp;<a href=\\"" + pageUrl(nCurrIndex - 1) + "\\">上一页</a>&nbsp;"); }
  if(nCurrIndex == _nPageCount - 1){ document.write("下一页&nbsp;尾页"); }
  else { document.write("<a href=\\"" + pageUrl(nCurrIndex + 1) + "\\">下一页</a>&nbsp;<a href=\\"" + pageUrl(_nPageCount - 1) + "\\">尾页</a>"); }
}
</script>
"""


def _trs_listing(agency: AgencySite, entries: list[_Entry]) -> dict[str, bytes]:
    pages = _pages(entries, agency.page_size)
    directory = posixpath.dirname(agency.column)
    out = {}
    for number, chunk in enumerate(pages):
        path = agency.column if number == 0 else f"{directory}/index_{number}.html"
        list_html = f'<ul class="list">\n{_items_html(agency, chunk, path, relative=True)}\n</ul>'
        pager = f'<script type="text/javascript">createPageHTML({len(pages)}, {number}, "index", "html");</script>'
        out[path] = _column_frame(agency, list_html, pager, head=_TRS_PAGER_SCRIPT)
    return out


def _hanweb_listing(agency: AgencySite, entries: list[_Entry]) -> dict[str, bytes]:
    pages = _pages(entries, agency.page_size)
    out = {}
    for number, chunk in enumerate(pages, start=1):
        path = agency.column if number == 1 else f"{agency.column}?page={number}"
        links = [f"<span>共{len(pages)}页</span>", f"<span>第{number}页</span>"]
        if number > 1:
            previous = agency.column if number == 2 else f"{agency.column}?page={number - 1}"
            links.append(f'<a href="{previous}">上一页</a>')
        if number < len(pages):
            links.append(f'<a href="{agency.column}?page={number + 1}">下一页</a>')
        list_html = f'<ul class="list">\n{_items_html(agency, chunk, path, relative=False)}\n</ul>'
        out[path] = _column_frame(agency, list_html, " ".join(links))
    out[f"{agency.column}?page=1"] = out[agency.column]  # Hanweb answers the explicit first page too
    return out


def _vsb_listing(agency: AgencySite, entries: list[_Entry]) -> dict[str, bytes]:
    # VSB numbers later pages downwards: gknb.htm, then gknb/{n-1}.htm … gknb/1.htm.
    pages = _pages(entries, agency.page_size)
    stem = agency.column[: -len(".htm")]
    paths = [agency.column] + [f"{stem}/{len(pages) - n}.htm" for n in range(1, len(pages))]
    out = {}
    for number, (path, chunk) in enumerate(zip(paths, pages)):
        links = [f"<span>共{len(pages)}页&nbsp;{number + 1}/{len(pages)}</span>"]
        if number > 0:
            links.append(f'<a href="{_relative(paths[0], path)}" class="First">首页</a>')
            links.append(f'<a href="{_relative(paths[number - 1], path)}" class="Prev">上页</a>')
        if number < len(pages) - 1:
            links.append(f'<a href="{_relative(paths[number + 1], path)}" class="Next">下页</a>')
            links.append(f'<a href="{_relative(paths[-1], path)}" class="Last">尾页</a>')
        list_html = f'<ul class="list">\n{_items_html(agency, chunk, path, relative=True)}\n</ul>'
        out[path] = _column_frame(agency, list_html, " ".join(links))
    return out


def _relative(target: str, page: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(page))


_JS_LISTING_SCRIPT = """<script type="text/javascript">
fetch("list.json").then(function (response) { return response.json(); }).then(function (data) {
  var list = document.getElementById("list");
  data.items.forEach(function (item) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = item.url;
    a.textContent = item.title;
    var span = document.createElement("span");
    span.textContent = item.date;
    li.appendChild(a);
    li.appendChild(span);
    list.appendChild(li);
  });
});
</script>"""


def _js_listing(agency: AgencySite, entries: list[_Entry]) -> dict[str, bytes]:
    items = [{"title": e.title, "url": e.path, "date": _listing_date(agency, e.published)} for e in entries]
    payload = json.dumps({"total": len(items), "items": items}, ensure_ascii=False, indent=1) + "\n"
    page = _column_frame(agency, '<ul id="list"></ul>\n' + _JS_LISTING_SCRIPT, "")
    return {agency.column: page, JS_LIST_JSON: payload.encode("utf-8")}


def _files_listing(agency: AgencySite, entries: list[_Entry]) -> dict[str, bytes]:
    list_html = f'<ul class="list">\n{_items_html(agency, entries, agency.column, relative=False)}\n</ul>'
    return {agency.column: _column_frame(agency, list_html, "")}
