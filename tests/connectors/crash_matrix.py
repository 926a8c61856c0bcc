"""The crash matrix's loop (issue 15), shared by the platforms' rotation tests (test_rotation_crash.py,
test_rotation_pg.py, test_rotation_mariadb.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from handover.connectors.manifest import Credential
from handover.core import faults
from handover.discovery.services import engine_target
from handover.org.models import Role
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


def matrix(world, tech, target, changer: Any, monkeypatch, admin_login: str | None = None) -> None:  # type: ignore[no-untyped-def]
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
            assert asyncio.run(changer.login_works(place, item.login_name, secret, admin=admin)), (
                point,
                item,
            )
