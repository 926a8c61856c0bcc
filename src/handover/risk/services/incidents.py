"""Writes of incidents (measures 三(四)三): record and grade, report, restore, tell related parties, link
表39/表40, and the clock check the worker runs at every start and on schedule.

Every deadline is an absolute instant stored on a ReportClock when the incident is recorded (or, for the
updates owed while a trading system stays down, when the previous update falls due). The check compares
them with the time it runs, so a clock that passed while the worker was stopped is escalated at its next
start: the stamps (``reminded_at``, ``escalated_at``) make each reminder and escalation happen once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.calendar import CalendarError
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Organisation
from handover.registers.models import Row
from handover.risk import events, rules
from handover.risk.deadlines import after_working_days
from handover.risk.models import (
    ClockKind,
    EntryKind,
    Grade,
    Incident,
    IncidentState,
    PartyNotice,
    ReportClock,
    TimelineEntry,
)
from handover.risk.notify import ESCALATION, REMINDER, Link, tell
from handover.risk.services.common import allowed, register_row, who
from handover.workflow.deadlines import BEIJING

MAX_CATCH_UP = 48  # passes of one check: updates missed during a long stop, each escalated on its own


def _measures(
    system_class: Any, down_minutes: Any, affected_pct: Any, leaked_records: Any
) -> tuple[int, int, Decimal, int]:
    try:
        klass = int(system_class)
    except (TypeError, ValueError):
        klass = 0
    if not 1 <= klass <= 5:
        raise DomainError(_("Give the system class as a number from 1 to 5 (五类 is the most important)."),
                          field="system_class")  # fmt: skip
    try:
        minutes, leaked = int(down_minutes or 0), int(leaked_records or 0)
    except (TypeError, ValueError):
        raise DomainError(_("Minutes and leaked records are whole numbers."), field="down_minutes") from None
    if minutes < 0 or leaked < 0:
        raise DomainError(_("Minutes and leaked records cannot be negative."), field="down_minutes")
    try:
        pct = Decimal(str(affected_pct or 0))
    except InvalidOperation:
        pct = Decimal(-1)
    if not Decimal(0) <= pct <= Decimal(100):
        raise DomainError(
            _("The share of users affected is a percentage from 0 to 100."), field="affected_pct"
        )
    return klass, minutes, pct, leaked


def _entry(incident: Incident, kind: str, at: dt.datetime, text: str, by: str) -> TimelineEntry:
    return TimelineEntry.objects.create(incident=incident, kind=kind, at=at, text=text, by_name=by)


def _apply_grade(incident: Incident, ruleset: rules.RuleSet) -> rules.GradeRule:
    rule = rules.grade_of(ruleset, system_class=incident.system_class, minutes=incident.down_minutes,
                          pct=incident.affected_pct, leaked=incident.leaked_records)  # fmt: skip
    incident.grade, incident.grade_rule = rule.grade, rule.source[:300]
    incident.grading_version = ruleset.version
    return rule


def _clocks_create(incident: Incident, ruleset: rules.RuleSet) -> str:
    """The clocks of a new incident; returns a warning when the holiday data did not cover the deadline (the
    incident is recorded all the same: a deadline counted on weekdays only beats no incident at all)."""
    c, start, warning = ruleset.clocks, incident.detected_at, ""
    days = c.investigation_working_days
    try:
        investigation = after_working_days(start, days, day_end=c.day_end)
    except CalendarError as exc:
        investigation = after_working_days(start, days, day_end=c.day_end, weekdays_only=True)
        warning = _("Working days counted Monday to Friday only, holidays not known (%(problem)s): check the "
                    "investigation report's deadline.") % {"problem": exc}  # fmt: skip
    owed = [
        (ClockKind.IMMEDIATE, start + dt.timedelta(minutes=c.immediate_minutes), c.source),
        (ClockKind.WRITTEN, start + dt.timedelta(hours=c.written_hours), c.source),
        (ClockKind.INVESTIGATION, investigation, f"{c.source} {warning}".strip()),
    ]
    if incident.trading_system:
        owed.append((ClockKind.UPDATE, start + dt.timedelta(minutes=c.update_after_minutes), c.source))
    ReportClock.objects.bulk_create(
        ReportClock(incident=incident, kind=kind, seq=1, due_at=due, basis=basis[:300])
        for kind, due, basis in owed
    )
    return warning


def incident_open(
    *,
    actor: Actor,
    engagement: Engagement,
    number: str,
    title: str,
    system_name: str,
    system_class: Any,
    detected_at: dt.datetime,
    trading_system: bool = False,
    description: str = "",
    down_minutes: Any = 0,
    affected_pct: Any = 0,
    leaked_records: Any = 0,
    t39_row: Row | int | None = None,
    now: dt.datetime | None = None,
) -> Incident:
    """Record an incident, grade it by the rules in force and start its reporting clocks."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    at = clock.or_now(now)
    number, title, system_name = (number or "").strip(), (title or "").strip(), (system_name or "").strip()
    for name, value in (("number", number), ("title", title), ("system_name", system_name)):
        if not value:
            raise DomainError(_("This field is required."), field=name)
    if detected_at is None or detected_at.tzinfo is None or detected_at > at:
        raise DomainError(
            _("Give the detection time with its time zone, not in the future."), field="detected_at"
        )
    klass, minutes, pct, leaked = _measures(system_class, down_minutes, affected_pct, leaked_records)
    row39 = register_row(engagement, t39_row, 39, "t39_row")
    ruleset, (user, name) = rules.current(), who(actor)
    incident = Incident(
        engagement=engagement, number=number[:40], title=title[:200], system_name=system_name[:200],
        system_class=klass, trading_system=bool(trading_system), detected_at=detected_at,
        description=description, down_minutes=minutes, affected_pct=pct, leaked_records=leaked,
        t39_row=row39, created_by=user, created_by_name=name,
    )  # fmt: skip
    rule = _apply_grade(incident, ruleset)
    try:
        with transaction.atomic():
            incident.save()
            warning = _clocks_create(incident, ruleset)
            _entry(incident, EntryKind.DETECTED, detected_at, title, name)
            if warning:
                _entry(incident, EntryKind.NOTE, at, warning, name)
            _entry(incident, EntryKind.GRADED, at, f"{Grade(rule.grade).label}: {rule.source}", name)
            _audit(actor, events.INCIDENT_OPEN, incident, after=_snapshot(incident))
            _tell_graded(incident)
    except IntegrityError:
        raise DomainError(
            _("The incident number %(no)s is used already.") % {"no": number}, field="number"
        ) from None
    return incident


