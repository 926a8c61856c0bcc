"""Moving an engagement to its next phase (第五条)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.notifications.links import Link
from handover.notifications.services import notify
from handover.org import permissions as perms
from handover.org.models import Engagement, Phase, Role
from handover.org.selectors import require
from handover.registers.models import Form
from handover.workflow import deadlines, events, gates, topics
from handover.workflow.models import PhaseTransition
from handover.workflow.services.common import acting_person, clean_text
from handover.workflow.services.steps import create_steps

NEXT_PHASE = {Phase.PREPARATION: Phase.HANDOVER, Phase.HANDOVER: Phase.STABILISATION}

# Phases (第五条) ----------------------------------------------------------------------------------------


# The phase gate of 交接期 → 稳定期 (第二十七条第4项: 技术组编制表24, 报托管工作组审批). The approval is recorded on a
# handover package, which the reports app (built on this one) owns: it plugs its answer in here from its
# AppConfig.ready, so the workflow never imports it (review §2). With none plugged in, no 表24 counts as
# approved and the stabilisation cannot start: the gate fails closed.
ApprovedTable24 = Callable[[Engagement], Form | None]
_approved_table24: list[ApprovedTable24] = []


def approved_table24_answer(source: ApprovedTable24) -> None:
    """Plug in the one answer to "which signed, current 表24 did 托管工作组 approve?" (reports/apps.py)."""
    _approved_table24[:] = [source]


def _approved_t24(engagement: Engagement) -> Form | None:
    return _approved_table24[0](engagement) if _approved_table24 else None


def phase_transition(
    *, actor: Actor, engagement: Engagement, to_phase: str, reason: str, now: dt.datetime | None = None
) -> PhaseTransition:
    """Move the engagement to its next phase, signed by the acting 技术组 member with a reason:
    准备期 → 交接期 on the disposal date D; 交接期 → 稳定期 only once a 表24 form is signed (第二十七条第4项).
    The new phase's steps are created for every site."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW)
    person, _role = acting_person(actor, engagement, None, {Role.TECH_GROUP})
    current = engagement.phase
    if NEXT_PHASE.get(Phase(current)) != to_phase:
        raise DomainError(
            _("From %(current)s the engagement can only move to the next phase.")
            % {"current": Phase(current).label},
            field="to_phase",
        )
    clean = clean_text(reason, "reason")
    at = clock.or_now(now)
    basis = None
    if to_phase == Phase.HANDOVER and at.astimezone(deadlines.BEIJING).date() < engagement.disposal_date:
        raise DomainError(
            _("The handover starts on the disposal date %(d)s, not before.")
            % {"d": engagement.disposal_date},
            field="to_phase",
        )
    if to_phase == Phase.STABILISATION:
        # 第二十七条第3项 「交接工作完成之后」: 稳定期 does not start over an exception path still open (第二十八条).
        still_open = gates.open_case_labels(engagement)
        if still_open:
            raise DomainError(gates.open_cases_refusal(still_open), field="to_phase")
        basis = _approved_t24(engagement)
        if basis is None:
            raise DomainError(
                _(
                    "No approved 表24 yet: the stabilisation starts once a handover package with the signed 表24"
                    " is built and the working group's approval of it is recorded."
                ),
                field="to_phase",
            )
    with transaction.atomic():
        # Compare and set: of two 技术组 members moving the engagement at once, only one moves it.
        if not Engagement.objects.filter(pk=engagement.pk, phase=current).update(phase=to_phase):
            raise DomainError(
                _("Someone else has just changed the phase; reload the page."), field="to_phase"
            )
        engagement.phase = to_phase
        transition = PhaseTransition.objects.create(
            engagement=engagement,
            from_phase=current,
            to_phase=to_phase,
            reason=clean,
            signed_by=person,
            signed_at=at,
            basis_form=basis,
        )
        created = create_steps(engagement, to_phase, at)
        event_record(
            actor=actor,
            action=events.PHASE_TRANSITION,
            engagement_id=engagement.pk,
            obj=transition,
            before={"phase": current},
            after={
                "phase": to_phase,
                "reason": clean,
                "signed_by": person.pk,
                "steps_created": created,
                "basis_form": basis.form_no if basis else None,
            },
        )
        notify(
            actor=actor,
            engagement=engagement,
            topic=topics.PHASE,
            title=_("%(code)s is now in the %(phase)s")
            % {"code": engagement.code_name, "phase": Phase(to_phase).label},
            body=clean,
            link=Link("workflow:overview", code=engagement.code),
            now=at,
        )
    return transition
