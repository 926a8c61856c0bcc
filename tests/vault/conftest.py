from __future__ import annotations

import pytest

from handover.core.actors import system
from handover.vault import lifecycle


@pytest.fixture
def vault(db: None) -> lifecycle.InitResult:
    """A vault set up 3-of-5 with this process's keeper holding the key (unsealed)."""
    return lifecycle.vault_init(actor=system("test"), shares=5, threshold=3)
