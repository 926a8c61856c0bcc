"""What the workflow tells, and to whom by default (notifications/topics.py). The codes are those the
stored notifications and subscriptions already carry."""

from django.utils.translation import gettext_lazy as _

from handover.notifications import topics
from handover.org import permissions as perms

# 第二十七条第2项: the sites report late steps the same day to 技术组, and what stays late is escalated to it.
FEEDBACK = topics.register(
    "feedback", _("Same-day feedback from a site"), audience=topics.holders_of(perms.MANAGE_WORKFLOW)
)
ESCALATION = topics.register(
    "escalation", _("Late step escalated"), audience=topics.holders_of(perms.MANAGE_WORKFLOW)
)
# The site's 现场技术岗位 is told that its own same-day feedback is due (deadline to its owner).
FEEDBACK_DUE = topics.register(
    "feedback_due", _("Same-day feedback due at my site"), audience=topics.holders_of(perms.REPORT_FEEDBACK)
)
# 第二十八条: an exception path concerns 技术组 and the site's post that supervises it.
CASE_OPEN = topics.register(
    "case_open",
    _("Exception path started"),
    audience=topics.holders_of(perms.MANAGE_WORKFLOW, perms.REPORT_FEEDBACK),
)
CASE_CLOSE = topics.register(
    "case_close",
    _("Exception path closed"),
    audience=topics.holders_of(perms.MANAGE_WORKFLOW, perms.REPORT_FEEDBACK),
)
PHASE = topics.register("phase", _("Phase transition"), audience=topics.holders_of(perms.VIEW_SUMMARY))
REMINDER = topics.register(
    "reminder", _("Something falls due (稳定期)"), audience=topics.holders_of(perms.REPORT_FEEDBACK)
)
