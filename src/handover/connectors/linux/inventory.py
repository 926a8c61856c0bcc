"""One Linux host's files (a ``Source``) into an ``Inventory``: the same code for live and offline.

第二十二条: every super-user and equivalent is listed (uid 0 whatever its shell, sudo ``ALL`` however it is
granted, the docker/disk/lxd groups); 第二十六条第2、3项: the permission files are kept as the pre-change
backup (shadow and gshadow sealed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from handover.connectors.linux import activity, sshd
from handover.connectors.linux import sudoers as sudo
from handover.connectors.linux.reading import NOT_VERIFIERS, Reader, evidence, mask, rows, to_int
from handover.connectors.linux.source import Source, clean
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

EPOCH = date(1970, 1, 1)
NEVER_EXPIRES = 99999
NOLOGIN_SHELLS = {"/sbin/nologin", "/usr/sbin/nologin", "/bin/false", "/usr/bin/false", "/sbin/halt",
                  "/sbin/shutdown", "/bin/sync"}  # fmt: skip
# Groups that give root or read/write on every disk (第二十二条: 同等权限用户); wheel/sudo/admin are
# privileged too, but what they give is what sudoers grants them (read below).
ROOT_EQUIVALENT_GROUPS = {"docker", "disk", "lxd", "lxc"}
# Commands that, run as root, are a root shell (sudo ALL in all but name).
ROOT_SHELL_COMMANDS = {
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "csh",
    "tcsh",
    "fish",
    "su",
    "sudo",
    "sudoedit /etc/sudoers",
}
PRIVILEGED_GROUPS = {"wheel", "sudo", "admin", "root"} | ROOT_EQUIVALENT_GROUPS
BACKUP = ("etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/sudoers", "etc/ssh/sshd_config")
SEALED = ("etc/shadow", "etc/gshadow")


def build(source: Source, *, target: str, gathered_at: datetime | None = None, host: str = "") -> Inventory:
    """The inventory of the host whose files ``source`` holds; a bad line raises ``ParseError``."""
    reader = Reader(source)
    when = gathered_at or datetime.now(UTC)
    passwd = rows(reader, "etc/passwd", 7, required=True)
    shadow = {p[0]: (n, p, raw) for n, p, raw in rows(reader, "etc/shadow", 9, required=False)}
    if reader.text("etc/shadow") is None:
        reader.warnings.append("/etc/shadow: not collected; password states unknown")
    groups = _groups(reader)
    sudoers = _read_sudoers(reader, host)
    sshd_conf = sshd.settings(reader)
    if dict(sshd_conf).get("authorizedkeyscommand", "none") not in ("none", ""):
        reader.warnings.append("sshd AuthorizedKeysCommand is set: keys it returns are not listed")
    host_facts = _Host(
        reader, groups, sudoers, activity.logins(reader),
        dict(sshd_conf).get("authorizedkeysfile", sshd.DEFAULT_KEY_FILES), when.date(),
    )  # fmt: skip
    seen: set[str] = set()
    accounts = []
    for number, parts, raw in passwd:
        if parts[0] in seen:
            reader.warnings.append(f"/etc/passwd:{number}: {parts[0]!r} listed twice; the first entry counts")
        seen.add(parts[0])
        accounts.append(_account(host_facts, number, parts, raw, shadow.get(parts[0])))
    settings = [(f"sshd.{k}", v) for k, v in sshd_conf]
    settings += [
        ("sudoers.Defaults", f"{text} ({path}:{number})") for path, text, number, _ in sudoers.defaults
    ]
    return Inventory(
        platform="linux", target=target, gathered_at=when, accounts=tuple(accounts), groups=tuple(groups),
        jobs=tuple(activity.jobs(reader)), settings=tuple(sorted(settings)),
        sources=_sources(reader, {clean(f) for f in sudoers.files}),
        warnings=tuple(reader.warnings + sudoers.warnings),
    )  # fmt: skip


@dataclass(frozen=True)
class _Host:
    """What every account of one host is read against."""

    reader: Reader
    groups: list[Group]
    sudoers: sudo.Sudoers
    logins: dict[str, activity.Logins]
    key_patterns: str
    today: date


def _groups(reader: Reader) -> list[Group]:
    """group and gshadow together: members of both, gshadow's administrators, privileged groups marked."""
    gshadow = {p[0]: (n, p, raw) for n, p, raw in rows(reader, "etc/gshadow", 4, required=False)}
    groups = []
    for number, parts, raw in rows(reader, "etc/group", 4, required=False):
        name, _pw, gid, users = parts
        to_int(gid, "etc/group", number, "gid")
        names = [u.strip() for u in users.split(",") if u.strip()]
        proofs = [evidence(reader, "etc/group", number, mask(raw, 1))]
        admins: list[str] = []
        if name in gshadow:
            g_number, g_parts, g_raw = gshadow[name]
            admins = [u.strip() for u in g_parts[2].split(",") if u.strip()]
            names += [u.strip() for u in g_parts[3].split(",") if u.strip() and u.strip() not in names]
            proofs.append(evidence(reader, "etc/gshadow", g_number, mask(g_raw, 1)))
        privileged = name in PRIVILEGED_GROUPS or gid == "0"
        groups.append(
            Group(name, gid, tuple(sorted(set(names))), tuple(sorted(admins)), privileged, tuple(proofs))
        )
    return groups


