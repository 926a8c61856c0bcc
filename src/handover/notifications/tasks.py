"""Periodic work of the notifications (core/schedule.py): the observers' daily digest. The immediate
sending, ``deliveries_send``, sits beside ``notify`` in services.py."""

from __future__ import annotations

import datetime as dt

from handover.core import schedule

DIGEST_AT = dt.time(18, 0)  # after the market's close and the day's first reports

schedule.daily("notifications.digest", "handover.notifications.tasks.digest_send", at=DIGEST_AT)


def digest_send() -> dict[str, int]:
    """Send each digest subscriber one message with the day's notifications."""
    from handover.notifications import services

    return services.deliver(digest=True)
