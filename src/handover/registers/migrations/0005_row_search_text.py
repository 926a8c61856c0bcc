"""The rows' values as text for the list's search, and on PostgreSQL trigram indexes that serve it.

Django's ``icontains`` on PostgreSQL is ``UPPER(col::text) LIKE UPPER(%s)``, so the indexes are on UPPER(...).
pg_trgm is a trusted extension (PostgreSQL 13 and up): the database's owner may create it. Where that is
refused, the search still works, by a scan, and the migration says so instead of failing.
"""

import django.db.models.functions.comparison
from django.db import migrations, models

INDEXES = (
    ("registers_row_search_trgm", "search_text"),
    ("registers_row_remarks_trgm", "remarks"),
)


def trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SAVEPOINT pg_trgm")
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:
            cursor.execute("ROLLBACK TO SAVEPOINT pg_trgm")
            print(f"\n  registers: no pg_trgm ({exc}); the register search will scan rows")
            return
        for name, column in INDEXES:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON registers_row USING gin (UPPER({column}) gin_trgm_ops)"
            )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name, _column in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("registers", "0004_import_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="row",
            name="search_text",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.comparison.Cast("data", models.TextField()),
                output_field=models.TextField(),
            ),
        ),
        migrations.RunPython(trigram_indexes, drop_trigram_indexes),
    ]
