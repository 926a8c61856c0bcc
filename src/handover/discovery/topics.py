"""What discovery tells, and to whom by default (notifications/topics.py)."""

from django.utils.translation import gettext_lazy as _

from handover.notifications import topics
from handover.org import permissions as perms

# 第二十二条, 第二十六条第2项: a new high-severity finding (a super-user nobody listed, a departed person's
# key) or a host that could not be gathered is the technical group's and the site's post's to act on.
RUN_ATTENTION = topics.register(
    "discovery.run_attention",
    _("Discovery run: new high-severity findings or failed targets"),
    audience=topics.holders_of(perms.RUN_DISCOVERY),
)
