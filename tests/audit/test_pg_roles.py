"""M3 on PostgreSQL: `migrate` runs as the owner role (HANDOVER_DATABASE_OWNER_URL) and leaves the role the
server runs as (HANDOVER_DATABASE_URL) INSERT and SELECT only on the audit table. The attacks that worked
for the table's owner (UPDATE, DELETE, TRUNCATE, dropping or disabling the triggers) fail for that role."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from handover.core import pgcluster

HANDOVER = str(Path(sys.executable).with_name("handover"))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        pytest.skip("runs in the postgres pass (HANDOVER_TEST_DATABASE=postgres)")
    admin = f"host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432} user={db['USER']}"
    if db.get("PASSWORD"):
        admin += f" password={db['PASSWORD']}"
    tag = uuid.uuid4().hex[:8]
    owner_url, app_url = pgcluster.split_roles(f"{admin} dbname=postgres", f"roles_{tag}", prefix=f"r{tag}")
    data = tmp_path_factory.mktemp("roles")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "DJANGO_"))}
    env.update(
        HANDOVER_DATA_DIR=str(data / "data"),
        DJANGO_SETTINGS_MODULE="handover.settings.local",
        HANDOVER_DATABASE_URL=app_url,
        HANDOVER_DATABASE_OWNER_URL=owner_url,
        HANDOVER_CHECKPOINT_KEY=str(data / "signer" / "checkpoint.key"),
    )
    for args in (["migrate", "--no-input", "-v", "0"], ["audit", "checkpoint"], ["audit", "checkpoint"]):
        done = subprocess.run([HANDOVER, *args], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    yield {"app": app_url, "owner": owner_url, "env": env}
    import psycopg

    with psycopg.connect(f"{admin} dbname=postgres", autocommit=True) as conn:
        conn.execute(
            f'DROP DATABASE IF EXISTS "roles_{tag}" WITH (FORCE)'
        )  # the roles stay (cluster is thrown away)


def _as_app(deployment):
    import psycopg

    return psycopg.connect(deployment["app"].replace("postgres://", "postgresql://"), autocommit=True)


def test_the_tables_belong_to_the_owner_and_the_app_role_reads_and_appends(deployment):
    with _as_app(deployment) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_event'").fetchone()[0]
        assert owner.endswith("_owner")
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone()[0] >= 2  # two checkpoints appended
        conn.execute("UPDATE accounts_user SET first_name = first_name")  # ordinary tables are writable
    done = subprocess.run(
        [HANDOVER, "audit", "verify"], env=deployment["env"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "audit trail intact" in done.stdout, done.stderr


@pytest.mark.parametrize(
    "attack",
    [
        "UPDATE audit_event SET actor_username = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 1",
        "TRUNCATE audit_event",
        "DROP TRIGGER audit_event_no_update_delete ON audit_event",
        "DROP TRIGGER audit_event_no_truncate ON audit_event",
        "ALTER TABLE audit_event DISABLE TRIGGER ALL",
        "SET session_replication_role = replica",
        "DROP TABLE audit_event",
    ],
)
def test_the_app_role_cannot_rewrite_the_trail(deployment, attack):
    import psycopg

    with _as_app(deployment) as conn:
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException)) as refused:
            conn.execute(attack)
        assert not isinstance(refused.value, psycopg.errors.RaiseException), (
            "refused by a trigger, not a right"
        )
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone()[0] >= 2
