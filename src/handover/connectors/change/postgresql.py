"""Change and verify a PostgreSQL role's password (第二十六条第2项; issue 15's PostgreSQL platform).

The same four calls as ``change.linux`` (``change``, ``stored_matches``, ``login_works``, ``snapshot``), over
one connection each as the target's credential (a superuser, or a role with CREATEROLE for non-superusers).

``change`` computes the SCRAM-SHA-256 verifier here, with libpq's own ``PQencryptPasswordConn`` (psycopg's
``pgconn.encrypt_password``), and sends ``ALTER ROLE … PASSWORD 'SCRAM-SHA-256$…'``: the password itself never
leaves this process, so a server logging every statement (``log_statement=all``) logs a verifier, never the
secret (PostgreSQL's own ``\\password`` does the same). ``stored_matches`` reads ``pg_authid.rolpassword`` and
checks the secret against it (SCRAM by RFC 5802/7677; md5 as ``md5(password || role)``); ``login_works`` logs in
as the role itself; ``snapshot`` is everything about the role but its password (attributes, VALID UNTIL,
connection limit, memberships, settings), which the change must leave as it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from handover.connectors import run as connectors_run
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target
from handover.connectors.postgresql import _connect, _where


@dataclass(frozen=True)
class Snapshot:
    """What a password change must not touch."""

    attributes: str  # super, inherit, createrole, createdb, canlogin, replication, bypassrls
    valid_until: str
    connection_limit: str
    member_of: str  # granted roles, with admin option
    settings: str  # ALTER ROLE … SET


def _refused(target: Target, what: str, exc: BaseException) -> GatherError:
    state = getattr(exc, "sqlstate", None) or "-"
    return GatherError(
        Status.REFUSED,
        f"{_where(target)}: {what} was refused (SQLSTATE {state})",
        f"{_where(target)}：{what}被拒绝（SQLSTATE {state}）",
    )


def _with(target: Target, credential: Credential, work: Any) -> Any:
    import psycopg

    conn = _connect(target, credential)
    try:
        with conn:
            conn.autocommit = True
            return work(conn)
    except psycopg.Error as exc:
        raise _refused(target, "the statement", exc) from None


def _change(target: Target, admin: Credential, account: str, new_secret: str) -> None:
    from psycopg import sql

    def work(conn: Any) -> None:
        verifier = conn.pgconn.encrypt_password(new_secret.encode(), account.encode(), b"scram-sha-256")
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(account), sql.Literal(verifier.decode("ascii"))
        )
        conn.execute(statement)

    _with(target, admin, work)


async def change(target: Target, admin: Credential, account: str, new_secret: str) -> None:
    """Set ``account``'s password to ``new_secret`` (its SCRAM verifier only crosses the wire)."""
    await connectors_run.in_thread(lambda t, c: _change(t, c, account, new_secret), target, admin)


def scram_matches(secret: str, verifier: str) -> bool:
    """Whether ``secret`` is the password of a stored ``SCRAM-SHA-256$iter:salt$StoredKey:ServerKey``."""
    try:
        method, rest = verifier.split("$", 1)
        counts, keys = rest.split("$", 1)
        iterations, salt = counts.split(":", 1)
        stored, _server = keys.split(":", 1)
        if method != "SCRAM-SHA-256":
            return False
        salted = hashlib.pbkdf2_hmac("sha256", secret.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored))


def _stored(target: Target, admin: Credential, account: str) -> str:
    def work(conn: Any) -> str:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (account,)).fetchone()
        return str(row[0] or "") if row else ""

    return str(_with(target, admin, work))


async def stored_matches(target: Target, admin: Credential, account: str, secret: str) -> bool:
    """Rung 1: the stored verifier is ``secret``'s (pg_authid, readable by a superuser)."""
    verifier = await connectors_run.in_thread(lambda t, c: _stored(t, c, account), target, admin)
    if verifier.startswith("md5"):
        # PostgreSQL's legacy format itself (md5 of password and role name): read to check, never written.
        expected = "md5" + hashlib.md5((secret + account).encode(), usedforsecurity=False).hexdigest()
        return hmac.compare_digest(verifier, expected)
    return scram_matches(secret, verifier)


# --- the exact previous verifier (E01's revert, 第二十八条第1项) ---------------------------------------------


async def stored_verifier(target: Target, admin: Credential, account: str) -> str | None:
    """pg_authid.rolpassword as it is (secret material: the caller seals or drops it); None when there is none."""
    verifier = await connectors_run.in_thread(lambda t, c: _stored(t, c, account), target, admin)
    return verifier or None


