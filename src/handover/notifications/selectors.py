"""Reads of a person's own notifications, subscriptions and turned-off topics."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import QuerySet

from handover.core.actors import Actor, actor_user
from handover.notifications.models import Notification, OptOut, Subscription
from handover.org.models import Engagement

UNREAD_SHOWN = 99  # the header shows "99+" beyond

# ``Any`` for ``user`` below: the filter reads the login-only ``person__user`` unguarded, and actor_user would turn the
# system actor into ``None`` (persons without a login); these need an authenticated check before they take Actor.


def notification_list(*, user: Any, engagement: Engagement) -> QuerySet[Notification]:
    """The user's own notifications in the engagement, newest first."""
    return Notification.objects.filter(person__engagement=engagement, person__user=user).order_by(
        "-created_at", "-pk"
    )


def subscription_list(*, user: Any, engagement: Engagement) -> QuerySet[Subscription]:
    """The user's own active subscriptions in the engagement."""
    return Subscription.objects.filter(
        person__engagement=engagement, person__user=user, is_active=True
    ).order_by("topic", "channel")


def topics_off(*, user: Any, engagement: Engagement) -> set[str]:
    """The topics the user turned off in the engagement."""
    return set(
        OptOut.objects.filter(person__engagement=engagement, person__user=user).values_list(
            "topic", flat=True
        )
    )


def unread_counts(*, user: Actor, limit: int = UNREAD_SHOWN + 1) -> dict[str, int]:
    """Unread notifications of the user's active persons, by engagement code, for the header: one query
    reading at most ``limit`` rows (an index range, no COUNT over the table), so a count past UNREAD_SHOWN
    shows as "99+"."""
    if not getattr(user, "is_authenticated", False):
        return {}
    codes = Notification.objects.filter(
        person__user=actor_user(user), person__is_active=True, read_at__isnull=True
    ).values_list("person__engagement__code", flat=True)[:limit]
    return dict(Counter(codes))


def links_told(*, engagement: Engagement, topic: str) -> set[str]:
    """The links of the engagement's notifications of ``topic``: what a periodic job has told already."""
    return set(
        Notification.objects.filter(person__engagement=engagement, topic=topic)
        .values_list("link", flat=True)
        .distinct()
    )
