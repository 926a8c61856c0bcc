"""Linking people to login accounts, with the separation checks of DESIGN decision 9 (one person is never enough)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from handover.audit.models import Event
from handover.audit.services import event_record
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import events
from handover.org import permissions as perms
from handover.org.models import (
    Employment,
    Engagement,
    Party,
    Person,
    Role,
    RoleAssignment,
)
from handover.org.selectors import require

#
# 第十二条 and 第十五条第3项: 技术组 manages the IT staff of the custody and decides who holds which role;
# a linked login acts with the roles of its person, so linking needs MANAGE_ROLES, which a 现场技术岗位
# (第十三条) does not hold. 第八条: important operations carry the signatures of two different people, the
# custodian supervising and the firm executing; one login must never stand for both sides.


# ``Any`` for ``user`` here: a login (accounts.User), which org, a sibling of accounts, cannot import.
def _login_name(user: Any) -> str:
    return str(user.get_username())


def _parties_of_login(*, engagement: Engagement, user: Any, exclude: int) -> dict[str, str]:
    """Party → name of each other person of the engagement the login stands for or once stood for.

    Past links come from the trail (each unlink records the login it removed), so unlinking and relinking
    cannot turn an executor's login into a supervisor's."""
    person_ids = {
        int(pk)
        for pk in Event.objects.filter(
            engagement_id=engagement.pk, action=events.PERSON_UNLINK_LOGIN, before__user=user.pk
        ).values_list("object_id", flat=True)
    }
    linked = Person.objects.filter(engagement=engagement).filter(Q(user=user) | Q(pk__in=person_ids))
    return {p.party: p.name for p in linked.exclude(pk=exclude).order_by("pk")}


def _check_link(*, person: Person, user: Any) -> None:
    """Refuse a link that would give a login to the wrong person; the message names both."""
    names = {"name": person.name, "login": _login_name(user)}
    if not person.is_active or person.employment == Employment.LEFT:
        raise DomainError(
            _("%(name)s is deactivated or has left; a login account cannot be linked to them.") % names,
            field="person",
        )
    if not user.is_active:
        raise DomainError(
            _("The login account %(login)s is disabled; ask a system administrator to enable it first.")
            % names,
            field="user",
        )
    for party, other in _parties_of_login(engagement=person.engagement, user=user, exclude=person.pk).items():
        if party != person.party:
            raise DomainError(
                _(
                    "The login account %(login)s is or was %(other)s's (%(other_party)s) in this engagement; "
                    "giving it to %(name)s (%(party)s) would let one login sign both sides of a dual "
                    "signature (第八条). Ask a system administrator for a login of their own."
                )
                % {
                    **names,
                    "other": other,
                    "other_party": Party(party).label,
                    "party": person.get_party_display(),
                },
                field="user",
            )
    holder = Person.objects.filter(engagement=person.engagement, user=user).exclude(pk=person.pk).first()
    if holder is not None:
        raise DomainError(
            _(
                "The login account %(login)s is linked to %(other)s already; one login is one person in an "
                "engagement. Unlink it from %(other)s first."
            )
            % {**names, "other": holder.name},
            field="user",
        )
    _check_login_separation(person=person, user=user)


def _check_login_separation(*, person: Person, user: Any) -> None:
    """三权分立 across engagements: the login must not join roles that role_grant would refuse to join."""
    if person.pk is None:
        return
    held = set(
        RoleAssignment.objects.filter(person__user=user, revoked_at__isnull=True)
        .exclude(person=person)
        .values_list("role", flat=True)
    )
    for role in person.roles.filter(revoked_at__isnull=True).values_list("role", flat=True):
        conflict = perms.separation_conflict(held, role)
        if conflict:
            raise DomainError(
                _(
                    "Separation of duties (三权分立): the login account %(login)s holds %(held)s elsewhere, "
                    "which cannot be combined with %(name)s's role %(role)s."
                )
                % {
                    "login": _login_name(user),
                    "held": Role(conflict).label,
                    "name": person.name,
                    "role": Role(role).label,
                },
                field="user",
            )


def _forget_grants(*users: Any) -> None:
    """Drop the roles cached on these login objects (selectors.grants_for), which the link just changed."""
    for user in users:
        if user is not None:
            vars(user).pop("_handover_grants", None)


def _record_unlink(*, actor: Actor, person: Person, user: Any) -> None:
    event_record(
        actor=actor,
        action=events.PERSON_UNLINK_LOGIN,
        engagement_id=person.engagement_id,
        site_id=person.site_id,
        obj=person,
        before={"user": user.pk, "username": _login_name(user)},
        after={"user": None},
    )


def person_link_login(*, actor: Actor, person: Person, user: Any) -> Person:
    """Link a login account to a person, so that the login acts with the person's roles (技术组 only).

    A person linked to another login is relinked: the old link is removed and both are recorded."""
    require(user=actor, engagement=person.engagement, capability=perms.MANAGE_ROLES)
    if person.user_id == user.pk:
        raise DomainError(
            _("%(name)s is linked to the login account %(login)s already.")
            % {"name": person.name, "login": _login_name(user)},
            field="user",
        )
    _check_link(person=person, user=user)
    old = person.user
    try:
        with transaction.atomic():
            if old is not None:
                _record_unlink(actor=actor, person=person, user=old)
            person.user = user
            person.save(update_fields=["user"])
            _forget_grants(user, old)
            event_record(
                actor=actor,
                action=events.PERSON_LINK_LOGIN,
                engagement_id=person.engagement_id,
                site_id=person.site_id,
                obj=person,
                before={"user": old.pk if old else None},
                after={"user": user.pk, "username": _login_name(user)},
            )
    except IntegrityError:
        person.user = old
        raise DomainError(
            _("The login account %(login)s was linked to another person of this engagement just now.")
            % {"login": _login_name(user)},
            field="user",
        ) from None
    return person


def person_unlink_login(*, actor: Actor, person: Person) -> Person:
    """Remove a person's login account: the login keeps working but acts for nobody here (技术组 only)."""
    require(user=actor, engagement=person.engagement, capability=perms.MANAGE_ROLES)
    old = person.user
    if old is None:
        raise DomainError(_("%(name)s has no login account linked.") % {"name": person.name}, field="user")
    with transaction.atomic():
        Person.objects.filter(pk=person.pk).update(user=None)
        _record_unlink(actor=actor, person=person, user=old)
    person.user = None
    _forget_grants(old)
    return person
