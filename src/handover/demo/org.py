"""The demo engagement: a fictitious firm with 1 总部, 2 区域中心, 6 营业部, 4 服务部, about 60 people and
one login per role. Loading it twice changes nothing but the demo logins' passwords (printed each time)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from handover.accounts import enrolment
from handover.accounts import services as accounts
from handover.accounts.models import User
from handover.core.actors import SystemActor, system
from handover.core.calendar import EXCHANGE_TIME
from handover.org import services
from handover.org.models import (
    Employment,
    Engagement,
    ObserverBody,
    Organisation,
    OrgType,
    Party,
    Person,
    Role,
    Site,
    SiteLevel,
)

CODE = "demo"

SITES = [  # code, name, level, parent code
    ("HQ", "总部（上海）", SiteLevel.HQ, None),
    ("RC-E", "华东区域中心", SiteLevel.REGION, "HQ"),
    ("RC-S", "华南区域中心", SiteLevel.REGION, "HQ"),
    ("BR-SH1", "上海浦东营业部", SiteLevel.BRANCH, "RC-E"),
    ("BR-HZ", "杭州营业部", SiteLevel.BRANCH, "RC-E"),
    ("BR-NJ", "南京营业部", SiteLevel.BRANCH, "RC-E"),
    ("BR-SZ", "深圳福田营业部", SiteLevel.BRANCH, "RC-S"),
    ("BR-GZ", "广州营业部", SiteLevel.BRANCH, "RC-S"),
    ("BR-SH2", "上海徐汇营业部", SiteLevel.BRANCH, "HQ"),
    ("SP-HZ1", "杭州西湖服务部", SiteLevel.SERVICE, "BR-HZ"),
    ("SP-NJ1", "南京鼓楼服务部", SiteLevel.SERVICE, "BR-NJ"),
    ("SP-SZ1", "深圳南山服务部", SiteLevel.SERVICE, "BR-SZ"),
    ("SP-GZ1", "广州天河服务部", SiteLevel.SERVICE, "BR-GZ"),
]

ORGANISATIONS = [
    ("示范托管证券有限公司", OrgType.CUSTODIAN),
    ("远山证券股份有限公司", OrgType.FIRM),
    ("恒信金融软件有限公司", OrgType.APP_VENDOR),
    ("华联网络设备有限公司", OrgType.EQUIPMENT_VENDOR),
    ("城市通信线路公司", OrgType.LINE_CARRIER),
    ("上海证券交易所", OrgType.SSE),
    ("深圳证券交易所", OrgType.SZSE),
    ("上海证监局", OrgType.CSRC_BUREAU),
    ("示范托管工作组", OrgType.OTHER),
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞宇浩然欣怡晨阳子涵思远志诚嘉"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    scope: str


# One login per role: (username, role, site code or None, observer body, the person's party and organisation).
LOGINS = [
    ("demo-tech", Role.TECH_GROUP, None, "", Party.TECH_GROUP, 0),
    ("demo-onsite-hz", Role.ONSITE_POST, "BR-HZ", "", Party.ONSITE_POST, 0),
    ("demo-firm-it", Role.FIRM_IT, "BR-HZ", "", Party.FIRM_IT, 1),
    ("demo-finance", Role.FIRM_FINANCE, "HQ", "", Party.FIRM_FINANCE, 1),
    ("demo-observer", Role.OBSERVER, None, ObserverBody.CSRC_BUREAU, Party.BUSINESS, 7),
    # 第二十七条第4项: a member of the custody working group, who approves the 表24 package in person.
    ("demo-wg", Role.OBSERVER, None, ObserverBody.WORKING_GROUP, Party.BUSINESS, 8),
    ("demo-auditor", Role.AUDITOR, None, "", Party.TECH_GROUP, 0),
    ("demo-sysadmin", Role.SYSADMIN, None, "", Party.TECH_GROUP, 0),
]


# UX review L9: the people behind the demo logins are named as people, on signatures and in the trail; the
# login names stay what the operator types.
PEOPLE = {
    "demo-tech": "陈立新",
    "demo-onsite-hz": "王海涛",
    "demo-firm-it": "李文静",
    "demo-finance": "赵敏",
    "demo-observer": "孙建国",
    "demo-wg": "钱卫东",
    "demo-auditor": "吴秀兰",
    "demo-sysadmin": "郑强",
}


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def load(today: date | None = None) -> tuple[Engagement, bool, list[DemoLogin]]:
    """Create the demo engagement if missing and (re)issue the demo logins' passwords.

    Returns the engagement, whether it was created now, and the logins. The caller (``handover.demo.load``)
    holds the transaction and loads the other apps' parts after this one."""
    actor = system("demo")
    # The dates of a handover are Beijing dates (the exchanges' day), whatever the server's time zone.
    today = today or timezone.localdate(timezone=EXCHANGE_TIME)
    engagement = Engagement.objects.filter(code=CODE).first()
    fresh = engagement is None
    if engagement is None:
        engagement = _build(actor, today)
    logins = [_login(actor, engagement, *spec) for spec in LOGINS]
    return engagement, fresh, logins


