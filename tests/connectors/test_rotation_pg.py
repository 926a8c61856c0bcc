"""Rotation of PostgreSQL super-user passwords end to end (issue 15) on a cluster of the test's own that logs
every statement: gathered (the 表8 backup drafted), a plan approved by a second person, each role's new SCRAM
verifier computed here and set, proven (pg_authid, a fresh login), nothing else about the role moved, the
connection's own role last; no password in the server's statement log or anywhere else."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest

from handover.audit.models import Event
from handover.connectors.change import postgresql as changer
from handover.connectors.manifest import Credential, Target
from handover.core.actors import system
from handover.org.models import Role
from handover.registers.models import Account, Row
from handover.rotation import services as rotation
from handover.rotation.models import ItemState, PlanState, RotationItem
from handover.vault import services as vault
from handover.vault.models import SecretKind, VerifyResult
from tests.connectors.pg_cluster import Cluster, pg_cluster
from tests.connectors.scenes import gather_again, target_scene

ADMIN_PW = "Canary-pgadmin-3c9d"  # gatherer's password (the target's credential)
DBA_PW = "Old-dba-pw-41"
FIXTURE = f"""
CREATE ROLE dba SUPERUSER LOGIN PASSWORD '{DBA_PW}' VALID UNTIL '2031-01-01' CONNECTION LIMIT 7;
ALTER ROLE dba SET work_mem TO '2MB';
GRANT pg_read_all_data TO dba;
CREATE ROLE app LOGIN PASSWORD 'App-pw-1';
"""


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with pg_cluster(ADMIN_PW, FIXTURE) as found:
        yield found


@pytest.fixture
def scene(request, world, cluster: Cluster, settings, tmp_path):  # type: ignore[no-untyped-def]
    layer = getattr(request, "param", "数据库")
    tech, target = target_scene(world, settings, tmp_path, connector="postgresql", name="清算数据库", host="pg01",
                                port=cluster.port, login="gatherer", secret=ADMIN_PW, layer=layer)  # fmt: skip
    dba = Account.objects.get(login_name="dba", asset=target.asset)
    vault.secret_capture(actor=system("test"), account=dba, secret=DBA_PW, kind=SecretKind.ORIGINAL)
    return world, tech, target


def _logs_in(cluster: Cluster, role: str, secret: str) -> bool:
    return asyncio.run(changer.login_works(Target("127.0.0.1", cluster.port, timeout=20.0), role, secret))


def _current(login: str) -> str:
    entry = Account.objects.get(login_name=login).vault_entry
    return vault.secret_use_for_task(entry_id=entry.pk, purpose="test: the current secret")


def test_the_super_users_change_are_proven_and_nothing_else_moves(
    scene, cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world, tech, _target = scene
    start = cluster.log.stat().st_size  # the fixture's own CREATE ROLE … PASSWORD statements are before this
    where = Target("127.0.0.1", cluster.port, timeout=20.0)
    before = asyncio.run(changer.snapshot(where, Credential("gatherer", ADMIN_PW), "dba"))
    assert (
        "super" in before.attributes
        and before.connection_limit == "7"
        and "pg_read_all_data" in before.member_of
    )
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    assert sorted(plan.items.values_list("login_name", flat=True)) == [
        "dba",
        "gatherer",
    ]  # app is no super-user
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    plan = rotation.plan_run(plan_id=plan.pk)
    assert plan.state == PlanState.DONE
    items = {i.login_name: i for i in RotationItem.objects.filter(plan=plan)}
    assert {k: (i.state, i.outcome) for k, i in items.items()} == {
        "dba": (ItemState.DONE, VerifyResult.SUCCESS),
        "gatherer": (ItemState.DONE, VerifyResult.SUCCESS),
    }, {k: i.reason for k, i in items.items()}
    new_dba, new_admin = _current("dba"), _current("gatherer")
    assert _logs_in(cluster, "dba", new_dba) and _logs_in(cluster, "gatherer", new_admin)
    assert not _logs_in(cluster, "dba", DBA_PW) and not _logs_in(cluster, "gatherer", ADMIN_PW)
    admin = Credential("gatherer", new_admin)
    assert (
        asyncio.run(changer.snapshot(where, admin, "dba")) == before
    )  # VALID UNTIL, limit, SET, grants kept
    assert asyncio.run(changer.stored_matches(where, admin, "dba", new_dba))
    assert not asyncio.run(changer.stored_matches(where, admin, "dba", DBA_PW))
    row = items["dba"].row
    assert row is not None and row.form.register_no == 10 and row.data["login_verified"] == "成功"
    log = cluster.log.read_bytes()[start:].decode(errors="replace")
    assert "ALTER ROLE" in log and "SCRAM-SHA-256$" in log  # the server logged the statement: a verifier only
    texts = [
        log,
        caplog.text,
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
        json.dumps(list(RotationItem.objects.values()), ensure_ascii=False, default=str),
    ]
    for secret in (new_dba, new_admin, ADMIN_PW, DBA_PW):
        assert [i for i, text in enumerate(texts) if secret in text] == [], secret


def test_verifiers_the_server_computed_are_checked(cluster: Cluster) -> None:
    where, admin = Target("127.0.0.1", cluster.port, timeout=20.0), Credential("gatherer", ADMIN_PW)
    assert asyncio.run(changer.stored_matches(where, admin, "dba", DBA_PW))  # SCRAM made by the server
    assert not asyncio.run(changer.stored_matches(where, admin, "dba", DBA_PW + "x"))
    assert not changer.scram_matches(DBA_PW, "garbage$") and not changer.scram_matches(DBA_PW, "")


@pytest.mark.parametrize("scene", ["操作系统"], indirect=True)
def test_the_connections_own_role_is_planned_though_its_entry_is_on_another_layer(scene) -> None:
    world, tech, target = scene
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    items = {i.login_name: i for i in plan.items.all()}
    assert sorted(items) == ["dba", "gatherer"] and items["gatherer"].entry_id == target.credential_id


def _sql(cluster: Cluster, *statements: str) -> None:
    import psycopg

    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def test_the_roles_are_restored_from_the_backup_approved_by_another(scene, cluster: Cluster) -> None:
    """第二十六条第3项: rights back as the backup holds them, in one transaction; passwords stay the vault's."""
    from handover.rotation import restores
    from handover.rotation.models import RestoreState

    world, tech, target = scene
    where, admin = Target("127.0.0.1", cluster.port, timeout=20.0), Credential("gatherer", ADMIN_PW)
    before = asyncio.run(changer.snapshot(where, admin, "dba"))
    _sql(cluster, "REVOKE pg_read_all_data FROM dba", "ALTER ROLE dba SET work_mem TO '64MB'",
         "ALTER ROLE dba CONNECTION LIMIT 99", "DROP ROLE app",
         "CREATE ROLE intruder LOGIN SUPERUSER PASSWORD 'Intr-pw-1'", "GRANT dba TO intruder")  # fmt: skip
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="越权变更后恢复")
    assert [(f["name"], f["action"]) for f in restore.files] == [("pg-roles.sql", "replay")]
    diff = {d["account"]: d["state"] for d in restores.accounts_diff(restore.backup, restore.current)}
    assert diff == {"app": "removed", "dba": "changed", "intruder": "added"}
    restores.restore_approve(actor=world.login_with(Role.TECH_GROUP), restore=restore)
    done = restores.restore_apply(actor=tech, restore=restore)
    assert done.state == RestoreState.APPLIED, done.outcome
    said = done.outcome["pg-roles.sql"]["reason"]
    assert "created again: app" in said and "intruder" in said
    assert asyncio.run(changer.snapshot(where, admin, "dba")) == before
    assert "login" not in asyncio.run(changer.snapshot(where, admin, "intruder")).attributes.split(",")
    assert asyncio.run(changer.login_works(where, "app", "App-pw-1"))  # re-created with the backup's verifier
    assert asyncio.run(changer.login_works(where, "dba", DBA_PW))  # an existing role keeps its password


def test_roles_changed_after_the_preview_are_left_alone(scene, cluster: Cluster) -> None:
    from handover.rotation import restores
    from handover.rotation.models import RestoreState

    world, tech, target = scene
    _sql(cluster, "ALTER ROLE app SUPERUSER")
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="恢复")
    restores.restore_approve(actor=world.login_with(Role.TECH_GROUP), restore=restore)
    _sql(cluster, "ALTER ROLE app CREATEDB")
    done = restores.restore_apply(actor=tech, restore=restore)
    assert done.state == RestoreState.FAILED and "重新预览" in done.outcome["pg-roles.sql"]["reason"]
    where, admin = Target("127.0.0.1", cluster.port, timeout=20.0), Credential("gatherer", ADMIN_PW)
    assert "super" in asyncio.run(changer.snapshot(where, admin, "app")).attributes  # nothing was applied


def test_the_crash_matrix(scene, monkeypatch) -> None:
    """Every step boundary stopped dead and resumed (tests/connectors/crash_matrix.py)."""
    from tests.connectors.crash_matrix import matrix

    world, tech, target = scene
    matrix(world, tech, target, changer, monkeypatch)
