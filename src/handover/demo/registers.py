"""The registers of the demo engagement: rows in all 41 registers at 总部 and at 杭州营业部, all fictional.

At 杭州营业部 the demo logins fill, sign and supervise: the handover-day registers there are signed (the ★
rows by executor and supervisor), their 稳定期 twins are seeded from the signed snapshots, and one 交接全备份
failed its readability check and is linked to its 表39 entry (第二十八条第5项). At 总部 the forms are drafts,
and the completeness view has rows still missing to show. Everything goes through the services, so the
cross-register rules hold for the demo as for anyone. Loading twice adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from handover.accounts.models import User
from handover.core import calendar
from handover.core.actors import Actor, system
from handover.org.models import Engagement, Organisation, OrgType, Party, Person, Site
from handover.registers import catalogue, hooks, inventory, seeding, services
from handover.registers.models import Account, Asset, Form, FormState, InformationSystem, Row, SignatureKind

SIGNED_AT_BRANCH = (5, 7, 8, 10, 13, 14, 16, 17, 18, 19, 22, 39)
SUBMITTED_AT_HQ = (7, 21)  # 表1–4 and 表20 are signed before D by the workflow demo (P-03, P-07)
# What the snapshots cannot tell the living ledgers (seeding.twin_seed); 表28's are set per site.
SEED_DEFAULTS: dict[int, dict[str, Any]] = {
    16: {"is_key": False},
    10: {"reason": "人员变动", "strength_ok": True},
    14: {"location": "备份机房保险柜"},
}
EMPLOYMENT_TYPE = {
    "permanent": "正式",
    "outsourced": "外包驻场",
    "vendor_onsite": "厂商驻场",
    "seconded": "借调",
}

# Per site: systems (name, category, version, platform), then hosts (hostname, class, model, system index).
SYSTEMS = {
    "HQ": [
        ("集中交易系统", "集中交易", "V8.2", "AIX 7.2 / Oracle 19c"),
        ("网上交易系统", "网上交易", "V5.1", "CentOS 7 / MySQL 8.0"),
        ("清算系统", "清算", "V3.4", "Windows Server 2016 / SQL Server 2016"),
    ],
    "BR-HZ": [
        ("营业部柜台系统", "营业部柜台", "V6.0", "Windows Server 2012 / SQL Server 2012"),
        ("行情系统", "行情", "V2.3", "CentOS 7"),
    ],
}
HOSTS = {
    "HQ": [
        ("jy-db01", "服务器", "IBM Power S922", 0),
        ("wt-app01", "服务器", "浪潮 NF5280", 1),
        ("qs-app01", "服务器", "联想 SR650", 2),
        ("core-sw01", "交换机", "华为 S6730", 0),
    ],
    "BR-HZ": [
        ("hz-gt01", "服务器", "联想 SR550", 0),
        ("hz-hq01", "PC", "联想 M720", 1),
        ("hz-rt01", "路由器", "华为 AR2220", 0),
    ],
}


@dataclass
class _Site:
    """One demo site's scenery and the rows created there so far, by register."""

    engagement: Engagement
    site: Site
    day: date
    orgs: dict[str, Organisation]
    systems: list[InformationSystem] = field(default_factory=list)
    hosts: list[Asset] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    staff: list[Person] = field(default_factory=list)
    it_staff: list[Person] = field(default_factory=list)
    onsite: Person | None = None
    rows: dict[int, list[Row]] = field(default_factory=dict)
    forms: dict[int, Form] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.site.code

    def at(self, offset: int, hour: int, minute: int = 0) -> str:
        """An ISO time ``offset`` days after 处置日, Beijing time."""
        return datetime.combine(self.day + timedelta(days=offset), time(hour, minute)).isoformat()

    def on(self, offset: int) -> str:
        return (self.day + timedelta(days=offset)).isoformat()

    def ids(self, number: int) -> list[int]:
        return [row.pk for row in self.rows.get(number, [])]

    def account(self, system_index: int, layer: str) -> Account:
        system_id = self.systems[system_index].pk
        return next(a for a in self.accounts if a.system_id == system_id and a.layer == layer)


def load(*, engagement: Engagement) -> bool:
    """Fill the demo registers once; False when they are there already."""
    if Form.objects.filter(engagement=engagement).exists():
        return False
    actor = system("demo")
    orgs = {o.type: o for o in Organisation.objects.filter(engagement=engagement).order_by("pk")}
    signers = {u.username: u for u in User.objects.filter(username__startswith="demo-")}
    day = engagement.disposal_date
    hq = _scene(actor, engagement, Site.objects.get(engagement=engagement, code="HQ"), day, orgs)
    branch = _scene(actor, engagement, Site.objects.get(engagement=engagement, code="BR-HZ"), day, orgs)
    for scene in (branch, hq):
        _handover(actor, scene)
    _sign_branch(branch, signers)
    for scene in (branch, hq):
        _stabilisation(actor, scene, seeded=scene is branch)
    for scene in (branch, hq):
        for number in (6, 24):
            seeding.computed_form_build(
                actor=actor,
                engagement=engagement,
                site=scene.site,
                register_no=number,
                form_date=day + timedelta(days=1),
                header=_t24_header(scene) if number == 24 else None,
                as_of=day + timedelta(days=1),
            )
    for number in SUBMITTED_AT_HQ:
        services.form_submit(actor=actor, form=hq.forms[number])
    return True


