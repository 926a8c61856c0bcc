"""The periodic change of 稳定期 (第三十一条第1项, 表27) through the same write-ahead pipeline on a real sshd: a plan
of the accounts the vault says are due, approved by another person, run; the change is a 表27 row (reason, the
vault's strength check, the previous change's date, the next one due) and a PERIODIC version of the secret."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest

from handover.connectors.change import linux as changer
from handover.core.errors import DomainError
from handover.discovery.services import engine_target
from handover.org.models import Engagement, Phase, Role
from handover.registers.models import Account
from handover.rotation import services as rotation
from handover.rotation.models import RotationItem
from handover.vault import services as vault
from handover.vault.models import SecretEntry, SecretKind, VerifyResult
from tests.connectors.etc_host import OLD_PW


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    from django.utils import translation

    with translation.override("en"):
        yield


def test_in_stabilisation_the_due_accounts_change_into_t27(linux_scene) -> None:
    world, tech, target = linux_scene
    Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.STABILISATION)
    world.engagement.refresh_from_db()
    ops = Account.objects.get(login_name="opsuser", asset=target.asset).vault_entry
    SecretEntry.objects.exclude(pk=ops.pk).update(next_due_on=dt.date(2099, 1, 1))
    SecretEntry.objects.filter(pk=ops.pk).update(next_due_on=dt.date(2099, 1, 1))
    with pytest.raises(DomainError, match="periodic change is due") as nothing:
        rotation.plan_create(actor=tech, engagement=world.engagement, due_only=True)
    assert nothing.value.field == "scope"
    SecretEntry.objects.filter(pk=ops.pk).update(next_due_on=dt.date(2020, 1, 1))  # the vault's reminder: due
    plan = rotation.plan_create(actor=tech, engagement=world.engagement, due_only=True)
    assert list(plan.items.values_list("login_name", flat=True)) == ["opsuser"]  # root is not due
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    rotation.plan_run(plan_id=plan.pk)
    item = RotationItem.objects.get(plan=plan)
    assert item.outcome == VerifyResult.SUCCESS and item.row is not None, item.reason
    row = item.row
    ops.refresh_from_db()
    assert row.form.register_no == 27
    assert row.data["reason"] == "定期更换" and row.data["strength_ok"] is True
    assert row.data["next_due_on"] == ops.next_due_on.isoformat() and ops.next_due_on > dt.date.today()
    assert row.data["last_changed_on"]  # the date of the version before (the original as captured)
    assert row.data["login_verified"] == "成功" and row.data["vault_ref"] == ops.reference
    current = vault.current_version(ops)
    assert current is not None and current.kind == SecretKind.PERIODIC
    new = vault.secret_use_for_task(entry_id=ops.pk, purpose="test: the current secret")
    place = engine_target(target)
    assert asyncio.run(changer.login_works(place, "opsuser", new))
    assert not asyncio.run(changer.login_works(place, "opsuser", OLD_PW))
