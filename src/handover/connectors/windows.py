"""Windows local accounts from the outputs of ``net user``, ``net user NAME`` and ``net localgroup NAME``.

Offline only (kind "windows"): the field technician runs, on the server, ``net user``, then ``net user NAME``
for each account and ``net localgroup Administrators`` (and any other group), into one text file (the
console's code page: GBK on a Chinese Windows, else UTF-8/UTF-16 as redirected by PowerShell), in English or
Chinese. Members of Administrators are super-user equivalents (第二十二条). A name listed by ``net user``
without its ``net user NAME`` block is kept with what is known and said in a warning.

The outputs hold no verifier: the file is a plain source (not sealed, not a permission backup: Windows'
permission backup is the SAM/AD's, out of this parser's reach).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from handover.connectors.errors import ParseError, read_bounded
from handover.connectors.manifest import Manifest, register
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

MAX_FILE_BYTES = 16 << 20
BEIJING = timezone(timedelta(hours=8))  # the firm's servers keep Beijing time; the output has no zone
ADMIN_GROUPS = {"administrators"}

# The labels of `net user NAME` and `net localgroup NAME`, English and Chinese Windows.
FIELDS = {
    "user name": "name", "用户名": "name",
    "full name": "full_name", "全名": "full_name",
    "comment": "comment", "注释": "comment",
    "account active": "active", "帐户启用": "active", "账户启用": "active",
    "account expires": "expires", "帐户到期": "expires", "账户到期": "expires",
    "password last set": "last_set", "上次设置密码": "last_set",
    "password expires": "password_expires", "密码到期": "password_expires",
    "password required": "required", "需要密码": "required",
    "last logon": "last_logon", "上次登录": "last_logon",
    "local group memberships": "local_groups", "本地组成员": "local_groups",
    "global group memberships": "global_groups", "全局组成员": "global_groups",
}  # fmt: skip
ALIAS = ("alias name", "别名")
MEMBERS = ("members", "成员")
LIST_HEAD = re.compile(r"^(User accounts for \\\\(?P<en>\S+)|\\\\(?P<zh>\S+)\s*的用户(帐|账)户)\s*$", re.I)
DONE = (
    "the command completed successfully.",
    "命令成功完成。",
    "the command completed with one or more errors.",
)
NEVER = ("never", "从不", "永不")
YES, NO = ("yes", "是"), ("no", "否")


@dataclass
class _User:
    name: str
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def _decode(source: str, data: bytes) -> tuple[str, list[str]]:
    warnings = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ParseError(
                source, None, "neither UTF-8, UTF-16 nor GBK text", "既不是 UTF-8、UTF-16 也不是 GBK 文本"
            )
        if encoding == "gb18030":
            warnings.append(f"{source}: read as GBK (GB18030)")
    return text, warnings


def _split(line: str) -> tuple[str, str] | None:
    """A ``label   value`` line of `net user NAME`: the label is a known one, the value after two spaces."""
    text = line.rstrip()
    low = text.lower()
    for label in sorted(FIELDS, key=len, reverse=True):
        if low.startswith(label) and (len(text) == len(label) or text[len(label)] in " \t"):
            return FIELDS[label], text[len(label) :].strip()
    return None


def _when(value: str, source: str, number: int) -> datetime | None:
    """A date-time as `net user` prints it (2026/11/1 10:00:00, 11/1/2026 10:00:00 AM, 2026-11-01 10:00); "Never"
    is None; anything else is a ParseError naming the line."""
    text = value.strip()
    if not text or text.lower() in NEVER:
        return None
    text = text.replace("上午", "AM").replace("下午", "PM")
    for pattern in ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%Y/%m/%d %p %I:%M:%S", "%Y/%m/%d"):  # fmt: skip
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    raise ParseError(source, number, f"{value!r} is not a date and time", f"“{value}”不是日期时间")


def _groups(value: str) -> list[str]:
    return [g.strip() for g in value.split("*") if g.strip() and g.strip().lower() not in ("none", "无")]


def parse(path: Path) -> Inventory:
    """The accounts of the Windows server whose `net` outputs are in ``path``."""
    path = Path(path)
    source = path.name
    data = read_bounded(path, MAX_FILE_BYTES)
    text, warnings = _decode(source, data)
    digest = digest_of(data)
    lines = text.splitlines()

    def ev(number: int) -> Evidence:
        return Evidence(source=source, raw=lines[number - 1].strip()[:500], digest=digest, line=number)

    listed: dict[str, int] = {}
    users: dict[str, _User] = {}
    groups: dict[str, tuple[list[tuple[str, int]], int]] = {}
    host = ""
    mode, current, group = "", None, ""
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        low = line.lower()
        if not line:
            continue
        if low in DONE:
            mode, current = "", None
            continue
        head = LIST_HEAD.match(line)
        if head:
            mode, host = "list", head.group("en") or head.group("zh")
            continue
        pair = _split(raw)
        if pair is not None and pair[0] == "name":
            if not pair[1]:
                raise ParseError(source, number, "a user name line without a name", "用户名一行缺少名称")
            if pair[1].lower() in {u.lower() for u in users}:
                raise ParseError(
                    source, number, f"the account {pair[1]} is described twice", f"账户 {pair[1]} 出现了两次"
                )
            mode, current = "user", _User(pair[1], number)
            users[current.name] = current
            continue
        alias = next((a for a in ALIAS if low.startswith(a)), None)
        if alias is not None:
            group = line[len(alias) :].strip()
            if not group:
                raise ParseError(source, number, "a group line without a name", "组名一行缺少名称")
            mode = "group-head"
            groups[group] = ([], number)
            continue
        if mode == "group-head" and low in MEMBERS:
            mode = "group-members-rule"
            continue
        if mode == "group-members-rule" and set(line) == {"-"}:
            mode = "group-members"
            continue
        if mode == "group-members":
            groups[group][0].append((line, number))
            continue
        if mode == "list":
            if set(line) == {"-"}:
                continue
            for name in re.split(r"\s{2,}", line):
                listed.setdefault(name.strip(), number)
            continue
        if mode == "user" and current is not None:
            if pair is not None:
                current.fields[pair[0]] = pair[1]
                current.lines[pair[0]] = number
            continue
        if mode == "group-head":
            continue  # the group's comment
        if pair is None and mode == "":
            raise ParseError(
                source, number, "not an output of net user or net localgroup",
                "不是 net user 或 net localgroup 的输出",
            )  # fmt: skip
    if not users and not listed:
        raise ParseError(
            source, None, "no account found: not the output of net user", "未找到账户：不是 net user 的输出"
        )
    members = {g: [m for m, _n in found] for g, (found, _line) in groups.items()}
    accounts = []
    for name in sorted(set(users) | set(listed), key=str.lower):
        user = users.get(name)
        if user is None:
            warnings.append(f"{source}: {name} is listed by net user without its own net user {name} output")
            privileges = _admin(name, groups, ev, None)
            accounts.append(
                Account(name=name, kind=AccountKind.OS, uid=name, privileges=privileges, evidence=(ev(listed[name]),))
            )  # fmt: skip
            continue
        accounts.append(_account(user, source, ev, groups))
    group_rows = [
        Group(
            name=g,
            members=tuple(sorted(members[g], key=str.lower)),
            privileged=g.lower() in ADMIN_GROUPS,
            evidence=(ev(line),),
        )
        for g, (_found, line) in sorted(groups.items())
    ]
    settings = (("hostname", host),) if host else ()
    return Inventory(
        platform="windows", target=str(path), gathered_at=datetime.now(UTC), accounts=tuple(accounts),
        groups=tuple(group_rows), settings=settings, warnings=tuple(warnings),
        sources=(SourceFile(name=source, digest=digest, size=len(data), content=data),),
    )  # fmt: skip


def _account(user: _User, source: str, ev, groups: dict) -> Account:
    f, at = user.fields, user.lines

    def when(key: str) -> datetime | None:
        return _when(f[key], source, at[key]) if key in f else None

    active = f.get("active", "").lower()
    if active and active not in YES + NO:
        raise ParseError(
            source, at["active"], f"account active is {f['active']!r}", f"帐户启用为“{f['active']}”"
        )
    last_set, expires, password_expires = when("last_set"), when("expires"), when("password_expires")
    last_logon = when("last_logon")
    local = _groups(f.get("local_groups", ""))
    evidence = [ev(user.line), *(ev(at[k]) for k in ("active", "last_set", "last_logon") if k in at)]
    privileges = _admin(user.name, groups, ev, at.get("local_groups") if any(
        g.lower() in ADMIN_GROUPS for g in local) else None)  # fmt: skip
    attributes = []
    if f.get("required", "").lower() in NO:
        attributes.append(("password_not_required", "yes"))
    if f.get("full_name"):
        attributes.append(("full_name", f["full_name"]))
    return Account(
        name=user.name, kind=AccountKind.OS, uid=user.name, display_name=f.get("full_name", ""),
        login_allowed=active in YES if active else None,
        password_state=PasswordState.SET if last_set else PasswordState.UNKNOWN,
        password_changed=last_set.date() if last_set else None,
        password_policy_known="password_expires" in f,
        password_expires=password_expires.date() if password_expires else None,
        account_expires=expires.date() if expires else None, locked=active in NO,
        last_login=last_logon, last_login_known="last_logon" in f,
        groups=tuple(sorted(local + _groups(f.get("global_groups", "")), key=str.lower)),
        privileges=tuple(privileges), attributes=tuple(sorted(attributes)), evidence=tuple(evidence),
    )  # fmt: skip


def _admin(name: str, groups: dict, ev, membership_line: int | None) -> tuple[Privilege, ...]:
    """Administrators' rights (第二十二条), with the line that shows them: the group's member list, else the
    account's own Local Group Memberships line."""
    line = next(
        (n for g, (found, _l) in groups.items() if g.lower() in ADMIN_GROUPS for m, n in found
         if m.lower() == name.lower()), membership_line,
    )  # fmt: skip
    if line is None:
        return ()
    return (Privilege("Administrators", "local", "group:Administrators", superuser=True, evidence=ev(line)),)


MANIFEST = register(
    Manifest(
        code="windows",
        label_en="Windows (net user outputs)",
        label_zh="Windows（net user 输出）",
        parse=parse,
        offline_kinds=("windows",),
    )
)

__all__ = ["MANIFEST", "parse"]
