"""Network devices' configuration backups: Huawei/H3C (``local-user``) and Cisco IOS (``username``).

Offline only (kinds "huawei" and "cisco"): the firm's saved configurations (``display current-configuration``,
``show running-config``). A configuration holds password verifiers, so the source is kept sealed and as the
permission backup (第二十六条第2、3项); the evidence of each fact has the verifier replaced by ``<verifier>``.
Super-user equivalents (第二十二条): Huawei/H3C privilege level 3 or more (management level), Cisco 15.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from handover.connectors.errors import ParseError
from handover.connectors.manifest import Manifest, register
from handover.connectors.model import (
    Account,
    AccountKind,
    Evidence,
    Inventory,
    PasswordState,
    Privilege,
    SourceFile,
    digest_of,
)

_VERIFIER = "<verifier>"


def _text(path: Path) -> tuple[bytes, list[str]]:
    """The file's bytes and lines, UTF-8 or else GBK (older Chinese devices); neither is a ParseError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(
            str(path), None, f"cannot read: {exc.strerror}", f"无法读取：{exc.strerror}"
        ) from None
    for encoding in ("utf-8", "gbk"):
        try:
            return data, data.decode(encoding).splitlines()
        except UnicodeDecodeError:
            continue
    raise ParseError(str(path), None, "neither UTF-8 nor GBK text", "既不是 UTF-8 也不是 GBK 文本")


def _level(source: str, number: int, word: str) -> int:
    if not word.isdigit() or not 0 <= int(word) <= 15:
        raise ParseError(
            source, number, f"privilege level {word!r} is not 0-15", f"权限级别 {word!r} 不在 0-15 范围内"
        )
    return int(word)


class _User:
    def __init__(self, name: str) -> None:
        self.name = name
        self.level: int | None = None
        self.password = PasswordState.NONE
        self.blocked = False
        self.services: list[str] = []
        self.evidence: list[Evidence] = []


def _account(user: _User, superuser_from: int, platform: str) -> Account:
    privileges: tuple[Privilege, ...] = ()
    if user.level is not None:
        privileges = (
            Privilege(
                name=f"privilege level {user.level}",
                scope="device",
                superuser=user.level >= superuser_from,  # 第二十二条: 超级用户及同等权限用户
                evidence=next((e for e in user.evidence if "privilege" in e.raw), None),
            ),
        )
    attributes = [("platform", platform)]
    if user.services:
        attributes.append(("service-type", " ".join(sorted(set(user.services)))))
    return Account(
        name=user.name,
        kind=AccountKind.OS,
        uid=user.name,
        login_allowed=not user.blocked,
        password_state=PasswordState.LOCKED
        if user.blocked and user.password is PasswordState.SET
        else user.password,
        locked=user.blocked,
        last_login_known=False,
        privileges=privileges,
        attributes=tuple(sorted(attributes)),
        evidence=tuple(user.evidence),
    )


def parse_huawei(path: Path) -> Inventory:
    """Huawei VRP / H3C Comware: ``local-user NAME …`` lines (AAA view) and H3C ``local-user NAME`` blocks."""
    source = str(path)
    data, lines = _text(path)
    digest = digest_of(data)
    users: dict[str, _User] = {}
    block: _User | None = None  # H3C: "local-user NAME class manage" opens a view of indented lines
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        words = stripped.split()
        if not words:
            continue
        if words[0] == "local-user":
            if len(words) < 2:
                raise ParseError(source, number, "local-user without a name", "local-user 缺少用户名")
            user = users.setdefault(words[1], _User(words[1]))
            rest = words[2:]
            block = user if (not rest or rest[0] == "class") else None
        elif block is not None and line[:1].isspace():
            user, rest = block, words
        else:
            block = None
            continue
        raw = stripped
        if rest[:1] == ["password"]:
            if len(rest) < 3:
                raise ParseError(source, number, "password without a value", "password 缺少取值")
            raw = " ".join(words[: len(words) - len(rest)] + rest[:2] + [_VERIFIER])
            user.password = PasswordState.SET
        elif rest[:2] == ["privilege", "level"] or rest[:2] == ["authorization-attribute", "level"]:
            if len(rest) < 3:
                raise ParseError(
                    source, number, "privilege level without a number", "privilege level 缺少级别"
                )
            user.level = max(user.level or 0, _level(source, number, rest[2]))
        elif rest[:1] == ["service-type"]:
            user.services.extend(rest[1:])
        elif rest[:1] == ["state"] and rest[1:2] == ["block"]:
            user.blocked = True
        user.evidence.append(Evidence(source=source, raw=raw, digest=digest, line=number))
    accounts = tuple(_account(u, 3, "huawei") for u in sorted(users.values(), key=lambda u: u.name))
    return Inventory(
        platform="huawei",
        target=source,
        gathered_at=datetime.now(UTC),
        accounts=accounts,
        sources=(
            SourceFile(name=source, digest=digest, size=len(data), content=data, sealed=True, backup=True),
        ),
    )


def parse_cisco(path: Path) -> Inventory:
    """Cisco IOS: ``username NAME [privilege N] (secret|password) [type] VALUE``; ``enable secret`` noted."""
    source = str(path)
    data, lines = _text(path)
    digest = digest_of(data)
    users: dict[str, _User] = {}
    settings: list[tuple[str, str]] = []
    for number, line in enumerate(lines, start=1):
        words = line.split()
        if words[:1] == ["enable"] and words[1:2] in (["secret"], ["password"]):
            settings.append((f"enable {words[1]}", "set"))
            continue
        if words[:1] != ["username"]:
            continue
        if len(words) < 2:
            raise ParseError(source, number, "username without a name", "username 缺少用户名")
        user = users.setdefault(words[1], _User(words[1]))
        kept = words[:2]
        rest = words[2:]
        user.level = user.level if user.level is not None else 1  # IOS: a local user without privilege is 1
        while rest:
            word = rest.pop(0)
            if word == "privilege":
                if not rest:
                    raise ParseError(source, number, "privilege without a number", "privilege 缺少级别")
                level = rest.pop(0)
                user.level = _level(source, number, level)
                kept += [word, level]
            elif word in ("secret", "password"):
                if not rest:
                    raise ParseError(source, number, f"{word} without a value", f"{word} 缺少取值")
                if len(rest) > 1 and rest[0].isdigit():
                    kept += [word, rest.pop(0)]
                else:
                    kept.append(word)
                rest.clear()
                kept.append(_VERIFIER)
                user.password = PasswordState.SET
            elif word == "nopassword":
                user.password = PasswordState.EMPTY
                kept.append(word)
            else:
                kept.append(word)
        user.evidence.append(Evidence(source=source, raw=" ".join(kept), digest=digest, line=number))
    accounts = tuple(_account(u, 15, "cisco") for u in sorted(users.values(), key=lambda u: u.name))
    return Inventory(
        platform="cisco",
        target=source,
        gathered_at=datetime.now(UTC),
        accounts=accounts,
        settings=tuple(sorted(settings)),
        sources=(
            SourceFile(name=source, digest=digest, size=len(data), content=data, sealed=True, backup=True),
        ),
    )


HUAWEI = register(
    Manifest(
        code="huawei",
        label_en="Huawei/H3C configuration",
        label_zh="华为/华三设备配置",
        parse=parse_huawei,
        offline_kinds=("huawei",),
    )
)
CISCO = register(
    Manifest(
        code="cisco",
        label_en="Cisco configuration",
        label_zh="思科设备配置",
        parse=parse_cisco,
        offline_kinds=("cisco",),
    )
)
