"""Every 第二十八条 exception path from the register row where it starts to its signed, reported 表39 entry,
and the refusals on the way (cracking without consent, a courier without its number, closing without 表39)."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from handover.audit.models import Event
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Engagement, Phase
from handover.registers.models import Row
from handover.workflow import paths, services
from handover.workflow.models import CaseItem, CaseState, ExceptionCase
from tests.workflow.conftest import signed_form, source_row, start_handover, t39_entry

RECORDS = {
    "vendor": "恒信金融软件有限公司",
    "consent": "托管工作组函〔2026〕1号",
    "courier_no": "SF1234567890",
}
SUB_TYPES = {"E02": "遗忘/联系不上", "E06": "介质损坏无法读取"}


def open_case(world, people, path_id, *, site=None, sub_type=None, **extra):
    path = paths.BY_ID[path_id]
    site = site or world.branch_a
    row = (
        source_row(world.engagement, site, path.sources[0], system="集中交易")
        if path_id in paths.SOURCED
        else None
    )
    return services.case_open(
        actor=people["onsite"],
        engagement=world.engagement,
        path_id=path_id,
        site=None if row else site,
        source_row=row,
        sub_type=SUB_TYPES.get(path_id, "") if sub_type is None else sub_type,
        description=f"集中交易系统，{path.zh}",
        **extra,
    )


def tick_all(people, case):
    """Tick every item of the case's sub-type in the path's order, with its record."""
    for item in paths.BY_ID[case.path_id].items:
        if item.key == paths.CLOSE or not item.applies(case.sub_type):
            continue
        services.case_tick(
            actor=people["firm_it"], case=case, key=item.key, record=RECORDS.get(item.record, "")
        )


@pytest.mark.parametrize("path_id", [p.id for p in paths.PATHS])
def test_each_path_runs_from_its_source_row_to_its_signed_reported_t39_entry(world, people, path_id):
    start_handover(world, people)
    if path_id in paths.STABILISATION_ONLY:
        Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.STABILISATION)
        world.engagement.refresh_from_db()
    case = open_case(world, people, path_id)
    if path_id in paths.SOURCED:
        assert (
            case.source_row.form.register_no in paths.BY_ID[path_id].sources and case.site == world.branch_a
        )
    tick_all(people, case)
    with pytest.raises(DomainError, match="表39"):
        services.case_close(actor=people["onsite"], case=case)
    extra = {"phase": "稳定期"} if path_id in paths.STABILISATION_ONLY else {}
    _form, row = t39_entry(world, people, case, **extra)
    services.case_link_t39(actor=people["onsite"], case=case, row=row)
    services.case_close(actor=people["onsite"], case=case)
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED and case.t39_row == row and case.closed_at is not None
    assert CaseItem.objects.filter(case=case, key=paths.CLOSE).exists()
    close = Event.objects.get(action="workflow.case.close", object_id=str(case.pk))
    assert close.after["t39_form"] == row.form.form_no and close.after["reported_tg_at"]


def test_e02_cannot_proceed_to_cracking_without_the_working_groups_consent(world, people):
    start_handover(world, people)
    case = open_case(world, people, "E02")
    services.case_tick(actor=people["firm_it"], case=case, key="report_wg")
    with pytest.raises(DomainError, match="consent") as refused:
        services.case_tick(actor=people["firm_it"], case=case, key="crack")
    assert refused.value.field == "key"
    with pytest.raises(DomainError, match="consent") as refused:
        services.case_tick(actor=people["firm_it"], case=case, key="wg_consent")
    assert refused.value.field == "record"
    services.case_tick(
        actor=people["firm_it"],
        case=case,
        key="wg_consent",
        record=RECORDS["consent"],
        file_name="同意函.pdf",
        stream=io.BytesIO(b"%PDF-1.7 consent"),
    )
    crack = services.case_tick(actor=people["firm_it"], case=case, key="crack", note="开发商现场破解")
    assert crack.pk and CaseItem.objects.get(case=case, key="wg_consent").evidence.sha256


def test_e02_whose_holder_has_left_has_no_cracking(world, people):
    start_handover(world, people)
    case = open_case(world, people, "E02", sub_type="人员已离开")
    services.case_tick(actor=people["firm_it"], case=case, key="report_wg")
    with pytest.raises(DomainError, match="人员已离开"):
        services.case_tick(actor=people["firm_it"], case=case, key="wg_consent", record=RECORDS["consent"])
    services.case_tick(actor=people["firm_it"], case=case, key="contact_holder")


def test_e02_closes_only_with_the_working_group_told_in_its_t39_entry(world, people):
    start_handover(world, people)
    case = open_case(world, people, "E02")
    tick_all(people, case)
    _form, row = t39_entry(world, people, case)
    services.case_link_t39(actor=people["onsite"], case=case, row=row)
    Row.objects.filter(pk=row.pk).update(data={**row.data, "reported_wg_at": ""})
    with pytest.raises(DomainError, match="working group"):
        services.case_close(actor=people["onsite"], case=case)


def test_e08_records_the_courier_number(world, people):
    start_handover(world, people)
    case = open_case(world, people, "E08")
    with pytest.raises(DomainError, match="waybill") as refused:
        services.case_tick(actor=people["firm_it"], case=case, key="courier", record="  ")
    assert refused.value.field == "record"
    item = services.case_tick(actor=people["firm_it"], case=case, key="courier", record="SF1234567890")
    assert item.record == "SF1234567890"
    assert Event.objects.filter(action="workflow.case.tick").latest("seq").after["record"] == "SF1234567890"


def test_closing_is_refused_until_the_t39_entry_is_signed_and_reported_and_nothing_is_written(world, people):
    start_handover(world, people)
    case = open_case(world, people, "E05")
    with pytest.raises(DomainError, match="开发维护人员"):  # the prescribed steps come first
        services.case_close(actor=people["onsite"], case=case)
    tick_all(people, case)
    _form, row = t39_entry(world, people, case, sign=False)
    services.case_link_t39(actor=people["onsite"], case=case, row=row)
    events = Event.objects.count()
    with pytest.raises(DomainError, match="not signed"):
        services.case_close(actor=people["onsite"], case=case)
    signed = signed_form(world.engagement, world.branch_a, 39, row.created_at)
    unreported = Row.objects.create(
        form=signed, seq=1, data={k: v for k, v in row.data.items() if k != "reported_tg_at"}
    )
    services.case_link_t39(actor=people["onsite"], case=case, row=unreported)
    with pytest.raises(DomainError, match="上报技术组"):
        services.case_close(actor=people["onsite"], case=case)
    assert Event.objects.count() == events + 1  # the link only
    case.refresh_from_db()
    assert case.state == CaseState.OPEN and not case.items.filter(key=paths.CLOSE).exists()


def test_the_t39_entry_is_reported_only_once_the_technical_group_has_signed_it(world, people):
    # 第二十八条 「…上报至技术组」 (trace C17): the site's two signatures and a typed 上报技术组 time are not enough;
    # 技术组's own footer signature is the acknowledgement, and the case closes only after it.
    from handover.registers import services as registers
    from handover.registers.models import FormState

    start_handover(world, people)
    case = open_case(world, people, "E05")
    tick_all(people, case)
    form, row = t39_entry(world, people, case, sign=False)
    services.case_link_t39(actor=people["onsite"], case=case, row=row)
    registers.form_submit(actor=people["onsite"], form=form)
    registers.form_sign(actor=people["onsite"], form=form)
    registers.form_sign(actor=people["firm_it"], form=form)
    form.refresh_from_db()
    assert form.state != FormState.SIGNED and row.data["reported_tg_at"]
    with pytest.raises(DomainError, match="not signed"):
        services.case_close(actor=people["onsite"], case=case)
    registers.form_sign(actor=people["tech"], form=form)
    form.refresh_from_db()
    assert form.state == FormState.SIGNED
    assert services.case_close(actor=people["onsite"], case=case).state == CaseState.CLOSED


def test_the_t39_entry_must_match_the_case(world, people):
    start_handover(world, people)
    case = open_case(world, people, "E05")
    other = open_case(world, people, "E09")
    _form, row = t39_entry(world, people, other)
    with pytest.raises(DomainError, match="E09"):
        services.case_link_t39(actor=people["onsite"], case=case, row=row)
    with pytest.raises(DomainError, match="表39"):
        services.case_link_t39(actor=people["onsite"], case=case, row=case.source_row)


def test_a_case_starts_from_a_row_of_its_source_registers_at_the_users_sites(world, people):
    start_handover(world, people)
    kwargs = {"engagement": world.engagement, "description": "备份失败"}
    with pytest.raises(DomainError, match="表8") as refused:
        services.case_open(actor=people["onsite"], path_id="E05", site=world.branch_a, **kwargs)
    assert refused.value.field == "source_row"
    wrong = source_row(world.engagement, world.branch_a, 10)
    with pytest.raises(DomainError, match="表10"):
        services.case_open(actor=people["onsite"], path_id="E05", source_row=wrong, **kwargs)
    elsewhere = source_row(world.engagement, world.branch_b, 14)
    with pytest.raises(PermissionDenied):
        services.case_open(actor=people["onsite"], path_id="E05", source_row=elsewhere, **kwargs)
    with pytest.raises(DomainError, match="sub-type"):
        services.case_open(
            actor=people["onsite"],
            path_id="E06",
            source_row=source_row(world.engagement, world.branch_a, 15),
            **kwargs,
        )
    with pytest.raises(DomainError, match="E11"):
        services.case_open(actor=people["onsite"], path_id="E11", site=world.branch_a, **kwargs)
    with pytest.raises(PermissionDenied):
        services.case_open(
            actor=people["observer"],
            path_id="E05",
            source_row=source_row(world.engagement, world.branch_a, 14),
            **kwargs,
        )
    assert not ExceptionCase.objects.exists()


def test_no_exception_paths_before_the_handover(world, people):
    row = source_row(world.engagement, world.branch_a, 14)
    with pytest.raises(DomainError, match="E05"):
        services.case_open(
            actor=people["onsite"],
            engagement=world.engagement,
            path_id="E05",
            source_row=row,
            description="x",
        )


def test_a_closed_case_takes_no_more_ticks(world, people):
    start_handover(world, people)
    case = open_case(world, people, "E09")
    _form, row = t39_entry(world, people, case)
    services.case_link_t39(actor=people["onsite"], case=case, row=row)
    services.case_close(actor=people["onsite"], case=case)
    with pytest.raises(DomainError, match="closed"):
        services.case_tick(actor=people["onsite"], case=case, key=paths.CLOSE)


def test_a_case_read_before_someone_else_closed_it_cannot_be_closed_or_ticked_again(world, people):
    start_handover(world, people)
    case = open_case(world, people, "E07")
    stale = ExceptionCase.objects.get(pk=case.pk)
    _form, row = t39_entry(world, people, case)
    services.case_link_t39(actor=people["onsite"], case=case, row=row)
    stale.t39_row = case.t39_row
    services.case_close(actor=people["onsite"], case=case)
    events = Event.objects.count()
    with pytest.raises(DomainError, match="closed"):
        services.case_close(actor=people["firm_it"], case=stale)
    other = open_case(world, people, "E08")
    stale_other = ExceptionCase.objects.get(pk=other.pk)
    services.case_tick(actor=people["firm_it"], case=other, key="courier", record="SF1")
    with pytest.raises(DomainError, match="done already"):
        services.case_tick(actor=people["onsite"], case=stale_other, key="courier", record="SF2")
    assert Event.objects.count() == events + 2  # the second case's open and its one tick
    assert CaseItem.objects.get(case=other, key="courier").record == "SF1"


def test_e02_once_cracked_closes_only_after_the_password_is_changed(world, people, client):
    """C18, 第二十八条第2项 「破解成功后，及时修改密码」: the change is optional only until the crack is done."""
    start_handover(world, people)
    case = open_case(world, people, "E02")
    for key in ("report_wg", "wg_consent", "crack"):
        services.case_tick(actor=people["firm_it"], case=case, key=key, record=RECORDS["consent"])
    _form, row = t39_entry(world, people, case)
    services.case_link_t39(actor=people["onsite"], case=case, row=row)
    with pytest.raises(DomainError, match="破解成功后及时修改密码"):
        services.case_close(actor=people["onsite"], case=case)
    client.force_login(people["onsite"])
    response = client.post(reverse("workflow:case_close", args=[world.engagement.code, case.pk]), follow=True)
    assert "破解成功后及时修改密码" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.OPEN
    services.case_tick(actor=people["firm_it"], case=case, key="change_now")
    services.case_close(actor=people["onsite"], case=case)
