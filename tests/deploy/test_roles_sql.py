"""deploy/postgresql/roles.sql on the suite's PostgreSQL cluster (PostgreSQL pass): the database belongs to the
owner role, the application role may log in and owns nothing, and nobody but the owner creates in its schema.
What `migrate` then grants is tests/audit/test_pg_roles.py's (it makes its roles as pgcluster.split_roles does,
which this file mirrors)."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest
from django.conf import settings

from tests.deploy.conftest import DEPLOY

pytestmark = pytest.mark.postgres_pass


def test_roles_sql_makes_the_owner_and_the_application_role():
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        pytest.skip("runs in the postgres pass (HANDOVER_TEST_DATABASE=postgres)")
    import psycopg

    from handover.core import pgcluster

    tag = uuid.uuid4().hex[:8]
    # The committed names, made unique on this shared cluster; nothing else of the file is changed.
    script = (DEPLOY / "postgresql" / "roles.sql").read_text()
    for name in ("handover_owner", "handover_app"):
        assert name in script
        script = script.replace(name, f"{name}_{tag}")
    assert "DATABASE handover OWNER" in script and "\\connect handover\n" in script
    script = script.replace("DATABASE handover OWNER", f"DATABASE roles_{tag} OWNER")
    script = script.replace("\\connect handover\n", f"\\connect roles_{tag}\n")
    host, port = db.get("HOST") or "127.0.0.1", str(db.get("PORT") or 5432)
    psql = shutil.which("psql") or pgcluster.binary("psql")
    done = subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", db["USER"], "-d", "postgres"],
        input=script, capture_output=True, text=True, check=False,
        env={"PGPASSWORD": db.get("PASSWORD") or "", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    admin = f"host={host} port={port} user={db['USER']}"
    if db.get("PASSWORD"):
        admin += f" password={db['PASSWORD']}"
    with psycopg.connect(f"{admin} dbname=roles_{tag}", autocommit=True) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        assert owner.fetchone()[0] == f"handover_owner_{tag}"
        schema = conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'")
        assert schema.fetchone()[0] == f"handover_owner_{tag}"
        rights = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = %s",
            [f"handover_app_{tag}"],
        ).fetchone()
        assert rights == (False, False, False, True)
        can_create = conn.execute(
            "SELECT has_schema_privilege(%s, 'public', 'CREATE')", [f"handover_app_{tag}"]
        ).fetchone()[0]
        assert can_create is False
    with psycopg.connect(f"{admin} dbname=postgres", autocommit=True) as conn:
        conn.execute(
            f'DROP DATABASE "roles_{tag}" WITH (FORCE)'
        )  # the roles stay (the cluster is thrown away)
