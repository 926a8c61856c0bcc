"""The stamp of the workflow's state: a token the database changes, in the same transaction, with every write
to a table the derived state reads (issue 18: the pages read stored state instead of recomputing the
engagement on each request).

``state.compute`` derives every step of an engagement from the registers, the inventory, the sites and the
workflow's own tables; at 300 sites that is some 1.5 s (the register gates decode 18,060 rows). Its result is
kept, in the process, under the token read *before* the computation, and reused while the token is the same
and ``now`` has not crossed a deadline (state.py ``_steady``). The token is changed by triggers on every table
in ``WATCHED`` (INSERT, UPDATE, DELETE, and TRUNCATE on PostgreSQL), so a write through a service, a
``bulk_create``, an ``update()``, an import, a management command or a raw statement all change it, atomically
with the change: a reader that sees the new token sees the change; a transaction that rolls back takes its
token with it, and since a token is random it never comes back to name other data.

tests/workflow/test_state_cache.py checks that every table ``compute`` reads is watched (a new read of an
unwatched table fails it), and that the kept state agrees with a full recomputation after a random
sequence of writes.

On PostgreSQL the trigger takes the audit chain's advisory lock before it updates the stamp's one row, the
order in which every audited write takes them (audit.services._lock_and_head), so two writers can never
wait for each other in opposite orders.
"""

from __future__ import annotations

from django.apps import apps
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from handover.audit.services import _PG_LOCK_KEY

# The models whose tables state.compute (and the gates it runs, plugged ones included) reads.
WATCHED = (
    "org.Engagement",
    "org.Site",
    "org.Person",
    "registers.Form",
    "registers.Row",
    "registers.Signature",
    "registers.InformationSystem",
    "registers.Asset",
    "registers.Account",
    "workflow.DeadlineOverride",
    "workflow.StepInstance",
    "workflow.Evidence",
    "workflow.Feedback",
    "workflow.Escalation",
    "workflow.PhaseTransition",
    "workflow.ExceptionCase",
    "workflow.CaseRiskAcceptance",
    "risk.AssessmentReport",
)
TABLE = "workflow_statestamp"
PREFIX = "workflow_touch_"


def watched_tables() -> list[str]:
    """The database tables of ``WATCHED`` (the apps installed)."""
    found = []
    for label in WATCHED:
        app, name = label.split(".")
        try:
            found.append(apps.get_model(app, name)._meta.db_table)
        except LookupError:  # an app left out of INSTALLED_APPS: nothing of it to watch
            continue
    return found


def _statements(vendor: str, tables: list[str]) -> list[str]:
    """The SQL that creates the stamp's row and triggers: names from the models, no input in it."""
    if vendor == "postgresql":
        return [
            f"INSERT INTO {TABLE} (id, token) VALUES (1, md5(random()::text)) ON CONFLICT (id) DO NOTHING",  # noqa: S608
            "CREATE OR REPLACE FUNCTION workflow_state_touch() RETURNS trigger AS $$ BEGIN "  # noqa: S608
            f"PERFORM pg_advisory_xact_lock({_PG_LOCK_KEY}); "
            f"UPDATE {TABLE} SET token = md5(random()::text || clock_timestamp()::text); "
            "RETURN NULL; END $$ LANGUAGE plpgsql",
            *(
                f"CREATE OR REPLACE TRIGGER {PREFIX}{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION workflow_state_touch()"
                for table in tables
            ),
        ]
    if vendor == "sqlite":
        return [
            f"INSERT OR IGNORE INTO {TABLE} (id, token) VALUES (1, hex(randomblob(8)))",  # noqa: S608
            *(
                f"CREATE TRIGGER IF NOT EXISTS {PREFIX}{table}_{event.lower()} AFTER {event} ON {table} "  # noqa: S608
                f"BEGIN UPDATE {TABLE} SET token = hex(randomblob(8)); END"
                for table in tables
                for event in ("INSERT", "UPDATE", "DELETE")
            ),
        ]
    return []


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the stamp's row and the triggers on every watched table; idempotent (run after each migrate)."""
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        if TABLE not in present:  # migrated back before the stamp existed: no triggers (token() is then None)
            return
        for statement in _statements(connection.vendor, [t for t in watched_tables() if t in present]):
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    """Drop every trigger ``install`` made (found by their name's prefix, whatever tables exist now)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgname LIKE %s",
                [f"{PREFIX}%"],
            )
            for name, table in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?", [f"{PREFIX}%"]
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


def token(using: str = "default") -> str | None:
    """The current stamp, or None where there is none (another database, or a flushed table): then the
    state is computed afresh every time."""
    connection = connections[using]
    if connection.vendor not in ("postgresql", "sqlite"):
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {TABLE} WHERE id = 1")  # noqa: S608 (a fixed name)
        row = cursor.fetchone()
    return row[0] if row else None
