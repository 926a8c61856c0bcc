"""What the registers' selectors share: the page size, the entities a reference column points at, the user's sites."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Model,
    Q,
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
    FormState,
    InformationSystem,
    Software,
)

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class FormLine:
    """What a row list shows of a row's form."""

    pk: int
    form_no: str
    state: str
    site_name: str

    def get_state_display(self) -> str:
        return str(FormState(self.state).label)


@dataclass(frozen=True, slots=True)
class RowLine:
    """A row as the list pages show it: its values read as one tuple with its form's and site's, not as three
    model instances (issue 18: instantiating 51 × 3 models was an eighth of the list page)."""

    pk: int
    form_id: int
    seq: int
    version: int
    data: dict[str, Any]
    remarks: str
    form: FormLine


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


@dataclass(frozen=True)
class Reach:
    """The sites where a capability holds for the user, read once for a page (issue 18): the register list
    read them three times over, as nested subqueries in its row query and as two site lists. Built by the view
    for its own request and passed down, never kept beyond it, so no other request or user sees it.

    ``everywhere``: the capability holds engagement-wide, so a read needs no site condition. ``sites``: the
    sites in scope, the inactive ones too (their rows stay readable), ordered by path."""

    everywhere: bool
    sites: tuple[Site, ...]
    scope: Q

    @property
    def ids(self) -> list[int]:
        return [s.pk for s in self.sites]

    @property
    def active(self) -> list[Site]:
        """The active sites, as ``org.selectors.site_list`` offers them."""
        return [s for s in self.sites if s.is_active]

    def subtree_ids(self, site: Site) -> list[int]:
        """The sites at or below ``site`` (in scope whenever ``site`` is: a scope is whole subtrees)."""
        return [s.pk for s in self.sites if s.path.startswith(site.path)]


def reach(*, user: Actor, engagement: Engagement, capability: str, like: Reach | None = None) -> Reach | None:
    """Where ``capability`` holds, in one query; None when nowhere. ``like``, a reach already read for this
    request, is reused when the scope is the same (a post that may read and fill at one 营业部)."""
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    if scope is None:
        return None
    if like is not None and like.scope == scope:
        return like
    sites = Site.objects.filter(scope, engagement=engagement).order_by("path")
    return Reach(everywhere=scope == Q(), sites=tuple(sites), scope=scope)
