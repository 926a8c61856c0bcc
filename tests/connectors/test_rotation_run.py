"""Rotation end to end (issue 15) on a real sshd with its own /etc: a plan of the host's super-users drawn up by
one person and approved by another (第八条), run write-ahead: the new secrets sealed pending, set with a hash on
stdin, proven (stored verifier, fresh login), made current, 表10 drafted; a run stopped between the change and
its record resumes without a second change; the vault's current secret always logs in; no new secret anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from handover.audit.models import Event
from handover.connectors.change import linux as changer
from handover.core.actors import system
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery import services as discovery
from handover.discovery.services import engine_target
from handover.org.models import Role
from handover.registers.models import Account, Row
from handover.rotation import services as rotation
from handover.rotation.models import ItemState, PlanState, RotationItem
from handover.vault import services as vault
from handover.vault.models import SecretKind, VerifyResult
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host

GUARD_SECONDS = 60  # the most a change waits for the others the caps let in (not a limit of the test)


def _logs_in(target, login: str, secret: str) -> bool:  # type: ignore[no-untyped-def]
    return asyncio.run(changer.login_works(engine_target(target), login, secret))


def _current(login: str) -> str:
    entry = Account.objects.get(login_name=login).vault_entry
    return vault.secret_use_for_task(entry_id=entry.pk, purpose="test: the current secret")


def test_a_plan_approved_by_another_runs_and_every_current_secret_logs_in(
    linux_scene, etc_linux: Host, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world, tech, target = linux_scene
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    assert sorted(plan.items.values_list("login_name", flat=True)) == ["opsuser", "root"]
    with pytest.raises(PermissionDenied):
        rotation.plan_approve(actor=tech, plan=plan)  # one person is never enough
    with pytest.raises(DomainError):
        rotation.plan_run(plan_id=plan.pk)  # not approved
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    plan = rotation.plan_run(plan_id=plan.pk)
    assert plan.state == PlanState.DONE
    items = {i.login_name: i for i in RotationItem.objects.filter(plan=plan)}
    assert {k: (i.state, i.outcome) for k, i in items.items()} == {
        "opsuser": (ItemState.DONE, VerifyResult.SUCCESS),
        "root": (ItemState.DONE, VerifyResult.SUCCESS),
    }
    new_ops, new_root = _current("opsuser"), _current("root")
    assert new_ops != OLD_PW and new_root != ADMIN_PW
    assert _logs_in(target, "opsuser", new_ops) and _logs_in(target, "root", new_root)
    assert not _logs_in(target, "opsuser", OLD_PW) and not _logs_in(target, "root", ADMIN_PW)
    row = items["opsuser"].row
    assert row is not None and row.form.register_no == 10, items["opsuser"].reason
    entry = Account.objects.get(login_name="opsuser").vault_entry
    assert row.data["vault_ref"] == entry.reference and row.data["login_verified"] == "成功"
    assert row.data["pre_backup_ref"] == items["opsuser"].backup_row_id
    texts = [
        caplog.text,
        etc_linux.log.read_text(errors="replace"),
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
        json.dumps(list(RotationItem.objects.values()), ensure_ascii=False, default=str),
    ]
    for secret in (new_ops, new_root, ADMIN_PW, OLD_PW):
        assert all(secret not in text for text in texts)


def test_a_run_stopped_after_the_change_resumes_without_a_second_change(linux_scene, monkeypatch) -> None:
    world, tech, target = linux_scene
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    changes: list[str] = []
    real_change, real_step = changer.change, rotation._step

    async def counted(place, admin, account, new):  # type: ignore[no-untyped-def]
        changes.append(account)
        return await real_change(place, admin, account, new)

    def crash_once(actor, item, *, state, **kw):  # type: ignore[no-untyped-def]
        if state == ItemState.CHANGED and item.login_name == "opsuser" and "crashed" not in changes:
            changes.append("crashed")
            raise SystemExit("the worker died between the change and its record")
        return real_step(actor, item, state=state, **kw)

    monkeypatch.setattr(changer, "change", counted)
    monkeypatch.setattr(rotation, "_step", crash_once)
    with pytest.raises(SystemExit):
        rotation.plan_run(plan_id=plan.pk)
    stuck = RotationItem.objects.get(plan=plan, login_name="opsuser")
    assert stuck.state == ItemState.STAGED  # the pending secret is sealed; the host already holds it
    assert _logs_in(
        target,
        "opsuser",
        vault.secret_use_for_task(entry_id=stuck.entry_id, purpose="t", pending_number=stuck.version_number),
    )
    plan = rotation.plan_run(plan_id=plan.pk)
    assert plan.state == PlanState.DONE and changes.count("opsuser") == 1  # never changed twice
    assert _logs_in(target, "opsuser", _current("opsuser")) and _logs_in(target, "root", _current("root"))


def test_a_plan_without_the_hosts_permission_backup_is_refused_naming_the_account(linux_scene) -> None:
    world, tech, _target = linux_scene
    Row.objects.filter(form__register_no=8).update(data={"purpose": "其他"})
    with pytest.raises(DomainError, match=r"chg01.*(opsuser|root)|(opsuser|root).*chg01"):
        rotation.plan_create(actor=tech, engagement=world.engagement)


def test_the_command_line_plans_needs_another_person_runs_and_prints_no_secret(linux_scene, capsys) -> None:
    from django.core.management import CommandError, call_command

    world, tech, _target = linux_scene
    other = world.login_with(Role.TECH_GROUP)
    call_command("rotation", "plan", "--engagement", world.engagement.code, "--user", tech.username)
    out = capsys.readouterr().out
    plan_id = int(out.split()[1].rstrip(":"))
    assert "2 accounts" in out
    with pytest.raises(CommandError, match=r"另一人|another person"):
        call_command("rotation", "approve", str(plan_id), "--user", tech.username)
    call_command("rotation", "approve", str(plan_id), "--user", other.username)
    call_command("rotation", "run", str(plan_id))
    out = capsys.readouterr().out
    assert "chg01\topsuser\tdone\t成功" in out and "chg01\troot\tdone\t成功" in out
    for secret in (_current("opsuser"), _current("root")):
        assert secret not in out


def test_a_trading_system_waits_out_the_session_and_changes_after_the_close(linux_scene) -> None:
    """第三十一条第3、9项: nothing on a trading system changes in a trading session; the plan resumes after."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from handover.core import clock

    world, tech, target = linux_scene
    target.system.category = "集中交易"
    target.system.save(update_fields=["category"])
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    beijing = ZoneInfo("Asia/Shanghai")
    with clock.frozen(dt.datetime(2026, 12, 7, 10, 0, tzinfo=beijing)):  # a Monday, in the morning session
        plan = rotation.plan_run(plan_id=plan.pk)
    assert plan.state == PlanState.RUNNING
    for item in RotationItem.objects.filter(plan=plan):
        assert item.state == ItemState.PLANNED and "集中交易" in item.reason and "09:15–11:30" in item.reason
    assert _logs_in(target, "opsuser", OLD_PW)  # untouched
    with clock.frozen(dt.datetime(2026, 12, 7, 15, 30, tzinfo=beijing)):  # after the close
        plan = rotation.plan_run(plan_id=plan.pk)
    assert plan.state == PlanState.DONE
    assert _logs_in(target, "opsuser", _current("opsuser")) and not _logs_in(target, "opsuser", OLD_PW)


