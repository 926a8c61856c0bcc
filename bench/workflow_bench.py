"""Workflow and 表24 benchmark, run by ``make bench``; figures are kept in docs/benchmarks.md.

A synthetic engagement in 交接期: 1 总部 and 300 营业部, every step instance of 准备期 and 交接期 (N-01, N-02
and N-05 included), every output register of every per-site step filled and signed at each site (one signed
form per register and site), same-day feedback, escalations and open exception cases; every register 表24
annexes (表5–23, 表39) has a signed form with rows at every site, over 3 systems, 3 hosts and 6 accounts per
site. Timed as 技术组:

1. the workflow overview ``/w/<code>/`` (sites × steps heat map, charts, overdue, open exceptions), through
   Django's test client;
2. the reference: the org dashboard ``/e/<code>/`` of the same engagement (the site tree and role coverage);
3. 表24's computation over every site (``computed.handover_summary``);
4. 表24 compiled as ``package_build`` does it: computed at 总部, written, submitted and signed by 技术组
   (rolled back after each run), and its signed version exported as xlsx and PDF;
5. the reference for 3 and 4: a plain queryset reading the same current rows of 表5–23 and 表39;
6. the whole ``package_build`` (表24 signed, every annex exported twice, manifest, checkpoint, zip) on a
   second, smaller engagement filled the same way (``--package-sites``, 10 营业部 by default), once;
7. the workflow overview again once the engagement is in 稳定期: every site's S-steps, their registers
   signed, and the routine's lapses to find (表27 past due at every fourth site, 表40 past its date at every
   fifth, 表41 of the last trading day at every other).

Each is run ``--runs`` times after one warm-up (6 once); the median time and the query count are printed,
with the ratios overview / dashboard and 表24 / plain read.

Usage: .venv/bin/python bench/workflow_bench.py [--quick] [--postgres] [--runs N] [--package-sites N] [--sites N]
``--quick`` uses 30 sites instead of 300 and at most 2 营业部 for the package.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path

SITES = 300
ROWS_PER_FORM = 3


def build(n_sites: int, code: str = "bench", linked: bool = False) -> tuple[object, object]:
    """The synthetic engagement and a 技术组 login. ``linked``: every 营业部's 表7 also lists head office's
    集中交易系统 (as in a real firm), so the coverage rules of every site read a system of head office."""
    from django.utils import timezone

    from handover.accounts.models import User
    from handover.org.models import (
        Engagement,
        Organisation,
        OrgType,
        Party,
        Person,
        Phase,
        Role,
        RoleAssignment,
        Site,
        SiteLevel,
    )
    from handover.registers.models import Form, FormState, Signature, SignatureKind
    from handover.workflow import steps
    from handover.workflow.deadlines import BEIJING
    from handover.workflow.models import CaseState, Escalation, ExceptionCase, Feedback, StepInstance

    d = dt.date(2026, 12, 1)
    now = dt.datetime(2026, 12, 1, 15, tzinfo=BEIJING)
    e = Engagement.objects.create(
        code=code,
        code_name=f"基准项目{code}",
        firm_name="某证券",
        custodian_name="托管方",
        disposal_date=d,
        phase=Phase.HANDOVER,
    )
    hq = Site.objects.create(engagement=e, code="HQ", name="总部", level=SiteLevel.HQ, path="")
    hq.path = f"/{hq.pk}/"
    hq.save(update_fields=["path"])
    branches = Site.objects.bulk_create(
        Site(
            engagement=e, code=f"B{i:03d}", name=f"营业部{i:03d}", level=SiteLevel.BRANCH, parent=hq, path=""
        )
        for i in range(n_sites)
    )
    for site in branches:
        site.path = f"{hq.path}{site.pk}/"
    Site.objects.bulk_update(branches, ["path"], batch_size=500)
    sites = [hq, *branches]
    org = Organisation.objects.create(engagement=e, name="托管方", type=OrgType.CUSTODIAN)
    user = User.objects.create_user(
        username=f"{code}-tech", password="bench-password-1234", enrolled_at=timezone.now()
    )
    tech = Person.objects.create(
        engagement=e, name="技术组", organisation=org, party=Party.TECH_GROUP, user=user
    )
    RoleAssignment.objects.create(engagement=e, person=tech, role=Role.TECH_GROUP)
    RoleAssignment.objects.bulk_create(
        RoleAssignment(engagement=e, person=tech, role=Role.ONSITE_POST, site=s) for s in sites[::2]
    )
    instances = [
        StepInstance(engagement=e, step_id=s.id, phase=s.phase, created_at=now)
        for s in steps.STEPS
        if not s.per_site and s.phase != Phase.STABILISATION
    ]
    for site in sites:
        instances += [
            StepInstance(engagement=e, site=site, step_id=s.id, phase=s.phase, created_at=now)
            for s in steps.for_site_level(Phase.HANDOVER, site.level)
        ]
    StepInstance.objects.bulk_create(instances, batch_size=2000)
    registers = sorted({n for s in steps.for_phase(Phase.HANDOVER) if s.per_site for n in s.outputs})
    forms = Form.objects.bulk_create(
        (
            Form(
                engagement=e,
                site=site,
                register_no=n,
                form_no=f"{site.code}-T{n:02d}",
                form_date=d,
                state=FormState.SIGNED,
            )
            for site in sites
            for n in registers
        ),
        batch_size=2000,
    )
    Signature.objects.bulk_create(
        (Signature(form=f, kind=SignatureKind.FOOTER, role=Role.ONSITE_POST, person=tech) for f in forms),
        batch_size=2000,
    )
    late = StepInstance.objects.filter(engagement=e, step_id="T-01", site__in=sites[::5])
    Feedback.objects.bulk_create(
        Feedback(step=s, reason="介质不足", expected_at=now, reported_by=tech, reported_at=now) for s in late
    )
    Escalation.objects.bulk_create(
        Escalation(step=s, raised_at=now, due_at=now)
        for s in StepInstance.objects.filter(engagement=e, step_id="T-04", site__in=sites[::7])
    )
    ExceptionCase.objects.bulk_create(
        ExceptionCase(engagement=e, site=s, path_id=p, description="x", opened_at=now, state=CaseState.OPEN)
        for s, p in zip(sites[::9], ["E05", "E01", "E08"] * 100, strict=False)
    )
    rows = fill(e, sites)
    if linked:
        rows += link_to_head_office(e, hq, branches)
    print(
        f"{code}: {len(sites)} sites, {len(instances)} step instances, {len(forms)} signed forms, {rows} rows"
    )
    return e, user


def stabilise(engagement: object) -> None:
    """Move the engagement to 稳定期 on D+7 with every site's 稳定期 steps, their registers signed, and some
    routine lapses (表27, 表40, 表41 of 12-09) for the overview to find."""
    from handover.org.models import Phase, Role, Site
    from handover.registers.models import Form, FormState, Row, Signature, SignatureKind
    from handover.workflow import steps
    from handover.workflow.deadlines import BEIJING
    from handover.workflow.models import StepInstance

    e = engagement
    start = dt.datetime(2026, 12, 8, 17, tzinfo=BEIJING)
    e.phase = Phase.STABILISATION  # type: ignore[attr-defined]
    e.save(update_fields=["phase"])  # type: ignore[attr-defined]
    sites = list(Site.objects.filter(engagement=e))
    StepInstance.objects.bulk_create(
        [StepInstance(engagement=e, step_id="S-14", phase=Phase.STABILISATION, created_at=start)]
        + [
            StepInstance(engagement=e, site=site, step_id=s.id, phase=s.phase, created_at=start)
            for site in sites
            for s in steps.for_site_level(Phase.STABILISATION, site.level)
        ],
        batch_size=2000,
    )
    person = e.people.first()  # type: ignore[attr-defined]
    required = sorted(
        {n for s in steps.for_phase(Phase.STABILISATION) for n in s.outputs if n not in s.optional} - {27, 41}
    )
    wanted = [(site, n, {}) for site in sites for n in required]
    wanted += [
        (site, 27, {"next_due_on": "2026-12-05" if i % 4 == 0 else "2027-03-01"})
        for i, site in enumerate(sites)
    ]
    wanted += [(site, 40, {"due_on": "2026-12-05", "closed": False}) for site in sites[::5]]
    wanted += [(site, 41, {}) for site in sites[::2]]
    forms = Form.objects.bulk_create(
        (
            Form(
                engagement=e,
                site=site,
                register_no=n,
                form_no=f"{site.code}-S{n:02d}",
                form_date=dt.date(2026, 12, 9),
                state=FormState.SIGNED,
            )
            for site, n, _data in wanted
        ),
        batch_size=2000,
    )
    Signature.objects.bulk_create(
        (Signature(form=f, kind=SignatureKind.FOOTER, role=Role.ONSITE_POST, person=person) for f in forms),
        batch_size=2000,
    )
    Row.objects.bulk_create(
        (Row(form=f, seq=1, data=data) for f, (_site, _n, data) in zip(forms, wanted, strict=True) if data),
        batch_size=2000,
    )
    total = StepInstance.objects.filter(engagement=e).count()
    print(f"稳定期: {total} step instances, {len(forms)} more signed forms")


def fill(e: object, sites: list[object]) -> int:
    """Every register 表24 annexes filled at every site: a signed form of 表5–23 and 表39 each (those the
    steps did not create), ROWS_PER_FORM current rows in each, over 3 systems, 3 hosts and 6 accounts per site.
    The rows carry what 表24 counts: 表7 one per system, a failed 表8 row with its 表39 entry, open issues."""
    from handover.registers.computed import ANNEXED
    from handover.registers.models import Account, Asset, Form, FormState, InformationSystem, Row

    d = dt.date(2026, 12, 1)
    have = set(Form.objects.filter(engagement=e).values_list("site_id", "register_no"))
    Form.objects.bulk_create(
        (
            Form(
                engagement=e,
                site=s,
                register_no=n,
                form_no=f"{s.code}-T{n:02d}",
                form_date=d,
                state=FormState.SIGNED,
            )
            for s in sites
            for n in ANNEXED
            if (s.pk, n) not in have
        ),
        batch_size=2000,
    )
    systems = InformationSystem.objects.bulk_create(
        (
            InformationSystem(engagement=e, site=s, name=f"系统{k}", category="营业部柜台")
            for s in sites
            for k in range(3)
        ),
        batch_size=2000,
    )
    Asset.objects.bulk_create(
        (
            Asset(engagement=e, site=s, name=f"服务器{k}", hostname=f"{s.code}-h{k}")
            for s in sites
            for k in range(3)
        ),
        batch_size=2000,
    )
    Account.objects.bulk_create(
        (
            Account(engagement=e, system=y, layer="应用系统", login_name=f"u{k}", account_class="超级用户")
            for y in systems
            for k in range(2)
        ),
        batch_size=2000,
    )
    by_site: dict[int, list[int]] = {}
    for y in systems:
        by_site.setdefault(y.site_id, []).append(y.pk)  # type: ignore[attr-defined]
    forms = list(
        Form.objects.filter(engagement=e, register_no__in=ANNEXED).values_list("pk", "site_id", "register_no")
    )
    rows = Row.objects.bulk_create(
        (
            Row(form_id=pk, seq=k + 1, data=_row_data(n, by_site[site][k], k))
            for pk, site, n in forms
            if n != 39
            for k in range(ROWS_PER_FORM)
        ),
        batch_size=2000,
    )
    failed = {r.form_id: r.pk for r in rows if r.data.get("readable") == "不通过"}
    t8 = {site: failed[pk] for pk, site, n in forms if n == 8}
    rows += Row.objects.bulk_create(
        (
            Row(
                form_id=pk,
                seq=k + 1,
                data={
                    "source_row_ref": t8[site],
                    "state": "已关闭" if k else "处理中",
                    "description": "备份失败，改为文件备份",
                },
            )
            for pk, site, n in forms
            if n == 39
            for k in range(ROWS_PER_FORM)
        ),
        batch_size=2000,
    )
    return len(rows)


def link_to_head_office(e: object, hq: object, branches: list[object]) -> int:
    """Head office's 集中交易系统, listed in 表7 by every 营业部 (a row after their own three): the rows of every
    site then name a system of another site."""
    from handover.registers.models import Form, InformationSystem, Row

    central = InformationSystem.objects.create(
        engagement=e, site=hq, name="集中交易系统", category="集中交易"
    )
    forms = Form.objects.filter(engagement=e, register_no=7, site__in=branches).values_list("pk", flat=True)
    made = Row.objects.bulk_create(
        (Row(form_id=pk, seq=ROWS_PER_FORM + 1, data=_row_data(7, central.pk, 0)) for pk in forms),
        batch_size=2000,
    )
    return len(made)


def _row_data(register_no: int, system_id: int, k: int) -> dict[str, object]:
    """A row of 表N with the values 表24 reads, and a few more of a usual row's size."""
    data: dict[str, object] = {
        "system_id": system_id,
        "remarks_by": "现场技术岗位",
        "checked_at": "2026-12-01T16:00",
    }
    if register_no == 8:
        data["readable"] = "不通过" if k == 0 else "通过"
    elif register_no == 11:
        data.update(action="停用", disable_until="2026-12-31")
    elif register_no == 15:
        data["continuity"] = "有缺口" if k == 0 else "连续"
    elif register_no == 23:
        data.update(result="通过", open_issue="行情刷新延迟待观察" if k == 0 else "")
    return data


