"""A person's notifications and what to be told, and how."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from handover.org.models import Engagement
from handover.web.access import AUTHENTICATED, needs
from handover.workflow import notifications, selectors
from handover.workflow.forms import SubscriptionForm
from handover.workflow.views.common import attempt, page_context


@needs(AUTHENTICATED)
def inbox(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    items = selectors.notification_list(user=request.user, engagement=engagement)
    if request.method == "POST":
        ids = list(items.filter(read_at__isnull=True).values_list("pk", flat=True))
        attempt(
            request,
            None,
            partial(notifications.notification_read, actor=request.user, engagement=engagement, ids=ids),
        )
        return redirect("workflow:inbox", code=engagement.code)
    return render(request, "workflow/inbox.html", page_context(request, engagement, items=items[:200]))


@needs(AUTHENTICATED)
def subscriptions(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    mine = selectors.subscription_list(user=request.user, engagement=engagement)
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and "end" in request.POST:
        ended = mine.filter(pk=request.POST.get("end") or 0).first()
        if ended is not None:
            attempt(
                request, None, partial(notifications.subscription_end, actor=request.user, subscription=ended)
            )
        return redirect("workflow:subscriptions", code=engagement.code)
    if request.method == "POST" and form.is_valid():
        action = partial(
            notifications.subscription_set, actor=request.user, engagement=engagement, **form.cleaned_data
        )
        if attempt(request, form, action):
            messages.success(request, _("Subscription saved."))
            return redirect("workflow:subscriptions", code=engagement.code)
    return render(
        request,
        "workflow/subscriptions.html",
        page_context(request, engagement, form=form, mine=mine),
        status=400 if request.method == "POST" else 200,
    )
