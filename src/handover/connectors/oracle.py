"""Oracle accounts and privileges (11g, 12c, 19c, 23ai), live with python-oracledb (thin) or from the spool of
the read-only SQL*Plus script ``oracle_collect.sql`` (kind ``oracle-spool``).

The live connector runs the script's own SELECT statements one by one (so the two can never drift) and writes
their rows as the spool lines the script writes; one parser reads both. A statement a version lacks (LAST_LOGIN,
SYSBACKUP, ORACLE_MAINTAINED before 12c; ``sys.user$`` without SYS's rights) fails with its ORA- code and the
rest goes on, said in a warning.

Facts (第二十二条, 第二十六条第2、3项): DBA_USERS (status, lock and expiry dates, profile, authentication type,
last login where the version has it), DBA_ROLE_PRIVS followed to the end, DBA_SYS_PRIVS, V$PWFILE_USERS
(SYSDBA, SYSOPER, SYSBACKUP, SYSDG, SYSKM), DBA_PROFILES' password limits. Super-user equivalents: the DBA
role, the password file's administrative privileges, and system privileges with ANY, or granting and
becoming users (GRANT ANY ROLE/PRIVILEGE, ALTER/CREATE/DROP/BECOME USER). The spool holds no verifier.
"""

from __future__ import annotations

import importlib
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from handover.connectors import run as connectors_run
from handover.connectors.errors import GatherError, ParseError, Status, read_bounded
from handover.connectors.manifest import Credential, Manifest, Target, register
from handover.connectors.model import (
    Account,
    AccountKind,
    Evidence,
    Group,
    Inventory,
    PasswordState,
    Privilege,
    SourceFile,
    digest_of,
)

SCRIPT = Path(__file__).with_name("oracle_collect.sql")
DRIVER = "oracledb"  # the DB-API module the live connector imports (tests give a stand-in)
MAX_FILE_BYTES = 64 << 20
SPOOL_NAME = "handover_oracle.lst"
SUPER_ROLES = frozenset(
    {"DBA", "SYSDBA", "IMP_FULL_DATABASE", "DATAPUMP_IMP_FULL_DATABASE", "EXP_FULL_DATABASE"}
)
SUPER_PRIVILEGES = frozenset(
    {
        "GRANT ANY ROLE",
        "GRANT ANY PRIVILEGE",
        "GRANT ANY OBJECT PRIVILEGE",
        "ALTER USER",
        "CREATE USER",
        "DROP USER",
        "BECOME USER",
        "ALTER DATABASE",
        "ALTER SYSTEM",
    }
)
PWFILE = ("SYSDBA", "SYSOPER")
PWFILE12 = ("SYSBACKUP", "SYSDG", "SYSKM")

# ORA- codes the connector meets, to a status and a reason a person can act on.
ORA: dict[int, tuple[Status, str, str]] = {
    1017: (Status.AUTH_FAILED, "invalid user name or password (ORA-01017)", "用户名或口令无效（ORA-01017）"),
    28000: (Status.LOCKED, "the gathering account is locked (ORA-28000)", "采集所用账户已锁定（ORA-28000）"),
    28001: (
        Status.LOCKED,
        "the gathering account's password has expired (ORA-28001)",
        "采集所用账户口令已过期（ORA-28001）",
    ),
    28003: (
        Status.REFUSED,
        "the password fails the profile's verify function (ORA-28003)",
        "口令未通过概要文件的校验函数（ORA-28003）",
    ),
    28007: (Status.REFUSED, "the password cannot be reused (ORA-28007)", "口令不能重复使用（ORA-28007）"),
    28221: (
        Status.REFUSED,
        "REPLACE is required to change this password (ORA-28221)",
        "修改此口令须带 REPLACE 子句（ORA-28221）",
    ),
    12514: (
        Status.REFUSED,
        "the listener does not know this service name (ORA-12514): check the target's option service",
        "监听器不识别该服务名（ORA-12514）：请检查目标选项 service",
    ),
    12505: (
        Status.REFUSED,
        "the listener does not know this SID (ORA-12505): check the target's option service",
        "监听器不识别该 SID（ORA-12505）：请检查目标选项 service",
    ),
    12541: (Status.UNREACHABLE, "no listener at this address (ORA-12541)", "该地址没有监听器（ORA-12541）"),
    942: (
        Status.REFUSED,
        "the account may not read the data dictionary (ORA-00942): grant it SELECT_CATALOG_ROLE",
        "该账户无权读取数据字典（ORA-00942）：请授予 SELECT_CATALOG_ROLE",
    ),
}
WARNING_ONLY = {28002: "the gathering account's password will expire soon (ORA-28002)"}
OPTIONAL = {"last_login", "maintained", "password_changed", "pwfile12"}  # a version or a right may lack them


