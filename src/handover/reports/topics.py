"""What the reports app tells, and to whom by default (notifications/topics.py)."""

from django.utils.translation import gettext_lazy as _

from handover.notifications import topics
from handover.org import permissions as perms

# 第二十七条第4项: 技术组 builds the package, the working group approves it; each side hears of the other's step.
PACKAGE_BUILT = topics.register(
    "reports.package_built",
    _("Handover package waiting for the working group's approval"),
    audience=topics.holders_of(perms.APPROVE_PACKAGE),
)
PACKAGE_APPROVED = topics.register(
    "reports.package_approved",
    _("Handover package approved by the working group"),
    audience=topics.holders_of(perms.MANAGE_PACKAGES),
)
