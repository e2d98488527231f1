"""The agency registry: who must publish a report, where their portal is, and how to crawl it.

The registry is a list of agencies kept as YAML (the hand-edited source) or CSV (for spreadsheets). Loading is
strict about structure (an unreadable file or an unknown key is a RegistryError naming the line or row) and lenient
about values, so that ``validate`` can list every bad value at once instead of stopping at the first.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

import yaml

from parsers.agency import agencies_match, is_fuller_name
from parsers.record import LEVELS

RENDER_MODES = ("auto", "js", "never")
ROBOTS_POLICIES = ("obey", "ignore")
DEFAULT_REGISTRY_PATH = Path(__file__).parent / "data" / "registry.yaml"

# In CSV a list cell holds its items separated by this character (URLs and agency names never contain it).
LIST_SEPARATOR = "|"
# Column order of the CSV and key order of the YAML: the order a person reads an entry in.
FIELD_ORDER = ("id", "name", "level", "region", "parent", "homepage", "report_index", "render", "robots", "aliases")
_REQUIRED = ("id", "name", "level", "homepage")
_LIST_FIELDS = ("report_index", "aliases")

_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
# 行政区划代码: 6 digits (county and up), 9 (township) or 12 (village), as published by the statistics bureau.
_REGION_PATTERN = re.compile(r"\d{6}(?:\d{3}(?:\d{3})?)?")
_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2060\ufeff]+")


class RegistryError(Exception):
    """A registry file cannot be read; the message names the file and the line or row."""


@dataclass(frozen=True)
class Agency:
    """One agency that publishes (or should publish) a yearly report."""

    id: str
    name: str
    level: str                         # government | department | township (parsers.record.LEVELS)
    homepage: str
    region: str | None = None          # 行政区划代码, only when certain
    parent: str | None = None          # id of the agency this one belongs to (a county department → the county)
    report_index: tuple[str, ...] = ()  # known report-column URLs; empty means discover from the homepage
    render: str = "auto"               # auto | js | never: whether listings may need a browser
    robots: str = "obey"               # obey | ignore
    aliases: tuple[str, ...] = ()      # other names it publishes under (卫计局 for 卫生和计划生育局 ...)

    def names(self) -> tuple[str, ...]:
        """The official name followed by the aliases."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class RegistryProblem:
    """One bad value found by ``validate``: where it is and what is wrong, as one sentence."""

    row: int          # 1-based position of the entry in the registry
    agency_id: str
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------- loading

def load_registry(path: str | Path) -> list[Agency]:
    """Read a registry file; the format follows the extension (.yaml/.yml or .csv)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise RegistryError(f"{path}：不支持的注册表格式“{suffix or '无扩展名'}”，应为 .yaml、.yml 或 .csv")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RegistryError(f"{path}：无法读取（{exc.strerror or exc}）") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RegistryError(f"{path} 第{line}行：不是 UTF-8 编码（第{exc.start}字节）") from exc
    if suffix == ".csv":
        return registry_from_csv(text, source=str(path))
    return registry_from_yaml(text, source=str(path))


def load_default_registry() -> list[Agency]:
    """The registry shipped with the project (crawler/data/registry.yaml)."""
    return load_registry(DEFAULT_REGISTRY_PATH)


def _yaml_kind(document: object) -> str:
    """What a YAML document's top level is, in words (the loader's own classes are no user's business)."""
    if isinstance(document, dict):
        return "一个映射（键: 值）"
    if isinstance(document, str):
        return "一段文字"
    return "一个数值" if isinstance(document, (int, float)) else "其他内容"


def registry_from_yaml(text: str, source: str = "<yaml>") -> list[Agency]:
    """Agencies from YAML text: a list of mappings with the keys of ``Agency``."""
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" 第{mark.line + 1}行" if mark else ""
        raise RegistryError(f"{source}{where}：YAML 无法解析（{exc.problem or exc}）") from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"{source}：YAML 无法解析（{exc}）") from exc
    if document is None:
        return []
    if not isinstance(document, list):
        raise RegistryError(f"{source}：顶层应为机构列表（每项以“- id: …”开始），实际是{_yaml_kind(document)}")
    agencies = []
    for position, entry in enumerate(document, start=1):
        line = getattr(entry, "line", None)
        where = f"{source} 第{position}条" + (f"（第{line}行）" if line else "")
        if not isinstance(entry, dict):
            raise RegistryError(f"{where}：每条应为键值映射，实际是 {type(entry).__name__}")
        agencies.append(_agency_from_mapping(entry, where))
    return agencies


