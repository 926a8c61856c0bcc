"""A register form: opening it with its header, reading it, submitting, footer signatures, correcting
a signed form as a new version, evidence on the form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.core.actors import Actor
from handover.core.uploads import upload_kind
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement
from handover.registers import attachments, catalogue, hooks, seeding, selectors, services
from handover.registers.forms import (
    AttachmentForm,
    ColumnsForm,
    FormOpenForm,
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
    run_service,
    table,
)
from handover.web.access import needs


def _new_form_initial(user: Actor, engagement: Engagement, sites: Any) -> dict[str, Any]:
    """UX review L6: today's date (Beijing), and the site when the person fills registers at only one."""
    own = {
        g.site_id
        for g in org_selectors.grants_for(user)
        if g.engagement_id == engagement.pk and perms.FILL_REGISTERS in perms.capabilities_of(g.role)
    }
    initial: dict[str, Any] = {"form_date": timezone.localdate(hooks.clock())}
    if len(own) == 1 and None not in own:
        initial["site"] = own.pop()
    elif len(choices := list(sites.values_list("pk", flat=True)[:2])) == 1:
        initial["site"] = choices[0]
    return initial


@needs(perms.FILL_REGISTERS)
def form_create(request: HttpRequest, engagement: Engagement, register_no: int) -> HttpResponse:
    spec = register_spec(register_no)
    sites = org_selectors.site_list(user=request.user, engagement=engagement, capability=perms.FILL_REGISTERS)
    form = FormOpenForm(
        request.POST or None, sites=sites, initial=_new_form_initial(request.user, engagement, sites)
    )
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
            return seeding.form_open(
                actor=request.user,
                engagement=engagement,
                site=d["site"],
                register_no=register_no,
                form_date=d["form_date"],
                form_no=d["form_no"],
                header=values,
            )

        created = run_service(
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
        page_context(request, engagement, spec=spec, form=form, header=header),
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
    spec = register_spec(form.register_no)
    columns = catalogue.columns(form.register_no)
    cursor = selectors.Cursor.parse(
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        last=request.GET.get("last", ""),
    )
    page = selectors.row_lines(rows=Row.objects.filter(form=form, is_current=True), cursor=cursor)
    versions = selectors.form_versions(form=form)
    this = next(v for v in versions if v.pk == form.pk)
    header_columns = catalogue.header_fields(form.register_no)
    header_files = selectors.column_files(engagement=engagement, columns=header_columns, forms=[form])
    return render(
        request,
        "registers/form_detail.html",
        page_context(
            request,
            engagement,
            spec=spec,
            form=form,
            header=[
                (column_label(c), *display(c, form.header.get(c.key), {}, header_files))
                for c in header_columns
            ],
            footer=_footer(this),
            headers=[column_label(c) for c in columns],
            table=table(engagement, spec, columns, page.rows, user=request.user),
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
    post_action(
        request, lambda: services.form_submit(actor=request.user, form=form), _("Form submitted for signing.")
    )
    return redirect("registers:form_detail", code=engagement.code, form_id=form.pk)


@require_POST
@needs(perms.VIEW_REGISTERS)
def form_sign(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    """Any reader may try; the service signs in the role they hold at the form's site, or refuses."""
    form = selectors.form_get(user=request.user, engagement=engagement, form_id=form_id)
    post_action(request, lambda: services.form_sign(actor=request.user, form=form), _("Form signed."))
    return redirect("registers:form_detail", code=engagement.code, form_id=form.pk)


@require_POST
@needs(perms.VIEW_REGISTERS)
def form_archive(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    """The service archives only for the site's 现场技术岗位 or 技术组, and says so to anyone else."""
    form = selectors.form_get(user=request.user, engagement=engagement, form_id=form_id)
    post_action(request, lambda: services.form_archive(actor=request.user, form=form), _("Form archived."))
    return redirect("registers:form_detail", code=engagement.code, form_id=form.pk)


@needs(perms.FILL_REGISTERS)
def form_correct(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    form = selectors.form_get(
        user=request.user, engagement=engagement, form_id=form_id, capability=perms.FILL_REGISTERS
    )
    reason = ReasonForm(request.POST or None)
    if request.method == "POST" and reason.is_valid():
        new = run_service(
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
        page_context(
            request,
            engagement,
            spec=register_spec(form.register_no),
            form=form,
            reason=reason,
            title=_("Correct form %(no)s as a new version") % {"no": form.form_no},
        ),
    )


@upload_kind("attachment")
@require_POST
@needs(perms.FILL_REGISTERS)
def form_attach(request: HttpRequest, engagement: Engagement, form_id: int) -> HttpResponse:
    form = selectors.form_get(
        user=request.user, engagement=engagement, form_id=form_id, capability=perms.FILL_REGISTERS
    )
    attach(request, form, None)
    return redirect("registers:form_detail", code=engagement.code, form_id=form.pk)
