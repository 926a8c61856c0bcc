"""The crash matrix in a real process (issue 15; tests/connectors/crash_process.py): for every step boundary of
crash_matrix.POINTS, ``handover rotation run`` in a child process dies there by ``os._exit(137)``
(``HANDOVER_FAULT``), and the server then holds the vault's current secret or the pending one its item
recorded; a second child recovers the run: one change on the server over both (read out of band: the shadow
file, pg_authid, mysql.user and the general log, the directory entry), the vault's current secret logging in,
nothing else about the account moved, the audit chain intact.

Each plan is narrowed to one account, the connection's own where the platform rotates it (its admin credential
changes under the run): the hardest case, and each account costs a run's time. PostgreSQL runs in ``make
test``; Linux, MariaDB and slapd are marked ``bench`` (``make bench`` runs them; docs/rotation.md)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from handover.connectors.change import ldap_password
from handover.connectors.change import linux as linux_changer
from handover.connectors.change import mariadb as mariadb_changer
from handover.connectors.change import postgresql as postgresql_changer
from handover.connectors.change.sha512crypt import verify as sha512_verify
from handover.core.actors import system
from handover.registers.models import Account
from handover.vault import services as vault
from handover.vault.models import SecretKind
from tests.connectors.conftest import linux_target
from tests.connectors.crash_process import (
    Platform,
    child_runner,
    committed_database,
    matrix_in_children,
    migrated_test_database,
    salted_changes,
)
from tests.connectors.etc_host import Host
from tests.connectors.mariadb_server import Server, mariadb_server
from tests.connectors.pg_cluster import Cluster, pg_cluster
from tests.connectors.scenes import target_scene
from tests.connectors.slapd_server import Slapd, slapd_server
from tests.factories import World


@pytest.fixture
def committed(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A database of this test's own that child processes open (its URL)."""
    with django_db_blocker.unblock(), migrated_test_database(), committed_database() as url:
        yield url


def _capture(login: str, asset, secret: str) -> None:  # type: ignore[no-untyped-def]
    account = Account.objects.get(login_name=login, asset=asset)
    vault.secret_capture(actor=system("test"), account=account, secret=secret, kind=SecretKind.ORIGINAL)


