"""Background work of the audit trail: the scheduled signed checkpoint."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

MIN_INTERVAL = 60


@task()
def checkpoint_scheduled() -> dict[str, object]:
    """Write a signed checkpoint into the checkpoint folder, then schedule the next one."""
    from handover.audit.services import checkpoint_write
    from handover.core.context import command_context

    with command_context("task"):
        path, seq = checkpoint_write(actor=None, directory=settings.HANDOVER_CHECKPOINT_DIR)
    checkpoint_schedule()
    return {"path": str(path), "seq": seq}


def checkpoint_schedule() -> bool:
    """Enqueue the next checkpoint unless one is already waiting, due or not. True if one was enqueued.

    A backend that cannot defer a task (the tests' immediate one) gets none: it would run at once, forever.
    """
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    if not checkpoint_scheduled.get_backend().supports_defer:
        return False
    # Not ``ready()``: that leaves out the task waiting for its run_after, and every worker start would add one.
    waiting = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=checkpoint_scheduled.module_path
    ).exists()
    if waiting:
        return False
    run_after = timezone.now() + timedelta(seconds=settings.HANDOVER_CHECKPOINT_INTERVAL)
    if DBTaskResult.objects.filter(task_path=checkpoint_scheduled.module_path).exists():
        # A successor never comes sooner than a minute, whatever the setting: each checkpoint is an event.
        run_after = max(run_after, timezone.now() + timedelta(seconds=MIN_INTERVAL))
    checkpoint_scheduled.using(run_after=run_after).enqueue()
    return True
