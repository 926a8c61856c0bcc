"""Ends a session idle longer than HANDOVER_SESSION_IDLE_SECONDS, on the server, and records it."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

_KEY = "handover_last_seen"


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            last = request.session.get(_KEY, now)
            if now - last > settings.HANDOVER_SESSION_IDLE_SECONDS:
                from handover.accounts.services import logout_record

                logout_record(user=user, expired=True)
                logout(request)
            elif now - last >= 30 or _KEY not in request.session:
                request.session[_KEY] = now  # at most one session write per 30 s of activity
        return self.get_response(request)
