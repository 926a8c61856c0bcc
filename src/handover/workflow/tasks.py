"""Periodic work of the workflow, declared in core/schedule.py's PERIODIC: the end-of-day escalation and the
sites' feedback due (第二十七条第2项), the 表41 drafting and the 稳定期 reminders.

Just after midnight in Beijing, every site step that fell due the day before (or earlier), is not done and
got no same-day feedback from the site's 现场技术岗位 is raised to 技术组, once.
"""

from __future__ import annotations

import datetime as dt

from handover.core import schedule
from handover.workflow.deadlines import BEIJING

RUN_AT = dt.time(0, 1)  # one minute into the new day: the old day's feedback window has closed
REPORT_AT = dt.time(17, 30)  # after the close and the day's backups (表29)
REMIND_AT = dt.time(8, 30)  # before the market opens

FEEDBACK_DUE_EVERY = 15 * 60  # a step falls late at its own time of day; its post is told within 15 minutes

schedule.daily("workflow.escalation", "handover.workflow.tasks.escalation_scheduled", at=RUN_AT)
schedule.every("workflow.feedback_due", "handover.workflow.tasks.feedback_due", seconds=FEEDBACK_DUE_EVERY)
schedule.daily("workflow.daily_reports", "handover.workflow.tasks.daily_reports_scheduled", at=REPORT_AT)
schedule.daily("workflow.reminders", "handover.workflow.tasks.reminders_scheduled", at=REMIND_AT)


def escalation_scheduled() -> dict[str, int]:
    """Raise the late steps of every engagement in 交接期."""
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
    return {"raised": raised}


def feedback_due() -> dict[str, int]:
    """Tell the sites' posts of their late steps that need same-day feedback (engagements in 交接期)."""
    from handover.core import clock
    from handover.core.context import command_context
    from handover.org.models import Engagement, Phase
    from handover.workflow import services

    told = 0
    now = clock.now()
    with command_context("task"):
        for engagement in Engagement.objects.filter(phase=Phase.HANDOVER):
            told += services.feedback_due_notify(engagement=engagement, now=now)
    return {"told": told}


def daily_reports_scheduled() -> dict[str, int]:
    """Draft the day's 表41 at every site with someone on duty (稳定期)."""
    from handover.core import clock
    from handover.core.actors import system
    from handover.core.context import command_context
    from handover.workflow.services import stabilisation

    now = clock.now()
    with command_context("task"):
        made = stabilisation.daily_reports_draft_all(
            actor=system("daily-report"), day=now.astimezone(BEIJING).date()
        )
    return {"drafted": made}


def reminders_scheduled() -> dict[str, int]:
    """Tell each engagement in 稳定期 what falls due today."""
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
    return {"sites": told}
