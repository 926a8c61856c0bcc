"""Configuration dependencies of a rotated account (issue 15; 第二十六条第2项 「对配置文件中相应用户的密码进行修改」).

Before the change, the files on the account's Linux host where its password may be used (its crontab and cron
lines, systemd units running as it, its .pgpass and .my.cnf, configuration files naming it under the plan's
declared paths: ``connectors.change.dependencies.find``) are kept on the item with their digests. A database's or
directory's account is used by the system's application servers: the plan's declared paths are searched on every
Linux host of the same system (its live discovery targets, each with its own credential; at most ``MAX_HOSTS``),
and such a file is kept as ``host:path``. Once the host
holds the new password, each file is searched for the old one (the vault's previous version, opened for the
task) in this process; only the path, the digest and the answer are kept. The drafted 表10 row lists the files
in 相关配置文件 and says 配置文件中使用 未修改 when one still holds the old password: a failure that needs its 表39
entry before the form is submitted (``registers.computed.FAILED_WHEN[10]``, 第二十八条). Otherwise the column is
left for people: a file without the old password may not hold the new one either, and finding nothing in the
places searched does not prove the password is used nowhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.connectors.change import dependencies as connector
from handover.connectors.errors import GatherError
from handover.connectors.manifest import Credential
from handover.core.actors import Actor
from handover.core.errors import DomainError, NotFound
from handover.rotation import events
from handover.rotation.models import RotationItem
from handover.vault import services as vault

NOT_CHANGED = "未修改"  # 表10 配置文件中使用: the configuration still holds the old password


def paths_clean(paths: Sequence[str]) -> list[str]:
    """The plan's declared configuration paths, or a DomainError on ``config_paths`` naming the first refused."""
    if len(paths) > connector.MAX_PATHS:
        raise DomainError(
            _("At most %(count)d configuration paths per plan.") % {"count": connector.MAX_PATHS},
            field="config_paths",
        )
    for path in paths:
        try:
            connector.check_paths([path])
        except ValueError:
            raise DomainError(
                _(
                    "Configuration path %(path)s: give an absolute path of a folder or file on the hosts "
                    "(not /, /proc, /sys or /dev, without . or ..)."
                )
                % {"path": repr(path)},
                field="config_paths",
            ) from None
    return connector.check_paths(paths)


MAX_HOSTS = 64  # the system's Linux hosts searched for a database or directory account's configuration


async def find_uses(bridge: Any, actor: Actor, item: RotationItem, place: Any, admin: Credential,
                    paths: Sequence[str]) -> None:  # fmt: skip
    """Before the change: the files where the account's password may be used, kept on the item: on its own Linux
    host; for a database or directory account, under the declared paths on the system's Linux hosts."""
    if item.target.connector == "linux":
        uses = await connector.find(place, admin, item.login_name, paths)
        await bridge(_uses_record, actor, item, [asdict(use) for use in uses])
        return
    if not paths:
        return
    found: list[dict[str, Any]] = []
    for target_id, host, where, login in await bridge(_system_hosts, item):
        try:
            uses = await connector.find(where, login, item.login_name, paths)
        except GatherError:
            found.append({"path": f"{host}:", "kind": "config", "sha256": "", "skipped": "unreachable",
                          "target": target_id, "file": ""})  # fmt: skip
            continue
        finally:
            del login
        found += [{**asdict(use), "path": f"{host}:{use.path}", "file": use.path, "target": target_id}
                  for use in uses if use.kind in ("config", "wallet")]  # fmt: skip
    await bridge(_uses_record, actor, item, found)


def _system_hosts(item: RotationItem) -> list[tuple[int, str, Any, Credential]]:
    """The Linux hosts of the item's system (not its own host's target), each with its connection (the
    target's credential opened for this task): where a database or directory account's password is used."""
    from handover.discovery.models import Target
    from handover.discovery.services import engine_target

    if item.target.system_id is None:
        return []
    targets = (
        Target.objects.filter(system_id=item.target.system_id, connector="linux", is_active=True,
                              credential__isnull=False)
        .exclude(pk=item.target_id)
        .select_related("credential__account", "asset")
        .order_by("pk")[:MAX_HOSTS]
    )  # fmt: skip
    hosts = []
    for target in targets:
        entry = target.credential
        assert entry is not None
        secret = vault.secret_use_for_task(
            entry_id=entry.pk, purpose="rotation: search the system's hosts for the account's configuration",
            task=f"rotation:{item.plan_id}:{item.pk}",
        )  # fmt: skip
        hosts.append((target.pk, target.asset.hostname, engine_target(target),
                      Credential(entry.account.login_name, secret)))  # fmt: skip
    return hosts


