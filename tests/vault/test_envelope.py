"""Envelope encryption: round trips, binding to the record, tamper detection, rotation, and error hygiene."""

from __future__ import annotations

import dataclasses
import secrets
import traceback
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handover.vault.crypto import ciphers, envelope
from handover.vault.crypto.envelope import SealedSecret
from handover.vault.crypto.errors import DecryptionError

PROPERTY = settings(database=None, deadline=None, max_examples=60)
CIPHER_NAMES = sorted(ciphers.CIPHERS)
CANARY = b"CANARY-Zq9!root-Pa55w0rd"
RECORD = "0b7e1c9a-4d2f-4e35-9d6b-1f0a2c3e4d5f"
FIXED_MASTER = bytes(range(32))

# Sealed once with FIXED_MASTER for RECORD: a change of labels, derivation or layout breaks these, and
# with them every secret already stored.
GOLDEN = {
    "aes-256-gcm": (
        "48560101003ce6b38735cb24552a8ae56a9254ad39bbdc969abdfe1c55d02ff37bf9b36bfe4e6b6c72a2773063b21106"
        "6b3c3686e3b895d3759640351e86cff0001f6441de54d6d3a3b3e0f33655235f9a7d1f77340ee7ca9832015ee2d177bc"
        "33cb1dd30a2fbfcff025e64db2"
    ),
    "sm4-gcm": (
        "48560102002ce6cdb0809cd4daa57c88ee9cfe5ac0df79642a6aea476ce80894d70cf5907806e3edbbb9353491c38391"
        "e6bf6557ca6fbb0a20fd2c8a4bdf6accc9c2c09d77c5a212f71539469ffbaf4fdf5ce6c49cc05456f66fac36ad"
    ),
}
GOLDEN_CHECK_VALUES = {
    "aes-256-gcm": "edbe72c2cc865c14bd21e2008f46a1fa",
    "sm4-gcm": "87ee93af26f8f7cfc92adfba7f383ce3",
}


@pytest.fixture
def master() -> bytes:
    return envelope.generate_master_key()


@PROPERTY
@given(
    cipher_name=st.sampled_from(CIPHER_NAMES), plaintext=st.binary(max_size=300), record=st.text(min_size=1)
)
def test_seal_then_open_round_trips(cipher_name: str, plaintext: bytes, record: str) -> None:
    master = envelope.generate_master_key()
    sealed = envelope.seal(master, plaintext, record_id=record, cipher_name=cipher_name)
    assert sealed.cipher_name == cipher_name
    assert envelope.open(master, sealed, record_id=record) == plaintext
    stored = SealedSecret.from_bytes(sealed.to_bytes())
    assert stored == sealed
    assert envelope.open(master, stored, record_id=record) == plaintext


@pytest.mark.parametrize("cipher_name", CIPHER_NAMES)
def test_every_secret_gets_its_own_data_key(master: bytes, cipher_name: str) -> None:
    first = envelope.seal(master, CANARY, record_id=RECORD, cipher_name=cipher_name)
    second = envelope.seal(master, CANARY, record_id=RECORD, cipher_name=cipher_name)
    assert first.ciphertext != second.ciphertext and first.wrapped_key != second.wrapped_key
    # Each wrapped data key opens only its own ciphertext.
    with pytest.raises(DecryptionError, match="failed authentication"):
        envelope.open(master, dataclasses.replace(first, ciphertext=second.ciphertext), record_id=RECORD)


@pytest.mark.parametrize("cipher_name", CIPHER_NAMES)
def test_stored_secrets_stay_readable_across_releases(cipher_name: str) -> None:
    sealed = SealedSecret.from_bytes(bytes.fromhex(GOLDEN[cipher_name]))
    assert envelope.open(FIXED_MASTER, sealed, record_id=RECORD) == b"golden-Pa55word"
    assert (
        envelope.check_value(FIXED_MASTER, cipher_name=cipher_name).hex() == GOLDEN_CHECK_VALUES[cipher_name]
    )


@pytest.mark.parametrize("cipher_name", CIPHER_NAMES)
def test_a_ciphertext_moved_to_another_record_fails(master: bytes, cipher_name: str) -> None:
    sealed = envelope.seal(master, CANARY, record_id="entry-1", cipher_name=cipher_name)
    for other in ("entry-2", "entry-1 ", "ENTRY-1", "entry-"):
        with pytest.raises(DecryptionError, match=f"record {other}"):
            envelope.open(master, sealed, record_id=other)
    # Swapping just the ciphertexts between two rows fails too, each under its own wrapped key.
    other = envelope.seal(master, b"other", record_id="entry-2", cipher_name=cipher_name)
    swapped = dataclasses.replace(sealed, ciphertext=other.ciphertext)
    with pytest.raises(DecryptionError):
        envelope.open(master, swapped, record_id="entry-1")


