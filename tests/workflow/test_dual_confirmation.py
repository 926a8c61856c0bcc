"""第八条 重要操作双重签字 on a step confirmed by hand (trace C26): M-02 印章交接, flagged dual_signature, is done only
when a second person of the other party confirms it after the first; one person, or one side, is never enough."""

from __future__ import annotations

import io

import pytest

from handover.audit.models import Event
from handover.core.errors import DomainError
from handover.workflow import services, state
from handover.workflow.models import StepInstance
from tests.workflow.conftest import at, start_handover

pytestmark = pytest.mark.django_db


def _step(world, site, step_id):
    return StepInstance.objects.get(engagement=world.engagement, site=site, step_id=step_id)


def _ready(world, people):
    start_handover(world, people)
    h00 = _step(world, world.hq, "H-00")
    services.step_evidence_add(
        actor=people["onsite_hq"], step=h00, name="签到.pdf", stream=io.BytesIO(b"%PDF-1.7")
    )
    services.step_confirm(actor=people["onsite_hq"], step=h00, now=at(1, 15, 20))
    m02 = _step(world, world.hq, "M-02")
    services.step_evidence_add(
        actor=people["firm_it_hq"], step=m02, name="印章交接表.pdf", stream=io.BytesIO(b"%PDF-1.7")
    )
    return m02


def _done(world, m02) -> bool:
    view = state.compute(engagement=world.engagement, now=at(1, 16, 30))[(m02.site_id, "M-02")]
    return view.done_at is not None


def test_the_seal_handover_needs_the_firm_and_the_custodian(world, people):
    m02 = _ready(world, people)
    services.step_confirm(actor=people["firm_it_hq"], step=m02, note="交出信息技术部印章", now=at(1, 16))
    m02.refresh_from_db()
    assert m02.first_confirmed_by.user == people["firm_it_hq"] and m02.confirmed_at is None
    assert not _done(world, m02)
    with pytest.raises(DomainError, match="second person"):  # the same person twice
        services.step_confirm(actor=people["firm_it_hq"], step=m02, now=at(1, 16, 5))
    second_firm = world.login_with("firm_it", site=world.hq, username="firm_it_hq2")
    with pytest.raises(DomainError, match="other party"):  # two people of the firm's side
        services.step_confirm(actor=second_firm, step=m02, now=at(1, 16, 6))
    m02.refresh_from_db()
    assert m02.confirmed_at is None and not _done(world, m02)
    services.step_confirm(
        actor=people["onsite_hq"], step=m02, note="托管机构专人接收并保管", now=at(1, 16, 10)
    )
    m02.refresh_from_db()
    assert m02.confirmed_by.user == people["onsite_hq"] and _done(world, m02)
    confirmations = Event.objects.filter(action="workflow.step.confirm", after__step="M-02").order_by("seq")
    assert [e.after["confirmation"] for e in confirmations] == ["first", "second"]


def test_a_step_without_the_flag_takes_one_confirmation(world, people):
    start_handover(world, people)
    h00 = _step(world, world.branch_a, "H-00")
    services.step_evidence_add(
        actor=people["onsite"], step=h00, name="签到.pdf", stream=io.BytesIO(b"%PDF-1.7")
    )
    services.step_confirm(actor=people["onsite"], step=h00, now=at(1, 15, 20))
    h00.refresh_from_db()
    assert h00.confirmed_at is not None and h00.first_confirmed_at is None
