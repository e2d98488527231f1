"""Agency names: what a name is, its level, and where a report names its agency.

A report names its agency in its title ("临淄区卫生健康局2022年…", "2016年船山区民政局…", a place alone:
"福州市晋安区2016年…" is the place's 人民政府), in the body ("现公布深圳市司法局2023年…年度报告", "由信访局结合有关统计数据
编制", "请与昌江区工信局办公室联系", "2023年，大兴乡人民政府坚持…"), or only by a pronoun ("我镇", "我局"), which still
tells its level. Every function here reads text; none guesses a name the document does not write.
"""
from __future__ import annotations

import re
import unicodedata

from parsers.formats.textnorm import fold_width, same_text_once
from parsers.formats.titles import is_report_title, strip_title_tail

_TOWNSHIP = re.compile(r"((乡|镇|苏木)(人民)?政府|街道办事处|街道办|街道工作委员会|[乡镇]|街道)$")
# a government is a place's: "洪泽区政府", "淮安市人民政府" ("通过政府", "全国政府" are words, not names)
_GOVERNMENT = re.compile(r"(?:省|自治区|市|州|盟|地区|县|区|旗)(?:人民)?政府$")
_DEPARTMENT_SUFFIXES = ("委员会", "办公室", "管委会", "局", "委", "办", "厅", "中心", "署", "部", "院", "所", "站",
                        "队", "处", "馆", "室", "会", "社", "行")
_PLACE_PREFIX = re.compile(r".+?(省|自治区|市|州|盟|地区|县|区|旗)")
_PLACE_START = re.compile(r"^.{1,12}?(省|自治区|市|州|盟|地区|县|区|旗|镇|乡)")
# a place and nothing else: "福州市晋安区", "大竹县", "上海市" (a 开发区/新区 is run by a 管委会, not a 人民政府)
_PLACE_ONLY = re.compile(r"^[\u4e00-\u9fff]{1,12}?(?:省|自治区|市|自治州|州|盟|县|区|旗)$")
_NOT_A_GOVERNED_PLACE = re.compile(r"开发区|新区|园区|高新区|工业区|景区|社区|辖区|城区$|市区$|全区$")
_NAME_PUNCTUATION = re.compile(r"[，。；：:、,;！？!?“”\"《》〈〉()（）\[\]【】|｜]")
_BRACKETED = re.compile(r"[(（][^()（）]{1,20}[)）]")
# words a sentence starts with, never a name: 我局, 本乡, 各镇, 全市, 在…, 由…
_NOT_A_NAME_START = re.compile(r"^(?:我|本(?!溪)|该|各|其|此|每|在|由|按照|根据|依据|经过|通过|为了?|把|与|及|等|请|现|以|"
                               r"全[市县区乡镇年体国])")
# words of a sentence, never of a name: "上海市坚持以…", "县卫生健康局的…"
_NOT_IN_A_NAME = re.compile(r"的|坚持|贯彻|落实|认真|按照|根据|围绕|深入|严格|全面|进一步|积极|扎实|持续|不断|切实|以习近平"
                            r"|[省市县区]各|季度|网站")  # "信州区各镇": every town of the district; "政府网站" a site
_TWO_CHAR_TOWNSHIP = re.compile(r"^[^我本该各全其此每城村集乡镇][乡镇]$")


