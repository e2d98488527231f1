"""The prose of the demo's 2021-format reports: each agency writes its own report, year after year.

The demo portals once rendered every 2021-format report from the same seed, so nearly every verdict carried the
copy flag. Here each report is composed for its agency and year instead:

- a ``Voice`` per agency: its names for itself, its contact details, its sub-headings, the platforms it runs;
- a ``Story`` per report: what that agency did that year, in its own sentences (opening, 主动公开, 解读回应, the
  topics of the requests it received, its platforms, its problems, one other matter), and its ``Figures``: the
  numbers of 表二/表三/表四, from which the tables are filled (勾稽 consistent by construction) and which the text
  quotes;
- a few passages every report needs (the preamble, how requests were answered, information management, oversight,
  improvements, fees and 建议提案) written in six phrasings each. ``Story.phrasing`` says which phrasing a report
  uses for each passage; the choices are made so that two reports of one agency never share a phrasing and any
  two reports share at most one (so an honest pair stays far below the copy threshold of monitor/flags.py).

Exactly one demo report is not honest: ``STORIES[COPIED]`` is the agency's previous-year story published again
with only the year and the figures changed (``Story.copied_from``), the way a hurried office reuses last year's
text. Everything is plain data and string formatting: no clock, no randomness, the same text on every run.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

from demo.render import Paragraph, SeedDocument, Table, filled_table, load_seed

CHINESE_ORDINALS = "一二三四五六七八九十"
APPLICANT_COLUMNS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
NOBODY = (0, 0, 0, 0, 0, 0)

# The outcome rows of 表三 in grid order (rows 5–25 of the seed's table), and how the text groups them.
OUTCOME_ROWS = (
    "予以公开", "部分公开",
    "国家秘密", "法律法规禁止", "三安全一稳定", "第三方合法权益", "内部事务", "过程性信息", "行政执法案卷", "行政查询事项",
    "不掌握", "没有现成信息", "补正后仍不明确",
    "信访举报投诉", "重复申请", "公开出版物", "大量反复申请", "确认或重新出具",
    "逾期不补正", "逾期未缴费", "其他",
)
OUTCOME_GROUPS = (("予以公开", 0, 1), ("部分公开", 1, 2), ("不予公开", 2, 10), ("无法提供", 10, 13),
                  ("不予处理", 13, 18), ("其他处理", 18, 21))
_T3_FIRST_OUTCOME_ROW, _T3_FIRST_COLUMN = 5, 3


@dataclass(frozen=True)
class Voice:
    """How one agency writes about itself."""

    agency_id: str
    name: str                 # as the report prints it
    short: str                # the agency as subject of a sentence: 区卫生健康局
    me: str                   # how it refers to itself: 我局 / 本局 / 区政府
    system: str               # the units it answers for: 全区卫生健康系统
    office: str               # the office in charge of 政务公开 (follows the name: 示范区卫生健康局办公室)
    field: str                # its field of work, as in 卫生健康领域
    address: str
    phone: str
    email: str
    website: str
    subheadings: tuple[str, str, str, str, str]   # the five parts of 一、总体情况
    inline_subheadings: bool  # "（一）主动公开方面。…" in the paragraph, or a line of its own
    postcode: str = "000000"


@dataclass(frozen=True)
class Figures:
    """The year's numbers: the three tables are filled from them and the text quotes them."""

    active: int                                   # items published proactively
    normative: tuple[int, int, int]               # 行政规范性文件: made, repealed, in force
    licences: int
    penalties: int
    coercions: int
    fees: str                                     # 行政事业性收费, 万元
    outcomes: tuple[tuple[str, tuple[int, ...]], ...]  # (OUTCOME_ROWS entry, counts per APPLICANT_COLUMNS)
    carried_in: tuple[int, ...] = NOBODY
    carried_out: tuple[int, ...] = NOBODY
    reviews: tuple[int, int, int, int] = (0, 0, 0, 0)             # 维持, 纠正, 其他结果, 尚未审结
    suits: tuple[int, int, int, int] = (0, 0, 0, 0)               # 未经复议直接起诉
    suits_after_review: tuple[int, int, int, int] = (0, 0, 0, 0)  # 复议后起诉
    suggestions: tuple[int, int] = (0, 0)                          # 人大代表建议, 政协提案 handled

    def outcome_counts(self) -> list[tuple[int, ...]]:
        counts = {row: NOBODY for row in OUTCOME_ROWS}
        for row, values in self.outcomes:
            if row not in counts or len(values) != len(APPLICANT_COLUMNS):
                raise ValueError(f"bad outcome row {row!r}: {values}")
            counts[row] = tuple(values)
        return [counts[row] for row in OUTCOME_ROWS]

    def handled(self) -> tuple[int, ...]:
        return tuple(sum(column) for column in zip(*self.outcome_counts()))

    def received(self) -> tuple[int, ...]:
        """New requests per applicant column: what was handled or carried on, less what came from last year."""
        new = tuple(h + out - old for h, out, old in zip(self.handled(), self.carried_out, self.carried_in))
        if min(new) < 0:
            raise ValueError(f"more requests handled than received and carried in: {new}")
        return new

    @property
    def lawsuits(self) -> int:
        return sum(self.suits) + sum(self.suits_after_review)


@dataclass(frozen=True)
class Story:
    """One report: the agency's own account of one year. Text fields are ``str.format`` templates."""

    voice: Voice
    year: int
    figures: Figures
    phrasing: tuple[int, int, int, int, int, int]  # index into PREAMBLES, REQUESTS, MANAGEMENT, OVERSIGHT,
    #                                                IMPROVEMENTS, OTHER_MATTERS
    opening: str          # the paragraph under 一、总体情况
    disclosure: str       # （一）主动公开
    responses: str        # … and how it explained its policies and answered public concerns (解读回应)
    request_topics: str   # what the requests asked about
    platforms: str        # （四）平台建设
    problems: str         # 五、the problems
    other: str            # 六、（三）
    copied_from: tuple[str, int] | None = None  # (agency id, year) whose text this one reuses

    @property
    def key(self) -> tuple[str, int]:
        return self.voice.agency_id, self.year


def reused(story: Story, *, year: int, figures: Figures, other: str) -> Story:
    """``story`` published again for ``year``: the same sentences with the year and the numbers updated, and only
    ``other`` (六、（三）) newly written."""
    return replace(story, year=year, figures=figures, other=other, copied_from=story.key)


# ---------------------------------------------------------------------------------------------------------------
# Passages every report has, six phrasings each


