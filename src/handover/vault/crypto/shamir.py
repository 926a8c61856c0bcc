"""Shamir's secret sharing over GF(256), byte by byte, for the vault's master key.

``split`` draws, for every byte of the secret, a random polynomial of degree ``threshold - 1`` over GF(2^8)
(the AES field, reduction polynomial x^8 + x^4 + x^3 + x + 1) whose constant term is that byte, and gives
share ``i`` the polynomial's values at x = i. ``combine`` recovers the constant terms by Lagrange
interpolation at x = 0 from any ``threshold`` shares.

Secrecy is information-theoretic: all coefficients above the constant are uniform (zero included; leaving
zero out would bias the shares), so for any ``threshold - 1`` shares and every candidate secret there is
exactly one polynomial that fits. Fewer than ``threshold`` shares are therefore uniformly distributed
whatever the secret is, and reveal nothing about it, not even to an adversary with unlimited computing power.

Each share carries a checksum: the first 5 bytes of SHA-256 over the share's own fields (format label,
set id, threshold, index, data). It lets a holder confirm alone that a share is intact, and lets
``decode`` and ``combine`` name a mistyped or damaged share. It does not weaken the scheme: it is a
function of that one share, and since any ``threshold - 1`` shares are independent of the secret, so is
anything computed from them. It is deliberately unkeyed, because a holder has no key to check it with.
It guards against accidents, not forgery: someone who alters a share can recompute its checksum, and the
combined key then fails the vault's own check (a wrong master key unwraps nothing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from handover.vault.crypto.errors import (
    NotEnoughSharesError,
    ShareChecksumError,
    ShareError,
    ShareFormatError,
    ShareMismatchError,
)

PREFIX = "HOV1"
SET_ID_SIZE = 8
CHECKSUM_SIZE = 5
MAX_SHARES = 255
GROUP = 5

_CHECKSUM_LABEL = b"handover-vault-share:v1\x00"
_HEAD = re.compile(r"K(\d{3})S(\d{3})")
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# Digits that base32 leaves out are read as the letters they are mistaken for.
_TYPOS = str.maketrans("018", "OIB")


def _field_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Exponent and logarithm tables of GF(2^8) for the generator 3; ``exp`` is doubled to skip a modulo."""
    exp = [0] * 510
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        doubled = value << 1
        if doubled & 0x100:
            doubled ^= 0x11B
        value = doubled ^ value
    exp[255:] = exp[:255]
    return tuple(exp), tuple(log)


_EXP, _LOG = _field_tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(256)")
    if a == 0:
        return 0
    return _EXP[_LOG[a] - _LOG[b] + 255]


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    """Value at ``x`` of the polynomial with ``coefficients`` from the constant term upwards (Horner)."""
    result = 0
    for coefficient in reversed(coefficients):
        result = _mul(result, x) ^ coefficient
    return result


def _checksum(*, set_id: bytes, threshold: int, index: int, data: bytes) -> bytes:
    digest = hashlib.sha256(_CHECKSUM_LABEL + set_id + bytes((threshold, index)) + data).digest()
    return digest[:CHECKSUM_SIZE]


def _compact(text: str) -> str:
    return "".join(char for char in text.upper() if char != "-" and not char.isspace())


