"""Pages of the workflow: the overview, a site's steps, a step, exception cases, and 技术组's forms. Thin:
forms check shape, services decide, selectors read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement
from handover.registers.models import Row
from handover.web.access import AUTHENTICATED, needs
from handover.workflow import (
    charts,
    clock,
    notifications,
    paths,
    selectors,
    services,
    stabilisation,
    state,
    steps,
    storage,
)
from handover.workflow.deadlines import BEIJING
from handover.workflow.forms import (
    CaseLinkForm,
    CaseOpenForm,
    CaseTickForm,
    DeadlineForm,
    DutyForm,
    EvidenceForm,
    FeedbackForm,
    NoteForm,
    PhaseForm,
    ReportForm,
    SubscriptionForm,
)
from handover.workflow.models import StepInstance


def _context(request: HttpRequest, engagement: Engagement, **extra: Any) -> dict[str, Any]:
    roles = org_selectors.roles_in(user=request.user, engagement=engagement)
    caps = set().union(*(perms.capabilities_of(r) for r in roles)) if roles else set()
    return {"engagement": engagement, "caps": caps, "states": state.STATES, **extra}


def _attempt(request: HttpRequest, form: Any, action: Callable[[], Any]) -> Any:
    """Run a service; a DomainError lands on the field it names, or on the page."""
    try:
        return action()
    except DomainError as exc:
        if form is not None:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            messages.error(request, str(exc.message))
        return None


def _form_page(
    request: HttpRequest, engagement: Engagement, form: Any, title: str, **extra: Any
) -> HttpResponse:
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "workflow/form.html",
        _context(request, engagement, form=form, title=title, **extra),
        status=status,
    )


@needs(perms.VIEW_WORKFLOW)
def overview(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    data = selectors.overview(user=request.user, engagement=engagement, now=clock.now())
    total = sum(n for _label, _done, n in data.by_level)
    return render(
        request,
        "workflow/overview.html",
        _context(
            request,
            engagement,
            data=data,
            phase_chart=charts.completion_bars(data.by_phase, "chart-phase"),
            level_chart=charts.completion_bars(data.by_level, "chart-level"),
            trend_chart=charts.trend_line(data.trend, total, "chart-trend"),
            heatmap=charts.heatmap(
                data.rows,
                data.columns,
                reverse("workflow:step", args=[engagement.code, 0]),
                reverse("workflow:site", args=[engagement.code, 0]),
            ),
        ),
    )


@needs(perms.VIEW_SUMMARY)
def summary(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    data = selectors.observer_summary(user=request.user, engagement=engagement, now=clock.now())
    return render(
        request,
        "workflow/summary.html",
        _context(
            request,
            engagement,
            data=data,
            phase_chart=charts.completion_bars(data.by_phase, "chart-phase"),
            level_chart=charts.completion_bars(data.by_level, "chart-level"),
        ),
    )


@needs(perms.VIEW_WORKFLOW)
def site(request: HttpRequest, engagement: Engagement, site_id: int) -> HttpResponse:
    page = selectors.site_page(user=request.user, engagement=engagement, site_id=site_id, now=clock.now())
    return render(request, "workflow/site.html", _context(request, engagement, page=page, paths=paths.BY_ID))


@needs(perms.VIEW_WORKFLOW)
def step(request: HttpRequest, engagement: Engagement, instance_id: int) -> HttpResponse:
    instance = selectors.step_get(user=request.user, engagement=engagement, instance_id=instance_id)
    view = selectors.step_view(engagement=engagement, instance=instance, now=clock.now())
    return render(
        request,
        "workflow/step.html",
        _context(
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
    if form.is_valid() and _attempt(
        request,
        form,
        partial(services.step_note_add, actor=request.user, step=instance, text=form.cleaned_data["text"]),
    ):
        return redirect("workflow:step", code=engagement.code, instance_id=instance.pk)
    return _form_page(request, engagement, form, _("Add a note"))


@require_POST
@needs(perms.WORK_STEPS)
def step_evidence(request: HttpRequest, engagement: Engagement, instance_id: int) -> HttpResponse:
    instance = _step_for(request, engagement, instance_id, perms.WORK_STEPS)
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        done = _attempt(
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
    return _form_page(request, engagement, form, _("Attach evidence"), multipart=True)


@require_POST
@needs(perms.WORK_STEPS)
def step_confirm(request: HttpRequest, engagement: Engagement, instance_id: int) -> HttpResponse:
    instance = _step_for(request, engagement, instance_id, perms.WORK_STEPS)
    if _attempt(request, None, partial(services.step_confirm, actor=request.user, step=instance)):
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
        if _attempt(request, form, action):
            messages.success(request, _("Feedback sent to the technical group."))
            return redirect("workflow:site", code=engagement.code, site_id=instance.site_id)
    return _form_page(
        request, engagement, form, _("Same-day feedback: %(step)s") % {"step": instance.step_id}
    )


@needs(perms.VIEW_WORKFLOW)
def evidence(request: HttpRequest, engagement: Engagement, evidence_id: int) -> FileResponse:
    item = selectors.evidence_get(user=request.user, engagement=engagement, evidence_id=evidence_id)
    return FileResponse(storage.open_stored(item.stored_as), as_attachment=True, filename=item.name)


@needs(perms.MANAGE_WORKFLOW)
def deadline(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = DeadlineForm(request.POST or None, initial={"step_id": request.GET.get("step")})
    if request.method == "POST" and form.is_valid():
        action = partial(
            services.deadline_set, actor=request.user, engagement=engagement, **form.cleaned_data
        )
        if _attempt(request, form, action):
            messages.success(request, _("Deadline saved."))
            return redirect("workflow:overview", code=engagement.code)
    table = selectors.deadline_table(user=request.user, engagement=engagement)
    return _form_page(request, engagement, form, _("Set a step's deadline"), deadlines=table)


@needs(perms.MANAGE_WORKFLOW)
def phase(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = PhaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action = partial(
            services.phase_transition, actor=request.user, engagement=engagement, **form.cleaned_data
        )
        if _attempt(request, form, action):
            messages.success(request, _("The engagement is in its next phase."))
            return redirect("workflow:overview", code=engagement.code)
    return _form_page(request, engagement, form, _("Move to the next phase"))


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
        if _attempt(request, form, action):
            messages.success(request, _("Report to the working group recorded."))
            return redirect("workflow:overview", code=engagement.code)
    return _form_page(request, engagement, form, _("Report to the working group"))


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
        row = (
            Row.objects.filter(pk=data["source_row"], form__engagement=engagement).first()
            if data["source_row"]
            else None
        )
        if data["source_row"] and row is None:
            form.add_error(
                "source_row", _("No register row %(id)s in this engagement.") % {"id": data["source_row"]}
            )
        else:
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
            case = _attempt(request, form, action)
            if case:
                return redirect("workflow:case", code=engagement.code, case_id=case.pk)
    return _form_page(
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
        _context(
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
        if _attempt(request, form, action):
            return redirect("workflow:case", code=engagement.code, case_id=item.pk)
    return _form_page(request, engagement, form, _("Checklist item"), multipart=True)


@require_POST
@needs(perms.HANDLE_EXCEPTIONS)
def case_link(request: HttpRequest, engagement: Engagement, case_id: int) -> HttpResponse:
    item = _case_for(request, engagement, case_id)
    form = CaseLinkForm(request.POST, choices=selectors.t39_choices(case=item))
    if form.is_valid():
        row = Row.objects.get(pk=form.cleaned_data["row"])
        if _attempt(request, form, partial(services.case_link_t39, actor=request.user, case=item, row=row)):
            return redirect("workflow:case", code=engagement.code, case_id=item.pk)
    return _form_page(request, engagement, form, _("Link the 表39 entry"))


@require_POST
@needs(perms.HANDLE_EXCEPTIONS)
def case_close(request: HttpRequest, engagement: Engagement, case_id: int) -> HttpResponse:
    item = _case_for(request, engagement, case_id)
    if _attempt(request, None, partial(services.case_close, actor=request.user, case=item)):
        messages.success(request, _("Exception case closed."))
    return redirect("workflow:case", code=engagement.code, case_id=item.pk)


@needs(AUTHENTICATED)
def inbox(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    items = selectors.notification_list(user=request.user, engagement=engagement)
    if request.method == "POST":
        ids = list(items.filter(read_at__isnull=True).values_list("pk", flat=True))
        _attempt(
            request,
            None,
            partial(notifications.notification_read, actor=request.user, engagement=engagement, ids=ids),
        )
        return redirect("workflow:inbox", code=engagement.code)
    return render(request, "workflow/inbox.html", _context(request, engagement, items=items[:200]))


@needs(AUTHENTICATED)
def subscriptions(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    mine = selectors.subscription_list(user=request.user, engagement=engagement)
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and "end" in request.POST:
        ended = mine.filter(pk=request.POST.get("end") or 0).first()
        if ended is not None:
            _attempt(
                request, None, partial(notifications.subscription_end, actor=request.user, subscription=ended)
            )
        return redirect("workflow:subscriptions", code=engagement.code)
    if request.method == "POST" and form.is_valid():
        action = partial(
            notifications.subscription_set, actor=request.user, engagement=engagement, **form.cleaned_data
        )
        if _attempt(request, form, action):
            messages.success(request, _("Subscription saved."))
            return redirect("workflow:subscriptions", code=engagement.code)
    return render(
        request,
        "workflow/subscriptions.html",
        _context(request, engagement, form=form, mine=mine),
        status=400 if request.method == "POST" else 200,
    )


def _today() -> dt.date:
    return clock.now().astimezone(BEIJING).date()


@needs(perms.VIEW_WORKFLOW)
def stabilisation_page(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    today = _today()
    return render(
        request,
        "workflow/stabilisation.html",
        _context(
            request,
            engagement,
            today=today,
            reminders=stabilisation.reminders(user=request.user, engagement=engagement, today=today),
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
        initial={"day": _today()},
    )
    if request.method == "POST" and form.is_valid():
        action = partial(stabilisation.duty_assign, actor=request.user, **form.cleaned_data)
        if _attempt(request, form, action):
            messages.success(request, _("Put on the duty roster."))
            return redirect("workflow:stabilisation", code=engagement.code)
    return _form_page(request, engagement, form, _("Duty roster"))


@require_POST
@needs(perms.FILL_REGISTERS)
def daily_report(request: HttpRequest, engagement: Engagement, site_id: int) -> HttpResponse:
    site_obj = org_selectors.site_get(
        user=request.user, engagement=engagement, site_id=site_id, capability=perms.FILL_REGISTERS
    )
    action = partial(stabilisation.daily_report_draft, actor=request.user, site=site_obj, day=_today())
    if _attempt(request, None, action):
        messages.success(
            request,
            _("表41 drafted for %(site)s: check it and submit it to the technical group.")
            % {"site": site_obj.name},
        )
    return redirect("workflow:stabilisation", code=engagement.code)
