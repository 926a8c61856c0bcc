"""Keeping one good inventory of a target: the canonical JSON in the file store under its SHA-256, the
sources' bytes (sealed in the vault where they hold verifiers, 第二十二条), and its accounts as facts and
as the registers' account entities. Called inside the run's or the import's transaction: a refusal stores
nothing, and a failed gathering never reaches here, so the last good inventory stays current."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from handover.connectors import serial
from handover.connectors.errors import GatherError, Status
from handover.connectors.model import Account, AccountKind, Inventory, Privilege, digest_of
from handover.core import filestore
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.discovery.models import Fact, GatherRun, Snapshot, SnapshotSource, Target
from handover.registers import inventory as entities
from handover.vault.blobs import blob_seal

LAYER = {
    AccountKind.OS: "操作系统",
    AccountKind.DATABASE: "数据库",
    AccountKind.DIRECTORY: "操作系统",
    AccountKind.APPLICATION: "应用系统",
}
LAYER_BY_PLATFORM = {"huawei": "网络设备", "h3c": "网络设备", "cisco": "网络设备", "network": "网络设备"}


# Password verifiers as the platforms store them (crypt, yescrypt, SCRAM, PostgreSQL md5, MySQL native): the
# connectors replace them by ``<verifier>`` in evidence; one that slips through is refused, never stored.
VERIFIER = re.compile(
    r"\$(?:1|2[abxy]|5|6|7|y|gy|argon2(?:id|i|d)|sha1|md5)\$[^\s\"$]{2,}\$[^\s\"]{8,}"
    r"|SCRAM-SHA-256\$\d+:"
    r"|\bmd5[0-9a-f]{32}\b"
    r"|\*[0-9A-F]{40}\b"
)


def snapshot_store_dir() -> Path:
    return Path(settings.DATA_DIR) / "discovery" / "snapshots"


def snapshot_store() -> filestore.FileStore:
    """Inventories and the clear sources, content-addressed: the same content is stored once."""
    return filestore.FileStore(snapshot_store_dir())


def _put(data: bytes) -> str:
    return snapshot_store().put(iter([data]), limit=None).sha256


def inventory_read(snapshot: Snapshot) -> Inventory:
    """The inventory a snapshot holds, read back from the store (its digest checked)."""
    import json

    with snapshot_store().open(snapshot.sha256) as handle:
        return serial.inventory_from_dict(json.loads(handle.read()))


def source_read(source: SnapshotSource) -> bytes | None:
    """The clear bytes of a source that is not sealed, or None (sealed, or no content was gathered)."""
    if source.sealed or not source.stored:
        return None
    with snapshot_store().open(source.stored) as handle:
        return handle.read()


def account_class(account: Account) -> str:
    """The registers' class (表9/11): root and uid 0 are super-users, other super-user rights equivalents."""
    if account.kind == AccountKind.APPLICATION:
        return "操作员"
    if account.superuser:
        plain_root = account.name == "root" or account.uid == "0"
        return "超级用户" if plain_root else "等效超级用户"
    return "后台用户"


def privileges_text(privileges: tuple[Privilege, ...]) -> str:
    """Rights as one line each, for 核查前权限 (no key material, no verifier)."""
    lines = []
    for p in privileges:
        extra = [p.via] + (["NOPASSWD"] if p.nopasswd else []) + (["!"] if p.negated else [])
        scope = f" {p.scope}" if p.scope else ""
        lines.append(f"{p.name}{scope} ({', '.join(extra)})")
    return "\n".join(lines)


def _privilege(p: Privilege) -> dict[str, Any]:
    return {
        "name": p.name,
        "scope": p.scope,
        "via": p.via,
        "nopasswd": p.nopasswd,
        "negated": p.negated,
        "superuser": p.superuser,
    }


