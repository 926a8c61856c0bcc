"""One Linux host's files (a ``Source``) into an ``Inventory``: the same code for live and offline.

第二十二条: every super-user and equivalent is listed (uid 0 whatever its shell, sudo ``ALL`` however it is
granted, the docker/disk/lxd groups); 第二十六条第2、3项: the permission files are kept as the pre-change
backup (shadow and gshadow sealed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from handover.connectors.errors import ParseError
from handover.connectors.linux import keys as keyfile
from handover.connectors.linux import sudoers as sudo
from handover.connectors.linux.source import Source, clean
from handover.connectors.model import (
    Account,
    AccountKind,
    Evidence,
    Group,
    Inventory,
    Job,
    Key,
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
DEFAULT_KEY_FILES = ".ssh/authorized_keys .ssh/authorized_keys2"
VERIFIER = "<verifier>"
_NOT_VERIFIERS = {"", "*", "!", "!!", "!*", "x", "*LK*", "*NP*"}


class _Reader:
    """Decodes files (UTF-8, else GB18030 with a warning) and keeps their digests and warnings."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.warnings: list[str] = []
        self.texts: dict[str, str] = {}

    def text(self, path: str) -> str | None:
        name = clean(path)
        if name in self.texts:
            return self.texts[name]
        data = self.source.get(name)
        if data is None:
            return None
        self.texts[name] = self.decode("/" + name, data)
        return self.texts[name]

    def decode(self, path: str, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            self.warnings.append(f"{path}: neither UTF-8 nor GB18030; undecodable bytes replaced")
            return data.decode("utf-8", "replace")
        self.warnings.append(f"{path}: not UTF-8, read as GB18030 (GBK)")
        return text

    def digest(self, path: str) -> str:
        return digest_of(self.source.read.get(clean(path), b""))


def _evidence(reader: _Reader, path: str, line: int | None, raw: str) -> Evidence:
    return Evidence(source="/" + clean(path), raw=raw, digest=reader.digest(path), line=line)


def _mask(raw: str, field_index: int) -> str:
    """``raw`` (a colon-separated line) with field ``field_index`` replaced when it holds a verifier."""
    parts = raw.split(":")
    if len(parts) > field_index:
        value = parts[field_index]
        if value not in _NOT_VERIFIERS:
            parts[field_index] = ("!" if value.startswith("!") else "") + VERIFIER
    return ":".join(parts)


def _rows(reader: _Reader, path: str, fields: int, *, required: bool) -> list[tuple[int, list[str], str]]:
    text = reader.text(path)
    if text is None:
        if required:
            raise ParseError(
                "/" + path, None, "missing: it is needed for every account", "缺失：所有账户都依赖此文件"
            )
        return []
    rows = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith(("+", "-")):  # NIS compat entries: not a local account
            reader.warnings.append(f"/{path}:{number}: NIS entry {line.split(':', 1)[0]!r} not resolved")
            continue
        parts = line.split(":")
        if len(parts) != fields:
            cut = number == len(lines) and not text.endswith("\n")
            raise ParseError(
                "/" + path, number,
                f"{len(parts)} fields where {fields} are expected" + (" (the file is cut off)" if cut else ""),
                f"有 {len(parts)} 个字段，应为 {fields} 个" + ("（文件被截断）" if cut else ""),
            )  # fmt: skip
        rows.append((number, parts, line))
    return rows


def _int(value: str, path: str, number: int, what: str) -> int | None:
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ParseError(
            f"/{path}", number, f"{what} {value[:20]!r} is not a number", f"{what}“{value[:20]}”不是数字"
        ) from None


def build(source: Source, *, target: str, gathered_at: datetime | None = None, host: str = "") -> Inventory:
    """The inventory of the host whose files ``source`` holds; a bad line raises ``ParseError``."""
    reader = _Reader(source)
    when = gathered_at or datetime.now(UTC)
    settings: list[tuple[str, str]] = []

    passwd = _rows(reader, "etc/passwd", 7, required=True)
    shadow = {p[0]: (n, p, raw) for n, p, raw in _rows(reader, "etc/shadow", 9, required=False)}
    if reader.text("etc/shadow") is None:
        reader.warnings.append("/etc/shadow: not collected; password states unknown")
    group_rows = _rows(reader, "etc/group", 4, required=False)
    gshadow = {p[0]: (n, p, raw) for n, p, raw in _rows(reader, "etc/gshadow", 4, required=False)}

    gid_names: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    groups: list[Group] = []
    for number, parts, raw in group_rows:
        name, _pw, gid, users = parts
        _int(gid, "etc/group", number, "gid")
        gid_names.setdefault(gid, name)
        names = [u.strip() for u in users.split(",") if u.strip()]
        evidence = [_evidence(reader, "etc/group", number, _mask(raw, 1))]
        admins: list[str] = []
        if name in gshadow:
            g_number, g_parts, g_raw = gshadow[name]
            admins = [u.strip() for u in g_parts[2].split(",") if u.strip()]
            names += [u.strip() for u in g_parts[3].split(",") if u.strip() and u.strip() not in names]
            evidence.append(_evidence(reader, "etc/gshadow", g_number, _mask(g_raw, 1)))
        for user in names:
            members.setdefault(user, []).append(name)
        privileged = name in PRIVILEGED_GROUPS or gid == "0"
        groups.append(
            Group(name, gid, tuple(sorted(set(names))), tuple(sorted(admins)), privileged, tuple(evidence))
        )

    sudoers = _read_sudoers(reader, host, settings)
    sshd = _sshd_settings(reader)
    settings += [(f"sshd.{k}", v) for k, v in sshd]
    key_patterns = dict(sshd).get("authorizedkeysfile", DEFAULT_KEY_FILES)
    if dict(sshd).get("authorizedkeyscommand", "none") not in ("none", ""):
        reader.warnings.append("sshd AuthorizedKeysCommand is set: keys it returns are not listed")
    logins = _logins(reader)
    seen_names: set[str] = set()

    accounts: list[Account] = []
    for number, parts, raw in passwd:
        name, pw, uid, gid, gecos, home, shell = parts
        _int(uid, "etc/passwd", number, "uid")
        _int(gid, "etc/passwd", number, "gid")
        if name in seen_names:
            reader.warnings.append(f"/etc/passwd:{number}: {name!r} listed twice; the first entry counts")
        seen_names.add(name)
        evidence = [_evidence(reader, "etc/passwd", number, _mask(raw, 1))]
        primary = gid_names.get(gid, gid)
        account_groups = [primary, *sorted(set(members.get(name, [])) - {primary})]
        attributes: list[tuple[str, str]] = [("gid", gid)]
        state, changed, max_days, known, expires, acct_expires, locked = (
            PasswordState.UNKNOWN,
            None,
            None,
            False,
            None,
            None,
            False,
        )
        if pw not in ("x", "*") and pw != "":
            state = _state(pw)
            locked = pw.startswith("!") and len(pw) > 2
            attributes.append(("verifier_in", "passwd"))
        elif pw == "":
            state = PasswordState.EMPTY
        if name in shadow:
            s_number, s, s_raw = shadow[name]
            evidence.append(_evidence(reader, "etc/shadow", s_number, _mask(s_raw, 1)))
            if pw == "x":
                state = _state(s[1])
                locked = s[1].startswith("!") and s[1] not in _NOT_VERIFIERS
                if s[1] == "!!":
                    attributes.append(("password_never_set", "yes"))
            lastchg = _int(s[2], "etc/shadow", s_number, "lastchg")
            min_days = _int(s[3], "etc/shadow", s_number, "min")
            max_raw = _int(s[4], "etc/shadow", s_number, "max")
            inactive = _int(s[6], "etc/shadow", s_number, "inactive")
            expire = _int(s[7], "etc/shadow", s_number, "expire")
            known = True
            if lastchg == 0:
                attributes.append(("must_change_password", "yes"))
            elif lastchg is not None:
                changed = EPOCH + timedelta(days=lastchg)
            max_days = None if max_raw is None or max_raw >= NEVER_EXPIRES or max_raw < 0 else max_raw
            if changed and max_days is not None:
                expires = changed + timedelta(days=max_days)
            if expire is not None and expire >= 0:
                acct_expires = EPOCH + timedelta(days=expire)
            for label, value in (("min_days", min_days), ("inactive_days", inactive)):
                if value is not None:
                    attributes.append((label, str(value)))
        elif pw == "x" and reader.text("etc/shadow") is not None:
            reader.warnings.append(f"/etc/passwd:{number}: {name!r} has no line in /etc/shadow")
        privileges: list[Privilege] = []
        if uid == "0":
            # 第二十二条: uid 0 is root whatever the name or shell (a second uid 0 is the classic back door).
            privileges.append(Privilege("uid 0", "ALL", "user", superuser=True, evidence=evidence[0]))
        for group in groups:
            if group.privileged and group.name in account_groups:
                privileges.append(
                    Privilege(
                        "group " + group.name,
                        group.name,
                        f"group:{group.name}",
                        superuser=group.name in ROOT_EQUIVALENT_GROUPS,
                        evidence=group.evidence[0],
                    )
                )
        who = sudo.Who(name, uid, tuple((g, _gid_of(groups, g)) for g in account_groups))
        privileges += _sudo_privileges(reader, sudoers, who)
        login = logins.get(name)
        last_login = login[0] if login else None
        for label, count in sorted((login[2] if login else {}).items()):
            attributes.append((label, count))
        account_keys = _keys(reader, key_patterns, name, uid, home)
        expired = acct_expires is not None and acct_expires <= when.date()
        if expired:
            attributes.append(("account_expired", "yes"))
        display, _, _rest = gecos.partition(",")
        accounts.append(
            Account(
                name=name,
                kind=AccountKind.OS,
                uid=uid,
                display_name=display.strip(),
                shell=shell,
                home=home,
                login_allowed=shell not in NOLOGIN_SHELLS and shell != "" and not expired,
                password_state=state,
                password_changed=changed,
                password_max_days=max_days,
                password_policy_known=known,
                password_expires=expires,
                account_expires=acct_expires,
                locked=locked,
                last_login=last_login,
                last_login_known=bool(login and login[1]),
                groups=tuple(account_groups),
                privileges=tuple(privileges),
                keys=tuple(account_keys),
                attributes=tuple(sorted(attributes + ([("gecos", gecos)] if gecos else []))),
                evidence=tuple(evidence),
            )
        )
    jobs = _jobs(reader)
    for path, text, number, _raw in sudoers.defaults:
        settings.append(("sudoers.Defaults", f"{text} ({path}:{number})"))
    sources = _sources(reader, {clean(f) for f in sudoers.files})
    return Inventory(
        platform="linux", target=target, gathered_at=when, accounts=tuple(accounts), groups=tuple(groups),
        jobs=tuple(jobs), settings=tuple(sorted(settings)), sources=sources,
        warnings=tuple(reader.warnings + sudoers.warnings),
    )  # fmt: skip


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


def _read_sudoers(reader: _Reader, host: str, settings: list[tuple[str, str]]) -> sudo.Sudoers:
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


def _sudo_privileges(reader: _Reader, sudoers: sudo.Sudoers, who: sudo.Who) -> list[Privilege]:
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


def _sshd_settings(reader: _Reader) -> list[tuple[str, str]]:
    """The effective sshd configuration: ``sshd -T`` when collected, else sshd_config (first value wins)."""
    text = reader.text("handover/sshd-T.txt")
    out: dict[str, str] = {}
    if text and text.strip():
        for line in text.splitlines():
            key, _, value = line.strip().partition(" ")
            if key and key not in out:
                out[key.lower()] = value.strip()
        return sorted(out.items())
    reader.warnings.append("sshd -T not collected: the effective sshd settings are read from sshd_config")
    _sshd_file(reader, "etc/ssh/sshd_config", out, depth=0)
    return sorted(out.items())


def _sshd_file(reader: _Reader, path: str, out: dict[str, str], *, depth: int) -> None:
    """One sshd_config file into ``out``: the first value of a keyword wins; Include is read in place; what
    is under Match applies to some connections only and is left out (sshd -T gives the global values)."""
    body = reader.text(path)
    if body is None or depth > 16:
        return
    for line in body.splitlines():
        words = line.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        key = words[0].lower().rstrip("=")
        value = words[1].lstrip("= ").strip() if len(words) > 1 else ""
        if key == "match":
            return  # everything after the first Match belongs to Match blocks
        if key == "include":
            for pattern in value.split():
                pattern = pattern if pattern.startswith("/") else "/etc/ssh/" + pattern
                folder, _, glob = pattern.rpartition("/")
                regex = re.compile("^" + re.escape(glob).replace(r"\*", "[^/]*") + "$")
                for member in reader.source.listdir(folder):
                    if regex.match(member.rsplit("/", 1)[-1]):
                        _sshd_file(reader, member, out, depth=depth + 1)
            continue
        out.setdefault(key, value)


def _key_paths(patterns: str, name: str, uid: str, home: str) -> list[str]:
    out = []
    for pattern in patterns.split():
        if pattern == "none":
            continue
        path = re.sub(
            r"%([%hUu])", lambda m: {"%": "%", "h": home, "u": name, "U": uid}[str(m.group(1))], pattern
        )
        if not path.startswith("/"):
            path = home.rstrip("/") + "/" + path
        out.append(path)
    return out


def _keys(reader: _Reader, patterns: str, name: str, uid: str, home: str) -> list[Key]:
    out = []
    for path in _key_paths(patterns, name, uid, home):
        text = reader.text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parsed = keyfile.parse_line(line)
            if isinstance(parsed, str):
                # sshd skips a line it cannot read; so do we, and say so.
                reader.warnings.append(f"{path}:{number}: not a key ({parsed}); sshd ignores it")
                continue
            algorithm, blob, comment, options = parsed
            out.append(
                Key(
                    algorithm,
                    keyfile.fingerprint(blob),
                    comment,
                    options,
                    "/" + clean(path),
                    _evidence(reader, path, number, line),
                )
            )
    return out


_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[,.]\d+)?(?:[+-]\d\d:?\d\d|Z)?)")