def timed(work: object, runs: int) -> tuple[float, int]:
    """The median time of ``work()`` over ``runs`` runs after a warm-up, and the queries of one run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    work()  # type: ignore[operator]
    times = []
    queries = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            work()  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        queries = len(captured)
    return statistics.median(times), queries


def table24(engagement: object, user: object, runs: int, folder: Path) -> dict[str, tuple[float, int]]:
    """表24 computed, compiled and signed, exported; and the plain read of the rows it summarises."""
    from django.db import transaction

    from handover.org.models import Site
    from handover.registers import computed, seeding
    from handover.registers import services as registers
    from handover.registers.io.exporting import MAX_PDF_ROWS, register_export

    hq = Site.objects.get(engagement=engagement, parent__isnull=True)
    header = {"summary": "按计划完成", "residual_risks": "无", "handover_start": "2026-12-01T15:00:00+08:00",
              "handover_end": "2026-12-02T09:00:00+08:00"}  # fmt: skip

    def signed() -> object:
        """What package_build does for 表24 (reports.services._table24)."""
        form = seeding.computed_form_build(
            actor=user, engagement=engagement, site=hq, register_no=24, form_date=dt.date(2026, 12, 2),
            header=header,
        )  # fmt: skip
        registers.form_submit(actor=user, form=form)
        registers.form_sign(actor=user, form=form)
        return form

    def signed_then_rolled_back() -> None:
        with transaction.atomic():
            signed()
            transaction.set_rollback(True)

    def plain() -> None:
        rows = computed.current_rows(engagement, computed.ANNEXED)
        list(rows.values_list("form__register_no", "form__site_id", "data"))

    found = {
        "表24 computed (handover_summary)": timed(
            lambda: computed.handover_summary(engagement=engagement), runs
        ),
        "表24 compiled and signed": timed(signed_then_rolled_back, runs),
        "plain read of the same rows (ref)": timed(plain, runs),
    }
    with transaction.atomic():
        form = signed()
        lines = form.rows.count()  # type: ignore[attr-defined]
        # Beyond MAX_PDF_ROWS the export refuses a PDF, and the package carries 表24 as xlsx only.
        for fmt in ("xlsx", "pdf") if lines <= MAX_PDF_ROWS else ("xlsx",):
            out = str(folder / f"t24.{fmt}")
            found[f"表24 signed, exported as {fmt}"] = timed(
                lambda fmt=fmt, out=out: register_export(
                    actor=user, engagement=engagement, register_no=24, fmt=fmt, out=out, form=form
                ),
                runs,
            )
        found["(表24 lines)"] = (0.0, lines)
        transaction.set_rollback(True)
    return found


def package(n_sites: int, folder: Path) -> tuple[float, int, int]:
    """One whole package_build on a second engagement of ``n_sites`` 营业部 (time, queries, annexed forms)."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from handover.reports import services

    settings.HANDOVER_PACKAGE_DIR = folder / "packages"
    engagement, user = build(n_sites, code="benchpkg")
    annexes = len(services.annexed_forms(engagement))
    with CaptureQueriesContext(connection) as captured:
        start = time.perf_counter()
        built = services.package_build(actor=user, engagement=engagement, summary="交接工作总结（基准）")
        elapsed = time.perf_counter() - start
    assert built.table24.get().state == "signed"
    return elapsed, len(captured), annexes


