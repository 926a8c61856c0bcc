"""The faces of backup verification: bundles uploaded through the API and the page, keys enrolled through the
API and the page (``handover-agent enroll --server`` against a real server is in tests/e2e/test_fixity_agent.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from handover.accounts.services import api_token_issue
from handover.backups.models import ImportedBundle, KeySource, SiteKey
from handover.fixity import keys
from handover.fixity.cli import main as agent
from handover.org.models import Role
from handover.registers.models import Row
from tests.backups.test_import import enrol, faulty_bundle
from tests.factories import World


def test_upload_by_api_imports_once(world: World, client, tmp_path: Path) -> None:
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    path = faulty_bundle(enrol(world, tmp_path))
    token = api_token_issue(user=onsite)
    url = reverse("api:fixity-bundles", kwargs={"code": world.engagement.code})
    answers = []
    for _ in range(2):
        with open(path, "rb") as source:
            answers.append(client.post(url, {"file": source}, HTTP_AUTHORIZATION=f"Token {token}"))
    assert [a.status_code for a in answers] == [201, 200]
    assert [a.json()["created"] for a in answers] == [True, False]
    assert answers[0].json()["tamper"] is True and answers[0].json()["site"] == "BA"
    assert ImportedBundle.objects.count() == 1
    listed = client.get(url, HTTP_AUTHORIZATION=f"Token {token}").json()
    assert [b["digest"] for b in listed] == [answers[0].json()["digest"]]


def test_enrol_by_api_refuses_another_site(world: World, client, tmp_path: Path) -> None:
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    token = api_token_issue(user=onsite)
    url = reverse("api:fixity-keys", kwargs={"code": world.engagement.code})
    for site, status in (("BB", 403), ("BA", 201)):
        key = keys.generate(engagement=world.engagement.code, site=site)
        response = client.post(url, key.public_document(), content_type="application/json",
                               HTTP_AUTHORIZATION=f"Token {token}")  # fmt: skip
        assert response.status_code == status, response.content
    assert list(SiteKey.objects.values_list("site__code", "source")) == [("BA", KeySource.AGENT)]


def test_api_refuses_a_tampered_bundle_with_the_reason(world: World, client, tmp_path: Path) -> None:
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    path = faulty_bundle(enrol(world, tmp_path))
    data = bytearray(path.read_bytes())
    data[data.find(b"reports/01") + 150] ^= 0x01
    (tmp_path / "t.zip").write_bytes(bytes(data))
    token = api_token_issue(user=onsite)
    url = reverse("api:fixity-bundles", kwargs={"code": world.engagement.code})
    with open(tmp_path / "t.zip", "rb") as source:
        response = client.post(url, {"file": source}, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 400
    assert response.json()["code"] in ("altered", "not_a_bundle", "bad_signature")
    assert Row.objects.count() == 0
    listed = client.get(url, HTTP_AUTHORIZATION=f"Token {token}")
    assert listed.status_code == 200 and listed.json() == []


def test_upload_page_imports_once_and_shows_tampering(world: World, client, tmp_path: Path) -> None:
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    path = faulty_bundle(enrol(world, tmp_path))
    client.force_login(onsite)
    url = reverse("backups:bundle_list", kwargs={"code": world.engagement.code})
    with open(path, "rb") as source:
        response = client.post(url, {"file": source}, follow=True)
    body = response.content.decode()
    assert response.status_code == 200 and ImportedBundle.objects.count() == 1
    bundle = ImportedBundle.objects.get()
    assert bundle.digest[:12] in body and "第二十六条第5项" in body
    with open(path, "rb") as source:
        body = client.post(url, {"file": source}, follow=True).content.decode()
    assert ImportedBundle.objects.count() == 1 and 'class="info"' in body
    (tmp_path / "junk.zip").write_bytes(b"junk")
    with open(tmp_path / "junk.zip", "rb") as source:
        response = client.post(url, {"file": source})
    assert response.status_code == 200 and ImportedBundle.objects.count() == 1


def test_firm_it_sees_results_but_cannot_import(world: World, client, tmp_path: Path) -> None:
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a)
    path = faulty_bundle(enrol(world, tmp_path))
    client.force_login(firm_it)
    url = reverse("backups:bundle_list", kwargs={"code": world.engagement.code})
    page = client.get(url).content.decode()
    assert 'data-testid="import"' not in page
    with open(path, "rb") as source:
        client.post(url, {"file": source})
    assert ImportedBundle.objects.count() == 0


def test_key_page_registers_a_public_key_file(world: World, client, tmp_path: Path) -> None:
    tech = world.login_with(Role.TECH_GROUP)
    pub = tmp_path / "pub.json"
    args = ["enroll", "--engagement", world.engagement.code, "--site", "BB", "--export", str(pub)]
    assert agent([*args, "--agent-dir", str(tmp_path / "agent")]) == 0
    client.force_login(tech)
    url = reverse("backups:key_list", kwargs={"code": world.engagement.code})
    with open(pub, "rb") as source:
        response = client.post(url, {"file": source, "label": "乙营业部笔记本"}, follow=True)
    key = SiteKey.objects.get()
    assert key.site == world.branch_b and key.key_id in response.content.decode()
    document = json.loads(pub.read_text())
    document["site"] = "NOPE"
    pub.write_text(json.dumps(document))
    with open(pub, "rb") as source:
        response = client.post(url, {"file": source})
    assert response.status_code == 200 and SiteKey.objects.count() == 1
    assert "NOPE" in response.content.decode()


@pytest.mark.parametrize("role", [Role.OBSERVER, Role.FIRM_FINANCE])
def test_roles_without_backups_see_nothing(world: World, client, role: str) -> None:
    user = world.login_with(role, site=world.branch_a if role == Role.FIRM_FINANCE else None)
    client.force_login(user)
    url = reverse("backups:bundle_list", kwargs={"code": world.engagement.code})
    assert client.get(url).status_code == 403
