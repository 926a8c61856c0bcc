"""Imports as background tasks: a large file is stored as an ImportJob and imported by a worker, with the
progress a page shows as a bar (``selectors.import_progress``). Small files are imported at once, through
the same path, so both give the same result, errors and failed-rows file.

Bounded work per request (DESIGN.md decision 10): the web worker imports only a file of at most
BACKGROUND_BYTES and INLINE_MAX_ROWS rows; a small file with more rows (a compressed xlsx can hold many)
goes to the task worker like a large one. The task worker runs under a memory limit
(``HANDOVER_WORKER_MEMORY_LIMIT_MB``, core/limits.py); an import that reaches it fails with a message, and
nothing is written (the rows are written in one transaction at the end)."""

from __future__ import annotations

import gc
from typing import Any

from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.core.actors import Actor, system
from handover.core.errors import DomainError
from handover.registers.io.importing import ImportRefused, register_import
from handover.registers.io.reading import TooManyRows
from handover.registers.models import ImportJob, ImportState

# Above this size a file is imported in the background (about 2,000 rows of a wide register).
BACKGROUND_BYTES = 256 * 1024
# Above this many rows too, whatever the file's size.
INLINE_MAX_ROWS = 5_000


def import_inline(job_id: int) -> bool:
    """Import a small file at once; False, with nothing stored, when it has more than INLINE_MAX_ROWS rows."""
    try:
        import_job_run(job_id=job_id, max_rows=INLINE_MAX_ROWS)
    except TooManyRows:
        ImportJob.objects.filter(pk=job_id).update(state=ImportState.QUEUED, done_rows=0, total_rows=0)
        return False
    return True


def _progress(job_id: int) -> Any:
    def report(state: str, done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportState.VALIDATING if state == "validating" else ImportState.WRITING,
            done_rows=done,
            total_rows=total,
        )

    return report


def import_job_run(*, job_id: int, max_rows: int | None = None) -> ImportJob:
    """Run one queued import as the person who started it; the outcome is stored on the job.

    With ``max_rows`` (the web worker's cap), a file with more rows raises TooManyRows and nothing is
    stored, so that the caller can queue it."""
    outcome: dict[str, Any] | None = None
    # Out of memory is handled after the except block, once its traceback (holding all the import read) is
    # gone. libpq reports its own allocation failure (loading the file from PostgreSQL) as a DatabaseError.
    try:
        outcome = _import(job_id, max_rows)
    except MemoryError:
        pass
    except DatabaseError as exc:
        if "out of memory" not in str(exc):
            raise
    if outcome is None:
        gc.collect()
        filename = ImportJob.objects.filter(pk=job_id).values_list("filename", flat=True).get()
        message = _(
            "%(file)s needed more memory than the worker may use; nothing was written. "
            "Split the file by site and import the parts."
        ) % {"file": filename}
        outcome = {
            "finished_at": timezone.now(),
            "state": ImportState.FAILED,
            "errors": [[None, "file", message]],
            "result": {"message": message},
        }
    ImportJob.objects.filter(pk=job_id).update(**outcome)
    return ImportJob.objects.defer("content").get(pk=job_id)


def _import(job_id: int, max_rows: int | None) -> dict[str, Any]:
    """The outcome of importing the job's file, as the job's fields."""
    job = ImportJob.objects.select_related("engagement", "site", "created_by").get(pk=job_id)
    actor: Actor = job.created_by or system("import")
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
            max_rows=max_rows,
        )
    except ImportRefused as refused:
        outcome |= {
            "state": ImportState.REFUSED,
            "errors": [[i.row, i.column, i.reason] for i in refused.issues],
            "error_file": refused.error_workbook(),
            "result": {"message": refused.message},
        }
    except DomainError as exc:
        if isinstance(exc, TooManyRows) and max_rows is not None:
            raise
        outcome |= {
            "state": ImportState.FAILED,
            "errors": [[None, exc.field or "", str(exc.message)]],
            "result": {"message": str(exc.message)},
        }
    else:
        outcome |= {"state": ImportState.DONE, "result": {**result.as_json(), "lines": result.lines()}}
        outcome["done_rows"] = len(result.created) + len(result.updated) + len(result.unchanged)
        outcome["done_rows"] += len(result.signed_untouched)
    return outcome
