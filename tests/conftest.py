from __future__ import annotations

import pytest

from tests.factories import World


@pytest.fixture
def world(db: None) -> World:
    return World()


@pytest.fixture(autouse=True)
def _vault_sealed_after_each_test() -> object:
    """This process's own vault key keeper starts and ends every test sealed (no state leaks between tests)."""
    from handover.vault.lifecycle import local_keeper

    local_keeper().seal()
    yield
    local_keeper().seal()