@dataclass(frozen=True)
class Share:
    """One custodian's share: its number (1..255), the threshold, the id of its split, data and checksum.

    ``repr`` leaves out the data and the checksum, so a share in a log line or a traceback shows only
    which share of which set it is.
    """

    index: int
    threshold: int
    set_id: bytes
    data: bytes = field(repr=False)
    checksum: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.index <= MAX_SHARES:
            raise ShareFormatError(
                f"Share number {self.index} is out of range: it must be 1 to {MAX_SHARES}."
            )
        if not 2 <= self.threshold <= MAX_SHARES:
            raise ShareFormatError(
                f"Threshold {self.threshold} is out of range: it must be 2 to {MAX_SHARES}."
            )
        if len(self.set_id) != SET_ID_SIZE or len(self.checksum) != CHECKSUM_SIZE or not self.data:
            raise ShareFormatError(f"Share {self.index} is incomplete: a part of it is missing or too long.")

    @classmethod
    def create(cls, *, index: int, threshold: int, set_id: bytes, data: bytes) -> Share:
        """A share with its checksum computed from the other fields."""
        checksum = _checksum(set_id=set_id, threshold=threshold, index=index, data=data)
        return cls(index=index, threshold=threshold, set_id=set_id, data=data, checksum=checksum)

    @property
    def set_label(self) -> str:
        """The split's id as hex, to show holders which ceremony a share belongs to (not secret)."""
        return self.set_id.hex()

    def is_intact(self) -> bool:
        """Whether the checksum still matches the share's fields."""
        expected = _checksum(set_id=self.set_id, threshold=self.threshold, index=self.index, data=self.data)
        return hmac.compare_digest(expected, self.checksum)

    def encode(self) -> str:
        """The typable form ``HOV1-K<threshold>-S<index>-`` followed by base32 groups of five characters.

        The groups hold the set id (first 8 bytes, so the first two groups are the same for every share
        of one split), the data and the checksum. Example: ``HOV1-K003-S002-ABCDE-FGHIJ-...``.
        """
        body = base64.b32encode(self.set_id + self.data + self.checksum).decode("ascii").rstrip("=")
        groups = [body[start : start + GROUP] for start in range(0, len(body), GROUP)]
        return "-".join([PREFIX, f"K{self.threshold:03d}", f"S{self.index:03d}", *groups])

    @classmethod
    def decode(cls, text: str) -> Share:
        """Read a share typed by a person: spaces, dashes and lower case are ignored, and the digits
        0, 1 and 8 in the base32 part are read as O, I and B. A typing mistake is reported, never
        turned silently into a different share."""
        compact = _compact(text)
        if not compact.startswith(PREFIX):
            raise ShareFormatError(f"This is not a Handover share: a share begins with {PREFIX}.")
        head = _HEAD.fullmatch(compact[len(PREFIX) : len(PREFIX) + 8])
        if head is None:
            raise ShareFormatError(
                "The threshold and share number after HOV1 are unreadable (like K003-S002)."
            )
        threshold, index = int(head.group(1)), int(head.group(2))
        body = compact[len(PREFIX) + 8 :].translate(_TYPOS)
        share = cls._from_body(body, threshold=threshold, index=index)
        if not share.is_intact() or _compact(share.encode()) != compact[: len(PREFIX) + 8] + body:
            raise ShareChecksumError(
                f"Share {index} is mistyped or damaged: its checksum does not match. "
                "Compare it with the printed copy group by group.",
                index=index,
            )
        return share

    @classmethod
    def _from_body(cls, body: str, *, threshold: int, index: int) -> Share:
        stray = next((char for char in body if char not in _BASE32), None)
        if stray is not None:
            raise ShareFormatError(f"Share {index}: the character {stray!r} cannot appear in a share.")
        try:
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
        except binascii.Error:
            raw = b""
        if len(raw) <= SET_ID_SIZE + CHECKSUM_SIZE:
            raise ShareFormatError(
                f"Share {index} is incomplete or has extra characters: compare its groups with the printed copy."
            )
        return cls(
            index=index,
            threshold=threshold,
            set_id=raw[:SET_ID_SIZE],
            data=raw[SET_ID_SIZE:-CHECKSUM_SIZE],
            checksum=raw[-CHECKSUM_SIZE:],
        )


def split(secret: bytes, *, shares: int, threshold: int) -> list[Share]:
    """Split ``secret`` into ``shares`` shares of which any ``threshold`` recover it.

    2 <= threshold <= shares <= 255: a threshold of 1 would hand the whole secret to every holder.
    """
    _check_parameters(secret, shares=shares, threshold=threshold)
    set_id = secrets.token_bytes(SET_ID_SIZE)
    # Row j holds the coefficient of x^(j+1) for every byte of the secret.
    rows = [secrets.token_bytes(len(secret)) for _ in range(threshold - 1)]
    polynomials = [(byte, *(row[position] for row in rows)) for position, byte in enumerate(secret)]
    return [
        Share.create(
            index=x,
            threshold=threshold,
            set_id=set_id,
            data=bytes(_evaluate(polynomial, x) for polynomial in polynomials),
        )
        for x in range(1, shares + 1)
    ]


