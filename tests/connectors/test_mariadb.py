"""The MySQL/MariaDB connector against a real MariaDB server of our own (mariadb-install-db + mariadbd on a free
loopback port, its own data folder and socket, the general log on), and its offline parse of the backup."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handover.connectors import mariadb
from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.manifest import REGISTRY, Credential, Target
from handover.connectors.model import Account, Inventory, PasswordState
from handover.connectors.serial import inventory_dumps
from tests.connectors.mariadb_server import Server, mariadb_server
from tests.connectors.ports import refused_port

CANARY = (
    "Canary-my-8c3f2a19"  # the gathering password: never in the server's logs, ours, errors or the inventory
)
READER_PASSWORD = "Reader-pw-1"


def _native(password: str) -> str:
    """mysql_native_password's stored form, so that the canary itself never reaches the server as SQL text."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()  # noqa: S324


FIXTURE = f"""
CREATE USER 'gatherer'@'127.0.0.1' IDENTIFIED BY PASSWORD '{_native(CANARY)}';
GRANT SELECT ON mysql.* TO 'gatherer'@'127.0.0.1';
CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY PASSWORD '{_native(READER_PASSWORD)}';
CREATE USER 'dba'@'%' IDENTIFIED BY 'Pw-dba-1';
GRANT ALL PRIVILEGES ON *.* TO 'dba'@'%' WITH GRANT OPTION;
CREATE USER 'super_only'@'localhost' IDENTIFIED BY 'Pw-so-1';
GRANT SUPER ON *.* TO 'super_only'@'localhost';
CREATE USER 'filer'@'10.0.0.%' IDENTIFIED BY 'Pw-f-1';
GRANT FILE, PROCESS ON *.* TO 'filer'@'10.0.0.%';
CREATE ROLE app_admin;
GRANT ALL PRIVILEGES ON *.* TO app_admin;
CREATE ROLE lead;
GRANT app_admin TO lead WITH ADMIN OPTION;
CREATE ROLE app_rw;
GRANT SELECT, INSERT ON appdb.* TO app_rw;
CREATE USER 'zhangsan'@'%' IDENTIFIED BY 'Pw-zs-1';
GRANT app_rw TO 'zhangsan'@'%';
GRANT lead TO 'zhangsan'@'%';
SET DEFAULT ROLE app_rw FOR 'zhangsan'@'%';
CREATE USER ''@'localhost';
CREATE USER 'nopw'@'localhost';
CREATE USER 'locked'@'localhost' IDENTIFIED BY 'Pw-l-1' ACCOUNT LOCK;
CREATE USER 'expired'@'localhost' IDENTIFIED BY 'Pw-e-1' PASSWORD EXPIRE;
CREATE USER 'aging'@'localhost' IDENTIFIED BY 'Pw-a-1' PASSWORD EXPIRE INTERVAL 90 DAY;
CREATE USER 'sock'@'localhost' IDENTIFIED VIA unix_socket;
CREATE USER 'granter'@'%' IDENTIFIED BY 'Pw-g-1';
GRANT UPDATE ON mysql.global_priv TO 'granter'@'%';
CREATE USER 'odd`name'@'localhost' IDENTIFIED BY 'Pw-o-1';
"""


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with mariadb_server(FIXTURE) as found:
        yield found


def _gather(
    server: Server, user: str = "gatherer", secret: str = CANARY, port: int | None = None
) -> Inventory:
    target = Target("127.0.0.1", port or server.port, timeout=20.0)
    return asyncio.run(mariadb.gather(target, Credential(user, secret)))


@pytest.fixture(scope="module")
def live(server: Server) -> Inventory:
    return _gather(server)


def _account(inventory: Inventory, name: str) -> Account:
    account = inventory.account(name)
    assert account is not None, (name, [a.name for a in inventory.accounts])
    return account


def _privileges(inventory: Inventory, name: str) -> set[tuple[str, str, str, bool]]:
    return {(p.name, p.scope, p.via, p.superuser) for p in _account(inventory, name).privileges}


def test_registered_with_its_offline_kind() -> None:
    manifest = REGISTRY["mariadb"]
    assert manifest.offline_kinds == ("mysql-grants",) and manifest.default_port == 3306
    assert manifest.gather is mariadb.gather and manifest.parse is mariadb.parse


