"""Moving the models out of the workflow keeps every row: a database at the workflow's 0002 with a
subscription, a notification and a delivery is migrated forward, and the notifications app reads them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("workflow", "0002_notes_and_stabilisation_steps"), ("notifications", None)]


@pytest.mark.django_db(transaction=True)
def test_moving_the_models_keeps_every_subscription_notification_and_delivery(world):
    from handover.org.models import Person, Role

    person_id = Person.objects.get(user=world.login_with(Role.TECH_GROUP, username="kept")).pk
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE[:1]).apps
    at = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    subscription = old.get_model("workflow", "Subscription").objects.create(
        person_id=person_id,
        topic="feedback",
        channel="webhook",
        target="https://qyapi.weixin.qq.com/x",
        created_at=at,
    )
    note = old.get_model("workflow", "Notification").objects.create(
        person_id=person_id, topic="feedback", title="甲营业部: T-01 late, reported", created_at=at
    )
    old.get_model("workflow", "Delivery").objects.create(notification=note, subscription=subscription)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from handover.notifications.models import Delivery, Notification, OptOut, Subscription

    kept = Subscription.objects.get()
    assert (kept.pk, kept.person_id, kept.topic, kept.target) == (
        subscription.pk,
        person_id,
        "feedback",
        "https://qyapi.weixin.qq.com/x",
    )
    assert Notification.objects.get().title == "甲营业部: T-01 late, reported"
    delivery = Delivery.objects.get()
    assert (delivery.notification_id, delivery.subscription_id, delivery.status) == (
        note.pk,
        subscription.pk,
        "pending",
    )
    # The new table exists and the widened topic takes the codes of other apps.
    OptOut.objects.create(person_id=person_id, topic="vault.reveal_request", created_at=at)
    assert kept.person.engagement_id == world.engagement.pk
