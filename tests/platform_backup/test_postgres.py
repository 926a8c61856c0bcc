"""The platform backup on PostgreSQL (make test's PostgreSQL pass): ``handover backup`` (pg_dump) of a deployment
of its own, then ``handover restore`` into a new, empty database of the same cluster, the checkpoint and the
audit trail verified there. Both databases are on the suite's loopback cluster (core/pgcluster.py); the source is
a copy of the suite's migrated database (made with pg_dump and pg_restore), so nothing is migrated again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from handover.audit.checkpoint import load_or_create_key
from handover.core import pgcluster
from handover.reports.verify import public_key_pem
from tests.platform_backup.test_drill import ROOT, _env

pytestmark = [
    pytest.mark.postgres_pass,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="the PostgreSQL pass runs it",
    ),
]
SOURCE, TARGET = "handover_backup_source", "handover_backup_target"


def _admin(sql: str) -> None:
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(sql)


def _url(name: str) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"


@pytest.fixture
def databases(db: None) -> Iterator[tuple[str, str]]:
    """The source, a copy of the suite's migrated database (its committed part: the schema and what migrations
    wrote), and an empty target; the suite's own session stays in its test transaction."""
    for name in (SOURCE, TARGET):
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _admin(f"CREATE DATABASE {name}")
    migrated = connections["default"].settings_dict
    dump = subprocess.run(
        [pgcluster.binary("pg_dump"), "--format=custom", "--no-owner", _url(migrated["NAME"])],
        capture_output=True,
        check=True,
    )
    subprocess.run(
        [pgcluster.binary("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={_url(SOURCE)}"],
        input=dump.stdout,
        capture_output=True,
        check=True,
    )
    yield _url(SOURCE), _url(TARGET)
    for name in (SOURCE, TARGET):
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _handover(data: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handover", *args],
        cwd=ROOT,
        env=_env(data, HANDOVER_DATABASE_URL=url),
        capture_output=True,
        text=True,
        check=False,
    )


def test_pg_dump_and_restore_into_an_empty_database(tmp_path: Path, databases: tuple[str, str]) -> None:
    source_url, target_url = databases
    source = tmp_path / "source"
    # A write of the source's own (a signed checkpoint: an audit event and a file), then the backup.
    done = _handover(source, source_url, "audit", "checkpoint")
    assert done.returncode == 0, done.stderr[-1500:]
    done = _handover(source, source_url, "backup", "-o", str(tmp_path / "pg.tar"))
    assert done.returncode == 0, done.stderr[-3000:]
    keys = {
        "package.pub": load_or_create_key(source / "keys" / "package.key"),
        "audit.pub": load_or_create_key(tmp_path / "source-signer" / "checkpoint.key"),
    }
    for name, key in keys.items():
        (tmp_path / name).write_text(public_key_pem(key.public_key()))
    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "handover",
            "backup",
            "verify",
            str(tmp_path / "pg.tar"),
            "--public-key",
            str(tmp_path / "package.pub"),
        ],
        cwd=ROOT,
        env=_env(tmp_path / "none"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0 and "INTACT;" in verify.stdout, verify.stdout
    args = (
        "restore",
        str(tmp_path / "pg.tar"),
        "--public-key",
        str(tmp_path / "package.pub"),
        "--audit-public-key",
        str(tmp_path / "audit.pub"),
    )
    restored = tmp_path / "restored"
    done = _handover(restored, target_url, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "audit trail intact: 1 events, head 1, 1 checkpoint(s)" in done.stdout
    assert [p.name for p in (restored / "checkpoints").iterdir()] == [
        p.name for p in (source / "checkpoints").iterdir()
    ]
    again = _handover(tmp_path / "again", target_url, *args)
    assert again.returncode == 1 and "accounts_" in again.stderr  # not empty: refused, naming its tables
