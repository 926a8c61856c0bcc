"""Writes of supplier management (三(二)五): record or change what the firm knows of a supplying organisation.
A 已备案 supplier names the 备案's reference and date; a leaving supplier needs its exit plan before it is marked
as leaving (an important one cannot be left without one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Organisation
from handover.risk import events
from handover.risk.models import Criticality, Filing, Substitutability, Supplier, SupplierState
from handover.risk.services.common import allowed, who

FIELDS = (
    "services",
    "criticality",
    "substitutability",
    "state",
    "exit_plan",
    "filing",
    "filing_reference",
    "filed_on",
)


def supplier_set(
    *,
    actor: Actor,
    engagement: Engagement,
    organisation: Organisation,
    criticality: str,
    substitutability: str,
    filing: str,
    services: str = "",
    state: str = SupplierState.ACTIVE,
    exit_plan: str = "",
    filing_reference: str = "",
    filed_on: dt.date | None = None,
) -> Supplier:
    """Record (or change) the management facts of ``organisation`` as a supplier."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    if organisation.engagement_id != engagement.pk:
        raise DomainError(_("The organisation is not of this engagement."), field="organisation")
    for field, value, choices in (("criticality", criticality, Criticality), ("filing", filing, Filing),
                                  ("substitutability", substitutability, Substitutability),
                                  ("state", state, SupplierState)):  # fmt: skip
        if value not in choices.values:
            raise DomainError(_("Choose one of the listed values."), field=field)
    if filing == Filing.FILED:
        if not filing_reference.strip():
            raise DomainError(_("A 备案 is recorded with its reference (the filing's number or receipt)."),
                              field="filing_reference")  # fmt: skip
        if filed_on is None or filed_on > clock.now().date():
            raise DomainError(_("Give the date of the 备案, not after today."), field="filed_on")
    if state != SupplierState.ACTIVE and not exit_plan.strip():
        raise DomainError(
            _("A supplier leaves by its exit plan: write it first (三(二)五)."), field="exit_plan"
        )
    values: dict[str, Any] = {
        "services": services.strip()[:300], "criticality": criticality, "substitutability": substitutability,
        "state": state, "exit_plan": exit_plan.strip(), "filing": filing,
        "filing_reference": filing_reference.strip()[:200],
        "filed_on": filed_on if filing == Filing.FILED else None,
    }  # fmt: skip
    _user, name = who(actor)
    with transaction.atomic():
        found = (
            Supplier.objects.select_for_update()
            .filter(engagement=engagement, organisation=organisation)
            .first()
        )
        before = {f: _plain(getattr(found, f)) for f in FIELDS} if found else None
        if found is None:
            found = Supplier(engagement=engagement, organisation=organisation)
        for field, value in values.items():
            setattr(found, field, value)
        found.updated_by_name = name
        found.save()
        after = {"organisation": organisation.name, **{f: _plain(values[f]) for f in FIELDS}}
        event_record(actor=actor, action=events.SUPPLIER_SET, engagement_id=engagement.pk, obj=found,
                     before=before, after=after)  # fmt: skip
    return found


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
