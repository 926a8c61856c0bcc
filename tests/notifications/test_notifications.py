"""Notifications: in the app, by email and by a JSON webhook (a real HTTP server on loopback), per person
and event type, digest for observers; a webhook's token never reaches the trail or an error."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from handover.audit.models import Event
from handover.core.errors import DomainError
from handover.notifications import services as notifications
from handover.notifications.models import Channel, Delivery, DeliveryStatus, Notification
from handover.workflow import services
from handover.workflow import topics as Topic
from handover.workflow.models import StepInstance
from tests.workflow.conftest import at, source_row, start_handover


class Robot:
    """A webhook receiver like a 企业微信 / 钉钉 robot: records every JSON body; answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.status = 200
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                robot.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(robot.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/robot/send?access_token=SECRETTOKEN123"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot(settings):
    settings.HANDOVER_WEBHOOK_HOSTS = ["127.0.0.1"]
    receiver = Robot()
    yield receiver
    receiver.close()


def _feedback(world, people):
    t01 = StepInstance.objects.get(site=world.branch_a, step_id="T-01")
    services.feedback_record(
        actor=people["onsite"], step=t01, reason="介质不足", expected_at=at(2, 2), now=at(1, 21)
    )


def test_subscribers_in_scope_are_told_in_the_app_by_email_and_by_webhook(world, people, robot):
    start_handover(world, people)
    e = world.engagement
    notifications.subscription_set(
        actor=people["tech"], engagement=e, topic=Topic.FEEDBACK, channel=Channel.IN_APP
    )
    notifications.subscription_set(
        actor=people["tech"],
        engagement=e,
        topic=Topic.FEEDBACK,
        channel=Channel.EMAIL,
        target="tg@example.com",
    )
    notifications.subscription_set(
        actor=people["onsite"], engagement=e, topic=Topic.FEEDBACK, channel=Channel.WEBHOOK, target=robot.url
    )
    notifications.subscription_set(
        actor=people["onsite_b"], engagement=e, topic=Topic.FEEDBACK, channel=Channel.IN_APP
    )
    _feedback(world, people)
    told = set(
        Notification.objects.filter(topic=Topic.FEEDBACK).values_list("person__user__username", flat=True)
    )
    assert told == {"tech", "onsite_a"}  # not branch B's post: the step is not in its scope
    assert notifications.deliver(digest=False) == {"sent": 2, "failed": 0}
    assert (
        len(mail.outbox) == 1 and mail.outbox[0].to == ["tg@example.com"] and "T-01" in mail.outbox[0].subject
    )
    assert robot.bodies[0]["msgtype"] == "text" and "介质不足" in robot.bodies[0]["text"]["content"]
    assert notifications.deliver(digest=False) == {"sent": 0, "failed": 0}


def test_a_webhook_whose_host_is_no_longer_allowed_is_not_posted_to(world, people, robot, settings):
    start_handover(world, people)
    notifications.subscription_set(
        actor=people["onsite"],
        engagement=world.engagement,
        topic=Topic.FEEDBACK,
        channel=Channel.WEBHOOK,
        target=robot.url,
    )
    settings.HANDOVER_WEBHOOK_HOSTS = ["qyapi.weixin.qq.com"]
    _feedback(world, people)
    assert notifications.deliver(digest=False) == {"sent": 0, "failed": 1}
    assert robot.bodies == [] and Delivery.objects.get().error == "ValueError"


def test_a_failing_webhook_is_retried_and_its_token_is_never_recorded(world, people, robot):
    start_handover(world, people)
    notifications.subscription_set(
        actor=people["onsite"],
        engagement=world.engagement,
        topic=Topic.FEEDBACK,
        channel=Channel.WEBHOOK,
        target=robot.url,
    )
    robot.status = 500
    _feedback(world, people)
    for _attempt in range(notifications.MAX_ATTEMPTS):
        assert notifications.deliver(digest=False)["failed"] == 1
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.error == "HTTP 500"
    assert len(robot.bodies) == notifications.MAX_ATTEMPTS
    trail = " ".join(str(ev.after) + str(ev.before) for ev in Event.objects.all())
    assert "SECRETTOKEN123" not in trail and "127.0.0.1" in trail


def test_observers_get_a_daily_digest_without_site_details(world, people, robot):
    start_handover(world, people)
    notifications.subscription_set(
        actor=people["observer"],
        engagement=world.engagement,
        topic=Topic.CASE_OPEN,
        channel=Channel.WEBHOOK,
        target=robot.url,
        digest=True,
    )
    for number in (14, 8):
        services.case_open(
            actor=people["onsite"],
            engagement=world.engagement,
            path_id="E05",
            source_row=source_row(world.engagement, world.branch_a, number),
            description="备份失败",
        )
    assert notifications.deliver(digest=False) == {"sent": 0, "failed": 0}
    notes = list(Notification.objects.filter(person__user=people["observer"], topic=Topic.CASE_OPEN))
    assert len(notes) == 2 and all("甲营业部" not in n.title and not n.body for n in notes)
    assert notifications.deliver(digest=True) == {"sent": 2, "failed": 0}
    assert len(robot.bodies) == 1 and len(robot.bodies[0]["handover"]["items"]) == 2


def test_subscriptions_check_their_address_and_end(world, people):
    e = world.engagement
    with pytest.raises(DomainError) as refused:
        notifications.subscription_set(
            actor=people["tech"],
            engagement=e,
            topic=Topic.PHASE,
            channel=Channel.EMAIL,
            target="not an address",
        )
    assert refused.value.field == "target"
    with pytest.raises(DomainError):
        notifications.subscription_set(
            actor=people["tech"],
            engagement=e,
            topic=Topic.PHASE,
            channel=Channel.WEBHOOK,
            target="file:///etc/passwd",
        )
    sub = notifications.subscription_set(
        actor=people["tech"], engagement=e, topic=Topic.PHASE, channel=Channel.IN_APP
    )
    notifications.subscription_end(actor=people["tech"], subscription=sub)
    start_handover(world, people)
    # The others hear of the phase by default; 技术组, who moved it, is not told of its own act.
    assert Notification.objects.filter(topic=Topic.PHASE).exists()
    assert not Notification.objects.filter(person__user=people["tech"]).exists()


def test_the_inbox_and_subscription_pages(world, people, client):
    start_handover(world, people)
    client.force_login(people["tech"])
    url = f"/n/{world.engagement.code}/subscriptions/"
    assert client.post(url, {"topic": Topic.FEEDBACK, "channel": Channel.IN_APP}).status_code == 302
    assert (
        client.post(url, {"topic": Topic.FEEDBACK, "channel": Channel.EMAIL, "target": "x"}).status_code
        == 400
    )
    _feedback(world, people)
    inbox = client.get(f"/n/{world.engagement.code}/").content.decode()
    assert "T-01" in inbox and "介质不足" in inbox
    client.post(f"/n/{world.engagement.code}/")
    assert not Notification.objects.filter(person__user=people["tech"], read_at__isnull=True).exists()
