"""Init, unseal ceremonies with their nonce, seal, rekey and master-key rotation, each with its audit events."""

from __future__ import annotations

import pytest
from django.db import connection

from handover.audit.models import Event, Outcome
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.org.models import Role
from handover.vault import events, lifecycle, services
from handover.vault.crypto import envelope
from handover.vault.models import VaultConfig
from tests.vault.helpers import STRONG, fail_audit_inserts, put

ACTOR = system("test")


def enter(shares: list[str]) -> dict:
    result: dict = {"nonce": ""}
    for share in shares:
        result = lifecycle.vault_share_enter(actor=ACTOR, share_text=share, nonce=result["nonce"])
    return result


def rekey(shares: list[str], *, new_shares: int, threshold: int) -> lifecycle.QuorumProgress:
    progress = lifecycle.QuorumProgress(index=0, nonce="", entered=[], threshold=0)
    for share in shares:
        progress = lifecycle.vault_rekey(
            actor=ACTOR, share_text=share, nonce=progress.nonce, shares=new_shares, threshold=threshold
        )
    return progress


def rotate(shares: list[str]) -> lifecycle.QuorumProgress:
    progress = lifecycle.QuorumProgress(index=0, nonce="", entered=[], threshold=0)
    for share in shares:
        progress = lifecycle.vault_rotate_master(actor=ACTOR, share_text=share, nonce=progress.nonce)
    return progress


def test_init_stores_no_key_and_refuses_a_second_init(vault):
    config = VaultConfig.objects.get()
    assert (config.shares, config.threshold, config.cipher_name) == (5, 3, "aes-256-gcm")
    assert len(vault.shares) == 5 and all(s.startswith("HOV1-K003-S00") for s in vault.shares)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM vault_vaultconfig")
        stored = repr(cursor.fetchall())
    for share in vault.shares:
        assert share.split("-", 3)[3][:20] not in stored
    with pytest.raises(DomainError) as again:
        lifecycle.vault_init(actor=ACTOR)
    assert again.value.code == "vault_initialised"
    assert Event.objects.filter(action=events.INIT).count() == 1


def test_k_shares_unseal_and_each_is_an_audit_event(vault):
    lifecycle.vault_seal(actor=ACTOR)
    assert lifecycle.vault_status().sealed
    first = lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[4], nonce="")
    status = lifecycle.vault_status()
    assert status.sealed and status.nonce == first["nonce"] and status.entered == [5]
    result = lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[1], nonce=first["nonce"])
    assert not result["unsealed"]
    result = lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[2], nonce=first["nonce"])
    assert result["unsealed"] and not lifecycle.vault_status().sealed
    entered = Event.objects.filter(action=events.SHARE_ENTER).order_by("seq")
    assert [e.after["share"] for e in entered] == [5, 2, 3]
    assert Event.objects.filter(action=events.UNSEAL).count() == 1
    assert Event.objects.filter(action=events.SEAL).count() == 1
    for event in entered:
        assert all(share[15:] not in str(event.after) for share in vault.shares)


def test_two_ceremonies_cannot_mix(vault):
    lifecycle.vault_seal(actor=ACTOR)
    first = lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[0], nonce="")
    with pytest.raises(DomainError) as second:
        lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[1], nonce="")
    assert second.value.code == "ceremony_mismatch"
    with pytest.raises(DomainError):
        lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[1], nonce="0123456789abcdef")
    assert lifecycle.vault_status().entered == [1]
    lifecycle.vault_seal(actor=ACTOR)
    with pytest.raises(DomainError) as stale:
        lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[1], nonce=first["nonce"])
    assert stale.value.code == "ceremony_mismatch"
    refused = Event.objects.filter(action=events.SHARE_ENTER, outcome=Outcome.FAILURE)
    assert refused.count() == 3