def test_every_user_at_host_with_its_state(live: Inventory) -> None:
    names = {a.name for a in live.accounts}
    assert {"dba@%", "super_only@localhost", "filer@10.0.0.%", "zhangsan@%", "@localhost", "odd`name@localhost",
            "root@localhost", "gatherer@127.0.0.1"} <= names  # fmt: skip
    assert not {"app_admin", "lead", "app_rw"} & names  # roles are groups, not accounts
    anonymous = dict(_account(live, "@localhost").attributes)
    assert anonymous["anonymous"] == "yes"
    nopw = _account(live, "nopw@localhost")
    assert nopw.password_state is PasswordState.EMPTY and dict(nopw.attributes)["empty_authentication_string"]
    locked = _account(live, "locked@localhost")
    assert locked.locked and not locked.login_allowed
    assert dict(_account(live, "expired@localhost").attributes)["password_expired"] == "yes"
    aging = _account(live, "aging@localhost")
    assert aging.password_max_days == 90 and aging.password_policy_known
    assert aging.password_changed == datetime.now(UTC).date()  # from global_priv's password_last_changed
    assert dict(_account(live, "filer@10.0.0.%").attributes)["host_wildcard"] == "yes"
    assert dict(_account(live, "sock@localhost").attributes)["plugin"] == "unix_socket"
    for account in live.accounts:  # MariaDB keeps no last login: said, not guessed
        assert account.last_login is None and account.last_login_known is False


def test_super_user_rights_directly_through_roles_and_on_the_grant_tables(live: Inventory) -> None:
    assert _account(live, "dba@%").superuser and ("ALL PRIVILEGES", "*.*", "user", True) in _privileges(
        live, "dba@%"
    )
    assert ("GRANT OPTION", "*.*", "user", True) in _privileges(live, "dba@%")
    assert ("SUPER", "*.*", "user", True) in _privileges(live, "super_only@localhost")
    filer = _privileges(live, "filer@10.0.0.%")
    assert ("FILE", "*.*", "user", False) in filer and ("PROCESS", "*.*", "user", False) in filer
    assert not _account(live, "filer@10.0.0.%").superuser
    # 第二十二条: a right reached through a chain of roles is the person's right.
    zhang = _privileges(live, "zhangsan@%")
    assert ("ALL PRIVILEGES", "*.*", "role:lead,role:app_admin", True) in zhang
    assert ("app_admin", "membership admin", "role:lead,role:app_admin", False) in zhang
    assert _account(live, "zhangsan@%").superuser
    assert dict(_account(live, "zhangsan@%").attributes)["default_role"] == "app_rw"
    assert _account(live, "granter@%").superuser  # may rewrite mysql.global_priv: may make itself anything
    groups = {g.name: g for g in live.groups}
    assert "zhangsan@%" in groups["lead"].members and "lead" in groups["app_admin"].admins
    assert "root@localhost" in groups["lead"].admins  # MariaDB gives a role's creator its admin option
    assert groups["app_admin"].privileged and not groups["app_rw"].privileged


def test_the_backup_is_sealed_and_no_verifier_is_in_the_clear(live: Inventory) -> None:
    (source,) = live.sources
    assert source.sealed and source.backup and source.name == "mysql-grants.sql"
    content, body = source.content.decode(), inventory_dumps(live).decode()
    verifier = _native("Pw-zs-1")
    assert verifier in content  # the backup restores the password, so it holds its verifier (sealed)
    assert verifier not in body and verifier not in repr(live) and "'<verifier>'" in body
    assert _native(CANARY) not in body


def test_live_and_offline_of_its_backup_give_the_same_inventory(live: Inventory, tmp_path: Path) -> None:
    path = tmp_path / "mysql-grants.sql"
    path.write_bytes(live.sources[0].content)
    offline = mariadb.parse(path)
    same = {"target": "", "gathered_at": datetime(2000, 1, 1, tzinfo=UTC)}
    assert inventory_dumps(dataclasses.replace(offline, **same)) == inventory_dumps(
        dataclasses.replace(live, **same)
    )


def test_the_backup_restores_what_was_changed(server: Server, live: Inventory) -> None:
    """第二十六条第2、3项: the backup puts an account back as it was: its password, its roles, its rights."""
    content = live.sources[0].content.decode()
    start = content.index("-- Grants for 'zhangsan'@'%'")
    block = content[start : content.index("\n\n", start)]
    server.sql("DROP USER 'zhangsan'@'%';")
    assert _gather(server).account("zhangsan@%") is None
    server.sql(block + "\n")
    before, after = _account(live, "zhangsan@%"), _account(_gather(server), "zhangsan@%")
    assert _privileges(live, "zhangsan@%") and {(p.name, p.scope, p.via) for p in after.privileges} == {
        (p.name, p.scope, p.via) for p in before.privileges
    }
    assert dataclasses.replace(after, evidence=(), privileges=()) == dataclasses.replace(
        before, evidence=(), privileges=()
    )


