"""技术组 links a login account to a person (services, the person page, ``handover person``): the refusals,
nothing written when refused, the trail, and the scope the login gets from the person's roles."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from handover.audit.models import Event
from handover.core.errors import DomainError, PermissionDenied
from handover.org import events, selectors, services
from handover.org import permissions as perms
from handover.org.models import Employment, Party, Person, Role, RoleAssignment
from tests.factories import EngagementFactory, PersonFactory, UserFactory


def _state() -> tuple[list[tuple[int, int | None]], int]:
    """Every person's login and the length of the trail: what a refusal must leave as it was."""
    return list(Person.objects.order_by("pk").values_list("pk", "user_id")), Event.objects.count()


def _refused(**kwargs) -> DomainError:
    before = _state()
    with pytest.raises(DomainError) as refused:
        services.person_link_login(**kwargs)
    assert _state() == before
    return refused.value


@pytest.fixture
def tech(world):
    return world.login_with(Role.TECH_GROUP, username="tech")


@override_settings(LANGUAGE_CODE="en")
def test_linking_gives_the_login_the_persons_roles_at_its_site_only(world, tech):
    RoleAssignment.objects.create(
        engagement=world.engagement, person=world.person_a, role=Role.FIRM_IT, site=world.branch_a
    )
    login = UserFactory(username="it-a")
    assert selectors.grants_for(login) == []
    services.person_link_login(actor=tech, person=world.person_a, user=login)
    world.person_a.refresh_from_db()
    assert world.person_a.user == login
    event = Event.objects.get(action=events.PERSON_LINK_LOGIN)
    assert (event.actor_username, event.object_id) == ("tech", str(world.person_a.pk))
    assert (event.before, event.after) == ({"user": None}, {"user": login.pk, "username": "it-a"})
    fresh = type(login).objects.get(pk=login.pk)
    assert [g.role for g in selectors.grants_for(fresh)] == [Role.FIRM_IT]
    for site, allowed in ((world.branch_a, True), (world.service_a, True), (world.branch_b, False)):
        assert (
            selectors.has_capability(
                user=fresh, engagement=world.engagement, capability=perms.VIEW_REGISTERS, site=site
            )
            is allowed
        )


def test_relinking_replaces_the_old_login_and_records_both(world, tech):
    first, second = UserFactory(username="first"), UserFactory(username="second")
    services.person_link_login(actor=tech, person=world.person_a, user=first)
    services.person_link_login(actor=tech, person=world.person_a, user=second)
    assert Person.objects.get(pk=world.person_a.pk).user == second
    trail = list(
        Event.objects.filter(object_id=str(world.person_a.pk), action__startswith="org.person.")
        .order_by("seq")
        .values_list("action", "before", "after")
    )
    assert trail[-2:] == [
        (events.PERSON_UNLINK_LOGIN, {"user": first.pk, "username": "first"}, {"user": None}),
        (events.PERSON_LINK_LOGIN, {"user": first.pk}, {"user": second.pk, "username": "second"}),
    ]
    # The old login is free again for someone of the same party.
    services.person_link_login(actor=tech, person=world.person_b, user=first)


@override_settings(LANGUAGE_CODE="en")
def test_a_disabled_login_is_refused(world, tech):
    login = UserFactory(username="gone", is_active=False)
    refused = _refused(actor=tech, person=world.person_a, user=login)
    assert refused.field == "user"
    assert "gone" in str(refused.message) and "disabled" in str(refused.message)


@override_settings(LANGUAGE_CODE="en")
@pytest.mark.parametrize("how", ["deactivated", "left"])
def test_a_person_who_is_deactivated_or_left_is_refused(world, tech, how):
    person = world.person_a
    if how == "deactivated":
        person.is_active = False
    else:
        person.employment, person.leave_date = Employment.LEFT, date(2026, 10, 1)
    person.save()
    refused = _refused(actor=tech, person=person, user=UserFactory())
    assert refused.field == "person"
    assert person.name in str(refused.message)


@override_settings(LANGUAGE_CODE="en")
def test_one_login_is_one_person_of_an_engagement(world, tech):
    login = UserFactory(username="shared")
    services.person_link_login(actor=tech, person=world.person_a, user=login)
    refused = _refused(actor=tech, person=world.person_b, user=login)
    message = str(refused.message)
    assert "shared" in message and world.person_a.name in message and "Unlink" in message
    # In another engagement the same login may stand for that engagement's person.
    other = EngagementFactory()
    elsewhere = PersonFactory(engagement=other)
    RoleAssignment.objects.create(engagement=other, person=PersonFactory(engagement=other, user=tech),
                                  role=Role.TECH_GROUP)  # fmt: skip
    tech = type(tech).objects.get(pk=tech.pk)  # a fresh object: the roles are read once per request
    services.person_link_login(actor=tech, person=elsewhere, user=login)
    assert Person.objects.filter(user=login).count() == 2


