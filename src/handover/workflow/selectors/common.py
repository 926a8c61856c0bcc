"""What the workflow's selectors share: the user's scope of sites, the lists' limits, a site by its code."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import NotFound, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Phase, Site
from handover.org.selectors import site_scope

PHASES = (Phase.PREPARATION, Phase.HANDOVER, Phase.STABILISATION)


OVERDUE_SHOWN = 30  # the longest-late first; the page says how many more there are


GATED_SHOWN = 30  # steps a register rule blocks, in site and step order; the page says how many more


def _scope(user: Actor, engagement: Engagement, capability: str) -> Q:
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    if scope is None:
        raise PermissionDenied(_("You do not have the role needed for this here."))
    return scope


def _sites(user: Actor, engagement: Engagement, capability: str) -> QuerySet[Site]:
    return Site.objects.filter(_scope(user, engagement, capability), engagement=engagement, is_active=True)


def site_choices(*, user: Actor, engagement: Engagement, capability: str) -> QuerySet[Site]:
    return _sites(user, engagement, capability).order_by("path")


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def site_by_code(*, user: Actor, engagement: Engagement, code: str) -> Site:
    """A site of the user's workflow scope by its code (the API's ``?site=CODE``)."""
    site = _sites(user, engagement, perms.VIEW_WORKFLOW).filter(code=code).first()
    if site is None:
        raise NotFound(
            _("No site %(code)s is open to you in this engagement.") % {"code": code}, field="site"
        )
    return site
