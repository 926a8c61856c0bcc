"""Register import/export benchmarks, run by ``make bench``; figures are kept in docs/benchmarks.md.

1. Export 100,000 rows of 表16 (one form) to xlsx with ``register_export``; the reference is xlsxwriter in
   ``constant_memory`` mode writing the very same cells (read back from the export) straight from a list,
   in the same run. Time and peak Python memory (tracemalloc, in a second pass) of both, as ratios; the
   export is also run at 10,000 rows, to show that its memory does not grow with the rows.
2. Import 10,000 valid rows of 表11 (each a different account) from an xlsx with ``register_import``, into
   a new form: rows per second; then the same file again (every row found by its natural key, unchanged).
   The same is done with 1,000 rows first, to show that the rate does not fall with the rows; the rates are
   given by wall clock and by the process's CPU time (the machine is shared: the load average is printed).

3. Memory: import 100,000 rows of 表11 in a child process each time (a fresh interpreter, as the worker
   is), reporting the child's peak RSS (ru_maxrss), its wall and CPU time, and the time of reading the
   file alone (``read_table``, the bounded reader); ``--src`` runs the child on another checkout's source
   (e.g. /work/main/src, for the figure before a change).

Usage: .venv/bin/python bench/registers_bench.py [--quick] [--postgres] [--only export|import|memory]
       [--src PATH]
``--quick`` runs 10× smaller; ``--postgres`` runs on a throwaway PostgreSQL cluster instead of SQLite;
``--only`` runs one of the parts.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXPORT_ROWS = 100_000
IMPORT_ROWS = 10_000
MEMORY_ROWS = 100_000
SRC = Path(__file__).resolve().parent.parent / "src"

# The child of the memory part: one import of the file, then its figures as JSON on the last line.
_CHILD = """
import inspect, json, sys, time
import django
django.setup()
import handover
from handover.core.actors import system
from handover.org.models import Engagement, Site
from handover.registers.io import importing, reading
engagement = Engagement.objects.get(code="bench")
site = Site.objects.get(engagement=engagement, code="BA")
content = open(sys.argv[1], "rb").read()
bounded = "bounds" in inspect.signature(reading.read_table).parameters
extra = {"bounds": importing.bounds(11)} if bounded else {}
read, read_cpu = time.perf_counter(), time.process_time()
reading.read_table("t11.xlsx", content, **extra)
read, read_cpu = time.perf_counter() - read, time.process_time() - read_cpu
wall, cpu = time.perf_counter(), time.process_time()
outcome = importing.register_import(
    actor=system("bench"), engagement=engagement, site=site, register_no=11, filename="t11.xlsx", content=content
)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"src": handover.__file__, "read_s": read, "read_cpu": read_cpu, "s": wall, "cpu": cpu,
                  "rows": len(outcome.created)}))
