"""Envelope encryption of vault secrets under the master key.

The keys, from the top:

- **Master key**: 32 random bytes (``generate_master_key``). It exists whole only in the memory of an unsealed
  server; at rest it exists only as Shamir shares held by custodians.
- **Wrapping key**, one per cipher: HKDF over the master key with the label
  ``handover-vault:v1:wrap:<cipher name>`` and the cipher's key size, so one 32-byte master key serves
  AES-256-GCM (32-byte key, HKDF-SHA256) and SM4-GCM (16-byte key, HKDF-SM3, so that a 国密 deployment uses
  SM primitives only). The label separates the keys: no key is ever used for two purposes, and the check
  value below is derived the same way with its own label.
- **Data key**, one per secret: fresh random bytes, used once to encrypt the secret, stored only wrapped.

The associated data binds each ciphertext to its row: the secret's to ``handover-vault:v1:<record id>``,
the wrapped data key's to ``handover-vault:v1:wrap:<cipher name>:<record id>``. A ciphertext copied to
another row, or a wrapped key swapped between rows or ciphers, fails to open. The record id must be stable
for the row's lifetime (the vault entry's UUID). Master-key rotation (``rewrap``) replaces only the wrapped
data key; the secret's ciphertext is left as it is.

Python cannot erase secrets from memory (see the package docstring): keys and plaintexts live in local
variables only, for the length of one call, and never appear in an exception or a ``repr``.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from handover.vault.crypto.ciphers import Cipher, get_cipher
from handover.vault.crypto.errors import DecryptionError

MASTER_KEY_SIZE = 32
FORMAT_VERSION = 1
CHECK_VALUE_SIZE = 16

_LABEL = "handover-vault:v1"
_MAGIC = b"HV"
_HEADER = struct.Struct(">2sBBH")  # magic, format version, cipher code, length of the wrapped key
_CIPHER_CODES = {"aes-256-gcm": 1, "sm4-gcm": 2}
_CIPHER_NAMES = {code: name for name, code in _CIPHER_CODES.items()}


@dataclass(frozen=True)
class SealedSecret:
    """A secret as stored: the cipher's name, the wrapped data key and the secret's ciphertext.

    Both byte fields are ``nonce || ciphertext || tag``. ``to_bytes`` gives a stable, versioned form:
    ``b"HV"``, format version (1 byte), cipher code (1 byte), wrapped-key length (2 bytes, big-endian),
    the wrapped key, then the ciphertext.
    """

    cipher_name: str
    wrapped_key: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        if self.cipher_name not in _CIPHER_CODES:
            raise ValueError(f"Unknown vault cipher {self.cipher_name!r}.")

    def to_bytes(self) -> bytes:
        header = _HEADER.pack(_MAGIC, FORMAT_VERSION, _CIPHER_CODES[self.cipher_name], len(self.wrapped_key))
        return header + self.wrapped_key + self.ciphertext

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedSecret:
        """Read ``to_bytes`` output; anything else raises ``DecryptionError``."""
        if len(data) < _HEADER.size:
            raise DecryptionError("The sealed secret is truncated: its header is incomplete.")
        magic, version, code, wrapped_size = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise DecryptionError("These bytes are not a sealed vault secret.")
        if version != FORMAT_VERSION:
            raise DecryptionError(
                f"The sealed secret has format version {version}; this Handover reads version 1."
            )
        if code not in _CIPHER_NAMES:
            raise DecryptionError(f"The sealed secret names an unknown cipher (code {code}).")
        body = data[_HEADER.size :]
        if len(body) <= wrapped_size:
            raise DecryptionError("The sealed secret is truncated: its ciphertext is missing.")
        return cls(
            cipher_name=_CIPHER_NAMES[code], wrapped_key=body[:wrapped_size], ciphertext=body[wrapped_size:]
        )


def generate_master_key() -> bytes:
    """A fresh random master key."""
    return secrets.token_bytes(MASTER_KEY_SIZE)


def _derive(master_key: bytes, *, cipher: Cipher, purpose: str, length: int) -> bytes:
    if len(master_key) != MASTER_KEY_SIZE:
        raise ValueError(f"The master key must be {MASTER_KEY_SIZE} bytes, not {len(master_key)}.")
    algorithm = hashes.SM3() if cipher.name == "sm4-gcm" else hashes.SHA256()
    info = f"{_LABEL}:{purpose}:{cipher.name}".encode()
    return HKDF(algorithm=algorithm, length=length, salt=None, info=info).derive(master_key)


def _wrapping_key(master_key: bytes, cipher: Cipher) -> bytes:
    return _derive(master_key, cipher=cipher, purpose="wrap", length=cipher.key_size)


def check_value(master_key: bytes, *, cipher_name: str) -> bytes:
    """A 16-byte value that identifies the master key without revealing it (HKDF is one-way).

    The vault stores it at ``init`` and compares it after combining shares, to tell a wrong set of shares
    from a right one before anything is decrypted.
    """
    return _derive(master_key, cipher=get_cipher(cipher_name), purpose="check", length=CHECK_VALUE_SIZE)


def _data_aad(record_id: str) -> bytes:
    if not record_id:
        raise ValueError("A sealed secret needs the id of the record it belongs to.")
    return f"{_LABEL}:{record_id}".encode()


def _wrap_aad(cipher: Cipher, record_id: str) -> bytes:
    return f"{_LABEL}:wrap:{cipher.name}:{record_id}".encode()


def new_data_key(cipher_name: str) -> bytes:
    """A fresh random data key for one secret under ``cipher_name``."""
    return secrets.token_bytes(get_cipher(cipher_name).key_size)


def wrap_data_key(master_key: bytes, data_key: bytes, *, record_id: str, cipher_name: str) -> bytes:
    """``data_key`` wrapped by the key derived from ``master_key``, bound to ``record_id``.

    The half of ``seal`` that needs the master key: a key keeper that holds the master key runs this
    (and ``unwrap_data_key``) so that the master key never leaves it."""
    _data_aad(record_id)
    cipher = get_cipher(cipher_name)
    return cipher.encrypt(_wrapping_key(master_key, cipher), data_key, _wrap_aad(cipher, record_id))


def seal_with_data_key(
    data_key: bytes, wrapped_key: bytes, plaintext: bytes, *, record_id: str, cipher_name: str
) -> SealedSecret:
    """The half of ``seal`` that needs no master key: encrypt ``plaintext`` under ``data_key``."""
    cipher = get_cipher(cipher_name)
    return SealedSecret(
        cipher_name=cipher.name,
        wrapped_key=wrapped_key,
        ciphertext=cipher.encrypt(data_key, plaintext, _data_aad(record_id)),
    )


def seal(master_key: bytes, plaintext: bytes, *, record_id: str, cipher_name: str) -> SealedSecret:
    """Encrypt ``plaintext`` for the record ``record_id`` under a fresh data key wrapped by ``master_key``."""
    _data_aad(record_id)
    data_key = new_data_key(cipher_name)
    wrapped = wrap_data_key(master_key, data_key, record_id=record_id, cipher_name=cipher_name)
    return seal_with_data_key(data_key, wrapped, plaintext, record_id=record_id, cipher_name=cipher_name)


def _unwrap(master_key: bytes, sealed: SealedSecret, *, record_id: str) -> bytes:
    cipher = get_cipher(sealed.cipher_name)
    try:
        data_key = cipher.decrypt(
            _wrapping_key(master_key, cipher), sealed.wrapped_key, _wrap_aad(cipher, record_id)
        )
    except DecryptionError:
        raise DecryptionError(
            f"The data key of record {record_id} could not be unwrapped: the master key is wrong, "
            "or the sealed secret was altered or belongs to another record."
        ) from None
    if len(data_key) != cipher.key_size:
        raise DecryptionError(f"The data key of record {record_id} has the wrong length.")
    return data_key


def unwrap_data_key(master_key: bytes, sealed: SealedSecret, *, record_id: str) -> bytes:
    """The data key of ``sealed``, which must belong to ``record_id``; ``DecryptionError`` otherwise."""
    _data_aad(record_id)
    return _unwrap(master_key, sealed, record_id=record_id)


def open_with_data_key(data_key: bytes, sealed: SealedSecret, *, record_id: str) -> bytes:
    """The plaintext of ``sealed`` under its already unwrapped ``data_key``."""
    try:
        return get_cipher(sealed.cipher_name).decrypt(data_key, sealed.ciphertext, _data_aad(record_id))
    except DecryptionError:
        raise DecryptionError(
            f"The secret of record {record_id} failed authentication: "
            "its ciphertext was altered or belongs to another record."
        ) from None


def open(master_key: bytes, sealed: SealedSecret, *, record_id: str) -> bytes:
    """The plaintext of ``sealed``, which must belong to ``record_id``; ``DecryptionError`` otherwise.

    Named after the domain's verb (seal / open); it shadows the builtin only inside this module."""
    data_key = unwrap_data_key(master_key, sealed, record_id=record_id)
    return open_with_data_key(data_key, sealed, record_id=record_id)


def rewrap(
    old_master_key: bytes, new_master_key: bytes, sealed: SealedSecret, *, record_id: str
) -> SealedSecret:
    """The same secret with its data key wrapped by ``new_master_key`` instead; the ciphertext is unchanged
    (and not decrypted: rotation never handles a plaintext secret)."""
    _data_aad(record_id)
    data_key = _unwrap(old_master_key, sealed, record_id=record_id)
    cipher = get_cipher(sealed.cipher_name)
    wrapped = cipher.encrypt(_wrapping_key(new_master_key, cipher), data_key, _wrap_aad(cipher, record_id))
    return replace(sealed, wrapped_key=wrapped)