def _when(text: str) -> datetime | None:
    match = _ISO.search(text)
    if match:
        value = datetime.fromisoformat(match.group(1).replace(",", "."))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    for fmt in ("%a %b %d %H:%M:%S %z %Y", "%a %b %d %H:%M:%S %Y"):
        words = text.split()
        size = 6 if "%z" in fmt else 5
        if len(words) >= size:
            try:
                value = datetime.strptime(" ".join(words[-size:]), fmt)
            except ValueError:
                continue
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _logins(reader: _Reader) -> dict[str, tuple[datetime | None, bool, dict[str, str]]]:
    """Per account: last login, whether the sources cover it, and counts of failures (btmp, faillock)."""
    out: dict[str, tuple[datetime | None, bool, dict[str, str]]] = {}

    def seen(name: str, when: datetime | None, known: bool) -> None:
        old = out.get(name, (None, False, {}))
        best = max((w for w in (old[0], when) if w is not None), default=None)
        out[name] = (best, old[1] or known or when is not None, old[2])

    lastlog = reader.text("handover/lastlog.txt")
    for line in (lastlog or "").splitlines()[1:]:
        words = line.split()
        if not words:
            continue
        if "**Never logged in**" in line:
            seen(words[0], None, True)
        else:
            seen(words[0], _when(line), True)
    for line in (reader.text("handover/wtmp.txt") or "").splitlines():
        words = line.split()
        if (
            len(words) < 3
            or words[0] in ("reboot", "shutdown", "wtmp", "btmp")
            or line.startswith(("wtmp", "btmp"))
        ):
            continue
        when = _when(line)
        if when is not None:
            seen(words[0], when, True)
    for line in (reader.text("handover/btmp.txt") or "").splitlines():
        words = line.split()
        if len(words) < 3 or line.startswith(("btmp", "wtmp")):
            continue
        old = out.get(words[0], (None, False, {}))
        counts = dict(old[2])
        counts["failed_logins_btmp"] = str(int(counts.get("failed_logins_btmp", "0")) + 1)
        out[words[0]] = (old[0], old[1], counts)
    current = ""
    for line in (reader.text("handover/faillock.txt") or "").splitlines():
        if line.endswith(":") and " " not in line:
            current = line[:-1]
            continue
        if current and re.match(r"^\d{4}-\d\d-\d\d", line) and line.rstrip().endswith("V"):
            old = out.get(current, (None, False, {}))
            counts = dict(old[2])
            counts["faillock_failures"] = str(int(counts.get("faillock_failures", "0")) + 1)
            out[current] = (old[0], old[1], counts)
    return out


