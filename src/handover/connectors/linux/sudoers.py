"""sudoers with sudo's own semantics (sudoers(5)): our parser, cross-checked in the tests against Debian's
``cvtsudoers -f json`` on the same files.

What it reads: line continuation (``\\``), comments, ``#include``/``@include`` and ``#includedir``/
``@includedir`` (relative to the including file's folder; in a folder the files whose names neither end in
``~`` nor contain a ``.``, in lexical order), ``User_Alias``/``Runas_Alias``/``Host_Alias``/``Cmnd_Alias``
(``Cmd_Alias``), ``Defaults`` (kept as settings, not applied), and user specifications
``users hosts = (runas) TAGS: commands : hosts = ...``, where a user is a name, ``#uid``, ``%group``,
``%#gid``, an alias or ``ALL``, any of them negated with ``!``; in a list the last item that matches decides
(sudo walks the list from the end). Runas and tags carry to the following commands of the same spec.

A syntax error is a ``ParseError`` naming the file and line: sudo itself refuses a sudoers it cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from handover.connectors.errors import ParseError

ALIAS_KINDS = ("User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias")
TAGS = {
    "NOPASSWD", "PASSWD", "NOEXEC", "EXEC", "SETENV", "NOSETENV", "LOG_INPUT", "NOLOG_INPUT", "LOG_OUTPUT",
    "NOLOG_OUTPUT", "MAIL", "NOMAIL", "FOLLOW", "NOFOLLOW", "INTERCEPT", "NOINTERCEPT",
}  # fmt: skip
OPTIONS = ("CWD", "CHROOT", "ROLE", "TYPE", "TIMEOUT", "NOTBEFORE", "NOTAFTER", "APPARMOR_PROFILE")
_ALIAS_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_INCLUDE = re.compile(r"^[#@](include|includedir)\s+(.+?)\s*$")
MAX_DEPTH = 128  # sudo's own limit on nested includes


@dataclass(frozen=True)
class Item:
    """One member of a list: its text (``%wheel``, ``ADMINS``, ``/bin/ls -l``), negated or not."""

    text: str
    negated: bool = False


@dataclass(frozen=True)
class Command:
    """One command of a user spec, with the runas, tags and options in force for it."""

    item: Item
    runas_users: tuple[Item, ...] | None  # None: not given (root)
    runas_groups: tuple[Item, ...] | None
    tags: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()

    @property
    def nopasswd(self) -> bool:
        return "NOPASSWD" in self.tags


@dataclass(frozen=True)
class Rule:
    """One ``users hosts = commands`` group of a user spec (a spec with ``:`` gives several)."""

    users: tuple[Item, ...]
    hosts: tuple[Item, ...]
    commands: tuple[Command, ...]
    file: str
    line: int
    raw: str


@dataclass
class Sudoers:
    """Everything the files said, in order."""

    aliases: dict[str, dict[str, tuple[Item, ...]]] = field(default_factory=dict)  # kind → name → items
    rules: list[Rule] = field(default_factory=list)
    defaults: list[tuple[str, str, int, str]] = field(default_factory=list)  # (file, text, line, raw)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


Reader = Callable[[str], bytes | None]
Lister = Callable[[str], list[str]]
Decoder = Callable[[str, bytes], str]


def parse(
    path: str, read: Reader, listdir: Lister, decode: Decoder, *, host: str = "", into: Sudoers | None = None
) -> Sudoers:
    """Read ``path`` (``/etc/sudoers``) and what it includes; ``read`` gives a file's bytes or None."""
    result = into or Sudoers()
    _parse_file(path, read, listdir, decode, result, host=host, depth=0, required=True)
    return result


