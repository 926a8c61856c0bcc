"""Each attack on the audit trail, performed on the real database by someone who owns it.

The demo engagement is loaded through the real ``handover`` command into a fresh data folder, a checkpoint is
signed, and then an attacker with the SQLite file (or PostgreSQL superuser rights) gets round the append-only
triggers and edits, deletes, truncates or rewrites the chain with a raw connection. ``handover audit verify
--checkpoint`` must then exit 1 and name the kind of break and the event. The database is migrated and
loaded once per engine and copied for each attack (a file copy; ``CREATE DATABASE … TEMPLATE``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from handover.audit import chain

HANDOVER = str(Path(sys.executable).with_name("handover"))
COLUMNS = [*chain.FIELDS, "hash"]
COPIES = itertools.count(1)
BROKEN = re.compile(r"^BROKEN \[(\w+)\] at event (\d+): ", re.MULTILINE)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HANDOVER, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def cli_ok(env: dict[str, str], *args: str) -> str:
    done = cli(env, *args)
    assert done.returncode == 0, f"handover {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def outside(data_dir: Path) -> Path:
    """What the deployment keeps off the data folder: the signer's key, the second place checkpoints are
    shipped to, and the public key written down out of band. The attacker's copies never include it."""
    return data_dir.parent / f"outside-{data_dir.parent.name}"


