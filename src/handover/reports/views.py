"""The 表24 handover package page of 技术组: build (with a residual-risk reason while sites are not done),
list, download, and record the working group's approval and the distribution (第二十七条第4项). Thin: the
forms check shape, the services decide, the selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.reports import selectors, services
from handover.reports.forms import ApprovalForm, BuildForm, DistributionForm
from handover.web.access import needs
from handover.web.actions import press, run
from handover.web.pages import capabilities_in
from handover.workflow import gates
from handover.workflow.services import case_risk_accept


@needs(perms.MANAGE_PACKAGES)
def package_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The packages, and the builds asked: a build runs in the task worker; this page follows it (queued,
    running with n of m sites, done, failed with the reason) and reloads itself while one is under way."""
    packages = selectors.package_list(user=request.user, engagement=engagement)
    form = BuildForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        started = run(
            request,
            form,
            lambda: services.package_build_start(actor=request.user, engagement=engagement, **data),
        )
        if started is not None:
            messages.success(
                request, _("The package is being built in the background; this page follows it.")
            )
            return redirect("reports:package_list", code=engagement.code)
    builds = selectors.build_list(user=request.user, engagement=engagement)
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "form": form,
        "packages": packages,
        "builds": builds,
        "running": selectors.build_under_way(builds),
        "not_done": selectors.sites_not_done(engagement),
    }
    return render(request, "reports/package_list.html", context, status=400 if form.errors else 200)


@needs(perms.MANAGE_PACKAGES)
def package_detail(request: HttpRequest, engagement: Engagement, package_id: int) -> HttpResponse:
    package = selectors.package_get(user=request.user, engagement=engagement, package_id=package_id)
    posted = request.POST if request.method == "POST" else None
    distribution = DistributionForm(posted, engagement=engagement)
    form = distribution if posted is not None else None
    if form is not None and form.is_valid():
        data = form.cleaned_data
        run(
            request,
            form,
            lambda: services.package_distribution_record(actor=request.user, package=package, **data),
        )
        if not form.errors:  # valid before the service ran: an error now is its refusal
            messages.success(request, _("Recorded."))
            return redirect("reports:package_detail", code=engagement.code, package_id=package.pk)
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "package": package,
        "approval": getattr(package, "approval", None),
        "distributions": selectors.package_distributions(package=package),
        "distribution_form": distribution,
        "open_cases": gates.open_case_labels(engagement),
    }
    status = 400 if posted is not None else 200
    return render(request, "reports/package_detail.html", context, status=status)


@needs(perms.APPROVE_PACKAGE)
def approval_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The working group's page: the packages 技术组 built, the newest to read and approve (第二十七条第4项)."""
    packages = selectors.packages_to_approve(user=request.user, engagement=engagement)
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "packages": packages,
        "open_cases": selectors.open_cases_for_working_group(user=request.user, engagement=engagement),
    }
    return render(request, "reports/approval_list.html", context)


@needs(perms.APPROVE_PACKAGE)
def case_accept(request: HttpRequest, engagement: Engagement, case_id: int) -> HttpResponse:
    """The working group accepts an open exception case as a residual risk, with its reason (POST only)."""
    case = selectors.open_case_for_working_group(user=request.user, engagement=engagement, case_id=case_id)
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        press(
            request,
            lambda: case_risk_accept(actor=request.user, case=case, reason=reason),
            _("Accepted as a residual risk."),
        )
    return redirect("reports:approval_list", code=engagement.code)


@needs(perms.APPROVE_PACKAGE)
def package_approve(request: HttpRequest, engagement: Engagement, package_id: int) -> HttpResponse:
    """Read the package (its 表24 lines, residual risk, open cases) and approve it with a fresh code."""
    package = selectors.package_to_approve(user=request.user, engagement=engagement, package_id=package_id)
    form = ApprovalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        run(request, form, lambda: services.package_approve(actor=request.user, package=package, **data))
        if not form.errors:  # valid before the service ran: an error now is its refusal
            messages.success(request, _("Approved. 技术组 sends the package on."))
            return redirect("reports:package_approve", code=engagement.code, package_id=package.pk)
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "package": package,
        "approval": getattr(package, "approval", None),
        "form": form,
        "open_cases": gates.open_case_labels(engagement),
        "newest": selectors.packages_to_approve(user=request.user, engagement=engagement).first(),
    }
    return render(request, "reports/package_approve.html", context, status=400 if form.errors else 200)


@needs(perms.APPROVE_PACKAGE)
def approval_download(request: HttpRequest, engagement: Engagement, package_id: int) -> FileResponse:
    """The package file for the approver to read before approving (the reading is audited)."""
    package = selectors.package_to_approve(user=request.user, engagement=engagement, package_id=package_id)
    path = services.package_file_open(actor=request.user, package=package, capability=perms.APPROVE_PACKAGE)
    return FileResponse(path.open("rb"), as_attachment=True, filename=package.file_name)


@needs(perms.MANAGE_PACKAGES)
def package_download(request: HttpRequest, engagement: Engagement, package_id: int) -> FileResponse:
    package = selectors.package_get(user=request.user, engagement=engagement, package_id=package_id)
    path = services.package_file_open(actor=request.user, package=package)
    return FileResponse(path.open("rb"), as_attachment=True, filename=package.file_name)


@needs(perms.MANAGE_PACKAGES)
def package_addendum(request: HttpRequest, engagement: Engagement, package_id: int) -> HttpResponse:
    package = selectors.package_get(user=request.user, engagement=engagement, package_id=package_id)
    body = services.package_addendum_issue(actor=request.user, package=package)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    name = package.file_name.removesuffix(".zip") + "-addendum.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
