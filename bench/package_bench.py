"""The 表24 package benchmark, run by ``make bench``; figures are kept in docs/benchmarks.md ("The package as a
job of the worker").

The synthetic engagement of workflow_bench.py (1 总部 and 300 营业部 by default, every register 表24 annexes —
表5–23, 表39 — signed at every site with rows), then, as 技术组:

1. the reference, in the same run: one annexed form exported as xlsx and PDF through ``register_export`` (the
   median of 3), times the number of annexed forms — what exporting every annex once, one after another, costs;
2. the first ``package_build``: every annex exported into the annex store (none there yet), 表24 signed;
3. a second ``package_build``: every annex reused from the store, 表24 signed again;
4. for each build, the time of its final transaction (from the last site's annexes ready to the end: 表24
   written, signed and exported, package.json, checkpoint, manifest, the record and the rename) — the only
   time the build holds the database's write lock.

Usage: .venv/bin/python bench/package_bench.py [--sites N] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

SITES = 300


def reference(engagement: object, user: object, forms: list[object]) -> float:
    """One annexed form exported as xlsx and PDF (median of 3 forms), in seconds."""
    from handover.registers.io.exporting import register_export

    times = []
    with tempfile.TemporaryDirectory() as folder:
        for form in forms[:3]:
            start = time.perf_counter()
            for fmt in ("xlsx", "pdf"):
                register_export(
                    actor=user,
                    engagement=engagement,
                    register_no=form.register_no,  # type: ignore[attr-defined]
                    fmt=fmt,
                    out=str(Path(folder) / f"one.{fmt}"),
                    form=form,  # type: ignore[arg-type]
                )
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_build(engagement: object, user: object) -> tuple[float, float, object]:
    """One package_build with its progress on standard error: (whole time, final part, the package)."""
    from handover.reports import services

    last = [0.0]

    def progress(done: int, total: int) -> None:
        last[0] = time.perf_counter()
        if done == total or done % max(1, total // 10) == 0:
            print(f"  annexes: {done} of {total} sites", file=sys.stderr)

    start = time.perf_counter()
    package = services.package_build(
        actor=user, engagement=engagement, summary="交接工作总结（基准）", progress=progress
    )  # type: ignore[arg-type]
    end = time.perf_counter()
    return end - start, end - last[0], package


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=SITES)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    from _django import configure  # beside this script

    data = configure(args.postgres)
    from django.conf import settings

    from handover.reports import services
    from workflow_bench import build  # beside this script

    settings.HANDOVER_PACKAGE_DIR = data / "packages"
    engagement, user = build(args.sites, code="benchpkg")
    forms = services.annexed_forms(engagement)  # type: ignore[arg-type]
    one = reference(engagement, user, forms)
    first, first_final, package = timed_build(engagement, user)
    second, second_final, again = timed_build(engagement, user)
    build_one, build_two = package.build, again.build  # type: ignore[attr-defined]
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {database}, {os.cpu_count()} CPUs"
    )
    print(f"{args.sites + 1} sites, {len(forms)} annexed forms, {2 * len(forms)} annex files")
    print(
        f"reference: one form as xlsx and PDF     {one * 1000:9.1f} ms; × {len(forms)} = {one * len(forms):8.1f} s"
    )
    print(f"first build (annexes exported)          {first:9.1f} s  final transaction {first_final:6.2f} s  "
          f"{build_one.annexes_exported} exported, {build_one.annexes_reused} reused  "
          f"{first / (one * len(forms)):.2f}× reference")  # fmt: skip
    print(f"second build (annexes reused)           {second:9.1f} s  final transaction {second_final:6.2f} s  "
          f"{build_two.annexes_exported} exported, {build_two.annexes_reused} reused  "
          f"{second / (one * len(forms)):.3f}× reference")  # fmt: skip
    print(f"package: {services.package_path(again).stat().st_size / 1e6:.1f} MB")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