@override_settings(LANGUAGE_CODE="en")
def test_a_login_never_stands_for_two_parties_even_after_an_unlink(world, tech):
    """第八条: the firm IT executor's login must not become a 现场技术岗位's, who would supervise."""
    onsite = PersonFactory(
        engagement=world.engagement, organisation=world.org, site=world.branch_a, party=Party.ONSITE_POST
    )
    login = UserFactory(username="it-exec")
    services.person_link_login(actor=tech, person=world.person_a, user=login)
    refused = _refused(actor=tech, person=onsite, user=login)
    assert "第八条" in str(refused.message) and "it-exec" in str(refused.message)
    services.person_unlink_login(actor=tech, person=world.person_a)
    refused = _refused(actor=tech, person=onsite, user=login)
    assert "第八条" in str(refused.message) and world.person_a.name in str(refused.message)


@override_settings(LANGUAGE_CODE="en")
def test_linking_keeps_separation_of_duties_across_engagements(world, tech):
    login = UserFactory()
    other = EngagementFactory()
    auditor = PersonFactory(engagement=other, user=login)
    RoleAssignment.objects.create(engagement=other, person=auditor, role=Role.AUDITOR)
    RoleAssignment.objects.create(
        engagement=world.engagement, person=world.person_a, role=Role.FIRM_IT, site=world.branch_a
    )
    refused = _refused(actor=tech, person=world.person_a, user=login)
    assert "三权分立" in str(refused.message)


def test_only_the_technical_group_links_and_unlinks(world, tech):
    onsite = world.login_with(Role.ONSITE_POST, world.branch_a)
    login = UserFactory()
    before = _state()
    with pytest.raises(PermissionDenied):
        services.person_link_login(actor=onsite, person=world.person_a, user=login)
    services.person_link_login(actor=tech, person=world.person_a, user=login)
    with pytest.raises(PermissionDenied):
        services.person_unlink_login(actor=onsite, person=world.person_a)
    assert Person.objects.get(pk=world.person_a.pk).user == login
    assert _state() != before
    # Nor can a 现场技术岗位 slip the login in through the person's particulars.
    with pytest.raises(DomainError) as refused:
        services.person_update(actor=onsite, person=world.person_a, user=UserFactory())
    assert refused.value.field == "user"


def test_a_person_created_with_a_login_is_technical_group_work_and_checked_the_same(world, tech):
    onsite = world.login_with(Role.ONSITE_POST, world.branch_a)
    fields = {"name": "丙员工", "organisation": world.org, "site": world.branch_a, "party": Party.FIRM_IT}
    before = _state()
    with pytest.raises(PermissionDenied):
        services.person_create(actor=onsite, engagement=world.engagement, user=UserFactory(), **fields)
    with pytest.raises(DomainError) as refused:
        services.person_create(
            actor=tech, engagement=world.engagement, user=UserFactory(is_active=False), **fields
        )
    assert refused.value.field == "user"
    assert _state()[1] == before[1] and Person.objects.filter(name="丙员工").count() == 0
    login = UserFactory()
    person = services.person_create(actor=tech, engagement=world.engagement, user=login, **fields)
    assert person.user == login


def test_unlinking_removes_the_roles_from_the_login(world, tech):
    login = UserFactory()
    RoleAssignment.objects.create(
        engagement=world.engagement, person=world.person_a, role=Role.FIRM_IT, site=world.branch_a
    )
    services.person_link_login(actor=tech, person=world.person_a, user=login)
    services.person_unlink_login(actor=tech, person=world.person_a)
    assert Person.objects.get(pk=world.person_a.pk).user is None
    assert selectors.grants_for(type(login).objects.get(pk=login.pk)) == []
    assert Event.objects.filter(action=events.PERSON_UNLINK_LOGIN, before__user=login.pk).count() == 1
    before = _state()
    with pytest.raises(DomainError):
        services.person_unlink_login(actor=tech, person=world.person_a)
    assert _state() == before


# ---------------------------------------------------------------- the person page


def _page(world) -> str:
    return f"/e/{world.engagement.code}/people/{world.person_a.pk}/"


