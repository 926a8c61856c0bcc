"""The exception paths of 第二十八条 (E01–E10) and of 稳定期 (E11, E12), as data (registers.md §5.5).

被 carries out the steps and 现 supervises; every path ends with its 表39 entry signed and reported to
技术组 (第二十八条, each 项 ends 「填写《系统故障风险登记表》（表39）上报至技术组」). A checklist item may
require a record before it counts as done (E02's cracking needs the working group's consent first; E08's
courier dispatch needs the courier number), and may be allowed only after other items (``after``).
"""

from __future__ import annotations

from dataclasses import dataclass

CLOSE = "report_t39"  # the last item of every path: the 表39 entry signed and reported to 技术组


@dataclass(frozen=True)
class Item:
    """One prescribed step of a path. ``record`` names what must be recorded with it (consent, courier_no…)."""

    key: str
    zh: str
    en: str
    record: str = ""
    after: tuple[str, ...] = ()
    optional: bool = False
    only_for: tuple[str, ...] = ()  # the sub-types this item belongs to; empty: every sub-type
    due_once_after: bool = False  # an optional item that becomes required once its ``after`` items are done

    def applies(self, sub_type: str) -> bool:
        return not self.only_for or sub_type in self.only_for


@dataclass(frozen=True)
class Path:
    id: str
    zh: str
    en: str
    article: str
    sources: tuple[int, ...]
    items: tuple[Item, ...]
    sub_types: tuple[str, ...] = ()
    report_wg: bool = False  # the working group must be told too (E02; tampering in E06)

    def item(self, key: str) -> Item:
        return next(item for item in self.items if item.key == key)


def _close(*after: str) -> Item:
    return Item(
        CLOSE, "填写表39并上报技术组", "Register in 表39 and report to the technical group", after=after
    )


# 第二十八条第2项 has two cases: the holder has left (the working group and the firm contact them), or the
# password is forgotten / the holder cannot be reached (crack it, with the working group's consent first).
_LEFT, _FORGOTTEN = "人员已离开", "遗忘/联系不上"
# 第二十八条第6项's cases, as 表39 and 表15 spell them (definitions/annex4.py T15_HIST_EXCEPTION), so a case's
# sub-type is a value its 表39 entry can hold.
_E06_SUB_TYPES = ("数据不全", "无历史备份", "介质损坏无法读取", "资料不全无法读取", "其他无法确认")

