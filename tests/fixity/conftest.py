"""The fixity tests' trees are small: a verify of them would run in one process whatever ``jobs`` says
(integrity.SMALL_MANIFEST). Here every tree counts as big, so ``jobs=2`` really forks its workers; the test of
the small-manifest rule itself puts the threshold back."""

from __future__ import annotations

import pytest

from handover.fixity import integrity


@pytest.fixture(autouse=True)
def pool_for_any_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrity, "SMALL_MANIFEST", 0)
