"""MySQL 8's caching_sha2_password stored form (``$A$005$`` + 20-byte salt + 43 characters), computed here so that
``ALTER USER … IDENTIFIED WITH caching_sha2_password AS '…'`` carries a verifier, never the password.

The digest is Drepper's SHA-256 crypt ("Unix crypt using SHA-256 and SHA-512") with MySQL's parameters
(sql/auth/sha2_password.cc, WL#9591): a 20-byte salt used whole (``$5$`` cuts it to 16), rounds = the three
digits × 1000 (``005``: 5000), the usual crypt base-64 of the 32 bytes. Checked in the tests against Drepper's
published ``$5$`` vectors and against an authentication_string a MySQL 8 server produced for ``foobar`` (quoted by
TiDB in pkg/parser/auth/caching_sha2.go: ``CREATE USER 'foo'@'%' IDENTIFIED BY 'foobar'`` then
``SELECT HEX(authentication_string)``).
"""

from __future__ import annotations

import hmac
import re
import secrets

from handover.connectors.change.sha512crypt import ALPHABET, _b64, digest

SALT_LENGTH = 20
ITERATIONS = 5  # × 1000: MySQL's default caching_sha2_password_digest_rounds (5000)
_ORDER = ((0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14), (15, 25, 5), (6, 16, 26), (27, 7, 17),
          (18, 28, 8), (9, 19, 29))  # fmt: skip
STORED = re.compile(rb"^\$A\$([0-9A-Fa-f]{3})\$(.{20})(.{43})$", re.S)


def sha256_crypt_text(password: bytes, salt: bytes, rounds: int) -> str:
    """The 43 characters of SHA-256 crypt of ``password`` with ``salt`` used whole."""
    c = digest("sha256", password, salt, rounds)
    return "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _ORDER) + _b64(0, c[31], c[30], 3)


def stored_form(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> bytes:
    """``$A$005$<salt><hash>`` as MySQL keeps it in authentication_string (a fresh salt of the crypt alphabet,
    so the form is plain ASCII, unless one is given)."""
    if salt is None:
        salt = "".join(secrets.choice(ALPHABET) for _ in range(SALT_LENGTH)).encode("ascii")
    if len(salt) != SALT_LENGTH or b"$" in salt or b"\0" in salt:
        raise ValueError("a caching_sha2_password salt is 20 bytes without '$' or NUL")
    text = sha256_crypt_text(password.encode("utf-8"), salt, iterations * 1000)
    return b"$A$" + f"{iterations:03X}".encode() + b"$" + salt + text.encode("ascii")


def matches(stored: bytes | str, password: str) -> bool:
    """Whether ``stored`` (an authentication_string) is caching_sha2_password's form of ``password``."""
    raw = stored.encode("latin-1") if isinstance(stored, str) else stored
    found = STORED.match(raw)
    if found is None:
        return False
    iterations = int(found.group(1), 16)
    return hmac.compare_digest(stored_form(password, found.group(2), iterations), raw)
