"""附件五 稳定期运维表 (表25–41): the registers of running the firm's systems under custody (第二十九~三十八条
and the 附件一 细则). Columns from registers.md §3.3; several continue a handover register ("columns = 表16").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.utils.translation import gettext_noop

from handover.registers.columns import Column, choices
from handover.registers.definitions import annex4
from handover.registers.definitions.common import (
    BACKUP_METHOD,
    DOCUMENT_CATEGORY,
    PASS_FAIL,
    YES,
    exception_refs,
)

A31 = {k: f"第三十一条第{k}项" for k in range(1, 10)}
A28 = "第二十八条"


def continued(base: tuple[Column, ...], *extra: Column, without: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """A living register that continues a handover one: ``base`` less ``without``, then ``extra``, with the
    表39 link kept last where ``base`` has one."""
    kept = [column for column in base if column.key not in without]
    tail = [column for column in kept if column.key == "exception_refs"]
    return (*[column for column in kept if column.key != "exception_refs"], *extra, *tail)


def retarget(base: tuple[Column, ...], key: str, **changes: Any) -> tuple[Column, ...]:
    """``base`` with the column ``key`` changed, e.g. a reference that points at the living register."""
    if key not in {column.key for column in base}:
        raise KeyError(key)
    return tuple(replace(column, **changes) if column.key == key else column for column in base)


T25 = (
    Column("site_id", "站点", "Site", "ref", "R", ref="site"),
    Column("room", "机房", "Machine room", "text", "R"),
    Column("visitor_name", "姓名", "Name", "text", "R"),
    Column("org_id", "单位", "Organisation", "ref", "R", ref="org"),
    Column(
        "visitor_type",
        "身份",
        "Visitor type",
        "enum",
        "R",
        choices=choices(
            ("被托管技术方", "firm IT"),
            ("托管方", "custodian"),
            ("厂商", "vendor"),
            ("其他外来", "other visitor"),
        ),
    ),
    Column("purpose", "事由", "Purpose", "text", "R"),
    Column("in_at", "进入", "In", "dt", "R"),
    Column("out_at", "离开", "Out", "dt", "C", condition=gettext_noop("out_at closes the row")),
    Column(
        "approver",
        "批准人",
        "Approved by",
        "ref",
        "C",
        ref="person",
        required_if=("visitor_type", ("厂商", "其他外来")),
        condition=gettext_noop("for non-staff"),
    ),
    Column(
        "escort",
        "陪同人",
        "Escort",
        "ref",
        "C",
        ref="person",
        required_if=("visitor_type", ("厂商", "其他外来")),
        condition=gettext_noop("for non-staff"),
    ),
    Column("items", "携带物品", "Items carried", "text", "O", note="equipment → 表26"),
)

T26 = (
    Column("at", "时间", "Time", "dt", "R"),
    Column("direction", "方向", "Direction", "enum", "R", choices=choices(("入", "in"), ("出", "out"))),
    Column(
        "asset_id",
        "设备",
        "Equipment",
        "ref",
        "C",
        ref="asset",
        required_if=("direction", ("出",)),
        condition=gettext_noop("for 出"),
    ),
    Column("model", "型号", "Model", "text", "R"),
    Column("serial", "序列号", "Serial no.", "text", "R"),
    Column("qty", "数量", "Quantity", "int", "R"),
    Column(
        "reason",
        "事由",
        "Reason",
        "enum",
        "R",
        choices=choices(
            ("新增", "new"),
            ("维修", "repair"),
            ("更换", "replacement"),
            ("借用", "loan"),
            ("归还", "return"),
            ("报废", "scrapping"),
        ),
    ),
    Column("carrier", "携带人", "Carried by", "text", "R"),
    Column("org_id", "单位", "Organisation", "ref", "R", ref="org"),
    Column(
        "media_wiped",
        "存储介质已清除",
        "Storage wiped",
        "enum",
        "C",
        choices=choices(
            ("不涉及", "no storage"), ("已清除", "wiped"), ("未清除-已批准", "not wiped, approved")
        ),
        required_if=("direction", ("出",)),
        condition=gettext_noop("for 出 with storage (数据安全)"),
        articles=("附件一（四）",),
    ),
    Column("due_back", "预计归还", "Due back", "date", "O"),
    Column("returned_at", "实际归还", "Returned at", "dt", "O"),
    Column("ledger_ref", "台账更新", "Ledger entry", "ref", "R", ref="T32"),
)

T27 = continued(
    annex4.T10,
    Column(
        "reason",
        "修改原因",
        "Reason",
        "enum",
        "R",
        choices=choices(
            ("定期更换", "periodic change"),
            ("人员变动", "staff change"),
            ("疑似泄露", "suspected disclosure"),
            ("新建账户", "new account"),
            ("重置", "reset"),
            ("其他", "other"),
        ),
        articles=(A31[1],),
    ),
    Column(
        "strength_ok",
        "强度符合",
        "Meets the strength rule",
        "bool",
        "R",
        articles=(A31[1],),
        note="confirmation only",
    ),
    Column("last_changed_on", "上次修改日期", "Last changed on", "date", "R", articles=(A31[1],)),
    Column(
        "next_due_on",
        "下次应修改日期",
        "Next change due",
        "date",
        "R",
        articles=(A31[1],),
        note="drives the 定期更换 reminder",
    ),
    without=("prior_ref", "pre_backup_ref"),
)

# 表28 continues 表13 with the change types of 稳定期 (第三十一条第2项).
_T28_BASE = retarget(
    annex4.T13,
    "change_type",
    choices=annex4.T13_CHANGE_TYPE
    + choices(
        ("岗位变动", "post change"),
        ("新员工", "new employee"),
        ("离职注销", "closed on leaving"),
        ("定期检查调整", "periodic review adjustment"),
    ),
    articles=(A31[2], "第二十八条第3项", "第二十八条第4项"),
)
_T28_BASE = retarget(
    _T28_BASE,
    "basis_ref",
    required="O",
    note="deviation: O, not R; in 稳定期 a change rests on requester and reason, 表11/12 only when it follows one",
)
_T28_BASE = retarget(
    _T28_BASE,
    "pre_backup_ref",
    ref="T29",
    note="deviation: 表29, not 表8; 表8 is the handover-day backup, and §31.7 asks for 参数备份 in 稳定期",
)
T28 = continued(
    _T28_BASE,
    Column("requester", "申请人", "Requested by", "ref", "R", ref="person"),
    Column("reason", "原因", "Reason", "ltext", "R"),
    Column("review_batch", "定期检查批次", "Periodic review batch", "text", "O", articles=(A31[2],)),
)

T29 = (
    Column("trade_date", "交易日", "Trading day", "date", "R"),
    Column("system_id", "系统", "System", "ref", "R", ref="system"),
    Column(
        "data_class",
        "数据类别",
        "Data class",
        "enum",
        "R",
        choices=choices(
            ("日终数据", "end-of-day data"),
            ("清算文件", "clearing files"),
            ("对账文件", "reconciliation files"),
            ("参数配置", "parameters and configuration"),
            ("运行日志", "run logs"),
            ("其他", "other"),
        ),
        articles=(A31[4], A31[7]),
    ),
    Column("method", "备份方式", "Method", "enum", "R", choices=BACKUP_METHOD),
    Column("backed_up_at", "备份时间", "Backed up at", "dt", "R"),
    Column("media_no", "介质编号", "Media no.", "text", "R"),
    Column("location", "存放地点", "Location", "text", "R"),
    Column("integrity", "完整性", "Integrity", "enum", "R", choices=PASS_FAIL, articles=("第十六条第3项",)),
    Column(
        "readability", "可读性", "Readability", "enum", "R", choices=PASS_FAIL, articles=("第十六条第3项",)
    ),
    Column("offsite", "异地", "Off-site copy", "bool", "R"),
    exception_refs("C", condition=gettext_noop("if a check failed"), articles=(A28,)),
)

_T30_KIND = choices(
    ("开市前检查", "pre-open check"),
    ("日常巡检", "routine inspection"),
    ("收市/清算", "close / clearing"),
    ("监控告警", "monitoring alert"),
    ("故障处理", "fault handling"),
    ("参数/配置变更", "parameter / configuration change"),
    ("升级/上线", "upgrade / go-live"),
    ("其他", "other"),
)
_TG_APPROVAL = (
    "deviation: the spec's type is sig (技); Column has no sig type, so 技术组's approval is attached"
)
T30 = (
    Column("date", "日期", "Date", "date", "R"),
    Column("on_duty", "值班人", "On duty", "refs", "R", ref="person", articles=(A31[8],)),
    Column("system_id", "系统", "System", "ref", "R", ref="system"),
    Column("asset_id", "设备", "Device", "ref", "R", ref="asset"),
    Column("kind", "类别", "Kind", "enum", "R", choices=_T30_KIND),
    Column("start", "开始时间", "Started", "dt", "R"),
    Column("end", "结束时间", "Ended", "dt", "R"),
    Column("content", "内容", "Content", "ltext", "R"),
    Column("in_trading_hours", "交易时段内", "During trading hours", "bool", "R", articles=(A31[3],)),
    Column(
        "tg_approval",
        "技术组审批",
        "Technical group's approval",
        "att",
        "C",
        condition=gettext_noop(
            "for 故障处理 in trading hours (rules.py); monitoring and inspections then need none (§31.8), "
            "DB work and parameter changes are refused (§31.3)"
        ),
        articles=(A31[3],),
        note=_TG_APPROVAL,
    ),
    Column(
        "golive_test",
        "上线测试",
        "Go-live test",
        "att",
        "C",
        required_if=("kind", ("升级/上线",)),
        condition=gettext_noop("if 升级/上线 (§31.5)"),
        articles=(A31[5],),
    ),
    # 第三十一条第5项 「评估上线风险…并通过规定流程审批获准后才能上线运行」 (trace C22): the risk assessment, and
    # 技术组's approval with its time, which must come before the work starts (rules._change_30).
    Column(
        "risk_assessment",
        "上线风险评估",
        "Go-live risk assessment",
        "att",
        "C",
        required_if=("kind", ("升级/上线",)),
        condition=gettext_noop("if 升级/上线 (§31.5)"),
        articles=(A31[5],),
    ),
    Column(
        "approved_at",
        "审批通过时间",
        "Approved at",
        "dt",
        "C",
        required_if=("kind", ("升级/上线",)),
        condition=gettext_noop("if 升级/上线 (§31.5): 技术组's approval, before 开始时间"),
        articles=(A31[5],),
    ),
    # 第三十一条第7项 「及时作好参数备份」 (trace C23): a parameter change or a go-live names the 表29 backup taken
    # before it, as 表37 does.
    Column(
        "pre_backup_ref",
        "变更前备份",
        "Backup before the change",
        "ref",
        "C",
        ref="T29",
        required_if=("kind", ("参数/配置变更", "升级/上线")),
        condition=gettext_noop(
            "if 参数/配置变更 or 升级/上线 (§31.7): a 表29 row of the system, ended before 开始时间"
        ),
        articles=(A31[7],),
    ),
    Column(
        "fallback",
        "回退计划",
        "Fallback plan",
        "att",
        "C",
        required_if=("kind", ("升级/上线",)),
        condition=gettext_noop("if 升级/上线 (§31.5)"),
        articles=(A31[5],),
    ),
    Column("cpu_pct", "CPU使用率", "CPU %", "dec", "O", articles=("第三十五条第2项",)),
    Column("mem_pct", "内存使用率", "Memory %", "dec", "O", articles=("第三十五条第2项",)),
    Column("disk_pct", "磁盘使用率", "Disk %", "dec", "O", articles=("第三十五条第2项",)),
    Column("bw_pct", "带宽使用率", "Bandwidth %", "dec", "O", articles=("第三十五条第2项",)),
    Column("audit_checked", "审计日志已查", "Audit log checked", "bool", "O", articles=(A31[4],)),
    Column(
        "exception_refs",
        "故障",
        "Faults",
        "refs",
        "C",
        ref="T39",
        required_if=("kind", ("故障处理",)),
        condition=gettext_noop("if 故障处理"),
    ),
)

T31 = (
    Column("req_no", "申请编号", "Request no.", "text", "R"),
    Column("req_date", "申请日期", "Request date", "date", "R"),
    Column("requester", "申请人", "Requested by", "ref", "R", ref="person"),
    Column(
        "change_class",
        "改造类别",
        "Change class",
        "enum",
        "R",
        choices=choices(
            ("线路新增", "new line"),
            ("线路变更", "line change"),
            ("带宽调整", "bandwidth change"),
            ("设备更换", "equipment replacement"),
            ("拓扑调整", "topology change"),
            ("安全策略调整", "security policy change"),
            ("其他", "other"),
        ),
    ),
    Column("reason", "原因", "Reason", "ltext", "R"),
    Column("plan", "方案", "Plan", "att", "R"),
    Column(
        "impact",
        "影响评估",
        "Impact assessment",
        "ltext",
        "R",
        articles=("第三十四条第1项",),
        note="must cover 交易网/办公网/互联网 isolation",
    ),
    Column("test_plan", "测试方案", "Test plan", "att", "R", articles=(A31[5],)),
    Column("fallback", "回退方案", "Fallback plan", "att", "R", articles=(A31[5],)),
    Column("planned_at", "计划实施时间", "Planned for", "dt", "R", note="warn if inside trading hours"),
    Column("result", "结果", "Result", "ltext", "C", condition=gettext_noop("to close")),
    Column("accepted_at", "验收", "Accepted at", "dt", "C", condition=gettext_noop("to close")),
    Column(
        "ledger_refs",
        "台账更新",
        "Ledger entries",
        "refs",
        "C",
        ref="T21|T32",
        condition=gettext_noop("to close"),
    ),
)

T32 = continued(
    annex4.T16,
    Column(
        "movement",
        "变动类型",
        "Movement",
        "enum",
        "R",
        choices=choices(
            ("交接日转入", "carried over from handover"),
            ("采购新增", "purchased"),
            ("调拨", "transferred"),
            ("维修", "repair"),
            ("报废", "scrapped"),
        ),
    ),
    Column("moved_on", "变动日期", "Moved on", "date", "R"),
    Column("source_ref", "关联单据", "Source record", "ref", "R", ref="T16|T26|T36"),
    Column(
        "is_key",
        "关键设备",
        "Key equipment",
        "bool",
        "R",
        articles=("第三十五条第1项",),
        note="关键服务器, 主干路由器/交换机, 工作站",
    ),
    Column(
        "redundancy",
        "冗余",
        "Redundancy",
        "enum",
        "C",
        choices=choices(("热备", "hot standby"), ("冷备", "cold standby"), ("无", "none")),
        required_if=("is_key", (YES,)),
        condition=gettext_noop("if is_key"),
        articles=("第三十五条第1项",),
    ),
)

T33 = continued(
    retarget(
        annex4.T17,
        "contract_ref",
        ref="T35",
        note="deviation: 表35, the living contract ledger, not the handover snapshot 表19",
    ),
    Column(
        "movement",
        "变动类型",
        "Movement",
        "enum",
        "R",
        choices=choices(
            ("交接日转入", "carried over from handover"),
            ("采购新增", "purchased"),
            ("升级", "upgraded"),
            ("卸载", "uninstalled"),
        ),
    ),
    Column("source_ref", "关联单据", "Source record", "ref", "R", ref="T17|T36|T30"),
)

# SOURCED layout (registers.md 表34): 资料类别 | 资料名称 | 编号 | 存放地点 | 简要说明 | 备注.
T34 = (
    Column(
        "category",
        "资料类别",
        "Category",
        "enum",
        "R",
        choices=DOCUMENT_CATEGORY,
        note="SOURCED column; enum values DESIGNED (as 表18)",
    ),
    Column("title", "资料名称", "Title", "text", "R", note="SOURCED"),
    Column(
        "doc_no",
        "编号",
        "Document no.",
        "text",
        "R",
        note="SOURCED; document no. (the header 编号 is form_no)",
    ),
    Column("location", "存放地点", "Location", "text", "R", note="SOURCED"),
    Column("summary", "简要说明", "Summary", "ltext", "O", note="SOURCED"),
    Column("source_ref", "来源", "Source", "ref", "O", ref="T18", note="DESIGNED; not printed"),
)

T35 = continued(
    annex4.T19,
    Column(
        "event",
        "变动类型",
        "Event",
        "enum",
        "R",
        choices=choices(
            ("交接日转入", "carried over from handover"),
            ("新签", "new"),
            ("续签", "renewed"),
            ("变更", "amended"),
            ("终止", "terminated"),
        ),
        note="designed: the spec gives no Chinese label",
    ),
    Column("purchase_ref", "采购申请", "Purchase request", "ref", "O", ref="T36", note="designed: label"),
    Column("renewal_alert_on", "续签提醒日期", "Renewal reminder on", "date", "O", note="designed: label"),
)

_TO_CLOSE = gettext_noop("to close")
T36 = (
    Column("req_no", "申请编号", "Request no.", "text", "R"),
    Column("req_date", "申请日期", "Request date", "date", "R"),
    Column("requester", "申请人", "Requested by", "ref", "R", ref="person"),
    Column(
        "kind",
        "类别",
        "Kind",
        "enum",
        "R",
        choices=choices(("硬件", "hardware"), ("软件", "software"), ("服务", "service")),
    ),
    Column("item", "名称", "Item", "text", "R"),
    Column("spec", "规格", "Specification", "text", "R"),
    Column("qty", "数量", "Quantity", "int", "R"),
    Column("unit_price", "单价", "Unit price", "dec", "R", note="财"),
    Column("amount", "金额", "Amount", "dec", "R", note="财"),
    Column(
        "purpose",
        "用途",
        "Purpose",
        "enum",
        "R",
        choices=choices(
            ("故障更换", "fault replacement"),
            ("扩容", "capacity"),
            ("整改", "remediation"),
            ("第三方存管准备", "third-party custody preparation"),
            ("新系统建设", "new system"),
            ("其他", "other"),
        ),
        articles=("第三十条",),
    ),
    Column("is_new_system", "新系统建设", "New system", "bool", "R", articles=("第三十八条",)),
    Column(
        "new_system_approval",
        "新系统建设审批",
        "New-system approval",
        "att",
        "C",
        required_if=("is_new_system", (YES,)),
        condition=gettext_noop("if true, attach the 细则 approval (第三十八条)"),
        articles=("第三十八条", "附件一（十三）"),
        note="designed: the spec asks for the attachment on is_new_system but gives it no column",
    ),
    Column("system_id", "关联系统", "System", "ref", "O", ref="system"),
    Column("risk_ref", "风险", "Risk record", "ref", "O", ref="T39|T40"),
    Column("accepted_on", "验收", "Accepted on", "date", "C", condition=_TO_CLOSE),
    Column("ledger_ref", "入账", "Ledger entry", "ref", "C", ref="T32|T33", condition=_TO_CLOSE),
    Column("contract_ref", "合同", "Contract", "ref", "O", ref="T35"),
)

T37 = (
    Column("mnt_no", "维护单号", "Maintenance no.", "text", "R"),
    Column("system_id", "系统", "System", "ref", "R", ref="system"),
    Column("db", "数据库", "Database", "text", "R"),
    Column("objects", "对象", "Objects", "text", "R"),
    Column(
        "kind",
        "维护类型",
        "Kind",
        "enum",
        "R",
        choices=choices(
            ("数据修正", "data correction"),
            ("参数修改", "parameter change"),
            ("批量查询统计", "bulk query or statistics"),
            ("数据清理", "data clean-up"),
            ("数据恢复", "data recovery"),
            ("其他", "other"),
        ),
    ),
    Column("reason", "原因", "Reason", "ltext", "R"),
    Column("statements", "操作内容", "Statements", "att", "R", note="script or SQL summary"),
    Column(
        "in_trading_hours",
        "交易时段内",
        "During trading hours",
        "bool",
        "R",
        articles=(A31[3], A31[9]),
        note="rule: 批量查询统计 is blocked; other kinds need tg_approval and a 表39 fault ref",
    ),
    Column(
        "tg_approval",
        "技术组审批",
        "Technical group's approval",
        "att",
        "C",
        required_if=("in_trading_hours", (YES,)),
        condition=gettext_noop("in trading hours (§31.3)"),
        articles=(A31[3],),
        note=_TG_APPROVAL,
    ),
    Column(
        "fault_ref",
        "故障登记",
        "Fault record",
        "ref",
        "C",
        ref="T39",
        required_if=("in_trading_hours", (YES,)),
        condition=gettext_noop("in trading hours: only fault handling approved by 技术组 (§31.3)"),
        articles=(A31[3],),
        note="designed: the spec's trading-hours rule needs a 表39 fault ref but gives it no column",
    ),
    Column("pre_backup_ref", "维护前备份", "Backup before maintenance", "ref", "R", ref="T29"),
    Column("done_at", "维护时间", "Done at", "dt", "R", articles=("第八条", A31[6])),
    Column("verification", "结果验证", "Verification", "ltext", "R"),
)

T38 = continued(
    annex4.T22,
    Column("period", "检查周期/批次", "Period or batch", "text", "R"),
    Column(
        "mode",
        "检查方式",
        "Mode",
        "enum",
        "R",
        choices=choices(
            ("全网查杀", "network-wide scan"), ("抽查", "spot check"), ("病毒库核查", "signature check")
        ),
    ),
    without=annex4.T22_DISCONNECTION,
)

_EXC_TYPE = choices(
    ("E01 密码修改异常", "E01 secret change failure"),
    ("E02 无法获得原超级用户密码", "E02 original super-user secret not obtainable"),
    ("E03 停用用户异常", "E03 failure after disabling users"),
    ("E04 权限修改异常", "E04 failure after a permission change"),
    ("E05 数据备份异常", "E05 data backup failure"),
    ("E06 历史备份数据移交异常", "E06 historical backup handover exception"),
    ("E07 数据查询异常", "E07 data query exception"),
    ("E08 数据上传异常", "E08 data upload failure"),
    ("E09 重要资料交接异常", "E09 important documents missing"),
    ("E10 清查病毒异常", "E10 failure after virus cleaning"),
    ("E11 系统运行故障", "E11 system fault"),
    ("E12 风险隐患", "E12 latent risk"),
    ("E99 其他", "E99 other"),
)
E = {choice.zh[:3]: choice.zh for choice in _EXC_TYPE}  # "E02" → "E02 无法获得原超级用户密码"
T39 = (
    Column("risk_no", "编号", "Risk no.", "text", "R"),
    Column(
        "phase",
        "阶段",
        "Phase",
        "enum",
        "R",
        choices=choices(("交接期", "handover"), ("稳定期", "stabilisation")),
        note="the register is used in both 交接期 and 稳定期",
    ),
    Column("site_id", "站点", "Site", "ref", "R", ref="site"),
    Column("system_id", "系统", "System", "ref", "O", ref="system"),
    Column("asset_id", "设备", "Device", "ref", "O", ref="asset"),
    Column("account_id", "账户", "Account", "ref", "O", ref="account"),
    Column(
        "exc_type",
        "异常类型",
        "Exception type",
        "enum",
        "R",
        choices=_EXC_TYPE,
        articles=(A28,),
        note="E01–E10 = §28.1–10; E11/E12 for 稳定期",
    ),
    Column(
        "sub_type",
        "子类",
        "Sub-type",
        "enum",
        "C",
        choices=choices(
            ("人员已离开", "holder has left"),
            ("遗忘/联系不上", "forgotten or holder unreachable"),
            *((c.zh, c.en) for c in annex4.T15_HIST_EXCEPTION if c.zh != "无"),
        ),
        required_if=("exc_type", (E["E02"], E["E06"])),
        condition=gettext_noop(
            "E02 {人员已离开, 遗忘/联系不上}; E06 {不全, 无历史备份, 介质损坏, 资料不全无法读取, 其他}"
        ),
        articles=("第二十八条第2项", "第二十八条第6项"),
        note=(
            "deviation: the E06 values are 表15's hist_exception values, which follow 第二十八条第6项's wording; "
            "the spec's E06 list shortens them differently"
        ),
    ),
    Column("found_at", "发现时间", "Found at", "dt", "R"),
    Column(
        "source_row_ref",
        "来源登记行",
        "Source row",
        "ref",
        "C",
        ref="T8|T9|T10|T11|T13|T14|T15|T18|T22|T23|T27|T28|T29|T30",
        required_if=("exc_type", tuple(E[f"E{n:02d}"] for n in range(1, 11))),
        condition=gettext_noop("for E01–E10"),
        note=(
            "deviation: 表27 and 表28 added, the E01/E04 sources in the spec's §5.5; 表23 added, a failed "
            "joint test is registered (第二十六条第10项)"
        ),
    ),
    Column("description", "描述", "Description", "ltext", "R"),
    Column("impact", "影响", "Impact", "ltext", "R"),
    Column("trading_impact", "影响交易", "Affects trading", "bool", "R"),
    Column(
        "steps_done",
        "处置步骤",
        "Steps taken",
        "ltext",
        "R",
        articles=(A28,),
        note=(
            "the prescribed steps per exc_type (registers.md §5.5). deviation: the spec's type is a checklist, "
            "which Column cannot express, so the steps are recorded as text"
        ),
    ),
    Column(
        "vendor_org_id",
        "开发商/技术机构",
        "Developer or technical body",
        "ref",
        "C",
        ref="org",
        required_if=("exc_type", (E["E01"], E["E05"], E["E10"])),
        condition=gettext_noop("E01, E02 (cracking), E05, E10"),
        articles=("第二十八条第1项", "第二十八条第2项", "第二十八条第5项", "第二十八条第10项"),
    ),
    Column(
        "wg_approval",
        "托管工作组同意",
        "Working group's consent",
        "att",
        "C",
        required_if=("sub_type", ("遗忘/联系不上",)),
        condition=gettext_noop("E02, before cracking"),
        articles=("第二十八条第2项",),
        note="the spec allows an attachment or a 工 signature; the consent is attached",
    ),
    Column(
        "outcome",
        "处置结果",
        "Outcome",
        "enum",
        "R",
        choices=choices(
            ("已解决", "resolved"),
            ("已回退恢复", "rolled back"),
            ("替代方式完成", "done another way"),
            ("风险接受", "risk accepted"),
            ("未解决", "unresolved"),
        ),
    ),
    Column(
        "reported_tg_at",
        "上报技术组",
        "Reported to the technical group",
        "dt",
        "R",
        articles=(A28,),
        note="mandatory end step",
    ),
    Column(
        "reported_wg_at",
        "上报托管工作组",
        "Reported to the working group",
        "dt",
        "C",
        required_if=("exc_type", (E["E02"],)),
        condition=gettext_noop("E02; tampering (表15); serious risks (§20.8)"),
        articles=("第二十八条第2项", "第二十六条第5项", "第二十条第8项"),
    ),
    Column("capa_refs", "纠正预防措施", "CAPA", "refs", "O", ref="T40"),
    Column(
        "state",
        "状态",
        "State",
        "enum",
        "R",
        choices=choices(("处理中", "in hand"), ("已关闭", "closed")),
    ),
    Column(
        "closed_on",
        "关闭日期",
        "Closed on",
        "date",
        "C",
        required_if=("state", ("已关闭",)),
        condition=gettext_noop("if 已关闭"),
        note="deviation: the spec says R, which an open (处理中) entry cannot meet",
    ),
)

_VERIFY_RESULT = choices(("有效", "effective"), ("部分有效", "partly effective"), ("无效", "not effective"))
T40 = (
    Column("capa_no", "编号", "CAPA no.", "text", "R"),
    Column(
        "source",
        "来源",
        "Source",
        "enum",
        "R",
        choices=choices(
            ("表39", "T39"),
            ("安全评估", "security assessment"),
            ("风险评估报告", "risk assessment report"),
            ("检查发现", "inspection finding"),
            ("其他", "other"),
        ),
        articles=("第二十六条第9项", "第三十二条"),
    ),
    Column(
        "source_ref",
        "来源记录",
        "Source record",
        "ref",
        "C",
        ref="T39",
        required_if=("source", ("表39",)),
        condition=gettext_noop("if 表39"),
        note="deviation: the spec says R with no target; only a 表39 source is a register row",
    ),
    Column("problem", "问题", "Problem", "ltext", "R"),
    Column("root_cause", "原因", "Root cause", "ltext", "R"),
    Column(
        "capa_type",
        "类型",
        "Type",
        "enum",
        "R",
        choices=choices(("纠正", "corrective"), ("预防", "preventive")),
    ),
    Column("action", "措施", "Action", "ltext", "R"),
    Column("owner", "责任人", "Owner", "ref", "R", ref="person"),
    Column("due_on", "计划完成日期", "Due on", "date", "R", articles=("第二十六条第9项",)),
    Column(
        "implementation",
        "实施情况",
        "Implementation",
        "ltext",
        "C",
        required_if=("verify_result", tuple(c.zh for c in _VERIFY_RESULT)),
        condition=gettext_noop("before verification"),
    ),
    Column(
        "done_on",
        "完成日期",
        "Done on",
        "date",
        "C",
        required_if=("verify_result", tuple(c.zh for c in _VERIFY_RESULT)),
        condition=gettext_noop("before verification"),
    ),
    Column(
        "verify_method",
        "验证方法",
        "Verification method",
        "text",
        "C",
        required_if=("closed", (YES,)),
        condition=gettext_noop("to close"),
    ),
    Column(
        "verify_result",
        "验证结果",
        "Verification result",
        "enum",
        "C",
        choices=_VERIFY_RESULT,
        required_if=("closed", (YES,)),
        condition=gettext_noop("to close; 无效 reopens"),
    ),
    Column("closed", "关闭", "Closed", "bool", "R", articles=("第三十条",)),
)

T41 = (
    Column(
        "item",
        "项目",
        "Item",
        "enum",
        "R",
        choices=choices(
            ("系统运行", "system operation"),
            ("开市准备", "market-open preparation"),
            ("收市清算", "close and clearing"),
            ("网络线路", "network lines"),
            ("机房环境", "machine-room environment"),
            ("数据备份", "data backup"),
            ("防病毒", "anti-virus"),
            ("安全事件", "security events"),
            ("维护变更", "maintenance and changes"),
            ("故障风险", "faults and risks"),
            ("第三方存管进展", "third-party custody progress"),
            ("其他", "other"),
        ),
        articles=("第三十条",),
    ),
    Column("system_id", "系统", "System", "ref", "O", ref="system"),
    Column(
        "status",
        "状态",
        "Status",
        "enum",
        "R",
        choices=choices(("正常", "normal"), ("异常", "abnormal"), ("不适用", "not applicable")),
    ),
    Column("peak_cpu", "CPU峰值", "Peak CPU", "dec", "O", articles=("第三十五条第2项",)),
    Column("peak_mem", "内存峰值", "Peak memory", "dec", "O", articles=("第三十五条第2项",)),
    Column("peak_disk", "磁盘峰值", "Peak disk", "dec", "O", articles=("第三十五条第2项",)),
    Column("peak_bw", "带宽峰值", "Peak bandwidth", "dec", "O", articles=("第三十五条第2项",)),
    Column(
        "detail",
        "说明",
        "Detail",
        "ltext",
        "C",
        required_if=("status", ("异常",)),
        condition=gettext_noop("if 异常"),
    ),
    Column(
        "refs",
        "关联记录",
        "Related records",
        "refs",
        "O",
        ref="T29|T30|T37|T39",
        note="counts are auto-filled",
    ),
    Column("on_duty", "值班人员", "On duty", "refs", "R", ref="person", articles=(A31[8],)),
    Column("next_day_notes", "次日关注", "For tomorrow", "ltext", "O"),
)

COLUMNS = {
    25: T25,
    26: T26,
    27: T27,
    28: T28,
    29: T29,
    30: T30,
    31: T31,
    32: T32,
    33: T33,
    34: T34,
    35: T35,
    36: T36,
    37: T37,
    38: T38,
    39: T39,
    40: T40,
    41: T41,
}

HEADER_FIELDS = {
    41: (Column("is_trading_day", "交易日", "Trading day", "bool", "R", articles=("第十条",)),),
}