def scenery_ensure(*, engagement: Engagement) -> None:
    """The demo sites' systems, hosts and accounts (idempotent), for an app that needs them before the
    registers' rows are written: the demo vault captures their secrets first, so 表10 names its entries."""
    actor = system("demo")
    orgs = {o.type: o for o in Organisation.objects.filter(engagement=engagement).order_by("pk")}
    for code in SYSTEMS:
        site = Site.objects.get(engagement=engagement, code=code)
        _scene(actor, engagement, site, engagement.disposal_date, orgs)


def _scene(
    actor: Actor, engagement: Engagement, site: Site, day: date, orgs: dict[str, Organisation]
) -> _Site:
    scene = _Site(engagement, site, day, orgs)
    args: dict[str, Any] = {"actor": actor, "engagement": engagement, "site": site}
    for name, category, version, platform in SYSTEMS[site.code]:
        scene.systems.append(
            inventory.system_ensure(
                **args,
                name=name,
                category=category,
                version=version,
                platform=platform,
                vendor=orgs[OrgType.APP_VENDOR],
            )
        )
    for hostname, _class, _model, index in HOSTS[site.code]:
        scene.hosts.append(inventory.asset_ensure(**args, hostname=hostname, system=scene.systems[index]))
    for index, sys in enumerate(scene.systems):
        host = next(h for h, (_n, _c, _m, i) in zip(scene.hosts, HOSTS[site.code], strict=True) if i == index)
        for login, layer, klass in (("root", "操作系统", "超级用户"), ("dbadmin", "数据库", "超级用户")):
            scene.accounts.append(
                inventory.account_ensure(
                    actor=actor, system=sys, asset=host, login_name=login, layer=layer, account_class=klass
                )
            )
    # 第二十六条第2项: the network and security devices' super-users are handed over too (the demo vault keeps
    # 杭州营业部's router password), so each has its 表9, 表10 and 表11 rows (completeness per account).
    for host, (_name, klass, _model, index) in zip(scene.hosts, HOSTS[site.code], strict=True):
        if klass in ("路由器", "交换机"):
            scene.accounts.append(
                inventory.account_ensure(
                    actor=actor,
                    system=scene.systems[index],
                    asset=host,
                    login_name="admin",
                    layer="网络设备",
                    account_class="超级用户",
                )
            )
    people = Person.objects.filter(engagement=engagement, site=site, is_active=True).order_by("pk")
    scene.staff = [p for p in people if p.party in (Party.FIRM_IT, Party.FIRM_FINANCE, Party.BUSINESS)]
    scene.it_staff = [p for p in scene.staff if p.party == Party.FIRM_IT]
    scene.onsite = next((p for p in people if p.party == Party.ONSITE_POST), None)
    return scene


def _add(
    actor: Actor, scene: _Site, number: int, rows: list[dict[str, Any]], header: dict[str, Any] | None = None
) -> None:
    form = scene.forms.get(number)
    if form is None or form.state not in (FormState.DRAFT, FormState.SUBMITTED):  # 表39 goes on in 稳定期
        form = services.form_create(
            actor=actor,
            engagement=scene.engagement,
            site=scene.site,
            register_no=number,
            form_date=scene.day,
            header=header,
        )
        scene.forms[number] = form
    for data in rows:
        scene.rows.setdefault(number, []).append(services.row_add(actor=actor, form=form, data=data))


# 准备期 and 交接期 ---------------------------------------------------------------------------------------------


def _handover(actor: Actor, s: _Site) -> None:
    """表1–5, 7–23 and 39 at one site, in the order the work is done (附件二 M-03 … T-10)."""
    period = {"report_period": f"{s.day.year}Q{(s.day.month - 1) // 3 + 1}", "report_cycle": "季报"}
    _add(actor, s, 1, _t1(s), {**period, "org_chart": f"{s.code}-组织架构图.pdf"})
    _add(actor, s, 2, _t2(s), period)
    _add(actor, s, 3, _t3(s), {**period, "topology": f"{s.code}-网络拓扑图.pdf"})
    _add(actor, s, 4, _t4(s), period)
    _add(actor, s, 5, _t5(s))
    _add(actor, s, 7, _t7(s))
    _add(actor, s, 8, _t8(s))
    _t8_failure(actor, s)
    _add(actor, s, 9, _t9(s))
    _add(actor, s, 10, _t10(s))
    _add(actor, s, 11, _t11(s))
    _add(actor, s, 12, _t12(s))
    _add(actor, s, 13, _t13(s))
    _link_t11_changes(actor, s)
    _add(actor, s, 14, _t14(s))
    _add(actor, s, 15, _t15(s))
    _add(actor, s, 16, _t16(s))
    _add(actor, s, 17, _t17(s))
    _add(actor, s, 18, _t18(s))
    _add(actor, s, 19, _t19(s))
    _add(actor, s, 20, _t20(s))
    _add(actor, s, 21, _t21(s))
    n_hosts = len(s.hosts)
    _add(
        actor,
        s,
        22,
        _t22(s),
        {"device_total": n_hosts, "scanned_total": n_hosts, "infected_total": 0, "unfinished_total": 0},
    )
    _add(actor, s, 23, _t23(s))
    for row in s.rows[7]:  # 表7's progress, refreshed now that the work is recorded
        services.row_update(actor=actor, row=row, data=row.data)


def _t1(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "unit_name": "信息技术部" if s.code == "HQ" else s.site.name,
            "site_id": s.site.pk,
            "person_id": p.pk,
            "post": p.post or "技术员",
            "systems": [sys.pk for sys in s.systems],
            "duties": f"{p.post or '技术员'}：负责本单位信息系统的日常运行维护",
            "employment_type": EMPLOYMENT_TYPE[p.employment_type],
            "employment": "离职" if p.employment == "left" else "在职",
            "phone": f"0571-8810{p.pk % 100:02d}",
        }
        for p in s.it_staff
    ]


