"""What the notifications store: a person's subscriptions (email, webhook, digest), the topics they turned
off, their messages, and each sending of a message by email or webhook.

The three first tables were the workflow's (migration 0001 took them over with their names and rows); a
topic is a code of the registry (topics.py), not a fixed choice, so that any app can add its own.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from handover.org.models import Person


class Channel(models.TextChoices):
    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook (JSON, e.g. a 企业微信 or 钉钉 robot)")


class Subscription(models.Model):
    """A person's wish to hear of ``topic`` by ``channel``; with ``digest``, once a day in one message.

    ``target`` is the email address or the webhook URL. A robot's URL carries its access token, so it is
    never written to the audit trail, a log or an error: only its host is.
    """

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="subscriptions")
    topic = models.CharField(_("event type"), max_length=40)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    target = models.CharField(_("address"), max_length=500, blank=True)
    digest = models.BooleanField(_("daily digest"), default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "workflow_subscription"
        constraints = [
            models.UniqueConstraint(fields=["person", "topic", "channel"], name="workflow_subscription_once")
        ]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self) -> str:
        return f"{self.person} {self.topic} {self.channel}"

    @property
    def topic_label(self) -> object:
        from handover.notifications import topics

        return topics.label(self.topic)


class OptOut(models.Model):
    """A topic a person turned off: the topic's default audience no longer tells them of it in the app."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="notification_opt_outs")
    topic = models.CharField(_("event type"), max_length=40)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "topic"], name="notifications_opt_out_once")]
        verbose_name = _("topic turned off")
        verbose_name_plural = _("topics turned off")

    def __str__(self) -> str:
        return f"{self.person} -{self.topic}"


class Notification(models.Model):
    """One message for one person; shown in the app, and sent by the person's other channels."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="notifications")
    topic = models.CharField(max_length=40)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "workflow_notification"
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The header's unread count: one index range per page.
            models.Index(
                fields=["person"], condition=models.Q(read_at__isnull=True), name="notifications_unread_idx"
            )
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.title


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    """Sending a notification by email or webhook; digest deliveries wait for the daily digest."""

    notification = models.ForeignKey(Notification, on_delete=models.PROTECT, related_name="deliveries")
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="deliveries")
    digest = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "workflow_delivery"
        indexes = [models.Index(fields=["status", "digest"], name="workflow_de_status_cb8c7a_idx")]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")

    def __str__(self) -> str:
        return f"{self.notification_id} via {self.subscription_id}: {self.status}"
