"""The cross-register rules (registers.md §4): each blocks with a message naming the missing row and where to
create it, writes nothing when it blocks, and lets the row through once the rule is met."""

from __future__ import annotations

import datetime as dt

import pytest

from handover.core import calendar
from handover.core.errors import DomainError
from handover.org.models import Employment, Party
from handover.registers import catalogue, computed, rules, services
from handover.registers.models import Form, InformationSystem, Row
from handover.registers.rules import RuleViolation
from tests.factories import PersonFactory
from tests.registers import rows
from tests.registers.rows import branch


@pytest.fixture
def b(world):
    return branch(world)


def refused(b, number, data):
    before = Row.objects.count()
    with pytest.raises(RuleViolation) as caught:
        b.add(number, **data)
    assert Row.objects.count() == before
    return caught.value


# Backup gates -------------------------------------------------------------------------------------------


def test_password_change_needs_its_backup_before_changing(b):
    wrong = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    violation = refused(b, 10, rows.t10(b, wrong))
    assert "表8" in violation.message and "改密前备份" in violation.message
    assert (
        "甲营业部" in violation.message
        and "柜台系统" in violation.message
        and "第二十六条第2项" in violation.message
    )
    assert (violation.register_no, violation.site_id, violation.system_id) == (8, b.site.pk, b.system.pk)
    assert violation.field == "pre_backup_ref"
    backup = b.add(8, **rows.t8(b, purpose="改密前备份"))
    assert b.add(10, **rows.t10(b, backup)).data["pre_backup_ref"] == backup.pk


def test_a_full_handover_backup_opens_the_gate_only_with_permissions_and_parameters(b):
    permissions = b.add(8, **rows.t8(b, purpose="交接全备份", object_type="用户权限配置文件"))
    refused(b, 10, rows.t10(b, permissions))
    b.add(8, **rows.t8(b, purpose="交接全备份", object_type="参数配置文件", media_no="HD-02"))
    b.add(10, **rows.t10(b, permissions))


def test_an_unreadable_or_late_backup_or_another_systems_does_not_count(b, world):
    unreadable = b.add(8, **rows.t8(b, readable="不通过"))
    refused(b, 10, rows.t10(b, unreadable))
    late = b.add(8, **rows.t8(b, ended_at="2026-12-01T17:30"))
    assert "17:30" in refused(b, 10, rows.t10(b, late)).message
    other = services.row_add(
        actor=b.firm_it,
        form=b.form(8),
        data=rows.t8(b, system_id=world.person_a.pk + 1000),
    )
    refused(b, 10, rows.t10(b, other))


def test_permission_check_and_change_need_a_permission_backup(b):
    password_backup = b.add(8, **rows.t8(b, purpose="改密前备份"))
    violation = refused(b, 11, rows.t11(b, password_backup))
    assert "权限核查前备份" in violation.message and "第二十六条第3项" in violation.message
    backup = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    state = b.add(11, **rows.t11(b, backup))
    refused(b, 13, rows.t13(b, state, password_backup))
    assert b.add(13, **rows.t13(b, state, backup)).data["basis_ref"] == state.pk


def test_data_maintenance_needs_a_daily_backup_of_the_same_system(b):
    not_daily = b.add(8, **rows.t8(b))
    violation = refused(b, 37, rows.t37(b, not_daily))
    assert "表29" in violation.message and violation.register_no == 29
    daily = b.add(29, **rows.t29(b))
    b.add(37, **rows.t37(b, daily))


def test_an_update_is_checked_like_an_add(b):
    backup = b.add(8, **rows.t8(b))
    row = b.add(10, **rows.t10(b, backup))
    wrong = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    with pytest.raises(RuleViolation):
        services.row_update(actor=b.firm_it, row=row, data={**row.data, "pre_backup_ref": wrong.pk})
    row.refresh_from_db()
    assert row.data["pre_backup_ref"] == backup.pk


# Exception closure (第二十八条) ---------------------------------------------------------------------------


def test_a_failed_backup_is_submitted_only_once_linked_to_a_reported_t39_entry(b):
    b.add(8, **rows.t8(b))
    failed = b.add(8, **rows.t8(b, readable="不通过", media_no="HD-09"))
    form = b.forms[8]
    with pytest.raises(RuleViolation) as caught:
        services.form_submit(actor=b.firm_it, form=form)
    assert (
        "2" in caught.value.message and "表39" in caught.value.message and "甲营业部" in caught.value.message
    )
    assert caught.value.register_no == 39
    assert refused_update(b, failed, [failed.pk + 999])
    entry = b.add(39, **rows.t39(b, failed))
    services.row_update(actor=b.firm_it, row=failed, data={**failed.data, "exception_refs": [entry.pk]})
    assert services.form_submit(actor=b.firm_it, form=form).state == "submitted"