@dataclass
class _Password:
    """What passwd and shadow say about one account's password and expiry."""

    state: PasswordState = PasswordState.UNKNOWN
    changed: date | None = None
    max_days: int | None = None
    known: bool = False
    expires: date | None = None
    account_expires: date | None = None
    locked: bool = False
    attributes: list[tuple[str, str]] = field(default_factory=list)


def _password(verifier: str, row: tuple[int, list[str], str] | None) -> _Password:
    """The password facts from passwd's field (``verifier``) and the account's shadow row, if any."""
    out = _Password()
    if verifier not in ("x", "*", ""):  # a verifier left in passwd itself (no shadow for this account)
        out.state, out.locked = _state(verifier), verifier.startswith("!") and len(verifier) > 2
        out.attributes.append(("verifier_in", "passwd"))
    elif verifier == "":
        out.state = PasswordState.EMPTY
    if row is None:
        return out
    number, s, _raw = row
    if verifier == "x":
        out.state = _state(s[1])
        out.locked = s[1].startswith("!") and s[1] not in NOT_VERIFIERS
        if s[1] == "!!":
            out.attributes.append(("password_never_set", "yes"))
    lastchg, min_days, max_raw, _warn, inactive, expire = (
        to_int(s[i], "etc/shadow", number, what)
        for i, what in ((2, "lastchg"), (3, "min"), (4, "max"), (5, "warn"), (6, "inactive"), (7, "expire"))
    )
    out.known = True
    if lastchg == 0:
        out.attributes.append(("must_change_password", "yes"))
    elif lastchg is not None:
        out.changed = EPOCH + timedelta(days=lastchg)
    out.max_days = None if max_raw is None or max_raw >= NEVER_EXPIRES or max_raw < 0 else max_raw
    if out.changed and out.max_days is not None:
        out.expires = out.changed + timedelta(days=out.max_days)
    if expire is not None and expire >= 0:
        out.account_expires = EPOCH + timedelta(days=expire)
    for label, value in (("min_days", min_days), ("inactive_days", inactive)):
        if value is not None:
            out.attributes.append((label, str(value)))
    return out


def _account(
    host: _Host, number: int, parts: list[str], raw: str, shadow: tuple[int, list[str], str] | None
) -> Account:
    """One passwd line, with its shadow row, groups, privileges, keys and last login."""
    reader = host.reader
    name, verifier, uid, gid, gecos, home, shell = parts
    to_int(uid, "etc/passwd", number, "uid")
    to_int(gid, "etc/passwd", number, "gid")
    proofs = [evidence(reader, "etc/passwd", number, mask(raw, 1))]
    if shadow is not None:
        proofs.append(evidence(reader, "etc/shadow", shadow[0], mask(shadow[2], 1)))
    elif verifier == "x" and reader.text("etc/shadow") is not None:
        reader.warnings.append(f"/etc/passwd:{number}: {name!r} has no line in /etc/shadow")
    password = _password(verifier, shadow)
    primary = next((g.name for g in host.groups if g.gid == gid), gid)
    member_of = {g.name for g in host.groups if name in g.members} - {primary}
    account_groups = (primary, *sorted(member_of))
    login = host.logins.get(name)
    attributes = [("gid", gid), *password.attributes, *sorted((login.counts if login else {}).items())]
    expired = password.account_expires is not None and password.account_expires <= host.today
    if expired:
        attributes.append(("account_expired", "yes"))
    if gecos:
        attributes.append(("gecos", gecos))
    return Account(
        name=name, kind=AccountKind.OS, uid=uid, display_name=gecos.partition(",")[0].strip(), shell=shell,
        home=home, login_allowed=shell not in NOLOGIN_SHELLS and shell != "" and not expired,
        password_state=password.state, password_changed=password.changed, password_max_days=password.max_days,
        password_policy_known=password.known, password_expires=password.expires,
        account_expires=password.account_expires, locked=password.locked,
        last_login=login.last if login else None, last_login_known=bool(login and login.known),
        groups=account_groups, privileges=tuple(_privileges(host, name, uid, account_groups, proofs[0])),
        keys=tuple(sshd.keys(reader, host.key_patterns, name, uid, home)),
        attributes=tuple(sorted(attributes)), evidence=tuple(proofs),
    )  # fmt: skip


