"""第十一条 (review L5): the firm's real name, carried by its Organisation too, is hidden wherever the
engagement's firm_name is, and the observer dashboard names no site."""

from __future__ import annotations

from rest_framework.test import APIClient

from handover.audit.models import Event
from handover.org import services
from handover.org.models import OrgType, Phase, Role

REAL_NAME = "远山证券股份有限公司"


def _firm_organisation(world):
    tech = world.login_with(Role.TECH_GROUP)
    firm = services.organisation_create(
        actor=tech, engagement=world.engagement, name="远山证券（待定名）", type=OrgType.FIRM
    )
    services.organisation_update(actor=tech, organisation=firm, name=REAL_NAME, phone="0571-1")
    services.organisation_create(
        actor=tech, engagement=world.engagement, name="华东电信", type=OrgType.TELECOM
    )
    return tech, firm


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_firm_organisation_is_hidden_from_those_who_may_not_see_the_firm_name(world, client):
    tech, firm = _firm_organisation(world)
    person = world.person_a
    person.organisation = firm
    person.save()
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)  # 准备期: only 技术组 sees the name
    code = world.engagement.code
    client.force_login(onsite)
    pages = [
        client.get(f"/e/{code}/organisations/").content.decode(),
        client.get(f"/e/{code}/people/").content.decode(),
        client.get(f"/e/{code}/people/{person.pk}/").content.decode(),
        client.get(f"/e/{code}/people/{person.pk}/edit/").content.decode(),
    ]
    api = _api(onsite)
    listed = api.get(f"/api/engagements/{code}/organisations/").content.decode()
    one = api.get(f"/api/engagements/{code}/organisations/{firm.pk}/").content.decode()
    for text in [*pages, listed, one]:
        assert REAL_NAME not in text
        assert world.engagement.code_name in text
    assert "华东电信" in pages[0] and "华东电信" in listed  # the other organisations keep their names
    client.force_login(tech)
    assert REAL_NAME in client.get(f"/e/{code}/organisations/").content.decode()
    assert REAL_NAME in _api(tech).get(f"/api/engagements/{code}/organisations/").content.decode()
    world.engagement.phase = Phase.HANDOVER
    world.engagement.save()
    assert REAL_NAME in _api(onsite).get(f"/api/engagements/{code}/organisations/").content.decode()


def test_the_firm_organisation_name_stays_out_of_the_audit_trail(world, client):
    _tech, firm = _firm_organisation(world)
    auditor = world.login_with(Role.AUDITOR)
    events = Event.objects.filter(object_type="org.organisation", object_id=str(firm.pk)).order_by("seq")
    assert [e.action for e in events] == ["org.organisation.create", "org.organisation.update"]
    update = events[1]
    assert update.before["name"] == update.after["name"] == "(第十一条)"  # changed, without the values
    assert update.after["phone"] == "0571-1"
    for event in Event.objects.all():
        assert REAL_NAME not in str(event.before) + str(event.after)
        assert "待定名" not in str(event.before) + str(event.after)
    client.force_login(auditor)
    assert REAL_NAME not in client.get("/audit/").content.decode()
    assert REAL_NAME not in _api(auditor).get("/api/audit/events/").content.decode()


def test_the_observer_dashboard_names_no_site(world, client):
    sites = (world.hq, world.region, world.branch_a, world.branch_b, world.service_a)
    for site, place in zip(sites, ("北京金融街", "华东", "杭州西湖", "深圳福田", "杭州文三路"), strict=True):
        site.name = f"{place}{site.get_level_display()}"
        site.save()
    observer = world.login_with(Role.OBSERVER)
    tech = world.login_with(Role.TECH_GROUP)
    code = world.engagement.code
    client.force_login(observer)
    page = client.get(f"/e/{code}/").content.decode()
    assert page.count('class="level"') == 5  # the tree's levels and counts are there
    for site in sites:
        assert site.name not in page and f'data-site="{site.code}"' not in page
    client.force_login(tech)
    page = client.get(f"/e/{code}/").content.decode()
    assert all(s.name in page for s in sites)


def test_register_pages_choices_and_files_name_the_firm_organisation_by_its_code_name(world):
    """The firm's organisation is also a register reference (a system's developer, a bank): its label on the
    register pages, the form's choices, the export and the import all follow 第十一条 for the reader."""
    from handover.registers import catalogue, selectors
    from handover.registers.forms import column_field
    from handover.registers.io.refs import References
    from handover.registers.models import Row

    tech, firm = _firm_organisation(world)
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    column = next(
        c
        for spec in catalogue.REGISTERS
        for c in catalogue.columns(spec.number)
        if c.type == "ref" and c.ref == "org"
    )
    row = Row(data={column.key: firm.pk})
    exported = {}
    for user, shows_name in ((onsite, False), (tech, True)):
        label = selectors.ref_labels(engagement=world.engagement, columns=(column,), rows=[row], user=user)
        choice = column_field(column, user=user, engagement=world.engagement).label_from_instance(firm)
        exported[user] = References(world.engagement, reader=user).label(column, firm.pk)
        for text in (label["org"][firm.pk], choice, exported[user]):
            assert (REAL_NAME in text) is shows_name and (
                world.engagement.code_name in text
            ) is not shows_name
    importing = References(world.engagement, user=onsite)
    site = world.branch_a.pk
    assert importing.resolve(column, exported[onsite], site_id=site, row={}) == firm.pk  # a round trip
    try:
        importing.resolve(column, REAL_NAME, site_id=site, row={})
    except LookupError as refused:
        assert str(refused) == f"未找到：{REAL_NAME}。" or REAL_NAME in str(refused)
    else:
        raise AssertionError("the real name resolved for a user who may not read it")


def test_the_disposal_date_is_kept_as_the_name_is_in_preparation(world, client):
    # 第十一条 「…不得公开被托管机构的名称及托管时间」 (trace C24): in 准备期 only 技术组 knows D.
    tech = world.login_with(Role.TECH_GROUP)
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    observer = world.login_with(Role.OBSERVER)
    code, d = world.engagement.code, world.engagement.disposal_date.isoformat()

    def shown(user) -> list[bool]:
        client.force_login(user)
        pages = [client.get("/e/").content.decode(), client.get(f"/e/{code}/").content.decode()]
        api = _api(user)
        data = [api.get(f"/api/engagements/{code}/").json()["disposal_date"]]
        return [d in page for page in pages] + [value == d for value in data]

    assert shown(tech) == [True, True, True]
    assert shown(onsite) == [False, False, False]
    assert shown(observer) == [False, False, False]
    world.engagement.phase = Phase.HANDOVER
    world.engagement.save()
    assert shown(onsite) == [True, True, True] and shown(observer) == [True, True, True]
