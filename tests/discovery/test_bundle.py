"""Field bundles: a signed discovery bundle is imported exactly once, through the fixity bundle checks; an
altered one or one with a bad inventory stores nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from handover.backups import services as backups
from handover.connectors import serial
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.discovery.bundles import discovery_bundle_import
from handover.discovery.models import FieldBundle, Snapshot, SnapshotSource
from handover.fixity import keys as agent_keys
from handover.fixity.bundle import FORMAT
from handover.org.models import Role
from tests.discovery.conftest import Hosts, Rules, inventory_of
from tests.factories import World


def _bundle(
    world: World, path: Path, *, key: agent_keys.SiteKey, members: dict[str, bytes], meta: dict
) -> Path:
    entries = [
        {"name": n, "kind": "discovery", "sha256": hashlib.sha256(d).hexdigest(), "size": len(d), **meta[n]}
        for n, d in members.items()
    ]
    index = {
        "format": FORMAT,
        "engagement": world.engagement.code,
        "site": "BA",
        "key_id": key.key_id,
        "tool": "handover-agent test",
        "host": "field-pc",
        "created": "2026-12-01T09:00:00Z",
        "members": entries,
    }
    index_bytes = json.dumps(index, sort_keys=True).encode()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.json", index_bytes)
        archive.writestr("index.sig", base64.b64encode(key.sign(index_bytes)))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def key(world: World) -> agent_keys.SiteKey:
    found = agent_keys.generate(engagement=world.engagement.code, site="BA")
    backups.site_key_enrol(
        actor=system("test"), engagement=world.engagement, document=json.dumps(found.public_document())
    )
    return found


def _inventory_bytes(text: str, host: str) -> bytes:
    return json.dumps(serial.inventory_to_dict(inventory_of(text, target=host), with_content=True)).encode()


def test_a_bundle_is_imported_once(
    world: World, key, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    members = {"discovery/01-h1.json": _inventory_bytes("root:0:S\nops:1001:S\n", "h1")}
    path = _bundle(
        world,
        tmp_path / "b.zip",
        key=key,
        members=members,
        meta={"discovery/01-h1.json": {"system": "营业部柜台", "host": "h1"}},
    )
    tech = world.login_with(Role.ONSITE_POST, world.branch_a)
    with path.open("rb") as source:
        first = discovery_bundle_import(actor=tech, source=source, engagement=world.engagement)
    assert first.created and len(first.bundle.runs) == 1
    snapshot = Snapshot.objects.get()
    assert snapshot.target.system.name == "营业部柜台" and snapshot.target.asset.hostname == "h1"
    assert SnapshotSource.objects.get(name="etc/shadow").blob is not None
    with path.open("rb") as source:
        again = discovery_bundle_import(actor=tech, source=source, engagement=world.engagement)
    assert not again.created and Snapshot.objects.count() == 1 and FieldBundle.objects.count() == 1


def test_an_altered_or_bad_bundle_stores_nothing(
    world: World, key, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    good = _inventory_bytes("root:0:S\n", "h1")
    path = _bundle(
        world,
        tmp_path / "b.zip",
        key=key,
        members={"discovery/01-h1.json": good},
        meta={"discovery/01-h1.json": {"system": "柜台", "host": "h1"}},
    )
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(altered, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            out.writestr(
                item, data.replace(b"root", b"r00t") if item.filename.startswith("discovery/") else data
            )
    with pytest.raises(CommandError, match=r"refused|被拒绝"):
        call_command("discovery", "bundle", str(altered))
    broken = _bundle(
        world,
        tmp_path / "c.zip",
        key=key,
        members={"discovery/01-h1.json": b'{"format": "x"}'},
        meta={"discovery/01-h1.json": {"system": "柜台", "host": "h1"}},
    )
    with broken.open("rb") as source, pytest.raises(DomainError, match=r"not an inventory|不是账户清单"):
        discovery_bundle_import(actor=system("test"), source=source)
    assert not Snapshot.objects.exists() and not FieldBundle.objects.exists()


def test_a_bundle_over_the_api(
    world: World, key, client, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path
) -> None:
    members = {"discovery/01-h1.json": _inventory_bytes("root:0:S\n", "h1")}
    path = _bundle(
        world,
        tmp_path / "b.zip",
        key=key,
        members=members,
        meta={"discovery/01-h1.json": {"system": "柜台", "host": "h1"}},
    )
    client.force_login(world.login_with(Role.ONSITE_POST, world.branch_a))
    url = f"/api/engagements/{world.engagement.code}/discovery/bundles/"
    with path.open("rb") as upload:
        assert client.post(url, {"file": upload}).status_code == 201
    with path.open("rb") as upload:
        again = client.post(url, {"file": upload})
    assert again.status_code == 200 and again.json()["created"] is False
    client.force_login(world.login_with(Role.ONSITE_POST, world.branch_b))
    with path.open("rb") as upload:
        assert client.post(url, {"file": upload}).status_code == 403  # the bundle's site is not theirs


def test_what_the_agent_writes_is_imported_once_with_shadow_sealed(
    world: World, key, vault, data_dir: Path, tmp_path: Path
) -> None:
    """The real path: `handover-agent discover` on a collected host folder, then the server's import."""
    from handover.discovery.models import Fact
    from handover.fixity import discover
    from tests.connectors import linux_hosts

    (tmp_path / "k").mkdir()
    files = linux_hosts.hosts(tmp_path / "k", "pw")["gamma"]
    linux_hosts.write(tmp_path / "gamma", files)
    out = tmp_path / "gamma.zip"
    inventory = discover.gather_local(tmp_path / "gamma")
    discover.create(out, inventory, key=key, site="BA", system="营业部柜台")
    tech = world.login_with(Role.ONSITE_POST, world.branch_a)
    with out.open("rb") as source:
        first = discovery_bundle_import(actor=tech, source=source, engagement=world.engagement)
    assert first.created
    shadow = SnapshotSource.objects.get(name="/etc/shadow")
    assert shadow.blob is not None  # sealed in the vault, never kept in the clear
    assert Fact.objects.filter(name="root").exists()
    with out.open("rb") as source:
        assert not discovery_bundle_import(actor=tech, source=source, engagement=world.engagement).created
    unnamed = tmp_path / "unnamed.zip"
    discover.create(unnamed, inventory, key=key, site="BA")
    with unnamed.open("rb") as source, pytest.raises(DomainError, match=r"--system"):
        discovery_bundle_import(actor=tech, source=source, engagement=world.engagement)
    assert FieldBundle.objects.count() == 1
