"""``migrate`` as the database's owner role when HANDOVER_DATABASE_OWNER_URL is set (PostgreSQL).

The server runs as HANDOVER_DATABASE_URL's role, which after migrating may only INSERT and SELECT audit
events (handover.audit.roles): it cannot UPDATE, DELETE or TRUNCATE them, nor drop the append-only triggers,
which only the owner can (M3). The database name stays the configured one (the test database in the suite).
"""

from __future__ import annotations

from typing import Any

import dj_database_url
from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        owner_url = settings.HANDOVER_DATABASE_OWNER_URL
        connection = connections[options["database"]]
        if not owner_url or connection.vendor != "postgresql":
            super().handle(*args, **options)
            return
        owner: dict[str, Any] = dict(dj_database_url.parse(owner_url))
        saved = {key: connection.settings_dict[key] for key in ("USER", "PASSWORD", "HOST", "PORT")}
        connection.close()
        connection.settings_dict.update({key: owner[key] for key in saved if owner.get(key) is not None})
        try:
            super().handle(*args, **options)
        finally:
            connection.close()
            connection.settings_dict.update(saved)
