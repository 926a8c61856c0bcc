"""Step instances, deadlines, notes, evidence and confirmation."""

from __future__ import annotations

import datetime as dt
import re
from typing import BinaryIO

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor, SystemActor
from handover.core.errors import DomainError, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Role, Site
from handover.org.selectors import grants_for, require
from handover.workflow import deadlines, events, state, steps
from handover.workflow.models import DeadlineOverride, Evidence, StepInstance, StepNote
from handover.workflow.services.common import (
    acting_person,
    clean_text,
    evidence_create,
    step_label,
    user_or_none,
)

# registers.md §1.1: the roles that act for each responsible party when a step is confirmed by hand. At a
# site, the 现场技术岗位 acts for 技术组 (第十三条, 第十六条: the custodian's post on the spot).
RESPONSIBLE_ROLES: dict[str, frozenset[str]] = {
    "托管机构": frozenset({Role.TECH_GROUP, Role.ONSITE_POST}),
    "技": frozenset({Role.TECH_GROUP, Role.ONSITE_POST}),
    "现": frozenset({Role.ONSITE_POST}),
    "被": frozenset({Role.FIRM_IT}),
    "财": frozenset({Role.FIRM_FINANCE}),
}
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


# Step instances and deadlines -------------------------------------------------------------------------


def create_steps(engagement: Engagement, phase: str, now: dt.datetime) -> int:
    have = set(
        StepInstance.objects.filter(engagement=engagement, phase=phase).values_list("site_id", "step_id")
    )
    new: list[StepInstance] = []
    for step in steps.for_phase(phase):
        if not step.per_site and (None, step.id) not in have:
            new.append(
                StepInstance(engagement=engagement, site=None, step_id=step.id, phase=phase, created_at=now)
            )
    for site in Site.objects.filter(engagement=engagement, is_active=True).only("pk", "level"):
        for step in steps.for_site_level(phase, site.level):
            if (site.pk, step.id) not in have:
                new.append(
                    StepInstance(
                        engagement=engagement, site=site, step_id=step.id, phase=phase, created_at=now
                    )
                )
    StepInstance.objects.bulk_create(new, batch_size=500)
    return len(new)


def phase_steps_create(
    *, actor: Actor, engagement: Engagement, phase: str | None = None, now: dt.datetime | None = None
) -> int:
    """Give every active site the steps of ``phase`` (default: the current one) that it lacks, by its level,
    and the engagement-level steps once. Run again after sites are added; returns how many were created."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW)
    phase = phase or engagement.phase
    with transaction.atomic():
        created = create_steps(engagement, phase, clock.or_now(now))
        if created:
            event_record(
                actor=actor,
                action=events.STEPS_CREATE,
                engagement_id=engagement.pk,
                obj=engagement,
                after={"phase": phase, "created": created},
            )
    return created


def deadline_set(
    *, actor: Actor, engagement: Engagement, step_id: str, day: int, time: str, now: dt.datetime | None = None
) -> DeadlineOverride:
    """技术组 sets when ``step_id`` is due: ``day`` days after D at ``time`` (HH:MM, Beijing time)."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW)
    if step_id not in steps.BY_ID:
        raise DomainError(_("There is no step %(step)s.") % {"step": step_id}, field="step_id")
    if steps.BY_ID[step_id].derived:
        raise DomainError(
            _("%(step)s has no deadline of its own: it follows the site's other steps.") % {"step": step_id},
            field="step_id",
        )
    if not _TIME.match(time):
        raise DomainError(_("Enter the time as HH:MM, e.g. 20:00."), field="time")
    if not -60 <= day <= 60:
        raise DomainError(_("Enter a day between D-60 and D+60."), field="day")
    with transaction.atomic():
        before = DeadlineOverride.objects.filter(engagement=engagement, step_id=step_id).first()
        old = deadlines.due_at(step_id, engagement.disposal_date, state.overrides_of(engagement))
        override, _created = DeadlineOverride.objects.update_or_create(
            engagement=engagement,
            step_id=step_id,
            defaults={
                "day": day,
                "time": time,
                "updated_by": user_or_none(actor),
                "updated_at": clock.or_now(now),
            },
        )
        event_record(
            actor=actor,
            action=events.DEADLINE_SET,
            engagement_id=engagement.pk,
            obj=override,
            before={"step": step_id, "due": old, "override": bool(before)},
            after={"step": step_id, "day": day, "time": time},
        )
    return override