def _parse_file(
    path: str, read: Reader, listdir: Lister, decode: Decoder, result: Sudoers, *, host: str, depth: int,
    required: bool,
) -> None:  # fmt: skip
    if depth > MAX_DEPTH:
        raise ParseError(path, None, "includes nested too deep (a loop?)", "包含层次过深（循环包含？）")
    data = read(path)
    if data is None:
        if not required:
            result.warnings.append(f"{path}: included but not collected")
        return
    result.files.append(path)
    text = decode(path, data)
    for number, logical, raw in _logical_lines(path, text):
        include = _INCLUDE.match(logical)
        if include:
            target = include.group(2).replace("%h", host or "%h")
            if target.startswith('"') and target.endswith('"') and len(target) > 1:
                target = target[1:-1]
            if not target.startswith("/"):
                target = path.rsplit("/", 1)[0] + "/" + target
            if include.group(1) == "include":
                _parse_file(target, read, listdir, decode, result, host=host, depth=depth + 1, required=False)
            else:
                for member in listdir(target):
                    base = member.rsplit("/", 1)[-1]
                    if base.endswith("~") or "." in base:
                        continue  # sudo skips these in an includedir
                    _parse_file(
                        "/" + member.lstrip("/"), read, listdir, decode, result, host=host, depth=depth + 1,
                        required=True,
                    )  # fmt: skip
            continue
        body = _strip_comment(logical).strip()
        if not body:
            continue
        _statement(path, number, body, raw, result)


def _logical_lines(path: str, text: str) -> list[tuple[int, str, str]]:
    """(first line number, joined text, raw text) per logical line: a trailing backslash continues."""
    out: list[tuple[int, str, str]] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        out.append((start, " ".join(p.strip() for p in pending), "\n".join(pending)))
        pending = []
    if pending:
        out.append((start, " ".join(p.strip() for p in pending), "\n".join(pending)))
    return out


def _strip_comment(line: str) -> str:
    """``line`` without its comment: ``#`` starts one unless it is ``#<digits>`` (a uid) or in quotes."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        elif ch == "#" and not quoted and (i == 0 or line[i - 1] != "\\"):
            if i + 1 < len(line) and line[i + 1].isdigit():
                continue
            return line[:i]
    return line


def _split(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` outside quotes and parentheses, honouring backslash escapes."""
    parts, current, depth, quoted, escaped = [], [], 0, False, False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\":
            current.append(ch)
            escaped = True
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == sep and not quoted and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _items(text: str, path: str, number: int, what: str) -> tuple[Item, ...]:
    items = []
    for part in _split(text, ","):
        word = part.strip()
        negated = False
        while word.startswith("!"):
            negated = not negated
            word = word[1:].strip()
        if not word:
            raise ParseError(path, number, f"an empty {what} in a list", f"列表中有空的{_ZH[what]}")
        items.append(Item(word, negated))
    return tuple(items)


_ZH = {"user": "用户", "host": "主机", "runas": "运行身份", "command": "命令", "alias member": "别名成员"}


def _statement(path: str, number: int, body: str, raw: str, result: Sudoers) -> None:
    word = body.split(None, 1)[0]
    if word.startswith("Defaults"):
        if not re.match(r"^Defaults([@:>!]\S+)?(\s|$)", body):
            raise ParseError(path, number, "a malformed Defaults line", "Defaults 行格式有误")
        result.defaults.append((path, body, number, raw))
        return
    if word in ALIAS_KINDS:
        kind = "Cmnd_Alias" if word == "Cmd_Alias" else word
        rest = body[len(word) :].strip()
        for definition in _split(rest, ":"):
            name, eq, members = definition.partition("=")
            name = name.strip()
            if not eq or not _ALIAS_NAME.match(name) or name == "ALL":
                raise ParseError(
                    path,
                    number,
                    f"a malformed {word} (NAME = member, ...)",
                    f"{word} 格式有误（应为 名称 = 成员, ...）",
                )
            result.aliases.setdefault(kind, {})[name] = _items(members, path, number, "alias member")
        return
    _user_spec(path, number, body, raw, result)