def _t2(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "system_id": sys.pk,
            "category": sys.category,
            "function": f"{sys.name}：委托、成交、资金与股份管理",
            "vendor_org_id": s.orgs[OrgType.APP_VENDOR].pk,
            "version": sys.version,
            "platform": sys.platform,
            "devices": "服务器 × 2",
            "location": "中心机房",
            "redundancy": "双机热备" if i == 0 else "冷备",
            "data_backup": "每日日终全备份，磁带异地存放",
            "maintained_by": "混合",
        }
        for i, sys in enumerate(s.systems)
    ]


def _t3(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "link_name": f"{s.code}-上交所报盘主线",
            "a_site": s.site.pk,
            "b_end": "上海证券交易所",
            "net_class": "报盘",
            "medium": "地面",
            "carrier_org_id": s.orgs[OrgType.LINE_CARRIER].pk,
            "bandwidth": "10M",
            "role": "主",
            "isolation_policy": "交易网与办公网物理隔离，互联网区经防火墙访问",
        },
        {
            "link_name": f"{s.code}-报盘卫星备份",
            "a_site": s.site.pk,
            "b_end": "上海证券交易所",
            "net_class": "报盘",
            "medium": "卫星",
            "carrier_org_id": s.orgs[OrgType.LINE_CARRIER].pk,
            "bandwidth": "2M",
            "role": "备",
            "isolation_policy": "与主线路天地互备",
        },
    ]


def _t4(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "site_id": s.site.pk,
            "trade_mode": "集中交易" if s.code == "HQ" else "营业部柜台",
            "system_id": s.systems[0].pk,
            "order_routing": "总部集中报盘" if s.code == "HQ" else "营业部报盘",
            "exchange_link": "天地双备",
            "channels": "柜台、电话委托、网上交易",
            "clients": 12000 if s.code == "HQ" else 3500,
            "servers": len([h for h in HOSTS[s.code] if h[1] == "服务器"]),
            "it_staff": len(s.it_staff),
            "data_backup": "日终全备份，每周异地",
        }
    ]


def _t5(s: _Site) -> list[dict[str, Any]]:
    rows = []
    for p in s.staff:
        left = p.employment == "left"
        rows.append(
            {
                "person_id": p.pk,
                "staff_no": f"YS{p.pk:05d}",
                "site_id": s.site.pk,
                "dept": p.department or "信息技术部",
                "post": p.post or "技术员",
                "systems": [s.systems[0].pk],
                "accounts_held": [s.accounts[0].pk] if p.party == Party.FIRM_IT else [],
                "employment_type": EMPLOYMENT_TYPE[p.employment_type],
                "employment": "离职" if left else "在职",
                "leave_date": p.leave_date.isoformat() if left and p.leave_date else None,
                "post_leave_contact": "经人事部联系" if left else None,
                "phone": f"0571-8820{p.pk % 100:02d}",
                "skills": "系统运维" if p.party == Party.FIRM_IT else "",
            }
        )
    return rows


def _t7(s: _Site) -> list[dict[str, Any]]:
    owner = s.it_staff[0] if s.it_staff else s.staff[0]
    return [
        {
            "system_id": sys.pk,
            "site_id": s.site.pk,
            "vendor_org_id": s.orgs[OrgType.APP_VENDOR].pk,
            "version": sys.version,
            "platform": sys.platform,
            "assets": [h.pk for h in s.hosts if sys in h.systems.all()],
            "run_state": "正常",
            "owner_person_id": owner.pk,
            "prep_match": "一致",
        }
        for sys in s.systems
    ]


def _backup(s: _Site, index: int, purpose: str, object_type: str, n: int, **extra: Any) -> dict[str, Any]:
    sys = s.systems[index]
    host = next(h for h, spec in zip(s.hosts, HOSTS[s.code], strict=True) if spec[3] == index)
    return {
        "system_id": sys.pk,
        "asset_id": host.pk,
        "purpose": purpose,
        "object_type": object_type,
        "content": f"{sys.name} {object_type}",
        "method": "文件备份",
        "started_at": s.at(0, 15, 30 + n),
        "ended_at": s.at(0, 15, 40 + n),
        "media_type": "移动硬盘",
        "media_no": f"{s.code}-HD-{index + 1:02d}{n:02d}",
        "copies": 2,
        "readable": "通过",
        "location": "保险柜A",
        "seal_no": f"FT-{s.code}-{index + 1:02d}{n:02d}",
        **extra,
    }


def _t8(s: _Site) -> list[dict[str, Any]]:
    rows = []
    # The last system of 总部 has no 交接全备份 yet, so the completeness view shows a gap there.
    covered = s.systems if s.code != "HQ" else s.systems[:-1]
    for index, _sys in enumerate(covered):
        rows += [
            # 第二十六条第1项: the full backup covers the software, the database, the parameter files and the logs.
            _backup(s, index, "交接全备份", "数据库", 1, method="数据库备份"),
            _backup(s, index, "交接全备份", "参数配置文件", 6),
            _backup(s, index, "交接全备份", "运行日志", 7),
            _backup(s, index, "改密前备份", "用户权限配置文件", 2),
            _backup(s, index, "权限核查前备份", "用户权限配置文件", 3),
        ]
        if (
            s.code != "BR-HZ" or index != 0
        ):  # 杭州's counter system gets its 应用软件 through the E05 story below
            rows.append(_backup(s, index, "交接全备份", "应用软件", 8))
    return rows


