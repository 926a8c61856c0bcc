"""Restore a host's permission files from the backup taken before any change (第二十六条第3项).

One person requests it from the preview (``discovery_restore_preview``: which files differ, their diffs), with
a reason; another approves it (第八条: one person is never enough); it is then applied file by file over SSH
(``connectors.change.linux.restore_file``): each file only while the host still holds what the preview saw
(else it is refused and the host left as it is), replaced by a rename with its mode and owner, a sudoers file
only when visudo accepts it, each verified by its digest after. Sealed files (shadow, gshadow) are opened
from the vault for the connection only and travel on its stdin. PostgreSQL, MariaDB and OpenLDAP replay their
one backup (``ROLE_RESTORES``), rights only; Active Directory's is for its administrators.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.accounts.models import User
from handover.audit.services import event_record
from handover.connectors import ldap as ldap_connector
from handover.connectors import mariadb as mariadb_connector
from handover.connectors import postgresql as postgresql_connector
from handover.connectors.change import ldap as ldap_changer
from handover.connectors.change import linux as changer
from handover.connectors.change import mariadb as mariadb_changer
from handover.connectors.change import postgresql as postgresql_changer
from handover.connectors.errors import GatherError
from handover.connectors.manifest import Credential
from handover.connectors.model import Inventory
from handover.core.actors import Actor, actor_name, actor_user
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery.models import Snapshot, SnapshotSource, Target
from handover.discovery.services import discovery_restore_preview, engine_target, restore_snapshots
from handover.discovery.store import inventory_read, source_read
from handover.org import permissions as perms
from handover.org.selectors import require
from handover.rotation import events
from handover.rotation.approval import second_person_approve
from handover.rotation.models import ItemState, Restore, RestoreState, RotationItem
from handover.vault import services as vault
from handover.vault.blobs import blob_open

# connector → the one backup its restore replays, the replay (place, admin, backup, expected digest, the accounts
# to restore), and the parser that reads the target back to prove it
ROLE_RESTORES: dict[str, tuple[str, Any, Any]] = {
    "postgresql": (
        "pg-roles.sql",
        lambda place, admin, data, expect, _only: postgresql_changer.restore_roles(
            place, admin, data, expect
        ),
        postgresql_connector.build,
    ),  # one transaction: every role, whatever differs
    "mariadb": ("mysql-grants.sql", mariadb_changer.restore_accounts, mariadb_connector.build),
    "ldap": ("directory.ldif", ldap_changer.restore_entries, ldap_connector.build),
}
PLATFORMS = ("linux", *ROLE_RESTORES)
VERIFIERS = frozenset({"/etc/shadow"})  # files holding the passwords a rotation changes


def restore_request(
    *,
    actor: Actor,
    target: Target,
    reason: str,
    names: list[str] | None = None,
    backup: Snapshot | None = None,
) -> Restore:
    """A request to put back the files that differ from the backup (all, or ``names``), with the digests the
    preview saw: the approval is of exactly these files in exactly these states. ``backup`` defaults to the
    first (权限核查前备份, ``discovery.services.restore_snapshots``)."""
    require(user=actor, engagement=target.engagement, capability=perms.RUN_DISCOVERY, site=target.site)
    if not isinstance(actor, User):
        raise PermissionDenied(_("A person requests a restore."))
    if target.connector not in PLATFORMS:
        raise DomainError(
            _(
                "Handover restores the permission files of Linux hosts and the accounts of PostgreSQL, MariaDB and "
                "OpenLDAP; for %(connector)s, the preview shows the backup for its administrator to apply."
            )
            % {"connector": target.connector},
            field="target",
        )
    if not reason.strip():
        raise DomainError(_("Say why the permission files are restored."), field="reason")
    backup, current = restore_snapshots(target=target, backup=backup)
    if backup.pk == current.pk:
        raise DomainError(
            _("%(host)s has one snapshot only: there is no earlier backup to restore.")
            % {"host": target.asset.hostname},
            field="target",
        )
    if target.connector in ROLE_RESTORES:
        files = _role_files(target, backup, current, names)
        return _record(actor, target, backup, current, files, reason)
    preview = {
        item["name"]: item for item in discovery_restore_preview(actor=actor, target=target, backup=backup)
    }
    if names:
        unknown = [n for n in names if n not in preview]
        if unknown:
            raise DomainError(
                _("%(name)s is not a permission file of this host's backup.") % {"name": unknown[0]},
                field="names",
            )
    # Passwords changed by a rotation after the backup live in the vault: putting the old shadow back would
    # bring back passwords the vault no longer holds (第二十六条第2项; docs/rotation.md, "Restore").
    rotated = (
        RotationItem.objects.filter(
            target=target, state__in=[ItemState.CHANGED, ItemState.DONE], updated_at__gt=backup.gathered_at
        )
        .order_by("plan_id")
        .first()
    )
    if rotated is not None and names and VERIFIERS & set(names):
        raise DomainError(
            _(
                "Rotation plan %(plan)s changed passwords on %(host)s after this backup: restoring %(name)s would "
                "bring back passwords the vault no longer holds. Restore the other files; change a password "
                "again by a rotation."
            )
            % {
                "plan": rotated.plan_id,
                "host": target.asset.hostname,
                "name": sorted(VERIFIERS & set(names))[0],
            },
            field="names",
        )
    before = {s.name: s.digest for s in backup.sources.filter(backup=True)}
    now = {s.name: s.digest for s in current.sources.filter(backup=True)}
    files = []
    for name, item in sorted(preview.items()):
        if item["state"] == "same" or (names and name not in names) or (rotated and name in VERIFIERS):
            continue
        action = "delete" if item["state"] == "added" else "write"
        if (action == "delete" and not changer.DELETABLE.match(name)) or not changer.RESTORABLE.match(name):
            if names:
                raise DomainError(
                    _("%(name)s is not restored by Handover (only the permission files are).")
                    % {"name": name},
                    field="names",
                )
            continue
        files.append(
            {"name": name, "action": action, "expect": now.get(name, ""), "want": before.get(name, "")}
        )
    if not files:
        raise DomainError(
            _("Nothing to restore: %(host)s's permission files are as the backup holds them.")
            % {"host": target.asset.hostname},
            field="target",
        )
    return _record(actor, target, backup, current, files, reason)


def _role_files(
    target: Target, backup: Snapshot, current: Snapshot, names: list[str] | None
) -> list[dict[str, str]]:
    """A database's restore replays its one roles backup: refused when the roles are as the backup holds them."""
    name = ROLE_RESTORES[target.connector][0]
    if names and names != [name]:
        raise DomainError(
            _("%(name)s is not a permission file of this host's backup.") % {"name": names[0]}, field="names"
        )
    old = backup.sources.filter(name=name, backup=True).first()
    new = current.sources.filter(name=name, backup=True).first()
    if old is None or new is None:
        raise DomainError(_("The backup of %(name)s holds no content.") % {"name": name}, field="backup")
    if not accounts_diff(backup, current):
        raise DomainError(
            _("Nothing to restore: %(host)s's permission files are as the backup holds them.")
            % {"host": target.asset.hostname},
            field="target",
        )
    return [{"name": name, "action": "replay", "expect": new.digest, "want": old.digest}]


