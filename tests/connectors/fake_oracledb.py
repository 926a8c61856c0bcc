"""A stand-in for python-oracledb (the DB-API module), answering the data-dictionary queries of
``oracle_collect.sql`` as an Oracle 11g, 12c, 19c or 23ai database would: the columns each version has (an
11g has no LAST_LOGIN, SYSBACKUP or ORACLE_MAINTAINED: ORA-00904), the ORA- errors of a refused login, and
rows as SQL*Plus concatenation gives them (NULL as nothing). Not a mock of Handover's code: the connector
imports it in place of ``oracledb`` (``oracle.DRIVER``).

For rotation it models SYS.USER$.SPARE4: a user's password is kept as Oracle keeps it, as verifiers (``S:`` from
11g, ``T:`` from 12c, computed here independently of the changer), a login recomputes them from their salts, and
``ALTER USER … IDENTIFIED BY VALUES|ACCOUNT LOCK|UNLOCK``, the rotation's reads of DBA_USERS, DBA_ROLE_PRIVS and
DBA_SYS_PRIVS, and ``Connection.changepassword`` behave as on a database: ALTER USER needs the privilege (the DBA
role or ALTER USER; ORA-01031), a VALUES string the version does not know is refused (ORA-02153), only SYS reads
USER$ (``sys_readable``), a profile may refuse a reused password (ORA-28007). Every statement text is kept in
``Database.executed`` (what V$SQL and a trace would show) for the tests' canary scans."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

VIEWS = {
    "version": "v$instance", "users": "dba_users", "last_login": "dba_users", "maintained": "dba_users",
    "password_changed": "sys.user$", "role_privs": "dba_role_privs", "sys_privs": "dba_sys_privs",
    "pwfile": "v$pwfile_users", "pwfile12": "v$pwfile_users", "profiles": "dba_profiles", "done": "dual",
}  # fmt: skip
NEW_IN_12C = {"last_login", "maintained", "pwfile12"}


@dataclass
class _ErrorInfo:
    code: int
    full_code: str
    message: str


class Error(Exception):
    pass


class DatabaseError(Error):
    pass


def _ora(code: int, message: str) -> DatabaseError:
    return DatabaseError(_ErrorInfo(code, f"ORA-{code:05d}", f"ORA-{code:05d}: {message}"))


@dataclass
class User:
    name: str
    password: str | None = None
    status: str = "OPEN"
    profile: str = "DEFAULT"
    auth: str = "PASSWORD"
    lock_date: datetime | None = None
    expiry: datetime | None = None
    created: datetime = datetime(2020, 1, 1)
    last_login: datetime | None = None
    maintained: str = "N"
    ptime: datetime | None = None
    spare4: str = (
        ""  # the verifiers; set from ``password`` by Database (the clear password is then forgotten)
    )
    default_tablespace: str = "USERS"


@dataclass
class Database:
    version: str  # 11.2.0.4.0, 12.2.0.1.0, 19.0.0.0.0, 23.0.0.0.0
    service: str = "ORCLPDB1"
    users: list[User] = field(default_factory=list)
    role_privs: list[tuple[str, str, str]] = field(default_factory=list)
    sys_privs: list[tuple[str, str, str]] = field(default_factory=list)
    pwfile: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)  # name, sysdba..syskm
    profiles: list[tuple[str, str, str]] = field(default_factory=list)
    sys_readable: bool = False  # sys.user$ (only SYS may read it)
    executed: list[str] = field(default_factory=list)
    password_warning: bool = False
    history: dict[str, list[str]] = field(
        default_factory=dict
    )  # name → verifiers used before (reuse refused)
    refuse_reuse: bool = False
    failed_logins: int = 0

    def __post_init__(self) -> None:
        for user in self.users:
            if user.password is not None and not user.spare4:
                user.spare4 = verifiers(user.password, self.major)
            user.password = None  # a database keeps verifiers only

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def user(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)

    def may_alter_users(self, name: str) -> bool:
        return (
            name == "SYS"
            or (name, "DBA", "YES") in self.role_privs
            or (name, "DBA", "NO") in self.role_privs
            or any(g == name and p == "ALTER USER" for g, p, _a in self.sys_privs)
        )


def verifiers(password: str, major: int) -> str:
    """SPARE4 as the database computes it at ``IDENTIFIED BY password`` (S: from 11g, T: from 12c)."""
    salt = os.urandom(10)
    parts = [
        "S:" + (hashlib.sha1(password.encode() + salt, usedforsecurity=False).digest() + salt).hex().upper()
    ]
    if major >= 12:
        vfr = os.urandom(16)
        key = hashlib.pbkdf2_hmac("sha512", password.encode(), vfr + b"AUTH_PBKDF2_SPEEDY_KEY", 4096, 64)
        parts.append("T:" + (hashlib.sha512(key + vfr).digest() + vfr).hex().upper())
    return ";".join(parts)


def holds(spare4: str, password: str) -> bool:
    """A login's check: the password against the T: verifier where there is one, else the S: one."""
    t = re.search(r"T:([0-9A-F]{128})([0-9A-F]{32})", spare4)
    if t is not None:
        vfr = bytes.fromhex(t.group(2))
        key = hashlib.pbkdf2_hmac("sha512", password.encode(), vfr + b"AUTH_PBKDF2_SPEEDY_KEY", 4096, 64)
        return hashlib.sha512(key + vfr).hexdigest().upper() == t.group(1)
    s = re.search(r"S:([0-9A-F]{40})([0-9A-F]{20})", spare4)
    if s is None:
        return False
    digest = hashlib.sha1(password.encode() + bytes.fromhex(s.group(2)), usedforsecurity=False)
    return digest.hexdigest().upper() == s.group(1)