def _t8_failure(actor: Actor, s: _Site) -> None:
    """第二十八条第5项: the application's backup function fails, a file backup is made instead, and 表39 records it."""
    if s.code != "BR-HZ":
        return
    failed = _backup(s, 0, "交接全备份", "应用软件", 4, method="应用系统备份功能", readable="不通过")
    _add(actor, s, 8, [failed, _backup(s, 0, "交接全备份", "应用软件", 5, method="文件备份")])
    _add(actor, s, 39, [_t39_backup(s, s.rows[8][-2])])
    row = s.rows[8][-2]
    s.rows[8][-2] = services.row_update(
        actor=actor, row=row, data={**row.data, "exception_refs": [s.rows[39][0].pk]}
    )


def _t39_backup(s: _Site, source: Row) -> dict[str, Any]:
    return {
        "risk_no": f"{s.code}-R-001",
        "phase": "交接期",
        "site_id": s.site.pk,
        "system_id": s.systems[0].pk,
        "exc_type": "E05 数据备份异常",
        "found_at": s.at(0, 15, 50),
        "source_row_ref": source.pk,
        "description": "柜台系统自带备份功能导出的应用软件备份无法读取",
        "impact": "无，已改用文件备份",
        "trading_impact": False,
        "steps_done": "①联系开发商远程支持，仍失败；②改用文件备份并校验通过；③登记表39上报技术组",
        "vendor_org_id": s.orgs[OrgType.APP_VENDOR].pk,
        "outcome": "替代方式完成",
        "reported_tg_at": s.at(0, 16, 10),
        "state": "已关闭",
        "closed_on": s.on(0),
    }


def _t9(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "system_id": a.system_id,
            "asset_id": a.asset_id,
            "layer": a.layer,
            "account_id": a.pk,
            "account_class": a.account_class,
            "original_holders": [s.it_staff[0].pk],
            "obtained_by": "被托管技术方提供",
            "vault_ref": f"信封 {s.code}-{n:03d}，保险柜A",
            "secret_captured": True,
            "login_verified": "成功",
            "verified_at": s.at(0, 16, n),
            "holders": [s.onsite.pk] if s.onsite else [s.it_staff[0].pk],
            "witness": s.it_staff[-1].pk,
        }
        for n, a in enumerate(s.accounts, 1)
    ]


def _t10(s: _Site) -> list[dict[str, Any]]:
    backups = {row.data["system_id"]: row.pk for row in s.rows[8] if row.data["purpose"] == "改密前备份"}
    receipts = {row.data["account_id"]: row.pk for row in s.rows[9]}
    return [
        {
            "system_id": a.system_id,
            "asset_id": a.asset_id,
            "layer": a.layer,
            "account_id": a.pk,
            "account_class": a.account_class,
            "prior_ref": receipts[a.pk],
            "pre_backup_ref": backups[a.system_id],
            "changed_at": s.at(0, 17, n),
            "executor": s.it_staff[0].pk,
            "secret_changed": True,
            **_custody(s, n, a),
            "holders": [s.it_staff[0].pk],
            "login_verified": "成功",
            "verified_at": s.at(0, 17, 30 + n),
            "used_in_config": "不涉及",
            "test_result": "正常",
        }
        for n, a in enumerate(s.accounts, 1)
        if a.system_id in backups
    ]


def _custody(s: _Site, n: int, account: Account) -> dict[str, str]:
    """第二十条第6项: the new password is in the vault when the vault holds the account's secret (its entry's
    reference, which the row check verifies), otherwise in a sealed envelope in the safe."""
    reference = hooks.custody_reference(account.pk)
    if reference:
        return {"vault_ref": f"密码保管系统条目 {reference}", "custody_mode": "密码保管系统"}
    return {"vault_ref": f"信封 {s.code}-X{n:03d}，保险柜A", "custody_mode": "密封信封入保险柜"}


def _t11(s: _Site) -> list[dict[str, Any]]:
    backups = {row.data["system_id"]: row.pk for row in s.rows[8] if row.data["purpose"] == "权限核查前备份"}
    return [
        {
            "system_id": a.system_id,
            "asset_id": a.asset_id,
            "layer": a.layer,
            "account_id": a.pk,
            "account_class": a.account_class,
            "user_person_id": s.it_staff[0].pk,
            "user_status": "共用" if a.layer == "数据库" else "在职",
            "perm_before": "DBA 全部权限" if a.layer == "数据库" else "root 全部权限",
            "necessary": True,
            "least_privilege": a.layer != "数据库",
            "dedicated": a.layer != "数据库",
            "used_for_batch": False,
            "action": "保留",
            # 第二十六条第3项 C: a shared account kept says why (rules._shared_kept).
            "keep_reason": "两名DBA共用；交接期内保留并逐次登记使用，稳定期改为专人专户"
            if a.layer == "数据库"
            else None,
            "perm_after": "DBA 全部权限" if a.layer == "数据库" else "root 全部权限",
            "pre_backup_ref": backups[a.system_id],
        }
        for a in s.accounts
        if a.system_id in backups
    ]


