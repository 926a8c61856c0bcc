"""Writes of the risk register: record and assess risks on the matrix in force (risk/rules.py), treat them
through a 表40 corrective action, and accept them for a time: asked by one person, approved by another who
is not the risk's owner either (第八条: executor and supervisor are two persons; DESIGN.md decision 9, one
person is never enough)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.errors import DomainError, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Person
from handover.org.selectors import persons_of_login
from handover.registers.models import Row
from handover.risk import events, rules
from handover.risk.models import Risk, RiskAcceptance, Treatment
from handover.risk.services.common import allowed, person_of, register_row, who

SCORES = ("inherent", "current", "residual")


def _score(matrix: rules.Matrix, name: str, value: Any, *, optional: bool = False) -> int | None:
    if optional and value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= matrix.size:
        raise DomainError(_("Give a number from 1 to %(size)s.") % {"size": matrix.size}, field=name)
    return number


def _scores(values: dict[str, Any]) -> dict[str, int | None]:
    matrix = rules.current().matrix
    found: dict[str, int | None] = {}
    for stage in SCORES:
        for axis in ("likelihood", "impact"):
            name = f"{stage}_{axis}"
            found[name] = _score(matrix, name, values.get(name), optional=stage == "residual")
    if (found["residual_likelihood"] is None) != (found["residual_impact"] is None):
        raise DomainError(_("Give both residual likelihood and impact, or neither."), field="residual_impact")
    return found


def risk_create(
    *,
    actor: Actor,
    engagement: Engagement,
    number: str,
    title: str,
    owner: Person | None,
    scores: dict[str, Any],
    description: str = "",
    system_name: str = "",
    treatment: str = Treatment.OPEN,
    capa_row: Row | int | None = None,
    report_to_wg: bool = False,
) -> Risk:
    """Record a risk with its inherent and current scores (residual once the treatment is planned)."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    if not (number or "").strip() or not (title or "").strip():
        raise DomainError(
            _("This field is required."), field="number" if not (number or "").strip() else "title"
        )
    if owner is None or owner.engagement_id != engagement.pk:
        raise DomainError(_("The owner must be a person of this engagement."), field="owner")
    if treatment not in Treatment.values or treatment == Treatment.ACCEPT:
        raise DomainError(
            _("Choose a treatment; acceptance is asked for and approved separately."), field="treatment"
        )
    values = _scores(scores)
    row40 = register_row(engagement, capa_row, 40, "capa_row")
    user, name = who(actor)
    try:
        with transaction.atomic():
            risk = Risk.objects.create(
                engagement=engagement, number=number.strip()[:40], title=title.strip()[:200], owner=owner,
                description=description, system_name=system_name[:200], treatment=treatment, capa_row=row40,
                report_to_wg=report_to_wg, created_by=user, created_by_name=name, **values,
            )  # fmt: skip
            event_record(actor=actor, action=events.RISK_CREATE, engagement_id=engagement.pk, obj=risk,
                         after={"number": risk.number, **values, "treatment": treatment})  # fmt: skip
    except IntegrityError:
        raise DomainError(
            _("The risk number %(no)s is used already.") % {"no": number}, field="number"
        ) from None
    return risk


def risk_assess(
    *, actor: Actor, risk: Risk, scores: dict[str, Any], treatment: str | None = None,
    capa_row: Row | int | None = None,
) -> Risk:  # fmt: skip
    """New scores (all three stages) and, if given, a new treatment or its 表40 action."""
    allowed(actor, risk.engagement, perms.MANAGE_RISK)
    values = _scores(scores)
    if treatment is not None and (treatment not in Treatment.values or treatment == Treatment.ACCEPT):
        raise DomainError(
            _("Choose a treatment; acceptance is asked for and approved separately."), field="treatment"
        )
    row40 = register_row(risk.engagement, capa_row, 40, "capa_row")
    before = {name: getattr(risk, name) for name in values} | {"treatment": risk.treatment}
    with transaction.atomic():
        for name, value in values.items():
            setattr(risk, name, value)
        risk.treatment = treatment or risk.treatment
        risk.capa_row = row40 or risk.capa_row
        risk.save()
        event_record(actor=actor, action=events.RISK_ASSESS, engagement_id=risk.engagement_id, obj=risk,
                     before=before, after={**values, "treatment": risk.treatment})  # fmt: skip
    return risk


def acceptance_request(
    *, actor: Actor, risk: Risk, reason: str, expires_on: dt.date, now: dt.datetime | None = None
) -> RiskAcceptance:
    """Ask that ``risk`` be accepted until ``expires_on``, with the reason; someone else approves."""
    allowed(actor, risk.engagement, perms.MANAGE_RISK)
    requester = person_of(actor, risk.engagement)
    if not (reason or "").strip():
        raise DomainError(_("Say why the risk may be accepted."), field="reason")
    today = clock.or_now(now).date()
    if expires_on is None or expires_on <= today:
        raise DomainError(_("An acceptance ends on a date after today."), field="expires_on")
    with transaction.atomic():
        acceptance = RiskAcceptance.objects.create(
            risk=risk, owner_id=risk.owner_id, requested_by=requester, reason=reason, expires_on=expires_on
        )
        event_record(actor=actor, action=events.ACCEPTANCE_REQUEST, engagement_id=risk.engagement_id,
                     obj=acceptance, after={"risk": risk.number, "expires_on": expires_on.isoformat()})  # fmt: skip
    return acceptance


def acceptance_approve(
    *, actor: Actor, acceptance: RiskAcceptance, now: dt.datetime | None = None
) -> RiskAcceptance:
    """Approve an acceptance. 第八条: never by the person who asked, nor by the risk's owner, whichever of
    their logins they use (persons are compared, with every login the person ever had)."""
    risk = acceptance.risk
    allowed(actor, risk.engagement, perms.ACCEPT_RISK)
    approver = person_of(actor, risk.engagement)
    mine = persons_of_login(user=actor) | {approver.pk}
    if acceptance.requested_by_id in mine or acceptance.owner_id in mine or risk.owner_id in mine:
        raise PermissionDenied(
            _(
                "第八条: a second person approves an acceptance, neither the risk's owner nor the one who asked."
            )
        )
    at = clock.or_now(now)
    with transaction.atomic():
        locked = RiskAcceptance.objects.select_for_update().get(pk=acceptance.pk)
        if locked.approved_at is not None:
            raise DomainError(_("This acceptance is approved already."), field="acceptance")
        locked.approved_by, locked.approved_at = approver, at
        locked.save(update_fields=["approved_by", "approved_at"])
        Risk.objects.filter(pk=risk.pk).update(treatment=Treatment.ACCEPT)
        event_record(actor=actor, action=events.ACCEPTANCE_APPROVE, engagement_id=risk.engagement_id, obj=locked,
                     after={"risk": risk.number, "expires_on": locked.expires_on.isoformat()})  # fmt: skip
    return locked