PREAMBLES = (
    "本报告依据《中华人民共和国政府信息公开条例》（以下简称《条例》）和国务院办公厅政府信息与政务公开办公室印发的"
    "年度报告格式（国办公开办函〔2021〕30号）编写，由总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、"
    "政府信息公开行政复议及行政诉讼情况、存在的主要问题及改进情况、其他需要报告的事项六个部分组成。报告所列数据的"
    "统计期限为{year}年1月1日至12月31日。本报告电子版可在{website}下载。如对本报告有任何疑问，请联系{name}{office}"
    "（地址：{address}，邮编：{postcode}，电话：{phone}，电子邮箱：{email}）。",

    "根据《中华人民共和国政府信息公开条例》第五十条的规定，{name}编制了本年度报告。报告格式遵循国办公开办函〔2021〕30号"
    "的要求，正文依次说明工作总体情况，主动公开、依申请公开、行政复议和行政诉讼的统计数据，存在的问题与改进措施，"
    "以及其他需要报告的事项。文中数字的统计时间从{year}年1月1日到12月31日。公众可登录{website}阅读全文；对报告内容"
    "有疑问的，可来信来电咨询：{address}，{name}{office}，邮政编码{postcode}，联系电话{phone}，邮箱{email}。",

    "现向社会公布{name}{year}年度政府信息公开工作情况。报告按照国务院办公厅政府信息与政务公开办公室规定的格式"
    "（国办公开办函〔2021〕30号）撰写，所涉数据的统计期间为{year}年全年。本报告在{website}公开发布，读者如有疑问，"
    "欢迎与{name}{office}联系，电话{phone}，电子邮箱{email}，通信地址{address}（邮编{postcode}）。",

    "按照《中华人民共和国政府信息公开条例》要求，结合国办公开办函〔2021〕30号规定的报告格式，{name}对{year}年度"
    "政府信息公开工作进行了全面梳理，形成本报告。报告除总体情况外，分别列明主动公开、依申请公开和行政复议、行政诉讼"
    "的各项统计数据，并说明工作中存在的不足和下一步打算。报告统计时限自{year}年1月1日起至12月31日止。如需了解更多"
    "情况，请致电{phone}或发送邮件至{email}，也可来函至{address}{name}{office}（邮编：{postcode}）。",

    "为保障公民、法人和其他组织依法获取政府信息，根据《中华人民共和国政府信息公开条例》，现公布本报告。本报告采用"
    "国办公开办函〔2021〕30号确定的格式，数据统计期限从{year}年1月1日到12月31日止。报告全文在{website}发布，欢迎"
    "社会各界监督。联系单位：{name}{office}；地址：{address}；邮编：{postcode}；联系电话：{phone}；邮箱：{email}。",

    "{name}依照《中华人民共和国政府信息公开条例》第四十九条、第五十条和《国务院办公厅政府信息与政务公开办公室关于印发"
    "〈中华人民共和国政府信息公开工作年度报告格式〉的通知》（国办公开办函〔2021〕30号）的规定编写本年度报告。报告所引用"
    "的数据，统计时间为{year}年1月1日至12月31日。本报告可在{website}浏览和下载。如有意见建议，请与{office}联系，"
    "联系方式为：{phone}，{email}；通信地址为{address}，邮政编码{postcode}。",
)

# {received} is the 表三 本年新收 total: every phrasing says it with 收到/受理/接收 so that the parser can check it.
REQUESTS = (
    "全年共收到政府信息公开申请{received}件{carried_clause}，申请内容主要涉及{topics}。已办结的申请中，{outcomes}"
    "{carry_out_clause}。所有申请均在法定期限内答复。{appeal_clause}",

    "{year}年，{short}受理政府信息公开申请{received}件{carried_clause}。从申请内容看，群众关注的主要是{topics}。"
    "办理结果为：{outcomes}{carry_out_clause}。{appeal_clause}",

    "本年度共收到政府信息公开申请{received}件{carried_clause}，主要集中在{topics}等方面。{me}坚持依法依规、便民高效的"
    "原则逐件办理，其中{outcomes}{carry_out_clause}，没有超期答复的情况。{appeal_clause}",

    "{me}通过信函、网络和当面等渠道共接收政府信息公开申请{received}件{carried_clause}，内容涉及{topics}。答复情况是："
    "{outcomes}{carry_out_clause}。对不能提供的，均向申请人说明理由并告知救济途径。{appeal_clause}",

    "年内收到政府信息公开申请{received}件{carried_clause}，申请人关心的问题集中于{topics}。{me}在收到申请后逐件登记、"
    "会商办理，{outcomes}{carry_out_clause}，答复文书均载明依据和救济渠道。{appeal_clause}",

    "本年度{me}共收到依申请公开申请{received}件{carried_clause}，申请事项包括{topics}。经审查，{outcomes}"
    "{carry_out_clause}。办理过程中未收取任何费用。{appeal_clause}",
)

MANAGEMENT = (
    "严格执行公开前审查制度，拟公开的信息一律经业务科室初审、{office}复核和分管负责同志审签后发布，做到“先审查、后公开”"
    "“一事一审”。年内组织对已公开信息开展两轮自查，对过期失效、链接错误和涉及个人信息的内容及时更正或撤回，确保公开"
    "信息准确、规范、安全。",

    "建立政府信息公开目录动态调整机制，按季度梳理主动公开事项，及时补充新增事项、调整已变更事项。公文办理环节同步"
    "确定公开属性，发文稿纸上逐件注明主动公开、依申请公开或不予公开，不予公开的均说明理由。规范性文件实行统一登记、"
    "统一编号、统一公布，并同步开展合法性审核和清理。",

    "{me}修订政府信息公开工作规程，明确信息采集、审核、发布、更新、撤回各环节的责任人和时限。对个人信息保护实行专项"
    "审核，公示类信息发布前对身份证号码、联系电话等内容作去标识化处理，公示期满后及时下架，防止个人信息长期暴露。",

    "做好政府信息的分类管理和归档工作，{system}报送的公开信息统一登记台账，按照“谁制作、谁公开，谁保存、谁公开”的原则"
    "落实主体责任。对照国家和省级标准目录，完成{field}领域基层政务公开事项的梳理，标准目录在网站上线运行。",

    "加强保密审查与风险研判，对涉及重大决策、突发事件和敏感事项的信息，发布前会同相关科室进行会商，防止因信息公开"
    "引发负面舆情。全年未发生泄密事件，也未发生因公开不当引起的投诉。",

    "推进政府信息全生命周期管理，对历年发布的文件进行集中清理，已废止和失效的文件在网站上作出明确标注并保留可查询的"
    "历史版本。依申请公开件实行登记、拟办、审核、答复、归档的闭环流程，答复文书统一格式，做到件件有记录、事事可追溯。",
)

