"""Writes to engagements, sites, organisations, people and roles. Each is one transaction with its audit event."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from handover.audit.models import Event
from handover.audit.services import changed, event_record, snapshot
from handover.core.errors import DomainError
from handover.org import events
from handover.org import permissions as perms
from handover.org.models import (
    ALLOWED_PARENTS,
    Employment,
    Engagement,
    ObserverBody,
    Organisation,
    OrgType,
    Party,
    Person,
    Phase,
    Role,
    RoleAssignment,
    Site,
    SiteLevel,
)
from handover.org.selectors import firm_name_visible, require, require_at

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
    actor: Any,
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


def _deactivate(*, actor: Any, instance: Any, action: str, site_id: int | None = None) -> None:
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


# ---------------------------------------------------------------- engagements


def firm_name_reveal(*, actor: Any, engagement: Engagement) -> str | None:
    """The firm's real name for a member who may see it, with its audit event; None for anyone else (no event).

    第十一条: before the disposal the firm is known by a code name, and its real name is confidential to the
    engagement's members. Reading it is a sensitive read (DESIGN.md decision 3), recorded whichever face asks."""
    if not firm_name_visible(user=actor, engagement=engagement):
        return None
    with transaction.atomic():
        event_record(
            actor=actor, action=events.ENGAGEMENT_VIEW_FIRM, engagement_id=engagement.pk, obj=engagement
        )
    return engagement.firm_name


def engagement_create(
    *,
    actor: Any,
    code: str,
    code_name: str,
    firm_name: str,
    custodian_name: str,
    disposal_date: date,
    phase: str = Phase.PREPARATION,
) -> Engagement:
    """Open an engagement. Creating one is a deployment-level act (command line or a superuser)."""
    if Engagement.objects.filter(code=code).exists():
        raise DomainError(
            _("An engagement with the code %(code)s exists already.") % {"code": code}, field="code"
        )
    if Engagement.objects.filter(code_name=code_name).exists():
        raise DomainError(
            _("An engagement with the code name %(name)s exists already.") % {"name": code_name},
            field="code_name",
        )
    with transaction.atomic():
        engagement = Engagement.objects.create(
            code=code,
            code_name=code_name,
            firm_name=firm_name,
            custodian_name=custodian_name,
            disposal_date=disposal_date,
            phase=phase,
        )
        # 第十一条: the firm's name is confidential, so it is not copied into the trail.
        event_record(
            actor=actor,
            action=events.ENGAGEMENT_CREATE,
            engagement_id=engagement.pk,
            obj=engagement,
            after=snapshot(engagement, ["code", "code_name", "disposal_date", "phase"]),
        )
    return engagement


# ---------------------------------------------------------------- sites


def _level_names(levels: tuple[str, ...]) -> str:
    """Level names joined the way the language lists things (、 in Chinese, \", \" in English)."""
    return pgettext("list separator", ", ").join(str(SiteLevel(a).label) for a in levels)


def _check_parent(
    *, engagement: Engagement, level: str, parent: Site | None, site: Site | None = None
) -> None:
    allowed = ALLOWED_PARENTS[level]
    label = SiteLevel(level).label
    if not allowed:
        if parent is not None:
            raise DomainError(_("A head office has no parent site."), field="parent")
        others = Site.objects.filter(engagement=engagement, level=SiteLevel.HQ)
        if site is not None:
            others = others.exclude(pk=site.pk)
        if others.exists():
            raise DomainError(_("This engagement already has a head office."), field="level")
        return
    if parent is None:
        names = _level_names(allowed)
        raise DomainError(
            _("A %(level)s needs a parent site: %(allowed)s.") % {"level": label, "allowed": names},
            field="parent",
        )
    if parent.engagement_id != engagement.pk:
        raise DomainError(_("The parent site belongs to another engagement."), field="parent")
    if parent.level not in allowed:
        names = _level_names(allowed)
        raise DomainError(
            _("A %(level)s cannot sit under a %(parent_level)s; its parent must be a %(allowed)s.")
            % {"level": label, "parent_level": parent.get_level_display(), "allowed": names},
            field="parent",
        )
    if not parent.is_active:
        raise DomainError(
            _("The parent site %(name)s is deactivated.") % {"name": parent.name}, field="parent"
        )
    if site is not None and parent.path.startswith(site.path):
        raise DomainError(_("A site cannot be moved under itself or its own subtree."), field="parent")