def _shadow_hash(root: Path, login: str) -> str:
    for line in (root / "etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == login:
            return fields[1]
    raise AssertionError(f"{login} not in the host's shadow file")


@pytest.mark.bench
def test_linux(committed: str, etc_linux: Host, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world, tech, target = linux_target(World(), etc_linux, settings, tmp_path)
    platform = Platform(
        changer=linux_changer,
        mark=lambda login: _shadow_hash(etc_linux.root, login),
        changes=salted_changes,
        holds=lambda login, secret: sha512_verify(secret, _shadow_hash(etc_linux.root, login)),
    )
    with child_runner(committed) as child:
        matrix_in_children(world, tech, target, platform, child, account="root")


PG_ADMIN_PW = "Canary-pgcrash-5e1b"
PG_FIXTURE = "CREATE ROLE dba SUPERUSER LOGIN PASSWORD 'Old-dba-pw-63' CONNECTION LIMIT 7;"


def _rolpassword(cluster: Cluster, role: str) -> str:
    import psycopg

    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:  # the local socket: trust, whatever changed
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    assert row is not None, role
    return str(row[0] or "")


def test_postgresql(committed: str, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pg_cluster(PG_ADMIN_PW, PG_FIXTURE) as cluster:
        world = World()
        tech, target = target_scene(world, settings, tmp_path, connector="postgresql", name="清算数据库",
                                    host="pg01", port=cluster.port, login="gatherer", secret=PG_ADMIN_PW,
                                    layer="数据库")  # fmt: skip
        _capture("dba", target.asset, "Old-dba-pw-63")
        platform = Platform(
            changer=postgresql_changer,
            mark=lambda role: _rolpassword(cluster, role),
            changes=salted_changes,
            holds=lambda role, secret: postgresql_changer.scram_matches(secret, _rolpassword(cluster, role)),
        )
        with child_runner(committed) as child:
            matrix_in_children(world, tech, target, platform, child, account="gatherer")


MY_ADMIN_PW = "Canary-mycrash-8d2f"
MY_FIXTURE = f"""
CREATE USER 'admin'@'127.0.0.1' IDENTIFIED BY PASSWORD '{mariadb_changer.native_hash(MY_ADMIN_PW)}';
GRANT ALL PRIVILEGES ON *.* TO 'admin'@'127.0.0.1' WITH GRANT OPTION;
"""


def _mysql_mark(server: Server, login: str) -> tuple[str, int]:
    """mysql_native_password is unsalted (setting the same secret twice leaves the same hash): the stored hash
    and the number of ALTER USER statements for the account in the general log."""
    user, host = mariadb_changer.split(login)
    query = f"SELECT authentication_string FROM mysql.user WHERE User = '{user}' AND Host = '{host}'"  # noqa: S608 (the fixture's names)
    done = subprocess.run(
        ["mariadb", "--no-defaults", "-S", str(server.socket), "-uroot", "-N", "--batch", "-e", query],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    log = (server.root / "general.log").read_text(errors="replace")
    altered = sum(1 for line in log.splitlines() if "ALTER USER" in line and f"'{user}'@'{host}'" in line)
    return done.stdout.strip(), altered


@pytest.mark.bench
def test_mariadb(committed: str, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with mariadb_server(MY_FIXTURE) as server:
        world = World()
        tech, target = target_scene(world, settings, tmp_path, connector="mariadb", name="账户系统", host="my01",
                                    port=server.port, login="admin@127.0.0.1", secret=MY_ADMIN_PW,
                                    layer="数据库")  # fmt: skip
        platform = Platform(
            changer=mariadb_changer,
            mark=lambda login: _mysql_mark(server, login),
            changes=lambda a, b: b[1] - a[1],
            holds=lambda login, secret: _mysql_mark(server, login)[0] == mariadb_changer.native_hash(secret),
        )
        with child_runner(committed) as child:
            matrix_in_children(world, tech, target, platform, child, account="admin@127.0.0.1")


def _user_password(slapd: Slapd, admin: str, password: str, uid: str) -> str:
    import ldap3

    from tests.connectors.test_restore_ldap import SUFFIX

    with ldap3.Connection(
        ldap3.Server("127.0.0.1", port=slapd.port), admin, password, auto_bind=True
    ) as conn:
        conn.search(SUFFIX, f"(uid={uid})", attributes=["userPassword"])
        values = conn.response[0]["raw_attributes"]["userPassword"]
    return "".join(v.decode() for v in values)


@pytest.mark.bench
def test_openldap(committed: str, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.connectors.test_restore_ldap import ADMIN, CANARY, DATA, SUFFIX
    from tests.connectors.test_rotation_ldap import WANGWU_PW

    with slapd_server(suffix=SUFFIX, admin=ADMIN, password=CANARY, data=DATA) as slapd:
        world = World()
        tech, target = target_scene(world, settings, tmp_path, connector="ldap", name="统一认证", host="ldap01",
                                    port=slapd.port, login=ADMIN, secret=CANARY, options={"base": SUFFIX})  # fmt: skip
        _capture("wangwu", target.asset, WANGWU_PW)
        platform = Platform(
            changer=ldap_password.OPENLDAP,
            mark=lambda uid: _user_password(slapd, ADMIN, CANARY, uid),
            changes=salted_changes,
            holds=lambda uid, secret: ldap_password.verifier_matches(
                secret, _user_password(slapd, ADMIN, CANARY, uid)
            ),
        )
        with child_runner(committed) as child:
            matrix_in_children(world, tech, target, platform, child, account="wangwu")
