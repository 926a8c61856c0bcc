"""The notifications take over the workflow's three tables, with their names and rows: only Django's idea of
which app owns them changes (workflow 0003 lets go of them in the same way). Nothing is copied or dropped."""

import django.db.models.deletion
from django.db import migrations, models

TOPICS = [
    ("feedback", "Same-day feedback from a site"),
    ("escalation", "Late step escalated"),
    ("case_open", "Exception path started"),
    ("case_close", "Exception path closed"),
    ("phase", "Phase transition"),
    ("reminder", "Something falls due (稳定期)"),
]
CHANNELS = [
    ("in_app", "In the app"),
    ("email", "Email"),
    ("webhook", "Webhook (JSON, e.g. a 企业微信 or 钉钉 robot)"),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("org", "0001_initial"),
        ("workflow", "0002_notes_and_stabilisation_steps"),
    ]

    state_operations = [
        migrations.CreateModel(
            name="Subscription",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("topic", models.CharField(choices=TOPICS, max_length=16, verbose_name="event type")),
                ("channel", models.CharField(choices=CHANNELS, max_length=8, verbose_name="channel")),
                ("target", models.CharField(blank=True, max_length=500, verbose_name="address")),
                ("digest", models.BooleanField(default=False, verbose_name="daily digest")),
                ("is_active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField()),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="subscriptions",
                        to="org.person",
                    ),
                ),
            ],
            options={
                "db_table": "workflow_subscription",
                "verbose_name": "subscription",
                "verbose_name_plural": "subscriptions",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("person", "topic", "channel"), name="workflow_subscription_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Notification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("topic", models.CharField(choices=TOPICS, max_length=16)),
                ("title", models.CharField(max_length=200, verbose_name="title")),
                ("body", models.TextField(blank=True, verbose_name="message")),
                ("link", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField()),
                ("read_at", models.DateTimeField(blank=True, null=True)),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="notifications",
                        to="org.person",
                    ),
                ),
            ],
            options={
                "db_table": "workflow_notification",
                "verbose_name": "notification",
                "verbose_name_plural": "notifications",
                "ordering": ["-created_at", "-pk"],
            },
        ),
        migrations.CreateModel(
            name="Delivery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.BooleanField(default=False)),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Waiting"), ("sent", "Sent"), ("failed", "Failed")],
                        default="pending",
                        max_length=8,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("error", models.CharField(blank=True, max_length=200)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "notification",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="deliveries",
                        to="notifications.notification",
                    ),
                ),
                (
                    "subscription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="deliveries",
                        to="notifications.subscription",
                    ),
                ),
            ],
            options={
                "db_table": "workflow_delivery",
                "verbose_name": "delivery",
                "verbose_name_plural": "deliveries",
                "indexes": [models.Index(fields=["status", "digest"], name="workflow_de_status_cb8c7a_idx")],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[])
    ]
