"""Writes of change management (三(二)三; guideline 第三十一条第3、5项, 第三十八条).

A change is requested with its risk assessment, test evidence and rollback plan (三(二)三 审慎变更, 保证充分测试;
第三十一条第5项 评估上线风险…审批获准后才能上线运行), approved by two persons who are not its requester (第八条), and
started only inside its window, outside the exchanges' sessions when it touches a trading system (第三十一条第3项),
outside the freeze periods (三(七)四), and — when investors must be told (三(二)三 及时履行投资者告知义务) — with the
notice published ``HANDOVER_CHANGE_NOTICE_DAYS`` before the window. In custody, building a new system needs the
第三十八条 request of 表36 (新建 is 原则上不进行). Every refusal names what stands in the way and writes nothing."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import calendar, clock
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Phase
from handover.registers.definitions.common import TRADING_CATEGORIES
from handover.registers.models import InformationSystem, Row
from handover.risk import events
from handover.risk.models import Change, ChangeApproval, ChangeKind, ChangeState, FreezePeriod
from handover.risk.selectors.changes import notice_due
from handover.risk.services.common import allowed, person_of, register_row, same_side, who

APPROVALS = 2


def session_met(start: dt.datetime, end: dt.datetime) -> str:
    """The first trading session the window overlaps, as "2026-12-07 09:15–11:30", or "" (a window may end at
    the open or start at the close)."""
    met = calendar.session_met(start, end, touching=False)
    return f"{met[0].isoformat()} {met[1]:%H:%M}–{met[2]:%H:%M}" if met else ""


def freeze_met(engagement: Engagement, start: dt.date, end: dt.date) -> FreezePeriod | None:
    return (
        FreezePeriod.objects.filter(engagement=engagement, starts_on__lte=end, ends_on__gte=start)
        .order_by("starts_on")
        .first()
    )


def _freeze_refusal(period: FreezePeriod, field: str) -> DomainError:
    return DomainError(
        _("%(from)s to %(to)s is a freeze period (%(reason)s, 三(七)四): no change runs then.")
        % {"from": period.starts_on, "to": period.ends_on, "reason": period.reason},
        field=field,
    )


def change_request(
    *,
    actor: Actor,
    engagement: Engagement,
    kind: str,
    title: str,
    risk_assessment: str,
    test_evidence: str,
    rollback_plan: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    system: InformationSystem | None = None,
    system_name: str = "",
    trading_system: bool = False,
    notice_required: bool = False,
    t36_row: Row | int | None = None,
    rows: list[Row | int] | None = None,
) -> Change:
    """Ask for a change; nothing runs before two other persons approve it."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    requester = person_of(actor, engagement)
    if kind not in ChangeKind.values:
        raise DomainError(_("Choose build, change or remove."), field="kind")
    for field, value in (("title", title), ("risk_assessment", risk_assessment), ("test_evidence", test_evidence),
                         ("rollback_plan", rollback_plan)):  # fmt: skip
        if not (value or "").strip():
            raise DomainError(
                _(
                    "A change is requested with its risk assessment, test evidence and rollback plan (三(二)三)."
                ),
                field=field,
            )
    if system is not None:
        if system.engagement_id != engagement.pk:
            raise DomainError(_("The system is not of this engagement."), field="system")
        system_name, trading_system = system.name, system.category in TRADING_CATEGORIES
    if not system_name.strip():
        raise DomainError(_("Name the system the change touches."), field="system_name")
    if window_end <= window_start:
        raise DomainError(_("The window ends after it starts."), field="window_end")
    if window_end <= clock.now():
        raise DomainError(_("The window is over already; request a window to come."), field="window_end")
    if trading_system and (session := session_met(window_start, window_end)):
        raise DomainError(
            _("The window meets the trading session %(session)s: no change to a trading system then "
              "(第三十一条第3项). Choose a window after the close.") % {"session": session},
            field="window_start",
        )  # fmt: skip
    start_day, end_day = calendar.local(window_start).date(), calendar.local(window_end).date()
    if (period := freeze_met(engagement, start_day, end_day)) is not None:
        raise _freeze_refusal(period, "window_start")
    row36 = register_row(engagement, t36_row, 36, "t36_row")
    linked = _linked_rows(engagement, rows or [])
    approved_new = row36 is not None and (row36.data or {}).get("is_new_system") is True
    if kind == ChangeKind.NEW and engagement.phase != Phase.PREPARATION and not approved_new:
        raise DomainError(
            _(
                "In custody no new system is built without the request of 第三十八条: "
                "name its 表36 row with 新系统建设 是."
            ),
            field="t36_row",
        )
    with transaction.atomic():
        number = f"C-{Change.objects.filter(engagement=engagement).count() + 1:04d}"
        try:
            with transaction.atomic():
                change = Change.objects.create(
                    engagement=engagement, number=number, kind=kind, title=title.strip()[:200], system=system,
                    system_name=system_name.strip()[:200], trading_system=trading_system,
                    risk_assessment=risk_assessment.strip(), test_evidence=test_evidence.strip(),
                    rollback_plan=rollback_plan.strip(), window_start=window_start, window_end=window_end,
                    notice_required=notice_required, t36_row=row36, requested_by=requester,
                )  # fmt: skip
        except IntegrityError:
            raise DomainError(_("Another change was requested at the same moment; send it again."),
                              field="title") from None  # fmt: skip
        change.rows.set(linked)
        event_record(actor=actor, action=events.CHANGE_REQUEST, engagement_id=engagement.pk, obj=change,
                     after={"number": number, "kind": kind, "system": change.system_name,
                            "window": [window_start.isoformat(), window_end.isoformat()],
                            "notice_required": notice_required})  # fmt: skip
    return change