def statements() -> list[tuple[str, str]]:
    """The script's SELECT statements as (section, SQL without the final semicolon)."""
    out = []
    for line in SCRIPT.read_text(encoding="utf-8").splitlines():
        if line.upper().startswith("SELECT "):
            section = re.search(r"'HANDOVER\|([a-z_0-9]+)\|", line)
            if section is None:
                raise RuntimeError(f"oracle_collect.sql: a SELECT without its section: {line[:60]}")
            out.append((section.group(1), line.rstrip().rstrip(";")))
    return out


# --- the spool ------------------------------------------------------------------------------------------


@dataclass
class _Spool:
    source: str
    digest: str
    version: str = ""
    done: bool = False
    users: dict[str, tuple[list[str], int, str]] = field(default_factory=dict)
    extra: dict[str, dict[str, tuple[list[str], int, str]]] = field(default_factory=dict)
    role_privs: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    sys_privs: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def ev(self, line: int, raw: str) -> Evidence:
        return Evidence(source=self.source, raw=raw[:500], digest=self.digest, line=line)


FIELDS = {
    "version": 1,
    "users": 7,
    "last_login": 2,
    "maintained": 2,
    "password_changed": 2,
    "role_privs": 3,
    "sys_privs": 3,
    "pwfile": 3,
    "pwfile12": 4,
    "profiles": 3,
    "done": 1,
}


def _read(data: bytes, source: str) -> _Spool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ParseError(
                source, None, "neither UTF-8 nor GBK text", "既不是 UTF-8 也不是 GBK 文本"
            ) from None
    spool = _Spool(source=source, digest=digest_of(data))
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if re.match(r"^(ORA|SP2)-\d+", line):
            spool.errors.append(line[:200])
            continue
        if not line.startswith("HANDOVER|"):
            continue
        parts = line.split("|")
        section, values = parts[1], parts[2:]
        if section not in FIELDS:
            raise ParseError(source, number, f"unknown section {section!r}", f"未知的段“{section}”")
        if len(values) != FIELDS[section]:
            raise ParseError(
                source,
                number,
                f"{section}: {len(values)} fields where {FIELDS[section]} are expected",
                f"{section}：字段数为 {len(values)}，应为 {FIELDS[section]}",
            )
        if section == "version":
            spool.version = values[0]
        elif section == "done":
            spool.done = True
        elif section == "users":
            spool.users[values[0]] = (values, number, line)
        elif section in ("role_privs", "sys_privs"):
            getattr(spool, section).append((*values, number, line))
        elif section == "profiles":
            spool.profiles.setdefault(values[0], {})[values[1]] = values[2]
        else:
            spool.extra.setdefault(section, {})[values[0]] = (values, number, line)
    if not spool.users:
        raise ParseError(
            source,
            None,
            "no HANDOVER|users line: not the spool of oracle_collect.sql",
            "没有 HANDOVER|users 行：不是 oracle_collect.sql 的输出",
        )
    if not spool.done:
        raise ParseError(
            source,
            None,
            "the spool is cut off (no HANDOVER|done line)",
            "输出不完整（缺少 HANDOVER|done 行）",
        )
    return spool


def _when(text: str, spool: _Spool, line: int) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    zone: Any = timezone(timedelta(hours=8))  # the database's local time when no zone is printed
    match = re.match(r"^(.*) ([+-])(\d\d):(\d\d)$", text)
    if match:
        text = match.group(1)
        minutes = (int(match.group(3)) * 60 + int(match.group(4))) * (1 if match.group(2) == "+" else -1)
        zone = timezone(timedelta(minutes=minutes))
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        raise ParseError(spool.source, line, f"{text!r} is not a date", f"“{text}”不是日期") from None


def _days(limit: str | None) -> tuple[int | None, bool]:
    """A profile's PASSWORD_LIFE_TIME as days: (None, True) for UNLIMITED, (None, False) when not known."""
    if limit is None or limit == "DEFAULT":
        return None, False
    if limit == "UNLIMITED":
        return None, True
    try:
        return max(1, round(float(limit))), True
    except ValueError:
        return None, False