@override_settings(LANGUAGE_CODE="en")
def test_the_technical_group_links_a_login_on_the_person_page(client, world, tech):
    RoleAssignment.objects.create(
        engagement=world.engagement, person=world.person_a, role=Role.FIRM_IT, site=world.branch_a
    )
    login = UserFactory(username="it-a", display_name="甲")
    taken = world.person_b.user = UserFactory(username="taken")
    world.person_b.save()
    client.force_login(tech)
    page = client.get(_page(world)).content.decode()
    assert "No login account." in page
    assert f'<option value="{login.pk}">it-a · 甲</option>' in page
    assert ">taken<" not in page
    UserFactory(username="root", is_superuser=True)
    assert ">root<" not in client.get(_page(world)).content.decode()
    answer = client.post(_page(world) + "login/", {"user": login.pk})
    assert answer.status_code == 302
    assert Person.objects.get(pk=world.person_a.pk).user == login
    assert 'data-testid="linked-login">it-a<' in client.get(_page(world)).content.decode()
    # The linked login opens pages of the person's branch, not of the sister branch.
    client.force_login(login)
    code = world.engagement.code
    assert client.get(f"/e/{code}/sites/{world.branch_a.pk}/").status_code == 200
    assert client.get(f"/e/{code}/sites/{world.branch_b.pk}/").status_code == 404
    client.force_login(tech)
    assert client.post(_page(world) + "login/", {"user": taken.pk}).status_code == 302
    assert Person.objects.get(pk=world.person_a.pk).user == login
    assert client.post(_page(world) + "login/unlink/").status_code == 302
    assert Person.objects.get(pk=world.person_a.pk).user is None


@override_settings(LANGUAGE_CODE="en")
def test_a_refused_link_is_shown_on_the_person_page(client, world, tech):
    world.person_a.is_active = False
    world.person_a.save()
    client.force_login(tech)
    answer = client.post(_page(world) + "login/", {"user": UserFactory().pk}, follow=True)
    assert "cannot be linked" in answer.content.decode()
    assert Person.objects.get(pk=world.person_a.pk).user is None


@pytest.mark.parametrize(
    ("role", "at_a"), [(Role.ONSITE_POST, True), (Role.FIRM_IT, True), (Role.OBSERVER, False)]
)
def test_others_cannot_link_or_see_the_form(client, world, role, at_a):
    user = world.login_with(role, world.branch_a if at_a else None)
    login = UserFactory()
    client.force_login(user)
    page = client.get(_page(world))
    assert page.status_code in (200, 403, 404)
    assert 'data-testid="login-account"' not in page.content.decode()
    assert client.post(_page(world) + "login/", {"user": login.pk}).status_code in (403, 404)
    assert client.post(_page(world) + "login/unlink/").status_code in (403, 404)
    assert Person.objects.get(pk=world.person_a.pk).user is None


# ---------------------------------------------------------------- handover person


def test_the_command_links_and_unlinks(world, tech):
    login = UserFactory(username="it-a")
    code, pk = world.engagement.code, str(world.person_a.pk)
    out = io.StringIO()
    call_command("person", "link", "--engagement", code, "--person", pk, "--login", "it-a", "--user", "tech",
                 stdout=out)  # fmt: skip
    assert "it-a" in out.getvalue()
    assert Person.objects.get(pk=world.person_a.pk).user == login
    event = Event.objects.get(action=events.PERSON_LINK_LOGIN)
    assert (event.actor_username, event.channel) == ("tech", "cli")
    call_command("person", "unlink", "--engagement", code, "--person", pk, "--user", "tech", stdout=out)
    assert Person.objects.get(pk=world.person_a.pk).user is None


@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_command_refuses_in_chinese_and_writes_nothing(world, tech):
    onsite = world.login_with(Role.ONSITE_POST, world.branch_a, username="onsite")
    UserFactory(username="gone", is_active=False)
    code, pk = world.engagement.code, str(world.person_a.pk)
    before = _state()
    for login, actor, words in (
        ("gone", "tech", "已停用"),
        ("nobody", "tech", "--login nobody：没有该名称的登录账号"),
        ("tech", onsite.username, "角色"),
    ):
        with pytest.raises(CommandError) as refused:
            call_command(
                "person", "link", "--engagement", code, "--person", pk, "--login", login, "--user", actor
            )
        assert words in str(refused.value)
        assert refused.value.returncode != 0
    with pytest.raises(CommandError) as refused:
        call_command("person", "unlink", "--engagement", code, "--person", pk, "--user", "tech")
    assert "没有关联登录账号" in str(refused.value)
    assert _state() == before
