"""The 表24 handover package's layout and its offline verifier (第二十七条第4项).

This module imports no Django: ``handover package verify FILE`` runs on a laptop of the working group or the
CSRC bureau with no database and no settings. It checks the package signature over ``manifest.json`` and
every file against the manifest, and names every file that changed, was added or is missing — all of them,
not the first — and a package whose ``package.json`` does not name a signed 表24 with its files. The builder
(``reports.services``) uses the same functions, so both read one layout.

Layout of the zip (docs/package.md)::

    manifest.json        every other file with its size and digest (SHA-256 or SM3), signed
    SIGNATURE.json       Ed25519 signature over the bytes of manifest.json, with the public key
    package.json         metadata: engagement code name, time, builder, residual-risk reason, sites, 表24
    audit/checkpoint.json   the audit chain's signed checkpoint taken at packaging time
    table24/…            表24 computed and signed by 技术组 (编制) at packaging time, xlsx and PDF
    annexes/<site>/…     each annexed register's current signed version per site, xlsx and PDF
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from handover.audit import checkpoint
from handover.core.filestore import file_digest  # standard library only, like this module

MANIFEST = "manifest.json"
SIGNATURE = "SIGNATURE.json"
METADATA = "package.json"
METADATA_FORMAT = "handover-package/2"
# 表24 states that count as signed in package.json (registers' 已签字, 已归档).
SIGNED_STATES = ("已签字", "已归档")
CHECKPOINT = "audit/checkpoint.json"
MANIFEST_FORMAT = "handover-package-manifest/1"
SIGNATURE_FORMAT = "handover-package-signature/1"
ADDENDUM_FORMAT = "handover-package-addendum/1"
ALGORITHMS = ("sha256", "sm3")


def manifest_bytes(*, algorithm: str, files: dict[str, tuple[int, str]], extra: dict[str, Any]) -> bytes:
    """manifest.json: the files sorted by path, each with its size and digest; stable bytes to sign."""
    document = {
        "format": MANIFEST_FORMAT,
        "algorithm": algorithm,
        **extra,
        "files": [{"path": p, "size": s, "digest": d} for p, (s, d) in sorted(files.items())],
    }
    return (json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False) + "\n").encode()


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, grouped for reading aloud over the telephone."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest()
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def signature_bytes(key: Ed25519PrivateKey, signed: bytes, fmt: str = SIGNATURE_FORMAT) -> bytes:
    """A signature document over ``signed``: format, public key, SHA-256 of what is signed, signature."""
    document = {
        "format": fmt,
        "algorithm": "ed25519",
        "public_key": public_key_pem(key.public_key()),
        "signed_sha256": hashlib.sha256(signed).hexdigest(),
        "signature": base64.b64encode(key.sign(signed)).decode(),
    }
    return (json.dumps(document, indent=1) + "\n").encode()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a package: ``kind`` is changed, added, missing, signature, unreadable or
    unsigned (package.json names no signed 表24)."""

    kind: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.upper():9} {self.path}: {self.detail}"


@dataclass
class Report:
    """What verification found; ``intact`` only with no problem at all."""

    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    key_fingerprint: str = ""
    key_trusted: bool = False
    checkpoint_key_trusted: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        return not self.problems

    def add(self, kind: str, path: str, detail: str) -> None:
        self.problems.append(Problem(kind, path, detail))

    def named(self, kind: str) -> list[str]:
        return [p.path for p in self.problems if p.kind == kind]


