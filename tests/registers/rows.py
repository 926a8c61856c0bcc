"""Valid rows of the registers the cross-register rules read, for one system at 甲营业部 (tests.factories.World)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from handover.org.models import Role
from handover.registers import inventory, services
from handover.registers.models import Account, Asset, Form, InformationSystem, Row

DAY = date(2026, 12, 1)  # the World's disposal date, a Tuesday and a trading day


@dataclass
class Branch:
    """甲营业部 with its counter system, host and super-user account, and who fills and signs there."""

    world: Any
    firm_it: Any
    onsite: Any
    tech: Any
    system: InformationSystem
    host: Asset
    account: Account
    forms: dict[int, Form] = field(default_factory=dict)

    @property
    def site(self):
        return self.world.branch_a

    def form(self, number: int) -> Form:
        if number not in self.forms:
            self.forms[number] = services.form_create(
                actor=self.firm_it,
                engagement=self.world.engagement,
                site=self.site,
                register_no=number,
                form_date=DAY,
                partial_header=True,  # the header's required fields are not what these tests are about
            )
        return self.forms[number]

    def add(self, number: int, **data: Any) -> Row:
        return services.row_add(actor=self.firm_it, form=self.form(number), data=data)


def branch(world) -> Branch:
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a)
    args = {"actor": firm_it, "engagement": world.engagement, "site": world.branch_a}
    system = inventory.system_ensure(**args, name="柜台系统", category="营业部柜台")
    host = inventory.asset_ensure(**args, hostname="gt01", system=system)
    account = inventory.account_ensure(
        actor=firm_it,
        system=system,
        asset=host,
        login_name="root",
        layer="操作系统",
        account_class="超级用户",
    )
    return Branch(
        world,
        firm_it,
        world.login_with(Role.ONSITE_POST, site=world.branch_a),
        world.login_with(Role.TECH_GROUP),
        system,
        host,
        account,
    )


def t7(b: Branch, **extra: Any) -> dict[str, Any]:
    return {
        "system_id": b.system.pk,
        "site_id": b.site.pk,
        "vendor_org_id": b.world.org.pk,
        "version": "V6",
        "platform": "Windows",
        "run_state": "正常",
        "owner_person_id": b.world.person_a.pk,
        "prep_match": "一致",
        **extra,
    }


def t8(b: Branch, purpose: str = "改密前备份", **extra: Any) -> dict[str, Any]:
    return {
        "system_id": b.system.pk,
        "asset_id": b.host.pk,
        "purpose": purpose,
        "object_type": "用户权限配置文件",
        "content": "用户与权限表",
        "method": "文件备份",
        "started_at": "2026-12-01T15:30",
        "ended_at": "2026-12-01T15:40",
        "media_type": "移动硬盘",
        "media_no": "HD-01",
        "copies": 2,
        "readable": "通过",
        "location": "保险柜A",
        "seal_no": "FT-01",
        **extra,
    }


def t9(b: Branch, **extra: Any) -> dict[str, Any]:
    """表9: the original of the branch's root password, received from the firm's IT (第二十二条)."""
    return {
        "system_id": b.system.pk,
        "asset_id": b.host.pk,
        "layer": "操作系统",
        "account_id": b.account.pk,
        "account_class": "超级用户",
        "original_holders": [b.world.person_a.pk],
        "obtained_by": "被托管技术方提供",
        "vault_ref": "信封 BA-000，保险柜A",
        "secret_captured": True,
        "login_verified": "成功",
        "verified_at": "2026-12-01T16:00",
        "holders": [b.world.person_a.pk],
        "witness": b.world.person_a.pk,
        **extra,
    }


def t10(b: Branch, backup: Row, receipt: Row | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "system_id": b.system.pk,
        "asset_id": b.host.pk,
        "layer": "操作系统",
        "account_id": b.account.pk,
        "account_class": "后台用户" if receipt is None else "超级用户",
        "prior_ref": receipt.pk if receipt else None,
        "pre_backup_ref": backup.pk,
        "changed_at": "2026-12-01T17:00",
        "executor": b.world.person_a.pk,
        "secret_changed": True,
        "vault_ref": "信封 BA-001，保险柜A",
        "custody_mode": "密封信封入保险柜",
        "holders": [b.world.person_a.pk],
        "login_verified": "成功",
        "verified_at": "2026-12-01T17:05",
        "used_in_config": "不涉及",
        "test_result": "正常",
        **extra,
    }


def t11(b: Branch, backup: Row, **extra: Any) -> dict[str, Any]:
    return {
        "system_id": b.system.pk,
        "asset_id": b.host.pk,
        "layer": "操作系统",
        "account_id": b.account.pk,
        "account_class": "超级用户",
        "user_person_id": b.world.person_a.pk,
        "user_status": "在职",
        "perm_before": "全部",
        "necessary": True,
        "least_privilege": True,
        "dedicated": True,
        "used_for_batch": False,
        "action": "保留",
        "perm_after": "全部",
        "pre_backup_ref": backup.pk,
        **extra,
    }


def t13(b: Branch, basis: Row, backup: Row, **extra: Any) -> dict[str, Any]:
    return {
        "change_no": "QX-001",
        "system_id": b.system.pk,
        "account_id": b.account.pk,
        "basis_ref": basis.pk,
        "change_type": "B降权",
        "perm_before": "全部",
        "perm_after": "只读",
        "pre_backup_ref": backup.pk,
        "done_at": "2026-12-01T18:00",
        "procedure_log": "QX-001.pdf",
        "run_check": "正常",
        **extra,
    }


def t14(b: Branch, **extra: Any) -> dict[str, Any]:
    return {
        "system_id": b.system.pk,
        "site_id": b.site.pk,
        "data_class": "当前数据",
        "data_name": "日终数据",
        "as_of": "2026-12-01",
        "method": "数据库备份",
        "backed_up_at": "2026-12-01T19:00",
        "media_type": "移动硬盘",
        "media_no": "SJ-01",
        "seal_no": "FT-SJ01",
        "integrity": "通过",
        "readability": "通过",
        "offsite": True,
        "offsite_location": "备份机房",
        "upload_via": "内部网络",
        **extra,
    }


def t23(b: Branch, **extra: Any) -> dict[str, Any]:
    return {
        "system_id": b.system.pk,
        "site_id": b.site.pk,
        "source": "联网联调",
        "test_item": "交易委托",
        "prerequisites_done": True,
        "tested_at": "2026-12-02T20:00",
        "result": "通过",
        **extra,
    }


def t29(b: Branch, **extra: Any) -> dict[str, Any]:
    return {
        "trade_date": "2026-12-02",
        "system_id": b.system.pk,
        "data_class": "参数配置",
        "method": "文件备份",
        "backed_up_at": "2026-12-02T17:00",
        "media_no": "RB-01",
        "location": "备份机房",
        "integrity": "通过",
        "readability": "通过",
        "offsite": True,
        **extra,
    }


def t30(b: Branch, **extra: Any) -> dict[str, Any]:
    """A 表30 row; by default a parameter change after the close, which names the 表29 backup taken before it
    (第三十一条第7项: one is added unless ``pre_backup_ref`` is given or the kind needs none)."""
    kind = extra.get("kind", "参数/配置变更")
    if kind in ("参数/配置变更", "升级/上线") and "pre_backup_ref" not in extra:
        extra["pre_backup_ref"] = b.add(29, **t29(b, backed_up_at="2026-12-02T15:40")).pk
    return {
        "date": "2026-12-02",
        "on_duty": [b.world.person_a.pk],
        "system_id": b.system.pk,
        "asset_id": b.host.pk,
        "kind": "参数/配置变更",
        "start": "2026-12-02T16:00",
        "end": "2026-12-02T16:30",
        "content": "调整委托网关参数",
        "in_trading_hours": False,
        **extra,
    }


def t37(b: Branch, backup: Row, **extra: Any) -> dict[str, Any]:
    return {
        "mnt_no": "WH-001",
        "system_id": b.system.pk,
        "db": "TRADE",
        "objects": "客户表",
        "kind": "数据修正",
        "reason": "地址录入错误",
        "statements": "WH-001.txt",
        "in_trading_hours": False,
        "pre_backup_ref": backup.pk,
        "done_at": "2026-12-02T19:00",
        "verification": "复核一致",
        **extra,
    }


def t39(b: Branch, source: Row | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "risk_no": "BA-R-001",
        "phase": "交接期",
        "site_id": b.site.pk,
        "exc_type": "E05 数据备份异常" if source else "E11 系统运行故障",
        "found_at": "2026-12-01T15:50",
        "source_row_ref": source.pk if source else None,
        "description": "备份不可读",
        "impact": "无",
        "trading_impact": False,
        "steps_done": "改用文件备份",
        "vendor_org_id": b.world.org.pk if source else None,
        "outcome": "替代方式完成",
        "reported_tg_at": "2026-12-01T16:00",
        "state": "处理中",
        **extra,
    }