def measure(client: object, url: str, runs: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # type: ignore[attr-defined]
    times = []
    queries = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)  # type: ignore[attr-defined]
            times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        queries = len(captured)
    return statistics.median(times), queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--package-sites", type=int, default=10)
    parser.add_argument(
        "--sites", type=int, help=f"sites of the engagement (default {SITES}; 30 with --quick)"
    )
    args = parser.parse_args()
    from _django import configure  # beside this script

    data = configure(args.postgres, static=True, HANDOVER_ALLOWED_HOSTS="testserver")
    from django.test import Client

    from handover.core import clock
    from handover.workflow.deadlines import BEIJING

    engagement, user = build(args.sites or (30 if args.quick else SITES))
    client = Client()
    client.force_login(user)
    with clock.frozen(dt.datetime(2026, 12, 2, 1, tzinfo=BEIJING)):
        overview, q_overview = measure(client, f"/w/{engagement.code}/", args.runs)  # type: ignore[attr-defined]
        dashboard, q_dashboard = measure(client, f"/e/{engagement.code}/", args.runs)  # type: ignore[attr-defined]
    t24 = table24(engagement, user, args.runs, data)
    built, q_built, annexes = package(min(args.package_sites, 2) if args.quick else args.package_sites, data)
    stabilise(engagement)
    with clock.frozen(dt.datetime(2026, 12, 10, 9, tzinfo=BEIJING)):
        stable, q_stable = measure(client, f"/w/{engagement.code}/", args.runs)  # type: ignore[attr-defined]
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {database}, {os.cpu_count()} CPUs"
    )
    print(f"workflow overview   {overview * 1000:8.1f} ms  {q_overview:3d} queries")
    print(f"org dashboard (ref) {dashboard * 1000:8.1f} ms  {q_dashboard:3d} queries")
    print(f"overview in 稳定期   {stable * 1000:8.1f} ms  {q_stable:3d} queries")
    print(f"ratio overview / dashboard: {overview / dashboard:.1f}×; in 稳定期: {stable / dashboard:.1f}×")
    lines = t24.pop("(表24 lines)")[1]
    plain = t24["plain read of the same rows (ref)"][0]
    print(f"表24 over every site: {lines} lines")
    for name, (seconds, queries) in t24.items():
        print(f"{name:36} {seconds * 1000:9.1f} ms  {queries:3d} queries  {seconds / plain:6.1f}× plain read")
    print(f"package_build, {annexes} annexed forms   {built:9.2f} s  {q_built:5d} queries  "
          f"{built / max(annexes, 1) * 1000:.0f} ms and {q_built / max(annexes, 1):.1f} queries per annex")  # fmt: skip


if __name__ == "__main__":
    main()
