"""Audit actions of the notifications. The subscription codes keep the names they had when the workflow
owned notifications, so the trail's older events still match them."""

from django.utils.translation import gettext_lazy as _

SUBSCRIPTION_SET = "workflow.subscription.set"
SUBSCRIPTION_END = "workflow.subscription.end"
TOPIC_OFF = "notifications.topic.off"
TOPIC_ON = "notifications.topic.on"

ACTIONS = {
    SUBSCRIPTION_SET: _("Notification subscription set"),
    SUBSCRIPTION_END: _("Notification subscription ended"),
    TOPIC_OFF: _("Notification topic turned off"),
    TOPIC_ON: _("Notification topic turned back on"),
}
