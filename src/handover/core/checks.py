"""The deploy checks of ``handover check --deploy`` that Django's own do not cover."""

from __future__ import annotations

import sqlite3
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _

from handover.core import sqlitesafety


@checks.register(checks.Tags.database, deploy=True)
def sqlite_wal_reset_bug(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when the embedded database runs on a SQLite with the WAL-reset corruption bug."""
    return sqlite_warnings(settings.DATABASES["default"]["ENGINE"], sqlitesafety.wal_reset_bug())


def sqlite_warnings(engine: str, has_bug: bool) -> list[checks.CheckMessage]:
    """The warning for this database engine and SQLite library, if it is due."""
    if not engine.endswith("sqlite3") or not has_bug:
        return []
    return [
        checks.Warning(
            _("SQLite %(version)s has the WAL-reset corruption bug (fixed in 3.51.3).")
            % {"version": sqlite3.sqlite_version},
            hint=str(
                _(
                    "Handover avoids the bug's conditions (writer-locked checkpoints only), but a deployment with "
                    "several app servers should use PostgreSQL (HANDOVER_DATABASE_URL), or a Python built against "
                    "SQLite 3.51.3 or later; see docs/deployment.md."
                )
            ),
            id="handover.W001",
        )
    ]
