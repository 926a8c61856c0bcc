"""The demo engagement once per test module, for tests that need the whole demo (import the fixtures)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

DEMO_USERS = (
    "demo-tech",
    "demo-onsite-hz",
    "demo-firm-it",
    "demo-finance",
    "demo-observer",
    "demo-wg",
    "demo-auditor",
    "demo-sysadmin",
)


@pytest.fixture(scope="module")
def _demo_for_module(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, str]]:
    """``handover demo`` once per test module (4–5 s), inside a transaction rolled back after the module; each
    test's own ``db`` transaction nests in it as a savepoint, so the tests still start from the same demo."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_demo()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(_demo_for_module: dict[str, str], db: None) -> dict[str, str]:
    """The demo engagement in the test database; its logins' passwords by user name."""
    return _demo_for_module


def _build_demo() -> dict[str, str]:
    out = io.StringIO()
    call_command("demo", stdout=out)
    passwords: dict[str, str] = {}
    for line in out.getvalue().splitlines():
        tokens = line.split()
        for username in DEMO_USERS:
            if username in tokens:
                passwords[username] = tokens[tokens.index(username) + 1]
    assert set(passwords) == set(DEMO_USERS), out.getvalue()
    return passwords
