"""A register's 保管引用 that says the secret is in the vault names a real entry (registers.md §1.3): of the
row's account, at the row's site, in the row's engagement; typed, imported from xlsx or sent to the API.
Envelope references stay free text, and no message ever carries a secret."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from handover.audit.models import Event
from handover.core.actors import system
from handover.org.models import Role
from handover.registers import catalogue, inventory
from handover.registers.io import importing
from handover.registers.io.template import template_bytes
from handover.registers.models import Form, Row
from handover.registers.rules import RuleViolation
from handover.vault import selectors
from handover.vault import services as vault
from handover.vault.models import SecretEntry, SecretVersion
from tests.factories import World
from tests.registers import rows
from tests.registers.io_support import Scenery, fill_template, valid_row
from tests.vault.helpers import STRONG

VAULT, ENVELOPE, SPLIT = "密码保管系统", "密封信封入保险柜", "双人分段掌握"


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def capture(account, secret: str = STRONG) -> SecretEntry:
    return vault.secret_capture(actor=system("test"), account=account, secret=secret, kind="changed")


def other_account(b: rows.Branch, login: str = "dbadmin"):
    return inventory.account_ensure(
        actor=b.firm_it,
        system=b.system,
        asset=b.host,
        login_name=login,
        layer="数据库",
        account_class="超级用户",
    )


def account_at(world: World, site, login: str = "root"):
    args = {"actor": system("test"), "engagement": world.engagement, "site": site}
    found = inventory.system_ensure(**args, name=f"柜台系统{site.code}", category="营业部柜台")
    host = inventory.asset_ensure(**args, hostname=f"gt-{site.code}", system=found)
    return inventory.account_ensure(
        actor=system("test"),
        system=found,
        asset=host,
        login_name=login,
        layer="操作系统",
        account_class="超级用户",
    )


@pytest.fixture
def branch(vault, world):
    b = rows.branch(world)
    b.backup = b.add(8, **rows.t8(b))
    return b


def t10(b, ref: str, mode: str = VAULT, **extra):
    return rows.t10(b, b.backup, vault_ref=ref, custody_mode=mode, **extra)


def refused(b, number: int, data: dict) -> RuleViolation:
    b.form(number)
    before = (Row.objects.count(), Event.objects.count())
    with pytest.raises(RuleViolation) as caught:
        b.add(number, **data)
    assert (Row.objects.count(), Event.objects.count()) == before
    assert caught.value.field == "vault_ref"
    assert STRONG not in str(caught.value.message)  # the message names the reference, never the secret
    return caught.value


def test_entries_are_numbered_per_site_and_found_by_their_reference(vault, world):
    first, second = (
        capture(account_at(world, world.branch_a)),
        capture(account_at(world, world.branch_a, "sa")),
    )
    elsewhere = capture(account_at(world, world.branch_b))
    assert [e.reference for e in (first, second, elsewhere)] == ["BA-V001", "BA-V002", "BB-V001"]
    capture(first.account, "Zq8#mTw4!pLx7@Rk")  # a new version keeps the entry and its reference
    assert SecretEntry.objects.get(pk=first.pk).reference == "BA-V001"
    tech = world.login_with(Role.TECH_GROUP)
    assert (
        selectors.entry_by_reference(user=tech, engagement=world.engagement, reference=" ba-v002 ") == second
    )
    client = Client()
    client.force_login(tech)
    listing = client.get(reverse("vault:entry_list", kwargs={"code": world.engagement.code}))
    assert b"BA-V001" in listing.content and b"BB-V001" in listing.content
    found = client.get(
        reverse("vault:entry_list", kwargs={"code": world.engagement.code}), {"ref": "BB-V001"}
    )
    detail = reverse("vault:entry_detail", kwargs={"code": world.engagement.code, "entry_id": elsewhere.pk})
    assert found.status_code == 302 and found["Location"] == detail
    assert b'data-testid="vault-ref">BB-V001<' in client.get(detail).content
    # Someone who may see only 甲营业部's entries does not find 乙营业部's by its reference.
    onsite_a = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    with pytest.raises(Exception, match="BB-V001"):
        selectors.entry_by_reference(user=onsite_a, engagement=world.engagement, reference="BB-V001")


def test_a_typed_row_naming_no_entry_is_refused_and_a_real_one_accepted(branch):
    violation = refused(branch, 10, t10(branch, "密码保管系统条目 BA-V007"))
    assert "BA-V007" in violation.message and "甲营业部" in violation.message
    assert "不存在" in violation.message  # the message is in Chinese (tests/test_translations.py)
    entry = capture(branch.account)
    row = branch.add(10, **t10(branch, f"密码保管系统条目 {entry.reference}"))
    assert row.data["vault_ref"] == "密码保管系统条目 BA-V001"


def test_vault_custody_needs_a_reference_and_only_one(branch):
    capture(branch.account)
    capture(other_account(branch))
    assert "BA-V001" in refused(branch, 10, t10(branch, "在保管系统里")).message  # the example names the site
    assert "BA-V002" in refused(branch, 10, t10(branch, "BA-V001 或 BA-V002")).message


def test_envelope_references_stay_free_text(branch):
    for mode, ref in ((ENVELOPE, "信封 BA-V999，保险柜A"), (SPLIT, "张三、李四各掌握一半，BA-V404")):
        assert branch.add(10, **t10(branch, ref, mode)).data["vault_ref"] == ref
    assert not SecretEntry.objects.exists()


def test_an_entry_of_another_site_is_refused(branch, world):
    elsewhere = capture(account_at(world, world.branch_b))
    violation = refused(branch, 10, t10(branch, elsewhere.reference))
    assert (
        "BB-V001" in violation.message and "乙营业部" in violation.message and "甲营业部" in violation.message
    )


def test_an_entry_of_another_account_is_refused(branch):
    capture(branch.account)
    sa = capture(other_account(branch))
    violation = refused(branch, 10, t10(branch, sa.reference))
    assert (
        "BA-V002" in violation.message
        and "dbadmin@gt01" in violation.message
        and "root@gt01" in violation.message
    )


def test_an_entry_of_another_engagement_is_refused(branch, world):
    other = World()  # its branch is coded BA as well
    capture(account_at(other, other.branch_a))
    theirs = capture(account_at(other, other.branch_a, "sa"))
    capture(branch.account)  # this engagement has BA-V001 only
    assert theirs.reference == "BA-V002"
    violation = refused(branch, 10, t10(branch, "BA-V002"))
    assert "BA-V002" in violation.message and "甲营业部" in violation.message


def test_t27_and_t9_are_checked_too(branch):
    t27 = {
        key: value
        for key, value in t10(branch, "BA-V003").items()
        if key not in ("prior_ref", "pre_backup_ref")
    }
    t27 |= {"reason": "定期更换", "strength_ok": True, "last_changed_on": "2026-12-01"}
    t27 |= {"next_due_on": "2027-03-01"}
    assert "BA-V003" in refused(branch, 27, t27).message
    t9 = {
        "system_id": branch.system.pk,
        "asset_id": branch.host.pk,
        "layer": "操作系统",
        "account_id": branch.account.pk,
        "account_class": "超级用户",
        "original_holders": [branch.world.person_a.pk],
        "obtained_by": "被托管技术方提供",
        "vault_ref": "密码保管系统条目 BA-V001",
        "secret_captured": True,
        "login_verified": "成功",
        "verified_at": "2026-12-01T16:00",
        "holders": [branch.world.person_a.pk],
        "witness": branch.world.person_a.pk,
    }
    assert "BA-V001" in refused(branch, 9, t9).message
    assert (
        branch.add(9, **{**t9, "vault_ref": "信封 BA-001，保险柜A"}).data["vault_ref"]
        == "信封 BA-001，保险柜A"
    )
    capture(branch.account)
    assert branch.add(9, **t9).data["vault_ref"] == "密码保管系统条目 BA-V001"


def _index(key: str) -> int:
    return 1 + [c.key for c in catalogue.columns(10)].index(key)


def test_an_import_with_one_bad_reference_names_the_place_and_writes_nothing(vault, world):
    scenery = Scenery(world)
    entry = capture(scenery.account)
    good, bad = valid_row(10, scenery, 1), valid_row(10, scenery, 2)
    for row, ref in ((good, f"密码保管系统条目 {entry.reference}"), (bad, "密码保管系统条目 BA-V007")):
        row[_index("vault_ref")], row[_index("custody_mode")] = ref, VAULT
    bad[_index("changed_at")] = "2026-12-01 17:30"  # not the same row as the first
    bad[_index("verified_at")] = "2026-12-01 17:40"  # and the login tested after the change
    content = fill_template(template_bytes(10), [good, bad], {"日期": "2026-12-01"})
    before = (Row.objects.count(), Form.objects.count(), Event.objects.count())
    with pytest.raises(importing.ImportRefused) as caught:
        importing.register_import(
            actor=system("test"),
            engagement=world.engagement,
            site=world.branch_a,
            register_no=10,
            filename="表10-甲营业部.xlsx",
            content=content,
        )
    assert (Row.objects.count(), Form.objects.count(), Event.objects.count()) == before
    assert "表10-甲营业部.xlsx" in str(caught.value.message)
    (issue,) = caught.value.issues
    first_line = caught.value.parsed.rows[0].line
    assert (issue.row, issue.column) == (first_line + 1, "保管引用")
    assert "BA-V007" in issue.reason and "甲营业部" in issue.reason
    assert STRONG not in str(issue) and STRONG.encode() not in caught.value.error_workbook()


def test_the_api_refuses_a_reference_to_no_entry(branch, world):
    form = branch.form(10)
    api = APIClient()
    api.force_authenticate(branch.firm_it)
    url = f"/api/engagements/{world.engagement.code}/register-rows/"
    response = api.post(url, {"form": form.pk, "data": t10(branch, "BA-V007")}, format="json")
    assert response.status_code == 400, response.content
    body = response.content.decode()
    assert "BA-V007" in body and ("保管引用" in body or "vault_ref" in body)
    assert not form.rows.exists() and STRONG not in body
    entry = capture(branch.account)
    accepted = api.post(url, {"form": form.pk, "data": t10(branch, entry.reference)}, format="json")
    assert accepted.status_code == 201, accepted.content


def test_no_secret_reaches_a_message_or_the_audit_trail(branch):
    entry = capture(branch.account)
    sealed = bytes(SecretVersion.objects.get(entry=entry).sealed)
    messages = [
        refused(branch, 10, t10(branch, ref)).message
        for ref in ("BA-V009", "在保管系统里", "BA-V001 BA-V009")
    ]
    capture(other_account(branch))
    messages.append(refused(branch, 10, t10(branch, "BA-V002")).message)
    text = " ".join(messages)
    assert STRONG not in text and sealed.hex() not in text
    assert not any(STRONG in str(e.after) + str(e.before) for e in Event.objects.all())


def test_the_row_page_puts_the_refusal_on_保管引用_and_writes_nothing(branch, world):
    from handover.registers.forms import api_form_data

    form = branch.form(10)
    client = Client()
    client.force_login(branch.firm_it)
    create = reverse("registers:row_create", kwargs={"code": world.engagement.code, "form_id": form.pk})
    posted = api_form_data(catalogue.columns(10), t10(branch, "BA-V007"))
    response = client.post(create, posted)
    assert response.status_code == 200 and not form.rows.exists()
    errors = response.context["row_form"].errors
    assert list(errors) == ["vault_ref"] and "BA-V007" in errors["vault_ref"][0]
    entry = capture(branch.account)
    accepted = client.post(create, {**posted, "vault_ref": f"密码保管系统条目 {entry.reference}"})
    assert accepted.status_code == 302 and form.rows.get().data["vault_ref"].endswith("BA-V001")


def test_the_migration_numbers_existing_entries_per_site_in_capture_order(vault, world):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("handover.vault.migrations.0002_secretentry_number")
    made = [
        capture(account_at(world, site, login))
        for site, login in ((world.branch_b, "root"), (world.branch_a, "root"), (world.branch_a, "sa"))
    ]
    for offset, entry in enumerate(made):
        SecretEntry.objects.filter(pk=entry.pk).update(number=100 + offset)
    migration.number_entries(apps, None)
    assert [SecretEntry.objects.get(pk=e.pk).reference for e in made] == ["BB-V001", "BA-V001", "BA-V002"]


def test_a_change_names_an_entry_holding_a_version_captured_after_the_original(branch, world):
    """C4 (第二十六条第2项): a 表10 row that says 已修改 cannot point at the original as received."""
    vault.secret_capture(actor=system("test"), account=branch.account, secret=STRONG, kind="original")
    caught = refused(branch, 10, t10(branch, "BA-V001"))
    assert "BA-V001" in caught.message and "表9" in caught.message
    api = APIClient()
    api.force_authenticate(branch.firm_it)
    url = f"/api/engagements/{world.engagement.code}/register-rows/"
    response = api.post(url, {"form": branch.form(10).pk, "data": t10(branch, "BA-V001")}, format="json")
    assert response.status_code == 400 and "BA-V001" in response.content.decode()
    capture(branch.account, "Zq8#mTw4!pLx7@Rk")  # the new password, captured after the original
    assert branch.add(10, **t10(branch, "BA-V001")).data["vault_ref"] == "BA-V001"


def test_t27_strength_is_the_vaults_measure_never_a_typed_confirmation(branch, world):
    """C21 (第三十一条第1项 「满足口令强度要求」): 强度符合 是 only for a password the vault measured strong."""
    t27 = {
        **{k: v for k, v in t10(branch, "信封 BA-001，保险柜A", ENVELOPE).items() if k in _keys(27)},
        "reason": "定期更换",
        "strength_ok": True,
        "last_changed_on": "2026-12-01",
        "next_due_on": "2027-03-01",
    }
    branch.form(27)
    with pytest.raises(RuleViolation, match="强度符合") as caught:
        branch.add(27, **t27)
    assert caught.value.field == "strength_ok"
    entry = capture(branch.account)
    in_vault = {**t27, "vault_ref": f"密码保管系统条目 {entry.reference}", "custody_mode": VAULT}
    assert branch.add(27, **in_vault).data["strength_ok"] is True
    assert branch.add(27, **{**t27, "strength_ok": False}).data["strength_ok"] is False  # an open item


def _keys(number):
    return {c.key for c in catalogue.columns(number)}
