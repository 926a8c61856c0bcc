"""One migrated SQLite database per test run, copied into each throwaway data folder that needs one: the browser
tests' servers and the deployment test's (tests/deploy/). `handover migrate` costs ~14 s of CPU here, a copy a
few milliseconds. The copy goes through SQLite's backup API, so it is one consistent file whatever the template's
WAL still holds; the schema does not depend on the settings module that migrated it (no migration writes rows
on an empty database, and the PostgreSQL grants of audit/roles.py do not apply to SQLite)."""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HANDOVER = Path(sys.executable).with_name("handover")
_template: list[Path] = []


def migrated_database(data_dir: Path, env: dict[str, str]) -> None:
    """Put a freshly migrated ``handover.sqlite3`` into ``data_dir``; ``env`` is the server's environment (SQLite:
    no HANDOVER_DATABASE_URL), used once per run to migrate the template in a folder of its own."""
    if not _template:
        folder = Path(tempfile.mkdtemp(prefix="handover-test-migrated-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        done = subprocess.run(
            [str(HANDOVER), "migrate", "--no-input", "-v", "0"],
            env={**env, "HANDOVER_DATA_DIR": str(folder)},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"handover migrate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        _template.append(folder / "handover.sqlite3")
    source = sqlite3.connect(_template[0])
    target = sqlite3.connect(data_dir / "handover.sqlite3")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
