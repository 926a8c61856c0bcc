"""The REST API: import a file (multipart), read findings scoped by site, decide on one."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from handover.discovery.models import Finding
from handover.org.models import Role
from handover.registers.models import Row
from tests.discovery.conftest import Hosts, Rules
from tests.factories import World


def test_import_read_and_decide_over_the_api(
    world: World, client, hosts: Hosts, rules: Rules, vault, data_dir: Path
) -> None:
    post = world.login_with(Role.ONSITE_POST, world.branch_a)
    client.force_login(post)
    base = f"/api/engagements/{world.engagement.code}/discovery"
    upload = SimpleUploadedFile("h1.txt", b"root:0:S\nops:1001:S\n", content_type="text/plain")
    response = client.post(
        f"{base}/imports/", {"file": upload, "site": "BA", "system": "集中交易", "kind": "testlinux"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["outcomes"][0]["status"] == "ok"

    bad = SimpleUploadedFile("h2.txt", b"root:0:S\nbad\n", content_type="text/plain")
    refused = client.post(
        f"{base}/imports/", {"file": bad, "site": "BA", "system": "集中交易", "kind": "testlinux"}
    )
    assert refused.status_code == 400 and "h2.txt:2" in refused.json()["detail"]

    findings = client.get(f"{base}/findings/", {"rule": "superuser_equivalent"}).json()
    assert [(f["host"], f["account"]) for f in findings] == [("h1", "ops")]
    decided = client.post(
        f"{base}/findings/{findings[0]['id']}/decide/", {"decision": "降权"}, content_type="application/json"
    )
    assert decided.status_code == 200 and decided.json()["decision"] == "降权"
    assert Row.objects.filter(form__register_no=13, data__change_type="B降权").exists()

    other = world.login_with(Role.ONSITE_POST, world.branch_b)
    client.force_login(other)
    assert client.get(f"{base}/findings/").json() == []
    assert (
        client.post(
            f"{base}/findings/{Finding.objects.get().pk}/decide/",
            {"decision": "删除"},
            content_type="application/json",
        ).status_code
        == 404
    )
