from django.db import migrations, models


class Migration(migrations.Migration):
    """The one state stamp becomes a stamp per engagement and per site (stamp.py): the triggers are dropped
    before and made after every migrate (apps.py), so the tables change here with none on them."""

    dependencies = [
        ("workflow", "0006_state_stamp"),
    ]

    operations = [
        migrations.DeleteModel(name="StateStamp"),
        migrations.CreateModel(
            name="ScopeStamp",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("engagement_id", models.BigIntegerField()),
                ("site_id", models.BigIntegerField()),
                ("token", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("engagement_id", "site_id"), name="workflow_scopestamp_scope"
                    )
                ],
            },
        ),
    ]
