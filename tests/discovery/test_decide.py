"""A decision on a finding drafts the 表13 change behind the 表8 permission backup (第二十六条第3项), keeps
through re-runs, and the restore preview shows what changed since the backup without showing verifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from handover.core.errors import DomainError
from handover.discovery import services
from handover.discovery.models import Finding
from handover.org.models import Role
from handover.registers.models import Row
from tests.discovery.conftest import Hosts, Rules
from tests.factories import World


@pytest.fixture
def tech(world: World):
    return world.login_with(Role.TECH_GROUP)


def _import(world: World, actor, path: Path, text: str) -> services.ImportResult:
    path.write_text(text)
    return services.discovery_import(
        actor=actor,
        engagement=world.engagement,
        site=world.branch_a,
        system_name="集中交易",
        kind="testlinux",
        path=path,
    )


def test_a_decision_drafts_the_change_behind_the_backup(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    _import(world, tech, tmp_path / "h1.txt", "root:0:S\nops:1001:S\n")
    finding = Finding.objects.get(account_name="ops")
    services.finding_decide(actor=tech, finding=finding, decision="停用", note="离职人员账户")
    finding.refresh_from_db()
    change = finding.change_row
    assert change is not None and change.form.register_no == 13
    backup = Row.objects.get(form__register_no=8, data__purpose="权限核查前备份")
    basis = Row.objects.get(form__register_no=11, data__account_id=finding.account_id)
    assert change.data["pre_backup_ref"] == backup.pk and change.data["basis_ref"] == basis.pk
    assert change.data["change_type"] == "A停用" and "ALL" in change.data["perm_before"]
    assert basis.data["action"] == "停用"
    _import(world, tech, tmp_path / "h1.txt", "root:0:S\nops:1001:S\n")
    basis.refresh_from_db()
    assert basis.data["action"] == "停用"  # the person's choice stands through a re-run


def test_a_change_without_a_permission_backup_is_refused(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    rules.superuser_rule = False
    _import(world, tech, tmp_path / "counter.txt", "teller01:T01:A\n")  # an operator list: no backup
    from handover.connectors.findings import Finding as EngineFinding

    rules.extra = [
        EngineFinding(
            rule="shared_account",
            system="集中交易",
            host="counter",
            account="teller01",
            detail_en="shared",
            detail_zh="共用",
        )
    ]
    _import(world, tech, tmp_path / "counter.txt", "teller01:T01:A\n")
    finding = Finding.objects.get()
    with pytest.raises(DomainError) as refused:
        services.finding_decide(actor=tech, finding=finding, decision="降权")
    assert "第二十六条第3项" in str(refused.value.message)
    finding.refresh_from_db()
    assert finding.decision == "" and not Row.objects.filter(form__register_no=13).exists()
    services.finding_decide(actor=tech, finding=finding, decision="保留")  # keeping changes nothing
    assert not Row.objects.filter(form__register_no=13).exists()


def test_an_observer_reads_but_does_not_decide(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    _import(world, tech, tmp_path / "h1.txt", "root:0:S\nops:1001:S\n")
    observer = world.login_with(Role.OBSERVER)
    from handover.discovery import selectors

    assert selectors.findings_list(user=observer, engagement=world.engagement).count() == 1
    firm_it = world.login_with(Role.FIRM_IT, world.branch_a)
    assert selectors.findings_list(user=firm_it, engagement=world.engagement).count() == 0
    with pytest.raises(DomainError):
        services.finding_decide(actor=observer, finding=Finding.objects.get(), decision="停用")


def test_restore_preview_shows_the_difference_and_hides_verifiers(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    first = _import(world, tech, tmp_path / "h1.txt", "root:0:S\nops:1001:S\n")
    _import(world, tech, tmp_path / "h1.txt", "root:0:S\nops:1001:\n")
    preview = {
        p["name"]: p for p in services.discovery_restore_preview(actor=tech, target=first.snapshot.target)
    }
    assert preview["etc/passwd"]["state"] == "changed"
    assert "-ops:1001:S" in preview["etc/passwd"]["diff"] and "+ops:1001:" in preview["etc/passwd"]["diff"]
    assert preview["etc/shadow"]["sealed"] and preview["etc/shadow"]["diff"] == []
