"""The platform's own backup and restore (docs/backup.md): one signed archive of the database, the data
folder's stores and the audit checkpoints, written while the server runs; restored only into an empty
deployment of the same schema, then the audit chain verified.

Never in an archive: the vault's master key or its shares (the server never has them: docs/vault.md), the keys
of the data folder (``keys/``: the Django secret key, the local key of second factors, the package key), the
checkpoint key (kept outside the data folder), and the environment's secrets. The sealed vault records travel
inside the database: they open again only with k of the old shares.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit import checkpoint, selectors
from handover.audit.services import event_record
from handover.audit.verify import Problem, verify_rows
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.core.faults import point
from handover.core.filestore import CHUNK
from handover.discovery.store import snapshot_store_dir
from handover.platform_backup import archive, database, events
from handover.registers.attachments import storage_dir
from handover.workflow.storage import root as evidence_dir

# How many files a refusal names before it says "and N more".
NAMED = 10


def stores() -> dict[str, Path]:
    """The data folder's parts a backup carries, by the name they have in the archive (``files/<name>/``).
    Content-addressed stores and written-once files only; ``keys/`` is never among them."""
    return {
        "attachments": Path(storage_dir()),
        "evidence": Path(evidence_dir()),
        "snapshots": Path(snapshot_store_dir()),
        "packages": Path(settings.HANDOVER_PACKAGE_DIR),
        "checkpoints": Path(settings.HANDOVER_CHECKPOINT_DIR),
    }


def _store_files(folder: Path) -> Iterator[Path]:
    """A store's files in a stable order, without the temporary files of uploads in flight."""
    if not folder.is_dir():
        return
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if not path.name.startswith("."):
            yield path


def _settings_that_matter() -> dict[str, Any]:
    """What a restore must match or a person must know; never a secret."""
    try:
        release = version("handover")
    except PackageNotFoundError:
        release = ""
    return {
        "handover_version": release,
        "audit_hash": settings.HANDOVER_AUDIT_HASH,
        "vault_cipher": settings.HANDOVER_VAULT_CIPHER,
        "time_zone": settings.TIME_ZONE,
        "language_code": settings.LANGUAGE_CODE,
    }


class _HashingWriter:
    """The archive's output: counts and hashes every byte on its way to the file."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.hasher, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        written = self.handle.write(data)
        self.hasher.update(data)
        self.size += len(data)
        return written

    def tell(self) -> int:
        return self.size


@dataclass(frozen=True)
class BackupResult:
    path: Path
    sha256: str
    size: int
    files: int
    audit_head: dict[str, Any]


def _destination_check(destination: Path) -> None:
    if destination.exists():
        raise DomainError(
            _("%(file)s exists already: a backup never overwrites a file.") % {"file": destination}
        )
    if not destination.parent.is_dir():
        raise DomainError(_("The folder %(folder)s does not exist.") % {"folder": destination.parent})


def backup_create(*, actor: Actor, destination: Path, algorithm: str = "sha256") -> BackupResult:
    """Write the archive to ``destination`` while the server runs: under a temporary name in the same folder,
    synced, then renamed, so a process stopped anywhere leaves nothing under ``destination``. One audit event
    records the backup (it is in the next backup, not in this one)."""
    _destination_check(destination)
    key = _signing_key()
    temp = destination.parent / f".{destination.name}.{secrets.token_hex(4)}.partial"
    try:
        with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".handover-backup-") as work:
            result = _write(Path(work), temp, key, algorithm)
        point("platform_backup.before_rename")
        os.replace(temp, destination)
        _sync_folder(destination.parent)
    except OSError as exc:  # a full disk, a folder that went away: the reason, and nothing kept
        temp.unlink(missing_ok=True)
        raise DomainError(
            _("The backup could not be written (%(error)s); nothing was kept under %(file)s.")
            % {"error": exc.strerror or type(exc).__name__, "file": destination}
        ) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    result = BackupResult(destination, result.sha256, result.size, result.files, result.audit_head)
    event_record(
        actor=actor,
        action=events.BACKUP_CREATE,
        object_type="platform.backup",
        object_id=destination.name,
        after={
            "file": str(destination),
            "sha256": result.sha256,
            "bytes": result.size,
            "files": result.files,
            "audit_head": result.audit_head,
            "algorithm": algorithm,
            "os_user": getpass.getuser(),
        },
    )
    return result


def _signing_key() -> Any:
    """The server's package key, which signs 表24 packages (docs/package.md): one key to hand to verifiers."""
    path = Path(settings.HANDOVER_PACKAGE_KEY)
    try:
        return checkpoint.load_or_create_key(path)
    except (OSError, ValueError, checkpoint.CheckpointError) as exc:
        raise DomainError(
            _("The package key %(file)s cannot be read as an Ed25519 private key: %(error)s")
            % {"file": path, "error": type(exc).__name__}
        ) from None


