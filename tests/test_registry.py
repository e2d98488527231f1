"""The agency registry: loading YAML and CSV, validation messages, attribution of a report to an agency, and the
registry shipped with the project."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from registry.agencies import (
    AgencyMatcher,
    DEFAULT_REGISTRY_PATH,
    Agency,
    RegistryError,
    convert_registry,
    dump_registry,
    load_default_registry,
    load_registry,
    match_agency,
    normalize_name,
    registry_to_csv,
    validate,
)

SEED_AGENCIES = ("临淄区卫生健康局", "遂宁市安居区卫计局", "普陀区卫生和计划生育局", "镇海区卫生计生局")

COUNTY = Agency(id="linzi-gov", name="临淄区人民政府", level="government", homepage="http://www.linzi.gov.cn/",
                region="370305", report_index=("http://www.linzi.gov.cn/xxgk/xxgknb/",
                                               "http://www.linzi.gov.cn/xxgk/bmxxgknb/"))
HEALTH = Agency(id="linzi-wjj", name="临淄区卫生健康局", level="department", homepage="http://www.linzi.gov.cn/",
                parent="linzi-gov", aliases=("临淄区卫计局", "临淄区卫生和计划生育局"), render="js", robots="ignore")
OFFICE = Agency(id="linzi-bgs", name="临淄区人民政府办公室", level="department", homepage="http://www.linzi.gov.cn/",
                parent="linzi-gov")
TOWN = Agency(id="linzi-jxz", name="临淄区敬仲镇人民政府", level="township", homepage="https://www.linzi.gov.cn/")


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".csv"])
def test_dump_then_load_gives_the_same_agencies(tmp_path: Path, suffix: str):
    agencies = [COUNTY, HEALTH, OFFICE, TOWN]
    path = tmp_path / f"registry{suffix}"
    dump_registry(agencies, path)
    assert load_registry(path) == agencies


def test_yaml_and_csv_of_the_same_registry_load_to_the_same_agencies(tmp_path: Path):
    agencies = [COUNTY, HEALTH, OFFICE, TOWN]
    dump_registry(agencies, tmp_path / "r.yaml")
    assert convert_registry(tmp_path / "r.yaml", tmp_path / "r.csv") == agencies
    assert load_registry(tmp_path / "r.csv") == load_registry(tmp_path / "r.yaml") == agencies


def test_csv_list_cells_are_pipe_separated_and_defaults_fill_empty_cells(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text(
        "id,name,level,homepage,report_index,aliases\n"
        "a1,临淄区卫生健康局,department,http://www.linzi.gov.cn/,"
        "http://www.linzi.gov.cn/a/ | http://www.linzi.gov.cn/b/,临淄区卫计局|临淄区卫健局\n"
        ",,,,,\n",  # blank line a spreadsheet leaves behind
        encoding="utf-8-sig")
    [agency] = load_registry(path)
    assert agency.report_index == ("http://www.linzi.gov.cn/a/", "http://www.linzi.gov.cn/b/")
    assert agency.aliases == ("临淄区卫计局", "临淄区卫健局")
    assert (agency.render, agency.robots, agency.region, agency.parent) == ("auto", "obey", None, None)


def test_yaml_region_written_as_a_number_is_kept_as_text(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text("- id: a1\n  name: 镇海区卫生计生局\n  level: department\n  homepage: http://www.zhj.zh.gov.cn/\n"
                    "  region: 330211\n  aliases: 镇海区卫生和计划生育局\n", encoding="utf-8")
    [agency] = load_registry(path)
    assert agency.region == "330211"
    assert agency.aliases == ("镇海区卫生和计划生育局",)
    assert validate([agency]) == []


# ---------------------------------------------------------------- unreadable files

def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text("- id: a1\n  name: 甲\n  level: department\n  homepage: [http://a.gov.cn/\n- id: a2\n",
                    encoding="utf-8")
    with pytest.raises(RegistryError, match=r"r\.yaml 第\d+行"):
        load_registry(path)


def test_unknown_yaml_key_is_refused_with_entry_and_line(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text("- id: a1\n  name: 甲\n  level: department\n  homepage: http://a.gov.cn/\n"
                    "- id: a2\n  name: 乙\n  level: department\n  homepag: http://b.gov.cn/\n", encoding="utf-8")
    with pytest.raises(RegistryError) as error:
        load_registry(path)
    assert "第2条" in str(error.value) and "第5行" in str(error.value) and "homepag" in str(error.value)


def test_duplicate_yaml_key_is_refused_rather_than_losing_a_value(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text("- id: a1\n  name: 甲\n  name: 乙\n  level: department\n  homepage: http://a.gov.cn/\n",
                    encoding="utf-8")
    with pytest.raises(RegistryError, match=r"第3行.*重复的键 'name'"):
        load_registry(path)


@pytest.mark.parametrize("text, message", [
    ("name: 甲\n", "顶层应为机构列表.*实际是一个映射"),   # in words, not the loader's class
    ("- just a string\n", "每条应为键值映射"),
    ("- id: a1\n  name: 甲\n  level: department\n  homepage: http://a.gov.cn/\n  aliases: {x: 1}\n", "文字列表"),
])
def test_badly_shaped_yaml_is_refused(tmp_path: Path, text: str, message: str):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError, match=message):
        load_registry(path)


def test_csv_problems_name_the_row(tmp_path: Path):
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("id,name,level,homepage,website\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="第1行.*未知列 website"):
        load_registry(unknown)
    missing = tmp_path / "missing.csv"
    missing.write_text("id,name,homepage\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="缺少必需列 level"):
        load_registry(missing)
    extra = tmp_path / "extra.csv"
    extra.write_text("id,name,level,homepage\na1,甲,department,http://a.gov.cn/\na2,乙,department,http://b/,x\n",
                     encoding="utf-8")
    with pytest.raises(RegistryError, match="extra.csv 第3行"):
        load_registry(extra)


def test_unreadable_files_are_registry_errors(tmp_path: Path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("id,name,level,homepage\na1,临淄区,department,http://a.gov.cn/\n".encode("gbk"))
    with pytest.raises(RegistryError, match="第2行.*不是 UTF-8"):
        load_registry(gbk)
    with pytest.raises(RegistryError, match="无法读取"):
        load_registry(tmp_path / "absent.yaml")
    with pytest.raises(RegistryError, match="不支持的注册表格式"):
        load_registry(tmp_path / "registry.json")


# ---------------------------------------------------------------- validation

def _problem_fields(agencies):
    return [(problem.agency_id, problem.field) for problem in validate(agencies)]


def test_a_good_registry_has_no_problems():
    assert validate([COUNTY, HEALTH, OFFICE, TOWN]) == []


def test_every_bad_value_is_named_with_its_row_id_and_field():
    bad = [
        COUNTY,
        Agency(id="linzi-gov", name="重复", level="department", homepage="http://a.gov.cn/"),
        Agency(id="Bad Id", name="甲", level="city", homepage="ftp://a.gov.cn/", region="3703"),
        Agency(id="b1", name="", level="department", homepage="http://a.gov.cn/", parent="nobody",
               report_index=("/relative/", "http://a.gov.cn/x/", "http://a.gov.cn/x/"), render="always",
               robots="maybe", aliases=("乙", " 乙 ", "", "b1")),
        Agency(id="b2", name="丙", level="department", homepage="http://a.gov.cn/", aliases=("丙",), parent="b2"),
    ]
    problems = validate(bad)
    fields = [(p.row, p.agency_id, p.field) for p in problems]
    assert (2, "linzi-gov", "id") in fields
    assert {(3, "Bad Id", f) for f in ("id", "level", "homepage", "region")} <= set(fields)
    assert {(4, "b1", f) for f in ("name", "parent", "report_index", "render", "robots", "aliases")} <= set(fields)
    assert (5, "b2", "aliases") in fields and (5, "b2", "parent") in fields
    for problem in problems:
        message = str(problem)
        assert message.startswith(f"第{problem.row}条（id=") and problem.field in message
        assert message.count("。") == 1 and message.endswith("。")
    duplicate = next(p for p in problems if p.row == 2)
    assert "与第1条重复" in duplicate.message
    assert sum(1 for p in problems if p.agency_id == "b1" and p.field == "report_index") == 2


@pytest.mark.parametrize("url", ["http://[::1/x", "http://127.0.0.1:99999/x/", "http://a.gov.cn:65536/"])
def test_an_address_urllib_or_scrapy_cannot_open_is_a_problem_not_a_traceback(url):
    """An unclosed IPv6 bracket raised out of validation; a port out of range passed it and failed the crawl's
    start, every agency after it left uncrawled."""
    bad = [Agency(id="a", name="甲", level="department", homepage=url, report_index=(url,))]
    assert _problem_fields(bad) == [("a", "homepage"), ("a", "report_index")]


def test_a_parent_cycle_is_reported_once():
    a = Agency(id="a", name="甲", level="department", homepage="http://a.gov.cn/", parent="b")
    b = Agency(id="b", name="乙", level="department", homepage="http://a.gov.cn/", parent="a")
    c = Agency(id="c", name="丙", level="department", homepage="http://a.gov.cn/", parent="a")
    problems = validate([a, b, c])
    assert [(p.agency_id, p.field) for p in problems] == [("a", "parent")]
    assert "a → b → a" in problems[0].message


def test_missing_required_values_load_and_are_named_by_validate(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text("- name: 甲\n  level: department\n", encoding="utf-8")
    agencies = load_registry(path)
    assert ("", "id") in _problem_fields(agencies) and ("", "homepage") in _problem_fields(agencies)


# ---------------------------------------------------------------- attribution

def test_report_title_is_attributed_by_name_or_alias():
    agencies = [COUNTY, HEALTH, OFFICE]
    assert match_agency("临淄区卫生健康局2022年政府信息公开工作年度报告", agencies) is HEALTH
    assert match_agency("临淄区卫计局2017年政府信息公开工作年度报告", agencies) is HEALTH
    assert match_agency("淄博市临淄区卫生和计划生育局政府信息公开工作2016年年度报告", agencies) is HEALTH


def test_shared_county_column_longest_name_wins():
    agencies = [COUNTY, HEALTH, OFFICE, TOWN]
    assert match_agency("临淄区人民政府2022年政府信息公开工作年度报告", agencies) is COUNTY
    assert match_agency("临淄区人民政府办公室2022年政府信息公开工作年度报告", agencies) is OFFICE
    assert match_agency("临淄区敬仲镇人民政府2022年政府信息公开工作年度报告", agencies) is TOWN


def test_matching_ignores_whitespace_and_full_width_forms():
    agency = Agency(id="x", name="青岛市（市南区）教育局", level="department", homepage="http://a.gov.cn/")
    assert match_agency(" 青岛市(市南区)\u3000教育\n局 2022年年报", [agency]) is agency
    assert match_agency("临淄区\u3000卫计局 ２０１７年年报", [HEALTH]) is HEALTH


def test_one_index_of_the_whole_registry_attributes_as_the_rule_says():
    """The crawl indexes its registry once (``AgencyMatcher``); each title must get what the rule gives: every
    agency's longest name or alias found in the title, the longest of those winning, two agencies tied → None."""
    def by_the_rule(title: str, agencies: list[Agency]) -> Agency | None:
        text = normalize_name(title)
        found = {agency.id: max((len(normalize_name(n)) for n in agency.names() if normalize_name(n) in text),
                                default=0) for agency in agencies}
        longest = max(found.values(), default=0)
        winners = [agency for agency in agencies if longest and found[agency.id] == longest]
        return winners[0] if len(winners) == 1 else None

    agencies = [*load_default_registry(), COUNTY, HEALTH, OFFICE, TOWN,
                Agency(id="twin-a", name="某县财政局", level="department", homepage="http://a.gov.cn/"),
                Agency(id="twin-b", name="某县 财政局", level="department", homepage="http://b.gov.cn/")]
    rng = random.Random(10)
    names = [name for agency in agencies for name in agency.names()]
    titles = [f"{rng.choice(names)}{rng.choice(['', '2022年', '政府信息公开工作年度报告'])}{rng.choice(['', rng.choice(names)])}"
              for _ in range(400)] + ["", "政府信息公开工作年度报告", "临淄区卫计局2017年年报"]
    matcher = AgencyMatcher(agencies)
    results = [matcher.match(title) for title in titles]
    assert results == [by_the_rule(title, agencies) for title in titles]
    assert sum(result is None for result in results) < len(titles) // 4   # the titles name agencies: most match
    assert matcher.match("某县财政局2022年年报") is None                        # two agencies, one name: no guess