# Notes, evidence, confirmation ------------------------------------------------------------------------


def _require_on_step(actor: Actor, step: StepInstance, capability: str) -> None:
    require(user=actor, engagement=step.engagement, capability=capability, site=step.site)
    if step.site is not None:
        return
    if not any(g.engagement_id == step.engagement_id and not g.site_path for g in grants_for(actor)) and not (
        isinstance(actor, SystemActor)
    ):
        raise PermissionDenied(_("Engagement-level steps are 技术组's."))


def step_note_add(*, actor: Actor, step: StepInstance, text: str, now: dt.datetime | None = None) -> StepNote:
    """A remark on a step (what was found, what is awaited)."""
    _require_on_step(actor, step, perms.WORK_STEPS)
    clean = clean_text(text, "text")
    with transaction.atomic():
        note = StepNote.objects.create(
            step=step, text=clean, author=user_or_none(actor), created_at=clock.or_now(now)
        )
        event_record(
            actor=actor,
            action=events.STEP_NOTE,
            engagement_id=step.engagement_id,
            site_id=step.site_id,
            obj=note,
            after={"step": step.step_id, "text": clean},
        )
    return note


def step_evidence_add(
    *,
    actor: Actor,
    step: StepInstance,
    name: str,
    stream: BinaryIO,
    description: str = "",
    now: dt.datetime | None = None,
) -> Evidence:
    """Attach a file to a step; it is kept under the data folder by its SHA-256, recorded in the trail."""
    _require_on_step(actor, step, perms.WORK_STEPS)
    if description:
        clean_text(description, "description")
    with transaction.atomic():
        evidence = evidence_create(actor, step.engagement, name, stream, description, clock.or_now(now), step)
        event_record(
            actor=actor,
            action=events.STEP_EVIDENCE,
            engagement_id=step.engagement_id,
            site_id=step.site_id,
            obj=evidence,
            after={
                "step": step.step_id,
                "name": evidence.name,
                "sha256": evidence.sha256,
                "size": evidence.size,
            },
        )
    return evidence


def step_confirm(
    *, actor: Actor, step: StepInstance, note: str = "", now: dt.datetime | None = None
) -> StepInstance:
    """Confirm a step that has no output register (H-00, M-01, M-02, P-01 …) as done: it needs evidence, its
    predecessors done, and the confirmer must hold a role of the step's responsible parties. A ``note``
    (what was done, where the record is) is kept with the step in the same transaction."""
    spec = steps.BY_ID[step.step_id]
    _require_on_step(actor, step, perms.WORK_STEPS)
    if spec.derived:
        raise DomainError(
            _("%(step)s follows the site's other steps (第二十七条); it is not confirmed by hand.")
            % {"step": step_label(spec.id)},
            field="step",
        )
    clean_note = clean_text(note, "note") if note.strip() else ""
    if spec.outputs:
        raise DomainError(
            _("%(step)s is done when its registers %(regs)s are signed, not by hand.")
            % {"step": step_label(spec.id), "regs": "、".join(f"表{n}" for n in spec.outputs)},
            field="step",
        )
    if step.confirmed_at is not None:
        raise DomainError(_("This step is confirmed already."), field="step")
    roles = set().union(*(RESPONSIBLE_ROLES.get(party, frozenset()) for party in spec.responsible))
    person, role = acting_person(actor, step.engagement, step.site, roles)
    if not step.evidence.exists():
        raise DomainError(
            _("Attach the evidence (a record, a photo, minutes) before confirming."), field="file"
        )
    at = clock.or_now(now)
    view = state.compute(engagement=step.engagement, now=at)[(step.site_id, step.step_id)]
    if view.waiting_for:
        raise DomainError(
            _("Finish %(steps)s first (附件二 order).") % {"steps": "、".join(view.waiting_for)}, field="step"
        )
    if view.gate_reasons:  # 第二十七条第5项: a register rule that blocks a step blocks its confirmation too
        raise DomainError(
            _("A register rule blocks this step: %(reasons)s") % {"reasons": "；".join(view.gate_reasons)},
            field="step",
        )
    if spec.dual_signature:
        first = _first_confirmation(step, spec, person, role)
        if first:
            return _confirm_first(actor, step, person, role, at, clean_note)
    with transaction.atomic():
        confirmed = StepInstance.objects.filter(pk=step.pk, confirmed_at__isnull=True).update(
            confirmed_by=person, confirmed_role=role, confirmed_at=at
        )
        if not confirmed:
            raise DomainError(_("This step is confirmed already."), field="step")
        _confirmation_recorded(actor, step, person, role, at, clean_note, second=spec.dual_signature)
    step.confirmed_by, step.confirmed_role, step.confirmed_at = person, role, at
    return step


