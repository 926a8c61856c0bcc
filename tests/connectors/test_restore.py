"""Restore from the permission backup end to end (第二十六条第3项, 第八条) on a real sshd with its own /etc: the host
gathered (the backup), then tampered with (a second uid 0, a NOPASSWD sudoers.d file, a changed shadow),
gathered again; one person requests the restore from the preview, another approves, the files go back and are
verified; a file changed after the preview is refused and left alone; no secret anywhere."""

from __future__ import annotations

import json
import logging

import pytest

from handover.audit.models import Event
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery import services as discovery
from handover.org.models import Role
from handover.rotation import restores
from handover.rotation.models import Restore, RestoreState
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host
from tests.connectors.scenes import gather_again


def _tamper(host: Host) -> dict[str, bytes]:
    etc = host.root / "etc"
    kept = {name: (etc / name).read_bytes() for name in ("passwd", "shadow")}
    with (etc / "passwd").open("ab") as out:
        out.write(b"intruder:x:0:0::/root:/bin/bash\n")
    with (etc / "shadow").open("ab") as out:
        out.write(b"intruder::20000:0:99999:7:::\n")
    (etc / "sudoers.d/zz-added").write_text("intruder ALL=(ALL) NOPASSWD: ALL\n")
    return kept


def test_requested_approved_by_another_applied_and_verified(
    linux_scene, etc_linux: Host, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world, tech, target = linux_scene
    kept = _tamper(etc_linux)
    gather_again(world, tech)
    preview = {i["name"]: i for i in discovery.discovery_restore_preview(actor=tech, target=target)}
    assert preview["/etc/passwd"]["state"] == "changed"
    assert "+intruder:x:0:0::/root:/bin/bash" in preview["/etc/passwd"]["diff"]
    assert preview["/etc/shadow"]["state"] == "changed" and preview["/etc/shadow"]["diff"] == []  # sealed
    assert preview["/etc/sudoers.d/zz-added"]["state"] == "added"

    restore = restores.restore_request(actor=tech, target=target, reason="入侵后恢复核查前权限")
    assert {(f["action"], f["name"]) for f in restore.files} == {
        ("write", "/etc/passwd"),
        ("write", "/etc/shadow"),
        ("delete", "/etc/sudoers.d/zz-added"),
    }
    with pytest.raises(DomainError):
        restores.restore_apply(actor=tech, restore=restore)  # not approved
    with pytest.raises(PermissionDenied):
        restores.restore_approve(actor=tech, restore=restore)  # one person is never enough
    restores.restore_approve(actor=world.login_with(Role.TECH_GROUP), restore=restore)
    done = restores.restore_apply(actor=tech, restore=restore)
    assert done.state == RestoreState.APPLIED, done.outcome
    etc = etc_linux.root / "etc"
    assert (etc / "passwd").read_bytes() == kept["passwd"] and (etc / "shadow").read_bytes() == kept["shadow"]
    assert not (etc / "sudoers.d/zz-added").exists()
    with pytest.raises(DomainError):
        restores.restore_apply(actor=tech, restore=done)  # once
    gather_again(world, tech)
    after = discovery.discovery_restore_preview(actor=tech, target=target)
    assert {i["state"] for i in after} == {"same"}  # the host is as its backup
    texts = [
        caplog.text,
        etc_linux.log.read_text(errors="replace"),
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Restore.objects.values()), ensure_ascii=False, default=str),
    ]
    shadow = kept["shadow"].decode()
    hashes = [line.split(":")[1] for line in shadow.splitlines() if line.split(":")[1].startswith("$")]
    for secret in (ADMIN_PW, OLD_PW, *hashes):
        assert all(secret not in text for text in texts)
    actions = set(Event.objects.values_list("action", flat=True))
    assert {"rotation.restore.request", "rotation.restore.approve", "rotation.restore.apply"} <= actions


def test_a_file_changed_after_the_preview_is_refused_and_left_alone(linux_scene, etc_linux: Host) -> None:
    world, tech, target = linux_scene
    _tamper(etc_linux)
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="恢复", names=["/etc/passwd"])
    assert [f["name"] for f in restore.files] == ["/etc/passwd"]
    restores.restore_approve(actor=world.login_with(Role.TECH_GROUP), restore=restore)
    passwd = etc_linux.root / "etc/passwd"
    with passwd.open("ab") as out:
        out.write(b"later:x:3001:3001::/home/later:/bin/sh\n")
    now = passwd.read_bytes()
    done = restores.restore_apply(actor=tech, restore=restore)
    assert done.state == RestoreState.FAILED
    assert (
        done.outcome["/etc/passwd"]["state"] == "refused"
        and "重新预览" in done.outcome["/etc/passwd"]["reason"]
    )
    assert passwd.read_bytes() == now


