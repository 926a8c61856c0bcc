"""Field bundles: what ``handover-agent discover`` gathered at a site with no network to head office, in a
signed bundle imported exactly once (第二十八条第8项).

The bundle is a fixity bundle (``handover.fixity.bundle``: zip, ``index.json`` signed by the site's enrolled
key, every member's SHA-256 in the index), so the same checks, keys and refusals apply. Its discovery
members (docs/discovery.md, "Field bundles") have ``"kind": "discovery"``, a ``system`` (the registers'
system name) and a ``host``; each is one inventory as ``connectors.serial.inventory_to_dict(...,
with_content=True)`` writes it. The sources holding verifiers are sealed in the vault on import, as for
an offline import; nothing is stored from a bundle that fails, and the same bundle imported again changes
nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import zipfile
from dataclasses import dataclass
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from handover.backups.models import SiteKey
from handover.connectors import serial
from handover.connectors.manifest import Manifest
from handover.core.actors import Actor, SystemActor
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery import engine
from handover.discovery.models import FieldBundle, RunKind
from handover.discovery.services import _who, inventory_store
from handover.fixity import discover as agent_discover
from handover.fixity import keys as agent_keys
from handover.fixity.bundle import BundleRefused, open_bundle, read_bounded
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.org.selectors import engagement_ids_for, require

MEMBER_KIND = "discovery"
MAX_INVENTORY_BYTES = 64 << 20  # one host's accounts, keys and permission files


@dataclass(frozen=True)
class BundleResult:
    bundle: FieldBundle
    created: bool


def _trusted(key_id: str) -> Any:
    key = SiteKey.objects.filter(key_id=key_id, revoked_at__isnull=True).first()
    return agent_keys.load_public(base64.b64decode(key.public_key)) if key else None


def _refused(detail: str) -> DomainError:
    return DomainError(
        _("Discovery bundle refused: %(detail)s Nothing was stored.") % {"detail": detail}, field="file"
    )


def discovery_bundle_import(
    *, actor: Actor, source: IO[bytes], engagement: Engagement | None = None
) -> BundleResult:
    """Check a discovery bundle completely, then store each of its inventories like an offline import."""
    if engagement is not None:
        require(user=actor, engagement=engagement, capability=perms.RUN_DISCOVERY)
    elif not isinstance(actor, SystemActor) and not engagement_ids_for(
        user=actor, capability=perms.RUN_DISCOVERY
    ):
        raise PermissionDenied(_("You do not have the role needed for this here."))
    agent_format = _format_of(source) == agent_discover.FORMAT
    try:
        opened: Any = (agent_discover.open_bundle if agent_format else open_bundle)(source, trusted=_trusted)
    except BundleRefused as exc:
        raise _refused(str(exc)) from None
    key = SiteKey.objects.select_related("site", "engagement").get(key_id=opened.index["key_id"])
    if opened.index.get("site") != key.site.code or opened.index.get("engagement") != key.engagement.code:
        raise _refused(_("the bundle names another site or engagement than its key."))
    if engagement is not None and engagement != key.engagement:
        raise _refused(_("the bundle belongs to another engagement."))
    require(user=actor, engagement=key.engagement, capability=perms.RUN_DISCOVERY, site=key.site)
    existing = FieldBundle.objects.filter(digest=opened.digest).first()
    if existing is not None:
        return BundleResult(existing, created=False)
    if agent_format:
        items = [_agent_inventory(opened)]
    else:
        items = _inventories(source, [m for m in opened.index["members"] if m.get("kind") == MEMBER_KIND])
    try:
        return BundleResult(_store(actor=actor, key=key, opened=opened, items=items), created=True)
    except IntegrityError:  # the same bundle imported at the same moment elsewhere
        return BundleResult(FieldBundle.objects.get(digest=opened.digest), created=False)


def _format_of(source: IO[bytes]) -> str:
    """The ``format`` its index names, or "" (the checks that follow name what is wrong)."""
    try:
        with zipfile.ZipFile(source) as archive:
            index = json.loads(read_bounded(archive, "index.json", 16 << 20))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, BundleRefused):
        return ""
    finally:
        source.seek(0)
    return str(index.get("format", "")) if isinstance(index, dict) else ""


def _agent_inventory(opened: Any) -> tuple[dict[str, Any], Any]:
    """What ``handover-agent discover`` wrote (docs/discovery.md, "Field mode"): one inventory, its backup
    files beside it (their bytes put back into the inventory's sources, so that the verifier files are
    sealed on import like an offline import's)."""
    system = str(opened.index.get("system", "")).strip()
    if not system:
        raise _refused(_("it names no system: run handover-agent discover with --system NAME."))
    inventory = opened.inventory
    sources = tuple(
        dataclasses.replace(s, content=opened.files[s.name]) if s.name in opened.files else s
        for s in inventory.sources
    )
    member = {"name": agent_discover.INVENTORY, "system": system, "host": inventory.target}
    return member, dataclasses.replace(inventory, sources=sources)


def _inventories(source: IO[bytes], members: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    """Each discovery member read again, checked against the signed index, and parsed."""
    if not members:
        raise _refused(_("it holds no discovery member (kind %(kind)s).") % {"kind": MEMBER_KIND})
    source.seek(0)
    found = []
    with zipfile.ZipFile(source) as archive:
        for member in members:
            name = str(member["name"])
            data = read_bounded(archive, name, MAX_INVENTORY_BYTES)
            if hashlib.sha256(data).hexdigest() != member.get("sha256"):
                raise _refused(_("%(name)s differs from the signed index.") % {"name": name})
            if not str(member.get("system", "")).strip():
                raise _refused(_("%(name)s names no system.") % {"name": name})
            try:
                inventory = serial.inventory_from_dict(json.loads(data))
            except (ValueError, TypeError, KeyError) as exc:
                raise _refused(
                    _("%(name)s is not an inventory: %(reason)s") % {"name": name, "reason": exc}
                ) from None
            found.append((member, inventory))
    return found


def _manifest(platform: str) -> Manifest:
    manifest = engine.connector_get(platform)
    if manifest is None:
        return Manifest(code=platform[:40], label_en=platform, label_zh=platform)
    return manifest


def _store(
    *, actor: Actor, key: SiteKey, opened: Any, items: list[tuple[dict[str, Any], Any]]
) -> FieldBundle:
    user, name = _who(actor)
    with transaction.atomic():
        bundle = FieldBundle.objects.create(
            engagement=key.engagement,
            site=key.site,
            key_id=key.key_id,
            digest=opened.digest,
            host=str(opened.index.get("host", ""))[:255],
            created_at_site=str(opened.index.get("created", ""))[:40],
            imported_by=user,
            imported_by_name=name,
        )
        runs = []
        for member, inventory in items:
            result = inventory_store(
                actor=actor,
                engagement=key.engagement,
                site=key.site,
                system_name=str(member["system"])[:200],
                host=str(member.get("host") or inventory.target)[:255],
                manifest=_manifest(inventory.platform),
                inventory=inventory,
                kind=RunKind.BUNDLE,
                source=str(member["name"]),
                extra={"bundle": opened.digest, "key_id": key.key_id},
            )
            runs.append(result.run.pk)
        bundle.runs = runs
        bundle.save(update_fields=["runs"])
    return bundle
