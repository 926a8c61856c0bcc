"""Signed checkpoints of the audit chain: (sequence, head hash, time) signed with an Ed25519 key kept
outside the database, so a chain rewritten with recomputed hashes no longer matches what was signed."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "handover-audit-checkpoint/1"


class CheckpointError(Exception):
    """A checkpoint file that cannot be trusted: unreadable, malformed or signed by another key."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: str
    algorithm: str
    created_at: str
    path: str = ""

    def signed_bytes(self) -> bytes:
        body = [FORMAT, self.seq, self.head_hash, self.algorithm, self.created_at]
        return json.dumps(body, separators=(",", ":")).encode()


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key; created with owner-only permissions on first use."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CheckpointError(f"{path} is not an Ed25519 private key")
    return loaded


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def write(checkpoint: Checkpoint, key: Ed25519PrivateKey, destination: Path) -> Path:
    """Write a signed checkpoint file; the public key travels with it for reference only."""
    document = {
        "format": FORMAT,
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "algorithm": checkpoint.algorithm,
        "created_at": checkpoint.created_at,
        "public_key": public_key_text(key.public_key()),
        "signature": base64.b64encode(key.sign(checkpoint.signed_bytes())).decode(),
    }
    destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = destination.with_name(destination.name + ".tmp")
    _write_private(tmp, (json.dumps(document, indent=2) + "\n").encode())
    tmp.replace(destination)
    return destination


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (L8), replacing a leftover of an interrupted write."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def key_inside(key_path: Path, folder: Path) -> bool:
    """Whether the signing key sits in the data folder, where a copy or owner of the data could re-sign."""
    return key_path.resolve().is_relative_to(folder.resolve())


def ship_to_folder(source: Path, folder: Path) -> Path:
    """A copy of a checkpoint in the second place (another mount, a WORM share); never overwrites one."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / source.name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(source.read_bytes())
    return target


def files_in(folder: Path | None) -> list[Path]:
    """The checkpoint files of a folder, oldest name first; none if the folder is not there."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file())


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        loaded = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read the audit public key ({exc})") from exc
    if not isinstance(loaded, Ed25519PublicKey):
        raise CheckpointError(f"{path} is not an Ed25519 public key")
    return loaded


def read(path: Path, trusted: Ed25519PublicKey) -> Checkpoint:
    """Read and check a checkpoint file against the trusted public key."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        checkpoint = Checkpoint(
            seq=int(document["seq"]),
            head_hash=str(document["head_hash"]),
            algorithm=str(document["algorithm"]),
            created_at=str(document["created_at"]),
            path=str(path),
        )
        signature = base64.b64decode(document["signature"])
        if document.get("format") != FORMAT:
            raise CheckpointError(
                f"{path}: not a Handover audit checkpoint (format {document.get('format')!r})"
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint ({exc})") from exc
    try:
        trusted.verify(signature, checkpoint.signed_bytes())
    except InvalidSignature:
        raise CheckpointError(
            f"{path}: signature does not match the checkpoint key; the file was altered or signed by another key"
        ) from None
    return checkpoint


def now_text(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
