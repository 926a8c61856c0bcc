"""Exception cases: start, checklist, 表39 entry, close."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement
from handover.registers import selectors as register_selectors
from handover.registers.models import Row
from handover.web.access import needs
from handover.workflow import paths, selectors, services
from handover.workflow.forms import CaseLinkForm, CaseOpenForm, CaseTickForm
from handover.workflow.views.common import attempt, form_page, page_context


def _row_at_my_sites(
    request: HttpRequest, engagement: Engagement, form: Any, field: str, row_id: int | None
) -> Row | None:
    """The register row a case names, read through the registers' scoped selector as the API reads it
    (review §4.4): a row at another site is "not found", as a missing one, on the form's field."""
    if not row_id:
        return None
    try:
        return register_selectors.row_get(user=request.user, engagement=engagement, row_id=int(row_id))
    except NotFound as exc:
        form.add_error(field, exc.message)
        return None


@needs(perms.HANDLE_EXCEPTIONS)
def case_open(request: HttpRequest, engagement: Engagement, site_id: int) -> HttpResponse:
    site_obj = org_selectors.site_get(
        user=request.user, engagement=engagement, site_id=site_id, capability=perms.HANDLE_EXCEPTIONS
    )
    form = CaseOpenForm(
        request.POST or None,
        initial={"source_row": request.GET.get("row"), "path_id": request.GET.get("path")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        named = data["source_row"]
        row = _row_at_my_sites(request, engagement, form, "source_row", named)
        if not (named and row is None):
            action = partial(
                services.case_open,
                actor=request.user,
                engagement=engagement,
                site=None if row else site_obj,
                source_row=row,
                path_id=data["path_id"],
                sub_type=data["sub_type"],
                description=data["description"],
            )
            case = attempt(request, form, action)
            if case:
                return redirect("workflow:case", code=engagement.code, case_id=case.pk)
    return form_page(
        request, engagement, form, _("Start an exception path at %(site)s") % {"site": site_obj.name}
    )


def _tick_choices(case: Any) -> list[tuple[str, str]]:
    done = set(case.items.values_list("key", flat=True))
    return [
        (item.key, item.zh)
        for item in paths.BY_ID[case.path_id].items
        if item.key != paths.CLOSE and item.key not in done and item.applies(case.sub_type)
    ]


@needs(perms.VIEW_WORKFLOW)
def case(request: HttpRequest, engagement: Engagement, case_id: int) -> HttpResponse:
    item = selectors.case_get(user=request.user, engagement=engagement, case_id=case_id)
    path = paths.BY_ID[item.path_id]
    done = {i.key: i for i in item.items.select_related("evidence")}
    checklist = [(p, done.get(p.key)) for p in path.items if p.applies(item.sub_type)]
    return render(
        request,
        "workflow/case.html",
        page_context(
            request,
            engagement,
            case=item,
            path=path,
            checklist=checklist,
            t39=services.current_t39(item),
            refusal=services.close_refusal(item),
            tick_form=CaseTickForm(choices=_tick_choices(item)),
            link_form=CaseLinkForm(choices=selectors.t39_choices(case=item)),
        ),
    )


def _case_for(request: HttpRequest, engagement: Engagement, case_id: int) -> Any:
    return selectors.case_get(
        user=request.user, engagement=engagement, case_id=case_id, capability=perms.HANDLE_EXCEPTIONS
    )


@require_POST
@needs(perms.HANDLE_EXCEPTIONS)
def case_tick(request: HttpRequest, engagement: Engagement, case_id: int) -> HttpResponse:
    item = _case_for(request, engagement, case_id)
    form = CaseTickForm(request.POST, request.FILES, choices=_tick_choices(item))
    if form.is_valid():
        data, upload = form.cleaned_data, form.cleaned_data.get("file")
        action = partial(
            services.case_tick,
            actor=request.user,
            case=item,
            key=data["key"],
            record=data["record"],
            note=data["note"],
            file_name=upload.name if upload else "",
            stream=upload,
        )
        if attempt(request, form, action):
            return redirect("workflow:case", code=engagement.code, case_id=item.pk)
    return form_page(request, engagement, form, _("Checklist item"), multipart=True)


@require_POST
@needs(perms.HANDLE_EXCEPTIONS)
def case_link(request: HttpRequest, engagement: Engagement, case_id: int) -> HttpResponse:
    item = _case_for(request, engagement, case_id)
    form = CaseLinkForm(request.POST, choices=selectors.t39_choices(case=item))
    valid = form.is_valid()
    row = _row_at_my_sites(request, engagement, form, "row", form.cleaned_data["row"]) if valid else None
    if row is not None and attempt(
        request, form, partial(services.case_link_t39, actor=request.user, case=item, row=row)
    ):
        return redirect("workflow:case", code=engagement.code, case_id=item.pk)
    return form_page(request, engagement, form, _("Link the 表39 entry"))


@require_POST
@needs(perms.HANDLE_EXCEPTIONS)
def case_close(request: HttpRequest, engagement: Engagement, case_id: int) -> HttpResponse:
    item = _case_for(request, engagement, case_id)
    if attempt(request, None, partial(services.case_close, actor=request.user, case=item)):
        messages.success(request, _("Exception case closed."))
    return redirect("workflow:case", code=engagement.code, case_id=item.pk)
