"""The platform backup archive's layout, its streaming writer and its offline verifier (docs/backup.md).

This module imports no Django: ``handover backup verify FILE`` runs before Django starts, with no settings and
no database. The archive is one uncompressed tar, written and read as a stream (memory stays flat for any
size), in this order::

    backup.json          what was backed up: format, time, engine, schema migrations, audit head, settings
    database/…           the database: an SQLite online-backup copy, or a pg_dump custom-format dump
    files/<store>/…      the data folder's stores (attachments, evidence, snapshots, packages, checkpoints)
    MANIFEST.json        every member above with its size and digest (SHA-256 or SM3)
    SIGNATURE.json       Ed25519 over the bytes of MANIFEST.json, made like the 表24 package's

The manifest and its signature come last because they can only be written once every file was hashed; the
digest algorithm is named in ``backup.json`` (first), so one pass hashes every member, and the signed
manifest must name the same algorithm. Like Vault's snapshots (``SHA256SUMS`` checked before any restore),
verification names every member that changed, is missing or was added, and a bad signature — all of them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from handover.core.filestore import CHUNK
from handover.reports.verify import Report, check_signature, load_public_key, signature_bytes

FORMAT = "handover-backup/1"
METADATA = "backup.json"
MANIFEST = "MANIFEST.json"
SIGNATURE = "SIGNATURE.json"
MANIFEST_FORMAT = "handover-backup-manifest/1"
SIGNATURE_FORMAT = "handover-backup-signature/1"
ALGORITHMS = ("sha256", "sm3")
DATABASE_PREFIX = "database/"
FILES_PREFIX = "files/"
# backup.json, MANIFEST.json and SIGNATURE.json are read whole: a tampered archive cannot make them huge.
SMALL_LIMIT = 64 << 20

# Exit codes of `handover backup verify` (docs/backup.md).
EXIT_INTACT, EXIT_NOT_INTACT, EXIT_USAGE = 0, 1, 2


def manifest_bytes(*, algorithm: str, files: dict[str, tuple[int, str]], created_at: str) -> bytes:
    """MANIFEST.json: the members sorted by name, each with its size and digest; stable bytes to sign."""
    document = {
        "format": MANIFEST_FORMAT,
        "algorithm": algorithm,
        "created_at": created_at,
        "files": [{"path": p, "size": s, "digest": d} for p, (s, d) in sorted(files.items())],
    }
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()


class _Hashing(io.RawIOBase):
    """Reads a file while hashing what it gives (tarfile copies from it)."""

    def __init__(self, handle: IO[bytes], algorithm: str) -> None:
        self.handle, self.hasher = handle, hashlib.new(algorithm)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.hasher.update(data)
        return data


class Writer:
    """Writes the archive to ``out`` as a stream; ``seal`` adds the manifest and its signature last."""

    def __init__(self, out: IO[bytes], *, algorithm: str, created_at: str) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown digest algorithm {algorithm!r}")
        self.algorithm, self.created_at = algorithm, created_at
        self.files: dict[str, tuple[int, str]] = {}
        # Mode "w", not the stream mode "w|": the stream's buffer would be written again by its __del__ after a
        # failed write (a full disk), to a closed file. "w" writes straight through; it only asks tell().
        self.tar = tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def add_bytes(self, name: str, data: bytes) -> None:
        self._member(name, len(data), io.BytesIO(data))

    def add_file(self, name: str, path: Path) -> None:
        """One file, streamed: its size is taken when it is opened (stored files never change)."""
        with path.open("rb") as handle:
            self._member(name, path.stat().st_size, handle)

    def _member(self, name: str, size: int, handle: IO[bytes]) -> None:
        if name in self.files or name in (MANIFEST, SIGNATURE):
            raise ValueError(f"{name} is already in the archive")
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, 0
        hashing = _Hashing(handle, self.algorithm)
        self.tar.addfile(info, hashing)
        self.files[name] = (size, hashing.hasher.hexdigest())

    def seal(self, key: Ed25519PrivateKey) -> bytes:
        """Write MANIFEST.json and SIGNATURE.json and end the tar; returns the manifest's bytes."""
        manifest = manifest_bytes(algorithm=self.algorithm, files=self.files, created_at=self.created_at)
        for name, data in (
            (MANIFEST, manifest),
            (SIGNATURE, signature_bytes(key, manifest, SIGNATURE_FORMAT)),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            self.tar.addfile(info, io.BytesIO(data))
        self.tar.close()
        return manifest


@dataclass(frozen=True)
class Entry:
    """One member as the signed manifest lists it."""

    path: str
    size: int
    digest: str


def _small(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    if member.size > SMALL_LIMIT:
        raise ValueError(f"{member.size} bytes, more than this file ever holds")
    handle = tar.extractfile(member)
    return handle.read() if handle else b""


def _digest(handle: IO[bytes], algorithm: str) -> tuple[int, str]:
    hasher, size = hashlib.new(algorithm), 0
    while chunk := handle.read(CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return size, hasher.hexdigest()


def _parse_manifest(report: Report, data: bytes) -> dict[str, Entry] | None:
    try:
        manifest = json.loads(data)
        if manifest.get("format") != MANIFEST_FORMAT or manifest.get("algorithm") not in ALGORITHMS:
            raise ValueError(f"format {manifest.get('format')!r}, algorithm {manifest.get('algorithm')!r}")
        return {
            str(e["path"]): Entry(str(e["path"]), int(e["size"]), str(e["digest"])) for e in manifest["files"]
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        report.add("unreadable", MANIFEST, f"not a Handover backup manifest ({exc})")
        return None


def _algorithm(report: Report, data: bytes) -> str:
    """The digest algorithm backup.json names (checked later against the signed manifest's)."""
    try:
        report.metadata = json.loads(data)
        if report.metadata.get("format") != FORMAT:
            raise ValueError(f"format {report.metadata.get('format')!r}, this verifier reads {FORMAT}")
        algorithm = str(report.metadata["algorithm"])
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown digest algorithm {algorithm!r}")
        return algorithm
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        report.add("unreadable", METADATA, f"not a Handover backup's description ({exc})")
        return "sha256"


@dataclass
class _Seen:
    """What one pass over the archive found."""

    digests: dict[str, tuple[int, str]]
    manifest: bytes | None = None
    signature: bytes | None = None
    algorithm: str = "sha256"


def _open_stream(source: Path | IO[bytes]) -> tarfile.TarFile:
    if isinstance(source, Path):
        return tarfile.open(source, mode="r|")
    return tarfile.open(fileobj=source, mode="r|")


def _scan(report: Report, source: Path | IO[bytes]) -> _Seen:
    seen = _Seen(digests={})
    try:
        tar = _open_stream(source)
    except (OSError, tarfile.TarError) as exc:
        report.add("unreadable", str(source), f"not a tar archive ({exc})")
        return seen
    with tar:
        try:
            for member in tar:
                _scan_member(report, tar, member, seen)
        except (OSError, EOFError, tarfile.TarError, ValueError) as exc:
            report.add(
                "unreadable", str(source), f"the archive ends or breaks after its last good member ({exc})"
            )
    return seen


def _scan_member(report: Report, tar: tarfile.TarFile, member: tarfile.TarInfo, seen: _Seen) -> None:
    name = member.name
    if not member.isfile():
        report.add("added", name, "not a regular file: a backup holds regular files only")
        return
    if name in seen.digests or (name == MANIFEST and seen.manifest) or (name == SIGNATURE and seen.signature):
        report.add("added", name, "a second member of this name")
        return
    if name == MANIFEST:
        seen.manifest = _small(tar, member)
    elif name == SIGNATURE:
        seen.signature = _small(tar, member)
    elif name == METADATA:
        data = _small(tar, member)
        seen.algorithm = _algorithm(report, data)
        seen.digests[name] = (len(data), hashlib.new(seen.algorithm, data).hexdigest())
    else:
        handle = tar.extractfile(member)
        seen.digests[name] = _digest(handle, seen.algorithm) if handle else (0, "")


def _compare(report: Report, seen: _Seen, entries: dict[str, Entry]) -> None:
    for path, entry in sorted(entries.items()):
        found = seen.digests.get(path)
        if found is None:
            report.add("missing", path, "listed in the manifest but not in the archive")
            continue
        report.files_checked += 1
        if found != (entry.size, entry.digest):
            report.add(
                "changed",
                path,
                f"{seen.algorithm} {found[1]} ({found[0]} bytes) ≠ manifest {entry.digest} ({entry.size} bytes)",
            )
    for path in sorted(set(seen.digests) - set(entries)):
        report.add("added", path, "in the archive but not in the manifest")


def verify_archive(
    source: Path | IO[bytes], trusted: Ed25519PublicKey | None = None, *, trust_embedded: bool = False
) -> tuple[Report, dict[str, Entry]]:
    """Check a backup offline in one streaming pass; every problem is reported. Returns the report and the
    signed manifest's entries (empty when it cannot be read). Without a trusted key the archive is not intact
    unless ``trust_embedded``: anyone can re-sign an archive with a key of their own and put that key in it."""
    report = Report()
    if trusted is None and not trust_embedded:
        report.add(
            "untrusted",
            SIGNATURE,
            "no trusted key: give the server's package key with --public-key ('handover package public-key'), "
            "or --trust-embedded-key to check against the key in the archive",
        )
    seen = _scan(report, source)
    for required, data in (
        (METADATA, seen.digests.get(METADATA)),
        (MANIFEST, seen.manifest),
        (SIGNATURE, seen.signature),
    ):
        if data is None:
            report.add(
                "missing", required, "the archive has no such file, so it cannot be trusted or restored"
            )
    entries: dict[str, Entry] = {}
    if seen.manifest is not None:
        entries = _parse_manifest(report, seen.manifest) or {}
        if seen.signature is not None:
            check_signature(report, seen.manifest, seen.signature, trusted, MANIFEST)
        if entries and json.loads(seen.manifest).get("algorithm") != seen.algorithm:
            report.add("changed", METADATA, "names another digest algorithm than the signed manifest")
        _compare(report, seen, entries)
    return report, entries


def members(source: Path) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    """The archive's regular files in order, each as a stream (restore's second pass)."""
    with tarfile.open(source, mode="r|") as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                yield member, handle


def print_report(report: Report, out: IO[str]) -> None:
    for problem in report.problems:
        print(problem, file=out)
    if report.key_fingerprint:
        whose = "the given public key" if report.key_trusted else "the key inside the archive (not trusted)"
        print(f"key {report.key_fingerprint}: {whose}", file=out)
    state = "INTACT" if report.intact else f"NOT INTACT: {len(report.problems)} problem(s)"
    print(f"{state}; {report.files_checked} file(s) checked against the manifest", file=out)


def main(argv: list[str] | None = None, out: IO[str] | None = None) -> int:
    """``handover backup verify FILE [--public-key PEM | --trust-embedded-key]``: exit 0 when intact, 1 when
    any member changed, is missing or was added or the signature fails, 2 when the command cannot run."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="handover backup verify", description=main.__doc__)
    parser.add_argument("file", metavar="FILE")
    parser.add_argument(
        "--public-key", metavar="PEM", help="the server's package key ('handover package public-key')"
    )
    parser.add_argument(
        "--trust-embedded-key",
        action="store_true",
        help="without --public-key, check against the key inside the archive (proves nothing about who signed)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_INTACT
    trusted = None
    if args.public_key:
        try:
            trusted = load_public_key(Path(args.public_key).read_bytes())
        except (OSError, ValueError) as exc:
            print(f"--public-key {args.public_key}: cannot read an Ed25519 public key ({exc})", file=out)
            return EXIT_USAGE
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file", file=out)
        return EXIT_USAGE
    report, _entries = verify_archive(path, trusted, trust_embedded=args.trust_embedded_key)
    print_report(report, out)
    return EXIT_INTACT if report.intact else EXIT_NOT_INTACT


def metadata_of(report: Report) -> dict[str, Any]:
    return report.metadata if isinstance(report.metadata, dict) else {}


if __name__ == "__main__":
    sys.exit(main())