def normalise_agency(name: str) -> str:
    """The name as compared: NFKC (full-width letters and brackets), every space removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))


def agency_level(name: str) -> str | None:
    """township for 乡/镇人民政府 and 街道办事处, government for 人民政府, department for 局/委/办/厅/中心 …"""
    text = _BRACKETED.sub("", normalise_agency(name))
    if not text:
        return None
    if _TOWNSHIP.search(text):
        return "township"
    if _GOVERNMENT.search(text):
        return "government"
    if text.endswith(_DEPARTMENT_SUFFIXES):
        return "department"
    return None


def agencies_match(first: str, second: str) -> bool:
    """Same agency, allowing a leading higher place name: 淮安市洪泽区人民政府 ≈ 洪泽区人民政府.

    Names stay distinct (the record keeps what the document says); this only answers "same body?".
    Abbreviations such as 卫计局 for 卫生和计划生育局 are not guessed: the registry's aliases handle those.
    """
    a, b = normalise_agency(first), normalise_agency(second)
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    # the shorter name must still name a place itself, or 人民政府 would match every government
    if not long.endswith(short) or not _PLACE_START.match(short):
        return False
    return bool(_PLACE_PREFIX.fullmatch(long[: len(long) - len(short)]))


def is_fuller_name(short: str, long: str) -> bool:
    """``long`` names the same body as ``short``, more completely: "龙归镇" → "武江区龙归镇人民政府",
    "对坊乡" → "对坊乡人民政府", "市卫生局" → "安康市卫生局" (a higher place before it, 人民政府/办事处 after it)."""
    a, b = normalise_agency(short), normalise_agency(long)
    if not a or len(b) <= len(a) or a not in b:
        return False
    core_a, core_b = (re.sub(r"(?<=[乡镇])(?:人民)?政府$|(?<=街道)办事处$", "", name) for name in (a, b))
    if core_a == core_b:
        return True
    if not core_b.endswith(core_a):
        return False
    extra = core_b[: len(core_b) - len(core_a)]
    if core_a[0] in "省市县区州旗":  # "安康" + "市卫生局": the short name keeps its place's last character
        extra += core_a[0]
    return bool(_PLACE_PREFIX.fullmatch(extra))


def looks_like_agency(name: str) -> bool:
    """A name that ends like an agency (局, 委员会, 人民政府, 镇, 街道 …), without punctuation (a bracketed part
    inside is allowed: 高新区(新市区)司法局), not a sentence ("我局", "各镇") and not a title."""
    text = normalise_agency(name)
    if not 2 <= len(text) <= 40 or _NOT_A_NAME_START.match(text) or re.match(r"^[一二三四五六七八九十\d]+、", text):
        return False
    if len(text) == 2 and not _TWO_CHAR_TOWNSHIP.match(text):
        return False
    inner = _BRACKETED.sub("", text[:-1]) + text[-1]
    if _NAME_PUNCTUATION.search(inner) or text[0] in "(（":
        return False
    # words of a document's parts, never of a name: "…部门决算目录第一部(分)" on a PDF's contents page
    if re.search(r"\d", text) or any(word in text for word in ("报告", "总结", "公开工作", "通知", "年报", "目录", "部分")):
        return False
    if _NOT_IN_A_NAME.search(text):
        return False
    return agency_level(text) is not None


def is_place(name: str) -> bool:
    text = normalise_agency(name)
    return (bool(_PLACE_ONLY.match(text)) and not _NOT_A_NAME_START.match(text)
            and not _NOT_A_GOVERNED_PLACE.search(text))


def place_government(name: str) -> str:
    """"福州市晋安区" → "福州市晋安区人民政府"; "信州区政府" (the short form) → "信州区人民政府"."""
    text = normalise_agency(name)
    if text.endswith("政府") and not text.endswith("人民政府"):
        text = text[:-2]
    return text + "人民政府"


# ------------------------------------------------------------------ names in titles

# Where the agency part of a title can end: 遂宁市安居区卫计局|2017年…, 镇海区卫生计生局|政府信息公开工作2015年…
_TITLE_CUT = re.compile(r"(?=(?:19|20)\d\d(?:-(?:19|20)?\d\d)?年|政府信息公开|政务公开|信息公开)")
# a column tag before the title ("【年度报告】…"), an office merged into the agency named after it
# ("…卫生健康局（区中医药管理局）2024年…"), the agency after the title ("…年度报告（东宝区财政局）")
_LEADING_TAG = re.compile(r"^[\[【][^\]】]{1,12}[\]】]")
_MERGED_OFFICE = re.compile(r"\([^()]{2,20}\)(?=(?:19|20)\d\d|政府信息公开|政务公开|信息公开)")
_TRAILING_NAME = re.compile(r"\(([^()]{2,30})\)$")
# a whole agency name says where it is ("东宝区财政局"); "局办公室" (an office of the page's agency) does not
_PLACE_IN_NAME = re.compile(r"[省市区县旗州盟镇乡]|街道|国家|中华人民共和国")
_LEADING_YEAR = re.compile(r"^(?:19|20)\d\d(?:年度?|年)?")


def _whole_name(name: str) -> bool:
    """An agency's whole name, place first ("荆门市财政局"), not a short one ("区文广旅局", "局办公室")."""
    return looks_like_agency(name) and bool(_PLACE_IN_NAME.search(name)) and name[0] not in "省市区县旗州盟镇乡局委办"


