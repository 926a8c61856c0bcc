"""``{% engagement_menu as menu %}``: the engagement menu (web/navigation.py) for the page being rendered."""

from __future__ import annotations

from typing import Any

from django import template

from handover.web.navigation import MenuItem, engagement_menu

register = template.Library()


@register.simple_tag(takes_context=True, name="engagement_menu")
def engagement_menu_tag(context: template.Context) -> list[MenuItem]:
    engagement = context.get("engagement")
    if engagement is None:
        return []
    request: Any = context.get("request")
    match = getattr(request, "resolver_match", None)
    return engagement_menu(
        engagement=engagement, caps=context.get("caps") or set(), view_name=match.view_name if match else ""
    )