LINKED_REGISTERS = (28, 30, 31, 36, 37)


def _linked_rows(engagement: Engagement, rows: list[Row | int]) -> list[Row]:
    """Current rows of 表28/30/31/36/37 in this engagement, or a message naming the one that is not."""
    ids = [r.pk if isinstance(r, Row) else int(r) for r in rows][:50]
    found = {r.pk: r for r in Row.objects.filter(pk__in=ids, form__engagement=engagement, is_current=True,
                                                 form__register_no__in=LINKED_REGISTERS)}  # fmt: skip
    for pk in ids:
        if pk not in found:
            raise DomainError(_("Row %(id)s is not a current row of 表28, 30, 31, 36 or 37 in this engagement.")
                              % {"id": pk}, field="rows")  # fmt: skip
    return [found[pk] for pk in ids]


def change_approve(*, actor: Actor, change: Change) -> Change:
    """One approval; the second by another person makes the change approved. Never its requester (第八条)."""
    engagement = change.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    person = person_of(actor, engagement)
    if change.state != ChangeState.REQUESTED:
        raise DomainError(_("Only a requested change is approved."), field="change")
    if person.pk == change.requested_by_id or same_side(actor, change.requested_by):
        raise DomainError(_("A change is approved by two persons other than its requester (第八条)."),
                          field="actor")  # fmt: skip
    with transaction.atomic():
        locked = Change.objects.select_for_update().get(pk=change.pk)
        earlier = [a.person for a in locked.approvals.select_related("person")]
        if any(p.pk == person.pk or same_side(actor, p) for p in earlier):
            raise DomainError(_("You approved this change already; a second person approves next."),
                              field="actor")  # fmt: skip
        ChangeApproval.objects.create(change=locked, person=person, requester_id=locked.requested_by_id)
        if locked.approvals.count() >= APPROVALS:
            locked.state = ChangeState.APPROVED
            locked.save(update_fields=["state"])
        event_record(actor=actor, action=events.CHANGE_APPROVE, engagement_id=engagement.pk, obj=locked,
                     after={"number": locked.number, "by": person.pk, "state": locked.state})  # fmt: skip
    change.refresh_from_db()
    return change


def change_notice(*, actor: Actor, change: Change, published_at: dt.datetime, reference: str) -> Change:
    """Record the investors' notice (where and when it was published)."""
    engagement = change.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    if not (reference or "").strip():
        raise DomainError(
            _("Say where the notice was published (website, app, branch posting)."), field="reference"
        )
    if published_at > clock.now() + dt.timedelta(minutes=10):
        raise DomainError(_("A notice is recorded once published, not before."), field="published_at")
    with transaction.atomic():
        change.notice_published_at, change.notice_reference = published_at, reference.strip()[:300]
        change.save(update_fields=["notice_published_at", "notice_reference"])
        event_record(actor=actor, action=events.CHANGE_NOTICE, engagement_id=engagement.pk, obj=change,
                     after={"number": change.number, "published_at": published_at.isoformat()})  # fmt: skip
    return change


