"""第八条 「重要操作实行双人签字」 for rotation's requests (permission restores, original passwords back, 停用): one
person asks, another approves — never the same person under another of their logins (``org.selectors.one_side``)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from handover.accounts.models import User
from handover.audit.services import event_record
from handover.core.actors import Actor, actor_name
from handover.core.errors import DomainError, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Site
from handover.org.selectors import one_side, require

Request = TypeVar("Request", bound=models.Model)


def second_person_approve(
    *, actor: Actor, request: Request, site: Site, action: str, after: dict[str, Any], refusals: tuple[str, str, str],
    field: str,
) -> Request:  # fmt: skip
    """Approve ``request`` (state ``requested`` → ``approved``, who and when, an audit event ``action``) as
    ``actor`` with MANAGE_WORKFLOW at ``site``. ``refusals``: (not a person, the asker themself, not waiting)."""
    not_a_person, own, not_waiting = refusals
    engagement = request.engagement  # type: ignore[attr-defined]
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW, site=site)
    if not isinstance(actor, User):
        raise PermissionDenied(not_a_person)
    asker = request.requested_by  # type: ignore[attr-defined]
    if asker is not None and one_side(a=actor, b=asker):  # any of their logins
        raise PermissionDenied(own)
    with transaction.atomic():
        locked = type(request)._default_manager.select_for_update().get(pk=request.pk)
        if locked.state != "requested":  # type: ignore[attr-defined]
            raise DomainError(not_waiting, field=field)
        locked.state, locked.approved_by, locked.approved_at = "approved", actor, timezone.now()  # type: ignore[attr-defined]
        locked.approved_by_name = actor_name(actor)  # type: ignore[attr-defined]
        locked.save(update_fields=["state", "approved_by", "approved_by_name", "approved_at"])
        event_record(actor=actor, action=action, engagement_id=engagement.pk, site_id=site.pk, obj=locked,
                     after=after)  # fmt: skip
    return locked
