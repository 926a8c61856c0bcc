"""Forms, rows, the 第八条 dual signature and versions, on the generic register store."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from handover.audit.models import Event
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Person, Role
from handover.registers import catalogue, services
from handover.registers.columns import Column, choices
from handover.registers.models import Form, FormState, Row, Signature, SignatureKind

COLUMNS = (
    Column("system", "系统名称", "System", "text", "R"),
    Column("result", "结果", "Result", "enum", "R", choices=choices(("成功", "success"), ("失败", "failed"))),
    Column("failure_reason", "失败原因", "Failure reason", "ltext", "C", required_if=("result", ("失败",))),
    Column("backup_date", "备份日期", "Backup date", "date"),
)


@pytest.fixture(autouse=True)
def columns(monkeypatch):
    monkeypatch.setattr(catalogue, "columns", lambda number: COLUMNS, raising=False)


@pytest.fixture
def people(world):
    return {
        "firm_it": world.login_with(Role.FIRM_IT, site=world.branch_a),
        "onsite": world.login_with(Role.ONSITE_POST, site=world.branch_a),
        "onsite_b": world.login_with(Role.ONSITE_POST, site=world.branch_b),
        "finance": world.login_with(Role.FIRM_FINANCE, site=world.branch_a),
        "tech": world.login_with(Role.TECH_GROUP),
    }


def t8_row(world, people, **data):
    form = services.form_create(
        actor=people["firm_it"],
        engagement=world.engagement,
        site=world.branch_a,
        register_no=8,
        form_date=date(2026, 12, 1),
    )
    row = services.row_add(
        actor=people["firm_it"], form=form, data={"system": "集中交易", "result": "成功", **data}
    )
    return form, row


def test_form_number_follows_the_frame_and_rows_are_numbered(world, people):
    form, row = t8_row(world, people)
    assert form.form_no == "BA-T08-20261201-001" and row.seq == 1 and form.state == FormState.DRAFT
    assert Event.objects.filter(action="registers.row.create", object_id=str(row.pk)).exists()


def test_every_invalid_field_is_named_and_nothing_is_written(world, people):
    form, _row = t8_row(world, people)
    rows = Row.objects.count()
    with pytest.raises(services.RowInvalid) as refused:
        services.row_add(
            actor=people["firm_it"],
            form=form,
            data={"result": "失败", "backup_date": "2026/13/01", "extra": 1},
        )
    assert set(refused.value.errors) == {"system", "failure_reason", "backup_date", "extra"}
    assert Row.objects.count() == rows


def test_a_credential_in_free_text_is_refused(world, people):
    form, _row = t8_row(world, people)
    for text in (
        "root 密码：Abc123456",
        "mysql -uroot -pS3cretPass",
        "连接串 postgres://app:pw123@db/x",
        "临时口令 Xy7#pQ2!vL9@",
    ):
        with pytest.raises(services.RowInvalid) as refused:
            services.row_add(
                actor=people["firm_it"],
                form=form,
                data={"system": "集中交易", "result": "失败", "failure_reason": text},
            )
        assert "failure_reason" in refused.value.errors, text
    services.row_add(
        actor=people["firm_it"],
        form=form,
        data={"system": "集中交易", "result": "失败", "failure_reason": "序列号 FCW2233L0AB 磁带损坏"},
    )


def test_executor_and_supervisor_must_be_two_people_in_their_roles(world, people):
    _form, row = t8_row(world, people)
    with pytest.raises(PermissionDenied):
        services.row_sign(actor=people["onsite"], row=row, kind=SignatureKind.EXECUTOR)
    services.row_sign(actor=people["firm_it"], row=row, kind=SignatureKind.EXECUTOR)
    with pytest.raises(PermissionDenied):
        services.row_sign(actor=people["firm_it"], row=row, kind=SignatureKind.SUPERVISOR)
    with pytest.raises(PermissionDenied):
        services.row_sign(actor=people["onsite_b"], row=row, kind=SignatureKind.SUPERVISOR)
    services.row_sign(actor=people["onsite"], row=row, kind=SignatureKind.SUPERVISOR)
    with pytest.raises(DomainError):
        services.row_sign(actor=people["tech"], row=row, kind=SignatureKind.SUPERVISOR)
    assert row.signatures.count() == 2


def test_the_database_refuses_one_person_signing_a_row_twice(world, people):
    _form, row = t8_row(world, people)
    person = Person.objects.get(user=people["onsite"])
    Signature.objects.create(row=row, kind=SignatureKind.EXECUTOR, role=Role.FIRM_IT, person=person)
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.create(row=row, kind=SignatureKind.SUPERVISOR, role=Role.ONSITE_POST, person=person)


def test_a_signed_row_is_frozen_and_corrected_as_a_new_version(world, people):
    _form, row = t8_row(world, people)
    services.row_sign(actor=people["firm_it"], row=row, kind=SignatureKind.EXECUTOR)
    with pytest.raises(DomainError):
        services.row_update(actor=people["firm_it"], row=row, data={"system": "改", "result": "成功"})
    with pytest.raises(DomainError):
        services.row_correct(
            actor=people["firm_it"], row=row, data={"system": "改", "result": "成功"}, reason=" "
        )
    new = services.row_correct(
        actor=people["firm_it"],
        row=row,
        data={"system": "集中交易(主)", "result": "成功"},
        reason="系统名称写错",
    )
    row.refresh_from_db()
    assert (row.is_current, new.is_current, new.version, new.previous_id) == (False, True, 2, row.pk)
    assert row.signatures.count() == 1 and new.signatures.count() == 0


def test_form_footer_needs_finance_on_asset_registers_and_all_rows_signed_on_star_registers(world, people):
    form, row = t8_row(world, people)
    services.form_submit(actor=people["firm_it"], form=form)
    with pytest.raises(DomainError, match="1"):
        services.form_sign(actor=people["onsite"], form=form)
    services.row_sign(actor=people["firm_it"], row=row, kind=SignatureKind.EXECUTOR)
    services.row_sign(actor=people["onsite"], row=row, kind=SignatureKind.SUPERVISOR)
    services.form_sign(actor=people["onsite"], form=form)
    assert Form.objects.get(pk=form.pk).state == FormState.SUBMITTED
    # UX review L3: signing the footer again is answered "you have signed", not "only … may sign".
    with translation.override("en"), pytest.raises(PermissionDenied, match="already signed"):
        services.form_sign(actor=people["onsite"], form=form)
    services.form_sign(actor=people["firm_it"], form=form)
    assert Form.objects.get(pk=form.pk).state == FormState.SIGNED
    assert services.footer_roles(16) == (Role.ONSITE_POST, Role.FIRM_FINANCE, Role.FIRM_IT)
    assert services.footer_roles(24)[-1] == Role.TECH_GROUP


def test_a_signed_form_is_corrected_as_a_new_draft_and_both_versions_stay(world, people):
    form, row = t8_row(world, people)
    services.form_submit(actor=people["firm_it"], form=form)
    services.row_sign(actor=people["firm_it"], row=row, kind=SignatureKind.EXECUTOR)
    services.row_sign(actor=people["onsite"], row=row, kind=SignatureKind.SUPERVISOR)
    services.form_sign(actor=people["onsite"], form=form)
    services.form_sign(actor=people["firm_it"], form=Form.objects.get(pk=form.pk))
    signed = Form.objects.get(pk=form.pk)
    with pytest.raises(DomainError):
        services.row_add(actor=people["firm_it"], form=signed, data={"system": "x", "result": "成功"})
    new = services.form_correct(actor=people["firm_it"], form=signed, reason="补充遗漏的系统")
    assert (new.version, new.state, new.form_no) == (2, FormState.DRAFT, signed.form_no)
    assert new.rows.get().data == row.data and not new.rows.get().signatures.exists()
    assert Form.objects.filter(form_no=signed.form_no).count() == 2
    assert Form.objects.get(pk=signed.pk).signatures.count() == 2


def test_a_branch_cannot_fill_another_branchs_register(world, people):
    with pytest.raises(PermissionDenied):
        services.form_create(
            actor=people["onsite_b"],
            engagement=world.engagement,
            site=world.branch_a,
            register_no=8,
            form_date=date(2026, 12, 1),
        )
