"""A stand-in for python-oracledb (the DB-API module), answering the data-dictionary queries of
``oracle_collect.sql`` as an Oracle 11g, 12c, 19c or 23ai database would: the columns each version has (an
11g has no LAST_LOGIN, SYSBACKUP or ORACLE_MAINTAINED: ORA-00904), the ORA- errors of a refused login, and
rows as SQL*Plus concatenation gives them (NULL as nothing). Not a mock of Handover's code: the connector
imports it in place of ``oracledb`` (``oracle.DRIVER``)."""

from __future__ import annotations

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

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


SERVERS: dict[str, Database] = {}  # "host:port" → database


def _t(value: datetime | None, zone: bool = False) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S") + (" +08:00" if zone else "")


class Cursor:
    def __init__(self, db: Database) -> None:
        self.db, self.rows = db, []  # type: ignore[var-annotated]

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def execute(self, sql: str) -> None:
        self.db.executed.append(sql)
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


class Connection:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.warning = (
            _ErrorInfo(28002, "ORA-28002", "the password will expire within 7 days")
            if db.password_warning
            else None
        )

    def cursor(self) -> Cursor:
        return Cursor(self.db)

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
    if found is None or found.password != password:
        raise _ora(1017, "invalid credential or not authorized; logon denied")
    if "LOCKED" in found.status:
        raise _ora(28000, "The account is locked.")
    if found.status == "EXPIRED":
        raise _ora(28001, "the password has expired")
    return Connection(db)