OVERSIGHT = (
    "调整充实政务公开工作领导小组，由主要负责同志任组长，{office}具体承担日常工作，各科室明确一名信息员。把政务公开"
    "纳入年度目标考核，全年召开专题会议研究部署两次，组织业务培训三期，参训人员一百余人次。",

    "主动接受社会监督，在网站设置意见建议栏目，公布监督电话，对群众反映的问题限时办理、及时反馈。配合上级部门开展"
    "政务公开第三方评估，对评估指出的栏目更新不及时、解读材料不规范等问题逐项整改并形成清单。",

    "落实政务公开工作责任制，明确分管负责同志和专职联络员，形成主要负责人亲自抓、分管负责人具体抓、{office}统筹协调的"
    "工作格局。年内开展政务公开工作检查四次，检查结果在{system}通报，并与年度评先评优挂钩。",

    "注重队伍建设，选派工作人员参加上级举办的政务公开和个人信息保护专题培训，在{system}开展以案说法式的业务交流，"
    "提高一线人员依法公开、规范答复的能力。本年度未发生因政府信息公开工作不到位被追责的情形。",

    "将政府信息公开工作经费列入部门预算，保障网站运维、栏目建设和培训等支出。建立政务公开工作月报制度，{office}每月"
    "汇总各科室信息发布情况，对发布数量少、更新慢的科室进行提醒督办。",

    "强化考核评议和责任追究，制定政务公开工作考核细则，从主动公开、解读回应、依申请办理、平台管理四个方面量化评分。"
    "邀请人大代表、政协委员和群众代表参与政务公开评议，广泛听取意见建议。",
)

IMPROVEMENTS = (
    "针对上述问题，{next}年{me}将重点做好以下工作：一是对照标准目录逐项补齐公开内容，推动公开事项全覆盖；二是建立"
    "政策解读与政策文件同步起草、同步审签、同步发布的机制，多用图表、短视频等群众喜闻乐见的形式；三是加强业务培训和"
    "交流，提升工作人员的专业能力。",

    "下一步，{me}将从三方面加以改进：其一，完善信息发布审核流程，明确各环节时限，提高信息发布时效；其二，加大网站"
    "栏目清理整合力度，对长期不更新的栏目予以关停或合并；其三，畅通依申请公开渠道，在办理过程中加强与申请人的沟通，"
    "提高答复质量。",

    "改进措施方面，一要强化主体责任，把政务公开任务分解到科室、落实到个人；二要提高解读质量，重要政策出台时由业务"
    "科室负责人进行解读，回应群众关切；三要运用新技术，推动公开平台与办事平台融合，让群众在查询信息的同时能够在线"
    "办理事项。",

    "对此，{me}已制定整改方案：坚持问题导向，建立问题清单和整改台账，逐项明确责任人和完成时限；加快{field}领域基层"
    "政务公开标准化规范化建设，推动公开内容向基层延伸；定期开展网站自查，确保信息准确有效。",

    "为解决上述问题，{me}计划在{next}年加强制度建设，修订依申请公开工作办法和信息发布审核规定；加强对{system}的业务"
    "指导，开展经常性的督导检查；丰富公开形式，探索通过政务新媒体直播、线下开放日等方式增进与公众的互动。",

    "今后，{me}将持续深化政务公开：坚持以公开为常态、不公开为例外，把公开要求贯穿到决策、执行、管理、服务、结果各个"
    "环节；健全回应关切机制，对涉及群众切身利益的热点问题第一时间发声；进一步规范依申请公开答复文书，降低行政争议"
    "风险。",
)

# 六、其他需要报告的事项 (一) and (二): fees charged for information, and the deputies' suggestions and proposals.
OTHER_MATTERS = (
    ("（一）收取信息处理费情况。本年度{me}未向申请人收取信息处理费。",
     "（二）人大代表建议和政协提案办理情况。全年共承办人大代表建议{suggestions}件、政协提案{proposals}件，均在规定时限内"
     "办结，办理复文按规定公开。"),
    ("（一）按照《政府信息公开信息处理费管理办法》，本年度没有发生收取信息处理费的情况。",
     "（二）{year}年承办区人大代表建议{suggestions}件、区政协委员提案{proposals}件，办结率百分之百，代表委员对办理结果"
     "表示满意或基本满意。"),
    ("（一）信息处理费：无。",
     "（二）建议提案办理：年内{me}负责办理的人大代表建议{suggestions}件、政协提案{proposals}件，全部按期答复，适宜公开的"
     "答复全文已在网站公开。"),
    ("（一）本年度{me}依申请提供政府信息，均未收取任何费用。",
     "（二）办理人大代表建议{suggestions}件、政协提案{proposals}件，其中主办件在答复前均与代表委员进行了当面沟通。"),
    ("（一）{me}在依申请公开工作中没有收取信息处理费。",
     "（二）本年共收到交办的人大代表建议和政协提案{suggestions_and_proposals}件，其中建议{suggestions}件、提案"
     "{proposals}件，已全部办复。"),
    ("（一）信息处理费收取情况：{year}年未收取。",
     "（二）人大代表建议和政协提案办理结果公开情况：承办建议{suggestions}件、提案{proposals}件，办理结果按照公开为常态"
     "的要求在政府网站建议提案专栏公开。"),
)

PASSAGES = (PREAMBLES, REQUESTS, MANAGEMENT, OVERSIGHT, IMPROVEMENTS, OTHER_MATTERS)


# ---------------------------------------------------------------------------------------------------------------
# The four agencies that publish 2021-format reports


SFQ_WJJ = Voice(
    agency_id="sfq-wjj", name="示范区卫生健康局", short="区卫生健康局", me="我局", system="全区卫生健康系统",
    office="办公室", field="卫生健康", address="示范市示范区文明路199号", phone="0000-1234567",
    email="sfqwjj@example.gov.cn", website="示范区人民政府门户网站“政府信息公开”专栏",
    subheadings=("主动公开方面", "依申请公开方面", "政府信息管理方面", "平台建设方面", "监督保障方面"),
    inline_subheadings=True,
)
YLX_WJJ = Voice(
    agency_id="ylx-wjj", name="样例区卫生健康局", short="区卫健局", me="本局", system="全区各医疗卫生单位",
    office="综合股", field="卫生健康", address="样例市样例区和平路5号", phone="0000-7654321",
    email="ylxwjj@example.gov.cn", website="样例区人民政府网站",
    subheadings=("主动公开工作", "依申请公开办理", "政府信息管理", "公开平台建设", "监督保障措施"),
    inline_subheadings=False,
)
SFQ_GOV = Voice(
    agency_id="sfq-gov", name="示范区人民政府", short="区政府", me="区政府", system="全区各部门、各街道",
    office="办公室政务公开科", field="重点", address="示范市示范区人民路1号", phone="0000-1230000",
    email="sfqzf@example.gov.cn", website="示范区人民政府门户网站",
    subheadings=("主动公开政府信息", "依申请公开政府信息", "政府信息管理", "政府信息公开平台建设", "监督保障"),
    inline_subheadings=False,
)
SFQ_YBJ = Voice(
    agency_id="sfq-ybj", name="示范区医疗保障局", short="区医保局", me="我局", system="全区医保经办系统",
    office="综合科", field="医疗保障", address="示范市示范区健康路26号", phone="0000-1235566",
    email="sfqybj@example.gov.cn", website="示范区人民政府门户网站医疗保障专栏",
    subheadings=("关于主动公开", "关于依申请公开", "关于政府信息管理", "关于公开平台建设", "关于监督保障"),
    inline_subheadings=True,
)


