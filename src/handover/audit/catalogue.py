"""The catalogue of audit action codes.

Each app lists what can happen to its data in its own ``events.py`` as ``ACTIONS`` (code → label), the way
Saleor's ``order/events.py`` reads as the list of what can happen to an order. The catalogue reads every
installed app that has one, so a new app's events are known once it is in ``INSTALLED_APPS``. Recording an
unknown code is a programming error, caught at once rather than leaving an event nobody can filter for.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from types import ModuleType

from django.apps import apps
from django.utils.functional import Promise

from handover.audit import naming

_actions: dict[str, str | Promise] = {}


def event_modules() -> list[ModuleType]:
    """The ``events`` modules of the installed apps that declare events (an ``events`` with ``ACTIONS``)."""
    found = []
    for config in apps.get_app_configs():
        if find_spec(f"{config.name}.events") is None:
            continue
        module = import_module(f"{config.name}.events")
        if hasattr(module, "ACTIONS"):
            found.append(module)
    return found


def load_all() -> None:
    """Read every installed app's events into the catalogue (at start, from ``AuditConfig.ready``)."""
    for module in event_modules():
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