def _t12(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "person_id": p.pk,
            "site_id": s.site.pk,
            "dept": p.department or "营业部",
            "post": p.post or "柜员",
            "system_id": s.systems[0].pk,
            "account_id": s.account(0, "数据库").pk,
            "role": "运维" if p.party == Party.FIRM_IT else "查询",
            "functions": "日终处理、数据备份" if p.party == Party.FIRM_IT else "客户资料查询",
            "data_scope": s.site.name,
            "matches_duty": True,
            "dedicated": True,
            "staff_status": "在职",
            "conclusion": "保留",
        }
        for p in s.staff[:3]
    ]


def _t13(s: _Site) -> list[dict[str, Any]]:
    basis = next(row for row in s.rows[11] if row.data["layer"] == "数据库")
    return [
        {
            "change_no": f"{s.code}-QX-001",
            "system_id": basis.data["system_id"],
            "account_id": basis.data["account_id"],
            "basis_ref": basis.pk,
            "change_type": "B降权",
            "perm_before": "DBA 全部权限",
            "perm_after": "仅日终批处理所需的表读写权限",
            "pre_backup_ref": basis.data["pre_backup_ref"],
            "done_at": s.at(0, 18, 30),
            "procedure_log": f"{s.code}-QX-001-操作记录.pdf",
            "run_check": "正常",
        }
    ]


def _link_t11_changes(actor: Actor, s: _Site) -> None:
    """第二十六条第3项 B: the 表11 row whose rights were reduced points at its 表13 change."""
    change = s.rows[13][0]
    index = next(i for i, row in enumerate(s.rows[11]) if row.pk == change.data["basis_ref"])
    row = s.rows[11][index]
    data = {
        **row.data,
        "action": "降权",
        "least_privilege": True,
        "perm_after": change.data["perm_after"],
        "change_refs": [change.pk],
    }
    s.rows[11][index] = services.row_update(actor=actor, row=row, data=data)


def _t14(s: _Site) -> list[dict[str, Any]]:
    rows = []
    for index, sys in enumerate(s.systems):
        rows.append(
            {
                "system_id": sys.pk,
                "site_id": s.site.pk,
                "data_class": "当前数据",
                "data_name": f"{sys.name} 处置日日终数据",
                "as_of": s.on(0),
                "method": "数据库备份",
                "backed_up_at": s.at(0, 19, index),
                "media_type": "移动硬盘",
                "media_no": f"{s.code}-SJ-{index + 1:02d}",
                "seal_no": f"FT-{s.code}-SJ{index + 1:02d}",
                "size": "38 GB",
                "integrity": "通过",
                "readability": "通过",
                "offsite": True,
                "offsite_location": "备份机房保险柜",
                "upload_via": "内部网络" if s.code != "HQ" else "不涉及",
            }
        )
    # 第二十六条第4项: the exchanges' clearing and reconciliation files of D, for the systems that receive them.
    for index, sys in enumerate(s.systems):
        if sys.category in ("集中交易", "营业部柜台", "清算"):
            for data_class, name in (
                ("交易所清算文件-沪", "上交所当日清算文件"),
                ("交易所清算文件-深", "深交所当日清算文件"),
                ("证券余额对账文件", "当日证券余额对账文件"),
            ):
                rows.append({**rows[index], "data_class": data_class, "data_name": f"{sys.name} {name}"})
    return rows


def _t15(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "site_id": s.site.pk,
            "system_id": s.systems[0].pk,
            "from_date": "2012-03-01",
            "to_date": s.on(-1),
            "location": "备份机房磁带柜",
            "method": "每日磁带备份",
            "media": "LTO-6 磁带",
            "validity": "通过",
            "completeness": "通过",
            "continuity": "有缺口" if s.code == "BR-HZ" else "连续",
            "gaps": "2019-02 机房搬迁期间缺 3 个交易日" if s.code == "BR-HZ" else None,
            "tamper_found": False,
            "hist_exception": "无",
        }
    ]


def _t16(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "fixed_asset_no": f"GZ-{s.code}-{n:04d}",
            "name": host.name,
            "class": spec[1],
            "model": spec[2],
            "serial": f"SN{s.code.replace('-', '')}{n:04d}",
            "qty": 1,
            "systems": [s.systems[spec[3]].pk],
            "site_id": s.site.pk,
            "room_rack": "中心机房 A03" if s.code == "HQ" else "营业部机房 01",
            "condition": "正常",
            "ledger_match": "相符",
            "bought_on": "2019-06-18",
            "cost": "86000.00",
            "support_org": s.orgs[OrgType.EQUIPMENT_VENDOR].pk,
            "support_until": s.on(300),
        }
        for n, (host, spec) in enumerate(zip(s.hosts, HOSTS[s.code], strict=True), 1)
    ]


def _t17(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "name": sys.name,
            "version": sys.version,
            "class": "应用系统",
            "vendor_org_id": s.orgs[OrgType.APP_VENDOR].pk,
            "system_id": sys.pk,
            "assets": [h.pk for h in s.hosts if sys in h.systems.all()],
            "licence_type": "按站点授权",
            "licence_qty": 1,
            "source_code": "未移交",
            "cost": "120000.00",
        }
        for sys in s.systems
    ]


def _t18(s: _Site) -> list[dict[str, Any]]:
    docs = [
        ("应急预案", "信息系统应急预案（2025版）"),
        ("系统技术文档", f"{s.systems[0].name}技术手册"),
        ("系统运行维护日志", "机房值班日志（近三年）"),
        ("原信息技术管理制度", "信息技术管理制度汇编"),
    ]
    return [
        {
            "category": category,
            "title": title,
            "doc_no": f"{s.code}-ZL-{n:03d}",
            "seal_no": f"{s.code}-FC-{n:03d}",
            "location": "档案室",
            "medium": "纸质",
            "copies": 1,
            "complete": True,
        }
        for n, (category, title) in enumerate(docs, 1)
    ]


