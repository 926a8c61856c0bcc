"""Background work of discovery: one gathering run (DESIGN.md decision 7: the worker runs in-process or as
local worker processes)."""

from __future__ import annotations

from django_tasks import task


@task()
def gather_run(run_id: int) -> dict[str, object]:
    """Gather every target of one run; the run and its outcomes carry the progress."""
    from handover.core.context import command_context
    from handover.discovery.services import run_execute

    with command_context("task"):
        run = run_execute(run_id=run_id)
    return {"run": run.pk, "state": run.state}
