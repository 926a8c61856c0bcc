"""Discovery through Django, run by ``make bench``; figures in docs/benchmarks.md ("Discovery: the Django run").

The same asyncssh simulator as bench/discovery_gather.py (its own process, one loopback port per virtual host,
2 % refuse the password, 1 % hang, 1 % not listening) is gathered twice in one command:

* the baseline: ``connectors.run.gather_many`` alone (concurrency 32, per site 8), nothing stored;
* the Django run: ``discovery.services.run_start`` + ``run_execute`` with the same limits, each target's
  credential taken from the vault when it connects, each outcome, snapshot (file store), sealed shadow
  (vault blob), facts and audit events stored as it comes in SQLite (WAL), then the 表8/9/11 drafts.

Reported: wall time and per-host time of each, and the Django run's ratio to the baseline.

Usage: .venv/bin/python bench/discovery_django.py [--quick] [--hosts N] [--accounts N] [--latency MS]
``--quick``: 20 hosts, 10 accounts, 5 ms (tests/test_bench.py runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _django
import discovery_gather as sim

SITES = sim.SITES


def build(ports: list[int], timeout: float) -> tuple[Any, Any]:
    """An engagement with 16 branches, a vault, one system per branch, and a live target per port."""
    from django.utils import timezone

    from handover.accounts.models import User
    from handover.core.actors import system
    from handover.discovery import services
    from handover.org.models import (
        Engagement,
        Organisation,
        OrgType,
        Party,
        Person,
        Role,
        RoleAssignment,
        Site,
        SiteLevel,
    )
    from handover.registers.models import InformationSystem
    from handover.vault import lifecycle
    from handover.vault import services as vault

    e = Engagement.objects.create(
        code="bench",
        code_name="基准项目",
        firm_name="某证券",
        custodian_name="托管方",
        disposal_date=dt.date(2026, 12, 1),
    )
    hq = Site.objects.create(engagement=e, code="HQ", name="总部", level=SiteLevel.HQ, path="")
    hq.path = f"/{hq.pk}/"
    hq.save(update_fields=["path"])
    branches = []
    for i in range(SITES):
        site = Site.objects.create(
            engagement=e, code=f"B{i:02d}", name=f"营业部{i:02d}", level=SiteLevel.BRANCH, parent=hq, path=""
        )
        site.path = f"{hq.path}{site.pk}/"
        site.save(update_fields=["path"])
        branches.append(site)
    org = Organisation.objects.create(engagement=e, name="托管方", type=OrgType.CUSTODIAN)
    user = User.objects.create_user(
        username="bench-tech", password="bench-password-1234", enrolled_at=timezone.now()
    )
    person = Person.objects.create(
        engagement=e, name="技术组", organisation=org, party=Party.TECH_GROUP, user=user
    )
    RoleAssignment.objects.create(engagement=e, person=person, role=Role.TECH_GROUP)
    lifecycle.vault_init(actor=system("bench"), shares=5, threshold=3)
    systems = [
        InformationSystem.objects.create(engagement=e, site=site, name="营业部柜台") for site in branches
    ]
    for n, port in enumerate(ports):
        info = systems[n % SITES]
        host = f"host{n:04d}"
        entry = vault.secret_put(
            actor=system("bench"),
            target=vault.Target(
                engagement=e, site=info.site, system_name=info.name, hostname=host, login_name="root"
            ),
            secret=sim.PASSWORD,
        )
        services.target_save(
            actor=user, system=info, hostname=host, connector="linux", address="127.0.0.1", port=port,
            options={"timeout": str(timeout)}, credential=entry,
        )  # fmt: skip
    return e, user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--latency", type=float, default=50.0, help="ms the simulator waits before answering")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    if args.quick:
        args.hosts, args.accounts, args.latency, args.timeout = 20, 10, 5.0, 2.0
    _django.configure(False, HANDOVER_DISCOVERY_CONCURRENCY="32", HANDOVER_DISCOVERY_PER_SITE="8")
    ports = sim.free_ports(args.hosts)
    ready = Path(f"/tmp/discovery-django-bench-{os.getpid()}.ready")  # noqa: S108
    server = subprocess.Popen(
        [sys.executable, sim.__file__, "--accounts", str(args.accounts), "--latency", str(args.latency),
         "--ready", str(ready), "--serve", *map(str, ports)],
    )  # fmt: skip
    try:
        engagement, user = build(ports, args.timeout)
        while not ready.exists():
            if server.poll() is not None:
                raise SystemExit("the simulator did not start")
            time.sleep(0.1)
        base_wall, base_counts = asyncio.run(sim.gather_all(ports, 32, 8, args.timeout))

        from handover.discovery import services
        from handover.discovery.models import TargetOutcome

        start = time.perf_counter()
        run = services.run_start(actor=user, engagement=engagement, enqueue=False)
        run = services.run_execute(run_id=run.pk)
        wall = time.perf_counter() - start
        counts: dict[str, int] = {}
        for status in TargetOutcome.objects.filter(run=run).values_list("status", flat=True):
            counts[status] = counts.get(status, 0) + 1
    finally:
        server.terminate()
        server.wait()
        ready.unlink(missing_ok=True)
    per_host, base_per_host = wall / args.hosts, base_wall / args.hosts
    print(
        f"Discovery through Django: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, SQLite"
    )
    print(
        f"{args.hosts} simulated hosts, {args.accounts} accounts each, latency {args.latency:.0f} ms ±50 %,"
    )
    print(
        f"2 % refuse the password, 1 % never answer (timeout {args.timeout:.0f} s), 1 % not listening; 16 sites\n"
    )
    print("| run | hosts | outcomes | wall (s) | per host (ms) | ratio to the connector alone |")
    print("|---|---:|---|---:|---:|---:|")
    for label, what, seconds, each in (
        ("connectors gather_many alone, 32 / 8", base_counts, base_wall, base_per_host),
        (f"Django run ({run.state}), 32 / 8, stored + drafted", counts, wall, per_host),
    ):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(what.items()))
        print(
            f"| {label} | {args.hosts} | {outcomes} | {seconds:.1f} | {each * 1000:.1f} | {each / base_per_host:.2f} |"
        )


if __name__ == "__main__":
    main()
