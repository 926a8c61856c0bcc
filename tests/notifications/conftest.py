"""The workflow's scenery (logins per role, a handover started) serves the notifications' tests too."""

from tests.workflow.conftest import people  # noqa: F401 - a fixture, used by name
