"""Reads of capacity management: the latest pressure test of each system, its ratio to the historical peak
against ``HANDOVER_CAPACITY_MIN_RATIO``, and the important systems without a test in the last year."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.models import InformationSystem
from handover.risk.models import CapacityRecord
from handover.risk.selectors.common import visible
from handover.risk.selectors.suppliers import IMPORTANT_CATEGORIES


def min_ratio() -> Decimal:
    try:
        return Decimal(str(getattr(settings, "HANDOVER_CAPACITY_MIN_RATIO", "2")))
    except InvalidOperation:
        return Decimal(2)


@dataclass(frozen=True)
class CapacityLine:
    system_name: str
    record: CapacityRecord | None
    ratio: Decimal | None
    items: tuple[str, ...]


def capacity_lines(*, user: Actor, engagement: Engagement, today: dt.date) -> list[CapacityLine]:
    """One line per system tested or important: the latest test, its ratio, and what is open."""
    visible(user, engagement, perms.VIEW_RISK)
    minimum = min_ratio()
    latest: dict[str, CapacityRecord] = {}
    for record in CapacityRecord.objects.filter(engagement=engagement).order_by("tested_on", "pk"):
        latest[record.system_name] = record
    important = set(
        InformationSystem.objects.filter(engagement=engagement, is_active=True, category__in=IMPORTANT_CATEGORIES)
        .values_list("name", flat=True)
    )  # fmt: skip
    lines = []
    for name in sorted(set(latest) | important):
        found = latest.get(name)
        items: list[str] = []
        ratio = (found.tested / found.peak).quantize(Decimal("0.01")) if found else None
        if found is None or found.tested_on < today - dt.timedelta(days=365):
            items.append(_("no pressure test in the last 12 months (三(二)四 常态化)"))
        if ratio is not None and ratio < minimum:
            items.append(_("tested capacity only %(ratio)s× the historical peak (at least %(min)s×)")
                         % {"ratio": ratio, "min": minimum})  # fmt: skip
        lines.append(CapacityLine(name, found, ratio, tuple(items)))
    return lines


def capacity_history(*, user: Actor, engagement: Engagement) -> list[CapacityRecord]:
    visible(user, engagement, perms.VIEW_RISK)
    return list(CapacityRecord.objects.filter(engagement=engagement).order_by("-tested_on", "-pk"))


def capacity_get(*, user: Actor, engagement: Engagement, record_id: int) -> CapacityRecord:
    visible(user, engagement, perms.VIEW_RISK)
    found = (
        CapacityRecord.objects.filter(engagement=engagement, pk=record_id)
        .select_related("engagement")
        .first()
    )
    if found is None:
        raise Http404(record_id)
    return found
