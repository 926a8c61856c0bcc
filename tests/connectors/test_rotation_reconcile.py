"""E02 (第二十八条第2项) on a real sshd: an account whose original password nobody can give is reset by the
target's administrator only within its E02 case (遗忘/联系不上) and after the working group's consent, through a
one-account plan approved by another person (第八条) and the same write-ahead pipeline; the case then records the
reset in place of cracking and the immediate change with its 表10 row."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from handover.connectors.change import linux as changer
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery.services import engine_target
from handover.org.models import Engagement, Phase, Role
from handover.registers.models import Account, Row
from handover.rotation import reconcile
from handover.rotation import services as rotation
from handover.rotation.models import RotationItem
from handover.vault import services as vault
from handover.vault.models import ChangeReason, VerifyResult
from handover.workflow.services import cases
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host
from tests.connectors.scenes import target_scene
from tests.factories import register_form


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    from django.utils import translation

    with translation.override("en"):
        yield


def test_a_lost_password_is_reset_after_the_working_groups_consent(
    world, etc_linux: Host, settings, tmp_path, client
) -> None:
    tech, target = target_scene(world, settings, tmp_path, connector="linux", name="集中交易", host="chg01",
                                port=etc_linux.port, login="root", secret=ADMIN_PW)  # fmt: skip
    Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.HANDOVER)
    world.engagement.refresh_from_db()
    ops = Account.objects.get(login_name="opsuser", asset=target.asset)
    assert not hasattr(ops, "vault_entry") or ops.vault_entry is None  # nobody gave its password
    form = register_form(world.engagement, target.site, 9)
    row = Row.objects.create(form=form, seq=1, data={"system_id": ops.system_id, "asset_id": ops.asset_id,
                                                     "account_id": ops.pk})  # fmt: skip
    left = cases.case_open(actor=tech, engagement=world.engagement, path_id="E02", source_row=row,
                           sub_type="人员已离开", description="原管理员已离职")  # fmt: skip
    with pytest.raises(DomainError, match="contact the holder"):
        reconcile.reconcile_plan(actor=tech, case=left)
    case = cases.case_open(actor=tech, engagement=world.engagement, path_id="E02", source_row=row,
                           sub_type=reconcile.FORGOTTEN, description="opsuser 密码遗忘")  # fmt: skip
    with pytest.raises(DomainError, match="consent"):
        reconcile.reconcile_plan(actor=tech, case=case)
    cases.case_tick(actor=tech, case=case, key="report_wg")
    cases.case_tick(actor=tech, case=case, key="wg_consent", record="托管工作组函〔2026〕3号")
    plan = reconcile.reconcile_plan(actor=tech, case=case)
    assert plan.reason == ChangeReason.RESET and list(plan.items.values_list("login_name", flat=True)) == [
        "opsuser"
    ]
    with pytest.raises(DomainError, match="already planned"):
        reconcile.reconcile_plan(actor=tech, case=case)
    with pytest.raises(PermissionDenied):
        rotation.plan_approve(actor=tech, plan=plan)  # 第八条
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    rotation.plan_run(plan_id=plan.pk)
    item = RotationItem.objects.get(plan=plan)
    assert item.outcome == VerifyResult.SUCCESS and item.row is not None, item.reason
    ops.refresh_from_db()
    new = vault.secret_use_for_task(entry_id=ops.vault_entry.pk, purpose="test: the current secret")
    place = engine_target(target)
    assert asyncio.run(changer.login_works(place, "opsuser", new))
    assert not asyncio.run(changer.login_works(place, "opsuser", OLD_PW))  # the lost one no longer works
    assert set(case.items.values_list("key", flat=True)) >= {"report_wg", "wg_consent", "crack", "change_now"}
    assert (
        item.row.data["login_verified"] == "成功" and item.row.data["vault_ref"] == ops.vault_entry.reference
    )
    # The REST face refuses the other sub-type too, naming the case, and writes nothing (a request resets the
    # thread's language: this comes last).
    client.force_login(tech)
    before = RotationItem.objects.count()
    answer = client.post(f"/api/engagements/{world.engagement.code}/rotation/resets/", {"case": left.pk})
    assert answer.status_code == 400 and "case" in answer.json() and RotationItem.objects.count() == before
