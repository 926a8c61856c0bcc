"""Change and verify an Oracle account's password (第二十六条第2项; issue 15's Oracle platform), over one
python-oracledb connection each as the target's credential (a DBA: ALTER USER, and SYS's view of USER$ for rung 1).

``change`` computes the account's verifiers here and sends ``ALTER USER "NAME" IDENTIFIED BY VALUES 'S:…;T:…'``:
the statement text (V$SQL, the audit trail, a trace) holds verifiers, never the password. The two verifiers, as
published by Trustwave SpiderLabs ("Changes in Oracle Database 12c password hashes", 2015) and implemented by
John the Ripper's oracle11 and oracle12c formats, whose test vectors tests/connectors/test_change_oracle.py checks:

- 11g ``S:`` — SHA-1 over the password's UTF-8 bytes then a 10-byte random salt; stored as 40 hex digits of
  the digest then 20 of the salt.
- 12c ``T:`` — a 16-byte random salt (AUTH_VFR_DATA); key = PBKDF2-HMAC-SHA512(password, salt ‖
  ``AUTH_PBKDF2_SPEEDY_KEY``, 4096 iterations, 64 bytes); stored as SHA-512(key ‖ salt), 128 hex digits, then
  the salt's 32.

An 11g database takes ``S:`` only (``T:`` is 12.1.0.2's); 12c and later take both. No ``REPLACE`` clause is ever
needed: it is for a user changing their own password without ALTER USER, and would put the old and the new
password into the statement text. Such an account (the connection's own login refused ALTER USER, ORA-01031 or
ORA-28221) is changed by the driver's protocol-level password change (``Connection.changepassword``), which
sends no SQL at all.

``stored_matches`` reads ``SYS.USER$.SPARE4`` and recomputes from its salts (only SYS may read USER$ from 12c: a
DBA without it gets a fresh login instead, like Active Directory's bind); ``login_works`` is a fresh login as the
account; ``snapshot`` is DBA_USERS' status, profile, authentication type and tablespaces, the roles and system
privileges granted to it; ``lock_state``/``disable``/``enable`` are ``ACCOUNT LOCK`` and its exact reverse.
``offline_statements``/``offline_check`` are the firm DBA's path where Handover cannot connect
(``oracle_rotate.sql``).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from handover.connectors import oracle
from handover.connectors import run as connectors_run
from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.manifest import Credential, Target

SPEEDY_KEY = b"AUTH_PBKDF2_SPEEDY_KEY"
T_ITERATIONS = 4096
NAME = re.compile(r'^[^"\x00]{1,128}$')
VALUES = re.compile(r"^(?:[STH]:[0-9A-F]+)(?:;[STH]:[0-9A-F]+)*$")
_S = re.compile(r"S:([0-9A-Fa-f]{40})([0-9A-Fa-f]{20})")
_T = re.compile(r"T:([0-9A-Fa-f]{128})([0-9A-Fa-f]{32})")
OWN_CHANGE = (1031, 28221)  # no ALTER USER: the account's own login changes its password by the protocol


def s_verifier(password: str, salt: bytes | None = None) -> str:
    """11g's ``S:`` verifier of ``password`` (a fresh 10-byte salt unless one is given)."""
    salt = secrets.token_bytes(10) if salt is None else salt
    digest = hashlib.sha1(password.encode("utf-8") + salt, usedforsecurity=False).digest()
    return "S:" + (digest + salt).hex().upper()


