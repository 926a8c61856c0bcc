"""The two-person reveal and every way it must be refused: self-approval (service and database), the wrong
role or site, a reused code or grant, a sealed vault, and an audit trail that cannot be written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import DomainError, NotFound, PermissionDenied
from handover.org.models import Role
from handover.vault import events, lifecycle, services
from handover.vault.models import RevealRequest, RevealStatus
from tests.vault.helpers import STRONG, approved, enrol_totp, fail_audit_inserts, next_code, put


@pytest.fixture
def scene(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm-a")
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite-a")
    entry = put(firm, world, world.branch_a)
    return {"world": world, "firm": firm, "onsite": onsite, "totp": enrol_totp(onsite), "entry": entry}


def actions() -> list[str]:
    return list(Event.objects.order_by("seq").values_list("action", flat=True))


def test_request_approve_open_once_then_spent(scene):
    request = approved(scene["firm"], scene["onsite"], scene["totp"], scene["entry"])
    assert request.status == RevealStatus.APPROVED and request.approver == scene["onsite"]
    revealed = services.reveal_open(actor=scene["firm"], request=request)
    assert revealed.value == STRONG
    assert STRONG not in repr(revealed)
    request.refresh_from_db()
    assert request.status == RevealStatus.SPENT and request.spent_at is not None
    with pytest.raises(DomainError) as refused:
        services.reveal_open(actor=scene["firm"], request=request)
    assert refused.value.code == "spent"
    opened = Event.objects.get(action=events.REVEAL_OPEN)
    assert opened.after["requester"] == "firm-a" and opened.after["approver"] == "onsite-a"
    assert actions()[-1] == events.REVEAL_DENIED


def test_nobody_approves_their_own_request(scene):
    onsite, totp = scene["onsite"], scene["totp"]
    request = services.reveal_request_create(
        actor=onsite, entry=scene["entry"], reason="自查", purpose="view"
    )
    with pytest.raises(PermissionDenied):
        services.reveal_approve(actor=onsite, request=request, totp_code=next_code(totp))
    request.refresh_from_db()
    assert request.status == RevealStatus.PENDING
    assert Event.objects.filter(action=events.REVEAL_DENIED, after__why="self").exists()


def test_the_database_refuses_self_approval_whoever_writes(scene):
    request = services.reveal_request_create(
        actor=scene["firm"], entry=scene["entry"], reason="绕过服务", purpose="view"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        RevealRequest.objects.filter(pk=request.pk).update(
            approver=scene["firm"], status=RevealStatus.APPROVED, decided_at=timezone.now()
        )


def test_approval_needs_the_approving_role(scene):
    world = scene["world"]
    other_firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    totp = enrol_totp(other_firm)
    request = services.reveal_request_create(
        actor=scene["firm"], entry=scene["entry"], reason="核对", purpose="view"
    )
    with pytest.raises(PermissionDenied):
        services.reveal_approve(actor=other_firm, request=request, totp_code=next_code(totp))


def test_approval_needs_the_site(scene):
    world = scene["world"]
    onsite_b = world.login_with(Role.ONSITE_POST, site=world.branch_b)
    totp = enrol_totp(onsite_b)
    request = services.reveal_request_create(
        actor=scene["firm"], entry=scene["entry"], reason="核对", purpose="view"
    )
    with pytest.raises(PermissionDenied):
        services.reveal_approve(actor=onsite_b, request=request, totp_code=next_code(totp))
    assert RevealRequest.objects.get(pk=request.pk).status == RevealStatus.PENDING


def test_the_technical_group_may_approve_anywhere(scene):
    tech = scene["world"].login_with(Role.TECH_GROUP)
    request = approved(scene["firm"], tech, enrol_totp(tech), scene["entry"])
    assert services.reveal_open(actor=scene["firm"], request=request).value == STRONG


def test_approval_needs_a_second_factor_and_a_fresh_code(scene):
    world = scene["world"]
    no_totp = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    request = services.reveal_request_create(
        actor=scene["firm"], entry=scene["entry"], reason="核对", purpose="view"
    )
    with pytest.raises(PermissionDenied):
        services.reveal_approve(actor=no_totp, request=request, totp_code="123456")
    assert Event.objects.filter(action=events.REVEAL_DENIED, after__why="no_totp").exists()
    code = next_code(scene["totp"])
    with pytest.raises(DomainError):
        services.reveal_approve(
            actor=scene["onsite"], request=request, totp_code="000000" if code != "000000" else "111111"
        )
    first = services.reveal_request_create(
        actor=scene["firm"], entry=scene["entry"], reason="一次", purpose="view"
    )
    services.reveal_approve(actor=scene["onsite"], request=first, totp_code=code)
    with pytest.raises(DomainError) as reused:
        services.reveal_approve(actor=scene["onsite"], request=request, totp_code=code)
    assert reused.value.field == "code"
    assert RevealRequest.objects.get(pk=request.pk).status == RevealStatus.PENDING


def test_only_the_requester_opens_and_only_in_time(scene):
    request = approved(scene["firm"], scene["onsite"], scene["totp"], scene["entry"])
    with pytest.raises(NotFound):
        services.reveal_open(actor=scene["onsite"], request=request)
    RevealRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    request.refresh_from_db()
    with pytest.raises(DomainError) as lapsed:
        services.reveal_open(actor=scene["firm"], request=request)
    assert lapsed.value.code == "lapsed"


def test_reveal_while_sealed_is_refused_and_keeps_the_grant(scene):
    request = approved(scene["firm"], scene["onsite"], scene["totp"], scene["entry"])
    lifecycle.vault_seal(actor=system("test"))
    with pytest.raises(lifecycle.VaultSealed):
        services.reveal_open(actor=scene["firm"], request=request)
    request.refresh_from_db()
    assert request.status == RevealStatus.APPROVED


def test_reveal_is_refused_when_its_audit_event_cannot_be_written(scene):
    request = approved(scene["firm"], scene["onsite"], scene["totp"], scene["entry"])
    fail_audit_inserts()
    with pytest.raises(Exception, match="audit storage unavailable") as caught, transaction.atomic():
        services.reveal_open(actor=scene["firm"], request=request)
    assert STRONG not in str(caught.value)
    assert RevealRequest.objects.get(pk=request.pk).status == RevealStatus.APPROVED
    assert not Event.objects.filter(action=events.REVEAL_OPEN).exists()


def test_a_task_gets_the_secret_only_while_unsealed_and_the_use_is_recorded(scene):
    entry = scene["entry"]
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="改密后登录验证", task="t-1") == STRONG
    used = Event.objects.get(action=events.TASK_USE)
    assert used.after == {"version": 1, "pending": False, "purpose": "改密后登录验证", "task": "t-1"}
    assert STRONG not in str(used.after)
    lifecycle.vault_seal(actor=system("test"))
    with pytest.raises(lifecycle.VaultSealed):
        services.secret_use_for_task(entry_id=entry.pk, purpose="改密后登录验证")


def test_envelope_printing_is_the_same_reveal_naming_both(scene):
    request = services.reveal_request_create(
        actor=scene["firm"], entry=scene["entry"], reason="封存信封", purpose="envelope"
    )
    services.reveal_approve(actor=scene["onsite"], request=request, totp_code=next_code(scene["totp"]))
    revealed = services.reveal_open(actor=scene["firm"], request=request)
    assert revealed.request.purpose == "envelope" and revealed.request.approver == scene["onsite"]
    assert Event.objects.get(action=events.REVEAL_OPEN).after["purpose"] == "envelope"


def test_a_refused_request_cannot_be_approved_or_opened(scene):
    request = services.reveal_request_create(
        actor=scene["firm"], entry=scene["entry"], reason="核对", purpose="view"
    )
    with pytest.raises(PermissionDenied):
        services.reveal_refuse(actor=scene["firm"], request=request)
    refused = services.reveal_refuse(actor=scene["onsite"], request=request)
    assert refused.status == RevealStatus.REFUSED and refused.approver == scene["onsite"]
    with pytest.raises(DomainError) as decided:
        services.reveal_approve(actor=scene["onsite"], request=request, totp_code=next_code(scene["totp"]))
    assert decided.value.code == "decided"
    with pytest.raises(DomainError) as not_approved:
        services.reveal_open(actor=scene["firm"], request=request)
    assert not_approved.value.code == "not_approved"