def _t19(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "contract_no": f"YS-HT-{s.code}-{n:03d}",
            "title": title,
            "counterparty_org_id": s.orgs[org].pk,
            "type": kind,
            "systems": [s.systems[0].pk],
            "signed_on": "2024-01-10",
            "start": "2024-01-15",
            "end": s.on(200),
            "amount": amount,
            "payment_method": "按季度银行转账",
            "paid": paid,
            "unpaid": str(float(amount) - float(paid)),
            "performance": "履行中",
            "original_location": "计划财务部档案柜",
        }
        for n, (title, org, kind, amount, paid) in enumerate(
            [
                ("柜台系统运维服务合同", OrgType.APP_VENDOR, "运维服务", "240000.00", "180000.00"),
                ("报盘专线租用合同", OrgType.LINE_CARRIER, "线路租用", "36000.00", "27000.00"),
            ],
            1,
        )
    ]


def _t20(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "org_type": label,
            "org_id": s.orgs[org].pk,
            "systems": [s.systems[0].pk],
            "contact_name": name,
            "title": title,
            "phone": phone,
            "mobile": "13800000000",
            "hotline": phone,
            "verified_on": s.on(0),
        }
        for label, org, name, title, phone in (
            ("应用系统开发商", OrgType.APP_VENDOR, "周工", "驻场经理", "0571-88000001"),
            ("线路运营商", OrgType.LINE_CARRIER, "钱工", "客户经理", "0571-88000002"),
            ("上交所", OrgType.SSE, "会员服务", "技术支持", "021-00000003"),
        )
    ]


def _t21(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "line_no": f"{s.code}-ZX-{n:02d}",
            "purpose": purpose,
            "a_site": s.site.pk,
            "b_end": b_end,
            "carrier_org_id": s.orgs[OrgType.LINE_CARRIER].pk,
            "medium": medium,
            "bandwidth": bandwidth,
            "role": role,
            "fault_phone": "0571-88000002",
            "state": "在用",
        }
        for n, (purpose, b_end, medium, bandwidth, role) in enumerate(
            [
                ("交易所报盘", "上海证券交易所", "地面", "10M", "主"),
                ("交易所报盘", "上海证券交易所", "卫星", "2M", "备"),
            ],
            1,
        )
    ]


def _t22(s: _Site) -> list[dict[str, Any]]:
    return [
        {
            "asset_id": host.pk,
            "system_id": s.systems[spec[3]].pk,
            "site_id": s.site.pk,
            "patched": True,
            "av_product": "示范杀毒网络版",
            "av_signature_ver": s.on(0).replace("-", ""),
            "disconnected_at": s.at(0, 20, 0),
            "scan_start": s.at(0, 20, 5),
            "scan_end": s.at(0, 21, 30),
            "reconnected_at": s.at(0, 21, 45),
            "infections": 0,
            "outcome": "无感染",
            "run_check": "正常",
        }
        for host, spec in zip(s.hosts, HOSTS[s.code], strict=True)
    ]


def _t23(s: _Site) -> list[dict[str, Any]]:
    tested = s.systems if s.code != "HQ" else s.systems[:-1]
    return [
        {
            "system_id": sys.pk,
            "site_id": s.site.pk,
            "source": "联网联调",
            "test_item": "交易委托" if i == 0 else "行情",
            "prerequisites_done": True,
            "tested_at": s.at(0, 23, i),
            "result": "通过",
            "open_issue": "行情刷新偶有延迟，观察中" if i == 1 else "",
        }
        for i, sys in enumerate(tested)
    ]


def _t24_header(s: _Site) -> dict[str, Any]:
    return {
        "handover_start": s.at(0, 15, 0),
        "handover_end": s.at(0, 23, 30),
        "summary": f"{s.site.name}交接工作按计划完成，备份、密码、权限、数据与检测各项已登记。",
        "residual_risks": "行情系统刷新延迟待观察；历史备份存在缺口，已登记。",
    }


def _sign_branch(s: _Site, signers: dict[str, User]) -> None:
    """The branch's handover registers signed: ★ rows by executor and supervisor, then the footers."""
    for number in SIGNED_AT_BRANCH:
        form = s.forms[number]
        if catalogue.get(number).dual_signature:
            for row in form.rows.filter(is_current=True):
                services.row_sign(actor=signers["demo-firm-it"], row=row, kind=SignatureKind.EXECUTOR)
                services.row_sign(actor=signers["demo-onsite-hz"], row=row, kind=SignatureKind.SUPERVISOR)
        services.form_submit(actor=signers["demo-firm-it"], form=form)
        for username in ("demo-onsite-hz", "demo-finance", "demo-firm-it", "demo-tech"):
            needed = services.footer_roles(number)
            form.refresh_from_db()
            if form.state == "submitted" and _holds_needed(signers[username], needed, form):
                services.form_sign(actor=signers[username], form=form)
        form.refresh_from_db()
        s.forms[number] = form


def _holds_needed(user: User, needed: tuple[str, ...], form: Form) -> bool:
    given = set(form.signatures.values_list("role", flat=True))
    held = set(user.persons.values_list("roles__role", flat=True))
    return bool((set(needed) - given) & held)


# 稳定期 --------------------------------------------------------------------------------------------------------