def check_signature(
    report: Report, signed: bytes, document: bytes, trusted: Ed25519PublicKey | None, what: str
) -> None:
    """The signature document over ``signed``, against ``trusted`` or else the key it carries."""
    try:
        sig = json.loads(document)
        embedded = load_public_key(sig["public_key"].encode())
        signature = base64.b64decode(sig["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        report.add("signature", what, f"the signature file cannot be read ({exc})")
        return
    key = trusted or embedded
    report.key_fingerprint, report.key_trusted = fingerprint(key), trusted is not None
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        whose = "the given public key" if trusted else "the key in the package"
        report.add(
            "signature",
            what,
            f"the signature does not match {whose}: {what} was altered or signed by another key",
        )


def _read_manifest(report: Report, archive: zipfile.ZipFile, names: set[str]) -> dict[str, Any] | None:
    for required in (MANIFEST, SIGNATURE):
        if required not in names:
            report.add("missing", required, "the package has no such file, so nothing in it can be trusted")
    if MANIFEST not in names:
        return None
    try:
        manifest = json.loads(archive.read(MANIFEST))
        if manifest.get("format") != MANIFEST_FORMAT or manifest.get("algorithm") not in ALGORITHMS:
            raise ValueError(f"format {manifest.get('format')!r}, algorithm {manifest.get('algorithm')!r}")
        entries = {str(e["path"]): e for e in manifest["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        report.add("unreadable", MANIFEST, f"not a Handover package manifest ({exc})")
        return None
    return {"algorithm": manifest["algorithm"], "entries": entries}


def _check_files(report: Report, archive: zipfile.ZipFile, names: set[str], manifest: dict[str, Any]) -> None:
    entries: dict[str, Any] = manifest["entries"]
    for path, entry in sorted(entries.items()):
        if path not in names:
            report.add("missing", path, "listed in the manifest but not in the package")
            continue
        with archive.open(path) as handle:
            digest = file_digest(handle, manifest["algorithm"]).hexdigest
        report.files_checked += 1
        if digest != entry.get("digest"):
            report.add("changed", path, f"{manifest['algorithm']} {digest} ≠ manifest {entry.get('digest')}")
    for path in sorted(names - set(entries) - {MANIFEST, SIGNATURE}):
        report.add("added", path, "in the package but not in the manifest")


def _check_checkpoint(report: Report, data: bytes, audit_key: Ed25519PublicKey | None) -> None:
    """L6: the audit checkpoint is checked against the audit public key given out of band. The key the
    checkpoint names proves nothing (whoever forged it named their own); without an audit key the checkpoint
    is only as good as the manifest's signature that covers it, and the report says so."""
    try:
        document = json.loads(data)
        embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(document["public_key"]))
    except (ValueError, KeyError, TypeError) as exc:
        report.add("unreadable", CHECKPOINT, f"not a Handover audit checkpoint ({exc})")
        return
    key = audit_key or embedded
    report.checkpoint_key_trusted = audit_key is not None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.json"
        path.write_bytes(data)
        try:
            checkpoint.read(path, key)
        except checkpoint.CheckpointError as exc:
            report.add("signature", CHECKPOINT, str(exc).replace(str(path), CHECKPOINT))


def _table24_problem(entry: Any) -> str:
    """Why one package.json 表24 entry is not a signed 表24 with its files, or ""."""
    if not isinstance(entry, dict):
        return f"{entry!r} is named without its state and signatures (a package of handover-package/1)"
    name = f"{entry.get('form')} v{entry.get('version')}"
    if entry.get("state") not in SIGNED_STATES or not entry.get("signed_by"):
        return f"表24 {name} is {entry.get('state')!r} with {len(entry.get('signed_by') or [])} signature(s)"
    if not isinstance(entry.get("files"), list) or not entry["files"]:
        return f"表24 {name} names no file"
    return ""


def _check_table24(report: Report, metadata: dict[str, Any], manifest: dict[str, Any] | None) -> None:
    """第二十七条第4项: the package carries 表24 signed by 技术组, and the files package.json names for it."""
    entries = metadata.get("table24") if isinstance(metadata, dict) else None
    if not isinstance(entries, list) or not entries:
        report.add("unsigned", METADATA, "names no 表24: a handover package carries a signed 表24")
        return
    listed = manifest["entries"] if manifest is not None else {}
    for entry in entries:
        problem = _table24_problem(entry)
        if problem:
            report.add("unsigned", METADATA, problem)
            continue
        for path in entry["files"]:
            if manifest is not None and path not in listed:
                report.add(
                    "missing", str(path), "package.json names it as 表24 but the manifest does not list it"
                )


def verify_package(
    source: str | Path | IO[bytes],
    trusted: Ed25519PublicKey | None = None,
    *,
    audit_key: Ed25519PublicKey | None = None,
    trust_embedded: bool = True,
) -> Report:
    """Check a package file offline; every problem is reported, none stops the others being looked for.

    ``trust_embedded=False`` (the command's default) makes a package checked without a trusted key not intact:
    anyone can re-sign a package with a key of their own and put that key inside (L6).
    """
    report = Report()
    if trusted is None and not trust_embedded:
        report.add(
            "untrusted",
            SIGNATURE,
            "no trusted key: give the server's package key with --public-key "
            "('handover package public-key'), or --trust-embedded-key to check against the key in the package",
        )
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        report.add("unreadable", str(source), f"not a zip file ({exc})")
        return report
    with archive:
        names = {info.filename for info in archive.infolist() if not info.is_dir()}
        manifest = _read_manifest(report, archive, names)
        if MANIFEST in names and SIGNATURE in names:
            check_signature(report, archive.read(MANIFEST), archive.read(SIGNATURE), trusted, MANIFEST)
        if manifest is not None:
            _check_files(report, archive, names, manifest)
        if CHECKPOINT in names:
            _check_checkpoint(report, archive.read(CHECKPOINT), audit_key)
        if METADATA in names:
            try:
                report.metadata = json.loads(archive.read(METADATA))
            except ValueError:
                report.add("unreadable", METADATA, "not JSON")
            else:
                _check_table24(report, report.metadata, manifest)
    return report


def verify_addendum(path: str | Path, package: str | Path, trusted: Ed25519PublicKey | None) -> Report:
    """A signed addendum (approval and distribution, 第二十七条第4项) must be signed and name this package."""
    report = Report()
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        body = document["addendum"]
        signed = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        signature = json.dumps(document["signature"]).encode()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.add("unreadable", str(path), f"not a Handover package addendum ({exc})")
        return report
    check_signature(report, signed, signature, trusted, str(path))
    with open(package, "rb") as handle:
        digest = file_digest(handle).hexdigest
    if body.get("format") != ADDENDUM_FORMAT or body.get("package_sha256") != digest:
        report.add(
            "changed", str(path), f"the addendum is for package {body.get('package_sha256')}, not {digest}"
        )
    report.metadata = body
    return report


_UNTRUSTED = (
    "the key inside the package (not trusted: compare this fingerprint with 'handover package public-key', "
    "or pass --public-key)"
)


def _print(report: Report, out: IO[str]) -> None:
    for problem in report.problems:
        print(problem, file=out)
    if report.key_fingerprint:
        whose = "the given public key" if report.key_trusted else _UNTRUSTED
        print(f"key {report.key_fingerprint}: {whose}", file=out)
    if report.problems or report.files_checked:
        if report.checkpoint_key_trusted:
            print("audit checkpoint: checked against the given audit public key", file=out)
        elif report.key_fingerprint:
            print(
                "audit checkpoint: not checked against the audit public key (pass --audit-public-key, "
                "'handover audit public-key')",
                file=out,
            )
    state = "INTACT" if report.intact else f"NOT INTACT: {len(report.problems)} problem(s)"
    print(f"{state}; {report.files_checked} file(s) checked against the manifest", file=out)


def main(argv: list[str] | None = None, out: IO[str] | None = None) -> int:
    """``handover package verify FILE [--public-key PEM | --trust-embedded-key] [--audit-public-key PEM]
    [--addendum FILE]``: exit 0 only when intact, and never without a trusted key unless told."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="handover package verify", description=main.__doc__)
    parser.add_argument("file", metavar="FILE")
    parser.add_argument(
        "--public-key", metavar="PEM", help="the server's package key ('handover package public-key')"
    )
    parser.add_argument(
        "--audit-public-key",
        metavar="PEM",
        help="the audit checkpoint key ('handover audit public-key'), to check the package's checkpoint",
    )
    parser.add_argument(
        "--trust-embedded-key",
        action="store_true",
        help="without --public-key, check against the key inside the package (proves nothing about who signed)",
    )
    parser.add_argument("--addendum", metavar="FILE", help="a signed addendum of approval and distribution")
    args = parser.parse_args(argv)
    keys: dict[str, Ed25519PublicKey | None] = {"public_key": None, "audit_public_key": None}
    for name in keys:
        given = getattr(args, name)
        if given:
            try:
                keys[name] = load_public_key(Path(given).read_bytes())
            except (OSError, ValueError) as exc:
                option = "--" + name.replace("_", "-")
                print(f"{option} {given}: cannot read an Ed25519 public key ({exc})", file=out)
                return 2
    trusted = keys["public_key"]
    report = verify_package(
        args.file, trusted, audit_key=keys["audit_public_key"], trust_embedded=args.trust_embedded_key
    )
    _print(report, out)
    if args.addendum:
        addendum = verify_addendum(args.addendum, args.file, trusted)
        print(f"addendum {args.addendum}:", file=out)
        _print(addendum, out)
        report.problems += addendum.problems
    return 0 if report.intact else 1


if __name__ == "__main__":
    sys.exit(main())
