"""The database's part of a platform backup: an SQLite online-backup copy or a PostgreSQL custom dump, the
schema's migrations and the audit chain's head as they are in that copy, and putting a copy back.

A password of the database never reaches a process's arguments: pg_dump and pg_restore get it in their
environment (``PGPASSWORD``), and the connection's other parts as options.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.utils.translation import gettext as _

from handover.audit import chain
from handover.core import pgcluster
from handover.core.errors import DomainError

SQLITE_MEMBER = "database/handover.sqlite3"
PG_MEMBER = "database/handover.pgdump"


def engine() -> str:
    """``sqlite`` or ``postgresql``: the only two the deployment runs on (DESIGN.md decision 7)."""
    vendor = connections["default"].vendor
    if vendor not in ("sqlite", "postgresql"):
        raise DomainError(_("The platform backup knows SQLite and PostgreSQL, not %(v)s.") % {"v": vendor})
    return vendor


def member_name(vendor: str) -> str:
    return SQLITE_MEMBER if vendor == "sqlite" else PG_MEMBER


def snapshot(destination: Path) -> dict[str, Any]:
    """Copy the live database into ``destination`` while it keeps serving; returns the copy's migrations
    and audit head. SQLite: the online backup API in one step, a read transaction under WAL that writers do
    not wait for. PostgreSQL: pg_dump's own snapshot; the head is read just before it, so the dump holds at
    least that event."""
    if engine() == "sqlite":
        source = sqlite3.connect(connections["default"].settings_dict["NAME"], timeout=30)
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        except sqlite3.Error as exc:  # a full disk under the copy, among others
            target.close()
            raise DomainError(_("The database could not be copied: %(error)s") % {"error": exc}) from None
        finally:
            source.close()
        try:
            return _facts(target.cursor())
        finally:
            target.close()
    with connections["default"].cursor() as cursor:
        facts = _facts(cursor)
    _run_pg("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--file", str(destination)])
    return facts


def _facts(cursor: Any) -> dict[str, Any]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    migrations = [f"{app}.{name}" for app, name in cursor.fetchall()]
    cursor.execute("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")
    head = cursor.fetchone() or (0, chain.GENESIS)
    return {"migrations": migrations, "audit_head": {"seq": int(head[0]), "hash": str(head[1])}}


def code_migrations() -> list[str]:
    """The migrations this code has on disk, as ``app.name``."""
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    return sorted(f"{app}.{name}" for app, name in loader.disk_migrations)


def tables() -> list[str]:
    """The target's tables: a restore goes into a database that has none."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        return sorted(connection.introspection.table_names(cursor))


def put_back(staged: Path, vendor: str) -> None:
    """Install the staged copy as the database: the SQLite file renamed into place (the restore's commit
    point), or pg_restore in one transaction."""
    connections.close_all()
    if vendor == "sqlite":
        name = Path(connections["default"].settings_dict["NAME"])
        for leftover in (Path(f"{name}-wal"), Path(f"{name}-shm")):
            leftover.unlink(missing_ok=True)
        os.replace(staged, name)
        return
    _run_pg(
        "pg_restore",
        ["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges", str(staged)],
    )


def _run_pg(program: str, arguments: list[str]) -> None:
    settings = connections["default"].settings_dict
    env = {**os.environ, "PGPASSWORD": str(settings.get("PASSWORD") or "")}
    options = [
        f"--host={settings.get('HOST') or 'localhost'}",
        f"--port={settings.get('PORT') or 5432}",
        f"--username={settings.get('USER') or ''}",
        f"--dbname={settings['NAME']}",
    ]
    done = subprocess.run(
        [pgcluster.binary(program), *options, *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise DomainError(
            _("%(program)s failed (exit %(code)d): %(error)s")
            % {"program": program, "code": done.returncode, "error": done.stderr.strip()[-800:]}
        )
