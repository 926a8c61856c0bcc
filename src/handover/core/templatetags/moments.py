"""The time filters every template has without a ``{% load %}`` (settings TEMPLATES ``builtins``):
``{{ t|moment }}`` → ``2026-12-04 15:31`` (``|moment:"seconds"`` for the audit trail), ``{{ t|day }}`` →
``2026-12-04``, ``{% time_zone %}`` names the zone (base.html, once per page). See ``handover.core.moments``."""

from __future__ import annotations

from typing import Any

from django import template

from handover.core.moments import day_text, moment_text, zone_name

register = template.Library()


@register.filter
def moment(value: Any, precision: str = "") -> str:
    return moment_text(value, seconds=precision == "seconds")


@register.filter
def day(value: Any) -> str:
    return day_text(value)


@register.simple_tag
def time_zone() -> str:
    return zone_name()
