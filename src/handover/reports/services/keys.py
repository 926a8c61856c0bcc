"""The server's package key: the manifest's signature and the public half for whoever verifies (docs/package.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.utils.translation import gettext as _

from handover.audit import checkpoint
from handover.core.errors import DomainError
from handover.core.filestore import file_digest
from handover.reports import verify


def _seal(
    folder: Path, algorithm: str, extra: dict[str, Any], known: dict[str, tuple[int, str]] | None = None
) -> tuple[bytes, int]:
    """manifest.json over every file in ``folder`` and those ``known`` already (name: size, digest), and
    SIGNATURE.json over it; returns (manifest, count)."""
    files = dict(known or {})
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            digest = file_digest(handle, algorithm)
        files[path.relative_to(folder).as_posix()] = (digest.size, digest.hexdigest)
    manifest = verify.manifest_bytes(algorithm=algorithm, files=files, extra=extra)
    (folder / verify.MANIFEST).write_bytes(manifest)
    key = _package_key()
    (folder / verify.SIGNATURE).write_bytes(verify.signature_bytes(key, manifest))
    return manifest, len(files)


def _package_key() -> Ed25519PrivateKey:
    """The server's package signing key, kept outside the database (HANDOVER_PACKAGE_KEY)."""
    path = Path(settings.HANDOVER_PACKAGE_KEY)
    try:
        return checkpoint.load_or_create_key(path)
    except (OSError, ValueError, checkpoint.CheckpointError) as exc:
        raise DomainError(
            _("The package key %(file)s cannot be read as an Ed25519 private key: %(error)s")
            % {"file": path, "error": type(exc).__name__}
        ) from None


def package_public_key_pem() -> str:
    """The server's package key, public half, in PEM (created on first use)."""
    key = _package_key()
    return verify.public_key_pem(key.public_key())
