"""The PostgreSQL connector: every role of a cluster with its attributes, password type, memberships (followed
to the end, with their admin/inherit/set options), the dangerous predefined roles and database ownership.

Live (``gather``): psycopg 3 in a thread, read-only, reading the catalogue (``pg_authid`` for the verifiers,
so the gathering login must be allowed to read it: a superuser, or a member of ``pg_read_all_data``), which is
written as the permission backup in ``pg_dumpall --roles-only``'s own format (第二十六条第2、3项: 改密前备份)
and then read by the same code as an offline file. Offline (``parse``, kind ``pg-roles``): the firm's
``pg_dumpall --roles-only`` (or ``--globals-only``, or a whole ``pg_dumpall``) file. Both give the same
inventory for the same cluster; the evidence of a fact is its statement in that file.

The backup holds the roles' password verifiers: it is a sealed ``SourceFile``; every evidence line has them
replaced by ``<verifier>``. PostgreSQL records no last login: ``last_login_known`` is False.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

from handover.connectors import run as connectors_run
from handover.connectors import sqlscan
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

VERIFIER = "'<verifier>'"
BACKUP_NAME = "pg-roles.sql"
MAX_FILE_BYTES = 64 << 20
HEADER = "-- PostgreSQL database cluster dump"
TRAILER = "-- PostgreSQL database cluster dump complete"
# 第二十二条 (超级用户及同等权限用户): attributes that make a role a super-user or let it become one (CREATEROLE
# grants itself any non-superuser role, REPLICATION copies the whole cluster, verifiers included).
ATTRIBUTES = ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS")
SUPERUSER_ATTRIBUTES = {"SUPERUSER", "CREATEROLE", "REPLICATION"}
# Predefined roles that read or write the server's files, run programs as the server, read or write every
# table, or signal other sessions: super-user equivalents (第二十二条).
DANGEROUS_ROLES = {
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_signal_backend",
    "pg_read_all_data",
    "pg_write_all_data",
}
# Memberships among predefined roles, which pg_dumpall leaves out because every cluster has them.
PREDEFINED_MEMBERS = {"pg_monitor": ("pg_read_all_settings", "pg_read_all_stats", "pg_stat_scan_tables")}
_BOOLEAN_OPTIONS = {a: (a, True) for a in (*ATTRIBUTES, "LOGIN", "INHERIT")} | {
    "NO" + a: (a, False) for a in (*ATTRIBUTES, "LOGIN", "INHERIT")
}
_META = re.compile(r"-- handover: ([a-z_]+) = (.*)")


@dataclass
class _Role:
    name: str
    line: int
    login: bool = False
    inherit: bool = True
    attributes: set[str] = field(default_factory=set)
    connection_limit: int = -1
    verifier_type: str = "none"  # scram-sha-256, md5, plaintext, empty, none: never the verifier itself
    valid_until: str | None = None
    comment: str = ""
    config: list[tuple[str, str]] = field(default_factory=list)
    owns: list[tuple[str, Evidence | None]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    options_evidence: Evidence | None = None


@dataclass
class _Edge:
    role: str
    member: str
    admin: bool
    inherit: bool | None  # None: the member's INHERIT attribute decides (before PostgreSQL 16)
    set: bool
    evidence: Evidence | None


@dataclass
class _Dump:
    source: str
    digest: str
    roles: dict[str, _Role] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    owners: list[tuple[str, str, Evidence]] = field(default_factory=list)  # database, owner, evidence
    meta: dict[str, str] = field(default_factory=dict)
    passwords_seen: bool = False

    def evidence(self, statement: sqlscan.Statement, raw: str) -> Evidence:
        return Evidence(source=self.source, raw=raw, digest=self.digest, line=statement.line)


# ---------------------------------------------------------------------------------------------------------
# Reading a dump


def parse(path: Path) -> Inventory:
    """The inventory of the cluster whose ``pg_dumpall`` file is at ``path``; bad input raises ParseError."""
    path = Path(path)
    data = read_bounded(
        path,
        MAX_FILE_BYTES,
        hint_en="give pg_dumpall --roles-only",
        hint_zh="请提供 pg_dumpall --roles-only 的输出",
    )
    return build(data, source=path.name, target=str(path))


def build(data: bytes, *, source: str, target: str, gathered_at: datetime | None = None) -> Inventory:
    """The inventory that the dump ``data`` (named ``source`` in the evidence) describes."""
    warnings: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ParseError(
                source, None, "neither UTF-8 nor GB18030 text", "既不是 UTF-8 也不是 GB18030 文本"
            ) from None
        warnings.append(f"{source}: not UTF-8, read as GB18030 (GBK)")
    text = text.replace("\r\n", "\n")
    if HEADER not in text[:4096]:
        raise ParseError(
            source, 1, "not a pg_dumpall file (its first lines do not say 'PostgreSQL database cluster dump')",
            "不是 pg_dumpall 的输出（开头没有“PostgreSQL database cluster dump”）",
        )  # fmt: skip
    if TRAILER not in text[-4096:]:
        raise ParseError(
            source, None, "the dump is cut off (its last line 'cluster dump complete' is missing)",
            "导出文件不完整（缺少结尾的“cluster dump complete”）",
        )  # fmt: skip
    dump = _Dump(source=source, digest=digest_of(data))
    comments: list[sqlscan.Statement] = []
    first = None
    try:
        for statement in sqlscan.statements(text, sqlscan.PG, comments=comments):
            first = first or statement.line
            _statement(dump, statement)
    except sqlscan.SqlError as exc:
        raise ParseError(source, exc.line, exc.reason_en, exc.reason_zh) from None
    # The backup's own lines come before its first statement; later ones (a role name holding a line break
    # in pg_dumpall's "-- User Config" comment) are not believed.
    head = [c for c in comments if first is None or c.line < first]
    dump.meta = {m.group(1): m.group(2) for c in head if (m := _META.fullmatch(c.text))}
    when = gathered_at or datetime.now(UTC)
    return _inventory(dump, data, target=target, when=when, warnings=warnings)


def _statement(dump: _Dump, statement: sqlscan.Statement) -> None:
    toks = sqlscan.tokens(statement.text, sqlscan.PG, line=statement.line)
    if not toks:  # a lone ';' (found by the fuzzer): nothing to read
        return
    words = [t.value.upper() if t.kind == "word" else "" for t in toks[:4]]
    if words[:2] in (["CREATE", "ROLE"], ["CREATE", "USER"], ["CREATE", "GROUP"]):
        role = _declare(dump, statement, toks, 2, login=words[1] == "USER")
        _options(dump, statement, toks, 3, role)
    elif words[:2] in (["ALTER", "ROLE"], ["ALTER", "USER"]):
        role = _declare(dump, statement, toks, 2)
        rest = toks[3:]
        if rest and rest[0].is_word("SET", "RESET", "IN"):
            _config(dump, statement, rest, role)
        else:
            _options(dump, statement, toks, 3, role)
    elif words[:3] == ["COMMENT", "ON", "ROLE"]:
        role = _declare(dump, statement, toks, 3)
        if len(toks) < 6 or not toks[4].is_word("IS"):
            _bad(dump, statement, "COMMENT ON ROLE without IS", "COMMENT ON ROLE 缺少 IS")
        role.comment = toks[5].value if toks[5].kind == "string" else ""
        role.evidence.append(dump.evidence(statement, statement.text))
    elif words[0] == "GRANT" and not any(t.is_word("ON") for t in toks):
        _grant(dump, statement, toks)
    elif words[:2] == ["ALTER", "DATABASE"] and len(toks) >= 6 and toks[3].is_word("OWNER"):
        evidence = dump.evidence(statement, statement.text)
        dump.owners.append((_name(dump, statement, toks, 2), _name(dump, statement, toks, 5), evidence))


def _bad(dump: _Dump, statement: sqlscan.Statement, en: str, zh: str) -> NoReturn:
    raise ParseError(dump.source, statement.line, en, zh)


def _name(dump: _Dump, statement: sqlscan.Statement, toks: list[sqlscan.Token], index: int) -> str:
    if index >= len(toks) or toks[index].kind not in ("word", "ident", "string"):
        _bad(dump, statement, "a role or database name is missing", "缺少角色名或数据库名")
    return toks[index].value


def _declare(
    dump: _Dump, statement: sqlscan.Statement, toks: list[sqlscan.Token], index: int, *, login: bool = False
) -> _Role:
    name = _name(dump, statement, toks, index)
    if name not in dump.roles:
        dump.roles[name] = _Role(name, statement.line, login=login)
    return dump.roles[name]


def _masked(statement: sqlscan.Statement, toks: list[sqlscan.Token]) -> str:
    """The statement with every password literal replaced by ``<verifier>``."""
    spans = [
        (t.start, t.end)
        for before, t in itertools.pairwise(toks)
        if before.is_word("PASSWORD") and t.kind == "string"
    ]
    return sqlscan.replace_spans(statement.text, spans, VERIFIER)


def _options(
    dump: _Dump, statement: sqlscan.Statement, toks: list[sqlscan.Token], index: int, role: _Role
) -> None:
    """CREATE/ALTER ROLE's options, as pg_dumpall writes them (and the few a hand-written file adds)."""
    i = index + 1 if index < len(toks) and toks[index].is_word("WITH") else index
    while i < len(toks):
        word = toks[i].value.upper() if toks[i].kind == "word" else ""
        if word in _BOOLEAN_OPTIONS:
            name, on = _BOOLEAN_OPTIONS[word]
            if name == "LOGIN":
                role.login = on
            elif name == "INHERIT":
                role.inherit = on
            elif on:
                role.attributes.add(name)
            else:
                role.attributes.discard(name)
            i += 1
        elif word == "CONNECTION" and i + 2 < len(toks) and toks[i + 1].is_word("LIMIT"):
            negative = toks[i + 2].value == "-"
            number = toks[i + 3] if negative and i + 3 < len(toks) else toks[i + 2]
            if number.kind != "number":
                _bad(dump, statement, "CONNECTION LIMIT without a number", "CONNECTION LIMIT 缺少数字")
            role.connection_limit = -int(number.value) if negative else int(number.value)
            i += 4 if negative else 3
        elif word in ("ENCRYPTED", "UNENCRYPTED"):
            i += 1
        elif word == "PASSWORD" and i + 1 < len(toks):
            value = toks[i + 1]
            role.verifier_type = _password_type(value.value) if value.kind == "string" else "none"
            dump.passwords_seen = dump.passwords_seen or value.kind == "string"
            i += 2
        elif word == "VALID" and i + 2 < len(toks) and toks[i + 2].kind == "string":
            role.valid_until = toks[i + 2].value
            i += 3
        elif word in ("IN", "ROLE", "ADMIN", "USER") and i + 1 < len(toks):
            i = _option_members(dump, statement, toks, i, role)
        elif toks[i].kind == "punct" and toks[i].value == ",":
            i += 1
        else:
            written = statement.text[toks[i].start : toks[i].end][:40]  # as the file has it, not case-folded
            _bad(
                dump, statement, f"role option {written!r} is not understood", f"角色选项“{written}”无法识别"
            )  # fmt: skip
    role.options_evidence = dump.evidence(statement, _masked(statement, toks))
    role.evidence.append(role.options_evidence)


