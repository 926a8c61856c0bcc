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
On MySQL 8 (``statement_for``) the statement is ``IDENTIFIED WITH caching_sha2_password AS '$A$005$…'`` for an
account of that plugin, its form computed here (``caching_sha2``), or ``IDENTIFIED WITH mysql_native_password AS``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from handover.connectors import run as connectors_run
from handover.connectors.change import caching_sha2
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target
from handover.connectors.mariadb import _driver, _failure, _where, connect

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


def _with(target: Target, credential: Credential, work: Any) -> Any:
    pymysql = _driver()
    failure: GatherError | None = None
    conn = connect(target, credential)
    try:
        with conn, conn.cursor() as cursor:
            return work(cursor)
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        failure = _failure(_where(target), credential.username, code, connecting=False)
    raise failure


def statement_for(version: str, plugin: str) -> tuple[str, str]:
    """The statement that sets an account's verifier, and the form it takes (``native`` or ``caching_sha2``), for a
    server of ``version`` (``SELECT VERSION()``) and the account's current ``plugin``. MariaDB: ``IDENTIFIED BY
    PASSWORD`` (a native hash). MySQL 8 refuses that clause: ``IDENTIFIED WITH <plugin> AS``, keeping the account's
    plugin where it is caching_sha2_password (the 8.0 default) or mysql_native_password; any other plugin (or a
    MySQL before 8) gets the native form, the plugin's move then shown by the snapshot."""
    leading = re.match(r"\d+", version)
    major = int(leading.group(0)) if leading else 0
    if "mariadb" in version.lower() or major < 8:
        return "ALTER USER %s@%s IDENTIFIED BY PASSWORD %s", "native"
    if plugin == "caching_sha2_password":
        return "ALTER USER %s@%s IDENTIFIED WITH caching_sha2_password AS %s", "caching_sha2"
    return "ALTER USER %s@%s IDENTIFIED WITH mysql_native_password AS %s", "native"


def _current_plugin(cursor: Any, user: str, host: str) -> tuple[str, str]:
    cursor.execute("SELECT VERSION()")
    version = str(cursor.fetchone()[0])
    cursor.execute("SELECT plugin FROM mysql.user WHERE User = %s AND Host = %s", (user, host))
    row = cursor.fetchone()
    return version, str(row[0] or "") if row else ""


async def change(target: Target, admin: Credential, account: str, new_secret: str) -> None:
    """Set ``account``'s password to ``new_secret`` (its stored form only crosses the wire: the native hash, or
    MySQL 8's caching_sha2_password form, as ``statement_for`` chooses)."""
    user, host = split(account)

    def work(cursor: Any) -> None:
        statement, form = statement_for(*_current_plugin(cursor, user, host))
        if (
            form == "caching_sha2"
        ):  # plain ASCII (the salt is of the crypt alphabet): a string literal, no _binary
            stored = caching_sha2.stored_form(new_secret).decode("ascii")
        else:
            stored = native_hash(new_secret)
        cursor.execute(statement, (user, host, stored))

    await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)


async def stored_matches(target: Target, admin: Credential, account: str, secret: str) -> bool:
    """Rung 1: the stored verifier is ``secret``'s (native hash, or caching_sha2_password's form)."""
    user, host = split(account)

    def work(cursor: Any) -> bytes | str:
        cursor.execute(
            "SELECT authentication_string FROM mysql.user WHERE User = %s AND Host = %s", (user, host)
        )
        row = cursor.fetchone()
        return (row[0] or "") if row else ""

    stored = await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)
    if caching_sha2.matches(stored, secret):
        return True
    text = stored.decode("latin-1") if isinstance(stored, bytes) else str(stored)
    return hmac.compare_digest(text.upper(), native_hash(secret))


# --- the exact previous verifier (E01's revert, 第二十八条第1项) ---------------------------------------------

NATIVE = ("", "mysql_native_password")


