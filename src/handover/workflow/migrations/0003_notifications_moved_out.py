"""The workflow lets go of Subscription, Notification and Delivery: the notifications app owns them from its
0001, tables and rows unchanged. State only; nothing happens in the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0002_notes_and_stabilisation_steps"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Delivery"),
                migrations.DeleteModel(name="Notification"),
                migrations.DeleteModel(name="Subscription"),
            ],
            database_operations=[],
        )
    ]
