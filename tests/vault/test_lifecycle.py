"""Init, unseal ceremonies with their nonce, seal, rekey and master-key rotation, each with its audit events."""

from __future__ import annotations

import pytest
from django.db import connection

from handover.audit.models import Event, Outcome
from handover.core.actors import system
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Role
from handover.vault import events, lifecycle, services
from handover.vault.crypto import envelope
from handover.vault.crypto.shamir import Share
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


def verify(shares: list[str]) -> lifecycle.QuorumProgress:
    progress = lifecycle.QuorumProgress(index=0, nonce="", entered=[], threshold=0)
    for share in shares:
        progress = lifecycle.vault_pending_verify(actor=ACTOR, share_text=share, nonce=progress.nonce)
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
    assert not Event.objects.filter(action=events.REKEY).exists()
    assert verify(new[:2]).done
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
    assert VaultConfig.objects.get().check_value == old_check  # pending: nothing re-wrapped yet
    assert verify(new[1:4]).done
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


def test_a_pending_rekey_leaves_the_current_shares_opening_the_vault_until_verified(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    new = rekey(vault.shares[:3], new_shares=4, threshold=2).shares
    config = VaultConfig.objects.get()
    assert (config.pending_purpose, config.pending_threshold, config.threshold) == ("rekey", 2, 3)
    assert (
        lifecycle.vault_status().pending["set_id"] == Share.decode(new[0]).set_label == config.pending_set_id
    )
    # The new shares do not open the vault while pending; the current ones do.
    lifecycle.vault_seal(actor=ACTOR)
    with pytest.raises(DomainError) as early:
        enter(new[:2])
    assert early.value.code == "share_pending" and "--verify" in str(early.value.message)
    lifecycle.vault_seal(actor=ACTOR)
    assert enter(vault.shares[2:])["unsealed"]
    # A current share is not a share of the new set; one new share is not enough.
    with pytest.raises(DomainError) as old:
        lifecycle.vault_pending_verify(actor=ACTOR, share_text=vault.shares[0], nonce="")
    assert old.value.code == "share_other_set"
    one = lifecycle.vault_pending_verify(actor=ACTOR, share_text=new[3], nonce="")
    assert not one.done and VaultConfig.objects.get().set_id == config.set_id
    assert lifecycle.vault_pending_verify(actor=ACTOR, share_text=new[0], nonce=one.nonce).done
    config = VaultConfig.objects.get()
    assert (config.pending_purpose, config.threshold, config.shares) == ("", 2, 4)
    assert Event.objects.filter(action=events.PENDING).count() == 1
    lifecycle.vault_seal(actor=ACTOR)
    with pytest.raises(DomainError):
        enter(vault.shares[:3])
    lifecycle.vault_seal(actor=ACTOR)
    assert enter(new[1:3])["unsealed"]
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="rekey check") == STRONG


def test_a_pending_set_is_cancelled_or_replaced_and_its_shares_never_open_the_vault(vault, world):
    first = rekey(vault.shares[:3], new_shares=3, threshold=2).shares
    second = rekey(vault.shares[1:4], new_shares=3, threshold=2).shares  # a rekey started again replaces it
    with pytest.raises(DomainError) as replaced:
        lifecycle.vault_pending_verify(actor=ACTOR, share_text=first[0], nonce="")
    assert replaced.value.code == "share_other_set"
    pending = Event.objects.filter(action=events.PENDING).order_by("pk")
    assert (
        pending.last().after["replaces"]
        == pending.first().after["set_id"]
        == Share.decode(first[0]).set_label
    )
    with pytest.raises(PermissionDenied):
        lifecycle.vault_pending_cancel(actor=world.login_with(Role.FIRM_IT, site=world.branch_a))
    lifecycle.vault_pending_cancel(actor=ACTOR)
    assert VaultConfig.objects.get().pending_purpose == "" and Event.objects.filter(
        action=events.PENDING_CANCEL
    )
    with pytest.raises(DomainError) as none:
        lifecycle.vault_pending_verify(actor=ACTOR, share_text=second[0], nonce="")
    assert none.value.code == "no_pending_rekey"
    lifecycle.vault_seal(actor=ACTOR)
    assert enter(vault.shares[:3])["unsealed"]


def test_a_rotation_whose_new_key_left_the_keeper_is_refused_and_changes_nothing(vault, world):
    entry = put(world.login_with(Role.FIRM_IT, site=world.branch_a), world, world.branch_a)
    sealed = bytes(entry.versions.get().sealed)
    new = rotate(vault.shares[:3]).shares
    lifecycle.vault_seal(actor=ACTOR)  # a keeper restarted: the pending key is gone with it
    enter(vault.shares[:3])
    with pytest.raises(DomainError) as gone:
        verify(new[:3])
    assert gone.value.code == "no_rotation"
    assert bytes(entry.versions.get().sealed) == sealed and VaultConfig.objects.get().key_version == 1
    lifecycle.vault_pending_cancel(actor=ACTOR)
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="rotation check") == STRONG
