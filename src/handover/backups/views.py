"""Pages of backup verification: the imported bundles with an upload form, and the site keys. Thin: the
forms check shape, the services decide, the selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from handover.backups import selectors, services
from handover.backups.forms import BundleUploadForm, KeyFileForm
from handover.backups.models import ImportVia, KeySource
from handover.core.errors import DomainError
from handover.core.uploads import upload_kind
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.web.access import needs
from handover.web.pages import capabilities_in


@upload_kind("bundle")
@needs(perms.VIEW_BACKUPS)
def bundle_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = BundleUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.bundle_import(
                actor=request.user,
                source=form.cleaned_data["file"],
                via=ImportVia.UPLOAD,
                engagement=engagement,
            )
        except DomainError as exc:
            form.add_error("file", str(exc.message))
        else:
            bundle = result.bundle
            if result.created:
                messages.success(request, _("Bundle %(digest)s of site %(site)s imported.")
                                 % {"digest": bundle.digest[:12], "site": bundle.site.code})  # fmt: skip
            else:
                messages.info(request, _("This bundle was imported before; nothing changed."))
            if bundle.tamper:
                messages.error(request, _("Signs of tampering or deletion: report to the working group at once "
                                          "(第二十六条第5项)."))  # fmt: skip
            return redirect("backups:bundle_list", code=engagement.code)
    page = Paginator(selectors.bundle_list(user=request.user, engagement=engagement), 50).get_page(
        request.GET.get("page")
    )
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "form": form,
        "page": page,
    }
    return render(request, "backups/bundle_list.html", context)


@needs(perms.VIEW_BACKUPS)
def key_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = KeyFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = services.site_key_enrol(
                actor=request.user, engagement=engagement, document=form.cleaned_data["file"].read(),
                label=form.cleaned_data["label"], source=KeySource.FILE,
            )  # fmt: skip
        except DomainError as exc:
            form.add_error("file", str(exc.message))
        else:
            messages.success(request, _("Key %(key)s enrolled for site %(site)s.")
                             % {"key": key.key_id, "site": key.site.code})  # fmt: skip
            return redirect("backups:key_list", code=engagement.code)
    keys = selectors.site_key_list(user=request.user, engagement=engagement)
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "form": form,
        "keys": keys,
    }
    return render(request, "backups/key_list.html", context)