def agency_in_title(title: str) -> str | None:
    """The agency a report title opens with: the shortest prefix that is an agency name (a cut inside
    某市政务公开办公室 is not one), after a leading year ("2016年船山区民政局…", "2025湖口县大垅乡2025年度…");
    a title naming only a place gives the place's 人民政府."""
    tag = _LEADING_TAG.match(normalise_agency(title))
    if tag and _whole_name(tag.group(0)[1:-1]):
        return tag.group(0)[1:-1]   # 【荆门市财政局】2024年…: the agency in brackets, not a column's tag
    whole = _LEADING_TAG.sub("", normalise_agency(title))
    text = strip_title_tail(_MERGED_OFFICE.sub("", whole))
    text = _LEADING_YEAR.sub("", text)
    prefixes = [re.sub(r"^关于|关于$", "", text[: cut.start()]) for cut in _TITLE_CUT.finditer(text)]
    for prefix in prefixes:
        if prefix and looks_like_agency(prefix):
            # "上海市政府信息公开…" reads 上海市 + 政府信息公开: the place's 人民政府
            if prefix.endswith("政府") and not prefix.endswith("人民政府") and is_place(prefix[:-2]):
                return place_government(prefix)
            return prefix
    for prefix in prefixes:
        if prefix and is_place(prefix):
            return place_government(prefix)
    trailing = _TRAILING_NAME.search(whole)
    if trailing and _whole_name(trailing.group(1)):
        return trailing.group(1)
    return None


# ------------------------------------------------------------------ names in the body

# the report named inside a sentence: "现公布深圳市司法局2023年政府信息公开工作年度报告", "编制《…年度报告》",
# "特向社会公布2014年嵊泗县卫生计生局…年度报告", "现将信访局2021年度政府信息公开工作报告如下"
_EMBEDDED_TITLE = re.compile(
    r"(?:现将|现予?公布|公布|发布|(?<!信息)(?<!政务)公开|编制|编写|形成)(?:了|形成|的)?《?"
    r"(?P<title>[^《》。;；:：,，!?！？“”\"]{2,70}?(?:年度报告|年报|工作报告|的报告|报告))"
    # the title ends there: "…年度报告。", "…报告如下", "…报告（以下简称年报）予以公布", not "…年度报告评查结果"
    r"(?:》|(?=[,，。;；:：!?！？(（]|如下|予以|全文|$))(?:\([^)]{0,20}\))?")
# the report's own opening words: "大竹县2009年政府信息公开工作年度报告(以下简称年报)根据…"
_OPENING_TITLE = re.compile(r"^(?P<title>[^《》。;；:：,，!?！？]{4,70}?(?:年度报告|年报|工作报告))"
                            r"(?:\(以下简称|是根据|根据|依据|系|本报告|本年报|本年度)")
_COMPILER = re.compile(r"由(?P<name>[^,，。;；]{2,60}?)(?:编制|编写|负责编制|汇总编制)")
_CONTACT = re.compile(r"(?:请|可|直接|或)(?:与|联系|致电)[:：]?(?P<name>[^,，。;；:：()（）]{2,50}?)"
                      r"(?:联系|[,，。;；()（]|$)")
_SUBJECT = re.compile(r"(?:^|[。\n])(?:(?:19|20)\d\d年(?:度|以来)?|本年度|今年以来|一年来)[,，]?(?:在[^,，。]{2,40}[,，])?"
                      r"(?P<rest>[^,，。]{2,40})")
_REFERRED = re.compile(r"\(以下简称[^)]*\)")
_DATED_WORK = re.compile(r"(?:19|20)\d\d年度?(?P<name>[^,，。;；《》()]{2,30}?)(?:政府信息公开|政务公开|信息公开)工作")
_OWN_RULES = re.compile(r"(?:制[定订]|出台|印发|修订|编制|先后制)[^。;；]{0,40}?《(?P<name>[^《》]{2,30}?)"
                        r"(?:(?:19|20)\d\d年度?)?(?:政府信息公开|政务公开|信息公开)[^《》]{0,20}"
                        r"(?:制度|办法|规定|方案|计划|机制|细则|指南|目录)》")
_ADDRESS = re.compile(r"(?:与|联系)本(?:单位|机关)[^,，。;；]{0,20}联系[,，]?地址[:：](?P<name>[^,，。;；()（）]{2,50})")
# internal units an office name ends with: the agency is the body they belong to
_INTERNAL_UNIT = re.compile(r"(?:(?:政府)?信息公开(?:工作)?(?:领导小组)?办公室|(?:政府)?信息公开(?:办|中心|处|室)|"
                            r"政务公开(?:工作)?办公室|政府信息中心|党政(?:综合)?办公室|党政综合办|党政办|党建办|综合办公室|"
                            r"政办科|综合科|秘书科|办公室|资料管理中心|政府信息公开受理(?:大厅|机构))$")
