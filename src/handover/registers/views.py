"""Pages of the registers: one set of views for all 41, driven by the column declarations.

Thin, as org.views: forms give the fields, services decide (and refuse with a reason that lands on the
field it names), selectors read only what the user may see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.audit.catalogue import label as catalogue_label
from handover.core.errors import DomainError, NotFound
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement, Phase
from handover.registers import attachments, catalogue, selectors, services
from handover.registers.columns import Column
from handover.registers.forms import (
    AttachmentForm,
    ColumnsForm,
    FormOpenForm,
    ReasonForm,
    RowFilterForm,
    column_label,
)
from handover.registers.models import Attachment, Form, Row, SignatureKind
from handover.web.access import needs


def _spec(register_no: int) -> catalogue.RegisterSpec:
    try:
        return catalogue.get(register_no)
    except KeyError:
        raise NotFound(
            _("表%(n)d does not exist: the guideline has 表1 to 表41.") % {"n": register_no}, field="register"
        ) from None


def _context(request: HttpRequest, engagement: Engagement, **extra: Any) -> dict[str, Any]:
    roles = org_selectors.roles_in(user=request.user, engagement=engagement)
    caps = set().union(*(perms.capabilities_of(r) for r in roles)) if roles else set()
    return {"engagement": engagement, "caps": caps, "my_roles": roles, **extra}


def _service(form: Any, action: Callable[[], Any]) -> Any:
    """Run a service; its refusal goes on the field it names (all fields for an invalid row)."""
    try:
        return action()
    except services.RowInvalid as exc:
        form.add_service_errors(exc.errors)
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
    return None


def _post_action(request: HttpRequest, action: Callable[[], Any], done: str) -> None:
    """A button's service call: a success or the refusal's reason as a message."""
    try:
        action()
        messages.success(request, done)
    except DomainError as exc:
        messages.error(request, str(exc.message))


@needs(perms.VIEW_REGISTERS)
def register_index(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    sites = org_selectors.site_list(user=request.user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    site = (
        sites.filter(pk=request.GET.get("site") or 0).first()
        if request.GET.get("site", "").isdigit()
        else None
    )
    phase = request.GET.get("phase", "")
    phase = phase if phase in Phase.values else ""
    groups = selectors.register_index(user=request.user, engagement=engagement, site=site, phase=phase)
    return render(
        request,
        "registers/index.html",
        _context(
            request, engagement, groups=groups, sites=sites, site=site, phase=phase, phases=Phase.choices
        ),
    )


def _filters(request: HttpRequest, engagement: Engagement, register_no: int) -> tuple[RowFilterForm, Any]:
    sites = org_selectors.site_list(user=request.user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    form = RowFilterForm(request.GET or None, sites=sites, register_no=register_no)
    chosen = form.cleaned_data if form.is_valid() else {}
    filters = selectors.RowFilters(
        register_no=register_no,
        site=chosen.get("site"),
        state=chosen.get("form_state", ""),
        q=chosen.get("q", "").strip(),
        columns=selectors.column_filters(register_no, request.GET),
    )
    return form, filters


def _query_without_cursor(request: HttpRequest) -> str:
    params = request.GET.copy()
    for key in ("after", "before", "last"):
        params.pop(key, None)
    return params.urlencode()


@needs(perms.VIEW_REGISTERS)
def row_list(request: HttpRequest, engagement: Engagement, register_no: int) -> HttpResponse:
    spec = _spec(register_no)
    filter_form, filters = _filters(request, engagement, register_no)
    rows = selectors.row_list(user=request.user, engagement=engagement, filters=filters)
    cursor = selectors.Cursor.parse(
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        last=request.GET.get("last", ""),
    )
    page = selectors.row_page(rows=rows, cursor=cursor)
    columns = catalogue.columns(register_no)
    return render(
        request,
        "registers/row_list.html",
        _context(
            request,
            engagement,
            spec=spec,
            filter_form=filter_form,
            page=page,
            headers=[column_label(c) for c in columns],
            table=_table(engagement, spec, columns, page.rows),
            query=_query_without_cursor(request),
            can_fill=org_selectors.has_capability(
                user=request.user, engagement=engagement, capability=perms.FILL_REGISTERS
            ),
        ),
    )


def _display(
    column: Column, value: Any, labels: dict[str, dict], files: dict[str, Attachment]
) -> tuple[Any, Attachment | None]:
    """A value as a person reads it (names for references, 是/否), and the file of an attachment column."""
    if value is None or value == "" or value == []:
        return "", None
    if column.type == "bool":
        return ("是" if value else "否"), None
    if column.type in ("ref", "refs"):
        names = labels.get(column.ref, {})
        ids = value if isinstance(value, list) else [value]
        return "、".join(str(names.get(i, f"#{i}")) for i in ids), None
    if column.type == "att":
        found = files.get(value)
        return (found.name if found else str(value)[:12]), found
    return value, None


def _table(
    engagement: Engagement, spec: catalogue.RegisterSpec, columns: tuple[Column, ...], rows: list[Row]
) -> list[dict[str, Any]]:
    """Rows ready for a template, with the lookups they need done once for the whole page, links
    included (a page of 50 rows would otherwise reverse 100 URLs)."""
    labels = selectors.ref_labels(engagement=engagement, columns=columns, rows=rows)
    files = selectors.column_files(engagement=engagement, columns=columns, rows=rows)
    signatures = selectors.row_signatures(rows=rows) if spec.dual_signature else {}
    row_link = reverse("registers:row_detail", kwargs={"code": engagement.code, "row_id": 0})[:-2]
    form_link = reverse("registers:form_detail", kwargs={"code": engagement.code, "form_id": 0})[:-2]
    return [
        {
            "row": row,
            "href": f"{row_link}{row.pk}/",
            "form_href": f"{form_link}{row.form_id}/",
            "cells": [_display(c, row.data.get(c.key), labels, files) for c in columns],
            "executor": _signer_name(signatures, row, SignatureKind.EXECUTOR),
            "supervisor": _signer_name(signatures, row, SignatureKind.SUPERVISOR),
        }
        for row in rows
    ]


def _signer_name(signatures: dict[int, dict[str, Any]], row: Row, kind: str) -> str:
    found = signatures.get(row.pk, {}).get(kind)
    return found.person.name if found else "—"


@needs(perms.VIEW_REGISTERS)
def form_list(request: HttpRequest, engagement: Engagement, register_no: int) -> HttpResponse:
    spec = _spec(register_no)
    forms = selectors.form_list(user=request.user, engagement=engagement, register_no=register_no)
    state = request.GET.get("form_state", "")
    if state:
        forms = forms.filter(state=state)
    page = Paginator(forms, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "registers/form_list.html",
        _context(
            request,
            engagement,
            spec=spec,
            page=page,
            query=f"form_state={state}" if state else "",
            can_fill=org_selectors.has_capability(
                user=request.user, engagement=engagement, capability=perms.FILL_REGISTERS
            ),
        ),
    )


@needs(perms.FILL_REGISTERS)
def form_create(request: HttpRequest, engagement: Engagement, register_no: int) -> HttpResponse:
    spec = _spec(register_no)
    sites = org_selectors.site_list(user=request.user, engagement=engagement, capability=perms.FILL_REGISTERS)
    form = FormOpenForm(request.POST or None, sites=sites)
    header = ColumnsForm(
        request.POST or None,
        request.FILES or None,
        columns=catalogue.header_fields(register_no),
        user=request.user,
        engagement=engagement,
        with_remarks=False,
        prefix="header",
    )
    if request.method == "POST" and form.is_valid() and header.is_valid():
        d = form.cleaned_data

        def create(values: dict[str, Any]) -> Form:
            return services.form_create(
                actor=request.user,
                engagement=engagement,
                site=d["site"],
                register_no=register_no,
                form_date=d["form_date"],
                form_no=d["form_no"],
                header=values,
            )

        created = _service(
            _Both(form, header),
            lambda: attachments.write_with_files(
                actor=request.user,
                write=create,
                data=header.service_data(),
                files=header.files_to_store(),
                columns=services.header_columns(register_no),
            ),
        )
        if created:
            messages.success(request, _("Form %(no)s opened.") % {"no": created.form_no})
            return redirect("registers:form_detail", code=engagement.code, form_id=created.pk)
    return render(
        request,
        "registers/form_create.html",
        _context(request, engagement, spec=spec, form=form, header=header),
    )


class _Both:
    """Errors of the form-opening page: header fields on the header form, the rest on the main form."""

    def __init__(self, main: Any, header: ColumnsForm) -> None:
        self.main, self.header = main, header
        self.fields = {**main.fields, **header.fields}

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        self.header.add_service_errors(errors)

    def add_error(self, field: str | None, message: str) -> None:
        target = self.header if field in self.header.fields else self.main
        target.add_error(field if field in target.fields else None, message)


@needs(perms.VIEW_REGISTERS)
def form_detail(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    form = selectors.form_get(user=request.user, engagement=engagement, form_id=form_id)
    spec = _spec(form.register_no)
    columns = catalogue.columns(form.register_no)
    cursor = selectors.Cursor.parse(
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        last=request.GET.get("last", ""),
    )
    rows = Row.objects.filter(form=form, is_current=True).select_related("form", "form__site")
    page = selectors.row_page(rows=rows, cursor=cursor)
    versions = selectors.form_versions(form=form)
    this = next(v for v in versions if v.pk == form.pk)
    header_columns = catalogue.header_fields(form.register_no)
    header_files = selectors.column_files(engagement=engagement, columns=header_columns, forms=[form])
    return render(
        request,
        "registers/form_detail.html",
        _context(
            request,
            engagement,
            spec=spec,
            form=form,
            header=[
                (column_label(c), *_display(c, form.header.get(c.key), {}, header_files))
                for c in header_columns
            ],
            footer=_footer(this),
            headers=[column_label(c) for c in columns],
            table=_table(engagement, spec, columns, page.rows),
            page=page,
            query="",
            versions=versions,
            actions=selectors.form_actions(user=request.user, form=this),
            files=form.attachments.filter(row__isnull=True, column=""),
            attachment_form=AttachmentForm(),
        ),
    )


def _footer(form: Form) -> list[dict[str, Any]]:
    """The footer signature lines in the frame's order, signed or still open."""
    given = {s.role: s for s in form.signatures.all()}
    return [
        {"role": role, "label": selectors.role_label(role), "signature": given.get(role)}
        for role in services.footer_roles(form.register_no)
    ]