def _option_members(
    dump: _Dump, statement: sqlscan.Statement, toks: list[sqlscan.Token], i: int, role: _Role
) -> int:
    """CREATE ROLE's ``IN ROLE a, b`` / ``ROLE m`` / ``ADMIN m`` / ``USER m`` (memberships written inline)."""
    kind = toks[i].value.upper()
    i += 2 if kind == "IN" else 1
    evidence = dump.evidence(statement, _masked(statement, toks))
    while i < len(toks) and toks[i].kind in ("word", "ident"):
        other = toks[i].value
        if kind == "IN":
            dump.edges.append(_Edge(other, role.name, False, None, True, evidence))
        else:
            dump.edges.append(_Edge(role.name, other, kind == "ADMIN", None, True, evidence))
        i += 1
        if i < len(toks) and toks[i].value == ",":
            i += 1
        else:
            break
    return i


def _password_type(verifier: str) -> str:
    if verifier.startswith("SCRAM-SHA-256$"):
        return "scram-sha-256"
    if re.fullmatch(r"md5[0-9a-f]{32}", verifier):
        return "md5"
    return "plaintext" if verifier else "empty"


def _config(dump: _Dump, statement: sqlscan.Statement, rest: list[sqlscan.Token], role: _Role) -> None:
    """``ALTER ROLE r [IN DATABASE d] SET name TO value, …`` as an attribute ``config.[d.]name``."""
    prefix = ""
    if rest[0].is_word("IN"):
        if len(rest) < 4 or not rest[1].is_word("DATABASE"):
            _bad(dump, statement, "ALTER ROLE … IN without DATABASE", "ALTER ROLE … IN 缺少 DATABASE")
        prefix, rest = rest[2].value + ".", rest[3:]
    if not rest or not rest[0].is_word("SET") or len(rest) < 2:
        return  # RESET: nothing to keep
    name = rest[1].value
    values = [t.value for t in rest[3:] if not (t.kind == "punct" and t.value == ",")]
    role.config.append((f"config.{prefix}{name}", ", ".join(values)))
    role.evidence.append(dump.evidence(statement, statement.text))