def _write(work: Path, temp: Path, key: Any, algorithm: str) -> BackupResult:
    vendor = database.engine()
    copy = work / "database"
    facts = database.snapshot(
        copy
    )  # 第二十六条第2项's rule for the firm's systems holds for ours: copy first
    point("platform_backup.after_database")
    created = timezone.now().isoformat(timespec="seconds")
    metadata = {
        "format": archive.FORMAT,
        "algorithm": algorithm,
        "created_at": created,
        "engine": vendor,
        "database": database.member_name(vendor),
        **facts,
        "settings": _settings_that_matter(),
        "stores": sorted(stores()),
    }
    with temp.open("xb") as handle:
        out = _HashingWriter(handle)
        writer = archive.Writer(out, algorithm=algorithm, created_at=created)  # type: ignore[arg-type]
        writer.add_bytes(
            archive.METADATA, (json.dumps(metadata, ensure_ascii=False, indent=1) + "\n").encode()
        )
        writer.add_file(database.member_name(vendor), copy)
        for name, folder in stores().items():
            for path in _store_files(folder):
                writer.add_file(f"{archive.FILES_PREFIX}{name}/{path.relative_to(folder).as_posix()}", path)
        point("platform_backup.after_files")
        writer.seal(key)
        handle.flush()
        os.fsync(handle.fileno())
    return BackupResult(temp, out.hasher.hexdigest(), out.size, len(writer.files), facts["audit_head"])


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- restore --------------------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    """What a restore did and what the audit verification found afterwards."""

    files: int = 0
    events: int = 0
    head_seq: int = 0
    checkpoints: int = 0
    checkpoint_key: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def audit_ok(self) -> bool:
        return not self.problems


def _refuse_damaged(report: Any) -> None:
    if not report.intact:
        lines = [str(p) for p in report.problems[:NAMED]]
        more = len(report.problems) - len(lines)
        raise DomainError(
            _("The archive is damaged or not trusted, so nothing was restored:\n%(problems)s%(more)s")
            % {"problems": "\n".join(lines), "more": _("\n… and %(n)d more") % {"n": more} if more else ""}
        )


def _refuse_foreign(metadata: dict[str, Any]) -> None:
    """The schema of the archive must be the code's: migrations recorded in it against the code's own."""
    vendor = database.engine()
    if metadata.get("engine") != vendor:
        raise DomainError(
            _(
                "The archive holds a %(archive)s database; this deployment runs on %(here)s. Restore it onto a "
                "deployment of the same engine."
            )
            % {"archive": metadata.get("engine"), "here": vendor}
        )
    theirs, ours = set(metadata.get("migrations") or []), set(database.code_migrations())
    unknown, lacking = sorted(theirs - ours), sorted(ours - theirs)
    if unknown or lacking:
        raise DomainError(
            _(
                "The archive was made by another version of Handover (%(version)s): migrations this code does "
                "not have: %(unknown)s; migrations the archive lacks: %(lacking)s. Restore it with the version "
                "that made it."
            )
            % {
                "version": metadata.get("settings", {}).get("handover_version") or "?",
                "unknown": ", ".join(unknown[:NAMED]) or "-",
                "lacking": ", ".join(lacking[:NAMED]) or "-",
            }
        )
    audit_hash = metadata.get("settings", {}).get("audit_hash")
    if audit_hash != settings.HANDOVER_AUDIT_HASH:
        raise DomainError(
            _(
                "The archive's audit trail is chained with %(archive)s; set HANDOVER_AUDIT_HASH=%(archive)s "
                "(this deployment has %(here)s)."
            )
            % {"archive": audit_hash, "here": settings.HANDOVER_AUDIT_HASH}
        )


def _target(entry: str) -> Path | None:
    """Where a ``files/<store>/…`` member goes in this deployment; None for a name outside every store."""
    store, _, relative = entry.removeprefix(archive.FILES_PREFIX).partition("/")
    folder = stores().get(store)
    parts = Path(relative).parts
    if folder is None or not relative or Path(relative).is_absolute() or ".." in parts:
        return None
    return folder / relative


def _refuse_not_empty(entries: dict[str, archive.Entry], algorithm: str) -> None:
    """An empty database only, and stores holding nothing but files the archive has with the same content
    (what an interrupted restore left)."""
    found = database.tables()
    if found:
        raise DomainError(
            _(
                "The database is not empty (%(n)d tables, e.g. %(names)s): a restore goes into an empty database "
                "only."
            )
            % {"n": len(found), "names": ", ".join(found[:3])}
        )
    wanted = {
        str(_target(name)): entry for name, entry in entries.items() if name.startswith(archive.FILES_PREFIX)
    }
    foreign = []
    for folder in stores().values():
        for path in _store_files(folder):
            entry = wanted.get(str(path))
            if entry is None or _file_digest(path, algorithm) != entry.digest:
                foreign.append(str(path))
    if foreign:
        raise DomainError(
            _("The data folder is not empty: %(files)s. A restore goes into an empty data folder only.")
            % {
                "files": ", ".join(foreign[:NAMED])
                + (f" (+{len(foreign) - NAMED})" if len(foreign) > NAMED else "")
            }
        )