def build(
    data: bytes,
    *,
    source: str,
    target: str,
    gathered_at: datetime | None = None,
    warnings: list[str] | None = None,
) -> Inventory:
    """The inventory the spool ``data`` describes."""
    spool = _read(data, source)
    warnings = list(warnings or [])
    warnings += [f"{source}: {e}" for e in spool.errors]
    if "last_login" not in spool.extra:
        warnings.append("no LAST_LOGIN (before 12c, or not readable): last logins unknown")
    grants: dict[str, list[tuple[str, str, int, str]]] = {}
    for grantee, role, admin, line, raw in spool.role_privs:
        grants.setdefault(grantee, []).append((role, admin, line, raw))
    sys_privs: dict[str, list[tuple[str, str, int, str]]] = {}
    for grantee, privilege, admin, line, raw in spool.sys_privs:
        sys_privs.setdefault(grantee, []).append((privilege, admin, line, raw))
    roles = {role for items in grants.values() for role, *_rest in items} - set(spool.users)
    accounts = [_account(name, spool, grants, sys_privs) for name in sorted(spool.users)]
    groups = []
    for role in sorted(roles):
        members = sorted(g for g, items in grants.items() if any(r == role for r, *_ in items))
        privileged = role in SUPER_ROLES or any(_super(p) for p, *_ in sys_privs.get(role, []))
        evidence = tuple(
            spool.ev(line, raw) for g, items in grants.items() for r, _a, line, raw in items if r == role
        )[:3]
        groups.append(Group(name=role, members=tuple(members), privileged=privileged, evidence=evidence))
    settings = [("version", spool.version)] if spool.version else []
    return Inventory(
        platform="oracle",
        target=target,
        gathered_at=gathered_at or datetime.now(UTC),
        accounts=tuple(accounts),
        groups=tuple(groups),
        settings=tuple(settings),
        warnings=tuple(warnings),
        sources=(SourceFile(source, spool.digest, len(data), content=data, backup=True),),
    )


def _super(privilege: str) -> bool:
    return " ANY " in f" {privilege} " or privilege in SUPER_PRIVILEGES


def _account(name: str, spool: _Spool, grants: dict, sys_privs: dict) -> Account:
    values, line, raw = spool.users[name]
    _user, status, lock_date, expiry, profile, auth, _created = values
    evidence = [spool.ev(line, raw)]
    privileges: list[Privilege] = []
    # Roles followed to the end, nearest first; each role's own system privileges with it.
    seen: dict[str, list[str]] = {}
    queue: deque[tuple[str, list[str]]] = deque([(name, [])])
    while queue:
        here, chain = queue.popleft()
        for role, admin, gline, graw in sorted(grants.get(here, []), key=lambda item: item[0]):
            if role in seen or role == name:
                continue
            seen[role] = [*chain, role]
            via = ",".join(f"role:{r}" for r in seen[role])
            privileges.append(
                Privilege(
                    role,
                    "membership admin" if admin == "YES" else "membership",
                    via,
                    superuser=role in SUPER_ROLES,
                    evidence=spool.ev(gline, graw),
                )
            )
            queue.append((role, seen[role]))
    for holder in [name, *seen]:
        via = "user" if holder == name else ",".join(f"role:{r}" for r in seen[holder])
        for privilege, admin, pline, praw in sys_privs.get(holder, []):
            scope = "system admin" if admin == "YES" else "system"
            privileges.append(
                Privilege(privilege, scope, via, superuser=_super(privilege), evidence=spool.ev(pline, praw))
            )
    for section, labels in (("pwfile", PWFILE), ("pwfile12", PWFILE12)):
        found = spool.extra.get(section, {}).get(name)
        if found is None:
            continue
        flags, fline, fraw = found
        for label, flag in zip(labels, flags[1:], strict=True):
            if flag == "TRUE":
                privileges.append(
                    Privilege(label, "password file", "user", superuser=True, evidence=spool.ev(fline, fraw))
                )
    locked = "LOCKED" in status
    expired = "EXPIRED" in status and "GRACE" not in status
    no_auth = auth in ("NONE", "NO AUTHENTICATION")
    state = PasswordState.SET if auth == "PASSWORD" else PasswordState.NONE
    if locked and state == PasswordState.SET:
        state = PasswordState.LOCKED
    limits = spool.profiles.get(profile, {})
    days, known = _days(limits.get("PASSWORD_LIFE_TIME"))
    if not known and limits.get("PASSWORD_LIFE_TIME") in (None, "DEFAULT"):
        days, known = _days(spool.profiles.get("DEFAULT", {}).get("PASSWORD_LIFE_TIME"))
    last_entry = spool.extra.get("last_login", {}).get(name)
    last = _when(last_entry[0][1], spool, last_entry[1]) if last_entry else None
    changed_entry = spool.extra.get("password_changed", {}).get(name)
    changed = _when(changed_entry[0][1], spool, changed_entry[1]) if changed_entry else None
    expires = _when(expiry, spool, line)
    attributes = [("account_status", status), ("profile", profile), ("authentication_type", auth)]
    if lock_date:
        attributes.append(("lock_date", lock_date))
    maintained = spool.extra.get("maintained", {}).get(name)
    if maintained and maintained[0][1] == "Y":
        attributes.append(("oracle_maintained", "yes"))
    return Account(
        name=name,
        kind=AccountKind.DATABASE,
        uid=name,
        login_allowed=not locked and not expired and not no_auth,
        password_state=state,
        password_changed=changed.date() if changed else None,
        password_max_days=days,
        password_policy_known=known,
        password_expires=expires.date() if expires else None,
        locked=locked,
        last_login=last,
        last_login_known="last_login" in spool.extra,
        groups=tuple(sorted({role for role, *_rest in grants.get(name, [])})),
        privileges=tuple(privileges),
        attributes=tuple(sorted(attributes)),
        evidence=tuple(evidence),
    )