_NAME_TOKEN = re.compile(r"人民政府|街道办事处|办事处|委员会|管委会|办公室|政府|街道|[局委办厅署部院所站队处馆室会社镇乡]")
_NAME_CONTINUATION = re.compile(r"^(?:人民政府|街道办事处|办事处|员会|政府)")
# a suffix character inside a word is no name's end: 人力资源和社(会保障局), 住房和城乡(建设局), 行政, 部门 …
_WORD_AROUND_SUFFIX = re.compile(r"社会|会议|会同|行政|行业|部门|部署|处理|所属|所有|所在|办理|办法|委托|局面|城乡|乡镇|乡村|镇村|"
                                 r"站点|院校|馆藏|队伍|室内")

_BODY_WINDOW = 2000  # the opening of the text, where a report says whose it is
_SPACES = re.compile(r"\s+")

NAMED_REPORT = "正文中的报告名称"


def agency_in_body(text: str) -> tuple[str, str] | None:
    """(name, where) of the agency the body states as the report's own, first match wins: the report title
    inside a sentence ("现公布…年度报告", ``NAMED_REPORT``), the compiler ("由…编制")."""
    return _first_found(text, ((_named_report, NAMED_REPORT), (_compiler, "编制单位")))


def agency_mentioned_in_body(text: str) -> tuple[str, str] | None:
    """Weaker: the contact office ("请与…联系", or the address of "本单位"), the agency's year of disclosure work
    ("根据2023年眉山市司法局信息公开工作实际"), the subject of the first dated sentence ("2023年，大兴乡人民政府…"),
    the agency's own disclosure rules ("制定《邹城市统计局信息公开制度》")."""
    return _first_found(text, ((_contact, "联系单位"), (_dated_work, "正文"), (_subject, "正文主语"),
                               (_own_rules, "本机关制度")))


def _first_found(text: str, finders) -> tuple[str, str] | None:
    body = opening_of(text)
    for finder, where in finders:
        name = finder(body)
        if name:
            return name, where
    return None