def test_a_draft_t39_entry_may_be_linked_but_the_form_waits_until_it_is_reported(b):
    failed = b.add(8, **rows.t8(b, readable="不通过", media_no="HD-09"))
    draft = services.row_add(
        actor=b.firm_it, form=b.form(39), data=rows.t39(b, failed, reported_tg_at=None), partial=True
    )
    services.row_update(actor=b.firm_it, row=failed, data={**failed.data, "exception_refs": [draft.pk]})
    with pytest.raises(RuleViolation, match="上报技术组") as caught:
        services.form_submit(actor=b.firm_it, form=b.forms[8])
    assert caught.value.register_no == 39
    services.row_update(actor=b.firm_it, row=draft, data={**draft.data, "reported_tg_at": "2026-12-01T16:00"})
    assert services.form_submit(actor=b.firm_it, form=b.forms[8]).state == "submitted"


def refused_update(b, row, refs):
    with pytest.raises(RuleViolation) as caught:
        services.row_update(actor=b.firm_it, row=row, data={**row.data, "exception_refs": refs})
    return "表39" in caught.value.message


def test_a_rolled_back_password_change_must_link_an_exception(b):
    backup = b.add(8, **rows.t8(b))
    b.add(10, **rows.t10(b, backup, test_result="异常-处理中"))
    with pytest.raises(RuleViolation, match="业务测试"):
        services.form_submit(actor=b.firm_it, form=b.forms[10])


# Half-year rule of 表5 (第二十五条第3项) ----------------------------------------------------------------------


def t5(b, person, **extra):
    left = person.employment == Employment.LEFT
    return {
        "person_id": person.pk,
        "site_id": b.site.pk,
        "dept": "信息技术部",
        "post": "系统管理员",
        "systems": [b.system.pk],
        "employment_type": "正式",
        "employment": "离职" if left else "在职",
        "leave_date": person.leave_date.isoformat() if left else None,
        "post_leave_contact": "人事部转达" if left else None,
        "phone": "0571-1234",
        **extra,
    }


def test_staff_who_left_in_the_half_year_before_d_must_be_listed(b, world):
    def leaver(name, day):
        return PersonFactory(
            engagement=world.engagement,
            organisation=world.org,
            site=world.branch_a,
            name=name,
            party=Party.FIRM_IT,
            employment=Employment.LEFT,
            leave_date=day,
        )

    recent = leaver("近离职", dt.date(2026, 6, 1))  # D − 6 months exactly: inside
    leaver("早离职", dt.date(2026, 5, 31))  # a day earlier: not required
    b.add(5, **t5(b, world.person_a))
    with pytest.raises(RuleViolation) as caught:
        services.form_submit(actor=b.firm_it, form=b.forms[5])
    assert "近离职" in caught.value.message and "早离职" not in caught.value.message
    assert "2026-06-01" in caught.value.message and caught.value.register_no == 5
    assert [p.name for p in rules.half_year_missing(form=b.forms[5])] == ["近离职"]
    b.add(5, **t5(b, recent))
    services.form_submit(actor=b.firm_it, form=b.forms[5])


# Trading hours (第三十一条第3、9项) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-12-02T09:15", None, True),  # the opening call auction
        ("2026-12-02T09:14", None, False),
        ("2026-12-02T11:30", None, True),
        ("2026-12-02T12:00", "2026-12-02T12:59", False),  # the midday break
        ("2026-12-02T12:00", "2026-12-02T13:00", True),
        ("2026-12-02T15:01", "2026-12-02T18:00", False),
        ("2026-12-05T10:00", None, False),  # a Saturday
        ("2026-10-01T10:00", None, False),  # 国庆节
        ("2026-12-02T02:00+00:00", None, True),  # 10:00 in Beijing
        ("2026-12-04T16:00", "2026-12-07T09:20", True),  # over a weekend into Monday's session
    ],
)
def test_trading_hours_follow_the_exchange_calendar_and_sessions(start, end, expected):
    assert calendar.in_trading_hours(start, end) is expected


