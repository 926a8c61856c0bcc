"""What the backup verification tells, and to whom by default (notifications/topics.py)."""

from django.utils.translation import gettext_lazy as _

from handover.notifications import topics
from handover.org import permissions as perms

# 第二十六条第5项: signs of tampering or deletion are reported to 托管工作组 at once, by 技术组; the site's
# post hears of it too.
TAMPER_FLAG = topics.register(
    "backups.tamper",
    _("Signs of tampering in a backup"),
    audience=topics.holders_of(perms.MANAGE_WORKFLOW, perms.REPORT_FEEDBACK),
)