@pytest.mark.parametrize("cipher_name", CIPHER_NAMES)
def test_the_ciphertext_itself_is_bound_to_its_record(master: bytes, cipher_name: str) -> None:
    # Even a data key re-wrapped for another row (which takes the master key) does not move the secret.
    cipher = ciphers.get_cipher(cipher_name)
    sealed = envelope.seal(master, CANARY, record_id="entry-1", cipher_name=cipher_name)
    data_key = envelope._unwrap(master, sealed, record_id="entry-1")
    wrapping_key = envelope._wrapping_key(master, cipher)
    moved = dataclasses.replace(
        sealed, wrapped_key=cipher.encrypt(wrapping_key, data_key, envelope._wrap_aad(cipher, "entry-2"))
    )
    assert envelope._unwrap(master, moved, record_id="entry-2") == data_key
    with pytest.raises(DecryptionError, match="record entry-2 failed authentication"):
        envelope.open(master, moved, record_id="entry-2")


@pytest.mark.parametrize("cipher_name", CIPHER_NAMES)
def test_the_wrong_master_key_or_cipher_fails(master: bytes, cipher_name: str) -> None:
    sealed = envelope.seal(master, CANARY, record_id=RECORD, cipher_name=cipher_name)
    with pytest.raises(DecryptionError, match="could not be unwrapped"):
        envelope.open(envelope.generate_master_key(), sealed, record_id=RECORD)
    other_cipher = next(name for name in CIPHER_NAMES if name != cipher_name)
    with pytest.raises(DecryptionError):
        envelope.open(master, dataclasses.replace(sealed, cipher_name=other_cipher), record_id=RECORD)


def _regions(sealed: SealedSecret) -> dict[str, range]:
    """Where each part sits in ``to_bytes()``."""
    header = 6
    wrapped_end = header + len(sealed.wrapped_key)
    nonce, tag = ciphers.NONCE_SIZE, ciphers.TAG_SIZE
    total = wrapped_end + len(sealed.ciphertext)
    return {
        "header": range(0, header),
        "wrapped-key": range(header, wrapped_end),
        "nonce": range(wrapped_end, wrapped_end + nonce),
        "ciphertext": range(wrapped_end + nonce, total - tag),
        "tag": range(total - tag, total),
    }


@pytest.mark.parametrize("cipher_name", CIPHER_NAMES)
@pytest.mark.parametrize("region", ["header", "wrapped-key", "nonce", "ciphertext", "tag"])
def test_every_part_is_protected(master: bytes, cipher_name: str, region: str) -> None:
    sealed = envelope.seal(master, CANARY, record_id=RECORD, cipher_name=cipher_name)
    stored = sealed.to_bytes()
    for position in _regions(sealed)[region]:
        damaged = bytearray(stored)
        damaged[position] ^= 0x80
        with pytest.raises(DecryptionError):
            envelope.open(master, SealedSecret.from_bytes(bytes(damaged)), record_id=RECORD)


@PROPERTY
@given(cipher_name=st.sampled_from(CIPHER_NAMES), data=st.data())
def test_any_change_to_the_stored_bytes_fails(cipher_name: str, data: st.DataObject) -> None:
    master = envelope.generate_master_key()
    stored = envelope.seal(master, CANARY, record_id=RECORD, cipher_name=cipher_name).to_bytes()
    damaged = bytearray(stored)
    damaged[data.draw(st.integers(0, len(stored) - 1))] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(stored) - 1))
    for candidate in (bytes(damaged), stored[:cut], stored + b"\x00"):
        with pytest.raises(DecryptionError):
            envelope.open(master, SealedSecret.from_bytes(candidate), record_id=RECORD)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"HV", "header is incomplete"),
        (b"XX\x01\x01\x00\x01ab", "not a sealed vault secret"),
        (b"HV\x02\x01\x00\x01ab", "format version 2"),
        (b"HV\x01\x09\x00\x01ab", "unknown cipher"),
        (b"HV\x01\x01\x00\x05ab", "ciphertext is missing"),
    ],
)
def test_malformed_stored_bytes_get_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(DecryptionError, match=message):
        SealedSecret.from_bytes(data)


