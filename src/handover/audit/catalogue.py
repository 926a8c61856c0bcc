"""The catalogue of audit action codes.

Each app lists what can happen to its data in its own ``events.py`` as ``ACTIONS`` (code → label), the way
Saleor's ``order/events.py`` reads as the list of what can happen to an order. Recording an unknown code is
a programming error, caught at once rather than leaving an event nobody can filter for.
"""

from __future__ import annotations

from importlib import import_module

from django.utils.functional import Promise

from handover.audit import naming

APPS_WITH_EVENTS = (
    "handover.audit",
    "handover.accounts",
    "handover.org",
    "handover.notifications",
    "handover.registers",
    "handover.backups",
    "handover.vault",
    "handover.discovery",
    "handover.rotation",
    "handover.workflow",
    "handover.risk",
    "handover.reports",
    "handover.platform_backup",
)

_actions: dict[str, str | Promise] = {}


def load_all() -> None:
    for app in APPS_WITH_EVENTS:
        module = import_module(f"{app}.events")
        for code, label in module.ACTIONS.items():
            if code in _actions and _actions[code] != label:
                raise RuntimeError(f"audit action {code} declared twice")
            _actions[code] = label
        for object_type, paths in getattr(module, "OBJECT_NAMES_RELATED", {}).items():
            naming.related_register(object_type, paths)


def label(code: str) -> str | Promise:
    return _actions.get(code, code)


def exists(code: str) -> bool:
    return code in _actions


def choices() -> list[tuple[str, str | Promise]]:
    return sorted(_actions.items())
