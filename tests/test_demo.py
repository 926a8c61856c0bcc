"""``handover demo``: the demo engagement loads twice without failing or duplicating, with fresh passwords."""

from __future__ import annotations

import io
import re

from django.contrib.auth import authenticate
from django.core.management import call_command

from handover.org.models import Engagement, Person, Role, RoleAssignment, Site, SiteLevel

LOGIN_LINE = re.compile(r"^\s+.+?\s+(demo-[a-z-]+)\s+(\S+)\s", re.M)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_demo_twice_keeps_one_engagement_and_issues_new_passwords(db):
    first = dict(LOGIN_LINE.findall(run("demo")))
    counts = (Site.objects.count(), Person.objects.count(), RoleAssignment.objects.count())
    second = dict(LOGIN_LINE.findall(run("demo")))
    assert Engagement.objects.count() == 1
    assert (Site.objects.count(), Person.objects.count(), RoleAssignment.objects.count()) == counts
    # One login per role, and the observer twice: for the 证监局 and for the 托管工作组 (第二十七条第4项).
    assert set(first) == set(second) and len(first) == len(Role.values) + 1
    assert all(first[name] != second[name] for name in first)
    for username, password in second.items():
        assert authenticate(username=username, password=password) is not None
        assert authenticate(username=username, password=first[username]) is None


def test_demo_has_the_shape_the_issue_asks_for(db):
    run("demo")
    levels = {level: Site.objects.filter(level=level).count() for level in SiteLevel.values}
    assert levels == {"hq": 1, "region": 2, "branch": 6, "service": 4}
    assert 55 <= Person.objects.count() <= 70
    held = set(RoleAssignment.objects.values_list("role", flat=True))
    assert held == set(Role.values)


def test_engagement_list_prints_code_names_not_firm_names(db):
    run("demo")
    listing = run("engagement", "list")
    engagement = Engagement.objects.get()
    assert engagement.code_name in listing and engagement.firm_name not in listing


def test_demo_fills_all_41_registers_at_two_sites_once(db):
    from handover.registers.models import Form, FormState, Row, Signature

    run("demo")
    rows = Row.objects.filter(is_current=True, form__is_current=True)
    counts = (Form.objects.count(), Row.objects.count(), Signature.objects.count())
    sites_per_register = {
        n: set(rows.filter(form__register_no=n).values_list("form__site__code", flat=True))
        for n in range(1, 42)
    }
    assert all(len(sites) >= 2 for sites in sites_per_register.values()), sites_per_register
    states = set(Form.objects.values_list("state", flat=True))
    assert {FormState.DRAFT, FormState.SUBMITTED, FormState.SIGNED} <= states
    run("demo")
    assert (Form.objects.count(), Row.objects.count(), Signature.objects.count()) == counts


def test_demo_has_a_failed_backup_closed_by_a_reported_t39_entry(db):
    from handover.registers.models import Row

    run("demo")
    failed = Row.objects.get(form__register_no=8, is_current=True, data__readable="不通过")
    (entry_id,) = failed.data["exception_refs"]
    entry = Row.objects.get(pk=entry_id, form__register_no=39)
    assert entry.data["source_row_ref"] == failed.pk and entry.data["reported_tg_at"]
    assert failed.form.state == "signed" and failed.signatures.count() == 2


def test_demo_sets_up_the_vault_once_and_prints_its_shares(db):
    from handover.vault.crypto.shamir import Share
    from handover.vault.models import SecretEntry, VaultConfig

    first = run("demo")
    shares = re.findall(r"share \d: (HOV1-\S+)", first)
    assert len(shares) == 5 and all(Share.decode(s).threshold == 3 for s in shares)
    assert SecretEntry.objects.count() == 5
    config = VaultConfig.objects.get()
    second = run("demo")
    assert not re.findall(r"HOV1-\S+", second) and "already set up" in second
    assert VaultConfig.objects.get().check_value == config.check_value and SecretEntry.objects.count() == 5


def test_the_demo_t10_rows_in_the_vault_name_its_entries(db):
    from handover.registers.models import Row
    from handover.vault.models import SecretEntry

    run("demo")
    entries = {
        e.reference: e.account_id
        for e in SecretEntry.objects.select_related("site")
        if e.site.code != "BR-SZ"
    }
    in_vault = Row.objects.filter(form__register_no=10, is_current=True, data__custody_mode="密码保管系统")
    named = {row.data["vault_ref"].split()[-1]: row.data["account_id"] for row in in_vault}
    assert named and set(named) <= set(entries)
    assert all(entries[ref] == account for ref, account in named.items())
    assert Row.objects.filter(form__register_no=10, data__custody_mode="密封信封入保险柜").exists()