@pytest.mark.parametrize("cipher_name", CIPHER_NAMES)
def test_rewrap_keeps_the_secret_and_retires_the_old_master(master: bytes, cipher_name: str) -> None:
    sealed = envelope.seal(master, CANARY, record_id=RECORD, cipher_name=cipher_name)
    new_master = envelope.generate_master_key()
    rewrapped = envelope.rewrap(master, new_master, sealed, record_id=RECORD)
    assert rewrapped.ciphertext == sealed.ciphertext and rewrapped.wrapped_key != sealed.wrapped_key
    assert envelope.open(new_master, rewrapped, record_id=RECORD) == CANARY
    with pytest.raises(DecryptionError, match="could not be unwrapped"):
        envelope.open(master, rewrapped, record_id=RECORD)
    with pytest.raises(DecryptionError):
        envelope.rewrap(new_master, master, sealed, record_id=RECORD)
    with pytest.raises(DecryptionError):
        envelope.rewrap(master, new_master, sealed, record_id="another-record")


def test_key_and_record_arguments_are_checked(master: bytes) -> None:
    with pytest.raises(ValueError, match="master key must be 32 bytes, not 16"):
        envelope.seal(master[:16], CANARY, record_id=RECORD, cipher_name="sm4-gcm")
    with pytest.raises(ValueError, match="id of the record"):
        envelope.seal(master, CANARY, record_id="", cipher_name="aes-256-gcm")
    with pytest.raises(ValueError, match="Unknown vault cipher"):
        envelope.seal(master, CANARY, record_id=RECORD, cipher_name="aes-128-cbc")


def test_check_value_tells_master_keys_apart_and_is_no_wrapping_key(master: bytes) -> None:
    for name in CIPHER_NAMES:
        value = envelope.check_value(master, cipher_name=name)
        assert len(value) == envelope.CHECK_VALUE_SIZE
        assert value == envelope.check_value(master, cipher_name=name)
        assert value != envelope.check_value(envelope.generate_master_key(), cipher_name=name)
        assert value not in envelope._wrapping_key(master, ciphers.get_cipher(name))


@pytest.fixture
def key_material(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every random value the vault draws in the test (data keys, nonces), plus what is added by hand."""
    drawn: list[bytes] = []
    real = secrets.token_bytes

    def spy(size: int | None = None) -> bytes:
        value = real(size)
        drawn.append(value)
        return value

    monkeypatch.setattr(secrets, "token_bytes", spy)
    yield drawn


def _failures(master: bytes, cipher_name: str) -> Iterator[Callable[[], object]]:
    sealed = envelope.seal(master, CANARY, record_id=RECORD, cipher_name=cipher_name)
    stored = sealed.to_bytes()
    flipped = bytearray(stored)
    flipped[-1] ^= 1
    yield lambda: envelope.open(master, sealed, record_id="another-record")
    yield lambda: envelope.open(bytes(32), sealed, record_id=RECORD)
    yield lambda: envelope.open(master, SealedSecret.from_bytes(bytes(flipped)), record_id=RECORD)
    yield lambda: envelope.open(
        master, dataclasses.replace(sealed, ciphertext=sealed.wrapped_key), record_id=RECORD
    )
    yield lambda: envelope.rewrap(bytes(32), master, sealed, record_id=RECORD)
    yield lambda: SealedSecret.from_bytes(stored[:3])
    yield lambda: envelope.seal(master + CANARY, CANARY, record_id=RECORD, cipher_name=cipher_name)


def _renderings(secret: bytes) -> list[str]:
    return [secret.hex(), secret.hex().upper(), repr(secret)[2:-1], secret.decode("latin-1")]


@pytest.mark.parametrize("cipher_name", CIPHER_NAMES)
def test_errors_carry_no_key_or_plaintext(key_material: list[bytes], master: bytes, cipher_name: str) -> None:
    failures = list(_failures(master, cipher_name))
    cipher = ciphers.get_cipher(cipher_name)
    key_material += [master, CANARY, envelope._wrapping_key(master, cipher)]
    forbidden = [text for value in key_material if len(value) >= 8 for text in _renderings(value)]
    for failure in failures:
        with pytest.raises((DecryptionError, ValueError)) as caught:
            failure()
        exc = caught.value
        assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
        shown = [str(exc), repr(exc), *map(str, exc.args), "".join(traceback.format_exception_only(exc))]
        for text in forbidden:
            assert not any(text in rendering for rendering in shown), (str(exc), text)