def _stabilisation(actor: Actor, s: _Site, *, seeded: bool) -> None:
    """表25–41: the living ledgers (seeded from the signed snapshots where there are some) and daily work."""
    # The demo is mid-handover (D was yesterday): its 稳定期 records are dated D too, never in the future
    # (plausibility.py), so the ledgers and daily work can be shown before the days they would belong to.
    first = 0
    if seeded:
        _seed(actor, s)
    else:
        _add(actor, s, 32, [_living_32(s, row) for row in s.rows[16]])
        _add(
            actor, s, 33, [{**row.data, "movement": "交接日转入", "source_ref": row.pk} for row in s.rows[17]]
        )
        _add(actor, s, 34, [_living_34(row) for row in s.rows[18]])
        _add(actor, s, 35, [{**row.data, "event": "交接日转入"} for row in s.rows[19]])
        _add(actor, s, 29, _t29(s, first))
        _add(actor, s, 27, [_living_27(s, row) for row in s.rows[10]])
        _add(actor, s, 28, [_living_28(s, row, s.ids(29)[0]) for row in s.rows[13]])
    _add(actor, s, 39, [_t39_fault(s, first)])
    _add(actor, s, 25, _t25(s, first))
    _add(actor, s, 26, _t26(s, first))
    _add(actor, s, 30, _t30(s, first))
    _add(actor, s, 31, _t31(s, first))
    _add(actor, s, 36, _t36(s, first))
    _add(actor, s, 37, _t37(s, first))
    _add(actor, s, 38, _t38(s, first))
    _add(actor, s, 40, _t40(s, first))
    _add(actor, s, 41, _t41(s, first), {"is_trading_day": calendar.is_trading_day(s.day)})


def _seed(actor: Actor, s: _Site) -> None:
    """The living ledgers from the signed snapshots; 表35 before 表33, whose contracts point at it."""
    first = s.day
    for number in (16, 19, 17, 18, 14, 10):
        defaults = SEED_DEFAULTS.get(number, {})
        twin = seeding.TWINS[number]
        s.forms[twin] = seeding.twin_seed(
            actor=actor, snapshot=s.forms[number], form_date=first, defaults=defaults
        )
        s.rows[twin] = list(s.forms[twin].rows.order_by("seq"))
    requester = s.it_staff[0].pk
    s.forms[28] = seeding.twin_seed(
        actor=actor,
        snapshot=s.forms[13],
        form_date=first,
        defaults={"requester": requester, "reason": "交接日权限调整转入", "pre_backup_ref": s.ids(29)[0]},
    )
    s.rows[28] = list(s.forms[28].rows.order_by("seq"))


def _living_32(s: _Site, row: Row) -> dict[str, Any]:
    return {**row.data, "movement": "交接日转入", "moved_on": s.on(0), "source_ref": row.pk, "is_key": False}


def _living_34(row: Row) -> dict[str, Any]:
    keys = ("category", "title", "doc_no", "location", "summary")
    return {**{k: row.data[k] for k in keys if k in row.data}, "source_ref": row.pk}


def _living_27(s: _Site, row: Row) -> dict[str, Any]:
    keys = [c.key for c in catalogue.columns(27)]
    changed = datetime.fromisoformat(row.data["changed_at"]).date()
    return {
        **{k: v for k, v in row.data.items() if k in keys},
        "reason": "人员变动",
        # 第三十一条第1项: the strength is the vault's measure; an envelope's password is not known to meet it.
        "strength_ok": row.data.get("custody_mode") == "密码保管系统",
        "last_changed_on": changed.isoformat(),
        "next_due_on": (changed + timedelta(days=90)).isoformat(),
    }


def _living_28(s: _Site, row: Row, backup: int) -> dict[str, Any]:
    keys = [c.key for c in catalogue.columns(28)]
    return {
        **{k: v for k, v in row.data.items() if k in keys},
        "pre_backup_ref": backup,
        "requester": s.it_staff[0].pk,
        "reason": "交接日权限调整转入",
    }


def _t29(s: _Site, first: int) -> list[dict[str, Any]]:
    return [
        {
            "trade_date": s.on(first),
            "system_id": sys.pk,
            "data_class": "日终数据",
            "method": "数据库备份",
            "backed_up_at": s.at(first, 17, i),
            "media_no": f"{s.code}-RB-{i + 1:02d}",
            "location": "备份机房保险柜",
            "integrity": "通过",
            "readability": "通过",
            "offsite": True,
        }
        for i, sys in enumerate(s.systems)
    ]


def _t39_fault(s: _Site, first: int) -> dict[str, Any]:
    return {
        "risk_no": f"{s.code}-R-{len(s.rows.get(39, [])) + 1:03d}",
        "phase": "稳定期",
        "site_id": s.site.pk,
        "system_id": s.systems[0].pk,
        "exc_type": "E11 系统运行故障",
        "found_at": s.at(first, 10, 5),
        "description": "开市后委托队列积压，响应变慢",
        "impact": "部分委托延迟约两分钟",
        "trading_impact": True,
        "steps_done": "技术组审批后重启委托网关；已恢复",
        "outcome": "已解决",
        "reported_tg_at": s.at(first, 10, 8),
        "state": "处理中",
    }


def _t25(s: _Site, first: int) -> list[dict[str, Any]]:
    return [
        {
            "site_id": s.site.pk,
            "room": "中心机房" if s.code == "HQ" else "营业部机房",
            "visitor_name": "周工",
            "org_id": s.orgs[OrgType.APP_VENDOR].pk,
            "visitor_type": "厂商",
            "purpose": "更换故障硬盘",
            "in_at": s.at(first, 16, 0),
            "out_at": s.at(first, 17, 10),
            "approver": (s.onsite or s.it_staff[0]).pk,
            "escort": s.it_staff[0].pk,
            "items": "硬盘 1 块",
        }
    ]


