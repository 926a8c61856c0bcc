"""The Oracle connector against a stand-in DB-API driver answering the data dictionary as 11g, 12c, 19c and 23ai
would (tests/connectors/fake_oracledb.py), the ORA- error table, and the spool of oracle_collect.sql read offline."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from handover.connectors import oracle
from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.manifest import REGISTRY, Credential, Target
from handover.connectors.model import Inventory, PasswordState
from handover.connectors.serial import inventory_dumps
from tests.connectors import fake_oracledb as fake

CANARY = "Canary-ora-61d0e2f8"


def database(version: str, port: int) -> fake.Database:
    db = fake.Database(
        version=version,
        users=[
            fake.User("SYS", "x", maintained="Y", last_login=datetime(2026, 12, 1, 9)),
            fake.User("SYSTEM", "x", maintained="Y"),
            fake.User("GATHER", CANARY, last_login=datetime(2026, 12, 5, 9)),
            fake.User("DBADMIN", "pw", profile="APP_PROFILE", last_login=datetime(2026, 11, 2, 10)),
            fake.User("APP", "pw", profile="APP_PROFILE"),
            fake.User("ZHANGSAN", "pw", status="LOCKED", lock_date=datetime(2026, 9, 2)),
            fake.User("OLD", "pw", status="EXPIRED", expiry=datetime(2025, 6, 1)),
            fake.User("BACKUPOP", "pw"),
            fake.User("EXT_USER", None, auth="EXTERNAL"),
        ],
        role_privs=[
            ("DBADMIN", "MGR", "NO"),
            ("MGR", "DBA", "YES"),
            ("GATHER", "SELECT_CATALOG_ROLE", "NO"),
            ("SYSTEM", "DBA", "YES"),
            ("APP", "CONNECT", "NO"),
        ],
        sys_privs=[
            ("APP", "CREATE SESSION", "NO"),
            ("APP", "SELECT ANY TABLE", "NO"),
            ("DBA", "ALTER SYSTEM", "YES"),
            ("GATHER", "CREATE SESSION", "NO"),
            ("MGR", "CREATE USER", "NO"),
        ],
        pwfile=[
            ("SYS", "TRUE", "TRUE", "FALSE", "FALSE", "FALSE"),
            ("BACKUPOP", "FALSE", "FALSE", "TRUE", "FALSE", "FALSE"),
        ],
        profiles=[
            ("DEFAULT", "PASSWORD_LIFE_TIME", "180"),
            ("APP_PROFILE", "PASSWORD_LIFE_TIME", "UNLIMITED"),
            ("DEFAULT", "FAILED_LOGIN_ATTEMPTS", "10"),
        ],
    )
    fake.SERVERS[f"127.0.0.1:{port}"] = db
    return db


@pytest.fixture(autouse=True)
def driver(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(oracle, "DRIVER", "tests.connectors.fake_oracledb")
    fake.SERVERS.clear()
    yield
    fake.SERVERS.clear()


def _gather(port: int, user: str = "GATHER", secret: str = CANARY, service: str = "ORCLPDB1") -> Inventory:
    target = Target("127.0.0.1", port, timeout=5.0, options=(("service", service),))
    return asyncio.run(oracle.gather(target, Credential(user, secret)))


VERSIONS = [("11.2.0.4.0", 1511), ("12.2.0.1.0", 1512), ("19.0.0.0.0", 1519), ("23.0.0.0.0", 1523)]


def test_registered() -> None:
    manifest = REGISTRY["oracle"]
    assert manifest.offline_kinds == ("oracle-spool",) and manifest.default_port == 1521


@pytest.mark.parametrize(("version", "port"), VERSIONS)
def test_each_version_gives_users_privileges_and_policy(version: str, port: int) -> None:
    database(version, port)
    inv = _gather(port)
    assert [a.name for a in inv.accounts][:3] == ["APP", "BACKUPOP", "DBADMIN"]
    dba = inv.account("DBADMIN")
    rights = {(p.name, p.via, p.superuser) for p in dba.privileges}
    assert ("DBA", "role:MGR,role:DBA", True) in rights and ("CREATE USER", "role:MGR", True) in rights
    assert ("ALTER SYSTEM", "role:MGR,role:DBA", True) in rights
    assert dba.password_max_days is None and dba.password_policy_known  # APP_PROFILE: UNLIMITED
    app = inv.account("APP")
    assert app.superuser and ("SELECT ANY TABLE", "user", True) in {
        (p.name, p.via, p.superuser) for p in app.privileges
    }
    gather = inv.account("GATHER")
    assert gather.password_max_days == 180 and not gather.superuser  # DEFAULT profile: 180 days
    zhang, old, ext = inv.account("ZHANGSAN"), inv.account("OLD"), inv.account("EXT_USER")
    assert (
        zhang.locked and zhang.password_state is PasswordState.LOCKED and dict(zhang.attributes)["lock_date"]
    )
    assert not old.login_allowed and old.password_expires == date(2025, 6, 1)
    assert (
        ext.password_state is PasswordState.NONE and dict(ext.attributes)["authentication_type"] == "EXTERNAL"
    )
    sys_rights = {p.name for p in inv.account("SYS").privileges}
    assert {"SYSDBA", "SYSOPER"} <= sys_rights
    backup = inv.account("BACKUPOP")
    if version.startswith("11"):
        assert not backup.superuser and not dba.last_login_known and dba.last_login is None
        assert any("LAST_LOGIN" in w for w in inv.warnings) and any("ORA-00904" in w for w in inv.warnings)
    else:
        assert backup.superuser and "SYSBACKUP" in {p.name for p in backup.privileges}
        assert dba.last_login_known and dba.last_login == datetime(2026, 11, 2, 10, tzinfo=UTC).replace(
            hour=2
        )
        assert dict(inv.account("SYS").attributes)["oracle_maintained"] == "yes"
    assert dict(inv.settings)["version"] == version
    source = inv.sources[0]
    assert source.backup and not source.sealed  # the dictionary's views hold no verifier


def test_live_and_the_offline_spool_give_the_same_inventory(tmp_path: Path) -> None:
    database("19.0.0.0.0", 1519)
    live = _gather(1519)
    path = tmp_path / "handover_oracle.lst"
    path.write_bytes(live.sources[0].content)
    offline = oracle.parse(path)
    noisy = tmp_path / "noisy.lst"  # SQL*Plus's own lines around the rows are not facts
    noisy.write_bytes(b"\nSQL> @oracle_collect.sql\n" + live.sources[0].content + b"SQL> EXIT\n")
    assert [a.name for a in oracle.parse(noisy).accounts] == [a.name for a in live.accounts]
    same = {"target": "", "gathered_at": datetime(2000, 1, 1, tzinfo=UTC), "sources": (), "warnings": ()}
    assert inventory_dumps(dataclasses.replace(offline, **same)) == inventory_dumps(
        dataclasses.replace(live, **same)
    )


def test_the_script_and_the_live_connector_read_the_same_views() -> None:
    db = database("23.0.0.0.0", 1523)
    _gather(1523)
    script = oracle.SCRIPT.read_text().lower()
    named = set(re.findall(r"\bfrom ((?:sys\.)?[a-z_$]+)", script))
    executed = {v for sql in db.executed for v in re.findall(r"\bfrom ((?:sys\.)?[a-z_$]+)", sql.lower())}
    assert (
        named
        == executed
        == {
            "v$instance",
            "dba_users",
            "sys.user$",
            "dba_role_privs",
            "dba_sys_privs",
            "v$pwfile_users",
            "dba_profiles",
            "dual",
        }
    )


@pytest.mark.parametrize(
    ("setup", "user", "secret", "service", "status", "words"),
    [
        (None, "GATHER", CANARY + "x", "ORCLPDB1", Status.AUTH_FAILED, "ORA-01017"),
        ("lock", "GATHER", CANARY, "ORCLPDB1", Status.LOCKED, "ORA-28000"),
        ("expire", "GATHER", CANARY, "ORCLPDB1", Status.LOCKED, "ORA-28001"),
        (None, "GATHER", CANARY, "NOPE", Status.REFUSED, "ORA-12514"),
        ("absent", "GATHER", CANARY, "ORCLPDB1", Status.UNREACHABLE, "无法连接"),
    ],
)
def test_ora_errors_are_outcomes_with_reasons_and_the_canary_is_nowhere(
    setup: str | None,
    user: str,
    secret: str,
    service: str,
    status: Status,
    words: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    db = database("19.0.0.0.0", 1519)
    gather_user = next(u for u in db.users if u.name == "GATHER")
    if setup == "lock":
        gather_user.status = "LOCKED"
    elif setup == "expire":
        gather_user.status = "EXPIRED"
    elif setup == "absent":
        fake.SERVERS.clear()
    with pytest.raises(GatherError) as caught:
        _gather(1519, user=user, secret=secret, service=service)
    assert caught.value.status is status and words in caught.value.reason_zh
    for text in (str(caught.value), caught.value.reason_zh, repr(caught.value), caplog.text):
        assert CANARY not in text


def test_the_expiry_warning_is_kept_and_the_ora_table_covers_the_issue_codes() -> None:
    database("19.0.0.0.0", 1519).password_warning = True
    assert any("ORA-28002" in w for w in _gather(1519).warnings)
    assert {1017, 28000, 28001, 28003, 28007, 28221, 12514, 12505, 12541} <= set(oracle.ORA)
    for status, en, zh in oracle.ORA.values():
        assert re.search(r"ORA-\d{5}", en) and re.search(r"ORA-\d{5}", zh) and status in Status


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("HANDOVER|users|A|OPEN\nHANDOVER|done|x\n", 1, "字段数"),
        ("HANDOVER|nonsense|x\n", 1, "未知的段"),
        ("HANDOVER|users|A|OPEN|||DEFAULT|PASSWORD|\n", None, "不完整"),
        ("SQL> nothing\n", None, "不是 oracle_collect.sql"),
        ("HANDOVER|users|A|OPEN||tomorrow|DEFAULT|PASSWORD|\nHANDOVER|done|x\n", 1, "不是日期"),
    ],
)
def test_a_bad_spool_is_refused_naming_the_line(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    path = tmp_path / "x.lst"
    path.write_text(text)
    with pytest.raises(ParseError) as caught:
        oracle.parse(path)
    assert caught.value.line == line and words in caught.value.reason_zh
