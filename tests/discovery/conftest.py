"""Scenery for discovery: a small test connector registered in the engine's registry (its offline format is
``name:uid:flags`` lines, flags ``S`` super-user, ``A`` application operator), review rules replaced by a
function the test controls, a vault unsealed, and the data folder in the test's tmp directory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from handover.connectors import manifest
from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.findings import Finding, ReviewContext, SystemRef
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
from handover.core.actors import system
from handover.discovery import engine
from handover.vault import lifecycle

SHADOW_CANARY = "$6$canarySALT$VerifierThatMustNeverBeStoredInTheClear"
SECRET_CANARY = "Canary-Secret-7f3e!Qz"
WHEN = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def inventory_of(text: str, *, source: str = "accounts.txt", target: str = "host1") -> Inventory:
    """The test connector's parser: one account per ``name:uid:flags`` line; bad lines are named."""
    passwd = text.encode()
    shadow = "\n".join(
        f"{line.split(':')[0]}:{SHADOW_CANARY}:20000::" for line in text.splitlines() if line
    ).encode()
    accounts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(":")
        if len(parts) != 3:
            raise ParseError(source, number, "expected name:uid:flags", "应为 name:uid:flags")
        name, uid, flags = parts
        evidence = Evidence(source=source, raw=line, digest=digest_of(passwd), line=number)
        privileges = (
            (
                Privilege(
                    name="uid 0" if uid == "0" else "ALL", scope="ALL", superuser=True, evidence=evidence
                ),
            )
            if "S" in flags
            else ()
        )
        accounts.append(
            Account(
                name=name,
                kind=AccountKind.APPLICATION if "A" in flags else AccountKind.OS,
                uid=uid,
                password_state=PasswordState.SET,
                privileges=privileges,
                evidence=(evidence,),
                groups=("ops",) if "A" in flags else (),
            )
        )
    sources = (
        SourceFile(
            name="etc/passwd", digest=digest_of(passwd), size=len(passwd), content=passwd, backup=True
        ),
        SourceFile(
            name="etc/shadow",
            digest=digest_of(shadow),
            size=len(shadow),
            content=shadow,
            sealed=True,
            backup=True,
        ),
    )
    if any(a.kind == AccountKind.APPLICATION for a in accounts):
        sources = ()  # an operator list is no permission file
    return Inventory(
        platform="testlinux", target=target, gathered_at=WHEN, accounts=tuple(accounts), sources=sources
    )


@dataclass
class Hosts:
    """What the test connector's live gathering answers per host, and the credentials it was given."""

    answers: dict[str, str | Exception] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def gather(self, target: manifest.Target, credential: manifest.Credential) -> Inventory:
        self.seen.append((target.host, credential.username))
        if credential.secret != SECRET_CANARY:
            raise GatherError(
                Status.AUTH_FAILED, f"{target.host}: login refused", f"{target.host}：登录被拒绝"
            )
        answer = self.answers.get(target.host)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            raise GatherError(Status.UNREACHABLE, f"{target.host} unreachable", f"{target.host} 不可达")
        return inventory_of(answer, target=target.host)


def _parse(path: Path) -> Inventory:
    return inventory_of(path.read_text(encoding="utf-8"), source=path.name, target=path.stem)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    found = Hosts()
    test_manifest = manifest.Manifest(
        code="testlinux",
        label_en="Test Linux",
        label_zh="测试 Linux",
        default_port=2222,
        gather=found.gather,
        parse=_parse,
        offline_kinds=("testlinux",),
    )
    manifest.REGISTRY["testlinux"] = test_manifest
    yield found
    manifest.REGISTRY.pop("testlinux", None)


@dataclass
class Rules:
    """The review rules as the test sets them: a function of the items and the context."""

    calls: list[tuple[list[tuple[SystemRef, Inventory]], ReviewContext]] = field(default_factory=list)
    superuser_rule: bool = True
    extra: list[Finding] = field(default_factory=list)

    def __call__(self, items: Any, context: ReviewContext) -> list[Finding]:
        items = list(items)
        self.calls.append((items, context))
        found = list(self.extra)
        for ref, inventory in items:
            for account in inventory.accounts:
                if self.superuser_rule and account.superuser and account.name != "root":
                    found.append(
                        Finding(
                            rule="superuser_equivalent",
                            system=ref.system,
                            host=ref.host,
                            account=account.name,
                            detail_en=f"{account.name} has ALL",
                            detail_zh=f"{account.name} 拥有 ALL 权限",
                            severity="high",
                            evidence=account.evidence,
                        )
                    )
        return found


@pytest.fixture
def rules(monkeypatch: pytest.MonkeyPatch) -> Rules:
    found = Rules()
    monkeypatch.setattr(engine, "_review_rules", lambda: found)
    return found


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def vault(db: None) -> lifecycle.InitResult:
    return lifecycle.vault_init(actor=system("test"), shares=5, threshold=3)
