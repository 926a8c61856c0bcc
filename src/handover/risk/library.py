"""The duty library, as data: the duties of the 2023 measures, the custody guideline's articles this app
serves, and the control families of 等保 2.0 level 3. A new edition is a new ``VERSION`` and an edit here,
never a migration: what a person linked or marked is stored against the duty's code, which stays.

Sources
- 《证券期货业网络和信息安全管理办法》(证监会令第218号) as its 立法说明 describes it
  (shared/domain/measures-explainer.zh.txt): the explainer gives chapters and items, not article text, so
  each duty is cited by the explainer's section, e.g. ``三(二)三`` = 三、主要内容 (二) 第三是. The codes
  M01–M39 and the split of items into duties are those of shared/domain/trace.md §2. Article numbers are
  given only where trace.md or the explainer names one (none of the 39 has one there).
- 《进入风险处置程序证券公司信息系统托管交接工作技术指引》 (shared/domain/guideline.zh.txt), by article.
- GB/T 22239-2019 《信息安全技术 网络安全等级保护基本要求》, level 3: the ten control families by name
  (five technical, five management); the controls themselves are not reproduced.

Each duty declares the evidence Handover can find by itself (``EVIDENCE``: keys that
risk/selectors/compliance.py answers from the registers and this app's records); a person links the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "2026-12.1"
MEASURES = "《证券期货业网络和信息安全管理办法》(证监会令第218号)"
MEASURES_SOURCE = "立法说明, shared/domain/measures-explainer.zh.txt; duty codes: shared/domain/trace.md §2"


@dataclass(frozen=True)
class Duty:
    """One duty of the measures: its code, the explainer's section, what it asks, the evidence keys."""

    code: str
    section: str
    chapter: str
    title: str
    evidence: tuple[str, ...] = ()
    article: str = ""  # only where the official text's number is known (trace.md or the explainer)
    applies_note: str = ""  # who the duty binds, when not every firm
    default_not_applicable: str = ""  # the reason, when the duty is N/A unless a person says otherwise


CH2 = "网络和信息安全运行"
CH3 = "投资者个人信息保护"
CH4 = "网络和信息安全应急处置"
CH5 = "关键信息基础设施安全保护"
CH6 = "网络和信息安全促进与发展"
CH7 = "监督管理与法律责任"
CII = "适用于关键信息基础设施运营者"

