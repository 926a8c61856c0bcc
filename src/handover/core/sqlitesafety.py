"""The embedded SQLite's one known corruption bug, how Handover keeps clear of it, and an integrity check.

The WAL-reset bug (SQLite's own account: https://www.sqlite.org/wal.html#walresetbug, and the 3.51.3 release
notes) is in every SQLite from 3.7.0 to 3.51.2; 3.51.3 fixed it, and 3.44.6 and 3.50.7 carry the fix back.
Debian 12's 3.40.1, which Python's ``sqlite3`` module loads here, has it; so does the ``pysqlite3-binary`` wheel
(3.51.1), so no DB-API wheel on the registry ships a fixed SQLite today. The race needs all of: WAL mode, two or
more connections to the file (Handover's gunicorn workers and task worker), one checkpoint completing, a second
starting right after it, and *another connection committing while that second checkpoint runs*, which resets
the WAL under it; the second checkpoint then records frames as copied that were not, and a later checkpoint
skips them.

The configuration that avoids the conditions: no checkpoint ever runs beside a commit. SQLite's automatic
checkpoints are PASSIVE (they run while others commit), so every connection turns them off
(``wal_autocheckpoint=0``); checkpoints are then run only in TRUNCATE mode, which holds the database's writer
lock from start to end (SQLite's wal.c, requirement R-59782-36818), one process at a time (a lock file) and only
when the WAL has grown (``checkpoint_if_due``, called after each commit by ``handover.core.sqlite3``). One case
is left: SQLite runs a TRUNCATE checkpoint as PASSIVE when it cannot take the writer lock within the busy timeout
(30 s); ``checkpoint_if_due`` then does not retry at once. docs/deployment.md says why PostgreSQL is the answer
for a deployment with several app servers. Imports no Django.
"""

from __future__ import annotations

import fcntl
import sqlite3
from contextlib import closing
from pathlib import Path

FIXED_IN = (3, 51, 3)
BACKPORTS = ((3, 44, 6), (3, 50, 7))  # the same fix on older lines
# The WAL is checkpointed once it passes this size: SQLite's own default threshold (1,000 pages of 4 KiB).
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024


def wal_reset_bug(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> bool:
    """Whether this SQLite version has the WAL-reset corruption bug (3.7.0 to 3.51.2, less the backports)."""
    if version < (3, 7, 0) or version >= FIXED_IN:
        return False
    return not any(version[:2] == fixed[:2] and version >= fixed for fixed in BACKPORTS)


def connection_pragmas(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> str:
    """The PRAGMAs each connection runs: WAL for many readers beside one writer; no automatic (PASSIVE)
    checkpoint when the library has the bug."""
    pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;"
    if wal_reset_bug(version):
        pragmas += " PRAGMA wal_autocheckpoint=0;"
    return pragmas


def checkpoint_if_due(connection: sqlite3.Connection, database: str | Path) -> bool:
    """Checkpoint the WAL in TRUNCATE mode if it has grown past the threshold; True if one ran and completed.

    Called outside any transaction. The lock file keeps two processes' checkpoints from following each other
    (the bug's second checkpoint): the second finds the WAL truncated and does nothing.
    """
    wal = Path(f"{database}-wal")
    if _size(wal) < CHECKPOINT_WAL_BYTES:
        return False
    with open(f"{database}-checkpoint.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _size(wal) < CHECKPOINT_WAL_BYTES:
            return False
        busy, _frames, _copied = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def integrity_problems(database: str | Path) -> list[str]:
    """``PRAGMA integrity_check`` and ``foreign_key_check`` on a database file: [] when it is sound, else what
    SQLite reports (for crash tests: after a kill, the file must still check clean)."""
    uri = f"file:{Path(database).resolve()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            found = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            keys = [f"foreign key: {row}" for row in connection.execute("PRAGMA foreign_key_check")]
    except sqlite3.DatabaseError as error:
        return [f"{database}: {error}"]
    return ([] if found == ["ok"] else found) + keys
