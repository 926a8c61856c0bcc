"""Verification of the audit chain: every problem, with where and how the trail was broken.

Streams the table in sequence order with constant memory; a million events take seconds (docs/benchmarks.md).
The chain splits by sequence range: each range verifies its rows and inner links alone (``verify_part``), and
``merge_parts`` checks the seams between ranges, so ranges can be read and hashed on every core
(``selectors.verify_chain``) with the report a serial reading gives.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
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
    checkpoints = list(checkpoints)
    part = verify_part(rows, algorithm=algorithm, wanted={c.seq for c in checkpoints})
    return merge_parts([part], algorithm=algorithm, checkpoints=checkpoints)


@dataclass
class Part:
    """What one sequence range of the chain says about itself: every problem but its first row's link
    (which needs the row before the range), its first row's ``(seq, prev_hash)``, its last row's
    ``(seq, hash)``, and the hashes it holds at checkpointed sequence numbers."""

    events: int = 0
    first: tuple[int, str] | None = None
    last: tuple[int, str] | None = None
    problems: list[Problem] = field(default_factory=list)
    seen: dict[int, str] = field(default_factory=dict)


def verify_part(rows: Iterable[dict[str, Any]], *, algorithm: str, wanted: Collection[int] = ()) -> Part:
    """Every row's hash and every link inside one range of rows in ascending ``seq``. A hash chain: each row
    is checked against its own stored hash and its predecessor's, so ranges verify independently."""
    digest = chain.hasher(algorithm)
    part = Part()
    expected_seq, prev_hash = 0, ""
    for row in rows:
        seq = row["seq"]
        if part.first is None:
            part.first = (seq, row["prev_hash"])
        elif seq != expected_seq:
            part.problems.append(_gap(expected_seq, seq))
        elif row["prev_hash"] != prev_hash:
            part.problems.append(_relinked(seq))
        if digest(chain.canonical(row)) != row["hash"]:
            part.problems.append(
                Problem(
                    "edited",
                    seq,
                    f"event {seq} ({row['action']}) was edited: its content no longer matches its hash",
                )
            )
        if seq in wanted:
            part.seen[seq] = row["hash"]
        part.events += 1
        expected_seq, prev_hash = seq + 1, row["hash"]
    part.last = (expected_seq - 1, prev_hash) if part.events else None
    return part


def merge_parts(parts: Iterable[Part], *, algorithm: str, checkpoints: Iterable[Checkpoint] = ()) -> Report:
    """The report of the whole chain from its ranges in ascending order: the seams (each range's first row
    against the last row before it) are checked here, once, and put where a serial reading finds them."""
    report = Report()
    expected_seq, prev_hash = 1, chain.GENESIS
    seen: dict[int, str] = {}
    for part in parts:
        if part.first is None or part.last is None:
            continue
        seq, link = part.first
        if seq != expected_seq:
            report.problems.append(_gap(expected_seq, seq))
        elif link != prev_hash:
            report.problems.append(_relinked(seq))
        report.problems.extend(part.problems)
        report.events += part.events
        seen.update(part.seen)
        expected_seq, prev_hash = part.last[0] + 1, part.last[1]
    report.head_seq, report.head_hash = expected_seq - 1, prev_hash
    wanted = {c.seq: c for c in checkpoints}
    report.problems.extend(_check_checkpoints(wanted.values(), seen, report.head_seq, algorithm))
    return report


def _relinked(seq: int) -> Problem:
    return Problem("relinked", seq, f"event {seq} does not link to event {seq - 1}: its prev_hash differs")


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
