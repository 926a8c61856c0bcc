"""The REST API of rotation and restores on a real sshd: a plan drawn up, approved by a second person (the
author refused), run in the background, followed by its counts; a restore requested, approved, applied; a
person of another site sees neither; no secret in any answer."""

from __future__ import annotations

import json

from handover.discovery import services as discovery
from handover.org.models import Role
from handover.rotation.models import RotationItem
from handover.vault import services as vault
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host


def test_plan_and_restore_over_the_api(linux_scene, etc_linux: Host, client) -> None:
    world, tech, target = linux_scene
    other = world.login_with(Role.TECH_GROUP)
    base = f"/api/engagements/{world.engagement.code}/rotation"
    client.force_login(tech)
    answers = []
    created = client.post(f"{base}/plans/", {"per_site": 2}, content_type="application/json")
    assert created.status_code == 201, created.content
    plan = created.json()
    assert plan["per_site"] == 2 and sorted(i["login_name"] for i in plan["items"]) == ["opsuser", "root"]
    refused = client.post(f"{base}/plans/{plan['id']}/approve/")
    assert refused.status_code == 403, refused.content  # 第八条: not its author
    bad = client.post(f"{base}/plans/", {"concurrency": 0}, content_type="application/json")
    assert bad.status_code == 400 and "concurrency" in bad.content.decode()
    client.force_login(other)
    assert client.post(f"{base}/plans/{plan['id']}/approve/").status_code == 200
    started = client.post(f"{base}/plans/{plan['id']}/run/")
    assert started.status_code == 202, started.content
    done = client.get(f"{base}/plans/{plan['id']}/").json()
    assert done["state"] == "done" and done["counts"]["成功"] == 2, done
    answers += [created.content, started.content, json.dumps(done)]

    with (etc_linux.root / "etc/passwd").open("a") as out:
        out.write("intruder:x:0:0::/root:/bin/bash\n")
    run = discovery.run_start(actor=tech, engagement=world.engagement, enqueue=False)
    discovery.run_execute(run_id=run.pk)
    client.force_login(tech)
    asked = client.post(
        f"{base}/restores/", {"target": target.pk, "reason": "恢复"}, content_type="application/json"
    )
    assert asked.status_code == 201, asked.content
    restore = asked.json()
    assert [f["name"] for f in restore["files"]] == ["/etc/passwd"]
    client.force_login(other)
    assert client.post(f"{base}/restores/{restore['id']}/approve/").status_code == 200
    applied = client.post(f"{base}/restores/{restore['id']}/apply/")
    assert applied.status_code == 200 and applied.json()["state"] == "applied", applied.content
    assert b"intruder" not in (etc_linux.root / "etc/passwd").read_bytes()
    answers += [asked.content, applied.content]

    stranger = world.login_with(Role.ONSITE_POST, world.branch_b)
    client.force_login(stranger)
    assert client.get(f"{base}/restores/").json() == []
    assert client.get(f"{base}/restores/{restore['id']}/").status_code == 404
    secrets = [ADMIN_PW, OLD_PW, *(vault.secret_use_for_task(entry_id=i.entry_id, purpose="t")
                                   for i in RotationItem.objects.all())]  # fmt: skip
    for answer in answers:
        text = answer.decode() if isinstance(answer, bytes) else answer
        assert all(secret not in text for secret in secrets)