def test_a_damaged_or_repeated_share_is_refused(vault):
    lifecycle.vault_seal(actor=ACTOR)
    share = vault.shares[0]
    damaged = share[:-1] + ("A" if share[-1] != "A" else "B")
    with pytest.raises(DomainError) as bad:
        lifecycle.vault_share_enter(actor=ACTOR, share_text=damaged, nonce="")
    assert bad.value.code == "share_checksum"
    first = lifecycle.vault_share_enter(actor=ACTOR, share_text=share, nonce="")
    with pytest.raises(DomainError) as twice:
        lifecycle.vault_share_enter(actor=ACTOR, share_text=share, nonce=first["nonce"])
    assert twice.value.code == "share_twice"
    assert lifecycle.vault_status().sealed


def test_a_share_whose_event_cannot_be_written_does_not_count(vault):
    lifecycle.vault_seal(actor=ACTOR)
    first = lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[0], nonce="")
    second = lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[1], nonce=first["nonce"])
    fail_audit_inserts(events.UNSEAL)
    with pytest.raises(Exception, match="audit storage unavailable"):
        lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[2], nonce=second["nonce"])
    assert lifecycle.vault_status().sealed


def test_rekey_gives_new_shares_for_the_same_key_and_retires_the_old(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    progress = rekey(vault.shares[1:4], new_shares=3, threshold=2)
    assert progress.done
    new = progress.shares
    assert len(new) == 3 and all(s.startswith("HOV1-K002") for s in new)
    lifecycle.vault_seal(actor=ACTOR)
    with pytest.raises(DomainError) as old:
        lifecycle.vault_share_enter(actor=ACTOR, share_text=vault.shares[0], nonce="")
    assert old.value.code == "share_other_set"
    assert enter(new[1:])["unsealed"]
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="rekey check") == STRONG
    assert Event.objects.get(action=events.REKEY).after["threshold"] == 2


def test_rotation_rewraps_every_data_key_and_keeps_every_ciphertext(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entries = [put(firm, world, world.branch_a, login=f"user{i}") for i in range(3)]
    before = {
        v.pk: envelope.SealedSecret.from_bytes(bytes(v.sealed)) for e in entries for v in e.versions.all()
    }
    old_check = VaultConfig.objects.get().check_value
    progress = rotate(vault.shares[:3])
    assert progress.done
    new = progress.shares
    config = VaultConfig.objects.get()
    assert config.check_value != old_check and config.key_version == 2
    for entry in entries:
        for version in entry.versions.all():
            after = envelope.SealedSecret.from_bytes(bytes(version.sealed))
            assert after.ciphertext == before[version.pk].ciphertext
            assert after.wrapped_key != before[version.pk].wrapped_key
        assert services.secret_use_for_task(entry_id=entry.pk, purpose="rotation check") == STRONG
    lifecycle.vault_seal(actor=ACTOR)
    with pytest.raises(DomainError):
        enter(vault.shares[:3])
    lifecycle.vault_seal(actor=ACTOR)
    assert enter(new[2:])["unsealed"]
    assert services.secret_use_for_task(entry_id=entries[0].pk, purpose="rotation check") == STRONG
    assert Event.objects.get(action=events.ROTATE).after["rewrapped"] == 3


def test_sm4_gcm_deployment(db, world, settings):
    settings.HANDOVER_VAULT_CIPHER = "sm4-gcm"
    lifecycle.vault_init(actor=ACTOR, shares=3, threshold=2)
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    sealed = envelope.SealedSecret.from_bytes(bytes(entry.versions.get().sealed))
    assert sealed.cipher_name == "sm4-gcm"
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="sm4 check") == STRONG


def test_status_before_init_and_uninitialised_unseal(db):
    status = lifecycle.vault_status()
    assert not status.initialised and status.sealed
    with pytest.raises(DomainError) as refused:
        lifecycle.vault_share_enter(actor=ACTOR, share_text="HOV1-K003-S001-AAAAA", nonce="")
    assert refused.value.code == "vault_uninitialised"
