"""PostgreSQL privileges of the application role after a migration by the owner role (M3).

第八条's separation for the trail itself: the role the server runs as may INSERT and SELECT audit events and
nothing more on that table; everything else it may read and write. Only the owner, which the server never
runs as, can change the table or its triggers.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections


def grant_app_role(using: str = "default", **_: Any) -> None:
    """After ``migrate`` as the owner: the app role gets DML on every table but the audit table, which it
    may only INSERT into and SELECT from. Nothing happens without an owner URL (a single-role database)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.HANDOVER_DATABASE_OWNER_URL:
        return
    role = settings.HANDOVER_DATABASE_APP_ROLE  # HANDOVER_DATABASE_URL's: the one the server runs as
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        if not role or cursor.fetchone()[0] == role:
            return
        quoted = connection.ops.quote_name(role)
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
        cursor.execute(f"REVOKE ALL ON audit_event FROM {quoted}")
        cursor.execute(f"GRANT SELECT, INSERT ON audit_event TO {quoted}")
