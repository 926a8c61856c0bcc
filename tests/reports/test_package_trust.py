"""L6: `handover package verify` does not trust the key a package carries, and checks the package's audit
checkpoint against the audit public key: a package re-signed by someone else is refused."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from handover.audit import checkpoint
from handover.reports import services, verify
from tests.reports.support import done_world

pytestmark = pytest.mark.django_db


def _pem(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _resign(source: Path, target: Path, mallory: Ed25519PrivateKey) -> Path:
    """The attacker's package: a forged checkpoint and 表24 text, a new manifest, all signed with their key."""
    with zipfile.ZipFile(source) as old:
        files = {info.filename: old.read(info.filename) for info in old.infolist() if not info.is_dir()}
    document = json.loads(files[verify.CHECKPOINT])
    forged = checkpoint.Checkpoint(
        seq=document["seq"],
        head_hash="f" * 64,
        algorithm=document["algorithm"],
        created_at=document["created_at"],
    )
    folder = target.parent / "forged-cp"
    checkpoint.write(forged, mallory, folder / "cp.json")
    files[verify.CHECKPOINT] = (folder / "cp.json").read_bytes()
    manifest = json.loads(files[verify.MANIFEST])
    entry = next(e for e in manifest["files"] if e["path"] == verify.CHECKPOINT)
    import hashlib

    entry["digest"] = hashlib.new(manifest["algorithm"], files[verify.CHECKPOINT]).hexdigest()
    files[verify.MANIFEST] = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
    files[verify.SIGNATURE] = verify.signature_bytes(mallory, files[verify.MANIFEST])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as new:
        for name, data in files.items():
            new.writestr(name, data)
    target.write_bytes(buffer.getvalue())
    return target


def test_a_re_signed_package_is_refused_without_a_trusted_key(tmp_path, settings):
    world, tech = done_world()
    path = services.package_path(services.package_build(actor=tech, engagement=world.engagement))
    mallory = Ed25519PrivateKey.generate()
    forged = _resign(path, tmp_path / "forged.zip", mallory)
    out = io.StringIO()
    assert verify.main([str(forged)], out=out) == 1
    assert "UNTRUSTED" in out.getvalue() and "NOT INTACT" in out.getvalue()
    # with the server's key given, the forgery is named
    server = tmp_path / "server.pub"
    server.write_text(services.package_public_key_pem())
    out = io.StringIO()
    assert verify.main([str(forged), "--public-key", str(server)], out=out) == 1
    assert "SIGNATURE manifest.json: the signature does not match the given public key" in out.getvalue()
    # the genuine package verifies with the server's key and the audit key
    audit = _pem(checkpoint.load_or_create_key(settings.HANDOVER_CHECKPOINT_KEY), tmp_path / "audit.pub")
    out = io.StringIO()
    assert (
        verify.main([str(path), "--public-key", str(server), "--audit-public-key", str(audit)], out=out) == 0
    )
    assert "checked against the given audit public key" in out.getvalue()


def test_the_embedded_checkpoint_is_checked_against_the_audit_key(tmp_path, settings):
    world, tech = done_world()
    path = services.package_path(services.package_build(actor=tech, engagement=world.engagement))
    forged = _resign(path, tmp_path / "forged.zip", Ed25519PrivateKey.generate())
    audit = _pem(checkpoint.load_or_create_key(settings.HANDOVER_CHECKPOINT_KEY), tmp_path / "audit.pub")
    out = io.StringIO()
    code = verify.main([str(forged), "--trust-embedded-key", "--audit-public-key", str(audit)], out=out)
    assert code == 1, out.getvalue()
    assert f"SIGNATURE {verify.CHECKPOINT}" in out.getvalue()
    # told to trust the embedded keys, and with no audit key, the forgery passes: that is what the flag means
    out = io.StringIO()
    assert verify.main([str(forged), "--trust-embedded-key"], out=out) == 0
    assert "not checked against the audit public key" in out.getvalue()
