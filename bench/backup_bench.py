"""The platform backup and restore (docs/backup.md), run by ``make bench``; figures in docs/benchmarks.md.

A fresh SQLite deployment gets ~1 GB of uploaded files (1 MiB each, random, in the attachments store) and
1,000,000 audit events (correctly chained, through ``bulk_create`` as bench/audit_bench.py does), and a signed
checkpoint. Then, timed: ``backup_create`` (in this process), the offline verify of the archive, and
``handover restore`` into an empty data folder (a process of its own, as an operator runs it: the second
pass over the archive, the files moved into place, the database renamed into place, and ``audit verify`` of
every event against the checkpoint and the signed head). Baselines in the same run: the bare SHA-256 of the
archive (one reused buffer, ``readinto``) and a plain copy of it. Goal (issue 18): the restore ≤ 10 minutes.

Usage: .venv/bin/python bench/backup_bench.py [--scale N] [--quick]
``--scale 10`` runs at a tenth (100 MB, 100,000 events); ``--quick`` at a thousandth (the smoke run).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

FILES_MB = 1024
EVENTS = 1_000_000
MIB = 1 << 20


def generate(files: int, events: int) -> None:
    """The data, quickly: random files straight into the store, events chained in bulk."""
    from audit_bench import extend_chain  # beside this script
    from handover.audit.services import checkpoint_write
    from handover.core.actors import system
    from handover.registers.attachments import attachment_store

    store = attachment_store()
    for _ in range(files):
        store.put([os.urandom(MIB)], limit=None)
    extend_chain(events)
    checkpoint_write(actor=system("bench"))


def bare_hash(path: Path) -> None:
    hasher, buffer = hashlib.sha256(), bytearray(MIB)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while read := handle.readinto(buffer):
            hasher.update(view[:read])


def timed(name: str, rows: list[tuple[str, float]], function: object) -> object:
    start = time.perf_counter()
    result = function()  # type: ignore[operator]
    rows.append((name, time.perf_counter() - start))
    return result


def restore(archive: Path, public_key: Path, audit_key: Path, target: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOVER_")}
    env.update(
        HANDOVER_DATA_DIR=str(target),
        HANDOVER_LOG_LEVEL="WARNING",
        PYTHONWARNINGS="ignore",
        PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src"),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "handover",
            "restore",
            str(archive),
            "--public-key",
            str(public_key),
            "--audit-public-key",
            str(audit_key),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"the restore failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def run(files: int, events: int) -> None:
    from django.conf import settings
    from django.db import connection

    from handover.audit import checkpoint
    from handover.core.actors import system
    from handover.platform_backup import archive, services
    from handover.reports.verify import public_key_pem

    data = Path(settings.DATA_DIR)
    started = time.perf_counter()
    generate(files, events)
    generated = time.perf_counter() - started
    work = data.parent / f"{data.name}-bench"
    work.mkdir()
    try:
        rows: list[tuple[str, float]] = []
        tar = work / "backup.tar"
        timed(
            "backup_create (handover backup)",
            rows,
            lambda: services.backup_create(actor=system("bench"), destination=tar),
        )
        timed("baseline: bare SHA-256 of the archive", rows, lambda: bare_hash(tar))
        timed("baseline: copy of the archive", rows, lambda: shutil.copyfile(tar, work / "copy.tar"))
        (work / "copy.tar").unlink()
        package_pub, audit_pub = work / "package.pub", work / "audit.pub"
        package_pub.write_text(
            public_key_pem(checkpoint.load_or_create_key(settings.HANDOVER_PACKAGE_KEY).public_key())
        )
        audit_pub.write_text(
            public_key_pem(checkpoint.load_or_create_key(settings.HANDOVER_CHECKPOINT_KEY).public_key())
        )
        trusted = checkpoint.load_public_key(package_pub)
        report = timed(
            "verify (handover backup verify)", rows, lambda: archive.verify_archive(tar, trusted)[0]
        )
        assert report.intact, report.problems  # type: ignore[attr-defined]
        said = timed(
            "handover restore, with audit verify",
            rows,
            lambda: restore(tar, package_pub, audit_pub, work / "restored"),
        )
        size = tar.stat().st_size
        print(
            f"SQLite {connection.Database.sqlite_version}, {files} MiB of files, {events:,} audit events, "
            f"archive {size / MIB:,.0f} MiB; data generated in {generated:.0f} s; "
            f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores"
        )
        print(f"| {'step':<40} | {'seconds':>8} | {'MiB/s':>7} |")
        print(f"|{'-' * 42}|{'-' * 9}:|{'-' * 8}:|")
        for name, seconds in rows:
            print(f"| {name:<40} | {seconds:>8.2f} | {size / MIB / seconds:>7,.0f} |")
        print(f"restore said: {said}")
        # Memory stays flat: the peak resident size of this process (generation, backup, verify) and of the
        # restore's process, against the archive's size.
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        print(f"peak resident memory: this process {own} MiB, the restore's process {child} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=1, help="divide the data by this (10: a tenth)")
    parser.add_argument("--quick", action="store_true", help="a thousandth: the smoke run")
    args = parser.parse_args()
    scale = 1000 if args.quick else max(1, args.scale)
    from _django import configure  # beside this script

    data = configure(False)
    try:
        run(max(1, FILES_MB // scale), EVENTS // scale)
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(data.parent / f"{data.name}-signer", ignore_errors=True)


if __name__ == "__main__":
    main()