def test_bad_requests_are_refused_with_reasons(linux_scene, etc_linux: Host) -> None:
    world, tech, target = linux_scene
    with pytest.raises(DomainError) as caught:
        restores.restore_request(actor=tech, target=target, reason="恢复")
    assert "snapshot" in str(caught.value.message) or "快照" in str(caught.value.message)  # only one so far
    gather_again(world, tech)
    with pytest.raises(DomainError) as caught:
        restores.restore_request(actor=tech, target=target, reason="恢复")
    assert caught.value.field == "target"  # nothing differs
    _tamper(etc_linux)
    gather_again(world, tech)
    with pytest.raises(DomainError) as caught:
        restores.restore_request(actor=tech, target=target, reason="  ")
    assert caught.value.field == "reason"
    with pytest.raises(DomainError) as caught:
        restores.restore_request(actor=tech, target=target, reason="恢复", names=["/etc/hosts"])
    assert caught.value.field == "names" and "/etc/hosts" in str(caught.value.message)
    target.connector = "oracle"
    with pytest.raises(DomainError) as caught:
        restores.restore_request(actor=tech, target=target, reason="恢复")
    assert "oracle" in str(caught.value.message)


def test_the_command_line_shows_the_diff_needs_another_person_and_applies(
    linux_scene, etc_linux: Host, capsys
) -> None:
    from django.core.management import CommandError, call_command

    world, tech, _target = linux_scene
    other = world.login_with(Role.TECH_GROUP)
    kept = _tamper(etc_linux)
    gather_again(world, tech)
    where = ["--engagement", world.engagement.code, "--system", "集中交易", "--host", "chg01"]
    call_command("rotation", "restore", *where, "--reason", "恢复", "--user", tech.username)
    out = capsys.readouterr().out
    assert "+intruder:x:0:0::/root:/bin/bash" in out and "changed\t/etc/shadow (sealed" in out
    restore_id = out.strip().splitlines()[-1].split()[1].rstrip(":")
    with pytest.raises(CommandError, match=r"另一人|another person"):
        call_command("rotation", "restore-approve", restore_id, "--user", tech.username)
    call_command("rotation", "restore-approve", restore_id, "--user", other.username)
    call_command("rotation", "restore-apply", restore_id, "--user", tech.username)
    out = capsys.readouterr().out
    assert "write\t/etc/passwd\trestored" in out and "delete\t/etc/sudoers.d/zz-added\trestored" in out
    assert (etc_linux.root / "etc/passwd").read_bytes() == kept["passwd"]
    for secret in (ADMIN_PW, OLD_PW):
        assert secret not in out
    with pytest.raises(CommandError, match="no restore 99999"):
        call_command("rotation", "restore-status", "99999")


def test_after_a_rotation_the_shadow_is_not_put_back(linux_scene, etc_linux: Host) -> None:
    """The vault holds the rotated passwords: the old shadow would bring back passwords no one holds."""
    from handover.rotation import services as rotation

    world, tech, target = linux_scene
    other = world.login_with(Role.TECH_GROUP)
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    rotation.plan_approve(actor=other, plan=plan)
    rotation.plan_run(plan_id=plan.pk)
    _tamper(etc_linux)
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="恢复")
    assert {f["name"] for f in restore.files} == {"/etc/passwd", "/etc/sudoers.d/zz-added"}
    with pytest.raises(DomainError) as caught:
        restores.restore_request(actor=tech, target=target, reason="恢复", names=["/etc/shadow"])
    assert caught.value.field == "names" and str(plan.pk) in str(caught.value.message)


def test_one_person_relinked_to_a_second_login_approves_neither_their_plan_nor_their_restore(
    linux_scene, etc_linux: Host
) -> None:
    """第八条 counts persons, not logins: the author's person, relinked to a second login, is still the author."""
    from datetime import timedelta

    from django.utils import timezone

    from handover.accounts.models import User
    from handover.org import services as org
    from handover.org.models import Person
    from handover.rotation import services as rotation

    world, tech, target = linux_scene
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    _tamper(etc_linux)
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="恢复")
    linker, other = world.login_with(Role.TECH_GROUP), world.login_with(Role.TECH_GROUP)
    second = User.objects.create(username="tech-2nd", enrolled_at=timezone.now() - timedelta(days=30))
    org.person_link_login(actor=linker, person=Person.objects.get(user=tech), user=second)
    with pytest.raises(PermissionDenied):
        rotation.plan_approve(actor=second, plan=plan)
    with pytest.raises(PermissionDenied):
        restores.restore_approve(actor=second, restore=restore)
    rotation.plan_approve(actor=other, plan=plan)  # a second person may
    restores.restore_approve(actor=other, restore=restore)
