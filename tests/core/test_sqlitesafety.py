"""The embedded SQLite and the WAL-reset bug (core/sqlitesafety.py, core/sqlite3/): which versions have it, the
connection settings that keep clear of its conditions, the writer-locked checkpoint after commits, the deploy
check's warning, and the integrity check that crash tests run on a database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.db.utils import ConnectionHandler

from handover.core import checks, sqlitesafety


@pytest.mark.parametrize(
    ("version", "bug"),
    [
        ((3, 6, 23), False),  # before WAL
        ((3, 7, 0), True),
        ((3, 40, 1), True),  # Debian 12
        ((3, 44, 5), True),
        ((3, 44, 6), False),  # backport
        ((3, 46, 1), True),  # Debian 13
        ((3, 50, 6), True),
        ((3, 50, 7), False),  # backport
        ((3, 51, 1), True),  # pysqlite3-binary 0.5.4.post2
        ((3, 51, 2), True),
        ((3, 51, 3), False),
        ((3, 54, 0), False),
    ],
)
def test_versions_with_the_bug(version: tuple[int, int, int], bug: bool) -> None:
    assert sqlitesafety.wal_reset_bug(version) is bug
    assert ("wal_autocheckpoint=0" in sqlitesafety.connection_pragmas(version)) is bug
    assert "journal_mode=WAL" in sqlitesafety.connection_pragmas(version)


def _connection(path: Path):  # type: ignore[no-untyped-def]
    handler = ConnectionHandler(
        {"default": {"ENGINE": "handover.core.sqlite3", "NAME": str(path),
                     "OPTIONS": {"init_command": sqlitesafety.connection_pragmas((3, 40, 1))}}}
    )  # fmt: skip
    return handler["default"]


def _fill(connection, rows: int) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, blob BLOB)")
    for _ in range(rows):
        with connection.cursor() as cursor:
            connection.set_autocommit(False)
            cursor.execute("INSERT INTO t (blob) VALUES (randomblob(100000))")
            connection.commit()
            connection.set_autocommit(True)


def test_commits_checkpoint_the_wal_under_the_writer_lock_once_it_has_grown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker: pytest.FixtureRequest
) -> None:
    monkeypatch.setattr(sqlitesafety, "wal_reset_bug", lambda version=None: True)
    database = tmp_path / "db.sqlite3"
    wal = Path(f"{database}-wal")
    connection = _connection(database)
    django_db_blocker.unblock()  # type: ignore[attr-defined]  # a connection of its own, not the suite's
    ran: list[str] = []
    real = sqlitesafety.checkpoint_if_due
    monkeypatch.setattr(sqlitesafety, "checkpoint_if_due", lambda c, d: ran.append(str(d)) or real(c, d))
    try:
        with connection.cursor() as cursor:
            assert cursor.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)  # no PASSIVE checkpoint
        _fill(connection, 30)  # 3 MB: below the threshold, nothing checkpointed, the WAL only grows
        assert wal.stat().st_size > 3_000_000
        _fill(connection, 15)  # past 4 MiB: the commit that crossed it truncated the WAL
        assert wal.stat().st_size < sqlitesafety.CHECKPOINT_WAL_BYTES
        assert len(ran) == 45 and all(d == str(database) for d in ran)
        with connection.cursor() as cursor:
            assert cursor.execute("SELECT count(*) FROM t").fetchone() == (45,)
    finally:
        connection.close()
        django_db_blocker.restore()  # type: ignore[attr-defined]
    assert sqlitesafety.integrity_problems(database) == []


def test_a_checkpoint_that_is_not_due_does_nothing(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    connection = sqlite3.connect(database, isolation_level=None)
    connection.executescript(sqlitesafety.connection_pragmas((3, 40, 1)) + "CREATE TABLE t (x);")
    connection.execute("INSERT INTO t VALUES (randomblob(5000000))")
    assert sqlitesafety.checkpoint_if_due(connection, database) is True
    assert Path(f"{database}-wal").stat().st_size == 0
    assert sqlitesafety.checkpoint_if_due(connection, database) is False
    connection.close()


def test_integrity_problems_finds_a_damaged_page_and_names_a_file_that_is_no_database(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    connection = sqlite3.connect(database)
    connection.executescript(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); CREATE INDEX t_name ON t (name);"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
        " INSERT INTO t (name) SELECT 'row ' || i FROM n;"
    )
    connection.close()
    assert sqlitesafety.integrity_problems(database) == []
    data = bytearray(database.read_bytes())
    page = 4096 * 3  # a page of the table or its index, not the header
    data[page + 100 : page + 400] = b"\xff" * 300
    database.write_bytes(bytes(data))
    assert sqlitesafety.integrity_problems(database) != []
    text = tmp_path / "notes.txt"
    text.write_text("not a database " * 100)
    [problem] = sqlitesafety.integrity_problems(text)
    assert str(text) in problem and "not a database" in problem


def test_the_deploy_check_warns_on_a_sqlite_with_the_bug(settings) -> None:  # type: ignore[no-untyped-def]
    [warning] = checks.sqlite_warnings("handover.core.sqlite3", True)
    assert warning.id == "handover.W001" and sqlite3.sqlite_version in str(warning.msg)
    assert checks.sqlite_warnings("handover.core.sqlite3", False) == []
    assert checks.sqlite_warnings("django.db.backends.postgresql", True) == []
    # The check as registered, on this pass's database and this machine's SQLite.
    on_sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    expected = ["handover.W001"] if on_sqlite and sqlitesafety.wal_reset_bug() else []
    assert [m.id for m in checks.sqlite_wal_reset_bug()] == expected
