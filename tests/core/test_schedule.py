"""Declared periodic jobs (core/schedule.py) through the database backend's real worker: a job whose slot
passed while the worker was stopped, or whose waiting run was lost, runs at the next start; a job that ran
since its slot waits for the next one; a failing job still plans its next run."""

from __future__ import annotations

import datetime as dt
import signal

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from handover.core import schedule

CALLS: list[str] = []


def nightly() -> dict[str, int]:
    CALLS.append("nightly")
    return {"ok": 1}


def by_hand() -> None:
    CALLS.append("by_hand")


def broken() -> None:
    CALLS.append("broken")
    raise RuntimeError("the far end is down")


@pytest.fixture
def jobs(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    kept = list(schedule.discover())
    CALLS.clear()
    # 00:01 Beijing, as the escalation: whatever time the test runs, the last slot is in the past.
    made = {
        "nightly": schedule.daily("test.nightly", f"{__name__}.nightly", at=dt.time(0, 1)),
        "broken": schedule.daily("test.broken", f"{__name__}.broken", at=dt.time(0, 1)),
    }
    yield made
    schedule.PERIODIC[:] = kept


def ran(name: str, *, days_ago: float) -> None:
    """A successful run of ``name`` as the worker leaves it, started ``days_ago``."""
    started = timezone.now() - dt.timedelta(days=days_ago)
    schedule.periodic_run.using(run_after=started).enqueue(name=name)
    DBTaskResult.objects.filter(args_kwargs__kwargs__name=name, status=TaskResultStatus.READY).update(
        status=TaskResultStatus.SUCCESSFUL, started_at=started, finished_at=started
    )


def work(monkeypatch) -> None:
    """The real ``db_worker --batch``, except that it keeps the test's database connection open."""
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)
    # db_worker installs its own SIGINT/SIGTERM/SIGQUIT handlers and leaves them: restore the test process's,
    # or a later test's forked pool worker (fixity) ignores the SIGTERM that ends it and the suite hangs.
    kept = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        call_command("db_worker", "--batch", "--interval", "0", verbosity=0)
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


def waiting(name: str) -> list[dt.datetime]:
    rows = DBTaskResult.objects.filter(args_kwargs__kwargs__name=name, status=TaskResultStatus.READY)
    return list(rows.values_list("run_after", flat=True))


def test_a_slot_missed_while_the_worker_was_stopped_runs_at_the_next_start(db, jobs, monkeypatch):
    ran("test.nightly", days_ago=2)  # then the worker stopped; its planned run was lost with the machine
    assert schedule.overdue(jobs["nightly"], timezone.now())
    assert schedule.start()["test.nightly"] == "overdue"
    work(monkeypatch)
    assert CALLS.count("nightly") == 1
    # Having run, it waits for its next slot, not sooner.
    assert waiting("test.nightly") == [schedule.next_slot(jobs["nightly"], timezone.now())]


def test_a_job_that_ran_since_its_slot_waits_for_the_next_one(db, jobs, monkeypatch):
    ran("test.nightly", days_ago=0)  # just now, so after the last 00:01
    assert schedule.start()["test.nightly"] == "planned"
    work(monkeypatch)
    assert "nightly" not in CALLS
    assert waiting("test.nightly")[0] > timezone.now()
    assert schedule.start()["test.nightly"] == "waiting"  # a second start adds nothing
    assert len(waiting("test.nightly")) == 1


def test_a_run_planned_before_the_stop_runs_once_when_the_worker_is_back(db, jobs, monkeypatch):
    schedule.periodic_run.using(run_after=timezone.now() - dt.timedelta(days=3)).enqueue(name="test.nightly")
    assert schedule.start()["test.nightly"] == "waiting"
    work(monkeypatch)
    assert CALLS.count("nightly") == 1 and len(waiting("test.nightly")) == 1


def test_a_failing_job_still_plans_its_next_run(db, jobs, monkeypatch):
    schedule.start()
    work(monkeypatch)
    assert "broken" in CALLS
    failed = DBTaskResult.objects.get(args_kwargs__kwargs__name="test.broken", status=TaskResultStatus.FAILED)
    assert "the far end is down" in failed.traceback
    assert waiting("test.broken") == [schedule.next_slot(jobs["broken"], timezone.now())]


def test_every_app_declares_its_jobs_and_the_worker_names_none():
    names = {job.name for job in schedule.discover()}
    assert {
        "audit.checkpoint",
        "notifications.digest",
        "workflow.escalation",
        "workflow.feedback_due",
        "workflow.daily_reports",
        "workflow.reminders",
    } <= names


def test_the_checkpoint_is_off_when_its_interval_is_zero(db, jobs, settings, monkeypatch):
    """deploy/: a timer signs the checkpoints (handover-checkpoint.timer), so the workers must sign none."""
    settings.HANDOVER_CHECKPOINT_INTERVAL = 0
    assert schedule.start()["audit.checkpoint"] == "off"
    assert waiting("audit.checkpoint") == []
    settings.HANDOVER_CHECKPOINT_INTERVAL = 300
    assert schedule.start()["audit.checkpoint"] == "overdue"  # never ran: at once
    assert len(waiting("audit.checkpoint")) == 1


def test_a_job_that_is_off_runs_when_asked_by_hand_and_is_not_planned_again(db, jobs, monkeypatch):
    off = schedule.every("test.off", f"{__name__}.by_hand", seconds=lambda: 0)
    assert schedule.start()["test.off"] == "off"
    assert schedule.plan(off, at_once=True)  # `handover audit schedule` asks for one run
    work(monkeypatch)
    assert CALLS.count("by_hand") == 1
    assert waiting("test.off") == []
