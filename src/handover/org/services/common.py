"""What the org services share: the firm's name kept out of the trail (第十一条), saving changes with their
before and after, deactivating."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from handover.audit.services import changed, event_record, snapshot
from handover.core.actors import Actor
from handover.org.models import (
    Organisation,
    OrgType,
)

# 第十一条: the firm's real name never enters the trail (it is read by auditors and exported); a change to it
# is recorded as a change, with this in place of the values.
HIDDEN_IN_TRAIL = "(第十一条)"


def _firm_private(organisation: Organisation) -> set[str]:
    """The fields of an organisation that its events must not carry: the firm's name."""
    return {"name"} if organisation.type == OrgType.FIRM else set()


def _firm_name_hidden(organisation: Organisation, payload: dict[str, Any]) -> dict[str, Any]:
    return {k: HIDDEN_IN_TRAIL if k in _firm_private(organisation) else v for k, v in payload.items()}


def _save_changes(
    *,
    actor: Actor,
    instance: Any,
    fields: dict[str, Any],
    action: str,
    site_id: int | None = None,
    private: Any = None,
) -> None:
    """Apply field changes and record only what changed, in one transaction. ``private(instance)`` names
    the fields whose values the trail must not hold (before or after the change): they are recorded as
    changed, with HIDDEN_IN_TRAIL for their values."""
    before = snapshot(instance)
    hidden = set(private(instance)) if private else set()
    with transaction.atomic():
        for key, value in fields.items():
            setattr(instance, key, value)
        instance.save()
        hidden |= set(private(instance)) if private else set()
        old, new = changed(before, snapshot(instance))
        old = {k: HIDDEN_IN_TRAIL if k in hidden else v for k, v in old.items()}
        new = {k: HIDDEN_IN_TRAIL if k in hidden else v for k, v in new.items()}
        event_record(
            actor=actor,
            action=action,
            engagement_id=instance.engagement_id,
            site_id=site_id,
            obj=instance,
            before=old,
            after=new,
        )


def _deactivate(*, actor: Actor, instance: Any, action: str, site_id: int | None = None) -> None:
    """Mark a row inactive (rows are never deleted: registers refer to them) and record it."""
    with transaction.atomic():
        type(instance).objects.filter(pk=instance.pk).update(is_active=False)
        event_record(
            actor=actor,
            action=action,
            engagement_id=instance.engagement_id,
            site_id=site_id,
            obj=instance,
            before={"is_active": True},
            after={"is_active": False},
        )
    instance.is_active = False
