"""Sealed blobs: data holding password verifiers is sealed like a secret, opened only while unsealed with an
audit event, bound to its row, and re-wrapped by a master-key rotation."""

from __future__ import annotations

import pytest

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.vault import events, lifecycle
from handover.vault.blobs import blob_open, blob_seal
from handover.vault.models import SealedBlob
from tests.vault.test_lifecycle import rotate

SHADOW = b"root:$6$salt$VerifierNeverInTheClear:20000::\n"


def _seal(world):
    return blob_seal(
        actor=system("test"),
        engagement=world.engagement,
        site=world.branch_a,
        label="h1 etc/shadow",
        data=SHADOW,
        digest="sha256:x",
    )


def test_seal_and_open(vault, world) -> None:
    blob = _seal(world)
    assert SHADOW not in bytes(blob.sealed)
    assert blob_open(actor=system("test"), blob=blob, purpose="restore preview") == SHADOW
    assert Event.objects.filter(action=events.BLOB_OPEN, object_id=str(blob.pk)).count() == 1
    assert "Verifier" not in str(list(Event.objects.values_list("after", flat=True)))


def test_sealed_vault_refuses_both(vault, world) -> None:
    blob = _seal(world)
    lifecycle.local_keeper().seal()
    with pytest.raises(lifecycle.VaultSealed):
        _seal(world)
    with pytest.raises(lifecycle.VaultSealed):
        blob_open(actor=system("test"), blob=blob, purpose="x")


def test_a_ciphertext_moved_to_another_row_does_not_open(vault, world) -> None:
    first, second = _seal(world), _seal(world)
    SealedBlob.objects.filter(pk=second.pk).update(sealed=bytes(first.sealed))
    second.refresh_from_db()
    with pytest.raises(DomainError):
        blob_open(actor=system("test"), blob=second, purpose="x")


def test_rotation_rewraps_blobs(vault, world) -> None:
    blob = _seal(world)
    assert rotate(vault.shares[:3]).done
    blob.refresh_from_db()
    assert blob_open(actor=system("test"), blob=blob, purpose="after rotation") == SHADOW
