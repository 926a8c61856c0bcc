"""A throwaway PostgreSQL cluster on loopback, for the test suite and the benchmarks.

Started when ``HANDOVER_TEST_DATABASE=postgres`` and no ``HANDOVER_DATABASE_URL`` is given; stopped and
removed at exit. It runs as the ``postgres`` system user when we are root (initdb refuses root), trusts
loopback connections only, and turns durability off: its data is thrown away anyway.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def binary(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    found = candidates[-1] if candidates else shutil.which(name)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} was not found: run `make test` (it installs postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start() -> str:
    """Start a cluster and return its database URL; it is stopped when this process exits."""
    root = Path(tempfile.mkdtemp(prefix="handover-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(
        _as_owner(
            [
                binary("initdb"),
                "-D",
                str(data),
                "-U",
                "handover",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
    )
    subprocess.run(
        _as_owner([binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            _as_owner([binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    url = f"postgres://handover@127.0.0.1:{port}/postgres"
    import psycopg

    with psycopg.connect(
        f"host=127.0.0.1 port={port} user=handover dbname=postgres", autocommit=True
    ) as conn:
        conn.execute("CREATE DATABASE handover")
    return url.rsplit("/", 1)[0] + "/handover"


def split_roles(admin_dsn: str, database: str, *, prefix: str = "handover") -> tuple[str, str]:
    """Create ``database`` owned by a new owner role, and an app role that may log in but owns nothing.

    Returns (owner URL, app URL) for HANDOVER_DATABASE_OWNER_URL and HANDOVER_DATABASE_URL: ``migrate`` runs
    as the owner and leaves the app role INSERT and SELECT only on the audit table (handover.audit.roles).
    The cluster trusts loopback, so the roles need no password here.
    """
    import psycopg
    from psycopg import sql

    owner, app = f"{prefix}_owner", f"{prefix}_app"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for role in (owner, app):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEROLE").format(sql.Identifier(role))
                )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner))
        )
    with psycopg.connect(f"{admin_dsn} dbname={database}", autocommit=True) as conn:
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner)))
    host_port = {p.split("=")[0]: p.split("=")[1] for p in admin_dsn.split() if "=" in p}
    base = f"postgres://{{}}@{host_port.get('host', '127.0.0.1')}:{host_port.get('port', '5432')}/{database}"
    return base.format(owner), base.format(app)
