"""Writes of capacity management (三(二)四 常态化开展压力测试): a pressure test is recorded with its report (stored
and hashed like workflow evidence) and kept at least five years; deleting it before then is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.models import InformationSystem
from handover.risk import events
from handover.risk.models import CapacityRecord
from handover.risk.services.common import allowed, who
from handover.workflow import storage

RETAIN_YEARS = 5


def retain_until(tested_on: dt.date) -> dt.date:
    """Five years after the test (29 February → 28 February)."""
    try:
        return tested_on.replace(year=tested_on.year + RETAIN_YEARS)
    except ValueError:
        return tested_on.replace(year=tested_on.year + RETAIN_YEARS, day=28)


def _amount(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = Decimal(0)
    if not number.is_finite() or number <= 0 or number >= Decimal("1e12"):
        raise DomainError(_("Give a positive number."), field=field)
    return number.quantize(Decimal("0.01"))


def capacity_record(
    *,
    actor: Actor,
    engagement: Engagement,
    metric: str,
    peak: Any,
    peak_on: dt.date,
    tested: Any,
    tested_on: dt.date,
    report: BinaryIO,
    report_name: str,
    system: InformationSystem | None = None,
    system_name: str = "",
) -> CapacityRecord:
    """Record a pressure test of a system against its historical peak, with the test's report."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    if system is not None:
        if system.engagement_id != engagement.pk:
            raise DomainError(_("The system is not of this engagement."), field="system")
        system_name = system.name
    if not system_name.strip():
        raise DomainError(_("Name the system that was tested."), field="system_name")
    if not (metric or "").strip():
        raise DomainError(_("Name the measure (for example 委托笔数/秒, 并发在线用户)."), field="metric")
    today = clock.now().date()
    for field, day in (("peak_on", peak_on), ("tested_on", tested_on)):
        if day is None or day > today:
            raise DomainError(_("A date of what happened already: not after today."), field=field)
    values = {"peak": _amount(peak, "peak"), "tested": _amount(tested, "tested")}
    kept = storage.store(report, report_name)
    _user, name = who(actor)
    with transaction.atomic():
        record = CapacityRecord.objects.create(
            engagement=engagement, system=system, system_name=system_name.strip()[:200], metric=metric.strip()[:100],
            peak_on=peak_on, tested_on=tested_on, report_name=report_name[:255], report_sha256=kept.sha256,
            report_size=kept.size, retain_until=retain_until(tested_on), recorded_by_name=name, **values,
        )  # fmt: skip
        event_record(actor=actor, action=events.CAPACITY_RECORD, engagement_id=engagement.pk, obj=record,
                     after={"system": record.system_name, "metric": record.metric, "peak": str(record.peak),
                            "tested": str(record.tested), "tested_on": tested_on.isoformat(),
                            "report_sha256": kept.sha256})  # fmt: skip
    return record


def capacity_delete(*, actor: Actor, record: CapacityRecord) -> None:
    """Delete a record whose retention has passed; before then it is refused with the date (三(二)四)."""
    allowed(actor, record.engagement, perms.MANAGE_RISK)
    if clock.now().date() <= record.retain_until:
        raise DomainError(
            _("A pressure test and its report are kept until %(date)s (five years); nothing was deleted.")
            % {"date": record.retain_until.isoformat()},
            field="record",
        )
    with transaction.atomic():
        event_record(actor=actor, action=events.CAPACITY_DELETE, engagement_id=record.engagement_id, obj=record,
                     before={"system": record.system_name, "tested_on": record.tested_on.isoformat(),
                             "report_sha256": record.report_sha256})  # fmt: skip
        record.delete()
