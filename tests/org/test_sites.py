from __future__ import annotations

import pytest

from handover.audit.models import Event
from handover.core.errors import DomainError, PermissionDenied
from handover.org import services
from handover.org.models import Role, Site, SiteLevel


def test_branch_under_region_is_added_with_its_path_and_audit_event(world):
    tech = world.login_with(Role.TECH_GROUP)
    before = Event.objects.count()
    site = services.site_create(
        actor=tech,
        engagement=world.engagement,
        code="BC",
        name="丙营业部",
        level=SiteLevel.BRANCH,
        parent=world.region,
    )
    assert site.path == f"{world.region.path}{site.pk}/"
    event = Event.objects.order_by("-seq").first()
    assert Event.objects.count() == before + 1
    assert (event.action, event.object_id, event.actor_id) == ("org.site.create", str(site.pk), tech.pk)
    assert event.after["code"] == "BC"


@pytest.mark.parametrize(
    ("level", "parent_attr", "message"),
    [
        (SiteLevel.SERVICE, "region", "服务部"),
        (SiteLevel.SERVICE, "hq", "服务部"),
        (SiteLevel.REGION, "branch_a", "区域中心"),
        (SiteLevel.BRANCH, "service_a", "营业部"),
        (SiteLevel.BRANCH, None, "营业部"),
        (SiteLevel.HQ, None, "head office"),
    ],
)
def test_invalid_parent_is_refused_with_a_message_naming_the_field_and_nothing_is_written(
    world, level, parent_attr, message, settings
):
    settings.LANGUAGE_CODE = "en"
    tech = world.login_with(Role.TECH_GROUP)
    sites, events = Site.objects.count(), Event.objects.count()
    parent = getattr(world, parent_attr) if parent_attr else None
    with pytest.raises(DomainError) as refused:
        services.site_create(
            actor=tech, engagement=world.engagement, code="X1", name="X", level=level, parent=parent
        )
    assert refused.value.field in {"parent", "level"}
    assert (Site.objects.count(), Event.objects.count()) == (sites, events)


def test_a_branch_may_sit_directly_under_head_office(world):
    tech = world.login_with(Role.TECH_GROUP)
    site = services.site_create(
        actor=tech,
        engagement=world.engagement,
        code="BD",
        name="丁营业部",
        level=SiteLevel.BRANCH,
        parent=world.hq,
    )
    assert site.parent == world.hq


def test_duplicate_site_code_is_refused(world):
    tech = world.login_with(Role.TECH_GROUP)
    with pytest.raises(DomainError) as refused:
        services.site_create(
            actor=tech,
            engagement=world.engagement,
            code="BA",
            name="again",
            level=SiteLevel.BRANCH,
            parent=world.region,
        )
    assert refused.value.field == "code"


def test_moving_a_branch_rewrites_the_subtree_paths(world):
    tech = world.login_with(Role.TECH_GROUP)
    services.site_update(actor=tech, site=world.branch_a, name="甲营业部", code="BA", parent=world.hq)
    world.service_a.refresh_from_db()
    assert world.service_a.path == f"{world.hq.path}{world.branch_a.pk}/{world.service_a.pk}/"


def test_a_site_cannot_move_under_its_own_subtree(world):
    tech = world.login_with(Role.TECH_GROUP)
    with pytest.raises(DomainError):
        services.site_update(actor=tech, site=world.region, name="r", code="RC", parent=world.branch_a)


def test_onsite_post_of_one_branch_cannot_add_sites(world):
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    with pytest.raises(PermissionDenied):
        services.site_create(
            actor=onsite,
            engagement=world.engagement,
            code="SX",
            name="x",
            level=SiteLevel.SERVICE,
            parent=world.branch_a,
        )


def test_deactivating_a_site_with_active_children_is_refused(world):
    tech = world.login_with(Role.TECH_GROUP)
    with pytest.raises(DomainError) as refused:
        services.site_deactivate(actor=tech, site=world.branch_a)
    assert "甲营业部" in str(refused.value.message)
    services.site_deactivate(actor=tech, site=world.service_a)
    services.site_deactivate(actor=tech, site=world.branch_a)
    world.branch_a.refresh_from_db()
    assert not world.branch_a.is_active


def test_the_site_page_asks_twice_before_deactivating(world, client):
    """UX review M6: 停用 opens a confirmation that says what it does; the POST is its second button."""
    tech = world.login_with(Role.TECH_GROUP)
    client.force_login(tech)
    page = client.get(f"/e/{world.engagement.code}/sites/{world.service_a.pk}/").content.decode()
    confirm = page[page.index('data-testid="deactivate-confirm"') :]
    assert "<summary" in confirm.split('data-testid="deactivate"')[0]
    assert confirm.index("<summary") < confirm.index(f"/sites/{world.service_a.pk}/deactivate/")
    assert page.count(f"/sites/{world.service_a.pk}/deactivate/") == 1
