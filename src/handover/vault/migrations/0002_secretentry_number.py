"""Each vault entry gets its number at its site, the stable part of its reference (``BR-HZ-V007``)."""

from typing import Any

from django.db import migrations, models


def number_entries(apps: Any, schema_editor: Any) -> None:
    """Existing entries are numbered per site in the order they were captured."""
    entry_model = apps.get_model("vault", "SecretEntry")
    counters: dict[int, int] = {}
    for entry in entry_model.objects.order_by("site_id", "captured_at", "id"):
        counters[entry.site_id] = counters.get(entry.site_id, 0) + 1
        entry.number = counters[entry.site_id]
        entry.save(update_fields=["number"])


class Migration(migrations.Migration):
    dependencies = [("vault", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="secretentry",
            name="number",
            field=models.PositiveIntegerField(editable=False, null=True, verbose_name="number at the site"),
        ),
        migrations.RunPython(number_entries, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="secretentry",
            name="number",
            field=models.PositiveIntegerField(editable=False, verbose_name="number at the site"),
        ),
        migrations.AddConstraint(
            model_name="secretentry",
            constraint=models.UniqueConstraint(fields=("site", "number"), name="vault_entry_number_unique"),
        ),
    ]
