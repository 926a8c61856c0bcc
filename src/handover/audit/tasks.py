"""Background work of the audit trail: the scheduled signed checkpoint."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task


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
    """Enqueue the next checkpoint unless one is already waiting. True if one was enqueued."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.ready().filter(task_path=checkpoint_scheduled.module_path).exists()
    if waiting:
        return False
    run_after = timezone.now() + timedelta(seconds=settings.HANDOVER_CHECKPOINT_INTERVAL)
    checkpoint_scheduled.using(run_after=run_after).enqueue()
    return True
