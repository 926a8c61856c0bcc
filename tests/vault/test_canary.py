"""Canary secrets through every flow, then a scan of the real files: not one plaintext byte anywhere else.

tests/vault/canary_flows.py runs every flow in a deployment of its own (laptop settings, its own data folder,
a real key keeper process, ``handover vault put`` as a separate process), so each write is committed to the
real database files and each log line, SQL statements with their parameters included, reaches the real log
file. This test then searches, for every canary: the data folder (SQLite's main file, its WAL and shm, the
logs, the keys), PostgreSQL's data directory and server log when the suite runs on PostgreSQL, the audit
table, the audit exports and the 表9/表10 exports of the service and of ``handover registers export`` (xlsx
unzipped, PDF as bytes and as pdftotext's text; the 表9 refusal of a password in free text), every page
and API response and the command line's output. Only
the reveal and the show-once page of a generated password may carry a secret, and the test checks that
they do (so that it would see a leak).
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from handover.registers.io.exporting import FORMATS
from tests.shared_static import link_static
from tests.vault.canary_flows import CANARIES, CANARY

ROOT = Path(__file__).resolve().parents[2]
HANDOVER = str(Path(sys.executable).with_name("handover"))
# How long to wait for the keeper's socket before giving up (a hang guard, not an assertion).
STARTUP_GUARD_SECONDS = 60


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "DJANGO_"))}
    env.update(
        HANDOVER_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="handover.settings.local",
        HANDOVER_LOG_LEVEL="DEBUG",
        HANDOVER_VAULT_KEEPER="socket",
        HANDOVER_VAULT_KEEPER_TOKEN=secrets.token_hex(32),  # the keeper and every process of this deployment
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    if os.environ.get("HANDOVER_TEST_DATABASE") == "postgres":
        env["HANDOVER_DATABASE_URL"] = _fresh_postgres_database()
    return env


def _fresh_postgres_database() -> str:
    import psycopg

    base = os.environ["HANDOVER_DATABASE_URL"]
    name = f"canary_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    data_dir = Path(f"/tmp/hvc-{uuid.uuid4().hex[:8]}")  # short: a Unix socket path has ~100 bytes
    env = _env(data_dir)
    data_dir.mkdir()
    link_static(data_dir)  # before migrate, which makes the static folder
    _run(env, HANDOVER, "migrate", "--no-input", "-v", "0")
    _run(env, HANDOVER, "collectstatic", "--no-input", "-v", "0")  # the laptop settings' manifest
    keeper = subprocess.Popen([HANDOVER, "vault", "keeper"], env=env, cwd=ROOT)
    deadline = time.monotonic() + STARTUP_GUARD_SECONDS
    while not (data_dir / "vault-keeper.sock").exists():
        assert keeper.poll() is None and time.monotonic() < deadline, "the key keeper did not start"
        time.sleep(0.05)
    try:
        yield env, data_dir
    finally:
        keeper.send_signal(signal.SIGTERM)
        keeper.wait()


def _postgres_files(env: dict[str, str]) -> list[Path]:
    import psycopg

    with psycopg.connect(env["HANDOVER_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        directory = Path(conn.execute("SHOW data_directory").fetchone()[0])
    files = [p for p in directory.rglob("*") if p.is_file()]
    server_log = directory.parent / "log"
    return files + ([server_log] if server_log.exists() else [])


def _squeezed(text: bytes) -> bytes:
    """Text without white space and hyphens: a PDF cell wraps a long value, at a hyphen too."""
    return re.sub(rb"[\s-]+", b"", text)


def _readable(path: Path) -> bytes:
    """The file's bytes, with what is inside: an xlsx's parts unzipped, a PDF's text as pdftotext reads it
    (and squeezed, so that a value wrapped over lines of its cell is still found whole)."""
    body = path.read_bytes()
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return b"".join(archive.read(name) for name in archive.namelist())
    if body.startswith(b"%PDF"):
        text = subprocess.run(["pdftotext", "-", "-"], input=body, capture_output=True, check=True).stdout
        return body + text + _squeezed(text)
    return body


def _register_exports(out: Path) -> list[Path]:
    """表9 and 表10 in every format, by the service and by the command line, each holding the vault reference
    (so the scan reads a file that shows the row, and would see a secret in it)."""
    vault_ref = (out / "vault-ref.txt").read_text().encode()
    exports = [out / f"{way}register-{n}.{fmt}" for way in ("", "cli-") for n in (9, 10) for fmt in FORMATS]
    for path in exports:
        content = _readable(path)
        # A PDF table wraps a long cell and pdftotext reads the wrapped lines across the columns, so there the
        # entry's reference (BA-V001, short enough not to wrap) stands for the whole cell.
        wrapped = path.suffix == ".pdf" and vault_ref.split()[-1] in content
        shown = vault_ref in content or _squeezed(vault_ref) in content or wrapped
        assert shown, f"{path} does not show the 表9/10 row"
    refusal = (out / "register-refusal.txt").read_text()
    assert "vault_ref" in refusal, "表9 must refuse a password in its free text"
    return exports


def test_no_canary_outside_the_reveal(deployment, tmp_path):
    env, data_dir = deployment
    out = tmp_path / "responses"
    out.mkdir()
    _run(env, sys.executable, "-m", "tests.vault.canary_flows", str(out))
    generated = (out / "generated.txt").read_text()
    canaries = [*CANARIES, generated]

    allowed = [p for p in out.iterdir() if p.name.startswith("allowed-")]
    assert any(CANARY.encode() in p.read_bytes() for p in allowed), "the reveal must show it"
    shown = html.escape(generated).encode()
    assert any(shown in p.read_bytes() for p in allowed), "the generated page must show it"
    log = data_dir / "logs" / "handover.log"
    assert b"vault_secretversion" in log.read_bytes(), "the log must hold the SQL it is searched for"
    audit = (out / "audit-table.json").read_text()
    assert (
        "vault.reveal.open" in audit and "vault.secret.task_use" in audit and "vault.rotate_master" in audit
    )

    assert len(_register_exports(out)) == 12
    searched = [p for p in data_dir.rglob("*") if p.is_file() and not p.is_socket()]
    searched += [p for p in out.iterdir() if not p.name.startswith("allowed-") and p.name != "generated.txt"]
    if "HANDOVER_DATABASE_URL" in env:
        searched += _postgres_files(env)
    else:
        assert (data_dir / "handover.sqlite3").exists() and (out / "sqlite-wal-copy.bin").stat().st_size > 0
    assert len(searched) > 20
    forms = {
        form
        for canary in canaries
        for form in (
            canary,
            html.escape(canary),
            json.dumps(canary)[1:-1],
            _squeezed(canary.encode()).decode(),
        )
    }
    for path in searched:
        content = _readable(path)
        for form in forms:
            assert form.encode() not in content, f"a canary secret is in {path}"
