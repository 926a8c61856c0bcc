"""Field mode: ``handover-agent discover`` gathers a host where it stands into a signed bundle."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from handover.connectors import linux
from handover.connectors.manifest import Credential, Target
from handover.connectors.serial import inventory_dumps, inventory_from_dict
from handover.fixity import cli, keys
from tests.connectors import linux_hosts
from tests.connectors.conftest import PASSWORD


def _agent(tmp_path: Path) -> Path:
    folder = tmp_path / "agent"
    keys.save(folder, keys.generate(engagement="E1", site="SZ"))
    return folder


def _open(bundle: Path, agent: Path) -> tuple[dict, zipfile.ZipFile]:  # type: ignore[type-arg]
    archive = zipfile.ZipFile(bundle)
    index_bytes = archive.read("index.json")
    public = Ed25519PublicKey.from_public_bytes(keys.load(agent).public)
    public.verify(base64.b64decode(archive.read("index.sig")), index_bytes)  # raises if not signed by the key
    return json.loads(index_bytes), archive


def test_discover_a_collection_folder(tmp_path, capsys) -> None:
    files = linux_hosts.hosts(tmp_path / "k" if (tmp_path / "k").mkdir() is None else tmp_path, "pw")["alpha"]
    root = tmp_path / "collected"
    linux_hosts.write(root, files)
    agent = _agent(tmp_path)
    out = tmp_path / "alpha.zip"
    code = cli.main(
        ["discover", "--root", str(root), "--out", str(out), "--agent-dir", str(agent), "--system", "柜台"]
    )
    assert code == 0, capsys.readouterr().err
    index, archive = _open(out, agent)
    assert (index["format"], index["site"], index["system"], index["accounts"]) == (
        "handover-discovery-bundle/1", "SZ", "柜台", 14,
    )  # fmt: skip
    for member in index["members"]:
        import hashlib

        assert hashlib.sha256(archive.read(member["name"])).hexdigest() == member["sha256"]
    sealed = {m["path"] for m in index["members"] if m.get("sealed")}
    assert sealed == {"/etc/shadow", "/etc/gshadow"}
    assert archive.read("files/etc/shadow") == files["etc/shadow"]
    inventory = inventory_from_dict(json.loads(archive.read("inventory.json")))
    assert inventory_dumps(inventory) == inventory_dumps(
        dataclasses.replace(linux.parse(root), gathered_at=inventory.gathered_at)
    )
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_discover_refuses_a_bad_file_by_name_and_line(tmp_path, capsys) -> None:
    root = tmp_path / "collected"
    linux_hosts.write(root, {"etc/passwd": b"root:x:0:0:root:/root:/bin/bash\nbroken:x:1\n"})
    code = cli.main(
        [
            "discover",
            "--root",
            str(root),
            "--out",
            str(tmp_path / "b.zip"),
            "--agent-dir",
            str(_agent(tmp_path)),
        ]
    )
    assert code == cli.EXIT_ERROR
    assert "/etc/passwd:2" in capsys.readouterr().err and not (tmp_path / "b.zip").exists()


def test_discover_root_on_the_host_itself_equals_the_live_gathering(ssh_hosts, tmp_path) -> None:
    """The agent run on the host (inside the sshd's namespace) with --root /: same inventory as over SSH."""
    host = ssh_hosts["beta"]
    agent = _agent(tmp_path)
    out = tmp_path / "beta.zip"
    env = dict(os.environ, PYTHONPATH=str(Path(linux.__file__).parents[3]))
    subprocess.run(
        ["nsenter", "-t", str(host.pid), "-m", sys.executable, "-m", "handover.fixity.cli", "discover", "--root", "/",
         "--out", str(out), "--agent-dir", str(agent)], check=True, env=env,
    )  # fmt: skip
    _index, archive = _open(out, agent)
    field = inventory_from_dict(json.loads(archive.read("inventory.json")))
    live = asyncio.run(linux.gather(Target("127.0.0.1", host.port), Credential("root", PASSWORD)))

    def same(i):  # type: ignore[no-untyped-def]
        return inventory_dumps(dataclasses.replace(i, target="", gathered_at=live.gathered_at, host_key=""))

    assert same(field) == same(live)


def _trusted(agent: Path):  # type: ignore[no-untyped-def]
    key = keys.load(agent)
    return lambda key_id: keys.load_public(key.public) if key_id == key.key_id else None


def test_open_bundle_checks_signature_and_members_and_refuses_tampering(tmp_path) -> None:
    from handover.fixity import discover
    from handover.fixity.bundle import BundleRefused

    (tmp_path / "k").mkdir()
    files = linux_hosts.hosts(tmp_path / "k", "pw")["gamma"]
    root = tmp_path / "collected"
    linux_hosts.write(root, files)
    agent = _agent(tmp_path)
    out = tmp_path / "gamma.zip"
    assert cli.main(["discover", "--root", str(root), "--out", str(out), "--agent-dir", str(agent)]) == 0
    opened = discover.open_bundle(out, trusted=_trusted(agent))
    assert opened.files["/etc/shadow"] == files["etc/shadow"] and opened.sealed == {
        "/etc/shadow",
        "/etc/gshadow",
    }
    assert opened.inventory.account("empty") is not None and len(opened.digest) == 64
    with pytest.raises(BundleRefused) as caught:
        discover.open_bundle(out, trusted=lambda key_id: None)
    assert caught.value.reason == "unknown_key"
    # A member changed after signing (a shadow line swapped for one with a known hash).
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "files/etc/shadow":
                data = data.replace(b"empty::", b"empty:$6$known$hash:")
            dst.writestr(item, data)
    with pytest.raises(BundleRefused) as caught:
        discover.open_bundle(tampered, trusted=_trusted(agent))
    assert caught.value.reason == "altered"
    # The index changed to match: the signature no longer does.
    with zipfile.ZipFile(tampered) as src:
        index = json.loads(src.read("index.json"))
    with zipfile.ZipFile(tampered) as src, zipfile.ZipFile(tmp_path / "t2.zip", "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "index.json":
                for m in index["members"]:
                    if m["name"] == "files/etc/shadow":
                        body = src.read("files/etc/shadow")
                        m["sha256"], m["size"] = __import__("hashlib").sha256(body).hexdigest(), len(body)
                data = json.dumps(index).encode()
            dst.writestr(item, data)
    with pytest.raises(BundleRefused) as caught:
        discover.open_bundle(tmp_path / "t2.zip", trusted=_trusted(agent))
    assert caught.value.reason == "bad_signature"
