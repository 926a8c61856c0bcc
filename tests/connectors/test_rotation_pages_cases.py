"""The pages of 停用 (第二十六条第3项 A) with its E03 restore (第二十八条第3项) and of E02's reset of a lost password
(第二十八条第2项), on a real sshd: each asked by one person and approved or carried out by another (第八条), the
refusals said on the page, the state on the host as the page says; a person of another site sees nothing."""

from __future__ import annotations

import asyncio

from django.utils import translation
from django.utils.translation import gettext

from handover.connectors.change import linux as linux_changer
from handover.discovery.services import engine_target
from handover.org.models import Engagement, Phase, Role
from handover.registers.models import Account, Row
from handover.rotation import reconcile
from handover.rotation.models import Disablement, DisableState, RotationPlan
from handover.workflow.services import cases
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host
from tests.factories import register_form


def _zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


def _said(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]


def _row(world, target, register: int, login: str, **data) -> Row:  # type: ignore[no-untyped-def]
    account = Account.objects.get(login_name=login, asset=target.asset)
    values = {"system_id": account.system_id, "asset_id": account.asset_id, "account_id": account.pk, **data}
    form = register_form(world.engagement, target.site, register)
    return Row.objects.create(form=form, seq=form.rows.count() + 1, data=values)


def test_disable_asked_approved_applied_and_restored_within_e03_on_the_pages(
    linux_scene, etc_linux: Host, client
) -> None:
    world, tech, target = linux_scene
    Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.HANDOVER)
    world.engagement.refresh_from_db()
    other = world.login_with(Role.TECH_GROUP)
    base = f"/e/{world.engagement.code}/rotation/disables/"
    keep = _row(world, target, 11, "opsuser", action="保留")
    row = _row(world, target, 11, "opsuser", action="停用", disable_until="2099-12-31")
    client.force_login(tech)
    page = client.get(base).content.decode()
    assert f'value="{row.pk}"' in page and f'value="{keep.pk}"' not in page  # only 停用 rows are offered
    assert f"opsuser @ {target.asset.hostname}" in page
    asked = client.post(base, {"row": row.pk}, follow=True)
    found = Disablement.objects.get()
    url = f"{base}{found.pk}/"
    assert asked.redirect_chain == [(url, 302)] and found.state == DisableState.REQUESTED
    assert f'value="{row.pk}"' not in client.get(base).content.decode()  # asked once: no longer offered
    refused = client.post(url, {"act": "approve"}, follow=True)
    assert _said(refused) == [_zh("You asked for this: another person must approve it (第八条).")]
    found.refresh_from_db()
    assert found.state == DisableState.REQUESTED

    client.force_login(other)
    approved = client.post(url, {"act": "approve"}, follow=True)
    assert _said(approved) == [_zh("停用 approved; it may be applied now.")]
    applied = client.post(url, {"act": "apply"}, follow=True)
    found.refresh_from_db()
    assert found.state == DisableState.DISABLED, _said(applied)
    page = applied.content.decode()
    assert 'data-testid="disable-before"' in page and 'data-testid="no-e03"' in page
    place = engine_target(target)
    assert not asyncio.run(linux_changer.login_works(place, "opsuser", OLD_PW))

    # E03 opened by one person; the restore on the page by the same person is refused, by another done.
    case = cases.case_open(actor=other, engagement=world.engagement, path_id="E03", source_row=row,
                           description="停用 opsuser 后日终批处理失败")  # fmt: skip
    refused = client.post(url, {"act": "restore", "case": case.pk}, follow=True)
    assert _said(refused) == [_zh("You opened this E03 case: another person restores the account (第八条).")]
    assert not asyncio.run(linux_changer.login_works(place, "opsuser", OLD_PW))
    client.force_login(tech)
    wrong = client.post(url, {"act": "restore", "case": 999999}, follow=True)
    assert _said(wrong) == [_zh("Choose the open E03 case of this account's 表11 row.")]
    restored = client.post(url, {"act": "restore", "case": case.pk}, follow=True)
    found.refresh_from_db()
    assert found.state == DisableState.RESTORED, _said(restored)
    assert asyncio.run(linux_changer.login_works(place, "opsuser", OLD_PW))
    assert case.items.filter(key="restore_user").exists()

    # Another site's post sees neither the list's row nor the page; no secret on any page.
    client.force_login(world.login_with(Role.ONSITE_POST, site=world.branch_b))
    assert f"disable-{found.pk}" not in client.get(base).content.decode()
    assert client.get(url).status_code == 404
    assert all(secret not in page for secret in (ADMIN_PW, OLD_PW))


def test_a_lost_password_reset_is_drawn_up_from_its_e02_case_on_the_page(
    linux_scene, etc_linux: Host, client
) -> None:
    world, tech, target = linux_scene
    Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.HANDOVER)
    world.engagement.refresh_from_db()
    row = _row(world, target, 9, "opsuser")
    case = cases.case_open(actor=tech, engagement=world.engagement, path_id="E02", source_row=row,
                           sub_type=reconcile.FORGOTTEN, description="opsuser 密码遗忘")  # fmt: skip
    url = f"/e/{world.engagement.code}/rotation/resets/"
    client.force_login(tech)
    page = client.get(url).content.decode()
    assert (
        f'data-testid="case-{case.pk}"' in page and f'data-testid="reset-{case.pk}"' not in page
    )  # no consent
    refused = client.post(url, {"case": case.pk}, follow=True)
    assert _said(refused) == [
        _zh("Record the working group's consent on the E02 case first (第二十八条第2项: 经托管工作组同意后).")
    ]
    assert not RotationPlan.objects.exists()
    cases.case_tick(actor=tech, case=case, key="report_wg")
    cases.case_tick(actor=tech, case=case, key="wg_consent", record="托管工作组函〔2026〕3号")
    assert f'data-testid="reset-{case.pk}"' in client.get(url).content.decode()
    drawn = client.post(url, {"case": case.pk}, follow=True)
    plan = RotationPlan.objects.get()
    assert drawn.redirect_chain == [(f"/e/{world.engagement.code}/rotation/plans/{plan.pk}/", 302)]
    assert plan.case_id == case.pk and plan.state == "draft"
    page = client.get(url).content.decode()
    assert f"/rotation/plans/{plan.pk}/" in page and f'data-testid="reset-{case.pk}"' not in page
    # A post of another site neither sees the case nor may reset (the page needs the right to run discovery).
    client.force_login(world.login_with(Role.ONSITE_POST, site=world.branch_b))
    assert f'data-testid="case-{case.pk}"' not in client.get(url).content.decode()
    client.post(url, {"case": case.pk})
    assert RotationPlan.objects.count() == 1