SERVERS: dict[str, Database] = {}  # "host:port" → database


def _t(value: datetime | None, zone: bool = False) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S") + (" +08:00" if zone else "")


class Cursor:
    def __init__(self, db: Database, user: str = "") -> None:
        self.db, self.rows, self.user = db, [], user  # type: ignore[var-annotated]

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def execute(self, sql: str, parameters: dict[str, str] | None = None) -> None:
        self.db.executed.append(sql)
        if "HANDOVER|" not in sql:
            self.rows = _rotation(self.db, self.user, sql, parameters or {})
            return
        section = re.search(r"'HANDOVER\|([a-z_0-9]+)\|", sql).group(1)  # type: ignore[union-attr]
        if VIEWS[section] not in sql.lower():
            raise _ora(942, "table or view does not exist")
        if section in NEW_IN_12C and self.db.major < 12:
            raise _ora(904, '"LAST_LOGIN": invalid identifier')
        if section == "password_changed" and not self.db.sys_readable:
            raise _ora(942, "table or view does not exist")
        db = self.db
        out: list[list[str]]
        if section == "version":
            out = [[db.version]]
        elif section == "users":
            out = [
                [u.name, u.status, _t(u.lock_date), _t(u.expiry), u.profile, u.auth, _t(u.created)]
                for u in db.users
            ]
        elif section == "last_login":
            out = [[u.name, _t(u.last_login, zone=True)] for u in db.users if u.last_login]
        elif section == "maintained":
            out = [[u.name, u.maintained] for u in db.users]
        elif section == "password_changed":
            out = [[u.name, _t(u.ptime)] for u in db.users if u.ptime]
        elif section == "role_privs":
            out = [list(r) for r in sorted(db.role_privs)]
        elif section == "sys_privs":
            out = [list(r) for r in sorted(db.sys_privs)]
        elif section == "pwfile":
            out = [[r[0], r[1], r[2]] for r in db.pwfile]
        elif section == "pwfile12":
            out = [[r[0], r[3], r[4], r[5]] for r in db.pwfile]
        elif section == "profiles":
            out = [list(r) for r in db.profiles]
        else:
            out = [["2026-12-05 10:00:00"]]
        self.rows = [("HANDOVER|" + section + "|" + "|".join(values),) for values in out]

    def fetchall(self) -> list[tuple[str]]:
        return self.rows

    def fetchone(self) -> tuple[str, ...] | None:
        return self.rows[0] if self.rows else None


