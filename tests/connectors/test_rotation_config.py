"""Configuration dependencies in a rotation (issue 15, 第二十六条第2项) on a real sshd with its own /etc: the plan
declares a folder; before the change the files using opsuser's password are kept on its item; after it, the
ones still holding the old password make the drafted 表10 row 配置文件中使用 未修改, which the registers' rules
refuse to submit without its 表39 entry (第二十八条); a file a person changed before the check is not flagged;
the old and new passwords are in no log, event, row, item, sshd DEBUG3 log or command line."""

from __future__ import annotations

import json
import logging
import subprocess

import pytest

from handover.audit.models import Event
from handover.connectors.change import dependencies as connector
from handover.core.errors import DomainError
from handover.org.models import Role
from handover.registers import rules
from handover.registers.models import Account, Row
from handover.registers.rules import RuleViolation
from handover.rotation import services as rotation
from handover.rotation.models import RotationItem, RotationPlan
from handover.vault import services as vault
from tests.connectors.dependency_files import plant
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host

WATCH = "while :; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; echo; sleep 0.01; done"


@pytest.fixture(autouse=True)
def _english():
    """The row's notes are compared in English (the pages' default is Chinese)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def _current(login: str) -> str:
    entry = Account.objects.get(login_name=login).vault_entry
    return vault.secret_use_for_task(entry_id=entry.pk, purpose="test: the current secret")


def test_files_still_holding_the_old_password_make_the_t10_row_not_changed(
    linux_scene, etc_linux: Host, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    caplog.set_level(logging.DEBUG)
    world, tech, _target = linux_scene
    planted = plant(etc_linux)
    plan = rotation.plan_create(
        actor=tech, engagement=world.engagement, config_paths=[f"{planted.declared}/"]
    )
    assert plan.config_paths == [str(planted.declared)]
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    real = connector.still_holds

    async def changed_by_hand_first(place, admin, uses, old):
        planted.yml.write_text("datasource:\n  username: opsuser\n  password: 'Set-by-a-person-7'\n")
        return await real(place, admin, uses, old)

    monkeypatch.setattr(connector, "still_holds", changed_by_hand_first)
    watcher = subprocess.Popen(["sh", "-c", WATCH], stdout=subprocess.PIPE, text=True)
    try:
        plan = rotation.plan_run(plan_id=plan.pk)
    finally:
        watcher.terminate()
        seen = watcher.communicate()[0]
    items = {i.login_name: i for i in RotationItem.objects.filter(plan=plan)}
    ops = items["opsuser"]
    uses = {use["path"]: use for use in ops.config_uses}
    assert {path: use["kind"] for path, use in uses.items()} == {
        "/var/spool/cron/crontabs/opsuser": "crontab",
        "/etc/cron.d/app-backup": "cron",
        "/etc/systemd/system/app-worker.service": "systemd",
        str(planted.pgpass): "pgpass",
        str(planted.my_cnf): "mycnf",
        str(planted.properties): "config",
        str(planted.yml): "config",
    }
    still = sorted(path for path, use in uses.items() if use["holds_old"])
    assert still == sorted([str(planted.pgpass), str(planted.properties)])  # not the YAML a person changed
    assert uses[str(planted.yml)]["sha256"] != uses[str(planted.yml)]["sha256_after"]

    row = ops.row
    assert row is not None and row.form.register_no == 10, ops.reason
    assert row.data["used_in_config"] == "未修改"
    lines = row.data["config_files"].splitlines()
    assert len(lines) == 7 and all(any(line.startswith(path) for line in lines) for path in uses)
    assert "still holds the old password" in next(
        line for line in lines if line.startswith(str(planted.pgpass))
    )
    assert ":" not in next(line for line in lines if line.startswith(str(planted.yml))).split(")")[-1]
    with pytest.raises(RuleViolation, match="配置文件中使用") as refused:
        rules.check_form(form=row.form)  # 第二十八条: an open item until its 表39 entry is reported
    assert "第二十八条" in str(refused.value.message)
    root_row = items["root"].row
    assert root_row is not None and "used_in_config" not in root_row.data  # nothing holds root's old password

    texts = [
        caplog.text,
        seen,
        etc_linux.log.read_text(errors="replace"),
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
        json.dumps(list(RotationItem.objects.values()), ensure_ascii=False, default=str),
    ]
    assert "Accepted password for root" in texts[2] and "sshd" in seen  # the logs and the watcher saw
    for secret in (OLD_PW, ADMIN_PW, _current("opsuser"), _current("root")):
        assert all(secret not in text for text in texts)


def test_a_check_that_fails_after_the_change_leaves_the_files_for_people_and_the_rotation_done(
    linux_scene, etc_linux: Host, monkeypatch
) -> None:
    """The host holds the new password: the vault's version is promoted and 表10 drafted, the files unread."""
    from handover.connectors.errors import GatherError, Status

    world, tech, _target = linux_scene
    planted = plant(etc_linux)
    plan = rotation.plan_create(actor=tech, engagement=world.engagement, config_paths=[str(planted.declared)])
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)

    async def refused(place, admin, uses, old):
        raise GatherError(Status.TIMEOUT, "no answer", "超时未响应")

    monkeypatch.setattr(connector, "still_holds", refused)
    plan = rotation.plan_run(plan_id=plan.pk)
    ops = RotationItem.objects.get(plan=plan, login_name="opsuser")
    assert (ops.state, ops.outcome) == ("done", "成功")
    assert ops.row is not None and "used_in_config" not in ops.row.data
    assert (
        str(planted.pgpass) in ops.row.data["config_files"]
        and "could not be read" in ops.row.data["config_files"]
    )
    assert all(use.get("unread") == "failed" for use in ops.config_uses if not use["skipped"])


@pytest.mark.parametrize(
    "paths",
    [["conf/app"], ["/opt/app", "/"], ["/opt/../etc/shadow"], [f"/opt/{n}" for n in range(33)]],
)
def test_a_declared_path_that_may_not_be_searched_is_refused_naming_the_field(linux_scene, paths) -> None:
    world, tech, _target = linux_scene
    with pytest.raises(DomainError) as refused:
        rotation.plan_create(actor=tech, engagement=world.engagement, config_paths=paths)
    assert refused.value.field == "config_paths"
    assert not RotationPlan.objects.exists()


def test_the_command_line_and_the_api_take_the_declared_paths(linux_scene, client) -> None:
    from django.core.management import CommandError, call_command

    world, tech, _target = linux_scene
    with pytest.raises(CommandError, match="relative/conf"):
        call_command("rotation", "plan", "--engagement", world.engagement.code, "--user", tech.username,
                     "--config-path", "/opt/app", "--config-path", "relative/conf")  # fmt: skip
    assert not RotationPlan.objects.exists()
    call_command("rotation", "plan", "--engagement", world.engagement.code, "--user", tech.username,
                 "--config-path", "/opt/app", "--config-path", "/etc/app.properties")  # fmt: skip
    assert RotationPlan.objects.get().config_paths == ["/opt/app", "/etc/app.properties"]
    base = f"/api/engagements/{world.engagement.code}/rotation/plans/"
    client.force_login(tech)
    bad = client.post(base, {"config_paths": ["/opt/app", "etc"]}, content_type="application/json")
    assert bad.status_code == 400 and "config_paths" in bad.content.decode(), bad.content
    assert RotationPlan.objects.count() == 1
    made = client.post(base, {"config_paths": ["/srv/conf"]}, content_type="application/json")
    assert made.status_code == 201 and made.json()["config_paths"] == ["/srv/conf"], made.content
    assert all(item["config_files"] == [] for item in made.json()["items"])
