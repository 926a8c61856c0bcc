"""Periodic work of the audit trail: the signed checkpoint, every HANDOVER_CHECKPOINT_INTERVAL seconds
(core/schedule.py; a successor never comes sooner than a minute, whatever the setting)."""

from __future__ import annotations

from django.conf import settings

from handover.core import schedule

CHECKPOINT = schedule.every(
    "audit.checkpoint",
    "handover.audit.tasks.checkpoint_scheduled",
    seconds=lambda: settings.HANDOVER_CHECKPOINT_INTERVAL,
)


def checkpoint_scheduled() -> dict[str, object]:
    """Write a signed checkpoint into the checkpoint folder."""
    from handover.audit.services import checkpoint_write
    from handover.core.context import command_context

    with command_context("task"):
        path, seq = checkpoint_write(actor=None, directory=settings.HANDOVER_CHECKPOINT_DIR)
    return {"path": str(path), "seq": seq}


def checkpoint_schedule() -> bool:
    """Enqueue the next checkpoint unless one is already waiting, due or not. True if one was enqueued."""
    return schedule.plan(CHECKPOINT)
