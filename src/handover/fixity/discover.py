"""Field mode of discovery (第二十八条第8项): gather a Linux host where it stands and ship the result in a
bundle signed with the site key, like fixity bundles (docs/discovery.md, "Field mode").

The bundle is a zip::

    index.json              format, engagement, site, key id, tool, host, time, the target and its counts,
                            and every member with its kind, SHA-256 and size (and ``sealed`` for files
                            that hold password verifiers)
    index.sig               the Ed25519 signature of index.json's exact bytes, base64
    inventory.json          the inventory in ``connectors.serial``'s canonical form (no file contents)
    files/etc/passwd ...    the permission backup (第二十六条第2、3项): every source marked ``backup``,
                            byte for byte; shadow and gshadow are marked ``sealed`` for the server's vault

The bundle's identity is the SHA-256 of index.json, which covers every member: imported exactly once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import subprocess
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from handover.connectors.errors import GatherError
from handover.connectors.linux import build, from_stream, source_of
from handover.connectors.linux.source import collect_script
from handover.connectors.model import Inventory
from handover.connectors.serial import inventory_dumps, inventory_from_dict
from handover.fixity import bundle
from handover.fixity.bundle import INDEX, SIGNATURE, BundleRefused, KeyLookup
from handover.fixity.errors import FixityError
from handover.fixity.keys import SiteKey
from handover.fixity.manifest import format_ns
from handover.fixity.report import TOOL

FORMAT = "handover-discovery-bundle/1"
INVENTORY = "inventory.json"


def gather_local(root: Path) -> Inventory:
    """The inventory of this machine (``root`` is ``/``: the collection script runs here, as on a live
    gathering) or of a collection folder or tar; a bad line is a ``FixityError`` naming file and line."""
    try:
        if root.resolve() == Path("/"):
            done = subprocess.run(
                ["sh", "-s"], input=collect_script().encode(), capture_output=True, check=False, timeout=600
            )
            if done.returncode != 0:
                raise FixityError(f"the collection script failed (exit {done.returncode})")
            name = platform.node() or "localhost"
            return build(from_stream(done.stdout, label=name), target=name, host=name)
        return build(source_of(root), target=str(root))
    except GatherError as exc:
        raise FixityError(f"{exc.reason_en} / {exc.reason_zh}") from None


def create(
    output: Path, inventory: Inventory, *, key: SiteKey, site: str = "", system: str = ""
) -> dict[str, Any]:
    """Write the signed bundle of ``inventory`` to ``output``; returns its index."""
    if site and site != key.site:
        raise FixityError(f"this agent's key is for site {key.site}, not {site}: enroll for {site} first")
    members: list[tuple[dict[str, Any], bytes]] = []
    data = inventory_dumps(inventory)
    members.append(({"name": INVENTORY, "kind": "inventory"}, data))
    for source in inventory.sources:
        if source.backup:
            entry: dict[str, Any] = {
                "name": "files/" + source.name.lstrip("/"),
                "kind": "file",
                "path": source.name,
            }
            entry["sealed"] = source.sealed
            members.append((entry, source.content))
    for entry, content in members:
        entry["sha256"] = hashlib.sha256(content).hexdigest()
        entry["size"] = len(content)
    index = {
        "format": FORMAT,
        "engagement": key.engagement,
        "site": key.site,
        "key_id": key.key_id,
        "tool": TOOL,
        "host": platform.node(),
        "created": format_ns(time.time_ns()),
        "platform": inventory.platform,
        "target": inventory.target,
        "system": system,
        "accounts": len(inventory.accounts),
        "warnings": list(inventory.warnings),
        "members": [entry for entry, _ in members],
    }
    index_bytes = json.dumps(index, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n"
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(INDEX, index_bytes)
        archive.writestr(SIGNATURE, base64.b64encode(key.sign(index_bytes)) + b"\n")
        for entry, content in members:
            archive.writestr(entry["name"], content)
    os.chmod(tmp, 0o600)  # it carries shadow: readable by its owner only, like the collection folder
    os.replace(tmp, output)
    return index


MAX_INVENTORY_BYTES = 256 << 20
MAX_FILE_BYTES = 64 << 20


@dataclass
class Opened:
    """A discovery bundle whose signature and members were checked: its identity, index, inventory, files."""

    digest: str  # SHA-256 of index.json: the same bundle, however copied or re-zipped, is imported once
    index: dict[str, Any]
    inventory: Inventory
    files: dict[str, bytes] = field(default_factory=dict, repr=False)  # host path -> bytes
    sealed: frozenset[str] = frozenset()  # the host paths that hold password verifiers


def open_bundle(source: str | Path | IO[bytes], *, trusted: KeyLookup) -> Opened:
    """Check a discovery bundle completely (for the server's import); ``trusted(key_id)`` gives the enrolled
    public key or None. Raises ``BundleRefused`` (``not_a_bundle``, ``unknown_key``, ``bad_signature``,
    ``altered``, ``bad_report``) like fixity bundles."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BundleRefused("not_a_bundle", f"this file is not a bundle (not a zip file: {exc})") from None
    with archive:
        if INDEX not in archive.namelist() or SIGNATURE not in archive.namelist():
            raise BundleRefused("not_a_bundle", "this zip file has no index.json and index.sig: not a bundle")
        index_bytes = bundle.read_bounded(archive, INDEX, bundle.MAX_INDEX_BYTES)
        try:
            index = json.loads(index_bytes)
        except ValueError as exc:
            raise BundleRefused("altered", f"index.json cannot be read: {exc}") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise BundleRefused("not_a_bundle", f"index.json is not a {FORMAT} index")
        public = trusted(str(index.get("key_id", "")))
        if public is None:
            raise BundleRefused(
                "unknown_key", f"the bundle is signed with key {index.get('key_id')!r}, which is not enrolled"
            )
        bundle._check_signature(archive, index_bytes, public)
        return _members(archive, index, hashlib.sha256(index_bytes).hexdigest())


def _members(archive: zipfile.ZipFile, index: dict[str, Any], digest: str) -> Opened:
    members = index.get("members")
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        raise BundleRefused("not_a_bundle", "index.json lists no members")
    listed = {str(m.get("name")) for m in members}
    present = set(archive.namelist()) - {INDEX, SIGNATURE}
    if listed != present or INVENTORY not in listed:
        extra, missing = sorted(present - listed), sorted(listed - present)
        raise BundleRefused("altered", f"members not in the index: {extra}; missing: {missing}")
    files: dict[str, bytes] = {}
    sealed: set[str] = set()
    inventory = None
    for member in members:
        name = str(member["name"])
        bound = MAX_INVENTORY_BYTES if name == INVENTORY else MAX_FILE_BYTES
        data = bundle.read_bounded(archive, name, bound)
        if len(data) != member.get("size") or hashlib.sha256(data).hexdigest() != member.get("sha256"):
            raise BundleRefused("altered", f"{name} differs from the signed index: altered after signing")
        if name == INVENTORY:
            try:
                inventory = inventory_from_dict(json.loads(data))
            except (ValueError, TypeError, KeyError) as exc:
                raise BundleRefused("bad_report", f"{name} is not an inventory: {exc}") from None
        else:
            files[str(member.get("path", name))] = data
            if member.get("sealed"):
                sealed.add(str(member.get("path", name)))
    assert inventory is not None
    return Opened(digest, index, inventory, files, frozenset(sealed))
