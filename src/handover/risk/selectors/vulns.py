"""Reads of vulnerability management: the list with filters, one finding's history, what is past its fix time
(HANDOVER_VULN_SLA_DAYS from the first sighting), and the lines for the deadlines of security management."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.risk import rules
from handover.risk.models import DecisionKind, Severity, VulnDecision, Vulnerability, VulnScan, VulnSighting
from handover.risk.selectors.common import visible
from handover.workflow.deadlines import BEIJING

STATES = ("open", "overdue", "accepted", "false_positive", "closed")


def _decided(today: dt.date) -> Q:
    """Approved: a false positive, or an acceptance not yet ended."""
    approved = VulnDecision.objects.filter(vulnerability=OuterRef("pk"), approved_at__isnull=False)
    return Q(
        Exists(approved.filter(kind=DecisionKind.FALSE_POSITIVE))
        | Exists(approved.filter(kind=DecisionKind.ACCEPT, expires_on__gte=today))
    )


def due_on(vulnerability: Vulnerability, days: dict[str, int]) -> dt.date:
    return vulnerability.first_seen.astimezone(BEIJING).date() + dt.timedelta(
        days=days[vulnerability.severity]
    )


@dataclass(frozen=True)
class Line:
    vulnerability: Vulnerability
    state: str
    due_on: dt.date


def _state(v: Vulnerability, today: dt.date, days: dict[str, int]) -> str:
    if v.closed_at is not None:
        return "closed"
    for decision in v.decisions.all():
        if decision.approved_at is None:
            continue
        if decision.kind == DecisionKind.FALSE_POSITIVE:
            return "false_positive"
        if decision.expires_on and decision.expires_on >= today:
            return "accepted"
    return "overdue" if due_on(v, days) < today else "open"


def vuln_list(
    *, user: Actor, engagement: Engagement, now: dt.datetime, state: str = "", severity: str = "", host: str = "",
    text: str = "", limit: int = 500,
) -> tuple[list[Line], int]:  # fmt: skip
    """The findings matching the filters (newest sighting first), at most ``limit``, and how many matched."""
    visible(user, engagement, perms.VIEW_RISK)
    days = rules.vuln_sla_days()
    today = now.astimezone(BEIJING).date()
    found: QuerySet[Vulnerability] = Vulnerability.objects.filter(engagement=engagement)
    if severity in Severity.values:
        found = found.filter(severity=severity)
    if host:
        found = found.filter(asset_key__icontains=host.strip()[:100])
    if text:
        words = text.strip()[:100]
        found = found.filter(Q(title__icontains=words) | Q(cves__icontains=words) | Q(ident__icontains=words)
                             | Q(cnvd__icontains=words) | Q(cnnvd__icontains=words) | Q(number=words))  # fmt: skip
    if state == "closed":
        found = found.filter(closed_at__isnull=False)
    elif state in ("open", "overdue"):
        found = found.filter(closed_at__isnull=True).exclude(_decided(today))
    elif state in ("accepted", "false_positive"):
        found = found.filter(closed_at__isnull=True).filter(_decided(today))
    found = found.select_related("owner").prefetch_related("decisions").order_by("-last_seen", "number")
    lines: list[Line] = []
    total = 0
    for v in found.iterator(chunk_size=2000) if state == "overdue" else found[: limit * 4]:
        line = Line(v, _state(v, today, days), due_on(v, days))
        if state and line.state != state:
            continue
        total += 1
        if len(lines) < limit:
            lines.append(line)
    if state != "overdue" and total >= limit:
        total = found.count()
    return lines, total


def overdue(*, user: Actor, engagement: Engagement, now: dt.datetime) -> list[Vulnerability]:
    """Open findings, neither accepted nor false positives, past their fix time."""
    visible(user, engagement, perms.VIEW_RISK)
    days = rules.vuln_sla_days()
    today = now.astimezone(BEIJING).date()
    candidates = Vulnerability.objects.filter(engagement=engagement, closed_at__isnull=True).exclude(
        _decided(today)
    )
    return [v for v in candidates.order_by("first_seen", "number") if due_on(v, days) < today]


@dataclass(frozen=True)
class SeverityDue:
    severity: str
    count: int
    overdue: int
    earliest: dt.date


def due_by_severity(*, engagement: Engagement, now: dt.datetime) -> list[SeverityDue]:
    """Per severity: open undecided findings, how many are past their fix time, and the earliest due date."""
    days = rules.vuln_sla_days()
    today = now.astimezone(BEIJING).date()
    rows = (
        Vulnerability.objects.filter(engagement=engagement, closed_at__isnull=True)
        .exclude(_decided(today))
        .values_list("severity", "first_seen")
    )
    dates: dict[str, list[dt.date]] = defaultdict(list)
    for severity, first_seen in rows.iterator(chunk_size=5000):
        dates[severity].append(first_seen.astimezone(BEIJING).date() + dt.timedelta(days=days[severity]))
    return [
        SeverityDue(s, len(dates[s]), sum(d < today for d in dates[s]), min(dates[s]))
        for s in Severity.values
        if dates.get(s)
    ]


@dataclass(frozen=True)
class History:
    scan: VulnScan
    reported: bool


def vuln_detail(*, user: Actor, engagement: Engagement, number: str) -> tuple[Vulnerability, list[History]]:
    """One finding and the scans of its tools that covered its host: which reported it, which did not."""
    visible(user, engagement, perms.VIEW_RISK)
    found = (
        Vulnerability.objects.filter(engagement=engagement, number=number)
        .select_related("owner", "asset", "closed_by_scan", "fixed_by", "verified_by")
        .prefetch_related("decisions__requested_by", "decisions__approved_by")
        .first()
    )
    if found is None:
        raise Http404(number)
    reporting = set(VulnSighting.objects.filter(vulnerability=found).values_list("scan_id", flat=True))
    scans = (
        VulnScan.objects.filter(engagement=engagement, hosts__asset_key=found.asset_key,
                                scanner__in=[s for s in found.scanners.split(",") if s])
        .order_by("scanned_at", "pk")
    )  # fmt: skip
    return found, [History(scan, scan.pk in reporting) for scan in scans]


def scan_list(*, user: Actor, engagement: Engagement, limit: int = 20) -> list[VulnScan]:
    visible(user, engagement, perms.VIEW_RISK)
    return list(VulnScan.objects.filter(engagement=engagement).annotate(seen=Count("hosts"))[:limit])


def state_label(state: str) -> str:
    return {
        "open": _("Open"), "overdue": _("Past its fix time"), "accepted": _("Accepted"),
        "false_positive": _("False positive"), "closed": _("Closed"),
    }.get(state, state)  # fmt: skip
