"""The registers' rules as workflow gates (registers/register_gates.py, workflow/gates.py): each blocks its step
with a reason naming the register, the system or machine and the site, and the same case mended unblocks
it; every rule reads the engagement in a fixed number of queries; the pages show the reasons."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.urls import reverse

from handover.core import clock
from handover.core.errors import DomainError
from handover.demo.workflow import sample_row
from handover.org.models import Employment, Party, Phase, Site, SiteLevel
from handover.registers import inventory
from handover.registers import services as registers
from handover.registers.models import Form, Row, SignatureKind
from handover.workflow import gates, register_gates, services, state, steps
from handover.workflow.models import CaseState, ExceptionCase, StepInstance
from tests.factories import PersonFactory, make_site
from tests.registers import rows
from tests.registers.rows import DAY, Branch, branch
from tests.registers.test_computed import sign
from tests.registers.test_rules import t5
from tests.workflow.conftest import at, signed_form, start_handover


@pytest.fixture
def b(world):
    return branch(world)


def every_pair(world) -> list[tuple[int | None, str]]:
    """Every (site, step) the engagement could have, engagement-level steps once."""
    sites = Site.objects.filter(engagement=world.engagement)
    per_site = [(site.pk, step.id) for site in sites for step in steps.STEPS if step.per_site]
    return per_site + [(None, step.id) for step in steps.STEPS if not step.per_site]


def reasons(rule, world, site: Site | None, step_id: str) -> list[str]:
    found = rule(world.engagement, every_pair(world))
    return found.get((site.pk if site else None, step_id), [])


def add_at(b: Branch, site: Site, number: int, data: dict) -> Row:
    """A row of 表``number`` at ``site``, filled by 技术组 (who may fill at every site)."""
    form = Form.objects.filter(engagement=b.world.engagement, site=site, register_no=number).first()
    form = form or registers.form_create(
        actor=b.tech,
        engagement=b.world.engagement,
        site=site,
        register_no=number,
        form_date=DAY,
        partial_header=True,
    )
    return registers.row_add(actor=b.tech, form=form, data=data)


def t15(system_id: int, site_id: int, **extra) -> dict:
    return sample_row(15, DAY, system_id=system_id, site_id=site_id, **extra)


def t22(b: Branch) -> dict:
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


def sign_pair(b: Branch, row: Row) -> None:
    """第八条: 被托管技术方 executes, 现场技术岗位 supervises."""
    registers.row_sign(actor=b.firm_it, row=row, kind=SignatureKind.EXECUTOR)
    registers.row_sign(actor=b.onsite, row=row, kind=SignatureKind.SUPERVISOR)


# Coverage (第二十五条第3、5项, 第二十六条第1–5、8、10项) --------------------------------------------------------


def test_the_coverage_registers_are_the_outputs_of_their_steps():
    for number, (step_id, article) in register_gates.COVERAGE.items():
        assert number in steps.BY_ID[step_id].outputs and article in steps.BY_ID[step_id].articles


def test_a_system_blocks_each_step_whose_register_misses_it_until_the_row_is_there(b, world):
    gaps = register_gates.coverage_gaps
    a = world.branch_a
    (m05,) = reasons(gaps, world, a, "M-05")
    assert "柜台系统" in m05 and "甲营业部" in m05 and "表7" in m05 and "第二十五条第5项" in m05
    assert reasons(gaps, world, a, "T-01") == []  # nothing in 表7 yet, so nothing to back up
    b.add(7, **rows.t7(b))
    assert reasons(gaps, world, a, "M-05") == []
    expected = {"T-01": 8, "T-03": 11, "T-04": 14, "T-10": 23}
    for step_id, number in expected.items():
        (reason,) = reasons(gaps, world, a, step_id)
        assert f"表{number} " in reason and "柜台系统" in reason and "甲营业部" in reason, reason
        assert register_gates.COVERAGE[number][1] in reason
    # 第二十二条, 第二十六条第2项: the super-user root needs its 表9 receipt and its 表10 change, by name.
    t02 = reasons(gaps, world, a, "T-02")
    assert len(t02) == 2 and all("root@gt01" in r for r in t02)
    assert any("表9 " in r for r in t02) and any("表10 " in r for r in t02)
    backup = b.add(8, **rows.t8(b))
    permissions = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    # C7, 第二十六条第1项: backups of other purposes, or a full backup of one class, do not make the system backup.
    b.add(8, **rows.t8(b, purpose="交接全备份", object_type="数据库", content="全库"))
    (t01,) = reasons(gaps, world, a, "T-01")
    assert "应用软件、参数配置文件、运行日志" in t01 and "交接全备份" in t01, t01
    for object_type in ("应用软件", "参数配置文件", "运行日志"):
        b.add(8, **rows.t8(b, purpose="交接全备份", object_type=object_type, content=object_type))
    b.add(9, **rows.t9(b))
    b.add(10, **rows.t10(b, backup))
    b.add(11, **rows.t11(b, permissions))
    b.add(14, **rows.t14(b))
    # C8, 第二十六条第4项: a counter system's current data is not enough; the exchanges' files of D too.
    (t04,) = reasons(gaps, world, a, "T-04")
    assert "交易所清算文件-沪、交易所清算文件-深、证券余额对账文件" in t04, t04
    for data_class in ("交易所清算文件-沪", "交易所清算文件-深", "证券余额对账文件"):
        b.add(14, **rows.t14(b, data_class=data_class, data_name=data_class))
    b.add(23, **rows.t23(b))
    for step_id in [*expected, "T-02"]:
        assert reasons(gaps, world, a, step_id) == [], step_id


def test_t02_and_t03_ask_for_rows_only_of_systems_with_accounts(b, world):
    args = {"actor": b.tech, "engagement": world.engagement, "site": world.branch_a}
    quote = inventory.system_ensure(**args, name="行情系统", category="行情")
    b.add(7, **rows.t7(b, system_id=quote.pk))
    t01 = reasons(register_gates.coverage_gaps, world, world.branch_a, "T-01")
    assert any("行情系统" in r for r in t01)
    assert not any(
        "行情系统" in r for r in reasons(register_gates.coverage_gaps, world, world.branch_a, "T-02")
    )


def test_t05_needs_every_counter_system_and_hq_and_each_regional_centre_in_t15(b, world):
    gaps = register_gates.coverage_gaps
    (counter,) = reasons(gaps, world, world.branch_a, "T-05")
    assert "柜台系统" in counter and "表15" in counter and "第二十六条第5项" in counter
    (hq,) = reasons(gaps, world, world.hq, "T-05")
    (region,) = reasons(gaps, world, world.region, "T-05")
    assert "总部" in hq and "区域中心" in region and "表15" in region
    assert reasons(gaps, world, world.branch_b, "T-05") == []  # no counter system there
    b.add(15, **t15(b.system.pk, world.branch_a.pk))
    add_at(b, world.hq, 15, t15(b.system.pk, world.hq.pk))
    assert reasons(gaps, world, world.branch_a, "T-05") == reasons(gaps, world, world.hq, "T-05") == []
    assert reasons(gaps, world, world.region, "T-05")  # 区域中心 still unchecked
    add_at(b, world.region, 15, t15(b.system.pk, world.region.pk))
    assert reasons(gaps, world, world.region, "T-05") == []


def test_t08_waits_for_every_machine_in_t22(b, world):
    (reason,) = reasons(register_gates.coverage_gaps, world, world.branch_a, "T-08")
    assert "gt01" in reason and "表22" in reason and "甲营业部" in reason and "第二十六条第8项" in reason
    b.add(22, **t22(b))
    assert reasons(register_gates.coverage_gaps, world, world.branch_a, "T-08") == []


def test_m03_waits_for_the_staff_who_left_in_the_half_year_before_d(b, world):
    leaver = PersonFactory(
        engagement=world.engagement,
        organisation=world.org,
        site=world.branch_a,
        name="离职甲",
        party=Party.FIRM_IT,
        employment=Employment.LEFT,
        leave_date=dt.date(2026, 9, 1),
    )
    (reason,) = reasons(register_gates.coverage_gaps, world, world.branch_a, "M-03")
    assert "离职甲" in reason and "表5" in reason and "甲营业部" in reason and "第二十五条第3项" in reason
    b.add(5, **t5(b, leaver))
    assert reasons(register_gates.coverage_gaps, world, world.branch_a, "M-03") == []


# Backup first (第二十六条第2、3项, 第二十七条第5项) --------------------------------------------------------------


def test_t02_is_blocked_until_the_sites_change_backup_is_signed(b, world):
    backup = b.add(8, **rows.t8(b))
    b.add(10, **rows.t10(b, backup))
    (reason,) = reasons(register_gates.backups_first, world, world.branch_a, "T-02")
    assert "柜台系统" in reason and "甲营业部" in reason and "改密前备份" in reason and "表10" in reason
    assert "第二十六条第2项" in reason and "第二十七条第5项" in reason
    sign_pair(b, backup)
    assert reasons(register_gates.backups_first, world, world.branch_a, "T-02") == []


def test_t02_accepts_signed_full_backups_of_both_files(b, world):
    halves = [
        b.add(8, **rows.t8(b, purpose="交接全备份", object_type=kind))
        for kind in ("用户权限配置文件", "参数配置文件")
    ]
    b.add(10, **rows.t10(b, halves[0]))
    sign_pair(b, halves[0])
    assert reasons(register_gates.backups_first, world, world.branch_a, "T-02")  # one of the two files only
    sign_pair(b, halves[1])
    assert reasons(register_gates.backups_first, world, world.branch_a, "T-02") == []


def test_t03_is_blocked_until_a_permission_backup_is_signed_a_change_backup_is_not_enough(b, world):
    change = b.add(8, **rows.t8(b))
    permissions = b.add(8, **rows.t8(b, purpose="权限核查前备份"))
    b.add(11, **rows.t11(b, permissions))
    sign_pair(b, change)
    (reason,) = reasons(register_gates.backups_first, world, world.branch_a, "T-03")
    assert (
        "权限核查前备份" in reason
        and "表11" in reason
        and "柜台系统" in reason
        and "第二十六条第3项" in reason
    )
    sign_pair(b, permissions)
    assert reasons(register_gates.backups_first, world, world.branch_a, "T-03") == []


def smuggled_backup(b: Branch, site: Site) -> Row:
    """A 表8 row of 甲营业部's system filed at another site. The registers refuse to write one (a system of a
    sister site, plausibility.py); this one reached the database some other way, e.g. before that rule."""
    form = Form.objects.create(
        engagement=b.world.engagement, site=site, register_no=8, form_no=f"{site.code}-T08-X", form_date=DAY
    )
    return Row.objects.create(
        form=form, seq=1, data=registers.row_check(form=form, data=rows.t8(b), with_rules=False)[0]
    )


def test_a_signed_backup_at_another_site_does_not_count(b, world):
    backup = b.add(8, **rows.t8(b))
    b.add(10, **rows.t10(b, backup))
    with pytest.raises(DomainError, match="乙营业部"):
        add_at(b, world.branch_b, 8, rows.t8(b))  # 甲's system in 乙's form: refused on entry
    elsewhere = smuggled_backup(b, world.branch_b)
    registers.row_sign(actor=b.tech, row=elsewhere, kind=SignatureKind.SUPERVISOR)
    assert reasons(register_gates.backups_first, world, world.branch_a, "T-02")


# Exception closure (第二十八条) ------------------------------------------------------------------------------


def test_a_failed_row_blocks_its_step_until_it_links_a_t39_entry_reported_to_the_tech_group(b, world):
    failed = b.add(14, **rows.t14(b, integrity="不通过"))
    (reason,) = reasons(register_gates.exceptions_closed, world, world.branch_a, "T-04")
    assert "表14" in reason and "甲营业部" in reason and failed.form.form_no in reason and "完整性" in reason
    assert "第二十八条" in reason
    draft = {k: v for k, v in rows.t39(b, failed).items() if k != "reported_tg_at"}
    # A machine's draft entry (the fixity import), not yet reported: 上报技术组 is left for a person.
    entry = registers.row_add(actor=b.firm_it, form=b.form(39), data=draft, partial=True)
    registers.row_update(actor=b.firm_it, row=failed, data={**failed.data, "exception_refs": [entry.pk]})
    assert reasons(register_gates.exceptions_closed, world, world.branch_a, "T-04")  # not reported yet
    registers.row_update(
        actor=b.firm_it, row=entry, data={**entry.data, "reported_tg_at": "2026-12-01T16:00"}
    )
    assert reasons(register_gates.exceptions_closed, world, world.branch_a, "T-04") == []


def test_n04_waits_for_every_open_exception_case(world, people):
    start_handover(world, people)
    source = add_source_row(world)
    case = services.case_open(
        actor=people["onsite"],
        engagement=world.engagement,
        path_id="E05",
        source_row=source,
        description="备份失败",
        now=at(1, 21),
    )
    (reason,) = reasons(gates.open_cases, world, None, "N-04")
    assert f"E05 #{case.pk} 甲营业部" in reason and "第二十八条" in reason
    ExceptionCase.objects.filter(pk=case.pk).update(
        state=CaseState.CLOSED, closed_at=at(2, 1), t39_row=source
    )
    assert reasons(gates.open_cases, world, None, "N-04") == []


def add_source_row(world) -> Row:
    from tests.workflow.conftest import source_row

    return source_row(world.engagement, world.branch_a, 14, integrity="不通过")


# The rules as the workflow applies them --------------------------------------------------------------------


def test_the_rules_are_listed_and_a_gated_step_is_blocked_even_with_its_registers_signed(b, world, people):
    assert (*register_gates.RULES, gates.open_cases) == gates.RULES  # a static tuple, in this order
    start_handover(world, people)
    a = world.branch_a
    h00 = StepInstance.objects.get(site=a, step_id="H-00")
    services.step_evidence_add(
        actor=people["onsite"], step=h00, name="签到.pdf", stream=io.BytesIO(b"%PDF-1.7 x")
    )
    services.step_confirm(actor=people["onsite"], step=h00, now=at(1, 15, 40))
    b.add(7, **rows.t7(b))
    sign(b, b.form(7))
    signed_form(world.engagement, a, 8, at(1, 19))  # T-01 done at 甲营业部, its backup filed elsewhere:
    elsewhere = smuggled_backup(b, world.branch_b)
    for seq, kind in enumerate(
        ("应用软件", "数据库", "参数配置文件", "运行日志"), 2
    ):  # T-01's full backup (第二十六条第1项)
        full = rows.t8(b, purpose="交接全备份", object_type=kind)
        data = registers.row_check(form=elsewhere.form, data=full, with_rules=False)[0]
        Row.objects.create(form=elsewhere.form, seq=seq, data=data)
    b.add(9, **rows.t9(b))
    sign(b, b.form(9))
    b.add(10, **rows.t10(b, elsewhere))
    sign(b, b.form(10))

    def t02():
        return state.compute(engagement=world.engagement, now=at(1, 22))[(a.pk, "T-02")]

    view = t02()
    assert view.waiting_for == () and view.state == state.BLOCKED and view.done_at is None
    assert any("改密前备份" in r and "甲营业部" in r for r in view.gate_reasons), view.gate_reasons
    here = registers.form_create(
        actor=b.firm_it,
        engagement=world.engagement,
        site=a,
        register_no=8,
        form_date=DAY,
        partial_header=True,
    )
    backup = registers.row_add(actor=b.firm_it, form=here, data=rows.t8(b))
    sign_pair(b, backup)
    sign(b, here)
    view = t02()
    assert view.gate_reasons == () and view.finished  # signatures carry the real time, so maybe late


QUERIES = {
    register_gates.coverage_gaps: 7,
    register_gates.backups_first: 2,
    register_gates.exceptions_closed: 2,
}


@pytest.mark.parametrize("rule", [*QUERIES, gates.open_cases], ids=lambda rule: rule.__name__)
def test_each_rule_reads_the_engagement_in_a_fixed_number_of_queries(
    b, world, people, rule, django_assert_num_queries
):
    def fill(site: Site, n: int) -> None:
        args = {"actor": b.tech, "engagement": world.engagement, "site": site}
        system = inventory.system_ensure(**args, name=f"柜台系统{n}", category="营业部柜台")
        host = inventory.asset_ensure(**args, hostname=f"gt{n:02d}", system=system)
        inventory.account_ensure(
            actor=b.tech,
            system=system,
            asset=host,
            login_name="root",
            layer="操作系统",
            account_class="超级用户",
        )
        here = Branch(b.world, b.firm_it, b.onsite, b.tech, system, host, b.account)
        add_at(b, site, 7, rows.t7(here, site_id=site.pk))
        backup = add_at(b, site, 8, rows.t8(here))
        add_at(b, site, 14, rows.t14(here, site_id=site.pk, integrity="不通过"))
        add_at(b, site, 10, {**rows.t10(here, backup), "account_id": system.accounts.get().pk})
        ExceptionCase.objects.create(
            engagement=world.engagement, site=site, path_id="E05", description="x", opened_at=at(1, 21)
        )

    expected = QUERIES.get(rule, 1)
    fill(world.branch_a, 0)
    pairs = every_pair(world)
    with django_assert_num_queries(expected):
        few = rule(world.engagement, pairs)
    for n in range(1, 6):
        fill(make_site(world.engagement, f"BX{n}", SiteLevel.BRANCH, world.region, name=f"新营业部{n}"), n)
    pairs = every_pair(world)
    with django_assert_num_queries(expected):
        many = rule(world.engagement, pairs)
    assert len(many) > len(few) or rule is gates.open_cases


# Pages -----------------------------------------------------------------------------------------------------


def test_the_overview_the_site_page_and_the_step_page_show_the_reasons(b, world, people, client):
    start_handover(world, people)
    backup = b.add(8, **rows.t8(b))
    b.add(10, **rows.t10(b, backup))
    client.force_login(people["tech"])
    code, a = world.engagement.code, world.branch_a
    overview = client.get(reverse("workflow:overview", args=[code])).content.decode()
    assert 'data-testid="gated"' in overview and "改密前备份" in overview and "甲营业部" in overview
    site_page = client.get(reverse("workflow:site", args=[code, a.pk])).content.decode()
    assert 'data-testid="gate-T-02"' in site_page and "改密前备份" in site_page
    t02 = state.compute(engagement=world.engagement, now=at(1, 22))[(a.pk, "T-02")]
    step_page = client.get(reverse("workflow:step", args=[code, t02.instance_id])).content.decode()
    assert 'data-testid="gate-reasons"' in step_page and "改密前备份" in step_page
    sign_pair(b, backup)
    site_page = client.get(reverse("workflow:site", args=[code, a.pk])).content.decode()
    assert "改密前备份" not in site_page.split('data-testid="row-T-02"')[1].split("</tr>")[0]


def test_a_branch_post_reads_only_its_own_sites_cases_in_n04s_reason_and_tech_group_reads_all(
    world, people, client
):
    # 第十一条: 表24 (N-04) is an engagement-level step every site sees; its reason must not name other sites.
    start_handover(world, people)
    a, b = (
        ExceptionCase.objects.create(
            engagement=world.engagement, site=site, path_id=path, description="x", opened_at=at(1, 21)
        )
        for site, path in ((world.branch_a, "E05"), (world.branch_b, "E01"))
    )
    mine, theirs = f"E05 #{a.pk} 甲营业部", f"E01 #{b.pk} 乙营业部"
    n04 = StepInstance.objects.get(engagement=world.engagement, site=None, step_id="N-04")
    code = world.engagement.code
    api = f"/api/engagements/{code}/workflow/steps/"

    def read(user) -> tuple[str, str, str]:
        client.force_login(user)
        overview = client.get(reverse("workflow:overview", args=[code])).content.decode()
        step = client.get(reverse("workflow:step", args=[code, n04.pk])).content.decode()
        listed = client.get(api, HTTP_ACCEPT="application/json").content.decode()
        reasons = step.split('data-testid="gate-reasons"')[1].split("</ul>")[0]
        return overview.split('data-testid="gated"')[1], reasons, listed

    with clock.frozen(at(1, 22)):
        for page in read(people["tech"]):
            assert mine in page and theirs in page
        for page in read(people["onsite"]):
            assert mine in page and "乙营业部" not in page and f"#{b.pk} " not in page
            assert "其他站点另有1个" in page
        step = read(people["onsite_b"])[1]
        assert theirs in step and "甲营业部" not in step and "其他站点另有1个" in step


def test_a_reason_naming_sites_reads_the_same_as_text_and_counts_what_lies_outside(world):
    reason = gates.SiteReason(
        lambda labels, elsewhere: f"{'; '.join(labels)} +{elsewhere}", [(1, "E05 #1 甲"), (2, "E01 #2 乙")]
    )
    assert reason == "E05 #1 甲; E01 #2 乙 +0" and "乙" in reason
    assert gates.within(reason, {1}) == "E05 #1 甲 +1" and gates.within(reason, set()) == " +2"
    assert gates.within("a plain reason", set()) == "a plain reason"


def test_a_step_confirmed_by_hand_is_refused_while_a_register_rule_blocks_it(world, people, monkeypatch):
    # No rule of today gates a step without registers; the confirmation must still obey one that does.
    start_handover(world, people)
    h00 = StepInstance.objects.get(site=world.branch_a, step_id="H-00")
    services.step_evidence_add(
        actor=people["onsite"], step=h00, name="签到.pdf", stream=io.BytesIO(b"%PDF-1.7 x")
    )

    def seal_missing(engagement, pairs):
        return {key: ["处置日封存记录未登记"] for key in pairs if key == (world.branch_a.pk, "H-00")}

    monkeypatch.setattr(gates, "RULES", [*gates.RULES, seal_missing])
    with pytest.raises(DomainError, match="处置日封存记录未登记"):
        services.step_confirm(actor=people["onsite"], step=h00, now=at(1, 15, 40))
    h00.refresh_from_db()
    assert h00.confirmed_at is None
    monkeypatch.setattr(gates, "RULES", [r for r in gates.RULES if r is not seal_missing])
    services.step_confirm(actor=people["onsite"], step=h00, now=at(1, 15, 40))


def test_a_system_new_in_stabilisation_blocks_s13_until_a_signed_t36_new_system_request_names_it(
    world, people
):
    """C31, 第三十八条 「原则上不进行新的系统建设」: a system that appears once 稳定期 began needs its 表36 approval."""
    from django.utils import timezone

    from handover.registers.models import InformationSystem, Row
    from handover.workflow import register_gates
    from handover.workflow.models import PhaseTransition
    from tests.workflow.conftest import signed_form

    hq = world.hq
    old = InformationSystem.objects.create(engagement=world.engagement, site=hq, name="集中交易系统")
    began = timezone.now()
    InformationSystem.objects.filter(pk=old.pk).update(created_at=began - dt.timedelta(days=3))
    PhaseTransition.objects.create(
        engagement=world.engagement, from_phase=Phase.HANDOVER, to_phase=Phase.STABILISATION, reason="表24 已批准",
        signed_by=world.person_a, signed_at=began,
    )  # fmt: skip
    key = (hq.pk, "S-13")
    assert register_gates.new_systems_approved(world.engagement, [key]) == {}  # systems from before are fine
    InformationSystem.objects.create(engagement=world.engagement, site=hq, name="第三方存管前置")
    blocked = register_gates.new_systems_approved(world.engagement, [key])
    assert "第三方存管前置" in blocked[key][0] and "集中交易系统" not in blocked[key][0]
    form = signed_form(world.engagement, hq, 36, began)
    Row.objects.create(form=form, seq=1, data={"is_new_system": False, "item": "第三方存管前置服务器"})
    assert key in register_gates.new_systems_approved(world.engagement, [key])  # not a new-system request
    Row.objects.create(form=form, seq=2, data={"is_new_system": True, "item": "第三方存管前置（新建）"})
    assert register_gates.new_systems_approved(world.engagement, [key]) == {}


def test_m04_waits_for_the_original_rules_in_t18_and_the_announcement(world, people):
    """C27, 第二十五条第4项: M-04 at head office is not done by any signed 表18; it needs a row of
    原信息技术管理制度 and the announcement of the custody rules attached to the step."""
    from handover.workflow.models import StepInstance

    start_handover(world, people)
    hq = world.hq
    key = (hq.pk, "M-04")
    blocked = register_gates.rules_handed_over(world.engagement, [key])[key]
    assert len(blocked) == 2 and "原信息技术管理制度" in blocked[0] and "公布" in blocked[1]
    form = signed_form(world.engagement, hq, 18, at(1, 16))
    Row.objects.create(form=form, seq=1, data={"category": "合同及执行情况", "title": "运维合同"})
    assert len(register_gates.rules_handed_over(world.engagement, [key])[key]) == 2
    Row.objects.create(form=form, seq=2, data={"category": "原信息技术管理制度", "title": "信息技术管理办法"})
    assert len(register_gates.rules_handed_over(world.engagement, [key])[key]) == 1
    m04 = StepInstance.objects.get(site=hq, step_id="M-04")
    services.step_evidence_add(
        actor=people["onsite_hq"], step=m04, name="托管工作管理制度公告.pdf", stream=io.BytesIO(b"%PDF-1.7 x")
    )
    assert register_gates.rules_handed_over(world.engagement, [key]) == {}


def test_a_failed_joint_test_blocks_t10_until_it_is_fixed_or_passes_again(b, world):
    """C12, 第二十六条第10项 「系统全面联调检测」: a 表23 不通过 counts for its system only once fixed (解决时间) or
    tested again with 通过."""
    a = world.branch_a
    b.add(7, **rows.t7(b))
    failed = b.add(23, **rows.t23(b, result="不通过", issue="委托回报延迟", fix="调整网关参数"))
    (t10,) = reasons(register_gates.coverage_gaps, world, a, "T-10")
    assert "交易委托" in t10 and "表23" in t10, t10
    from handover.registers import services as registers_services

    fixed = rows.t23(
        b, result="不通过", issue="委托回报延迟", fix="调整网关参数", fixed_at="2026-12-02T21:00"
    )
    registers_services.row_update(actor=b.firm_it, row=failed, data=fixed)
    assert reasons(register_gates.coverage_gaps, world, a, "T-10") == []
    b.add(23, **rows.t23(b, test_item="行情", result="不通过", issue="行情中断", fix="切换线路",
                          tested_at="2026-12-02T20:10"))  # fmt: skip
    assert reasons(register_gates.coverage_gaps, world, a, "T-10")
    b.add(23, **rows.t23(b, test_item="行情", tested_at="2026-12-02T21:30"))  # tested again: passes
    assert reasons(register_gates.coverage_gaps, world, a, "T-10") == []
