"""Reads of register imports: the progress bar of a background import, the failed-rows file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org.models import Site
from handover.org.selectors import has_capability
from handover.registers.models import Form, ImportJob, ImportState


@dataclass(frozen=True)
class ImportProgress:
    """What a progress bar shows: state, rows checked of all rows, the percentage, and the outcome."""

    job_id: int
    state: str
    state_label: str
    done_rows: int
    total_rows: int
    percent: int
    finished: bool
    errors: list[list[Any]]
    result: dict[str, Any]
    has_error_file: bool
    form_id: int | None = None  # the form the rows went into, once the import is done


def import_job_get(*, user: Actor, job_id: int) -> ImportJob:
    """The import job, if the user may fill registers at its site (as its author must)."""
    job = ImportJob.objects.select_related("engagement", "site").filter(pk=job_id).first()
    site: Site | None = job.site if job else None
    if (
        job is None
        or site is None
        or not has_capability(
            user=user, engagement=job.engagement, capability=perms.FILL_REGISTERS, site=site
        )
    ):
        raise NotFound(_("No import %(id)s is open to you.") % {"id": job_id}, field="job")
    return job


def import_progress(*, user: Actor, job_id: int) -> ImportProgress:
    """The progress of an import, for a page that polls it."""
    job = import_job_get(user=user, job_id=job_id)
    finished = job.state in (ImportState.DONE, ImportState.REFUSED, ImportState.FAILED)
    if finished:
        percent = 100
    elif job.state == ImportState.WRITING:
        percent = 95
    else:
        percent = int(90 * job.done_rows / job.total_rows) if job.total_rows else 0
    return ImportProgress(
        job_id=job.pk,
        state=job.state,
        state_label=str(ImportState(job.state).label),
        done_rows=job.done_rows,
        total_rows=job.total_rows,
        percent=percent,
        finished=finished,
        errors=job.errors,
        result=job.result,
        has_error_file=job.error_file is not None,
        form_id=_imported_form(job),
    )


def _imported_form(job: ImportJob) -> int | None:
    """The current form an import wrote into, so its page can be opened to submit and sign it."""
    form_no = (job.result or {}).get("form_no") if job.state == ImportState.DONE else None
    if not form_no:
        return None
    return (
        Form.objects.filter(engagement_id=job.engagement_id, form_no=form_no, is_current=True)
        .values_list("pk", flat=True)
        .first()
    )


def import_error_file(*, user: Actor, job_id: int) -> bytes:
    """The failed rows of a refused import as an xlsx with an error column."""
    job = import_job_get(user=user, job_id=job_id)
    if job.error_file is None:
        raise NotFound(_("This import has no failed rows."), field="job")
    return bytes(job.error_file)
