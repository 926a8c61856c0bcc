"""What the security management tells, and to whom by default (notifications/topics.py)."""

from django.utils.translation import gettext_lazy as _

from handover.notifications import topics
from handover.org import permissions as perms

# 三(四)三: a reporting clock or a drill falls due; those who record incidents, plans and drills are told.
REMINDER = topics.register(
    "risk_reminder", _("A security deadline falls due"), audience=topics.holders_of(perms.MANAGE_RISK)
)
# A deadline passed: 技术组 (who accepts risks) and the working group's observers (the summary title).
ESCALATION = topics.register(
    "risk_escalation",
    _("A security deadline passed"),
    audience=topics.holders_of(perms.ACCEPT_RISK, perms.VIEW_SUMMARY),
)