def site_create(
    *,
    actor: Any,
    engagement: Engagement,
    code: str,
    name: str,
    level: str,
    parent: Site | None = None,
    address: str = "",
) -> Site:
    """Add a site under a parent of an allowed level (总部 → 区域中心 → 营业部 → 服务部)."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_SITES, site=parent)
    _check_parent(engagement=engagement, level=level, parent=parent)
    code = code.strip()
    if Site.objects.filter(engagement=engagement, code=code).exists():
        raise DomainError(
            _("The site code %(code)s is used already in this engagement.") % {"code": code}, field="code"
        )
    with transaction.atomic():
        site = Site.objects.create(
            engagement=engagement,
            code=code,
            name=name.strip(),
            level=level,
            parent=parent,
            address=address,
            path="",
        )
        site.path = f"{parent.path if parent else '/'}{site.pk}/"
        site.save(update_fields=["path"])
        event_record(
            actor=actor,
            action=events.SITE_CREATE,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=site,
            after=snapshot(site),
        )
    return site


def site_update(
    *, actor: Any, site: Site, name: str, code: str, parent: Site | None, address: str = ""
) -> Site:
    """Rename or move a site; moving rewrites the paths of its whole subtree."""
    engagement = site.engagement
    require(user=actor, engagement=engagement, capability=perms.MANAGE_SITES, site=site)
    if parent is not None:
        require(user=actor, engagement=engagement, capability=perms.MANAGE_SITES, site=parent)
    _check_parent(engagement=engagement, level=site.level, parent=parent, site=site)
    if Site.objects.filter(engagement=engagement, code=code).exclude(pk=site.pk).exists():
        raise DomainError(
            _("The site code %(code)s is used already in this engagement.") % {"code": code}, field="code"
        )
    before = snapshot(site)
    with transaction.atomic():
        old_path = site.path
        site.name, site.code, site.parent, site.address = name.strip(), code.strip(), parent, address
        site.path = f"{parent.path if parent else '/'}{site.pk}/"
        site.save()
        if site.path != old_path:
            for child in Site.objects.filter(path__startswith=old_path).exclude(pk=site.pk):
                child.path = site.path + child.path[len(old_path) :]
                child.save(update_fields=["path"])
        old, new = changed(before, snapshot(site))
        event_record(
            actor=actor,
            action=events.SITE_UPDATE,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=site,
            before=old,
            after=new,
        )
    return site


def site_deactivate(*, actor: Any, site: Site) -> None:
    """Deactivate a site; refused while it has active sub-sites, so no branch is left without its parent."""
    require(user=actor, engagement=site.engagement, capability=perms.MANAGE_SITES, site=site)
    active_children = site.children.filter(is_active=True).count()
    if active_children:
        raise DomainError(
            ngettext(
                "%(name)s still has %(n)d active sub-site; deactivate or move it first.",
                "%(name)s still has %(n)d active sub-sites; deactivate or move them first.",
                active_children,
            )
            % {"name": site.name, "n": active_children},
            field="site",
        )
    _deactivate(actor=actor, instance=site, action=events.SITE_DEACTIVATE, site_id=site.pk)


# ---------------------------------------------------------------- organisations


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
    actor: Any,
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


def organisation_update(*, actor: Any, organisation: Organisation, **fields: Any) -> Organisation:
    engagement = organisation.engagement
    require(user=actor, engagement=engagement, capability=perms.MANAGE_ORGS)
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        _organisation_name_free(engagement, fields["name"], exclude=organisation.pk)
    _save_changes(
        actor=actor, instance=organisation, fields=fields, action=events.ORG_UPDATE, private=_firm_private
    )
    return organisation


def organisation_deactivate(*, actor: Any, organisation: Organisation) -> None:
    require(user=actor, engagement=organisation.engagement, capability=perms.MANAGE_ORGS)
    _deactivate(actor=actor, instance=organisation, action=events.ORG_DEACTIVATE)


# ---------------------------------------------------------------- people


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


def person_create(*, actor: Any, engagement: Engagement, **fields: Any) -> Person:
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


def person_update(*, actor: Any, person: Person, **fields: Any) -> Person:
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


def person_deactivate(*, actor: Any, person: Person) -> None:
    """Deactivate a person and revoke every role they hold."""
    require_at(user=actor, engagement=person.engagement, capability=perms.MANAGE_PEOPLE, site=person.site)
    with transaction.atomic():
        _deactivate(actor=actor, instance=person, action=events.PERSON_DEACTIVATE, site_id=person.site_id)
        for assignment in person.roles.filter(revoked_at__isnull=True):
            _revoke(actor=actor, assignment=assignment)


# ---------------------------------------------------------------- login accounts
#
# 第十二条 and 第十五条第3项: 技术组 manages the IT staff of the custody and decides who holds which role;
# a linked login acts with the roles of its person, so linking needs MANAGE_ROLES, which a 现场技术岗位
# (第十三条) does not hold. 第八条: important operations carry the signatures of two different people, the
# custodian supervising and the firm executing; one login must never stand for both sides.


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


def _record_unlink(*, actor: Any, person: Person, user: Any) -> None:
    event_record(
        actor=actor,
        action=events.PERSON_UNLINK_LOGIN,
        engagement_id=person.engagement_id,
        site_id=person.site_id,
        obj=person,
        before={"user": user.pk, "username": _login_name(user)},
        after={"user": None},
    )


def person_link_login(*, actor: Any, person: Person, user: Any) -> Person:
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


def person_unlink_login(*, actor: Any, person: Person) -> Person:
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


# ---------------------------------------------------------------- roles


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
    *, actor: Any, person: Person, role: str, site: Site | None = None, observer_body: str = ""
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


def _revoke(*, actor: Any, assignment: RoleAssignment) -> None:
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


def role_revoke(*, actor: Any, assignment: RoleAssignment) -> None:
    require(user=actor, engagement=assignment.engagement, capability=perms.MANAGE_ROLES)
    with transaction.atomic():
        _revoke(actor=actor, assignment=assignment)