@require_POST
@needs(perms.FILL_REGISTERS)
def form_submit(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    form = selectors.form_get(
        user=request.user, engagement=engagement, form_id=form_id, capability=perms.FILL_REGISTERS
    )
    _post_action(
        request, lambda: services.form_submit(actor=request.user, form=form), _("Form submitted for signing.")
    )
    return redirect("registers:form_detail", code=engagement.code, form_id=form.pk)


@require_POST
@needs(perms.VIEW_REGISTERS)
def form_sign(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    """Any reader may try; the service signs in the role they hold at the form's site, or refuses."""
    form = selectors.form_get(user=request.user, engagement=engagement, form_id=form_id)
    _post_action(request, lambda: services.form_sign(actor=request.user, form=form), _("Form signed."))
    return redirect("registers:form_detail", code=engagement.code, form_id=form.pk)


@needs(perms.FILL_REGISTERS)
def form_correct(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    form = selectors.form_get(
        user=request.user, engagement=engagement, form_id=form_id, capability=perms.FILL_REGISTERS
    )
    reason = ReasonForm(request.POST or None)
    if request.method == "POST" and reason.is_valid():
        new = _service(
            reason,
            lambda: services.form_correct(
                actor=request.user, form=form, reason=reason.cleaned_data["reason"]
            ),
        )
        if new:
            messages.success(request, _("Version %(v)d opened as a draft.") % {"v": new.version})
            return redirect("registers:form_detail", code=engagement.code, form_id=new.pk)
    return render(
        request,
        "registers/reason.html",
        _context(
            request,
            engagement,
            spec=_spec(form.register_no),
            form=form,
            reason=reason,
            title=_("Correct form %(no)s as a new version") % {"no": form.form_no},
        ),
    )


def _row_form(request: HttpRequest, engagement: Engagement, register_no: int, row: Row | None) -> ColumnsForm:
    return ColumnsForm(
        request.POST or None,
        request.FILES or None,
        columns=catalogue.columns(register_no),
        user=request.user,
        engagement=engagement,
        values=row.data if row else None,
        remarks=row.remarks if row else "",
    )


def _write_row(request: HttpRequest, form: ColumnsForm, write: Callable[[dict[str, Any]], Row]) -> Row | None:
    return _service(
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
    row_form = _row_form(request, engagement, form.register_no, None)
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
        _context(
            request,
            engagement,
            spec=_spec(form.register_no),
            form=form,
            row_form=row_form,
            title=_("Add a row to %(no)s") % {"no": form.form_no},
            adding=True,
        ),
    )


@needs(perms.VIEW_REGISTERS)
def row_detail(request: HttpRequest, engagement: Engagement, row_id: int) -> HttpResponse:
    row = selectors.row_get(user=request.user, engagement=engagement, row_id=row_id)
    spec = _spec(row.form.register_no)
    columns = catalogue.columns(spec.number)
    history = selectors.row_history(row=row)
    labels = selectors.ref_labels(engagement=engagement, columns=columns, rows=history.versions)
    files = selectors.column_files(engagement=engagement, columns=columns, rows=history.versions)
    versions = [
        {
            "row": version,
            "cells": [
                (column_label(c), *_display(c, version.data.get(c.key), labels, files)) for c in columns
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
        _context(
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
    row_form = _row_form(request, engagement, row.form.register_no, row)
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
        _context(
            request,
            engagement,
            spec=_spec(row.form.register_no),
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
    row_form = _row_form(request, engagement, row.form.register_no, row)
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
        _context(
            request,
            engagement,
            spec=_spec(row.form.register_no),
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
    _post_action(request, lambda: services.row_sign(actor=request.user, row=row, kind=kind), _("Row signed."))
    return redirect("registers:row_detail", code=engagement.code, row_id=row.pk)


def _attach(request: HttpRequest, form: Form, row: Row | None) -> None:
    upload = AttachmentForm(request.POST, request.FILES)
    if not upload.is_valid():
        for errors in upload.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return
    file = upload.cleaned_data["file"]
    _post_action(
        request,
        lambda: attachments.attachment_add(
            actor=request.user,
            form=form,
            row=row,
            name=file.name,
            chunks=file.chunks(),
            description=upload.cleaned_data["description"],
        ),
        _("%(name)s attached.") % {"name": file.name},
    )


@require_POST
@needs(perms.FILL_REGISTERS)
def row_attach(request: HttpRequest, engagement: Engagement, row_id: int) -> HttpResponse:
    row = selectors.row_get(
        user=request.user, engagement=engagement, row_id=row_id, capability=perms.FILL_REGISTERS
    )
    _attach(request, row.form, row)
    return redirect("registers:row_detail", code=engagement.code, row_id=row.pk)


@require_POST
@needs(perms.FILL_REGISTERS)
def form_attach(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    form = selectors.form_get(
        user=request.user, engagement=engagement, form_id=form_id, capability=perms.FILL_REGISTERS
    )
    _attach(request, form, None)
    return redirect("registers:form_detail", code=engagement.code, form_id=form.pk)


@needs(perms.VIEW_REGISTERS)
def attachment_download(request: HttpRequest, engagement: Engagement, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_get(
        user=request.user, engagement=engagement, attachment_id=attachment_id
    )
    handle = selectors.attachment_open(attachment=attachment)
    return FileResponse(
        handle, as_attachment=True, filename=attachment.name, content_type=attachment.content_type
    )