def _snapshot(incident: Incident) -> dict[str, Any]:
    return {
        "number": incident.number, "system_class": incident.system_class, "down_minutes": incident.down_minutes,
        "affected_pct": str(incident.affected_pct), "leaked_records": incident.leaked_records,
        "grade": incident.grade, "rule": incident.grade_rule, "rules_version": incident.grading_version,
    }  # fmt: skip


def _audit(actor: Actor, action: str, incident: Incident, **extra: Any) -> None:
    event_record(actor=actor, action=action, engagement_id=incident.engagement_id, obj=incident, **extra)


def _tell_graded(incident: Incident) -> None:
    title = _("Incident %(no)s graded %(grade)s: reporting clocks started") % {
        "no": incident.number, "grade": Grade(incident.grade).label,
    }  # fmt: skip
    tell(engagement=incident.engagement, topic=ESCALATION, title=title, link=_link(incident),
         summary_title=title)  # fmt: skip


def _link(incident: Incident) -> Link:
    return Link("risk:incident_detail", code=incident.engagement.code, incident_id=incident.pk)


def incident_regrade(
    *, actor: Actor, incident: Incident, down_minutes: Any, affected_pct: Any, leaked_records: Any,
    now: dt.datetime | None = None,
) -> Incident:  # fmt: skip
    """New measures of the impairment (it grew, or was measured): grade again by the rules in force."""
    allowed(actor, incident.engagement, perms.MANAGE_RISK)
    _, minutes, pct, leaked = _measures(incident.system_class, down_minutes, affected_pct, leaked_records)
    before = _snapshot(incident)
    incident.down_minutes, incident.affected_pct, incident.leaked_records = minutes, pct, leaked
    rule = _apply_grade(incident, rules.current())
    with transaction.atomic():
        incident.save(update_fields=["down_minutes", "affected_pct", "leaked_records", "grade", "grade_rule",
                                     "grading_version"])  # fmt: skip
        _entry(incident, EntryKind.GRADED, clock.or_now(now), f"{Grade(rule.grade).label}: {rule.source}",
               who(actor)[1])  # fmt: skip
        _audit(actor, events.INCIDENT_GRADE, incident, before=before, after=_snapshot(incident))
        if before["grade"] != incident.grade:
            _tell_graded(incident)
    return incident


