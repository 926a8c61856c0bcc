"""The 附件二 steps as data (registers.md §5; guideline 第十九~三十六条, 第三十七条 points to 附件二).

The original 附件二 tables are not in the source text, so the steps are derived from the articles, as
registers.md §5 does. Each step says who is responsible (registers.md §1.1 codes), which registers it reads
and produces, whether its rows carry the 第八条 dual signature, the articles behind it, at which site levels
it runs, and what must be done before it. A step is done when its output registers are signed (§5 intro);
nobody ticks it by hand. Three 注意事项 (N-01, N-02, N-05) are derived from the site's other steps, and a
step without registers (H-00, S-14 …) is confirmed with evidence.

This module is plain data and imports no Django, so the ordering and deadline rules can be checked alone.
"""

from __future__ import annotations

from dataclasses import dataclass


def _(text: str) -> str:
    """Marks a description for makemessages (xgettext's own keyword) without importing Django: the pages
    translate it with ``{% translate %}``."""
    return text


PREPARATION, HANDOVER, STABILISATION = "preparation", "handover", "stabilisation"
HQ, REGION, BRANCH, SERVICE = "hq", "region", "branch", "service"
ALL_LEVELS = (HQ, REGION, BRANCH, SERVICE)
ENGAGEMENT = ()  # a step done once for the whole engagement, by 技术组, not per site

# registers.md §1.1: who does a step.
PARTIES = {
    "托管机构": "the custodian",
    "技": "technical group (技术组)",
    "现": "on-site technical post (现场技术岗位)",
    "被": "the firm's IT (被托管技术方)",
    "财": "the firm's finance (被托管机构财务)",
    "工": "custody working group (托管工作组)",
    "局": "local CSRC bureau (当地证监局)",
}


@dataclass(frozen=True)
class Deadline:
    """When a step is due, relative to the disposal date D: ``day`` days after D (negative: before) at
    ``time`` (HH:MM, Beijing time). Editable per engagement by 技术组; these are the defaults."""

    day: int
    time: str


@dataclass(frozen=True)
class Step:
    """One step of 附件二."""

    id: str
    phase: str
    zh: str
    en: str
    responsible: tuple[str, ...]
    outputs: tuple[int, ...] = ()
    inputs: tuple[int, ...] = ()
    dual_signature: bool = False
    articles: tuple[str, ...] = ()
    levels: tuple[str, ...] = ALL_LEVELS
    after: tuple[str, ...] = ()
    exceptions: tuple[str, ...] = ()
    deadline: Deadline | None = None
    # Output registers a site need not have: the event they record may never happen (a 表36 go-live, a 表37
    # database login during trading). When present, every current form must be signed.
    optional: tuple[int, ...] = ()
    # N-01, N-02, N-05: the state is derived from the site's other steps (state.py), not from registers or
    # a confirmation; such a step has no deadline of its own and owes no feedback of its own.
    derived: bool = False

    @property
    def per_site(self) -> bool:
        return bool(self.levels)

    def applies_to(self, level: str) -> bool:
        return level in self.levels


def _s(step_id: str, phase: str, zh: str, en: str, responsible: str, **kw: object) -> Step:
    return Step(step_id, phase, zh, en, tuple(responsible.split()), **kw)  # type: ignore[arg-type]


# 准备期 (before D; confidential, 第十一条). Done once, by the custodian and 技术组.
_PREPARATION = (
    _s("P-01", PREPARATION, "成立技术组，明确职责", _("Form the technical group and set its duties"),
       "托管机构", articles=("第二十条第1项", "第十二条"), levels=ENGAGEMENT, deadline=Deadline(-10, "17:00")),
    _s("P-02", PREPARATION, "制定信息系统托管方案", _("Write the custody plan (rules, workflow, handover lists)"),
       "技", articles=("第二十条第2项", "第四条"), levels=ENGAGEMENT, after=("P-01",), deadline=Deadline(-7, "17:00")),
    _s("P-03", PREPARATION, "获取相关资料（摸底）", _("Collect the survey returns and vendor documents"),
       "局 技", outputs=(1, 2, 3, 4), articles=("第二十条第3项",), levels=ENGAGEMENT, after=("P-01",),
       deadline=Deadline(-7, "17:00")),
    _s("P-04", PREPARATION, "组织托管队伍，设置现场技术岗位", _("Staff every site with an on-site post"),
       "托管机构", inputs=(2, 4), articles=("第二十条第4项", "第十三条"), levels=ENGAGEMENT, after=("P-03",),
       deadline=Deadline(-5, "17:00")),
    _s("P-05", PREPARATION, "培训托管人员", _("Train the custody staff (technical and handover training)"),
       "技", articles=("第二十条第5项",), levels=ENGAGEMENT, after=("P-04",), deadline=Deadline(-2, "17:00")),
    _s("P-06", PREPARATION, "准备工具", _("Prepare the tools, media, safes and blank forms"),
       "技", articles=("第二十条第6项",), levels=ENGAGEMENT, after=("P-04",), deadline=Deadline(-1, "17:00")),
    _s("P-07", PREPARATION, "整理相关单位联系方式", _("Compile the contacts of related organisations"),
       "技", inputs=(2, 3, 4), outputs=(20,), articles=("第二十条第7项",), levels=ENGAGEMENT, after=("P-03",),
       deadline=Deadline(-3, "17:00")),
    _s("P-08", PREPARATION, "初步评估风险", _("Preliminary risk assessment; serious risks go to the working group"),
       "技", inputs=(1, 2, 3, 4), articles=("第二十条第8项",), levels=ENGAGEMENT, after=("P-03",),
       deadline=Deadline(-3, "17:00")),
    _s("P-09", PREPARATION, "制定初步的应急预案", _("Preliminary contingency plan"),
       "技", articles=("第二十条第9项",), levels=ENGAGEMENT, after=("P-08",), deadline=Deadline(-1, "17:00")),
)  # fmt: skip

