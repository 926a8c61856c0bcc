"""Pages of security management: the duty compliance view, incidents with their clocks, the risk register,
plans and drills."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from handover.core import clock
from handover.core.errors import DomainError
from handover.core.uploads import upload_kind
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement, Organisation, Person
from handover.registers.io.reading import max_bytes
from handover.registers.models import InformationSystem
from handover.risk import rules, vulnfiles
from handover.risk.forms import (
    AcceptanceForm,
    ActivityForm,
    AssessmentIssueForm,
    CapacityForm,
    ChangeForm,
    CloseForm,
    DrillForm,
    EvidenceForm,
    FilingForm,
    FreezeForm,
    IncidentForm,
    LinkForm,
    NoticeForm,
    NoticeToPartyForm,
    PlanForm,
    RegradeForm,
    ReportForm,
    RestoreForm,
    RiskForm,
    SupplierForm,
    VulnDecisionForm,
    VulnFixForm,
    VulnImportForm,
)
from handover.risk.models import AssessmentReport, Category, PlanVersion, RiskAcceptance, Severity
from handover.risk.selectors import assessment as assessment_selectors
from handover.risk.selectors import capacity as capacity_selectors
from handover.risk.selectors import changes as change_selectors
from handover.risk.selectors import compliance, incidents, plans, register
from handover.risk.selectors import obligations as obligation_selectors
from handover.risk.selectors import privacy as privacy_selectors
from handover.risk.selectors import suppliers as supplier_selectors
from handover.risk.selectors import vulns as vuln_selectors
from handover.risk.selectors.deadlines import deadlines
from handover.risk.services import assessment as assessment_services
from handover.risk.services import capacity as capacity_services
from handover.risk.services import changes as change_services
from handover.risk.services import compliance as compliance_services
from handover.risk.services import incidents as incident_services
from handover.risk.services import obligations as obligation_services
from handover.risk.services import plans as plan_services
from handover.risk.services import privacy as privacy_services
from handover.risk.services import register as register_services
from handover.risk.services import suppliers as supplier_services
from handover.risk.services import vulns as vuln_services
from handover.web import actions
from handover.web.access import needs
from handover.web.pages import capabilities_in
from handover.workflow.deadlines import BEIJING


def _caps(request: HttpRequest, engagement: Engagement) -> set[str]:
    return capabilities_in(user=request.user, engagement=engagement)[1]


def _fail(form: object, exc: DomainError) -> None:
    actions.refusal_shown(None, form, exc)


@needs(perms.VIEW_RISK)
def overview(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The duties of the measures with their status and evidence, and what is due."""
    form = EvidenceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actions.run(
            request,
            form,
            lambda: compliance_services.evidence_link(
                actor=request.user, engagement=engagement, **form.cleaned_data
            ),
        )
        if not form.errors:  # valid before the service ran: an error now is its refusal
            messages.success(request, _("Evidence linked."))
            return redirect("risk:overview", code=engagement.code)
    now = clock.now()
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "form": form,
        "lines": compliance.compliance_view(user=request.user, engagement=engagement, now=now),
        "due": deadlines(user=request.user, engagement=engagement, now=now),
    }  # fmt: skip
    return render(request, "risk/overview.html", context)


@needs(perms.VIEW_RISK)
def incident_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        incident = actions.run(
            request,
            form,
            lambda: incident_services.incident_open(
                actor=request.user, engagement=engagement, **form.cleaned_data
            ),
        )
        if incident is not None:
            messages.success(request, _("Incident recorded and graded; its reporting clocks are running."))
            return redirect("risk:incident_detail", code=engagement.code, incident_id=incident.pk)
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "form": form,
        "incidents": incidents.incident_list(user=request.user, engagement=engagement)[:200],
        "rules": rules.current(), "now": clock.now(),
    }  # fmt: skip
    return render(request, "risk/incident_list.html", context)


