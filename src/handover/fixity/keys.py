"""Site keys of the field agent: an Ed25519 key pair per site, kept in the agent's folder with mode 0600.

A site's bundles are signed with its private key; the server accepts a bundle only if the public key is
enrolled there for that engagement and site. Three ways to enrol (docs/fixity.md, "Site keys"):

- the agent makes a key and registers the public half over HTTP (``--server URL`` with an API token);
- the agent makes a key and exports the public half to a file that 技术组 registers on the server;
- 技术组 makes the key on the server and hands over a key file that the agent imports.

Key files are JSON (``handover-site-key/1``), so that a person can read which site a file is for. The key
id is the first 16 hex digits of the SHA-256 of the raw public key: short enough to read out on the phone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import platform
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from handover.fixity import transport
from handover.fixity.errors import FixityError
from handover.fixity.manifest import format_ns

PUBLIC_FORMAT = "handover-site-key/1"
PRIVATE_FILE = "site-key.json"
AGENT_DIR_ENV = "HANDOVER_AGENT_DIR"
ENROL_PATH = "/api/engagements/{engagement}/fixity/keys/"


class SiteKeyError(FixityError):
    """A key file that cannot be used; the message says which file and why."""


def default_agent_dir() -> Path:
    """``$HANDOVER_AGENT_DIR``, else ``~/.handover-agent``."""
    return Path(os.environ.get(AGENT_DIR_ENV) or Path.home() / ".handover-agent")


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public(raw: bytes) -> Ed25519PublicKey:
    if len(raw) != 32:
        raise SiteKeyError(f"an Ed25519 public key has 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class SiteKey:
    """The agent's key for one site of one engagement."""

    engagement: str
    site: str
    private: Ed25519PrivateKey
    created: str = ""

    @property
    def public(self) -> bytes:
        return public_raw(self.private.public_key())

    @property
    def key_id(self) -> str:
        return key_id_of(self.public)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def public_document(self) -> dict[str, Any]:
        """What the server needs to enrol the key: the public half and where it belongs."""
        return {
            "format": PUBLIC_FORMAT,
            "engagement": self.engagement,
            "site": self.site,
            "key_id": self.key_id,
            "algorithm": "ed25519",
            "public_key": base64.b64encode(self.public).decode(),
            "created": self.created,
            "host": platform.node(),
        }

    def private_document(self) -> dict[str, Any]:
        raw = self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return {**self.public_document(), "private_key": base64.b64encode(raw).decode()}


def generate(*, engagement: str, site: str) -> SiteKey:
    if not engagement.strip() or not site.strip():
        raise SiteKeyError("a site key needs the engagement code and the site code")
    return SiteKey(engagement.strip(), site.strip(), Ed25519PrivateKey.generate(), format_ns(time.time_ns()))


def _b64(document: dict[str, Any], name: str, source: str) -> bytes:
    try:
        return base64.b64decode(str(document[name]), validate=True)
    except (KeyError, binascii.Error):
        raise SiteKeyError(f"{source}: no valid {name!r} in the key file") from None


def parse_public(text: str | bytes, *, source: str = "key file") -> dict[str, Any]:
    """A public-key document, checked: format, algorithm, and a key id that matches the key."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise SiteKeyError(f"{source} is not a site key file (JSON, {PUBLIC_FORMAT})") from None
    if not isinstance(document, dict) or document.get("format") != PUBLIC_FORMAT:
        raise SiteKeyError(f"{source} is not a site key file ({PUBLIC_FORMAT})")
    if document.get("algorithm") != "ed25519":
        raise SiteKeyError(f"{source}: only ed25519 keys are accepted")
    raw = _b64(document, "public_key", source)
    load_public(raw)
    if document.get("key_id") != key_id_of(raw):
        raise SiteKeyError(f"{source}: the key id does not match the key (the file was altered)")
    for name in ("engagement", "site"):
        if not str(document.get(name) or "").strip():
            raise SiteKeyError(f"{source}: no {name} code in the key file")
    return document


def parse_private(text: str | bytes, *, source: str = "key file") -> SiteKey:
    """A key file handed over by 技术组 (or the agent's own), with its private half."""
    document = parse_public(text, source=source)
    raw = _b64(document, "private_key", source)
    if len(raw) != 32:
        raise SiteKeyError(f"{source}: the private key is not an Ed25519 key")
    private = Ed25519PrivateKey.from_private_bytes(raw)
    if public_raw(private.public_key()) != _b64(document, "public_key", source):
        raise SiteKeyError(f"{source}: the private and public halves do not belong together")
    return SiteKey(document["engagement"], document["site"], private, str(document.get("created", "")))


def write_private(path: Path, key: SiteKey) -> None:
    """Written with mode 0600 from the start (never readable by others, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(key.private_document(), out, ensure_ascii=False, indent=1)
        out.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_free(agent_dir: Path, key_id: str = "", *, replace: bool = False) -> None:
    """Refuses before anything is registered or written if the agent holds another key (unless ``replace``)."""
    path = agent_dir / PRIVATE_FILE
    if path.exists() and not replace:
        existing = load(agent_dir)
        if existing.key_id != key_id:
            raise SiteKeyError(
                f"{path} holds the key {existing.key_id} for site {existing.site} already;"
                " add --replace to put the new key in its place"
            )


def save(agent_dir: Path, key: SiteKey, *, replace: bool = False) -> Path:
    """Store the key as the agent's site key; refuses to overwrite another key unless ``replace``."""
    ensure_free(agent_dir, key.key_id, replace=replace)
    path = agent_dir / PRIVATE_FILE
    write_private(path, key)
    return path


def load(agent_dir: Path | None = None) -> SiteKey:
    """The agent's site key; refused if others may read it (a copied key could sign for the site)."""
    path = (agent_dir or default_agent_dir()) / PRIVATE_FILE
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiteKeyError(f"no site key in {path.parent}: run 'handover-agent enroll' first") from None
    except OSError as exc:
        raise SiteKeyError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if mode & 0o077:
        raise SiteKeyError(f"{path} may be read by others (mode {mode:04o}): chmod 600 it, or enroll again")
    return parse_private(text, source=str(path))


def export_public(path: Path, key: SiteKey) -> None:
    path.write_text(json.dumps(key.public_document(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def register(*, server: str, token: str, key: SiteKey, label: str = "") -> dict[str, Any]:
    """POST the public key to the server's enrolment endpoint; returns the server's answer."""
    body = json.dumps({**key.public_document(), "label": label}).encode()
    _, answer = transport.post(
        server, ENROL_PATH.format(engagement=key.engagement), token=token, body=body,
        content_type="application/json", offline_hint="export the key with --export instead",
    )  # fmt: skip
    return answer
