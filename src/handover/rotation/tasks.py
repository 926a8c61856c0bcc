"""Background work of rotation: one plan's run, one restore's application (DESIGN.md decision 7)."""

from __future__ import annotations

from django_tasks import task


@task()
def plan_run(plan_id: int) -> dict[str, object]:
    """Run (or resume) an approved plan; its items carry the progress."""
    from handover.core.context import command_context
    from handover.rotation import services

    with command_context("task"):
        plan = services.plan_run(plan_id=plan_id)
    return {"plan": plan.pk, "state": plan.state}
