import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rotation", "0007_plan_case"),
        ("vault", "0004_pending_versions"),
    ]

    operations = [
        migrations.AddField(
            model_name="rotationitem",
            name="previous_verifier",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="vault.sealedblob",
            ),
        ),
    ]
