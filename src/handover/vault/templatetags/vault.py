"""``{% vault_site_block site %}``: the vault's part of a site page (count and overdue secrets, 表27),
so the org app's page shows it without importing the vault."""

from __future__ import annotations

from typing import Any

from django import template

from handover.org import permissions as perms
from handover.org.selectors import has_capability
from handover.vault import selectors

register = template.Library()


@register.inclusion_tag("vault/_overdue_block.html", takes_context=True)
def vault_site_block(context: dict[str, Any], site: Any) -> dict[str, Any]:
    user = context["request"].user
    engagement = site.engagement
    can_view = has_capability(user=user, engagement=engagement, capability=perms.VAULT_VIEW, site=site)
    if not can_view:
        return {"can_view": False}
    entries = selectors.entry_list(user=user, engagement=engagement, site=site)
    return {
        "can_view": True,
        "engagement": engagement,
        "entries": entries.count(),
        "overdue": list(selectors.overdue_list(user=user, engagement=engagement, site=site)),
    }
