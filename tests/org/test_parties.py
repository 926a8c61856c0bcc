"""第八条: roles fit parties, nobody grants a role to themselves, nobody changes side (review M4); people
without a site only by engagement-wide roles (review L4)."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from handover.audit.models import Event
from handover.core.errors import DomainError, PermissionDenied
from handover.org import services
from handover.org.models import Party, Person, Role, RoleAssignment
from handover.registers import services as registers
from handover.registers.models import Signature, SignatureKind
from tests.factories import PersonFactory, register_form, t8_values


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _t8_row(world, actor):
    form = register_form(world.engagement, world.branch_a)
    return registers.row_add(actor=actor, form=form, data=t8_values(world.engagement, world.branch_a))


@override_settings(LANGUAGE_CODE="en")
def test_party_bypass_stops_at_the_grant(world):
    """The review's party_bypass: 技术组 gives a custodian person 被托管技术方 to sign as the firm."""
    tech = world.login_with(Role.TECH_GROUP)
    colleague = PersonFactory(
        engagement=world.engagement, organisation=world.org, site=world.branch_a, party=Party.TECH_GROUP
    )
    before = (RoleAssignment.objects.count(), Event.objects.count())
    response = _api(tech).post(
        f"/api/engagements/{world.engagement.code}/roles/",
        {"person": colleague.pk, "role": Role.FIRM_IT, "site": world.branch_a.pk},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "第八条" in str(response.json()["role"])
    assert (RoleAssignment.objects.count(), Event.objects.count()) == before
    for role in (Role.TECH_GROUP, Role.ONSITE_POST):  # and the firm's people get no custodian role
        with pytest.raises(DomainError) as refused:
            services.role_grant(actor=tech, person=world.person_a, role=role, site=None)
        assert refused.value.field in ("role", "site")
    with pytest.raises(DomainError) as refused:
        services.role_grant(actor=tech, person=world.person_a, role=Role.ONSITE_POST, site=world.branch_a)
    assert refused.value.field == "role"


def test_nobody_grants_a_role_to_their_own_person(world):
    tech = world.login_with(Role.TECH_GROUP, username="tech-self")
    own = Person.objects.get(user=tech)
    before = RoleAssignment.objects.count()
    with pytest.raises(DomainError) as refused:
        services.role_grant(actor=tech, person=own, role=Role.ONSITE_POST, site=world.branch_a)
    assert refused.value.field == "person"
    response = _api(tech).post(
        f"/api/engagements/{world.engagement.code}/roles/",
        {"person": own.pk, "role": Role.ONSITE_POST, "site": world.branch_b.pk},
        format="json",
    )
    assert response.status_code == 400
    assert RoleAssignment.objects.count() == before
    other = world.login_with(Role.TECH_GROUP)  # another member of the technical group may
    services.role_grant(actor=other, person=own, role=Role.ONSITE_POST, site=world.branch_a)


def test_a_misfit_role_in_the_database_still_cannot_sign(world):
    """party_bypass with the role inserted behind the services' back: the signature refuses it."""
    tech = world.login_with(Role.TECH_GROUP)
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    RoleAssignment.objects.create(
        engagement=world.engagement,
        person=Person.objects.get(user=tech),
        role=Role.FIRM_IT,
        site=world.branch_a,
    )
    row = _t8_row(world, tech)
    response = _api(tech).post(
        f"/api/engagements/{world.engagement.code}/register-rows/{row.pk}/sign/",
        {"kind": SignatureKind.EXECUTOR},
        format="json",
    )
    assert response.status_code == 403, response.content
    with pytest.raises(PermissionDenied) as refused:
        registers.row_sign(actor=tech, row=row, kind=SignatureKind.EXECUTOR)
    assert "第八条" in str(refused.value.message)
    registers.row_sign(actor=onsite, row=row, kind=SignatureKind.SUPERVISOR)
    assert list(Signature.objects.filter(row=row).values_list("kind", flat=True)) == [
        SignatureKind.SUPERVISOR
    ]


def test_nobody_changes_side_once_they_had_a_login_or_a_role(world):
    tech = world.login_with(Role.TECH_GROUP)
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    custodian = Person.objects.get(user=onsite)
    with pytest.raises(DomainError) as refused:
        services.person_update(actor=tech, person=custodian, party=Party.FIRM_IT)
    assert refused.value.field == "party"
    custodian.refresh_from_db()
    assert custodian.party == Party.ONSITE_POST
    services.person_update(actor=tech, person=custodian, party=Party.TECH_GROUP)  # same side: fine
    services.role_grant(actor=tech, person=world.person_b, role=Role.FIRM_IT, site=world.branch_b)
    services.role_revoke(actor=tech, assignment=world.person_b.roles.get())
    with pytest.raises(DomainError):  # a role once held is enough
        services.person_update(actor=tech, person=world.person_b, party=Party.ONSITE_POST)
    fresh = PersonFactory(engagement=world.engagement, organisation=world.org, site=world.branch_a)
    services.person_update(actor=tech, person=fresh, party=Party.ONSITE_POST)  # a typing error, corrected


def test_an_unlinked_login_leaves_its_person_on_their_side(world):
    tech = world.login_with(Role.TECH_GROUP)
    it = world.login_with(Role.FIRM_IT, site=world.branch_a)
    person = Person.objects.get(user=it)
    for assignment in person.roles.all():
        services.role_revoke(actor=tech, assignment=assignment)
    RoleAssignment.objects.filter(person=person).delete()  # even with no trace of a role left
    services.person_unlink_login(actor=tech, person=person)
    with pytest.raises(DomainError):
        services.person_update(actor=tech, person=person, party=Party.ONSITE_POST)


def test_people_without_a_site_only_by_engagement_wide_roles(world):
    """Review L4: a site-scoped 现场技术岗位 adds a person with no site, or moves one out of its sites."""
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    tech = world.login_with(Role.TECH_GROUP)
    people = f"/api/engagements/{world.engagement.code}/people/"
    before = (Person.objects.count(), Event.objects.count())
    created = _api(onsite).post(
        people,
        {"name": "nosite-person", "organisation": world.org.pk, "site": None, "party": Party.FIRM_IT},
        format="json",
    )
    assert created.status_code == 403, created.content
    moved = _api(onsite).patch(f"{people}{world.person_a.pk}/", {"site": None}, format="json")
    assert moved.status_code == 403, moved.content
    with pytest.raises(PermissionDenied):
        services.person_create(
            actor=onsite, engagement=world.engagement, name="x", organisation=world.org, party=Party.FIRM_IT
        )
    with pytest.raises(PermissionDenied):
        services.person_update(actor=onsite, person=world.person_a, site=None)
    assert (Person.objects.count(), Event.objects.count()) == before
    world.person_a.refresh_from_db()
    assert world.person_a.site == world.branch_a
    services.person_update(actor=onsite, person=world.person_a, site=world.service_a)  # within its sites
    nobody = services.person_create(
        actor=tech, engagement=world.engagement, name="总部顾问", organisation=world.org, party=Party.BUSINESS
    )
    with pytest.raises(PermissionDenied):  # nor edits one who has none
        services.person_update(actor=onsite, person=nobody, post="顾问")
    services.person_update(actor=tech, person=world.person_a, site=None)
