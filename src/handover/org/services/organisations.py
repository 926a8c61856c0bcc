"""Writes to organisations: create, update, deactivate; the firm's real name never enters the trail (第十一条)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record, snapshot
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import events
from handover.org import permissions as perms
from handover.org.models import (
    Engagement,
    Organisation,
)
from handover.org.selectors import require
from handover.org.services.common import _deactivate, _firm_name_hidden, _firm_private, _save_changes


def _organisation_name_free(engagement: Engagement, name: str, exclude: int | None = None) -> None:
    qs = Organisation.objects.filter(engagement=engagement, name=name)
    if exclude:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise DomainError(
            _("An organisation named %(name)s exists already in this engagement.") % {"name": name},
            field="name",
        )


def organisation_create(
    *,
    actor: Actor,
    engagement: Engagement,
    name: str,
    type: str,
    contact_person: str = "",
    phone: str = "",
    address: str = "",
) -> Organisation:
    require(user=actor, engagement=engagement, capability=perms.MANAGE_ORGS)
    name = name.strip()
    _organisation_name_free(engagement, name)
    with transaction.atomic():
        organisation = Organisation.objects.create(
            engagement=engagement,
            name=name,
            type=type,
            contact_person=contact_person,
            phone=phone,
            address=address,
        )
        event_record(
            actor=actor,
            action=events.ORG_CREATE,
            engagement_id=engagement.pk,
            obj=organisation,
            after=_firm_name_hidden(organisation, snapshot(organisation)),
        )
    return organisation


def organisation_update(*, actor: Actor, organisation: Organisation, **fields: Any) -> Organisation:
    engagement = organisation.engagement
    require(user=actor, engagement=engagement, capability=perms.MANAGE_ORGS)
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        _organisation_name_free(engagement, fields["name"], exclude=organisation.pk)
    _save_changes(
        actor=actor, instance=organisation, fields=fields, action=events.ORG_UPDATE, private=_firm_private
    )
    return organisation


def organisation_deactivate(*, actor: Actor, organisation: Organisation) -> None:
    require(user=actor, engagement=organisation.engagement, capability=perms.MANAGE_ORGS)
    _deactivate(actor=actor, instance=organisation, action=events.ORG_DEACTIVATE)
