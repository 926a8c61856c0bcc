"""Review L1: no input reaches a 500. Each test replays the review's request; the causes are fixed once (the
router's id pattern, the JSON parser, the paginator), so the tests also check that they hold for every route."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from handover.api.pagination import MAX_LIMIT
from handover.api.urls import router
from handover.org.models import Person, Site
from handover.registers.models import Form, Row

BASE = "/api/engagements/demo"
HUGE = "10443711158593815314432"


@pytest.fixture
def tech(demo: dict[str, str]) -> APIClient:
    api = APIClient()
    api.force_authenticate(get_user_model().objects.get(username="demo-tech"))
    return api


def _hz_row() -> Row:
    return (
        Row.objects.filter(is_current=True, form__site__code="BR-HZ", form__state="draft", signatures=None)
        .order_by("pk")
        .first()
        or Row.objects.filter(is_current=True).order_by("pk").first()
    )  # type: ignore[return-value]


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/register-rows/abc/"),
        ("get", "/register-forms/abc/"),
        ("post", "/register-forms/null,null/submit/"),
        ("post", "/register-forms/1.5/sign/"),
        ("post", "/register-forms/-1/archive/"),
        ("post", "/register-forms/x/correct/"),
        ("post", "/register-rows/abc/sign/"),
        ("patch", "/register-rows/abc/"),
        ("get", "/people/abc/"),
        ("get", "/sites/abc/"),
        ("get", "/vault/entries/abc/"),
        ("get", "/vault/entries/00000000-0000-0000-0000-000000000000/"),
        ("get", f"/register-rows/{HUGE}/"),
        ("post", f"/register-forms/{HUGE}/submit/"),
        ("get", f"/people/{HUGE}/"),
    ],
)
def test_an_id_that_is_not_a_number_or_too_big_is_not_found(tech, method, path):
    response = getattr(tech, method)(BASE + path, {}, format="json")
    assert response.status_code == 404, response.content


def test_every_api_route_takes_only_numbers_as_object_ids():
    """The cause, not the instances: no router route keeps DRF's default ``[^/.]+`` lookup."""
    loose = [str(url.pattern) for url in router.urls if "[^/.]+" in str(url.pattern)]
    assert loose == []


@pytest.mark.parametrize("body", ["[1, 2]", '"remarks"', "3", "null", "[]"])
def test_a_row_patch_whose_body_is_not_an_object_is_a_400_and_changes_nothing(tech, body):
    row = _hz_row()
    before = (row.data, row.remarks, row.version)
    response = tech.generic("PATCH", f"{BASE}/register-rows/{row.pk}/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "JSON" in response.json()["detail"]
    row.refresh_from_db()
    assert (row.data, row.remarks, row.version) == before


@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "/sites/"),
        ("post", "/people/"),
        ("post", "/organisations/"),
        ("post", "/roles/"),
        ("post", "/register-forms/"),
        ("post", "/register-rows/"),
        ("post", "/vault/requests/"),
        ("post", "/workflow/cases/"),
        ("patch", "/sites/{site}/"),
        ("patch", "/people/{person}/"),
    ],
)
def test_every_write_refuses_a_list_body_with_a_400_saying_what_is_expected(tech, method, path):
    counts = (Form.objects.count(), Row.objects.count())
    path = path.format(site=Site.objects.get(code="BR-HZ").pk, person=Person.objects.order_by("pk")[0].pk)
    response = tech.generic(method.upper(), BASE + path, '[{"name": "x"}]', content_type="application/json")
    assert response.status_code == 400, response.content
    assert "JSON" in response.json()["detail"]
    assert (Form.objects.count(), Row.objects.count()) == counts


def test_a_list_body_on_the_token_endpoint_is_a_400(db):
    response = APIClient().generic(
        "POST", "/api/auth/token/", '["demo-tech"]', content_type="application/json"
    )
    assert response.status_code == 400 and "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        f"/people/?limit={HUGE}",
        "/vault/requests/?limit=2.25e23",
        f"/organisations/?limit={HUGE}&offset={HUGE}",
        f"/sites/?offset={HUGE}",
        f"/workflow/cases/?limit={HUGE}",
        f"/register-rows/?limit={HUGE}",
    ],
)
def test_a_huge_limit_or_offset_is_capped_not_a_500(tech, path):
    response = tech.get(BASE + path)
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) <= MAX_LIMIT


def test_a_limit_above_the_cap_is_served_as_the_cap(tech):
    response = tech.get(f"{BASE}/people/?limit={MAX_LIMIT * 10}")
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == min(body["count"], MAX_LIMIT)
    assert f"limit={MAX_LIMIT}" in (body["next"] or f"limit={MAX_LIMIT}")


@pytest.mark.parametrize(
    "query", ["site=²", "form=²", "register=²", "limit=²", "after=².1", "before=1.²", f"site={HUGE}"]
)
def test_a_number_parameter_given_a_digit_python_cannot_read_is_not_a_500(tech, query):
    """``"²".isdigit()`` is True but ``int("²")`` fails: number parameters are checked with ``isdecimal``."""
    response = tech.get(f"{BASE}/register-rows/?{query}")
    assert response.status_code in (200, 400, 404), response.content
    forms = tech.get(f"{BASE}/register-forms/?{query}")
    assert forms.status_code in (200, 400, 404), forms.content


def test_the_register_index_page_with_a_superscript_site_is_not_a_500(demo, client):
    client.force_login(get_user_model().objects.get(username="demo-tech"))
    assert client.get("/e/demo/registers/?site=²").status_code == 200


def test_an_unknown_api_path_answers_the_api_error_shape_not_an_html_page(tech, client):
    """A path under /api/ that no route matches answers JSON in the schema's `Error` shape (api/schema.py); a
    page path still answers the HTML page."""
    response = tech.get("/api/engagements/demo/no-such-thing/%5C%1F/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found" and response.json()["detail"]
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_the_schema_states_the_errors_of_every_operation(tech):
    """Every operation documents 400, 401, 403, 404 with the `Error` body, beside its own answers."""
    schema = tech.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "Error" in schema["components"]["schemas"]
    operations = [op for item in schema["paths"].values() for op in item.values() if "responses" in op]
    assert operations
    for operation in operations:
        assert {"400", "401", "403", "404"} <= set(operation["responses"]), operation["operationId"]
