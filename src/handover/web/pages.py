"""The context every engagement page starts from, for the pages of every app (review §5: six copies of the
capability union, and the vault's pages borrowing org's private ``_context``, become these two functions).

``caps`` is what the user may do in the engagement (the union over their roles, from the one written policy,
org/permissions.py); templates show or hide actions by it, while the views' ``needs`` and the services decide.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org import selectors
from handover.org.models import Engagement


def capabilities_in(*, user: Actor, engagement: Engagement) -> tuple[set[str], set[str]]:
    """The user's roles in the engagement and what they may do there, the union over those roles."""
    roles = selectors.roles_in(user=user, engagement=engagement)
    return roles, set().union(*(perms.capabilities_of(r) for r in roles))


def engagement_page(request: HttpRequest, engagement: Engagement, **extra: Any) -> dict[str, Any]:
    """The engagement, ``caps``, ``my_roles`` and whether the firm's real name may be shown (第十一条), plus
    ``extra``. Where the name is hidden, ``hidden_firm_label`` stands for it."""
    roles, caps = capabilities_in(user=request.user, engagement=engagement)
    visible = selectors.firm_name_visible(user=request.user, engagement=engagement)
    return {
        "engagement": engagement,
        "caps": caps,
        "my_roles": roles,
        "firm_name_visible": visible,
        # 第十一条: what stands for the firm organisation's name where the real name is hidden from this user.
        "hidden_firm_label": None if visible else selectors.hidden_firm_label(engagement),
        **extra,
    }
