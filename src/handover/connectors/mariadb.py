"""The MySQL/MariaDB connector: every ``user@host`` row with its plugin, lock, expiry, password lifetime and
last change, its global and schema privileges, its roles (followed to the end) and default role.

Live (``gather``): PyMySQL in a thread, read-only, reading ``mysql.user`` (and ``mysql.global_priv``) and asking
``SHOW CREATE USER`` and ``SHOW GRANTS`` for every row and role; their answers are written as the permission
backup (第二十六条第2、3项: 改密前备份, a script that recreates every account) and read back by the same code
as an offline file. Offline (``parse``, kind ``mysql-grants``): that backup, or any file of ``CREATE USER`` /
``ALTER USER`` / ``GRANT`` / ``SET DEFAULT ROLE`` statements such as ``pt-show-grants`` writes.

The backup holds the password hashes: it is a sealed ``SourceFile``; every evidence line has them replaced by
``<verifier>``. MySQL and MariaDB record no last login: ``last_login_known`` is False.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
BACKUP_NAME = "mysql-grants.sql"
MAX_FILE_BYTES = 64 << 20
HEADER = "-- Handover MySQL/MariaDB grants backup"
TRAILER = "-- Handover MySQL/MariaDB grants backup complete"
# 第二十二条 (超级用户及同等权限用户): on *.*, these make an account a super-user or let it make itself one.
SUPERUSER_GLOBAL = {"ALL", "ALL PRIVILEGES", "SUPER", "CREATE USER", "GRANT OPTION"}
# Writing the grant tables is granting oneself anything.
GRANT_TABLES = {"mysql.*", "mysql.user", "mysql.global_priv"}
SUPERUSER_ON_GRANT_TABLES = {"ALL", "ALL PRIVILEGES", "INSERT", "UPDATE"}
NATIVE = {"mysql_native_password", "mysql_old_password"}
NO_VERIFIER_PLUGINS = {"unix_socket", "auth_socket", "pam", "auth_pam", "gssapi", "auth_gssapi_client"}
_META = re.compile(r"-- handover: ([a-z_]+)(?: (.+?))? = (.*)")
_HASH = re.compile(r"\*[0-9A-Fa-f]{40}|[0-9A-Fa-f]{16}")

Key = tuple[str, str | None]  # (user, host) of an account; (name, None) of a MariaDB role


@dataclass
class _Right:
    name: str
    scope: str
    negated: bool
    evidence: Evidence


@dataclass
class _Principal:
    """An account (user@host) or a role, as the statements describe it."""

    user: str
    host: str | None
    line: int
    plugins: list[str] = field(default_factory=list)
    state: PasswordState = PasswordState.UNKNOWN
    locked: bool = False
    expired: bool = False
    lifetime: str = "default"  # default, never or a number of days
    require: str = ""
    limits: list[tuple[str, str]] = field(default_factory=list)
    default_role: str = ""
    rights: list[_Right] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    described: bool = False  # a CREATE/ALTER USER (or an IDENTIFIED clause) said how it authenticates

    @property
    def label(self) -> str:
        return self.user if self.host is None else f"{self.user}@{self.host}"


@dataclass
class _Edge:
    role: Key
    member: Key
    admin: bool
    evidence: Evidence


@dataclass
class _Grants:
    source: str
    digest: str
    principals: dict[Key, _Principal] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    changed: dict[Key, int] = field(default_factory=dict)  # password_last_changed, seconds since 1970

    def evidence(self, statement: sqlscan.Statement, raw: str) -> Evidence:
        return Evidence(source=self.source, raw=raw, digest=self.digest, line=statement.line)

    def principal(self, key: Key, line: int) -> _Principal:
        if key not in self.principals:
            self.principals[key] = _Principal(key[0], key[1], line)
        return self.principals[key]


# ---------------------------------------------------------------------------------------------------------
# Reading the statements


def parse(path: Path) -> Inventory:
    """The inventory the grants file at ``path`` describes; bad input raises ParseError naming file and line."""
    path = Path(path)
    data = read_bounded(path, MAX_FILE_BYTES)
    return build(data, source=path.name, target=str(path))


def build(data: bytes, *, source: str, target: str, gathered_at: datetime | None = None) -> Inventory:
    """The inventory that the grants text ``data`` (named ``source`` in the evidence) describes."""
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
    if text.lstrip().startswith(HEADER) and TRAILER not in text[-4096:]:
        raise ParseError(
            source, None, "the backup is cut off (its last line 'grants backup complete' is missing)",
            "备份文件不完整（缺少结尾的“grants backup complete”）",
        )  # fmt: skip
    grants = _Grants(source=source, digest=digest_of(data))
    comments: list[sqlscan.Statement] = []
    try:
        for statement in sqlscan.statements(text, sqlscan.MYSQL, comments=comments):
            _statement(grants, statement)
        if text.lstrip().startswith(HEADER):  # our own lines, where names are escaped: never another tool's
            _meta(grants, comments)
    except sqlscan.SqlError as exc:
        raise ParseError(source, exc.line, exc.reason_en, exc.reason_zh) from None
    if not grants.principals:
        raise ParseError(
            source, None, "no CREATE USER or GRANT statement: not a grants backup",
            "没有 CREATE USER 或 GRANT 语句：不是权限备份文件",
        )  # fmt: skip
    return _inventory(grants, data, target=target, when=gathered_at or datetime.now(UTC), warnings=warnings)


def _meta(grants: _Grants, comments: list[sqlscan.Statement]) -> None:
    """The backup's own ``-- handover:`` lines: server settings and each row's last password change."""
    for comment in comments:
        found = _META.fullmatch(comment.text)
        if not found:
            continue
        name, who, value = found.groups()
        if name == "password_last_changed" and who:
            toks = sqlscan.tokens(who, sqlscan.MYSQL, line=comment.line)
            key, _ = _user_spec(grants, comment, toks, 0)
            if not value.isdigit():
                raise ParseError(
                    grants.source, comment.line, f"password_last_changed {value[:20]!r} is not a number",
                    f"password_last_changed“{value[:20]}”不是数字",
                )  # fmt: skip
            grants.changed[key] = int(value)
        elif who is None:
            grants.meta[name] = value


def _bad(grants: _Grants, statement: sqlscan.Statement, en: str, zh: str) -> NoReturn:
    raise ParseError(grants.source, statement.line, en, zh)


def _statement(grants: _Grants, statement: sqlscan.Statement) -> None:
    toks = sqlscan.tokens(statement.text, sqlscan.MYSQL, line=statement.line)
    if not toks:  # a lone ';' (found by the fuzzer): nothing to read
        return
    words = [t.value.upper() if t.kind == "word" else "" for t in toks[:3]]
    if words[:2] in (["CREATE", "USER"], ["ALTER", "USER"]):
        i = 2
        if [t.value.upper() for t in toks[2:4]] in (["IF", "NOT"], ["IF", "EXISTS"]):
            i = 5 if toks[3].is_word("NOT") else 4
        key, i = _user_spec(grants, statement, toks, i)
        principal = grants.principal(key, statement.line)
        spans = _account_options(grants, statement, toks, i, principal)
        principal.evidence.append(
            grants.evidence(statement, sqlscan.replace_spans(statement.text, spans, VERIFIER))
        )
    elif words[:2] == ["CREATE", "ROLE"]:
        i = 5 if [t.value.upper() for t in toks[2:4]] == ["IF", "NOT"] else 2
        key, _ = _user_spec(grants, statement, toks, i)
        principal = grants.principal(key, statement.line)
        principal.evidence.append(grants.evidence(statement, statement.text))
    elif words[0] == "GRANT":
        _grant(grants, statement, toks, negated=False)
    elif words[0] == "REVOKE":  # MySQL 8 partial revokes, as SHOW GRANTS lists them
        _grant(grants, statement, toks, negated=True)
    elif words[:3] == ["SET", "DEFAULT", "ROLE"]:
        _default_role(grants, statement, toks)


def _user_spec(
    grants: _Grants, statement: sqlscan.Statement, toks: list[sqlscan.Token], i: int
) -> tuple[Key, int]:
    """``'user'@'host'``, `` `user`@`host` ``, ``user@host`` or a role name; the index after it."""
    if i >= len(toks) or toks[i].kind not in ("word", "ident", "string"):
        _bad(grants, statement, "an account (user@host) is missing", "缺少账户（user@host）")
    user = toks[i].value
    if i + 2 < len(toks) and toks[i + 1].value == "@" and toks[i + 1].kind == "punct":
        host = toks[i + 2]
        if host.kind not in ("word", "ident", "string", "number"):
            _bad(grants, statement, "an account's host is missing after @", "账户的 @ 后缺少主机")
        return (user, host.value), i + 3
    return (user, None), i + 1


def _account_options(
    grants: _Grants, statement: sqlscan.Statement, toks: list[sqlscan.Token], i: int, principal: _Principal
) -> list[tuple[int, int]]:
    """CREATE/ALTER USER's clauses after the account; the spans of the verifiers (to mask)."""
    spans: list[tuple[int, int]] = []
    principal.described = True
    if not (i < len(toks) and toks[i].is_word("IDENTIFIED")):
        principal.plugins, principal.state = ["mysql_native_password"], PasswordState.EMPTY
    while i < len(toks):
        tok = toks[i]
        if tok.is_word("IDENTIFIED"):
            i = _identified(grants, statement, toks, i, principal, spans)
        elif tok.is_word("REQUIRE"):
            i = _require(toks, i, principal)
        elif tok.is_word("WITH") and i + 1 < len(toks) and toks[i + 1].value.upper().startswith("MAX_"):
            i = _limits(toks, i + 1, principal)
        elif tok.is_word("PASSWORD") and i + 1 < len(toks) and toks[i + 1].is_word("EXPIRE"):
            i = _expire(toks, i + 2, principal)
        elif tok.is_word("ACCOUNT") and i + 1 < len(toks):
            principal.locked = toks[i + 1].is_word("LOCK")
            i += 2
        else:
            i += 1  # MySQL 8's PASSWORD HISTORY/REUSE/REQUIRE CURRENT, FAILED_LOGIN_ATTEMPTS, COMMENT…: kept as written
    return spans


