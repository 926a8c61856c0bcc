"""Register list benchmark, run by ``make bench``; figures are kept in docs/benchmarks.md.

A 表8 register of 100,000 rows (100 forms of 1,000 rows at one 营业部) in a fresh database. Timed, as the
median of repeated requests:

1. The list page through the whole server stack (Django's test client: middleware, session, login, the
   selectors, the template), as a 被托管技术方 of that branch sees it: filtered by an enum column
   (备份目的 = 改密前备份, a third of the rows) on page 1, on a page in the middle (a keyset cursor) and on
   the last page; and with a full-text search.
2. The view's own work (selectors, lookups, template; no middleware) for page 1 and the last page, and the
   row query alone, against the same work done the naive way in the same run: Django's Paginator, which
   COUNTs the filtered rows and reads the page with OFFSET. The ratio is naive / keyset.

Usage: .venv/bin/python bench/registers_list_bench.py [--quick] [--postgres]
``--quick`` runs 10× smaller; ``--postgres`` runs on a throwaway PostgreSQL cluster instead of SQLite.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

ROWS = 100_000
ROWS_PER_FORM = 1_000
REPEAT = 15
PURPOSES = ("交接全备份", "改密前备份", "权限核查前备份")


def build(total: int) -> tuple[Any, Any, Any]:
    """The engagement; a 营业部 with 99 % of ``total`` 表8 rows and a small one with 1 %, each with its
    被托管技术方 login; a system and a host."""
    from django.utils import timezone

    from handover.accounts.models import User
    from handover.org.models import (
        Engagement,
        Organisation,
        OrgType,
        Party,
        Person,
        Role,
        RoleAssignment,
        Site,
    )
    from handover.registers.models import Asset, Form, InformationSystem, Row

    engagement = Engagement.objects.create(
        code="bench",
        code_name="基准项目",
        firm_name="基准证券",
        custodian_name="托管证券",
        disposal_date=date(2026, 12, 1),
    )
    hq = Site.objects.create(engagement=engagement, code="HQ", name="总部", level="hq", path="")
    hq.path = f"/{hq.pk}/"
    hq.save()
    branch = Site.objects.create(
        engagement=engagement, code="BR", name="基准营业部", level="branch", parent=hq, path=""
    )
    branch.path = f"{hq.path}{branch.pk}/"
    branch.save()
    firm = Organisation.objects.create(engagement=engagement, name="基准证券", type=OrgType.FIRM)
    user = User.objects.create_user(
        username="bench-firm-it", password="bench-password-42", enrolled_at=timezone.now()
    )
    person = Person.objects.create(
        engagement=engagement, name="基准员工", organisation=firm, site=branch, party=Party.FIRM_IT, user=user
    )
    RoleAssignment.objects.create(engagement=engagement, person=person, role=Role.FIRM_IT, site=branch)
    system = InformationSystem.objects.create(engagement=engagement, site=branch, name="集中交易系统")
    asset = Asset.objects.create(engagement=engagement, site=branch, name="数据库服务器", hostname="br-db01")
    small = Site.objects.create(
        engagement=engagement, code="SM", name="小营业部", level="branch", parent=hq, path=""
    )
    small.path = f"{hq.path}{small.pk}/"
    small.save()
    small_user = User.objects.create_user(
        username="bench-small", password="bench-password-42", enrolled_at=timezone.now()
    )
    small_person = Person.objects.create(
        engagement=engagement,
        name="小营业部员工",
        organisation=firm,
        site=small,
        party=Party.FIRM_IT,
        user=small_user,
    )
    RoleAssignment.objects.create(engagement=engagement, person=small_person, role=Role.FIRM_IT, site=small)
    rng = random.Random(8)
    forms = total // ROWS_PER_FORM
    for start in range(0, total, ROWS_PER_FORM):
        number = start // ROWS_PER_FORM + 1
        # One form in a hundred, half-way, belongs to the small branch: 1 % of the rows, among the others'.
        site = small if number == forms // 2 else branch
        form = Form.objects.create(
            engagement=engagement,
            site=site,
            register_no=8,
            form_no=f"{site.code}-T08-20261201-{number:03d}",
            form_date=date(2026, 12, 1),
        )
        Row.objects.bulk_create(
            Row(form=form, seq=seq, data=row_values(system.pk, asset.pk, start + seq, rng))
            for seq in range(1, min(ROWS_PER_FORM, total - start) + 1)
        )
    return engagement, user, small_user


def row_values(system_id: int, asset_id: int, n: int, rng: random.Random) -> dict[str, Any]:
    return {
        "system_id": system_id,
        "asset_id": asset_id,
        "purpose": rng.choice(PURPOSES),
        "object_type": "数据库",
        "content": f"/u01/oradata/实例{n % 97} 全库导出",
        "method": "数据库备份",
        "started_at": "2026-12-01T09:00:00",
        "ended_at": "2026-12-01T09:40:00",
        "media_type": "移动硬盘",
        "media_no": f"HD-{n:06d}",
        "copies": 2,
        "readable": "通过",
        "location": "营业部机房保险柜",
        "seal_no": f"FT-{n:06d}",
    }


def median_ms(function: Callable[[], Any], repeat: int) -> float:
    function()  # warm: caches, compiled templates, the database's pages
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_stack(user: Any, small_user: Any, total: int, repeat: int) -> list[tuple[str, float]]:
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    base = "/e/bench/registers/8/?purpose=改密前备份&"
    first = client.get(base)
    assert first.status_code == 200, first.status_code
    after = re.findall(r"after=([\d.]+)", first.content.decode())[0]
    # A cursor half-way: page forward from the middle form.
    middle_form = int(after.split(".")[0]) + total // ROWS_PER_FORM // 2
    cases: list[tuple[Any, ...]] = [
        ("page 1, filtered", base),
        ("middle page, filtered (keyset cursor)", f"{base}after={middle_form}.0"),
        ("last page, filtered", f"{base}last=1"),
        ("search 'HD-00500', page 1", "/e/bench/registers/8/?q=HD-00500"),
    ]
    small = Client(SERVER_NAME="localhost")
    small.force_login(small_user)
    cases += [
        ("small branch (1 % of rows): page 1", base, small),
        ("small branch (1 % of rows): last page", f"{base}last=1", small),
    ]
    results = []
    for name, link, *who in cases:

        def get(link: str = link, as_: Any = (who or [client])[0]) -> None:
            response = as_.get(link)
            assert response.status_code == 200 and b"data-seq=" in response.content, link

        results.append((name, median_ms(get, repeat)))
    return results


def bench_view_work(engagement: Any, user: Any, repeat: int) -> list[tuple[str, float, float]]:
    """Keyset page vs Paginator (COUNT + OFFSET), rendering the same template, without the middleware."""
    from django.core.paginator import Paginator
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from handover.registers import catalogue, selectors
    from handover.registers.forms import RowFilterForm, column_label
    from handover.registers.views.common import table

    spec, columns = catalogue.get(8), catalogue.columns(8)
    filters = selectors.RowFilters(register_no=8, columns={"purpose": "改密前备份"})
    request = RequestFactory().get("/e/bench/registers/8/?purpose=改密前备份")
    request.user = user

    def render(page: Any) -> str:
        sites = selectors.site_list(user=user, engagement=engagement, capability="view_registers")
        context = {
            "engagement": engagement,
            "caps": set(),
            "spec": spec,
            "filter_form": RowFilterForm(request.GET, sites=sites, register_no=8),
            "page": page,
            "headers": [column_label(c) for c in columns],
            "table": table(engagement, spec, columns, page.rows),
            "query": "purpose=改密前备份",
        }
        return render_to_string("registers/row_list.html", context, request=request)

    def keyset(last: bool, rendered: bool) -> Callable[[], Any]:
        def run() -> Any:
            rows = selectors.row_list(user=user, engagement=engagement, filters=filters)
            page = selectors.row_page(rows=rows, cursor=selectors.Cursor(last=last))
            return render(page) if rendered else page

        return run

    def naive(last: bool, rendered: bool) -> Callable[[], Any]:
        def run() -> Any:
            rows = selectors.row_list(user=user, engagement=engagement, filters=filters)
            paginator = Paginator(rows.order_by("form_id", "seq"), selectors.PAGE_SIZE)
            page = paginator.page(paginator.num_pages if last else 1)
            found = selectors.RowPage(list(page.object_list), None, None, not last, last)
            return render(found) if rendered else found

        return run

    cases = [
        ("page 1, filtered", False, True),
        ("last page, filtered", True, True),
        ("page 1: the rows only", False, False),
        ("last page: the rows only", True, False),
    ]
    return [
        (name, median_ms(keyset(last, rendered), repeat), median_ms(naive(last, rendered), repeat))
        for name, last, rendered in cases
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10× fewer rows")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    total = ROWS // 10 if args.quick else ROWS
    from _django import configure  # beside this script

    data = configure(args.postgres, static=True)
    try:
        from django.db import connection

        started = time.perf_counter()
        engagement, user, small_user = build(total)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # what autovacuum does soon after a bulk load
                cursor.execute("ANALYZE")
        print(f"# {total:,} rows of 表8 written in {time.perf_counter() - started:.1f} s")
        print(f"# {connection.vendor} · Python {platform.python_version()} · {os.cpu_count()} cores")
        print("\nfull stack (test client), median of", REPEAT)
        print(f"| {'page':<40} | {'ms':>7} |\n|{'-' * 42}|{'-' * 9}:|")
        for name, ms in bench_stack(user, small_user, total, REPEAT):
            print(f"| {name:<40} | {ms:7.1f} |")
        print("\nview work only: keyset vs Paginator (COUNT + OFFSET), median of", REPEAT)
        print(f"| {'page':<24} | {'keyset ms':>9} | {'naive ms':>9} | {'naive/keyset':>12} |")
        print(f"|{'-' * 26}|{'-' * 10}:|{'-' * 10}:|{'-' * 13}:|")
        for name, keyset_ms, naive_ms in bench_view_work(engagement, user, REPEAT):
            print(f"| {name:<24} | {keyset_ms:9.1f} | {naive_ms:9.1f} | {naive_ms / keyset_ms:11.2f}× |")
    finally:
        shutil.rmtree(data, ignore_errors=True)  # a PostgreSQL cluster stops when the process exits


if __name__ == "__main__":
    main()
