"""Verification of the audit chain: every problem, with where and how the trail was broken.

Streams the table in sequence order with constant memory; a million events take seconds (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from handover.audit import chain
from handover.audit.checkpoint import Checkpoint


@dataclass(frozen=True)
class Problem:
    """One break in the trail. ``kind`` is edited, deleted, relinked, truncated or rewritten."""

    kind: str
    seq: int
    detail: str


@dataclass
class Report:
    events: int = 0
    head_seq: int = 0
    head_hash: str = chain.GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_rows(
    rows: Iterable[dict[str, Any]], *, algorithm: str, checkpoints: Iterable[Checkpoint] = ()
) -> Report:
    """Check a stream of event rows (dicts with chain.FIELDS and ``hash``) in ascending ``seq``."""
    digest = chain.hasher(algorithm)
    wanted = {c.seq: c for c in checkpoints}
    seen_at_checkpoint: dict[int, str] = {}
    report = Report()
    expected_seq, prev_hash = 1, chain.GENESIS
    for row in rows:
        seq = row["seq"]
        report.events += 1
        if seq != expected_seq:
            report.problems.append(_gap(expected_seq, seq))
        elif row["prev_hash"] != prev_hash:
            report.problems.append(
                Problem(
                    "relinked", seq, f"event {seq} does not link to event {seq - 1}: its prev_hash differs"
                )
            )
        if digest(chain.canonical(row)) != row["hash"]:
            report.problems.append(
                Problem(
                    "edited",
                    seq,
                    f"event {seq} ({row['action']}) was edited: its content no longer matches its hash",
                )
            )
        if seq in wanted:
            seen_at_checkpoint[seq] = row["hash"]
        expected_seq, prev_hash = seq + 1, row["hash"]
    report.head_seq, report.head_hash = expected_seq - 1, prev_hash
    report.problems.extend(
        _check_checkpoints(wanted.values(), seen_at_checkpoint, report.head_seq, algorithm)
    )
    return report


def _gap(expected: int, found: int) -> Problem:
    if found < expected:
        return Problem("relinked", found, f"event {found} appears out of order after event {expected - 1}")
    missing = f"event {expected}" if found == expected + 1 else f"events {expected}–{found - 1}"
    return Problem(
        "deleted", expected, f"{missing} deleted: the sequence jumps from {expected - 1} to {found}"
    )


def _check_checkpoints(
    checkpoints: Iterable[Checkpoint], seen: dict[int, str], head_seq: int, algorithm: str
) -> Iterator[Problem]:
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        where = cp.path or "checkpoint"
        if cp.algorithm != algorithm:
            yield Problem(
                "rewritten", cp.seq, f"{where} was made with {cp.algorithm}, the trail uses {algorithm}"
            )
        elif cp.seq > head_seq:
            yield Problem(
                "truncated",
                head_seq + 1,
                f"tail truncated: {where} signed event {cp.seq} (at {cp.created_at}) but the trail ends at {head_seq}",
            )
        elif cp.seq == 0:
            continue
        elif cp.seq not in seen:
            yield Problem("deleted", cp.seq, f"event {cp.seq}, signed in {where}, is missing")
        elif seen[cp.seq] != cp.head_hash:
            yield Problem(
                "rewritten",
                cp.seq,
                f"chain rewritten: event {cp.seq} has hash {seen[cp.seq][:16]}… but {where} "
                f"(signed {cp.created_at}) recorded {cp.head_hash[:16]}…",
            )
