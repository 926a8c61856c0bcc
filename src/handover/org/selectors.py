"""Reads of engagements, sites, organisations and people, filtered to what the user may see.

Every read of org data goes through here (HackSoft selectors; NetBox's ``restrict(user, action)``).
An object outside the user's scope is reported as not found, so its existence does not leak.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.utils.translation import gettext as _

from handover.audit.models import Event
from handover.audit.selectors import TrailScope
from handover.core.actors import Actor, SystemActor
from handover.core.errors import NotFound, PermissionDenied
from handover.org import events
from handover.org import permissions as perms
from handover.org.access import (  # noqa: F401  (re-exported: the checks' old home)
    Grant,
    engagement_ids_for,
    grants_for,
    has_capability,
    require,
    require_at,
    require_engagement_wide,
    site_scope,
)
from handover.org.models import (
    Engagement,
    ObserverBody,
    Organisation,
    OrgType,
    Person,
    Phase,
    Role,
    RoleAssignment,
    Site,
    SiteLevel,
)


def persons_of_login(*, user: Any) -> set[int]:
    """Every person the login stands for or once stood for, in any engagement (``Any``: a login, which org,
    a sibling of accounts, cannot name as accounts.User).

    Past links come from the trail (each unlink records the login it removed), so a person relinked to a
    second login is still recognised as the same person."""
    unlinked = Event.objects.filter(action=events.PERSON_UNLINK_LOGIN, before__user=user.pk).values_list(
        "object_id", flat=True
    )
    return set(Person.objects.filter(user=user).values_list("pk", flat=True)) | {int(pk) for pk in unlinked}


def logins_of_person_set(*, person_ids: set[int]) -> set[int]:
    """Every login that stands or once stood for one of these persons."""
    keys = [str(pk) for pk in person_ids]
    current = Person.objects.filter(pk__in=person_ids, user__isnull=False).values_list("user_id", flat=True)
    past = Event.objects.filter(action=events.PERSON_UNLINK_LOGIN, object_id__in=keys).values_list(
        "before__user", flat=True
    )
    return {int(pk) for pk in [*current, *past] if pk is not None}


def granters_of_login(*, user: Actor) -> set[int]:
    """The logins that linked this login to its persons or granted those persons their roles."""
    person_ids = persons_of_login(user=user)
    assignment_ids = RoleAssignment.objects.filter(person_id__in=person_ids).values_list("pk", flat=True)
    linked = Event.objects.filter(
        action=events.PERSON_LINK_LOGIN, object_id__in=[str(pk) for pk in person_ids]
    ).values_list("actor_id", flat=True)
    granted = Event.objects.filter(
        action=events.ROLE_GRANT, object_id__in=[str(pk) for pk in assignment_ids]
    ).values_list("actor_id", flat=True)
    return {pk for pk in [*linked, *granted] if pk is not None}


def one_side(*, a: Any, b: Any) -> bool:
    """Whether two logins count as one side of a two-person rule (第八条; 三权分立, DESIGN decision 9): the same
    login, the same person through any login they ever had, or one gave the other its login link or roles."""
    if a.pk == b.pk:
        return True
    persons_a, persons_b = persons_of_login(user=a), persons_of_login(user=b)
    if persons_a & persons_b:
        return True
    logins_a = {a.pk} | logins_of_person_set(person_ids=persons_a)
    logins_b = {b.pk} | logins_of_person_set(person_ids=persons_b)
    return bool(granters_of_login(user=a) & logins_b or granters_of_login(user=b) & logins_a)


def audit_scope(*, user: Actor) -> TrailScope:
    """Whose events ``user`` may read in the audit trail: the engagements where they hold ``VIEW_AUDIT`` and
    the logins of those engagements' people (audit.selectors.event_list applies it)."""
    ids = engagement_ids_for(user=user, capability=perms.VIEW_AUDIT)
    user_ids = (
        Person.objects.filter(engagement_id__in=ids, user__isnull=False).values_list("user_id", flat=True)
        if ids
        else []
    )
    return TrailScope(engagement_ids=frozenset(ids), user_ids=frozenset(user_ids))


def engagement_list(*, user: Actor) -> QuerySet[Engagement]:
    """Engagements in which the user holds any role."""
    ids = {g.engagement_id for g in grants_for(user)}
    return Engagement.objects.filter(pk__in=ids).order_by("code")