@needs(perms.VIEW_RISK)
def incident_detail(request: HttpRequest, engagement: Engagement, incident_id: int) -> HttpResponse:
    incident = incidents.incident_get(user=request.user, engagement=engagement, incident_id=incident_id)
    act = request.POST.get("act", "report")
    form = ReportForm(request.POST if act == "report" and request.method == "POST" else None)
    notice = NoticeToPartyForm(request.POST if act == "notice" else None)
    restore = RestoreForm(request.POST if act == "restore" else None)
    regrade = RegradeForm(request.POST if act == "regrade" else None, initial={
        "down_minutes": incident.down_minutes, "affected_pct": incident.affected_pct,
        "leaked_records": incident.leaked_records})  # fmt: skip
    link = LinkForm(request.POST if act == "link" else None)
    target = {"report": form, "notice": notice, "restore": restore, "regrade": regrade, "link": link}.get(act)
    if request.method == "POST" and target is not None and target.is_valid():
        try:
            if act == "report":
                incident_services.incident_report_record(
                    actor=request.user, incident=incident, **form.cleaned_data
                )
            elif act == "notice":
                incident_services.incident_notice_record(actor=request.user, incident=incident,
                                                         **notice.cleaned_data)  # fmt: skip
            elif act == "regrade":
                incident_services.incident_regrade(
                    actor=request.user, incident=incident, **regrade.cleaned_data
                )
            elif act == "link":
                incident_services.incident_rows_link(
                    actor=request.user, incident=incident, **link.cleaned_data
                )
            else:
                incident_services.incident_restore(
                    actor=request.user, incident=incident, **restore.cleaned_data
                )
        except DomainError as exc:
            _fail(target, exc)
        else:
            messages.success(request, _("Report recorded.") if act == "report" else _("Recorded."))
            return redirect("risk:incident_detail", code=engagement.code, incident_id=incident.pk)
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "form": form, "incident": incident,
        "notice": notice, "restore": restore, "regrade": regrade, "link": link,
        "rules": rules.current(), "now": clock.now(),
    }  # fmt: skip
    return render(request, "risk/incident_detail.html", context)


@needs(perms.VIEW_RISK)
def incident_report(request: HttpRequest, engagement: Engagement, incident_id: int) -> HttpResponse:
    """The pre-filled report as a Word file (the download is audited)."""
    incident = incidents.incident_get(user=request.user, engagement=engagement, incident_id=incident_id)
    content = incident_services.incident_report_export(actor=request.user, incident=incident)
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response["Content-Disposition"] = f'attachment; filename="incident-{incident.pk}.docx"'
    return response


@needs(perms.VIEW_RISK)
def risk_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    people = [(p.pk, p.name) for p in org_selectors.person_list(user=request.user, engagement=engagement)]
    act = request.POST.get("act", "record")
    form = RiskForm(request.POST if act == "record" and request.method == "POST" else None, people=people)
    listed = list(register.risk_list(user=request.user, engagement=engagement))
    accept = AcceptanceForm(request.POST if act == "accept" else None, risks=[(r.pk, str(r)) for r in listed])
    if request.method == "POST" and act in ("accept", "approve"):
        try:
            if act == "accept" and accept.is_valid():
                data = dict(accept.cleaned_data)
                risk = next(r for r in listed if r.pk == data.pop("risk"))
                register_services.acceptance_request(actor=request.user, risk=risk, **data)
            elif act == "approve":
                asked = RiskAcceptance.objects.filter(risk__engagement=engagement,
                                                      pk=int(request.POST.get("acceptance") or 0)).first()  # fmt: skip
                if asked is None:
                    raise DomainError(_("No such acceptance."), field="acceptance")
                register_services.acceptance_approve(actor=request.user, acceptance=asked)
            else:
                raise DomainError(_("Fill in the form."), field=None)
        except DomainError as exc:
            if accept.is_bound and exc.field in accept.fields:
                _fail(accept, exc)
            else:
                messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Recorded."))
            return redirect("risk:risk_list", code=engagement.code)
    if request.method == "POST" and act == "record" and form.is_valid():
        data = dict(form.cleaned_data)
        owner = Person.objects.filter(engagement=engagement, pk=data.pop("owner")).first()
        scores = {k: data.pop(k) for k in list(data) if k.endswith(("_likelihood", "_impact"))}
        actions.run(
            request,
            form,
            lambda: register_services.risk_create(
                actor=request.user, engagement=engagement, owner=owner, scores=scores, **data
            ),
        )
        if not form.errors:  # valid before the service ran: an error now is its refusal
            messages.success(request, _("Risk recorded."))
            return redirect("risk:risk_list", code=engagement.code)
    today = clock.now().date()
    matrix = rules.current().matrix
    risks = listed
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "matrix": matrix, "form": form,
        "risks": [(risk, register.levels_of(risk, matrix)) for risk in risks], "accept": accept,
        "findings": register.quality_check(user=request.user, engagement=engagement, today=today),
    }  # fmt: skip
    return render(request, "risk/risk_list.html", context)


