"""Rotation scenery built from the models (no host is changed): plans with accounts at branches A and B."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handover.core.actors import system
from handover.discovery.models import Target
from handover.registers.models import Asset, InformationSystem, Row
from handover.rotation.models import RotationItem, RotationPlan
from handover.vault import lifecycle
from handover.vault import services as vault
from tests.factories import World, register_form


@pytest.fixture
def unsealed(db: None, settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path / "data"
    lifecycle.vault_init(actor=system("test"), shares=3, threshold=2)


def target_at(world: World, site: Any, host: str, connector: str = "linux") -> Target:
    info, _ = InformationSystem.objects.get_or_create(engagement=world.engagement, site=site, name="集中交易")
    asset = Asset.objects.create(engagement=world.engagement, site=site, name=host, hostname=host)
    return Target.objects.create(
        engagement=world.engagement, site=site, system=info, asset=asset, connector=connector, port=22
    )


def plan_with(
    world: World, author: Any, accounts: list[tuple[Any, str, str, str]], **fields: Any
) -> RotationPlan:
    """A plan drawn up by ``author`` over (site, host, account, outcome) accounts; an outcome means done, with a
    drafted 表10 row."""
    plan = RotationPlan.objects.create(
        engagement=world.engagement,
        reason="定期更换",
        created_by=author,
        created_by_name=author.username,
        **fields,
    )
    for site, host, login, outcome in accounts:
        target = Target.objects.filter(asset__hostname=host).first() or target_at(world, site, host)
        entry = vault.secret_put(
            actor=system("test"),
            target=vault.Target(
                engagement=world.engagement,
                site=site,
                system_name="集中交易",
                hostname=host,
                login_name=login,
            ),
            secret="Vq7#kRt2!mWz9@Lp",
        )
        row = None
        if outcome:
            row = Row.objects.create(
                form=register_form(world.engagement, site, register_no=10), seq=1, data={}
            )
        RotationItem.objects.create(
            plan=plan,
            entry=entry,
            target=target,
            login_name=login,
            state="done" if outcome else "planned",
            outcome=outcome,
            row=row,
        )
    return plan