def _privileges(host: _Host, name: str, uid: str, groups: tuple[str, ...], line: Evidence) -> list[Privilege]:
    out = []
    if uid == "0":
        # 第二十二条: uid 0 is root whatever the name or shell (a second uid 0 is the classic back door).
        out.append(Privilege("uid 0", "ALL", "user", superuser=True, evidence=line))
    for group in host.groups:
        if group.privileged and group.name in groups:
            superuser = group.name in ROOT_EQUIVALENT_GROUPS
            via = f"group:{group.name}"
            out.append(
                Privilege(
                    "group " + group.name, group.name, via, superuser=superuser, evidence=group.evidence[0]
                )
            )
    who = sudo.Who(name, uid, tuple((g, _gid_of(host.groups, g)) for g in groups))
    return out + _sudo_privileges(host.reader, host.sudoers, who)


def _gid_of(groups: list[Group], name: str) -> str:
    return next((g.gid for g in groups if g.name == name), "")


def _state(verifier: str) -> PasswordState:
    if verifier == "":
        return PasswordState.EMPTY
    if verifier in ("*", "!", "!!", "!*", "*LK*", "*NP*"):
        return PasswordState.DISABLED
    if verifier.startswith("!"):
        return PasswordState.LOCKED
    if verifier.startswith("*"):
        return PasswordState.DISABLED
    return PasswordState.SET


def _read_sudoers(reader: Reader, host: str) -> sudo.Sudoers:
    def read(path: str) -> bytes | None:
        return reader.source.get(path)

    def decode(path: str, data: bytes) -> str:
        name = clean(path)
        if name not in reader.texts:
            reader.texts[name] = reader.decode("/" + name, data)
        return reader.texts[name]

    result = sudo.Sudoers()
    if reader.source.get("etc/sudoers") is None:
        reader.warnings.append("/etc/sudoers: not collected; sudo rights unknown")
        return result
    return sudo.parse("/etc/sudoers", read, reader.source.listdir, decode, host=host, into=result)


def _sudo_privileges(reader: Reader, sudoers: sudo.Sudoers, who: sudo.Who) -> list[Privilege]:
    out: list[Privilege] = []
    for rule in sudoers.rules:
        found = sudo.user_match(sudoers, rule.users, who)
        if found is None or not found[0]:
            continue
        via = "user" if found[1] in ("user",) else found[1]
        hosts = ",".join(("!" if h.negated else "") + h.text for h in rule.hosts)
        evidence = Evidence(source=rule.file, raw=rule.raw, digest=reader.digest(rule.file), line=rule.line)
        for command in rule.commands:
            runas = sudo.runas_names(sudoers, command.runas_users)
            as_root = any(r in ("ALL", "root", "#0") for r in runas) and not any(
                r in ("!root", "!#0") for r in runas
            )
            if command.runas_users is None and command.runas_groups is not None:
                as_root = False  # (:group) runs as the invoking user with another group
            for item, alias in sudo.expand_commands(sudoers, command.item):
                scope = f"host={hosts} runas={','.join(runas)}"
                if command.runas_groups:
                    scope += ":" + ",".join(("!" if g.negated else "") + g.text for g in command.runas_groups)
                if alias:
                    scope += f" cmnd_alias={alias}"
                out.append(
                    Privilege(
                        item.text,
                        scope,
                        via,
                        nopasswd=command.nopasswd,
                        negated=item.negated,
                        superuser=as_root and not item.negated and _is_root_shell(item.text),
                        evidence=evidence,
                    )
                )
    return out


def _is_root_shell(command: str) -> bool:
    if command == "ALL":
        return True
    words = command.split()
    return len(words) == 1 and words[0].rsplit("/", 1)[-1] in ROOT_SHELL_COMMANDS


def _sources(reader: Reader, sudoers_files: set[str]) -> tuple[SourceFile, ...]:
    out = []
    for name, data in reader.source.read.items():
        backup = (
            name in BACKUP or name.startswith(("etc/sudoers.d/", "etc/ssh/sshd_config.d/"))
            or name.rsplit("/", 1)[-1].startswith("authorized_keys") or name in sudoers_files
        )  # fmt: skip
        sealed = name in SEALED
        out.append(
            SourceFile(
                "/" + name,
                digest_of(data),
                len(data),
                content=data if backup else b"",
                sealed=sealed,
                backup=backup,
            )
        )
    return tuple(sorted(out, key=lambda s: s.name))
