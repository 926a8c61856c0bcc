"""Offline import: a file read by a connector's parser is stored like a gathering, verifier files only
sealed in the vault, its accounts as the registers' entities with drafts of 表8/9/11/12; a bad file stores
nothing and names its line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from handover.core.errors import DomainError
from handover.discovery import services
from handover.discovery.models import Fact, Finding, GatherRun, Snapshot, SnapshotSource, Target
from handover.org.models import Role
from handover.registers.models import Account, Row
from handover.vault import lifecycle
from handover.vault.blobs import blob_open
from handover.vault.models import SealedBlob
from tests.discovery.conftest import SHADOW_CANARY, Hosts, Rules
from tests.factories import World

GOOD = "root:0:S\nops:1001:S\nalice:1002:\n"


def _import(world: World, actor, path: Path, *, site=None, kind: str = "testlinux") -> services.ImportResult:
    return services.discovery_import(
        actor=actor,
        engagement=world.engagement,
        site=site or world.branch_a,
        system_name="集中交易",
        kind=kind,
        path=path,
    )


@pytest.fixture
def tech(world: World):
    return world.login_with(Role.TECH_GROUP)


def test_import_stores_snapshot_facts_entities_and_drafts(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "h1.txt"
    path.write_text(GOOD)
    result = _import(world, tech, path)

    snapshot = result.snapshot
    assert snapshot.is_current and snapshot.target.asset.hostname == "h1"
    assert sorted(Fact.objects.values_list("name", flat=True)) == ["alice", "ops", "root"]
    assert Account.objects.filter(
        system__name="集中交易", login_name="ops", account_class="等效超级用户"
    ).exists()
    assert Account.objects.filter(login_name="root", account_class="超级用户").exists()
    finding = Finding.objects.get()
    assert (finding.rule, finding.account_name, finding.severity) == ("superuser_equivalent", "ops", "high")
    assert finding.evidence[0]["line"] == 2 and finding.account is not None
    rows = {n: list(Row.objects.filter(form__register_no=n)) for n in (8, 9, 11, 12)}
    assert sorted(r.data["purpose"] for r in rows[8]) == ["改密前备份", "权限核查前备份"]
    assert all(
        r.data["object_type"] == "用户权限配置文件" and "etc/shadow" in r.data["content"] for r in rows[8]
    )
    assert sorted(Account.objects.get(pk=r.data["account_id"]).login_name for r in rows[9]) == ["ops", "root"]
    t11 = {Account.objects.get(pk=r.data["account_id"]).login_name: r for r in rows[11]}
    assert sorted(t11) == ["alice", "ops", "root"]
    backup = next(r for r in rows[8] if r.data["purpose"] == "权限核查前备份")
    assert {r.data["pre_backup_ref"] for r in t11.values()} == {backup.pk}
    assert t11["ops"].data["action"] == "降权" and t11["alice"].data["action"] == "保留"
    assert not rows[12]
    assert not Row.objects.filter(signatures__isnull=False).exists()  # the machine signs nothing


def test_sealed_sources_are_in_the_vault_and_never_in_the_clear(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "h1.txt"
    path.write_text(GOOD)
    _import(world, tech, path)

    shadow = SnapshotSource.objects.get(name="etc/shadow")
    assert shadow.sealed and shadow.blob is not None and shadow.stored == ""
    stored = [p.read_bytes() for p in (data_dir / "discovery").rglob("*") if p.is_file()]
    assert stored and not any(SHADOW_CANARY.encode() in content for content in stored)
    assert SHADOW_CANARY.encode() not in bytes(shadow.blob.sealed)
    opened = blob_open(actor=tech, blob=shadow.blob, purpose="test")
    assert SHADOW_CANARY.encode() in opened
    passwd = SnapshotSource.objects.get(name="etc/passwd")
    assert passwd.stored and passwd.blob is None


def test_a_bad_line_is_named_and_nothing_is_stored(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "h1.txt"
    path.write_text("root:0:S\nbroken line\n")
    with pytest.raises(DomainError) as refused:
        _import(world, tech, path)
    assert "h1.txt:2" in str(refused.value.message)
    assert not Target.objects.exists() and not GatherRun.objects.exists() and not Account.objects.exists()
    assert not Row.objects.exists() and not SealedBlob.objects.exists()


def test_verifier_files_are_refused_while_the_vault_is_sealed(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    lifecycle.local_keeper().seal()
    path = tmp_path / "h1.txt"
    path.write_text(GOOD)
    with pytest.raises(services.VaultNeeded) as refused:
        _import(world, tech, path)
    assert "h1.txt" in str(refused.value.message)
    assert not Snapshot.objects.exists() and not Account.objects.exists() and not Row.objects.exists()


def test_an_operator_list_drafts_table_12_without_a_backup(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    lifecycle.local_keeper().seal()  # nothing sealed in an operator list: works with the vault sealed
    path = tmp_path / "counter.txt"
    path.write_text("teller01:T01:A\nteller02:T02:A\n")
    _import(world, tech, path)
    rows = Row.objects.filter(form__register_no=12)
    assert rows.count() == 2 and {r.data["conclusion"] for r in rows} == {"保留"}
    assert Account.objects.filter(account_class="操作员", layer="应用系统").count() == 2
    assert not Row.objects.filter(form__register_no__in=(8, 11)).exists()


def test_an_unknown_kind_lists_the_known_ones(
    world: World, tech, hosts: Hosts, vault, tmp_path: Path
) -> None:
    with pytest.raises(DomainError) as refused:
        _import(world, tech, tmp_path / "x", kind="nosuch")
    assert "testlinux" in str(refused.value.message)


def test_roles(world: World, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "h1.txt"
    path.write_text(GOOD)
    for role, site in (
        (Role.OBSERVER, None),
        (Role.FIRM_IT, world.branch_a),
        (Role.ONSITE_POST, world.branch_b),
    ):
        with pytest.raises(DomainError):
            _import(world, world.login_with(role, site), path)
    assert _import(world, world.login_with(Role.ONSITE_POST, world.branch_a), path).snapshot


def test_reimport_keeps_decision_and_resolves_what_is_gone(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "h1.txt"
    path.write_text(GOOD)
    _import(world, tech, path)
    finding = Finding.objects.get()
    services.finding_decide(actor=tech, finding=finding, decision="保留", note="批处理需要")
    _import(world, tech, path)
    finding.refresh_from_db()
    assert finding.decision == "保留" and finding.resolved_at is None and Finding.objects.count() == 1
    assert Snapshot.objects.filter(is_current=True).count() == 1 and Snapshot.objects.count() == 2
    path.write_text("root:0:S\nops:1001:\n")
    _import(world, tech, path)
    finding.refresh_from_db()
    assert finding.resolved_at is not None and finding.decision == "保留"


@pytest.mark.parametrize(
    "leak",
    [
        "$6$rounds=5000$saltsalt$0123456789abcdefABCDEF",
        "$y$j9T$abcdefgh$0123456789abcdefghij",
        "SCRAM-SHA-256$4096:c2FsdA==$x:y",
        "md5" + "0123456789abcdef" * 2,
        "*" + "A1B2C3D4E5" * 4,
    ],
)
def test_an_inventory_with_a_verifier_in_the_clear_is_refused(
    world: World,
    tech,
    hosts: Hosts,
    rules: Rules,
    vault,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch,
    leak: str,
) -> None:
    from handover.connectors.model import Inventory
    from tests.discovery import conftest

    original = conftest.inventory_of

    def leaking(text: str, **kwargs) -> Inventory:
        found = original(text, **kwargs)
        account = found.accounts[0]
        leaked = replace(account, attributes=(("password", leak),))
        return replace(found, accounts=(leaked, *found.accounts[1:]))

    monkeypatch.setattr(conftest, "inventory_of", leaking)
    path = tmp_path / "h1.txt"
    path.write_text(GOOD)
    with pytest.raises(DomainError) as refused:
        _import(world, tech, path)
    assert "verifier" in str(refused.value.message) or "校验值" in str(refused.value.message)
    assert not Snapshot.objects.exists() and not Account.objects.exists()
    files = (
        [p for p in (data_dir / "discovery").rglob("*") if p.is_file()]
        if (data_dir / "discovery").exists()
        else []
    )
    assert not any(leak.encode() in p.read_bytes() for p in files)


def test_every_connector_module_of_the_engine_is_known_to_the_import() -> None:
    """A connector the engine does not load is a `--kind` the import refuses (netdev's huawei/cisco once were)."""
    import pkgutil

    import handover.connectors
    from handover.discovery import engine

    shared = {
        "errors",
        "findings",
        "manifest",
        "model",
        "run",
        "serial",
        "sqlscan",
        "review",
        "ldif",
        "change",
    }
    modules = {m.name for m in pkgutil.iter_modules(handover.connectors.__path__)} - shared
    assert modules <= set(engine.KNOWN_MODULES)
    registry = engine.connectors_load()
    for kind in ("huawei", "cisco", "pg-roles", "mysql-grants"):
        assert engine.connector_for_kind(kind) is not None, kind
    assert {"linux", "huawei", "cisco", "postgresql", "mariadb"} <= set(registry)