def _check_parameters(secret: bytes, *, shares: int, threshold: int) -> None:
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise ShareError("The secret to split must be non-empty bytes.")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 2:
        raise ShareError(
            "The threshold must be at least 2: with 1, every holder would hold the whole secret."
        )
    if isinstance(shares, bool) or not isinstance(shares, int) or not threshold <= shares <= MAX_SHARES:
        raise ShareError(
            f"The number of shares must be between the threshold ({threshold}) and {MAX_SHARES}."
        )


def combine(shares: Iterable[Share]) -> bytes:
    """Recover the secret from at least ``threshold`` shares of one split.

    Refuses, naming the share at fault: a damaged share, shares of different splits, a share given twice,
    too few shares, and an extra share (beyond the threshold) that disagrees with the others.
    """
    given = list(shares)
    _check_compatible(given)
    threshold = given[0].threshold
    if len(given) < threshold:
        raise NotEnoughSharesError(
            f"{len(given)} of the {threshold} shares needed were given.",
            given=len(given),
            threshold=threshold,
        )
    points = [(share.index, share.data) for share in given]
    basis = points[:threshold]
    for x, data in points[threshold:]:
        if not hmac.compare_digest(interpolate(basis, at=x), data):
            raise ShareMismatchError(
                f"Share {x} does not agree with the others: it was altered or belongs to another key."
            )
    return interpolate(basis, at=0)


def _check_compatible(given: Sequence[Share]) -> None:
    if not given:
        raise NotEnoughSharesError("No shares were given.", given=0, threshold=0)
    for share in given:
        if not share.is_intact():
            raise ShareChecksumError(
                f"Share {share.index} is damaged: its checksum does not match its contents.",
                index=share.index,
            )
    first = given[0]
    for share in given[1:]:
        if share.set_id != first.set_id:
            raise ShareMismatchError(
                f"Share {share.index} comes from another split (set {share.set_label}, not {first.set_label}): "
                "use shares from one ceremony only."
            )
        if share.threshold != first.threshold or len(share.data) != len(first.data):
            raise ShareMismatchError(f"Share {share.index} does not match the others of its set.")
    seen: set[int] = set()
    for share in given:
        if share.index in seen:
            raise ShareMismatchError(f"Share {share.index} was given twice.")
        seen.add(share.index)


def interpolate(points: Sequence[tuple[int, bytes]], *, at: int) -> bytes:
    """Byte-wise value at ``at`` of the lowest-degree polynomial through ``points`` (x, y-bytes).

    The raw Lagrange step under ``combine``: no checksum, set or threshold checks. Given fewer points
    than the threshold it returns a value unrelated to the secret; tests use it to show exactly that.
    """
    xs = [x for x, _ in points]
    if not xs:
        raise ShareError("Interpolation needs at least one point.")
    if len(set(xs)) != len(xs) or any(not 1 <= x <= MAX_SHARES for x in xs):
        raise ShareError("Interpolation needs distinct x coordinates from 1 to 255.")
    weights = []
    for i, x_i in enumerate(xs):
        weight = 1
        for j, x_j in enumerate(xs):
            if i != j:
                weight = _mul(weight, _div(at ^ x_j, x_i ^ x_j))
        weights.append(weight)
    length = len(points[0][1])
    result = bytearray(length)
    for weight, (_, ys) in zip(weights, points, strict=True):
        if len(ys) != length:
            raise ShareError("Interpolation needs points of equal length.")
        for position, y in enumerate(ys):
            result[position] ^= _mul(weight, y)
    return bytes(result)