def _identified(
    grants: _Grants,
    statement: sqlscan.Statement,
    toks: list[sqlscan.Token],
    i: int,
    principal: _Principal,
    spans: list[tuple[int, int]],
) -> int:
    """``IDENTIFIED BY [PASSWORD] 'x'`` or ``IDENTIFIED VIA|WITH plugin [USING|AS|BY 'x'] [OR …]``."""
    states: list[PasswordState] = []
    plugins: list[str] = []
    i += 1
    if i < len(toks) and toks[i].is_word("BY"):
        hashed = i + 1 < len(toks) and toks[i + 1].is_word("PASSWORD")
        value, i = _verifier(grants, statement, toks, i + (2 if hashed else 1), spans)
        plugins.append("mysql_native_password")
        states.append(_native_state(value) if hashed else _state(value))
    elif i + 1 < len(toks) and toks[i].is_word("VIA", "WITH"):
        i += 1
        while i < len(toks):  # plugin [USING|AS|BY 'x'] [OR plugin …]
            if toks[i].kind not in ("word", "ident", "string"):
                _bad(grants, statement, "an authentication plugin is missing", "缺少认证插件名")
            plugin = toks[i].value.lower()
            stored: str | None = None
            i += 1
            if i < len(toks) and toks[i].is_word("USING", "AS", "BY"):
                stored, i = _verifier(grants, statement, toks, i + 1, spans)
            plugins.append(plugin)
            states.append(_plugin_state(plugin, stored))
            if not (i < len(toks) and toks[i].is_word("OR")):
                break
            i += 1
    else:
        _bad(grants, statement, "IDENTIFIED without BY, VIA or WITH", "IDENTIFIED 后缺少 BY、VIA 或 WITH")
    principal.plugins = plugins
    principal.state = _combined(states)
    return i