def registry_from_csv(text: str, source: str = "<csv>") -> list[Agency]:
    """Agencies from CSV text with a header row; list cells are ``|``-separated."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    if not header:
        return []
    unknown = [name for name in header if name not in FIELD_ORDER]
    if unknown:
        raise RegistryError(f"{source} 第1行：未知列 {'、'.join(unknown)}（可用列：{', '.join(FIELD_ORDER)}）")
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise RegistryError(f"{source} 第1行：缺少必需列 {'、'.join(missing)}")
    agencies = []
    try:
        for row in reader:
            where = f"{source} 第{reader.line_num}行"
            if None in row:
                raise RegistryError(f"{where}：单元格比表头多（{len(header)}列）")
            if not any((value or "").strip() for value in row.values()):
                continue  # spreadsheets leave blank lines at the end
            mapping: dict[str, Any] = {}
            for key, value in row.items():
                value = (value or "").strip()
                if key in _LIST_FIELDS:
                    mapping[key] = [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
                elif value:
                    mapping[key] = value
            agencies.append(_agency_from_mapping(mapping, where))
    except csv.Error as exc:
        raise RegistryError(f"{source} 第{reader.line_num}行：CSV 无法解析（{exc}）") from exc
    return agencies


def _agency_from_mapping(entry: dict, where: str) -> Agency:
    unknown = [str(key) for key in entry if key not in FIELD_ORDER]
    if unknown:
        raise RegistryError(f"{where}：未知字段 {'、'.join(unknown)}（可用字段：{', '.join(FIELD_ORDER)}）")
    values: dict[str, Any] = {}
    for key in FIELD_ORDER:
        value = entry.get(key)
        if key in _LIST_FIELDS:
            values[key] = _as_tuple(value, key, where)
        elif value is None:
            continue
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            # An unquoted region code such as 370305 comes out of YAML as an int.
            values[key] = str(value).strip()
        else:
            raise RegistryError(f"{where}：字段 {key} 应为文字，实际是 {type(value).__name__}")
    for key in _REQUIRED:
        values.setdefault(key, "")  # validate() names the missing value; loading keeps the entry
    for key in ("region", "parent"):
        if values.get(key) == "":
            values[key] = None
    for key, default in (("render", "auto"), ("robots", "obey")):
        if not values.get(key):
            values[key] = default
    return Agency(**values)


def _as_tuple(value: Any, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value)
    raise RegistryError(f"{where}：字段 {key} 应为文字列表")


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader that refuses duplicate keys (the first value would be lost) and remembers entry lines. On libyaml's
    parser where PyYAML has it: the Python one took ~35 s for a national registry of 100,000 agencies."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"重复的键 {key!r}", key_node.start_mark)
            seen.add(key)
        mapping = super().construct_mapping(node, deep=deep)
        return _LineDict(mapping, line=node.start_mark.line + 1)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


class _LineDict(dict):
    """A dict that knows the line it started on, for error messages."""

    def __init__(self, mapping: dict, line: int):
        super().__init__(mapping)
        self.line = line


# ---------------------------------------------------------------- writing

def dump_registry(agencies: Iterable[Agency], path: str | Path) -> None:
    """Write agencies to a YAML or CSV file (by extension); ``load_registry`` reads back the same agencies."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        text = registry_to_yaml(agencies)
    elif suffix == ".csv":
        text = registry_to_csv(agencies)
    else:
        raise RegistryError(f"{path}：不支持的注册表格式“{suffix or '无扩展名'}”，应为 .yaml、.yml 或 .csv")
    path.write_text(text, encoding="utf-8", newline="")


def convert_registry(source: str | Path, target: str | Path) -> list[Agency]:
    """Load one registry file and write it in the other format (how registry.csv is made from registry.yaml)."""
    agencies = load_registry(source)
    dump_registry(agencies, target)
    return agencies


def registry_to_yaml(agencies: Iterable[Agency]) -> str:
    """YAML text of the agencies; optional fields are written only when they differ from their default."""
    entries = [_to_mapping(agency, keep_empty=False) for agency in agencies]
    return yaml.dump(entries, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True, sort_keys=False,
                     width=200, default_flow_style=False)