def _user_spec(path: str, number: int, body: str, raw: str, result: Sudoers) -> None:
    match = re.match(r"^((?:[^\s\\,]|\\.|\s*,\s*)+)\s+(.*)$", body)
    if not match:
        raise ParseError(path, number, "not a sudoers statement", "不是有效的 sudoers 语句")
    users = _items(match.group(1), path, number, "user")
    for hosts_text, commands_text in _host_groups(match.group(2), path, number):
        hosts = _items(hosts_text, path, number, "host")
        commands = _commands(commands_text, path, number)
        result.rules.append(Rule(users, hosts, commands, path, number, raw))


def _host_groups(text: str, path: str, number: int) -> list[tuple[str, str]]:
    """``hosts = cmnds : hosts = cmnds`` into pairs: a ':' after a tag word (``NOPASSWD:``) is the tag's."""
    segments = _split(text, ":")
    joined: list[str] = []
    for segment in segments:
        if joined and re.search(r"(^|[\s,)])(" + "|".join(TAGS) + r")\s*$", joined[-1]):
            joined[-1] += ":" + segment
        else:
            joined.append(segment)
    groups: list[tuple[str, str]] = []
    for part in joined:
        hosts, eq, commands = part.partition("=")
        if not eq and groups:
            tag = re.search(r"([A-Z_]+)\s*$", groups[-1][1])
            if tag:
                word = tag.group(1)
                raise ParseError(path, number, f"unknown tag {word}:", f"未知的标签 {word}:")
        if not eq or not hosts.strip():
            raise ParseError(
                path, number, "a user spec without 'hosts = commands'", "用户规则缺少“主机 = 命令”"
            )
        if not commands.strip():
            raise ParseError(path, number, "a host list without commands", "主机列表后缺少命令")
        groups.append((hosts, commands))
    return groups


def _commands(text: str, path: str, number: int) -> tuple[Command, ...]:
    out: list[Command] = []
    runas_users: tuple[Item, ...] | None = None
    runas_groups: tuple[Item, ...] | None = None
    tags: dict[str, str] = {}
    options: dict[str, str] = {}
    for part in _split(text, ","):
        rest = part.strip()
        if not rest:
            raise ParseError(path, number, "an empty command in a list", "命令列表中有空项")
        if rest.startswith("("):
            close = rest.find(")")
            if close < 0:
                raise ParseError(path, number, "a runas list without ')'", "运行身份列表缺少“)”")
            inner = rest[1:close]
            u_text, colon, g_text = inner.partition(":")
            runas_users = _items(u_text, path, number, "runas") if u_text.strip() else None
            runas_groups = _items(g_text, path, number, "runas") if colon and g_text.strip() else None
            if not u_text.strip() and not colon:
                runas_users = None
            rest = rest[close + 1 :].strip()
        while True:
            option = re.match(r"^(" + "|".join(OPTIONS) + r")\s*=\s*(\"[^\"]*\"|\S+)\s*", rest)
            if option:
                options[option.group(1)] = option.group(2).strip('"')
                rest = rest[option.end() :]
                continue
            tag = re.match(r"^([A-Z_]+)\s*:\s*", rest)
            if tag and tag.group(1) in TAGS:
                name = tag.group(1)
                for opposite in (name[2:] if name.startswith("NO") else "NO" + name,):
                    tags.pop(opposite, None)
                tags[name] = ""
                rest = rest[tag.end() :]
                continue
            if tag and tag.group(1) not in TAGS and not _ALIAS_NAME.match(rest.split()[0].rstrip(":")):
                raise ParseError(path, number, f"unknown tag {tag.group(1)}:", f"未知的标签 {tag.group(1)}:")
            break
        if not rest:
            raise ParseError(path, number, "a runas or tag without a command", "运行身份或标签后缺少命令")
        negated = False
        while rest.startswith("!"):
            negated = not negated
            rest = rest[1:].strip()
        if not rest:
            raise ParseError(path, number, "a '!' without a command", "“!”后缺少命令")
        if not (rest.startswith("/") or rest == "ALL" or _ALIAS_NAME.match(rest) or rest.startswith("sha")
                or rest in ("sudoedit", "list") or rest.startswith("sudoedit ")):  # fmt: skip
            raise ParseError(
                path, number, f"{rest.split()[0]!r} is not a command (a full path, ALL or a Cmnd_Alias)",
                f"“{rest.split()[0]}”不是命令（应为完整路径、ALL 或 Cmnd_Alias）",
            )  # fmt: skip
        out.append(
            Command(
                Item(" ".join(rest.split()), negated),
                runas_users,
                runas_groups,
                tuple(sorted(tags)),
                tuple(sorted(options.items())),
            )
        )
    return tuple(out)


