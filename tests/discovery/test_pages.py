"""The pages: import a file, see the host's accounts with findings, decide, follow a run."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from handover.discovery.models import Finding, GatherRun, Target
from handover.org.models import Role
from tests.discovery.conftest import Hosts, Rules
from tests.factories import World


def test_import_see_decide_and_filter(
    world: World, client, hosts: Hosts, rules: Rules, vault, data_dir: Path
) -> None:
    client.force_login(world.login_with(Role.TECH_GROUP))
    base = f"/e/{world.engagement.code}/discovery/"
    upload = SimpleUploadedFile("h1.txt", b"root:0:S\nops:1001:S\nalice:1002:\n")
    response = client.post(base, {"file": upload, "site": "BA", "system": "集中交易", "kind": "testlinux"})
    target = Target.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/targets/{target.pk}/")
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="finding-superuser_equivalent"' in page and "alice" in page
    filtered = client.get(response["Location"], {"rule": "superuser_equivalent"}).content.decode()
    assert "<code>ops</code>" in filtered and "<code>alice</code>" not in filtered
    finding = Finding.objects.get()
    client.post(f"{base}findings/{finding.pk}/decide/", {"decision": "降权", "note": ""})
    finding.refresh_from_db()
    assert finding.decision == "降权"
    listing = client.get(f"{base}findings/", {"site": "BA"}).content.decode()
    assert "superuser_equivalent" in listing
    # The rule is said in the page's language, its code kept beside it.
    assert (
        "平台管理员以外的账户拥有超级用户或同等权限" in listing
        and "拥有超级用户或同等权限。 (superuser_equivalent)" in listing
    )
    run = GatherRun.objects.get()
    progress = client.get(f"{base}runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-state="done"' in progress and "hx-get" not in progress
    changed = SimpleUploadedFile("h1.txt", b"root:0:S\nalice:1002:\n")
    client.post(base, {"file": changed, "site": "BA", "system": "集中交易", "kind": "testlinux"})
    page = client.get(f"{base}targets/{target.pk}/").content.decode()
    assert 'data-testid="restore-preview"' in page and "-ops:1001:S" in page


def test_a_bad_file_is_shown_on_the_form(
    world: World, client, hosts: Hosts, rules: Rules, vault, data_dir: Path
) -> None:
    client.force_login(world.login_with(Role.TECH_GROUP))
    upload = SimpleUploadedFile("h1.txt", b"root:0:S\nbad\n")
    response = client.post(
        f"/e/{world.engagement.code}/discovery/",
        {"file": upload, "site": "BA", "system": "集中交易", "kind": "testlinux"},
    )
    assert response.status_code == 200 and "h1.txt:2" in response.content.decode()
    assert not Target.objects.exists()
