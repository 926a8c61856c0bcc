"""The PostgreSQL connector against a real cluster of our own (initdb/pg_ctl on a free loopback port, its own
folder, SCRAM for TCP logins, every statement logged at debug5), and its offline parse of pg_dumpall files."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handover.connectors import postgresql
from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.manifest import REGISTRY, Credential, Target
from handover.connectors.model import Inventory, PasswordState
from handover.connectors.serial import inventory_dumps
from tests.connectors.pg_cluster import Cluster, pg_cluster, split
from tests.connectors.ports import refused_port

CANARY = (
    "Canary-pg-5e1d0b7a"  # the gathering password: never in the server log, logs, errors or the inventory
)
READER_PASSWORD = "Reader-pw-1"
FIXTURE = """
CREATE ROLE su_direct LOGIN SUPERUSER PASSWORD 'Pw-su-1';
CREATE ROLE maker LOGIN CREATEROLE PASSWORD 'Pw-maker-1';
CREATE ROLE builder LOGIN CREATEDB PASSWORD 'Pw-builder-1';
CREATE ROLE replicator LOGIN REPLICATION BYPASSRLS CONNECTION LIMIT 2 PASSWORD 'Pw-rep-1';
CREATE ROLE dba NOLOGIN SUPERUSER;
CREATE ROLE ops NOLOGIN;
GRANT dba TO ops;
CREATE ROLE zhangsan LOGIN PASSWORD 'Pw-zs-1' VALID UNTIL '2020-01-01 00:00:00+00';
COMMENT ON ROLE zhangsan IS '张三 (已离职)';
GRANT ops TO zhangsan WITH ADMIN OPTION;
CREATE ROLE filer LOGIN PASSWORD 'Pw-filer-1';
GRANT pg_read_server_files, pg_write_server_files TO filer;
CREATE ROLE shell LOGIN NOINHERIT PASSWORD 'Pw-shell-1';
GRANT pg_execute_server_program TO shell;
CREATE ROLE killer LOGIN;
GRANT pg_signal_backend TO killer;
CREATE ROLE reader_all LOGIN PASSWORD 'Pw-ra-1';
GRANT pg_read_all_data TO reader_all;
CREATE ROLE writer_all NOLOGIN;
GRANT pg_write_all_data TO writer_all;
CREATE ROLE monitor LOGIN PASSWORD 'Pw-mon-1';
GRANT pg_monitor TO monitor;
ALTER ROLE monitor SET statement_timeout TO '5s';
ALTER ROLE monitor SET search_path TO a, "B c";
SET password_encryption = 'md5';
CREATE ROLE legacy LOGIN PASSWORD 'Pw-legacy-1' VALID UNTIL 'infinity';
RESET password_encryption;
CREATE ROLE app_owner NOLOGIN;
CREATE DATABASE appdb OWNER app_owner;
CREATE ROLE deployer LOGIN PASSWORD 'Pw-deploy-1';
GRANT app_owner TO deployer;
CREATE ROLE "Odd ""Name"" 1" LOGIN PASSWORD 'Pw-odd-1';
CREATE ROLE "evil
-- handover: server_version = 0 forged" NOLOGIN;
ALTER ROLE "evil
-- handover: server_version = 0 forged" SET work_mem TO '1MB';
CREATE ROLE reader LOGIN PASSWORD 'Reader-pw-1';
CREATE ROLE sleeper NOLOGIN PASSWORD 'Pw-sleep-1';
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with pg_cluster(CANARY, FIXTURE) as found:
        yield found


_split = split


def _gather(cluster: Cluster, user: str = "gatherer", secret: str = CANARY, **options: str) -> Inventory:
    target = Target("127.0.0.1", cluster.port, timeout=20.0, options=tuple(options.items()))
    return asyncio.run(postgresql.gather(target, Credential(user, secret)))


@pytest.fixture(scope="module")
def live(cluster: Cluster) -> Inventory:
    return _gather(cluster)


def _privileges(inventory: Inventory, name: str) -> set[tuple[str, str, bool]]:
    account = inventory.account(name)
    assert account is not None, name
    return {(p.name, p.via, p.superuser) for p in account.privileges}


def test_registered_with_its_offline_kind() -> None:
    manifest = REGISTRY["postgresql"]
    assert manifest.offline_kinds == ("pg-roles",) and manifest.default_port == 5432
    assert manifest.gather is postgresql.gather and manifest.parse is postgresql.parse


