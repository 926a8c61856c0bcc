"""A person's notifications, the topics they hear of, and what to be told by email or webhook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from handover.notifications import selectors, services, topics
from handover.notifications.forms import SubscriptionForm
from handover.org.models import Engagement
from handover.web import actions
from handover.web.access import AUTHENTICATED, needs
from handover.web.pages import capabilities_in


def _context(request: HttpRequest, engagement: Engagement, **extra: Any) -> dict[str, Any]:
    _roles, caps = capabilities_in(user=request.user, engagement=engagement)
    return {"engagement": engagement, "caps": caps, **extra}


def _attempt(request: HttpRequest, form: Any, action: Callable[[], Any]) -> Any:
    """Run a service; a DomainError lands on the field it names, or on the page."""
    return actions.run(request, form, action)


@needs(AUTHENTICATED)
def inbox(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """The newest 200 notifications; posting marks every unread one read."""
    items = selectors.notification_list(user=request.user, engagement=engagement)
    if request.method == "POST":
        ids = list(items.filter(read_at__isnull=True).values_list("pk", flat=True))
        _attempt(
            request,
            None,
            lambda: services.notification_read(actor=request.user, engagement=engagement, ids=ids),
        )
        return redirect("notifications:inbox", code=engagement.code)
    return render(request, "notifications/inbox.html", _context(request, engagement, items=items[:200]))


@needs(AUTHENTICATED)
def subscriptions(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Topics on and off, and subscriptions by email or webhook (or in the app for a topic one is not told
    of by default)."""
    mine = selectors.subscription_list(user=request.user, engagement=engagement)
    turning = {"off", "on", "end"} & set(request.POST)
    form = SubscriptionForm(request.POST if request.method == "POST" and not turning else None)
    if request.method == "POST" and ("off" in request.POST or "on" in request.POST):
        on = "on" in request.POST
        topic = request.POST.get("on" if on else "off", "")
        _attempt(
            request,
            None,
            lambda: services.topic_turn(actor=request.user, engagement=engagement, topic=topic, on=on),
        )
        return redirect("notifications:subscriptions", code=engagement.code)
    if request.method == "POST" and "end" in request.POST:
        ended = mine.filter(pk=request.POST.get("end") or 0).first()
        if ended is not None:
            _attempt(request, None, lambda: services.subscription_end(actor=request.user, subscription=ended))
        return redirect("notifications:subscriptions", code=engagement.code)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if _attempt(
            request,
            form,
            lambda: services.subscription_set(actor=request.user, engagement=engagement, **data),
        ):
            messages.success(request, _("Subscription saved."))
            return redirect("notifications:subscriptions", code=engagement.code)
    off = selectors.topics_off(user=request.user, engagement=engagement)
    rows = [(code, label, code not in off) for code, label in topics.choices()]
    return render(
        request,
        "notifications/subscriptions.html",
        _context(request, engagement, form=form, mine=mine, topics=rows),
        status=400 if request.method == "POST" else 200,
    )