def _verifier(
    grants: _Grants,
    statement: sqlscan.Statement,
    toks: list[sqlscan.Token],
    i: int,
    spans: list[tuple[int, int]],
) -> tuple[str, int]:
    """The verifier literal at ``i`` (also ``PASSWORD('…')``), its span noted for masking; the index after it."""
    if i + 3 < len(toks) and toks[i].is_word("PASSWORD") and toks[i + 1].value == "(":
        spans.append((toks[i].start, toks[i + 3].end))
        return "<plaintext>", i + 4
    if i >= len(toks) or toks[i].kind not in ("string", "hex"):
        _bad(grants, statement, "a password clause without its value", "口令子句缺少取值")
    value = toks[i].value
    if value not in ("", "invalid"):
        spans.append((toks[i].start, toks[i].end))
    return value, i + 1


def _native_state(value: str) -> PasswordState:
    if value == "":
        return PasswordState.EMPTY
    return (
        PasswordState.SET if _HASH.fullmatch(value) else PasswordState.DISABLED
    )  # 'invalid': no password works


def _state(value: str) -> PasswordState:
    return PasswordState.EMPTY if value == "" else PasswordState.SET


def _plugin_state(plugin: str, value: str | None) -> PasswordState:
    if plugin in NATIVE:
        return _native_state(value or "")
    if plugin in NO_VERIFIER_PLUGINS and not value:
        return PasswordState.NONE  # the operating system (or PAM, Kerberos) says who it is
    return _state(value or "")


