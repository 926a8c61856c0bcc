"""Audit trail benchmarks, run by ``make bench``; figures are kept in docs/benchmarks.md.

1. Append 100,000 events through ``event_record``, each in its own transaction as a service does, into a
   fresh database; compare with a bare loop in this process that only builds and hashes the same canonical
   bytes (``chain.canonical`` + the hasher).
2. Verify a chain of 1,000,000 events with ``selectors.verify_chain`` (what ``handover audit verify`` runs:
   split by sequence range over one process per core) and serially with ``verify_rows(chain_rows())`` (the
   chain is extended with correctly chained rows through ``bulk_create``: the triggers refuse UPDATE and
   DELETE, not INSERT); compare with the bare hash over the same canonical bytes.

Usage: .venv/bin/python bench/audit_bench.py [--quick] [--postgres] [--only append|verify]
``--quick`` runs 10× smaller; ``--postgres`` runs on a throwaway PostgreSQL cluster instead of SQLite.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

APPEND_EVENTS = 100_000
VERIFY_EVENTS = 1_000_000
BATCH = 10_000
BARE_HASH = "verify: bare hash of the same canonical bytes"


class BenchActor:
    audit_name = "system:bench"


BEFORE = {"name": "甲营业部", "address": "上海市浦东新区世纪大道100号", "is_active": True}


def after_of(i: int) -> dict[str, Any]:
    """A site snapshot of the usual size, in the JSON form ``event_record`` stores."""
    return {
        "id": i,
        "engagement_id": 1,
        "code": f"B{i:06d}",
        "name": f"甲营业部{i}",
        "level": "branch",
        "parent_id": 3,
        "path": f"/1/3/{i}/",
        "address": "上海市浦东新区世纪大道100号",
        "is_active": True,
        "opened_on": "2026-12-01",
    }


def event_values(seq: int, prev_hash: str, occurred_at: datetime) -> dict[str, Any]:
    """The hashed fields of one event, as ``event_record`` builds them."""
    return {
        "seq": seq,
        "occurred_at": occurred_at,
        "actor_id": 7,
        "actor_username": "张三",
        "engagement_id": 1,
        "site_id": 17,
        "action": "org.site.update",
        "object_type": "org.site",
        "object_id": str(seq),
        "before": BEFORE,
        "after": after_of(seq),
        "request_id": "f" * 32,
        "client_addr": "10.1.2.3",
        "channel": "web",
        "outcome": "success",
        "prev_hash": prev_hash,
    }


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def bench_append(count: int) -> list[tuple[str, int, float]]:
    from django.utils import timezone

    from handover.audit import chain
    from handover.audit.services import event_record
    from handover.core.context import command_context
    from handover.org import events

    def append() -> None:
        actor = BenchActor()
        for i in range(count):
            event_record(
                actor=actor,
                action=events.SITE_UPDATE,
                engagement_id=1,
                site_id=17,
                object_type="org.site",
                object_id=str(i),
                before=BEFORE,
                after=after_of(i),
            )

    def bare() -> None:
        from django.conf import settings

        digest, prev = chain.hasher(settings.HANDOVER_AUDIT_HASH), chain.GENESIS
        for i in range(count):
            prev = digest(chain.canonical(event_values(i + 1, prev, timezone.now())))

    with command_context("cli"):
        append_s, _ = timed(append)
    bare_s, _ = timed(bare)
    return [
        ("append: event_record, one transaction each", count, append_s),
        ("append: bare canonical + hash loop", count, bare_s),
    ]


def extend_chain(total: int) -> None:
    """Append correctly chained rows up to ``total`` events, fast (bulk INSERT is not refused)."""
    from django.conf import settings
    from django.utils import timezone

    from handover.audit import chain, selectors
    from handover.audit.models import Event

    digest = chain.hasher(settings.HANDOVER_AUDIT_HASH)
    seq, prev = selectors.chain_head()
    start = timezone.now()
    while seq < total:
        end, batch = min(seq + BATCH, total), []
        for n in range(seq + 1, end + 1):
            values = event_values(n, prev, start + timedelta(microseconds=n))
            values["hash"] = prev = digest(chain.canonical(values))
            batch.append(Event(**values))
        Event.objects.bulk_create(batch)
        seq = end


def batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(rows, BATCH)):
        yield batch


def bench_verify(total: int) -> list[tuple[str, int, float]]:
    from django.conf import settings

    from handover.audit import chain, selectors
    from handover.audit.verify import verify_rows

    algorithm = settings.HANDOVER_AUDIT_HASH
    extend_chain(total)
    verify_s, report = timed(lambda: verify_rows(selectors.chain_rows(), algorithm=algorithm))
    if not report.ok or report.events != total:
        sys.exit(f"the benchmark chain does not verify: {report.problems[:3]}")
    # What `handover audit verify` runs: the same, split by sequence range over one process per core.
    parallel_s, split = timed(lambda: selectors.verify_chain(algorithm=algorithm))
    if split != report:
        sys.exit("verify_chain and verify_rows disagree")
    read_s, _ = timed(lambda: sum(1 for _ in selectors.chain_rows()))

    # The bare loops run over exactly the rows verify read, a batch at a time so memory stays flat.
    digest, canonical_s, hash_s = chain.hasher(algorithm), 0.0, 0.0
    for batch in batches(selectors.chain_rows()):
        start = time.perf_counter()
        blobs = [chain.canonical(row) for row in batch]
        middle = time.perf_counter()
        for blob in blobs:
            digest(blob)
        canonical_s, hash_s = canonical_s + middle - start, hash_s + time.perf_counter() - middle
    return [
        (f"verify: verify_chain, {os.cpu_count()} processes", total, parallel_s),
        ("verify: verify_rows(chain_rows()), serial", total, verify_s),
        ("verify: reading chain_rows() only", total, read_s),
        ("verify: canonical bytes only", total, canonical_s),
        (BARE_HASH, total, hash_s),
    ]


def table(rows: list[tuple[str, int, float]], reference: dict[str, str]) -> str:
    seconds = {name: s for name, _, s in rows}
    lines = [
        f"| {'step':<48} | {'events':>9} | {'seconds':>8} | {'events/s':>9} | {'ratio':>6} |",
        f"|{'-' * 50}|{'-' * 10}:|{'-' * 9}:|{'-' * 10}:|{'-' * 7}:|",
    ]
    for name, count, s in rows:
        ratio = f"{s / seconds[reference[name]]:.1f}×" if name in reference else ""
        lines.append(f"| {name:<48} | {count:>9,} | {s:>8.2f} | {count / s:>9,.0f} | {ratio:>6} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10x fewer events: a smoke run")
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway PostgreSQL cluster")
    parser.add_argument("--only", choices=("append", "verify"), help="run one of the two parts")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    from _django import configure  # beside this script

    data = configure(args.postgres, keep=("HANDOVER_AUDIT_HASH",))
    try:
        from django.conf import settings
        from django.db import connection

        rows = [] if args.only == "verify" else bench_append(APPEND_EVENTS // scale)
        rows += [] if args.only == "append" else bench_verify(VERIFY_EVENTS // scale)
        if args.postgres:
            version = connection.cursor().connection.info.server_version
            engine = f"PostgreSQL {version // 10000}.{version % 10000}"
        else:
            engine = f"SQLite {connection.Database.sqlite_version}"
        print(
            f"{engine}, {settings.HANDOVER_AUDIT_HASH}, Python {platform.python_version()}, "
            f"{os.cpu_count()} cores"
        )
        print(
            table(
                rows,
                {
                    "append: event_record, one transaction each": "append: bare canonical + hash loop",
                    "verify: verify_rows(chain_rows()), serial": BARE_HASH,
                    f"verify: verify_chain, {os.cpu_count()} processes": BARE_HASH,
                },
            )
        )
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
