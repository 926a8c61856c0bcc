"""Reads of login accounts, for system administrators only."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from handover.accounts.models import User
from handover.core.actors import Actor
from handover.core.errors import NotFound, PermissionDenied
from handover.org import permissions as perms
from handover.org.selectors import engagement_ids_for


def account_list(*, user: Actor) -> QuerySet[User]:
    """Logins of people in the administrator's engagements, plus logins not yet tied to any person."""
    ids = engagement_ids_for(user=user, capability=perms.MANAGE_ACCOUNTS)
    if not ids:
        raise PermissionDenied(_("You do not have the role needed for this here."))
    in_scope = User.objects.filter(persons__engagement_id__in=ids)
    unattached = User.objects.filter(persons__isnull=True, is_superuser=False)
    return (in_scope | unattached).distinct().order_by("username")


def account_get(*, user: Actor, user_id: int) -> User:
    account = account_list(user=user).filter(pk=user_id).first()
    if account is None:
        raise NotFound(_("No login account %(id)s is open to you.") % {"id": user_id})
    return account
