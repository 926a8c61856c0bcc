"""Authenticated encryption for the vault: AES-256-GCM and SM4-GCM (RFC 8998) behind one interface.

Both use a fresh random 96-bit nonce per call and a 128-bit tag, and return ``nonce || ciphertext || tag``.
Random nonces are safe here because a data key encrypts a single secret, and a wrapping key encrypts one
data key per secret: even a million secrets stay far below the 2^32 messages per key that NIST SP 800-38D
allows for random 96-bit nonces.

Every authentication failure becomes one ``DecryptionError`` whose message carries no key, nonce or
plaintext, raised ``from None`` so that no lower exception is chained to it.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher as _BlockCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from handover.vault.crypto.errors import DecryptionError

NONCE_SIZE = 12
TAG_SIZE = 16

_FAILED = (
    "The ciphertext could not be decrypted: the key is wrong, or the data was altered or belongs elsewhere."
)


class Cipher(Protocol):
    """An AEAD cipher as the vault uses it."""

    @property
    def name(self) -> str:
        """The deployment setting's value, e.g. ``aes-256-gcm``."""
        ...

    @property
    def key_size(self) -> int:
        """Key length in bytes."""
        ...

    def encrypt(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """``nonce || ciphertext || tag`` under a fresh random nonce."""
        ...

    def decrypt(self, key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
        """The plaintext, or ``DecryptionError`` if ``sealed`` or ``associated_data`` fails authentication."""
        ...


def _fresh_nonce() -> bytes:
    return secrets.token_bytes(NONCE_SIZE)


def _check_key(cipher: Cipher, key: bytes) -> None:
    if len(key) != cipher.key_size:
        raise ValueError(f"{cipher.name} needs a {cipher.key_size}-byte key, not {len(key)} bytes.")


def _split_nonce(sealed: bytes) -> tuple[bytes, bytes]:
    if len(sealed) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionError("The ciphertext is too short to be one: it was truncated.")
    return sealed[:NONCE_SIZE], sealed[NONCE_SIZE:]


class AesGcm:
    """AES-256-GCM through ``cryptography``'s ``AESGCM`` (OpenSSL, AES-NI where the CPU has it)."""

    name = "aes-256-gcm"
    key_size = 32

    def encrypt(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        _check_key(self, key)
        nonce = _fresh_nonce()
        return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)

    def decrypt(self, key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
        _check_key(self, key)
        nonce, body = _split_nonce(sealed)
        try:
            return AESGCM(key).decrypt(nonce, body, associated_data)
        except InvalidTag:
            raise DecryptionError(_FAILED) from None


class Sm4Gcm:
    """SM4-GCM (GB/T 32907 block cipher in GCM mode, as RFC 8998 uses it) through ``cryptography``'s
    ``Cipher(algorithms.SM4(key), modes.GCM(nonce))``; OpenSSL releases no plaintext before the tag checks
    out in ``finalize``, and neither do we."""

    name = "sm4-gcm"
    key_size = 16

    def encrypt(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        _check_key(self, key)
        nonce = _fresh_nonce()
        encryptor = _BlockCipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated_data)
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        return nonce + ciphertext + encryptor.tag

    def decrypt(self, key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
        _check_key(self, key)
        nonce, body = _split_nonce(sealed)
        ciphertext, tag = body[:-TAG_SIZE], body[-TAG_SIZE:]
        decryptor = _BlockCipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(associated_data)
        try:
            return decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag:
            raise DecryptionError(_FAILED) from None


_ALL: tuple[Cipher, ...] = (AesGcm(), Sm4Gcm())
CIPHERS: dict[str, Cipher] = {cipher.name: cipher for cipher in _ALL}


def get_cipher(name: str) -> Cipher:
    """The cipher named by a deployment setting: ``aes-256-gcm`` or ``sm4-gcm``."""
    try:
        return CIPHERS[name]
    except KeyError:
        raise ValueError(f"Unknown vault cipher {name!r}: use one of {', '.join(sorted(CIPHERS))}.") from None
