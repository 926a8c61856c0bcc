"""The rotation pages on a real sshd: a plan drawn up on the list page, the author's approval refused on the
run page, approved by another person, run (in the background, as the API does; the tests' task backend runs it
at once), its counts and 表10 rows shown, an account's timeline read from the audit trail; a restore requested
with its preview, the requester's approval refused, approved, applied with each file's outcome; a person of
another site sees neither; no secret on any page."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext

from handover.discovery import services as discovery
from handover.org.models import Role
from handover.rotation.models import Restore, RotationItem, RotationPlan
from handover.vault import services as vault
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host


def _zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


def _said(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]


def test_plan_approve_run_and_restore_on_the_pages(linux_scene, etc_linux: Host, client) -> None:
    world, tech, target = linux_scene
    other = world.login_with(Role.TECH_GROUP)
    base = f"/e/{world.engagement.code}/rotation"
    pages: list[str] = []
    client.force_login(tech)
    form = {"site": "BA", "reason": "定期更换", "concurrency": 4, "per_site": 2}
    drawn = client.post(f"{base}/", form, follow=True)
    plan = RotationPlan.objects.get()
    url = f"{base}/plans/{plan.pk}/"
    assert drawn.redirect_chain == [(url, 302)] and plan.per_site == 2 and plan.site == world.branch_a
    assert 'data-testid="approve"' in drawn.content.decode()  # 技术组 holds 管理流程; the service decides
    refused = client.post(url, {"act": "approve"}, follow=True)
    assert _said(refused) == [_zh("You drew up this plan: another person must approve it (第八条).")]
    plan.refresh_from_db()
    assert plan.state == "draft"

    client.force_login(other)
    approved = client.post(url, {"act": "approve"}, follow=True)
    assert _said(approved) == [_zh("Plan approved; it may run now.")]
    started = client.post(url, {"act": "run"}, follow=True)
    plan.refresh_from_db()
    assert plan.state == "done" and plan.approved_by == other, _said(started)
    page = started.content.decode()
    assert 'data-testid="progress" data-state="done"' in page
    assert f'data-testid="count-成功">{_zh("Succeeded")} 2<' in page
    items = list(RotationItem.objects.filter(plan=plan).order_by("pk"))
    assert {i.login_name for i in items} == {"root", "opsuser"} and all(i.row_id for i in items)
    for item in items:
        assert f"/register-rows/{item.row_id}/" in page
    root = next(i for i in items if i.login_name == "root")
    timeline = client.get(f"{url}accounts/{root.pk}/").content.decode()
    shown = timeline.split('data-testid="timeline"')[1]
    order = [shown.find(f'data-step="{state}"') for state in ("staged", "changed", "done")]
    assert -1 not in order and order == sorted(order), order
    assert f"rotation({other.username})" in shown
    pages += [page, timeline, client.get(f"{base}/").content.decode()]

    with (etc_linux.root / "etc/passwd").open("a") as out:
        out.write("intruder:x:0:0::/root:/bin/bash\n")
    run = discovery.run_start(actor=tech, engagement=world.engagement, enqueue=False)
    discovery.run_execute(run_id=run.pk)
    client.force_login(tech)
    asked = client.post(
        f"{base}/restores/", {"target": target.pk, "reason": "恢复", "paths": ""}, follow=True
    )
    restore = Restore.objects.get()
    preview = asked.content.decode()
    assert asked.redirect_chain[-1][0] == f"{base}/restores/{restore.pk}/"
    assert "/etc/passwd" in preview and "-intruder:x:0:0::/root:/bin/bash" in preview
    refused = client.post(f"{base}/restores/{restore.pk}/", {"act": "approve"}, follow=True)
    assert _said(refused) == [_zh("You requested this restore: another person must approve it (第八条).")]
    client.force_login(other)
    approved = client.post(f"{base}/restores/{restore.pk}/", {"act": "approve"}, follow=True)
    assert 'data-testid="apply"' in approved.content.decode()
    applied = client.post(f"{base}/restores/{restore.pk}/", {"act": "apply"}, follow=True)
    restore.refresh_from_db()
    assert restore.state == "applied", restore.outcome
    assert _said(applied) == [_zh("Restore applied: every file is as the backup holds it.")]
    assert f'<span class="badge">{_zh("restored")}</span>' in applied.content.decode()
    assert b"intruder" not in (etc_linux.root / "etc/passwd").read_bytes()
    pages += [preview, applied.content.decode(), client.get(f"{base}/restores/").content.decode()]

    stranger = world.login_with(Role.ONSITE_POST, world.branch_b)
    client.force_login(stranger)
    assert f"{base}/plans/{plan.pk}/" not in client.get(f"{base}/").content.decode()
    assert client.get(url).status_code == 404
    assert client.get(f"{base}/restores/{restore.pk}/").status_code == 404
    assert f'data-testid="restore-{restore.pk}"' not in client.get(f"{base}/restores/").content.decode()
    secrets = [
        ADMIN_PW,
        OLD_PW,
        *(vault.secret_use_for_task(entry_id=i.entry_id, purpose="t") for i in items),
    ]
    shadow = (etc_linux.root / "etc/shadow").read_text()
    hashes = [line.split(":")[1] for line in shadow.splitlines() if line.split(":")[1].startswith("$")]
    assert hashes and len(pages) == 6
    for text in pages:
        assert all(secret not in text for secret in secrets + hashes)