def rights(inventory: Inventory) -> dict[str, tuple[Any, ...]]:
    """Each account's rights, what a restore of roles puts back (not its password: the vault's)."""
    return {
        a.name: (
            a.superuser, a.login_allowed, a.locked, a.account_expires, a.shell, tuple(sorted(a.groups)),
            tuple(sorted((p.name, p.scope, p.via, p.superuser) for p in a.privileges)),
        )
        for a in inventory.accounts
    }  # fmt: skip


def accounts_diff(backup: Snapshot, current: Snapshot) -> list[dict[str, str]]:
    """The accounts whose rights differ between the backup and now: added, removed or changed."""
    return _diff(rights(inventory_read(backup)), rights(inventory_read(current)))


def _diff(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> list[dict[str, str]]:
    out = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            out.append({"account": name, "state": "removed"})
        elif name not in before:
            out.append({"account": name, "state": "added"})
        elif before[name] != after[name]:
            out.append({"account": name, "state": "changed"})
    return out


def _record(
    actor: Actor,
    target: Target,
    backup: Snapshot,
    current: Snapshot,
    files: list[dict[str, str]],
    reason: str,
) -> Restore:
    with transaction.atomic():
        restore = Restore.objects.create(
            engagement=target.engagement,
            target=target,
            backup=backup,
            current=current,
            files=files,
            reason=reason.strip()[:2000],
            requested_by=actor_user(actor),
            requested_by_name=actor_name(actor),
        )
        event_record(
            actor=actor,
            action=events.RESTORE_REQUEST,
            engagement_id=target.engagement_id,
            site_id=target.site_id,
            obj=restore,
            after={
                "host": target.asset.hostname,
                "files": [f"{f['action']} {f['name']}" for f in files],
                "backup": backup.sha256,
                "reason": restore.reason[:300],
            },
        )
    return restore


def restore_approve(*, actor: Actor, restore: Restore) -> Restore:
    """第八条: the requester cannot approve their own restore."""
    target = restore.target
    return second_person_approve(
        actor=actor, request=restore, site=target.site, action=events.RESTORE_APPROVE, field="restore",
        after={"host": target.asset.hostname, "files": len(restore.files)},
        refusals=(_("A person approves a restore."),
                  _("You requested this restore: another person must approve it (第八条)."),
                  _("This restore is not waiting for approval.")),
    )  # fmt: skip


def _content(actor: Actor, restore: Restore, name: str) -> bytes:
    source = SnapshotSource.objects.select_related("blob").get(
        snapshot=restore.backup, name=name, backup=True
    )
    if source.sealed:
        assert source.blob is not None
        return blob_open(actor=actor, blob=source.blob, purpose=f"restore {restore.pk}: {name}")
    data = source_read(source)
    if data is None:
        raise DomainError(_("The backup of %(name)s holds no content.") % {"name": name}, field="backup")
    return data


def _refusal(exc: GatherError | DomainError) -> dict[str, str]:
    """A file's or a replay's outcome when the target or the vault refused it, in both languages."""
    if isinstance(exc, GatherError):
        return {"state": "refused", "reason": f"{exc.reason_zh} / {exc.reason_en}"}
    return {"state": "refused", "reason": str(exc.message)}


def _replay(
    actor: Actor, restore: Restore, place: Any, admin: Credential, item: dict[str, str]
) -> dict[str, str]:
    """A database's or directory's accounts put back from its backup, then proven: every backed-up account's
    rights as then."""
    _name, replay, build = ROLE_RESTORES[restore.target.connector]
    want = rights(inventory_read(restore.backup))
    only = frozenset(d["account"] for d in _diff(want, rights(inventory_read(restore.current))))
    try:
        content = _content(actor, restore, item["name"])
        done = asyncio.run(replay(place, admin, content, item["expect"], only))
    except (GatherError, DomainError) as exc:
        return _refusal(exc)
    now = rights(build(done.after, source=item["name"], target=str(place.host)))
    wrong = sorted(name for name, value in want.items() if now.get(name) != value)
    said = []
    if done.created:
        names = ", ".join(done.created)
        said.append(f"已重新创建：{names} / created again: {names}")
    if done.disabled:
        names = ", ".join(done.disabled)
        said.append(f"已停用（备份后新建）：{names} / disabled (created since the backup): {names}")
    said += list(getattr(done, "notes", ()))
    if wrong:
        names = ", ".join(wrong)
        return {"state": "refused",
                "reason": f"恢复后与备份不一致：{names} / not as the backup after the restore: {names}"}  # fmt: skip
    return {"state": "restored", "reason": "; ".join(said)}


def restore_apply(*, actor: Actor, restore: Restore) -> Restore:
    """Apply an approved restore, file by file; each file's outcome is recorded as it comes."""
    target = restore.target
    require(user=actor, engagement=restore.engagement, capability=perms.RUN_DISCOVERY, site=target.site)
    with transaction.atomic():
        locked = Restore.objects.select_for_update().get(pk=restore.pk)
        if locked.state != RestoreState.APPROVED:
            raise DomainError(_("Only an approved restore is applied, once."), field="restore")
        entry = target.credential
        if entry is None:
            raise DomainError(_("No vault entry is set for this target."), field="target")
        locked.state = RestoreState.FAILED  # until every file is proven restored
        locked.save(update_fields=["state"])
    place = engine_target(target)
    admin = Credential(
        entry.account.login_name,
        vault.secret_use_for_task(entry_id=entry.pk, purpose="restore: connect", task=f"restore:{locked.pk}"),
    )
    outcome: dict[str, dict[str, str]] = {}
    for item in locked.files:
        name = item["name"]
        if item["action"] == "replay":
            outcome[name] = _replay(actor, locked, place, admin, item)
            Restore.objects.filter(pk=locked.pk).update(outcome=outcome)
            continue
        try:
            content = None if item["action"] == "delete" else _content(actor, locked, name)
            after = asyncio.run(changer.restore_file(place, admin, name, content, item["expect"]))
        except (GatherError, DomainError) as exc:
            outcome[name] = _refusal(exc)
        else:
            differs = "恢复后的摘要与备份不符 / the digest after differs from the backup's"
            ok = after == item["want"]
            outcome[name] = {"state": "restored" if ok else "refused", "reason": "" if ok else differs}
        Restore.objects.filter(pk=locked.pk).update(outcome=outcome)
    done = all(o["state"] == "restored" for o in outcome.values())
    with transaction.atomic():
        locked.outcome, locked.applied_at = outcome, timezone.now()
        locked.state = RestoreState.APPLIED if done else RestoreState.FAILED
        locked.save(update_fields=["outcome", "applied_at", "state"])
        event_record(
            actor=actor,
            action=events.RESTORE_APPLY,
            engagement_id=locked.engagement_id,
            site_id=target.site_id,
            obj=locked,
            outcome="success" if done else "failure",
            after={"host": target.asset.hostname, "files": {k: v["state"] for k, v in outcome.items()}},
        )
    return locked
