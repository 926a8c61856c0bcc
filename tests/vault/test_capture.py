"""Capture and ``handover vault put``: entities made when missing, nothing half written, strength refused
with the reason, generation to a policy, ciphertexts bound to their row, and the 表27 due dates."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from handover.core.actors import system
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Role
from handover.registers.models import Account, Asset, InformationSystem
from handover.vault import lifecycle, passwords, selectors, services
from handover.vault.crypto.envelope import SealedSecret
from handover.vault.models import CustodyMode, SecretKind, SecretVersion
from tests.vault.helpers import STRONG, put


def test_put_creates_system_host_and_account_once(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    first = put(firm, world, world.branch_a)
    second = put(firm, world, world.branch_a, secret="Nw8$eTq4^Zr6&Yh3", kind=SecretKind.CHANGED)
    assert first.pk == second.pk and second.versions.count() == 2
    assert InformationSystem.objects.count() == Asset.objects.count() == Account.objects.count() == 1
    assert services.secret_use_for_task(entry_id=first.pk, purpose="t") == "Nw8$eTq4^Zr6&Yh3"


def test_nothing_is_half_written_when_the_vault_is_sealed(vault, world):
    lifecycle.vault_seal(actor=system("test"))
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    with pytest.raises(lifecycle.VaultSealed):
        put(firm, world, world.branch_a)
    assert not InformationSystem.objects.exists() and not Account.objects.exists()


def test_capture_needs_the_role_at_the_site(vault, world):
    firm_b = world.login_with(Role.FIRM_IT, site=world.branch_b)
    with pytest.raises(PermissionDenied):
        put(firm_b, world, world.branch_a)
    finance = world.login_with(Role.FIRM_FINANCE, site=world.branch_a)
    with pytest.raises(PermissionDenied):
        put(finance, world, world.branch_a)


@pytest.mark.parametrize(
    ("weak", "rule"),
    [
        ("Short1!", "12"),
        ("alllowercaseletters", "3"),
        ("root-BA-Passw0rd!", "name"),
        ("Password1234!", "strength"),
    ],
)
def test_a_weak_new_password_is_refused_with_its_reason(vault, world, weak, rule):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    put(firm, world, world.branch_a)
    with pytest.raises(DomainError) as refused:
        put(firm, world, world.branch_a, secret=weak, kind=SecretKind.CHANGED)
    assert refused.value.field == "secret" and refused.value.code == "weak_secret"
    assert weak not in str(refused.value.message)
    assert SecretVersion.objects.count() == 1
    assert passwords.strength_problem(weak, context=["root", "root-BA"]) is not None


def test_an_original_is_recorded_as_received_even_if_weak(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a, secret="oracle123")
    assert entry.versions.get().strength_score < passwords.MIN_SCORE
    assert entry.next_due_on is None


def test_a_ciphertext_moved_to_another_row_fails_to_open(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    one = put(firm, world, world.branch_a, login="root")
    two = put(firm, world, world.branch_a, login="oracle", secret="Hj5%wQm8*Tn2!Kc6")
    SecretVersion.objects.filter(entry=two).update(sealed=one.versions.get().sealed)
    with pytest.raises(DomainError) as failed:
        services.secret_use_for_task(entry_id=two.pk, purpose="t")
    assert failed.value.code == "decryption_failed"
    assert STRONG not in str(failed.value.message)


@pytest.mark.parametrize("platform", sorted(passwords.PLATFORMS))
def test_generated_passwords_keep_the_policy_and_the_platform(platform):
    limits = passwords.PLATFORMS[platform]
    length = min(24, limits.max_length)
    for _ in range(20):
        value = passwords.generate(passwords.Policy(length=length, platform=platform))
        assert len(value) == length
        assert not set(value) & passwords.AMBIGUOUS
        assert all(c.isalnum() or c in limits.symbols for c in value)
        assert passwords.strength_problem(value) is None
        if limits.letter_first:
            assert value[0].isalpha()


def test_generation_refuses_what_the_platform_cannot_take():
    with pytest.raises(DomainError) as too_long:
        passwords.generate(passwords.Policy(length=40, platform="oracle"))
    assert too_long.value.field == "length"
    with pytest.raises(DomainError):
        passwords.generate(passwords.Policy(length=20, digits=False, symbols=False))


def test_a_new_password_sets_the_next_change_date_and_overdue_lists_it(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a, kind=SecretKind.CHANGED)
    assert entry.next_due_on == timezone.localdate() + timedelta(days=90)
    assert not selectors.overdue_list(user=firm, engagement=world.engagement).exists()
    later = timezone.localdate() + timedelta(days=91)
    assert list(selectors.overdue_list(user=firm, engagement=world.engagement, today=later)) == [entry]
    outsider = world.login_with(Role.FIRM_IT, site=world.branch_b)
    assert not selectors.overdue_list(user=outsider, engagement=world.engagement, today=later).exists()


def test_custody_in_a_sealed_envelope_needs_its_number(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    with pytest.raises(DomainError) as refused:
        put(firm, world, world.branch_a, custody=services.Custody(mode=CustodyMode.ENVELOPE))
    assert refused.value.field == "envelope_no"
    entry = put(
        firm,
        world,
        world.branch_a,
        custody=services.Custody(
            mode=CustodyMode.ENVELOPE, envelope_no="XF-001", safe="1号保险柜", holders=(world.person_a,)
        ),
    )
    assert entry.envelope_no == "XF-001" and list(entry.holders.all()) == [world.person_a]


def run_put(world, *extra: str) -> str:
    """The command with standard input as the test set it (monkeypatched ``sys.stdin``)."""
    out = io.StringIO()
    args = ["vault", "put", "--engagement", world.engagement.code, "--site", "BA", "--system", "核心交易"]
    args += ["--host", "db01", "--account", "sys", "--layer", "数据库", *extra]
    call_command(*args, stdout=out)
    return out.getvalue()


def test_cli_put_reads_the_secret_from_stdin_and_makes_the_entities(vault, world, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(STRONG + "\n"))
    out = run_put(world)
    assert "stored: vault entry" in out and STRONG not in out
    account = Account.objects.get(login_name="sys")
    assert (account.layer, account.system.name, account.asset.hostname) == ("数据库", "核心交易", "db01")
    entry = account.vault_entry
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="t") == STRONG


def test_cli_put_refuses_an_empty_stdin_and_a_sealed_vault(vault, world, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="standard input"):
        run_put(world)
    lifecycle.vault_seal(actor=system("test"))
    monkeypatch.setattr("sys.stdin", io.StringIO(STRONG + "\n"))
    with pytest.raises(CommandError) as sealed:
        run_put(world)
    assert STRONG not in str(sealed.value)
    assert not Account.objects.exists()


def test_the_stored_bytes_are_a_sealed_secret_not_the_plaintext(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    stored = bytes(entry.versions.get().sealed)
    assert STRONG.encode() not in stored
    assert SealedSecret.from_bytes(stored).cipher_name == "aes-256-gcm"