# 交接期, entry and 管理交接 (第二十一~二十五条). D is a trading day; the cut-over starts after the close.
_MANAGEMENT = (
    _s("H-00", HANDOVER, "处置日进场", _("Disposal day: staff arrive at HQ, machine rooms and branches"),
       "技 现", articles=("第二十一条", "第二十二条", "第二十三条", "第二十四条"), deadline=Deadline(0, "15:30")),
    _s("M-01", HANDOVER, "人员交流", _("Present the plan, the duties and the requirements"),
       "技 被", articles=("第二十五条第1项",), after=("H-00",), deadline=Deadline(0, "16:00")),
    _s("M-02", HANDOVER, "印章交接", _("Hand over the IT department's seal"),
       "被 托管机构", dual_signature=True, articles=("第二十五条第2项",), levels=(HQ,), after=("H-00",),
       deadline=Deadline(0, "17:00")),
    _s("M-03", HANDOVER, "人员情况登记", _("Register the IT staff, including those who left in the last half year"),
       "被 现", inputs=(1,), outputs=(5, 6), articles=("第二十五条第3项",), after=("H-00",),
       deadline=Deadline(1, "12:00")),
    _s("M-04", HANDOVER, "管理制度交接", _("Publish the custody rules; collect the firm's original IT rules"),
       "技 被", outputs=(18,), articles=("第二十五条第4项", "第九条"), levels=(HQ,), after=("H-00",),
       deadline=Deadline(1, "17:00")),
    _s("M-05", HANDOVER, "核对系统情况", _("Check the systems one by one"),
       "技 被", inputs=(2, 4), outputs=(7,), articles=("第二十五条第5项",), after=("H-00",),
       deadline=Deadline(0, "17:30")),
)  # fmt: skip

# 交接期, 技术交接, per site (第二十六条). T-01 before T-02/T-03; T-10 after T-01…T-09. Secrets and rights
# must be changed and tested before the next session's call auction (9:15), hence the night deadlines.
_TECHNICAL = (
    _s("T-01", HANDOVER, "系统备份", _("Back up the systems and seal the media"),
       "被 现", inputs=(7,), outputs=(8,), dual_signature=True, articles=("第二十六条第1项", "第二十二条"),
       after=("M-05",), exceptions=("E05",), deadline=Deadline(0, "20:00")),
    _s("T-02", HANDOVER, "密码交接", _("Receive and change the super-user and back-end passwords, then test"),
       "被 现", inputs=(8,), outputs=(9, 10), dual_signature=True, articles=("第二十六条第2项", "第二十二条"),
       after=("T-01",), exceptions=("E01", "E02"), deadline=Deadline(0, "23:30")),
    _s("T-03", HANDOVER, "用户权限核查", _("Review users and rights (A–D), recording every operation"),
       "被 现", inputs=(8,), outputs=(11, 12, 13), dual_signature=True, articles=("第二十六条第3项",),
       after=("T-01",), exceptions=("E03", "E04"), deadline=Deadline(1, "06:00")),
    _s("T-04", HANDOVER, "当前数据备份", _("Back up the current data and the exchanges' files of the day"),
       "被 现", outputs=(14,), dual_signature=True, articles=("第二十六条第4项",), after=("H-00",),
       exceptions=("E05", "E08"), deadline=Deadline(0, "22:00")),
    _s("T-05", HANDOVER, "核查历史数据", _("Check every historical backup: validity, completeness, continuity"),
       "现", outputs=(15,), articles=("第二十六条第5项",), levels=(HQ, REGION, BRANCH), after=("H-00",),
       exceptions=("E06", "E07"), deadline=Deadline(3, "17:00")),
    _s("T-06", HANDOVER, "技术资料交接", _("Hand over the technical documents, contracts and contacts"),
       "被 现", outputs=(16, 17, 18, 19, 20, 21), articles=("第二十六条第6项",), after=("H-00",),
       exceptions=("E09",), deadline=Deadline(2, "17:00")),
    _s("T-07", HANDOVER, "设备清查", _("Check the electronic equipment against the fixed-asset ledger, jointly"),
       "现 被 财", outputs=(16, 17), articles=("第二十六条第7项",), after=("T-06",),
       deadline=Deadline(3, "17:00")),
    _s("T-08", HANDOVER, "全网病毒查杀", _("Patch, scan every machine offline, then reconnect and report"),
       "技 被", outputs=(22,), articles=("第二十六条第8项",), after=("T-01",), exceptions=("E10",),
       deadline=Deadline(2, "08:00")),
    _s("T-09", HANDOVER, "安全评估", _("Security assessment by professionals, with a remediation plan"),
       "技", outputs=(40,), articles=("第二十六条第9项",), levels=ENGAGEMENT, after=("H-00",),
       deadline=Deadline(5, "17:00")),
    _s("T-10", HANDOVER, "系统全面联调检测", _("Joint test of every system after the handover work"),
       "技 被", inputs=(22, 40), outputs=(23,), articles=("第二十六条第10项",),
       after=("T-01", "T-02", "T-03", "T-04", "T-05", "T-06", "T-07", "T-08", "T-09"),
       deadline=Deadline(6, "17:00")),
)  # fmt: skip

