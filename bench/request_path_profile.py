"""What every page pays before and around its view (issue 18): the common request path, in-process.

Builds the handover day's engagement (bench/handover_day.py ``generate``: ``--sites`` 营业部, a 现场技术岗位 and
a 被托管技术方 login at each, 技术组 and an observer), logs each page's user in with Django's test client (the
session is the one a password and TOTP login leaves: ``force_login`` writes the same keys), then requests each
page ``--repeat`` times under cProfile, with the connection kept between requests as the server keeps it. For
each page: CPU ms per request (``time.process_time``, the least and the median of the unprofiled requests) and,
from the profile, the share of the request spent in each part of the common path: the session's load, the
user's load (and its session hash check), the grants read, the engagement read, the notifications badge, the
database health check, the other middleware; the rest is the view and its template.

Usage: .venv/bin/python bench/request_path_profile.py [--sites N] [--repeat R] [--postgres] [--profile NAME]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import _django

# The functions whose cumulative time makes the parts of the common path (file suffix, function name).
SESSION = ("sessions/backends/db.py", "load")
HEALTH = ("backends/base/base.py", "close_if_health_check_failed")  # inside the session's load (first query)
USER = ("contrib/auth/__init__.py", "get_user")  # the session's load happens inside it
GRANTS = ("org/access.py", "grants_for")
ENGAGEMENT = ("org/selectors.py", "engagement_get")  # the grants are first read inside it
BADGE = ("notifications/context_processors.py", "__init__")
SAVE = ("sessions/backends/db.py", "save")  # the idle timeout's write, at most every 30 s
WHOLE = ("django/test/client.py", "__call__")  # ClientHandler: the whole request through every middleware
VIEW = ("core/handlers/base.py", "_get_response")  # URL resolution and the view (inside every middleware)
LABELS = ["session load", "DB health check", "user load", "grants read", "engagement read", "badge",
          "session write", "other middleware", "view and template"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", default="", help="print cProfile's top functions of the pages so named")
    args = parser.parse_args()
    _django.configure(args.postgres, static=True, HANDOVER_ALLOWED_HOSTS="testserver")
    from django.db import connection
    from django.test import Client

    import handover_day
    from handover.accounts.models import User

    plan = handover_day.generate(args.sites, 1, 1, True, Path(tempfile.mkdtemp()), 0)
    logins = {e["role"]: e for e in plan["logins"]}
    onsite, firm, tech, observer = (logins[r] for r in ("onsite_post", "firm_it", "tech_group", "observer"))
    code = plan["code"]
    pages = {
        "empty view (favicon redirect)": (firm, "/favicon.ico"),
        "表8 form page (被托管技术方)": (firm, f"/e/{code}/register-forms/{firm['form']}/"),
        "表8 row list, one site (现场技术岗位)": (onsite, f"/e/{code}/registers/8/?site={onsite['site_id']}"),
        "workflow site page (技术组)": (tech, f"/w/{code}/sites/{onsite['site_id']}/"),
        "workflow summary (observer)": (observer, f"/w/{code}/summary/"),
    }
    print(f"{args.sites} 营业部 on {connection.vendor}; CONN_MAX_AGE {connection.settings_dict['CONN_MAX_AGE']}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"| page | CPU ms (least) | CPU ms (median) | {' | '.join(LABELS)} |")
    print(f"|---|---:|---:|{'---:|' * len(LABELS)}")
    for name, (who, path) in pages.items():
        client = Client()
        client.force_login(User.objects.get(username=who["username"]))
        for _ in range(3):
            assert client.get(path).status_code in (200, 301, 302), path
        cpu = []
        for _ in range(args.repeat):
            began = time.process_time()
            client.get(path)
            cpu.append(time.process_time() - began)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.repeat):
            client.get(path)
        profiler.disable()
        if args.profile and args.profile in name:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

        def cum(part: tuple[str, str], stats: dict = stats) -> float:  # type: ignore[type-arg]
            return float(sum(v[3] for (f, _l, n), v in stats.items() if f.endswith(part[0]) and n == part[1]))

        whole, view, session, health, user = cum(WHOLE), cum(VIEW), cum(SESSION), cum(HEALTH), cum(USER)
        grants, engagement, badge, save = cum(GRANTS), cum(ENGAGEMENT), cum(BADGE), cum(SAVE)
        parts = [session - health, health, user - session, grants, max(0.0, engagement - grants), badge, save]
        # The user (and so the session) is first read by the idle-timeout middleware, before the view; the
        # grants, the engagement and the badge are read inside the view (by its access check and template).
        other = whole - view - user - save
        parts += [other, view - grants - max(0.0, engagement - grants) - badge]
        print(f"| {name} | {min(cpu) * 1000:.2f} | {statistics.median(cpu) * 1000:.2f} | "
              f"{' | '.join(f'{x / whole:.0%}' for x in parts)} |")  # fmt: skip


if __name__ == "__main__":
    main()
