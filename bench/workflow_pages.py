"""The workflow's pages at 13 and 300 sites (issue 18, handover-day load), run by ``make bench``; figures are
kept in docs/benchmarks.md.

Two engagements of ``workflow_bench.build`` in one fresh data folder (12 营业部 + 总部, and 300 + 总部: step
instances of 准备期 and 交接期, every output register signed, 3 rows in every annexed register of every site,
18,060 rows at 300). Through Django's test client, each page is requested ``--runs`` times after one warm-up;
the median server time (wall clock, and the process's CPU time: SQLite runs in the process, so on a shared
machine CPU time is the server's own work) and the query count of one request are printed:

- the workflow overview as 技术组, the site page of one 营业部 as 技术组 and as its 现场技术岗位, the observers'
  summary as an observer (证监局);
- the same three pages with the kept state dropped before each request: what every request cost before;
- after a write: a 表8 row of that 营业部 changed (a new version), then its site page and the overview (the
  first request after a write pays for what the write changed);
- the baseline: ``/favicon.ico``, an empty view behind the same middleware, in the same run.

Usage: .venv/bin/python bench/workflow_pages.py [--postgres] [--runs N] [--sites N ...] [--profile PAGE] [--linked]
``--linked``: every 营业部's 表7 also lists head office's 集中交易系统 (workflow_bench.link_to_head_office), as
in a real firm, so every site's rows name a system of another site.
``--profile overview|site|summary`` prints cProfile's top functions of one request at the largest size.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import platform
import pstats
import statistics
import time

SIZES = (12, 300)


def logins(engagement: object, code: str) -> dict[str, object]:
    """技术组 (from build), the first 营业部's 现场技术岗位 and an observer (证监局)."""
    from django.utils import timezone

    from handover.accounts.models import User
    from handover.org.models import ObserverBody, Organisation, Party, Person, Role, RoleAssignment, Site

    org = Organisation.objects.get(engagement=engagement, name="托管方")
    site = Site.objects.filter(engagement=engagement, level="branch").order_by("code").first()
    made: dict[str, object] = {"site": site}
    for name, role, party, at in (
        ("onsite", Role.ONSITE_POST, Party.ONSITE_POST, site),
        ("observer", Role.OBSERVER, Party.BUSINESS, None),
    ):
        user = User.objects.create_user(
            username=f"{code}-{name}", password="bench-password-1234", enrolled_at=timezone.now()
        )
        person = Person.objects.create(
            engagement=engagement, name=name, organisation=org, party=party, user=user
        )
        body = ObserverBody.CSRC_BUREAU if role == Role.OBSERVER else ""
        RoleAssignment.objects.create(
            engagement=engagement, person=person, role=role, site=at, observer_body=body
        )
        made[name] = user
    return made


def write(engagement: object, site: object, k: int) -> None:
    """A new version of a 表8 row of ``site``, as a register service leaves it."""
    from handover.registers.models import Row

    row = Row.objects.filter(form__site=site, form__register_no=8, is_current=True).order_by("seq").first()
    assert row is not None
    Row.objects.filter(pk=row.pk).update(is_current=False)
    Row.objects.create(
        form_id=row.form_id,
        seq=row.seq,
        data={**row.data, "remarks_by": f"改{k}"},
        previous=row,
        version=row.version + 1,
        correction_reason="基准：改一行",
    )


def forget(_k: int) -> None:
    """Drop the kept state, so that the next request computes the engagement as every request did before
    issue 18 (state.compute_afresh, then the page's own work)."""
    from handover.workflow import state

    state.forget()


def measure(client: object, url: str, runs: int, before: object = None) -> tuple[float, float, int]:
    """Median wall-clock and CPU seconds of a request (SQLite runs in this process, so its CPU time is
    the server's work whatever else the machine runs), and its queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # type: ignore[attr-defined]
    times, cpu = [], []
    queries = 0
    for k in range(runs):
        if before is not None:
            before(k)  # type: ignore[operator]
        with CaptureQueriesContext(connection) as captured:
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)  # type: ignore[attr-defined]
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        assert response.status_code in (200, 301), (url, response.status_code)  # the favicon redirects
        queries = len(captured)
    return statistics.median(times), statistics.median(cpu), queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sites", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--profile", choices=("overview", "site", "summary"))
    parser.add_argument("--linked", action="store_true", help="every 营业部's 表7 lists head office's system")
    args = parser.parse_args()
    from _django import configure  # beside this script
    from workflow_bench import build

    configure(args.postgres, static=True, HANDOVER_ALLOWED_HOSTS="testserver")
    from django.test import Client

    from handover.core import clock
    from handover.workflow.deadlines import BEIJING

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: list[tuple[str, int, float, float, int]] = []
    for n in args.sites:
        code = f"p{n}"
        engagement, tech_user = build(n, code=code, linked=args.linked)
        who = logins(engagement, code)
        site = who["site"]
        w = f"/w/{code}/"
        pages = {
            "empty view (/favicon.ico redirect, baseline)": ("/favicon.ico", tech_user, None),
            "overview (技术组)": (w, tech_user, None),
            "site page (技术组)": (f"{w}sites/{site.pk}/", tech_user, None),  # type: ignore[attr-defined]
            "site page (现场技术岗位)": (f"{w}sites/{site.pk}/", who["onsite"], None),  # type: ignore[attr-defined]
            "summary (observer)": (f"{w}summary/", who["observer"], None),
            "overview, computed afresh (as before)": (w, tech_user, forget),
            "site page (技术组), computed afresh": (f"{w}sites/{site.pk}/", tech_user, forget),  # type: ignore[attr-defined]
            "summary (observer), computed afresh": (f"{w}summary/", who["observer"], forget),
            "site page after a write there": (
                f"{w}sites/{site.pk}/",  # type: ignore[attr-defined]
                tech_user,
                lambda k, e=engagement, s=site: write(e, s, k),
            ),
            "overview after a write": (w, tech_user, lambda k, e=engagement, s=site: write(e, s, 100 + k)),
        }
        with clock.frozen(dt.datetime(2026, 12, 2, 1, tzinfo=BEIJING)):
            for name, (url, user, before) in pages.items():
                client = Client()
                client.force_login(user)
                seconds, cpu, queries = measure(client, url, args.runs, before)
                results.append((name, n, seconds, cpu, queries))
            if args.profile and n == max(args.sites):
                url, user, _before = {
                    "overview": pages["overview (技术组)"],
                    "site": pages["site page (技术组)"],
                    "summary": pages["summary (observer)"],
                }[args.profile]
                client = Client()
                client.force_login(user)
                client.get(url)  # a first request loads the middleware (whitenoise reads the static files)
                profile = cProfile.Profile()
                profile.enable()
                client.get(url)
                profile.disable()
                pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {database}, {os.cpu_count()} CPUs"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'page':46} {'sites':>5} {'wall ms':>9} {'CPU ms':>9} {'queries':>7}")
    for name, n, seconds, cpu, queries in results:
        print(f"{name:46} {n + 1:5d} {seconds * 1000:9.1f} {cpu * 1000:9.1f} {queries:7d}")


if __name__ == "__main__":
    main()
