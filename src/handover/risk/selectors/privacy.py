"""Reads of personal-information protection: the processing activities, and the systems that hold investors'
information (by category: trading, counters, online and telephone orders, clearing, third-party custody) that
no activity names yet — an inventory with a hole in it is an open item."""

from __future__ import annotations

from typing import Any

from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.models import InformationSystem
from handover.risk.models import ProcessingActivity
from handover.risk.selectors.common import visible

INVESTOR_DATA_CATEGORIES = ("集中交易", "营业部柜台", "网上交易", "电话委托", "清算", "第三方存管/银证转账")


def activity_list(*, user: Any, engagement: Engagement) -> list[ProcessingActivity]:
    visible(user, engagement, perms.VIEW_RISK)
    return list(ProcessingActivity.objects.filter(engagement=engagement))


def uncovered_systems(*, user: Any, engagement: Engagement) -> list[str]:
    """Systems holding investors' information that no processing activity names."""
    visible(user, engagement, perms.VIEW_RISK)
    named: set[str] = set()
    for systems in ProcessingActivity.objects.filter(engagement=engagement).values_list("systems", flat=True):
        named |= set(systems or ())
    holding = InformationSystem.objects.filter(
        engagement=engagement, is_active=True, category__in=INVESTOR_DATA_CATEGORIES
    ).values_list("name", flat=True)
    return sorted(set(holding) - named)
