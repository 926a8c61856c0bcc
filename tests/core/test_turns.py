"""The pacing of a background job's transactions on SQLite (core/turns.py)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from handover.core import turns


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    monkeypatch.setattr(turns.time, "sleep", calls.append)
    return calls


def test_a_gap_longer_than_the_busy_handlers_longest_sleep_every_twenty_transactions(slept):
    assert connection.vendor == "sqlite" or pytest.skip("SQLite only")
    pacer = turns.Pacer()
    gaps = [pacer.committed() for _ in range(45)]
    assert [n + 1 for n, gap in enumerate(gaps) if gap] == [20, 40]
    assert slept == [turns.GAP_SECONDS, turns.GAP_SECONDS]
    assert turns.GAP_SECONDS > 0.1  # SQLite's busy handler sleeps at most 100 ms between tries


@pytest.mark.django_db
def test_no_gap_inside_a_transaction_nor_on_another_database(slept, monkeypatch):
    pacer = turns.Pacer(every=1)
    with transaction.atomic():  # a gap here would hold the lock it is meant to free
        assert not pacer.committed()
    monkeypatch.setattr(connection, "vendor", "postgresql")  # PostgreSQL queues its lock waiters in order
    assert not pacer.committed()
    assert slept == []
