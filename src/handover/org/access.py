"""Who may do what, where: the checks behind the one written access policy (org/permissions.py holds the
capabilities and the role matrix; this module applies them to a login's roles).

Every service asks ``require`` (or ``require_at``, ``require_engagement_wide``) before it writes, every
selector scopes its reads with ``site_scope``, and the faces ask ``has_capability`` to show or hide an action.
A login's roles are read once per request (``grants_for`` caches them on the user object). Review §4.6 and
§10.6: these lived among org's selectors; ``handover.org.selectors`` still re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q
from django.utils.translation import gettext as _

from handover.core.actors import Actor, SystemActor, actor_user
from handover.core.errors import PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, RoleAssignment, Site


@dataclass(frozen=True)
class Grant:
    """A role held: engagement-wide when ``site_path`` is empty."""

    engagement_id: int
    role: str
    site_id: int | None
    site_path: str


def grants_for(user: Actor) -> list[Grant]:
    """The active roles of a login across all engagements (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if getattr(user, "enrolled_at", None) is None:
        # A new or reset login holds no role until its holder has set their own password and second factor
        # through an enrolment code (docs/access-policy.md, review H1).
        return []
    login = actor_user(user)  # authenticated, so a login
    cached = getattr(login, "_handover_grants", None)
    if cached is None:
        rows = RoleAssignment.objects.filter(
            person__user=login, person__is_active=True, revoked_at__isnull=True, engagement__isnull=False
        ).values_list("engagement_id", "role", "site_id", "site__path")
        cached = [Grant(e, r, s, p or "") for e, r, s, p in rows]
        login._handover_grants = cached
    return cached


def engagement_ids_for(*, user: Actor, capability: str) -> set[int]:
    """The engagements where one of the user's roles gives ``capability`` (anywhere in the engagement)."""
    return {g.engagement_id for g in grants_for(user) if capability in perms.capabilities_of(g.role)}


def site_scope(*, user: Actor, engagement: Engagement, capability: str) -> Q | None:
    """A filter on Site for where ``capability`` holds: everything (``Q()``), some subtrees, or None."""
    if isinstance(user, SystemActor):
        return Q()
    paths: list[str] = []
    for grant in grants_for(user):
        if grant.engagement_id != engagement.pk or capability not in perms.capabilities_of(grant.role):
            continue
        if not grant.site_path:
            return Q()
        paths.append(grant.site_path)
    if not paths:
        return None
    return reduce(or_, (Q(path__startswith=p) for p in paths))


def has_capability(*, user: Actor, engagement: Engagement, capability: str, site: Site | None = None) -> bool:
    """Whether ``capability`` holds for the user in the engagement, at ``site`` when one is named (a role at a
    site covers its subtree; the system actor holds everything)."""
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    if scope is None:
        return False
    if site is None or isinstance(user, SystemActor):
        return True
    return any(
        not g.site_path or site.path.startswith(g.site_path)
        for g in grants_for(user)
        if g.engagement_id == engagement.pk and capability in perms.capabilities_of(g.role)
    )


def require(*, user: Actor, engagement: Engagement, capability: str, site: Site | None = None) -> None:
    """``has_capability``, or refuse with PermissionDenied: the check every service makes first."""
    if not has_capability(user=user, engagement=engagement, capability=capability, site=site):
        raise PermissionDenied(_("You do not have the role needed for this here."))


def require_engagement_wide(*, user: Actor, engagement: Engagement, capability: str) -> None:
    """``capability`` held with no site, i.e. over the whole engagement (a site-scoped post has less)."""
    if site_scope(user=user, engagement=engagement, capability=capability) != Q():
        raise PermissionDenied(_("Only a role held across the whole engagement may do this."))


def require_at(*, user: Actor, engagement: Engagement, capability: str, site: Site | None) -> None:
    """``capability`` at ``site``; where there is no site (a person without one), engagement-wide."""
    if site is None:
        require_engagement_wide(user=user, engagement=engagement, capability=capability)
    else:
        require(user=user, engagement=engagement, capability=capability, site=site)
