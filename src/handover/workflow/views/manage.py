"""技术组's forms: deadlines, the phase transition, the report to the working group."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from handover.org import permissions as perms
from handover.org.models import Engagement, Phase
from handover.web.access import needs
from handover.workflow import selectors, services
from handover.workflow.forms import DeadlineForm, PhaseForm, ReportForm
from handover.workflow.views.common import attempt, form_page


@needs(perms.MANAGE_WORKFLOW)
def deadline(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = DeadlineForm(request.POST or None, initial={"step_id": request.GET.get("step")})
    if request.method == "POST" and form.is_valid():
        action = partial(
            services.deadline_set, actor=request.user, engagement=engagement, **form.cleaned_data
        )
        if attempt(request, form, action):
            messages.success(request, _("Deadline saved."))
            return redirect("workflow:overview", code=engagement.code)
    table = selectors.deadline_table(user=request.user, engagement=engagement)
    return form_page(request, engagement, form, _("Set a step's deadline"), deadlines=table)


@needs(perms.MANAGE_WORKFLOW)
def phase(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = PhaseForm(request.POST or None, current=engagement.phase)
    if request.method == "POST" and form.is_valid():
        action = partial(
            services.phase_transition, actor=request.user, engagement=engagement, **form.cleaned_data
        )
        if attempt(request, form, action):
            messages.success(request, _("The engagement is in its next phase."))
            return redirect("workflow:overview", code=engagement.code)
    return form_page(
        request, engagement, form, _("Move to the next phase"), phase_notes=_phase_notes(engagement)
    )


def _phase_notes(engagement: Engagement) -> list[str]:
    """What the phase page says before the button (UX review M6): where the engagement is, what the move needs,
    and what it does."""
    current = Phase(engagement.phase)
    notes = [_("The engagement is in the %(phase)s.") % {"phase": current.label}]
    if current == Phase.PREPARATION:
        notes += [
            _("Moving to the 交接期 is allowed from the disposal date D (%(d)s) on.")
            % {"d": engagement.disposal_date},
            _("It creates every site's 交接期 steps, whose deadlines count from D, and tells every member."),
        ]
    elif current == Phase.HANDOVER:
        notes += [
            _(
                "Moving to the 稳定期 needs the working group's approval of a handover package with the signed 表24 "
                "(第二十七条第4项) and no exception case open (第二十八条)."
            ),
            _("It creates the 稳定期 steps of every site and tells every member. There is no way back."),
        ]
    else:
        notes.append(_("The 稳定期 is the last phase: there is no next one."))
    return notes


@needs(perms.MANAGE_WORKFLOW)
def report(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    feedback, escalations = selectors.unreported(user=request.user, engagement=engagement)
    form = ReportForm(
        request.POST or None,
        feedback=[(f.pk, f"{f.step.site} {f.step.step_id}: {f.reason}") for f in feedback],
        escalations=[(e.pk, f"{e.step.site} {e.step.step_id}") for e in escalations],
    )
    if request.method == "POST" and form.is_valid():
        chosen_f = [f for f in feedback if str(f.pk) in form.cleaned_data["feedback"]]
        chosen_e = [e for e in escalations if str(e.pk) in form.cleaned_data["escalations"]]
        action = partial(
            services.wg_report_record,
            actor=request.user,
            engagement=engagement,
            text=form.cleaned_data["text"],
            feedback=chosen_f,
            escalations=chosen_e,
        )
        if attempt(request, form, action):
            messages.success(request, _("Report to the working group recorded."))
            return redirect("workflow:overview", code=engagement.code)
    return form_page(request, engagement, form, _("Report to the working group"))
