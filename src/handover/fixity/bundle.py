"""Signed bundles: reports and manifests of one site packed into one file that travels by network or courier.

A bundle is a zip file (docs/fixity.md, "Bundles")::

    index.json        what the bundle holds: site, engagement, key id, tool, time, and every member
                      with its size and SHA-256, and for a report which system and register it is for
    index.sig         the Ed25519 signature of index.json's exact bytes, base64
    reports/01-verify.json
    manifests/01-counter.sha256

Opening checks everything before anything is used: the signature against the key the caller trusts for
the key id, then every member against the index (none missing, none extra, every digest and size), then
each report's format. The bundle's identity is the SHA-256 of index.json, which covers every member: the
same bundle imported twice is recognised however it was copied or re-zipped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import platform
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from handover.fixity.errors import FixityError
from handover.fixity.hashing import FileHasher
from handover.fixity.keys import SiteKey
from handover.fixity.manifest import format_ns
from handover.fixity.report import FORMAT as REPORT_FORMAT
from handover.fixity.report import TOOL

FORMAT = "handover-fixity-bundle/1"
INDEX, SIGNATURE = "index.json", "index.sig"
REGISTERS = (8, 14, 15, 29)
# Which register a report is evidence for when the bundle does not say: history checks go to 表15,
# everything else to 表14 (第二十六条第4、5项).
DEFAULT_REGISTER = {"continuity": 15, "compare": 15}
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 8 << 30  # a manifest of millions of files is a few hundred MB; more is not a bundle
# What is read into memory is bounded whatever the archive declares (its sizes are the sender's word):
# index.json lists at most MAX_MEMBERS members of a few hundred bytes each; a report is a summary and its
# problems; a signature is one line. Manifests are streamed and never kept.
MAX_INDEX_BYTES = 16 << 20
MAX_SIGNATURE_BYTES = 4 << 10
MAX_REPORT_BYTES = 64 << 20
MAX_KEPT_BYTES = 256 << 20  # all reports together
# Deflate gives up to ~1030:1 on a run of one byte (a "zip bomb"); text manifests and reports give 2-10:1.
# A member that inflates past MAX_RATIO times its compressed size, once past RATIO_FLOOR, is refused.
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20
_CHUNK = 1 << 20
# What reading a damaged member raises: a bad CRC, a broken deflate stream, a cut-off file, odd compression.
_DAMAGED = (zipfile.BadZipFile, OSError, zlib.error, EOFError, NotImplementedError)


class BundleRefused(FixityError):
    """A bundle that must not be imported. ``reason`` is one of the codes in docs/fixity.md."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Member:
    """A report to pack, with what it is evidence for (the manifests it names go in beside it)."""

    report: Path
    system: str = ""
    register: int = 0
    trade_date: str = ""


def _read_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixityError(f"cannot read the report {str(path)!r}: {exc.strerror or exc}") from exc
    except ValueError:
        raise FixityError(f"{str(path)!r} is not a JSON report (write one with --json)") from None
    problem = report_problem(data)
    if problem:
        raise FixityError(f"{str(path)!r}: {problem}")
    return data


def report_problem(data: Any) -> str:
    """Why ``data`` is not a report of the one format, or '' when it is."""
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        return f"not a report of the format {REPORT_FORMAT}"
    for key, kind in (("command", str), ("files", int), ("bytes", int), ("problems", list)):
        if not isinstance(data.get(key), kind):
            return f"the report has no valid {key!r}"
    for n, item in enumerate(data["problems"], start=1):
        if not isinstance(item, dict) or not isinstance(item.get("kind"), str) or "detail" not in item:
            return f"problem {n} has no kind or detail"
        if any(key in item and not isinstance(item[key], str) for key in ("date", "system")):
            return f"problem {n} has a date or system that is not text"
        if item["kind"] == "gap" and "date" not in item:
            return f"problem {n} is a gap without its date"
    return _continuity_problem(data) if data["command"] == "continuity" else ""


def _continuity_problem(data: dict[str, Any]) -> str:
    """What the import reads of a continuity report beyond the common keys (found by the fuzzer, issue 18)."""
    systems = data.get("systems", [])
    if not isinstance(systems, list) or not all(isinstance(s, str) for s in systems):
        return "the report's 'systems' is not a list of names"
    if not isinstance(data.get("trading_days", 0), int):
        return "the report's 'trading_days' is not a number"
    return ""


UPLOAD_PATH = "/api/engagements/{engagement}/fixity/bundles/"


def _manifests_named(report: dict[str, Any], base: Path) -> list[Path]:
    """The manifests a report names (verify, scan: ``manifest``; compare: both), where they still exist."""
    found = []
    for key in ("manifest", "old_manifest", "new_manifest"):
        name = report.get(key)
        if isinstance(name, str) and name:
            path = Path(name) if os.path.isabs(name) else base / name
            if path.is_file():
                found.append(path)
    return found


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] or "file"


