"""One way to show time (review M2): Beijing time to the minute, ``2026-12-04 15:31``, on every page and in every
export meant for people; the zone is named once per page or sheet (``zone_name``). Machine columns (the API, a
CSV's raw columns) keep ISO 8601 with its offset and do not come here.

Aware datetimes are shown in the deployment's zone (``TIME_ZONE``, Asia/Shanghai by default); a naive one, as a
register stores a time typed at a site, is already local and shown as it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext

DAY = "%Y-%m-%d"
MINUTE = "%Y-%m-%d %H:%M"
SECOND = "%Y-%m-%d %H:%M:%S"


def moment_text(value: Any, *, seconds: bool = False) -> str:
    """A datetime, a date or an ISO string as a person reads it: ``2026-12-04 15:31`` in local time, a date as
    ``2026-12-04``; empty for nothing; any other text unchanged (a cell may hold what a person typed)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = _parse(value)
        if isinstance(value, str):
            return value
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime(SECOND if seconds else MINUTE)
    if isinstance(value, dt.date):
        return value.strftime(DAY)
    return str(value)


def day_text(value: Any) -> str:
    """Only the local date of a datetime or a date: ``2026-12-04``."""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    return moment_text(value)


def zone_name() -> str:
    """The zone the times are in, said once per page or sheet: 北京时间 (UTC+8) for the default zone."""
    name = timezone.get_current_timezone_name()
    if name in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
        return gettext("Beijing time (UTC+8)")
    return name


def _parse(text: str) -> dt.datetime | dt.date | str:
    stripped = text.strip()
    try:
        if len(stripped) == 10:
            return dt.date.fromisoformat(stripped)
        return dt.datetime.fromisoformat(stripped)
    except ValueError:
        return text