"""


def scenery() -> dict[str, Any]:
    """An engagement with a branch, a vendor, a system on a host, and one 表8 backup row to point at."""
    from datetime import date

    from handover.org.models import Engagement, Organisation, Person, Site
    from handover.registers.models import Asset, Form, InformationSystem, Row

    engagement = Engagement.objects.create(
        code="bench",
        code_name="基准",
        firm_name="基准证券",
        custodian_name="托管证券",
        disposal_date=date(2026, 12, 1),
    )
    site = Site.objects.create(engagement=engagement, code="BA", name="甲营业部", level="branch", path="")
    site.path = f"/{site.pk}/"
    site.save()
    org = Organisation.objects.create(engagement=engagement, name="恒生电子", type="app_vendor")
    person = Person.objects.create(
        engagement=engagement, name="张三", organisation=org, site=site, party="firm_it"
    )
    system = InformationSystem.objects.create(engagement=engagement, site=site, name="集中交易系统")
    asset = Asset.objects.create(engagement=engagement, site=site, name="交易主机", hostname="srv01")
    backup = Form.objects.create(
        engagement=engagement,
        site=site,
        register_no=8,
        form_no="BA-T08-20261201-001",
        form_date=date(2026, 12, 1),
    )
    # 第二十六条第3项: the rights are reviewed after a readable 权限核查前备份 of the same system (rules.py).
    Row.objects.create(
        form=backup,
        seq=1,
        data={
            "system_id": system.pk,
            "purpose": "权限核查前备份",
            "readable": "通过",
            "ended_at": "2026-12-01T15:40:00",
        },
    )
    return {
        "engagement": engagement,
        "site": site,
        "org": org,
        "person": person,
        "system": system,
        "asset": asset,
    }


def t16_data(n: int, world: dict[str, Any]) -> dict[str, Any]:
    """One hardware-ledger row as the store keeps it (as validation.clean_row leaves it)."""
    return {
        "fixed_asset_no": f"GD-{n:07d}",
        "name": f"交易服务器{n}",
        "class": "服务器",
        "model": "PowerEdge R750",
        "serial": f"SN{n:09d}",
        "spec": "2×Xeon 6338 / 512 GB / 4×1.92 TB SSD",
        "qty": 1,
        "systems": [world["system"].pk],
        "site_id": world["site"].pk,
        "room_rack": f"主机房 A{n % 40:02d}-{n % 42:02d}U",
        "condition": "正常",
        "ledger_match": "一致",
        "bought_on": "2021-06-30",
        "cost": "86500.00",
        "support_org": world["org"].pk,
        "support_until": "2027-06-30",
    }


def timed(step: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """The best of ``repeat`` runs (the machine is shared), and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = step()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_memory(step: Callable[[], Any]) -> int:
    """Peak Python memory allocated while ``step`` runs, above what was allocated before it."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def export_bench(world: dict[str, Any], rows: int, folder: Path) -> dict[str, float]:
    from datetime import date

    import xlsxwriter
    from python_calamine import CalamineWorkbook

    from handover.core.actors import system
    from handover.registers.io.exporting import register_export
    from handover.registers.models import Form, Row

    form = Form.objects.create(
        engagement=world["engagement"],
        site=world["site"],
        register_no=16,
        form_no=f"BA-T16-{rows}",
        form_date=date(2026, 12, 1),
    )
    Row.objects.bulk_create(
        (Row(form=form, seq=n, data=t16_data(n, world)) for n in range(1, rows + 1)), batch_size=5000
    )
    target = folder / f"t16-{rows}.xlsx"

    def export() -> None:
        with target.open("wb") as out:
            register_export(
                actor=system("bench"),
                engagement=world["engagement"],
                register_no=16,
                fmt="xlsx",
                out=out,
                form=form,
            )

    export_s, _ = timed(export, repeat=2)
    book = CalamineWorkbook.from_path(str(target))
    cells = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    # Two million cells held in lists would make every garbage collection walk them, slowing the reference
    # loop by a third; frozen, they are left out, as the export's own rows (read in chunks) are.
    gc.collect()
    gc.freeze()

    def direct() -> None:
        wb = xlsxwriter.Workbook(
            str(folder / "direct.xlsx"), {"constant_memory": True, "strings_to_formulas": False}
        )
        ws = wb.add_worksheet()
        for r, row in enumerate(cells):
            for c, value in enumerate(row):
                if value == "":
                    continue
                if isinstance(value, str):
                    ws.write_string(r, c, value)
                else:
                    ws.write_number(r, c, value)
        wb.close()

    direct_s, _ = timed(direct, repeat=2)
    gc.unfreeze()
    return {
        "rows": rows,
        "export_s": export_s,
        "direct_s": direct_s,
        "export_mem": peak_memory(export),
        "direct_mem": peak_memory(direct),
        "size": target.stat().st_size,
    }


def t11_file(world: dict[str, Any], rows: int, first: int) -> bytes:
    """An xlsx in the template's frame with ``rows`` valid rows of 表11, each for a different account (from
    account number ``first``), for a new form of its own."""
    from handover.registers.io.template import template_bytes
    from handover.registers.models import Account

    Account.objects.bulk_create(
        Account(
            engagement=world["engagement"],
            system=world["system"],
            asset=world["asset"],
            layer="操作系统",
            login_name=f"op{n:05d}",
            account_class="操作员",
        )
        for n in range(first, first + rows)
    )
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(template_bytes(11)))
    sheet = book.worksheets[0]
    sheet.cell(2, 2).value = f"BA-T11-BENCH-{rows}"  # beside 编号
    for n in range(first, first + rows):
        sheet.append(
            [
                n - first + 1,
                "集中交易系统",
                "srv01",
                "操作系统",
                f"op{n:05d}@srv01",
                "操作员",
                "张三",
                "在职",
                "交易柜台录入、查询、撤单",
                "是",
                "是",
                "是",
                "否",
                "保留",
                "交易柜台录入、查询、撤单",
                None,  # 保留理由: a personal account needs none
                None,
                "BA-T08-20261201-001#1",
                None,
                None,
                "核查无误",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def import_bench(world: dict[str, Any], rows: int, first: int) -> dict[str, float]:
    """Import a new file of ``rows`` rows, then the same file again: wall and CPU seconds of each."""
    from handover.core.actors import system
    from handover.registers.io.importing import register_import

    content = t11_file(world, rows, first)
    figures: dict[str, float] = {"rows": rows, "bytes": len(content)}
    for run in ("first", "again"):
        wall, cpu = time.perf_counter(), time.process_time()
        outcome = register_import(
            actor=system("bench"),
            engagement=world["engagement"],
            site=world["site"],
            register_no=11,
            filename="t11.xlsx",
            content=content,
        )
        figures[f"{run}_s"], figures[f"{run}_cpu"] = time.perf_counter() - wall, time.process_time() - cpu
        assert len(outcome.created if run == "first" else outcome.unchanged) == rows, outcome
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10× fewer rows")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster")
    parser.add_argument("--only", choices=("export", "import", "memory"), help="run only this part")
    parser.add_argument("--src", type=Path, default=SRC, help="source the memory part's child imports")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    from _django import configure  # beside this script

    folder = configure(args.postgres)
    from django.db import connection

    world = scenery()
    version = connection.Database.sqlite_version if connection.vendor == "sqlite" else ""
    print(f"Python {platform.python_version()}, {connection.vendor} {version}, {os.cpu_count()} cores")
    if args.only in (None, "export"):
        export_part(world, scale, folder)
    if args.only in (None, "import"):
        import_part(world, scale)
    if args.only in (None, "memory"):
        memory_part(world, scale, folder, args.src)


def export_part(world: dict[str, Any], scale: int, folder: Path) -> None:
    print("\n表16 export to xlsx vs xlsxwriter writing the same cells (constant_memory)")
    heads = ("rows", "export s", "direct s", "time ×", "export MiB", "direct MiB", "mem ×", "file MiB")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (8, 9, 9, 7, 11, 11, 6, 9), strict=True)))
    for rows in (EXPORT_ROWS // 10 // scale, EXPORT_ROWS // scale):
        f = export_bench(world, rows, folder)
        print(
            f"{f['rows']:>8,} {f['export_s']:>9.2f} {f['direct_s']:>9.2f} {f['export_s'] / f['direct_s']:>6.2f}× "
            f"{f['export_mem'] / 2**20:>11.1f} {f['direct_mem'] / 2**20:>11.1f} "
            f"{f['export_mem'] / f['direct_mem']:>5.2f}× {f['size'] / 2**20:>9.1f}"
        )


def import_part(world: dict[str, Any], scale: int) -> None:
    print("\n表11 import of an xlsx (python-calamine), all rows checked, then one transaction")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    heads = ("rows", "new s", "rows/s", "CPU rows/s", "again s", "rows/s", "CPU rows/s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (8, 7, 8, 11, 8, 8, 11), strict=True)))
    first = 1
    for rows in (IMPORT_ROWS // 10 // scale, IMPORT_ROWS // scale):
        f = import_bench(world, rows, first)
        first += rows
        print(
            f"{rows:>8,} {f['first_s']:>7.2f} {rows / f['first_s']:>8,.0f} {rows / f['first_cpu']:>11,.0f} "
            f"{f['again_s']:>8.2f} {rows / f['again_s']:>8,.0f} {rows / f['again_cpu']:>11,.0f}"
        )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def memory_part(world: dict[str, Any], scale: int, folder: Path, src: Path) -> None:
    """Import MEMORY_ROWS rows in a child process, twice (a new form each time): peak RSS and times."""
    import json
    import subprocess
    import sys

    from django.db import connection

    from handover.registers.models import Form, Row

    rows = MEMORY_ROWS // scale
    path = folder / "t11-memory.xlsx"
    path.write_bytes(t11_file(world, rows, 100_001))
    connection.close()
    print(f"\n表11 import of {rows:,} rows in a child process (source {src})")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    heads = ("run", "peak RSS MiB", "wall s", "CPU s", "read s", "read CPU s", "read/import CPU")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (4, 13, 7, 6, 7, 10, 16), strict=True)))
    for run in (1, 2):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path)],
            env={**os.environ, "PYTHONPATH": str(src)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        out = child.stdout.read()
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        assert child.returncode == 0, out
        f = json.loads(out.strip().splitlines()[-1])
        assert f["rows"] == rows and f["src"].startswith(str(src)), f
        print(
            f"{run:>4} {usage.ru_maxrss / 1024:>13.0f} {f['s']:>7.2f} {f['cpu']:>6.2f} {f['read_s']:>7.2f} "
            f"{f['read_cpu']:>10.2f} {f['read_cpu'] / f['cpu']:>15.1%}"
        )
        Row.objects.filter(form__form_no=f"BA-T11-BENCH-{rows}").delete()
        Form.objects.filter(form_no=f"BA-T11-BENCH-{rows}").delete()
        connection.close()
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
