"""Rotation of MySQL/MariaDB super-user passwords end to end (issue 15) on a mariadbd of the test's own with the
general log on: gathered, a plan approved by a second person, each account's native hash computed here and set,
proven (mysql.user, a fresh login), plugin, lock, limits and grants unchanged, the connection's own account last;
no password in the server's logs or anywhere else."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest

from handover.audit.models import Event
from handover.connectors.change import mariadb as changer
from handover.connectors.manifest import Credential, Target
from handover.core.actors import system
from handover.org.models import Role
from handover.registers.models import Account, Row
from handover.rotation import services as rotation
from handover.rotation.models import ItemState, PlanState, RotationItem
from handover.vault import services as vault
from handover.vault.models import SecretKind, VerifyResult
from tests.connectors.mariadb_server import Server, mariadb_server
from tests.connectors.scenes import gather_again, target_scene

ADMIN_PW = "Canary-myadmin-6a1e"  # admin's password (the target's credential)
DBA_PW = "Old-dba-pw-72"
FIXTURE = f"""
CREATE USER 'admin'@'127.0.0.1' IDENTIFIED BY PASSWORD '{changer.native_hash(ADMIN_PW)}';
GRANT ALL PRIVILEGES ON *.* TO 'admin'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER 'dba'@'%' IDENTIFIED BY PASSWORD '{changer.native_hash(DBA_PW)}' WITH MAX_USER_CONNECTIONS 5;
GRANT ALL PRIVILEGES ON *.* TO 'dba'@'%';
CREATE USER 'app'@'%' IDENTIFIED BY PASSWORD '{changer.native_hash("App-pw-1")}';
GRANT SELECT ON mysql.* TO 'app'@'%';
"""


@pytest.fixture
def server() -> Iterator[Server]:
    with mariadb_server(FIXTURE) as found:
        yield found


@pytest.fixture
def scene(world, server: Server, settings, tmp_path):  # type: ignore[no-untyped-def]
    tech, target = target_scene(world, settings, tmp_path, connector="mariadb", name="账户系统", host="my01",
                                port=server.port, login="admin@127.0.0.1", secret=ADMIN_PW, layer="数据库")  # fmt: skip
    dba = Account.objects.get(login_name="dba@%", asset=target.asset)
    vault.secret_capture(actor=system("test"), account=dba, secret=DBA_PW, kind=SecretKind.ORIGINAL)
    return world, tech, target


def _current(login: str) -> str:
    entry = Account.objects.get(login_name=login).vault_entry
    return vault.secret_use_for_task(entry_id=entry.pk, purpose="test: the current secret")


def test_the_super_users_change_are_proven_and_nothing_else_moves(
    scene, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world, tech, _target = scene
    where = Target("127.0.0.1", server.port, timeout=20.0)
    before = asyncio.run(changer.snapshot(where, Credential("admin", ADMIN_PW), "dba@%"))
    assert before.limits.endswith(",5") and "ALL PRIVILEGES" in before.grants
    assert changer.native_hash(DBA_PW) not in before.grants  # the IDENTIFIED part is masked
    assert asyncio.run(changer.stored_matches(where, Credential("admin", ADMIN_PW), "dba@%", DBA_PW))
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    assert sorted(plan.items.values_list("login_name", flat=True)) == ["admin@127.0.0.1", "dba@%"]
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    plan = rotation.plan_run(plan_id=plan.pk)
    items = {i.login_name: i for i in RotationItem.objects.filter(plan=plan)}
    assert plan.state == PlanState.DONE, {k: i.reason for k, i in items.items()}
    assert {k: (i.state, i.outcome) for k, i in items.items()} == {
        "admin@127.0.0.1": (ItemState.DONE, VerifyResult.SUCCESS),
        "dba@%": (ItemState.DONE, VerifyResult.SUCCESS),
    }, {k: i.reason for k, i in items.items()}
    new_dba, new_admin = _current("dba@%"), _current("admin@127.0.0.1")
    assert asyncio.run(changer.login_works(where, "dba@%", new_dba))
    assert not asyncio.run(changer.login_works(where, "dba@%", DBA_PW))
    assert not asyncio.run(changer.login_works(where, "admin@127.0.0.1", ADMIN_PW))
    admin = Credential("admin", new_admin)
    assert asyncio.run(changer.snapshot(where, admin, "dba@%")) == before
    logs = server.logs()
    assert "ALTER USER" in logs  # the general log has the statement: a verifier only
    texts = [
        logs,
        caplog.text,
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
        json.dumps(list(RotationItem.objects.values()), ensure_ascii=False, default=str),
    ]
    for secret in (new_dba, new_admin, ADMIN_PW, DBA_PW):
        assert [i for i, text in enumerate(texts) if secret in text] == [], secret


def test_the_accounts_are_restored_from_the_backup_approved_by_another(scene, server: Server) -> None:
    """第二十六条第3项: grants, limits and lock back as the backup holds them; passwords stay the vault's."""
    from handover.rotation import restores
    from handover.rotation.models import RestoreState

    world, tech, target = scene
    where, admin = Target("127.0.0.1", server.port, timeout=20.0), Credential("admin", ADMIN_PW)
    before = asyncio.run(changer.snapshot(where, admin, "dba@%"))
    server.sql(
        "REVOKE ALL PRIVILEGES ON *.* FROM 'dba'@'%'; GRANT SELECT ON *.* TO 'dba'@'%';"
        "ALTER USER 'dba'@'%' WITH MAX_USER_CONNECTIONS 99 ACCOUNT LOCK;"
        "GRANT ALL PRIVILEGES ON *.* TO 'app'@'%' WITH GRANT OPTION;"
        "CREATE USER 'intruder'@'%' IDENTIFIED BY 'Intr-pw-1'; GRANT ALL PRIVILEGES ON *.* TO 'intruder'@'%';"
    )
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="越权变更后恢复")
    assert [(f["name"], f["action"]) for f in restore.files] == [("mysql-grants.sql", "replay")]
    diff = {d["account"]: d["state"] for d in restores.accounts_diff(restore.backup, restore.current)}
    assert diff == {"app@%": "changed", "dba@%": "changed", "intruder@%": "added"}
    restores.restore_approve(actor=world.login_with(Role.TECH_GROUP), restore=restore)
    done = restores.restore_apply(actor=tech, restore=restore)
    assert done.state == RestoreState.APPLIED, done.outcome
    assert "intruder" in done.outcome["mysql-grants.sql"]["reason"]
    assert asyncio.run(changer.snapshot(where, admin, "dba@%")) == before
    assert not asyncio.run(changer.login_works(where, "intruder@%", "Intr-pw-1"))  # locked
    assert asyncio.run(changer.login_works(where, "dba@%", DBA_PW))  # unlocked, its password kept


def test_accounts_changed_after_the_preview_are_left_alone(scene, server: Server) -> None:
    from handover.rotation import restores
    from handover.rotation.models import RestoreState

    world, tech, target = scene
    server.sql("GRANT ALL PRIVILEGES ON *.* TO 'app'@'%';")
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="恢复")
    restores.restore_approve(actor=world.login_with(Role.TECH_GROUP), restore=restore)
    server.sql("ALTER USER 'app'@'%' WITH MAX_USER_CONNECTIONS 3;")
    done = restores.restore_apply(actor=tech, restore=restore)
    assert done.state == RestoreState.FAILED and "重新预览" in done.outcome["mysql-grants.sql"]["reason"]
    where, admin = Target("127.0.0.1", server.port, timeout=20.0), Credential("admin", ADMIN_PW)
    assert "ALL PRIVILEGES" in asyncio.run(changer.snapshot(where, admin, "app@%")).grants  # nothing applied


def test_the_crash_matrix(scene, monkeypatch) -> None:
    """Every step boundary stopped dead and resumed (tests/connectors/crash_matrix.py)."""
    from tests.connectors.crash_matrix import matrix

    world, tech, target = scene
    matrix(world, tech, target, changer, monkeypatch)
