"""The workflow's scenery (logins per role, a handover started) and the vault's serve the notifications'
tests too."""

from tests.vault.conftest import vault  # noqa: F401 - fixtures, used by name
from tests.workflow.conftest import cli, people  # noqa: F401
