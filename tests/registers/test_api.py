"""The registers' REST API: the pages' filters, permissions and messages, keyset pages, the OpenAPI schema."""

from __future__ import annotations

from datetime import date

import pytest
from rest_framework.test import APIClient

from handover.audit.models import Event
from handover.org.models import Role
from handover.registers.models import Form, FormState, Row, Signature
from tests.factories import t8_values


@pytest.fixture
def people(world):
    return {
        "firm_it": world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it_a"),
        "onsite": world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite_a"),
        "onsite_b": world.login_with(Role.ONSITE_POST, site=world.branch_b, username="onsite_b"),
        "finance": world.login_with(Role.FIRM_FINANCE, site=world.branch_a, username="finance_a"),
        "tech": world.login_with(Role.TECH_GROUP, username="tech"),
        "observer": world.login_with(Role.OBSERVER, username="observer"),
    }


def client_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def base(world, what):
    return f"/api/engagements/{world.engagement.code}/register-{what}/"


def open_form(world, user, site=None):
    response = client_for(user).post(
        base(world, "forms"),
        {"register_no": 8, "site": (site or world.branch_a).pk, "form_date": "2026-12-01"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def add_row(world, user, form_id, **values):
    data = {**t8_values(world.engagement, Form.objects.get(pk=form_id).site), **values}
    return client_for(user).post(base(world, "rows"), {"form": form_id, "data": data}, format="json")


def test_schema_lists_the_register_endpoints(world, people):
    schema = (
        client_for(people["tech"]).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    for path in (
        "/api/engagements/{code}/register-forms/",
        "/api/engagements/{code}/register-forms/{id}/sign/",
        "/api/engagements/{code}/register-forms/{id}/submit/",
        "/api/engagements/{code}/register-rows/",
        "/api/engagements/{code}/register-rows/{id}/",
        "/api/engagements/{code}/register-rows/{id}/sign/",
        "/api/engagements/{code}/register-rows/{id}/correct/",
    ):
        assert path in schema["paths"], path
    listing = schema["paths"]["/api/engagements/{code}/register-rows/"]["get"]
    assert {"register", "site", "state", "phase", "q", "after"} <= {p["name"] for p in listing["parameters"]}


def test_the_whole_path_create_fill_sign_submit_sign_correct(world, people):
    form = open_form(world, people["firm_it"])
    assert (
        form["form_no"] == "BA-T08-20261201-001"
        and form["state"] == "draft"
        and form["title"].startswith("表8：")
    )
    row = add_row(world, people["firm_it"], form["id"])
    assert row.status_code == 201, row.content
    row_id = row.json()["id"]
    sign = client_for(people["firm_it"]).post(f"{base(world, 'rows')}{row_id}/sign/", {"kind": "executor"})
    assert sign.status_code == 201 and sign.json()["signatures"][0]["kind"] == "executor"
    # The executor may not also supervise; the 现场技术岗位 may.
    refused = client_for(people["firm_it"]).post(
        f"{base(world, 'rows')}{row_id}/sign/", {"kind": "supervisor"}
    )
    assert refused.status_code == 403
    assert (
        client_for(people["onsite"])
        .post(f"{base(world, 'rows')}{row_id}/sign/", {"kind": "supervisor"})
        .status_code
        == 201
    )
    assert (
        client_for(people["firm_it"]).post(f"{base(world, 'forms')}{form['id']}/submit/").json()["state"]
        == "submitted"
    )
    for name in ("onsite", "firm_it"):
        assert client_for(people[name]).post(f"{base(world, 'forms')}{form['id']}/sign/").status_code == 200
    assert Form.objects.get(pk=form["id"]).state == FormState.SIGNED
    corrected = client_for(people["firm_it"]).post(
        f"{base(world, 'forms')}{form['id']}/correct/", {"reason": "介质编号错误"}, format="json"
    )
    assert corrected.status_code == 201 and corrected.json()["version"] == 2
    assert Event.objects.filter(action="registers.form.correct", channel="api").exists()


def test_invalid_values_are_named_by_column_and_nothing_is_written(world, people):
    form = open_form(world, people["firm_it"])
    response = add_row(
        world,
        people["firm_it"],
        form["id"],
        content="admin password: Hunter2Hunter2",
        copies="many",
        purpose="随便",
        seal_no=None,
        nonsense="x",
    )
    assert response.status_code == 400
    body = response.json()["data"]
    assert set(body) == {"nonsense"}  # an unknown column is refused before anything else
    response = add_row(
        world,
        people["firm_it"],
        form["id"],
        content="admin password: Hunter2Hunter2",
        copies="many",
        purpose="随便",
    )
    body = response.json()["data"]
    assert set(body) == {"content", "copies", "purpose"}
    assert "registers.md §1.3" in body["content"][0]
    assert not Row.objects.exists()
    # A reference outside the user's sites is refused as an invalid choice.
    other = t8_values(world.engagement, world.branch_b)
    response = add_row(world, people["firm_it"], form["id"], system_id=other["system_id"])
    assert response.status_code == 400 and set(response.json()["data"]) == {"system_id"}


def test_update_and_correct_through_the_api(world, people):
    form = open_form(world, people["firm_it"])
    row_id = add_row(world, people["firm_it"], form["id"]).json()["id"]
    api = client_for(people["firm_it"])
    data = {**t8_values(world.engagement, world.branch_a), "copies": 3}
    changed = api.patch(f"{base(world, 'rows')}{row_id}/", {"data": data, "remarks": "补记"}, format="json")
    assert (
        changed.status_code == 200
        and changed.json()["data"]["copies"] == 3
        and changed.json()["remarks"] == "补记"
    )
    api.post(f"{base(world, 'rows')}{row_id}/sign/", {"kind": "executor"})
    frozen = api.patch(f"{base(world, 'rows')}{row_id}/", {"data": data}, format="json")
    assert frozen.status_code == 400 and frozen.json()["field"] == "row"
    no_reason = api.post(f"{base(world, 'rows')}{row_id}/correct/", {"data": data}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    new = api.post(f"{base(world, 'rows')}{row_id}/correct/", {"data": data, "reason": "份数"}, format="json")
    assert new.status_code == 201 and new.json()["version"] == 2 and new.json()["previous"] == row_id
    old = api.get(f"{base(world, 'rows')}{row_id}/").json()
    assert old["is_current"] is False and old["signatures"][0]["kind"] == "executor"


def test_lists_are_scoped_filtered_and_paged_by_keyset(world, people):
    form_a = open_form(world, people["firm_it"])
    for n in range(3):
        add_row(world, people["firm_it"], form_a["id"], media_no=f"A-{n}")
    add_row(world, people["firm_it"], form_a["id"], media_no="A-full", purpose="交接全备份")
    form_b = open_form(world, people["tech"], site=world.branch_b)
    add_row(world, people["tech"], form_b["id"], media_no="乙介质")
    firm_it = client_for(people["firm_it"])
    rows = firm_it.get(base(world, "rows"), {"register": 8}).json()
    assert len(rows["results"]) == 4 and "乙介质" not in str(rows)
    assert (
        len(firm_it.get(base(world, "rows"), {"register": 8, "purpose": "交接全备份"}).json()["results"]) == 1
    )
    assert len(firm_it.get(base(world, "rows"), {"q": "A-1"}).json()["results"]) == 1
    assert len(firm_it.get(base(world, "rows"), {"phase": "preparation"}).json()["results"]) == 0
    assert firm_it.get(base(world, "rows"), {"site": world.branch_b.pk}).status_code == 404
    assert firm_it.get(f"{base(world, 'forms')}{form_b['id']}/").status_code == 404
    assert firm_it.get(base(world, "rows"), {"register": 99}).status_code == 400
    tech = client_for(people["tech"])
    assert len(tech.get(base(world, "rows")).json()["results"]) == 5
    assert [
        f["site_name"] for f in tech.get(base(world, "forms"), {"site": world.branch_b.pk}).json()["results"]
    ] == ["乙营业部"]
    seen, link, pages = [], base(world, "rows") + "?register=8&limit=2", 0
    while link:
        page = tech.get(link.replace("http://testserver", "")).json()
        seen += [r["data"]["media_no"] for r in page["results"]]
        link, pages = page["next"], pages + 1
    assert seen == ["A-0", "A-1", "A-2", "A-full", "乙介质"] and pages == 3
    last = tech.get(base(world, "rows"), {"register": 8, "limit": 2, "last": 1}).json()
    assert [r["data"]["media_no"] for r in last["results"]] == ["A-full", "乙介质"] and last["next"] is None
    previous = tech.get(last["previous"].replace("http://testserver", "")).json()
    assert [r["data"]["media_no"] for r in previous["results"]] == ["A-1", "A-2"]


def test_roles_the_api_refuses(world, people):
    form = open_form(world, people["firm_it"])
    row_id = add_row(world, people["firm_it"], form["id"]).json()["id"]
    assert client_for(people["observer"]).get(base(world, "rows")).status_code == 403
    finance = client_for(people["finance"])
    assert finance.get(base(world, "rows")).status_code == 200
    assert (
        finance.post(
            base(world, "forms"), {"register_no": 8, "site": world.branch_a.pk, "form_date": "2026-12-01"}
        ).status_code
        == 403
    )
    assert finance.post(f"{base(world, 'rows')}{row_id}/sign/", {"kind": "executor"}).status_code == 403
    assert (
        client_for(people["onsite_b"])
        .post(f"{base(world, 'rows')}{row_id}/sign/", {"kind": "supervisor"})
        .status_code
        == 404
    )
    assert not Signature.objects.exists()


def test_a_signed_form_is_archived_by_the_sites_onsite_post_only(world, people):
    form = open_form(world, people["firm_it"])
    archive = f"{base(world, 'forms')}{form['id']}/archive/"
    unsigned = client_for(people["onsite"]).post(archive)
    assert unsigned.status_code == 400 and unsigned.json()["field"] == "form"
    row_id = add_row(world, people["firm_it"], form["id"]).json()["id"]
    for name, kind in (("firm_it", "executor"), ("onsite", "supervisor")):
        client_for(people[name]).post(f"{base(world, 'rows')}{row_id}/sign/", {"kind": kind})
    client_for(people["firm_it"]).post(f"{base(world, 'forms')}{form['id']}/submit/")
    for name in ("onsite", "firm_it"):
        client_for(people[name]).post(f"{base(world, 'forms')}{form['id']}/sign/")
    assert Form.objects.get(pk=form["id"]).state == FormState.SIGNED
    # The firm's IT signed it but may not archive it; another branch's post does not find it.
    assert client_for(people["firm_it"]).post(archive).status_code == 403
    assert client_for(people["onsite_b"]).post(archive).status_code == 404
    assert client_for(people["observer"]).post(archive).status_code == 403
    assert Form.objects.get(pk=form["id"]).state == FormState.SIGNED
    archived = client_for(people["onsite"]).post(archive)
    assert archived.status_code == 200 and archived.json()["state"] == "archived"
    again = client_for(people["tech"]).post(archive)
    assert again.status_code == 400 and again.json()["field"] == "form"
    assert Event.objects.filter(action="registers.form.archive", channel="api").count() == 1


def test_opening_a_table6_form_through_the_api_builds_it_as_the_page_does(world, people):
    """Review §4.3: the API opened an empty 表6/表24 shell where the page built its rows (seeding.form_open)."""
    from handover.registers import services
    from handover.registers.models import InformationSystem

    system = InformationSystem.objects.create(
        engagement=world.engagement, site=world.branch_a, name="柜台系统"
    )
    t5 = services.form_create(
        actor=people["firm_it"],
        engagement=world.engagement,
        site=world.branch_a,
        register_no=5,
        form_date=date(2026, 12, 1),
    )
    services.row_add(
        actor=people["firm_it"],
        form=t5,
        data={
            "person_id": world.person_a.pk,
            "site_id": world.branch_a.pk,
            "dept": "信息技术部",
            "post": "系统管理员",
            "systems": [system.pk],
            "employment_type": "正式",
            "employment": "在职",
            "phone": "0571-88000000",
        },
    )
    response = client_for(people["onsite"]).post(
        base(world, "forms"),
        {"register_no": 6, "site": world.branch_a.pk, "form_date": "2026-12-01"},
        format="json",
    )
    assert response.status_code == 201, response.content
    form = Form.objects.get(pk=response.json()["id"], register_no=6)
    row = form.rows.get()
    assert row.data["dept"] == "信息技术部" and row.data["active_count"] == 1
    assert Event.objects.filter(
        action="registers.form.compute", object_id=str(form.pk), channel="api"
    ).exists()
