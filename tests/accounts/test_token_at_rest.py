"""An API token never reaches the database file (review M7: all role tokens were found verbatim in
handover.sqlite3). A deployment of its own (laptop settings, its own data folder) issues a token through the
endpoint and uses it; then the real files are searched: the token is nowhere, its digest is (so the search
would see it)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vault.test_canary import _env

ROOT = Path(__file__).resolve().parents[2]
HANDOVER = str(Path(sys.executable).with_name("handover"))

SCENE = """
from django.test import Client
from handover.accounts import enrolment
from handover.accounts.models import User
from handover.core.actors import system
user = User.objects.create(username="canary-api")
enrolment.login_bootstrap_console(actor=system("test"), user=user, password="Canary-Passw0rd-long")
api = Client(HTTP_HOST="localhost")
token = api.post("/api/auth/token/", {"username": "canary-api", "password": "Canary-Passw0rd-long"},
                 content_type="application/json").json()["token"]
used = api.get("/api/engagements/", HTTP_AUTHORIZATION="Token " + token)
assert used.status_code == 200, used.content
print("TOKEN=" + token)
"""


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.skipif(
    os.environ.get("HANDOVER_TEST_DATABASE") == "postgres", reason="searches SQLite's files; see test_canary"
)
def test_a_canary_token_never_reaches_the_database_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    _run(env, HANDOVER, "migrate", "--no-input", "-v", "0")
    out = _run(env, HANDOVER, "shell", "-c", SCENE)
    token = next(line[6:] for line in out.splitlines() if line.startswith("TOKEN="))
    digest = hashlib.sha256(token.encode()).hexdigest()
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    everything = b"".join(p.read_bytes() for p in files)
    assert any(p.name.endswith(".sqlite3") for p in files)
    assert digest.encode() in everything  # the search sees the token table
    assert token.encode() not in everything
    assert token[10:].encode() not in everything  # not even the part after the displayed prefix
