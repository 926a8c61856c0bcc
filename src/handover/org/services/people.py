"""Writes to people: create, update, deactivate; a party change is checked against the roles held."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.models import Event
from handover.audit.services import event_record, snapshot
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import events
from handover.org import permissions as perms
from handover.org.models import (
    Employment,
    Engagement,
    Party,
    Person,
)
from handover.org.selectors import require, require_at
from handover.org.services.common import _deactivate, _save_changes
from handover.org.services.logins import _check_link
from handover.org.services.roles import _revoke


def _clean_person(engagement: Engagement, fields: dict[str, Any]) -> None:
    organisation = fields.get("organisation")
    if organisation is not None and organisation.engagement_id != engagement.pk:
        raise DomainError(_("The organisation belongs to another engagement."), field="organisation")
    site = fields.get("site")
    if site is not None and site.engagement_id != engagement.pk:
        raise DomainError(_("The site belongs to another engagement."), field="site")
    if fields.get("employment") == Employment.LEFT and not fields.get("leave_date"):
        raise DomainError(
            _("A person who has left needs a leave date (表5 covers the half year before D)."),
            field="leave_date",
        )
    if fields.get("employment") == Employment.EMPLOYED:
        fields["leave_date"] = None


def person_create(*, actor: Actor, engagement: Engagement, **fields: Any) -> Person:
    """Add a person; 现场技术岗位 may add people at their own sites, 技术组 anywhere.

    A login given here (the demo's set-up) is a link like person_link_login's: 技术组's to make.
    """
    # L4: a person without a site is seen at every site's pickers, so only an engagement-wide role adds one.
    require_at(user=actor, engagement=engagement, capability=perms.MANAGE_PEOPLE, site=fields.get("site"))
    _clean_person(engagement, fields)
    if fields.get("user") is not None:
        require(user=actor, engagement=engagement, capability=perms.MANAGE_ROLES)
        _check_link(person=Person(engagement=engagement, **fields), user=fields["user"])
    with transaction.atomic():
        person = Person.objects.create(engagement=engagement, **fields)
        event_record(
            actor=actor,
            action=events.PERSON_CREATE,
            engagement_id=engagement.pk,
            site_id=person.site_id,
            obj=person,
            after=snapshot(person),
        )
    return person


def person_update(*, actor: Actor, person: Person, **fields: Any) -> Person:
    """Change a person's particulars. The login is not one of them: see person_link_login."""
    if "user" in fields:
        raise DomainError(
            _("A login account is linked to a person by 技术组 on the person's page, not by editing them."),
            field="user",
        )
    engagement = person.engagement
    require_at(user=actor, engagement=engagement, capability=perms.MANAGE_PEOPLE, site=person.site)
    if "site" in fields:
        require_at(user=actor, engagement=engagement, capability=perms.MANAGE_PEOPLE, site=fields["site"])
    if "party" in fields and fields["party"] != person.party:
        _check_party_change(person=person, party=fields["party"])
    merged = {"employment": person.employment, "leave_date": person.leave_date, **fields}
    _clean_person(engagement, merged)
    fields["leave_date"] = merged["leave_date"]
    site = fields.get("site", person.site)
    _save_changes(
        actor=actor,
        instance=person,
        fields=fields,
        action=events.PERSON_UPDATE,
        site_id=site.pk if site else None,
    )
    return person


def _check_party_change(*, person: Person, party: str) -> None:
    """第八条: a person's party decides which side of a dual signature they may sign for (ROLE_PARTIES).

    A person who holds or held a role, or who has or had a login, stays on their side (custodian, firm,
    vendor): relabelling a custodian as firm IT would let the custodian sign as the firm. A person never
    given a login nor a role may be corrected freely."""
    if perms.side_of(party) == perms.side_of(person.party):
        return
    unlinked = Event.objects.filter(
        engagement_id=person.engagement_id, action=events.PERSON_UNLINK_LOGIN, object_id=str(person.pk)
    )
    if person.user_id is not None or person.roles.exists() or unlinked.exists():
        raise DomainError(
            _(
                "%(name)s has had a login or a role, so they cannot become %(party)s: the two signatures of "
                "第八条 belong to two sides, and nobody changes side. Deactivate them and add the person anew."
            )
            % {"name": person.name, "party": Party(party).label},
            field="party",
        )


def person_deactivate(*, actor: Actor, person: Person) -> None:
    """Deactivate a person and revoke every role they hold."""
    require_at(user=actor, engagement=person.engagement, capability=perms.MANAGE_PEOPLE, site=person.site)
    with transaction.atomic():
        _deactivate(actor=actor, instance=person, action=events.PERSON_DEACTIVATE, site_id=person.site_id)
        for assignment in person.roles.filter(revoked_at__isnull=True):
            _revoke(actor=actor, assignment=assignment)