def snapshot_save(*, actor: Actor, run: GatherRun, target: Target, inventory: Inventory) -> Snapshot:
    """Store ``inventory`` as the target's current snapshot with its sources and facts."""
    body = serial.inventory_dumps(inventory)
    if VERIFIER.search(body.decode("utf-8", "replace")):
        # 第二十二条: what holds verifiers is kept sealed; the inventory is stored in the clear.
        raise GatherError(
            Status.PARSE_ERROR,
            "the inventory holds a password verifier in the clear (an evidence line or attribute); "
            "the connector must replace it by <verifier>; nothing was stored",
            "清单中含有明文口令校验值（证据行或属性）；连接器须将其替换为 <verifier>；未保存任何数据",
        )
    sha = _put(body)
    Snapshot.objects.filter(target=target, is_current=True).update(is_current=False)
    snapshot = Snapshot.objects.create(
        target=target,
        run=run,
        sha256=sha,
        size=len(body),
        platform=inventory.platform,
        gathered_at=inventory.gathered_at,
    )
    for source in inventory.sources:
        _source_save(actor=actor, snapshot=snapshot, target=target, source=source)
    _facts_save(actor=actor, snapshot=snapshot, target=target, inventory=inventory)
    return snapshot


def _source_save(*, actor: Actor, snapshot: Snapshot, target: Target, source: Any) -> None:
    if source.content and digest_of(source.content) != source.digest:
        raise GatherError(
            Status.PARSE_ERROR,
            f"{source.name}: the content does not match its digest; nothing was stored",
            f"{source.name}：内容与其摘要不符，未保存任何数据",
        )
    row = SnapshotSource(
        snapshot=snapshot,
        name=source.name[:500],
        digest=source.digest,
        size=source.size,
        sealed=source.sealed,
        backup=source.backup,
    )
    if source.content and source.sealed:
        row.blob = blob_seal(
            actor=actor,
            engagement=target.engagement,
            site=target.site,
            label=f"{target.asset.hostname} {source.name}",
            data=source.content,
            digest=source.digest,
        )
    elif source.content:
        row.stored = _put(source.content)
    row.save()


def _facts_save(*, actor: Actor, snapshot: Snapshot, target: Target, inventory: Inventory) -> None:
    Fact.objects.filter(target=target).delete()
    layer_default = LAYER_BY_PLATFORM.get(inventory.platform)
    layers = [layer_default or LAYER[account.kind] for account in inventory.accounts]
    entity_of = entities.accounts_ensure(
        actor=actor,
        system=target.system,
        asset=target.asset,
        wanted=[
            (account.name[:200], layer, account_class(account))
            for account, layer in zip(inventory.accounts, layers, strict=True)
        ],
    )
    facts = []
    for account, layer in zip(inventory.accounts, layers, strict=True):
        entity = entity_of[(account.name[:200], layer)]
        facts.append(
            Fact(
                snapshot=snapshot,
                target=target,
                engagement=target.engagement,
                site=target.site,
                system=target.system,
                asset=target.asset,
                account=entity,
                name=account.name[:300],
                kind=account.kind.value,
                uid=account.uid[:500],
                display_name=account.display_name[:300],
                superuser=account.superuser,
                locked=account.locked,
                login_allowed=account.login_allowed,
                password_state=account.password_state.value,
                last_login=account.last_login,
                groups=list(account.groups),
                privileges=[_privilege(p) for p in account.privileges],
                keys=[
                    {
                        "algorithm": k.algorithm,
                        "fingerprint": k.fingerprint,
                        "comment": k.comment,
                        "options": list(k.options),
                        "file": k.file,
                    }
                    for k in account.keys
                ],
            )
        )
    Fact.objects.bulk_create(facts, batch_size=500)


def read_error(path: str, exc: OSError) -> DomainError:
    """A file that cannot be read, named."""
    return DomainError(
        _("%(path)s cannot be read: %(reason)s. Nothing was stored.")
        % {"path": path, "reason": exc.strerror or exc.__class__.__name__},
        field="path",
    )