def test_no_match_without_a_registered_name_and_ties_are_not_guessed():
    assert match_agency("临淄区卫计局2017年年报", [COUNTY, OFFICE]) is None  # 卫计局 needs its alias
    assert match_agency("", [COUNTY]) is None
    twin = Agency(id="other", name="临淄区卫生健康局", level="department", homepage="http://b.gov.cn/")
    assert match_agency("临淄区卫生健康局2022年年报", [HEALTH, twin]) is None


# ---------------------------------------------------------------- the shipped registry

def test_default_registry_validates_cleanly_and_names_the_seed_agencies():
    agencies = load_default_registry()
    assert validate(agencies) == []
    by_name = {agency.name: agency for agency in agencies}
    for name in SEED_AGENCIES:
        assert name in by_name
    assert "临淄区卫计局" in by_name["临淄区卫生健康局"].aliases
    assert by_name["遂宁市安居区卫计局"].homepage == "http://www.scanju.gov.cn/"
    assert len(agencies) >= 4 + 117
    assert len({agency.id for agency in agencies}) == len(agencies)


def test_default_registry_attributes_the_seed_reports():
    agencies = load_default_registry()
    seeds = Path(__file__).resolve().parents[1] / "demo" / "seeds"
    # seed000 has no title: its agency is only in the body and 落款, written with the old short name.
    body = (seeds / "seed000.txt").read_text(encoding="utf-8")
    assert match_agency(body[:200], agencies).name == "临淄区卫生健康局"
    first_lines = {"seed001": "临淄区卫生健康局", "seed002": "遂宁市安居区卫计局", "seed004": "镇海区卫生计生局"}
    for seed, name in first_lines.items():
        head = "".join((seeds / f"{seed}.txt").read_text(encoding="utf-8").split("\n")[:3])
        assert match_agency(head, agencies).name == name