def test_a_parameter_change_names_the_daily_backup_of_its_system_taken_before_it(b, world):
    """C23, 第三十一条第7项 「及时作好参数备份」: 表30 参数/配置变更 and 升级/上线 point at their 表29 backup."""
    from handover.registers.models import InformationSystem
    from handover.registers.services import RowInvalid

    with pytest.raises(RowInvalid):  # the column is required for the kind
        b.add(30, **rows.t30(b, pre_backup_ref=None))
    other = InformationSystem.objects.create(engagement=world.engagement, site=b.site, name="行情系统")
    elsewhere = b.add(29, **rows.t29(b, system_id=other.pk, backed_up_at="2026-12-02T15:40"))
    violation = refused(b, 30, rows.t30(b, pre_backup_ref=elsewhere.pk))
    assert violation.field == "pre_backup_ref" and "表29" in violation.message
    late = b.add(29, **rows.t29(b, backed_up_at="2026-12-02T16:10"))  # after the change began at 16:00
    violation = refused(b, 30, rows.t30(b, pre_backup_ref=late.pk))
    assert violation.field == "pre_backup_ref" and "16:10" in violation.message
    assert b.add(30, **rows.t30(b)).data["pre_backup_ref"]  # a backup of the system at 15:40 passes


def test_a_go_live_is_approved_by_the_technical_group_before_it_starts(b):
    """C22, 第三十一条第5项 「评估上线风险…审批获准后才能上线运行」."""
    go_live = {"kind": "升级/上线", "golive_test": "测试报告.pdf", "fallback": "回退方案.pdf",
               "risk_assessment": "上线风险评估.pdf", "approved_at": "2026-12-02T15:50"}  # fmt: skip
    violation = refused(b, 30, rows.t30(b, **go_live))
    assert violation.field == "tg_approval"
    go_live["tg_approval"] = "技术组审批.pdf"
    violation = refused(b, 30, rows.t30(b, **{**go_live, "approved_at": "2026-12-02T16:05"}))
    assert violation.field == "approved_at" and "16:05" in violation.message
    assert b.add(30, **rows.t30(b, **go_live)).data["kind"] == "升级/上线"


def test_work_during_trading_hours_must_say_so(b):
    violation = refused(b, 30, rows.t30(b, start="2026-12-02T10:00", end="2026-12-02T10:20"))
    assert violation.field == "in_trading_hours" and "9:15" in violation.message


def test_only_approved_fault_handling_during_trading_hours(b):
    during = {"start": "2026-12-02T10:00", "end": "2026-12-02T10:20", "in_trading_hours": True}
    violation = refused(b, 30, rows.t30(b, **during, tg_approval="审批.pdf"))
    assert violation.field == "kind" and "第三十一条第3项" in violation.message
    fault = b.add(39, **rows.t39(b))
    b.add(30, **rows.t30(b, **during, kind="故障处理", tg_approval="审批.pdf", exception_refs=[fault.pk]))
    b.add(30, **rows.t30(b))  # the same change after the close passes
    violation = refused(b, 30, rows.t30(b, **during, kind="故障处理", exception_refs=[fault.pk]))
    assert violation.field == "tg_approval"  # fault handling then needs 技术组's approval


@pytest.mark.parametrize("kind", ["监控告警", "日常巡检", "开市前检查"])
def test_the_duty_desk_records_monitoring_and_inspections_while_the_market_is_open(b, world, kind):
    """C19, 第三十一条第8项 「作好实时监控」: 第三十一条第3项 bans DB work and parameter changes, not watching."""
    from rest_framework.test import APIClient

    during = {"start": "2026-12-02T10:00", "end": "2026-12-02T10:20", "in_trading_hours": True}
    assert b.add(30, **rows.t30(b, **during, kind=kind)).data["kind"] == kind
    api = APIClient()
    api.force_authenticate(b.firm_it)
    response = api.post(
        f"/api/engagements/{world.engagement.code}/register-rows/",
        {"form": b.form(30).pk, "data": rows.t30(b, **during, kind=kind)},
        format="json",
    )
    assert response.status_code == 201, response.content
    changed = api.post(
        f"/api/engagements/{world.engagement.code}/register-rows/",
        {"form": b.form(30).pk, "data": rows.t30(b, **during)},
        format="json",
    )
    assert changed.status_code == 400 and "第三十一条第3项" in changed.content.decode()


def test_no_bulk_queries_while_the_market_is_open_and_maintenance_only_for_a_fault(b):
    daily = b.add(29, **rows.t29(b))
    fault = b.add(39, **rows.t39(b))
    during = {"done_at": "2026-12-02T10:30", "in_trading_hours": True, "tg_approval": "审批.pdf"}
    violation = refused(b, 37, rows.t37(b, daily, kind="批量查询统计", **during, fault_ref=fault.pk))
    assert "第三十一条第9项" in violation.message
    violation = refused(b, 37, rows.t37(b, daily, **during, fault_ref=daily.pk))
    assert violation.register_no == 39 and violation.field == "fault_ref"
    b.add(37, **rows.t37(b, daily, **during, fault_ref=fault.pk))
    b.add(37, **rows.t37(b, daily, kind="批量查询统计", done_at="2026-12-02T16:00"))


