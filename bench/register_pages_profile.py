"""What one register page costs the server, in-process (issue 18): the pages the handover day's writers use.

Builds the handover-day engagement (bench/handover_day.py ``generate``: ``workflow_bench.build`` with N 营业部,
a 现场技术岗位 and a 被托管技术方 login and a draft 表8 form of ``--rows`` rows per 营业部, 技术组 and observer
logins) and times each page through Django's test client (the whole middleware stack, the session, the view, the
template; no network), as the median of ``--repeat`` requests, with its number of SQL statements; the bare cost
of the stack is the favicon redirect (an empty view). ``--profile NAME`` prints cProfile's top functions of
that page.

Usage: .venv/bin/python bench/register_pages_profile.py [--sites N] [--rows R] [--postgres] [--profile NAME]
[--keep FILE] (SQLite: save the built database to FILE, or start from it when it exists, to compare two checkouts)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import _django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=13)
    parser.add_argument("--rows", type=int, default=20, help="表8 rows in each 营业部's draft form")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", default="")
    parser.add_argument(
        "--keep", type=Path, help="SQLite only: save the built database here, or start from it"
    )
    args = parser.parse_args()
    seed = args.keep if args.keep and args.keep.exists() else None
    _django.configure(args.postgres, static=True, seed=seed, HANDOVER_ALLOWED_HOSTS="testserver")
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from handover.accounts.models import User

    began = time.perf_counter()
    if seed is not None:
        plan = json.loads(seed.with_suffix(".json").read_text())
    else:
        plan = build(args.sites, args.rows)
        if args.keep:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM INTO %s", [str(args.keep)])
            args.keep.with_suffix(".json").write_text(json.dumps(plan))
    logins = {e["role"]: e for e in plan["logins"]}  # the last of each role
    onsite, firm = logins["onsite_post"], logins["firm_it"]
    print(f"{args.sites} 营业部 built in {time.perf_counter() - began:.1f} s on {connection.vendor}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    code = plan["code"]
    pages = {
        "empty view (favicon redirect)": (onsite, "/favicon.ico"),
        "表8 row list, one site (现场技术岗位)": (onsite, f"/e/{code}/registers/8/?site={onsite['site_id']}"),
        "表8 row list, all sites (技术组)": (logins["tech_group"], f"/e/{code}/registers/8/"),
        "表8 form list (现场技术岗位)": (onsite, f"/e/{code}/registers/8/forms/"),
        "表8 form list (技术组)": (logins["tech_group"], f"/e/{code}/registers/8/forms/"),
        "register index (现场技术岗位)": (onsite, f"/e/{code}/registers/"),
        "表8 form page (被托管技术方)": (firm, f"/e/{code}/register-forms/{firm['form']}/"),
    }
    print("| page | CPU ms (least) | CPU ms (median) | wall ms (median) | queries |")
    print("|---|---:|---:|---:|---:|")
    for name, (who, path) in pages.items():
        client = Client()
        client.force_login(User.objects.get(username=who["username"]))
        client.get(path)
        times, cpu = [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            response = client.get(path)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        assert response.status_code in (200, 301), (path, response.status_code)
        with CaptureQueriesContext(connection) as captured:
            client.get(path)
        sql = [f"{q['time']} {q['sql'][:400]}" for q in captured.captured_queries]
        least, middle, wall = min(cpu) * 1000, statistics.median(cpu) * 1000, statistics.median(times) * 1000
        print(f"| {name} | {least:.1f} | {middle:.1f} | {wall:.1f} | {len(sql)} |")
        if args.profile and args.profile in name:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.repeat):
                client.get(path)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats(60)
            stats.print_stats("src/handover|templatetags|widgets|context_processors", 50)
            stats.print_callers("query.py:378.clone.|query.py:1933.*_clone")
            print("\n".join(sql))


def build(sites: int, rows: int) -> dict:
    """The handover day's engagement, with ``rows`` 表8 rows in each 营业部's draft form."""
    import handover_day
    from handover.accounts.models import User
    from handover.registers import services
    from handover.registers.models import Form

    plan = handover_day.generate(sites, 1, 1, True, Path(tempfile.mkdtemp()), 0)
    for form in Form.objects.filter(register_no=8, state="draft"):
        entry = next(e for e in plan["logins"] if e.get("form") == form.pk and e["role"] == "onsite_post")
        actor = User.objects.get(username=entry["username"])
        for n in range(rows):
            services.row_add(actor=actor, form=form, data=_t8(entry, n))
    return plan


def _t8(entry: dict, n: int) -> dict:
    return {
        "system_id": entry["systems"][0], "asset_id": entry["assets"][0], "purpose": "改密前备份",
        "object_type": "数据库", "content": "/data/db 全库", "method": "数据库备份",
        "started_at": "2026-12-01T09:00", "ended_at": "2026-12-01T09:40", "media_type": "移动硬盘",
        "media_no": f"M{n:05d}", "copies": 2, "readable": "通过", "location": "营业部机房保险柜",
        "seal_no": f"F{n:05d}",
    }  # fmt: skip


if __name__ == "__main__":
    main()
