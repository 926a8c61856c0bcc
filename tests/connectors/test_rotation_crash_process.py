"""The crash matrix in a real process (issue 15; tests/connectors/crash_process.py): for every step boundary of
crash_matrix.POINTS, ``handover rotation run`` in a child process dies there by ``os._exit(137)``
(``HANDOVER_FAULT``), and the server then holds the vault's current secret or the pending one its item
recorded; a second child recovers the run: one change on the server over both, the vault's current secret
logging in, nothing else about the account moved, the audit chain intact.

Linux (a real sshd with its own /etc) runs in ``make test``; PostgreSQL, MariaDB and slapd are marked ``bench``
(``make bench`` runs them: each costs as much again)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from handover.connectors.change import linux as linux_changer
from handover.connectors.change.sha512crypt import verify as sha512_verify
from tests.connectors.conftest import linux_target
from tests.connectors.crash_process import (
    Platform,
    child_runner,
    committed_database,
    matrix_in_children,
    salted_changes,
    migrated_test_database,
)
from tests.connectors.etc_host import Host
from tests.factories import World


@pytest.fixture
def committed(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A database of this test's own that child processes open (its URL)."""
    with django_db_blocker.unblock(), migrated_test_database(), committed_database() as url:
        yield url


def _shadow_hash(root: Path, login: str) -> str:
    for line in (root / "etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == login:
            return fields[1]
    raise AssertionError(f"{login} not in the host's shadow file")


def test_linux(committed: str, etc_linux: Host, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world, tech, target = linux_target(World(), etc_linux, settings, tmp_path)
    platform = Platform(
        changer=linux_changer,
        mark=lambda login: _shadow_hash(etc_linux.root, login),
        changes=salted_changes,
        holds=lambda login, secret: sha512_verify(secret, _shadow_hash(etc_linux.root, login)),
    )
    with child_runner(committed) as child:
        matrix_in_children(world, tech, target, platform, child)