# --- who gets what ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """An account as sudo matches it: name, uid, and groups as (name, gid)."""

    name: str
    uid: str
    groups: tuple[tuple[str, str], ...]


def user_match(sudoers: Sudoers, items: tuple[Item, ...], who: Who, seen: frozenset[str] = frozenset()
               ) -> tuple[bool, str] | None:  # fmt: skip
    """Whether ``who`` is in the list (True/False: the last matching item decides) and how, or None."""
    for item in reversed(items):
        how = _user_item(sudoers, item.text, who, seen)
        if how is not None:
            return (not item.negated, how)
    return None


def _user_item(sudoers: Sudoers, text: str, who: Who, seen: frozenset[str]) -> str | None:
    if text == "ALL":
        return "all"
    if text.startswith("%#"):
        gid = text[2:]
        name = next((n for n, g in who.groups if g == gid), None)
        return f"group:{name or '#' + gid}" if name is not None else None
    if text.startswith("%:") or text.startswith("%"):
        group = text[2:] if text.startswith("%:") else text[1:]
        group = group.strip('"')
        return f"group:{group}" if any(n == group for n, _ in who.groups) else None
    if text.startswith("#"):
        return "user" if text[1:] == who.uid else None
    if text.startswith("+"):
        return None  # netgroups are not on the host's files
    aliases = sudoers.aliases.get("User_Alias", {})
    if text in aliases and _ALIAS_NAME.match(text):
        if text in seen:
            return None
        found = user_match(sudoers, aliases[text], who, seen | {text})
        if found is None or not found[0]:
            return None
        inner = found[1]
        return f"alias:{text}" if inner in ("user", "all") else f"{inner},alias:{text}"
    return "user" if text.strip('"') == who.name else None


def runas_names(sudoers: Sudoers, items: tuple[Item, ...] | None, seen: frozenset[str] = frozenset()
                ) -> tuple[str, ...]:  # fmt: skip
    """The runas users a list names, aliases expanded (``root`` when none was given); negations as ``!x``."""
    if items is None:
        return ("root",)
    out: list[str] = []
    aliases = sudoers.aliases.get("Runas_Alias", {})
    for item in items:
        if item.text in aliases and item.text not in seen:
            for name in runas_names(sudoers, aliases[item.text], seen | {item.text}):
                out.append(("!" + name if not name.startswith("!") else name[1:]) if item.negated else name)
        else:
            out.append(("!" if item.negated else "") + item.text)
    return tuple(out)


def expand_commands(sudoers: Sudoers, item: Item, seen: frozenset[str] = frozenset()
                    ) -> list[tuple[Item, str]]:  # fmt: skip
    """A command with its Cmnd_Alias expanded: (command, the alias it came through or '')."""
    aliases = sudoers.aliases.get("Cmnd_Alias", {})
    if item.text in aliases and item.text not in seen:
        out = []
        for member in aliases[item.text]:
            for cmd, _via in expand_commands(sudoers, member, seen | {item.text}):
                out.append((Item(cmd.text, cmd.negated != item.negated), item.text))
        return out
    return [(item, "")]