def incident_report_record(
    *, actor: Actor, incident: Incident, kind: str, text: str, at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ReportClock:  # fmt: skip
    """A report was made: the earliest open clock of ``kind`` is done (late or not: both are recorded)."""
    allowed(actor, incident.engagement, perms.MANAGE_RISK)
    current = clock.or_now(now)
    made = at or current
    if kind not in ClockKind.values:
        raise DomainError(_("Unknown report kind; choose one of %(kinds)s.") % {"kinds": ", ".join(ClockKind.values)},
                          field="kind")  # fmt: skip
    if made > current or made < incident.detected_at:
        raise DomainError(_("The report time must lie between the detection and now."), field="at")
    if not (text or "").strip():
        raise DomainError(_("Say what was reported, to whom."), field="text")
    with transaction.atomic():
        owed = (
            ReportClock.objects.select_for_update()
            .filter(incident=incident, kind=kind, done_at__isnull=True, cancelled_at__isnull=True)
            .order_by("seq")
            .first()
        )
        if owed is None:
            raise DomainError(_("No report of this kind is owed on this incident."), field="kind")
        owed.done_at = made
        owed.save(update_fields=["done_at"])
        late = made > owed.due_at
        words = {"report": ClockKind(kind).label, "text": text}
        line = (_("%(report)s, late: %(text)s") if late else _("%(report)s: %(text)s")) % words
        _entry(incident, EntryKind.REPORT, made, line, who(actor)[1])
        if kind == ClockKind.UPDATE:
            _next_update(incident, owed)
        _audit(actor, events.INCIDENT_REPORT, incident,
               after={"kind": kind, "seq": owed.seq, "due_at": owed.due_at.isoformat(), "made_at": made.isoformat(),
                      "late": late})  # fmt: skip
    return owed


def _next_update(incident: Incident, previous: ReportClock) -> ReportClock | None:
    """The next update while the trading system is still down (none once service is restored)."""
    if incident.restored_at is not None or incident.state != IncidentState.OPEN:
        return None
    every = rules.current().clocks.update_every_minutes
    return ReportClock.objects.get_or_create(
        incident=incident, kind=ClockKind.UPDATE, seq=previous.seq + 1,
        defaults={"due_at": previous.due_at + dt.timedelta(minutes=every), "basis": previous.basis},
    )[0]  # fmt: skip


def incident_restore(
    *, actor: Actor, incident: Incident, at: dt.datetime, now: dt.datetime | None = None
) -> Incident:
    """Service restored at ``at``: updates falling due after it are no longer owed."""
    allowed(actor, incident.engagement, perms.MANAGE_RISK)
    if at is None or at.tzinfo is None or at > clock.or_now(now) or at < incident.detected_at:
        raise DomainError(_("The restoration time must lie between the detection and now."), field="at")
    with transaction.atomic():
        incident.restored_at, incident.state = at, IncidentState.RESTORED
        incident.save(update_fields=["restored_at", "state"])
        ReportClock.objects.filter(
            incident=incident, kind=ClockKind.UPDATE, done_at__isnull=True, due_at__gt=at
        ).update(cancelled_at=at)
        _entry(incident, EntryKind.RESTORED, at, _("Service restored."), who(actor)[1])
        _audit(actor, events.INCIDENT_RESTORE, incident, after={"restored_at": at.isoformat()})
    return incident


def incident_notice_record(
    *, actor: Actor, incident: Incident, party: str, channel: str, notified_at: dt.datetime, summary: str,
    organisation: Organisation | None = None, now: dt.datetime | None = None,
) -> PartyNotice:  # fmt: skip
    """A related party (exchange, bank, vendor, investors …) was told of the incident (三(四)三)."""
    allowed(actor, incident.engagement, perms.MANAGE_RISK)
    for name, value in (("party", party), ("channel", channel), ("summary", summary)):
        if not (value or "").strip():
            raise DomainError(_("This field is required."), field=name)
    if notified_at is None or notified_at.tzinfo is None or notified_at > clock.or_now(now):
        raise DomainError(_("Give the time the party was told, not in the future."), field="notified_at")
    if organisation is not None and organisation.engagement_id != incident.engagement_id:
        raise DomainError(_("This organisation is not of this engagement."), field="organisation")
    with transaction.atomic():
        notice = PartyNotice.objects.create(
            incident=incident, party=party.strip()[:200], organisation=organisation, channel=channel.strip()[:100],
            notified_at=notified_at, summary=summary, by_name=who(actor)[1],
        )  # fmt: skip
        _entry(incident, EntryKind.NOTICE, notified_at, f"{notice.party} ({notice.channel}): {summary}",
               notice.by_name)  # fmt: skip
        _audit(
            actor, events.INCIDENT_NOTICE, incident, after={"party": notice.party, "channel": notice.channel}
        )
    return notice


def incident_rows_link(
    *, actor: Actor, incident: Incident, t39_row: Row | int | None = None, t40_row: Row | int | None = None
) -> Incident:
    """Link the incident to its 表39 entry and its 表40 corrective action (rows of this engagement)."""
    allowed(actor, incident.engagement, perms.MANAGE_RISK)
    row39 = register_row(incident.engagement, t39_row, 39, "t39_row")
    row40 = register_row(incident.engagement, t40_row, 40, "t40_row")
    with transaction.atomic():
        if row39 is not None:
            incident.t39_row = row39
        if row40 is not None:
            incident.t40_row = row40
        incident.save(update_fields=["t39_row", "t40_row"])
        _audit(actor, events.INCIDENT_LINK, incident,
               after={"t39_row": incident.t39_row_id, "t40_row": incident.t40_row_id})  # fmt: skip
    return incident


def incident_report_export(*, actor: Actor, incident: Incident) -> bytes:
    """The pre-filled report (docx), recorded in the trail as every export is."""
    from handover.org.selectors import firm_label_for
    from handover.risk.documents import incident_report_docx

    allowed(actor, incident.engagement, perms.VIEW_RISK)
    hidden = firm_label_for(user=actor, engagement=incident.engagement)  # 第十一条: None when it may be read
    label = incident.engagement.firm_name if hidden is None else hidden
    content = incident_report_docx(incident, firm_label=label)
    _audit(actor, events.INCIDENT_EXPORT, incident, after={"format": "docx", "bytes": len(content)})
    return content


def clocks_check(*, actor: Actor, now: dt.datetime, engagement: Engagement | None = None) -> dict[str, int]:
    """Remind of each clock about to fall due and escalate each one past due, once; add the updates owed
    while a trading system stays down. Safe to run at any moment and any number of times."""
    ruleset = rules.current()
    remind_before = dt.timedelta(minutes=ruleset.clocks.remind_before_minutes)
    counts = {"reminded": 0, "escalated": 0}
    pending = ReportClock.objects.filter(
        done_at__isnull=True,
        cancelled_at__isnull=True,
        escalated_at__isnull=True,
        due_at__lte=now + remind_before,
    ).select_related("incident__engagement")
    pending = pending.exclude(reminded_at__isnull=False, due_at__gt=now)
    if engagement is not None:
        pending = pending.filter(incident__engagement=engagement)
    for _pass in range(MAX_CATCH_UP):  # an escalated update may owe the next one, already past due
        escalated = counts["escalated"]
        for owed in pending.order_by("due_at", "pk")[:1000]:
            with transaction.atomic():
                if owed.due_at <= now:
                    _escalate(actor, owed, now)
                    counts["escalated"] += 1
                elif owed.reminded_at is None:
                    _remind(actor, owed, now)
                    counts["reminded"] += 1
        if counts["escalated"] == escalated:
            break
    return counts


def _words(owed: ReportClock) -> dict[str, Any]:
    return {"no": owed.incident.number, "report": ClockKind(owed.kind).label,
            "due": owed.due_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")}  # fmt: skip


def _remind(actor: Actor, owed: ReportClock, now: dt.datetime) -> None:
    ReportClock.objects.filter(pk=owed.pk).update(reminded_at=now)
    title = _("Incident %(no)s: %(report)s due at %(due)s") % _words(owed)
    tell(engagement=owed.incident.engagement, topic=REMINDER, title=title, link=_link(owed.incident))
    _audit(actor, events.CLOCK_REMIND, owed.incident, after={"kind": owed.kind, "seq": owed.seq})


def _escalate(actor: Actor, owed: ReportClock, now: dt.datetime) -> None:
    ReportClock.objects.filter(pk=owed.pk).update(escalated_at=now)
    title = _("Incident %(no)s: %(report)s was due at %(due)s and is not recorded as made") % _words(owed)
    tell(engagement=owed.incident.engagement, topic=ESCALATION, title=title, link=_link(owed.incident),
         summary_title=title)  # fmt: skip
    _entry(owed.incident, EntryKind.ESCALATED, now, title, str(actor))
    _audit(actor, events.CLOCK_OVERDUE, owed.incident,
           after={"kind": owed.kind, "seq": owed.seq, "due_at": owed.due_at.isoformat()})  # fmt: skip
    if owed.kind == ClockKind.UPDATE:
        _next_update(owed.incident, owed)
