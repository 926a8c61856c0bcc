"""附件三 准备期系统摸底表 (表1–4): what the firm's IT department reports, monthly or quarterly, to the
local CSRC bureau before custody (第二十条第3项). Columns from registers.md §3.1.
"""

from __future__ import annotations

from handover.registers.columns import Column, choices
from handover.registers.definitions.common import (
    EMPLOYMENT,
    EMPLOYMENT_TYPE,
    LINE_MEDIUM,
    LINE_ROLE,
    SYSTEM_CATEGORY,
)

A20_3 = "第二十条第3项"

# registers.md §3.1: every 摸底表 is a 月报 or 季报 for a period.
REPORT_HEADER = (
    Column("report_period", "报告期", "Report period", "text", "R", articles=(A20_3,), note="e.g. 2020Q1"),
    Column(
        "report_cycle",
        "报送周期",
        "Report cycle",
        "enum",
        "R",
        choices=choices(("月报", "monthly"), ("季报", "quarterly")),
        articles=(A20_3,),
    ),
)

T1 = (
    Column("unit_name", "部门/机构", "Unit", "text", "R", note="HQ IT, regional centre, branch"),
    Column("site_id", "所属站点", "Site", "ref", "R", ref="site"),
    Column("person_id", "姓名", "Name", "ref", "R", ref="person"),
    Column("post", "岗位/职务", "Post", "text", "R"),
    Column("systems", "负责系统", "Systems in charge", "refs", "R", ref="system"),
    Column("duties", "职责", "Duties", "ltext", "R"),
    Column("employment_type", "用工性质", "Employment type", "enum", "R", choices=EMPLOYMENT_TYPE),
    Column("employment", "在职状态", "Employment status", "enum", "R", choices=EMPLOYMENT),
    Column("phone", "联系电话", "Phone", "text", "R"),
)

T2 = (
    Column("system_id", "系统名称", "System", "ref", "R", ref="system"),
    Column("category", "类别", "Category", "enum", "R", choices=SYSTEM_CATEGORY),
    Column("function", "主要功能", "Main functions", "ltext", "R"),
    Column(
        "vendor_org_id",
        "开发商",
        "Developer",
        "ref",
        "R",
        ref="org",
        articles=(A20_3,),
        note="contact vendors under confidentiality",
    ),
    Column("version", "版本", "Version", "text", "R"),
    Column("platform", "运行平台", "Platform", "text", "R", note="OS/DB/中间件"),
    Column("devices", "主要设备", "Main equipment", "text", "R", note="model × count"),
    Column(
        "location",
        "部署地点",
        "Location",
        "enum",
        "R",
        choices=choices(
            ("中心机房", "main machine room"), ("备份机房", "backup machine room"), ("其他", "other")
        ),
        articles=("第二十二条",),
    ),
    Column(
        "redundancy",
        "冗余方式",
        "Redundancy",
        "enum",
        "R",
        choices=choices(
            ("双机热备", "hot standby pair"),
            ("冷备", "cold standby"),
            ("异地备份", "off-site backup"),
            ("无", "none"),
        ),
        articles=("第三十五条第1项",),
    ),
    Column(
        "data_backup",
        "数据备份方式/频率",
        "Data backup method and frequency",
        "text",
        "R",
        articles=("第二十六条第4项",),
    ),
    Column(
        "maintained_by",
        "维护方式",
        "Maintained by",
        "enum",
        "R",
        choices=choices(("自维", "in-house"), ("厂商", "vendor"), ("混合", "mixed")),
    ),
    Column(
        "issues",
        "运行状况/已知问题",
        "Condition and known issues",
        "ltext",
        "O",
        articles=("第二十条第8项",),
        note="input to the initial risk assessment",
    ),
)

T3 = (
    Column("link_name", "链路名称", "Link", "text", "R"),
    Column("a_site", "起点", "From", "ref", "R", ref="site"),
    Column("b_end", "终点", "To", "text", "R", note="HQ, centre, branch, exchange, bank, internet"),
    Column(
        "net_class",
        "网络类别",
        "Network class",
        "enum",
        "R",
        choices=choices(
            ("交易网", "trading network"),
            ("办公网", "office network"),
            ("互联网", "internet"),
            ("报盘", "order routing"),
            ("行情", "market data"),
            ("银行专线", "bank leased line"),
        ),
        articles=("第三十四条第1项",),
    ),
    Column("medium", "介质", "Medium", "enum", "R", choices=LINE_MEDIUM, articles=("第三十五条第1项",)),
    Column("carrier_org_id", "运营商", "Carrier", "ref", "R", ref="org", articles=("第三十五条第1项",)),
    Column("bandwidth", "带宽", "Bandwidth", "text", "R", articles=("第三十五条第1项",)),
    Column("role", "主/备", "Primary or backup", "enum", "R", choices=LINE_ROLE),
    Column(
        "isolation_policy",
        "隔离与安全策略",
        "Isolation and security policy",
        "ltext",
        "R",
        articles=("第三十四条第1项",),
    ),
)

T4 = (
    Column("site_id", "营业部/服务部", "Branch or service point", "ref", "R", ref="site"),
    Column(
        "trade_mode",
        "交易模式",
        "Trading mode",
        "enum",
        "R",
        choices=choices(("集中交易", "centralised trading"), ("营业部柜台", "branch counter")),
    ),
    Column("system_id", "柜台/交易系统", "Counter or trading system", "ref", "R", ref="system"),
    Column(
        "order_routing",
        "报盘方式",
        "Order routing",
        "enum",
        "R",
        choices=choices(
            ("总部集中报盘", "central routing from HQ"), ("营业部报盘", "routing from the branch")
        ),
    ),
    Column(
        "exchange_link",
        "交易所通信",
        "Exchange link",
        "enum",
        "R",
        choices=choices(
            ("地面", "terrestrial"), ("卫星", "satellite"), ("天地双备", "terrestrial and satellite")
        ),
        articles=("第三十五条第1项",),
    ),
    Column(
        "channels",
        "委托方式",
        "Order channels",
        "text",
        "R",
        note=(
            "deviation: the spec's type is a multi-valued enum{柜台, 电话, 网上, 自助, 手机}; Column has no "
            "multi-choice type, so it is text listing those values"
        ),
    ),
    Column(
        "banks", "存管/合作银行", "Custody and partner banks", "refs", "O", ref="org", articles=("第三十条",)
    ),
    Column("clients", "客户数", "Clients", "int", "O", articles=("第二十条第4项",)),
    Column("servers", "服务器数", "Servers", "int", "O", articles=("第二十条第4项",)),
    Column("it_staff", "技术人员数", "IT staff", "int", "O", articles=("第二十条第4项",)),
    Column("data_backup", "数据备份方式", "Data backup method", "text", "R"),
)

COLUMNS = {1: T1, 2: T2, 3: T3, 4: T4}

HEADER_FIELDS = {
    1: (
        *REPORT_HEADER,
        Column("org_chart", "组织架构图", "Organisation chart", "att", "R", note="header attachment"),
    ),
    2: REPORT_HEADER,
    3: (
        *REPORT_HEADER,
        Column("topology", "网络拓扑图", "Network topology", "att", "R", note="header attachment"),
    ),
    4: REPORT_HEADER,
}
