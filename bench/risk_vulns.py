"""Vulnerability scans through Django, run by ``make bench``; figures in docs/benchmarks.md ("Vulnerabilities").

A Nessus v2 file of N findings (2,000 hosts, findings spread over them, each with two CVEs) is written once;
then, in one command and one fresh data folder (SQLite, or ``--postgres``):

* the baseline: ``vulnfiles.read`` alone — parsing the XML (defusedxml) into findings, nothing stored;
* the first import: every finding created, with its sightings and the scan's hosts;
* the same file again: refused as the same scan by its digest (nothing written);
* a later scan of the same hosts reporting 90 % of the findings: updates, and 10 % closed.

Reported: wall time of each, findings per second, and each step's ratio to the baseline.

Usage: .venv/bin/python bench/risk_vulns.py [--quick] [--findings N] [--postgres]
``--quick``: 2,000 findings (tests/test_bench.py runs it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time

import _django

HOSTS = 2000


def nessus(findings: int, at: dt.datetime, keep: float = 1.0) -> bytes:
    """A .nessus file: ``findings`` spread over the hosts; ``keep`` the share of findings still reported."""
    per_host = max(1, findings // HOSTS)
    hosts = min(HOSTS, findings)
    stamp = int(at.timestamp())
    parts = ['<?xml version="1.0" ?>\n<NessusClientData_v2><Report name="bench">']
    n = 0
    for h in range(hosts):
        address = f"10.{h // 250}.{h % 250}.{(h * 7) % 250 + 1}"
        parts.append(f'<ReportHost name="{address}"><HostProperties><tag name="HOST_START_TIMESTAMP">{stamp}</tag>'
                     f'<tag name="host-ip">{address}</tag></HostProperties>')  # fmt: skip
        for p in range(per_host):
            n += 1
            if (p * 37 + h) % 100 >= keep * 100:
                continue
            parts.append(
                f'<ReportItem port="{1000 + p}" svc_name="svc" protocol="tcp" severity="{1 + (p % 4)}" '
                f'pluginID="{100000 + p}" pluginName="检测项 {p} 存在漏洞" pluginFamily="General">'
                f"<solution>升级到厂商发布的最新版本。</solution><cve>CVE-2024-{10000 + p}</cve>"
                f"<cve>CVE-2023-{20000 + p}</cve></ReportItem>"
            )
        parts.append("</ReportHost>")
    parts.append("</Report></NessusClientData_v2>")
    return "".join(parts).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    findings = 2000 if args.quick else args.findings
    _django.configure(args.postgres, HANDOVER_IMPORT_MAX_BYTES=str(1 << 30))

    from handover.core.actors import system
    from handover.org.models import Engagement
    from handover.risk import vulnfiles
    from handover.risk.models import Vulnerability
    from handover.risk.services.vulns import vulns_import

    engagement = Engagement.objects.create(
        code="bench", code_name="代号", firm_name="被托管证券", custodian_name="托管机构",
        disposal_date=dt.date(2026, 12, 4),
    )  # fmt: skip
    actor = system("bench")
    first_at = dt.datetime(2026, 11, 2, 22, tzinfo=dt.UTC)
    first = nessus(findings, first_at)
    second = nessus(findings, first_at + dt.timedelta(days=7), keep=0.9)

    def timed(label: str, work) -> tuple[str, float, object]:
        began = time.perf_counter()
        result = work()
        return label, time.perf_counter() - began, result

    rows = [
        timed(
            "parse alone (vulnfiles.read, baseline)",
            lambda: len(vulnfiles.read("a.nessus", first, "nessus").items),
        )
    ]
    rows.append(timed("first import (all created)", lambda: vulns_import(
        actor=actor, engagement=engagement, fmt="nessus", filename="a.nessus", content=first)))  # fmt: skip
    rows.append(timed("the same file again (its digest)", lambda: vulns_import(
        actor=actor, engagement=engagement, fmt="nessus", filename="a.nessus", content=first)))  # fmt: skip
    rows.append(timed("a later scan, 90 % still reported", lambda: vulns_import(
        actor=actor, engagement=engagement, fmt="nessus", filename="b.nessus", content=second)))  # fmt: skip
    base = rows[0][1]
    database = "PostgreSQL" if args.postgres else "SQLite"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    print(f"Vulnerability import, {findings} findings on {min(HOSTS, findings)} hosts, {database}; {machine}")
    print(f"file sizes: {len(first) / 1e6:.1f} MB, {len(second) / 1e6:.1f} MB")
    print("| step | seconds | findings/s | ratio to parsing | result |")
    print("|---|---|---|---|---|")
    for label, seconds, result in rows:
        print(f"| {label} | {seconds:.2f} | {findings / seconds:,.0f} | {seconds / base:.1f}× | {result} |")
    stored = Vulnerability.objects.filter(engagement=engagement)
    print(f"stored: {stored.count()} findings, {stored.filter(closed_at__isnull=False).count()} closed")


if __name__ == "__main__":
    main()
