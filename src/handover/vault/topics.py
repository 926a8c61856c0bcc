"""What the vault tells, and to whom by default (notifications/topics.py)."""

from django.utils.translation import gettext_lazy as _

from handover.notifications import topics
from handover.org import permissions as perms

# 第二十二条, 第八条: a reveal request goes to those who may approve it at the entry's site; ``notify`` leaves
# out every person of the requester's login, so nobody is asked to approve their own request.
REVEAL_REQUEST = topics.register(
    "vault.reveal_request",
    _("A secret asked to be revealed, to approve"),
    audience=topics.holders_of(perms.VAULT_APPROVE),
)