def why_not_now(change: Change, now: dt.datetime) -> str:
    """Why the change may not start at ``now``, or ""."""
    if change.state != ChangeState.APPROVED:
        return _("the change is not approved by two persons other than its requester (第八条)")
    if change.executed_at is not None:
        return _("the change was started already")
    if not change.window_start <= now <= change.window_end:
        return _("now is outside its window (%(start)s to %(end)s)") % {
            "start": calendar.local(change.window_start).strftime("%Y-%m-%d %H:%M"),
            "end": calendar.local(change.window_end).strftime("%Y-%m-%d %H:%M"),
        }  # fmt: skip
    if change.trading_system and calendar.in_trading_hours(now):
        return _("the exchanges are in session (第三十一条第3项)")
    today = calendar.local(now).date()
    if (period := freeze_met(change.engagement, today, today)) is not None:
        return _("%(from)s to %(to)s is a freeze period (%(reason)s, 三(七)四)") % {
            "from": period.starts_on, "to": period.ends_on, "reason": period.reason,
        }  # fmt: skip
    if change.notice_required:
        due = notice_due(change)
        if change.notice_published_at is None or change.notice_published_at > due:
            return _("investors were not told by %(due)s (%(days)d days before the window, 三(二)三)") % {
                "due": calendar.local(due).strftime("%Y-%m-%d %H:%M"), "days": (change.window_start - due).days,
            }  # fmt: skip
    return ""


def change_execute(*, actor: Actor, change: Change) -> Change:
    """Start the change now, if nothing stands in the way (the refusal says what does)."""
    engagement = change.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    person = person_of(actor, engagement)
    now = clock.now()
    with transaction.atomic():
        locked = Change.objects.select_for_update().get(pk=change.pk)
        if reason := why_not_now(locked, now):
            raise DomainError(_("The change may not start: %(reason)s.") % {"reason": reason}, field="change")
        locked.executed_by, locked.executed_at = person, now
        locked.save(update_fields=["executed_by", "executed_at"])
        event_record(actor=actor, action=events.CHANGE_EXECUTE, engagement_id=engagement.pk, obj=locked,
                     after={"number": locked.number, "at": now.isoformat()})  # fmt: skip
    change.refresh_from_db()
    return change


def change_close(*, actor: Actor, change: Change, state: str, result: str) -> Change:
    """Close a change: done or rolled back once started, or cancelled before it starts; with what happened."""
    engagement = change.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    if state not in (ChangeState.DONE, ChangeState.ROLLED_BACK, ChangeState.CANCELLED):
        raise DomainError(_("Close as done, rolled back or cancelled."), field="state")
    if not (result or "").strip():
        raise DomainError(_("Say what happened (the tests after the change, or why it was rolled back)."),
                          field="result")  # fmt: skip
    started = change.executed_at is not None
    if state == ChangeState.CANCELLED and started:
        raise DomainError(_("A started change is done or rolled back, not cancelled."), field="state")
    if state != ChangeState.CANCELLED and not started:
        raise DomainError(_("A change is done or rolled back once it has started."), field="state")
    if change.state in (ChangeState.DONE, ChangeState.ROLLED_BACK, ChangeState.CANCELLED):
        raise DomainError(_("The change is closed already."), field="change")
    with transaction.atomic():
        change.state, change.result = state, result.strip()
        change.save(update_fields=["state", "result"])
        event_record(actor=actor, action=events.CHANGE_CLOSE, engagement_id=engagement.pk, obj=change,
                     after={"number": change.number, "state": state})  # fmt: skip
    return change


def freeze_set(
    *, actor: Actor, engagement: Engagement, starts_on: dt.date, ends_on: dt.date, reason: str
) -> FreezePeriod:
    """Record a period of importance (三(七)四) in which no change runs."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    if ends_on < starts_on:
        raise DomainError(_("The period ends on or after its first day."), field="ends_on")
    if not (reason or "").strip():
        raise DomainError(_("Say why (for example 全国两会, 国庆长假前后)."), field="reason")
    _user, name = who(actor)
    with transaction.atomic():
        period = FreezePeriod.objects.create(engagement=engagement, starts_on=starts_on, ends_on=ends_on,
                                             reason=reason.strip()[:200], created_by_name=name)  # fmt: skip
        after = {"from": starts_on.isoformat(), "to": ends_on.isoformat(), "reason": period.reason}
        event_record(
            actor=actor, action=events.FREEZE_SET, engagement_id=engagement.pk, obj=period, after=after
        )
    return period