def t_verifier(password: str, salt: bytes | None = None) -> str:
    """12c's ``T:`` verifier of ``password`` (a fresh 16-byte AUTH_VFR_DATA unless one is given)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt + SPEEDY_KEY, T_ITERATIONS, 64)
    return "T:" + (hashlib.sha512(key + salt).digest() + salt).hex().upper()


def verifier(password: str, *, major: int) -> str:
    """The ``IDENTIFIED BY VALUES`` string for a database of version ``major``: ``S:`` alone before 12c."""
    parts = [s_verifier(password)]
    if major >= 12:
        parts.append(t_verifier(password))
    return ";".join(parts)


def matches(stored: str, password: str) -> bool:
    """Whether ``stored`` (SPARE4, or a VALUES string) is ``password``'s: every S: and T: part in it must be
    (the DES-era and H: parts are not checked); False when it has neither."""
    checked = False
    for found in _S.finditer(stored or ""):
        checked = True
        if not hmac.compare_digest(
            s_verifier(password, bytes.fromhex(found.group(2))), found.group(0).upper()
        ):
            return False
    for found in _T.finditer(stored or ""):
        checked = True
        if not hmac.compare_digest(
            t_verifier(password, bytes.fromhex(found.group(2))), found.group(0).upper()
        ):
            return False
    return checked


def _name(account: str) -> str:
    if not NAME.match(account):
        raise ValueError("not an Oracle user name")
    return account.upper() if account == account.lower() or account.isupper() else account


def _quoted(account: str) -> str:
    return '"' + _name(account) + '"'


def _dsn(target: Target) -> str:
    return f"{target.host}:{target.port}/{target.option('service') or 'ORCLPDB1'}"


def _driver() -> Any:
    return importlib.import_module(oracle.DRIVER)


def _where(target: Target) -> str:
    return f"{target.host}:{target.port}"


def _connect(target: Target, credential: Credential) -> Any:
    driver = _driver()
    failure: GatherError | None = None
    try:
        return driver.connect(user=credential.username, password=credential.secret, dsn=_dsn(target),
                              tcp_connect_timeout=max(1.0, target.timeout))  # fmt: skip
    except driver.Error as exc:
        failure = oracle._failure(_where(target), oracle.ora_code(exc))
    raise failure


def _with(target: Target, credential: Credential, work: Any) -> Any:
    driver = _driver()
    failure: GatherError | None = None
    conn = _connect(target, credential)
    try:
        with conn.cursor() as cursor:
            return work(conn, cursor)
    except driver.Error as exc:  # the driver's message may quote the statement: only its ORA- code is kept
        failure = oracle._failure(_where(target), oracle.ora_code(exc))
    finally:
        conn.close()
    raise failure


def _major(conn: Any) -> int:
    try:
        return int(str(conn.version).split(".")[0])
    except (AttributeError, ValueError):
        return 11  # not known: S: alone, which every version from 11g takes


def _change(target: Target, admin: Credential, account: str, new_secret: str) -> None:
    driver = _driver()
    own = _name(admin.username) == _name(account)
    conn = _connect(target, admin)
    code: int | None = None
    try:
        with conn.cursor() as cursor:
            values = verifier(new_secret, major=_major(conn))
            try:
                cursor.execute(f"ALTER USER {_quoted(account)} IDENTIFIED BY VALUES '{values}'")
                return
            except driver.Error as exc:
                code = oracle.ora_code(exc)
            if own and code in OWN_CHANGE:  # the protocol's own change: no statement text at all
                try:
                    conn.changepassword(admin.secret, new_secret)
                    return
                except driver.Error as exc:
                    code = oracle.ora_code(exc)
    finally:
        conn.close()
    raise oracle._failure(_where(target), code)


async def change(target: Target, admin: Credential, account: str, new_secret: str) -> None:
    """Set ``account``'s password to ``new_secret``: its verifiers only cross the wire."""
    await connectors_run.in_thread(lambda t, c: _change(t, c, account, new_secret), target, admin)


def _spare4(target: Target, admin: Credential, account: str) -> str | None:
    """USER$.SPARE4 of ``account``; None when the credential may not read USER$ (only SYS from 12c)."""
    driver = _driver()
    conn = _connect(target, admin)
    try:
        with conn.cursor() as cursor:
            try:
                cursor.execute("SELECT spare4 FROM sys.user$ WHERE name = :name", {"name": _name(account)})
            except driver.Error as exc:
                if oracle.ora_code(exc) in (942, 1031):
                    return None
                raise oracle._failure(_where(target), oracle.ora_code(exc)) from None
            row = cursor.fetchone()
            return str(row[0] or "") if row else ""
    finally:
        conn.close()


async def stored_verifier(target: Target, admin: Credential, account: str) -> str | None:
    """The account's stored verifier (SPARE4: secret material, the caller seals or drops it), None if unreadable."""
    result: str | None = await connectors_run.in_thread(lambda t, c: _spare4(t, c, account), target, admin)
    return result


