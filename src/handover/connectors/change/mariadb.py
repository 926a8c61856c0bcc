"""Change and verify a MySQL/MariaDB account's password (第二十六条第2项; issue 15's MariaDB platform).

The same four calls as ``change.linux``, over one PyMySQL connection each as the target's credential (an
account with CREATE USER or UPDATE on mysql.*). The account is the discovery's label ``user@host``.

``change`` computes mysql_native_password's stored form here (``*`` + SHA1(SHA1(password)), upper-case hex)
and sends ``ALTER USER 'user'@'host' IDENTIFIED BY PASSWORD '*…'``: the password itself never leaves this
process, so a server with the general log on logs a verifier, never the secret. An account on another plugin
(ed25519, unix_socket) is moved to mysql_native_password by this: the snapshot then differs and the run says
so. ``stored_matches`` reads ``mysql.user.authentication_string``; ``login_works`` logs in as the account over
TCP (an account of host ``localhost`` cannot be reached so: unverified); ``snapshot`` is the account's plugin,
lock, expiry and limits and its grants (the IDENTIFIED part masked), which the change must leave as they were.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from handover.connectors import run as connectors_run
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target
from handover.connectors.mariadb import _driver, _failure, _where, login_user

IDENTIFIED = re.compile(r"IDENTIFIED (BY PASSWORD|VIA|WITH) .*?(?= WITH | REQUIRE |$)", re.I)


@dataclass(frozen=True)
class Snapshot:
    """What a password change must not touch."""

    plugin: str
    state: str  # password_expired, account_locked, password_lifetime
    limits: str  # max_questions, max_updates, max_connections, max_user_connections
    grants: str  # SHOW GRANTS, the IDENTIFIED part masked


def native_hash(secret: str) -> str:
    """mysql_native_password's stored form of ``secret``."""
    inner = hashlib.sha1(secret.encode(), usedforsecurity=False).digest()
    return "*" + hashlib.sha1(inner, usedforsecurity=False).hexdigest().upper()


def split(account: str) -> tuple[str, str]:
    """``user@host`` → (user, host); a label without ``@`` is ``user@%``."""
    user, at, host = account.rpartition("@")
    return (user, host) if at else (account, "%")


def _connect(target: Target, credential: Credential) -> Any:
    pymysql = _driver()
    where = _where(target)
    failure: GatherError | None = None
    try:
        ssl: dict[str, Any] = {"ssl": {}} if target.option("ssl") == "require" else {}
        return pymysql.connect(
            host=target.host, port=target.port, user=login_user(credential.username), password=credential.secret,
            connect_timeout=max(1, int(target.timeout)), read_timeout=int(target.timeout),
            write_timeout=int(target.timeout), charset="utf8mb4", autocommit=True, **ssl,
        )  # fmt: skip
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        failure = _failure(where, credential.username, code, connecting=True)
    raise failure


def _with(target: Target, credential: Credential, work: Any) -> Any:
    pymysql = _driver()
    failure: GatherError | None = None
    conn = _connect(target, credential)
    try:
        with conn, conn.cursor() as cursor:
            return work(cursor)
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        failure = _failure(_where(target), credential.username, code, connecting=False)
    raise failure


async def change(target: Target, admin: Credential, account: str, new_secret: str) -> None:
    """Set ``account``'s password to ``new_secret`` (its native hash only crosses the wire)."""
    user, host = split(account)
    stored = native_hash(new_secret)

    def work(cursor: Any) -> None:
        cursor.execute("ALTER USER %s@%s IDENTIFIED BY PASSWORD %s", (user, host, stored))

    await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)


async def stored_matches(target: Target, admin: Credential, account: str, secret: str) -> bool:
    """Rung 1: the stored verifier is ``secret``'s native hash."""
    user, host = split(account)

    def work(cursor: Any) -> str:
        cursor.execute(
            "SELECT authentication_string FROM mysql.user WHERE User = %s AND Host = %s", (user, host)
        )
        row = cursor.fetchone()
        return str(row[0] or "") if row else ""

    stored = await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)
    return hmac.compare_digest(str(stored).upper(), native_hash(secret))


def _login(target: Target, credential: Credential) -> bool:
    try:
        _connect(target, credential).close()
    except GatherError as exc:
        if exc.status in (Status.AUTH_FAILED, Status.LOCKED):
            return False
        raise
    return True


async def login_works(target: Target, account: str, secret: str) -> bool:
    """Rung 2: a fresh login as the account (its user part, over TCP) succeeds."""
    return bool(await connectors_run.in_thread(_login, target, Credential(account, secret)))


async def snapshot(target: Target, admin: Credential, account: str) -> Snapshot:
    """Everything about the account the change must not touch."""
    user, host = split(account)

    def work(cursor: Any) -> Snapshot:
        cursor.execute(
            "SELECT plugin, password_expired, "
            "concat_ws(',', max_questions, max_updates, max_connections, max_user_connections) "
            "FROM mysql.user WHERE User = %s AND Host = %s",
            (user, host),
        )
        row = cursor.fetchone()
        try:  # MariaDB keeps the lock and the lifetime in global_priv's JSON; MySQL in mysql.user
            cursor.execute(
                "SELECT concat_ws(',', JSON_VALUE(Priv, '$.account_locked'), JSON_VALUE(Priv, '$.password_lifetime'))"
                " FROM mysql.global_priv WHERE User = %s AND Host = %s",
                (user, host),
            )
        except _driver().err.ProgrammingError:
            cursor.execute(
                "SELECT concat_ws(',', account_locked, password_lifetime) FROM mysql.user "
                "WHERE User = %s AND Host = %s",
                (user, host),
            )
        lock = cursor.fetchone()
        if row is None:
            raise GatherError(
                Status.REFUSED,
                f"{_where(target)}: no account {account!r}",
                f"{_where(target)}：没有账户 {account}",
            )
        cursor.execute("SHOW GRANTS FOR %s@%s", (user, host))
        grants = "\n".join(
            sorted(IDENTIFIED.sub("IDENTIFIED <masked>", str(g[0])) for g in cursor.fetchall())
        )
        plugin = str(row[0] or "")
        state = f"{row[1]},{lock[0] if lock else ''}"
        return Snapshot("mysql_native_password" if plugin == "" else plugin, state, str(row[2]), grants)

    result: Snapshot = await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)
    return result
