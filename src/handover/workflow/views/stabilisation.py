"""The 稳定期 routine: reminders, duty roster, the daily report 表41."""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement
from handover.web.access import needs
from handover.workflow import routine, selectors
from handover.workflow.forms import DutyForm
from handover.workflow.services import stabilisation
from handover.workflow.views.common import attempt, beijing_today, form_page, page_context


@needs(perms.VIEW_WORKFLOW)
def stabilisation_page(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    today = beijing_today()
    return render(
        request,
        "workflow/stabilisation.html",
        page_context(
            request,
            engagement,
            today=today,
            reminders=routine.reminders(user=request.user, engagement=engagement, today=today),
            roster=selectors.duty_roster(
                user=request.user, engagement=engagement, start=today, end=today + dt.timedelta(days=14)
            ),
            sites=org_selectors.site_list(
                user=request.user, engagement=engagement, capability=perms.FILL_REGISTERS
            ),
        ),
    )


@needs(perms.MANAGE_DUTY)
def duty(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = DutyForm(
        request.POST or None,
        sites=selectors.site_choices(user=request.user, engagement=engagement, capability=perms.MANAGE_DUTY),
        people=org_selectors.person_list(user=request.user, engagement=engagement),
        initial={"day": beijing_today()},
    )
    if request.method == "POST" and form.is_valid():
        action = partial(stabilisation.duty_assign, actor=request.user, **form.cleaned_data)
        if attempt(request, form, action):
            messages.success(request, _("Put on the duty roster."))
            return redirect("workflow:stabilisation", code=engagement.code)
    return form_page(request, engagement, form, _("Duty roster"))


@require_POST
@needs(perms.FILL_REGISTERS)
def daily_report(request: HttpRequest, engagement: Engagement, site_id: int) -> HttpResponse:
    site_obj = org_selectors.site_get(
        user=request.user, engagement=engagement, site_id=site_id, capability=perms.FILL_REGISTERS
    )
    action = partial(stabilisation.daily_report_draft, actor=request.user, site=site_obj, day=beijing_today())
    if attempt(request, None, action):
        messages.success(
            request,
            _("表41 drafted for %(site)s: check it and submit it to the technical group.")
            % {"site": site_obj.name},
        )
    return redirect("workflow:stabilisation", code=engagement.code)