def verifier_holds(verifier: str, secret: str) -> bool:
    """Whether a SPARE4 (its S: and T: parts) is ``secret``'s."""
    return matches(verifier, secret)


def same_verifier(one: str, other: str) -> bool:
    """Whether two SPARE4 readings hold the same S: and T: verifiers (an H: or DES part aside)."""
    return hmac.compare_digest(proof(one), proof(other))


async def set_verifier(target: Target, admin: Credential, account: str, verifier: str) -> None:
    """``ALTER USER … IDENTIFIED BY VALUES`` with SPARE4's S: and T: parts as they were."""
    values = ";".join(found.group(0).upper() for found in (_S.search(verifier), _T.search(verifier)) if found)
    if not values:
        raise ValueError("no S: or T: verifier")
    statement = f"ALTER USER {_quoted(account)} IDENTIFIED BY VALUES '{values}'"
    await connectors_run.in_thread(
        lambda t, c: _with(t, c, lambda conn, cursor: cursor.execute(statement)), target, admin
    )


async def stored_matches(target: Target, admin: Credential, account: str, secret: str) -> bool:
    """Rung 1: the stored verifier is ``secret``'s, recomputed from its own salts; where USER$ is not readable,
    a fresh login as the account."""
    stored = await stored_verifier(target, admin, account)
    if stored is None:
        return await login_works(target, account, secret, admin=admin)
    return matches(stored, secret)


def _login(target: Target, credential: Credential) -> bool:
    try:
        _connect(target, credential).close()
    except GatherError as exc:
        if exc.status in (Status.AUTH_FAILED, Status.LOCKED):
            return False
        raise
    return True


async def login_works(target: Target, account: str, secret: str, *, admin: Credential | None = None) -> bool:
    """Rung 2: a fresh login as the account succeeds."""
    return bool(await connectors_run.in_thread(_login, target, Credential(_name(account), secret)))


@dataclass(frozen=True)
class Snapshot:
    """What a password change must not touch (the expiry date moves with every change: not kept)."""

    state: str  # account_status, profile, authentication_type, default and temporary tablespaces
    roles: str  # DBA_ROLE_PRIVS: role, admin option, default role
    privileges: str  # DBA_SYS_PRIVS: privilege, admin option


def _snapshot(conn: Any, cursor: Any, target: Target, account: str) -> Snapshot:
    name = {"name": _name(account)}
    cursor.execute(
        "SELECT account_status, profile, authentication_type, default_tablespace, temporary_tablespace "
        "FROM dba_users WHERE username = :name", name,
    )  # fmt: skip
    row = cursor.fetchone()
    if row is None:
        raise GatherError(Status.REFUSED, f"{_where(target)}: no account {account!r}",
                          f"{_where(target)}：没有账户 {account}")  # fmt: skip
    cursor.execute(
        "SELECT granted_role, admin_option, default_role FROM dba_role_privs WHERE grantee = :name", name
    )
    roles = "\n".join(sorted(",".join(str(v) for v in r) for r in cursor.fetchall()))
    cursor.execute("SELECT privilege, admin_option FROM dba_sys_privs WHERE grantee = :name", name)
    privileges = "\n".join(sorted(",".join(str(v) for v in r) for r in cursor.fetchall()))
    return Snapshot(",".join(str(v) for v in row), roles, privileges)


async def snapshot(target: Target, admin: Credential, account: str) -> Snapshot:
    """Everything about the account the change must not touch."""
    result: Snapshot = await connectors_run.in_thread(
        lambda t, c: _with(t, c, lambda conn, cursor: _snapshot(conn, cursor, t, account)), target, admin
    )
    return result


# --- 停用 (第二十六条第3项 A) and its exact restore (第二十八条第3项) ---------------------------------------------

DISABLED = {"locked": "yes"}