_CRON_SPECIAL = {"@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def _cron(reader: _Reader, path: str, *, user: str | None) -> Iterable[Job]:
    text = reader.text(path)
    if text is None:
        return []
    jobs = []
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.strip()
        if not body or body.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", body):
            continue
        words = body.split()
        size = 1 if words[0] in _CRON_SPECIAL else 5
        need = size + (0 if user else 1) + 1
        if len(words) < need:
            reader.warnings.append(f"/{clean(path)}:{number}: not a cron line")
            continue
        schedule = " ".join(words[:size])
        runs_as = user or words[size]
        command = " ".join(words[size + (0 if user else 1) :])
        jobs.append(Job(runs_as, command, schedule, "cron", _evidence(reader, path, number, line)))
    return jobs


def _jobs(reader: _Reader) -> list[Job]:
    jobs: list[Job] = list(_cron(reader, "etc/crontab", user=None))
    for path in reader.source.listdir("etc/cron.d"):
        jobs += _cron(reader, path, user=None)
    for path in reader.source.listdir("var/spool/cron/crontabs"):
        jobs += _cron(reader, path, user=path.rsplit("/", 1)[-1])
    for path in reader.source.listdir("var/spool/cron"):
        jobs += _cron(reader, path, user=path.rsplit("/", 1)[-1])
    for path in reader.source.listdir("etc/systemd/system"):
        if not path.endswith(".service"):
            continue
        text = reader.text(path) or ""
        section, user, command, start = "", "root", "", 0
        for number, line in enumerate(text.splitlines(), start=1):
            body = line.strip()
            if body.startswith("["):
                section = body
            elif section == "[Service]" and "=" in body:
                key, _, value = body.partition("=")
                if key.strip() == "User" and value.strip():
                    user = value.strip()
                elif key.strip() == "ExecStart" and value.strip() and not command:
                    command, start = value.strip(), number
        if command:
            raw = text.splitlines()[start - 1]
            jobs.append(
                Job(
                    user,
                    command,
                    "systemd",
                    "systemd:" + path.rsplit("/", 1)[-1],
                    _evidence(reader, path, start, raw),
                )
            )
    return jobs


def _sources(reader: _Reader, sudoers_files: set[str]) -> tuple[SourceFile, ...]:
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
