"""The crash matrix (issue 15): a run stopped dead at every named step boundary, then resumed, on every platform
rotation supports here — each account ends with exactly one change, its vault's current secret working on
the target, no pending secret left, the plan done. The stop is ``core.faults.armed``: a BaseException that
no handler catches, so only the database's rollback of an open transaction runs, as after kill -9."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from handover.connectors.change import ldap_password
from handover.connectors.change import linux as linux_changer
from handover.connectors.change import mariadb as mariadb_changer
from handover.connectors.change import postgresql as postgresql_changer
from handover.connectors.manifest import Credential
from handover.core import faults
from handover.discovery.services import engine_target
from handover.org.models import Role
from handover.registers.models import Account
from handover.rotation import services as rotation
from handover.rotation.models import ItemState, PlanState, RotationItem
from handover.vault import services as vault
from handover.vault.models import SecretVersion, VerifyResult

POINTS = (
    "rotation.after_stage",
    "rotation.after_staged",
    "rotation.after_change",
    "rotation.after_changed",
    "rotation.after_promote",
    "rotation.after_draft",
)


def _current(entry_id: Any) -> str:
    return vault.secret_use_for_task(entry_id=entry_id, purpose="test: the current secret")


def _matrix(world, tech, target, changer: Any, monkeypatch, admin_login: str | None = None) -> None:  # type: ignore[no-untyped-def]
    other = world.login_with(Role.TECH_GROUP)
    changes: Counter[str] = Counter()
    real = changer.change

    async def counted(place, admin, account, new):  # type: ignore[no-untyped-def]
        changes[account] += 1
        await real(place, admin, account, new)

    monkeypatch.setattr(changer, "change", counted)
    for point in POINTS:
        plan = rotation.plan_create(actor=tech, engagement=world.engagement)
        rotation.plan_approve(actor=other, plan=plan)
        changes.clear()
        with faults.armed(point), pytest.raises(faults.Crash):
            rotation.plan_run(plan_id=plan.pk)
        plan = rotation.plan_run(plan_id=plan.pk)  # the recovery run
        items = list(RotationItem.objects.filter(plan=plan).select_related("entry"))
        assert plan.state == PlanState.DONE, (point, [(i.login_name, i.state, i.reason) for i in items])
        for item in items:
            assert (item.state, item.outcome) == (ItemState.DONE, VerifyResult.SUCCESS), (point, item.reason)
            assert changes[item.login_name] == 1, (point, item.login_name, changes)  # never twice
            assert not SecretVersion.objects.filter(entry=item.entry, pending=True, abandoned_at__isnull=True)
            secret = _current(item.entry_id)
            admin_secret = _current(target.credential_id)
            admin = Credential(target.credential.account.login_name, admin_secret)
            place = engine_target(target)
            assert asyncio.run(changer.login_works(place, item.login_name, secret, admin=admin)), (point, item)


def test_linux(linux_scene, monkeypatch) -> None:
    world, tech, target = linux_scene
    _matrix(world, tech, target, linux_changer, monkeypatch)


def test_postgresql(scene_pg, monkeypatch) -> None:
    world, tech, target = scene_pg
    _matrix(world, tech, target, postgresql_changer, monkeypatch)


def test_mariadb(scene_my, monkeypatch) -> None:
    world, tech, target = scene_my
    _matrix(world, tech, target, mariadb_changer, monkeypatch)


def test_openldap(scene_ldap, monkeypatch) -> None:
    world, tech, target = scene_ldap
    _matrix(world, tech, target, ldap_password.OPENLDAP, monkeypatch)


# The other platforms' scenes, from their own test modules.
from tests.connectors.test_rotation_mariadb import scene as scene_my  # noqa: E402,F401
from tests.connectors.test_rotation_mariadb import server  # noqa: E402,F401
from tests.connectors.test_rotation_pg import cluster  # noqa: E402,F401
from tests.connectors.test_rotation_pg import scene as scene_pg  # noqa: E402,F401


@pytest.fixture
def scene_ldap(world, settings, tmp_path):  # type: ignore[no-untyped-def]
    from handover.core.actors import system
    from handover.vault.models import SecretKind
    from tests.connectors.slapd_server import slapd_server
    from tests.connectors.test_restore_ldap import ADMIN, CANARY, DATA, SUFFIX
    from tests.connectors.test_rotation_ldap import WANGWU_PW, _scene

    with slapd_server(suffix=SUFFIX, admin=ADMIN, password=CANARY, data=DATA) as slapd:
        tech, target = _scene(world, settings, tmp_path, connector="ldap", name="统一认证", host="ldap01",
                              port=slapd.port, login=ADMIN, secret=CANARY, options={"base": SUFFIX})  # fmt: skip
        wangwu = Account.objects.get(login_name="wangwu", asset=target.asset)
        vault.secret_capture(actor=system("test"), account=wangwu, secret=WANGWU_PW, kind=SecretKind.ORIGINAL)
        yield world, tech, target