def _one(row: str, natural: int = 0, business: int = 0, research: int = 0, ngo: int = 0, legal: int = 0,
         other: int = 0) -> tuple[str, tuple[int, ...]]:
    return row, (natural, business, research, ngo, legal, other)


_STORIES: tuple[Story, ...] = (
    # ---------------------------------------------------------------- 示范区卫生健康局
    Story(
        SFQ_WJJ, 2021, Figures(
            active=612, normative=(1, 0, 3), licences=412, penalties=96, coercions=0, fees="0",
            outcomes=(_one("予以公开", natural=2), _one("部分公开", business=1), _one("不掌握", natural=1)),
            suggestions=(7, 12)),
        phrasing=(1, 0, 4, 3, 4, 4),
        opening="{year}年，区卫生健康局把政务公开作为推进卫生健康治理的重要抓手，围绕常态化疫情防控、新冠病毒疫苗接种"
                "和公立医院高质量发展等群众关心的事项，及时准确发布权威信息，努力让群众看得到、听得懂、能监督。",
        disclosure="全年在区政府门户网站主动公开各类政府信息{active}条，其中疫情防控通告和健康提示213条，疫苗接种点位、"
                   "时间安排和接种须知等信息96条。通过“健康示范”微信公众号推送信息836篇，每日更新辖区核酸检测采样点"
                   "名单；在区融媒体中心开设“健康大讲堂”栏目，由临床专家解读防控政策和就医指南。",
        responses="围绕疫苗接种政策，{me}组织专家在电视和网络直播中答疑四次，针对网传的接种禁忌谣言及时发布澄清说明。",
        request_topics="医疗机构执业登记、新冠病毒疫苗采购和接种数据以及医疗纠纷处理结果",
        platforms="区卫生健康局在区政府门户网站的政府信息公开专栏下设机构职能、政策文件、规划计划、公共卫生、医疗服务、"
                  "卫生监督等子栏目。年内新增“疫情防控”专题，集中发布通告、答问和辟谣信息；“健康示范”微信公众号关注"
                  "人数突破五万，成为群众获取就医信息的主要渠道之一。",
        problems="回顾全年工作，仍有不足：一是疫情信息发布任务重、频次高，部分通告与答问材料不配套，解读不够深入；二是"
                 "医疗服务类信息分散在多个单位网站，群众查找不够方便；三是个别基层医疗机构对公开工作重视不够，信息报送"
                 "不及时。",
        other="（三）政务公开工作要点落实情况。{me}按照区政府办公室年度政务公开工作要点，逐项细化了卫生健康领域的任务分工，"
              "公共卫生、医疗服务、卫生监督三类重点信息均已按时公开；对二级以上公立医院的收费项目和价格信息开展了一次"
              "专项核查。",
    ),
    Story(
        SFQ_WJJ, 2022, Figures(
            active=689, normative=(2, 1, 4), licences=388, penalties=131, coercions=2, fees="0",
            outcomes=(_one("予以公开", natural=3), _one("部分公开", legal=1), _one("第三方合法权益", natural=1),
                      _one("不掌握", natural=1)),
            reviews=(1, 0, 0, 0), suggestions=(9, 15)),
        phrasing=(3, 1, 1, 5, 2, 3),
        opening="{year}年，区卫生健康局坚持以人民健康为中心，在疫情防控任务依然繁重的情况下，统筹做好医疗服务保障和信息"
                "公开工作。年内重点围绕区人民医院新院区建设、“一老一小”健康服务和职业健康保护等工作加大公开力度，主动"
                "回应群众关切。",
        disclosure="本年度在政府网站发布各类信息{active}条，较上年有所增加；编发疫情防控答问41期，公开发热门诊、核酸检测和"
                   "疫苗接种服务调整信息128条。区人民医院新院区建设进度按季度向社会通报，养老机构医养结合服务清单、托育"
                   "机构备案名单和职业健康检查机构名录均在网站集中公开。",
        responses="年内发布政策解读材料二十三篇，其中图解九篇；对群众反映的发热门诊排队时间长问题，两天内在公众号作出回应并公布分流措施。",
        request_topics="新院区建设工程招投标、托育机构备案和职业病诊断结果",
        platforms="年内对政府信息公开专栏进行改版，将原有十五个子栏目整合为九个，取消长期不更新的栏目；在专栏首页设置"
                  "“办事指南”入口，与区政务服务网的卫生健康事项实现链接互通。“健康示范”微信公众号开设“医院建设进行时”"
                  "板块，图文报道新院区工程进展。",
        problems="本年度的主要问题：一是信息发布审核环节较多，部分时效性强的信息发布滞后；二是疫情期间部分通告调整频繁，"
                 "旧版本撤回不及时，容易造成误解；三是政策解读以文字为主，形式较为单一。对{prev}年度报告中指出的栏目分散"
                 "问题，已通过专栏改版基本解决。",
        other="（三）政务公开创新情况。在区人民医院新院区建设项目中试行“重点项目全过程公开”，从立项、招标、施工到竣工验收"
              "各环节信息均在网站公开，并邀请居民代表参加两次工地开放活动。",
    ),
    Story(
        SFQ_WJJ, 2023, Figures(
            active=745, normative=(1, 2, 3), licences=455, penalties=173, coercions=1, fees="0",
            outcomes=(_one("予以公开", natural=2), _one("没有现成信息", natural=1), _one("信访举报投诉", natural=1)),
            carried_out=(1, 0, 0, 0, 0, 0), suggestions=(8, 14)),
        phrasing=(5, 2, 0, 4, 1, 0),
        opening="{year}年是全面贯彻党的二十大精神的开局之年。区卫生健康局平稳有序推进新冠病毒感染“乙类乙管”各项措施"
                "落地，着力推进紧密型医疗卫生共同体建设和院前急救体系完善，把政务公开贯穿于卫生健康工作的全过程。",
        disclosure="全年主动公开各类信息{active}条，其中政策文件及解读37条、公共卫生和疾病预防信息164条、卫生监督执法"
                   "“双随机、一公开”抽查结果58条。医共体总院与各成员单位的服务项目、专家坐诊时间和转诊流程在网站统一"
                   "公布，院前急救站点分布图和呼叫须知同步上线。",
        responses="针对“乙类乙管”后群众关心的药品储备和就诊安排，{me}连续发布五期问答，并在政务热线设置卫生健康专席解答来电。",
        request_topics="卫生监督行政处罚决定、医共体药品采购目录和急救站建设资金",
        platforms="{me}以区政府门户网站为第一平台，同步运行“健康示范”微信公众号和视频号。年内在网站增设“医共体建设”和"
                  "“院前急救”两个专题页面，在视频号发布急救知识短视频二十余条；在区人民医院门诊大厅设置政务公开查阅点，"
                  "方便不上网的老年群众查阅信息。",
        problems="工作中存在的问题：一是医共体成员单位较多，各单位信息报送质量参差不齐；二是卫生监督执法信息公开的时效性"
                 "有待提升，部分行政处罚决定公开时间接近法定时限；三是面向老年人的公开形式仍需丰富。针对{prev}年度报告"
                 "提出的解读形式单一问题，年内已增加图解和短视频解读。",
        other="（三）医疗卫生机构信息公开指导情况。按照国家卫生健康委等部门关于医疗卫生机构信息公开的规定，{me}对辖区"
              "二级以上医院的信息公开目录进行了一次集中检查，督促三家医院补充了患者就医须知和投诉渠道等内容。",
    ),
    # ---------------------------------------------------------------- 样例区卫生健康局
    Story(
        YLX_WJJ, 2021, Figures(
            active=356, normative=(0, 0, 1), licences=236, penalties=58, coercions=0, fees="0",
            outcomes=(_one("予以公开", natural=1),), suggestions=(4, 6)),
        phrasing=(0, 1, 4, 0, 3, 5),
        opening="{year}年，样例区卫生健康局在区委、区政府领导下，聚焦巩固拓展健康扶贫成果同乡村振兴有效衔接，围绕基层"
                "医疗卫生服务体系建设、疫苗接种和妇幼健康等重点，扎实推进政府信息公开。",
        disclosure="本局全年主动公开政府信息{active}条。重点公开了乡镇卫生院和村卫生室的服务时间、家庭医生签约服务包内容"
                   "及收费标准、孕产妇和儿童健康管理服务项目；在各卫生院公示栏张贴疫苗接种安排，每周更新一次；农村低收入"
                   "人口大病专项救治名单经本人同意后以去标识化方式公示。",
        responses="本局负责同志两次参加区广播电台“政风行风热线”节目，现场回答群众关于家庭医生签约和慢病报销的问题。",
        request_topics="村卫生室建设补助资金的拨付",
        platforms="本局依托样例区人民政府网站“部门信息公开”栏目发布信息，各乡镇卫生院设置政务公开栏十二个，村卫生室设置"
                  "信息公示牌一百余块，实现区、镇、村三级公开全覆盖。“样例健康”微信公众号在年内开通“家庭医生在线”"
                  "功能，签约居民可在线咨询。",
        problems="存在的问题主要是：基层单位专职人员少，村卫生室公示牌内容更新慢；公开信息以工作动态居多，政策类、数据类"
                 "信息偏少；对群众关注的就医费用信息解释说明不够。",
        other="（三）基层政务公开标准化建设情况。本局对照卫生健康领域基层政务公开标准目录，梳理出公共卫生服务、医疗服务、"
              "计划生育服务等公开事项四十三项，逐项明确公开内容、时限和渠道，并在区政府网站集中公布。",
    ),
    Story(
        YLX_WJJ, 2023, Figures(
            active=418, normative=(1, 0, 2), licences=251, penalties=77, coercions=0, fees="0",
            outcomes=(_one("予以公开", natural=1), _one("部分公开", ngo=1), _one("补正后仍不明确", natural=1)),
            suits=(0, 0, 0, 1), suggestions=(5, 7)),
        phrasing=(4, 2, 1, 2, 4, 2),
        opening="{year}年，本局以基层医疗卫生服务能力提升为主线，配合开展全国医药领域腐败问题集中整治，推进普惠托育服务"
                "发展，同时把信息公开作为接受群众监督的重要途径，各项公开任务总体完成。",
        disclosure="全年通过区政府网站和公开栏主动公开政府信息{active}条。医药领域腐败问题集中整治期间，公开了举报电话和"
                   "举报邮箱，定期通报整治进展；普惠托育机构名单、收费标准和补助政策在网站和公众号同步发布；区疾控中心"
                   "每月发布法定传染病疫情概况，供公众查询。",
        responses="整治期间收到群众来信来电四十余件，均按程序转办并在规定时限内反馈；对托育补助政策制作了问答手册，在社区发放。",
        request_topics="托育补助资金发放、医疗机构违规收费查处和传染病疫情数据",
        platforms="年内完成“样例健康”微信公众号与区政府网站的信息同步，重要信息网站发布后两小时内在公众号转发；乡镇卫生院"
                  "公开栏统一规格，新增二维码，群众扫码即可查看最新公开内容。",
        problems="本年度仍存在一些问题：一是部分工作动态类信息存在重发布、轻维护的现象，历史信息归档不规范；二是依申请"
                 "公开答复文书在法律依据引用方面不够准确；三是公开栏与网站内容衔接还有差距。",
        other="（三）其他事项。本局被区政府办公室确定为政务公开示范点建设单位，在区人民医院、城关镇卫生院设置了政务公开"
              "专区，配备自助查询机，为群众提供就医信息查询、政策咨询等服务。",
    ),
    Story(
        YLX_WJJ, 2024, Figures(
            active=447, normative=(0, 1, 1), licences=269, penalties=64, coercions=0, fees="0",
            outcomes=(_one("予以公开", natural=1), _one("重复申请", natural=1)),
            suits=(1, 0, 0, 0), suggestions=(3, 8)),
        phrasing=(2, 4, 2, 3, 0, 3),
        opening="{year}年，区卫健局围绕医疗卫生强基工程和“一老一小”健康服务，深入开展爱国卫生运动，在政务公开方面着重"
                "提高政策发布的时效性和可读性，推动公开工作从“公开了”向“看得懂、用得上”转变。",
        disclosure="本年度主动公开政府信息{active}条，比上年多二十九条。发布爱国卫生和病媒生物防制提示二十余期，公开"
                   "老年人健康体检安排和各卫生院体检日程，公布基层医疗机构常用药品配备目录；对社区医院创建、村卫生室"
                   "标准化改造等项目的资金安排和建设进度进行了公开。",
        responses="对网民在留言板提出的体检预约难问题，本局会同各卫生院增加周末体检时段，并把调整情况在网站公开回应。",
        request_topics="老年人健康体检结果查询和村卫生室改造工程",
        platforms="区政府网站“部门信息公开”栏目完成适老化和无障碍改造，字体可放大、页面可朗读；“样例健康”公众号开设"
                  "“政策一图读懂”专栏，全年推出图解二十四期；在十二家乡镇卫生院推行“公开栏加二维码”，让群众就近了解"
                  "卫生健康政策。",
        problems="主要问题有：一是对{prev}年度报告指出的历史信息归档问题，整改尚未全部完成；二是政策解读多由综合股撰写，"
                 "业务股室参与度不高，解读的专业深度不够；三是面向流动人口和老年群体的信息推送渠道还不够畅通。",
        other="（三）政务公开工作创新情况。本局在城关镇试点“家庭医生+政务公开”模式，由家庭医生团队在入户随访时发放政策"
              "明白卡，讲解医保报销、慢病用药等政策，全年发放明白卡六千余张。",
    ),
    # ---------------------------------------------------------------- 示范区人民政府
    Story(
        SFQ_GOV, 2022, Figures(
            active=2864, normative=(6, 3, 41), licences=5126, penalties=3318, coercions=142, fees="1536",
            outcomes=(_one("予以公开", natural=14, business=2), _one("部分公开", natural=4, legal=1),
                      _one("第三方合法权益", natural=1), _one("过程性信息", natural=1),
                      _one("不掌握", natural=6, business=1), _one("没有现成信息", natural=2),
                      _one("补正后仍不明确", natural=1), _one("信访举报投诉", natural=1),
                      _one("逾期不补正", other=1)),
            carried_in=(2, 0, 0, 0, 0, 0), carried_out=(1, 1, 0, 0, 1, 0),
            reviews=(2, 1, 0, 0), suits=(1, 0, 0, 1), suits_after_review=(1, 0, 0, 0), suggestions=(46, 63)),
        phrasing=(0, 4, 3, 1, 5, 0),
        opening="{year}年，区政府紧扣稳经济、保民生、优环境的工作大局，以助企纾困政策公开、重大建设项目公开和财政资金"
                "公开为重点，全面提升政务公开质量，为全区经济社会发展营造公开透明的环境。",
        disclosure="全年全区通过区政府门户网站主动公开政府信息{active}条，区政府及区政府办公室制发规范性文件六件。助企纾困"
                   "政策专栏集中发布减税降费、房租减免、稳岗补贴等政策五十余项，逐项标明申请条件和办理渠道；全区一般"
                   "公共预算、政府性基金预算和“三公”经费按要求公开；重大建设项目批准和实施信息应公开尽公开。",
        responses="区政府主要负责同志带头解读年度政府工作报告，各部门发布政策解读一百二十余篇；对企业关心的留抵退税办理问题，组织税务等部门集中答疑。",
        request_topics="房屋征收补偿、企业补贴发放、规划许可和政府信息公开指南",
        platforms="区政府门户网站是全区政府信息公开的第一平台，年内完成集约化改造，各部门网站统一迁入区政府网站群；"
                  "“示范区发布”政务微信、政务微博与网站联动发布重要信息。区档案馆、区图书馆和各街道便民服务中心设立"
                  "政府信息查阅点，提供纸质文件查阅服务。",
        problems="存在的主要问题：一是各部门公开工作发展不平衡，部分部门信息更新不及时；二是政策解读的针对性不强，部分"
                 "解读只是文件内容的简单摘录；三是依申请公开办理中，部分承办部门答复不够规范，有一件答复在行政复议中被"
                 "纠正。",
        other="（三）政务公开重点工作落实情况。区政府对照年度政务公开工作要点确定的二十八项任务逐项落实，均已完成；组织"
              "开展“政府开放日”活动四次，邀请市民代表走进政务服务中心和重点项目现场。",
    ),
    Story(
        SFQ_GOV, 2023, Figures(
            active=3105, normative=(5, 7, 39), licences=5473, penalties=2967, coercions=118, fees="1402",
            outcomes=(_one("予以公开", natural=17, business=3, legal=1), _one("部分公开", natural=5, business=1),
                      _one("第三方合法权益", natural=2), _one("内部事务", natural=1), _one("不掌握", natural=7),
                      _one("没有现成信息", natural=3, business=1), _one("重复申请", natural=2),
                      _one("逾期不补正", natural=1)),
            carried_in=(1, 1, 0, 0, 1, 0),
            reviews=(3, 0, 1, 0), suits=(2, 0, 0, 0), suggestions=(52, 58)),
        phrasing=(3, 5, 2, 4, 3, 2),
        opening="{year}年，区政府以基层政务公开标准化规范化为抓手，围绕经济恢复发展、民生实事项目和营商环境优化，推进"
                "决策、执行、管理、服务、结果全过程公开，政务公开工作在全市年度评估中位居前列。",
        disclosure="全年主动公开政府信息{active}条。区政府常务会议审议的重大事项会后及时发布；二十项民生实事项目实行年初"
                   "公开计划、年中公开进度、年底公开结果；公开涉企收费目录清单和政府采购意向，方便市场主体参与；各街道"
                   "的低保、特困供养和临时救助对象名单按季度公示。",
        responses="全年举办新闻发布会十一场，围绕民生实事、入学政策、供暖保障等热点问题及时发声，做到热点问题有回应、重大政策有解读。",
        request_topics="集体土地征收、老旧小区改造补助和企业信用修复",
        platforms="在区政府门户网站上线政策文件库，对现行有效的规范性文件实行一文一页、附件全文可检索；建设“政策问答”"
                  "知识库，收录群众常见问题四百余条。“示范区发布”政务新媒体开设“部门长说政策”栏目，由部门负责同志"
                  "出镜解读政策。",
        problems="问题主要有：一是部分街道公开内容与标准目录的对应还不够准确；二是政策文件库的历史文件补录工作量大，尚未"
                 "全部完成；三是个别部门在依申请公开办理中与申请人沟通不够，引发行政复议。",
        other="（三）政务公开创新实践。区政府在三个街道试点“政务公开+基层治理”，把涉及居民切身利益的事项通过居民议事会"
              "先行公开征求意见，全年累计征集意见建议二百六十余条，采纳九十余条。",
    ),
    Story(
        SFQ_GOV, 2024, Figures(
            active=3342, normative=(4, 2, 41), licences=5810, penalties=2701, coercions=96, fees="1288",
            outcomes=(_one("予以公开", natural=13, business=2, other=1), _one("部分公开", natural=3, legal=1),
                      _one("第三方合法权益", natural=1), _one("过程性信息", business=1),
                      _one("行政查询事项", natural=1), _one("不掌握", natural=5), _one("补正后仍不明确", natural=2),
                      _one("信访举报投诉", natural=1)),
            carried_out=(2, 0, 0, 0, 0, 0),
            reviews=(1, 0, 0, 1), suits_after_review=(1, 0, 0, 0), suggestions=(41, 55)),
        phrasing=(1, 3, 5, 2, 1, 1),
        opening="{year}年，区政府聚焦“高效办成一件事”改革，推动政务公开与政务服务深度融合，统筹做好政策发布、解读和回应，"
                "以公开促落实、促规范、促服务，全年政务公开工作平稳有序。",
        disclosure="本年度全区主动公开政府信息{active}条，其中区政府及区政府办公室制发规范性文件四件。围绕“高效办成一件事”"
                   "重点事项，公开了企业开办、不动产登记、新生儿出生等事项的办事指南和一次告知单；公布年度重大行政决策"
                   "事项目录，并对其中三项事项开展公众意见征集。",
        responses="对年内出台的涉企政策全部配发解读，采用图解、视频、问答等形式，并在政策实施三个月后开展效果评估，评估情况向社会公开。",
        request_topics="拆迁安置房分配、行政处罚决定书和财政专项资金使用",
        platforms="对区政府门户网站进行适老化和移动端改版，上线智能搜索和“猜你想问”功能；整合全区政务新媒体账号，关停"
                  "注销长期不更新的账号六个；在区政务服务中心设立政务公开专区，提供政策咨询和查阅服务。",
        problems="存在的主要问题：一是年度政务公开考核中发现，部分部门在政策解读同步发布方面执行不到位；二是政务公开专区"
                 "利用率不高，群众知晓度有待提升；三是{prev}年度报告指出的政策文件库历史文件补录问题，虽已完成大部分，"
                 "仍有少量文件需要核对。",
        other="（三）重大行政决策预公开情况。区政府对纳入目录的重大行政决策事项，在提交审议前通过网站公开草案和起草说明，"
              "征求意见期不少于三十日，意见采纳情况在决策作出后统一反馈。",
    ),
    # ---------------------------------------------------------------- 示范区医疗保障局
    Story(
        SFQ_YBJ, 2022, Figures(
            active=386, normative=(2, 0, 5), licences=0, penalties=14, coercions=0, fees="0",
            outcomes=(_one("予以公开", natural=2), _one("不掌握", natural=1)), suggestions=(6, 9)),
        phrasing=(4, 3, 0, 1, 0, 4),
        opening="{year}年，区医疗保障局按照区委、区政府部署，围绕职工基本医疗保险门诊共济保障机制改革、城乡居民医保参保"
                "缴费和医保基金监管等重点工作，加强医保政策的公开和解读，帮助参保群众了解政策、享受待遇。",
        disclosure="全年主动公开政府信息{active}条。针对门诊共济改革，编发问答材料和一图读懂，公开个人账户计入办法调整和"
                   "普通门诊统筹待遇标准；公布城乡居民医保年度缴费标准和缴费渠道；按季度公开定点医药机构名单，曝光欺诈"
                   "骗保典型案例八起。",
        responses="门诊共济改革实施初期，网上出现“个人账户被取消”的误读，{me}当天发布说明，讲清改革前后个人账户和门诊报销的变化。",
        request_topics="医保个人账户划转、定点医疗机构违规查处结果和医疗救助名单",
        platforms="区医保局在区政府门户网站开设医疗保障专栏，设置政策法规、待遇保障、基金监管、经办服务四个子栏目；"
                  "“示范医保”微信公众号提供参保查询和缴费提醒服务；在区政务服务中心医保窗口放置政策宣传资料，方便群众"
                  "取阅。",
        problems="不足之处有：一是医保政策专业性强，部分解读材料用语仍偏专业，普通群众不易理解；二是医保专栏各子栏目更新"
                 "频率不一，经办服务类信息更新偏慢；三是{me}政务公开工作由综合科兼管，人员力量比较薄弱。",
        other="（三）医保政策宣传情况。结合集中参保缴费期，{me}组织医保政策进社区、进企业、进校园活动十五场，现场解答群众"
              "咨询一千余人次，并把群众提问较多的问题整理后在网站公开。",
    ),
    Story(
        SFQ_YBJ, 2023, Figures(
            active=402, normative=(1, 1, 5), licences=0, penalties=21, coercions=0, fees="0",
            outcomes=(_one("予以公开", natural=2),), suggestions=(5, 8)),
        phrasing=(2, 0, 3, 0, 2, 1),
        opening="{year}年，区医保局以医保基金监管安全规范为主线，协同推进药品和医用耗材集中带量采购、医保电子凭证推广"
                "应用和异地就医直接结算，做到政策公开在前、解读跟进及时、回应关切有力。",
        disclosure="本年度共主动公开信息{active}条。公开集中带量采购中选药品和耗材的品种与价格，在定点医疗机构张贴降价"
                   "清单；发布异地就医备案办理指南，公布直接结算定点医疗机构名录；对医保基金飞行检查和专项检查查处的违法"
                   "违规行为，按规定公开处理结果。",
        responses="对群众关注的集采药品断供传言，{me}会同定点医院核实后及时澄清，公布替代药品和购买渠道；全年在政务热线答复医保咨询一千三百余件。",
        request_topics="医保报销比例、集采药品供应和医保基金检查结果",
        platforms="在区政府门户网站医疗保障专栏新增“医保电子凭证”和“异地就医”两个专题，集中发布操作指引；“示范医保”"
                  "公众号上线智能问答，可回答常见政策问题两百余个；在各街道便民服务中心设置医保服务站点十一个，提供政策"
                  "咨询和材料代办。",
        problems="本年度工作还存在一些问题：一是部分基金监管信息公开内容不够完整，处理依据和整改情况表述较为简单；二是"
                 "面向老年群体的医保电子凭证推广宣传方式有待改进；三是政务公开工作人员调整较多，业务衔接不够顺畅。",
        other="（三）医保经办服务公开情况。{me}对医保经办服务事项进行全面梳理，形成事项清单二十八项，逐项公开办理材料、"
              "办理时限和办理渠道，实现清单之外无材料、清单之外无环节。",
    ),
)

