"""Security management's reports on the demo engagement, run by ``make bench``; figures in docs/benchmarks.md
("Security management: reports and views").

In a fresh data folder the demo is loaded (``handover demo``: 13 sites, every register, the risk story), then, in
one process, each is timed (best of ``--repeat``):

* the baseline: ``assessment_content`` alone — reading what the overall assessment reports;
* the overall assessment as Word and as PDF (the goal: ≤ 10 s on the demo);
* the compliance view, the deadlines and the reports owed, with the number of queries of each.

Reported: seconds, queries, and each step's ratio to the baseline.

Usage: .venv/bin/python bench/risk_reports.py [--quick] [--postgres]   (``--quick``: one repetition)
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time

import _django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    _django.configure(args.postgres, static=True)

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from handover.core import clock
    from handover.core.actors import system
    from handover.org.models import Engagement
    from handover.risk.selectors.assessment import assessment_content
    from handover.risk.selectors.compliance import compliance_view
    from handover.risk.selectors.deadlines import deadlines
    from handover.risk.selectors.obligations import reports_owed
    from handover.risk.services.assessment import assessment_report_export

    call_command("demo", stdout=io.StringIO())
    engagement = Engagement.objects.get(code="demo")
    actor, now = system("bench"), clock.now()
    steps = [
        ("assessment_content, overall (baseline)",
         lambda: assessment_content(user=actor, engagement=engagement, kind="overall", as_of=now.date())),
        ("overall assessment as Word", lambda: assessment_report_export(actor=actor, engagement=engagement,
                                                                        kind="overall", fmt="docx")),
        ("overall assessment as PDF", lambda: assessment_report_export(actor=actor, engagement=engagement,
                                                                       kind="overall", fmt="pdf")),
        ("compliance view (39 duties)", lambda: compliance_view(user=actor, engagement=engagement, now=now)),
        ("deadlines", lambda: deadlines(user=actor, engagement=engagement, now=now)),
        ("reports owed", lambda: reports_owed(user=actor, engagement=engagement, now=now)),
    ]  # fmt: skip
    rows = []
    for label, work in steps:
        best = float("inf")
        queries = 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                work()
                best = min(best, time.perf_counter() - began)
            queries = len(captured)
        rows.append((label, best, queries))
    base = rows[0][1]
    database = "PostgreSQL" if args.postgres else "SQLite"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    print(f"Security management on the demo engagement, {database}, best of {repeat}; {machine}")
    print("| step | seconds | queries | ratio to the baseline |")
    print("|---|---|---|---|")
    for label, seconds, queries in rows:
        print(f"| {label} | {seconds:.3f} | {queries} | {seconds / base:.1f}× |")


if __name__ == "__main__":
    main()
