"""Reads of the vault, filtered to what the user may see: entries of the sites in their scope (never a
secret), reveal requests they made or may decide, and the secrets overdue for their periodic change."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import site_scope
from handover.vault.models import REFERENCE, RevealRequest, RevealStatus, SecretEntry


def _sites(*, user: Actor, engagement: Engagement, capability: str) -> QuerySet[Site] | None:
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    if scope is None:
        return None
    return Site.objects.filter(scope, engagement=engagement)


def entry_list(*, user: Actor, engagement: Engagement, site: Site | None = None) -> QuerySet[SecretEntry]:
    """Vault entries at the sites where the user holds ``vault_view`` (optionally one site's subtree)."""
    sites = _sites(user=user, engagement=engagement, capability=perms.VAULT_VIEW)
    if sites is None:
        return SecretEntry.objects.none()
    qs = SecretEntry.objects.filter(engagement=engagement, site__in=sites)
    if site is not None:
        qs = qs.filter(site__path__startswith=site.path)
    return qs.select_related("site", "account", "account__system", "account__asset").order_by(
        "site__path", "account__system__name", "account__login_name"
    )


def entry_get(*, user: Actor, engagement: Engagement, entry_id: Any) -> SecretEntry:
    entry = entry_list(user=user, engagement=engagement).filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("No vault entry %(id)s is open to you here.") % {"id": entry_id}, field="entry")
    return entry


def entry_by_reference(*, user: Actor, engagement: Engagement, reference: str) -> SecretEntry:
    """The entry a register's 保管引用 names (``BR-HZ-V007``), among those open to the user."""
    match = REFERENCE.fullmatch(reference.strip())
    found = (
        entry_list(user=user, engagement=engagement)
        .filter(site__code__iexact=match.group("site"), number=int(match.group("number")))
        .first()
        if match is not None
        else None
    )
    if found is None:
        raise NotFound(
            _("No vault entry %(ref)s is open to you here.") % {"ref": reference.strip()}, field="reference"
        )
    return found


def overdue_list(
    *, user: Actor, engagement: Engagement, site: Site | None = None, today: date | None = None
) -> QuerySet[SecretEntry]:
    """Secrets whose 表27 next change date has passed (or falls today), oldest first."""
    today = today or timezone.localdate()
    return (
        entry_list(user=user, engagement=engagement, site=site)
        .filter(next_due_on__lte=today)
        .order_by("next_due_on", "site__path")
    )


def request_list(*, user: Actor, engagement: Engagement) -> QuerySet[RevealRequest]:
    """Reveal requests the user made, and pending ones at sites where the user may approve."""
    visible = _sites(user=user, engagement=engagement, capability=perms.VAULT_VIEW)
    if visible is None:
        return RevealRequest.objects.none()
    approvable = _sites(user=user, engagement=engagement, capability=perms.VAULT_APPROVE)
    mine = Q(requester=user, entry__site__in=visible)
    if approvable is not None:
        mine |= Q(status=RevealStatus.PENDING, entry__site__in=approvable)
    return (
        RevealRequest.objects.filter(mine, entry__engagement=engagement)
        .select_related(
            "entry", "entry__site", "entry__account", "entry__account__system", "requester", "approver"
        )
        .order_by("-created_at", "-pk")
    )


def request_get(*, user: Actor, engagement: Engagement, request_id: int) -> RevealRequest:
    request = request_list(user=user, engagement=engagement).filter(pk=request_id).first()
    if request is None:
        raise NotFound(_("No reveal request %(id)s is open to you.") % {"id": request_id}, field="request")
    return request
