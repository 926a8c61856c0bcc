"""Background work of the registers: importing a large file (DESIGN.md decision 7: the worker runs in-process
or as one local process on the demo, as several workers on larger deployments). ``import_start`` keeps the
file as a job and runs it at once or enqueues ``import_run``; the import itself is io/jobs.py's."""

from __future__ import annotations

import hashlib

from django_tasks import task

from handover.core.actors import Actor, actor_user
from handover.core.context import command_context
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import require
from handover.registers import catalogue
from handover.registers.io import jobs
from handover.registers.models import ImportJob


@task()
def import_run(job_id: int) -> dict[str, object]:
    """Import the file of one ImportJob; the job carries the progress and the outcome."""
    with command_context("task"):
        job = jobs.import_job_run(job_id=job_id)  # looked up at call time (tests spy on it)
    return {"job": job.pk, "state": job.state}


def import_start(
    *, actor: Actor, engagement: Engagement, site: Site, register_no: int, filename: str, content: bytes
) -> ImportJob:
    """Keep the file as an import job and import it: in the background when it is large, else at once."""
    catalogue.get(register_no)
    require(user=actor, engagement=engagement, capability=perms.FILL_REGISTERS, site=site)
    job = ImportJob.objects.create(
        engagement=engagement,
        site=site,
        register_no=register_no,
        filename=filename,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        created_by=actor_user(actor),
    )
    if len(content) > jobs.BACKGROUND_BYTES or not jobs.import_inline(job.pk):
        import_run.enqueue(job.pk)
    job.refresh_from_db()
    return job
