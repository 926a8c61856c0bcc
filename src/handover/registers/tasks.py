"""Background work of the registers: importing a large file (DESIGN.md decision 7: the worker runs in-process
or as one local process on the demo, as several workers on larger deployments)."""

from __future__ import annotations

from django_tasks import task


@task()
def import_run(job_id: int) -> dict[str, object]:
    """Import the file of one ImportJob; the job carries the progress and the outcome."""
    from handover.core.context import command_context
    from handover.registers.io.jobs import import_job_run

    with command_context("task"):
        job = import_job_run(job_id=job_id)
    return {"job": job.pk, "state": job.state}