def verifier_holds(verifier: str, secret: str, account: str = "") -> bool:
    """Whether a rolpassword is ``secret``'s (SCRAM; md5 needs the role's name)."""
    if verifier.startswith("md5"):
        expected = "md5" + hashlib.md5((secret + account).encode(), usedforsecurity=False).hexdigest()
        return hmac.compare_digest(verifier, expected)
    return scram_matches(secret, verifier)


async def set_verifier(target: Target, admin: Credential, account: str, verifier: str) -> None:
    """``ALTER ROLE … PASSWORD '<verifier>'``: PostgreSQL keeps a SCRAM or md5 verifier as given."""
    from psycopg import sql

    if not (verifier.startswith("SCRAM-SHA-256$") or re.fullmatch(r"md5[0-9a-f]{32}", verifier)):
        raise ValueError("not a PostgreSQL password verifier")

    def work(conn: Any) -> None:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(account), sql.Literal(verifier))
        )

    await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)


def _login(target: Target, credential: Credential) -> bool:
    try:
        conn = _connect(target, credential)
    except GatherError as exc:
        if exc.status is Status.AUTH_FAILED:
            return False
        raise
    conn.close()
    return True


async def login_works(target: Target, account: str, secret: str, *, admin: Credential | None = None) -> bool:
    """Rung 2: a fresh login as the role itself succeeds (False for a wrong password or a NOLOGIN role)."""
    return bool(await connectors_run.in_thread(_login, target, Credential(account, secret)))


SNAPSHOT = """
SELECT concat_ws(',', CASE WHEN r.rolsuper THEN 'super' END, CASE WHEN r.rolinherit THEN 'inherit' END,
                 CASE WHEN r.rolcreaterole THEN 'createrole' END, CASE WHEN r.rolcreatedb THEN 'createdb' END,
                 CASE WHEN r.rolcanlogin THEN 'login' END, CASE WHEN r.rolreplication THEN 'replication' END,
                 CASE WHEN r.rolbypassrls THEN 'bypassrls' END),
       coalesce(to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''),
       r.rolconnlimit::text,
       coalesce((SELECT string_agg(g.rolname || CASE WHEN m.admin_option THEN '+admin' ELSE '' END, ','
                                   ORDER BY g.rolname)
                 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), ''),
       coalesce((SELECT string_agg(array_to_string(s.setconfig, ';'), '|' ORDER BY s.setdatabase)
                 FROM pg_db_role_setting s WHERE s.setrole = r.oid), '')
FROM pg_roles r WHERE r.rolname = %s
"""


def _snapshot(target: Target, admin: Credential, account: str) -> Snapshot:
    def work(conn: Any) -> Snapshot:
        row = conn.execute(SNAPSHOT, (account,)).fetchone()
        if row is None:
            raise GatherError(
                Status.REFUSED,
                f"{_where(target)}: no role {account!r}",
                f"{_where(target)}：没有角色 {account}",
            )
        return Snapshot(*(str(v) for v in row))

    result: Snapshot = _with(target, admin, work)
    return result


async def snapshot(target: Target, admin: Credential, account: str) -> Snapshot:
    """Everything about the role the change must not touch."""
    result: Snapshot = await connectors_run.in_thread(lambda t, c: _snapshot(t, c, account), target, admin)
    return result


# --- restoring the roles from the backup (第二十六条第3项) --------------------------------------------------

_PASSWORD = re.compile(r" PASSWORD (NULL|'(?:[^']|'')*')")
_CREATE = re.compile(r"^CREATE ROLE (.+)$", re.S)
_OWNER = re.compile(r"^ALTER DATABASE (.+) OWNER TO .+$", re.S)


@dataclass(frozen=True)
class RolesRestored:
    after: bytes  # the roles dump after the restore (sealed by the caller: it holds verifiers)
    created: tuple[str, ...]  # roles dropped since the backup, created again
    disabled: tuple[
        str, ...
    ]  # roles created since the backup, made NOLOGIN (not dropped: they may own objects)


