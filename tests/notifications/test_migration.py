"""Moving the models out of the workflow keeps every row, on a real database file: a fresh data folder is
migrated, given a subscription, a notification and its delivery, taken back to where the workflow owned
the three tables (``migrate notifications zero``: the state before this app existed) and migrated forward
again; every row is still there, read through the notifications app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HANDOVER = str(Path(sys.executable).with_name("handover"))
ROOT = Path(__file__).resolve().parents[2]

ROWS = """
import datetime as dt, json
from tests.factories import World
from handover.notifications.models import Delivery, Notification, Subscription
from handover.org.models import Person, Role
world = World()
person = Person.objects.get(user=world.login_with(Role.TECH_GROUP, username="kept"))
at = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
sub = Subscription.objects.create(person=person, topic="feedback", channel="webhook",
                                  target="https://qyapi.weixin.qq.com/x", created_at=at)
note = Notification.objects.create(person=person, topic="feedback", title="甲营业部: T-01 late", created_at=at)
Delivery.objects.create(notification=note, subscription=sub)
print("ROWS", json.dumps([person.pk, sub.pk, note.pk]))
"""
READ = """
import json
from django.db import connection
from handover.notifications.models import Delivery, Notification, OptOut, Subscription
s, n, d = Subscription.objects.get(), Notification.objects.get(), Delivery.objects.get()
OptOut.objects.create(person=s.person, topic="vault.reveal_request", created_at=s.created_at)
print("READ", json.dumps([s.person_id, s.pk, n.pk, s.topic, s.target, n.title, d.notification_id,
                          d.subscription_id, d.status, sorted(connection.introspection.table_names())]))
"""


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([HANDOVER, *args], env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, f"handover {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def printed(stdout: str, marker: str) -> list:
    line = next(line for line in stdout.splitlines() if line.startswith(f"{marker} "))
    return json.loads(line.split(" ", 1)[1])


def test_moving_the_models_keeps_every_subscription_notification_and_delivery(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "DJANGO_"))}
    env.update(
        HANDOVER_DATA_DIR=str(tmp_path / "data"),
        DJANGO_SETTINGS_MODULE="handover.settings.local",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    run(env, "migrate", "--no-input", "-v", "0")
    person, subscription, note = printed(run(env, "shell", "-c", ROWS), "ROWS")

    run(env, "migrate", "notifications", "zero", "--no-input", "-v", "0")
    back = run(env, "showmigrations", "workflow", "notifications")
    assert "[ ] 0003_notifications_moved_out" in back and "[X] 0002_notes_and_stabilisation_steps" in back
    run(env, "migrate", "--no-input", "-v", "0")

    read = printed(run(env, "shell", "-c", READ), "READ")
    assert read[:9] == [
        person, subscription, note, "feedback", "https://qyapi.weixin.qq.com/x", "甲营业部: T-01 late",
        note, subscription, "pending",
    ]  # fmt: skip
    tables = set(read[9])
    assert {"workflow_subscription", "workflow_notification", "workflow_delivery"} <= tables
    assert "notifications_optout" in tables
