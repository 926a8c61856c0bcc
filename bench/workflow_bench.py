"""Workflow benchmark, run by ``make bench``; figures are kept in docs/benchmarks.md.

A synthetic engagement in 交接期: 1 总部 and 300 营业部, every step instance of both phases, every output
register of every per-site step filled and signed at each site (one signed form per register and site),
same-day feedback, escalations and open exception cases. Timed, through Django's test client as 技术组:

1. the workflow overview ``/w/<code>/`` (sites × steps heat map, charts, overdue, open exceptions);
2. the reference: the org dashboard ``/e/<code>/`` of the same engagement (the site tree and role coverage).

Each page is requested ``--runs`` times after one warm-up request; the median server time and the query count
are printed, and the ratio overview / dashboard.

Usage: .venv/bin/python bench/workflow_bench.py [--quick] [--postgres] [--runs N]
``--quick`` uses 30 sites instead of 300.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time

SITES = 300


def build(n_sites: int) -> tuple[object, object]:
    """The synthetic engagement and a 技术组 login."""
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
        code="bench",
        code_name="基准项目",
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
    user = User.objects.create_user(username="bench-tech", password="bench-password-1234")
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
        if not s.per_site
    ]
    for site in sites:
        instances += [
            StepInstance(engagement=e, site=site, step_id=s.id, phase=s.phase, created_at=now)
            for s in steps.for_site_level(Phase.HANDOVER, site.level)
        ]
    StepInstance.objects.bulk_create(instances, batch_size=2000)
    registers = sorted({n for s in steps.STEPS if s.per_site for n in s.outputs})
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
    print(f"engagement: {len(sites)} sites, {len(instances)} step instances, {len(forms)} signed forms")
    return e, user


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
    args = parser.parse_args()
    from _django import configure  # beside this script

    configure(args.postgres, static=True, HANDOVER_ALLOWED_HOSTS="testserver")
    from django.test import Client

    from handover.workflow import clock
    from handover.workflow.deadlines import BEIJING

    engagement, user = build(30 if args.quick else SITES)
    client = Client()
    client.force_login(user)
    with clock.frozen(dt.datetime(2026, 12, 2, 1, tzinfo=BEIJING)):
        overview, q_overview = measure(client, f"/w/{engagement.code}/", args.runs)  # type: ignore[attr-defined]
        dashboard, q_dashboard = measure(client, f"/e/{engagement.code}/", args.runs)  # type: ignore[attr-defined]
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {database}, {os.cpu_count()} CPUs"
    )
    print(f"workflow overview   {overview * 1000:8.1f} ms  {q_overview:3d} queries")
    print(f"org dashboard (ref) {dashboard * 1000:8.1f} ms  {q_dashboard:3d} queries")
    print(f"ratio overview / dashboard: {overview / dashboard:.1f}×")


if __name__ == "__main__":
    main()
