"""Imports as background tasks: a large file is stored as an ImportJob and imported by a worker, with the
progress a page shows as a bar (``selectors.import_progress``). Small files are imported at once, through
the same path, so both give the same result, errors and failed-rows file."""

from __future__ import annotations

import hashlib
from typing import Any

from django.utils import timezone

from handover.core.actors import SystemActor, system
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import require
from handover.registers import catalogue
from handover.registers.io.importing import ImportRefused, register_import
from handover.registers.models import ImportJob, ImportState

# Above this size a file is imported in the background (about 2,000 rows of a wide register).
BACKGROUND_BYTES = 256 * 1024


def import_start(
    *, actor: Any, engagement: Engagement, site: Site, register_no: int, filename: str, content: bytes
) -> ImportJob:
    """Keep the file as an import job and import it: in the background when it is large, else at once."""
    from handover.registers.tasks import import_run

    catalogue.get(register_no)
    require(user=actor, engagement=engagement, capability=perms.FILL_REGISTERS, site=site)
    job = ImportJob.objects.create(
        engagement=engagement,
        site=site,
        register_no=register_no,
        filename=filename,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        created_by=None if isinstance(actor, SystemActor) else actor,
    )
    if len(content) > BACKGROUND_BYTES:
        import_run.enqueue(job.pk)
    else:
        import_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def _progress(job_id: int) -> Any:
    def report(state: str, done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportState.VALIDATING if state == "validating" else ImportState.WRITING,
            done_rows=done,
            total_rows=total,
        )

    return report


def import_job_run(*, job_id: int) -> ImportJob:
    """Run one queued import as the person who started it; the outcome is stored on the job."""
    job = ImportJob.objects.select_related("engagement", "site", "created_by").get(pk=job_id)
    actor: Any = job.created_by or system("import")
    outcome: dict[str, Any] = {"finished_at": timezone.now()}
    try:
        result = register_import(
            actor=actor,
            engagement=job.engagement,
            site=job.site,
            register_no=job.register_no,
            filename=job.filename,
            content=bytes(job.content),
            progress=_progress(job.pk),
        )
    except ImportRefused as refused:
        outcome |= {
            "state": ImportState.REFUSED,
            "errors": [[i.row, i.column, i.reason] for i in refused.issues],
            "error_file": refused.error_workbook(),
            "result": {"message": refused.message},
        }
    except DomainError as exc:
        outcome |= {
            "state": ImportState.FAILED,
            "errors": [[None, exc.field or "", str(exc.message)]],
            "result": {"message": str(exc.message)},
        }
    else:
        outcome |= {"state": ImportState.DONE, "result": {**result.as_json(), "lines": result.lines()}}
        outcome["done_rows"] = len(result.created) + len(result.updated) + len(result.unchanged)
        outcome["done_rows"] += len(result.signed_untouched)
    ImportJob.objects.filter(pk=job.pk).update(**outcome)
    job.refresh_from_db()
    return job