@needs(perms.VIEW_RISK)
def plan_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    act = request.POST.get("act", "plan")
    form = PlanForm(request.POST if act == "plan" and request.method == "POST" else None)
    versions = PlanVersion.objects.filter(plan__engagement=engagement).select_related("plan").order_by("-pk")
    drill = DrillForm(request.POST if act == "drill" else None,
                      versions=[(v.pk, f"{v.plan.title} v{v.version}") for v in versions])  # fmt: skip
    if request.method == "POST" and act == "drill" and drill.is_valid():
        data = dict(drill.cleaned_data)
        version = versions.get(pk=data.pop("plan_version"))
        actions.run(
            request,
            drill,
            lambda: plan_services.drill_record(actor=request.user, plan_version=version, **data),
        )
        if not drill.errors:  # valid before the service ran: an error now is its refusal
            messages.success(request, _("Recorded."))
            return redirect("risk:plan_list", code=engagement.code)
    if request.method == "POST" and act == "plan" and form.is_valid():
        actions.run(
            request,
            form,
            lambda: plan_services.plan_version_record(
                actor=request.user, engagement=engagement, **form.cleaned_data
            ),
        )
        if not form.errors:  # valid before the service ran: an error now is its refusal
            messages.success(request, _("Plan version recorded."))
            return redirect("risk:plan_list", code=engagement.code)
    today = clock.now().date()
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "form": form, "drill": drill,
        "coverage": plans.coverage_matrix(user=request.user, engagement=engagement, today=today),
        "plans": plans.plan_list(user=request.user, engagement=engagement),
        "drills": plans.drill_list(user=request.user, engagement=engagement),
        "overdue": {d.pk for d in plans.drills_overdue(user=request.user, engagement=engagement, today=today)},
    }  # fmt: skip
    return render(request, "risk/plan_list.html", context)


@needs(perms.VIEW_RISK)
@upload_kind("import")
def vuln_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """三(四)一: the findings with filters, the latest scans, and (for who manages risk) the scan import."""
    if request.method == "POST":  # who may import, before the upload is read (its size is bounded already)
        org_selectors.require(user=request.user, engagement=engagement, capability=perms.MANAGE_RISK)
    form = VulnImportForm(request.POST or None, request.FILES or None)
    problems: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > max_bytes():
                raise DomainError(_("%(file)s is larger than %(mb)d MB; split the scan.")
                                  % {"file": upload.name, "mb": max_bytes() >> 20}, field="file")  # fmt: skip
            counts = vuln_services.vulns_import(
                actor=request.user, engagement=engagement, fmt=form.cleaned_data["format"],
                filename=upload.name, content=b"".join(upload.chunks()), scanner=form.cleaned_data["scanner"],
                scanned_at=form.cleaned_data["scanned_at"],
            )  # fmt: skip
        except vulnfiles.ScanRefused as exc:
            problems = exc.problems[:200]
            form.add_error("file", _("Not imported; nothing was written. Each problem is listed below."))
        except DomainError as exc:
            _fail(form, exc)
        else:
            messages.success(request, _("Imported: %(created)d new, %(updated)d updated, %(unchanged)d unchanged, "
                                        "%(closed)d closed.") % counts)  # fmt: skip
            return redirect("risk:vuln_list", code=engagement.code)
    query = request.GET
    lines, total = vuln_selectors.vuln_list(
        user=request.user, engagement=engagement, now=clock.now(), state=query.get("state", ""),
        severity=query.get("severity", ""), host=query.get("host", ""), text=query.get("q", ""), limit=200,
    )  # fmt: skip
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "form": form, "problems": problems,
        "lines": [(line, vuln_selectors.state_label(line.state)) for line in lines], "total": total,
        "scans": vuln_selectors.scan_list(user=request.user, engagement=engagement),
        "states": [(s, vuln_selectors.state_label(s)) for s in vuln_selectors.STATES],
        "severities": Severity.choices, "query": query,
    }  # fmt: skip
    return render(request, "risk/vuln_list.html", context)