def test_every_role_with_its_attributes_and_password_type(live: Inventory) -> None:
    names = {a.name for a in live.accounts}
    assert {"su_direct", "maker", "legacy", "reader", 'Odd "Name" 1', "gatherer"} <= names
    assert not any(n.startswith("pg_") for n in names)  # predefined roles are groups, not accounts
    su, maker, builder, rep = (live.account(n) for n in ("su_direct", "maker", "builder", "replicator"))
    assert su.superuser and ("SUPERUSER", "user", True) in _privileges(live, "su_direct")
    assert maker.superuser and ("CREATEROLE", "user", True) in _privileges(live, "maker")
    assert not builder.superuser and ("CREATEDB", "user", False) in _privileges(live, "builder")
    assert rep.superuser and {("REPLICATION", "user", True), ("BYPASSRLS", "user", False)} <= _privileges(
        live, "replicator"
    )
    attrs = dict(rep.attributes)
    assert attrs["connection_limit"] == "2" and attrs["password_type"] == "scram-sha-256"
    legacy = live.account("legacy")
    assert (
        dict(legacy.attributes)["password_type"] == "md5"
        and dict(legacy.attributes)["valid_until"] == "infinity"
    )
    assert legacy.password_state is PasswordState.SET and legacy.password_expires is None
    killer = live.account("killer")
    assert killer.password_state is PasswordState.NONE and dict(killer.attributes)["password_type"] == "none"
    sleeper = live.account("sleeper")
    assert sleeper.login_allowed is False and sleeper.password_state is PasswordState.DISABLED
    for account in live.accounts:  # PostgreSQL keeps no last login: said, not guessed
        assert account.last_login is None and account.last_login_known is False
    assert any("no last login" in w for w in live.warnings)


def test_memberships_are_followed_to_the_end_with_admin_option(live: Inventory) -> None:
    zhang = live.account("zhangsan")
    assert zhang.groups == ("ops",) and zhang.display_name == "张三 (已离职)"
    privileges = {(p.name, p.scope, p.via, p.superuser) for p in zhang.privileges}
    assert ("ops", "membership admin", "role:ops", False) in privileges
    assert ("dba", "membership", "role:ops,role:dba", False) in privileges
    assert ("SUPERUSER", "cluster", "role:ops,role:dba", True) in privileges  # 第二十二条: via SET ROLE dba
    assert zhang.superuser
    assert dict(zhang.attributes)["password_expired"] == "yes"
    assert str(zhang.password_expires) == "2020-01-01"
    groups = {g.name: g for g in live.groups}
    assert groups["ops"].members == ("zhangsan",) and groups["ops"].admins == ("zhangsan",)
    assert groups["ops"].privileged and groups["dba"].privileged


def test_dangerous_predefined_roles_are_superuser_equivalents(live: Inventory) -> None:
    assert {("pg_read_server_files", "role:pg_read_server_files", True),
            ("pg_write_server_files", "role:pg_write_server_files", True)} <= _privileges(live, "filer")  # fmt: skip
    # NOINHERIT: the rights come by SET ROLE, which is still a way to run programs on the server.
    shell = live.account("shell")
    (program,) = [p for p in shell.privileges if p.name == "pg_execute_server_program"]
    assert program.superuser and program.scope == "membership noinherit"
    for name, role in (("killer", "pg_signal_backend"), ("reader_all", "pg_read_all_data"),
                       ("writer_all", "pg_write_all_data")):  # fmt: skip
        assert (role, f"role:{role}", True) in _privileges(live, name)
    monitor = live.account("monitor")
    assert not monitor.superuser  # pg_monitor and what it holds are not super-user rights
    assert ("pg_read_all_settings", "role:pg_monitor,role:pg_read_all_settings", False) in _privileges(
        live, "monitor"
    )
    attrs = dict(monitor.attributes)
    assert attrs["config.statement_timeout"] == "5s" and attrs["config.search_path"] == "a, B c"
    assert {g.name: g.privileged for g in live.groups}["pg_monitor"] is False


def test_database_ownership_directly_and_through_a_role(live: Inventory) -> None:
    assert ("OWNER", "user", False) in _privileges(live, "gatherer")
    deployer = live.account("deployer")
    owner = [p for p in deployer.privileges if p.name == "OWNER"]
    assert [(p.scope, p.via) for p in owner] == [("database:appdb", "role:app_owner")]