def parse(path: Path) -> Inventory:
    """The inventory of the spool at ``path`` (kind ``oracle-spool``)."""
    path = Path(path)
    data = read_bounded(path, MAX_FILE_BYTES)
    return build(data, source=path.name, target=str(path))


# --- live -------------------------------------------------------------------------------------------------


def ora_code(exc: BaseException) -> int | None:
    """The ORA- number of a driver error (python-oracledb: ``args[0].code``; else parsed from the text)."""
    first = exc.args[0] if exc.args else None
    code = getattr(first, "code", None)
    if isinstance(code, int) and code:
        return code
    match = re.search(r"ORA-(\d{5})", str(first or ""))
    return int(match.group(1)) if match else None


async def gather(target: Target, credential: Credential) -> Inventory:
    where = f"{target.host}:{target.port}"
    data, warnings = await connectors_run.in_thread(_collect, target, credential)
    return build(data, source=SPOOL_NAME, target=where, gathered_at=datetime.now(UTC), warnings=warnings)


def _failure(where: str, code: int | None) -> GatherError:
    if code in ORA:
        status, en, zh = ORA[code]
        return GatherError(status, f"{where}: {en}", f"{where}：{zh}")
    if code is None:
        return GatherError(Status.UNREACHABLE, f"{where}: cannot connect", f"{where}：无法连接")
    return GatherError(
        Status.REFUSED,
        f"{where}: the database refused (ORA-{code:05d})",
        f"{where}：数据库拒绝（ORA-{code:05d}）",
    )


def _collect(target: Target, credential: Credential) -> tuple[bytes, list[str]]:
    driver = importlib.import_module(DRIVER)
    where = f"{target.host}:{target.port}"
    dsn = f"{target.host}:{target.port}/{target.option('service') or 'ORCLPDB1'}"
    failure: GatherError | None = None
    warnings: list[str] = []
    conn = None
    try:
        conn = driver.connect(
            user=credential.username,
            password=credential.secret,
            dsn=dsn,
            tcp_connect_timeout=max(1.0, target.timeout),
        )
    except driver.Error as exc:
        failure = _failure(where, ora_code(exc))
    if failure is not None or conn is None:
        raise failure or _failure(where, None)
    warning = getattr(conn, "warning", None)
    if warning is not None and ora_code(Exception(warning)) in WARNING_ONLY:
        warnings.append(f"{where}: {WARNING_ONLY[28002]}")
    lines: list[str] = []
    try:
        with conn.cursor() as cursor:
            for section, sql in statements():
                try:
                    cursor.execute(sql)
                    lines += [str(row[0]) for row in cursor.fetchall()]
                except driver.Error as exc:
                    code = ora_code(exc)
                    if section in OPTIONAL and code in (904, 942, 1031):
                        lines.append(f"ORA-{code:05d}: {section} not read")
                        continue
                    failure = _failure(where, code)
                    break
    finally:
        conn.close()
    if failure is not None:
        raise failure
    return ("\n".join(lines) + "\n").encode("utf-8"), warnings


MANIFEST = register(
    Manifest(
        code="oracle",
        label_en="Oracle database",
        label_zh="Oracle 数据库",
        default_port=1521,
        gather=gather,
        parse=parse,
        offline_kinds=("oracle-spool",),
    )
)

__all__ = ["MANIFEST", "build", "gather", "ora_code", "parse", "statements"]
