"""The engagement menu as data (web/navigation.py): what each role is shown, one entry per slot, and the
entry of the page being read marked current."""

from __future__ import annotations

from django.urls import reverse

from handover.org import permissions as perms
from handover.org.models import Role
from handover.web.navigation import MENU, MenuEntry, engagement_menu


def labels(items):
    return [str(item.label) for item in items]


def test_each_role_sees_the_entries_its_capabilities_allow(world):
    tech = engagement_menu(engagement=world.engagement, caps=perms.capabilities_of(Role.TECH_GROUP))
    observer = engagement_menu(engagement=world.engagement, caps=perms.capabilities_of(Role.OBSERVER))
    code = world.engagement.code
    tech_urls = [item.url for item in tech]
    assert reverse("workflow:overview", kwargs={"code": code}) in tech_urls
    assert reverse("workflow:summary", kwargs={"code": code}) not in tech_urls  # one entry per slot
    assert reverse("reports:package_list", kwargs={"code": code}) in tech_urls
    observer_urls = [item.url for item in observer]
    assert reverse("workflow:overview", kwargs={"code": code}) not in observer_urls
    assert reverse("workflow:summary", kwargs={"code": code}) in observer_urls
    assert reverse("vault:entry_list", kwargs={"code": code}) not in observer_urls
    assert len(observer) < len(tech)


def test_the_entry_of_the_page_being_read_is_current(world):
    caps = perms.capabilities_of(Role.TECH_GROUP)
    menu = engagement_menu(engagement=world.engagement, caps=caps, view_name="org:person_detail")
    (current,) = [item for item in menu if item.current]
    assert current.url == reverse("org:person_list", kwargs={"code": world.engagement.code})
    assert not any(item.current for item in engagement_menu(engagement=world.engagement, caps=caps))


def test_a_new_app_is_one_entry(world):
    extra = (*MENU, MenuEntry("org:organisation_list", "新功能", needs=("no_such_capability",)))
    caps = perms.capabilities_of(Role.TECH_GROUP)
    assert "新功能" not in labels(engagement_menu(engagement=world.engagement, caps=caps, menu=extra))
    assert "新功能" in labels(
        engagement_menu(engagement=world.engagement, caps={"no_such_capability"}, menu=extra)
    )


def test_pages_render_the_menu_with_the_current_entry(client, world):
    client.force_login(world.login_with(Role.TECH_GROUP))
    code = world.engagement.code
    page = client.get(reverse("org:person_list", kwargs={"code": code})).content.decode()
    people = reverse("org:person_list", kwargs={"code": code})
    assert f'<a href="{people}" aria-current="page">' in page
    assert f'href="{reverse("workflow:overview", kwargs={"code": code})}" data-testid="nav-workflow"' in page
    assert page.count('aria-current="page"') == 1