@needs(perms.VIEW_RISK)
def vuln_detail(request: HttpRequest, engagement: Engagement, number: str) -> HttpResponse:
    """One finding: where it was seen and not seen, its decisions; ask, approve, record and verify a fix."""
    found, history = vuln_selectors.vuln_detail(user=request.user, engagement=engagement, number=number)
    decide = VulnDecisionForm(request.POST if request.POST.get("act") == "decide" else None)
    fix = VulnFixForm(request.POST if request.POST.get("act") == "fix" else None)
    if request.method == "POST":
        act = request.POST.get("act")
        try:
            if act == "decide" and decide.is_valid():
                vuln_services.decision_request(actor=request.user, vulnerability=found, **decide.cleaned_data)
            elif act == "approve":
                decision = found.decisions.filter(pk=int(request.POST.get("decision") or 0)).first()
                if decision is None:
                    raise DomainError(_("No such decision on this finding."), field="decision")
                vuln_services.decision_approve(actor=request.user, decision=decision)
            elif act == "fix" and fix.is_valid():
                vuln_services.vuln_fix(actor=request.user, vulnerability=found, **fix.cleaned_data)
            elif act == "verify":
                vuln_services.vuln_verify(actor=request.user, vulnerability=found)
            else:
                raise DomainError(_("Fill in the form."), field=None)
        except DomainError as exc:
            form = {"decide": decide, "fix": fix}.get(str(act))
            if form is not None and form.is_bound:
                _fail(form, exc)
            else:
                messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Recorded."))
            return redirect("risk:vuln_detail", code=engagement.code, number=found.number)
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "v": found, "history": history,
        "decide": decide, "fix": fix,
    }  # fmt: skip
    return render(request, "risk/vuln_detail.html", context)


@needs(perms.VIEW_RISK)
def supplier_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """三(二)五: every supplying organisation with its systems, contracts and contacts from the registers, what the
    firm recorded of it, and its open items; who manages risk records the facts."""
    today = clock.now().astimezone(BEIJING).date()
    lines = supplier_selectors.supplier_lines(user=request.user, engagement=engagement, today=today)
    form = SupplierForm(request.POST or None, organisations=[(line.organisation.pk, line.organisation.name)
                                                             for line in lines])  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        organisation = Organisation.objects.filter(engagement=engagement, pk=data.pop("organisation")).first()
        try:
            if organisation is None:
                raise DomainError(_("The organisation is not of this engagement."), field="organisation")
            supplier_services.supplier_set(actor=request.user, engagement=engagement, organisation=organisation,
                                           **data)  # fmt: skip
        except DomainError as exc:
            _fail(form, exc)
        else:
            messages.success(request, _("Recorded."))
            return redirect("risk:supplier_list", code=engagement.code)
    context = {"engagement": engagement, "caps": _caps(request, engagement), "form": form, "lines": lines,
               "open": sum(1 for line in lines if line.items)}  # fmt: skip
    return render(request, "risk/supplier_list.html", context)


@needs(perms.VIEW_RISK)
def change_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """三(二)三: the changes and the freeze periods; who manages risk requests changes and records freezes."""
    systems = InformationSystem.objects.filter(engagement=engagement, is_active=True).order_by("name")
    form = ChangeForm(request.POST if request.POST.get("act") == "request" else None,
                      systems=[(s.pk, s.name) for s in systems])  # fmt: skip
    freeze = FreezeForm(request.POST if request.POST.get("act") == "freeze" else None)
    if request.method == "POST":
        target = form if request.POST.get("act") == "request" else freeze
        if target.is_valid():
            data = dict(target.cleaned_data)
            try:
                if target is form:
                    data["system"] = systems.filter(pk=data.get("system") or 0).first()
                    made = change_services.change_request(actor=request.user, engagement=engagement, **data)
                    return redirect("risk:change_detail", code=engagement.code, number=made.number)
                change_services.freeze_set(actor=request.user, engagement=engagement, **data)
                messages.success(request, _("Recorded."))
                return redirect("risk:change_list", code=engagement.code)
            except DomainError as exc:
                _fail(target, exc)
    today = clock.now().astimezone(BEIJING).date()
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "form": form, "freeze": freeze,
        "changes": change_selectors.change_list(user=request.user, engagement=engagement),
        "freezes": change_selectors.freeze_list(user=request.user, engagement=engagement, today=today),
    }  # fmt: skip
    return render(request, "risk/change_list.html", context)