def test_the_computed_registers_are_not_entered_by_hand(b):
    for number in (6, 24):
        violation = refused(b, number, {})
        assert f"表{number}" in violation.message


def test_a_rollback_is_recorded_first_and_its_t39_entry_after_it(b):
    """The 表39 entry names the row it came from, so the row must be writable before its link exists."""
    backup = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    state = b.add(11, **rows.t11(b, backup))
    rollback = b.add(13, **rows.t13(b, state, backup, run_check="异常-已回退"))
    with pytest.raises(RuleViolation, match="运行验证"):
        services.form_submit(actor=b.firm_it, form=b.forms[13])
    entry = b.add(39, **rows.t39(b, rollback, exc_type="E04 权限修改异常", vendor_org_id=None))
    services.row_update(actor=b.firm_it, row=rollback, data={**rollback.data, "exception_refs": [entry.pk]})
    services.form_submit(actor=b.firm_it, form=b.forms[13])


def test_a_reference_must_point_at_a_row_of_the_named_register(b):
    backup = b.add(8, **rows.t8(b))
    violation = refused(b, 10, rows.t10(b, backup, account_class="超级用户", prior_ref=backup.pk))
    assert violation.field == "prior_ref" and "表9" in violation.message and violation.register_no == 9
    violation = refused(b, 8, rows.t8(b, readable="不通过", exception_refs=[backup.pk + 500]))
    assert violation.field == "exception_refs" and "表39" in violation.message


def test_a_message_never_names_another_engagements_system(b):
    from tests.factories import EngagementFactory, make_site

    other = EngagementFactory()
    site = make_site(other, "X", "hq")
    secret = InformationSystem.objects.create(engagement=other, site=site, name="别家机密系统")
    backup = b.add(8, **rows.t8(b))
    violation = refused(b, 10, rows.t10(b, backup, system_id=secret.pk))
    assert "别家机密系统" not in violation.message and str(secret.pk) in violation.message


def test_a_form_opened_with_its_header_unfinished_is_not_submitted_until_it_is_complete(b):
    # 表41's header says whether the day is a trading day (第十条); a form opened without it can be filled
    # but not submitted, and the refusal names the field.
    form = b.form(41)
    services.row_add(actor=b.firm_it, form=form, data={"item": "系统运行"}, partial=True)
    with pytest.raises(DomainError) as caught:
        services.form_submit(actor=b.firm_it, form=form)
    assert caught.value.field == "header" and "交易日" in str(caught.value.message)
    assert Form.objects.get(pk=form.pk).state == "draft"


# Failures that need their 表39 entry (第二十六条第2、4、8、10项, 第三十一条第1项) ---------------------------------