def _combined(states: list[PasswordState]) -> PasswordState:
    """One state for alternatives joined by OR: the weakest way in wins (an empty password first)."""
    for state in (PasswordState.EMPTY, PasswordState.SET, PasswordState.NONE, PasswordState.DISABLED):
        if state in states:
            return state
    return PasswordState.UNKNOWN


def _require(toks: list[sqlscan.Token], i: int, principal: _Principal) -> int:
    words = []
    i += 1
    while i < len(toks) and not toks[i].is_word("WITH", "PASSWORD", "ACCOUNT", "IDENTIFIED"):
        words.append(toks[i].value.upper() if toks[i].kind == "word" else "'…'")
        i += 1
    principal.require = " ".join(words)
    return i


def _limits(toks: list[sqlscan.Token], i: int, principal: _Principal) -> int:
    while i + 1 < len(toks) and toks[i].value.upper().startswith("MAX_"):
        principal.limits.append((toks[i].value.lower(), toks[i + 1].value))
        i += 2
    return i


def _expire(toks: list[sqlscan.Token], i: int, principal: _Principal) -> int:
    """``PASSWORD EXPIRE`` (now), ``… INTERVAL N DAY``, ``… NEVER``, ``… DEFAULT``."""
    if i < len(toks) and toks[i].is_word("INTERVAL") and i + 1 < len(toks):
        principal.lifetime = toks[i + 1].value
        return i + 3
    if i < len(toks) and toks[i].is_word("NEVER", "DEFAULT"):
        principal.lifetime = toks[i].value.lower()
        return i + 1
    principal.expired = True
    return i