def _grant(dump: _Dump, statement: sqlscan.Statement, toks: list[sqlscan.Token]) -> None:
    """``GRANT r[, r] TO m[, m] [WITH ADMIN OPTION | ADMIN/INHERIT/SET TRUE|FALSE, …] [GRANTED BY g]``."""
    words = [t.value.upper() if t.kind == "word" else "" for t in toks]
    if "TO" not in words:
        _bad(dump, statement, "GRANT without TO", "GRANT 缺少 TO")
    to = words.index("TO")
    end = next((i for i in range(to + 1, len(toks)) if words[i] in ("WITH", "GRANTED")), len(toks))
    roles = [t.value for t in toks[1:to] if t.kind in ("word", "ident")]
    members = [t.value for t in toks[to + 1 : end] if t.kind in ("word", "ident") and not t.is_word("GROUP")]
    admin, inherit, set_ = False, None, True
    i = end + 1 if end < len(toks) and words[end] == "WITH" else len(toks)
    while i < len(toks) and words[i] != "GRANTED":
        option, value = words[i], words[i + 1] if i + 1 < len(toks) else ""
        if option == "ADMIN":
            admin = value in ("OPTION", "TRUE")
        elif option == "INHERIT":
            inherit = value == "TRUE"
        elif option == "SET":
            set_ = value != "FALSE"
        elif option not in ("", "IN", "CURRENT", "DATABASE"):
            _bad(
                dump, statement, f"GRANT option {option!r} is not understood", f"GRANT 选项“{option}”无法识别"
            )
        i += 2 if option in ("ADMIN", "INHERIT", "SET") else 1
    if not roles or not members:
        _bad(dump, statement, "GRANT names no role or no member", "GRANT 未指明角色或成员")
    evidence = dump.evidence(statement, statement.text)
    for role in roles:
        for member in members:
            dump.edges.append(_Edge(role, member, admin, inherit, set_, evidence))