FAILURES = {
    "10-used_in_config": (10, {"used_in_config": "未修改"}, "配置文件中使用"),  # C2
    "14-offsite": (14, {"offsite": False, "offsite_location": None}, "异地备份"),  # C8
    "23-result": (23, {"result": "不通过", "issue": "委托超时", "fix": "重启网关"}, "检测结果"),  # C12
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failure_the_article_names_is_submitted_only_with_its_t39_entry(b, world, case):
    from rest_framework.test import APIClient

    number, values, label = FAILURES[case]
    backup = b.add(8, **rows.t8(b))
    data = {10: lambda: rows.t10(b, backup), 14: lambda: rows.t14(b), 23: lambda: rows.t23(b)}[number]()
    row = b.add(number, **{**data, **values})
    with pytest.raises(RuleViolation, match=label) as refused:
        services.form_submit(actor=b.firm_it, form=b.forms[number])
    assert "第二十八条" in refused.value.message
    api = APIClient()
    api.force_authenticate(b.firm_it)
    response = api.post(
        f"/api/engagements/{world.engagement.code}/register-forms/{b.forms[number].pk}/submit/"
    )
    assert response.status_code == 400 and label in response.content.decode()
    entry = b.add(39, **rows.t39(b, row))
    services.row_update(actor=b.firm_it, row=row, data={**row.data, "exception_refs": [entry.pk]})
    services.form_submit(actor=b.firm_it, form=b.forms[number])


def test_an_unchecked_backup_does_not_open_the_password_gate(b):
    """C7: 未校验 is not 「可读」; the change waits for a backup whose readability was checked."""
    unchecked = b.add(8, **rows.t8(b, readable="未校验"))
    with pytest.raises(RuleViolation, match="改密前备份"):
        b.add(10, **rows.t10(b, unchecked))
    b.add(10, **rows.t10(b, b.add(8, **rows.t8(b))))


def test_a_corrective_action_verified_ineffective_cannot_be_closed(b, world):
    """C11: 表40 「无效 reopens」 (第三十条: 消除系统隐患)."""
    data = {
        "capa_no": "CAPA-001",
        "source": "安全评估",
        "problem": "弱口令",
        "root_cause": "未执行口令策略",
        "capa_type": "纠正",
        "action": "启用口令策略",
        "owner": world.person_a.pk,
        "due_on": "2026-12-03",
        "implementation": "已启用",
        "done_on": "2026-12-02",
        "verify_method": "复测",
        "verify_result": "无效",
        "closed": True,
    }
    with pytest.raises(RuleViolation, match="无效") as refused:
        b.add(40, **data)
    assert refused.value.field == "closed"
    b.add(40, **data | {"closed": False})
    b.add(40, **data | {"verify_result": "有效"})


def test_a_shared_account_kept_without_a_reason_is_refused_typed_and_imported(b, world):
    """C5, 第二十六条第3项 C 「用户设置采用专人专户」."""
    from handover.core.actors import system
    from handover.registers.io import importing
    from handover.registers.io.template import template_bytes
    from tests.registers.io_support import Scenery, fill_template, valid_row

    backup = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    shared = rows.t11(b, backup, user_status="共用", dedicated=False)
    with pytest.raises(RuleViolation, match="保留理由") as refused:
        b.add(11, **shared)
    assert refused.value.field == "keep_reason"
    b.add(11, **shared, keep_reason="柜台夜间批处理共用，已限定来源地址，待替代用户上线")
    scenery = Scenery(world)
    keys = [c.key for c in catalogue.columns(11)]
    row = valid_row(11, scenery)
    row[1 + keys.index("dedicated")] = "否"
    row[1 + keys.index("action")] = "保留"
    row[1 + keys.index("keep_reason")] = None
    content = fill_template(template_bytes(11), [row], {"日期": "2026-12-01"})
    with pytest.raises(importing.ImportRefused) as caught:
        importing.register_import(
            actor=system("test"),
            engagement=world.engagement,
            site=world.branch_a,
            register_no=11,
            filename="t11.xlsx",
            content=content,
        )
    assert [issue.column for issue in caught.value.issues] == ["保留理由"]


def test_disabled_accounts_and_batch_super_users_stay_open_items_of_t24(b, world):
    """C6, 第二十六条第3项 A (停用 → 删除 once confirmed) and D (replace super-users used for batch work)."""
    backup = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    batch = b.add(11, **rows.t11(b, backup, used_for_batch=True))
    change = b.add(13, **rows.t13(b, batch, backup, change_type="A停用"))
    b.add(11, **rows.t11(b, backup, action="停用", disable_until="2026-12-02", change_refs=[change.pk]))

    def open_issues(day):
        lines = computed.handover_summary(engagement=world.engagement, as_of=day)
        return next(line for line in lines if line.register_no == 11 and line.site == b.site).open_issues

    assert open_issues(dt.date(2026, 12, 1)) == 2
    assert open_issues(dt.date(2026, 12, 10)) == 2  # the watch is over: still open, to delete or restore


def test_every_handed_over_document_records_its_seal(b, world):
    """C28, 第二十二条 「对备份数据、技术文档进行封存」: 表18 封存编号 is required, typed or sent to the API."""
    from rest_framework.test import APIClient

    doc = {
        "category": "系统技术文档",
        "title": "柜台系统技术手册",
        "doc_no": "BA-ZL-001",
        "location": "档案室",
        "medium": "纸质",
        "copies": 1,
        "complete": True,
    }
    with pytest.raises(services.RowInvalid) as refused:
        b.add(18, **doc)
    assert set(refused.value.errors) == {"seal_no"}
    api = APIClient()
    api.force_authenticate(b.firm_it)
    url = f"/api/engagements/{world.engagement.code}/register-rows/"
    response = api.post(url, {"form": b.form(18).pk, "data": doc}, format="json")
    assert response.status_code == 400 and "seal_no" in response.json()["data"]
    assert b.add(18, **doc, seal_no="BA-FC-001").data["seal_no"] == "BA-FC-001"