def test_wrong_password_is_auth_failed_and_the_canary_is_nowhere(
    server: Server, live: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = CANARY + "-wrong"
    with pytest.raises(GatherError) as caught:
        _gather(server, secret=wrong)
    assert caught.value.status is Status.AUTH_FAILED and "被拒绝" in caught.value.reason_zh
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    logs = server.logs()
    assert "Connect" in logs and "SHOW GRANTS" in logs  # the general log did record the gathering
    texts = [logs, caplog.text, str(caught.value), caught.value.reason_zh, repr(caught.value),
             inventory_dumps(live).decode(), live.sources[0].content.decode()]  # fmt: skip
    for secret in (CANARY, wrong):
        assert all(secret not in text for text in texts)


def test_a_login_that_may_not_read_the_accounts_is_refused_and_gives_nothing(server: Server) -> None:
    with pytest.raises(GatherError) as caught:
        _gather(server, user="reader", secret=READER_PASSWORD)
    assert caught.value.status is Status.REFUSED and "SELECT" in caught.value.reason_zh
    assert READER_PASSWORD not in str(caught.value)


def test_an_unreachable_server_is_named(server: Server) -> None:
    with refused_port() as port, pytest.raises(GatherError) as caught:
        _gather(server, port=port)
    assert caught.value.status is Status.UNREACHABLE and f"127.0.0.1:{port}" in caught.value.reason_zh


# ---------------------------------------------------------------------------------------------------------
# Offline files (no server)

MYSQL8 = """-- Grants for 'app'@'%'
CREATE USER `app`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$abcdefghijklmnopqrstuvwxyz0123456789ABCD'
 REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT
 PASSWORD REQUIRE CURRENT DEFAULT;
GRANT SELECT ON `shop`.* TO `app`@`%`;
-- Grants for 'ops'@'localhost'
CREATE USER `ops`@`localhost` IDENTIFIED WITH 'mysql_native_password'
 AS '*0123456789ABCDEF0123456789ABCDEF01234567' REQUIRE NONE PASSWORD EXPIRE INTERVAL 30 DAY ACCOUNT LOCK;
GRANT RELOAD, SHUTDOWN, CREATE USER ON *.* TO `ops`@`localhost` WITH GRANT OPTION;
"""


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "grants.sql"
    path.write_bytes(text.encode(encoding))
    return path


def test_a_mysql_8_show_grants_file_is_read_and_its_hashes_kept_out(tmp_path: Path) -> None:
    inventory = mariadb.parse(_write(tmp_path, MYSQL8))
    app, ops = _account(inventory, "app@%"), _account(inventory, "ops@localhost")
    assert not app.superuser and app.password_state is PasswordState.SET
    assert ops.superuser and ops.locked and ops.password_max_days == 30
    assert ("CREATE USER", "*.*", "user", True) in _privileges(inventory, "ops@localhost")
    body = inventory_dumps(inventory).decode()
    assert "$A$005$" not in body and "0123456789ABCDEF0123456789ABCDEF01234567" not in body


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("-- Handover MySQL/MariaDB grants backup: x\nCREATE USER `a`@`%`;\n", None, "不完整"),
        ("SELECT 1;\n", None, "不是权限备份"),
        (MYSQL8.replace("GRANT SELECT ON", "GRANT /* SELECT ON"), 5, "注释"),
    ],
)
def test_bad_files_are_refused_naming_the_place(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    with pytest.raises(ParseError) as caught:
        mariadb.parse(_write(tmp_path, text))
    assert caught.value.line == line and words in caught.value.reason_zh
    assert caught.value.source == "grants.sql"


def test_a_gb18030_file_is_read_and_said(tmp_path: Path) -> None:
    text = MYSQL8.replace("-- Grants for 'app'@'%'", "-- 应用账户 'app'@'%'")
    inventory = mariadb.parse(_write(tmp_path, text, "gb18030"))
    assert _account(inventory, "app@%") and any("GB18030" in w for w in inventory.warnings)
