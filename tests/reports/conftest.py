import pytest


@pytest.fixture(autouse=True)
def _package_store(settings, tmp_path):
    """Each test its own package folder (the files outlive the database's rollback)."""
    settings.HANDOVER_PACKAGE_DIR = tmp_path / "packages"
