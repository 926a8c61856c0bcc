"""Writes of the workflow; each is one transaction with its audit event, keyword-only, taking the acting user.

``now`` is the workflow clock (clock.py) unless given: deadlines, feedback and escalation are rules about
the time of day in Beijing (第二十七条第1、2项), and tests set the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Set as AbstractSet
from typing import Any, BinaryIO

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core.actors import SystemActor
from handover.core.errors import DomainError, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Phase, Role, Site
from handover.org.selectors import grants_for, require
from handover.registers.models import Form, Row
from handover.registers.validation import looks_like_credential
from handover.workflow import clock, deadlines, events, notifications, paths, state, steps, storage
from handover.workflow.models import (
    CaseItem,
    CaseState,
    DeadlineOverride,
    Escalation,
    Evidence,
    ExceptionCase,
    Feedback,
    PhaseTransition,
    StepInstance,
    StepNote,
    Topic,
    WorkingGroupReport,
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
NEXT_PHASE = {Phase.PREPARATION: Phase.HANDOVER, Phase.HANDOVER: Phase.STABILISATION}
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _user(actor: Any) -> Any:
    return None if isinstance(actor, SystemActor) or actor is None else actor


def _acting_person(
    actor: Any, engagement: Engagement, site: Site | None, roles: AbstractSet[str]
) -> tuple[Person, str]:
    """The actor's person and a role among ``roles`` held at ``site`` (engagement-wide if ``site`` is None)."""
    for grant in grants_for(actor):
        if grant.engagement_id != engagement.pk or grant.role not in roles:
            continue
        if not grant.site_path or (site is not None and site.path.startswith(grant.site_path)):
            person = Person.objects.filter(engagement=engagement, user=actor, is_active=True).first()
            if person is not None:
                return person, grant.role
    names = "、".join(str(Role(r).label) for r in sorted(roles))
    raise PermissionDenied(_("Only %(roles)s may do this here.") % {"roles": names})


def _text(value: str, field: str) -> str:
    text = value.strip()
    if not text:
        raise DomainError(_("This field is required."), field=field)
    if looks_like_credential(text):
        raise DomainError(
            _("This looks like a password or other secret; never write one here (registers.md §1.3)."),
            field=field,
        )
    return text


def _step_label(step_id: str) -> str:
    return f"{step_id} {steps.BY_ID[step_id].zh}"


# Step instances and deadlines -------------------------------------------------------------------------


def _create_steps(engagement: Engagement, phase: str, now: dt.datetime) -> int:
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
    *, actor: Any, engagement: Engagement, phase: str | None = None, now: dt.datetime | None = None
) -> int:
    """Give every active site the steps of ``phase`` (default: the current one) that it lacks, by its level,
    and the engagement-level steps once. Run again after sites are added; returns how many were created."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW)
    phase = phase or engagement.phase
    with transaction.atomic():
        created = _create_steps(engagement, phase, clock.or_now(now))
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
    *, actor: Any, engagement: Engagement, step_id: str, day: int, time: str, now: dt.datetime | None = None
) -> DeadlineOverride:
    """技术组 sets when ``step_id`` is due: ``day`` days after D at ``time`` (HH:MM, Beijing time)."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW)
    if step_id not in steps.BY_ID:
        raise DomainError(_("There is no step %(step)s.") % {"step": step_id}, field="step_id")
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
            defaults={"day": day, "time": time, "updated_by": _user(actor), "updated_at": clock.or_now(now)},
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


def _require_on_step(actor: Any, step: StepInstance, capability: str) -> None:
    require(user=actor, engagement=step.engagement, capability=capability, site=step.site)
    if step.site is not None:
        return
    if not any(g.engagement_id == step.engagement_id and not g.site_path for g in grants_for(actor)) and not (
        isinstance(actor, SystemActor)
    ):
        raise PermissionDenied(_("Engagement-level steps are 技术组's."))


