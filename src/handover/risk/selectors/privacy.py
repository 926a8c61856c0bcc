"""Reads of personal-information protection: the processing activities, and the systems that hold investors'
information (by category: trading, counters, online and telephone orders, clearing, third-party custody) that
no activity names yet — an inventory with a hole in it is an open item."""

from __future__ import annotations

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.models import InformationSystem, Row
from handover.risk.models import MediaEncryption, ProcessingActivity
from handover.risk.selectors.common import visible

INVESTOR_DATA_CATEGORIES = ("集中交易", "营业部柜台", "网上交易", "电话委托", "清算", "第三方存管/银证转账")


def activity_list(*, user: Actor, engagement: Engagement) -> list[ProcessingActivity]:
    visible(user, engagement, perms.VIEW_RISK)
    return list(ProcessingActivity.objects.filter(engagement=engagement))


def uncovered_systems(*, user: Actor, engagement: Engagement) -> list[str]:
    """Systems holding investors' information that no processing activity names."""
    visible(user, engagement, perms.VIEW_RISK)
    named: set[str] = set()
    for systems in ProcessingActivity.objects.filter(engagement=engagement).values_list("systems", flat=True):
        named |= set(systems or ())
    holding = InformationSystem.objects.filter(
        engagement=engagement, is_active=True, category__in=INVESTOR_DATA_CATEGORIES
    ).values_list("name", flat=True)
    return sorted(set(holding) - named)


CLIENT_DATA = ("当前数据", "历史数据")  # 表14 data classes that hold clients' data


def courier_media(*, user: Actor, engagement: Engagement) -> list[tuple[Row, MediaEncryption | None]]:
    """表14 backups of clients' data sent to head office by courier (第二十八条第8项), each with its encryption mark
    or None (an open item)."""
    visible(user, engagement, perms.VIEW_RISK)
    rows = list(
        Row.objects.filter(form__engagement=engagement, form__register_no=14, form__is_current=True, is_current=True,
                           data__upload_via="快递").select_related("form").order_by("form__form_no", "seq")
    )  # fmt: skip
    rows = [r for r in rows if (r.data or {}).get("data_class") in CLIENT_DATA]
    marks = {m.row_id: m for m in MediaEncryption.objects.filter(row__in=rows)}
    return [(row, marks.get(row.pk)) for row in rows]