STORIES: dict[tuple[str, int], Story] = {story.key: story for story in _STORIES}

# The one report built to be copied: sfq-ybj's 2024 report is its 2023 report with the year and the numbers changed
# and one new paragraph.
COPIED = ("sfq-ybj", 2024)
STORIES[COPIED] = reused(
    STORIES[("sfq-ybj", 2023)], year=2024, figures=Figures(
        active=431, normative=(0, 1, 4), licences=0, penalties=17, coercions=0, fees="0",
        outcomes=(_one("予以公开", natural=1),), suggestions=(4, 7)),
    other="（三）医保码全场景应用情况。{me}在定点医疗机构和定点药店推广医保码就医购药，公开支持医保码结算的机构名单，"
          "并在公众号发布操作演示视频。")


# ---------------------------------------------------------------------------------------------------------------
# Composing a document


def compose(story: Story, *, signed: date, title_suffix: str = "") -> SeedDocument:
    """The report as paragraphs and tables (the shape ``demo.render`` renders), signed on ``signed``."""
    voice, figures = story.voice, story.figures
    words = _words(story)

    def text(template: str) -> str:
        return template.format_map(words)

    def passage(kind: int) -> str | tuple[str, str]:
        return PASSAGES[kind][story.phrasing[kind]]

    title = f"{story.year}年政府信息公开工作年度报告{title_suffix}"
    blocks: list[Paragraph | Table] = [Paragraph(voice.name, "title"), Paragraph(title, "title"),
                                       Paragraph(text(passage(0))),
                                       Paragraph("一、总体情况", "heading"), Paragraph(text(story.opening))]
    parts = (story.disclosure + story.responses, passage(1), passage(2), story.platforms, passage(3))
    for number, (label, template) in enumerate(zip(voice.subheadings, parts)):
        ordinal = f"（{CHINESE_ORDINALS[number]}）"
        if voice.inline_subheadings:
            blocks.append(Paragraph(f"{ordinal}{label}。{text(template)}"))
        else:
            blocks += [Paragraph(f"{ordinal}{label}", "heading"), Paragraph(text(template))]
    table2, table3, table4 = tables(figures)
    blocks += [Paragraph("二、主动公开政府信息情况", "heading"), table2,
               Paragraph("三、收到和处理政府信息公开申请情况", "heading"), table3,
               Paragraph("四、政府信息公开行政复议、行政诉讼情况", "heading"), table4,
               Paragraph("五、存在的主要问题及改进情况", "heading"),
               Paragraph(text(story.problems)), Paragraph(text(passage(4))),
               Paragraph("六、其他需要报告的事项", "heading")]
    blocks += [Paragraph(text(item)) for item in passage(5)]
    blocks += [Paragraph(text(story.other)),
               Paragraph(voice.name, "signature"),
               Paragraph(f"{signed.year}年{signed.month}月{signed.day}日", "signature")]
    return SeedDocument(seed_id=f"{voice.agency_id}-{story.year}", title=voice.name + title, blocks=blocks)