def _build(actor: SystemActor, today: date) -> Engagement:
    rng = random.Random(20200421)  # the guideline's date: the same demo every time
    engagement = services.engagement_create(
        actor=actor,
        code=CODE,
        code_name="远山项目（演示）",
        firm_name="远山证券股份有限公司",
        custodian_name="示范托管证券有限公司",
        disposal_date=today - timedelta(days=1),  # mid-handover: D was yesterday (demo/workflow.py)
    )
    sites: dict[str, Site] = {}
    for code, name, level, parent in SITES:
        sites[code] = services.site_create(
            actor=actor,
            engagement=engagement,
            code=code,
            name=name,
            level=level,
            parent=sites[parent] if parent else None,
        )
    orgs = [
        services.organisation_create(actor=actor, engagement=engagement, name=n, type=t)
        for n, t in ORGANISATIONS
    ]
    # The custodian's posts at every site but one branch, so the coverage view has something to show.
    for code, site in sites.items():
        if code != "BR-GZ":
            person = services.person_create(
                actor=actor,
                engagement=engagement,
                name=_name(rng),
                organisation=orgs[0],
                site=site,
                party=Party.ONSITE_POST,
                post="现场技术岗位",
            )
            services.role_grant(actor=actor, person=person, role=Role.ONSITE_POST, site=site)
    firm_staff = [
        ("信息技术部", "系统管理员", Party.FIRM_IT),
        ("信息技术部", "数据库管理员", Party.FIRM_IT),
        ("信息技术部", "网络管理员", Party.FIRM_IT),
        ("计划财务部", "会计", Party.FIRM_FINANCE),
        ("营业部", "柜台主管", Party.BUSINESS),
    ]
    site_list = list(sites.values())
    for index in range(40):
        dept, post, party = firm_staff[index % len(firm_staff)]
        left = index % 13 == 5  # a few who left in the half year before D (第二十五条第3项)
        services.person_create(
            actor=actor,
            engagement=engagement,
            name=_name(rng),
            organisation=orgs[1],
            site=site_list[index % 13],
            department=dept,
            post=post,
            party=party,
            employment=Employment.LEFT if left else Employment.EMPLOYED,
            leave_date=today - timedelta(days=30 + index) if left else None,
        )
    for _ in range(3):
        services.person_create(
            actor=actor,
            engagement=engagement,
            name=_name(rng),
            organisation=orgs[2],
            site=sites["HQ"],
            post="驻场工程师",
            party=Party.VENDOR,
        )
    return engagement


def _login(
    actor: SystemActor,
    engagement: Engagement,
    username: str,
    role: str,
    site_code: str | None,
    body: str,
    party: str,
    org_index: int,
) -> DemoLogin:
    password = accounts.password_generate()
    user = User.objects.filter(username=username).first()
    if user is None:
        user, _ = accounts.user_create(actor=actor, username=username, display_name=PEOPLE[username])
    # The operator at the console holds every demo login (the demo is one person by construction); each
    # bootstrap is recorded as such in the trail (docs/access-policy.md).
    enrolment.login_bootstrap_console(actor=actor, user=user, password=password)
    site = Site.objects.get(engagement=engagement, code=site_code) if site_code else None
    person = Person.objects.filter(engagement=engagement, user=user).first()
    if person is None:
        organisation = Organisation.objects.filter(engagement=engagement).order_by("pk")[org_index]
        person = services.person_create(
            actor=actor,
            engagement=engagement,
            name=PEOPLE[username],
            organisation=organisation,
            site=site,
            party=party,
            user=user,
        )
        services.role_grant(actor=actor, person=person, role=role, site=site, observer_body=body)
    # An observer's scope is the body it observes for (证监局 or 托管工作组): two observers read apart.
    scope = site.name if site else str(ObserverBody(body).label) if body else "—"
    return DemoLogin(role=str(Role(role).label), username=username, password=password, scope=scope)