# 注意事项 (第二十七条). N-01, N-02 and N-05 watch every site's other 交接期 steps (state.py); N-03 and N-04,
# the summary and 表24, are done once for the engagement.
_NOTES = (
    _s("N-01", HANDOVER, "按流程时间逐项交接", _("Work item by item to the flow's times; deviations are flagged"),
       "技 现", articles=("第二十七条第1项",), derived=True),
    _s("N-02", HANDOVER, "当日反馈", _("A step not done in time: the site reports it the same day, 技术组 reports on"),
       "现 技 工", articles=("第二十七条第2项",), derived=True),
    _s("N-03", HANDOVER, "交接工作总结", _("Written summary of the whole handover to the working group"),
       "技", articles=("第二十七条第3项",), levels=ENGAGEMENT, after=("T-10",), deadline=Deadline(7, "12:00")),
    _s("N-04", HANDOVER, "交接汇总表报批与报送", _("表24 with the lists annexed, approved and distributed"),
       "技 工", inputs=(*range(5, 24), 39), outputs=(24,), dual_signature=True,
       articles=("第二十七条第4项",), levels=ENGAGEMENT, after=("N-03",), deadline=Deadline(7, "17:00")),
    _s("N-05", HANDOVER, "防范风险：先备份、保运行",
       _("Prevent risk: back up data and software first, keep systems running"),
       "技 现 被", inputs=(8, 14), articles=("第二十七条第5项", "第二十二条"), derived=True),
)  # fmt: skip