def _digest_file(path: Path) -> tuple[str, int]:
    digest, size, _mtime_ns = FileHasher("sha256").hash_file(str(path))
    return digest, size


def create(output: Path, members: list[Member], *, key: SiteKey, site: str = "") -> dict[str, Any]:
    """Pack the reports (and their manifests) into ``output``, signed by ``key``; returns the index."""
    if site and site != key.site:
        raise FixityError(f"this agent's key is for site {key.site}, not {site}: enroll for {site} first")
    if not members:
        raise FixityError("name at least one report")
    entries: list[dict[str, Any]] = []
    files: list[tuple[str, Path]] = []
    packed: dict[Path, str] = {}
    for n, member in enumerate(members, start=1):
        data = _read_report(member.report)
        register = member.register or DEFAULT_REGISTER.get(data["command"], 14)
        if data["command"] == "continuity" and register != 15:
            raise FixityError(
                f"{str(member.report)!r}: continuity is evidence for 表15 (第二十六条第5项), not 表{register}"
            )
        if register not in REGISTERS:
            raise FixityError(f"--register {register}: choose one of {', '.join(map(str, REGISTERS))}")
        if not member.system and data["command"] != "continuity":
            raise FixityError(f"{str(member.report)!r}: name its system with --system")
        name = f"reports/{n:02d}-{_safe(data['command'])}.json"
        entry: dict[str, Any] = {"name": name, "kind": "report", "command": data["command"]}
        entry.update(system=member.system, register=register, trade_date=member.trade_date)
        entry["manifests"] = []
        files.append((name, member.report))
        entries.append(entry)
        for m, path in enumerate(_manifests_named(data, member.report.parent)):
            known = packed.get(path.resolve())
            if known is None:  # two reports of one manifest (scan, then verify) carry it once
                known = packed[path.resolve()] = f"manifests/{n:02d}-{m + 1}-{_safe(path.name)}"
                files.append((known, path))
                entries.append({"name": known, "kind": "manifest"})
            entry["manifests"].append(known)
    for entry, (_, path) in zip(entries, files, strict=True):
        entry["sha256"], entry["size"] = _digest_file(path)
    index = {
        "format": FORMAT,
        "engagement": key.engagement,
        "site": key.site,
        "key_id": key.key_id,
        "tool": TOOL,
        "host": platform.node(),
        "created": format_ns(time.time_ns()),
        "members": entries,
    }
    index_bytes = json.dumps(index, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n"
    _write_zip(output, index_bytes, base64.b64encode(key.sign(index_bytes)) + b"\n", files)
    return index


def _write_zip(output: Path, index: bytes, signature: bytes, files: list[tuple[str, Path]]) -> None:
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.writestr(INDEX, index)
        archive.writestr(SIGNATURE, signature)
        for name, path in files:
            archive.write(path, name)
    os.replace(tmp, output)


def peek_index(path: Path) -> dict[str, Any]:
    """The index of a bundle, unchecked: for the agent to know where to send it (the server checks it all)."""
    try:
        with zipfile.ZipFile(path) as archive:
            index = json.loads(read_bounded(archive, INDEX, MAX_INDEX_BYTES))
    except BundleRefused as exc:
        raise FixityError(f"{str(path)!r} is not a bundle: {exc}") from None
    except (*_DAMAGED, KeyError, ValueError) as exc:
        raise FixityError(f"{str(path)!r} is not a bundle: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise FixityError(f"{str(path)!r} is not a {FORMAT} bundle")
    return index


@dataclass
class Opened:
    """A bundle whose signature and members have been checked; reports parsed, manifests by name."""

    digest: str
    index: dict[str, Any]
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    manifest_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def report_entries(self) -> list[dict[str, Any]]:
        return [m for m in self.index["members"] if m.get("kind") == "report"]


KeyLookup = Callable[[str], Ed25519PublicKey | None]


def open_bundle(source: str | Path | IO[bytes], *, trusted: KeyLookup) -> Opened:
    """Check a bundle completely; ``trusted(key_id)`` gives the enrolled public key, or None.

    Raises ``BundleRefused`` with reason ``not_a_bundle``, ``unknown_key``, ``bad_signature``, ``altered``
    or ``bad_report``.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (*_DAMAGED, ValueError) as exc:
        raise BundleRefused("not_a_bundle", f"this file is not a bundle (not a zip file: {exc})") from None
    with archive:
        index_bytes, index = _index(archive)
        public = trusted(str(index.get("key_id", "")))
        if public is None:
            raise BundleRefused(
                "unknown_key",
                f"the bundle is signed with key {index.get('key_id')!r}, which is not enrolled for this"
                " engagement: enrol the site's key first (handover-agent enroll)",
            )
        _check_signature(archive, index_bytes, public)
        return _check_members(archive, index, hashlib.sha256(index_bytes).hexdigest())


def _index(archive: zipfile.ZipFile) -> tuple[bytes, dict[str, Any]]:
    names = archive.namelist()
    if INDEX not in names or SIGNATURE not in names:
        raise BundleRefused("not_a_bundle", "this zip file has no index.json and index.sig: not a bundle")
    if len(names) > MAX_MEMBERS or sum(i.file_size for i in archive.infolist()) > MAX_TOTAL_BYTES:
        raise BundleRefused("not_a_bundle", "the file holds more than a bundle can (too many or too large)")
    index_bytes = read_bounded(archive, INDEX, MAX_INDEX_BYTES)
    try:
        index = json.loads(index_bytes)
    except (*_DAMAGED, ValueError) as exc:
        raise BundleRefused("altered", f"index.json cannot be read: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise BundleRefused("not_a_bundle", f"index.json is not a {FORMAT} index")
    return index_bytes, index


def _check_signature(archive: zipfile.ZipFile, index_bytes: bytes, public: Ed25519PublicKey) -> None:
    try:
        signature = base64.b64decode(
            read_bounded(archive, SIGNATURE, MAX_SIGNATURE_BYTES).strip(), validate=True
        )
        public.verify(signature, index_bytes)
    except (InvalidSignature, binascii.Error, ValueError, *_DAMAGED):
        raise BundleRefused(
            "bad_signature",
            "the signature does not match the index: the bundle was altered or signed with another key",
        ) from None


def _check_members(archive: zipfile.ZipFile, index: dict[str, Any], digest: str) -> Opened:
    members = index.get("members")
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        raise BundleRefused("not_a_bundle", "index.json lists no members")
    listed = {str(m.get("name")) for m in members}
    present = set(archive.namelist()) - {INDEX, SIGNATURE}
    if listed != present:
        extra, missing = sorted(present - listed), sorted(listed - present)
        raise BundleRefused("altered", f"members not in the index: {extra}; missing: {missing}")
    opened = Opened(digest=digest, index=index)
    kept, total = 0, 0
    for member in members:
        name = member["name"]
        data, size = _member_bytes(archive, name, member, total)
        kept, total = kept + len(data), total + size
        if kept > MAX_KEPT_BYTES:
            raise BundleRefused("not_a_bundle", f"the reports together exceed {MAX_KEPT_BYTES >> 20} MiB")
        if member.get("kind") == "report":
            try:
                report = json.loads(data)
            except ValueError:
                raise BundleRefused("bad_report", f"{name} is not JSON") from None
            if problem := report_problem(report):
                raise BundleRefused("bad_report", f"{name}: {problem}")
            opened.reports[name] = report
        else:
            opened.manifest_sizes[name] = size
    return opened


def _member_bytes(
    archive: zipfile.ZipFile, name: str, member: dict[str, Any], total: int
) -> tuple[bytes, int]:
    """The member checked against the index, streamed; only a report's bytes are kept (manifests can be big)."""
    digest, size, kept = hashlib.sha256(), 0, bytearray()
    report = member.get("kind") == "report"
    bound = MAX_REPORT_BYTES if report else MAX_TOTAL_BYTES - total
    for chunk in _bounded_chunks(archive, name, bound):
        digest.update(chunk)
        size += len(chunk)
        if report:
            kept += chunk
    if size != member.get("size") or digest.hexdigest() != member.get("sha256"):
        raise BundleRefused("altered", f"{name} differs from the signed index: altered after signing")
    return bytes(kept), size


def read_bounded(archive: zipfile.ZipFile, name: str, bound: int) -> bytes:
    """The whole member ``name``, refused past ``bound`` bytes or the inflation ratio, whatever it declares."""
    return b"".join(_bounded_chunks(archive, name, bound))


def _bounded_chunks(archive: zipfile.ZipFile, name: str, bound: int) -> Iterator[bytes]:
    """The member's bytes as they inflate, counted: the central directory's ``file_size`` is the sender's word.

    Refused (``not_a_bundle``, nothing more read) past ``bound`` or past MAX_RATIO times the compressed bytes
    the archive can hold for it; damaged (``altered``) on a CRC or inflate error.
    """
    info = archive.getinfo(name)
    stored = max(min(info.compress_size, _archive_size(archive)), 1)
    ratio_bound = max(RATIO_FLOOR, stored * MAX_RATIO)
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > bound:
                    raise BundleRefused(
                        "not_a_bundle", f"{name} inflates past {_mib(bound)}, more than a bundle holds"
                    )
                if size > ratio_bound:
                    raise BundleRefused(
                        "not_a_bundle",
                        f"{name} inflates more than {MAX_RATIO} times its compressed size (a zip bomb)",
                    )
                yield chunk
    except _DAMAGED as exc:  # a CRC or inflate error: damaged on the way
        raise BundleRefused("altered", f"{name} is damaged: {exc}") from None


def _archive_size(archive: zipfile.ZipFile) -> int:
    handle = archive.fp
    if handle is None:
        return 0
    position = handle.tell()
    end = handle.seek(0, os.SEEK_END)
    handle.seek(position)
    return end


def _mib(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size} bytes"
