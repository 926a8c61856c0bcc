"""Files of the registers on the pages: export of a form or of the filtered list (xlsx / PDF / CSV in the
official frame), the blank template, and the import of a filled file at a site with its outcome or progress.

Thin as the other register views: the io package exports (and records the export before writing it),
imports all or nothing, and keeps the outcome on the import job; these views only hand files over.
"""

from __future__ import annotations

import io
import tempfile

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRefresh

from handover.core.errors import NotFound
from handover.core.uploads import upload_kind
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement
from handover.registers import catalogue, selectors, tasks
from handover.registers.forms import ImportForm
from handover.registers.io import exporting, template
from handover.registers.io import selectors as io_selectors
from handover.registers.models import ImportJob
from handover.registers.views.common import page_context, register_spec
from handover.registers.views.lists import row_filters
from handover.web.access import needs

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}


def _format(fmt: str, allowed: tuple[str, ...]) -> str:
    if fmt not in allowed:
        raise NotFound(
            _("Files are offered as %(formats)s.") % {"formats": ", ".join(allowed)}, field="format"
        )
    return fmt


def _title_part(register_no: int) -> str:
    return catalogue.get(register_no).title.replace("：", "_")


def _export(
    request: HttpRequest,
    engagement: Engagement,
    register_no: int,
    fmt: str,
    filename: str,
    **what: object,
) -> FileResponse:
    """Write the export to a temporary file (an export of 100,000 rows is not held in memory) and send it
    as an attachment; FileResponse names it with RFC 5987 ``filename*`` so the Chinese survives."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once sent
    try:
        exporting.register_export(
            actor=request.user,
            engagement=engagement,
            register_no=register_no,
            fmt=fmt,
            out=out,
            **what,  # type: ignore[arg-type]
        )
    except BaseException:
        out.close()  # a refused export (too many rows for a PDF …) leaves no file behind
        raise
    out.seek(0)
    return FileResponse(out, as_attachment=True, filename=filename, content_type=CONTENT_TYPES[fmt])


def _attachment(content: bytes, filename: str) -> FileResponse:
    """Bytes as a download named ``filename`` (RFC 5987 ``filename*`` for the Chinese)."""
    fmt = filename.rsplit(".", 1)[-1]
    return FileResponse(
        io.BytesIO(content), as_attachment=True, filename=filename, content_type=CONTENT_TYPES[fmt]
    )


@needs(perms.VIEW_REGISTERS)
def form_export(request: HttpRequest, engagement: Engagement, form_id: int, fmt: str) -> FileResponse:
    form = selectors.form_get(user=request.user, engagement=engagement, form_id=form_id)
    fmt = _format(fmt, exporting.FORMATS)
    name = f"{_title_part(form.register_no)}_{form.form_no}_v{form.version}.{fmt}"
    return _export(request, engagement, form.register_no, fmt, name, form=form)


@needs(perms.VIEW_REGISTERS)
def row_export(request: HttpRequest, engagement: Engagement, register_no: int, fmt: str) -> FileResponse:
    """The rows the list shows, with its filters: only rows at the user's sites (selectors.row_list)."""
    register_spec(register_no)
    fmt = _format(fmt, exporting.FORMATS)
    _form, filters, within = row_filters(request, engagement, register_no)
    rows = selectors.row_list(user=request.user, engagement=engagement, filters=filters, within=within)
    name = f"{_title_part(register_no)}_{timezone.localdate().isoformat()}.{fmt}"
    return _export(request, engagement, register_no, fmt, name, rows=rows)


@needs(perms.VIEW_REGISTERS)
def register_template(
    request: HttpRequest, engagement: Engagement, register_no: int, fmt: str
) -> FileResponse:
    register_spec(register_no)
    fmt = _format(fmt, ("xlsx", "csv"))
    suffix = _("template")
    return _attachment(
        template.template_bytes(register_no, fmt), f"{_title_part(register_no)}_{suffix}.{fmt}"
    )


@upload_kind("import")
@needs(perms.FILL_REGISTERS)
def import_page(request: HttpRequest, engagement: Engagement, register_no: int, site_id: int) -> HttpResponse:
    """Upload a file of 表N for a site; a small one is imported at once, a large one in the background."""
    spec = register_spec(register_no)
    site = org_selectors.site_get(
        user=request.user, engagement=engagement, site_id=site_id, capability=perms.FILL_REGISTERS
    )
    upload = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and upload.is_valid():
        file = upload.cleaned_data["file"]
        job = tasks.import_start(
            actor=request.user,
            engagement=engagement,
            site=site,
            register_no=register_no,
            filename=file.name,
            content=file.read(),
        )
        return redirect("registers:import_job", code=engagement.code, job_id=job.pk)
    return render(
        request,
        "registers/import.html",
        page_context(request, engagement, spec=spec, site=site, upload=upload),
    )


def _job(request: HttpRequest, engagement: Engagement, job_id: int) -> ImportJob:
    job = io_selectors.import_job_get(user=request.user, job_id=job_id)
    if job.engagement_id != engagement.pk:
        raise NotFound(_("No import %(id)s is open to you.") % {"id": job_id}, field="job")
    return job


@needs(perms.FILL_REGISTERS)
def import_job(request: HttpRequest, engagement: Engagement, job_id: int) -> HttpResponse:
    """An import's outcome, or its progress bar while it runs; htmx polls the bar alone (``HX-Request``),
    and once the import is over the whole page is reloaded to show the outcome."""
    job = _job(request, engagement, job_id)
    progress = io_selectors.import_progress(user=request.user, job_id=job.pk)
    if request.htmx:  # type: ignore[attr-defined]
        if progress.finished:
            return HttpResponseClientRefresh()
        return render(request, "registers/_import_progress.html", {"progress": progress})
    return render(
        request,
        "registers/import_job.html",
        page_context(request, engagement, spec=register_spec(job.register_no), job=job, progress=progress),
    )


@needs(perms.FILL_REGISTERS)
def import_failed_rows(request: HttpRequest, engagement: Engagement, job_id: int) -> FileResponse:
    job = _job(request, engagement, job_id)
    content = io_selectors.import_error_file(user=request.user, job_id=job.pk)
    stem = job.filename.rsplit(".", 1)[0]
    suffix = _("failed rows")
    return _attachment(content, f"{stem}_{suffix}.xlsx")