# 稳定期 (第二十九~三十六条, 第三十八条): continuous duties, created when the engagement enters 稳定期 (after
# 表24, about D+7). A step is in order while every current form of its registers at the site is signed and
# the routine shows nothing due (state.py, routine.py); it is overdue when a reminder has lapsed.
# Default deadlines (this design's choice; 技术组 edits them per engagement): the first routine records
# (表29, 表30 logs; 表41 of the first trading day) within days of the start, D+8/D+9; the ledgers and
# documents (表32–34, 表38) and the first risk check within the first week, D+14; the first periodic
# password change (表27) and permission review (表28) within the first month, D+30, as is the 第三方存管
# preparation; the 整体风险评估报告 (S-14) four weeks into 稳定期, D+35, to leave it the registers of a month.
_LOCAL = (HQ, REGION, BRANCH)  # sites that run systems of their own; a 服务部 only has terminals
_STABILISATION = (
    _s("S-01", STABILISATION, "风险检查，消除隐患", _("Check for risks and remove them (表39 E12, 表40 actions)"),
       "技 现 被", outputs=(39, 40), optional=(39, 40), articles=("第三十条",), deadline=Deadline(14, "17:00")),
    _s("S-02", STABILISATION, "操作口令专人专用、定期更换",
       _("Personal passwords, changed periodically, strong enough"),
       "被 现", outputs=(27,), dual_signature=True, articles=("第三十一条第1项",), deadline=Deadline(30, "17:00")),
    _s("S-03", STABILISATION, "权限最小化，定期检查", _("Least privilege, checked and adjusted periodically"),
       "被 现", outputs=(28,), dual_signature=True, articles=("第三十一条第2项",), deadline=Deadline(30, "17:00")),
    _s("S-04", STABILISATION, "交易期间不直接操作数据库、不改参数",
       _("No database login or parameter change while trading, "
       "except fault handling 技术组 approves"), "被 技", outputs=(37, 30), optional=(37,), dual_signature=True,
       articles=("第三十一条第3项",), levels=_LOCAL, deadline=Deadline(14, "17:00")),
    _s("S-05", STABILISATION, "审计留痕，运行日志", _("Security audit trails on, operation logs kept"),
       "被", outputs=(30, 29), articles=("第三十一条第4项",), levels=_LOCAL, deadline=Deadline(9, "17:00")),
    _s("S-06", STABILISATION, "上线前测试、评估、审批",
       _("Before go-live: full test, risk assessment, fallback, approval"),
       "被 技", outputs=(30, 36), optional=(36,), dual_signature=True, articles=("第三十一条第5项",),
       levels=_LOCAL, deadline=Deadline(14, "17:00")),
    _s("S-07", STABILISATION, "关键操作复核", _("A second person checks every key operation"),
       "被 现", outputs=(29, 30, 37), optional=(37,), dual_signature=True, articles=("第三十一条第6项",),
       levels=_LOCAL, deadline=Deadline(9, "17:00")),
    _s("S-08", STABILISATION, "配置和变更文档、参数备份", _("Configuration and change documents, parameter backups"),
       "被", outputs=(29, 34), articles=("第三十一条第7项",), levels=_LOCAL, deadline=Deadline(14, "17:00")),
    _s("S-09", STABILISATION, "值班、实时监控、日报", _("Duty, real-time monitoring, the daily report to 技术组"),
       "被 现", inputs=(29, 30, 37, 39), outputs=(41,), articles=("第三十一条第8项", "第十条"),
       deadline=Deadline(8, "18:00")),
    _s("S-10", STABILISATION, "开市期间不做总部端大批量查询",
       _("No bulk queries on head-office data while the market is open"),
       "被", outputs=(37,), optional=(37,), articles=("第三十一条第9项",), levels=(HQ,),
       deadline=Deadline(14, "17:00")),
    _s("S-11", STABILISATION, "机房、设备、网络、采购、病毒、台账", _("Machine rooms, equipment, network, purchases, "
       "anti-virus and ledgers by the rules of 附件一"), "被 现 财", outputs=(25, 26, 31, 32, 33, 34, 35, 36, 38),
       optional=(25, 26, 31, 33, 34, 35, 36), articles=("第三十条", "第十五条第4项"),
       deadline=Deadline(14, "17:00")),
    _s("S-12", STABILISATION, "客户保证金第三方存管的准备与上线",
       _("Prepare and launch third-party custody of client funds"),
       "技 被", outputs=(30, 36), dual_signature=True, articles=("第三十条",), levels=(HQ,),
       deadline=Deadline(30, "17:00")),
    _s("S-13", STABILISATION, "原则上不建新系统",
       _("No new system unless specially needed, then by the rules of 附件一"),
       "技", outputs=(36,), optional=(36,), dual_signature=True, articles=("第三十八条",), levels=(HQ,),
       deadline=Deadline(14, "17:00")),
    _s("S-14", STABILISATION, "信息系统整体风险评估报告", _("Overall risk assessment report to the working group"),
       "技", inputs=(2, 3, 5, 6, 7, 12, 21, 25, 26, 28, 30, 32, 33, 34, 39, 40, 41),
       articles=("第三十二条", "第三十三条", "第三十四条", "第三十五条", "第三十六条"), levels=ENGAGEMENT,
       deadline=Deadline(35, "17:00")),
)  # fmt: skip

STEPS: tuple[Step, ...] = _PREPARATION + _MANAGEMENT + _TECHNICAL + _NOTES + _STABILISATION
BY_ID: dict[str, Step] = {step.id: step for step in STEPS}
ORDER: dict[str, int] = {step.id: index for index, step in enumerate(STEPS)}  # 附件二 order, to sort by


def for_phase(phase: str) -> tuple[Step, ...]:
    return tuple(step for step in STEPS if step.phase == phase)


def for_site_level(phase: str, level: str) -> tuple[Step, ...]:
    """The steps a site of ``level`` gets when ``phase`` starts (a 服务部 does not hand over HQ's seal)."""
    return tuple(step for step in for_phase(phase) if step.applies_to(level))


def predecessors_missing(step_id: str, done: set[str], present: set[str]) -> tuple[str, ...]:
    """The steps that must be done before ``step_id`` and are not; only those the site has count."""
    return tuple(before for before in BY_ID[step_id].after if before in present and before not in done)