def _words(story: Story) -> dict[str, object]:
    voice, figures = story.voice, story.figures
    received, carried_in, carried_out = sum(figures.received()), sum(figures.carried_in), sum(figures.carried_out)
    words: dict[str, object] = {
        "name": voice.name, "short": voice.short, "me": voice.me, "system": voice.system, "office": voice.office,
        "field": voice.field, "address": voice.address, "postcode": voice.postcode, "phone": voice.phone,
        "email": voice.email, "website": voice.website,
        "year": story.year, "prev": story.year - 1, "next": story.year + 1, "active": figures.active,
        "received": received, "topics": story.request_topics, "outcomes": _outcome_summary(figures),
        "carried_clause": f"，另有上年结转申请{carried_in}件" if carried_in else "",
        "carry_out_clause": f"；另有{carried_out}件尚在答复期限内，结转下年度继续办理" if carried_out else "",
        "appeal_clause": _appeal_clause(figures),
        "suggestions": figures.suggestions[0], "proposals": figures.suggestions[1],
        "suggestions_and_proposals": sum(figures.suggestions),
    }
    return words


def _outcome_summary(figures: Figures) -> str:
    per_row = [sum(counts) for counts in figures.outcome_counts()]
    parts = [f"{label}{sum(per_row[start:end])}件" for label, start, end in OUTCOME_GROUPS
             if sum(per_row[start:end])]
    return "，".join(parts)


