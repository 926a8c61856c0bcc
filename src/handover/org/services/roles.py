"""Granting and revoking roles: the role fits the person's party and the separation of duties holds."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from handover.audit.services import event_record, snapshot
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import events
from handover.org import permissions as perms
from handover.org.models import (
    ObserverBody,
    Party,
    Person,
    Role,
    RoleAssignment,
    Site,
)
from handover.org.selectors import require


def _held_roles(person: Person) -> set[str]:
    """Roles held by this person and, through the same login, in any engagement."""
    qs = RoleAssignment.objects.filter(revoked_at__isnull=True)
    qs = qs.filter(person__user=person.user) if person.user_id else qs.filter(person=person)
    return set(qs.values_list("role", flat=True))


def _check_role_party(*, person: Person, role: str) -> None:
    """第八条: 被托管技术方 and 被托管机构财务 only for the firm's people, custodian roles only for the custodian's."""
    if perms.role_fits_party(role, person.party):
        return
    parties = pgettext("list separator", ", ").join(
        str(Party(p).label) for p in sorted(perms.ROLE_PARTIES[role])
    )
    raise DomainError(
        _(
            "%(role)s is held only by a person of the party %(parties)s, and %(name)s is %(party)s "
            "(第八条: the custodian supervises, the firm executes)."
        )
        % {
            "role": Role(role).label,
            "parties": parties,
            "name": person.name,
            "party": person.get_party_display(),
        },
        field="role",
    )


def role_grant(
    *, actor: Actor, person: Person, role: str, site: Site | None = None, observer_body: str = ""
) -> RoleAssignment:
    """Give a person a role at a site (and its subtree) or engagement-wide, under 三权分立."""
    engagement = person.engagement
    require(user=actor, engagement=engagement, capability=perms.MANAGE_ROLES)
    role_label = Role(role).label
    if role in perms.ENGAGEMENT_WIDE_ROLES and site is not None:
        raise DomainError(
            _("%(role)s is held engagement-wide; leave the site empty.") % {"role": role_label}, field="site"
        )
    if role in perms.SITE_ROLES and site is None:
        raise DomainError(
            _("%(role)s is held at a site; choose the site.") % {"role": role_label}, field="site"
        )
    if site is not None and site.engagement_id != engagement.pk:
        raise DomainError(_("The site belongs to another engagement."), field="site")
    if role == Role.OBSERVER and observer_body not in ObserverBody.values:
        raise DomainError(
            _("Say whom the observer represents: the custody working group or the local CSRC bureau."),
            field="observer_body",
        )
    if not person.is_active:
        raise DomainError(_("%(name)s is deactivated.") % {"name": person.name}, field="person")
    _check_role_party(person=person, role=role)
    if person.user_id is not None and person.user_id == getattr(actor, "pk", None):
        raise DomainError(
            _("Nobody grants a role to themselves; ask another member of the technical group."),
            field="person",
        )
    conflict = perms.separation_conflict(_held_roles(person), role)
    if conflict:
        raise DomainError(
            _(
                "Separation of duties (三权分立): %(name)s already holds %(held)s, which cannot be combined with "
                "%(role)s. Observers, auditors and system administrators hold no other role."
            )
            % {"name": person.name, "held": Role(conflict).label, "role": role_label},
            field="role",
        )
    if RoleAssignment.objects.filter(person=person, role=role, site=site, revoked_at__isnull=True).exists():
        raise DomainError(_("%(name)s already holds this role here.") % {"name": person.name}, field="role")
    try:
        with transaction.atomic():
            assignment = RoleAssignment.objects.create(
                engagement=engagement,
                person=person,
                role=role,
                site=site,
                observer_body=observer_body if role == Role.OBSERVER else "",
            )
            event_record(
                actor=actor,
                action=events.ROLE_GRANT,
                engagement_id=engagement.pk,
                site_id=site.pk if site else None,
                obj=assignment,
                after=snapshot(assignment),
            )
    except IntegrityError:
        raise DomainError(
            _("%(name)s already holds this role here.") % {"name": person.name}, field="role"
        ) from None
    return assignment


def _revoke(*, actor: Actor, assignment: RoleAssignment) -> None:
    assignment.revoked_at = timezone.now()
    assignment.save(update_fields=["revoked_at"])
    event_record(
        actor=actor,
        action=events.ROLE_REVOKE,
        engagement_id=assignment.engagement_id,
        site_id=assignment.site_id,
        obj=assignment,
        after={"revoked_at": assignment.revoked_at},
    )


def role_revoke(*, actor: Actor, assignment: RoleAssignment) -> None:
    require(user=actor, engagement=assignment.engagement, capability=perms.MANAGE_ROLES)
    with transaction.atomic():
        _revoke(actor=actor, assignment=assignment)
