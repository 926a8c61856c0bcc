"""Factories for the foundation's models. Writes that matter go through services; factories build the
scenery (engagements, sites, people, logins with roles) quickly and predictably."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import factory
from django.utils import timezone

from handover.accounts.models import EnrolmentVia, User
from handover.org.models import (
    Engagement,
    Organisation,
    OrgType,
    Party,
    Person,
    Role,
    RoleAssignment,
    Site,
    SiteLevel,
)

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda o: o.username)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)
    # Enrolled by its holder long ago: it holds its roles and is past the fresh-credential wait. A login
    # waiting for its holder: UserFactory(enrolled_at=None).
    enrolled_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    enrolled_via = EnrolmentVia.CODE

    @factory.post_generation
    def saved(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class EngagementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Engagement

    code = factory.Sequence(lambda n: f"eng{n}")
    code_name = factory.Sequence(lambda n: f"项目{n}")
    firm_name = factory.Sequence(lambda n: f"机密证券{n}号")
    custodian_name = "托管证券"
    disposal_date = date(2026, 12, 1)


def make_site(
    engagement: Engagement, code: str, level: str, parent: Site | None = None, name: str = ""
) -> Site:
    site = Site.objects.create(
        engagement=engagement, code=code, name=name or code, level=level, parent=parent, path=""
    )
    site.path = f"{parent.path if parent else '/'}{site.pk}/"
    site.save(update_fields=["path"])
    return site


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    engagement = factory.SubFactory(EngagementFactory)
    name = factory.Sequence(lambda n: f"单位{n}")
    type = OrgType.FIRM


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    engagement = factory.SubFactory(EngagementFactory)
    organisation = factory.LazyAttribute(lambda o: OrganisationFactory(engagement=o.engagement))
    name = factory.Sequence(lambda n: f"人员{n}")
    party = Party.FIRM_IT


# 第八条: a role that signs for a side is held by a person of that side (permissions.ROLE_PARTIES).
PARTY_OF_ROLE = {
    Role.TECH_GROUP: Party.TECH_GROUP,
    Role.ONSITE_POST: Party.ONSITE_POST,
    Role.FIRM_IT: Party.FIRM_IT,
    Role.FIRM_FINANCE: Party.FIRM_FINANCE,
}


class World:
    """An engagement with HQ → region → two branches (A, B) → a service point under A, and helpers to
    make a login holding a role anywhere in it."""

    def __init__(self) -> None:
        self.engagement = EngagementFactory()
        e = self.engagement
        self.hq = make_site(e, "HQ", SiteLevel.HQ, name="总部")
        self.region = make_site(e, "RC", SiteLevel.REGION, self.hq, name="区域中心")
        self.branch_a = make_site(e, "BA", SiteLevel.BRANCH, self.region, name="甲营业部")
        self.branch_b = make_site(e, "BB", SiteLevel.BRANCH, self.region, name="乙营业部")
        self.service_a = make_site(e, "SA", SiteLevel.SERVICE, self.branch_a, name="甲服务部")
        self.org = OrganisationFactory(engagement=e, name="被托管证券", type=OrgType.FIRM)
        self.person_a = PersonFactory(engagement=e, organisation=self.org, site=self.branch_a, name="甲员工")
        self.person_b = PersonFactory(engagement=e, organisation=self.org, site=self.branch_b, name="乙员工")

    def login_with(
        self, role: str, site: Site | None = None, username: str | None = None, **extra: Any
    ) -> User:
        user = UserFactory(username=username) if username else UserFactory()
        person = PersonFactory(
            engagement=self.engagement,
            organisation=self.org,
            site=site,
            user=user,
            name=user.username,
            party=PARTY_OF_ROLE.get(role, Party.FIRM_IT),
        )
        RoleAssignment.objects.create(
            engagement=self.engagement,
            person=person,
            role=role,
            site=site,
            observer_body=extra.pop("observer_body", "csrc_bureau" if role == Role.OBSERVER else ""),
            **extra,
        )
        return user


def t8_values(engagement: Engagement, site: Site, name: str = "集中交易系统") -> dict[str, Any]:
    """Valid values of a 表8 row (system backup) at ``site``, with its system and host created."""
    from handover.registers.models import Asset, InformationSystem

    system, _ = InformationSystem.objects.get_or_create(engagement=engagement, site=site, name=name)
    asset, _ = Asset.objects.get_or_create(
        engagement=engagement,
        site=site,
        hostname=f"{site.code.lower()}-db01",
        defaults={"name": "数据库服务器"},
    )
    return {
        "system_id": system.pk,
        "asset_id": asset.pk,
        "purpose": "改密前备份",
        "object_type": "数据库",
        "content": "/data/db 全库",
        "method": "数据库备份",
        "started_at": "2026-12-01T09:00",
        "ended_at": "2026-12-01T09:40",
        "media_type": "移动硬盘",
        "media_no": "HD-001",
        "copies": 2,
        "readable": "通过",
        "location": "营业部机房保险柜",
        "seal_no": "FT-0001",
    }


def register_form(engagement: Engagement, site: Site, register_no: int = 8, **fields: Any) -> Any:
    """A draft register form (scenery; the services are tested on their own)."""
    from handover.registers.models import Form

    number = Form.objects.filter(engagement=engagement).count() + 1
    return Form.objects.create(
        engagement=engagement,
        site=site,
        register_no=register_no,
        form_no=fields.pop("form_no", f"{site.code}-T{register_no:02d}-20261201-{number:03d}"),
        form_date=fields.pop("form_date", date(2026, 12, 1)),
        **fields,
    )
