"""The restore drill (issue 18, docs/backup.md) on the demo data, with real processes: the demo deployment in a
data folder of its own, a writer appending to the audit trail while ``handover backup`` runs, the offline
verifier against a changed, a removed and an added member and another key, ``handover restore`` into an empty
data folder, then the same tables, files and vault secrets (opened with 3 of the 5 old shares); the process
killed (``os._exit``) at each fault point of backup and restore.

SQLite pass only: the deployments here are their own SQLite files (the PostgreSQL path is pg_dump/pg_restore).
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import translation

from handover.audit.checkpoint import load_or_create_key
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.platform_backup import archive, services
from handover.reports.verify import load_public_key
from tests.platform_backup.probe import CANARY

pytestmark = pytest.mark.sqlite_pass

ROOT = Path(__file__).resolve().parents[2]
# Variables of the test process that must not leak into a deployment of its own.
_DROPPED = ("HANDOVER_DATABASE_URL", "HANDOVER_TEST_DATABASE", "HANDOVER_FAULT", "HANDOVER_AUDIT_PUBLIC_KEY")


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in _DROPPED and not k.startswith("HANDOVER_CHECKPOINT")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="handover.settings.test",
        HANDOVER_DATA_DIR=str(data),
        PYTHONPATH=str(ROOT / "src"),
        PYTHONWARNINGS="ignore",
        **extra,
    )
    return env


def handover(data: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handover", *args],
        cwd=ROOT,
        env=_env(data, **extra),
        capture_output=True,
        text=True,
        check=False,
    )


def probe(data: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.platform_backup.probe", *args],
        cwd=ROOT,
        env=_env(data),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))


@dataclass
class Drill:
    root: Path
    data: Path
    archive: Path
    shares: list[str]
    setup_head: int
    written: int
    package_pub: Path
    audit_pub: Path

    @property
    def head(self) -> int:
        return int(_metadata(self.archive)["audit_head"]["seq"])


def _metadata(path: Path) -> dict[str, Any]:
    with tarfile.open(path) as tar:
        handle = tar.extractfile(archive.METADATA)
        assert handle is not None
        return dict(json.loads(handle.read()))


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Drill:
    """The demo deployment, and its backup taken while a second process appends to its audit trail."""
    root = tmp_path_factory.mktemp("drill")
    data = root / "source"
    setup = probe(data, "setup")
    package_pub, audit_pub = root / "package.pub", root / "audit.pub"
    package_pub.write_text(setup["keys"]["package"])
    audit_pub.write_text(setup["keys"]["audit"])
    ready, stop = root / "writer.ready", root / "writer.stop"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.platform_backup.probe", "write", str(ready), str(stop)],
        cwd=ROOT,
        env=_env(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not ready.exists():
        assert writer.poll() is None, writer.communicate()[1][-3000:]
        time.sleep(0.05)
    backup = handover(data, "backup", "-o", str(root / "backup.tar"))
    stop.touch()
    out, err = writer.communicate()
    assert backup.returncode == 0, backup.stderr[-3000:]
    assert writer.returncode == 0, err[-3000:]
    return Drill(
        root,
        data,
        root / "backup.tar",
        setup["shares"],
        setup["head"],
        json.loads(out.splitlines()[-1])["written"],
        package_pub,
        audit_pub,
    )


def test_restore_gives_back_the_tables_the_files_and_the_vault(drill: Drill) -> None:
    # The writer's events were in the trail when the copy was taken, and it went on writing meanwhile.
    assert drill.setup_head < drill.head <= drill.setup_head + drill.written
    target = drill.root / "restored"
    done = handover(
        target,
        "restore",
        str(drill.archive),
        "--public-key",
        str(drill.package_pub),
        "--audit-public-key",
        str(drill.audit_pub),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"audit trail intact: {drill.head} events, head {drill.head}, 1 checkpoint(s)" in done.stdout
    # k = 3 of the 5 old shares, not the first three: the first two leave it sealed.
    shares = json.dumps([drill.shares[1], drill.shares[3], drill.shares[4]])
    before = probe(drill.data, "describe", str(drill.head), shares)
    after = probe(target, "describe", str(drill.head), shares)
    assert after["vault"]["sealed_after"] == [True, True, False]
    assert after["vault"]["secrets"] and after["vault"] == before["vault"]
    assert "registers_form" in after["tables"] and "vault_secretversion" in after["tables"]
    assert (
        after["tables"] == before["tables"]
    )  # every register form, row and signature; the trail to the head
    assert any(name.startswith("workflow/evidence/") for name in after["files"])  # the demo's uploads
    assert after["files"] == before["files"]
    assert not (target / "keys" / "package.key").exists()  # no key of the old server came with it


def test_the_archive_holds_no_secret_no_share_and_no_key(drill: Drill) -> None:
    """Canaries: a secret stored in the vault, the five shares, and the data folder's keys (their bytes)."""
    content = drill.archive.read_bytes()
    assert CANARY.encode() not in content
    for share in drill.shares:
        assert share.encode() not in content and share.split("-")[-3].encode() not in content
    keys = sorted((drill.data / "keys").iterdir())
    assert {"django-secret-key", "package.key"} <= {k.name for k in keys}
    for key in keys:
        secret = key.read_bytes().strip()
        assert len(secret) > 20 and secret not in content, key.name
    names = archive_names(drill.archive)
    assert not [n for n in names if "keys/" in n or n.endswith((".key", ".sock"))]


