"""Canonical bytes and hashing of audit events: the one definition that appending and verifying share."""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# The hashed fields, in this order. Changing it breaks every existing chain.
FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_username",
    "engagement_id",
    "site_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
    "client_addr",
    "channel",
    "outcome",
    "prev_hash",
)


def hasher(algorithm: str) -> Callable[[bytes], str]:
    """SHA-256 (default) or SM3 (国密, through OpenSSL) as a function from bytes to hex."""
    algorithm = algorithm.lower()
    if algorithm not in {"sha256", "sm3"}:
        raise ValueError(f"unknown audit hash {algorithm!r}: use sha256 or sm3")
    if algorithm not in hashlib.algorithms_available:
        raise ValueError(f"{algorithm} is not available in this Python's OpenSSL")
    if algorithm == "sha256":
        return lambda data: hashlib.sha256(data).hexdigest()
    return lambda data: hashlib.new("sm3", data).hexdigest()


def format_time(moment: datetime) -> str:
    """``%Y-%m-%dT%H:%M:%S.%fZ`` in UTC. isoformat is C and a fifth faster than strftime, which was a third of
    ``canonical`` (docs/benchmarks.md); the two agree for the years 1000–9999 (tests/audit/test_chain.py)."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y does not pad to four digits
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"


# What json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":")) builds on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_hashed_values = operator.itemgetter(*FIELDS)


def canonical(values: dict[str, Any]) -> bytes:
    """UTF-8 JSON of the hashed fields in a fixed order, keys of nested objects sorted."""
    row = list(_hashed_values(values))
    row[1] = format_time(row[1]) if isinstance(row[1], datetime) else row[1]
    return _ENCODER.encode(row).encode()