# ---------------------------------------------------------------------------------------------------------
# From what the dump says to the inventory


def _inventory(dump: _Dump, data: bytes, *, target: str, when: datetime, warnings: list[str]) -> Inventory:
    for edge in dump.edges:
        for name in (edge.role, edge.member):
            if name not in dump.roles and not name.startswith("pg_"):
                raise ParseError(
                    dump.source, edge.evidence.line if edge.evidence else None,
                    f"role {name!r} is granted but never created", f"角色“{name}”被授予但从未创建",
                )  # fmt: skip
    for database, owner, evidence in dump.owners:
        if owner not in dump.roles:
            raise ParseError(
                dump.source,
                evidence.line,
                f"database owner {owner!r} is never created",
                f"数据库属主“{owner}”从未创建",
            )
        dump.roles[owner].owns.append((database, evidence))
    graph = _Graph(dump)
    verifiers_known = dump.meta.get("verifiers") == "included" or dump.passwords_seen
    accounts = [
        _account(dump, graph, role, when, verifiers_known)
        for role in sorted(dump.roles.values(), key=lambda r: r.name)
        if not role.name.startswith("pg_")
    ]
    warnings.append(
        "PostgreSQL records no last login: last logins are unknown (only log_connections shows them)"
    )
    if not verifiers_known:
        warnings.append(
            f"{dump.source}: no role has a password here (made with --no-role-passwords?): password states unknown"
        )
    settings = [(k, dump.meta[k]) for k in ("password_encryption", "server_version") if k in dump.meta]
    if not settings:
        warnings.append(f"{dump.source}: server version and password_encryption are not in a pg_dumpall file")
    source = SourceFile(dump.source, dump.digest, len(data), content=data, sealed=True, backup=True)
    return Inventory(
        platform="postgresql",
        target=target,
        gathered_at=when,
        accounts=tuple(accounts),
        groups=tuple(_groups(dump, graph)),
        settings=tuple(sorted(settings)),
        sources=(source,),
        warnings=tuple(warnings),
    )


