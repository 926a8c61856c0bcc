from __future__ import annotations

from datetime import date

import pytest
from django.test import override_settings

from handover.audit.models import Event
from handover.core.errors import DomainError, PermissionDenied
from handover.org import selectors, services
from handover.org.models import Employment, Party, Phase, Role, RoleAssignment
from tests.factories import PARTY_OF_ROLE, EngagementFactory, PersonFactory, UserFactory

SEPARATED = [Role.OBSERVER, Role.AUDITOR, Role.SYSADMIN]
OTHERS = [Role.TECH_GROUP, Role.ONSITE_POST, *SEPARATED]


@pytest.mark.parametrize(("separated", "other"), [(s, o) for s in SEPARATED for o in OTHERS if s != o])
@override_settings(LANGUAGE_CODE="en")
def test_separated_roles_combine_with_nothing_else(world, separated, other):
    tech = world.login_with(Role.TECH_GROUP)
    party = PARTY_OF_ROLE.get(other, Party.FIRM_IT)  # 第八条: custodian roles for the custodian's people
    person = PersonFactory(
        engagement=world.engagement, organisation=world.org, site=world.branch_a, party=party
    )
    site = world.branch_a if other == Role.ONSITE_POST else None
    services.role_grant(actor=tech, person=person, role=other, site=site, observer_body="working_group")
    before = (RoleAssignment.objects.count(), Event.objects.count())
    with pytest.raises(DomainError) as refused:
        services.role_grant(actor=tech, person=person, role=separated, observer_body="working_group")
    assert refused.value.field == "role"
    assert "三权分立" in str(refused.value.message)
    assert (RoleAssignment.objects.count(), Event.objects.count()) == before


def test_separation_holds_across_engagements_for_the_same_login(world):
    tech = world.login_with(Role.TECH_GROUP)
    user = UserFactory()
    world.person_a.user = user
    world.person_a.save()
    other = EngagementFactory()
    other_person = PersonFactory(engagement=other, user=user)
    RoleAssignment.objects.create(engagement=other, person=other_person, role=Role.AUDITOR)
    with pytest.raises(DomainError):
        services.role_grant(actor=tech, person=world.person_a, role=Role.FIRM_IT, site=world.branch_a)


def test_business_roles_combine(world):
    tech = world.login_with(Role.TECH_GROUP)
    services.role_grant(actor=tech, person=world.person_a, role=Role.FIRM_IT, site=world.branch_a)
    services.role_grant(actor=tech, person=world.person_a, role=Role.FIRM_FINANCE, site=world.branch_a)
    assert world.person_a.roles.filter(revoked_at__isnull=True).count() == 2


def test_site_roles_need_a_site_and_engagement_roles_refuse_one(world):
    tech = world.login_with(Role.TECH_GROUP)
    with pytest.raises(DomainError) as no_site:
        services.role_grant(actor=tech, person=world.person_a, role=Role.ONSITE_POST)
    assert no_site.value.field == "site"
    with pytest.raises(DomainError) as with_site:
        services.role_grant(actor=tech, person=world.person_a, role=Role.TECH_GROUP, site=world.branch_a)
    assert with_site.value.field == "site"


def test_only_the_technical_group_grants_roles(world):
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    with pytest.raises(PermissionDenied):
        services.role_grant(actor=onsite, person=world.person_a, role=Role.FIRM_IT, site=world.branch_a)


def test_a_role_at_a_branch_covers_its_service_point_but_not_the_sister_branch(world):
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    visible = set(
        selectors.site_list(user=onsite, engagement=world.engagement).values_list("code", flat=True)
    )
    assert visible == {"BA", "SA"}
    people = set(
        selectors.person_list(user=onsite, engagement=world.engagement).values_list("name", flat=True)
    )
    assert "甲员工" in people and "乙员工" not in people


def test_a_person_who_left_needs_a_leave_date(world):
    tech = world.login_with(Role.TECH_GROUP)
    with pytest.raises(DomainError) as refused:
        services.person_create(
            actor=tech,
            engagement=world.engagement,
            name="离职者",
            organisation=world.org,
            site=world.branch_a,
            party=Party.FIRM_IT,
            employment=Employment.LEFT,
        )
    assert refused.value.field == "leave_date"
    person = services.person_create(
        actor=tech,
        engagement=world.engagement,
        name="离职者",
        organisation=world.org,
        site=world.branch_a,
        party=Party.FIRM_IT,
        employment=Employment.LEFT,
        leave_date=date(2026, 8, 1),
    )
    assert person.leave_date == date(2026, 8, 1)


def test_onsite_post_adds_people_at_own_branch_only(world):
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    services.person_create(
        actor=onsite,
        engagement=world.engagement,
        name="新人",
        organisation=world.org,
        site=world.service_a,
        party=Party.FIRM_IT,
    )
    with pytest.raises(PermissionDenied):
        services.person_create(
            actor=onsite,
            engagement=world.engagement,
            name="越界",
            organisation=world.org,
            site=world.branch_b,
            party=Party.FIRM_IT,
        )


def test_deactivating_a_person_revokes_their_roles(world):
    tech = world.login_with(Role.TECH_GROUP)
    services.role_grant(actor=tech, person=world.person_a, role=Role.FIRM_IT, site=world.branch_a)
    services.person_deactivate(actor=tech, person=world.person_a)
    assert not world.person_a.roles.filter(revoked_at__isnull=True).exists()
    assert Event.objects.filter(action="org.role.revoke").count() == 1


def test_firm_name_is_for_the_technical_group_only_in_preparation(world):
    tech = world.login_with(Role.TECH_GROUP)
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    observer = world.login_with(Role.OBSERVER)
    auditor = world.login_with(Role.AUDITOR)
    e = world.engagement
    assert e.phase == Phase.PREPARATION
    assert [selectors.firm_name_visible(user=u, engagement=e) for u in (tech, onsite, observer, auditor)] == [
        True,
        False,
        False,
        False,
    ]
    e.phase = Phase.HANDOVER
    assert [selectors.firm_name_visible(user=u, engagement=e) for u in (tech, onsite, observer, auditor)] == [
        True,
        True,
        True,
        False,
    ]


def test_the_dashboard_hides_the_firm_name_in_preparation_and_records_each_view(client, world):
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    tech = world.login_with(Role.TECH_GROUP)
    client.force_login(onsite)
    page = client.get(f"/e/{world.engagement.code}/").content.decode()
    assert world.engagement.firm_name not in page
    client.force_login(tech)
    page = client.get(f"/e/{world.engagement.code}/").content.decode()
    assert world.engagement.firm_name in page
    assert Event.objects.filter(action="org.engagement.view_firm_name", actor_id=tech.pk).count() == 1


def test_dashboard_shows_sites_without_onsite_post_in_constant_queries(
    client, world, django_assert_max_num_queries
):
    from handover.org.models import SiteLevel
    from tests.factories import make_site

    tech = world.login_with(Role.TECH_GROUP)
    client.force_login(tech)
    with django_assert_max_num_queries(20) as few:
        client.get(f"/e/{world.engagement.code}/")
    for index in range(30):
        make_site(world.engagement, f"X{index}", SiteLevel.BRANCH, world.region)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(f"/e/{world.engagement.code}/").content.decode()
    assert 'data-site="X29"' in page