@same_text_once  # the same opening serves every finder, the level hints and classify's body tests
def opening_of(text: str) -> str:
    """The opening of the text, NFKC (full-width punctuation as ASCII), each line without spaces."""
    lines = (_SPACES.sub("", line) for line in fold_width((text or "")[:_BODY_WINDOW * 5 // 4]).splitlines())
    return "\n".join(line for line in lines if line)[:_BODY_WINDOW]


def report_titles_in_body(text: str) -> list[str]:
    """Dated disclosure-report titles the body names as itself: "现公布…年度报告", "编制《…年度报告》",
    "…年度报告（以下简称年报）根据…". Quotes of the law ("公布本机关的…年度报告") carry no year and are left out."""
    return _report_titles(opening_of(text))


def _report_titles(body: str) -> list[str]:
    found = []
    for line in body.splitlines():
        opening = _OPENING_TITLE.match(line)
        for match in ([opening] if opening else []) + list(_EMBEDDED_TITLE.finditer(line)):
            title = _REFERRED.sub("", match.group("title"))
            if is_report_title(title) and re.search(r"(?:19|20)\d\d", title) and title not in found:
                found.append(title)
    return found


def _named_report(body: str) -> str | None:
    for title in _report_titles(body):
        name = agency_in_title(title)
        if name:
            return name
    return None


def _compiler(body: str) -> str | None:
    for match in _COMPILER.finditer(_REFERRED.sub("", body.replace("\n", ""))):
        name = _owner(_leading_name(match.group("name"), joint=True) or "", joint=True)
        if name:
            return name
    return None


def _contact(body: str) -> str | None:
    flat = body.replace("\n", "")
    for match in _CONTACT.finditer(flat):
        name = _owner(match.group("name"))
        if name:
            return name
    for match in _ADDRESS.finditer(flat):  # "请与本单位…受理机构联系，地址：浙江省永嘉县溪下乡人民政府党政综合办公室"
        name = _owner(re.sub(r"^[\u4e00-\u9fff]{2,3}(?:省|自治区)", "", match.group("name")))
        if name:
            return name
    return None


def _dated_work(body: str) -> str | None:
    for match in _DATED_WORK.finditer(_outside_titles(body)):
        if looks_like_agency(match.group("name")):
            return normalise_agency(match.group("name"))
    return None


def _own_rules(body: str) -> str | None:
    for match in _OWN_RULES.finditer(body.replace("\n", "")):
        if looks_like_agency(match.group("name")):
            return normalise_agency(match.group("name"))
    return None


def _outside_titles(body: str) -> str:
    """The body without the documents it cites: 《2017年浙江省政务公开工作要点》 names another body."""
    return re.sub(r"《[^《》]*》", "《》", body)


def _subject(body: str) -> str | None:
    for match in _SUBJECT.finditer(body):
        rest = match.group("rest")
        cut = re.search(r"政府信息公开|政务公开|信息公开", rest)
        if cut and is_place(rest[: cut.start()]):
            return place_government(rest[: cut.start()])
        name = _leading_name(rest)
        if name and "公开" not in name:  # "主动公开政府…" is the work, not the body doing it
            return normalise_agency(name)  # a name wrapped across PDF lines comes out whole, as the other finders give it
    return None


def _leading_name(text: str, joint: bool = False) -> str | None:
    """The agency name ``text`` opens with: the shortest prefix that is a name, carried on through
    人民政府/办事处/员会 ("大兴乡人民政府坚持…", "保山市卫生健康委员会以…") and through the units of an office name
    ("…人民政府信息公开工作领导小组办公室根据…"). With ``joint``, two bodies joined by 、 stay one name
    (杭州市余杭区临平、东湖街道)."""
    if _NOT_A_NAME_START.match(text):
        return None
    end = None
    for token in _NAME_TOKEN.finditer(text):
        if token.end() > 40:
            break
        if _WORD_AROUND_SUFFIX.match(text, max(token.start() - 1, 0)) or _WORD_AROUND_SUFFIX.match(text, token.start()):
            continue
        candidate = text[: token.end()]
        if looks_like_agency(candidate) or (joint and "、" in candidate
                                             and looks_like_agency(candidate.replace("、", ""))):
            end = token.end()
            break
    if end is None:
        return None
    while True:
        rest = text[end:]
        continuation = _NAME_CONTINUATION.match(rest)
        unit = re.match(r"[^,，。;；]{0,12}?(?:办公室|领导小组办公室|科|办|中心|室|大厅)", rest)
        if continuation:
            end += continuation.end()
        elif (unit and _INTERNAL_UNIT.search(text[: end + unit.end()])
              and not re.match(r"结合|综合(?!科|办)|根据|按照|依据", rest)):
            end += unit.end()
        else:
            break
    return text[:end]


def _owner(name: str, joint: bool = False) -> str | None:
    """The agency an office belongs to: "昌江区工信局办公室" → 昌江区工信局, "南平市人民政府信息公开工作领导小组办公室"
    → 南平市人民政府, "泸州市信息公开办公室" → 泸州市人民政府, "…人民政府厚桥街道党政办公室综合科" → 厚桥街道."""
    name = re.sub(r"\d+[室号]?$", "", normalise_agency(name))  # "区教育局办公室306"
    if not name or _NOT_A_NAME_START.match(name):
        return None
    stripped = False
    while True:
        unit = _INTERNAL_UNIT.search(name)
        if not unit or unit.start() == 0:
            break
        owner = name[: unit.start()]
        # "…领导小组办公室" is a body of its own: its 办公室 is not stripped to a 领导小组
        if not (looks_like_agency(owner) or is_place(owner) or _GOVERNMENT.search(owner)
                or (joint and "、" in owner and looks_like_agency(owner.replace("、", "")))):
            break
        name, stripped = owner, True
    government, _, township = name.rpartition("人民政府")
    if stripped and government and agency_level(township) == "township":
        return township  # the office of a township named under its government: the township reports
    if is_place(name) or re.fullmatch(r"[\u4e00-\u9fff]{1,12}?(?:市|县|区|旗)政府", name):
        return place_government(name)
    if joint and "、" in name:
        return name if looks_like_agency(name.replace("、", "")) else None
    return name if looks_like_agency(name) else None


# ------------------------------------------------------------------ level without a name

_TOWNSHIP_HINTS = re.compile(r"我镇|我乡|本镇|本乡|我街道|本街道|全镇|全乡|我街(?!道)")
_DEPARTMENT_HINTS = re.compile(r"我局|本局|我委|本委|我厅|本厅|我中心|本中心|我部(?!门)")
_GOVERNMENT_HINTS = re.compile(r"我市|我县|我区|本市|本县|本区|我州|我旗")


def level_from_pronouns(text: str) -> str | None:
    """The level a report shows by how it calls itself: 我镇/我乡/我街道 (township) before 我局/我委 (department)
    before 我市/我县/我区 (government), which departments say too."""
    body = opening_of(text)
    for pattern, level in ((_TOWNSHIP_HINTS, "township"), (_DEPARTMENT_HINTS, "department"),
                           (_GOVERNMENT_HINTS, "government")):
        if pattern.search(body):
            return level
    return None