def _t26(s: _Site, first: int) -> list[dict[str, Any]]:
    host = s.rows[32][0]
    return [
        {
            "at": s.at(first, 16, 30),
            "direction": "出",
            "asset_id": s.hosts[0].pk,
            "model": host.data["model"],
            "serial": host.data["serial"],
            "qty": 1,
            "reason": "维修",
            "carrier": "周工",
            "org_id": s.orgs[OrgType.EQUIPMENT_VENDOR].pk,
            "media_wiped": "已清除",
            "due_back": s.on(first + 7),
            "ledger_ref": host.pk,
        }
    ]


def _t30(s: _Site, first: int) -> list[dict[str, Any]]:
    duty = [s.it_staff[0].pk]
    base = {"on_duty": duty, "system_id": s.systems[0].pk, "asset_id": s.hosts[0].pk}
    return [
        {
            **base,
            "date": s.on(first),
            "kind": "日常巡检",
            "start": s.at(first, 15, 30),
            "end": s.at(first, 16, 0),
            "content": "收市后巡检：CPU、内存、磁盘与日志",
            "in_trading_hours": False,
            "cpu_pct": "35.5",
            "mem_pct": "61.0",
            "disk_pct": "48.2",
            "audit_checked": True,
        },
        {
            **base,
            "date": s.on(first),
            "kind": "故障处理",
            "start": s.at(first, 10, 10),
            "end": s.at(first, 10, 25),
            "content": "委托网关响应变慢，经技术组审批重启网关",
            "in_trading_hours": True,
            "tg_approval": f"{s.code}-技术组审批-001.pdf",
            "exception_refs": [s.rows[39][-1].pk],
        },
    ]


def _t31(s: _Site, first: int) -> list[dict[str, Any]]:
    return [
        {
            "req_no": f"{s.code}-WL-001",
            "req_date": s.on(first),
            "requester": s.it_staff[0].pk,
            "change_class": "带宽调整",
            "reason": "行情数据量增长",
            "plan": f"{s.code}-WL-001-方案.pdf",
            "impact": "仅调整行情专线带宽，交易网、办公网与互联网隔离不变",
            "test_plan": f"{s.code}-WL-001-测试方案.pdf",
            "fallback": f"{s.code}-WL-001-回退方案.pdf",
            "planned_at": s.at(first + 2, 18, 0),
        }
    ]


def _t36(s: _Site, first: int) -> list[dict[str, Any]]:
    return [
        {
            "req_no": f"{s.code}-CG-001",
            "req_date": s.on(first),
            "requester": s.it_staff[0].pk,
            "kind": "硬件",
            "item": "服务器硬盘",
            "spec": "1.2TB SAS 10K",
            "qty": 2,
            "unit_price": "1800.00",
            "amount": "3600.00",
            "purpose": "故障更换",
            "is_new_system": False,
            "system_id": s.systems[0].pk,
        }
    ]


def _t37(s: _Site, first: int) -> list[dict[str, Any]]:
    backup = next(row for row in s.rows[29] if row.data["system_id"] == s.systems[0].pk)
    return [
        {
            "mnt_no": f"{s.code}-WH-001",
            "system_id": s.systems[0].pk,
            "db": "TRADE",
            "objects": "客户资料表",
            "kind": "数据修正",
            "reason": "客户联系地址录入错误",
            "statements": f"{s.code}-WH-001-脚本摘要.txt",
            "in_trading_hours": False,
            "pre_backup_ref": backup.pk,
            "done_at": s.at(first, 19, 0),
            "verification": "复核人核对修改前后记录一致",
        }
    ]


def _t38(s: _Site, first: int) -> list[dict[str, Any]]:
    return [
        {
            "asset_id": host.pk,
            "system_id": s.systems[spec[3]].pk,
            "site_id": s.site.pk,
            "patched": True,
            "av_product": "示范杀毒网络版",
            "av_signature_ver": s.on(first).replace("-", ""),
            "scan_start": s.at(first, 21, 0),
            "scan_end": s.at(first, 22, 0),
            "infections": 0,
            "outcome": "无感染",
            "run_check": "正常",
            "period": "每周",
            "mode": "全网查杀",
        }
        for host, spec in zip(s.hosts, HOSTS[s.code], strict=True)
    ]


def _t40(s: _Site, first: int) -> list[dict[str, Any]]:
    return [
        {
            "capa_no": f"{s.code}-CAPA-001",
            "source": "表39",
            "source_ref": s.rows[39][-1].pk,
            "problem": "委托网关在开市高峰响应变慢",
            "root_cause": "网关线程池配置偏小",
            "capa_type": "纠正",
            "action": "收市后调整线程池参数并压力测试",
            "owner": s.it_staff[0].pk,
            "due_on": s.on(first + 10),
            "closed": False,
        }
    ]


def _t41(s: _Site, first: int) -> list[dict[str, Any]]:
    duty = [s.it_staff[0].pk]
    return [
        {
            "item": "系统运行",
            "system_id": s.systems[0].pk,
            "status": "正常",
            "peak_cpu": "72.0",
            "on_duty": duty,
        },
        {
            "item": "故障风险",
            "status": "异常",
            "detail": "开市后委托网关响应变慢，已处理",
            "refs": [s.rows[39][-1].pk, *s.ids(30)],
            "on_duty": duty,
            "next_day_notes": "关注委托网关线程池",
        },
    ]
