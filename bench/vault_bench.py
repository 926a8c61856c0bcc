"""Vault cipher benchmark, run by ``make bench``; figures are kept in docs/benchmarks.md.

Encrypts and decrypts 10,000 secrets (24-character passwords, one record id each) with each vault cipher
through ``envelope.seal`` / ``envelope.open``, and the same payloads with the bare ``cryptography`` call
(one AEAD operation under one key, with a fresh nonce and the same associated data), in the same run.
Prints the cost per operation in microseconds and the ratio ours / bare. Envelope encryption does more by
design: per secret it draws a data key, derives the wrapping key (HKDF) and runs two AEAD operations.

Usage: .venv/bin/python bench/vault_bench.py [--quick]
``--quick`` runs 10× smaller and once instead of the best of five.
"""

from __future__ import annotations

import argparse
import gc
import platform
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import cryptography
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from handover.vault.crypto import envelope

SECRETS = 10_000
NONCE = 12


def bare_aes_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def bare_aes_decrypt(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], aad)


def bare_sm4_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return nonce + encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def bare_sm4_decrypt(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(sealed[:NONCE], sealed[-16:])).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(sealed[NONCE:-16]) + decryptor.finalize()


BARE: dict[
    str, tuple[int, Callable[[bytes, bytes, bytes], bytes], Callable[[bytes, bytes, bytes], bytes]]
] = {
    "aes-256-gcm": (32, bare_aes_encrypt, bare_aes_decrypt),
    "sm4-gcm": (16, bare_sm4_encrypt, bare_sm4_decrypt),
}


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeats`` runs (seconds) with the collector paused, and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            result = run()
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best, result


def bench_cipher(
    name: str, payloads: list[bytes], records: list[str], repeats: int
) -> list[tuple[str, float, float]]:
    master = envelope.generate_master_key()
    key_size, bare_encrypt, bare_decrypt = BARE[name]
    key = secrets.token_bytes(key_size)
    pairs = list(zip(payloads, records, strict=True))
    aads = [f"handover-vault:v1:{record}".encode() for record in records]
    triples = list(zip(payloads, records, aads, strict=True))

    seal_time, sealed = best_of(
        repeats, lambda: [envelope.seal(master, p, record_id=r, cipher_name=name) for p, r in pairs]
    )
    open_time, opened = best_of(
        repeats, lambda: [envelope.open(master, s, record_id=r) for s, r in zip(sealed, records, strict=True)]
    )
    bare_enc_time, bare_sealed = best_of(repeats, lambda: [bare_encrypt(key, p, a) for p, _, a in triples])
    bare_dec_time, bare_opened = best_of(
        repeats, lambda: [bare_decrypt(key, s, a) for s, a in zip(bare_sealed, aads, strict=True)]
    )
    if opened != payloads or bare_opened != payloads:
        raise SystemExit(f"{name}: a round trip lost data")
    return [("encrypt", seal_time, bare_enc_time), ("decrypt", open_time, bare_dec_time)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 secrets, one run")
    args = parser.parse_args()
    count, repeats = (SECRETS // 10, 1) if args.quick else (SECRETS, 5)
    payloads = [secrets.token_urlsafe(18).encode() for _ in range(count)]
    records = [str(uuid.uuid4()) for _ in range(count)]

    print(
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, {platform.machine()}"
    )
    print(f"{count:,} secrets of {len(payloads[0])} bytes, best of {repeats}")
    print(f"{'cipher':<12} {'operation':<9} {'ours µs/op':>11} {'bare µs/op':>11} {'ours/bare':>10}")
    for name in BARE:
        for operation, ours, bare in bench_cipher(name, payloads, records, repeats):
            ours_us, bare_us = ours / count * 1e6, bare / count * 1e6
            print(f"{name:<12} {operation:<9} {ours_us:>11.1f} {bare_us:>11.1f} {ours_us / bare_us:>9.2f}×")


if __name__ == "__main__":
    main()