def _first_confirmation(step: StepInstance, spec: steps.Step, person: Person, role: str) -> bool:
    """第八条 重要操作双重签字 for a step confirmed by hand: whether ``person`` gives the first of its two
    confirmations; refuses a second by the same person, or of the same side where the step's responsible
    parties are of both sides (M-02: 被托管技术方 hands the seal over, the custodian's keeper takes it)."""
    if step.first_confirmed_at is None:
        return True
    if step.first_confirmed_by_id == person.pk:
        raise DomainError(
            _(
                "You gave this step's first confirmation: a second person confirms it (第八条, dual signature)."
            ),
            field="step",
        )
    sides = {
        _side_of_role(r) for party in spec.responsible for r in RESPONSIBLE_ROLES.get(party, frozenset())
    }
    if len(sides) > 1 and _side_of_role(role) == _side_of_role(step.first_confirmed_role):
        raise DomainError(
            _(
                "The first confirmation came from your side: the second comes from the other party (第八条: "
                "托管方监督，被托管方执行)."
            ),
            field="step",
        )
    return False


def _side_of_role(role: str) -> str:
    return "custodian" if role in (Role.TECH_GROUP, Role.ONSITE_POST) else "firm"


def _confirm_first(
    actor: Actor, step: StepInstance, person: Person, role: str, at: dt.datetime, note: str
) -> StepInstance:
    with transaction.atomic():
        taken = StepInstance.objects.filter(pk=step.pk, first_confirmed_at__isnull=True).update(
            first_confirmed_by=person, first_confirmed_role=role, first_confirmed_at=at
        )
        if not taken:
            raise DomainError(_("Someone has just confirmed this step; reload the page."), field="step")
        _confirmation_recorded(actor, step, person, role, at, note, first=True)
    step.first_confirmed_by, step.first_confirmed_role, step.first_confirmed_at = person, role, at
    return step


def _confirmation_recorded(
    actor: Actor, step: StepInstance, person: Person, role: str, at: dt.datetime, note: str, *,
    first: bool = False, second: bool = False,
) -> None:  # fmt: skip
    if note:
        StepNote.objects.create(step=step, text=note, author=user_or_none(actor), created_at=at)
    event_record(
        actor=actor,
        action=events.STEP_CONFIRM,
        engagement_id=step.engagement_id,
        site_id=step.site_id,
        obj=step,
        after={
            "step": step.step_id,
            "person": person.pk,
            "role": role,
            **({"confirmation": "first"} if first else {"confirmation": "second"} if second else {}),
            **({"note": note} if note else {}),
        },
    )