def cli_env(data_dir: Path, database_url: str = "", *, trusting: bool = True) -> dict[str, str]:
    """The environment of a deployment: only this data folder and database, nothing of the test run's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "DJANGO_"))}
    env.update(HANDOVER_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="handover.settings.local")
    away = outside(data_dir)
    env.update(
        HANDOVER_CHECKPOINT_KEY=str(away / "signer" / "checkpoint.key"),
        HANDOVER_CHECKPOINT_SHIP_DIR=str(away / "shipped"),
    )
    if trusting:
        env["HANDOVER_AUDIT_PUBLIC_KEY"] = str(away / "audit.pub")
    if database_url:
        env["HANDOVER_DATABASE_URL"] = database_url
    return env


# --- the two engines, as an attacker sees them -------------------------------------------------------------


class Engine:
    """A raw connection to one copy of the loaded database, and the attacker's ways round the triggers."""

    name = ""
    refusal: type[Exception] = Exception

    def env(self, *, trusting: bool = True) -> dict[str, str]:
        raise NotImplementedError

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def rows(self) -> list[dict[str, Any]]:
        """Every event as the verifier reads it (datetimes aware, JSON parsed), in sequence order."""
        raise NotImplementedError

    def json(self, value: Any) -> Any:
        raise NotImplementedError

    def bypass(self, technique: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteEngine(Engine):
    name = "sqlite"
    refusal = sqlite3.IntegrityError

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.conn = sqlite3.connect(data_dir / "handover.sqlite3")

    def env(self, *, trusting: bool = True) -> dict[str, str]:
        return cli_env(self.data_dir, trusting=trusting)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.conn.execute(sql.replace("%s", "?"), params)

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def rows(self) -> list[dict[str, Any]]:
        cursor = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_event ORDER BY seq")  # noqa: S608
        rows = [dict(zip(COLUMNS, values, strict=True)) for values in cursor]
        for row in rows:
            row["occurred_at"] = datetime.fromisoformat(row["occurred_at"]).replace(tzinfo=UTC)
            for name in ("before", "after"):
                row[name] = None if row[name] is None else json.loads(row[name])
        return rows

    def json(self, value: Any) -> Any:
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def bypass(self, technique: str) -> None:
        """The file's owner simply drops the triggers."""
        self.execute("DROP TRIGGER audit_event_no_update")
        self.execute("DROP TRIGGER audit_event_no_delete")

    def close(self) -> None:
        self.conn.close()


class PostgresEngine(Engine):
    name = "postgres"

    def __init__(self, server: PostgresServer, database: str, data_dir: Path) -> None:
        import psycopg

        self.refusal = psycopg.errors.RaiseException
        self.server, self.database, self.data_dir = server, database, data_dir
        self.conn = psycopg.connect(server.dsn(database))

    def env(self, *, trusting: bool = True) -> dict[str, str]:
        return cli_env(self.data_dir, self.server.url(self.database), trusting=trusting)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.conn.execute(sql, params)  # type: ignore[arg-type]

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def rows(self) -> list[dict[str, Any]]:
        cursor = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_event ORDER BY seq")  # noqa: S608
        return [dict(zip(COLUMNS, values, strict=True)) for values in cursor]

    def json(self, value: Any) -> Any:
        from psycopg.types.json import Jsonb

        return None if value is None else Jsonb(value)

    def bypass(self, technique: str) -> None:
        """A superuser has three ways round the triggers; each attack uses one of them."""
        statements = {
            "replica": "SET session_replication_role = replica",
            "disable": "ALTER TABLE audit_event DISABLE TRIGGER ALL",
            "drop": "DROP TRIGGER audit_event_no_update_delete ON audit_event",
        }
        self.execute(statements[technique])

    def close(self) -> None:
        self.conn.close()


@dataclass
class PostgresServer:
    """The suite's PostgreSQL server (settings.DATABASES), where this module makes its own databases."""

    host: str
    port: str
    user: str
    password: str
    created: list[str] = field(default_factory=list)

    def dsn(self, database: str) -> str:
        parts = [f"host={self.host}", f"port={self.port}", f"user={self.user}", f"dbname={database}"]
        return " ".join([*parts, f"password={self.password}"] if self.password else parts)

    def url(self, database: str) -> str:
        secret = f":{self.password}" if self.password else ""
        return f"postgres://{self.user}{secret}@{self.host}:{self.port}/{database}"

    def create(self, name: str, template: str = "") -> str:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            for name in reversed(self.created):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- one loaded database per engine, copied for each attack -----------------------------------------------


@dataclass
class Loaded:
    """A migrated database holding the demo engagement and a checkpoint signed over it."""

    checkpoint: Path
    checkpoint_seq: int
    head_seq: int
    copy: Callable[[str], Engine]


def load(env: dict[str, str], data_dir: Path) -> tuple[Path, int, int]:
    cli_ok(env, "migrate", "--no-input", "-v", "0")
    cli_ok(env, "demo")
    (outside(data_dir) / "audit.pub").write_text(cli_ok(env, "audit", "public-key"))
    cp = data_dir / "cp.json"
    cli_ok(env, "audit", "checkpoint", "-o", str(cp))
    signed = json.loads(cp.read_text())["seq"]
    return cp, signed, signed + 1  # the checkpoint's own event follows the head it signed


def load_sqlite(root: Path) -> Loaded:
    base = root / "base"
    cp, signed, head = load(cli_env(base), base)

    def copy(name: str) -> Engine:
        target = root / name
        shutil.copytree(base, target)
        return SQLiteEngine(target)

    return Loaded(cp, signed, head, copy)


def load_postgres(root: Path, server: PostgresServer) -> Loaded:
    prefix = f"attack_{uuid.uuid4().hex[:8]}"
    base = server.create(f"{prefix}_base")
    cp, signed, head = load(cli_env(root, server.url(base)), root)

    def copy(name: str) -> Engine:
        return PostgresEngine(server, server.create(f"{prefix}_{name}", template=base), root)

    return Loaded(cp, signed, head, copy)


def postgres_server() -> PostgresServer | None:
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        return None
    return PostgresServer(
        db.get("HOST") or "127.0.0.1", str(db.get("PORT") or 5432), db["USER"], db.get("PASSWORD") or ""
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    root = tmp_path_factory.mktemp(f"attack-{request.param}")
    if request.param == "sqlite":
        yield load_sqlite(root)
        return
    server = postgres_server()
    if server is None:
        pytest.skip("PostgreSQL attacks run in the postgres pass (HANDOVER_TEST_DATABASE=postgres)")
    try:
        yield load_postgres(root, server)
    finally:
        server.drop_all()


@pytest.fixture
def victim(loaded: Loaded, request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = loaded.copy(f"{next(COPIES)}_{re.sub(r'[^a-z]+', '_', request.node.originalname)[5:35]}")
    yield engine
    engine.close()


def verify(
    engine: Engine, *checkpoints: Path, trusting: bool = True
) -> tuple[int, list[tuple[str, int]], str]:
    args = [arg for cp in checkpoints for arg in ("--checkpoint", str(cp))]
    done = cli(engine.env(trusting=trusting), "audit", "verify", *args)
    found = [(kind, int(seq)) for kind, seq in BROKEN.findall(done.stderr)]
    return done.returncode, found, done.stdout + done.stderr


# --- the attacks --------------------------------------------------------------------------------------------


def test_untouched_database_verifies(loaded, victim):
    code, found, output = verify(victim, loaded.checkpoint)
    assert (code, found) == (0, []), output
    assert f"audit trail intact: {loaded.head_seq} events, head {loaded.head_seq}" in output


def test_triggers_refuse_the_attacker_until_bypassed(victim):
    for statement in (
        "UPDATE audit_event SET actor_username = 'mallory' WHERE seq = 5",
        "DELETE FROM audit_event WHERE seq = 5",
    ):
        with pytest.raises(victim.refusal, match="append-only"):
            victim.execute(statement)
        victim.rollback()


def test_edited_event_is_caught_at_its_seq(loaded, victim):
    rows = victim.rows()
    target = next(r for r in rows if r["seq"] >= 50 and r["after"])
    forged = {**target["after"], "name": "伪造的营业部"}
    victim.bypass("replica")
    victim.execute("UPDATE audit_event SET after = %s WHERE seq = %s", (victim.json(forged), target["seq"]))
    victim.commit()
    assert next(r for r in victim.rows() if r["seq"] == target["seq"])["after"] == forged

    code, found, output = verify(victim, loaded.checkpoint)
    assert (code, found) == (1, [("edited", target["seq"])]), output


def test_deleted_event_is_caught_at_its_seq(loaded, victim):
    victim.bypass("disable")
    victim.execute("DELETE FROM audit_event WHERE seq = %s", (70,))
    victim.commit()
    assert 70 not in {r["seq"] for r in victim.rows()}

    code, found, output = verify(victim, loaded.checkpoint)
    assert (code, found) == (1, [("deleted", 70)]), output
    assert "event 70 deleted" in output


def test_truncated_tail_is_caught_by_the_checkpoint(loaded, victim):
    new_head = loaded.checkpoint_seq - 5
    victim.bypass("drop")
    victim.execute("DELETE FROM audit_event WHERE seq > %s", (new_head,))
    victim.commit()
    assert max(r["seq"] for r in victim.rows()) == new_head

    code, found, output = verify(victim, loaded.checkpoint)
    assert (code, found) == (1, [("truncated", new_head + 1)]), output
    assert f"signed event {loaded.checkpoint_seq}" in output


def test_rewritten_chain_is_caught_only_by_the_checkpoint(loaded, victim):
    rows = victim.rows()
    start = next(i for i, r in enumerate(rows) if r["seq"] >= 40 and r["after"])
    rows[start]["after"] = {**rows[start]["after"], "name": "伪造"}
    digest, prev = chain.hasher("sha256"), rows[start - 1]["hash"]
    victim.bypass("replica")
    for row in rows[start:]:
        row["prev_hash"] = prev
        row["hash"] = prev = digest(chain.canonical(row))
        victim.execute(
            "UPDATE audit_event SET after = %s, prev_hash = %s, hash = %s WHERE seq = %s",
            (victim.json(row["after"]), row["prev_hash"], row["hash"], row["seq"]),
        )
    victim.commit()

    code, found, output = verify(victim, trusting=False)
    assert (code, found) == (0, []), f"the rewrite should be internally consistent:\n{output}"
    assert "no trusted audit public key configured" in output
    code, found, output = verify(victim, loaded.checkpoint)
    assert (code, found) == (1, [("rewritten", loaded.checkpoint_seq)]), output
    assert "chain rewritten" in output


# --- M3: the deployment that makes a rewrite detectable -------------------------------------------------------


def rewrite_from(victim: Engine, first: int) -> None:
    """Edit event ``first`` and recompute every hash after it: a chain consistent in itself."""
    rows = victim.rows()
    start = next(i for i, r in enumerate(rows) if r["seq"] >= first and r["after"])
    rows[start]["after"] = {**rows[start]["after"], "name": "伪造"}
    digest, prev = chain.hasher("sha256"), rows[start - 1]["hash"]
    victim.bypass("replica")
    for row in rows[start:]:
        row["prev_hash"] = prev
        row["hash"] = prev = digest(chain.canonical(row))
        victim.execute(
            "UPDATE audit_event SET after = %s, prev_hash = %s, hash = %s WHERE seq = %s",
            (victim.json(row["after"]), row["prev_hash"], row["hash"], row["seq"]),
        )
    victim.commit()


def test_the_checkpoint_key_is_not_in_the_data_folder(loaded, victim):
    """The re-signing attack needs the signer's key; a copy (or the owner) of the data folder does not hold it."""
    data = Path(victim.env()["HANDOVER_DATA_DIR"])
    assert not [p for p in data.rglob("*") if p.is_file() and "checkpoint" in p.name and p.suffix == ".key"]
    assert Path(victim.env()["HANDOVER_CHECKPOINT_KEY"]).is_file()


def test_no_argument_verify_catches_a_rewrite_with_the_shipped_checkpoint(loaded, victim):
    """M3: the attacker rewrites the chain and deletes the checkpoint in the data folder; the copy shipped to
    the second place, checked with the configured public key, still catches it."""
    rewrite_from(victim, 40)
    data = Path(victim.env()["HANDOVER_DATA_DIR"])
    for left in [*(data / "checkpoints").glob("*.json"), data / "cp.json"]:  # the attacker deletes these too
        if victim.name == "sqlite":  # (the PostgreSQL copies share one data folder: it only holds cp.json)
            left.unlink(missing_ok=True)
    shipped = list((outside(Path(victim.env()["HANDOVER_DATA_DIR"])) / "shipped").glob("*.json"))
    assert [p.name for p in shipped] == [loaded.checkpoint.name]
    code, found, output = verify(victim)
    assert (code, found) == (1, [("rewritten", loaded.checkpoint_seq)]), output
    assert str(shipped[0]) in output


def test_a_checkpoint_re_signed_with_another_key_is_refused(loaded, victim, tmp_path):
    """M3: without the signer's key the attacker signs the rewritten head with a key of their own."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from handover.audit import checkpoint

    rewrite_from(victim, 40)
    head = victim.rows()[loaded.checkpoint_seq - 1]
    document = json.loads(loaded.checkpoint.read_text())
    forged = checkpoint.Checkpoint(
        seq=head["seq"], head_hash=head["hash"], algorithm="sha256", created_at=document["created_at"]
    )
    target = tmp_path / "resigned.json"
    checkpoint.write(forged, Ed25519PrivateKey.generate(), target)
    code, found, output = verify(victim, target)
    assert code == 1 and ("forged", 0) in found, output
    assert "signed by another key" in output


def test_no_argument_verify_catches_truncation_after_the_checkpoint(loaded, victim):
    new_head = loaded.checkpoint_seq - 3
    victim.bypass("drop")
    victim.execute("DELETE FROM audit_event WHERE seq > %s", (new_head,))
    victim.commit()
    code, found, output = verify(victim)
    assert (code, found) == (1, [("truncated", new_head + 1)]), output


def test_checkpoint_records_where_it_was_shipped(loaded, victim):
    rows = victim.rows()
    event = next(r for r in reversed(rows) if r["action"] == "audit.checkpoint.write")
    shipped = event["after"]["shipped"]
    assert shipped == [f"folder:{outside(Path(victim.env()['HANDOVER_DATA_DIR'])) / 'shipped' / 'cp.json'}"]