PATHS: tuple[Path, ...] = (
    Path("E01", "密码修改异常", "Password change failure", "第二十八条第1项", (10, 27), (
        Item("vendor_support", "取得系统开发商技术支持", "Get the developer's support", record="vendor"),
        Item("restore_original", "恢复原密码", "Restore the original password", after=("vendor_support",),
             optional=True),
        _close("vendor_support"),
    )),
    Path("E02", "无法获得原超级用户密码", "Original super-user password not obtainable", "第二十八条第2项", (9,), (
        Item("report_wg", "上报托管工作组", "Report to the working group"),
        Item("contact_holder", "托管工作组与被托管机构联系相应技术人员", "Working group and firm contact the holder",
             after=("report_wg",), optional=True, only_for=(_LEFT,)),
        Item("wg_consent", "取得托管工作组同意", "Working group's consent to crack", record="consent",
             after=("report_wg",), optional=True, only_for=(_FORGOTTEN,)),
        Item("crack", "使用解密工具或联系开发商破解", "Crack with a tool, the developer or another body",
             after=("wg_consent",), optional=True, only_for=(_FORGOTTEN,)),
        # 第二十八条第2项 「破解成功后，及时修改密码」: once cracked, the case closes only with the change.
        Item("change_now", "破解成功后及时修改密码（表10）", "Change the cracked password at once (表10)",
             after=("crack",), optional=True, only_for=(_FORGOTTEN,), due_once_after=True),
        _close("report_wg"),
    ), sub_types=(_LEFT, _FORGOTTEN), report_wg=True),
    Path("E03", "停用用户异常", "Failure after disabling users", "第二十八条第3项", (11, 13), (
        Item("restore_user", "恢复相应用户", "Restore the user"),
        Item("change_password", "要求相应用户修改密码（表10）", "The user changes the password (表10)",
             after=("restore_user",)),
        _close("restore_user"),
    )),
    Path("E04", "权限修改异常", "Failure after a permission change", "第二十八条第4项", (13, 28), (
        Item("add_rights", "增加相应所需权限（表13）", "Add the rights needed (表13)"),
        _close("add_rights"),
    )),
    Path("E05", "数据备份异常", "Backup failure", "第二十八条第5项", (8, 14), (
        Item("vendor_support", "寻求开发维护人员支持", "Get the developer's or maintainer's support", record="vendor"),
        Item("file_backup", "直接进行文件备份或目录备份", "Back up files or directories directly",
             after=("vendor_support",), optional=True),
        _close("vendor_support"),
    )),
    Path("E06", "历史备份数据移交异常", "Historical backup hand-over failure", "第二十八条第6项", (15,), (
        Item("report_wg_tamper", "发现篡改、删除的，立即上报托管工作组",
             "Tampering: tell the working group at once", optional=True),
        _close(),
    ), sub_types=_E06_SUB_TYPES),
    Path("E07", "数据查询异常", "Data query problem", "第二十八条第7项", (14, 15), (_close(),)),
    Path("E08", "数据上传异常", "Upload to head office failed", "第二十八条第8项", (14,), (
        Item("courier", "采用快递方式", "Send by courier", record="courier_no"),
        _close("courier"),
    )),
    Path("E09", "重要资料交接异常", "Important documents not provided", "第二十八条第9项", (18,), (_close(),)),
    Path("E10", "清查病毒异常", "Failure after virus cleaning", "第二十八条第10项", (22,), (
        Item("reinstall", "联系开发商重装系统", "The developer reinstalls the system", record="vendor"),
        _close("reinstall"),
    )),
    Path("E11", "系统运行故障", "System fault (stabilisation)", "第三十条", (30, 41), (
        Item("handle", "故障处理（交易期间须经技术组审批）", "Handle the fault (during trading: with 技术组 approval)"),
        _close("handle"),
    )),
    Path("E12", "风险隐患", "Risk found (stabilisation)", "第三十条", (30, 41), (
        Item("capa", "制定纠正预防措施（表40）", "Plan the corrective or preventive action (表40)", optional=True),
        _close(),
    )),
)  # fmt: skip
BY_ID: dict[str, Path] = {path.id: path for path in PATHS}
# E01–E10 start from the register row where the problem shows (表39 source_row_ref is required for them).
SOURCED = frozenset(f"E{n:02d}" for n in range(1, 11))
STABILISATION_ONLY = frozenset({"E11", "E12"})  # 稳定期 adds them (第三十条)


def required_open(path_id: str, done: set[str], sub_type: str = "") -> tuple[str, ...]:
    """The items still to do before the path may close: every non-optional item of its sub-type.

    E03's password change is required although the close item waits only for the restored user: the
    article asks for both (第二十八条第3项: 恢复相应用户，并要求相应用户进行密码修改). E02's change is required
    once the password was cracked (第二十八条第2项: 破解成功后，及时修改密码).
    """
    return tuple(
        item.key
        for item in BY_ID[path_id].items
        if item.key != CLOSE
        and (not item.optional or (item.due_once_after and set(item.after) <= done))
        and item.applies(sub_type)
        and item.key not in done
    )


def next_refusal(
    path_id: str, done: set[str], item_key: str, records: dict[str, str], sub_type: str = ""
) -> str:
    """Why ``item_key`` cannot be ticked now, or "" when it can: its sub-type, predecessors and record."""
    path = BY_ID[path_id]
    item = path.item(item_key)
    if sub_type and not item.applies(sub_type):
        return "sub_type:" + sub_type
    missing = [before for before in item.after if before not in done]
    if missing:
        return "after:" + ",".join(missing)
    if item.record and not records.get(item.record):
        return "record:" + item.record
    return ""
