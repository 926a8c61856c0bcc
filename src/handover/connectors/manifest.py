"""What a connector is: its code, its labels, what it needs, and its live and offline entry points."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from handover.connectors.model import Inventory


@dataclass(frozen=True)
class Credential:
    """What the Django side hands a task for one connection, taken from the vault by entry id.

    The secret is a password or a private key (PEM); it is never logged, never in ``repr``, never in an
    exception, and the caller drops the object as soon as the connection is made.
    """

    username: str
    secret: str = field(repr=False)
    kind: str = "password"  # or "private_key"


@dataclass(frozen=True)
class Target:
    """Where to connect: host, port, and per-target options (legacy algorithms, database name, base DN)."""

    host: str
    port: int
    timeout: float = 20.0
    options: tuple[tuple[str, str], ...] = ()
    known_host_key: str = ""  # "<algorithm> <base64>" recorded on first contact; a change is refused

    def option(self, name: str, default: str = "") -> str:
        return dict(self.options).get(name, default)


Gather = Callable[[Target, Credential], Awaitable[Inventory]]
Parse = Callable[[Path], Inventory]


@dataclass(frozen=True)
class Manifest:
    """One connector's description, shown in the faces with its labels."""

    code: str  # linux, postgresql, mariadb, ldap, ad, oracle, windows, huawei, cisco, operators
    label_en: str
    label_zh: str
    default_port: int | None = None  # None: offline only
    gather: Gather | None = None
    parse: Parse | None = None
    offline_kinds: tuple[str, ...] = ()  # the `--kind` values of `handover discovery import`


REGISTRY: dict[str, Manifest] = {}


def register(manifest: Manifest) -> Manifest:
    """Add a connector to the registry (each connector module calls this once with its MANIFEST)."""
    if manifest.code in REGISTRY:
        raise ValueError(f"connector {manifest.code!r} registered twice")
    REGISTRY[manifest.code] = manifest
    return manifest
