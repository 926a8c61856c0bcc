"""``{% engagement_nav %}``: the engagement's bar (its code name, phase and menu, web/navigation.py) for the page
being rendered."""

from __future__ import annotations

from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from handover.web.navigation import MenuItem, engagement_menu

register = template.Library()


def _menu(context: template.Context) -> list[MenuItem]:
    engagement = context.get("engagement")
    if engagement is None:
        return []
    request: Any = context.get("request")
    match = getattr(request, "resolver_match", None)
    return engagement_menu(
        engagement=engagement, caps=context.get("caps") or set(), view_name=match.view_name if match else ""
    )


@register.simple_tag(takes_context=True, name="engagement_nav")
def engagement_nav_tag(context: template.Context) -> SafeString:
    """The bar written in Python, the same markup the template loop wrote: on every engagement page that loop
    over the menu's entries cost as much as the rest of the base page (issue 18)."""
    engagement = context.get("engagement")
    name, phase, phase_label = (
        (engagement.code_name, engagement.phase, engagement.get_phase_display())
        if engagement
        else ("", "", "")
    )
    links = "".join(f"{_link(item)}\n  " for item in _menu(context))
    # Every value is escaped here or in _link; the rest is this function's own markup.
    return mark_safe(  # noqa: S308
        f'<nav class="subnav">\n  <strong>{_esc(name)}</strong>\n'
        f'  <span class="phase phase-{_esc(phase)}">{_esc(phase_label)}</span>\n'
        f"  {links}\n</nav>"
    )


def _link(item: MenuItem) -> str:
    testid = f' data-testid="{_esc(item.testid)}"' if item.testid else ""
    current = ' aria-current="page"' if item.current else ""
    return f'<a href="{_esc(item.url)}"{testid}{current}>{_esc(item.label)}</a>'


def _esc(value: Any) -> str:
    return escape(str(value))