def engagement_get(*, user: Actor, code: str) -> Engagement:
    engagement = engagement_list(user=user).filter(code=code).first()
    if engagement is None:
        raise NotFound(
            _("No engagement with the code %(code)s is open to you.") % {"code": code}, field="engagement"
        )
    return engagement


def roles_in(*, user: Actor, engagement: Engagement) -> set[str]:
    return {g.role for g in grants_for(user) if g.engagement_id == engagement.pk}


def firm_name_visible(*, user: Actor, engagement: Engagement) -> bool:
    """第十一条: in 准备期 only 技术组 sees the real name; afterwards every member who may read it."""
    roles = roles_in(user=user, engagement=engagement)
    if engagement.phase == Phase.PREPARATION:
        return bool(roles & perms.PREPARATION_FIRM_NAME_ROLES)
    return any(perms.VIEW_FIRM_NAME in perms.capabilities_of(r) for r in roles)


def working_group_member(*, user: Actor, engagement: Engagement) -> Person | None:
    """The login's person if it observes this engagement for the 托管工作组 (not for the 证监局), else None:
    the one who approves 表24 and accepts residual risks (第二十七条第4项)."""
    held = (
        RoleAssignment.objects.filter(
            engagement=engagement,
            role=Role.OBSERVER,
            observer_body=ObserverBody.WORKING_GROUP,
            revoked_at__isnull=True,
            person__user_id=getattr(user, "pk", 0) or 0,
            person__is_active=True,
        )
        .select_related("person")
        .first()
    )
    return held.person if held is not None else None


def disposal_date_visible(*, user: Actor, engagement: Engagement) -> bool:
    """第十一条 「未经证监会同意不得公开被托管机构的名称及托管时间」: the 托管时间 (D) is kept as the name is — in
    准备期 only 技术组 sees it; afterwards D has happened and every member of the engagement may see it."""
    roles = roles_in(user=user, engagement=engagement)
    if engagement.phase == Phase.PREPARATION:
        return bool(roles & perms.PREPARATION_FIRM_NAME_ROLES)
    return bool(roles)


def site_list(
    *,
    user: Actor,
    engagement: Engagement,
    capability: str = perms.VIEW_ENGAGEMENT,
    include_inactive: bool = False,
) -> QuerySet[Site]:
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    if scope is None:
        return Site.objects.none()
    qs = Site.objects.filter(scope, engagement=engagement)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs.select_related("parent").order_by("path")


def site_get(
    *, user: Actor, engagement: Engagement, site_id: int, capability: str = perms.VIEW_ENGAGEMENT
) -> Site:
    site = (
        site_list(user=user, engagement=engagement, capability=capability, include_inactive=True)
        .filter(pk=site_id)
        .first()
    )
    if site is None:
        raise NotFound(_("No site %(id)s is open to you in this engagement.") % {"id": site_id}, field="site")
    return site


def person_list(*, user: Actor, engagement: Engagement, include_inactive: bool = False) -> QuerySet[Person]:
    """People at sites in the user's scope; people with no site only for engagement-wide readers."""
    scope = site_scope(user=user, engagement=engagement, capability=perms.VIEW_PEOPLE)
    if scope is None:
        return Person.objects.none()
    qs = Person.objects.filter(engagement=engagement).select_related("organisation", "site")
    if scope != Q():
        site_ids = Site.objects.filter(scope, engagement=engagement).values("pk")
        qs = qs.filter(site__in=site_ids)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs.order_by("name", "pk")


def person_get(*, user: Actor, engagement: Engagement, person_id: int) -> Person:
    person = person_list(user=user, engagement=engagement, include_inactive=True).filter(pk=person_id).first()
    if person is None:
        raise NotFound(
            _("No person %(id)s is open to you in this engagement.") % {"id": person_id}, field="person"
        )
    return person


def linkable_logins(*, user: Actor, engagement: Engagement) -> QuerySet[Any]:
    """Active login accounts that 技术组 may link to a person here: those not linked to anyone of this
    engagement, and not the deployment's superusers (services.person_link_login still checks each choice)."""
    require(user=user, engagement=engagement, capability=perms.MANAGE_ROLES)
    linked = Person.objects.filter(engagement=engagement, user__isnull=False).values("user_id")
    logins = get_user_model().objects.filter(is_active=True, is_superuser=False)
    return logins.exclude(pk__in=linked).order_by("username")