DUTIES: tuple[Duty, ...] = (
    Duty(
        "M01", "三(二)一", CH2, "完善治理架构，强化管理层责任，指定或设立牵头部门，保障资源投入", ("rows:1",)
    ),
    Duty("M02", "三(二)二", CH2, "信息系统和相关基础设施的基本要求", ("rows:2", "rows:32")),
    Duty("M03", "三(二)二", CH2, "履行网络安全等级保护义务"),
    Duty(
        "M04",
        "三(二)三",
        CH2,
        "审慎开展系统新建、变更和移除，充分评估技术和业务风险",
        ("signed:30", "signed:31", "signed:36"),
    ),
    Duty("M05", "三(二)三", CH2, "保证充分测试", ("signed:23",)),
    Duty("M06", "三(二)三", CH2, "及时履行投资者告知义务", ("change_notice_on_time",)),
    Duty("M07", "三(二)三", CH2, "加强网络和信息安全日常监测", ("signed:41",)),
    Duty("M08", "三(二)四", CH2, "建立网络和信息安全防护体系", ("rows:22", "rows:38")),
    Duty("M09", "三(二)四", CH2, "数据备份要求", ("signed:14", "signed:29")),
    Duty("M10", "三(二)四", CH2, "信息系统备份要求", ("signed:8", "rows:2")),
    Duty("M11", "三(二)四", CH2, "常态化开展压力测试", ("pressure_test_in_year",)),
    Duty("M12", "三(二)五", CH2, "强化对供应商的管理", ("rows:19", "rows:35", "rows:20")),
    Duty("M13", "三(二)五", CH2, "督促信息技术系统服务机构履行备案义务", ("suppliers_filed",)),
    Duty("M14", "三(二)五", CH2, "提升自主研发和安全可控能力，加强知识产权保护", ("rows:17",)),
    Duty("M15", "三(二)六", CH2, "安全信息发布相关要求"),
    Duty(
        "M16",
        "三(二)六",
        CH2,
        "行业数据备份中心相关要求",
        applies_note="主要涉及核心机构",
        default_not_applicable="主要涉及核心机构（trace.md M16），经营机构一般不适用",
    ),
    Duty(
        "M17", "三(三)一", CH3, "处理投资者个人信息的基本原则，建立健全保护体系和管理机制", ("pi_inventory",)
    ),
    Duty("M18", "三(三)二", CH3, "投资者个人信息处理、共享环节的安全防护"),
    Duty("M19", "三(三)三", CH3, "在网络安全防护边界外处理投资者个人信息的技术要求"),
    Duty("M20", "三(三)四", CH3, "收集客户生物特征前评估必要性和安全性", ("pi_biometric_assessed",)),
    Duty("M21", "三(四)一", CH4, "建立风险监测预警体制", ("rows:39",)),
    Duty("M22", "三(四)一", CH4, "加强日常漏洞扫描", ("vuln_scan_quarter",)),
    Duty("M23", "三(四)一", CH4, "开展安全评估，及时消除风险隐患", ("risk_register", "rows:40")),
    Duty("M24", "三(四)二", CH4, "完善应急预案的应急场景和处置流程", ("plan_scenarios",)),
    Duty("M25", "三(四)二", CH4, "定期开展应急演练", ("drill_in_year",)),
    Duty("M26", "三(四)三", CH4, "网络安全事件报告", ("incident_reported", "signed:39")),
    Duty("M27", "三(四)三", CH4, "事件调查处理、故障排查", ("incident_investigated", "rows:40")),
    Duty("M28", "三(四)三", CH4, "事件相关方告知", ("incident_notice",)),
    Duty("M29", "三(五)", CH5, "关键信息基础设施：组织保障", applies_note=CII),
    Duty("M30", "三(五)", CH5, "关键信息基础设施：建设评审", ("signed:36",), applies_note=CII),
    Duty("M31", "三(五)", CH5, "关键信息基础设施：监测评估", applies_note=CII),
    Duty("M32", "三(五)", CH5, "关键信息基础设施：采购管理", ("signed:36",), applies_note=CII),
    Duty("M33", "三(五)", CH5, "关键信息基础设施：性能容量", ("rows:41",), applies_note=CII),
    Duty("M34", "三(五)", CH5, "关键信息基础设施：灾难备份", ("rows:21", "signed:14"), applies_note=CII),
    Duty("M35", "三(六)四", CH6, "强化人才队伍建设，定期开展网络和信息安全宣传与教育"),
    Duty("M36", "三(七)一", CH7, "报告义务和流程要求", ("incident_reported",)),
    Duty("M37", "三(七)二", CH7, "态势感知与风险隐患行业通报（接收并处置）", ("vuln_bulletin",)),
    Duty("M38", "三(七)三", CH7, "配合渗透测试、漏洞扫描和风险评估等监督检查", ("vuln_found_by_check",)),
    Duty("M39", "三(七)四", CH7, "重要时期的网络和信息安全保障"),
)

DUTY_BY_CODE = {duty.code: duty for duty in DUTIES}

# The custody guideline's articles this app carries (guideline.zh.txt).
GUIDELINE_ARTICLES: tuple[tuple[str, str], ...] = (
    ("第八条", "责任制原则：重要操作的授权和执行履行双重签字程序"),
    ("第十六条第4项", "现场技术岗位负责组织被托管机构信息系统的安全防范和应急演练"),
    ("第十六条第5项", "现场技术岗位负责检查应急预案的可行性"),
    ("第二十条第8项", "准备期初步评估风险，形成初步风险评估报告；较为严重的风险及时报告托管工作组"),
    ("第二十条第9项", "准备期针对所了解的风险制定初步的应急预案"),
    ("第二十六条第9项", "交接期风险与纠正预防措施（表39、表40）"),
    ("第三十二条", "稳定期风险评估，形成信息系统整体风险评估报告，向托管工作组报告"),
    ("第三十三条", "整体风险评估报告包括技术模式、运行状况及技术管理状况"),
    ("第三十四条", "技术模式：网络拓扑结构、应用系统技术架构、系统环境"),
    ("第三十五条", "运行状况：关键设备备份、设备性能状况、故障应急处理能力"),
    ("第三十六条", "技术管理状况：管理制度、工作流程、技术资料、人员分工、系统用户使用情况"),
    ("第三十八条", "托管期原则上不进行新的系统建设，特殊需要遵照附件一"),
)

# GB/T 22239-2019 level 3: the control families (安全控制类), by name only.
DENGBAO_STANDARD = "GB/T 22239-2019 《信息安全技术 网络安全等级保护基本要求》 第三级"
DENGBAO_FAMILIES: tuple[tuple[str, str], ...] = (
    ("technical", "安全物理环境"),
    ("technical", "安全通信网络"),
    ("technical", "安全区域边界"),
    ("technical", "安全计算环境"),
    ("technical", "安全管理中心"),
    ("management", "安全管理制度"),
    ("management", "安全管理机构"),
    ("management", "安全管理人员"),
    ("management", "安全建设管理"),
    ("management", "安全运维管理"),
)