async def check_uses(bridge: Any, actor: Actor, item: RotationItem, place: Any, admin: Credential) -> None:
    """After the change (the host holds the new password): which of the item's files still hold the old one."""
    readable = [
        connector.Use(use["path"], use["kind"], use["sha256"])
        for use in item.config_uses
        if not use.get("skipped")
    ]
    if not readable:
        return
    old = await bridge(_old_secret, item)
    if item.target.connector != "linux":  # the system's hosts, each by its own connection, files as host:path
        held = await _held_on_hosts(bridge, item, old)
        del old
        await bridge(_held_record, actor, item, held)
        return
    try:  # the host holds the new password now: a failure here must not hold back the vault's promotion
        held = (
            await connector.still_holds(place, admin, readable, old) if old else _unread(readable, "no_old")
        )
    except GatherError:
        held = _unread(readable, "failed")
    del old
    await bridge(_held_record, actor, item, held)


async def _held_on_hosts(bridge: Any, item: RotationItem, old: str) -> dict[str, connector.Held]:
    """For a database or directory account: each host's files searched for the old password there."""
    by_host: dict[int, list[dict[str, Any]]] = {}
    for use in item.config_uses:
        if not use.get("skipped") and use.get("target"):
            by_host.setdefault(use["target"], []).append(use)
    held: dict[str, connector.Held] = {}
    for target_id, host, where, login in await bridge(_system_hosts, item):
        uses = by_host.get(target_id, [])
        if not uses:
            continue
        files = [connector.Use(use["file"], use["kind"], use["sha256"]) for use in uses]
        try:
            found = await connector.still_holds(where, login, files, old) if old else _unread(files, "no_old")
        except GatherError:
            found = _unread(files, "failed")
        finally:
            del login
        held.update({f"{host}:{path}": answer for path, answer in found.items()})
    return held


def _unread(uses: list[connector.Use], why: str) -> dict[str, connector.Held]:
    return {use.path: connector.Held("", False, unread=why) for use in uses}


def _old_secret(item: RotationItem) -> str:
    """The secret the rotation replaced ("" when the vault holds no earlier version of the entry)."""
    assert item.version_number is not None  # staged before it was changed
    try:
        return vault.secret_use_previous_for_task(
            entry_id=item.entry_id,
            before_number=item.version_number,
            purpose="rotation: search configuration files for the old secret",
            task=f"rotation:{item.plan_id}:{item.pk}",
        )
    except NotFound:
        return ""


def _record(actor: Actor, item: RotationItem, after: dict[str, Any]) -> None:
    with transaction.atomic():
        item.save(update_fields=["config_uses", "updated_at"])
        event_record(
            actor=actor,
            action=events.ITEM_CONFIG,
            engagement_id=item.plan.engagement_id,
            site_id=item.target.site_id,
            obj=item.plan,
            after={"account": item.login_name, "host": item.target.asset.hostname, **after},
        )


def _uses_record(actor: Actor, item: RotationItem, uses: list[dict[str, Any]]) -> None:
    item.config_uses = uses
    _record(actor, item, {"found": [use["path"] for use in uses][:100]})


def _held_record(actor: Actor, item: RotationItem, held: dict[str, connector.Held]) -> None:
    for use in item.config_uses:
        if use["path"] in held:
            found = held[use["path"]]
            use.update(sha256_after=found.sha256, holds_old=found.holds, unread=found.unread)
    still = [path for path, found in held.items() if found.holds]
    _record(actor, item, {"checked": len(held), "still_old": still[:100]})


def _note(use: dict[str, Any]) -> str:
    if use.get("holds_old"):
        return _("still holds the old password")
    why = use.get("skipped") or use.get("unread") or ""
    reasons = {
        "size": _("larger than %(size)d KiB: not read, check it by hand")
        % {"size": connector.MAX_FILE_BYTES >> 10},
        "count": _("more than %(count)d configuration files: the rest not read, check them by hand")
        % {"count": connector.MAX_FILES},
        "missing": _("not found on the host"),
        "unreadable": _("not readable: check it by hand"),
        "wallet": _("an Oracle wallet: its credentials cannot be read here, check it by hand"),
        "absent": _("gone after the change"),
        "no_old": _("not checked: the vault holds no earlier password"),
        "unreachable": _("the host could not be searched: check its configuration by hand"),
        "failed": _("not checked: the host's files could not be read after the change, check it by hand"),
    }
    return reasons.get(why, why)


def t10_columns(item: RotationItem) -> dict[str, Any]:
    """表10's 相关配置文件 (each file, its kind and what was found) and, when a file still holds the old password,
    配置文件中使用 未修改; nothing when no file was found (people fill the column)."""
    if not item.config_uses:
        return {}
    lines = []
    for use in item.config_uses:
        note = _note(use)
        line = f"{use['path']} ({use['kind']})"  # a path and a kind: nothing to translate
        lines.append(_("%(file)s: %(note)s") % {"file": line, "note": note} if note else line)
    columns: dict[str, Any] = {"config_files": "\n".join(lines)}
    if any(use.get("holds_old") for use in item.config_uses):
        columns["used_in_config"] = NOT_CHANGED
    return columns