def organisation_list(
    *, user: Actor, engagement: Engagement, include_inactive: bool = False
) -> QuerySet[Organisation]:
    """The engagement's organisations, each with ``shown_name``: the name, except the firm's for those who may
    not read it (第十一条), who see "the custodied firm" and the code name instead."""
    require(user=user, engagement=engagement, capability=perms.VIEW_ORGS)
    qs = Organisation.objects.filter(engagement=engagement)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if firm_name_visible(user=user, engagement=engagement):
        shown: Any = F("name")
    else:
        shown = Case(
            When(type=OrgType.FIRM, then=Value(hidden_firm_label(engagement))),
            default=F("name"),
            output_field=CharField(),
        )
    return qs.annotate(shown_name=shown).order_by("type", "name")


def firm_label_for(*, user: Actor, engagement: Engagement) -> str | None:
    """What stands for the firm's organisation name for this user: None when they may read the real name (the
    deployment's own actor, at the console, holds the database anyway)."""
    if isinstance(user, SystemActor):
        return None
    return None if firm_name_visible(user=user, engagement=engagement) else hidden_firm_label(engagement)


def hidden_firm_label(engagement: Engagement) -> str:
    """What stands for the firm's real name where 第十一条 hides it."""
    return _("The custodied firm (%(code_name)s)") % {"code_name": engagement.code_name}


def organisation_get(*, user: Actor, engagement: Engagement, organisation_id: int) -> Organisation:
    organisation = (
        organisation_list(user=user, engagement=engagement, include_inactive=True)
        .filter(pk=organisation_id)
        .first()
    )
    if organisation is None:
        raise NotFound(
            _("No organisation %(id)s in this engagement.") % {"id": organisation_id}, field="organisation"
        )
    return organisation


def role_list(
    *, user: Actor, engagement: Engagement, person: Person | None = None
) -> QuerySet[RoleAssignment]:
    qs = RoleAssignment.objects.filter(engagement=engagement, revoked_at__isnull=True).select_related(
        "person", "site"
    )
    if person is not None:
        qs = qs.filter(person=person)
    return qs.order_by("role", "pk")


@dataclass
class TreeNode:
    site: Site
    people: int
    onsite_posts: int
    children: list[TreeNode]


@dataclass
class DashboardSummary:
    """Counts by level and role coverage (第十三条: every site needs its 现场技术岗位)."""

    by_level: list[tuple[str, str, int]]
    sites_without_onsite_post: list[Site]
    people: int
    roles: dict[str, int]
    tree: list[TreeNode]


def dashboard_summary(*, user: Actor, engagement: Engagement) -> DashboardSummary:
    """The engagement overview in a fixed number of queries, whatever the number of sites."""
    scope = site_scope(user=user, engagement=engagement, capability=perms.VIEW_SUMMARY)
    if scope is None:
        raise PermissionDenied(_("You do not have the role needed for this here."))
    sites = list(
        Site.objects.filter(scope, engagement=engagement, is_active=True)
        .annotate(
            n_people=Count("people", filter=Q(people__is_active=True), distinct=True),
            n_onsite=Count(
                "role_assignments",
                filter=Q(role_assignments__role=Role.ONSITE_POST, role_assignments__revoked_at__isnull=True),
                distinct=True,
            ),
        )
        .order_by("path")
    )
    level_counts = Counter(s.level for s in sites)
    by_level = [(value, str(label), level_counts.get(value, 0)) for value, label in SiteLevel.choices]
    site_ids = [s.pk for s in sites]
    role_counts = Counter(
        RoleAssignment.objects.filter(engagement=engagement, revoked_at__isnull=True)
        .filter(Q(site_id__in=site_ids) | Q(site__isnull=True) if scope == Q() else Q(site_id__in=site_ids))
        .values_list("role", flat=True)
    )
    return DashboardSummary(
        by_level=by_level,
        sites_without_onsite_post=[s for s in sites if s.n_onsite == 0],
        people=sum(s.n_people for s in sites),
        roles={str(label): role_counts.get(value, 0) for value, label in Role.choices},
        tree=_tree(sites),
    )


def _tree(sites: Sequence[Any]) -> list[TreeNode]:
    nodes = {s.pk: TreeNode(s, s.n_people, s.n_onsite, []) for s in sites}
    roots: list[TreeNode] = []
    for site in sites:
        parent = nodes.get(site.parent_id) if site.parent_id else None
        (parent.children if parent else roots).append(nodes[site.pk])
    return roots