def step_note_add(*, actor: Any, step: StepInstance, text: str, now: dt.datetime | None = None) -> StepNote:
    """A remark on a step (what was found, what is awaited)."""
    _require_on_step(actor, step, perms.WORK_STEPS)
    clean = _text(text, "text")
    with transaction.atomic():
        note = StepNote.objects.create(
            step=step, text=clean, author=_user(actor), created_at=clock.or_now(now)
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


def _evidence_create(
    actor: Any,
    engagement: Engagement,
    name: str,
    stream: BinaryIO,
    description: str,
    now: dt.datetime,
    step: StepInstance | None = None,
) -> Evidence:
    if not name.strip():
        raise DomainError(_("The file has no name."), field="file")
    stored = storage.store(stream)
    if stored.size == 0:
        raise DomainError(_("The file %(name)s is empty.") % {"name": name}, field="file")
    return Evidence.objects.create(
        engagement=engagement,
        step=step,
        name=name.strip()[:200],
        description=description.strip()[:300],
        sha256=stored.sha256,
        size=stored.size,
        stored_as=stored.relative,
        uploaded_by=_user(actor),
        uploaded_at=now,
    )


def step_evidence_add(
    *,
    actor: Any,
    step: StepInstance,
    name: str,
    stream: BinaryIO,
    description: str = "",
    now: dt.datetime | None = None,
) -> Evidence:
    """Attach a file to a step; it is kept under the data folder by its SHA-256, recorded in the trail."""
    _require_on_step(actor, step, perms.WORK_STEPS)
    if description:
        _text(description, "description")
    with transaction.atomic():
        evidence = _evidence_create(
            actor, step.engagement, name, stream, description, clock.or_now(now), step
        )
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


def step_confirm(*, actor: Any, step: StepInstance, now: dt.datetime | None = None) -> StepInstance:
    """Confirm a step that has no output register (H-00, M-01, M-02, P-01 …) as done: it needs evidence, its
    predecessors done, and the confirmer must hold a role of the step's responsible parties."""
    spec = steps.BY_ID[step.step_id]
    _require_on_step(actor, step, perms.WORK_STEPS)
    if spec.outputs:
        raise DomainError(
            _("%(step)s is done when its registers %(regs)s are signed, not by hand.")
            % {"step": _step_label(spec.id), "regs": "、".join(f"表{n}" for n in spec.outputs)},
            field="step",
        )
    if step.confirmed_at is not None:
        raise DomainError(_("This step is confirmed already."), field="step")
    roles = set().union(*(RESPONSIBLE_ROLES.get(party, frozenset()) for party in spec.responsible))
    person, role = _acting_person(actor, step.engagement, step.site, roles)
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
    with transaction.atomic():
        StepInstance.objects.filter(pk=step.pk).update(
            confirmed_by=person, confirmed_role=role, confirmed_at=at
        )
        event_record(
            actor=actor,
            action=events.STEP_CONFIRM,
            engagement_id=step.engagement_id,
            site_id=step.site_id,
            obj=step,
            after={"step": step.step_id, "person": person.pk, "role": role},
        )
    step.confirmed_by, step.confirmed_role, step.confirmed_at = person, role, at
    return step


# Same-day feedback, escalation, reports to the working group (第二十七条第2项) ---------------------------


def feedback_record(
    *, actor: Any, step: StepInstance, reason: str, expected_at: dt.datetime, now: dt.datetime | None = None
) -> Feedback:
    """The site's 现场技术岗位 reports that a step cannot be done in time, or its content cannot be had: why,
    and when it is expected (第二十七条第2项: 现场技术岗位当日应将情况反馈至技术组)."""
    require(user=actor, engagement=step.engagement, capability=perms.REPORT_FEEDBACK, site=step.site)
    if step.site is None:
        raise DomainError(_("Same-day feedback is for a site's steps."), field="step")
    person, _role = _acting_person(actor, step.engagement, step.site, {Role.ONSITE_POST})
    clean = _text(reason, "reason")
    at = clock.or_now(now)
    if expected_at.tzinfo is None:
        expected_at = expected_at.replace(tzinfo=deadlines.BEIJING)
    if expected_at <= at:
        raise DomainError(_("The expected completion must be later than now."), field="expected_at")
    view = state.compute(engagement=step.engagement, now=at)[(step.site_id, step.step_id)]
    if view.finished:
        raise DomainError(_("This step is done; there is nothing to report."), field="step")
    with transaction.atomic():
        feedback = Feedback.objects.create(
            step=step, reason=clean, expected_at=expected_at, reported_by=person, reported_at=at
        )
        event_record(
            actor=actor,
            action=events.FEEDBACK_RECORD,
            engagement_id=step.engagement_id,
            site_id=step.site_id,
            obj=feedback,
            after={"step": step.step_id, "reason": clean, "expected_at": expected_at, "due": view.due},
        )
        notifications.notify(
            engagement=step.engagement,
            topic=Topic.FEEDBACK,
            site=step.site,
            title=_("%(site)s: %(step)s late, reported")
            % {"site": step.site.name, "step": _step_label(step.step_id)},
            body=_("%(reason)s (expected %(at)s)")
            % {"reason": clean, "at": f"{expected_at.astimezone(deadlines.BEIJING):%m-%d %H:%M}"},
            link=f"/w/{step.engagement.code}/steps/{step.pk}/",
            summary_title=_("A site reported a late step"),
            now=at,
        )
    return feedback


def escalations_raise(
    *, actor: Any, engagement: Engagement, now: dt.datetime | None = None
) -> list[Escalation]:
    """Raise to 技术组 every site step overdue with no feedback by the end of the day it fell due."""
    at = clock.or_now(now)
    views = state.compute(engagement=engagement, now=at)
    late = [v for v in views.values() if v.needs_escalation]
    raised: list[Escalation] = []
    with transaction.atomic():
        for view in late:
            assert view.due is not None
            escalation = Escalation.objects.create(step_id=view.instance_id, raised_at=at, due_at=view.due)
            event_record(
                actor=actor,
                action=events.ESCALATION_RAISE,
                engagement_id=engagement.pk,
                site_id=view.site_id,
                obj=escalation,
                after={"step": view.step.id, "due": view.due},
            )
            raised.append(escalation)
        if raised:
            notifications.notify(
                engagement=engagement,
                topic=Topic.ESCALATION,
                title=_("%(n)d late steps without same-day feedback") % {"n": len(raised)},
                body="\n".join(sorted(f"{v.site_id} {v.step.id}" for v in late)),
                link=f"/w/{engagement.code}/",
                now=at,
            )
    return raised


def wg_report_record(
    *,
    actor: Any,
    engagement: Engagement,
    text: str,
    feedback: list[Feedback] | None = None,
    escalations: list[Escalation] | None = None,
    now: dt.datetime | None = None,
) -> WorkingGroupReport:
    """技术组 records its report to 托管工作组 and which feedback and escalations it covered."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW)
    person, _role = _acting_person(actor, engagement, None, {Role.TECH_GROUP})
    clean = _text(text, "text")
    feedback, escalations = feedback or [], escalations or []
    if any(f.step.engagement_id != engagement.pk for f in feedback) or any(
        e.step.engagement_id != engagement.pk for e in escalations
    ):
        raise DomainError(
            _("A report covers only this engagement's feedback and escalations."), field="items"
        )
    with transaction.atomic():
        report = WorkingGroupReport.objects.create(
            engagement=engagement, text=clean, reported_by=person, reported_at=clock.or_now(now)
        )
        Feedback.objects.filter(pk__in=[f.pk for f in feedback]).update(wg_report=report)
        Escalation.objects.filter(pk__in=[e.pk for e in escalations]).update(wg_report=report)
        event_record(
            actor=actor,
            action=events.WG_REPORT,
            engagement_id=engagement.pk,
            obj=report,
            after={
                "text": clean,
                "feedback": [f.pk for f in feedback],
                "escalations": [e.pk for e in escalations],
            },
        )
    return report


# Phases (第五条) ----------------------------------------------------------------------------------------


def _signed_t24(engagement: Engagement) -> Form | None:
    return (
        Form.objects.filter(engagement=engagement, register_no=24, is_current=True, state__in=state.SIGNED)
        .order_by("-pk")
        .first()
    )


def phase_transition(
    *, actor: Any, engagement: Engagement, to_phase: str, reason: str, now: dt.datetime | None = None
) -> PhaseTransition:
    """Move the engagement to its next phase, signed by the acting 技术组 member with a reason:
    准备期 → 交接期 on the disposal date D; 交接期 → 稳定期 only once a 表24 form is signed (第二十七条第4项).
    The new phase's steps are created for every site."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW)
    person, _role = _acting_person(actor, engagement, None, {Role.TECH_GROUP})
    current = engagement.phase
    if NEXT_PHASE.get(Phase(current)) != to_phase:
        raise DomainError(
            _("From %(current)s the engagement can only move to the next phase.")
            % {"current": Phase(current).label},
            field="to_phase",
        )
    clean = _text(reason, "reason")
    at = clock.or_now(now)
    basis = None
    if to_phase == Phase.HANDOVER and at.astimezone(deadlines.BEIJING).date() < engagement.disposal_date:
        raise DomainError(
            _("The handover starts on the disposal date %(d)s, not before.")
            % {"d": engagement.disposal_date},
            field="to_phase",
        )
    if to_phase == Phase.STABILISATION:
        basis = _signed_t24(engagement)
        if basis is None:
            raise DomainError(
                _("表24 is not signed yet: the stabilisation starts once the working group has approved it."),
                field="to_phase",
            )
    with transaction.atomic():
        Engagement.objects.filter(pk=engagement.pk).update(phase=to_phase)
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
        created = _create_steps(engagement, to_phase, at)
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
        notifications.notify(
            engagement=engagement,
            topic=Topic.PHASE,
            title=_("%(code)s is now in the %(phase)s")
            % {"code": engagement.code_name, "phase": Phase(to_phase).label},
            body=clean,
            link=f"/w/{engagement.code}/",
            now=at,
        )
    return transition


# Exception paths (第二十八条) ------------------------------------------------------------------------------


def _check_source(path: paths.Path, source_row: Row | None, engagement: Engagement) -> None:
    if source_row is None:
        if path.id in paths.SOURCED:
            raise DomainError(
                _("%(path)s starts from the register row where the problem shows (表%(regs)s).")
                % {"path": path.id, "regs": "、表".join(map(str, path.sources))},
                field="source_row",
            )
        return
    form = source_row.form
    if form.engagement_id != engagement.pk:
        raise DomainError(_("That row belongs to another engagement."), field="source_row")
    if form.register_no not in path.sources:
        raise DomainError(
            _("%(path)s starts from a row of 表%(regs)s, not of 表%(n)d.")
            % {"path": path.id, "regs": "、表".join(map(str, path.sources)), "n": form.register_no},
            field="source_row",
        )


def case_open(
    *,
    actor: Any,
    engagement: Engagement,
    path_id: str,
    description: str,
    site: Site | None = None,
    source_row: Row | None = None,
    sub_type: str = "",
    now: dt.datetime | None = None,
) -> ExceptionCase:
    """Start an exception path from the register row where the problem shows (a failed 表10 test starts E01);
    the site is the row's. E11/E12 belong to 稳定期 and need no source row."""
    path = paths.BY_ID.get(path_id)
    if path is None:
        raise DomainError(_("There is no exception path %(id)s.") % {"id": path_id}, field="path_id")
    _check_source(path, source_row, engagement)
    if source_row is not None:
        if site is not None and site.pk != source_row.form.site_id:
            raise DomainError(_("The row is from another site."), field="source_row")
        site = source_row.form.site
    if site is None or site.engagement_id != engagement.pk:
        raise DomainError(_("Choose the site where the problem shows."), field="site")
    require(user=actor, engagement=engagement, capability=perms.HANDLE_EXCEPTIONS, site=site)
    if engagement.phase == Phase.PREPARATION or (
        path.id in paths.STABILISATION_ONLY and engagement.phase != Phase.STABILISATION
    ):
        raise DomainError(
            _("%(path)s is not a path of the %(phase)s.")
            % {"path": path.id, "phase": Phase(engagement.phase).label},
            field="path_id",
        )
    if path.sub_types and sub_type not in path.sub_types:
        raise DomainError(
            _("Choose the sub-type: %(types)s.") % {"types": "、".join(path.sub_types)}, field="sub_type"
        )
    if not path.sub_types and sub_type:
        raise DomainError(_("%(path)s has no sub-types.") % {"path": path.id}, field="sub_type")
    clean = _text(description, "description")
    with transaction.atomic():
        case = ExceptionCase.objects.create(
            engagement=engagement,
            site=site,
            path_id=path.id,
            sub_type=sub_type,
            source_row=source_row,
            description=clean,
            opened_by=_user(actor),
            opened_at=clock.or_now(now),
        )
        event_record(
            actor=actor,
            action=events.CASE_OPEN,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=case,
            after={
                "path": path.id,
                "sub_type": sub_type,
                "source_row": source_row.pk if source_row else None,
                "description": clean,
            },
        )
        notifications.notify(
            engagement=engagement,
            topic=Topic.CASE_OPEN,
            site=site,
            title=_("%(site)s: %(path)s started") % {"site": site.name, "path": f"{path.id} {path.zh}"},
            body=clean,
            link=f"/w/{engagement.code}/exceptions/{case.pk}/",
            summary_title=_("Exception path %(path)s started") % {"path": f"{path.id} {path.zh}"},
            now=case.opened_at,
        )
    return case


def _done(case: ExceptionCase) -> dict[str, str]:
    return dict(case.items.values_list("key", "record"))


def _refusal_message(path: paths.Path, key: str, refusal: str) -> str:
    kind, _sep, detail = refusal.partition(":")
    if path.id == "E02" and key == "crack" and kind == "after":
        return _(
            "Cracking needs the working group's consent first: record it under 「取得托管工作组同意」 "
            "(第二十八条第2项)."
        )
    if kind == "after":
        names = "、".join(path.item(k).zh for k in detail.split(","))
        return _("Do this first: %(items)s.") % {"items": names}
    if kind == "record" and detail == "courier_no":
        return _("Enter the courier's waybill number (第二十八条第8项: 采用快递方式).")
    if kind == "record" and detail == "consent":
        return _("Enter the reference of the working group's consent (letter or minutes number).")
    if kind == "record":
        return _("Name the developer or technical body that gave support.")
    return _("This item belongs to the other case of %(path)s, not to %(sub)s.") % {
        "path": path.id,
        "sub": detail,
    }


def _open_case(case: ExceptionCase) -> None:
    if case.state != CaseState.OPEN:
        raise DomainError(_("This exception case is closed."), field="case")


def case_tick(
    *,
    actor: Any,
    case: ExceptionCase,
    key: str,
    record: str = "",
    note: str = "",
    file_name: str = "",
    stream: BinaryIO | None = None,
    now: dt.datetime | None = None,
) -> CaseItem:
    """Record a prescribed item of the path as done, with the record it needs; the order of the path holds."""
    require(user=actor, engagement=case.engagement, capability=perms.HANDLE_EXCEPTIONS, site=case.site)
    _open_case(case)
    path = paths.BY_ID[case.path_id]
    if key == paths.CLOSE or key not in {item.key for item in path.items}:
        raise DomainError(_("Choose an item of this path's checklist."), field="key")
    done = _done(case)
    if key in done:
        raise DomainError(_("This item is done already."), field="key")
    item = path.item(key)
    clean_record = _text(record, "record") if record.strip() else ""
    refusal = paths.next_refusal(
        path.id, set(done), key, {item.record: clean_record} if item.record else {}, case.sub_type
    )
    if refusal:
        raise DomainError(
            _refusal_message(path, key, refusal), field="record" if "record" in refusal else "key"
        )
    clean_note = _text(note, "note") if note.strip() else ""
    at = clock.or_now(now)
    with transaction.atomic():
        evidence = (
            _evidence_create(actor, case.engagement, file_name, stream, item.zh, at)
            if stream is not None
            else None
        )
        entry = CaseItem.objects.create(
            case=case,
            key=key,
            record=clean_record,
            note=clean_note,
            evidence=evidence,
            done_by=_user(actor),
            done_at=at,
        )
        event_record(
            actor=actor,
            action=events.CASE_TICK,
            engagement_id=case.engagement_id,
            site_id=case.site_id,
            obj=entry,
            after={
                "case": case.pk,
                "key": key,
                "record": clean_record,
                "note": clean_note,
                "evidence": evidence.sha256 if evidence else None,
            },
        )
    return entry


def case_link_t39(
    *, actor: Any, case: ExceptionCase, row: Row, now: dt.datetime | None = None
) -> ExceptionCase:
    """Name the 表39 entry that ends the path: a row of 表39 at the case's site, of the case's type."""
    require(user=actor, engagement=case.engagement, capability=perms.HANDLE_EXCEPTIONS, site=case.site)
    _open_case(case)
    form = row.form
    if form.register_no != 39 or form.engagement_id != case.engagement_id:
        raise DomainError(_("Choose a row of 表39 of this engagement."), field="row")
    if form.site_id != case.site_id:
        raise DomainError(_("The 表39 entry must be the case's site's."), field="row")
    exc_type = str(row.data.get("exc_type", ""))
    if not exc_type.startswith(case.path_id):
        raise DomainError(
            _("The 表39 entry is of type %(got)s, the case is %(path)s.")
            % {"got": exc_type or "-", "path": case.path_id},
            field="row",
        )
    if case.sub_type and row.data.get("sub_type") != case.sub_type:
        raise DomainError(
            _("The 表39 entry's sub-type is %(got)s, the case's %(sub)s.")
            % {"got": row.data.get("sub_type") or "-", "sub": case.sub_type},
            field="row",
        )
    ref = row.data.get("source_row_ref")
    if case.source_row_id and ref and int(ref) != case.source_row_id:
        raise DomainError(
            _("The 表39 entry names source row %(ref)s, the case started from row %(row)s.")
            % {"ref": ref, "row": case.source_row_id},
            field="row",
        )
    with transaction.atomic():
        before = case.t39_row_id
        ExceptionCase.objects.filter(pk=case.pk).update(t39_row=row)
        case.t39_row = row
        event_record(
            actor=actor,
            action=events.CASE_LINK_T39,
            engagement_id=case.engagement_id,
            site_id=case.site_id,
            obj=case,
            before={"t39_row": before},
            after={"t39_row": row.pk, "form": form.form_no, "seq": row.seq},
        )
    return case


def current_t39(case: ExceptionCase) -> Row | None:
    """The current version of the case's 表39 row (a corrected form or row replaces the linked one)."""
    if case.t39_row is None:
        return None
    linked = case.t39_row
    return (
        Row.objects.filter(
            form__engagement_id=case.engagement_id,
            form__form_no=linked.form.form_no,
            form__is_current=True,
            seq=linked.seq,
            is_current=True,
        )
        .select_related("form")
        .first()
    )


def _close_refusal(case: ExceptionCase, done: dict[str, str]) -> str:
    path = paths.BY_ID[case.path_id]
    missing = paths.required_open(path.id, set(done), case.sub_type)
    refusal = paths.next_refusal(path.id, set(done), paths.CLOSE, {}, case.sub_type)
    if missing or refusal:
        keys = missing or tuple(refusal.partition(":")[2].split(","))
        return _("Do these first: %(items)s.") % {"items": "、".join(path.item(k).zh for k in keys)}
    row = current_t39(case)
    if row is None:
        return _("Link the 表39 entry first: every exception ends in 表39, reported to 技术组 (第二十八条).")
    if row.form.state not in state.SIGNED:
        return _("The 表39 form %(no)s is not signed yet.") % {"no": row.form.form_no}
    if not row.data.get("reported_tg_at"):
        return _("The 表39 entry has no 上报技术组 time: report it to 技术组 first.")
    if (path.report_wg or "report_wg_tamper" in done) and not row.data.get("reported_wg_at"):
        return _(
            "The 表39 entry has no 上报托管工作组 time: this path must be reported to the working group."
        )
    return ""


def case_close(*, actor: Any, case: ExceptionCase, now: dt.datetime | None = None) -> ExceptionCase:
    """Close the path: its items done and its 表39 entry signed and reported to 技术组 (第二十八条)."""
    require(user=actor, engagement=case.engagement, capability=perms.HANDLE_EXCEPTIONS, site=case.site)
    _open_case(case)
    refusal = _close_refusal(case, _done(case))
    if refusal:
        raise DomainError(refusal, field="case")
    at = clock.or_now(now)
    row = current_t39(case)
    assert row is not None
    with transaction.atomic():
        CaseItem.objects.create(
            case=case, key=paths.CLOSE, record=row.form.form_no, done_by=_user(actor), done_at=at
        )
        ExceptionCase.objects.filter(pk=case.pk).update(
            state=CaseState.CLOSED, closed_at=at, closed_by=_user(actor), t39_row=row
        )
        event_record(
            actor=actor,
            action=events.CASE_CLOSE,
            engagement_id=case.engagement_id,
            site_id=case.site_id,
            obj=case,
            before={"state": CaseState.OPEN},
            after={
                "state": CaseState.CLOSED,
                "t39_form": row.form.form_no,
                "t39_seq": row.seq,
                "reported_tg_at": row.data.get("reported_tg_at"),
            },
        )
        notifications.notify(
            engagement=case.engagement,
            topic=Topic.CASE_CLOSE,
            site=case.site,
            title=_("%(site)s: %(path)s closed with 表39 %(no)s")
            % {"site": case.site.name, "path": case.path_id, "no": row.form.form_no},
            link=f"/w/{case.engagement.code}/exceptions/{case.pk}/",
            summary_title=_("Exception path %(path)s closed") % {"path": case.path_id},
            now=at,
        )
    case.state, case.closed_at, case.t39_row = CaseState.CLOSED, at, row
    return case


def close_refusal(case: ExceptionCase) -> str:
    """Why the case cannot close now ("" when it can), for the page to show before anyone tries."""
    return "" if case.state != CaseState.OPEN else _close_refusal(case, _done(case))