def _copy(drill: Drill, name: str, change: Any) -> Path:
    """The archive rewritten member by member, each through ``change(name, data)`` (None drops it)."""
    path = drill.root / name
    with tarfile.open(drill.archive) as source, tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as out:
        for member in source:
            handle = source.extractfile(member)
            data = change(member.name, handle.read() if handle else b"")
            if data is not None:
                member.size = len(data)
                out.addfile(member, io.BytesIO(data))
    return path


def _verify(path: Path, drill: Drill) -> tuple[int, str]:
    out = io.StringIO()
    code = archive.main([str(path), "--public-key", str(drill.package_pub)], out)
    return code, out.getvalue()


def test_verify_names_a_changed_a_removed_and_an_added_member_and_another_key(drill: Drill) -> None:
    assert _verify(drill.archive, drill) == (0, _verify(drill.archive, drill)[1])
    assert "INTACT;" in _verify(drill.archive, drill)[1]
    evidence = next(n for n in archive_names(drill.archive) if n.startswith("files/evidence/"))
    flipped = _copy(drill, "flipped.tar", lambda n, d: bytes([d[0] ^ 1]) + d[1:] if n == evidence else d)
    code, text = _verify(flipped, drill)
    assert code == archive.EXIT_NOT_INTACT and f"CHANGED   {evidence}:" in text and text.count("\n") == 3
    removed = _copy(drill, "removed.tar", lambda n, d: None if n == evidence else d)
    code, text = _verify(removed, drill)
    assert code == 1 and f"MISSING   {evidence}: listed in the manifest but not in the archive" in text
    extra = "files/attachments/00/" + "0" * 64
    added = _copy(drill, "added.tar", lambda n, d: d)
    with tarfile.open(added, "a") as tar:
        info = tarfile.TarInfo(extra)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"new"))
    code, text = _verify(added, drill)
    assert code == 1 and f"ADDED     {extra}: in the archive but not in the manifest" in text
    other = Ed25519PrivateKey.generate()
    resigned = _copy(
        drill,
        "resigned.tar",
        lambda n, d: (
            archive.signature_bytes(other, _member(drill.archive, archive.MANIFEST), archive.SIGNATURE_FORMAT)
            if n == archive.SIGNATURE
            else d
        ),
    )
    code, text = _verify(resigned, drill)
    assert code == 1 and "SIGNATURE MANIFEST.json: the signature does not match the given public key" in text
    truncated = drill.root / "truncated.tar"
    truncated.write_bytes(drill.archive.read_bytes()[: drill.archive.stat().st_size // 2])
    code, text = _verify(truncated, drill)
    assert code == 1 and "MISSING   MANIFEST.json" in text
    assert archive.main([str(drill.root / "nothing.tar")], io.StringIO()) == archive.EXIT_USAGE


def archive_names(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read()


def _restore_in_process(drill: Drill, path: Path) -> None:
    services.backup_restore(
        actor=system("test"), source=path, trusted=load_public_key(drill.package_pub.read_bytes())
    )


@pytest.mark.django_db
def test_restore_refuses_a_damaged_a_foreign_or_an_untrusted_archive_and_a_database_that_is_not_empty(
    drill: Drill,
) -> None:
    before = _data_files()
    with translation.override("en"):  # the messages as written; the catalogue has their Chinese
        truncated = drill.root / "half.tar"
        truncated.write_bytes(drill.archive.read_bytes()[: drill.archive.stat().st_size // 2])
        with pytest.raises(DomainError, match="damaged or not trusted, so nothing was restored"):
            _restore_in_process(drill, truncated)
        with pytest.raises(DomainError, match=r"UNTRUSTED SIGNATURE\.json: no trusted key"):
            services.backup_restore(actor=system("test"), source=drill.archive, trusted=None)
        # Another version: one migration this code does not have, recorded and signed by the old server's key.
        key = load_or_create_key(drill.data / "keys" / "package.key")
        future = _resigned_with(
            drill, key, lambda meta: meta["migrations"].append("platform_backup.9999_future")
        )
        with pytest.raises(
            DomainError, match=r"migrations this code does not have: platform_backup\.9999_future"
        ):
            _restore_in_process(drill, future)
        older = _resigned_with(drill, key, lambda meta: meta["migrations"].remove("vault.0001_initial"))
        with pytest.raises(DomainError, match=r"migrations the archive lacks: vault\.0001_initial"):
            _restore_in_process(drill, older)
        # The test database has its tables.
        with pytest.raises(DomainError, match="The database is not empty"):
            _restore_in_process(drill, drill.archive)
    assert _data_files() == before  # nothing changed by any refusal


def _data_files() -> list[str]:
    from django.conf import settings

    data = Path(settings.DATA_DIR)
    return sorted(
        str(p.relative_to(data)) for p in data.rglob("*") if p.is_file() and p.parts[-2:-1] != ("logs",)
    )


def _resigned_with(drill: Drill, key: Ed25519PrivateKey, edit: Any) -> Path:
    """The archive with its backup.json edited and signed again by ``key`` (an archive of another version)."""
    meta = _metadata(drill.archive)
    edit(meta)
    path = drill.root / f"edited-{time.monotonic_ns()}.tar"
    with tarfile.open(drill.archive) as source, path.open("wb") as out:
        writer = archive.Writer(out, algorithm=meta["algorithm"], created_at=meta["created_at"])
        for member in source:
            handle = source.extractfile(member)
            if member.name == archive.METADATA:
                writer.add_bytes(member.name, json.dumps(meta).encode())
            elif member.name not in (archive.MANIFEST, archive.SIGNATURE) and handle is not None:
                writer.add_bytes(member.name, handle.read())
        writer.seal(key)
    return path


def _state(data: Path) -> tuple[Any, ...]:
    """The source as a kill must leave it: the trail's length, the database's health, the stored files."""
    with sqlite3.connect(data / "handover.sqlite3") as db:
        head = db.execute("SELECT max(seq), count(*) FROM audit_event").fetchone()
        check = db.execute("PRAGMA integrity_check").fetchone()
    files = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file() and "keys" not in p.parts)
    return head, check, [f for f in files if not f.startswith(("handover.sqlite3", "logs"))]


@pytest.mark.parametrize(
    "fault",
    ["platform_backup.after_database", "platform_backup.after_files", "platform_backup.before_rename"],
)
def test_a_backup_killed_anywhere_leaves_no_file_and_the_source_untouched(drill: Drill, fault: str) -> None:
    before = _state(drill.data)
    destination = drill.root / f"killed-{fault}.tar"
    done = handover(drill.data, "backup", "-o", str(destination), HANDOVER_FAULT=fault)
    assert done.returncode == 137, done.stderr[-2000:]
    assert not destination.exists()
    assert _state(drill.data) == before and before[1] == ("ok",)


def _tables(data: Path) -> list[str]:
    with sqlite3.connect(data / "handover.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def _small_disk(limit: int) -> None:
    """In the child: no file may grow past ``limit`` (EFBIG, as a full disk's ENOSPC), and no signal kills."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_backup_onto_a_full_disk_is_refused_with_the_reason_and_leaves_nothing(drill: Drill) -> None:
    copy = (
        drill.root / "copy.sqlite3"
    )  # the size of the database's copy now: room for it, not for the archive
    with sqlite3.connect(drill.data / "handover.sqlite3") as db, sqlite3.connect(copy) as into:
        db.backup(into)
    limit = copy.stat().st_size + 4096
    before, folder = _state(drill.data), drill.root / "small-disk"
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "handover", "backup", "-o", str(folder / "full.tar")],
        cwd=ROOT,
        env=_env(drill.data),
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: _small_disk(limit),
    )
    # The reason (the system's, untranslated) and the file, in whichever language the catalogue gives.
    assert (
        done.returncode == 1 and "File too large" in done.stderr and str(folder / "full.tar") in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert list(folder.iterdir()) == [] and _state(drill.data) == before


def test_a_restore_killed_anywhere_can_be_run_again_or_is_complete(drill: Drill) -> None:
    args = (
        "restore",
        str(drill.archive),
        "--public-key",
        str(drill.package_pub),
        "--audit-public-key",
        str(drill.audit_pub),
    )
    # Killed once the files are staged: nothing is installed.
    target = drill.root / "killed-extract"
    assert handover(target, *args, HANDOVER_FAULT="platform_restore.after_extract").returncode == 137
    assert not (target / "workflow").exists() and _tables(target) == []
    # Killed once the files are in place but the database is not: run again, it completes.
    target = drill.root / "killed-files"
    assert handover(target, *args, HANDOVER_FAULT="platform_restore.after_files").returncode == 137
    assert any((target / "workflow" / "evidence").rglob("*"))
    again = handover(target, *args)
    assert again.returncode == 0 and "audit trail intact" in again.stdout, again.stderr[-2000:]
    assert not list(target.glob(".restore-*"))
    # Killed once the database is in place: the restore is done; a second one is refused, nothing changed.
    target = drill.root / "killed-database"
    assert handover(target, *args, HANDOVER_FAULT="platform_restore.after_database").returncode == 137
    refused = handover(target, *args)
    assert refused.returncode == 1 and "accounts_" in refused.stderr  # refused, naming the tables it found
    shutil.rmtree(drill.root / "killed-extract", ignore_errors=True)