def _appeal_clause(figures: Figures) -> str:
    """The 行政复议/行政诉讼 figures of 表四, said in words the parser checks against the table."""
    reviews, suits = sum(figures.reviews), figures.lawsuits
    if reviews and suits:
        return f"年内因政府信息公开被申请行政复议{reviews}件、被提起行政诉讼{suits}件，具体情况见第四部分。"
    if reviews:
        return f"年内因政府信息公开被申请行政复议{reviews}件，未被提起行政诉讼。"
    if suits:
        return f"年内未发生因政府信息公开引起的行政复议，被提起行政诉讼{suits}件。"
    return ""


# ---------------------------------------------------------------------------------------------------------------
# The standard tables, filled from the figures


@lru_cache(maxsize=1)
def _blank_tables() -> tuple[Table, Table, Table]:
    """表二、表三、表四 of the 2021 format with their real merged cells (taken from seed 001)."""
    table2, table3, table4 = load_seed("001").tables
    return table2, table3, table4


def tables(figures: Figures) -> tuple[Table, Table, Table]:
    blank2, blank3, blank4 = _blank_tables()
    made, repealed, in_force = figures.normative
    table2 = filled_table(blank2, {
        (2, 1): "0", (2, 2): "0", (2, 3): "0",  # 规章: a district makes none
        (3, 1): str(made), (3, 2): str(repealed), (3, 3): str(in_force),
        (6, 1): str(figures.licences), (9, 1): str(figures.penalties), (10, 1): str(figures.coercions),
        (13, 1): figures.fees,
    })
    values: dict[tuple[int, int], str] = {}

    def put_row(row: int, counts: tuple[int, ...]) -> None:
        for offset, count in enumerate((*counts, sum(counts))):
            values[(row, _T3_FIRST_COLUMN + offset)] = str(count)

    put_row(3, figures.received())
    put_row(4, figures.carried_in)
    outcome_counts = figures.outcome_counts()
    for index, counts in enumerate(outcome_counts):
        put_row(_T3_FIRST_OUTCOME_ROW + index, counts)
    put_row(_T3_FIRST_OUTCOME_ROW + len(OUTCOME_ROWS), figures.handled())        # （七）总计
    put_row(_T3_FIRST_OUTCOME_ROW + len(OUTCOME_ROWS) + 1, figures.carried_out)  # 四、结转下年度继续办理
    table3 = filled_table(blank3, values)
    row4 = [*figures.reviews, sum(figures.reviews), *figures.suits, sum(figures.suits),
            *figures.suits_after_review, sum(figures.suits_after_review)]
    table4 = filled_table(blank4, {(3, col): str(value) for col, value in enumerate(row4)})
    return table2, table3, table4
