"""Writes of the compliance view: evidence a person links to a duty, and a duty marked not applicable (or
applicable again) with a reason."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.models import Row
from handover.risk import events, library
from handover.risk.models import DutyApplicability, DutyEvidence
from handover.risk.services.common import allowed, who


def _duty(code: str) -> library.Duty:
    duty = library.DUTY_BY_CODE.get((code or "").strip().upper())
    if duty is None:
        raise DomainError(_("No duty %(code)s in the library (M01–M39).") % {"code": code}, field="duty")
    return duty


def evidence_link(
    *, actor: Actor, engagement: Engagement, duty: str, description: str, reference: str = "",
    row: Row | int | None = None,
) -> DutyEvidence:  # fmt: skip
    """Link evidence to a duty: a description, and a reference or a register row of this engagement."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    found = _duty(duty)
    if not (description or "").strip():
        raise DomainError(_("Describe the evidence."), field="description")
    linked_row = None
    if row is not None and row != "":
        pk = row.pk if isinstance(row, Row) else int(row)
        linked_row = Row.objects.filter(pk=pk, form__engagement=engagement, is_current=True).first()
        if linked_row is None:
            raise DomainError(_("No current register row with the id %(id)s here.") % {"id": pk}, field="row")
    user, name = who(actor)
    with transaction.atomic():
        item = DutyEvidence.objects.create(
            engagement=engagement, duty_code=found.code, description=description.strip()[:300],
            reference=(reference or "").strip()[:300], row=linked_row, linked_by=user, linked_by_name=name,
        )  # fmt: skip
        event_record(actor=actor, action=events.EVIDENCE_LINK, engagement_id=engagement.pk, obj=item,
                     after={"duty": found.code, "description": item.description, "row": item.row_id})  # fmt: skip
    return item


def duty_applicability_set(
    *, actor: Actor, engagement: Engagement, duty: str, applicable: bool, reason: str
) -> DutyApplicability:
    """Say whether a duty applies to this firm; the reason is required either way."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    found = _duty(duty)
    if not (reason or "").strip():
        raise DomainError(_("Give the reason."), field="reason")
    with transaction.atomic():
        decision, _created = DutyApplicability.objects.update_or_create(
            engagement=engagement, duty_code=found.code,
            defaults={"applicable": applicable, "reason": reason.strip(), "decided_by_name": who(actor)[1]},
        )  # fmt: skip
        event_record(actor=actor, action=events.DUTY_NOT_APPLICABLE, engagement_id=engagement.pk, obj=decision,
                     after={"duty": found.code, "applicable": applicable, "reason": decision.reason})  # fmt: skip
    return decision
