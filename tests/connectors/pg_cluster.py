"""A PostgreSQL cluster of the test's own: initdb/pg_ctl of the suite's binaries in a temporary folder, on a free
loopback port, SCRAM for TCP logins, every statement logged at debug5 (so a canary can be looked for)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Cluster:
    root: Path
    port: int
    log: Path

    def dsn(self) -> str:
        return f"host={self.root} port={self.port} user=gatherer dbname=postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def split(script: str) -> list[str]:
    from handover.connectors import sqlscan

    return [s.text for s in sqlscan.statements(script, sqlscan.PG)]


@contextmanager
def pg_cluster(password: str, fixture: str) -> Iterator[Cluster]:
    """A running cluster whose superuser ``gatherer`` has ``password``, with ``fixture`` (SQL) applied."""
    from handover.core import pgcluster

    try:
        initdb, pg_ctl = pgcluster.binary("initdb"), pgcluster.binary("pg_ctl")
    except RuntimeError as exc:
        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="handover-pgconn-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    (root / "pw").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root / "pw", "postgres", "postgres")
    data, log, port = root / "data", root / "server.log", _free_port()
    subprocess.run(
        _as_owner([initdb, "-D", str(data), "-U", "gatherer", f"--pwfile={root / 'pw'}", "--auth-local=trust",
                   "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]),
        check=True, capture_output=True,
    )  # fmt: skip
    (root / "pw").unlink()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c log_statement=all "
        "-c log_min_messages=debug5 -c log_min_error_statement=debug5 -c log_connections=on "
        "-c log_disconnections=on -c max_connections=20"
    )
    subprocess.run(
        _as_owner([pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        import psycopg

        with psycopg.connect(
            f"host={root} port={port} user=gatherer dbname=postgres", autocommit=True
        ) as conn:
            for statement in split(fixture):
                conn.execute(statement)
        yield Cluster(root, port, log)
    finally:
        subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