def _file_digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as handle:
        hasher = hashlib.new(algorithm)
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


@contextmanager
def _staging() -> Iterator[Path]:
    """A folder for the extracted files, in the data folder (same file system: each move is a rename)."""
    base = Path(settings.DATA_DIR)
    for old in base.glob(".restore-*"):  # what a stopped restore left
        shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(dir=base, prefix=".restore-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _extract(
    source: Path, entries: dict[str, archive.Entry], algorithm: str, staging: Path
) -> dict[str, Path]:
    """Second pass: every listed member into ``staging``, hashed again on the way (the archive may have
    changed since it was verified); refused and nothing installed if one differs."""
    staged: dict[str, Path] = {}
    for number, (member, handle) in enumerate(archive.members(source)):
        entry = entries.get(member.name)
        if entry is None or member.name in (archive.METADATA,):
            continue
        path = staging / f"{number:08d}"
        hasher = hashlib.new(algorithm)
        with path.open("xb") as out:
            while chunk := handle.read(CHUNK):
                hasher.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if hasher.hexdigest() != entry.digest:
            raise DomainError(
                _("%(member)s changed in the archive while it was being restored; nothing was installed.")
                % {"member": member.name}
            )
        staged[member.name] = path
    return staged


def _install_files(staged: dict[str, Path]) -> int:
    count = 0
    for name, path in staged.items():
        if not name.startswith(archive.FILES_PREFIX):
            continue
        target = _target(name)
        if target is None:
            raise DomainError(_("%(member)s names no store of this deployment.") % {"member": name})
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(path, target)
        count += 1
    return count


def backup_restore(
    *,
    actor: Actor,
    source: Path,
    trusted: Ed25519PublicKey | None,
    trust_embedded: bool = False,
    audit_key: Ed25519PublicKey | None = None,
) -> RestoreResult:
    """Restore ``source`` into this empty deployment, then verify the audit chain against the archive's
    checkpoints and its signed head. Refused, with nothing changed, for a damaged, untrusted or foreign-version
    archive or a target that is not empty. Files first, the database last: the database is the commit point,
    so a restore stopped before it can be run again."""
    report, entries = archive.verify_archive(source, trusted, trust_embedded=trust_embedded)
    _refuse_damaged(report)
    metadata = archive.metadata_of(report)
    _refuse_foreign(metadata)
    algorithm = str(metadata["algorithm"])
    if metadata.get("database") not in entries:
        raise DomainError(_("The archive holds no database; nothing was restored."))
    _refuse_not_empty(entries, algorithm)
    point("platform_restore.after_checks")
    with _staging() as staging:
        try:
            staged = _extract(source, entries, algorithm, staging)
        except OSError as exc:
            raise DomainError(
                _("The archive could not be unpacked (%(error)s); nothing was installed.")
                % {"error": exc.strerror or type(exc).__name__}
            ) from None
        point("platform_restore.after_extract")
        result = RestoreResult(files=_install_files(staged))
        point("platform_restore.after_files")
        database.put_back(staged[str(metadata["database"])], str(metadata["engine"]))
    point("platform_restore.after_database")
    _verify_audit(result, metadata, audit_key)
    event_record(
        actor=actor,
        action=events.RESTORE_DONE,
        object_type="platform.backup",
        object_id=source.name,
        after={
            "archive_created_at": metadata.get("created_at"),
            "files": result.files,
            "audit_head": metadata.get("audit_head"),
            "audit_ok": result.audit_ok,
            "checkpoints": result.checkpoints,
            "checkpoint_key": result.checkpoint_key,
            "os_user": getpass.getuser(),
        },
    )
    return result


def _verify_audit(
    result: RestoreResult, metadata: dict[str, Any], audit_key: Ed25519PublicKey | None
) -> None:
    """``audit verify`` on the restored trail: every checkpoint restored (against the audit public key given
    out of band, never the signer's own) and the head the signed manifest recorded."""
    found, problems = [], []
    if audit_key is not None:
        for path in checkpoint.files_in(Path(settings.HANDOVER_CHECKPOINT_DIR)):
            try:
                found.append(checkpoint.read(path, audit_key))
            except checkpoint.CheckpointError as exc:
                problems.append(Problem("forged", 0, str(exc)))
    head = metadata.get("audit_head") or {}
    signed_head = checkpoint.Checkpoint(
        seq=int(head.get("seq", 0)),
        head_hash=str(head.get("hash", "")),
        algorithm=settings.HANDOVER_AUDIT_HASH,
        created_at=str(metadata.get("created_at")),
        path="the backup's manifest",
    )
    report = verify_rows(
        selectors.chain_rows(), algorithm=settings.HANDOVER_AUDIT_HASH, checkpoints=[*found, signed_head]
    )
    result.events, result.head_seq = report.events, report.head_seq
    result.checkpoints, result.checkpoint_key = len(found), audit_key is not None
    result.problems = problems + report.problems
