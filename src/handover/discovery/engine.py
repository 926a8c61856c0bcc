"""The one seam to the Django-free connector engine: which connectors exist, and the review rules.

The connector modules (``handover.connectors.<code>``) and the rules (``handover.connectors.review``) are
written beside this app; ``connectors_load`` imports the ones present and skips the missing, and
``review_run`` is the one call to the rules, so tests can replace either.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from handover.connectors import manifest
from handover.connectors.findings import Finding, ReviewContext, SystemRef
from handover.connectors.model import Inventory

# The connector modules the engine knows by code (each registers its Manifest when imported).
KNOWN_MODULES = ("linux", "netdev", "postgresql", "mariadb", "ldap", "ad", "oracle", "windows", "operators")

Review = Callable[[Iterable[tuple[SystemRef, Inventory]], ReviewContext], list[Finding]]


def connectors_load() -> dict[str, manifest.Manifest]:
    """The registry, after importing every known connector module that is installed."""
    for name in KNOWN_MODULES:
        try:
            importlib.import_module(f"handover.connectors.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"handover.connectors.{name}":
                raise
    return manifest.REGISTRY


def connector_get(code: str) -> manifest.Manifest | None:
    """The manifest of connector ``code``, or None."""
    return connectors_load().get(code)


def connector_for_kind(kind: str) -> manifest.Manifest | None:
    """The manifest whose offline kinds (``--kind`` of the import) include ``kind``, or whose code is ``kind``."""
    registry = connectors_load()
    found = next((m for m in registry.values() if kind in m.offline_kinds), None)
    if found is None and kind in registry and registry[kind].parse is not None:
        return registry[kind]
    return found


def _review_rules() -> Review | None:
    try:
        module = importlib.import_module("handover.connectors.review")
    except ModuleNotFoundError as exc:
        if exc.name != "handover.connectors.review":
            raise
        return None
    rules: Review = module.review
    return rules


def review_run(items: list[tuple[SystemRef, Inventory]], context: ReviewContext) -> list[Finding] | None:
    """The review's findings on ``items``; None when the rules are not installed (nothing is concluded)."""
    rules = _review_rules()
    if rules is None:
        return None
    return rules(items, context)


def rule_label(code: str, language: str) -> str:
    """What rule ``code`` means, in Chinese for a Chinese page (else English); the code when unknown."""
    try:
        module = importlib.import_module("handover.connectors.review")
    except ModuleNotFoundError:
        return code
    rule = module.BY_CODE.get(code)
    if rule is None:
        return code
    return str(rule.zh if language.startswith("zh") else rule.en)