class _Graph:
    """Who is a member of whom, and what each role holds by itself (attributes, ownership, predefined)."""

    def __init__(self, dump: _Dump) -> None:
        self.dump = dump
        self.out: dict[str, list[_Edge]] = {}
        for edge in dump.edges:
            self.out.setdefault(edge.member, []).append(edge)
        for role, members in PREDEFINED_MEMBERS.items():
            for member in members:
                self.out.setdefault(role, []).append(_Edge(member, role, False, True, True, None))
        for edges in self.out.values():
            edges.sort(key=lambda e: e.role)

    def inherits(self, edge: _Edge) -> bool:
        if edge.inherit is not None:
            return edge.inherit
        member = self.dump.roles.get(edge.member)
        return member.inherit if member else True

    def reach(self, start: str, allowed: Callable[[_Edge], bool]) -> dict[str, list[_Edge]]:
        """Every role reachable from ``start`` over allowed edges, with the shortest path (nearest first)."""
        paths: dict[str, list[_Edge]] = {}
        queue: deque[tuple[str, list[_Edge]]] = deque([(start, [])])
        while queue:
            name, path = queue.popleft()
            for edge in self.out.get(name, []):
                if edge.role in paths or edge.role == start or not allowed(edge):
                    continue
                paths[edge.role] = [*path, edge]
                queue.append((edge.role, paths[edge.role]))
        return paths

    def privileges(self, role: _Role | None, name: str) -> list[Privilege]:
        """What ``name`` holds: its own rights, then each role it reaches with that role's rights."""
        out = _own(role, via="user") if role else []
        any_path = self.reach(name, lambda e: True)
        by_inherit = self.reach(name, self.inherits)
        by_set = self.reach(name, lambda e: e.set)
        for target, path in sorted(any_path.items(), key=lambda item: (len(item[1]), item[0])):
            via = ",".join(f"role:{e.role}" for e in path)
            usable = target in by_inherit or target in by_set
            flags = ["admin"] if path[-1].admin else []
            flags += [] if target in by_inherit else ["noinherit"]
            flags += [] if target in by_set else ["noset"]
            out.append(
                Privilege(
                    target, " ".join(["membership", *flags]), via,
                    superuser=usable and target in DANGEROUS_ROLES, evidence=path[0].evidence,
                )
            )  # fmt: skip
            held = self.dump.roles.get(target)
            if held is None:
                continue
            for right in _own(held, via=via):
                # Attributes are not inherited: they are used after SET ROLE; ownership by either way.
                if (right.name in ATTRIBUTES and target in by_set) or (right.name == "OWNER" and usable):
                    out.append(right)
        return out


def _own(role: _Role, *, via: str) -> list[Privilege]:
    evidence = role.options_evidence
    out = [
        Privilege(a, "cluster", via, superuser=a in SUPERUSER_ATTRIBUTES, evidence=evidence)
        for a in ATTRIBUTES
        if a in role.attributes
    ]
    out += [
        Privilege("OWNER", f"database:{db}", via, evidence=e)
        for db, e in sorted(role.owns, key=lambda o: o[0])
    ]
    return out


def _account(dump: _Dump, graph: _Graph, role: _Role, when: datetime, verifiers_known: bool) -> Account:
    attributes: list[tuple[str, str]] = [
        ("password_type", role.verifier_type if verifiers_known else "unknown")
    ]
    if role.connection_limit != -1:
        attributes.append(("connection_limit", str(role.connection_limit)))
    if not role.inherit:
        attributes.append(("inherit", "no"))
    if role.comment:
        attributes.append(("comment", role.comment))
    attributes += role.config
    expires, until = _valid_until(role.valid_until)
    if role.valid_until is not None:  # in UTC, whatever time zone the dump was written in
        attributes.append(
            ("valid_until", until.strftime("%Y-%m-%d %H:%M:%S+00") if until else role.valid_until)
        )
    if until is not None and until <= when:
        attributes.append(("password_expired", "yes"))
    if not verifiers_known:
        state = PasswordState.UNKNOWN
    elif not role.login:
        state = PasswordState.DISABLED
    elif role.verifier_type == "empty":
        state = PasswordState.EMPTY
    else:
        state = PasswordState.NONE if role.verifier_type == "none" else PasswordState.SET
    direct = sorted({e.role for e in dump.edges if e.member == role.name})
    return Account(
        name=role.name, kind=AccountKind.DATABASE, uid=role.name,
        display_name=role.comment.split("\n", 1)[0].strip()[:200], login_allowed=role.login,
        password_state=state, password_policy_known=verifiers_known, password_expires=expires,
        last_login_known=False, groups=tuple(direct), privileges=tuple(graph.privileges(role, role.name)),
        attributes=tuple(sorted(attributes)), evidence=tuple(role.evidence),
    )  # fmt: skip


