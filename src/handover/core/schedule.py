"""Periodic jobs, declared as data: ``PERIODIC`` lists each job (name, interval or daily Beijing time, the
dotted path of a function taking no arguments), and ``handover worker`` reads it.

An app declares its jobs in its ``tasks.py`` with ``every`` or ``daily``; ``discover`` imports every installed
app's ``tasks`` module, so the worker names no app. Every job runs through the one task ``periodic_run``,
which plans the job's next run after each run, even a failed one.

A stopped scheduler never skips a deadline: at every start (``start``) a job whose last slot passed without
a successful run (a worker stopped over midnight, a run killed half-way, a waiting run lost) runs at once;
the others wait for their next slot. A job that never ran counts as overdue, so a new installation runs
each job once at its first start (each job is safe to run at any time: it does what is due and no more).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.module_loading import autodiscover_modules, import_string
from django_tasks import task

BEIJING = ZoneInfo("Asia/Shanghai")
MIN_INTERVAL = dt.timedelta(seconds=60)  # a successor never comes sooner, whatever a setting says


@dataclass(frozen=True)
class Job:
    """One periodic job: ``call`` runs every ``interval`` (seconds, or a function reading a setting), or
    daily at ``at`` in Beijing time."""

    name: str
    call: str
    at: dt.time | None = None
    interval: int | Callable[[], int] | None = None

    def seconds(self) -> int:
        interval = self.interval() if callable(self.interval) else self.interval
        return int(interval or 0)

    def off(self) -> bool:
        """An interval job set to 0 seconds does not run."""
        return self.at is None and self.seconds() <= 0


PERIODIC: list[Job] = []


def _add(job: Job) -> Job:
    for index, known in enumerate(PERIODIC):
        if known.name == job.name:
            PERIODIC[index] = job
            return job
    PERIODIC.append(job)
    return job


def daily(name: str, call: str, *, at: dt.time) -> Job:
    """Declare a job run once a day at ``at``, Beijing time."""
    return _add(Job(name, call, at=at))


def every(name: str, call: str, *, seconds: int | Callable[[], int]) -> Job:
    """Declare a job run every ``seconds`` (at least MIN_INTERVAL apart once it has run)."""
    return _add(Job(name, call, interval=seconds))


def discover() -> list[Job]:
    """Import every installed app's ``tasks`` module, where the apps declare their jobs; returns PERIODIC."""
    autodiscover_modules("tasks")
    return PERIODIC


def job(name: str) -> Job:
    for known in PERIODIC:
        if known.name == name:
            return known
    raise LookupError(f"no periodic job {name!r} (is its app's tasks.py imported?)")


def next_slot(job: Job, now: dt.datetime) -> dt.datetime:
    """The job's next daily time strictly after ``now``, or ``now`` plus its interval."""
    if job.at is None:
        return now + dt.timedelta(seconds=job.seconds())
    local = now.astimezone(BEIJING)
    today = dt.datetime.combine(local.date(), job.at, tzinfo=BEIJING)
    return today if today > local else today + dt.timedelta(days=1)


def last_slot(job: Job, now: dt.datetime) -> dt.datetime:
    """The latest time at or before ``now`` by which the job should have run once more."""
    if job.at is None:
        return now - dt.timedelta(seconds=max(job.seconds(), int(MIN_INTERVAL.total_seconds())))
    local = now.astimezone(BEIJING)
    today = dt.datetime.combine(local.date(), job.at, tzinfo=BEIJING)
    return today if today <= local else today - dt.timedelta(days=1)


def _results(name: str) -> Any:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=periodic_run.module_path, args_kwargs__kwargs__name=name)


def _waiting(name: str) -> bool:
    from django_tasks.base import TaskResultStatus

    # Not ``ready()``: that leaves out a run waiting for its run_after, and every start would add one.
    return _results(name).filter(status=TaskResultStatus.READY).exists()


def overdue(job: Job, now: dt.datetime) -> bool:
    """No successful run of the job started since its last slot."""
    from django_tasks.base import TaskResultStatus

    ran = _results(job.name).filter(status=TaskResultStatus.SUCCESSFUL, started_at__gte=last_slot(job, now))
    return not ran.exists()


def plan(job: Job, now: dt.datetime | None = None, *, at_once: bool = False) -> bool:
    """Enqueue the job's next run (at once, or at its next slot) unless one is waiting. True if enqueued.

    A backend that cannot defer a task (the tests' immediate one) gets none: it would run at once, forever."""
    if not periodic_run.get_backend().supports_defer or _waiting(job.name):
        return False
    now = now or timezone.now()
    run_after = now if at_once else next_slot(job, now)
    if not at_once and job.at is None and _results(job.name).exists():
        run_after = max(run_after, now + MIN_INTERVAL)
    periodic_run.using(run_after=run_after).enqueue(name=job.name)
    return True


def start(now: dt.datetime | None = None) -> dict[str, str]:
    """What the worker does first: run each overdue job at once, plan the others. Returns what it did. A job
    whose interval is 0 is off: neither run nor planned (the audit checkpoint when a timer signs, deploy/)."""
    now = now or timezone.now()
    done: dict[str, str] = {}
    for known in discover():
        if known.off():
            done[known.name] = "off"
            continue
        late = overdue(known, now)
        enqueued = plan(known, now, at_once=late)
        done[known.name] = ("overdue" if late else "planned") if enqueued else "waiting"
    return done


@task()
def periodic_run(name: str) -> Any:
    """Run one declared job, then plan its next run (after a failure too, so one bad night stops nothing)."""
    discover()
    known = job(name)
    try:
        return import_string(known.call)()
    finally:
        if not known.off():  # one run asked for by hand (`handover audit schedule`) is not followed by more
            plan(known, timezone.now())