def _set(db: Database, user: User, spare4: str, password: str | None = None) -> None:
    """A new verifier; ``password`` when the database sees it (then the profile's reuse rule applies)."""
    used = [user.spare4, *db.history.get(user.name, [])]
    if db.refuse_reuse and password is not None and any(holds(old, password) for old in used):
        raise _ora(28007, "the password cannot be reused")
    db.history.setdefault(user.name, []).append(user.spare4)
    user.spare4, user.ptime = spare4, datetime(2026, 12, 5, 23)
    if user.status == "EXPIRED":
        user.status = "OPEN"


def _rotation(db: Database, me: str, sql: str, parameters: dict[str, str]) -> list[Any]:
    """The statements of connectors/change/oracle.py, as a database answers them."""
    altered = re.fullmatch(
        r'ALTER USER "([^"]+)" (IDENTIFIED BY VALUES \'([^\']*)\'|ACCOUNT (LOCK|UNLOCK))', sql
    )
    if altered is not None:
        user = db.user(altered.group(1))
        if not db.may_alter_users(me) and not (me == altered.group(1) and altered.group(3) is None):
            raise _ora(1031, "insufficient privileges")
        if user is None:
            raise _ora(1918, f"user '{altered.group(1)}' does not exist")
        if altered.group(4):
            locked = altered.group(4) == "LOCK"
            user.status = "LOCKED" if locked else "OPEN"
            user.lock_date = datetime(2026, 12, 5, 23) if locked else None
            return []
        values = altered.group(3)
        parts = values.split(";")
        if not all(
            re.fullmatch(r"S:[0-9A-F]{60}" + (r"|T:[0-9A-F]{160}" if db.major >= 12 else ""), p)
            for p in parts
        ):
            raise _ora(2153, "invalid VALUES password string")
        _set(db, user, values)
        return []
    name = parameters.get("name", "")
    user = db.user(name)
    if "FROM sys.user$" in sql:
        if not db.sys_readable:
            raise _ora(942, "table or view does not exist")
        return [(user.spare4 or None,)] if user else []
    if "FROM dba_users" in sql:
        if user is None:
            return []
        if sql.startswith("SELECT account_status FROM"):
            return [(user.status,)]
        return [(user.status, user.profile, user.auth, user.default_tablespace, "TEMP")]
    if "FROM dba_role_privs" in sql:
        return [(role, admin, "YES") for grantee, role, admin in db.role_privs if grantee == name]
    if "FROM dba_sys_privs" in sql:
        return [(privilege, admin) for grantee, privilege, admin in db.sys_privs if grantee == name]
    raise _ora(900, "invalid SQL statement")


class Connection:
    def __init__(self, db: Database, user: str = "") -> None:
        self.db, self.user, self.version = db, user, db.version
        self.warning = (
            _ErrorInfo(28002, "ORA-28002", "the password will expire within 7 days")
            if db.password_warning
            else None
        )

    def cursor(self) -> Cursor:
        return Cursor(self.db, self.user)

    def changepassword(self, old_password: str, new_password: str) -> None:
        """The protocol's own password change (OCIPasswordChange): no statement text."""
        user = self.db.user(self.user)
        assert user is not None
        if not holds(user.spare4, old_password):
            raise _ora(28008, "invalid old password")
        _set(self.db, user, verifiers(new_password, self.db.major), new_password)

    def close(self) -> None:
        return None


def connect(*, user: str, password: str, dsn: str, tcp_connect_timeout: float = 20.0) -> Connection:
    address, _, service = dsn.partition("/")
    db = SERVERS.get(address)
    if db is None:
        raise DatabaseError(
            _ErrorInfo(0, "DPY-6005", f"DPY-6005: cannot connect to database (CONNECTION_ID=x). {address}")
        )
    if service != db.service:
        raise _ora(12514, "Cannot connect to database. Service is not registered with the listener")
    found = next((u for u in db.users if u.name == user.upper()), None)
    if found is None or not holds(found.spare4, password):
        db.failed_logins += 1
        raise _ora(1017, "invalid credential or not authorized; logon denied")
    if "LOCKED" in found.status:
        raise _ora(28000, "The account is locked.")
    if found.status == "EXPIRED":
        raise _ora(28001, "the password has expired")
    return Connection(db, found.name)