def _valid_until(text: str | None) -> tuple[date | None, datetime | None]:
    """VALID UNTIL as the date the password stops working and the instant; ``infinity`` and None: never."""
    if text is None or text.strip().lower() == "infinity":
        return None, None
    value = text.strip()
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None, None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).date(), instant.astimezone(UTC)


def _groups(dump: _Dump, graph: _Graph) -> list[Group]:
    members: dict[str, list[_Edge]] = {}
    for edge in dump.edges:
        members.setdefault(edge.role, []).append(edge)
    out = []
    for name in sorted(members):
        edges = members[name]
        role = dump.roles.get(name)
        proofs = ([role.options_evidence] if role and role.options_evidence else []) + sorted(
            {e.evidence for e in edges if e.evidence}, key=lambda e: e.line or 0
        )
        privileged = name in DANGEROUS_ROLES or any(p.superuser for p in graph.privileges(role, name))
        out.append(
            Group(
                name=name,
                members=tuple(sorted({e.member for e in edges})),
                admins=tuple(sorted({e.member for e in edges if e.admin})),
                privileged=privileged,
                evidence=tuple(proofs),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Live: the catalogue as pg_dumpall --roles-only writes it


def _where(target: Target) -> str:
    return f"{target.host}:{target.port}"


async def gather(target: Target, credential: Credential) -> Inventory:
    """The inventory of the cluster at ``target``, or GatherError with its status and reason (zh/en)."""
    where = _where(target)
    data = await connectors_run.in_thread(_collect, target, credential)
    return build(data, source=BACKUP_NAME, target=where, gathered_at=datetime.now(UTC))


def _connect(target: Target, credential: Credential) -> Any:
    import psycopg

    where = _where(target)
    failure: GatherError | None = None
    try:
        return psycopg.connect(
            host=target.host, port=target.port, user=credential.username, password=credential.secret,
            dbname=target.option("database", "postgres"), connect_timeout=max(1, int(target.timeout)),
            sslmode=target.option("sslmode", "prefer"), gssencmode="disable", passfile="/dev/null",
            application_name="handover-discovery", autocommit=False,
            options=f"-c statement_timeout={int(target.timeout * 1000)} -c TimeZone=UTC -c DateStyle=ISO",
        )  # fmt: skip
    except psycopg.OperationalError as exc:
        failure = _connect_failure(where, credential.username, exc.sqlstate, str(exc))
    raise failure


# libpq reports a refused login as text only (no SQLSTATE), in the server's language: English and the
# Chinese of PostgreSQL's zh_CN messages. The text itself is never shown (it may echo what was sent).
_WRONG_PASSWORD = ("password authentication failed", "password 认证失败", "口令认证失败", "密码认证失败")
_NOT_ALLOWED = ("pg_hba.conf", "not permitted to log in", "不允许登录", 'role "', "角色")
_NO_DATABASE = ('database "', "数据库")
_SERVER_SAID = ("FATAL:", "致命错误", "ERROR:", "错误:")


def _connect_failure(where: str, user: str, sqlstate: str | None, text: str) -> GatherError:
    """The status of a failed connection, from its SQLSTATE or libpq's text (which is never passed on)."""
    said = text.partition(" failed: ")[2] or text
    server = any(word in said for word in _SERVER_SAID)
    if sqlstate == "28P01" or (server and any(w in said.lower() for w in _WRONG_PASSWORD)):
        return GatherError(
            Status.AUTH_FAILED, f"{where}: the login {user!r} was refused (wrong password, or its VALID UNTIL passed)",
            f"{where}：登录账户 {user} 被拒绝（密码错误或已过 VALID UNTIL 有效期）",
        )  # fmt: skip
    if sqlstate == "3D000" or (server and any(w in said for w in _NO_DATABASE) and _missing(said)):
        return GatherError(
            Status.REFUSED, f"{where}: the database named in the target's options does not exist",
            f"{where}：目标选项中的数据库不存在",
        )  # fmt: skip
    if sqlstate == "28000" or (server and any(w in said for w in _NOT_ALLOWED)):
        return GatherError(
            Status.AUTH_FAILED, f"{where}: the login {user!r} is not allowed (pg_hba.conf, NOLOGIN or no such role)",
            f"{where}：登录账户 {user} 不被允许（pg_hba.conf 拒绝、NOLOGIN 或角色不存在）",
        )  # fmt: skip
    if sqlstate or server:
        return GatherError(
            Status.REFUSED, f"{where}: the server refused the connection (SQLSTATE {sqlstate or '-'})",
            f"{where}：服务器拒绝连接（SQLSTATE {sqlstate or '-'}）",
        )  # fmt: skip
    if "timeout" in text.lower():
        return GatherError(
            Status.TIMEOUT,
            f"{where}: no answer within the target's timeout",
            f"{where}：在设定的超时时间内无响应",
        )
    return GatherError(Status.UNREACHABLE, f"{where}: cannot connect", f"{where}：无法连接")


def _missing(said: str) -> bool:
    return "does not exist" in said or "不存在" in said


def _collect(target: Target, credential: Credential) -> bytes:
    import psycopg

    where = _where(target)
    failure: GatherError | None = None
    conn = _connect(target, credential)
    try:
        with conn:
            conn.read_only = True
            return _dump_text(conn, where).encode("utf-8")
    except GatherError as exc:
        failure = exc
    except psycopg.errors.QueryCanceled:
        failure = GatherError(
            Status.TIMEOUT, f"{where}: a catalogue query ran past the timeout", f"{where}：目录查询超时"
        )
    except psycopg.Error as exc:
        failure = GatherError(
            Status.REFUSED, f"{where}: a catalogue query was refused (SQLSTATE {exc.sqlstate or '-'})",
            f"{where}：目录查询被拒绝（SQLSTATE {exc.sqlstate or '-'}）",
        )  # fmt: skip
    raise failure


def _one_line(text: str) -> str:
    """``text`` fit for a comment line (a role name may hold a line break)."""
    return text.replace("\r", " ").replace("\n", " ")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _dump_text(conn: Any, where: str) -> str:
    """The roles, their settings and memberships, and database owners in pg_dumpall's words."""
    version, number, encryption, user, may_read = conn.execute(
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
        "current_setting('password_encryption'), current_user, "
        "has_table_privilege('pg_catalog.pg_authid', 'SELECT')"
    ).fetchone()
    if not may_read:
        raise GatherError(
            Status.REFUSED,
            f"{where}: the login {user!r} may not read pg_authid (the roles' password verifiers); "
            "gather as a superuser so that the backup is complete",
            f"{where}：登录账户 {user} 无权读取 pg_authid（角色口令校验值）；请使用超级用户采集，以便备份完整",
        )
    lines = [
        "--", HEADER, "--", "", f"-- handover: server_version = {version}",
        f"-- handover: password_encryption = {encryption}", "-- handover: verifiers = included", "",
        "SET default_transaction_read_only = off;", "", "SET client_encoding = 'UTF8';",
        "SET standard_conforming_strings = on;", "",
    ]  # fmt: skip
    lines += _roles_text(conn, number)
    lines += _memberships_text(conn, number)
    owners = conn.execute(
        "SELECT quote_ident(datname), quote_ident(pg_get_userbyid(datdba)) FROM pg_catalog.pg_database "
        "WHERE datname <> 'template0' ORDER BY datname"
    ).fetchall()
    if owners:
        lines += ["--", "-- Database ownership (as pg_dump --create writes it)", "--", ""]
        lines += [f"ALTER DATABASE {db} OWNER TO {owner};" for db, owner in owners] + [""]
    lines += ["--", TRAILER, "--", ""]
    return "\n".join(lines)


def _roles_text(conn: Any, number: int) -> list[str]:
    from psycopg.rows import dict_row

    bypass = "rolbypassrls" if number >= 90500 else "false AS rolbypassrls"  # a fixed column, not input
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT rolname, quote_ident(rolname) AS ident, rolsuper, rolinherit, rolcreaterole, rolcreatedb, "  # noqa: S608
            f"rolcanlogin, rolconnlimit, rolpassword, rolvaliduntil::text AS until, rolreplication, {bypass}, "
            "pg_catalog.shobj_description(oid, 'pg_authid') AS comment FROM pg_catalog.pg_authid "
            "WHERE rolname !~ '^pg_' ORDER BY rolname"
        )
        .fetchall()
    )
    out = ["--", "-- Roles", "--", ""] if rows else []
    names = {}
    for row in rows:
        ident = names[row["rolname"]] = row["ident"]
        flags = [
            ("" if row[column] else "NO") + word
            for column, word in (
                ("rolsuper", "SUPERUSER"), ("rolinherit", "INHERIT"), ("rolcreaterole", "CREATEROLE"),
                ("rolcreatedb", "CREATEDB"), ("rolcanlogin", "LOGIN"), ("rolreplication", "REPLICATION"),
                ("rolbypassrls", "BYPASSRLS"),
            )
        ]  # fmt: skip
        # Unlike pg_dumpall, the default limit and "no password" are written too, so that replaying the
        # backup also undoes a limit or a password set after it (the inventory reads them the same).
        flags.append(f"CONNECTION LIMIT {row['rolconnlimit']}")
        password = row["rolpassword"]
        flags.append("PASSWORD NULL" if password is None else f"PASSWORD {_literal(password)}")
        if row["until"] is not None:
            flags.append(f"VALID UNTIL {_literal(row['until'])}")
        out += [f"CREATE ROLE {ident};", f"ALTER ROLE {ident} WITH {' '.join(flags)};"]
        if row["comment"] is not None:
            out.append(f"COMMENT ON ROLE {ident} IS {_literal(row['comment'])};")
    configs = conn.execute(
        "SELECT r.rolname, c.setting FROM pg_catalog.pg_db_role_setting s "
        "JOIN pg_catalog.pg_authid r ON r.oid = s.setrole, unnest(s.setconfig) WITH ORDINALITY AS c(setting, n) "
        "WHERE s.setdatabase = 0 AND r.rolname !~ '^pg_' ORDER BY r.rolname, c.n"
    ).fetchall()
    if rows:
        out += ["", "--", "-- User Configurations", "--"]
    current = None
    for name, setting in configs:
        if name != current:
            out += ["", "--", f'-- User Config "{_one_line(name)}"', "--", ""]
            current = name
        key, _, value = setting.partition("=")
        values = _split_guc_list(value) if key.lower() in _LIST_SETTINGS else [value]
        out.append(
            f"ALTER ROLE {names.get(name, name)} SET {key} TO {', '.join(_literal(v) for v in values)};"
        )
    return [*out, "", ""]