@needs(perms.VIEW_RISK)
def change_detail(request: HttpRequest, engagement: Engagement, number: str) -> HttpResponse:
    """One change: its case, approvals, notice, and what stands in the way of starting it now."""
    change = change_selectors.change_get(user=request.user, engagement=engagement, number=number)
    act = request.POST.get("act", "")
    notice = NoticeForm(request.POST if act == "notice" else None)
    close = CloseForm(request.POST if act == "close" else None)
    if request.method == "POST":
        try:
            if act == "approve":
                change_services.change_approve(actor=request.user, change=change)
            elif act == "start":
                change_services.change_execute(actor=request.user, change=change)
            elif act == "notice" and notice.is_valid():
                change_services.change_notice(actor=request.user, change=change, **notice.cleaned_data)
            elif act == "close" and close.is_valid():
                change_services.change_close(actor=request.user, change=change, **close.cleaned_data)
            else:
                raise DomainError(_("Fill in the form."), field=None)
        except DomainError as exc:
            target = {"notice": notice, "close": close}.get(act)
            if target is not None and target.is_bound and exc.field in target.fields:
                _fail(target, exc)
            else:
                messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Recorded."))
            return redirect("risk:change_detail", code=engagement.code, number=change.number)
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "c": change, "notice": notice,
        "close": close, "blocked": change_services.why_not_now(change, clock.now()),
        "notice_due": change_selectors.notice_due(change),
    }  # fmt: skip
    return render(request, "risk/change_detail.html", context)


@needs(perms.VIEW_RISK)
@upload_kind("attachment")
def capacity_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """三(二)四: each important or tested system's latest pressure test against its peak; record one with its
    report; delete one only after its five years."""
    systems = InformationSystem.objects.filter(engagement=engagement, is_active=True).order_by("name")
    act = request.POST.get("act", "record")
    form = CapacityForm(request.POST if act == "record" and request.method == "POST" else None,
                        request.FILES or None, systems=[(s.pk, s.name) for s in systems])  # fmt: skip
    if request.method == "POST":
        try:
            if act == "delete":
                record = capacity_selectors.capacity_get(user=request.user, engagement=engagement,
                                                         record_id=int(request.POST.get("record") or 0))  # fmt: skip
                capacity_services.capacity_delete(actor=request.user, record=record)
                messages.success(request, _("Deleted."))
                return redirect("risk:capacity_list", code=engagement.code)
            if form.is_valid():
                data = dict(form.cleaned_data)
                upload = data.pop("report")
                data["system"] = systems.filter(pk=data.get("system") or 0).first()
                capacity_services.capacity_record(actor=request.user, engagement=engagement, report=upload,
                                                  report_name=upload.name, **data)  # fmt: skip
                messages.success(request, _("Recorded."))
                return redirect("risk:capacity_list", code=engagement.code)
        except DomainError as exc:
            if act == "delete":
                messages.error(request, str(exc.message))
            else:
                _fail(form, exc)
    today = clock.now().astimezone(BEIJING).date()
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "form": form,
        "lines": capacity_selectors.capacity_lines(user=request.user, engagement=engagement, today=today),
        "history": capacity_selectors.capacity_history(user=request.user, engagement=engagement),
        "minimum": capacity_selectors.min_ratio(), "today": today,
    }  # fmt: skip
    return render(request, "risk/capacity_list.html", context)