def _split_top(toks: list[sqlscan.Token]) -> list[list[sqlscan.Token]]:
    """``toks`` split at commas outside parentheses."""
    parts: list[list[sqlscan.Token]] = [[]]
    depth = 0
    for tok in toks:
        if tok.kind == "punct" and tok.value in "()":
            depth += 1 if tok.value == "(" else -1
        if tok.kind == "punct" and tok.value == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def _grant(
    grants: _Grants, statement: sqlscan.Statement, toks: list[sqlscan.Token], *, negated: bool
) -> None:
    """``GRANT privs ON level TO accounts [IDENTIFIED …] [WITH GRANT OPTION]``, ``GRANT roles TO accounts [WITH
    ADMIN OPTION]``, ``GRANT PROXY ON account TO accounts``; REVOKE (``FROM``) as negated rights."""
    upper = [t.value.upper() if t.kind == "word" else "" for t in toks]
    to_word = "FROM" if negated else "TO"
    if to_word not in upper:
        _bad(grants, statement, f"{upper[0]} without {to_word}", f"{upper[0]} 缺少 {to_word}")
    to = upper.index(to_word)
    on = upper.index("ON") if "ON" in upper[:to] else None
    i = to + 1
    members: list[Key] = []
    spans: list[tuple[int, int]] = []
    while i < len(toks):
        key, i = _user_spec(grants, statement, toks, i)
        members.append(key)
        principal = grants.principal(key, statement.line)
        if i < len(toks) and toks[i].is_word("IDENTIFIED"):
            i = _identified(grants, statement, toks, i, principal, spans)
            principal.described = True
        if i < len(toks) and toks[i].kind == "punct" and toks[i].value == ",":
            i += 1
            continue
        break
    tail = [t.value.upper() for t in toks[i:]]
    grant_option = "GRANT" in tail and "OPTION" in tail
    admin = "ADMIN" in tail and "OPTION" in tail
    evidence = grants.evidence(statement, sqlscan.replace_spans(statement.text, spans, VERIFIER))
    # MariaDB's SHOW GRANTS for a role repeats the grants of the roles it holds: each statement counts once.
    members = [m for m in members if evidence.raw not in {e.raw for e in grants.principals[m].evidence}]
    if on is None:
        for part in _split_top(toks[1:to]):
            role, _ = _user_spec(grants, statement, part, 0)
            grants.principal(role, statement.line)
            for member in members:
                grants.edges.append(_Edge(role, member, admin, evidence))
        for member in members:
            grants.principals[member].evidence.append(evidence)
        return
    scope = _scope(toks[on + 1 : to])
    rights = []
    for part in _split_top(toks[1:on]):
        columns = [t.value for t in part if t.kind == "ident"]
        name = " ".join(t.value.upper() for t in part if t.kind == "word")
        if name != "USAGE":
            rights.append((name, scope + (f" ({', '.join(columns)})" if columns else "")))
    if grant_option:
        rights.append(("GRANT OPTION", scope))
    for member in members:
        principal = grants.principals[member]
        principal.evidence.append(evidence)
        principal.rights += [_Right(name, where, negated, evidence) for name, where in rights]


def _scope(toks: list[sqlscan.Token]) -> str:
    """The level of a grant: ``*.*``, ``db.*``, ``db.table``, ``PROCEDURE db.name``, an account for PROXY."""
    words, text = [], ""
    for tok in toks:
        if tok.kind == "word" and tok.value.upper() in ("TABLE", "PROCEDURE", "FUNCTION", "PACKAGE", "BODY"):
            words.append(tok.value.upper())
        elif tok.kind in ("string", "ident"):
            text += tok.value or "''"
        else:
            text += tok.value
    return " ".join([*words, text]) if text else " ".join(words)


def _default_role(grants: _Grants, statement: sqlscan.Statement, toks: list[sqlscan.Token]) -> None:
    """MariaDB ``SET DEFAULT ROLE r FOR account``; MySQL 8 ``SET DEFAULT ROLE r TO account``."""
    upper = [t.value.upper() if t.kind == "word" else "" for t in toks]
    split = next((i for i, w in enumerate(upper) if i > 3 and w in ("FOR", "TO")), None)
    if split is None:
        _bad(grants, statement, "SET DEFAULT ROLE without FOR", "SET DEFAULT ROLE 缺少 FOR")
    roles = [_user_spec(grants, statement, part, 0)[0] for part in _split_top(toks[3:split])]
    evidence = grants.evidence(statement, statement.text)
    for part in _split_top(toks[split + 1 :]):
        key, _ = _user_spec(grants, statement, part, 0)
        principal = grants.principal(key, statement.line)
        principal.default_role = ", ".join(_label(r) for r in roles if r[0].upper() != "NONE")
        principal.evidence.append(evidence)


def _label(key: Key) -> str:
    return key[0] if key[1] is None else f"{key[0]}@{key[1]}"


# ---------------------------------------------------------------------------------------------------------
# From the statements to the inventory


def _superuser(name: str, scope: str) -> bool:
    if scope == "*.*":
        return name in SUPERUSER_GLOBAL
    return scope in GRANT_TABLES and name in SUPERUSER_ON_GRANT_TABLES


