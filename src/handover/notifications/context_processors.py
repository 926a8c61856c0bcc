"""The header's unread count: evaluated only by a page that shows it, in one query (selectors.unread_counts)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from handover.notifications import selectors


class Badge:
    """Unread notifications for the header. On an engagement's page: that engagement's count and inbox;
    elsewhere: the count in all the user's engagements, opening the first inbox with unread ones."""

    def __init__(self, request: HttpRequest) -> None:
        counts = selectors.unread_counts(user=request.user)
        match = getattr(request, "resolver_match", None)
        here = match.kwargs.get("code") if match is not None else None
        if isinstance(here, str) and here:
            self.code, self.count = here, counts.get(here, 0)
        else:
            self.code, self.count = next(iter(sorted(counts)), ""), sum(counts.values())
        self.shown = f"{selectors.UNREAD_SHOWN}+" if self.count > selectors.UNREAD_SHOWN else str(self.count)


def unread(request: HttpRequest) -> dict[str, Any]:
    return {"notification_badge": SimpleLazyObject(lambda: Badge(request))}