def registry_to_csv(agencies: Iterable[Agency]) -> str:
    """CSV text of the agencies with every column, list cells joined with ``|``."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(FIELD_ORDER), lineterminator="\n")
    writer.writeheader()
    for agency in agencies:
        row = _to_mapping(agency, keep_empty=True)
        for key in _LIST_FIELDS:
            row[key] = LIST_SEPARATOR.join(row[key])
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return buffer.getvalue()


def _to_mapping(agency: Agency, keep_empty: bool) -> dict[str, Any]:
    defaults = {f.name: f.default for f in fields(Agency)}
    mapping: dict[str, Any] = {}
    for key in FIELD_ORDER:
        value = getattr(agency, key)
        if key in _LIST_FIELDS:
            value = list(value)
        if not keep_empty and key not in _REQUIRED and (value in (None, [], "") or value == defaults[key]):
            continue
        mapping[key] = value
    return mapping


# ---------------------------------------------------------------- validation

def validate(agencies: list[Agency]) -> list[RegistryProblem]:
    """Every bad value in the registry, in entry order; an empty list means the registry is usable."""
    problems: list[RegistryProblem] = []
    first_row_of: dict[str, int] = {}
    for row, agency in enumerate(agencies, start=1):
        if agency.id and agency.id not in first_row_of:
            first_row_of[agency.id] = row
    for row, agency in enumerate(agencies, start=1):
        problems.extend(_problems_of(agency, row, first_row_of))
    problems.extend(_parent_cycles(agencies))
    return problems


def _problems_of(agency: Agency, row: int, first_row_of: dict[str, int]) -> Iterable[RegistryProblem]:
    who = f"第{row}条（id={agency.id or '空'}）"

    def problem(field: str, what: str) -> RegistryProblem:
        return RegistryProblem(row, agency.id, field, f"{who}的 {field} 字段{what}。")

    if not agency.id:
        yield problem("id", "为空")
    elif not _ID_PATTERN.fullmatch(agency.id):
        yield problem("id", f"“{agency.id}”不是小写 ASCII 标识（只能含 a-z、0-9、点、下划线和连字符）")
    elif first_row_of[agency.id] != row:
        yield problem("id", f"与第{first_row_of[agency.id]}条重复")
    if not agency.name.strip():
        yield problem("name", "为空")
    if agency.level not in LEVELS:
        yield problem("level", f"取值“{agency.level}”未知，应为 {'、'.join(LEVELS)} 之一")
    if agency.region is not None and not _REGION_PATTERN.fullmatch(agency.region):
        yield problem("region", f"“{agency.region}”不是 6、9 或 12 位数字的行政区划代码")
    if agency.parent is not None:
        if agency.parent == agency.id:
            yield problem("parent", "指向了自己")
        elif agency.parent not in first_row_of:
            yield problem("parent", f"指向不存在的机构“{agency.parent}”")
    if not is_http_url(agency.homepage):
        yield problem("homepage", f"“{agency.homepage}”不是 http(s) 网址")
    for url in agency.report_index:
        if not is_http_url(url):
            yield problem("report_index", f"中的“{url}”不是 http(s) 网址")
    for url in _duplicates(agency.report_index):
        yield problem("report_index", f"中的“{url}”重复出现")
    if agency.render not in RENDER_MODES:
        yield problem("render", f"取值“{agency.render}”未知，应为 {'、'.join(RENDER_MODES)} 之一")
    if agency.robots not in ROBOTS_POLICIES:
        yield problem("robots", f"取值“{agency.robots}”未知，应为 {'、'.join(ROBOTS_POLICIES)} 之一")
    own_name = normalize_name(agency.name)
    for alias in agency.aliases:
        if not normalize_name(alias):
            yield problem("aliases", "含有空别名")
        elif normalize_name(alias) == own_name:
            yield problem("aliases", f"中的“{alias}”与机构名称相同")
    for alias in _duplicates(agency.aliases, key=normalize_name):
        yield problem("aliases", f"中的“{alias}”重复出现")


def _parent_cycles(agencies: list[Agency]) -> list[RegistryProblem]:
    """Parent chains that loop back (a → b → a); a self-parent is reported by ``_problems_of``."""
    parent_of: dict[str, str | None] = {}
    row_of: dict[str, int] = {}
    for row, agency in enumerate(agencies, start=1):
        if agency.id and agency.id not in parent_of:
            parent_of[agency.id], row_of[agency.id] = agency.parent, row
    reported: set[frozenset[str]] = set()
    problems = []
    for start in parent_of:
        chain = [start]
        current = parent_of[start]
        while current in parent_of and current not in chain:
            chain.append(current)
            current = parent_of[current]
        if current not in chain:
            continue
        loop = chain[chain.index(current):]
        if len(loop) < 2 or frozenset(loop) in reported:
            continue
        reported.add(frozenset(loop))
        first = loop[0]
        path = " → ".join(loop + [first])
        problems.append(RegistryProblem(row_of[first], first, "parent",
                                        f"第{row_of[first]}条（id={first}）的 parent 字段形成循环：{path}。"))
    return problems


def _duplicates(items: Iterable[str], key=lambda item: item) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for item in items:
        marker = key(item)
        if marker and marker in seen:
            repeated.append(item)
        seen.add(marker)
    return repeated


def select(agencies: Iterable[Agency], wanted: str | Iterable[str] | None) -> list[Agency]:
    """The agencies whose id is in ``wanted`` ("a,b" or a list), in ``wanted``'s order; all of them when it is
    empty. An id the registry does not know is a ``RegistryError`` naming it."""
    agencies = list(agencies)
    if not wanted:
        return agencies
    ids = [part.strip() for part in (wanted.split(",") if isinstance(wanted, str) else wanted) if part.strip()]
    known = {agency.id: agency for agency in agencies}
    unknown = [agency_id for agency_id in ids if agency_id not in known]
    if unknown:
        raise RegistryError(f"未知的机构 id：{', '.join(unknown)}")
    return [known[agency_id] for agency_id in dict.fromkeys(ids)]


def is_http_url(url: str) -> bool:
    """True for an absolute http:// or https:// URL with a host (and a port, if it names one, up to 65535)."""
    if not url or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port   # raises for a port out of range, as Scrapy would at the crawl's start
    except ValueError:   # that, or "http://[::1/x": an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# ---------------------------------------------------------------- attribution

