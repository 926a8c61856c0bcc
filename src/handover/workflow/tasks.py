"""Background work of the workflow: the end-of-day escalation (第二十七条第2项), sending notifications and
the observers' daily digest.

Just after midnight in Beijing, every site step that fell due the day before (or earlier), is not done and
got no same-day feedback from the site's 现场技术岗位 is raised to 技术组, once. The task then schedules its
next run for the following midnight.
"""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from handover.workflow.deadlines import BEIJING

RUN_AT = dt.time(0, 1)  # one minute into the new day: the old day's feedback window has closed


def next_run(now: dt.datetime) -> dt.datetime:
    """The next RUN_AT in Beijing strictly after ``now``."""
    local = now.astimezone(BEIJING)
    today = dt.datetime.combine(local.date(), RUN_AT, tzinfo=BEIJING)
    return today if today > local else today + dt.timedelta(days=1)


@task()
def escalation_scheduled() -> dict[str, int]:
    """Raise the late steps of every engagement in 交接期, then schedule the next run."""
    from handover.core import clock
    from handover.core.actors import system
    from handover.core.context import command_context
    from handover.org.models import Engagement, Phase
    from handover.workflow import services

    raised = 0
    now = clock.now()
    with command_context("task"):
        for engagement in Engagement.objects.filter(phase=Phase.HANDOVER):
            raised += len(
                services.escalations_raise(actor=system("escalation"), engagement=engagement, now=now)
            )
    escalation_schedule(now)
    return {"raised": raised}


def escalation_schedule(now: dt.datetime) -> bool:
    """Enqueue the next run unless one is waiting. A backend that cannot defer (the tests') gets none."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    if not escalation_scheduled.get_backend().supports_defer:
        return False
    waiting = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=escalation_scheduled.module_path
    ).exists()
    if waiting:
        return False
    escalation_scheduled.using(run_after=next_run(now)).enqueue()
    return True


@task()
def deliveries_send() -> dict[str, int]:
    """Send the notifications waiting for email or webhook (queued after the commit that made them)."""
    from handover.workflow import notifications

    return notifications.deliver(digest=False)


DIGEST_AT = dt.time(18, 0)  # after the market's close and the day's first reports


@task()
def digest_scheduled() -> dict[str, int]:
    """Send each digest subscriber one message with the day's notifications, then schedule tomorrow's."""
    from handover.core import clock
    from handover.workflow import notifications

    counts = notifications.deliver(digest=True)
    digest_schedule(clock.now())
    return counts


def digest_schedule(now: dt.datetime) -> bool:
    """Enqueue the next digest at DIGEST_AT Beijing time unless one is waiting."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    if not digest_scheduled.get_backend().supports_defer:
        return False
    if DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=digest_scheduled.module_path
    ).exists():
        return False
    local = now.astimezone(BEIJING)
    run = dt.datetime.combine(local.date(), DIGEST_AT, tzinfo=BEIJING)
    digest_scheduled.using(run_after=run if run > local else run + dt.timedelta(days=1)).enqueue()
    return True


REPORT_AT = dt.time(17, 30)  # after the close and the day's backups (表29)


@task()
def daily_reports_scheduled() -> dict[str, int]:
    """Draft the day's 表41 at every site with someone on duty (稳定期), then schedule tomorrow's run."""
    from handover.core import clock
    from handover.core.actors import system
    from handover.core.context import command_context
    from handover.workflow.services import stabilisation

    now = clock.now()
    with command_context("task"):
        made = stabilisation.daily_reports_draft_all(
            actor=system("daily-report"), day=now.astimezone(BEIJING).date()
        )
    daily_reports_schedule(now)
    return {"drafted": made}


def daily_reports_schedule(now: dt.datetime) -> bool:
    """Enqueue the next drafting run at REPORT_AT Beijing time unless one is waiting."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    task_ = daily_reports_scheduled
    if not task_.get_backend().supports_defer:
        return False
    if DBTaskResult.objects.filter(status=TaskResultStatus.READY, task_path=task_.module_path).exists():
        return False
    local = now.astimezone(BEIJING)
    run = dt.datetime.combine(local.date(), REPORT_AT, tzinfo=BEIJING)
    task_.using(run_after=run if run > local else run + dt.timedelta(days=1)).enqueue()
    return True


REMIND_AT = dt.time(8, 30)  # before the market opens


@task()
def reminders_scheduled() -> dict[str, int]:
    """Tell each engagement in 稳定期 what falls due today, then schedule tomorrow's run."""
    from handover.core import clock
    from handover.core.context import command_context
    from handover.org.models import Engagement, Phase
    from handover.workflow.services import stabilisation

    now = clock.now()
    told = 0
    with command_context("task"):
        for engagement in Engagement.objects.filter(phase=Phase.STABILISATION):
            told += stabilisation.reminders_notify(
                engagement=engagement, today=now.astimezone(BEIJING).date()
            )
    reminders_schedule(now)
    return {"sites": told}


def reminders_schedule(now: dt.datetime) -> bool:
    """Enqueue the next reminders run at REMIND_AT Beijing time unless one is waiting."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    task_ = reminders_scheduled
    if not task_.get_backend().supports_defer:
        return False
    if DBTaskResult.objects.filter(status=TaskResultStatus.READY, task_path=task_.module_path).exists():
        return False
    local = now.astimezone(BEIJING)
    run = dt.datetime.combine(local.date(), REMIND_AT, tzinfo=BEIJING)
    task_.using(run_after=run if run > local else run + dt.timedelta(days=1)).enqueue()
    return True