async def stored_verifier(target: Target, admin: Credential, account: str) -> str | None:
    """``plugin`` and ``authentication_string`` as they are, one line each (secret material: the caller seals or
    drops it); None when the account has neither."""
    user, host = split(account)

    def work(cursor: Any) -> str | None:
        cursor.execute(
            "SELECT plugin, authentication_string FROM mysql.user WHERE User = %s AND Host = %s", (user, host)
        )
        row = cursor.fetchone()
        if row is None or not (row[0] or row[1]):
            return None
        auth = row[1].decode("latin-1") if isinstance(row[1], bytes) else str(row[1] or "")
        return f"{row[0] or ''}\n{auth}"

    result: str | None = await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)
    return result


def verifier_holds(verifier: str, secret: str) -> bool:
    """Whether a ``plugin``/``authentication_string`` pair is ``secret``'s (native and caching_sha2 only)."""
    plugin, _, auth = verifier.partition("\n")
    if plugin == "caching_sha2_password":
        return caching_sha2.matches(auth, secret)
    return plugin in NATIVE and hmac.compare_digest(auth.upper(), native_hash(secret))


async def set_verifier(target: Target, admin: Credential, account: str, verifier: str) -> None:
    """Put the pair back: ``IDENTIFIED BY PASSWORD`` (native on MariaDB), else ``IDENTIFIED VIA plugin USING``
    (MariaDB) or ``IDENTIFIED WITH plugin AS`` (MySQL)."""
    user, host = split(account)
    plugin, _, auth = verifier.partition("\n")
    if not re.fullmatch(r"\w{0,64}", plugin):
        raise ValueError("not an authentication plugin's name")

    def work(cursor: Any) -> None:
        cursor.execute("SELECT VERSION()")
        mariadb = "mariadb" in str(cursor.fetchone()[0]).lower()
        if plugin in NATIVE and mariadb:
            cursor.execute("ALTER USER %s@%s IDENTIFIED BY PASSWORD %s", (user, host, auth))
        elif mariadb:
            cursor.execute(f"ALTER USER %s@%s IDENTIFIED VIA {plugin} USING %s", (user, host, auth))
        else:
            cursor.execute(f"ALTER USER %s@%s IDENTIFIED WITH {plugin or 'mysql_native_password'} AS %s",
                           (user, host, auth))  # fmt: skip

    await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)


def _login(target: Target, credential: Credential) -> bool:
    try:
        connect(target, credential).close()
    except GatherError as exc:
        if exc.status in (Status.AUTH_FAILED, Status.LOCKED):
            return False
        raise
    return True


async def login_works(target: Target, account: str, secret: str, *, admin: Credential | None = None) -> bool:
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
                "SELECT JSON_VALUE(Priv, '$.account_locked'), JSON_VALUE(Priv, '$.password_lifetime')"
                " FROM mysql.global_priv WHERE User = %s AND Host = %s",
                (user, host),
            )
        except _driver().err.ProgrammingError:
            cursor.execute(
                "SELECT account_locked, password_lifetime FROM mysql.user WHERE User = %s AND Host = %s",
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
        locked, lifetime = (lock or (None, None))[:2]
        # An account never locked has no account_locked (MariaDB) and one unlocked has 0/false/N: the same.
        locked_text = "locked" if str(locked).lower() in ("1", "true", "y") else "unlocked"
        lifetime_text = "default" if lifetime in (None, "", "-1", -1) else str(lifetime)
        state = f"expired={row[1]},{locked_text},lifetime={lifetime_text}"
        return Snapshot("mysql_native_password" if plugin == "" else plugin, state, str(row[2]), grants)

    result: Snapshot = await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)
    return result


# --- restoring the accounts from the backup (第二十六条第3项) -----------------------------------------------

_STRIP = re.compile(
    r" IDENTIFIED (?:BY PASSWORD '(?:[^']|'')*'|BY '(?:[^']|'')*'|(?:VIA|WITH) .*?)(?= WITH | REQUIRE | PASSWORD "
    r"| ACCOUNT |$)",
    re.I | re.S,
)
_LIMITS = ("MAX_QUERIES_PER_HOUR", "MAX_UPDATES_PER_HOUR", "MAX_CONNECTIONS_PER_HOUR", "MAX_USER_CONNECTIONS")


@dataclass(frozen=True)
class AccountsRestored:
    after: bytes  # the grants backup after the restore (the caller seals or drops it: it holds verifiers)
    created: tuple[str, ...]  # accounts and roles dropped since the backup, created again
    disabled: tuple[str, ...]  # accounts created since the backup: locked, privileges revoked (not dropped)


