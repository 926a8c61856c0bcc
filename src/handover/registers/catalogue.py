"""The register index: every 表 of the guideline with its annex, phase, articles and signature rules.

Numbers and Chinese names are the guideline's 目录, which is authoritative (registers.md, "Source");
tests/registers/test_catalogue.py checks them character for character against the guideline's text.
Which registers carry the 第八条 row-level dual signature (★), which need 被托管机构财务 and which need
技术组 approval follow registers.md §1 and §3.0. Columns are added per register by the registers issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handover.org.models import Role

if TYPE_CHECKING:
    from handover.registers.columns import Column

# Annexes of the guideline that hold registers, and the phase each belongs to (第五条).
PREPARATION, HANDOVER, STABILISATION = "preparation", "handover", "stabilisation"
ANNEXES = {
    "附件三": ("准备期系统摸底表", PREPARATION),
    "附件四": ("交接期交接表", HANDOVER),
    "附件五": ("稳定期运维表", STABILISATION),
}


# Registers that other code names on purpose (review §10.4: named instead of the bare numbers 6, 24, 39, 41).
STAFF_SUMMARY = 6  # 表6 人员基本情况汇总表: computed from 表5 (第二十五条第3项)
HANDOVER_SUMMARY = 24  # 表24 交接日信息技术工作交接汇总表: computed from its annexes, the package's register
FAULT_RISK_LOG = 39  # 表39 系统故障风险登记表: where every 第二十八条 exception and fault is entered
DAILY_REPORT = 41  # 表41 信息技术日报表 (第三十一条第8项)

# Footers that are 技术组's alone (registers.md §1), declared on the registers they belong to below.
# 第二十七条第4项: 技术组 compiles 表24 (编制) from the handover lists, which are its annexes and carry the
# signatures of each site's 现场技术岗位 and 被托管技术方; 表24's own footer is 技术组's alone. 托管工作组's
# 批准 is no login's signature: it is recorded against the package that carries 表24 (docs/package.md).
COMPILED_BY_TECH_GROUP: tuple[str, ...] = (Role.TECH_GROUP,)
# 第二十条第3项 (trace C25): 表1–4 are the firm's routine 月报/季报 returns to the 证监局, passed on to 技术组 in
# 准备期, before any 现场技术岗位 exists and while the custody is confidential (第十一条): 技术组 records and signs
# them as their receiver; the firm's own signatures (填表人, 部门负责人) are on the return it filed (registers.md §3.1).
RECEIVED_BY_TECH_GROUP: tuple[str, ...] = (Role.TECH_GROUP,)


@dataclass(frozen=True)
class RegisterSpec:
    """One official register, declared once: its names, articles, signature rules, whether the engine computes
    it, whether 表24 annexes it, its footer's signers. ``alias`` keeps a second name the guideline's text uses
    (表4)."""

    number: int
    name_zh: str
    name_en: str
    articles: tuple[str, ...]
    dual_signature: bool = False  # ★ 第八条: executor + supervisor per row
    finance_signs: bool = False  # 被托管机构财务 co-signs (asset, contract, purchase registers)
    tech_group_signs: bool = False  # 技术组 approves (审批/批准 in the text)
    computed: bool = (
        False  # built by the engine from other registers (表6, 表24), never typed row by row (§3.2)
    )
    annexed: bool = False  # annexed to 表24, the handover summary (registers.md 表24: 5–23 and 39)
    footer: tuple[str, ...] = ()  # the roles whose footer signatures a form needs, in the footer's order (§1)
    alias: str = ""

    @property
    def annex(self) -> str:
        return "附件三" if self.number <= 4 else "附件四" if self.number <= 24 else "附件五"

    @property
    def phase(self) -> str:
        return ANNEXES[self.annex][1]

    @property
    def natural_key(self) -> tuple[str, ...]:
        """The columns that identify a row within a form, so that re-importing a file updates it."""
        return NATURAL_KEYS.get(self.number, ())

    @property
    def columns(self) -> tuple[Column, ...]:
        """The body columns in the official order (registers/definitions/)."""
        return columns(self.number)

    @property
    def header(self) -> tuple[Column, ...]:
        """The form-level fields beyond the common header."""
        return header_fields(self.number)

    @property
    def title(self) -> str:
        """The official title line of the frame, e.g. 表34：技术资料登记表."""
        return f"表{self.number}：{self.name_zh}"


def _default_footer(*, finance_signs: bool, tech_group_signs: bool) -> tuple[str, ...]:
    """第八条's footer: the site's 现场技术岗位, the firm's finance where it co-signs, the firm's IT, and 技术组
    where it approves (registers.md §1)."""
    roles = [Role.ONSITE_POST, *([Role.FIRM_FINANCE] if finance_signs else []), Role.FIRM_IT]
    return tuple(roles + ([Role.TECH_GROUP] if tech_group_signs else []))


def _spec(number: int, name_zh: str, name_en: str, *articles: str, **flags: Any) -> RegisterSpec:
    flags.setdefault(
        "footer",
        _default_footer(
            finance_signs=flags.get("finance_signs", False),
            tech_group_signs=flags.get("tech_group_signs", False),
        ),
    )
    return RegisterSpec(number, name_zh, name_en, articles, **flags)


REGISTERS: tuple[RegisterSpec, ...] = (
    _spec(
        1,
        "信息技术组织架构及人员情况表",
        "IT organisation and staff",
        "第二十条第3项",
        footer=RECEIVED_BY_TECH_GROUP,
    ),
    _spec(
        2,
        "总部信息系统情况表",
        "Head-office information systems",
        "第二十条第3项",
        footer=RECEIVED_BY_TECH_GROUP,
    ),
    _spec(
        3, "企业主干网情况表", "Enterprise backbone network", "第二十条第3项", footer=RECEIVED_BY_TECH_GROUP
    ),
    _spec(
        4,
        "交易系统整体状况表",
        "Trading system overview",
        "第二十条第3项",
        alias="交易系统整体情况表",
        footer=RECEIVED_BY_TECH_GROUP,
    ),
    _spec(5, "人员基本情况登记表", "Staff register", "第二十五条第3项", annexed=True),
    _spec(6, "人员基本情况汇总表", "Staff summary", "第二十五条第3项", computed=True, annexed=True),
    _spec(
        7,
        "交接日信息系统情况登记表",
        "Handover-day system register",
        "第二十五条第5项",
        "第二十三条",
        annexed=True,
    ),
    _spec(
        8,
        "交接日系统备份登记表",
        "Handover-day system backup",
        "第二十六条第1项",
        dual_signature=True,
        annexed=True,
    ),
    _spec(
        9,
        "交接前系统超级用户密码登记表",
        "Pre-handover super-user secret receipt",
        "第二十二条",
        "第二十六条第2项",
        "第二十八条第2项",
        dual_signature=True,
        annexed=True,
    ),
    _spec(
        10,
        "交接日密码设置修改登记表",
        "Handover-day password change",
        "第二十六条第2项",
        "第二十八条第1项",
        dual_signature=True,
        annexed=True,
    ),
    _spec(
        11,
        "交接日系统用户权限登记表",
        "Handover-day system users and rights",
        "第二十六条第3项",
        annexed=True,
    ),
    _spec(
        12,
        "交接日员工操作权限登记表",
        "Handover-day employee operation rights",
        "第二十六条第3项",
        annexed=True,
    ),
    _spec(
        13,
        "交接日权限设置修改登记表",
        "Handover-day permission change log",
        "第二十六条第3项",
        "第二十八条第3项",
        "第二十八条第4项",
        dual_signature=True,
        annexed=True,
    ),
    _spec(
        14,
        "交接日数据备份登记表",
        "Handover-day current-data backup",
        "第二十六条第4项",
        "第二十八条第5项",
        "第二十八条第8项",
        dual_signature=True,
        annexed=True,
    ),
    _spec(
        15,
        "交接日历史数据备份登记表",
        "Handover-day historical-data check",
        "第二十六条第5项",
        "第二十八条第6项",
        annexed=True,
    ),
    _spec(
        16,
        "交接日系统硬件台账",
        "Handover-day hardware ledger",
        "第二十六条第6项",
        "第二十六条第7项",
        finance_signs=True,
        annexed=True,
    ),
    _spec(
        17,
        "交接日系统软件台账",
        "Handover-day software ledger",
        "第二十六条第6项",
        "第二十六条第7项",
        finance_signs=True,
        annexed=True,
    ),
    _spec(
        18,
        "交接日技术资料登记表",
        "Handover-day technical documents",
        "第二十六条第6项",
        "第二十八条第9项",
        annexed=True,
    ),
    _spec(
        19,
        "交接日信息技术合同台账",
        "Handover-day IT contract ledger",
        "第二十六条第6项",
        finance_signs=True,
        annexed=True,
    ),
    _spec(
        20,
        "交接日相关单位联系方式汇总表",
        "Contacts of related organisations",
        "第二十条第7项",
        "第二十六条第6项",
        annexed=True,
    ),
    _spec(21, "交接日通讯线路资料表", "Communication lines", "第二十六条第6项", annexed=True),
    _spec(
        22,
        "交接日系统防病毒检查表",
        "Handover-day anti-virus check",
        "第二十六条第8项",
        "第二十八条第10项",
        annexed=True,
    ),
    _spec(
        23,
        "交接日系统检测登记表",
        "Handover-day system test",
        "第二十六条第9项",
        "第二十六条第10项",
        annexed=True,
    ),
    _spec(
        24,
        "交接日信息技术工作交接汇总表",
        "Handover-day IT handover summary",
        "第二十七条第3项",
        "第二十七条第4项",
        tech_group_signs=True,
        computed=True,
        footer=COMPILED_BY_TECH_GROUP,
    ),
    _spec(25, "机房人员出入登记表", "Machine-room personnel access", "附件一（一）"),
    _spec(
        26,
        "机房设备出入登记表",
        "Machine-room equipment in/out",
        "附件一（一）",
        "附件一（九）",
        dual_signature=True,
    ),
    _spec(27, "密码设置修改登记表", "Password change", "第三十一条第1项", dual_signature=True),
    _spec(28, "权限设置修改登记表", "Permission change", "第三十一条第2项", dual_signature=True),
    # 第三十一条第6项 「关键操作建立复核机制」 (trace C20): each daily backup and each maintenance row carries the
    # executor's and the checker's signatures (registers.md §3.4: sig_exec / sig_check), not only a form footer.
    _spec(
        29, "每日数据备份登记表", "Daily data backup", "第十六条第3项", "第三十一条第7项", dual_signature=True
    ),
    _spec(
        30,
        "系统运行维护记录表",
        "Operation and maintenance record",
        "第三十一条第3项",
        "第三十五条第2项",
        dual_signature=True,
        tech_group_signs=True,
    ),
    _spec(
        31,
        "网络改造申请表",
        "Network modification request",
        "附件一（十）",
        "第三十一条第5项",
        dual_signature=True,
        tech_group_signs=True,
    ),
    _spec(
        32,
        "系统硬件台账",
        "Hardware ledger",
        "第十五条第4项",
        "第三十五条第1项",
        "第三十五条第2项",
        finance_signs=True,
    ),
    _spec(33, "系统软件台账", "Software ledger", "第三十五条第2项", finance_signs=True),
    _spec(34, "技术资料登记表", "Technical document register", "附件一（七）"),
    _spec(35, "信息技术合同台账", "IT contract ledger", "第十五条第4项", finance_signs=True),
    _spec(
        36,
        "软硬件设备采购申请表",
        "Software and hardware purchase request",
        "附件一（九）",
        "附件一（十三）",
        "第三十八条",
        dual_signature=True,
        finance_signs=True,
        tech_group_signs=True,
    ),
    _spec(
        37,
        "系统数据维护记录表",
        "Data maintenance record",
        "第三十一条第3项",
        "第三十一条第9项",
        dual_signature=True,
        tech_group_signs=True,
    ),
    _spec(38, "系统防病毒检查表", "Anti-virus check", "附件一（六）"),
    # 第二十八条 「…上报至技术组」: 技术组 acknowledges each entry by its footer signature, so "reported to 技术组" is
    # 技术组's own act, not a time the site types (registers.md §3.3 表39 "技 acknowledges"; trace C17).
    _spec(
        39,
        "系统故障风险登记表",
        "Fault and risk register",
        "第二十八条",
        "第十五条第2项",
        tech_group_signs=True,
        annexed=True,
    ),
    _spec(
        40,
        "纠正预防措施实施验证记录表",
        "CAPA implementation and verification",
        "第二十六条第9项",
        "第三十条",
        "第三十二条",
        tech_group_signs=True,
    ),
    _spec(41, "信息技术日报表", "Daily IT report", "第十条", "第三十一条第8项", "第三十五条第2项"),
)

BY_NUMBER = {spec.number: spec for spec in REGISTERS}
# Read from the declarations above, for the queries that need the numbers.
COMPUTED = tuple(spec.number for spec in REGISTERS if spec.computed)  # (6, 24)
ANNEXED = tuple(spec.number for spec in REGISTERS if spec.annexed)  # 5–23 and 39


def get(number: int) -> RegisterSpec:
    """The register 表N; a clear error for a number outside 1–41."""
    if number not in BY_NUMBER:
        raise KeyError(f"表{number} does not exist: the guideline has 表1 to 表41")
    return BY_NUMBER[number]


def columns(number: int) -> tuple[Column, ...]:
    """The body columns of 表N in the official order; 序号 and 备注 are added by the engine."""
    from handover.registers.definitions import COLUMNS  # lazily: the definitions may use this module

    get(number)
    return COLUMNS[number]


def header_fields(number: int) -> tuple[Column, ...]:
    """The form-level fields 表N has beyond the common header (编号, 日期, 填报单位/站点); often none."""
    from handover.registers.definitions import HEADER_FIELDS

    get(number)
    return HEADER_FIELDS.get(number, ())


# The columns that name one row of a form: an import of a row whose key is already in the form updates that
# row instead of adding a second one. Registers whose rows have no identity of their own are keyed by 序号.
NATURAL_KEYS: dict[int, tuple[str, ...]] = {
    1: ("person_id",),
    2: ("system_id",),
    3: ("link_name",),
    4: ("site_id", "system_id"),
    5: ("person_id",),
    6: ("site_id", "dept"),
    7: ("system_id", "site_id"),
    8: ("system_id", "asset_id", "purpose", "object_type"),
    9: ("account_id",),
    10: ("account_id", "changed_at"),
    11: ("account_id",),
    12: ("person_id", "account_id"),
    13: ("change_no",),
    14: ("system_id", "data_class", "data_name"),
    15: ("system_id", "from_date", "to_date"),
    16: ("name", "model", "serial"),
    17: ("name", "version", "system_id"),
    18: ("category", "title", "doc_no"),
    19: ("contract_no",),
    20: ("org_id", "contact_name"),
    21: ("line_no",),
    22: ("asset_id",),
    23: ("system_id", "test_item", "tested_at"),
    24: ("register_no", "site_id"),
    25: ("visitor_name", "in_at"),
    26: ("at", "serial"),
    27: ("account_id", "changed_at"),
    28: ("change_no",),
    29: ("trade_date", "system_id", "data_class"),
    30: ("system_id", "start"),
    31: ("req_no",),
    32: ("name", "model", "serial"),
    33: ("name", "version", "system_id"),
    34: ("category", "title", "doc_no"),
    35: ("contract_no",),
    36: ("req_no",),
    37: ("mnt_no",),
    38: ("asset_id", "period"),
    39: ("risk_no",),
    40: ("capa_no",),
    41: ("item", "system_id"),
}