def test_default_registry_levels_and_report_columns_are_plausible():
    agencies = load_default_registry()
    for agency in agencies:
        if agency.name.endswith(("镇人民政府", "乡人民政府", "街道办事处")):
            assert agency.level == "township", agency.name
        for url in agency.report_index:
            assert url.startswith(agency.homepage.split("//")[0]) and url.endswith("/")
            assert any(part in url for part in ("gknb", "ndbg", "ndgzbg")), url


def test_shipped_csv_is_generated_from_the_shipped_yaml():
    from_yaml = load_registry(DEFAULT_REGISTRY_PATH)
    csv_path = DEFAULT_REGISTRY_PATH.with_suffix(".csv")
    assert load_registry(csv_path) == from_yaml
    assert csv_path.read_text(encoding="utf-8") == registry_to_csv(from_yaml)


def test_an_agencys_own_office_is_another_agency():
    """A walk on real-style titles: "东宝区人民政府办公室2024年…" (the government's office, an agency of its own) was
    matched to 东宝区人民政府 and cleared the government's year on the office's date, while the government's own
    report was late. A name followed by 办公室/办公厅/办 names that office; a longer place before it (淮安市…) or a
    街道's 办事处 after it still names the agency."""
    from registry.agencies import names_agency

    government = Agency("dbq-gov", "东宝区人民政府", "government", "http://127.0.0.1/")
    office = Agency("dbq-bgs", "东宝区人民政府办公室", "department", "http://127.0.0.1/")
    title = "东宝区人民政府办公室2024年政府信息公开工作年度报告"
    assert match_agency(title, [government]) is None
    assert match_agency(title, [government, office]) is office
    assert match_agency("东宝区人民政府2024年政府信息公开工作年度报告", [government, office]) is government
    assert not names_agency("东宝区人民政府办公室", ["东宝区人民政府"])
    assert not names_agency("东宝区政府办", ["东宝区政府"])
    assert names_agency("淮安市洪泽区人民政府", ["洪泽区人民政府"])
    assert names_agency("长河街道办事处", ["长河街道"])



def test_a_streets_short_office_name_is_the_street_itself():
    """"街道办" is how people shorten 街道办事处: the street office itself, not one of its offices."""
    from registry.agencies import names_agency

    assert names_agency("汉阳区江汉二桥街道办", ["汉阳区江汉二桥街道办事处", "江汉二桥街道"])
    assert not names_agency("江汉二桥街道办公室", ["江汉二桥街道"])
