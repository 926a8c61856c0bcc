"""Background work of discovery: one gathering run (DESIGN.md decision 7: the worker runs in-process or as
local worker processes)."""

from __future__ import annotations

from django_tasks import task

from handover.core import schedule

# A run whose worker died stays "running": checked at every worker start and every ten minutes after.
schedule.every("discovery.stale_runs", "handover.discovery.tasks.stale_runs_scheduled", seconds=10 * 60)


@task()
def gather_run(run_id: int) -> dict[str, object]:
    """Gather every target of one run; the run and its outcomes carry the progress."""
    from handover.core.context import command_context
    from handover.discovery.services import run_execute

    with command_context("task"):
        run = run_execute(run_id=run_id)
    return {"run": run.pk, "state": run.state}


def stale_runs_scheduled() -> dict[str, int]:
    """Mark the gatherings whose worker stopped as interrupted, so that a new run may start."""
    from handover.core.context import command_context
    from handover.discovery.services import runs_interrupt_stale

    with command_context("task"):
        return {"interrupted": runs_interrupt_stale()}
