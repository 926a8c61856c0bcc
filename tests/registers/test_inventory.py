"""The shared entities: found by natural key or created once, with an audit event, inside the actor's sites."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from handover.audit.models import Event
from handover.core.errors import PermissionDenied
from handover.org.models import Role
from handover.registers import events, inventory
from handover.registers.models import Account, Asset, InformationSystem


def test_ensure_creates_once_and_links_host_and_account(world):
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a)
    args = {"actor": firm_it, "engagement": world.engagement, "site": world.branch_a}
    system = inventory.system_ensure(**args, name="柜台系统", category="营业部柜台")
    assert inventory.system_ensure(**args, name="柜台系统") == system
    host = inventory.asset_ensure(**args, hostname="10.1.1.5", system=system)
    assert inventory.asset_ensure(**args, hostname="10.1.1.5", system=system) == host
    assert list(host.systems.all()) == [system]
    account = inventory.account_ensure(
        actor=firm_it,
        system=system,
        asset=host,
        login_name="root",
        layer="操作系统",
        account_class="超级用户",
    )
    same = inventory.account_ensure(
        actor=firm_it,
        system=system,
        asset=host,
        login_name="root",
        layer="操作系统",
        account_class="超级用户",
    )
    assert same == account
    assert (InformationSystem.objects.count(), Asset.objects.count(), Account.objects.count()) == (1, 1, 1)
    assert Event.objects.filter(action=events.ENTITY_CREATE).count() == 3


def test_outside_the_actors_sites_nothing_is_created(world):
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a)
    with pytest.raises(PermissionDenied):
        inventory.system_ensure(
            actor=firm_it, engagement=world.engagement, site=world.branch_b, name="柜台系统"
        )
    assert not InformationSystem.objects.exists()
    assert not Event.objects.filter(action=events.ENTITY_CREATE).exists()


def test_the_database_refuses_a_duplicate_account_without_a_host(world):
    tech = world.login_with(Role.TECH_GROUP)
    system = inventory.system_ensure(actor=tech, engagement=world.engagement, site=world.hq, name="集中交易")
    Account.objects.create(
        engagement=world.engagement, system=system, layer="数据库", login_name="sa", account_class="超级用户"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(
            engagement=world.engagement,
            system=system,
            layer="数据库",
            login_name="sa",
            account_class="超级用户",
        )
