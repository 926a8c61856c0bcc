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

With ``--prefill`` the annex store is filled first as the worker leaves it once every form was signed
(``HANDOVER_PACKAGE_EXPORT_AT_SIGNING``): the forms of one site are exported for real, and every other form's
files are copies of its register's, recorded as exported. The first build then measures the build itself at that
scale (every annex reused); without it, the first build exports every annex (on this machine about 0.3–0.75 s a
form, so ``make bench`` runs that on 30 营业部).

tests/test_bench.py runs these steps on the suite's migrated database (a run of the script itself, on 1 营业部, costs
some 18 s of CPU, most of it migrating and building its engagement): the reference over one form, and the store
prefilled with copies of that one form's files for every form (``prefill(quick=True)``: a build checks each
file against its record, not against its form), so that the build exports nothing but 表24.

Usage: .venv/bin/python bench/package_bench.py [--sites N] [--prefill] [--postgres]
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


def reference(engagement: object, user: object, forms: list[object]) -> tuple[float, float]:
    """One annexed form exported as xlsx and PDF (median of 3 forms): (seconds, CPU seconds)."""
    from handover.registers.io.exporting import register_export

    times, cpus = [], []
    with tempfile.TemporaryDirectory() as folder:
        for form in forms[:3]:
            start, cpu = time.perf_counter(), time.process_time()
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
            cpus.append(time.process_time() - cpu)
    return statistics.median(times), statistics.median(cpus)


def prefill(engagement: object, user: object, forms: list[object], quick: bool = False) -> float:
    """The annex store as export at signing leaves it; returns the time of the real exports (one site; with
    ``quick`` one form, whose files stand for every other form's)."""
    import shutil

    from handover.reports.models import AnnexFile
    from handover.reports.services import annexes

    keys = annexes.content_keys(forms)  # type: ignore[arg-type]
    first_site = forms[0].site_id  # type: ignore[attr-defined]
    model = forms[:1] if quick else [f for f in forms if f.site_id == first_site]  # type: ignore[attr-defined]
    start = time.perf_counter()
    ready = annexes.annexes_ready(
        actor=user, engagement=engagement, forms=model, keys=keys, algorithm="sha256"
    )  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    by_register = {}
    for form in model:
        for annex in ready:
            if annex.name.startswith(f"annexes/{form.site.code}/{form.form_no}-"):  # type: ignore[attr-defined]
                by_register[(form.register_no, annex.path.suffix)] = annex  # type: ignore[attr-defined]
    records = []
    for form in forms:
        if form in model:
            continue
        key = keys[form.pk]  # type: ignore[attr-defined]
        for fmt in ("xlsx", "pdf"):
            register = model[0].register_no if quick else form.register_no  # type: ignore[attr-defined]
            source = by_register[(register, f".{fmt}")]
            target = (
                annexes.annex_store(engagement)
                / form.site.code
                / f"{form.form_no}-v{form.version}-{key[:16]}.{fmt}"
            )  # type: ignore[attr-defined]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source.path, target)
            records.append(AnnexFile(form=form, fmt=fmt, key=key, sha256=source.digest, size=source.size))
    AnnexFile.objects.bulk_create(records, batch_size=1000)
    return elapsed


def timed_build(engagement: object, user: object) -> tuple[float, float, float, object]:
    """One package_build with its progress on standard error: (whole time, final part, CPU time of this
    process, the package). The CPU time travels better than the wall time on a machine shared with others."""
    from handover.reports import services

    last = [0.0, 0.0]

    def progress(done: int, total: int) -> None:
        last[0], last[1] = time.perf_counter(), time.process_time()
        if done == total or done % max(1, total // 10) == 0:
            print(f"  annexes: {done} of {total} sites", file=sys.stderr)

    start, cpu = time.perf_counter(), time.process_time()
    package = services.package_build(
        actor=user, engagement=engagement, summary="交接工作总结（基准）", progress=progress
    )  # type: ignore[arg-type]
    end, end_cpu = time.perf_counter(), time.process_time()
    print(f"  final transaction: {end - last[0]:.2f} s, CPU {end_cpu - last[1]:.2f} s", file=sys.stderr)
    return end - start, end - last[0], end_cpu - cpu, package


def line(label: str, wall: float, final: float, cpu: float, build: object, ref: tuple[float, float]) -> str:
    """One build's figures, with its ratios to the reference (all annexes exported one after another)."""
    return (
        f"{label:38} {wall:8.1f} s (CPU {cpu:7.1f} s)  final transaction {final:6.2f} s  "
        f"{build.annexes_exported} exported, {build.annexes_reused} reused  "  # type: ignore[attr-defined]
        f"{wall / ref[0]:.3f}× reference (CPU {cpu / ref[1]:.3f}×)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=SITES)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--prefill", action="store_true", help="the annex store filled as at signing")
    args = parser.parse_args()
    from _django import configure  # beside this script

    data = configure(args.postgres)
    from django.conf import settings

    from handover.reports import services
    from workflow_bench import build  # beside this script

    settings.HANDOVER_PACKAGE_DIR = data / "packages"
    engagement, user = build(args.sites, code="benchpkg")
    forms = services.annexed_forms(engagement)  # type: ignore[arg-type]
    one, one_cpu = reference(engagement, user, forms)
    ref = (one * len(forms), one_cpu * len(forms))
    filled = prefill(engagement, user, forms) if args.prefill else None
    first, first_final, first_cpu, package = timed_build(engagement, user)
    second, second_final, second_cpu, again = timed_build(engagement, user)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {database}, {os.cpu_count()} CPUs"
    )
    print(f"{args.sites + 1} sites, {len(forms)} annexed forms, {2 * len(forms)} annex files")
    if filled is not None:
        print(f"store prefilled as at signing (one site exported in {filled:.1f} s, the others copied)")
    print(f"reference: one form as xlsx and PDF {one * 1000:.1f} ms (CPU {one_cpu * 1000:.1f} ms); "
          f"× {len(forms)} = {ref[0]:.1f} s (CPU {ref[1]:.1f} s)")  # fmt: skip
    label = (
        "first build (store filled at signing)" if filled is not None else "first build (annexes exported)"
    )
    print(line(label, first, first_final, first_cpu, package.build, ref))  # type: ignore[attr-defined]
    print(line("second build (annexes reused)", second, second_final, second_cpu, again.build, ref))  # type: ignore[attr-defined]
    print(f"package: {services.package_path(again).stat().st_size / 1e6:.1f} MB")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
