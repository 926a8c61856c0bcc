# ruff: noqa: S608 (every statement here is made of the models' table and column names, no input)
"""The stamps of the workflow's state: tokens the database changes, in the same transaction, with every write
to a table the derived state reads (issue 18: the pages read kept state instead of recomputing the
engagement on each request, also on a night when hundreds of people write).

``state.compute`` derives every step of an engagement from the registers, the inventory, the sites and the
workflow's own tables. There is one token per engagement and **scope** (table ``workflow_scopestamp``):

- a site (``site_id``): what the step instances of that site read: its forms, rows and signatures, its step
  instances and their evidence, feedback and escalations;
- ``ENGAGEMENT`` (0): what every site reads: the engagement (D, phase), the sites, people, the inventory
  (systems, machines, accounts), deadlines, phase transitions, the security assessment, and the forms of
  表36 and 表39, which rules read across sites (a 表39 entry closes a failed row of any site; a 表36 approval
  at any site names a new system for head office's S-13);
- ``STEPS_ONLY`` (-1): what only the engagement-level steps read (exception cases, for N-04; an
  engagement-level step instance and its feedback).

A trigger on every table of ``WATCHED`` (INSERT, UPDATE, DELETE, and TRUNCATE on PostgreSQL) finds the
scopes of the rows it touched (the old and the new row of an update: a form moved to another site changes
both) and gives each a new random token, atomically with the change: a reader that sees the new token sees
the change; a transaction that rolls back takes its tokens with it, and a random token never comes back to
name other data. So a write through a service, a ``bulk_create``, an ``update()``, an import, a management
command or a raw statement all count.

state/kept.py keeps each site's part of the state under its site's token and the engagement's, and recomputes
after a write only the sites whose token moved (with the engagement-level steps, always). Where a register
row names a system, machine, account or site of *another* site (the coverage rules then read it for that
site), it also derives the sites whose coverage reads a fact the write changed (state/kept.py
``_concerned``, completeness.concerned).

tests/workflow/test_state_cache.py checks that every table ``compute`` reads is watched (a new read of an
unwatched table fails it), that the kept state agrees with a full recomputation after a random sequence of
writes, and that a write at one site recomputes that site only.

On PostgreSQL the trigger takes the audit chain's advisory lock before it writes a token, the order in
which every audited write takes them (audit.services._lock_and_head), so two writers can never wait for
each other in opposite orders. Its triggers run once per statement, reading the statement's transition
tables, so an ``update()`` of 18,000 rows writes each token it moves once.
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
TABLE = "workflow_scopestamp"
PREFIX = "workflow_touch_"
ENGAGEMENT = 0  # the scope every site reads
STEPS_ONLY = -1  # the scope only the engagement-level steps read
CROSS_SITE_REGISTERS = (36, 39)  # read across sites by the rules (register_gates.py): the engagement's scope

_FORM_SCOPE = (
    f"CASE WHEN f.site_id IS NULL OR f.register_no IN ({', '.join(map(str, CROSS_SITE_REGISTERS))}) "
    f"THEN {ENGAGEMENT} ELSE f.site_id END"
)
_STEP_SCOPE = f"COALESCE(s.site_id, {STEPS_ONLY})"
# Per table: the columns a trigger reads of the old or new row, and the (engagement, scope) pairs they name,
# selected from ``{rows}`` (the transition table on PostgreSQL, the one row on SQLite).
SCOPES: dict[str, tuple[tuple[str, ...], str]] = {
    "org_engagement": (("id",), f"SELECT r.id AS e, {ENGAGEMENT} AS s FROM {{rows}} r"),
    "registers_form": (
        ("engagement_id", "site_id", "register_no"),
        f"SELECT f.engagement_id AS e, {_FORM_SCOPE} AS s FROM {{rows}} f",
    ),
    "registers_row": (
        ("form_id",),
        f"SELECT f.engagement_id AS e, {_FORM_SCOPE} AS s FROM {{rows}} r "
        "JOIN registers_form f ON f.id = r.form_id",
    ),
    "registers_signature": (
        ("form_id", "row_id"),
        f"SELECT f.engagement_id AS e, {_FORM_SCOPE} AS s FROM {{rows}} r "
        "LEFT JOIN registers_row x ON x.id = r.row_id "
        "JOIN registers_form f ON f.id = COALESCE(r.form_id, x.form_id)",
    ),
    "workflow_stepinstance": (
        ("engagement_id", "site_id"),
        f"SELECT s.engagement_id AS e, {_STEP_SCOPE} AS s FROM {{rows}} s",
    ),
    "workflow_exceptioncase": (
        ("engagement_id",),
        f"SELECT r.engagement_id AS e, {STEPS_ONLY} AS s FROM {{rows}} r",
    ),
    "workflow_caseriskacceptance": (
        ("case_id",),
        f"SELECT c.engagement_id AS e, {STEPS_ONLY} AS s FROM {{rows}} r "
        "JOIN workflow_exceptioncase c ON c.id = r.case_id",
    ),
    **{
        table: (
            ("step_id",),
            f"SELECT s.engagement_id AS e, {_STEP_SCOPE} AS s FROM {{rows}} r "
            "JOIN workflow_stepinstance s ON s.id = r.step_id",
        )
        for table in ("workflow_evidence", "workflow_feedback", "workflow_escalation")
    },
}
# Every other watched table has an engagement_id, and what it holds is read by every site.
WHOLE = (("engagement_id",), f"SELECT r.engagement_id AS e, {ENGAGEMENT} AS s FROM {{rows}} r")


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


def _upsert(scopes: str, token: str) -> str:
    """Give each (engagement, scope) that ``scopes`` selects a new token (each once, whatever rows name it)."""
    return (
        f"INSERT INTO {TABLE} (engagement_id, site_id, token) "
        f"SELECT e, s, {token} FROM (SELECT DISTINCT e, s FROM ({scopes}) AS named WHERE e IS NOT NULL) AS d "
        "WHERE true ON CONFLICT (engagement_id, site_id) DO UPDATE SET token = excluded.token"
    )


def _postgresql(tables: list[str]) -> list[str]:
    fresh = "md5(random()::text || clock_timestamp()::text)"
    lock = f"PERFORM pg_advisory_xact_lock({_PG_LOCK_KEY}); "
    made = [
        f"INSERT INTO {TABLE} (engagement_id, site_id, token) SELECT id, {ENGAGEMENT}, {fresh} "
        "FROM org_engagement ON CONFLICT (engagement_id, site_id) DO NOTHING",
        f"CREATE OR REPLACE FUNCTION {PREFIX}all() RETURNS trigger AS $$ BEGIN {lock}"
        f"UPDATE {TABLE} SET token = {fresh}; RETURN NULL; END $$ LANGUAGE plpgsql",
    ]
    for table in tables:
        _columns, scopes = SCOPES.get(table, WHOLE)
        for event, sources in (
            ("INSERT", ("new_rows",)),
            ("UPDATE", ("old_rows", "new_rows")),
            ("DELETE", ("old_rows",)),
        ):
            function = f"{PREFIX}{table}_{event.lower()}"
            union = " UNION ".join(scopes.format(rows=source) for source in sources)
            referencing = " ".join(
                f"{'OLD' if source == 'old_rows' else 'NEW'} TABLE AS {source}" for source in sources
            )
            made += [
                f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ BEGIN {lock}"
                f"{_upsert(union, fresh)}; RETURN NULL; END $$ LANGUAGE plpgsql",
                f"CREATE OR REPLACE TRIGGER {function} AFTER {event} ON {table} REFERENCING {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
            ]
        made.append(
            f"CREATE OR REPLACE TRIGGER {PREFIX}{table}_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {PREFIX}all()"
        )
    return made


def _sqlite(tables: list[str]) -> list[str]:
    fresh = "hex(randomblob(8))"
    made = [
        f"INSERT OR IGNORE INTO {TABLE} (engagement_id, site_id, token) "
        f"SELECT id, {ENGAGEMENT}, {fresh} FROM org_engagement"
    ]
    for table in tables:
        columns, scopes = SCOPES.get(table, WHOLE)
        for event, sources in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
            union = " UNION ".join(
                scopes.format(rows="(SELECT " + ", ".join(f"{source}.{c} AS {c}" for c in columns) + ")")
                for source in sources
            )
            made.append(
                f"CREATE TRIGGER IF NOT EXISTS {PREFIX}{table}_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {_upsert(union, fresh)}; END"
            )
    return made


def _statements(vendor: str, tables: list[str]) -> list[str]:
    """The SQL that seeds the engagements' tokens and creates the triggers: names from the models, no input."""
    if vendor == "postgresql":
        return _postgresql(tables)
    if vendor == "sqlite":
        return _sqlite(tables)
    return []


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the engagements' tokens and the triggers on every watched table; idempotent (run after each
    migrate or flush)."""
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        if TABLE not in present:  # migrated back before the stamps existed: no triggers (tokens() is None)
            return
        for statement in _statements(connection.vendor, [t for t in watched_tables() if t in present]):
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    """Drop every trigger ``install`` made (found by their name's prefix, whatever tables exist now), with
    their functions on PostgreSQL, and those of the single stamp before it (migration 0006)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgname LIKE %s",
                [f"{PREFIX}%"],
            )
            for name, table in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
            cursor.execute("SELECT proname FROM pg_proc WHERE proname LIKE %s", [f"{PREFIX}%"])
            for (name,) in [*cursor.fetchall(), ("workflow_state_touch",)]:
                cursor.execute(f'DROP FUNCTION IF EXISTS "{name}"() CASCADE')
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?", [f"{PREFIX}%"]
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


def tokens(engagement_id: int, using: str = "default") -> dict[int, str] | None:
    """The engagement's tokens by scope (a site id, ENGAGEMENT or STEPS_ONLY; a scope never written has
    none), or None where there are none to trust (another database, or the engagement's own token missing:
    a flushed table): then the state is computed afresh every time."""
    connection = connections[using]
    if connection.vendor not in ("postgresql", "sqlite"):
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT site_id, token FROM {TABLE} WHERE engagement_id = %s", [engagement_id])
        found = dict(cursor.fetchall())
    return found if ENGAGEMENT in found else None
