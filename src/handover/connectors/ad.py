"""Active Directory accounts from an LDIF export (``ldifde -f``, or ``ldapsearch`` against a domain controller).

Live (``gather``: LDAPS to a domain controller, tested against Samba AD DC on loopback) or offline (kind
``ad-ldif``); both go through ``build``, so they give one inventory (docs/discovery.md).
Facts (第二十二条, 第二十六条第2、3项):

* users (objectClass user, not computer): sAMAccountName, displayName/cn, mail, userAccountControl's bits
  (ACCOUNTDISABLE, LOCKOUT, PASSWD_NOTREQD, DONT_EXPIRE_PASSWORD, SMARTCARD_REQUIRED, PASSWORD_EXPIRED,
  TRUSTED_FOR_DELEGATION), pwdLastSet, lastLogonTimestamp (replicated, ±14 days) or lastLogon, accountExpires
  (FILETIME: 100 ns since 1601; 0 and 2^63-1 mean never), adminCount;
* groups and their members followed to the end (a group in Domain Admins makes its members domain admins):
  Domain/Enterprise/Schema Admins, Administrators, Account/Server/Backup Operators and DnsAdmins are super-user
  equivalents; Print Operators and Group Policy Creator Owners privileged.

An export may hold password attributes (unicodePwd, supplementalCredentials, if it was taken with them): the
file is kept sealed and their values never shown in evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from handover.connectors import ldap, ldif
from handover.connectors import run as connectors_run
from handover.connectors.errors import ParseError, read_bounded
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

MAX_FILE_BYTES = 256 << 20
SUPERUSER_GROUPS = frozenset(
    {
        "domain admins",
        "enterprise admins",
        "schema admins",
        "administrators",
        "account operators",
        "server operators",
        "backup operators",
        "dnsadmins",
    }
)
PRIVILEGED_GROUPS = SUPERUSER_GROUPS | {"print operators", "group policy creator owners"}
UAC = {
    0x0002: "ACCOUNTDISABLE",
    0x0010: "LOCKOUT",
    0x0020: "PASSWD_NOTREQD",
    0x0200: "NORMAL_ACCOUNT",
    0x10000: "DONT_EXPIRE_PASSWORD",
    0x40000: "SMARTCARD_REQUIRED",
    0x80000: "TRUSTED_FOR_DELEGATION",
    0x800000: "PASSWORD_EXPIRED",
}
EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)
NEVER = (0, 0x7FFFFFFFFFFFFFFF)


def filetime(value: str, source: str, line: int) -> datetime | None:
    """A FILETIME attribute (pwdLastSet, lastLogonTimestamp, accountExpires); 0 and 2^63-1 are None."""
    text = value.strip()
    if not text:
        return None
    try:
        ticks = int(text)
    except ValueError:
        raise ParseError(
            source, line, f"{value!r} is not a FILETIME number", f"“{value}”不是 FILETIME 数值"
        ) from None
    if ticks in NEVER or ticks < 0:
        return None
    try:
        return EPOCH_1601 + timedelta(microseconds=ticks // 10)
    except OverflowError:
        raise ParseError(source, line, f"{value!r} is out of range", f"“{value}”超出范围") from None


def parse(path: Path) -> Inventory:
    """The users and groups of the AD export at ``path``."""
    path = Path(path)
    return build(read_bounded(path, MAX_FILE_BYTES), source=path.name, target=str(path))


def build(
    data: bytes,
    *,
    source: str,
    target: str,
    gathered_at: datetime | None = None,
    warnings: list[str] | None = None,
) -> Inventory:
    """The users and groups of the AD export (or live read) ``data``."""
    warnings = list(warnings or [])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")  # ldifde -u writes UTF-16
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ParseError(source, None, "neither UTF-8 nor UTF-16", "既不是 UTF-8 也不是 UTF-16") from None
    entries = ldif.parse_text(text, source)
    digest = digest_of(data)

    def ev(entry: ldif.Entry, name: str | None = None, line: int | None = None) -> Evidence:
        if name is None or not entry.has(name):
            return Evidence(
                source=source, raw=f"dn: {entry.dn}"[:500], digest=digest, line=line or entry.line
            )
        return Evidence(
            source=source,
            raw=ldif.masked(name, entry.first(name)),
            digest=digest,
            line=line or entry.line_of(name),
        )

    users = [e for e in entries if "user" in e.classes() and "computer" not in e.classes()]
    groups = {e.dn.lower(): e for e in entries if "group" in e.classes()}
    if not users:
        raise ParseError(source, None, "no user entry: not an AD export", "没有用户条目：不是 AD 导出文件")
    # Each group's members, and each entry's direct groups (from the group's member and the entry's memberOf).
    parents: dict[str, set[str]] = {}
    for dn, g in groups.items():
        for member in g.all("member"):
            parents.setdefault(member.lower(), set()).add(dn)
    for e in [*users, *groups.values()]:
        for parent in e.all("memberOf"):
            if parent.lower() in groups:
                parents.setdefault(e.dn.lower(), set()).add(parent.lower())

    def reach(dn: str) -> dict[str, list[str]]:
        """Every group ``dn`` belongs to, with the chain of groups to it (nearest first)."""
        found: dict[str, list[str]] = {}
        queue = [(p, [p]) for p in sorted(parents.get(dn, ()))]
        while queue:
            group, chain = queue.pop(0)
            if group in found:
                continue
            found[group] = chain
            queue += [(p, [*chain, p]) for p in sorted(parents.get(group, ())) if p not in found]
        return found

    def cn(dn: str) -> str:
        g = groups.get(dn)
        return (g.first("sAMAccountName") or g.first("cn")) if g is not None else dn

    accounts = []
    for e in users:
        accounts.append(_account(e, reach(e.dn.lower()), cn, ev, source))
    group_rows = []
    for dn, g in sorted(groups.items()):
        members = sorted(
            (u.first("sAMAccountName") or u.first("cn")) for u in users if dn in reach(u.dn.lower())
        )
        group_rows.append(
            Group(
                name=cn(dn),
                gid=g.first("objectSid"),
                members=tuple(members),
                privileged=cn(dn).lower() in PRIVILEGED_GROUPS,
                evidence=(ev(g),),
            )
        )
    if not any(e.has("lastLogonTimestamp") or e.has("lastLogon") for e in users):
        warnings.append(f"{source}: no lastLogonTimestamp: last logons unknown (export them with the users)")
    return Inventory(
        platform="ad",
        target=target,
        gathered_at=gathered_at or datetime.now(UTC),
        accounts=tuple(sorted(accounts, key=lambda a: a.name.lower())),
        groups=tuple(group_rows),
        sources=(SourceFile(source, digest, len(data), content=data, sealed=True, backup=True),),
        warnings=tuple(warnings),
    )


def _account(e: ldif.Entry, groups: dict[str, list[str]], cn, ev, source: str) -> Account:
    name = e.first("sAMAccountName") or e.first("cn") or e.dn
    uac_text = e.first("userAccountControl")
    try:
        uac = int(uac_text) if uac_text else 0
    except ValueError:
        raise ParseError(
            source,
            e.line_of("userAccountControl"),
            f"userAccountControl {uac_text!r} is not a number",
            f"userAccountControl“{uac_text}”不是数值",
        ) from None
    flags = [label for bit, label in UAC.items() if uac & bit]
    disabled, locked = bool(uac & 0x0002), bool(uac & 0x0010)
    last_set = (
        filetime(e.first("pwdLastSet"), source, e.line_of("pwdLastSet")) if e.has("pwdLastSet") else None
    )
    logon_key = "lastLogonTimestamp" if e.has("lastLogonTimestamp") else "lastLogon"
    last = filetime(e.first(logon_key), source, e.line_of(logon_key)) if e.has(logon_key) else None
    expires_at = (
        filetime(e.first("accountExpires"), source, e.line_of("accountExpires"))
        if e.has("accountExpires")
        else None
    )
    privileges = []
    for dn, chain in sorted(groups.items()):
        group = cn(dn)
        if group.lower() in PRIVILEGED_GROUPS:
            via = ",".join(f"group:{cn(g)}" for g in chain)
            privileges.append(
                Privilege(
                    group,
                    "domain",
                    via,
                    superuser=group.lower() in SUPERUSER_GROUPS,
                    evidence=ev(e, "memberOf"),
                )
            )
    attributes = [("dn", e.dn), ("useraccountcontrol_flags", ",".join(flags))]
    if uac & 0x0020:
        attributes.append(("password_not_required", "yes"))
    if e.first("adminCount") == "1":
        attributes.append(("admincount", "1"))
    if e.first("userPrincipalName"):
        attributes.append(("upn", e.first("userPrincipalName")))
    state = PasswordState.UNKNOWN
    if e.has("pwdLastSet"):
        state = (
            PasswordState.SET
            if last_set is not None
            else PasswordState.EMPTY
            if uac & 0x0020
            else PasswordState.UNKNOWN
        )
    return Account(
        name=name,
        kind=AccountKind.DIRECTORY,
        uid=e.first("objectSid") or e.dn,
        display_name=e.first("displayName") or e.first("cn"),
        email=e.first("mail"),
        login_allowed=not disabled and not locked,
        password_state=PasswordState.DISABLED if disabled else state,
        password_changed=last_set.date() if last_set else None,
        password_max_days=None,
        password_policy_known=bool(uac & 0x10000),  # the domain's maxPwdAge is not here
        account_expires=expires_at.date() if expires_at else None,
        locked=locked or disabled,
        last_login=last,
        last_login_known=e.has(logon_key),
        groups=tuple(sorted(cn(dn) for dn in groups)),
        privileges=tuple(privileges),
        attributes=tuple(sorted(attributes)),
        evidence=(ev(e, "sAMAccountName"), ev(e, "userAccountControl")),
    )


# --- live -------------------------------------------------------------------------------------------------

BACKUP_NAME = "directory.ldif"
USERS = "(&(objectCategory=person)(objectClass=user)(!(objectClass=computer)))"
GROUPS = "(objectClass=group)"
USER_ATTRIBUTES = [
    "objectClass",
    "sAMAccountName",
    "userPrincipalName",
    "cn",
    "displayName",
    "mail",
    "description",
    "objectSid",
    "userAccountControl",
    "pwdLastSet",
    "lastLogonTimestamp",
    "lastLogon",
    "accountExpires",
    "adminCount",
    "memberOf",
    "whenCreated",
]
GROUP_ATTRIBUTES = ["objectClass", "sAMAccountName", "cn", "objectSid", "member", "memberOf", "groupType"]


async def gather(target: Target, credential: Credential) -> Inventory:
    """The domain at ``target`` (a domain controller, LDAPS by default), read with a simple bind as the
    target's credential (``name@domain`` or a DN). Password attributes are not asked for; the LDIF of what was
    read is the permission backup (表8), kept sealed like an export."""
    where = f"{target.host}:{target.port}"
    data, warnings = await connectors_run.in_thread(_collect, target, credential)
    return build(data, source=BACKUP_NAME, target=where, gathered_at=datetime.now(UTC), warnings=warnings)


def _collect(target: Target, credential: Credential) -> tuple[bytes, list[str]]:
    searches = [(USERS, USER_ATTRIBUTES), (GROUPS, GROUP_ATTRIBUTES)]
    return ldap.collect(target, credential, searches, ssl_default="ldaps")


MANIFEST = register(
    Manifest(
        code="ad",
        label_en="Active Directory",
        label_zh="Active Directory（活动目录）",
        default_port=636,
        gather=gather,
        parse=parse,
        offline_kinds=("ad-ldif",),
    )
)

__all__ = ["MANIFEST", "build", "filetime", "gather", "parse"]
