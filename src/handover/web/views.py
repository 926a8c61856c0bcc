"""The home page sends each person to where their role lets them work."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static

from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.org.selectors import engagement_ids_for
from handover.web.access import AUTHENTICATED, PUBLIC, needs
from handover.web.pages import capabilities_in


@needs(PUBLIC)
def favicon(request: HttpRequest) -> HttpResponse:
    """UX review L8: browsers that ask for /favicon.ico get the icon base.html names, not a 404."""
    return redirect(static("handover/favicon.svg"), permanent=True)


@needs(AUTHENTICATED)
def home(request: HttpRequest) -> HttpResponse:
    if engagement_ids_for(user=request.user, capability=perms.VIEW_AUDIT):
        return redirect("audit:event_list")
    if engagement_ids_for(user=request.user, capability=perms.MANAGE_ACCOUNTS):
        return redirect("accounts:account_list")
    return _state_of_the_one_engagement(request) or redirect("org:engagement_list")


def _state_of_the_one_engagement(request: HttpRequest) -> HttpResponse | None:
    """UX review M4 and L8: a person of one engagement lands on its state for their role, the workflow (what is
    late, blocked and why, open exceptions, today's progress) or the observers' summary; the dashboard else."""
    ids = engagement_ids_for(user=request.user, capability=perms.VIEW_ENGAGEMENT) | engagement_ids_for(
        user=request.user, capability=perms.VIEW_SUMMARY
    )
    if len(ids) != 1:
        return None
    engagement = Engagement.objects.get(pk=ids.pop())
    _roles, caps = capabilities_in(user=request.user, engagement=engagement)
    if perms.VIEW_WORKFLOW in caps:
        return redirect("workflow:overview", engagement.code)
    if perms.VIEW_SUMMARY in caps:
        return redirect("workflow:summary", engagement.code)
    return redirect("org:dashboard", engagement.code)
