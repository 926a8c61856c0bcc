"""The home page sends each person to where their role lets them work."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from handover.org import permissions as perms
from handover.org.selectors import engagement_ids_for
from handover.web.access import AUTHENTICATED, needs


@needs(AUTHENTICATED)
def home(request: HttpRequest) -> HttpResponse:
    if engagement_ids_for(user=request.user, capability=perms.VIEW_AUDIT):
        return redirect("audit:event_list")
    if engagement_ids_for(user=request.user, capability=perms.MANAGE_ACCOUNTS):
        return redirect("accounts:account_list")
    return redirect("org:engagement_list")
