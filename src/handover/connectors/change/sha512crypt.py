"""SHA-512 crypt (``$6$``, Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512", the glibc and
shadow-utils format), computed here so that a new password leaves this process only as its hash.

Python's ``crypt`` module is deprecated (removed in 3.13); this is the published algorithm, checked in the
tests against ``openssl passwd -6`` and against glibc through the real sshd fixtures.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ROUNDS_DEFAULT = 5000
_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48), (28, 49, 7),
    (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13), (56, 14, 35),
    (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
)  # fmt: skip


def _b64(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(ALPHABET[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat(digest: bytes, length: int) -> bytes:
    return (digest * (length // len(digest) + 1))[:length]


def digest(algorithm: str, p: bytes, s: bytes, rounds: int) -> bytes:
    """Drepper's SHA-crypt core (steps 1–21) over ``algorithm`` (sha256 or sha512): the final digest C. The salt
    is used as given (the ``$5$``/``$6$`` formats cut it to 16 bytes before; MySQL's caching_sha2 keeps 20)."""
    new = getattr(hashlib, algorithm)
    size = new().digest_size
    b = new(p + s + p).digest()
    a = new(p + s)
    length = len(p)
    while length > size:
        a.update(b)
        length -= size
    a.update(b[:length])
    length = len(p)
    while length > 0:
        a.update(b if length & 1 else p)
        length >>= 1
    first = a.digest()
    p_bytes = _repeat(new(p * len(p)).digest(), len(p))
    s_bytes = _repeat(new(s * (16 + first[0])).digest(), len(s))
    c = first
    for i in range(rounds):
        step = new(p_bytes if i & 1 else c)
        if i % 3:
            step.update(s_bytes)
        if i % 7:
            step.update(p_bytes)
        step.update(c if i & 1 else p_bytes)
        c = step.digest()
    return c


def sha512_crypt(password: str, salt: str | None = None, rounds: int = ROUNDS_DEFAULT) -> str:
    """``$6$salt$hash`` of ``password`` (a fresh 16-character salt unless one is given)."""
    if salt is None:
        salt = "".join(secrets.choice(ALPHABET) for _ in range(16))
    p, s = password.encode("utf-8"), salt.encode("ascii")[:16]
    rounds = max(1000, min(999_999_999, rounds))
    c = digest("sha512", p, s, rounds)
    encoded = "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _ORDER) + _b64(0, 0, c[63], 2)
    prefix = "$6$" if rounds == ROUNDS_DEFAULT else f"$6$rounds={rounds}$"
    return f"{prefix}{s.decode()}${encoded}"


def verify(password: str, hashed: str) -> bool:
    """Whether ``hashed`` (a ``$6$`` shadow field) is ``password``'s hash."""
    if not hashed.startswith("$6$"):
        return False
    parts = hashed.split("$")
    rounds = ROUNDS_DEFAULT
    if parts[2].startswith("rounds="):
        rounds = int(parts[2][7:])
        salt = parts[3]
    else:
        salt = parts[2]
    return secrets.compare_digest(sha512_crypt(password, salt, rounds), hashed)
