"""What the registers' selectors share: the page size, the entities a reference column points at, the user's sites."""

from __future__ import annotations

from typing import Any

from django.db.models import (
    Model,
    QuerySet,
)

from handover.core.actors import Actor
from handover.org.models import Engagement, Organisation, Person, Site
from handover.org.selectors import site_scope
from handover.registers.models import (
    Account,
    Asset,
    BackupItem,
    CommunicationLine,
    Contract,
    Document,
    InformationSystem,
    Software,
)

PAGE_SIZE = 50


# The entity a ``ref`` column points at, and the path from it to the site that scopes it ("" = none).
ENTITY_MODELS: dict[str, tuple[type[Model], str]] = {
    "site": (Site, "self"),
    "org": (Organisation, ""),
    "person": (Person, "site"),
    "system": (InformationSystem, "site"),
    "asset": (Asset, "site"),
    "software": (Software, ""),
    "contract": (Contract, ""),
    "account": (Account, "system__site"),
    "line": (CommunicationLine, "a_site"),
    "document": (Document, "site"),
    "backup_item": (BackupItem, "site"),
}


def _scoped_sites(*, user: Actor, engagement: Engagement, capability: str) -> QuerySet[Site, Any] | None:
    """The sites where ``capability`` holds, as a subquery; None when it holds nowhere."""
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    if scope is None:
        return None
    return Site.objects.filter(scope, engagement=engagement).values("pk")