def _blocks(text: str) -> list[tuple[str, bool, list[str]]]:
    """The backup's accounts and roles in order: (spec as written in its comment, is a role, its statements)."""
    from handover.connectors import sqlscan

    comments: list[sqlscan.Statement] = []
    statements = list(sqlscan.statements(text, sqlscan.MYSQL, comments=comments))
    heads = []
    for comment in comments:
        body = comment.text.lstrip("-").strip()
        if body.startswith("Grants for role "):
            heads.append((comment.line, body[len("Grants for role ") :], True))
        elif body.startswith("Grants for "):
            heads.append((comment.line, body[len("Grants for ") :], False))
    out: list[tuple[str, bool, list[str]]] = [(spec, role, []) for _line, spec, role in heads]
    for statement in statements:
        owner = [i for i, (line, _spec, _role) in enumerate(heads) if line < statement.line]
        if owner:
            out[owner[-1]][2].append(statement.text)
    return out


_SPEC = re.compile(r"^'((?:[^'\\]|\\.)*)'(?:@'((?:[^'\\]|\\.)*)')?$")


def label_of(spec: str) -> str:
    """The inventory's label (``user@host``, or a role's name) of an account written ``'user'@'host'``."""
    found = _SPEC.match(spec)
    if found is None:
        return spec
    user, host = (re.sub(r"\\(.)", r"\1", part) if part is not None else None for part in found.groups())
    return f"{user}@{host}" if host is not None else str(user)