_LIST_SETTINGS = {"search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries"}


def _split_guc_list(value: str) -> list[str]:
    """A list setting's items, as PostgreSQL's SplitGUCList reads them (double quotes keep commas)."""
    items, current, quoted, i = [], "", False, 0
    while i < len(value):
        c = value[i]
        if c == '"':
            if quoted and value[i + 1 : i + 2] == '"':
                current += '"'
                i += 1
            else:
                quoted = not quoted
        elif c == "," and not quoted:
            items.append(current.strip())
            current = ""
        else:
            current += c
        i += 1
    items.append(current.strip())
    return [item for item in items if item]


def _memberships_text(conn: Any, number: int) -> list[str]:
    options = ", a.inherit_option, a.set_option" if number >= 160000 else ""  # fixed columns, not input
    rows = conn.execute(
        "SELECT quote_ident(ur.rolname), quote_ident(um.rolname), quote_ident(ug.rolname), a.admin_option"  # noqa: S608
        f"{options} FROM pg_catalog.pg_auth_members a "
        "LEFT JOIN pg_catalog.pg_authid ur ON ur.oid = a.roleid "
        "LEFT JOIN pg_catalog.pg_authid um ON um.oid = a.member "
        "LEFT JOIN pg_catalog.pg_authid ug ON ug.oid = a.grantor "
        "WHERE NOT (ur.rolname ~ '^pg_' AND um.rolname ~ '^pg_') ORDER BY ur.rolname, um.rolname, ug.rolname"
    ).fetchall()
    out = ["--", "-- Role memberships", "--", ""] if rows else []
    for row in rows:
        role, member, grantor, admin = row[:4]
        with_ = ["ADMIN OPTION"] if admin else []
        if number >= 160000:
            with_.append("INHERIT TRUE" if row[4] else "INHERIT FALSE")
            with_ += [] if row[5] else ["SET FALSE"]
        line = f"GRANT {role} TO {member}" + (f" WITH {', '.join(with_)}" if with_ else "")
        out.append(line + (f" GRANTED BY {grantor}" if grantor else "") + ";")
    return out + (["", ""] if rows else [])


MANIFEST = register(
    Manifest(
        code="postgresql",
        label_en="PostgreSQL database",
        label_zh="PostgreSQL 数据库",
        default_port=5432,
        gather=gather,
        parse=parse,
        offline_kinds=("pg-roles",),
    )
)

__all__ = ["MANIFEST", "build", "gather", "parse"]
