"""Writes to engagements: creating one, and reading its confidential firm name as a recorded read (第十一条)."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record, snapshot
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import events
from handover.org.models import (
    Engagement,
    Phase,
)
from handover.org.selectors import firm_name_visible


def firm_name_reveal(*, actor: Actor, engagement: Engagement) -> str | None:
    """The firm's real name for a member who may see it, with its audit event; None for anyone else (no event).

    第十一条: before the disposal the firm is known by a code name, and its real name is confidential to the
    engagement's members. Reading it is a sensitive read (DESIGN.md decision 3), recorded whichever face asks."""
    if not firm_name_visible(user=actor, engagement=engagement):
        return None
    with transaction.atomic():
        event_record(
            actor=actor, action=events.ENGAGEMENT_VIEW_FIRM, engagement_id=engagement.pk, obj=engagement
        )
    return engagement.firm_name


def engagement_create(
    *,
    actor: Actor,
    code: str,
    code_name: str,
    firm_name: str,
    custodian_name: str,
    disposal_date: date,
    phase: str = Phase.PREPARATION,
) -> Engagement:
    """Open an engagement. Creating one is a deployment-level act (command line or a superuser)."""
    if Engagement.objects.filter(code=code).exists():
        raise DomainError(
            _("An engagement with the code %(code)s exists already.") % {"code": code}, field="code"
        )
    if Engagement.objects.filter(code_name=code_name).exists():
        raise DomainError(
            _("An engagement with the code name %(name)s exists already.") % {"name": code_name},
            field="code_name",
        )
    with transaction.atomic():
        engagement = Engagement.objects.create(
            code=code,
            code_name=code_name,
            firm_name=firm_name,
            custodian_name=custodian_name,
            disposal_date=disposal_date,
            phase=phase,
        )
        # 第十一条: the firm's name is confidential, so it is not copied into the trail.
        event_record(
            actor=actor,
            action=events.ENGAGEMENT_CREATE,
            engagement_id=engagement.pk,
            obj=engagement,
            after=snapshot(engagement, ["code", "code_name", "disposal_date", "phase"]),
        )
    return engagement
