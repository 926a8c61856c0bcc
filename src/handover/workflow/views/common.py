"""Helpers the workflow pages share: the page context and running a service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from handover.core import clock
from handover.org.models import Engagement
from handover.web import actions
from handover.web.pages import capabilities_in
from handover.workflow import state
from handover.workflow.deadlines import BEIJING


def page_context(request: HttpRequest, engagement: Engagement, **extra: Any) -> dict[str, Any]:
    _roles, caps = capabilities_in(user=request.user, engagement=engagement)
    return {"engagement": engagement, "caps": caps, "states": state.STATES, **extra}


def attempt(request: HttpRequest, form: Any, action: Callable[[], Any]) -> Any:
    """Run a service; a DomainError lands on the field it names, or on the page."""
    return actions.run(request, form, action)


def form_page(
    request: HttpRequest, engagement: Engagement, form: Any, title: str, **extra: Any
) -> HttpResponse:
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "workflow/form.html",
        page_context(request, engagement, form=form, title=title, **extra),
        status=status,
    )


def beijing_today() -> dt.date:
    return clock.now().astimezone(BEIJING).date()
