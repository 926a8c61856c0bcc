"""Rows of a form: adding, editing, correcting a signed row as a new version, the 第八条 row signatures,
the row's history and its evidence files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.audit.catalogue import label as catalogue_label
from handover.core.uploads import upload_kind
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers import attachments, catalogue, selectors, services
from handover.registers.forms import (
    AttachmentForm,
    ColumnsForm,
    ReasonForm,
    column_label,
)
from handover.registers.models import Form, Row
from handover.registers.views.common import (
    attach,
    display,
    page_context,
    post_action,
    register_spec,
    row_link_of,
    run_service,
)
from handover.web.access import needs


def _row_form(request: HttpRequest, engagement: Engagement, form: Form, row: Row | None) -> ColumnsForm:
    return ColumnsForm(
        request.POST or None,
        request.FILES or None,
        columns=catalogue.columns(form.register_no),
        user=request.user,
        engagement=engagement,
        values=row.data if row else None,
        remarks=row.remarks if row else "",
        site=form.site,  # the system and host pickers offer the form's line of the site tree
    )


def _write_row(request: HttpRequest, form: ColumnsForm, write: Callable[[dict[str, Any]], Row]) -> Row | None:
    return run_service(
        form,
        lambda: attachments.write_with_files(
            actor=request.user,
            write=write,
            data=form.service_data(),
            files=form.files_to_store(),
            columns=form.columns,
        ),
    )


@needs(perms.FILL_REGISTERS)
def row_create(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    form = selectors.form_get(
        user=request.user, engagement=engagement, form_id=form_id, capability=perms.FILL_REGISTERS
    )
    row_form = _row_form(request, engagement, form, None)
    if request.method == "POST" and row_form.is_valid():
        remarks = row_form.cleaned_data["remarks"]
        row = _write_row(
            request,
            row_form,
            lambda d: services.row_add(actor=request.user, form=form, data=d, remarks=remarks),
        )
        if row:
            messages.success(request, _("Row %(seq)d added.") % {"seq": row.seq})
            if "again" in request.POST:
                return redirect("registers:row_create", code=engagement.code, form_id=form.pk)
            return redirect("registers:row_detail", code=engagement.code, row_id=row.pk)
    return render(
        request,
        "registers/row_form.html",
        page_context(
            request,
            engagement,
            spec=register_spec(form.register_no),
            form=form,
            row_form=row_form,
            title=_("Add a row to %(no)s") % {"no": form.form_no},
            adding=True,
        ),
    )


@needs(perms.VIEW_REGISTERS)
def row_detail(request: HttpRequest, engagement: Engagement, row_id: int) -> HttpResponse:
    row = selectors.row_get(user=request.user, engagement=engagement, row_id=row_id)
    spec = register_spec(row.form.register_no)
    columns = catalogue.columns(spec.number)
    history = selectors.row_history(row=row)
    labels = selectors.ref_labels(
        engagement=engagement, columns=columns, rows=history.versions, user=request.user
    )
    files = selectors.column_files(engagement=engagement, columns=columns, rows=history.versions)
    row_link = row_link_of(engagement)
    versions = [
        {
            "row": version,
            "cells": [
                (column_label(c), *display(c, version.data.get(c.key), labels, files, row_link=row_link))
                for c in columns
            ],
            "signatures": list(version.signatures.all()),
            "attachments": list(version.attachments.all()),
        }
        for version in reversed(history.versions)
    ]
    form = row.form
    actions = selectors.form_actions(user=request.user, form=form)
    signed_kinds = {s.kind for s in row.signatures.all()}
    return render(
        request,
        "registers/row_detail.html",
        page_context(
            request,
            engagement,
            spec=spec,
            row=row,
            form=form,
            versions=versions,
            events=[(e, catalogue_label(e.action)) for e in history.events],
            actions=actions,
            sign_kinds=[
                (k, selectors.signature_kind_label(k))
                for k in actions.row_kinds
                if k not in signed_kinds and row.is_current
            ],
            signed=bool(signed_kinds),
            attachment_form=AttachmentForm(),
        ),
    )


@needs(perms.FILL_REGISTERS)
def row_edit(request: HttpRequest, engagement: Engagement, row_id: int) -> HttpResponse:
    row = selectors.row_get(
        user=request.user, engagement=engagement, row_id=row_id, capability=perms.FILL_REGISTERS
    )
    row_form = _row_form(request, engagement, row.form, row)
    if request.method == "POST" and row_form.is_valid():
        remarks = row_form.cleaned_data["remarks"]
        saved = _write_row(
            request,
            row_form,
            lambda d: services.row_update(actor=request.user, row=row, data=d, remarks=remarks),
        )
        if saved:
            messages.success(request, _("Row %(seq)d saved.") % {"seq": saved.seq})
            return redirect("registers:row_detail", code=engagement.code, row_id=saved.pk)
    return render(
        request,
        "registers/row_form.html",
        page_context(
            request,
            engagement,
            spec=register_spec(row.form.register_no),
            form=row.form,
            row=row,
            row_form=row_form,
            title=_("Edit row %(seq)d of %(no)s") % {"seq": row.seq, "no": row.form.form_no},
        ),
    )


@needs(perms.FILL_REGISTERS)
def row_correct(request: HttpRequest, engagement: Engagement, row_id: int) -> HttpResponse:
    row = selectors.row_get(
        user=request.user, engagement=engagement, row_id=row_id, capability=perms.FILL_REGISTERS
    )
    row_form = _row_form(request, engagement, row.form, row)
    reason = ReasonForm(request.POST or None, prefix="correction")
    if request.method == "POST" and row_form.is_valid() and reason.is_valid():
        remarks, why = row_form.cleaned_data["remarks"], reason.cleaned_data["reason"]
        new = _write_row(
            request,
            row_form,
            lambda d: services.row_correct(actor=request.user, row=row, data=d, reason=why, remarks=remarks),
        )
        if new:
            messages.success(
                request, _("Version %(v)d of row %(seq)d saved.") % {"v": new.version, "seq": new.seq}
            )
            return redirect("registers:row_detail", code=engagement.code, row_id=new.pk)
    return render(
        request,
        "registers/row_form.html",
        page_context(
            request,
            engagement,
            spec=register_spec(row.form.register_no),
            form=row.form,
            row=row,
            row_form=row_form,
            reason=reason,
            title=_("Correct row %(seq)d of %(no)s as a new version")
            % {"seq": row.seq, "no": row.form.form_no},
        ),
    )


@require_POST
@needs(perms.FILL_REGISTERS)
def row_sign(request: HttpRequest, engagement: Engagement, row_id: int) -> HttpResponse:
    """Executor or supervisor (第八条); the service checks the role held at the row's site."""
    row = selectors.row_get(user=request.user, engagement=engagement, row_id=row_id)
    kind = request.POST.get("kind", "")
    post_action(request, lambda: services.row_sign(actor=request.user, row=row, kind=kind), _("Row signed."))
    return redirect("registers:row_detail", code=engagement.code, row_id=row.pk)


@upload_kind("attachment")
@require_POST
@needs(perms.FILL_REGISTERS)
def row_attach(request: HttpRequest, engagement: Engagement, row_id: int) -> HttpResponse:
    row = selectors.row_get(
        user=request.user, engagement=engagement, row_id=row_id, capability=perms.FILL_REGISTERS
    )
    attach(request, row.form, row)
    return redirect("registers:row_detail", code=engagement.code, row_id=row.pk)


@needs(perms.VIEW_REGISTERS)
def attachment_download(request: HttpRequest, engagement: Engagement, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_get(
        user=request.user, engagement=engagement, attachment_id=attachment_id
    )
    handle = selectors.attachment_open(attachment=attachment)
    return FileResponse(
        handle, as_attachment=True, filename=attachment.name, content_type=attachment.content_type
    )