def _privileges(grants: _Grants, key: Key) -> list[Privilege]:
    """The rights of ``key``: its own, then for each role it reaches (nearest first) the role and its rights."""
    own = grants.principals[key]
    out = [_privilege(r, "user") for r in own.rights]
    paths: dict[Key, list[_Edge]] = {}
    queue: deque[tuple[Key, list[_Edge]]] = deque([(key, [])])
    by_member: dict[Key, list[_Edge]] = {}
    for edge in grants.edges:
        by_member.setdefault(edge.member, []).append(edge)
    while queue:
        here, path = queue.popleft()
        for edge in sorted(by_member.get(here, []), key=lambda e: _label(e.role)):
            if edge.role in paths or edge.role == key:
                continue
            paths[edge.role] = [*path, edge]
            queue.append((edge.role, paths[edge.role]))
    for role, path in sorted(paths.items(), key=lambda item: (len(item[1]), _label(item[0]))):
        via = ",".join(f"role:{_label(e.role)}" for e in path)
        scope = "membership admin" if path[-1].admin else "membership"
        out.append(Privilege(_label(role), scope, via, evidence=path[0].evidence))
        out += [_privilege(r, via) for r in grants.principals[role].rights]
    return out


def _privilege(right: _Right, via: str) -> Privilege:
    superuser = _superuser(right.name, right.scope)
    return Privilege(
        right.name, right.scope, via, negated=right.negated, superuser=superuser, evidence=right.evidence
    )


def _inventory(
    grants: _Grants, data: bytes, *, target: str, when: datetime, warnings: list[str]
) -> Inventory:
    lifetime = grants.meta.get("default_password_lifetime")
    default_days = int(lifetime) if lifetime and lifetime.isdigit() else None
    role_keys = {e.role for e in grants.edges} | {k for k in grants.principals if k[1] is None}
    accounts = [
        _account(grants, p, default_days, when)
        for key, p in sorted(grants.principals.items(), key=lambda item: _label(item[0]))
        if key[1] is not None
    ]
    groups = []
    for role in sorted(role_keys, key=_label):
        edges = [e for e in grants.edges if e.role == role]
        privileged = any(p.superuser and not p.negated for p in _privileges(grants, role))
        groups.append(
            Group(
                name=_label(role),
                members=tuple(sorted({_label(e.member) for e in edges})),
                admins=tuple(sorted({_label(e.member) for e in edges if e.admin})),
                privileged=privileged,
                evidence=tuple(grants.principals[role].evidence),
            )
        )
    warnings.append("MySQL/MariaDB record no last login: last logins are unknown")
    settings = [
        (k, grants.meta[k]) for k in ("default_password_lifetime", "server_version") if k in grants.meta
    ]
    source = SourceFile(grants.source, grants.digest, len(data), content=data, sealed=True, backup=True)
    return Inventory(
        platform="mariadb", target=target, gathered_at=when, accounts=tuple(accounts), groups=tuple(groups),
        settings=tuple(sorted(settings)), sources=(source,), warnings=tuple(warnings),
    )  # fmt: skip