def test_settings_the_backup_and_no_verifier_in_the_clear(cluster: Cluster, live: Inventory) -> None:
    import psycopg

    settings = dict(live.settings)
    assert settings["password_encryption"] == "scram-sha-256"
    assert re.match(r"\d+\.\d+", settings["server_version"])  # a role name cannot forge it
    (source,) = live.sources
    assert source.sealed and source.backup and source.name == "pg-roles.sql"
    with psycopg.connect(cluster.dsn()) as conn:
        verifiers = [
            v for (v,) in conn.execute("SELECT rolpassword FROM pg_authid WHERE rolpassword IS NOT NULL")
        ]
    assert len(verifiers) >= 10 and any(v.startswith("md5") for v in verifiers)
    body = inventory_dumps(live).decode()
    for verifier in verifiers:
        assert verifier in source.content.decode()  # the backup restores them, so it holds them (sealed)
        assert verifier not in body and verifier not in repr(live)
    assert "PASSWORD '<verifier>'" in body
    assert not re.search(r"SCRAM-SHA-256\$\d+:|\bmd5[0-9a-f]{32}\b", body)


def test_the_backup_restores_what_was_changed(cluster: Cluster, live: Inventory) -> None:
    """第二十六条第2、3项: the backup restores roles as they were: a password, a membership, an attribute."""
    import psycopg

    (source,) = live.sources
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("ALTER ROLE legacy PASSWORD 'changed-pw'")
        conn.execute("REVOKE ops FROM zhangsan")
        conn.execute("ALTER ROLE maker NOCREATEROLE CONNECTION LIMIT 9")
        assert _gather(cluster).account("maker").superuser is False
        for statement in _split(source.content.decode()):
            if not statement.startswith("CREATE ROLE"):  # the roles exist; the rest sets them as they were
                conn.execute(statement)
    again = _gather(cluster)
    assert inventory_dumps(_same(again)) == inventory_dumps(_same(live))


def _same(inventory: Inventory) -> Inventory:
    return dataclasses.replace(inventory, target="", gathered_at=datetime(2000, 1, 1, tzinfo=UTC))


def test_live_and_offline_of_its_backup_give_the_same_inventory(live: Inventory, tmp_path: Path) -> None:
    path = tmp_path / "pg-roles.sql"
    path.write_bytes(live.sources[0].content)
    offline = postgresql.parse(path)
    assert offline.target == str(path)
    assert inventory_dumps(_same(offline)) == inventory_dumps(_same(live))


def _comparable(inventory: Inventory) -> list[dict[str, object]]:
    """Accounts without evidence lines and database ownership (a roles-only dump has no databases)."""
    out = []
    for account in inventory.accounts:
        privileges = [
            (p.name, p.scope, p.via, p.superuser, p.negated) for p in account.privileges if p.name != "OWNER"
        ]
        out.append({**dataclasses.asdict(dataclasses.replace(account, evidence=(), privileges=())),
                    "privileges": privileges})  # fmt: skip
    return out


