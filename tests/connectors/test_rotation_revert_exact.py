"""E01's revert (第二十八条第1项) beyond Linux, with the exact previous verifier (issue 15; sshd's is in
test_rotation_revert.py): on PostgreSQL, MariaDB and slapd, each with its log at the level the rotation tests
scan, an account is rotated (its stored verifier sealed in the vault before the change), its E01 case opened from
its 表10 row, the revert asked by one person, approved by another, applied after the developer's support: the
stored verifier afterwards is the very one it had before the change (not the original password with a new salt),
the original logs in and the new one does not. No password in any server log, and neither password nor verifier
in Handover's logs, events or rows."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from handover.audit.models import Event
from handover.connectors.change import ldap_password
from handover.connectors.change import mariadb as mariadb_changer
from handover.connectors.change import postgresql as pg_changer
from handover.connectors.manifest import Credential, Target
from handover.core.actors import system
from handover.org.models import Engagement, Phase, Role
from handover.registers.models import Account, Row
from handover.rotation import reverts
from handover.rotation import services as rotation
from handover.rotation.models import Revert, RevertState, RotationItem
from handover.vault import services as vault
from handover.vault.models import SealedBlob, SecretKind, VerifyResult
from handover.workflow.services import cases
from tests.connectors.scenes import target_scene


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    from django.utils import translation

    with translation.override("en"):
        yield


def _current(login: str) -> str:
    entry = Account.objects.get(login_name=login).vault_entry
    return vault.secret_use_for_task(entry_id=entry.pk, purpose="test: the current secret")


def _rotate_and_revert(world: Any, tech: Any, login: str) -> tuple[RotationItem, Revert, str]:
    """Rotate every super-user of the engagement, then revert ``login`` through its E01 case: (its item, the
    applied revert, the new password that was current)."""
    Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.HANDOVER)  # exception paths: 交接期
    world.engagement.refresh_from_db()
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    rotation.plan_run(plan_id=plan.pk)
    item = RotationItem.objects.get(plan=plan, login_name=login)
    assert item.outcome == VerifyResult.SUCCESS and item.row is not None, item.reason
    assert item.previous_verifier is not None  # sealed beside the pending version, before the change
    new = _current(login)
    case = cases.case_open(actor=tech, engagement=world.engagement, path_id="E01", source_row=item.row,
                           description=f"{login} 改密后业务系统无法连接")  # fmt: skip
    revert = reverts.revert_request(actor=tech, case=case, reason="开发商确认须恢复原密码")
    with pytest.raises(Exception, match="another person"):
        reverts.revert_approve(actor=tech, revert=revert)  # 第八条
    revert = reverts.revert_approve(actor=world.login_with(Role.TECH_GROUP), revert=revert)
    cases.case_tick(actor=tech, case=case, key="vendor_support", record="开发商 王工")
    revert = reverts.revert_apply(actor=tech, revert=revert)
    assert (revert.state, revert.outcome) == (RevertState.APPLIED, VerifyResult.SUCCESS), revert.detail
    assert "put back exactly" in revert.detail
    assert Event.objects.filter(action="vault.blob.open", after__label__startswith="verifier of").count() == 1
    return item, revert, new


def _handover_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        caplog.text,
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
        json.dumps(list(RotationItem.objects.values()), ensure_ascii=False, default=str),
        json.dumps(list(Revert.objects.values()), ensure_ascii=False, default=str),
        json.dumps(list(SealedBlob.objects.values("label", "digest")), ensure_ascii=False, default=str),
    ]


def _no_leak(server_log: str, texts: list[str], passwords: tuple[str, ...], verifier: str) -> None:
    assert [p for p in passwords if p in server_log] == []
    for i, text in enumerate(texts):
        assert [p for p in (*passwords, verifier) if p in text] == [], i


PG_ADMIN_PW = "Canary-pgadmin-e01x"
PG_DBA_PW = "Old-dba-pw-e01"


def test_postgresql_scram_string_restored_exactly(world, settings, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    from tests.connectors.pg_cluster import pg_cluster

    caplog.set_level(logging.DEBUG)
    with pg_cluster(PG_ADMIN_PW, f"CREATE ROLE dba SUPERUSER LOGIN PASSWORD '{PG_DBA_PW}';") as cluster:
        tech, target = target_scene(world, settings, tmp_path, connector="postgresql", name="清算数据库",
                                    host="pg01", port=cluster.port, login="gatherer", secret=PG_ADMIN_PW,
                                    layer="数据库")  # fmt: skip
        dba = Account.objects.get(login_name="dba", asset=target.asset)
        vault.secret_capture(actor=system("test"), account=dba, secret=PG_DBA_PW, kind=SecretKind.ORIGINAL)
        place = Target("127.0.0.1", cluster.port, timeout=20.0)
        before = asyncio.run(pg_changer.stored_verifier(place, Credential("gatherer", PG_ADMIN_PW), "dba"))
        assert before and before.startswith("SCRAM-SHA-256$") and pg_changer.verifier_holds(before, PG_DBA_PW)
        start = cluster.log.stat().st_size  # the fixture's CREATE ROLE … PASSWORD is before this
        _item, _revert, new = _rotate_and_revert(world, tech, "dba")
        admin = Credential("gatherer", _current("gatherer"))
        assert asyncio.run(pg_changer.stored_verifier(place, admin, "dba")) == before
        assert asyncio.run(pg_changer.login_works(place, "dba", PG_DBA_PW))
        assert not asyncio.run(pg_changer.login_works(place, "dba", new))
        log = cluster.log.read_bytes()[start:].decode(errors="replace")
        assert "ALTER ROLE" in log  # log_statement=all: the statements are there, with verifiers only
        _no_leak(log, _handover_texts(caplog), (PG_DBA_PW, new, PG_ADMIN_PW), before)


MY_ADMIN_PW = "Canary-myadmin-e01x"
MY_DBA_PW = "Old-my-dba-e01"


def test_mariadb_authentication_string_restored_exactly(world, settings, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    from tests.connectors.mariadb_server import mariadb_server

    caplog.set_level(logging.DEBUG)
    native = mariadb_changer.native_hash
    fixture = f"""
    CREATE USER 'admin'@'127.0.0.1' IDENTIFIED BY PASSWORD '{native(MY_ADMIN_PW)}';
    GRANT ALL PRIVILEGES ON *.* TO 'admin'@'127.0.0.1' WITH GRANT OPTION;
    CREATE USER 'dba'@'%' IDENTIFIED BY PASSWORD '{native(MY_DBA_PW)}';
    GRANT ALL PRIVILEGES ON *.* TO 'dba'@'%';
    """
    with mariadb_server(fixture) as server:
        tech, target = target_scene(world, settings, tmp_path, connector="mariadb", name="账户系统", host="my01",
                                    port=server.port, login="admin@127.0.0.1", secret=MY_ADMIN_PW,
                                    layer="数据库")  # fmt: skip
        dba = Account.objects.get(login_name="dba@%", asset=target.asset)
        vault.secret_capture(actor=system("test"), account=dba, secret=MY_DBA_PW, kind=SecretKind.ORIGINAL)
        place = Target("127.0.0.1", server.port, timeout=20.0)
        before = asyncio.run(
            mariadb_changer.stored_verifier(place, Credential("admin", MY_ADMIN_PW), "dba@%")
        )
        assert before and mariadb_changer.verifier_holds(before, MY_DBA_PW)
        _item, _revert, new = _rotate_and_revert(world, tech, "dba@%")
        admin = Credential("admin", _current("admin@127.0.0.1"))
        assert asyncio.run(mariadb_changer.stored_verifier(place, admin, "dba@%")) == before
        assert asyncio.run(mariadb_changer.login_works(place, "dba@%", MY_DBA_PW))
        assert not asyncio.run(mariadb_changer.login_works(place, "dba@%", new))
        logs = server.logs()
        assert "ALTER USER" in logs  # the general log: verifiers only
        _no_leak(logs, _handover_texts(caplog), (MY_DBA_PW, new, MY_ADMIN_PW), before.split("\n")[1])


def test_openldap_user_password_restored_exactly(world, settings, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    from tests.connectors.slapd_server import slapd_server
    from tests.connectors.test_restore_ldap import ADMIN, CANARY, DATA, SUFFIX

    caplog.set_level(logging.DEBUG)
    changer = ldap_password.OPENLDAP
    wangwu_pw = "Pw-ww-1"
    with slapd_server(suffix=SUFFIX, admin=ADMIN, password=CANARY, data=DATA) as slapd:
        tech, target = target_scene(world, settings, tmp_path, connector="ldap", name="统一认证", host="ldap01",
                                    port=slapd.port, login=ADMIN, secret=CANARY, options={"base": SUFFIX})  # fmt: skip
        wangwu = Account.objects.get(login_name="wangwu", asset=target.asset)
        vault.secret_capture(actor=system("test"), account=wangwu, secret=wangwu_pw, kind=SecretKind.ORIGINAL)
        place = Target("127.0.0.1", slapd.port, timeout=20.0, options=(("base", SUFFIX),))
        admin = Credential(ADMIN, CANARY)
        before = asyncio.run(changer.stored_verifier(place, admin, "wangwu"))
        assert before and changer.verifier_holds(before, wangwu_pw)
        _item, _revert, new = _rotate_and_revert(world, tech, "wangwu")
        assert asyncio.run(changer.stored_verifier(place, admin, "wangwu")) == before
        assert asyncio.run(changer.login_works(place, "wangwu", wangwu_pw, admin=admin))
        assert not asyncio.run(changer.login_works(place, "wangwu", new, admin=admin))
        _no_leak(
            slapd.log.read_text(errors="replace"), _handover_texts(caplog), (wangwu_pw, new, CANARY), before
        )
