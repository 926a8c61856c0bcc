"""The header's unread count: evaluated only by a page that shows it, in one query (selectors.unread_counts)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from handover.notifications import selectors


class Badge:
    """Unread notifications: ``count`` in all the user's engagements, ``code`` the engagement whose inbox
    the badge opens (the page's own, else the first with unread ones)."""

    def __init__(self, request: HttpRequest) -> None:
        counts = selectors.unread_counts(user=request.user)
        match = getattr(request, "resolver_match", None)
        here = match.kwargs.get("code") if match is not None else None
        self.count = sum(counts.values())
        self.code = here if isinstance(here, str) and here else next(iter(sorted(counts)), "")


def unread(request: HttpRequest) -> dict[str, Any]:
    return {"notification_badge": SimpleLazyObject(lambda: Badge(request))}
