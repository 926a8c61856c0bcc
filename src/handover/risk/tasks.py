"""Background work of security management: the reporting clocks and overdue drills.

``worker_start`` runs the check at once when the worker starts (a deadline that passed while no worker ran
is escalated now, not skipped as a scheduler that only fires "on the hour" would: Netflix Dispatch's flaw,
shared/research/anchors-connectors-risk-trust.md §5.2) and then schedules it every CHECK_EVERY.
"""

from __future__ import annotations

import datetime as dt

from django_tasks import task

CHECK_EVERY = dt.timedelta(minutes=5)


def check_now(now: dt.datetime) -> dict[str, int]:
    """Remind and escalate the reporting clocks, and remind of overdue drills, as of ``now``."""
    from handover.core.actors import system
    from handover.core.context import command_context
    from handover.risk.services.incidents import clocks_check
    from handover.risk.services.plans import drills_overdue_remind, drills_owed_plan

    with command_context("task"):
        counts = clocks_check(actor=system("risk-clocks"), now=now)
        counts["drills_planned"] = drills_owed_plan(actor=system("risk-drills"), now=now)
        counts["drills"] = drills_overdue_remind(actor=system("risk-drills"), now=now)
    return counts


@task()
def clocks_checked() -> dict[str, int]:
    """The scheduled check; schedules the next one."""
    from handover.core import clock

    now = clock.now()
    counts = check_now(now)
    clocks_schedule(now)
    return counts


def clocks_schedule(now: dt.datetime) -> bool:
    """Enqueue the next check CHECK_EVERY from ``now`` unless one is waiting (none where tasks cannot wait)."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    if not clocks_checked.get_backend().supports_defer:
        return False
    if DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=clocks_checked.module_path
    ).exists():
        return False
    clocks_checked.using(run_after=now + CHECK_EVERY).enqueue()
    return True


def worker_start(now: dt.datetime) -> dict[str, int]:
    """At every worker start: catch up at once, then keep the schedule."""
    counts = check_now(now)
    clocks_schedule(now)
    return counts
