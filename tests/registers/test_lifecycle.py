"""Every register through its whole lifecycle, each declaring only its data (STYLE.md rule 7): a valid row
(derived from the column declarations) → submitted → the 第八条 pair on ★ rows → the footer by the roles the
register names → signed and frozen → corrected as a new version with a reason, both versions kept.
"""

from __future__ import annotations

import pytest

from handover.core.actors import system
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Role
from handover.registers import catalogue, seeding, services
from handover.registers.io.template import template_bytes
from handover.registers.models import Form, FormState, SignatureKind
from tests.registers.io_support import Scenery, fill_template, valid_cell, valid_row
from tests.registers.test_io_roundtrip import _header_values, _import

COMPUTED = (6, 24)


@pytest.fixture
def scenery(world):
    return Scenery(world)


@pytest.fixture
def signers(world):
    site = world.branch_a
    return {
        Role.FIRM_IT: world.login_with(Role.FIRM_IT, site=site),
        Role.ONSITE_POST: world.login_with(Role.ONSITE_POST, site=site),
        Role.FIRM_FINANCE: world.login_with(Role.FIRM_FINANCE, site=site),
        Role.TECH_GROUP: world.login_with(Role.TECH_GROUP),
    }


def _filled_form(scenery, number) -> Form:
    if number in COMPUTED:
        if number == 6:  # 表6 is the summary of 表5 (第二十五条第3项): a staff row first
            _filled_form(scenery, 5)
        return seeding.computed_form_build(
            actor=system("test"),
            engagement=scenery.world.engagement,
            site=scenery.world.branch_a,
            register_no=number,
            form_date=scenery.world.engagement.disposal_date,
        )
    filled = fill_template(
        template_bytes(number), [valid_row(number, scenery)], _header_values(number, scenery)
    )
    return Form.objects.get(form_no=_import(scenery, number, filled).form_no)


def _complete_header(form: Form, scenery) -> None:
    """What a spreadsheet cannot carry (表1's 组织架构图) or 技术组 writes later (表24's summary)."""
    missing = {c.key: valid_cell(c, scenery) for c in services.header_columns(form.register_no)}
    missing = {k: v for k, v in missing.items() if k not in form.header}
    if missing:
        clean = {
            **form.header,
            **{k: (v if not isinstance(v, str) or k != "scope_sites" else []) for k, v in missing.items()},
        }
        form.header = clean
        form.save(update_fields=["header"])


def _sign(form: Form, signers) -> None:
    if catalogue.get(form.register_no).dual_signature:
        for row in form.rows.filter(is_current=True):
            services.row_sign(actor=signers[Role.FIRM_IT], row=row, kind=SignatureKind.EXECUTOR)
            services.row_sign(actor=signers[Role.ONSITE_POST], row=row, kind=SignatureKind.SUPERVISOR)
    services.form_submit(actor=signers[Role.FIRM_IT], form=form)
    for role in services.footer_roles(form.register_no):
        services.form_sign(actor=signers[role], form=form)


@pytest.mark.parametrize("number", [spec.number for spec in catalogue.REGISTERS])
def test_every_register_is_filled_signed_frozen_and_corrected_as_a_new_version(scenery, signers, number):
    form = _filled_form(scenery, number)
    assert form.rows.filter(is_current=True).exists()
    _complete_header(form, scenery)
    _sign(form, signers)
    form.refresh_from_db()
    assert form.state == FormState.SIGNED
    assert set(form.signatures.values_list("role", flat=True)) == set(services.footer_roles(number))
    row = (
        form.rows.get(is_current=True, seq=1)
        if number not in COMPUTED
        else form.rows.filter(is_current=True).first()
    )
    with pytest.raises(DomainError):
        services.row_update(actor=signers[Role.FIRM_IT], row=row, data=row.data)  # signed means frozen
    corrected = services.form_correct(actor=signers[Role.FIRM_IT], form=form, reason="补正：原表漏填一项")
    form.refresh_from_db()
    assert (corrected.version, corrected.state, corrected.previous_id) == (2, FormState.DRAFT, form.pk)
    assert (form.state, form.is_current) == (FormState.SIGNED, False)  # the signed version stays readable
    assert corrected.rows.filter(is_current=True).count() == form.rows.filter(is_current=True).count()


def test_a_signed_form_is_archived_by_the_custodian_side_and_is_final(scenery, signers):
    form = _filled_form(scenery, 8)
    _sign(form, signers)
    with pytest.raises(PermissionDenied):
        services.form_archive(actor=signers[Role.FIRM_IT], form=form)  # the firm does not file it away
    services.form_archive(actor=signers[Role.ONSITE_POST], form=form)
    form.refresh_from_db()
    assert form.state == FormState.ARCHIVED
    with pytest.raises(DomainError):
        services.form_archive(actor=signers[Role.TECH_GROUP], form=form)
    with pytest.raises(DomainError):
        services.form_correct(actor=signers[Role.FIRM_IT], form=form, reason="想改")
