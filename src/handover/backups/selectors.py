"""Reads of backup verification, limited to the sites where the user holds ``view_backups``."""

from __future__ import annotations

from django.db.models import QuerySet

from handover.backups.models import ImportedBundle, SiteKey
from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import site_scope


def _sites(user: Actor, engagement: Engagement, capability: str) -> QuerySet[Site] | None:
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    return None if scope is None else Site.objects.filter(scope, engagement=engagement)


def bundle_list(*, user: Actor, engagement: Engagement) -> QuerySet[ImportedBundle]:
    """Imported bundles of the sites in the user's scope, newest first."""
    sites = _sites(user, engagement, perms.VIEW_BACKUPS)
    if sites is None:
        return ImportedBundle.objects.none()
    return ImportedBundle.objects.filter(engagement=engagement, site__in=sites).select_related("site")


def site_key_list(*, user: Actor, engagement: Engagement) -> QuerySet[SiteKey]:
    """Enrolled site keys (revoked ones too) of the sites in the user's scope."""
    sites = _sites(user, engagement, perms.VIEW_BACKUPS)
    if sites is None:
        return SiteKey.objects.none()
    return SiteKey.objects.filter(engagement=engagement, site__in=sites).select_related("site")


def sites_for_keys(*, user: Actor, engagement: Engagement) -> QuerySet[Site]:
    """Sites for which the user may issue a key."""
    sites = _sites(user, engagement, perms.MANAGE_SITE_KEYS)
    return Site.objects.none() if sites is None else sites.filter(is_active=True).order_by("path")
