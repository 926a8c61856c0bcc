"""E01 (第二十八条第1项) on a real sshd: a change whose verification fails opens its E01 case from its 表10 row;
the original password comes back only through a restore asked by one person and approved by another (第八条),
after the developer's support is recorded, applied once: the original sealed again pending, set, proven by the
stored verifier and a fresh login, made current, its own 表10 row drafted, 「恢复原密码」 ticked on the case. The
connection's own login (root) is restored too. No password anywhere but the vault."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest

from handover.audit.models import Event
from handover.connectors.change import linux as changer
from handover.connectors.manifest import Credential
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery.services import engine_target
from handover.org.models import Engagement, Phase, Role
from handover.registers.models import Account, Row
from handover.rotation import reverts
from handover.rotation import services as rotation
from handover.rotation.models import Revert, RevertState, RotationItem
from handover.vault import services as vault
from handover.vault.models import VerifyResult
from handover.workflow.models import CaseState, ExceptionCase
from handover.workflow.services import cases
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in English (the pages' default is Chinese)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def _logs_in(target, login: str, secret: str) -> bool:  # type: ignore[no-untyped-def]
    return asyncio.run(changer.login_works(engine_target(target), login, secret))


def _current(login: str) -> str:
    entry = Account.objects.get(login_name=login).vault_entry
    return vault.secret_use_for_task(entry_id=entry.pk, purpose="test: the current secret")


def _rotated(world, tech):  # type: ignore[no-untyped-def]
    Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.HANDOVER)  # exception paths: 交接期
    world.engagement.refresh_from_db()
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    rotation.plan_run(plan_id=plan.pk)
    return {i.login_name: i for i in RotationItem.objects.filter(plan=plan)}


def test_the_original_comes_back_only_asked_approved_and_after_the_developers_support(
    linux_scene, etc_linux: Host, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world, tech, target = linux_scene
    place = engine_target(target)
    hashes = {login: asyncio.run(changer.stored_verifier(place, Credential("root", ADMIN_PW), login))
              for login in ("opsuser", "root")}  # fmt: skip
    items = _rotated(world, tech)
    new_ops, new_root = _current("opsuser"), _current("root")
    other = world.login_with(Role.TECH_GROUP)
    done = {}
    for login, original in (("opsuser", OLD_PW), ("root", ADMIN_PW)):
        item = items[login]
        assert item.outcome == VerifyResult.SUCCESS and item.row is not None
        case = cases.case_open(actor=tech, engagement=world.engagement, path_id="E01", source_row=item.row,
                               description=f"{login} 改密后柜台系统无法登录数据库")  # fmt: skip
        with pytest.raises(DomainError) as no_reason:
            reverts.revert_request(actor=tech, case=case, reason=" ")
        assert no_reason.value.field == "reason"
        revert = reverts.revert_request(actor=tech, case=case, reason="开发商确认须恢复原密码后再配合修改")
        with pytest.raises(DomainError, match="already waiting"):
            reverts.revert_request(actor=other, case=case, reason="again")
        with pytest.raises(DomainError, match="approved"):
            reverts.revert_apply(actor=tech, revert=revert)  # not approved: nothing touched
        with pytest.raises(PermissionDenied):
            reverts.revert_approve(actor=tech, revert=revert)  # 第八条
        revert = reverts.revert_approve(actor=other, revert=revert)
        with pytest.raises(DomainError, match="developer's support"):
            reverts.revert_apply(actor=tech, revert=revert)
        assert _logs_in(target, login, _current(login)) and not _logs_in(target, login, original)
        cases.case_tick(actor=tech, case=case, key="vendor_support", record="某柜台系统开发商 王工")
        revert = reverts.revert_apply(actor=tech, revert=revert)
        assert (revert.state, revert.outcome) == (RevertState.APPLIED, VerifyResult.SUCCESS), revert.detail
        with pytest.raises(DomainError, match="once"):
            reverts.revert_apply(actor=tech, revert=revert)
        done[login] = (revert, case)
    for login, original, new in (("opsuser", OLD_PW, new_ops), ("root", ADMIN_PW, new_root)):
        revert, case = done[login]
        assert _current(login) == original  # the vault's current secret is the target's again …
        assert _logs_in(target, login, original) and not _logs_in(target, login, new)  # … and logs in
        # the very shadow hash it had before the change (sealed beside the pending version), not a new salt
        assert (
            asyncio.run(changer.stored_verifier(place, Credential("root", ADMIN_PW), login)) == hashes[login]
        )
        assert "put back exactly" in revert.detail
        entry = Account.objects.get(login_name=login).vault_entry
        versions = list(entry.versions.order_by("number").values_list("number", "pending"))
        assert (
            versions[-1] == (revert.version_number, False)
            and revert.version_number > items[login].version_number
        )
        row = revert.row
        assert row is not None and row.pk != items[login].row_id and row.data["login_verified"] == "成功"
        assert f"E01 case #{case.pk}" in row.remarks or f"#{case.pk}" in row.remarks
        assert case.items.filter(key="restore_original").exists()
        case.refresh_from_db()
        assert case.state == CaseState.OPEN  # closing needs its 表39 entry signed and reported, by people
    texts = [
        caplog.text,
        etc_linux.log.read_text(errors="replace"),
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
        json.dumps(list(Revert.objects.values()), ensure_ascii=False, default=str),
    ]
    for secret in (new_ops, new_root, ADMIN_PW, OLD_PW, *hashes.values()):
        assert all(secret not in text for text in texts), secret


def test_a_change_whose_verification_fails_opens_e01_from_its_row(linux_scene, monkeypatch) -> None:
    """Something besides the password moved (here: the groups read after the change differ): 失败, and the E01
    case of 第二十八条第1项 is open on the drafted 表10 row; nothing is reverted by itself."""
    world, tech, target = linux_scene
    real, seen = changer.snapshot, []

    async def moved_after(place, admin, account):  # type: ignore[no-untyped-def]
        snap = await real(place, admin, account)
        seen.append(account)
        if account == "opsuser" and seen.count("opsuser") == 2:
            return dataclasses.replace(snap, groups=snap.groups + " wheel")
        return snap

    monkeypatch.setattr(changer, "snapshot", moved_after)
    items = _rotated(world, tech)
    failed = items["opsuser"]
    assert failed.outcome == VerifyResult.FAILED and failed.row is not None, failed.reason
    case = ExceptionCase.objects.get(path_id="E01")
    assert (
        case.source_row_id == failed.row_id and case.state == CaseState.OPEN and "opsuser" in case.description
    )
    assert Event.objects.filter(action="rotation.e01.open").count() == 1
    assert _logs_in(target, "opsuser", _current("opsuser"))  # the new secret is the target's and current
    assert not Revert.objects.exists()
    assert items["root"].outcome == VerifyResult.SUCCESS
    assert not ExceptionCase.objects.filter(source_row=items["root"].row).exists()


def test_the_command_line_and_the_api_ask_approve_and_apply_a_restore(linux_scene, capsys, client) -> None:
    from django.core.management import CommandError, call_command

    world, tech, target = linux_scene
    items = _rotated(world, tech)
    new_ops = _current("opsuser")
    case = cases.case_open(actor=tech, engagement=world.engagement, path_id="E01", source_row=items["opsuser"].row,
                           description="改密后报盘程序无法连接")  # fmt: skip
    other = world.login_with(Role.TECH_GROUP)
    call_command(
        "rotation", "revert", "--case", str(case.pk), "--reason", "报盘程序无法连接", "--user", tech.username
    )
    revert = Revert.objects.get()
    with pytest.raises(CommandError, match="another person"):
        call_command("rotation", "revert-approve", str(revert.pk), "--user", tech.username)
    call_command("rotation", "revert-approve", str(revert.pk), "--user", other.username)
    with pytest.raises(CommandError, match="developer's support"):
        call_command("rotation", "revert-apply", str(revert.pk), "--user", tech.username)
    cases.case_tick(actor=tech, case=case, key="vendor_support", record="报盘系统开发商")
    call_command("rotation", "revert-apply", str(revert.pk), "--user", tech.username)
    out = capsys.readouterr().out
    assert f"password restore {revert.pk}: applied" in out and "成功" in out
    assert _logs_in(target, "opsuser", OLD_PW) and not _logs_in(target, "opsuser", new_ops)
    # The REST face: the restore is listed for 技术组, not for a post of another branch.
    client.force_login(tech)
    url = f"/api/engagements/{world.engagement.code}/rotation/reverts/"
    listed = client.get(url).json()
    assert [r["id"] for r in listed] == [revert.pk] and listed[0]["state"] == "applied"
    client.force_login(world.login_with(Role.ONSITE_POST, site=world.branch_b))
    assert client.get(url).json() == []
    assert client.get(f"{url}{revert.pk}/").status_code == 404
    for secret in (OLD_PW, new_ops, ADMIN_PW):
        assert secret not in out and secret not in json.dumps(listed, ensure_ascii=False)


def test_the_account_page_asks_approves_and_applies_the_restore(linux_scene, client) -> None:
    """The rotation's account page, within the open E01 case of its 表10 row: one person asks, the same person's
    approval is refused on the page (第八条), another approves, the first applies; the original logs in again."""
    from django.urls import reverse

    world, tech, target = linux_scene
    items = _rotated(world, tech)
    item = items["opsuser"]
    page = reverse("rotation:item", args=[world.engagement.code, item.plan_id, item.pk])
    client.force_login(tech)
    assert 'data-testid="e01"' not in client.get(page).content.decode()  # no case, no restore offered
    case = cases.case_open(actor=tech, engagement=world.engagement, path_id="E01", source_row=item.row,
                           description="改密后柜台无法连接数据库")  # fmt: skip
    cases.case_tick(actor=tech, case=case, key="vendor_support", record="柜台系统开发商")
    assert 'data-testid="revert-form"' in client.get(page).content.decode()
    answer = client.post(page, {"act": "revert", "reason": " "})
    assert answer.status_code == 200 and not Revert.objects.exists()  # the form names the missing reason
    client.post(page, {"act": "revert", "reason": "柜台无法连接数据库，开发商确认须先恢复原密码"})
    revert = Revert.objects.get()
    shown = client.post(page, {"act": "revert-approve", "revert": revert.pk}, follow=True).content.decode()
    said = shown.split('<ul class="messages">')[1].split("</ul>")[0]  # the refusal, in the page's language
    assert (
        'class="error"' in said and "第八条" in said and Revert.objects.get().state == RevertState.REQUESTED
    )
    client.force_login(world.login_with(Role.TECH_GROUP))
    client.post(page, {"act": "revert-approve", "revert": revert.pk})
    client.force_login(tech)
    client.post(page, {"act": "revert-apply", "revert": revert.pk})
    revert.refresh_from_db()
    assert revert.state == RevertState.APPLIED, revert.detail
    assert _logs_in(target, "opsuser", OLD_PW)
    shown = client.get(page).content.decode()
    assert f'data-state="{RevertState.APPLIED}"' in shown and OLD_PW not in shown
