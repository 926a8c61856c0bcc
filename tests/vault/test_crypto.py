"""Known-answer tests for the primitives under the vault, and the behaviour of its two AEAD ciphers."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from handover.vault.crypto import ciphers
from handover.vault.crypto.errors import DecryptionError

# The GCM specification (McGrew and Viega), test case 16: AES-256, 96-bit IV, AAD, partial last block.
AES_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
AES_NONCE = bytes.fromhex("cafebabefacedbaddecaf888")
AES_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
AES_PLAINTEXT = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
AES_CIPHERTEXT = bytes.fromhex(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
)
AES_TAG = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")

# RFC 8998 Appendix A.1: SM4-GCM.
SM4_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
SM4_NONCE = bytes.fromhex("00001234567800000000ABCD")
SM4_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
SM4_PLAINTEXT = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
SM4_CIPHERTEXT = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
SM4_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")

GCM_VECTORS = [
    pytest.param(
        "aes-256-gcm", AES_KEY, AES_NONCE, AES_AAD, AES_PLAINTEXT, AES_CIPHERTEXT, AES_TAG, id="aes-gcm-tc16"
    ),
    pytest.param(
        "sm4-gcm", SM4_KEY, SM4_NONCE, SM4_AAD, SM4_PLAINTEXT, SM4_CIPHERTEXT, SM4_TAG, id="sm4-gcm-rfc8998"
    ),
]
GCM_FIELDS = "name,key,nonce,aad,plaintext,ciphertext,tag"


@pytest.mark.parametrize(GCM_FIELDS, GCM_VECTORS)
def test_encrypt_gives_the_published_bytes(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    key: bytes,
    nonce: bytes,
    aad: bytes,
    plaintext: bytes,
    ciphertext: bytes,
    tag: bytes,
) -> None:
    monkeypatch.setattr(ciphers, "_fresh_nonce", lambda: nonce)
    assert ciphers.get_cipher(name).encrypt(key, plaintext, aad) == nonce + ciphertext + tag


@pytest.mark.parametrize(GCM_FIELDS, GCM_VECTORS)
def test_decrypt_opens_the_published_bytes_and_refuses_any_change(
    name: str, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes, ciphertext: bytes, tag: bytes
) -> None:
    cipher = ciphers.get_cipher(name)
    sealed = nonce + ciphertext + tag
    assert cipher.decrypt(key, sealed, aad) == plaintext
    for position in (0, len(nonce), len(sealed) - len(tag) - 1, len(sealed) - 1):
        damaged = bytearray(sealed)
        damaged[position] ^= 0x01
        with pytest.raises(DecryptionError):
            cipher.decrypt(key, bytes(damaged), aad)
    with pytest.raises(DecryptionError):
        cipher.decrypt(key, sealed, aad + b"x")


def test_sm4_block_cipher_matches_gb_t_32907() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    # One raw block is what the standard specifies; ECB on a single block is exactly that.
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305
    assert (encryptor.update(key) + encryptor.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


SM3_VECTORS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]


@pytest.mark.parametrize("message,digest", SM3_VECTORS)
def test_sm3_matches_gb_t_32905_in_hashlib_and_in_cryptography(message: bytes, digest: str) -> None:
    # hashlib's SM3 hashes the audit chain; cryptography's SM3 drives HKDF-SM3 for SM4 wrapping keys.
    assert hashlib.new("sm3", message).hexdigest() == digest
    hasher = hashes.Hash(hashes.SM3())
    hasher.update(message)
    assert hasher.finalize().hex() == digest


def test_hkdf_sha256_matches_rfc_5869_case_1() -> None:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=42, salt=bytes(range(13)), info=bytes(range(0xF0, 0xFA)))
    assert hkdf.derive(b"\x0b" * 22).hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


@pytest.mark.parametrize("name", sorted(ciphers.CIPHERS))
def test_round_trip_uses_a_fresh_nonce_every_time(name: str) -> None:
    cipher = ciphers.get_cipher(name)
    key = bytes(range(cipher.key_size))
    first = cipher.encrypt(key, b"secret", b"row-1")
    second = cipher.encrypt(key, b"secret", b"row-1")
    assert first[: ciphers.NONCE_SIZE] != second[: ciphers.NONCE_SIZE]
    assert len(first) == ciphers.NONCE_SIZE + len(b"secret") + ciphers.TAG_SIZE
    assert cipher.decrypt(key, first, b"row-1") == cipher.decrypt(key, second, b"row-1") == b"secret"
    assert cipher.decrypt(key, cipher.encrypt(key, b"", b""), b"") == b""


@pytest.mark.parametrize("name", sorted(ciphers.CIPHERS))
def test_wrong_key_associated_data_or_length_is_refused(name: str) -> None:
    cipher = ciphers.get_cipher(name)
    key = bytes(range(cipher.key_size))
    sealed = cipher.encrypt(key, b"secret", b"row-1")
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(cipher.key_size), sealed, b"row-1")
    with pytest.raises(DecryptionError):
        cipher.decrypt(key, sealed, b"row-2")
    with pytest.raises(DecryptionError, match="too short"):
        cipher.decrypt(key, sealed[: ciphers.NONCE_SIZE + ciphers.TAG_SIZE - 1], b"row-1")
    with pytest.raises(ValueError, match=f"{cipher.key_size}-byte key"):
        cipher.encrypt(key + b"\x00", b"secret", b"row-1")


def test_ciphers_are_named_by_the_deployment_setting() -> None:
    assert ciphers.get_cipher("aes-256-gcm").key_size == 32
    assert ciphers.get_cipher("sm4-gcm").key_size == 16
    with pytest.raises(ValueError, match="aes-256-gcm, sm4-gcm"):
        ciphers.get_cipher("des")
