"""Reads of discovery, scoped by the user: only the sites where they hold ``VIEW_DISCOVERY``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.discovery.models import Fact, Finding, GatherRun, Target
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import site_scope
from handover.registers.models import InformationSystem


def _scope(user: Actor, engagement: Engagement, field: str = "site") -> Q | None:
    """The sites the user may read discovery at, as a filter on ``field`` (None: none)."""
    scope = site_scope(user=user, engagement=engagement, capability=perms.VIEW_DISCOVERY)
    if scope is None:
        return None
    if scope == Q():
        return Q()
    sites = Site.objects.filter(scope, engagement=engagement).values("pk")
    return Q(**{f"{field}__in": sites})


def _scoped(qs: QuerySet[Any], user: Actor, engagement: Engagement, field: str = "site") -> QuerySet[Any]:
    scope = _scope(user, engagement, field)
    if scope is None:
        return qs.none()
    return qs.filter(scope, engagement=engagement)


def systems_list(
    *, user: Actor, engagement: Engagement, site: Site | None = None
) -> QuerySet[InformationSystem]:
    """Systems with discovery targets, with their counts of hosts, accounts and open findings."""
    targets = _scoped(Target.objects.all(), user, engagement)
    if site is not None:
        targets = targets.filter(site__path__startswith=site.path)
    return (
        InformationSystem.objects.filter(pk__in=targets.values("system_id"))
        .select_related("site")
        .annotate(
            hosts=Count("discovery_targets__asset", distinct=True),
            open_findings=Count(
                "discovery_targets__findings",
                filter=Q(discovery_targets__findings__resolved_at__isnull=True),
                distinct=True,
            ),
        )
        .order_by("site__path", "name")
    )


def targets_list(
    *, user: Actor, engagement: Engagement, system: InformationSystem | None = None
) -> QuerySet[Target]:
    qs = _scoped(Target.objects.all(), user, engagement).select_related(
        "system", "asset", "site", "credential"
    )
    if system is not None:
        qs = qs.filter(system=system)
    return qs.annotate(
        accounts=Count("facts", distinct=True),
        open_findings=Count("findings", filter=Q(findings__resolved_at__isnull=True), distinct=True),
    )


def target_get(*, user: Actor, engagement: Engagement, pk: int) -> Target:
    found = targets_list(user=user, engagement=engagement).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such discovery target is open to you."), field="target")
    return found


def facts_list(
    *,
    user: Actor,
    engagement: Engagement,
    target: Target | None = None,
    site: Site | None = None,
    system: InformationSystem | None = None,
) -> QuerySet[Fact]:
    """Gathered accounts (with rights, groups and keys) by target, system or site."""
    qs = _scoped(Fact.objects.all(), user, engagement).select_related("system", "asset", "site")
    if target is not None:
        qs = qs.filter(target=target)
    if system is not None:
        qs = qs.filter(system=system)
    if site is not None:
        qs = qs.filter(site__path__startswith=site.path)
    return qs


def findings_list(
    *,
    user: Actor,
    engagement: Engagement,
    site: Site | None = None,
    rule: str = "",
    target: Target | None = None,
    include_resolved: bool = False,
) -> QuerySet[Finding]:
    """Findings, open ones unless ``include_resolved``; filtered by site subtree, rule and target."""
    qs = _scoped(Finding.objects.all(), user, engagement).select_related("system", "asset", "site", "target")
    if not include_resolved:
        qs = qs.filter(resolved_at__isnull=True)
    if site is not None:
        qs = qs.filter(site__path__startswith=site.path)
    if rule:
        qs = qs.filter(rule=rule)
    if target is not None:
        qs = qs.filter(target=target)
    return qs


def finding_get(*, user: Actor, engagement: Engagement, pk: int) -> Finding:
    found = findings_list(user=user, engagement=engagement, include_resolved=True).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such finding is open to you."), field="finding")
    return found


def runs_list(*, user: Actor, engagement: Engagement) -> QuerySet[GatherRun]:
    """Runs whose scope the user may read (an engagement-wide run needs an engagement-wide role)."""
    scope = _scope(user, engagement)
    if scope is None:
        return GatherRun.objects.none()
    qs = GatherRun.objects.filter(engagement=engagement)
    if scope != Q():
        qs = qs.filter(scope)
    return qs


def run_get(*, user: Actor, engagement: Engagement, pk: int) -> GatherRun:
    found = runs_list(user=user, engagement=engagement).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such discovery run is open to you."), field="run")
    return found


def finding_export(finding: Finding) -> dict[str, Any]:
    """One finding as `handover discovery findings --json` and the API write it."""
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "system": finding.system.name,
        "host": finding.asset.hostname,
        "site": finding.site.code,
        "account": finding.account_name,
        "detail": {"zh": finding.detail_zh, "en": finding.detail_en},
        "score": finding.score,
        "evidence": finding.evidence,
        "first_seen": finding.first_seen.isoformat(),
        "last_seen": finding.last_seen.isoformat(),
        "decision": finding.decision,
    }