def normalize_name(text: str) -> str:
    """A name reduced for comparison: full-width forms folded (NFKC), all whitespace and invisible marks removed."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text or ""))


# what turns an agency's name into one of its own offices' (东宝区人民政府 → 东宝区人民政府办公室, 政府办): a name followed
# by it names that office, another agency
_OWN_OFFICE = re.compile(r"^(?:办公室|办公厅|办(?!事处))")


def _names_within(key: str, haystack: str, start: int) -> bool:
    """``key`` found at ``start`` in ``haystack`` names that agency, not one of its offices (a 街道, 乡 or 镇
    followed by 办 is its own 办事处, as people shorten it: 江汉二桥街道办)."""
    after = haystack[start + len(key):]
    if key.endswith(("街道", "乡", "镇")) and after.startswith("办") and not after.startswith(("办公室", "办公厅")):
        return True
    return not _OWN_OFFICE.match(after)


def names_agency(printed: str | None, names: Iterable[str]) -> bool:
    """Does the name a report prints (its title's, its 落款's) name the agency known by ``names`` (its name and
    aliases)? One of them within it (淮安市洪泽区人民政府 for 洪泽区人民政府), or it a fuller form of one (市卫生局
    for 安康市卫生局). A report printing no name names nobody else: True."""
    if not normalize_name(printed or ""):
        return True
    printed_key = normalize_name(printed)
    for name in names:
        key = normalize_name(name)
        within = key and any(_names_within(key, printed_key, found.start())
                             for found in re.finditer(re.escape(key), printed_key))
        if key and (within or agencies_match(printed, name) or is_fuller_name(printed, name)):
            return True
    return False


def match_agency(name: str, agencies: Iterable[Agency]) -> Agency | None:
    """The agency whose name or alias occurs in ``name`` (a report title or 发布机构), longest match winning.

    Several agencies often share one report column (a county portal lists every department's report), so the
    crawler attributes each item by the agency name in its title. Only names and registered aliases count: 卫计局
    matches 卫生和计划生育局 only when someone wrote that alias down. Two different agencies tied for the longest
    match is ambiguous and gives None rather than a guess. For many names against one registry, build an
    ``AgencyMatcher`` once.
    """
    return AgencyMatcher(agencies).match(name)


class AgencyMatcher:
    """``match_agency`` against one registry, its names normalised and indexed once.

    A national crawl attributes every parsed document against all its agencies: scanning (and normalising) every
    name of 100,000 agencies per document is what this saves. A name is looked up as each substring of the
    document's name whose length some registered name has, so the work grows with the name, not the registry.
    """

    def __init__(self, agencies: Iterable[Agency]):
        self._by_key: dict[str, list[Agency]] = {}
        for agency in agencies:
            for key in dict.fromkeys(map(normalize_name, agency.names())):
                if key:
                    self._by_key.setdefault(key, []).append(agency)
        self._lengths = sorted({len(key) for key in self._by_key}, reverse=True)

    def match(self, name: str) -> Agency | None:
        haystack = normalize_name(name)
        if not haystack:
            return None
        # longest names first: the first length with a hit decides (a shorter name of the same agency cannot win)
        for length in self._lengths:
            found: dict[str, Agency] = {}
            for start in range(len(haystack) - length + 1):
                for agency in self._by_key.get(haystack[start:start + length], ()):
                    if _names_within(haystack[start:start + length], haystack, start):
                        found.setdefault(agency.id, agency)
            if found:
                return next(iter(found.values())) if len(found) == 1 else None
        return None
