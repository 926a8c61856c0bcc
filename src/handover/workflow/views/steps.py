"""The overview, the observer's summary, a site's steps and a step with its notes, evidence and feedback."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.core import clock
from handover.core.uploads import upload_kind
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.web.access import needs
from handover.workflow import charts, paths, selectors, services, steps, storage
from handover.workflow.forms import EvidenceForm, FeedbackForm, NoteForm
from handover.workflow.models import StepInstance
from handover.workflow.views.common import attempt, form_page, page_context


@needs(perms.VIEW_WORKFLOW)
def overview(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    data = selectors.overview(user=request.user, engagement=engagement, now=clock.now())
    total = sum(n for _label, _done, n in data.by_level)
    return render(
        request,
        "workflow/overview.html",
        page_context(
            request,
            engagement,
            data=data,
            # Issue 17 (UX review M4): the state in four numbers at the top, each leading to its list.
            done_now=sum(done for _label, done, _n in data.by_level),
            steps_now=total,
            open_total=sum(n for _id, _name, n in data.open_cases),
            phase_chart=charts.completion_bars(data.by_phase, "chart-phase"),
            level_chart=charts.completion_bars(data.by_level, "chart-level"),
            trend_chart=charts.trend_line(data.trend, total, "chart-trend"),
            heatmap=data.made.get("heatmap")
            or data.made.setdefault(
                "heatmap",
                charts.heatmap(
                    data.rows,
                    data.columns,
                    reverse("workflow:step", args=[engagement.code, 0]),
                    reverse("workflow:site", args=[engagement.code, 0]),
                    data.column_groups,
                ),
            ),
        ),
    )


@needs(perms.VIEW_SUMMARY)
def summary(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    now = clock.now()
    data = selectors.observer_summary(user=request.user, engagement=engagement, now=now)
    return render(
        request,
        "workflow/summary.html",
        page_context(
            request,
            engagement,
            data=data,
            as_of=now,
            phase_chart=charts.completion_bars(data.by_phase, "chart-phase"),
            level_chart=charts.completion_bars(data.by_level, "chart-level"),
        ),
    )


@needs(perms.VIEW_WORKFLOW)
def site(request: HttpRequest, engagement: Engagement, site_id: int) -> HttpResponse:
    page = selectors.site_page(user=request.user, engagement=engagement, site_id=site_id, now=clock.now())
    return render(
        request, "workflow/site.html", page_context(request, engagement, page=page, paths=paths.BY_ID)
    )


@needs(perms.VIEW_WORKFLOW)
def step(request: HttpRequest, engagement: Engagement, instance_id: int) -> HttpResponse:
    instance = selectors.step_get(user=request.user, engagement=engagement, instance_id=instance_id)
    view = selectors.step_view(user=request.user, engagement=engagement, instance=instance, now=clock.now())
    return render(
        request,
        "workflow/step.html",
        page_context(
            request,
            engagement,
            instance=instance,
            view=view,
            spec=steps.BY_ID[instance.step_id],
            notes=instance.notes.select_related("author"),
            evidence=instance.evidence.all(),
            feedback=instance.feedback.select_related("reported_by"),
            note_form=NoteForm(),
            evidence_form=EvidenceForm(),
            register_rows=selectors.step_register_rows(
                user=request.user, engagement=engagement, instance=instance
            ),
        ),
    )


def _step_for(
    request: HttpRequest, engagement: Engagement, instance_id: int, capability: str
) -> StepInstance:
    return selectors.step_get(
        user=request.user, engagement=engagement, instance_id=instance_id, capability=capability
    )


@require_POST
@needs(perms.WORK_STEPS)
def step_note(request: HttpRequest, engagement: Engagement, instance_id: int) -> HttpResponse:
    instance = _step_for(request, engagement, instance_id, perms.WORK_STEPS)
    form = NoteForm(request.POST)
    if form.is_valid() and attempt(
        request,
        form,
        partial(services.step_note_add, actor=request.user, step=instance, text=form.cleaned_data["text"]),
    ):
        return redirect("workflow:step", code=engagement.code, instance_id=instance.pk)
    return form_page(request, engagement, form, _("Add a note"))


@upload_kind("evidence")
@require_POST
@needs(perms.WORK_STEPS)
def step_evidence(request: HttpRequest, engagement: Engagement, instance_id: int) -> HttpResponse:
    instance = _step_for(request, engagement, instance_id, perms.WORK_STEPS)
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        done = attempt(
            request,
            form,
            partial(
                services.step_evidence_add,
                actor=request.user,
                step=instance,
                name=upload.name,
                stream=upload,
                description=form.cleaned_data["description"],
            ),
        )
        if done:
            messages.success(request, _("File attached."))
            return redirect("workflow:step", code=engagement.code, instance_id=instance.pk)
    return form_page(request, engagement, form, _("Attach evidence"), multipart=True)


@require_POST
@needs(perms.WORK_STEPS)
def step_confirm(request: HttpRequest, engagement: Engagement, instance_id: int) -> HttpResponse:
    instance = _step_for(request, engagement, instance_id, perms.WORK_STEPS)
    if attempt(request, None, partial(services.step_confirm, actor=request.user, step=instance)):
        messages.success(request, _("Step confirmed."))
    return redirect("workflow:step", code=engagement.code, instance_id=instance.pk)


@needs(perms.REPORT_FEEDBACK)
def step_feedback(request: HttpRequest, engagement: Engagement, instance_id: int) -> HttpResponse:
    instance = _step_for(request, engagement, instance_id, perms.REPORT_FEEDBACK)
    form = FeedbackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        action = partial(
            services.feedback_record,
            actor=request.user,
            step=instance,
            reason=data["reason"],
            expected_at=data["expected_at"],
        )
        if attempt(request, form, action):
            messages.success(request, _("Feedback sent to the technical group."))
            return redirect("workflow:site", code=engagement.code, site_id=instance.site_id)
    return form_page(request, engagement, form, _("Same-day feedback: %(step)s") % {"step": instance.step_id})


@needs(perms.VIEW_WORKFLOW)
def evidence(request: HttpRequest, engagement: Engagement, evidence_id: int) -> FileResponse:
    item = selectors.evidence_get(user=request.user, engagement=engagement, evidence_id=evidence_id)
    # Served as bytes to save, never as a page: the browser does not guess a type (older evidence was not checked).
    return FileResponse(
        storage.open_verified(item.sha256, item.name),
        as_attachment=True,
        filename=item.name,
        content_type="application/octet-stream",
    )
