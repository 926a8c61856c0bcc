"""The exact previous verifier (第二十八条第1项, issue 15): before a change, the account's stored verifier — shadow
hash, SCRAM string, ``plugin``/``authentication_string``, userPassword, SPARE4 — is read where the platform lets
it be read and sealed in the vault beside the pending version (``vault.blobs``: never in the database in the
clear, never logged; sealing and opening are audit events naming the blob, never its content). E01's revert then
puts that very verifier back (``changer.set_verifier``) instead of setting the original password again with a
new salt, and proves it by reading the stored verifier again and comparing. Where it is unreadable (Active
Directory, an Oracle USER$ only SYS may read) nothing is sealed and the revert sets the original password.

A changer offers it with ``stored_verifier(place, admin, account) -> str | None``, ``verifier_holds(verifier,
secret) -> bool`` and ``set_verifier(place, admin, account, verifier)``; ``same_verifier(a, b)`` where two
readings of one verifier may be written differently (Oracle's SPARE4).
"""

from __future__ import annotations

import hashlib
from typing import Any

from handover.connectors.errors import GatherError
from handover.core.actors import Actor
from handover.rotation.models import RotationItem
from handover.vault import blobs


def supported(changer: Any) -> bool:
    """Whether ``changer`` can read and put back a stored verifier."""
    return all(hasattr(changer, name) for name in ("stored_verifier", "verifier_holds", "set_verifier"))


async def read(changer: Any, place: Any, admin: Any, account: str) -> str | None:
    """The account's stored verifier before the change, or None (not supported, unreadable, not reached: the
    revert then sets the original password, as before)."""
    if not supported(changer):
        return None
    try:
        verifier: str | None = await changer.stored_verifier(place, admin, account)
    except GatherError:
        return None
    return verifier or None


def seal(*, actor: Actor, item: RotationItem, verifier: str | None, version: int) -> Any:
    """Seal ``verifier`` in the vault for ``item`` (called in the stage step, beside pending ``version``)."""
    if not verifier:
        return None
    data = verifier.encode("utf-8")
    entry = item.entry
    label = f"verifier of {entry.reference} before v{version}"
    return blobs.blob_seal(actor=actor, engagement=entry.engagement, site=entry.site, label=label, data=data,
                           digest="sha256:" + hashlib.sha256(data).hexdigest())  # fmt: skip


def opened(*, actor: Actor, item: RotationItem, revert_id: int) -> str | None:
    """The sealed previous verifier of ``item`` for its revert (an audit event ``vault.blob.open``), or None."""
    blob = item.previous_verifier
    if blob is None:
        return None
    data = blobs.blob_open(
        actor=actor, blob=blob, purpose=f"revert #{revert_id}: the exact previous verifier"
    )
    return data.decode("utf-8")


def same(changer: Any, one: str | None, other: str | None) -> bool:
    """Whether two readings are the same verifier."""
    if one is None or other is None:
        return False
    compare = getattr(changer, "same_verifier", None)
    return bool(compare(one, other)) if compare is not None else one == other