async def lock_state(target: Target, admin: Credential, account: str) -> dict[str, str]:
    """Whether DBA_USERS.ACCOUNT_STATUS says LOCKED (LOCKED, LOCKED(TIMED), EXPIRED & LOCKED …)."""

    def work(conn: Any, cursor: Any) -> dict[str, str]:
        cursor.execute(
            "SELECT account_status FROM dba_users WHERE username = :name", {"name": _name(account)}
        )
        row = cursor.fetchone()
        if row is None:
            raise GatherError(Status.REFUSED, f"{_where(target)}: no account {account!r}",
                              f"{_where(target)}：没有账户 {account}")  # fmt: skip
        return {"locked": "yes" if "LOCKED" in str(row[0]).upper() else "no"}

    result: dict[str, str] = await connectors_run.in_thread(lambda t, c: _with(t, c, work), target, admin)
    return result


async def _lock(target: Target, admin: Credential, account: str, lock: bool) -> None:
    statement = f"ALTER USER {_quoted(account)} ACCOUNT {'LOCK' if lock else 'UNLOCK'}"
    await connectors_run.in_thread(
        lambda t, c: _with(t, c, lambda conn, cursor: cursor.execute(statement)), target, admin
    )


async def disable(target: Target, admin: Credential, account: str) -> None:
    """``ALTER USER … ACCOUNT LOCK``: rights and password kept, no new session."""
    await _lock(target, admin, account, True)


async def enable(target: Target, admin: Credential, account: str, before: dict[str, str]) -> None:
    """Bring back ``before``: unlocked only if it was not locked."""
    if before.get("locked") not in ("yes", "no"):
        raise ValueError("not a lock state read by lock_state")
    await _lock(target, admin, account, before["locked"] == "yes")


def disabled(state: dict[str, str]) -> bool:
    """Whether ``state`` is what ``disable`` leaves."""
    return state.get("locked") == "yes"


# --- the offline path: the firm's DBA runs oracle_rotate.sql ---------------------------------------------------

OFFLINE_NAME = "handover_verifiers.sql"


def offline_statements(verifiers: dict[str, str]) -> bytes:
    """The file ``oracle_rotate.sql`` runs (``@handover_verifiers.sql``): one ``ALTER USER … IDENTIFIED BY VALUES``
    per account, from verifiers computed here (``verifier``). It holds no password, but verifiers are secret
    material: the vault hands it over as it hands over a secret."""
    lines = ["-- Handover: new verifiers (no password). Run through oracle_rotate.sql, never by hand."]
    for account, values in sorted(verifiers.items()):
        if not VALUES.match(values):
            raise ValueError("not an IDENTIFIED BY VALUES string")
        lines.append(f"ALTER USER {_quoted(account)} IDENTIFIED BY VALUES '{values}';")
    return ("\n".join(lines) + "\n").encode("ascii")


def offline_check(
    spool: bytes, verifiers: dict[str, str], *, source: str = "handover_rotate.lst"
) -> dict[str, bool]:
    """From the spool of ``oracle_rotate.sql``: per account, whether the database now holds exactly the verifier
    Handover computed (the script prints SHA-256 of SPARE4, never SPARE4). Refused, naming the line, when the
    spool is not the script's or is cut off."""
    seen: dict[str, str] = {}
    done = False
    for number, raw in enumerate(spool.decode("utf-8", errors="replace").splitlines(), 1):
        if not raw.startswith("HANDOVER|"):
            continue
        parts = raw.rstrip().split("|")
        if parts[1] == "done":
            done = True
        elif parts[1] == "verifier" and len(parts) == 4 and re.fullmatch(r"[0-9A-Fa-f]{64}|", parts[3]):
            seen[parts[2]] = parts[3].lower()
        else:
            raise ParseError(
                source, number, "not a line of oracle_rotate.sql", "不是 oracle_rotate.sql 的输出行"
            )
    if not done:
        raise ParseError(
            source,
            None,
            "the spool is cut off (no HANDOVER|done line)",
            "输出不完整（缺少 HANDOVER|done 行）",
        )
    return {
        account: hmac.compare_digest(seen.get(_name(account), ""), proof(values))
        for account, values in verifiers.items()
    }


def proof(values: str) -> str:
    """SHA-256 (hex) of a verifier's ``S:…;T:…`` parts as ``oracle_rotate.sql`` prints it for SPARE4 (``T:`` empty
    on 11g; other parts, such as ``H:``, left out)."""
    s, t = _S.search(values), _T.search(values)
    text = f"{s.group(0).upper() if s else ''};{t.group(0).upper() if t else ''}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()