def _restore_accounts(
    target: Target, admin: Credential, backup: bytes, expect: str, only: frozenset[str] | None
) -> AccountsRestored:
    from handover.connectors.mariadb import _backup_text
    from handover.connectors.model import digest_of

    where = _where(target)
    pymysql = _driver()
    conn = connect(target, admin)
    created: list[str] = []
    disabled: list[str] = []
    at = ""  # the account being restored, named when the server refuses a statement
    try:
        with conn, conn.cursor() as cur:
            if digest_of(_backup_text(conn).encode("utf-8")) != expect:
                raise GatherError(
                    Status.REFUSED, f"{where}: the accounts changed since the preview: preview again",
                    f"{where}：账户在预览之后已变化，请重新预览",
                )  # fmt: skip
            cur.execute("SET SESSION TRANSACTION READ WRITE")
            cur.execute("SELECT User, Host, is_role FROM mysql.user")
            found = {
                (conn.escape(u) if r == "Y" else f"{conn.escape(u)}@{conn.escape(h)}"): (
                    u,
                    "" if r == "Y" else h,
                )
                for u, h, r in cur.fetchall()
            }
            now = {spec: host == "" for spec, (_user, host) in found.items()}
            cur.execute("SELECT CURRENT_USER()")
            me_user, _, me_host = str(cur.fetchone()[0]).rpartition("@")
            me = f"{conn.escape(me_user)}@{conn.escape(me_host)}"
            blocks = _blocks(backup.decode("utf-8"))
            wanted = {spec for spec, _role, _statements in blocks}
            for spec, is_role in sorted(now.items()):
                if spec in wanted or spec == me or spec in ("'PUBLIC'",):
                    continue
                if only is not None and label_of(spec) not in only:
                    continue
                at = spec
                cur.execute(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {spec}")
                if not is_role:
                    cur.execute(f"ALTER USER {spec} ACCOUNT LOCK")
                disabled.append(spec)
            for spec, _is_role, statements in blocks:
                if only is not None and label_of(spec) not in only:
                    continue  # as the backup holds it already: not touched
                at, exists = spec, spec in now
                if exists:
                    cur.execute(
                        "SELECT Role FROM mysql.roles_mapping WHERE User = %s AND Host = %s", found[spec]
                    )
                    for (role,) in cur.fetchall():
                        cur.execute(f"REVOKE {conn.escape(role)} FROM {spec}")
                    cur.execute(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {spec}")
                else:
                    created.append(spec)
                for statement in statements:
                    upper = statement.upper()
                    if upper.startswith(("CREATE USER", "CREATE ROLE")):
                        if not exists:
                            cur.execute(statement)
                        elif upper.startswith("CREATE USER"):
                            cur.execute(_alter_from_create(spec, statement))
                        continue
                    cur.execute(_STRIP.sub("", statement) if exists else statement)
            after = _backup_text(conn).encode("utf-8")
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        raise GatherError(
            Status.REFUSED,
            f"{where}: the restore stopped at {at} (error {code}); MariaDB applies account statements one by "
            "one: gather again to see what was applied",
            f"{where}：恢复在 {at} 处中止（错误 {code}）；MariaDB 逐条执行账户语句：请重新采集查看已执行部分",
        ) from None
    return AccountsRestored(after, tuple(created), tuple(disabled))


def _alter_from_create(spec: str, statement: str) -> str:
    """``ALTER USER`` with the backup's limits (absent ones 0), lock and expiry, never its password."""
    limits = dict.fromkeys(_LIMITS, "0")
    for name, value in re.findall(r"\b(MAX_\w+)\s+(\d+)", statement, re.I):
        limits[name.upper()] = value
    text = " ".join(f"{k} {v}" for k, v in limits.items())
    lock = "ACCOUNT LOCK" if re.search(r"\bACCOUNT LOCK\b", statement, re.I) else "ACCOUNT UNLOCK"
    return f"ALTER USER {spec} WITH {text} {lock}"


async def restore_accounts(
    target: Target, admin: Credential, backup: bytes, expect: str, only: frozenset[str] | None = None
) -> AccountsRestored:
    """Put the accounts and roles back as ``backup`` (the connector's grants backup) holds them, provided the
    server's grants backup still has the digest ``expect`` the preview saw: each backed-up account's and role's
    privileges and roles revoked and granted again as in the backup, its limits and lock as then; accounts and
    roles dropped since created again (with the backup's verifier); accounts created since locked and stripped
    (not dropped). Existing accounts keep their current passwords: those are the vault's (rotation). MariaDB
    does not roll account statements back: a failure stops the restore where it is, and says so. ``only``: the
    labels (``user@host``, a role's name) of the accounts to restore; the others are not touched."""
    result: AccountsRestored = await connectors_run.in_thread(
        lambda t, c: _restore_accounts(t, c, backup, expect, only), target, admin
    )
    return result


# --- 停用 (第二十六条第3项 A) and its exact restore (第二十八条第3项) ---------------------------------------------

DISABLED = {"locked": "yes"}


async def lock_state(target: Target, admin: Credential, account: str) -> dict[str, str]:
    """Whether the account is locked (``SHOW CREATE USER`` … ``ACCOUNT LOCK``; its IDENTIFIED part is not kept)."""
    user, host = split(account)

    def work(cursor: Any) -> dict[str, str]:
        cursor.execute("SHOW CREATE USER %s@%s", (user, host))
        row = cursor.fetchone()
        # the statement's text is read here only (its IDENTIFIED part holds the verifier): nothing of it is kept
        return {"locked": "yes" if " ACCOUNT LOCK" in str(row[0] if row else "").upper() else "no"}

    result: dict[str, str] = await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)
    return result


async def _lock(target: Target, admin: Credential, account: str, lock: bool) -> None:
    user, host = split(account)
    statement = "ALTER USER %s@%s ACCOUNT LOCK" if lock else "ALTER USER %s@%s ACCOUNT UNLOCK"
    await connectors_run.in_thread(
        lambda t, c: _with(t, c, lambda cursor: cursor.execute(statement, (user, host))), target, admin
    )


async def disable(target: Target, admin: Credential, account: str) -> None:
    """``ALTER USER … ACCOUNT LOCK``: rights and password kept, no new login."""
    await _lock(target, admin, account, True)


async def enable(target: Target, admin: Credential, account: str, before: dict[str, str]) -> None:
    """Bring back ``before``: unlocked only if it was not locked."""
    if before.get("locked") not in ("yes", "no"):
        raise ValueError("not a lock state read by lock_state")
    await _lock(target, admin, account, before["locked"] == "yes")


def disabled(state: dict[str, str]) -> bool:
    """Whether ``state`` is what ``disable`` leaves."""
    return state.get("locked") == "yes"
