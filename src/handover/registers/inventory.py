"""Writes to the shared entities (registers.md §2): systems, hosts and other assets, accounts, and the rest.

Registers, the vault, the connectors and the fixity import all point at these rows, so they are created
through here, once, with their audit event. ``*_ensure`` finds the row by its natural key or creates it,
which is what an import or ``handover vault put`` needs.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from handover.audit.services import event_record, snapshot
from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import require
from handover.registers import events
from handover.registers.models import Account, Asset, InformationSystem


def _create(
    *, actor: Actor, model: type[models.Model], engagement: Engagement, scope: Site, **fields: Any
) -> Any:
    """Create one entity row; ``scope`` is the site whose 填报 rights the actor needs."""
    require(user=actor, engagement=engagement, capability=perms.FILL_REGISTERS, site=scope)
    with transaction.atomic():
        instance = model._default_manager.create(engagement=engagement, **fields)
        event_record(
            actor=actor,
            action=events.ENTITY_CREATE,
            engagement_id=engagement.pk,
            site_id=scope.pk,
            obj=instance,
            after=snapshot(instance),
        )
    return instance


def system_ensure(
    *, actor: Actor, engagement: Engagement, site: Site, name: str, **fields: Any
) -> InformationSystem:
    """The system called ``name`` at ``site``, created with ``fields`` if it does not exist yet."""
    found = InformationSystem.objects.filter(engagement=engagement, site=site, name=name).first()
    if found is not None:
        return found
    return _create(
        actor=actor,
        model=InformationSystem,
        engagement=engagement,
        scope=site,
        site=site,
        name=name,
        **fields,
    )


def asset_ensure(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    hostname: str,
    system: InformationSystem | None = None,
) -> Asset:
    """The host ``hostname`` at ``site`` (a server by default), linked to ``system`` when one is given."""
    asset = Asset.objects.filter(engagement=engagement, site=site, hostname=hostname).first()
    if asset is None:
        asset = _create(
            actor=actor,
            model=Asset,
            engagement=engagement,
            scope=site,
            site=site,
            hostname=hostname,
            name=hostname,
        )
    if system is not None and not asset.systems.filter(pk=system.pk).exists():
        asset.systems.add(system)
    return asset


def account_ensure(
    *,
    actor: Actor,
    system: InformationSystem,
    login_name: str,
    layer: str,
    account_class: str,
    asset: Asset | None = None,
) -> Account:
    """The account ``login_name`` on ``system`` (and ``asset``) at ``layer``, created if it does not exist."""
    found = Account.objects.filter(system=system, asset=asset, layer=layer, login_name=login_name).first()
    if found is not None:
        return found
    return _create(
        actor=actor,
        model=Account,
        engagement=system.engagement,
        scope=system.site,
        system=system,
        asset=asset,
        layer=layer,
        login_name=login_name,
        account_class=account_class,
    )


def accounts_ensure(
    *,
    actor: Actor,
    system: InformationSystem,
    asset: Asset | None,
    wanted: list[tuple[str, str, str]],
) -> dict[tuple[str, str], Account]:
    """``account_ensure`` for many accounts of one system and host at once: (login_name, layer,
    account_class) each; returns them by (login_name, layer). One check of the actor's right, one query for
    those that exist, the missing created together, each with its audit event (a host has dozens)."""
    require(user=actor, engagement=system.engagement, capability=perms.FILL_REGISTERS, site=system.site)
    found = {(a.login_name, a.layer): a for a in Account.objects.filter(system=system, asset=asset)}
    missing: dict[tuple[str, str], Account] = {}
    for name, layer, account_class in wanted:
        if (name, layer) not in found and (name, layer) not in missing:
            missing[(name, layer)] = Account(
                engagement=system.engagement, system=system, asset=asset, layer=layer, login_name=name,
                account_class=account_class,
            )  # fmt: skip
    if missing:
        with transaction.atomic():
            created = Account.objects.bulk_create(list(missing.values()))
            for instance in created:
                event_record(
                    actor=actor,
                    action=events.ENTITY_CREATE,
                    engagement_id=system.engagement_id,
                    site_id=system.site_id,
                    obj=instance,
                    after=snapshot(instance),
                )
                found[(instance.login_name, instance.layer)] = instance
    return found
