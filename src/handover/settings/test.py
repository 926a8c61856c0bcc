"""Test settings: a throwaway data folder, fast password hashing, immediate tasks.

``HANDOVER_TEST_DATABASE=postgres`` runs the suite on PostgreSQL (tests/conftest.py starts a throwaway
cluster on loopback when ``HANDOVER_DATABASE_URL`` is not given).
"""

import os
import tempfile

# Unset or empty (the Makefile's two test passes empty it, so that each gets its own folder).
if not os.environ.get("HANDOVER_DATA_DIR"):
    os.environ["HANDOVER_DATA_DIR"] = tempfile.mkdtemp(prefix="handover-test-")
if os.environ.get("HANDOVER_TEST_DATABASE") == "postgres" and not os.environ.get("HANDOVER_DATABASE_URL"):
    from handover.core import pgcluster

    os.environ["HANDOVER_DATABASE_URL"] = pgcluster.start()

from handover.settings.base import *  # noqa: F403
from handover.settings.base import LOGGING, PASSWORD_HASHERS

# Argon2 stays first in production; tests hash thousands of passwords, so they use a cheap hasher,
# keeping Argon2 available so the login test still proves an Argon2 hash verifies.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "loggers": LOGGING["loggers"]}  # the quiet ones
# Each signature would export its form as xlsx and PDF at once (the immediate backend): the tests that want it
# turn it on (tests/reports/test_package_build_job.py).
HANDOVER_PACKAGE_EXPORT_AT_SIGNING = False
