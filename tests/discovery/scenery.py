"""A discovery target, a run, an open finding, a rotation plan and a restore at each of branches A and B (for the
access walk)."""

from __future__ import annotations

from django.utils import timezone

from handover.discovery.models import Finding, GatherRun, Snapshot, Target
from handover.registers.models import Account, Asset, InformationSystem, Row
from handover.rotation.models import Disablement, Restore, Revert, RotationItem, RotationPlan
from handover.vault.models import SecretEntry
from handover.workflow.models import ExceptionCase
from tests.factories import World, register_form


def discovery_scenery(world: World) -> dict[str, dict[str, int]]:
    found = {}
    now = timezone.now()
    for key, site in (("a", world.branch_a), ("b", world.branch_b)):
        system = InformationSystem.objects.create(engagement=world.engagement, site=site, name=f"核心-{key}")
        asset = Asset.objects.create(
            engagement=world.engagement, site=site, name=f"h-{key}", hostname=f"h-{key}"
        )
        target = Target.objects.create(
            engagement=world.engagement, site=site, system=system, asset=asset, connector="linux", port=22
        )
        run = GatherRun.objects.create(engagement=world.engagement, site=site, started_by_name="test")
        finding = Finding.objects.create(
            engagement=world.engagement,
            site=site,
            target=target,
            system=system,
            asset=asset,
            rule="superuser_equivalent",
            severity="high",
            account_name="ops",
            detail_en="ops has ALL",
            detail_zh="ops 拥有 ALL",
            first_seen=now,
            last_seen=now,
        )
        snapshot = Snapshot.objects.create(target=target, run=run, sha256="0" * 64, size=0, platform="linux",
                                           gathered_at=now)  # fmt: skip
        plan = RotationPlan.objects.create(engagement=world.engagement, site=site, reason="定期更换",
                                           created_by_name="test")  # fmt: skip
        restore = Restore.objects.create(engagement=world.engagement, target=target, backup=snapshot,
                                         current=snapshot, reason="恢复", requested_by_name="test")  # fmt: skip
        account = Account.objects.create(engagement=world.engagement, system=system, asset=asset, layer="操作系统",
                                         login_name="ops", account_class="超级用户")  # fmt: skip
        entry = SecretEntry.objects.create(engagement=world.engagement, site=site, number=901, account=account,
                                           captured_at=now)  # fmt: skip
        item = RotationItem.objects.create(plan=plan, entry=entry, target=target, login_name="ops")
        case = ExceptionCase.objects.create(engagement=world.engagement, site=site, path_id="E01",
                                            description="改密后系统异常", opened_at=now)  # fmt: skip
        revert = Revert.objects.create(engagement=world.engagement, item=item, case=case, reason="恢复原密码",
                                       previous_number=1, requested_by_name="test")  # fmt: skip
        t11 = Row.objects.create(
            form=register_form(world.engagement, site, 11), seq=1, data={"action": "停用"}
        )
        disable = Disablement.objects.create(engagement=world.engagement, target=target, t11_row=t11,
                                             login_name="ops", observe_until=now.date(),
                                             requested_by_name="test")  # fmt: skip
        found[key] = {"target_id": target.pk, "run_id": run.pk, "finding_id": finding.pk, "plan_id": plan.pk,
                      "restore_id": restore.pk, "revert_id": revert.pk,
                      "disable_id": disable.pk}  # fmt: skip
    return found