def test_hosts_change_at_once_within_the_plans_caps(linux_scene, monkeypatch) -> None:
    """Many hosts at once (the plan's concurrency overall and per site); each host's accounts in turn."""
    import contextlib

    from tests.connectors.etc_host import etc_host

    world, tech, target = linux_scene
    with contextlib.ExitStack() as stack:
        for n in (2, 3):
            host = stack.enter_context(etc_host(sudo_ops=True))
            root = vault.secret_put(
                actor=system("test"),
                target=vault.Target(engagement=world.engagement, site=world.branch_a, system_name="集中交易",
                                    hostname=f"chg0{n}", login_name="root"),
                secret=ADMIN_PW,
            )  # fmt: skip
            discovery.target_save(actor=tech, system=target.system, hostname=f"chg0{n}", connector="linux",
                                  address="127.0.0.1", port=host.port, credential=root)  # fmt: skip
        run = discovery.run_start(actor=tech, engagement=world.engagement, enqueue=False)
        assert discovery.run_execute(run_id=run.pk).counts["ok"] == 3
        for ops in Account.objects.filter(login_name="opsuser").exclude(asset=target.asset):
            vault.secret_capture(actor=system("test"), account=ops, secret=OLD_PW, kind=SecretKind.ORIGINAL)
        busy: dict[str, int] = {"now": 0, "most": 0}
        hosts_busy: dict[int, int] = {}
        real = changer.change
        met: dict[
            str, Any
        ] = {}  # per plan: how many changes at once the caps allow, and when that many are in

        async def counted(place, admin, account, new):  # type: ignore[no-untyped-def]
            busy["now"] += 1
            busy["most"] = max(busy["most"], busy["now"])
            hosts_busy[place.port] = hosts_busy.get(place.port, 0) + 1
            assert hosts_busy[place.port] == 1  # one account of a host at a time
            try:
                # Hold the change until as many are in as the caps allow (the hosts' steps before a change take
                # unequal time), so the count shows the caps, not the timing; a cap that lets fewer in than it
                # should leaves the wait to its guard, and the count below says so.
                if busy["now"] >= met["want"]:
                    met["all_in"].set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(met["all_in"].wait(), GUARD_SECONDS)
                return await real(place, admin, account, new)
            finally:
                busy["now"] -= 1
                hosts_busy[place.port] -= 1

        monkeypatch.setattr(changer, "change", counted)
        other = world.login_with(Role.TECH_GROUP)
        for per_site, expected in ((1, 1), (3, 3)):
            plan = rotation.plan_create(actor=tech, engagement=world.engagement)
            plan.per_site = per_site
            plan.save(update_fields=["per_site"])
            rotation.plan_approve(actor=other, plan=plan)
            busy["most"] = 0
            met.update(want=expected, all_in=asyncio.Event())
            plan = rotation.plan_run(plan_id=plan.pk)
            assert plan.state == PlanState.DONE and plan.items.count() == 6
            assert set(plan.items.values_list("outcome", flat=True)) == {VerifyResult.SUCCESS}
            assert busy["most"] == expected, (per_site, busy)


@pytest.mark.parametrize(("concurrency", "per_site"), [(0, 1), (300, 4), (4, 5), (4, 0)])
def test_caps_out_of_range_are_refused_naming_the_field(linux_scene, concurrency: int, per_site: int) -> None:
    world, tech, _target = linux_scene
    with pytest.raises(DomainError) as caught:
        rotation.plan_create(
            actor=tech, engagement=world.engagement, concurrency=concurrency, per_site=per_site
        )
    assert caught.value.field == "concurrency"