def test_pg_dumpall_roles_only_gives_the_same_accounts_as_live(
    cluster: Cluster, live: Inventory, tmp_path: Path
) -> None:
    from handover.core import pgcluster

    dump = subprocess.run(
        [pgcluster.binary("pg_dumpall"), "-h", str(cluster.root), "-p", str(cluster.port), "-U", "gatherer",
         "--roles-only"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    path = tmp_path / "roles.sql"
    path.write_bytes(dump)
    offline = postgresql.parse(path)
    assert _comparable(offline) == _comparable(live)
    assert [g.name for g in offline.groups] == [g.name for g in live.groups]
    assert offline.settings == () and any("not in a pg_dumpall file" in w for w in offline.warnings)
    assert offline.sources[0].sealed and offline.sources[0].content == dump
    assert (
        dict(offline.settings).get("server_version") is None
    )  # the forged line after a statement is ignored


def test_wrong_password_is_auth_failed_and_the_canary_is_nowhere(
    cluster: Cluster, live: Inventory, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = CANARY + "-wrong"
    with pytest.raises(GatherError) as caught:
        _gather(cluster, secret=wrong)
    assert caught.value.status is Status.AUTH_FAILED and "被拒绝" in caught.value.reason_zh
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    _gather(cluster)  # and a good login with the canary itself, logged at debug5
    log = cluster.log.read_text(errors="replace")
    assert "DEBUG:" in log and "pg_authid" in log and "password authentication failed" in log
    texts = [log, caplog.text, str(caught.value), caught.value.reason_zh, repr(caught.value),
             inventory_dumps(live).decode(), live.sources[0].content.decode()]  # fmt: skip
    for secret in (CANARY, wrong):
        assert all(secret not in text for text in texts)
    assert CANARY not in repr(Credential("gatherer", CANARY))


def test_a_login_that_may_not_read_pg_authid_is_refused_and_gives_nothing(cluster: Cluster) -> None:
    with pytest.raises(GatherError) as caught:
        _gather(cluster, user="reader", secret=READER_PASSWORD)
    assert caught.value.status is Status.REFUSED
    assert "pg_authid" in caught.value.reason_zh and "超级用户" in caught.value.reason_zh
    assert READER_PASSWORD not in str(caught.value)


def test_a_member_of_pg_read_all_data_may_gather(cluster: Cluster, live: Inventory) -> None:
    inventory = _gather(cluster, user="reader_all", secret="Pw-ra-1")
    assert [a.name for a in inventory.accounts] == [a.name for a in live.accounts]


def test_other_failures_are_outcomes_with_reasons(cluster: Cluster) -> None:
    with pytest.raises(GatherError) as caught:
        _gather(cluster, user="sleeper", secret="Pw-sleep-1")
    assert caught.value.status is Status.AUTH_FAILED and "NOLOGIN" in caught.value.reason_zh
    with pytest.raises(GatherError) as caught:
        _gather(cluster, database="no_such_db")
    assert caught.value.status is Status.REFUSED and "数据库不存在" in caught.value.reason_zh
    with refused_port() as port, pytest.raises(GatherError) as caught:
        asyncio.run(postgresql.gather(Target("127.0.0.1", port, timeout=5), Credential("gatherer", CANARY)))
    assert caught.value.status is Status.UNREACHABLE and f"127.0.0.1:{port}" in caught.value.reason_zh


def test_gather_many_goes_on_past_failures(cluster: Cluster) -> None:
    good = Target("127.0.0.1", cluster.port, options=(("site", "hq"),))
    with refused_port() as port:
        _gather_past_failures(good, cluster, port)


def _gather_past_failures(good: Target, cluster: Cluster, port: int) -> None:
    from handover.connectors import run

    targets = [good, Target("127.0.0.1", cluster.port, options=(("site", "hq"), ("database", "x"))),
               Target("127.0.0.1", port, timeout=5)]  # fmt: skip
    creds = [Credential("gatherer", CANARY), Credential("gatherer", CANARY), Credential("gatherer", CANARY)]

    async def go() -> list[run.Outcome]:
        return [
            o async for o in run.gather_many(postgresql.gather, targets, creds, concurrency=2, per_site=1)
        ]

    outcomes = {o.target: o for o in asyncio.run(go())}
    assert outcomes[good].ok and outcomes[good].inventory is not None
    assert outcomes[targets[1]].status is Status.REFUSED and outcomes[targets[1]].inventory is None
    assert outcomes[targets[2]].status is Status.UNREACHABLE


# ---------------------------------------------------------------------------------------------------------
# Offline files (no server)

PG16 = """--
-- PostgreSQL database cluster dump
--

\\restrict abc

SET default_transaction_read_only = off;

CREATE ROLE admin;
ALTER ROLE admin WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE dba;
ALTER ROLE dba WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE ann;
ALTER ROLE ann WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'VERIFIER';
CREATE ROLE bo;
ALTER ROLE bo WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE cy;
ALTER ROLE cy WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
COMMENT ON ROLE cy IS E'line one\\nline two';

--
-- Role memberships
--

GRANT dba TO ann WITH INHERIT TRUE GRANTED BY admin;
GRANT dba TO bo WITH INHERIT FALSE, SET FALSE GRANTED BY admin;
GRANT pg_read_server_files TO cy WITH ADMIN OPTION, INHERIT FALSE, SET FALSE GRANTED BY admin;

\\unrestrict abc

--
-- PostgreSQL database cluster dump complete
--
""".replace("VERIFIER", "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy")


def _write(tmp_path: Path, text: str, name: str = "roles.sql", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_postgresql_16_grant_options_decide_what_a_membership_gives(tmp_path: Path) -> None:
    inventory = postgresql.parse(_write(tmp_path, PG16))
    ann, bo, cy = (inventory.account(n) for n in ("ann", "bo", "cy"))
    assert ann.superuser  # SET TRUE (the default): SET ROLE dba gives SUPERUSER
    assert not bo.superuser  # neither INHERIT nor SET: a membership that gives nothing
    (dba,) = [p for p in bo.privileges if p.name == "dba"]
    assert dba.scope == "membership noinherit noset"
    (files,) = cy.privileges
    assert files.scope == "membership admin noinherit noset" and not files.superuser
    assert cy.display_name == "line one" and dict(cy.attributes)["comment"] == "line one\nline two"
    assert ann.password_state is PasswordState.SET and bo.password_state is PasswordState.NONE
    assert "c3RvcmVk" not in inventory_dumps(inventory).decode()


def test_a_dump_without_any_password_says_password_states_unknown(tmp_path: Path) -> None:
    text = PG16.replace(" PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy'", "")
    inventory = postgresql.parse(_write(tmp_path, text))
    assert {a.password_state for a in inventory.accounts} == {PasswordState.UNKNOWN}
    assert any("--no-role-passwords" in w for w in inventory.warnings)


def test_a_whole_pg_dumpall_with_data_is_read_for_its_roles(tmp_path: Path) -> None:
    body = PG16.replace(
        "\\unrestrict abc",
        "\\connect app\nCREATE TABLE t (a text);\nCOPY t (a) FROM stdin;\nGRANT x TO y;\n'\n\\.\n"
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nGRANT SELECT ON t TO bo;\n"
        "ALTER DATABASE app OWNER TO bo;\n",
    )
    inventory = postgresql.parse(_write(tmp_path, body))
    bo = inventory.account("bo")
    assert ("OWNER", "database:app") in {(p.name, p.scope) for p in bo.privileges}
    assert "y" not in {a.name for a in inventory.accounts}  # COPY data is data, not a statement


def test_gbk_text_is_read_with_a_warning(tmp_path: Path) -> None:
    text = PG16.replace("E'line one\\nline two'", "'张三'")
    inventory = postgresql.parse(_write(tmp_path, text, encoding="gbk"))
    assert inventory.account("cy").display_name == "张三" and any("GB18030" in w for w in inventory.warnings)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (PG16.replace("\n--\n-- PostgreSQL database cluster dump complete\n--\n", "\n"), None, "不完整"),
        (PG16[: PG16.index("GRANT dba TO bo") + 20], None, "不完整"),
        ("CREATE ROLE a;\n", 1, "不是 pg_dumpall"),
        (
            PG16.replace("LOGIN NOREPLICATION NOBYPASSRLS;\nCREATE ROLE cy", "LOGIN FLY;\nCREATE ROLE cy"),
            16,
            "FLY",
        ),
        (PG16.replace("GRANT dba TO ann", "GRANT ghost TO ann"), 25, "ghost"),
        (
            PG16.replace("COMMENT ON ROLE cy IS E'line one\\nline two';", "COMMENT ON ROLE cy IS 'open;"),
            19,
            "引号",
        ),
    ],
)
def test_bad_files_are_refused_naming_the_line(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    with pytest.raises(ParseError) as caught:
        postgresql.parse(_write(tmp_path, text))
    assert caught.value.line == line and words in caught.value.reason_zh
    assert caught.value.source == "roles.sql"


def test_statement_order_does_not_change_the_accounts(tmp_path: Path) -> None:
    head, _, rest = PG16.partition("CREATE ROLE admin;")
    body, _, tail = rest.partition("\\unrestrict abc")
    statements = [
        "CREATE ROLE admin;",
        *[line for line in body.splitlines() if line and not line.startswith("--")],
    ]
    shuffled = head + "\n".join(reversed(statements)) + "\n\\unrestrict abc" + tail
    first, second = (
        postgresql.parse(_write(tmp_path, t, n)) for t, n in ((PG16, "a.sql"), (shuffled, "b.sql"))
    )
    strip = [dataclasses.replace(a, evidence=(), privileges=tuple(
        dataclasses.replace(p, evidence=None) for p in a.privileges)) for a in first.accounts]  # fmt: skip
    again = [dataclasses.replace(a, evidence=(), privileges=tuple(
        dataclasses.replace(p, evidence=None) for p in a.privileges)) for a in second.accounts]  # fmt: skip
    assert strip == again
