"""Reads of supplier management (三(二)五): every supplying organisation of the engagement with what the registers
say of it (the systems it supplies, its contracts in 表19/35, its contacts in 表20) and what the firm recorded
(criticality, substitutability, exit plan, 备案), and the open items: an important supplier without its 备案, a
contract ending within ``HANDOVER_SUPPLIER_CONTRACT_DAYS`` (or ended), a supplier leaving without a plan."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement, Organisation, OrgType
from handover.registers.models import InformationSystem, Row
from handover.risk.models import Criticality, Filing, Supplier, SupplierState
from handover.risk.selectors.common import visible

SUPPLYING = (OrgType.APP_VENDOR, OrgType.EQUIPMENT_VENDOR, OrgType.LINE_CARRIER, OrgType.TELECOM,
             OrgType.OTHER_TECH, OrgType.PROPERTY, OrgType.POWER)  # fmt: skip
# Systems whose supplier is important by default: trading, clearing and what they depend on.
IMPORTANT_CATEGORIES = (
    "集中交易",
    "营业部柜台",
    "网上交易",
    "电话委托",
    "行情",
    "报盘",
    "清算",
    "第三方存管/银证转账",
)


@dataclass(frozen=True)
class Contract:
    register_no: int
    number: str
    ends_on: dt.date | None


@dataclass
class SupplierLine:
    organisation: Organisation
    record: Supplier | None
    systems: list[str] = field(default_factory=list)
    important_systems: list[str] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    contacts: int = 0
    items: list[str] = field(default_factory=list)
    software: list[str] = field(default_factory=list)  # 表17/33 rows naming it as developer or supplier

    @property
    def criticality(self) -> str:
        if self.record is not None:
            return self.record.criticality
        return Criticality.IMPORTANT if self.important_systems else Criticality.GENERAL


def window() -> int:
    """Days before a contract ends from which it is an open item (``HANDOVER_SUPPLIER_CONTRACT_DAYS``)."""
    return int(getattr(settings, "HANDOVER_SUPPLIER_CONTRACT_DAYS", 60))


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def supplier_lines(*, user: Actor, engagement: Engagement, today: dt.date) -> list[SupplierLine]:
    """Every supplying organisation (by type, or because it supplies a system or signed a contract), in a fixed
    number of queries."""
    visible(user, engagement, perms.VIEW_RISK)
    days = window()
    systems: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for vendor, name, category in InformationSystem.objects.filter(
        engagement=engagement, is_active=True, vendor__isnull=False
    ).values_list("vendor_id", "name", "category"):
        systems[vendor].append((name, category))
    contracts: dict[int, list[Contract]] = defaultdict(list)
    contacts: dict[int, int] = defaultdict(int)
    software: dict[int, set[str]] = defaultdict(set)
    rows = Row.objects.filter(form__engagement=engagement, form__is_current=True, is_current=True,
                              form__register_no__in=(17, 19, 20, 33, 35))  # fmt: skip
    for register_no, data in rows.values_list("form__register_no", "data"):
        data = data or {}
        if register_no in (17, 33):
            if isinstance(data.get("vendor_org_id"), int):
                name = " ".join(str(data.get(k) or "") for k in ("name", "version")).strip()
                software[data["vendor_org_id"]].add(name)
        elif register_no == 20:
            if isinstance(data.get("org_id"), int):
                contacts[data["org_id"]] += 1
        elif isinstance(data.get("counterparty_org_id"), int):
            contracts[data["counterparty_org_id"]].append(
                Contract(register_no, str(data.get("contract_no", "")), _date(data.get("end")))
            )
    records = {s.organisation_id: s for s in Supplier.objects.filter(engagement=engagement)}
    wanted = set(systems) | set(contracts) | set(records) | set(software)
    organisations = Organisation.objects.filter(engagement=engagement).order_by("name")
    lines = []
    for org in organisations:
        if org.type not in SUPPLYING and org.pk not in wanted:
            continue
        line = SupplierLine(org, records.get(org.pk), sorted(n for n, _c in systems[org.pk]),
                            sorted(n for n, c in systems[org.pk] if c in IMPORTANT_CATEGORIES),
                            sorted(contracts[org.pk], key=lambda c: (c.ends_on or dt.date.max, c.number)),
                            contacts[org.pk])  # fmt: skip
        line.software = sorted(software[org.pk])
        line.items = _items(line, today, days)
        lines.append(line)
    return lines


def _items(line: SupplierLine, today: dt.date, window: int) -> list[str]:
    items: list[str] = []
    record = line.record
    if record is None:
        if line.important_systems:
            items.append(_("supplies %(systems)s: record its criticality, substitutability and 备案")
                         % {"systems": "、".join(line.important_systems)})  # fmt: skip
    elif record.state != SupplierState.EXITED:
        if record.criticality == Criticality.IMPORTANT and record.filing != Filing.FILED:
            items.append(_("an important supplier without its 备案 on record (三(二)五)"))
        if record.state == SupplierState.EXITING and not record.exit_plan.strip():
            items.append(_("leaving without an exit plan"))
    if record is None or record.state != SupplierState.EXITED:
        for contract in line.contracts:
            if contract.ends_on is None:
                continue
            if contract.ends_on < today:
                items.append(_("contract %(no)s (表%(t)s) ended on %(day)s")
                             % {"no": contract.number, "t": contract.register_no, "day": contract.ends_on})  # fmt: skip
            elif (contract.ends_on - today).days <= window:
                items.append(_("contract %(no)s (表%(t)s) ends on %(day)s")
                             % {"no": contract.number, "t": contract.register_no, "day": contract.ends_on})  # fmt: skip
    return items
