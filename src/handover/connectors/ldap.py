"""OpenLDAP (and other RFC 4519 directories): users, groups, password policy state, live or from LDIF.

Live (ldap3, in a thread): a simple bind as the target's credential (a DN, or a name the server maps), then
one search for people (posixAccount, inetOrgPerson, shadowAccount, person, account) and one for groups
(posixGroup, groupOfNames, groupOfUniqueNames) under the base (option ``base``, else the server's first
naming context), with the operational attributes of the ppolicy and lastbind overlays (pwdChangedTime,
pwdAccountLockedTime, pwdFailureTime, pwdLastSuccess, authTimestamp). What was read is written as LDIF and
parsed like an exported file (kind ``ldif``), so live and offline give one inventory.

Facts (第二十二条, 第二十六条第2、3项): each user with its uid, names, mail, shell, home; the password's scheme
({SSHA}, {CRYPT}, {PBKDF2-…}; a value without a scheme is stored in the clear: attribute
``password_scheme=cleartext``; the value itself is never kept outside the sealed LDIF); shadowLastChange/
shadowMax/shadowExpire or pwdChangedTime; a ppolicy lock; the last successful bind where the directory
records it. Members of an administrators' group (admins, administrators, wheel, ldapadmins, domain admins,
or the target's option ``admin_groups``) hold a super-user equivalent. The LDIF read is the permission
backup: sealed (it holds userPassword).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from handover.connectors import ldif
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

MAX_FILE_BYTES = 64 << 20
ADMIN_GROUPS = frozenset(
    {"admins", "administrators", "wheel", "ldapadmins", "ldap-admins", "domain admins", "sysadmins"}
)
USER_CLASSES = frozenset(
    {"posixaccount", "inetorgperson", "shadowaccount", "person", "account", "organizationalperson"}
)
GROUP_CLASSES = frozenset({"posixgroup", "groupofnames", "groupofuniquenames"})
USER_ATTRIBUTES = [
    "objectClass",
    "uid",
    "cn",
    "sn",
    "displayName",
    "mail",
    "uidNumber",
    "gidNumber",
    "loginShell",
    "homeDirectory",
    "gecos",
    "userPassword",
    "shadowLastChange",
    "shadowMax",
    "shadowExpire",
    "pwdChangedTime",
    "pwdAccountLockedTime",
    "pwdFailureTime",
    "pwdLastSuccess",
    "authTimestamp",
    "pwdPolicySubentry",
    "memberOf",
]
GROUP_ATTRIBUTES = ["objectClass", "cn", "gidNumber", "memberUid", "member", "uniqueMember", "description"]
NEVER_DAYS = 99999


def generalized(value: str) -> datetime | None:
    """An LDAP GeneralizedTime (20261201093000Z, with fractions or an offset) as an aware datetime."""
    text = value.strip()
    if not text or text.startswith("0000"):
        return None
    main, _, _fraction = text.rstrip("Z").partition(".")
    zone = UTC
    for sign in ("+", "-"):
        if sign in main[8:]:
            main, _, offset = main.rpartition(sign)
            digits = offset[:4]  # +hh or +hhmm; anything else (found by the fuzzer) is an unknown time
            if len(digits) not in (2, 4) or not (digits.isascii() and digits.isdigit()) or digits[:2] > "23":
                return None
            minutes = (int(digits[:2]) * 60 + int(digits[2:] or 0)) * (1 if sign == "+" else -1)
            zone = timezone(timedelta(minutes=minutes))
    for pattern in ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d%H"):
        try:
            return datetime.strptime(main, pattern).replace(tzinfo=zone)
        except ValueError:
            continue
    return None


def _days(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def scheme_of(value: str) -> str:
    """``SSHA`` for ``{SSHA}…``; ``cleartext`` for a value with no scheme; ``empty`` for an empty one."""
    if value == "":
        return "empty"
    if value.startswith("{") and "}" in value:
        return value[1 : value.index("}")].upper() or "cleartext"
    return "cleartext"


def build(
    data: bytes,
    *,
    source: str,
    target: str,
    gathered_at: datetime | None = None,
    admin_groups: frozenset[str] = ADMIN_GROUPS,
    warnings: list[str] | None = None,
) -> Inventory:
    """The inventory of the directory whose LDIF export is ``data``."""
    warnings = list(warnings or [])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(
            source, None, "not UTF-8 (LDIF is UTF-8)", "不是 UTF-8 编码（LDIF 应为 UTF-8）"
        ) from None
    entries = ldif.parse_text(text, source)
    if not entries:
        raise ParseError(source, None, "no entry: not an LDIF export", "没有任何条目：不是 LDIF 导出文件")
    digest = digest_of(data)

    def ev(entry: ldif.Entry, name: str | None = None) -> Evidence:
        if name is None or not entry.has(name):
            return Evidence(source=source, raw=f"dn: {entry.dn}"[:500], digest=digest, line=entry.line)
        return Evidence(
            source=source, raw=ldif.masked(name, entry.first(name)), digest=digest, line=entry.line_of(name)
        )

    users = [e for e in entries if e.classes() & USER_CLASSES]
    groups = [e for e in entries if e.classes() & GROUP_CLASSES]
    by_uid = {e.first("uid").lower(): e for e in users if e.first("uid")}
    by_dn = {e.dn.lower(): e for e in users}
    member_of: dict[str, list[tuple[ldif.Entry, int]]] = {}
    group_rows = []
    for g in groups:
        name = g.first("cn") or g.dn
        members: list[str] = []
        for attribute in ("memberUid", "member", "uniqueMember"):
            for value, line in g.values.get(attribute.lower(), []):
                who = by_uid.get(value.lower()) if attribute == "memberUid" else by_dn.get(value.lower())
                if who is None:
                    continue
                member_of.setdefault(who.dn.lower(), []).append((g, line))
                members.append(_name(who))
        privileged = name.lower() in admin_groups
        group_rows.append(
            Group(
                name=name,
                gid=g.first("gidNumber"),
                members=tuple(sorted(set(members))),
                privileged=privileged,
                evidence=(ev(g),),
            )
        )
    accounts = []
    seen: dict[str, int] = {}
    for e in users:
        name = _name(e)
        if name.lower() in seen:
            warnings.append(f"{source}:{e.line}: {name} also at line {seen[name.lower()]}; both kept by DN")
            name = e.dn
        seen[name.lower()] = e.line
        accounts.append(_account(e, name, member_of.get(e.dn.lower(), []), admin_groups, ev))
    if not any(e.first("pwdLastSuccess") or e.first("authTimestamp") for e in users):
        warnings.append(
            "no pwdLastSuccess/authTimestamp: the directory does not record last binds (lastbind overlay)"
        )
    source_file = SourceFile(source, digest, len(data), content=data, sealed=True, backup=True)
    return Inventory(
        platform="ldap",
        target=target,
        gathered_at=gathered_at or datetime.now(UTC),
        accounts=tuple(sorted(accounts, key=lambda a: a.name)),
        groups=tuple(sorted(group_rows, key=lambda g: g.name)),
        sources=(source_file,),
        warnings=tuple(warnings),
    )


def _name(e: ldif.Entry) -> str:
    return e.first("uid") or e.first("cn") or e.dn


def _account(
    e: ldif.Entry, name: str, groups: list[tuple[ldif.Entry, int]], admin_groups: frozenset[str], ev
) -> Account:
    password = e.first("userPassword") if e.has("userPassword") else None
    scheme = scheme_of(password) if password is not None else ""
    if password is None:
        state = PasswordState.NONE
    elif scheme == "empty":
        state = PasswordState.EMPTY
    else:
        state = PasswordState.SET
    locked_at = e.first("pwdAccountLockedTime")
    changed = generalized(e.first("pwdChangedTime"))
    changed_day = changed.date() if changed else None
    last_change = _days(e.first("shadowLastChange")) if e.has("shadowLastChange") else None
    if changed_day is None and last_change is not None:
        changed_day = date(1970, 1, 1) + timedelta(days=last_change)
    max_days = _days(e.first("shadowMax")) if e.has("shadowMax") else None
    expire = _days(e.first("shadowExpire")) if e.has("shadowExpire") else None
    last = generalized(e.first("pwdLastSuccess")) or generalized(e.first("authTimestamp"))
    expires = date(1970, 1, 1) + timedelta(days=expire) if expire and expire > 0 else None
    attributes = [("dn", e.dn)]
    if scheme:
        attributes.append(("password_scheme", scheme.lower() if scheme == "cleartext" else scheme))
    if locked_at:
        attributes.append(("pwdAccountLockedTime", locked_at))
    if e.first("pwdFailureTime"):
        attributes.append(("pwdFailureTime", e.all("pwdFailureTime")[-1]))
    privileges = []
    for group, line in groups:
        cn = group.first("cn") or group.dn
        if cn.lower() in admin_groups:
            privileges.append(
                Privilege(
                    "group " + cn,
                    cn,
                    f"group:{cn}",
                    superuser=True,
                    evidence=Evidence(
                        source=ev(group).source, raw=f"member of {cn}", digest=ev(group).digest, line=line
                    ),
                )
            )
    display = e.first("displayName") or e.first("cn")
    shell = e.first("loginShell")
    return Account(
        name=name,
        kind=AccountKind.DIRECTORY,
        uid=e.first("uidNumber") or e.dn,
        display_name=display,
        email=e.first("mail"),
        shell=shell,
        home=e.first("homeDirectory"),
        login_allowed=not locked_at and password is not None,
        password_state=PasswordState.LOCKED if locked_at and state == PasswordState.SET else state,
        password_changed=changed_day,
        password_max_days=None if max_days is None or max_days >= NEVER_DAYS else max_days,
        password_policy_known=max_days is not None,
        account_expires=expires,
        locked=bool(locked_at),
        last_login=last,
        last_login_known=e.has("pwdLastSuccess") or e.has("authTimestamp"),
        groups=tuple(sorted({(g.first("cn") or g.dn) for g, _l in groups})),
        privileges=tuple(privileges),
        attributes=tuple(sorted(attributes)),
        evidence=tuple(ev(e, n) for n in ("uid", "userPassword", "pwdAccountLockedTime") if e.has(n))
        or (ev(e),),
    )


def parse(path: Path) -> Inventory:
    """The inventory the LDIF export at ``path`` describes (kind ``ldif``)."""
    path = Path(path)
    data = read_bounded(path, MAX_FILE_BYTES)
    return build(data, source=path.name, target=str(path))


# --- live -------------------------------------------------------------------------------------------------

BACKUP_NAME = "directory.ldif"


async def gather(target: Target, credential: Credential) -> Inventory:
    """The directory at ``target``, read with a simple bind; GatherError with a status and reason otherwise."""
    where = f"{target.host}:{target.port}"
    data, warnings = await connectors_run.in_thread(_collect, target, credential)
    admins = ADMIN_GROUPS | {g.strip().lower() for g in target.option("admin_groups").split(",") if g.strip()}
    return build(
        data,
        source=BACKUP_NAME,
        target=where,
        gathered_at=datetime.now(UTC),
        admin_groups=admins,
        warnings=warnings,
    )


PEOPLE = (
    "(|"
    + "".join(
        f"(objectClass={c})" for c in ("posixAccount", "inetOrgPerson", "shadowAccount", "person", "account")
    )
    + ")"
)
GROUPS = "(|(objectClass=posixGroup)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"


def _collect(target: Target, credential: Credential) -> tuple[bytes, list[str]]:
    return collect(target, credential, [(PEOPLE, USER_ATTRIBUTES), (GROUPS, GROUP_ATTRIBUTES)])


def open_connection(
    target: Target, credential: Credential, *, ssl_default: str = "", read_only: bool = True
) -> tuple[Any, Any, list[str]]:
    """A bound ldap3 connection to ``target`` (blocking), with its server and warnings; GatherError otherwise.
    Options: ``ssl`` (``ldaps`` or ``none``; default ``ssl_default``), ``tls_ca`` (verify the certificate)."""
    import ssl as ssl_module

    import ldap3
    from ldap3.core import exceptions as lx

    where = f"{target.host}:{target.port}"
    warnings: list[str] = []
    failure: GatherError | None = None
    use_ssl = (target.option("ssl") or ssl_default) == "ldaps"
    tls = None
    if use_ssl:
        ca = target.option("tls_ca")
        tls = ldap3.Tls(
            validate=ssl_module.CERT_REQUIRED if ca else ssl_module.CERT_NONE, ca_certs_file=ca or None
        )
        if not ca:
            warnings.append(f"{where}: the directory's TLS certificate was not verified (set option tls_ca)")
    server = ldap3.Server(
        target.host,
        port=target.port,
        use_ssl=use_ssl,
        tls=tls,
        get_info=ldap3.DSA,
        connect_timeout=max(1, int(target.timeout)),
    )
    conn = ldap3.Connection(
        server,
        user=credential.username,
        password=credential.secret,
        receive_timeout=max(1, int(target.timeout)),
        raise_exceptions=False,
        read_only=read_only,
    )
    try:
        if not conn.bind():
            code = (conn.result or {}).get("result")
            if code == 49:
                failure = GatherError(
                    Status.AUTH_FAILED,
                    f"{where}: the bind as {credential.username!r} was refused (invalid credentials)",
                    f"{where}：以 {credential.username} 绑定被拒绝（凭据无效）",
                )
            elif code == 53:
                failure = GatherError(
                    Status.LOCKED,
                    f"{where}: the server is unwilling (locked or expired bind account)",
                    f"{where}：服务器拒绝执行（绑定账户已锁定或过期）",
                )
            elif code == 8:
                failure = GatherError(
                    Status.REFUSED,
                    f"{where}: the server requires a protected bind: use LDAPS (option ssl=ldaps, port 636)",
                    f"{where}：服务器要求加密绑定：请使用 LDAPS（选项 ssl=ldaps，端口 636）",
                )
            else:
                failure = GatherError(
                    Status.REFUSED,
                    f"{where}: the bind failed (LDAP result {code})",
                    f"{where}：绑定失败（LDAP 结果码 {code}）",
                )
    except lx.LDAPSocketOpenError:
        failure = GatherError(Status.UNREACHABLE, f"{where}: cannot connect", f"{where}：无法连接")
    except (
        lx.LDAPException,
        KeyError,
        ValueError,
        IndexError,
    ) as exc:  # a server that is not LDAP answers garbage
        failure = GatherError(
            Status.REFUSED,
            f"{where}: LDAP error ({type(exc).__name__})",
            f"{where}：LDAP 错误（{type(exc).__name__}）",
        )
    if failure is not None:
        conn.unbind()
        raise failure
    return server, conn, warnings


def collect(
    target: Target,
    credential: Credential,
    searches: list[tuple[str, list[str]]],
    *,
    ssl_default: str = "",
) -> tuple[bytes, list[str]]:
    """Bind to ``target`` and run ``searches`` (filter, attributes) under its base, as LDIF bytes (blocking:
    run it in a thread). Shared by the LDAP and AD connectors.

    Options: ``ssl`` (``ldaps``, or ``none``; default ``ssl_default``), ``tls_ca`` (a CA file on the server
    running Handover: the directory's certificate is then verified, else it is not and a warning says so),
    ``base`` (default: the root DSE's defaultNamingContext, else its first naming context)."""
    where = f"{target.host}:{target.port}"
    server, conn, warnings = open_connection(target, credential, ssl_default=ssl_default)
    try:
        info = server.info
        default = (info.other.get("defaultNamingContext") or [""])[0] if info and info.other else ""
        base = (
            target.option("base") or default or next(iter((info.naming_contexts if info else None) or []), "")
        )
        if not base:
            raise GatherError(
                Status.REFUSED,
                f"{where}: no base DN (set the target's option base)",
                f"{where}：没有基准 DN（请设置目标选项 base）",
            )
        out: list[tuple[str, list[tuple[str, str]]]] = []
        for query, attributes in searches:
            entries = conn.extend.standard.paged_search(
                base, query, attributes=attributes, paged_size=500, generator=False
            )
            if conn.result and conn.result.get("result") not in (0, None):
                code = conn.result.get("result")
                raise GatherError(
                    Status.REFUSED,
                    f"{where}: the search under {base} was refused (LDAP result {code})",
                    f"{where}：在 {base} 下的查询被拒绝（LDAP 结果码 {code}）",
                )
            for entry in entries:
                if entry.get("type") != "searchResEntry":
                    continue
                pairs: list[tuple[str, str]] = []
                for name in attributes:
                    for value in entry["raw_attributes"].get(name, []):
                        text = ldif.text_of(name, value) if isinstance(value, bytes) else str(value)
                        pairs.append((name, text))
                out.append((entry["dn"], pairs))
        seen: set[str] = set()
        unique = [(dn, attrs) for dn, attrs in out if not (dn.lower() in seen or seen.add(dn.lower()))]  # type: ignore[func-returns-value]
        return ldif.write(unique).encode("utf-8"), warnings
    finally:
        conn.unbind()


MANIFEST = register(
    Manifest(
        code="ldap",
        label_en="LDAP directory (OpenLDAP)",
        label_zh="LDAP 目录（OpenLDAP）",
        default_port=389,
        gather=gather,
        parse=parse,
        offline_kinds=("ldif",),
    )
)

__all__ = ["MANIFEST", "build", "collect", "gather", "generalized", "parse", "scheme_of"]
