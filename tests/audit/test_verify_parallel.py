"""Verification split by sequence range gives the serial report, problem for problem, wherever the ranges meet.

In memory: a tampered chain is cut at every pair of seams and each range verified alone (``verify_part``), then
merged; the report must equal ``verify_rows`` over the whole. On a real database: ``handover audit verify --jobs``
in a fresh data folder (a copy of the suite's migrated SQLite file), where forked children read their ranges.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from handover.audit.verify import merge_parts, verify_part, verify_rows
from tests.audit.test_chain import cp_of, make_rows, rechain

Rows = list[dict[str, Any]]
COUNT = 24


def _edit(rows: Rows, k: int) -> Rows:
    rows[k]["after"] = {"name": "改过"}
    return rows


def _delete(rows: Rows, k: int) -> Rows:
    return rows[:k] + rows[k + 1 :]


def _delete_three(rows: Rows, k: int) -> Rows:
    return rows[:k] + rows[k + 3 :]


def _relink(rows: Rows, k: int) -> Rows:
    rows[k]["prev_hash"] = rows[0]["hash"]  # the stored hash stays: the link and the content both fail
    return rows


def _rewrite(rows: Rows, k: int) -> Rows:
    rows[k]["actor_username"] = "李四"
    rechain(rows, k)
    return rows


TAMPERS: dict[str, Callable[[Rows, int], Rows]] = {
    "edited": _edit, "deleted": _delete, "deleted 3": _delete_three, "relinked": _relink, "rewritten": _rewrite,
}  # fmt: skip


def _split(rows: Rows, bounds: tuple[int, ...]) -> list[Rows]:
    """Rows by sequence range (lo, hi], as the children read them; a range may be empty."""
    edges = (0, *bounds, COUNT + 10)
    return [[r for r in rows if lo < r["seq"] <= hi] for lo, hi in itertools.pairwise(edges)]


@pytest.mark.parametrize("tamper", TAMPERS)
def test_every_split_gives_the_serial_report(tamper: str) -> None:
    clean = make_rows(COUNT)
    checkpoints = [cp_of(clean, 8), cp_of(clean, 16), cp_of(clean, COUNT)]
    seams = range(1, COUNT)
    for k in (0, 8, COUNT - 3):  # the first event, at a checkpoint, near the end (every seam is cut below)
        rows = TAMPERS[tamper]([dict(r) for r in clean], k)
        serial = verify_rows(rows, algorithm="sha256", checkpoints=checkpoints)
        assert serial.problems, (tamper, k)
        for bounds in itertools.chain(itertools.combinations(seams, 1), itertools.combinations(seams, 2)):
            wanted = {c.seq for c in checkpoints}
            parts = [verify_part(part, algorithm="sha256", wanted=wanted) for part in _split(rows, bounds)]
            merged = merge_parts(parts, algorithm="sha256", checkpoints=checkpoints)
            assert merged == serial, (tamper, k, bounds)
            assert merged.problems[0].seq == serial.problems[0].seq


def test_an_intact_chain_split_anywhere_verifies_with_its_head() -> None:
    rows = make_rows(COUNT)
    serial = verify_rows(rows, algorithm="sha256")
    for bounds in itertools.combinations(range(0, COUNT + 2), 2):
        parts = [verify_part(part, algorithm="sha256") for part in _split(rows, bounds)]
        assert merge_parts(parts, algorithm="sha256") == serial
    assert serial.ok and serial.head_seq == COUNT and serial.events == COUNT


SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from _django import configure
configure(False, seed=sys.argv[1])
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from handover.audit import chain, selectors, verify
from handover.audit.models import Event
from audit_bench import event_values
from datetime import datetime, timezone, timedelta

digest, algorithm = chain.hasher(settings.HANDOVER_AUDIT_HASH), settings.HANDOVER_AUDIT_HASH
tamper = json.loads(sys.argv[3])
prev, batch, t0 = chain.GENESIS, [], datetime(2026, 12, 1, tzinfo=timezone.utc)
for seq in range(1, 61):
    if seq in tamper["deleted"]:
        continue
    values = event_values(seq, prev, t0 + timedelta(seconds=seq))
    values["hash"] = prev = digest(chain.canonical(values))
    if seq in tamper["edited"]:
        values["after"] = {"name": "改过"}
    if seq in tamper["relinked"]:
        values["prev_hash"] = "1" * 64
    batch.append(Event(**values))
Event.objects.bulk_create(batch)
selectors.PARALLEL_FROM = 0
serial = verify.verify_rows(selectors.chain_rows(), algorithm=algorithm)
out = {"serial": [[p.kind, p.seq, p.detail] for p in serial.problems], "head": serial.head_seq}
for jobs in (2, 3, 4):
    connection.ensure_connection()
    report = selectors.verify_chain(algorithm=algorithm, jobs=jobs)
    assert connection.connection is None, "verify_chain did not fork"  # it closes the parent's connection first
    assert report == serial, (jobs, report.problems, serial.problems)
    out[jobs] = [[p.kind, p.seq] for p in report.problems]
try:
    call_command("audit", "verify", "--jobs", "2")
except SystemExit as exc:
    out["exit"] = exc.code
print(json.dumps(out))
"""


@pytest.mark.django_db  # so that the suite's migrated database exists to be copied
@pytest.mark.parametrize(
    ("tamper", "first"),
    [
        ({"edited": [31], "deleted": [], "relinked": []}, ["edited", 31]),  # the first row of the second of 2
        # a seam of 3 edited, the seam of 2 (and of 4) deleted, a seam of 4 relinked
        ({"edited": [21], "deleted": [30, 31], "relinked": [46]}, ["edited", 21]),
    ],
)
def test_audit_verify_jobs_forks_and_reports_as_the_serial_verify(
    tamper: dict[str, list[int]], first: list[Any]
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("copies the suite's migrated SQLite file")
    bench = Path(__file__).resolve().parents[2] / "bench"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, connection.settings_dict["NAME"], str(bench), json.dumps(tamper)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["serial"][0][:2] == first
    assert out["2"] == out["3"] == out["4"] == [p[:2] for p in out["serial"]]
    assert out["head"] == 60 and out["exit"] == 1