def _account(grants: _Grants, p: _Principal, default_days: int | None, when: datetime) -> Account:
    key = (p.user, p.host)
    attributes = [("user", p.user), ("host", p.host or ""), ("password_lifetime", p.lifetime)]
    if p.plugins:
        attributes.append(("plugin", " OR ".join(p.plugins)))
    if p.user == "":
        attributes.append(("anonymous", "yes"))
    if p.host and ("%" in p.host or "_" in p.host):
        attributes.append(("host_wildcard", "yes"))
    if p.state is PasswordState.EMPTY:
        attributes.append(("empty_authentication_string", "yes"))
    if p.expired:
        attributes.append(("password_expired", "yes"))
    if p.require and p.require != "NONE":
        attributes.append(("require", p.require))
    if p.default_role:
        attributes.append(("default_role", p.default_role))
    attributes += p.limits
    changed_at = grants.changed.get(key)
    changed = datetime.fromtimestamp(changed_at, UTC).date() if changed_at else None
    if p.lifetime.isdigit():
        max_days, known = (int(p.lifetime) or None), True
    elif p.lifetime == "never":
        max_days, known = None, True
    else:
        max_days, known = (default_days or None), default_days is not None
    direct = sorted({_label(e.role) for e in grants.edges if e.member == key})
    return Account(
        name=p.label, kind=AccountKind.DATABASE, uid=p.label, login_allowed=not p.locked,
        password_state=p.state if p.described else PasswordState.UNKNOWN, password_changed=changed,
        password_max_days=max_days, password_policy_known=known,
        password_expires=changed + timedelta(days=max_days) if changed and max_days else None,
        locked=p.locked, last_login_known=False, groups=tuple(direct),
        privileges=tuple(_privileges(grants, key)), attributes=tuple(sorted(attributes)),
        evidence=tuple(p.evidence),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Live: SHOW CREATE USER and SHOW GRANTS for every row


def _where(target: Target) -> str:
    return f"{target.host}:{target.port}"


async def gather(target: Target, credential: Credential) -> Inventory:
    """The inventory of the server at ``target``, or GatherError with its status and reason (zh/en)."""
    where = _where(target)
    data = await connectors_run.in_thread(_collect, target, credential)
    return build(data, source=BACKUP_NAME, target=where, gathered_at=datetime.now(UTC))


_AUTH_CODES = {1045, 1130, 1698}  # access denied, host not allowed, plugin refused
_LOCK_CODES = {3118, 4151, 1862, 1820}  # account locked (MySQL, MariaDB), password expired (login, sandbox)
_PRIVILEGE_CODES = {1044, 1141, 1142, 1143, 1227, 1370}


def _failure(where: str, user: str, code: int | None, connecting: bool) -> GatherError:
    """The status of a driver error from its number (never the driver's text, which may echo input)."""
    if code in _AUTH_CODES:
        return GatherError(
            Status.AUTH_FAILED, f"{where}: the login {user!r} was refused (wrong password, or not allowed from here)",
            f"{where}：登录账户 {user} 被拒绝（密码错误或不允许从此处登录）",
        )  # fmt: skip
    if code in _LOCK_CODES:
        return GatherError(
            Status.LOCKED, f"{where}: the login {user!r} is locked or its password has expired (error {code})",
            f"{where}：登录账户 {user} 已锁定或口令已过期（错误 {code}）",
        )  # fmt: skip
    if code in _PRIVILEGE_CODES:
        return GatherError(
            Status.REFUSED,
            f"{where}: the login {user!r} may not read the accounts (mysql.user, SHOW GRANTS; error {code}); "
            "grant it SELECT on mysql.*",
            f"{where}：登录账户 {user} 无权读取账户信息（mysql.user、SHOW GRANTS；错误 {code}）；"
            "请授予其 mysql.* 的 SELECT 权限",
        )
    if code in (2003, 2006, 2013) and connecting:
        return GatherError(
            Status.UNREACHABLE, f"{where}: cannot connect (error {code})", f"{where}：无法连接（错误 {code}）"
        )
    return GatherError(
        Status.REFUSED,
        f"{where}: the server refused a query (error {code})",
        f"{where}：服务器拒绝了查询（错误 {code}）",
    )


def connect(target: Target, credential: Credential) -> Any:
    """A PyMySQL connection to ``target`` as ``credential`` (blocking), or GatherError with its status.
    Shared by the gathering and the changer (connectors/change/mariadb.py)."""
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
        text = str(exc.args[1]) if len(exc.args) > 1 else ""
        failure = _failure(where, credential.username, code, connecting=True)
        if code in (2003, 2013) and "timed out" in text:
            failure = GatherError(
                Status.TIMEOUT,
                f"{where}: no answer within the target's timeout",
                f"{where}：在设定的超时时间内无响应",
            )
    raise failure


def _collect(target: Target, credential: Credential) -> bytes:
    pymysql = _driver()
    failure: GatherError | None = None
    conn = connect(target, credential)
    try:
        with conn:
            return _backup_text(conn).encode("utf-8")
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        failure = _failure(_where(target), credential.username, code, connecting=False)
    raise failure


def login_user(name: str) -> str:
    """The user to log in as, for a credential named like the inventory's accounts (``user@host``) or not."""
    user, at, _host = name.rpartition("@")
    return user if at and user else name


def _driver() -> Any:
    """PyMySQL, imported when a live gathering needs it (an offline parse does not)."""
    import pymysql  # type: ignore[import-untyped]

    return pymysql


def _quoted(conn: Any, key: Key) -> str:
    """An account or role as one-line literals (a name may hold a line break): ``'user'@'host'``."""
    user: str = conn.escape(key[0])
    return user if key[1] is None else f"{user}@{conn.escape(key[1])}"


def _backup_text(conn: Any) -> str:
    """Every account's SHOW CREATE USER and SHOW GRANTS, and every role's grants, as one replayable script."""
    with conn.cursor() as cur:
        cur.execute("SET SESSION TRANSACTION READ ONLY")
        cur.execute("SELECT VERSION()")
        (version,) = cur.fetchone()
        lines = [
            f"{HEADER}: SHOW CREATE USER and SHOW GRANTS for every account and role",
            f"-- handover: server_version = {version}",
        ]
        lifetime = _optional(cur, "SELECT @@global.default_password_lifetime")
        if lifetime is not None:
            lines.append(f"-- handover: default_password_lifetime = {lifetime[0]}")
        cur.execute("SELECT * FROM mysql.user LIMIT 0")
        columns = {d[0].lower() for d in cur.description}
        role_column = "is_role" if "is_role" in columns else "'N'"
        cur.execute(f"SELECT User, Host, {role_column} FROM mysql.user")  # noqa: S608 (a fixed column)
        rows = sorted(
            ((u, h, r == "Y") for u, h, r in cur.fetchall()), key=lambda row: (row[2], row[0], row[1])
        )
        changed = _last_changed(cur, columns)
        for user, host, is_role in rows:
            lines.append("")
            if is_role:
                lines += [
                    f"-- Grants for role {_quoted(conn, (user, None))}",
                    f"CREATE ROLE `{user.replace('`', '``')}`;",
                ]
                cur.execute("SHOW GRANTS FOR `" + user.replace("`", "``") + "`")
                lines += [row[0] + ";" for row in cur.fetchall()]
                continue
            spec = _quoted(conn, (user, host))
            lines.append(f"-- Grants for {spec}")
            if (user, host) in changed:
                lines.append(f"-- handover: password_last_changed {spec} = {changed[(user, host)]}")
            create = _optional(cur, f"SHOW CREATE USER {spec}")
            if create is not None:
                lines.append(create[0] + ";")
            cur.execute(f"SHOW GRANTS FOR {spec}")
            lines += [row[0] + ";" for row in cur.fetchall()]
    return "\n".join([*lines, "", TRAILER, ""])


def _optional(cur: Any, query: str) -> Any:
    """The first row of ``query``, or None where the server does not know it (an older version)."""
    pymysql = _driver()
    try:
        cur.execute(query)
    except pymysql.err.ProgrammingError as exc:
        if exc.args and exc.args[0] in (1064, 1193):  # syntax (no SHOW CREATE USER), unknown variable
            return None
        raise
    except pymysql.err.OperationalError as exc:
        if exc.args and exc.args[0] == 1193:
            return None
        raise
    return cur.fetchone()


def _last_changed(cur: Any, columns: set[str]) -> dict[Key, int]:
    """Each row's last password change, seconds since 1970 (MariaDB 10.4+: global_priv; MySQL: mysql.user)."""
    pymysql = _driver()
    try:
        cur.execute(
            "SELECT User, Host, JSON_VALUE(Priv, '$.password_last_changed') FROM mysql.global_priv "
            "WHERE JSON_VALUE(Priv, '$.password_last_changed') IS NOT NULL"
        )
    except pymysql.err.ProgrammingError:
        if "password_last_changed" not in columns:
            return {}
        cur.execute(
            "SELECT User, Host, UNIX_TIMESTAMP(password_last_changed) FROM mysql.user "
            "WHERE password_last_changed IS NOT NULL"
        )
    return {(u, h): int(float(v)) for u, h, v in cur.fetchall() if v is not None}


MANIFEST = register(
    Manifest(
        code="mariadb",
        label_en="MySQL / MariaDB database",
        label_zh="MySQL / MariaDB 数据库",
        default_port=3306,
        gather=gather,
        parse=parse,
        offline_kinds=("mysql-grants",),
    )
)

__all__ = ["MANIFEST", "build", "gather", "parse"]
