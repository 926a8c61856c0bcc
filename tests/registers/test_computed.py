"""表6 from 表5, 表7's progress from the registers that follow it, 表24's counts, the per-site completeness
view and the living ledgers seeded from signed snapshots."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handover.audit.models import Event
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Role, SiteLevel
from handover.registers import completeness, computed, events, inventory, seeding, services
from handover.registers.models import Form, SignatureKind
from tests.factories import make_site
from tests.registers import rows
from tests.registers.rows import branch
from tests.registers.test_rules import t5


@pytest.fixture
def b(world):
    return branch(world)


def sign(b, form):
    """Both row signatures on a ★ register, then the footer (registers.md §1)."""
    for row in form.rows.filter(is_current=True):
        if row.signatures.count() == 0 and services.catalogue.get(form.register_no).dual_signature:
            services.row_sign(actor=b.firm_it, row=row, kind=SignatureKind.EXECUTOR)
            services.row_sign(actor=b.onsite, row=row, kind=SignatureKind.SUPERVISOR)
    services.form_submit(actor=b.firm_it, form=form)
    for user in (b.onsite, b.firm_it):
        services.form_sign(actor=user, form=Form.objects.get(pk=form.pk))
    return Form.objects.get(pk=form.pk)


# 表6 -----------------------------------------------------------------------------------------------------


def test_t6_aggregates_t5_per_site_and_department(b, world):
    from tests.factories import PersonFactory

    left = PersonFactory(
        engagement=world.engagement,
        organisation=world.org,
        site=world.branch_a,
        employment="left",
        leave_date=dt.date(2026, 9, 1),
    )
    old = PersonFactory(
        engagement=world.engagement,
        organisation=world.org,
        site=world.branch_a,
        employment="left",
        leave_date=dt.date(2025, 1, 1),
    )
    b.add(5, **t5(b, world.person_a, accounts_held=[b.account.pk]))
    b.add(5, **t5(b, world.person_b, employment_type="外包驻场", post="网络管理员"))
    b.add(5, **t5(b, left))
    b.add(5, **t5(b, old))
    b.add(5, **t5(b, world.person_a, dept="营业部", post="柜员"))
    lines = computed.staff_summary(engagement=world.engagement)
    by_dept = {line["dept"]: line for line in lines}
    it = by_dept["信息技术部"]
    assert (it["active_count"], it["contractor_count"], it["left_6m_count"]) == (2, 1, 1)
    assert it["key_staff"] == [world.person_a.pk]
    assert it["post_breakdown"] == "系统管理员×1、网络管理员×1"
    assert by_dept["营业部"]["active_count"] == 1 and by_dept["营业部"]["key_staff"] == []


def test_t6_is_built_as_a_form_with_one_audit_event(b, world):
    b.add(5, **t5(b, world.person_a))
    form = seeding.computed_form_build(
        actor=b.firm_it, engagement=world.engagement, site=b.site, register_no=6, form_date=rows.DAY
    )
    (row,) = form.rows.all()
    assert row.data["active_count"] == 1 and row.data["site_id"] == b.site.pk
    assert Event.objects.filter(action=events.FORM_COMPUTE, object_id=str(form.pk)).count() == 1
    with pytest.raises(DomainError):
        seeding.computed_form_build(
            actor=b.firm_it, engagement=world.engagement, site=b.site, register_no=7, form_date=rows.DAY
        )


# 表7 -----------------------------------------------------------------------------------------------------


def test_t7_progress_follows_the_rows_of_the_other_registers(b, world):
    t7 = b.add(7, **rows.t7(b, st_backup="完成"))  # what is typed into a computed column is ignored
    assert t7.data["st_backup"] == "未开始"
    backup = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    failed = b.add(8, **rows.t8(b, readable="不通过"))
    b.add(11, **rows.t11(b, backup))
    b.add(14, **rows.t14(b))
    b.add(23, **rows.t23(b, result="不通过", issue="行情中断", fix="重启"))
    progress = computed.progress_of(engagement=world.engagement, system_id=b.system.pk)
    assert progress == {
        "st_backup": "异常",
        "st_pwd": "未开始",
        "st_perm": "完成",
        "st_data": "完成",
        "st_test": "异常",
    }
    entry = b.add(39, **rows.t39(b, failed, state="已关闭", closed_on="2026-12-01"))
    services.row_update(actor=b.firm_it, row=failed, data={**failed.data, "exception_refs": [entry.pk]})
    assert computed.progress_of(engagement=world.engagement, system_id=b.system.pk)["st_backup"] == "完成"
    services.row_update(actor=b.firm_it, row=t7, data=t7.data)
    t7.refresh_from_db()
    assert (t7.data["st_backup"], t7.data["st_perm"]) == ("完成", "完成")


# 表24 ----------------------------------------------------------------------------------------------------


def test_t24_counts_expected_filled_signed_issues_exceptions_and_overdue(b, world):
    b.add(7, **rows.t7(b))
    b.add(8, **rows.t8(b))
    failed = b.add(8, **rows.t8(b, readable="不通过", media_no="HD-02"))
    entry = b.add(39, **rows.t39(b, failed))
    services.row_update(actor=b.firm_it, row=failed, data={**failed.data, "exception_refs": [entry.pk]})
    sign(b, b.forms[8])
    b.add(23, **rows.t23(b, open_issue="行情偶有延迟"))
    lines = computed.handover_summary(engagement=world.engagement, sites=[b.site], as_of=dt.date(2026, 12, 2))
    by_register = {line.register_no: line for line in lines if line.site}
    t8 = by_register[8]
    assert (t8.rows_expected, t8.rows_filled, t8.rows_signed, t8.form_state) == (2, 2, 2, "已签字")
    assert (t8.exceptions, t8.exceptions_open, t8.overdue) == (1, 1, 0)
    assert by_register[39].exceptions_open == 1
    t23 = by_register[23]
    assert (t23.rows_filled, t23.open_issues, t23.rows_signed, t23.overdue) == (1, 1, 0, 1)
    assert not t23.reported_daily
    assert by_register[14].rows_expected == 1 and by_register[14].rows_filled == 0
    assert by_register[10].rows_expected == 1  # the system has an account
    assert by_register[22].rows_expected == 1 and by_register[16].rows_expected == 1
    total = lines[-1]
    assert total.site is None and total.rows_filled == sum(line.rows_filled for line in lines[:-1])
    before_d = computed.handover_summary(engagement=world.engagement, sites=[b.site], as_of=rows.DAY)
    assert before_d[-1].overdue == 0


def test_t24_form_is_built_with_the_disposal_date_and_every_line(b, world):
    b.add(7, **rows.t7(b))
    form = seeding.computed_form_build(
        actor=b.tech,
        engagement=world.engagement,
        site=world.hq,
        register_no=24,
        form_date=rows.DAY,
        header={"summary": "按计划完成", "residual_risks": "无"},
        as_of=rows.DAY,
    )
    assert form.header["disposal_date"] == "2026-12-01" and b.site.pk in form.header["scope_sites"]
    registers = {row.data["register_no"] for row in form.rows.all()}
    assert {"表7", "表8", "表14", "表23", "表22"} <= registers


def test_t24_is_signed_by_the_technical_group_alone_as_its_compiler(b, world):
    """第二十七条第4项: 技术组 compiles 表24 (编制); 现场技术岗位 and 被托管技术方 signed the annexed lists."""
    from handover.registers.io.frame import footer_labels

    assert services.footer_roles(24) == (Role.TECH_GROUP,)
    assert footer_labels(24) == [(Role.TECH_GROUP, "技术组编制")]
    b.add(7, **rows.t7(b))  # 表8 … at the branch expected, no form yet: those lines have no form state
    form = seeding.computed_form_build(
        actor=b.tech, engagement=world.engagement, site=world.hq, register_no=24, form_date=rows.DAY,
        header={"summary": "按计划完成", "residual_risks": "无", "handover_start": "2026-12-01T15:00:00+08:00",
                "handover_end": "2026-12-02T09:00:00+08:00"},
    )  # fmt: skip
    assert any(not row.data.get("form_state") for row in form.rows.all())
    services.form_submit(actor=b.tech, form=form)
    with pytest.raises(PermissionDenied):  # the 总部's 现场技术岗位 has no line in 表24's footer
        services.form_sign(actor=world.login_with(Role.ONSITE_POST, site=world.hq), form=form)
    services.form_sign(actor=b.tech, form=form)
    assert Form.objects.get(pk=form.pk).state == "signed"


def test_summaries_take_the_same_queries_for_one_site_or_many(b, world):
    b.add(7, **rows.t7(b))

    def queries():
        with CaptureQueriesContext(connection) as captured:
            computed.handover_summary(engagement=world.engagement)
            completeness.site_completeness(user=b.tech, engagement=world.engagement)
        return len(captured)

    queries()  # the user's roles are read once and kept
    few = queries()
    for n in range(8):
        site = make_site(world.engagement, f"BX{n}", SiteLevel.BRANCH, world.region)
        inventory.system_ensure(
            actor=b.tech, engagement=world.engagement, site=site, name="柜台", category="营业部柜台"
        )
    assert queries() == few


# Completeness --------------------------------------------------------------------------------------------


def test_completeness_lists_per_site_what_is_missing_and_where(b, world):
    hq_system = inventory.system_ensure(
        actor=b.tech, engagement=world.engagement, site=world.hq, name="集中交易"
    )
    b.add(7, **rows.t7(b))
    b.add(8, **rows.t8(b))
    for kind in ("应用软件", "数据库", "参数配置文件", "运行日志"):  # the full backup (第二十六条第1项, C7)
        b.add(8, **rows.t8(b, purpose="交接全备份", object_type=kind))
    b.add(22, **_t22(b))
    report = {
        entry.site.code: entry
        for entry in completeness.site_completeness(user=b.tech, engagement=world.engagement)
    }
    branch_a = report["BA"]
    missing = {(item.register_no, item.subject) for item in branch_a.missing}
    root = "柜台系统：root@gt01"  # 第二十六条第2、3项: the super-user by name, not the system
    assert missing == {
        (14, "柜台系统"),
        (23, "柜台系统"),
        (9, root),
        (10, root),
        (11, root),
        (15, "柜台系统"),
    }
    assert (branch_a.expected, branch_a.present) == (9, 3)
    assert all(item.site == b.site for item in branch_a.missing)
    hq = {(item.register_no, item.subject) for item in report["HQ"].missing}
    assert hq == {(7, hq_system.name), (15, "总部")}
    assert (report["RC"].expected, report["BB"].expected) == (1, 0)  # 区域中心 needs its 表15 check
    assert report["BB"].complete


def test_completeness_shows_only_the_sites_in_the_users_scope(b, world):
    report = completeness.site_completeness(user=b.onsite, engagement=world.engagement)
    assert {entry.site.code for entry in report} == {"BA", "SA"}
    outsider = world.login_with(Role.OBSERVER)
    with pytest.raises(PermissionDenied):
        completeness.site_completeness(user=outsider, engagement=world.engagement)


def _t22(b):
    return {
        "asset_id": b.host.pk,
        "system_id": b.system.pk,
        "site_id": b.site.pk,
        "patched": True,
        "av_product": "杀毒",
        "av_signature_ver": "20261201",
        "disconnected_at": "2026-12-02T20:00",
        "scan_start": "2026-12-02T20:05",
        "scan_end": "2026-12-02T21:00",
        "reconnected_at": "2026-12-02T21:10",
        "infections": 0,
        "outcome": "无感染",
        "run_check": "正常",
    }


def test_the_t22_summary_block_is_computed_from_the_rows_when_submitted(b, world):
    """C9 C, 第二十六条第8项: 表22's 汇总 (设备总数, 已查杀, 感染, 未完成) comes from its rows; a typed one is
    replaced."""
    b.add(22, **_t22(b))
    b.add(22, **{**_t22(b), "infections": 2, "malware_names": "Trojan.X", "outcome": "已隔离"})
    form = b.form(22)
    Form.objects.filter(pk=form.pk).update(header={**form.header, "device_total": 99, "infected_total": 0})
    services.form_submit(actor=b.firm_it, form=Form.objects.get(pk=form.pk))
    header = Form.objects.get(pk=form.pk).header
    assert (header["device_total"], header["scanned_total"], header["infected_total"]) == (1, 2, 1)
    assert header["unfinished_total"] == 0
    assert computed.t22_summary([]) == {
        "device_total": 0, "scanned_total": 0, "infected_total": 0, "unfinished_total": 0
    }  # fmt: skip


# Living ledgers -----------------------------------------------------------------------------------------


def test_a_signed_t14_seeds_t29_once_keeping_each_source_row(b, world):
    first = b.add(14, **rows.t14(b))
    second = b.add(14, **rows.t14(b, data_class="交易所清算文件-沪", data_name="上交所清算文件"))
    with pytest.raises(DomainError):
        seeding.twin_seed(actor=b.firm_it, snapshot=b.forms[14])  # a draft is no snapshot
    snapshot = sign(b, b.forms[14])
    twin = seeding.twin_seed(actor=b.firm_it, snapshot=snapshot, form_date=dt.date(2026, 12, 3))
    seeded = list(twin.rows.order_by("seq"))
    assert twin.register_no == 29 and [seeding.source_row(r) for r in seeded] == [first, second]
    assert [r.data["data_class"] for r in seeded] == ["日终数据", "清算文件"]
    assert seeded[0].data["trade_date"] == "2026-12-01" and seeded[0].data["location"] == "备份机房"
    assert Event.objects.filter(action=events.FORM_SEED, object_id=str(twin.pk)).count() == 1
    with pytest.raises(DomainError, match=twin.form_no):
        seeding.twin_seed(actor=b.firm_it, snapshot=snapshot)


def test_seeding_names_what_the_snapshot_cannot_tell_and_writes_nothing(b, world):
    backup = b.add(8, **rows.t8(b))
    b.add(10, **rows.t10(b, backup))
    snapshot = sign(b, b.forms[10])
    forms = Form.objects.count()
    with pytest.raises(DomainError) as caught:
        seeding.twin_seed(actor=b.firm_it, snapshot=snapshot)
    assert "修改原因" in caught.value.message and "强度符合" in caught.value.message
    assert Form.objects.count() == forms
    twin = seeding.twin_seed(
        actor=b.firm_it, snapshot=snapshot, defaults={"reason": "人员变动", "strength_ok": True}
    )
    (row,) = twin.rows.all()
    assert twin.register_no == 27 and seeding.source_row(row).pk == snapshot.rows.get().pk
    assert (row.data["last_changed_on"], row.data["next_due_on"]) == ("2026-12-01", "2027-03-01")
    assert "pre_backup_ref" not in row.data and row.data["vault_ref"] == "信封 BA-001，保险柜A"


def test_the_hardware_ledger_keeps_its_source_in_its_own_column(b, world):
    b.add(16, **_t16(b))
    snapshot = b.forms[16]
    services.form_submit(actor=b.firm_it, form=snapshot)
    finance = world.login_with(Role.FIRM_FINANCE, site=world.branch_a)
    for user in (b.onsite, finance, b.firm_it):
        services.form_sign(actor=user, form=Form.objects.get(pk=snapshot.pk))
    twin = seeding.twin_seed(
        actor=b.firm_it, snapshot=Form.objects.get(pk=snapshot.pk), defaults={"is_key": False}
    )
    (row,) = twin.rows.all()
    assert row.data["source_ref"] == snapshot.rows.get().pk and row.data["movement"] == "交接日转入"


def _t16(b):
    return {
        "fixed_asset_no": "GZ-0001",
        "name": "柜台服务器",
        "class": "服务器",
        "model": "联想 SR550",
        "serial": "SN0001",
        "qty": 1,
        "systems": [b.system.pk],
        "site_id": b.site.pk,
        "room_rack": "机房 01",
        "condition": "正常",
        "ledger_match": "相符",
    }


def test_completeness_expects_the_recent_leavers_in_t5(b, world):
    from tests.factories import PersonFactory

    leaver = PersonFactory(
        engagement=world.engagement,
        organisation=world.org,
        site=world.branch_a,
        name="近离职",
        employment="left",
        leave_date=dt.date(2026, 11, 1),
    )

    def missing():
        report = completeness.site_completeness(user=b.tech, engagement=world.engagement)
        return {(i.register_no, i.subject) for e in report if e.site == b.site for i in e.missing}

    assert (5, "近离职") in missing()
    b.add(5, **t5(b, leaver))
    assert (5, "近离职") not in missing()
