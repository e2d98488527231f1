"""Every date found in and around a report, with where it came from, and the choice of the publication date.

The law cares about the day the report was *published*. Portals show that day in several places that may
disagree (page tags, the 信息公开目录 box, a label under the title, the listing, the URL); documents carry
weaker hints (file metadata, the 落款 signing date). We keep all of them as ``DateEvidence`` and pick one
by a fixed order of trust, never the signing or 成文 date. No clock is read here: the parsers are pure.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from parsers.beijing import BEIJING
from parsers.record import DateEvidence, ExtractedDocument, FetchContext

# Dates outside this window are misreadings (a year typed as 2202, a 1990s CMS default), not evidence.
PLAUSIBLE_FROM = date(2008, 1, 1)
PLAUSIBLE_UNTIL = date(2099, 12, 31)

# Portals stand in China: a timestamp in UTC is read on the Beijing calendar.

SOURCE_NAMES = {
    "meta_pubdate": "网页元数据 PubDate",
    "catalog_box": "信息公开目录中的公开日期",
    "page_label": "页面标注的日期",
    "listing": "栏目列表中的日期",
    "url": "网址中的日期",
    "http_last_modified": "HTTP Last-Modified 响应头",
    "pdf_metadata": "PDF 文档属性",
    "docx_metadata": "DOCX 文档属性",
    "signing": "落款日期",
    "written": "成文日期",
    "first_seen": "首次抓取日期",
}

# Order of trust for the publication date. Sources not listed (signing, written, first_seen) never win.
PUBLICATION_PRIORITY = (
    "meta_pubdate",
    "catalog_box",
    "page_label",
    "listing",
    "url",
    "http_last_modified",
    "pdf_metadata",
    "docx_metadata",
)

META_DATE_KEYS = frozenset({"pubdate", "publishdate", "publishtime", "firstpublishedtime", "article:published_time"})

# Labels as printed on pages, compared without spaces and colons.
CATALOG_PUBLICATION_LABELS = frozenset({"公开日期", "发布日期", "发布时间", "公开时间", "发文日期"})
# 发文日期 (the day the document was issued) counts as publication, below the 发布/公开 labels
WEAKER_CATALOG_LABELS = frozenset({"发文日期"})
WRITTEN_LABELS = frozenset({"成文日期", "成文时间", "生成日期", "撰写时间"})
# Page labels that mean "published", strongest first; anything else (更新时间, 修改时间 …) is kept but never chosen.
PAGE_PUBLICATION_LABELS = ("发布日期", "发布时间", "首次发布时间", "首次发布日期", "公开日期", "公开时间", "发表日期",
                           "发表时间", "信息发布日期",
                           "信息发布时间", "上网日期", "上网时间", "添加时间", "添加日期", "时间", "日期", "发文日期")

# Full-width digits, spaces and separators mapped one character to one, so match positions stay valid for `raw`.
_WIDTH_MAP = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)},
                            "\u3000": " ", "／": "/", "－": "-", "．": ".", "\u00a0": " "})

# zero is written 〇, ○, ◯, a Latin or full-width O (二Ｏ二Ｏ年六月三十日) or 零 in 落款 dates
_CN_DIGITS = {"〇": 0, "○": 0, "◯": 0, "O": 0, "o": 0, "Ｏ": 0, "ｏ": 0, "零": 0, "0": 0, "一": 1, "二": 2, "三": 3,
              "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_YEAR_CHARS = "〇○◯OoＯｏ零0一二三四五六七八九"
_CN_NUMBER_CHARS = "一二三四五六七八九十廿卅〇○零"

_DATE_PATTERNS = (
    # 2023年1月29日, 2023 年 1 月 29 日 (PDF spacing); 日 may be missing
    ("ymd_cn", re.compile(r"(?<!\d)(\d{4})[ \t]*年[ \t]*(\d{1,2})[ \t]*月[ \t]*(\d{1,2})(?!\d)(?:[ \t]*日)?")),
    # 2023-01-30, 2023/1/29, 2023.01.29: the same separator twice, so "2017年1-4季度" is not a date
    ("ymd_sep", re.compile(r"(?<!\d)(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")),
    # 二〇二三年一月二十九日, 二O二三年十二月廿九日, 二〇二四年元月八日
    ("ymd_hanzi", re.compile(rf"([{_CN_YEAR_CHARS}]{{4}})[ \t]*年[ \t]*([{_CN_NUMBER_CHARS}元]{{1,3}})[ \t]*月[ \t]*"
                             rf"([{_CN_NUMBER_CHARS}]{{1,4}})[ \t]*日")),
    # PDF text that lost 年 and 月: "2023 1 1 日" (日 required, or any three numbers would do)
    ("ymd_lost", re.compile(r"(?<!\d)(\d{4})[ \t]+(\d{1,2})[ \t]+(\d{1,2})[ \t]*日")),
)
_COMPACT = re.compile(r"\s*(\d{4})(\d{2})(\d{2})\s*")
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})(\d{2})")


@dataclass(frozen=True)
class FoundDate:
    value: date
    raw: str
    start: int
    end: int


@dataclass(frozen=True)
class Signature:
    """The 落款 block: its date and the non-empty lines right above it (the signing agency, usually)."""

    date: DateEvidence
    line: str                 # the whole line that holds the date
    lines_above: list[str]    # nearest first


@dataclass(frozen=True)
class ChosenDate:
    date: date | None
    source: str | None
    reason: str
    evidence: DateEvidence | None = None


# ------------------------------------------------------------------ reading date strings

def find_dates(text: str) -> list[FoundDate]:
    """Every calendar date written in ``text``, in order of position, with the exact substring it was read from."""
    if not text:
        return []
    normalised = text.translate(_WIDTH_MAP)
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for name, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(normalised):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            value = _date_from_match(name, match)
            if value is None:
                continue
            taken.append(match.span())
            found.append(FoundDate(value, text[match.start():match.end()], match.start(), match.end()))
    return sorted(found, key=lambda item: item.start)


def parse_date_text(raw: str) -> date | None:
    """The first date in ``raw``: ISO with time, 年月日, Chinese numerals, full-width digits, 2023/1/29, 2023.01.29,
    PDF text without 年/月 ("2023 1 1 日") or a bare 20230130. None when there is no valid calendar date."""
    if not raw:
        return None
    found = find_dates(raw)
    if found:
        return found[0].value
    compact = _COMPACT.fullmatch(raw.translate(_WIDTH_MAP))
    return _safe_date(*map(int, compact.groups())) if compact else None


def _date_from_match(name: str, match: re.Match) -> date | None:
    if name == "ymd_sep":
        return _safe_date(int(match.group(1)), int(match.group(3)), int(match.group(4)))
    if name == "ymd_hanzi":
        year = int("".join(str(_CN_DIGITS[ch]) for ch in match.group(1)))
        month = 1 if match.group(2) == "元" else _hanzi_number(match.group(2))  # 元月: the first month
        day = _hanzi_number(match.group(3))
        return _safe_date(year, month, day) if month and day else None
    return _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))


def _hanzi_number(text: str) -> int | None:
    """一 … 三十一, also 廿九 and 卅一; None for anything else."""
    if text[0] in "廿卅":
        rest = _hanzi_number(text[1:]) if len(text) > 1 else 0
        return None if rest is None or rest > 9 else (20 if text[0] == "廿" else 30) + rest
    if "十" in text:
        tens_text, _, ones_text = text.partition("十")
        tens = _CN_DIGITS.get(tens_text, None) if tens_text else 1
        ones = _CN_DIGITS.get(ones_text, None) if ones_text else 0
        if tens is None or ones is None:
            return None
        return tens * 10 + ones
    if len(text) == 1 and text in _CN_DIGITS:
        return _CN_DIGITS[text]
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def is_plausible(value: date) -> bool:
    return PLAUSIBLE_FROM <= value <= PLAUSIBLE_UNTIL


# ------------------------------------------------------------------ signing date (落款)

_PAGE_NUMBER_LINE = re.compile(r"^[-—－\s]*(第\s*)?\d+\s*(页)?[-—－\s]*(/\s*\d+\s*页?)?$")
_ATTACHMENT_LINE = re.compile(r"^(附件|附表)\s*\d*\s*[:：]?")
_LABEL_WORDS = ("发布", "时间", "日期", "更新", "来源", "浏览", "点击", "统计期限", "修订", "修改")
# the page's furniture after an article: what follows it (the next article's date, the footer's today) is no 落款
# (not 相关链接 or 分享到: a report's own text may hold them)
_FURNITURE_LINE = re.compile(r"^[【\[]?\s*(?:上一篇|下一篇|上一条|下一条|打印本页|打印此页|关闭窗口|返回顶部)")
# a revision noted beside the 落款: "2025年1月20日（2025年3月12日修改）"
_REVISION_NOTE = re.compile(r"[（(][^（()）]{0,30}(?:修改|修订|更新)[^（()）]{0,10}[）)]")
_SENTENCE_PUNCTUATION = re.compile(r"[，。；！？,;]")
_SIGNATURE_WINDOW = 15


def find_signature(text: str) -> Signature | None:
    """The 落款 date near the end of the text (or just above an appended 附件), with the lines above it."""
    lines = [line.strip() for line in (text or "").splitlines()]
    content = [i for i, line in enumerate(lines) if line and not _PAGE_NUMBER_LINE.match(line)]
    furniture = next((pos for pos in content[len(content) // 3:] if _FURNITURE_LINE.match(lines[pos])), None)
    if furniture is not None:
        content = [i for i in content if i < furniture]
    if not content:
        return None
    window = min(_SIGNATURE_WINDOW, max(1, (len(content) + 1) // 2))
    candidate_runs = [content[-window:]]
    # A 落款 can sit above an attached statistics table: also look just above the first late 附件 line.
    attachment = next((pos for pos in content[len(content) // 3:] if _ATTACHMENT_LINE.match(lines[pos])), None)
    if attachment is not None:
        candidate_runs.append([i for i in content if i < attachment][-window:])
    for run in candidate_runs:
        for index in reversed(run):
            evidence = _signing_date_on_line(lines[index])
            if evidence is None:
                continue
            above = [lines[i] for i in reversed(content) if i < index][:3]
            return Signature(evidence, lines[index], above)
    return None


def find_signing_date(text: str) -> DateEvidence | None:
    """The 落款 date among the last lines; source "signing". Not a publication date."""
    signature = find_signature(text)
    return signature.date if signature else None


def _signing_date_on_line(line: str) -> DateEvidence | None:
    line = _REVISION_NOTE.sub("", line).strip()
    if len(line) > 60 or _SENTENCE_PUNCTUATION.search(line) or any(word in line for word in _LABEL_WORDS):
        return None
    found = find_dates(line)
    if len(found) != 1 or not is_plausible(found[0].value):
        return None
    rest = (line[:found[0].start] + line[found[0].end:]).strip()
    # the date may share the line with the signing agency, nothing longer
    if len(rest) > 30:
        return None
    return DateEvidence(found[0].value, "signing", found[0].raw)


# ------------------------------------------------------------------ URL dates

_URL_DATE_PATTERNS = (
    ("TRS", re.compile(r"/t(\d{4})(\d{2})(\d{2})_\d+")),                      # /202301/t20230130_123.html
    ("Hanweb", re.compile(r"/art/(\d{4})/(\d{1,2})/(\d{1,2})/art_")),        # /art/2024/1/22/art_1229_1.html
    ("路径日期", re.compile(r"/(\d{4})-(\d{1,2})-(\d{1,2})(?=/)")),              # /c/2026-01-15/7097241.shtml
    ("路径日期", re.compile(r"/(\d{4})-(\d{2})/(\d{2})(?=/)")),                  # /2023-01/30/content_5.htm
    ("路径日期", re.compile(r"/(20\d{2})(\d{2})(\d{2})(?=/)")),                  # /20230130/abc.html
)


def dates_from_url(url: str) -> list[DateEvidence]:
    """Dates a CMS wrote into the URL path; source "url", label the CMS pattern.

    Only full dates count: a month-only folder (TRS ``/202601/0176….html``) is skipped rather than read as the
    first of the month, which would be a made-up day. The query string is never read: ``fbtime=2022`` and
    ``nbYear=2022`` are report years, not dates.
    """
    if not url:
        return []
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return []
    found: list[DateEvidence] = []
    for label, pattern in _URL_DATE_PATTERNS:
        for match in pattern.finditer(path):
            value = _safe_date(*map(int, match.groups()))
            if value is None or not is_plausible(value) or any(e.value == value for e in found):
                continue
            found.append(DateEvidence(value, "url", match.group(0), label))
    return found


# ------------------------------------------------------------------ metadata and header dates

def date_from_metadata(raw: str) -> date | None:
    """PDF ``D:20250225100250+08'00'`` (any offset, even +06'41': the digits are the writer's local day),
    ISO timestamps from DOCX core properties (UTC, read on the Beijing calendar), or any date text."""
    text = (raw or "").strip()
    if not text:
        return None
    pdf = _PDF_DATE.match(text)
    if pdf and (text.startswith("D:") or len(text) >= 14 and text[:14].isdigit()):
        return _safe_date(*map(int, pdf.groups()))
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return parse_date_text(text)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(BEIJING)
    return stamp.date()


def date_from_http(raw: str) -> date | None:
    """An HTTP date (``Wed, 01 Feb 2023 02:00:00 GMT``) on the Beijing calendar."""
    try:
        stamp = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(BEIJING).date()


# ------------------------------------------------------------------ collecting evidence

def collect_dates(doc: ExtractedDocument, context: FetchContext) -> list[DateEvidence]:
    """Every plausible date in and around the document, each with its source, raw string and label."""
    found: list[DateEvidence] = []

    def add(value: date | None, source: str, raw: str, label: str | None = None) -> None:
        if value is None or not is_plausible(value):
            return
        evidence = DateEvidence(value, source, raw, label)
        if evidence not in found:
            found.append(evidence)

    for key, raw in doc.meta.items():
        if key.strip().lower() in META_DATE_KEYS and raw:
            add(parse_date_text(raw), "meta_pubdate", raw, key)
    for key, raw in doc.catalog_box.items():
        label = clean_label(key)
        if label in CATALOG_PUBLICATION_LABELS:
            add(parse_date_text(raw), "catalog_box", raw, label)
        elif label in WRITTEN_LABELS:
            add(parse_date_text(raw), "written", raw, label)
    for key, raw in doc.page_dates:
        label = clean_label(key)
        source = "written" if label in WRITTEN_LABELS else "page_label"
        add(parse_date_text(raw), source, raw, label)
    if context.listing_date:
        add(parse_date_text(context.listing_date), "listing", context.listing_date)
    for evidence in dates_from_url(context.url or ""):
        add(evidence.value, evidence.source, evidence.raw, evidence.label)
    last_modified = context.header("Last-Modified")
    if last_modified:
        add(date_from_http(last_modified), "http_last_modified", last_modified, "Last-Modified")
    for key, raw in doc.doc_metadata.items():
        source = _metadata_source(key)
        if source and raw:
            add(date_from_metadata(str(raw)), source, str(raw), key)
    signing = find_signing_date(doc.text)
    if signing:
        add(signing.value, signing.source, signing.raw, signing.label)
    return found


def clean_label(label: str) -> str:
    return re.sub(r"[\s:：\u3000]+", "", label or "")


def _metadata_source(key: str) -> str | None:
    name = key.strip().lower()
    if name in {"creationdate", "moddate"}:
        return "pdf_metadata"
    if name in {"created", "modified"}:
        return "docx_metadata"
    return None


# ------------------------------------------------------------------ choosing the publication date

def choose_publication_date(dates: list[DateEvidence], today: date | None = None) -> ChosenDate:
    """The publication date by order of trust: meta_pubdate > catalog_box > page_label (发布/公开 labels) >
    listing > url > http_last_modified > pdf/docx metadata. Never the signing, 成文 or first-seen date.

    ``today`` (optional, the caller's clock) drops dates in the future. The reason is one Chinese sentence
    naming the source and any disagreement with the other publication evidence.
    """
    usable = [d for d in dates if is_plausible(d.value) and (today is None or d.value <= today + timedelta(days=1))]
    future = [d for d in dates if d not in usable and today is not None and d.value > today]
    candidates = [d for d in usable if _publication_rank(d) is not None]
    if not candidates:
        return ChosenDate(None, None, _no_date_reason(dates, future))
    best = min(candidates, key=lambda d: (_publication_rank(d), d.value))
    reason = f"采用{describe_source(best)} {best.value.isoformat()}（原文“{best.raw}”）"
    notes = _disagreements(best, candidates)
    if future:
        notes.append(f"忽略晚于今天的日期 {'、'.join(d.value.isoformat() for d in future)}")
    if notes:
        reason += "；" + "；".join(notes)
    elif len(candidates) > 1:
        reason += "，其他发布日期证据与之一致"
    return ChosenDate(best.value, best.source, reason + "。", best)


def describe_source(evidence: DateEvidence) -> str:
    name = SOURCE_NAMES.get(evidence.source, evidence.source)
    if evidence.label and evidence.source not in {"meta_pubdate", "http_last_modified"}:
        return f"{name}“{evidence.label}”"
    return name


def _publication_rank(evidence: DateEvidence) -> tuple[int, int] | None:
    if evidence.source not in PUBLICATION_PRIORITY:
        return None
    rank = PUBLICATION_PRIORITY.index(evidence.source)
    if evidence.source == "catalog_box":
        return (rank, 1 if clean_label(evidence.label or "") in WEAKER_CATALOG_LABELS else 0)
    if evidence.source != "page_label":
        return (rank, 0)
    label = clean_label(evidence.label or "")
    if label not in PAGE_PUBLICATION_LABELS:
        return None  # 更新时间 and other labels say nothing about publication
    return (rank, PAGE_PUBLICATION_LABELS.index(label))


def _disagreements(best: DateEvidence, candidates: list[DateEvidence]) -> list[str]:
    notes = []
    seen: set[tuple[str, date]] = set()
    for other in candidates:
        if other.value == best.value or (other.source, other.value) in seen:
            continue
        seen.add((other.source, other.value))
        days = (other.value - best.value).days
        direction = "晚" if days > 0 else "早"
        notes.append(f"{describe_source(other)} {other.value.isoformat()} 与之相差 {abs(days)} 天（{direction}）")
    return notes[:4]


def _no_date_reason(dates: list[DateEvidence], future: list[DateEvidence]) -> str:
    ignored = sorted({SOURCE_NAMES.get(d.source, d.source) for d in dates if d not in future})
    if future:
        return "只找到晚于今天的日期，不能作为发布日期。"
    if ignored:
        return f"没有发布日期证据；{'、'.join(ignored)}不能作为发布日期。"
    return "没有找到任何日期证据。"