@needs(perms.VIEW_RISK)
def privacy_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """三(三): the inventory of processing activities of investors' information, and the systems it misses."""
    names = list(InformationSystem.objects.filter(engagement=engagement, is_active=True).order_by("name")
                 .values_list("name", flat=True).distinct())  # fmt: skip
    if request.method == "POST" and request.POST.get("act") == "media":
        try:
            privacy_services.media_encryption_mark(actor=request.user, engagement=engagement,
                                                   row=int(request.POST.get("row") or 0),
                                                   method=request.POST.get("method", ""))  # fmt: skip
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Recorded."))
        return redirect("risk:privacy_list", code=engagement.code)
    form = ActivityForm(request.POST or None, systems=names)
    if request.method == "POST" and form.is_valid():
        actions.run(
            request,
            form,
            lambda: privacy_services.activity_set(
                actor=request.user, engagement=engagement, **form.cleaned_data
            ),
        )
        if not form.errors:  # valid before the service ran: an error now is its refusal
            messages.success(request, _("Recorded."))
            return redirect("risk:privacy_list", code=engagement.code)
    context = {
        "engagement": engagement, "caps": _caps(request, engagement), "form": form,
        "activities": privacy_selectors.activity_list(user=request.user, engagement=engagement),
        "uncovered": privacy_selectors.uncovered_systems(user=request.user, engagement=engagement),
        "media": privacy_selectors.courier_media(user=request.user, engagement=engagement),
        "labels": dict(Category.choices),
    }  # fmt: skip
    return render(request, "risk/privacy_list.html", context)


@needs(perms.VIEW_RISK)
def owed_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """三(七)一: the reports owed to the regulator with their due dates and status; record one as filed; draft the
    annual report."""
    form = FilingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            obligation_services.filing_record(actor=request.user, engagement=engagement, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Recorded."))
            return redirect("risk:owed_list", code=engagement.code)
    elif request.method == "POST":
        messages.error(request, _("Give the time it was filed and the receipt."))
    now = clock.now()
    context = {
        "engagement": engagement, "caps": _caps(request, engagement),
        "owed": obligation_selectors.reports_owed(user=request.user, engagement=engagement, now=now),
        "year": now.astimezone(BEIJING).year - 1,
    }  # fmt: skip
    return render(request, "risk/owed_list.html", context)


@needs(perms.VIEW_RISK)
def annual_report(request: HttpRequest, engagement: Engagement, year: int) -> HttpResponse:
    """The draft of a year's security report as a Word file (the download is audited)."""
    content = obligation_services.annual_report_export(actor=request.user, engagement=engagement, year=year)
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response["Content-Disposition"] = f'attachment; filename="security-report-{year}.docx"'
    return response


@needs(perms.VIEW_RISK)
def assessment_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The assessment reports' versions: issue a new one, sign it as assessor, review it as a second person."""
    form = AssessmentIssueForm(request.POST if request.POST.get("act") == "issue" else None)
    if request.method == "POST":
        try:
            if request.POST.get("act") == "sign":
                report = AssessmentReport.objects.filter(
                    engagement=engagement, pk=int(request.POST.get("report") or 0)
                ).select_related("engagement").first()  # fmt: skip
                if report is None:
                    raise DomainError(_("No such report version."), field="report")
                assessment_services.assessment_report_sign(actor=request.user, report=report)
            elif form.is_valid():
                assessment_services.assessment_report_issue(actor=request.user, engagement=engagement,
                                                            **form.cleaned_data)  # fmt: skip
            else:
                raise DomainError(_("Fill in the form."), field=None)
        except DomainError as exc:
            if form.is_bound and exc.field in form.fields:
                _fail(form, exc)
            else:
                messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Recorded."))
            return redirect("risk:assessment_list", code=engagement.code)
    context = {"engagement": engagement, "caps": _caps(request, engagement), "form": form,
               "versions": assessment_selectors.report_versions(user=request.user, engagement=engagement)}  # fmt: skip
    return render(request, "risk/assessment_list.html", context)


@needs(perms.VIEW_RISK)
def assessment_file(request: HttpRequest, engagement: Engagement, report_id: int) -> HttpResponse:
    report = (
        AssessmentReport.objects.filter(engagement=engagement, pk=report_id)
        .select_related("engagement")
        .first()
    )
    if report is None:
        raise Http404(report_id)
    content = assessment_services.assessment_report_file(actor=request.user, report=report)
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response["Content-Disposition"] = f'attachment; filename="{report.kind}-v{report.version}.docx"'
    return response
