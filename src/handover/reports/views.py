"""The 表24 handover package page of 技术组: build (with a residual-risk reason while sites are not done),
list, download, and record the working group's approval and the distribution (第二十七条第4项). Thin: the
forms check shape, the services decide, the selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.reports import selectors, services
from handover.reports.forms import ApprovalForm, BuildForm, DistributionForm
from handover.web.access import needs
from handover.web.pages import capabilities_in


@needs(perms.MANAGE_PACKAGES)
def package_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    packages = selectors.package_list(user=request.user, engagement=engagement)
    form = BuildForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            package = services.package_build(actor=request.user, engagement=engagement, **form.cleaned_data)
        except DomainError as exc:
            form.add_error("residual_risk" if exc.field == "residual_risk" else None, str(exc.message))
        else:
            messages.success(request, _("Package %(file)s built.") % {"file": package.file_name})
            return redirect("reports:package_detail", code=engagement.code, package_id=package.pk)
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "form": form,
        "packages": packages,
        "not_done": services.sites_not_done(engagement),
    }
    return render(request, "reports/package_list.html", context, status=400 if form.errors else 200)


@needs(perms.MANAGE_PACKAGES)
def package_detail(request: HttpRequest, engagement: Engagement, package_id: int) -> HttpResponse:
    package = selectors.package_get(user=request.user, engagement=engagement, package_id=package_id)
    posted = request.POST if request.method == "POST" else None
    which = request.POST.get("record") if posted else None
    approval = ApprovalForm(posted if which == "approval" else None)
    distribution = DistributionForm(posted if which == "distribution" else None, engagement=engagement)
    form = approval if which == "approval" else distribution if which == "distribution" else None
    if form is not None and form.is_valid():
        try:
            if form is approval:
                services.package_approval_record(actor=request.user, package=package, **form.cleaned_data)
            else:
                services.package_distribution_record(actor=request.user, package=package, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            messages.success(request, _("Recorded."))
            return redirect("reports:package_detail", code=engagement.code, package_id=package.pk)
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "package": package,
        "approval": getattr(package, "approval", None),
        "distributions": package.distributions.select_related("site"),
        "approval_form": approval,
        "distribution_form": distribution,
    }
    status = 400 if posted is not None else 200
    return render(request, "reports/package_detail.html", context, status=status)


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
