"""Restore an OpenLDAP directory's users and groups from the LDIF backup (第二十六条第3项; issue 14).

``restore_entries`` binds as the target's credential (the rootDN or an administrator with write access),
refuses when the directory no longer reads as the preview saw it (the digest of the same searches the
gathering runs), then, entry by entry: a backed-up user or group that still exists gets back the attributes
the gathering reads (names, ids, shell, home, mail, shadow aging; a group's members), never its password (the
vault's: a rotation sets it); one deleted since is added again from the backup (its password included); a
user added since has every group membership taken away by the groups' restore and is locked with ppolicy's
``pwdAccountLockedTime: 000001010000Z`` (where the overlay accepts it; the reason says when not). Operational
attributes (pwdChangedTime, the last binds, memberOf) are the server's and are not written. LDAP has no
transaction: a refused write stops the restore, whose reason names the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handover.connectors import ldap, ldif
from handover.connectors import run as connectors_run
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target
from handover.connectors.model import digest_of

NOT_WRITTEN = frozenset(
    {
        "objectclass", "userpassword", "pwdchangedtime", "pwdfailuretime", "pwdlastsuccess", "authtimestamp",
        "pwdpolicysubentry", "memberof", "pwdaccountlockedtime",
    }
)  # fmt: skip
LOCKED_FOREVER = "000001010000Z"


@dataclass(frozen=True)
class EntriesRestored:
    after: bytes  # the directory read again (the caller seals or drops it: it holds password verifiers)
    created: tuple[str, ...]  # entries deleted since the backup, added again
    disabled: tuple[str, ...]  # users added since: out of every group, locked where ppolicy allows
    notes: tuple[str, ...]  # what could not be done (a lock ppolicy refused)


def _entries(data: bytes) -> dict[str, ldif.Entry]:
    return {e.dn.lower(): e for e in ldif.parse_text(data.decode("utf-8"), "directory.ldif")}


def _kind(entry: ldif.Entry) -> str:
    classes = entry.classes()
    if classes & ldap.GROUP_CLASSES:
        return "group"
    return "user" if classes & ldap.USER_CLASSES else ""


def _restore(
    target: Target, admin: Credential, backup: bytes, expect: str, only: frozenset[str] | None
) -> EntriesRestored:
    import ldap3

    where = f"{target.host}:{target.port}"
    now_data, _warnings = ldap._collect(target, admin)
    if digest_of(now_data) != expect:
        raise GatherError(
            Status.REFUSED, f"{where}: the directory changed since the preview: preview again",
            f"{where}：目录在预览之后已变化，请重新预览",
        )  # fmt: skip
    before, now = _entries(backup), _entries(now_data)
    _server, conn, _w = ldap.open_connection(target, admin, read_only=False)
    created: list[str] = []
    disabled: list[str] = []
    notes: list[str] = []
    at = ""

    def refused(what: str) -> GatherError:
        code = (conn.result or {}).get("result")
        return GatherError(
            Status.REFUSED,
            f"{where}: {what} {at} was refused (LDAP result {code}); LDAP has no transaction: gather again "
            "to see what was applied",
            f"{where}：{what} {at} 被拒绝（LDAP 结果码 {code}）；LDAP 无事务：请重新采集查看已执行部分",
        )

    try:
        for key, entry in sorted(before.items(), key=lambda item: item[1].line):
            kind = _kind(entry)
            if not kind or (kind == "user" and only is not None and ldap._name(entry) not in only):
                continue
            at = entry.dn
            current = now.get(key)
            if current is None:
                attributes = {n: [v for v, _line in values] for n, values in entry.values.items()
                              if n not in NOT_WRITTEN - {"objectclass", "userpassword"}}  # fmt: skip
                if not conn.add(entry.dn, attributes=attributes):
                    raise refused("adding")
                created.append(entry.dn)
                continue
            changes: dict[str, Any] = {}
            for name in set(entry.values) | set(current.values):
                if name in NOT_WRITTEN:
                    continue
                want, have = sorted(entry.all(name)), sorted(current.all(name))
                if want != have:
                    changes[name] = [(ldap3.MODIFY_REPLACE, want)]
            if changes and not conn.modify(entry.dn, changes):
                raise refused("changing")
        for key, entry in sorted(now.items(), key=lambda item: item[1].line):
            if (
                key in before
                or _kind(entry) != "user"
                or (only is not None and ldap._name(entry) not in only)
            ):
                continue
            at = entry.dn
            disabled.append(entry.dn)
            if entry.dn.lower() == admin.username.lower():
                continue
            if not conn.modify(
                entry.dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCKED_FOREVER])]}
            ):
                code = (conn.result or {}).get("result")
                notes.append(f"{entry.dn}：未能锁定（LDAP 结果码 {code}） / not locked (LDAP result {code})")
    finally:
        conn.unbind()
    after, _warnings = ldap._collect(target, admin)
    return EntriesRestored(after, tuple(created), tuple(disabled), tuple(notes))


async def restore_entries(
    target: Target, admin: Credential, backup: bytes, expect: str, only: frozenset[str] | None = None
) -> EntriesRestored:
    """Put the directory's users (``only``: those named; None: all) and groups back as ``backup`` holds them,
    provided the directory still reads with the digest ``expect`` the preview saw."""
    result: EntriesRestored = await connectors_run.in_thread(
        lambda t, c: _restore(t, c, backup, expect, only), target, admin
    )
    return result
