"""The REST API: same permissions as the pages; errors name the field; unknown engagements are 404."""

from __future__ import annotations

import pyotp
import pytest
from rest_framework.test import APIClient

from handover.accounts import services as accounts
from handover.audit.models import Event
from handover.org.models import Person, Role, Site
from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def test_schema_lists_the_endpoints(api, world):
    api.force_authenticate(world.login_with(Role.TECH_GROUP))
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        "/api/engagements/",
        "/api/engagements/{code}/sites/",
        "/api/engagements/{code}/people/",
        "/api/audit/events/",
        "/api/auth/token/",
    ):
        assert path in schema["paths"]
    assert api.get("/api/docs/").status_code == 200


def test_technical_group_adds_a_branch_through_the_api(api, world):
    api.force_authenticate(world.login_with(Role.TECH_GROUP))
    url = f"/api/engagements/{world.engagement.code}/sites/"
    response = api.post(
        url, {"code": "BC", "name": "丙营业部", "level": "branch", "parent": world.region.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["path"].startswith(world.region.path)
    assert Event.objects.filter(action="org.site.create", channel="api").exists()


def test_bad_parent_gets_an_error_body_naming_the_field_and_changes_nothing(api, world):
    api.force_authenticate(world.login_with(Role.TECH_GROUP))
    count = Site.objects.count()
    response = api.post(
        f"/api/engagements/{world.engagement.code}/sites/",
        {"code": "SX", "name": "x", "level": "service", "parent": world.region.pk},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "parent" and body["parent"]
    assert Site.objects.count() == count


def test_missing_fields_are_named(api, world):
    api.force_authenticate(world.login_with(Role.TECH_GROUP))
    response = api.post(f"/api/engagements/{world.engagement.code}/people/", {"name": "x"}, format="json")
    assert response.status_code == 400
    assert {"organisation", "party"} <= set(response.json())


def test_unknown_engagement_is_a_404_naming_the_engagement(api, world):
    api.force_authenticate(world.login_with(Role.TECH_GROUP))
    response = api.get("/api/engagements/no-such/sites/")
    assert response.status_code == 404
    assert response.json()["field"] == "engagement"


def test_an_onsite_post_lists_only_their_subtree_and_cannot_fetch_another_branch(api, world):
    api.force_authenticate(world.login_with(Role.ONSITE_POST, site=world.branch_a))
    base = f"/api/engagements/{world.engagement.code}"
    codes = {row["code"] for row in api.get(f"{base}/sites/").json()["results"]}
    assert codes == {"BA", "SA"}
    assert api.get(f"{base}/sites/{world.branch_b.pk}/").status_code == 404
    assert api.get(f"{base}/people/{world.person_b.pk}/").status_code == 404
    person = api.post(
        f"{base}/people/",
        {"name": "越界", "organisation": world.org.pk, "site": world.branch_b.pk, "party": "firm_it"},
        format="json",
    )
    assert person.status_code == 400 and "site" in person.json()


def test_firm_name_is_null_for_members_who_may_not_see_it(api, world):
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    api.force_authenticate(onsite)
    assert api.get("/api/engagements/").json()["results"][0]["firm_name"] is None
    assert not Event.objects.filter(action="org.engagement.view_firm_name").exists()  # nothing was read


def test_reading_the_firm_name_through_the_api_is_recorded_as_on_the_page(api, world):
    # Review §4.1: the API returned the confidential name (第十一条) without the event the page writes.
    tech = world.login_with(Role.TECH_GROUP)
    api.force_authenticate(tech)
    listed = api.get("/api/engagements/").json()["results"]
    assert [e["firm_name"] for e in listed] == [world.engagement.firm_name]
    one = api.get(f"/api/engagements/{world.engagement.code}/").json()
    assert one["firm_name"] == world.engagement.firm_name
    read = Event.objects.filter(action="org.engagement.view_firm_name", actor_id=tech.pk)
    assert read.count() == 2 and {e.engagement_id for e in read} == {world.engagement.pk}


def test_reading_the_audit_trail_through_the_api_is_recorded_as_on_the_page(api, world):
    # Review §4.1: the API's trail read wrote no audit.view; a user without the role gets a 403 and no event.
    auditor = world.login_with(Role.AUDITOR)
    api.force_authenticate(auditor)
    response = api.get("/api/audit/events/", {"action": "audit.view"})
    assert response.status_code == 200
    (view,) = Event.objects.filter(action="audit.view", actor_id=auditor.pk)
    assert view.after == {"filters": {"action": "audit.view"}}
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    api.force_authenticate(onsite)
    assert api.get("/api/audit/events/").status_code == 403
    assert not Event.objects.filter(action="audit.view", actor_id=onsite.pk).exists()


def test_exporting_the_audit_trail_through_the_api_is_recorded_as_on_the_page(api, world):
    # Review §4.1 and §10.1: the export's writer is a service (audit/exporting.py) both faces call.
    auditor = world.login_with(Role.AUDITOR)
    api.force_authenticate(auditor)
    response = api.get("/api/audit/events/export/csv/", {"action": "audit.view"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].split(",")[0] in ("Seq", "序号")
    (export,) = Event.objects.filter(action="audit.export", actor_id=auditor.pk)
    assert export.after == {"format": "csv", "filters": {"action": "audit.view"}}
    book = api.get("/api/audit/events/export/xlsx/")
    assert book.status_code == 200 and book.content[:2] == b"PK"
    assert Event.objects.filter(action="audit.export", actor_id=auditor.pk).count() == 2
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    api.force_authenticate(onsite)
    assert api.get("/api/audit/events/export/csv/").status_code == 403
    assert not Event.objects.filter(action="audit.export", actor_id=onsite.pk).exists()


def test_token_needs_the_second_factor_once_it_is_set_up(api, db):
    user = UserFactory()
    secret = pyotp.random_base32()
    accounts.totp_enroll(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    refused = api.post("/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "code"
    ok = api.post(
        "/api/auth/token/",
        {"username": user.username, "password": PASSWORD, "code": pyotp.TOTP(secret).now()},
        format="json",
    )
    token = ok.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/engagements/").status_code == 200


def test_wrong_password_for_a_token_is_refused(api, db):
    user = UserFactory()
    response = api.post(
        "/api/auth/token/", {"username": user.username, "password": "nope-nope-nope"}, format="json"
    )
    assert response.status_code == 400
    assert "token" not in response.json()


def test_technical_group_links_a_login_through_the_api_and_others_cannot(api, world):
    login = UserFactory(username="it-a")
    base = f"/api/engagements/{world.engagement.code}/people/{world.person_a.pk}/login/"
    api.force_authenticate(world.login_with(Role.ONSITE_POST, world.branch_a))
    assert api.post(base, {"username": "it-a"}, format="json").status_code == 403
    api.force_authenticate(world.login_with(Role.TECH_GROUP))
    missing = api.post(base, {"username": "nobody"}, format="json")
    assert missing.status_code == 400 and missing.json()["field"] == "username"
    linked = api.post(base, {"username": "it-a"}, format="json")
    assert linked.status_code == 200 and linked.json()["login"] == "it-a"
    assert Person.objects.get(pk=world.person_a.pk).user == login
    again = api.post(base, {"username": "it-a"}, format="json")
    assert again.status_code == 400 and again.json()["field"] == "user"
    unlinked = api.post(base + "unlink/", format="json")
    assert unlinked.status_code == 200 and unlinked.json()["login"] is None