def _restore_roles(target: Target, admin: Credential, backup: bytes, expect: str) -> RolesRestored:
    import psycopg

    from handover.connectors import sqlscan
    from handover.connectors.model import digest_of
    from handover.connectors.postgresql import _dump_text

    where = _where(target)
    statements = [s.text for s in sqlscan.statements(backup.decode("utf-8"), sqlscan.PG)]
    idents = [m.group(1) for s in statements if (m := _CREATE.match(s))]
    conn = _connect(target, admin)
    try:
        with conn, conn.transaction():
            if digest_of(_dump_text(conn, where).encode("utf-8")) != expect:
                raise GatherError(
                    Status.REFUSED, f"{where}: the roles changed since the preview: preview again",
                    f"{where}：角色在预览之后已变化，请重新预览",
                )  # fmt: skip
            existing = {
                i
                for (i,) in conn.execute("SELECT quote_ident(rolname) FROM pg_roles WHERE rolname !~ '^pg_'")
            }
            me = conn.execute("SELECT quote_ident(current_user)").fetchone()[0]
            wanted = set(idents)
            extra = sorted(i for i in existing if i not in wanted and i != me)
            memberships = conn.execute(
                "SELECT quote_ident(g.rolname), quote_ident(m.rolname), quote_ident(b.rolname) "
                "FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
                "JOIN pg_roles m ON m.oid = a.member JOIN pg_roles b ON b.oid = a.grantor "
                "WHERE m.rolname !~ '^pg_'"
            ).fetchall()
            for role, member, grantor in memberships:  # identifiers quoted by the server
                conn.execute(f"REVOKE {role} FROM {member} GRANTED BY {grantor}")
            for ident in idents:
                if ident in existing:
                    conn.execute(f"ALTER ROLE {ident} RESET ALL")
            for ident in extra:
                conn.execute(f"ALTER ROLE {ident} NOLOGIN")
            databases = {
                d for (d,) in conn.execute("SELECT quote_ident(datname) FROM pg_database").fetchall()
            }
            for statement in statements:
                created = _CREATE.match(statement)
                if created and created.group(1) in existing:
                    continue
                owner = _OWNER.match(statement)
                if owner and owner.group(1) not in databases:
                    continue
                if statement.startswith("ALTER ROLE ") and " WITH " in statement:
                    ident = statement[len("ALTER ROLE ") :].split(" WITH ", 1)[0]
                    if ident in existing:  # the password stays the vault's (rotation); rights come back
                        statement = _PASSWORD.sub("", statement)
                conn.execute(statement)
            after = _dump_text(conn, where).encode("utf-8")
    except psycopg.Error as exc:
        raise _refused(target, "the restore", exc) from None
    return RolesRestored(after, tuple(sorted(set(idents) - set(existing))), tuple(extra))


async def restore_roles(target: Target, admin: Credential, backup: bytes, expect: str) -> RolesRestored:
    """Put the roles back as ``backup`` (the connector's roles dump) holds them, in one transaction, provided
    the cluster's roles dump still has the digest ``expect`` the preview saw: attributes, VALID UNTIL, limits,
    settings, memberships and database owners as in the backup; roles dropped since created again (with the
    backup's password); roles created since made NOLOGIN with their memberships revoked. Existing roles keep
    their current passwords: those are the vault's (rotation), not the backup's."""
    result: RolesRestored = await connectors_run.in_thread(
        lambda t, c: _restore_roles(t, c, backup, expect), target, admin
    )
    return result


# --- 停用 (第二十六条第3项 A) and its exact restore (第二十八条第3项) ---------------------------------------------

DISABLED = {"login": "no"}


def _lock_state(target: Target, admin: Credential, account: str) -> dict[str, str]:
    def work(conn: Any) -> dict[str, str]:
        row = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (account,)).fetchone()
        if row is None:
            raise GatherError(Status.REFUSED, f"{_where(target)}: no role {account}",
                              f"{_where(target)}：没有角色 {account}")  # fmt: skip
        return {"login": "yes" if row[0] else "no"}

    result: dict[str, str] = _with(target, admin, work)
    return result


async def lock_state(target: Target, admin: Credential, account: str) -> dict[str, str]:
    """Whether the role may log in (what a disable changes)."""
    result: dict[str, str] = await connectors_run.in_thread(
        lambda t, c: _lock_state(t, c, account), target, admin
    )
    return result


def _set_login(target: Target, admin: Credential, account: str, login: bool) -> None:
    from psycopg import sql

    keyword = sql.SQL("LOGIN" if login else "NOLOGIN")
    _with(
        target,
        admin,
        lambda conn: conn.execute(sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(account), keyword)),
    )


async def disable(target: Target, admin: Credential, account: str) -> None:
    """``ALTER ROLE … NOLOGIN``: the role keeps its objects and rights, it no longer logs in."""
    await connectors_run.in_thread(lambda t, c: _set_login(t, c, account, False), target, admin)


async def enable(target: Target, admin: Credential, account: str, before: dict[str, str]) -> None:
    """Bring back ``before``: LOGIN only if the role could log in before."""
    if before.get("login") not in ("yes", "no"):
        raise ValueError("not a lock state read by lock_state")
    await connectors_run.in_thread(
        lambda t, c: _set_login(t, c, account, before["login"] == "yes"), target, admin
    )


def disabled(state: dict[str, str]) -> bool:
    """Whether ``state`` is what ``disable`` leaves."""
    return state.get("login") == "no"
