"""The handover day under load (issue 18), run by ``make bench``; figures are kept in docs/benchmarks.md.

A generated engagement (``workflow_bench.build``: 1 总部 and N 营业部 in 交接期, every register 表24 annexes
signed at every site) gets, at each 营业部, a 现场技术岗位 and a 被托管技术方 login with a confirmed second factor
and a draft 表8 form; a 技术组 login and observer logins are added. ``handover serve`` (gunicorn, and the task
worker beside it) then serves it on a free loopback port, and Locust (bench/handover_day_locust.py, headless, in
a subprocess, bounded by ``--seconds``) drives the day: the on-site posts add 表8 rows and sign them as
supervisors, import small 表18 files and give same-day feedback; the firm's IT signs the rows as executors; 技术组
reads the overview and site pages; observers read the summary. Every login enters a TOTP code computed from the
secret the generator made: the secrets go to Locust in a file readable only by this user, never to a log.

Printed: per page, requests, failures, p50/p95/p99 and the rate; the server's 5xx responses (gunicorn's access
log) and "database is locked" lines (its error log); on SQLite, ``PRAGMA integrity_check`` of the file afterwards;
the load average before and after; the CPU milliseconds per request of gunicorn, of the task workers and key
keeper, of PostgreSQL and of Locust (from /proc and the children's rusage), and the share of the cores they
used together. ``--ceiling S`` first drives the empty view alone (the favicon redirect through every middleware
and the session, ``--ceiling-users`` logged-in sessions back to back) for S seconds against the same server:
the most this machine serves, load generator included; the mix is then reported against it. ``--pin`` puts
Locust on the first core and the server, its children and PostgreSQL on the others. The exit code is 1 when
there was any 5xx or lock error or the file is damaged, so ``--quick`` is the smoke run of ``make test``
(tests/test_bench.py).

Usage: .venv/bin/python bench/handover_day.py [--quick] [--postgres] [--sites N] [--seconds S] [--workers W]
[--task-workers T] [--think MIN,MAX] [--ceiling S [--ceiling-users N]] [--pin]
``--quick``: 10 营业部, 20 writers (10 on-site posts, 10 firm IT), 2 技术组 and 2 observer sessions, 20 s.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import _django

BENCH = Path(__file__).resolve().parent
PASSWORD = "load-day-password-1234"


def generate(
    n_sites: int,
    tech: int,
    observers: int,
    cheap_hash: bool,
    folder: Path,
    n_bundles: int,
    code: str = "load",
    ceiling: int = 0,
) -> dict[str, object]:
    """The engagement and its logins; returns the plan Locust reads (with the TOTP secrets)."""
    import pyotp
    from django.contrib.auth.hashers import MD5PasswordHasher, make_password
    from django.utils import timezone

    import workflow_bench
    from handover.accounts.models import User
    from handover.core import localkey
    from handover.org.models import (
        ObserverBody,
        Organisation,
        OrgType,
        Party,
        Person,
        Role,
        RoleAssignment,
        Site,
    )
    from handover.registers.models import Account, Asset, Form, FormState, InformationSystem
    from handover.workflow.models import StepInstance

    engagement, _tech = workflow_bench.build(n_sites, code=code)
    now = timezone.now()
    # One hash for every login: hashing 600 would take minutes.
    password = MD5PasswordHasher().encode(PASSWORD, "loadday") if cheap_hash else make_password(PASSWORD)
    firm = Organisation.objects.create(engagement=engagement, name="某证券信息技术部", type=OrgType.FIRM)
    branches = list(Site.objects.filter(engagement=engagement, level="branch").order_by("code"))
    logins: list[dict[str, object]] = []
    made = bundles(engagement, branches[:n_bundles], folder / "bundles")

    def login(name: str, role: str, party: str, site: Site | None, **extra: object) -> dict[str, object]:
        secret = pyotp.random_base32()
        user = User.objects.create(
            username=name, password=password, enrolled_at=now, totp_secret_sealed=localkey.seal(secret),
            totp_confirmed_at=now,
        )  # fmt: skip
        org = (
            firm if party == Party.FIRM_IT else Organisation.objects.get(engagement=engagement, name="托管方")
        )
        person = Person.objects.create(
            engagement=engagement, name=name, organisation=org, party=party, user=user
        )
        body = ObserverBody.CSRC_BUREAU if role == Role.OBSERVER else ""
        RoleAssignment.objects.create(
            engagement=engagement, person=person, role=role, site=site, observer_body=body
        )
        entry = {"username": name, "password": PASSWORD, "totp": secret, "role": role, **extra}
        logins.append(entry)
        return entry

    for site in branches:
        systems = list(InformationSystem.objects.filter(site=site).values_list("pk", flat=True))
        assets = list(Asset.objects.filter(site=site).values_list("pk", flat=True))
        form = Form.objects.create(
            engagement=engagement, site=site, register_no=8, form_no=f"{site.code}-L08",
            form_date=dt.date(2026, 12, 1), state=FormState.DRAFT,
        )  # fmt: skip
        step = StepInstance.objects.filter(engagement=engagement, site=site, step_id="T-01").values_list(
            "pk", flat=True
        )[0]
        place = {"site_id": site.pk, "site_code": site.code, "form": form.pk, "systems": systems, "assets": assets,
                 "step": step, "bundle": made.get(site.pk)}  # fmt: skip
        login(f"{code}-onsite-{site.code}", Role.ONSITE_POST, Party.ONSITE_POST, site, **place)
        login(f"{code}-firm-{site.code}", Role.FIRM_IT, Party.FIRM_IT, site, **place)
    sites = [s.pk for s in branches]
    for k in range(tech):  # one login per session: a TOTP code is good once
        login(f"{code}-tech-{k}", Role.TECH_GROUP, Party.TECH_GROUP, None, sites=sites)
    for k in range(observers):
        login(f"{code}-observer-{k}", Role.OBSERVER, Party.BUSINESS, None)
    for k in range(
        ceiling
    ):  # the ceiling's sessions (the empty view only): observers, of the plan's role "ceiling"
        login(f"{code}-ceiling-{k}", Role.OBSERVER, Party.BUSINESS, None)["role"] = "ceiling"
    assert Account.objects.filter(engagement=engagement).exists()
    return {"code": code, "logins": logins}


def bundles(engagement: object, sites: list[object], folder: Path) -> dict[int, str]:
    """A signed fixity bundle per site, made by the real agent (enrolled at the site, a tiny tree scanned and
    verified); returns site id → bundle path."""
    from handover.backups import services
    from handover.core.actors import system
    from handover.fixity.cli import main as agent

    made: dict[int, str] = {}
    for site in sites:
        base = folder / site.code  # type: ignore[attr-defined]
        tree = base / "tree"
        tree.mkdir(parents=True)
        for k in range(3):
            (tree / f"clearing{k}.txt").write_bytes(b"%06d,trade,100.00\n" % k * 200)
        quiet = ("-q", "--jobs", "1")
        enrol = ["enroll", "--engagement", engagement.code, "--site", site.code,  # type: ignore[attr-defined]
                 "--export", str(base / "pub.json"), "--agent-dir", str(base / "agent")]  # fmt: skip
        steps = (
            enrol, ["scan", str(tree), "-o", str(base / "m"), "--algo", "sha256", *quiet],
            ["verify", str(tree), "--manifest", str(base / "m"), "--json", str(base / "v.json"), *quiet],
            ["bundle", str(base / "v.json"), "-o", str(base / "b.zip"), "--agent-dir", str(base / "agent"),
             "--system", "系统0"],
        )  # fmt: skip
        for step in steps:
            with contextlib.redirect_stdout(io.StringIO()):  # the agent's notes, one per site
                status = agent(step)
            if status != 0:
                raise SystemExit(f"handover-agent {step[0]} failed for {site.code}")  # type: ignore[attr-defined]
            if step is enrol:
                document = (base / "pub.json").read_bytes()
                services.site_key_enrol(actor=system("bench"), engagement=engagement, document=document)
        made[site.pk] = str(base / "b.zip")  # type: ignore[attr-defined]
    return made


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    port: int,
    workers: int,
    log: Path,
    cheap_hash: bool,
    task_workers: int = 1,
    cpus: set[int] | None = None,
    cpu_log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """``handover serve`` as an operator starts it, its output (access log included) into ``log``; ``cpus``:
    the cores it and its children (gunicorn, the task workers, the key keeper) may run on."""
    env = {**os.environ, "PYTHONPATH": f"{_django.SRC}:{BENCH}", "HANDOVER_ALLOWED_HOSTS": "127.0.0.1",
           "HANDOVER_LOG_LEVEL": "WARNING"}  # fmt: skip
    if cheap_hash:
        env["DJANGO_SETTINGS_MODULE"] = "handover_day_settings"
    if cpu_log:  # bench/handover_day_cpu.py, through the bench's settings
        env["HANDOVER_BENCH_CPU_LOG"] = str(cpu_log)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "handover", "serve", "--addr", f"127.0.0.1:{port}", "--workers", str(workers),
             "--task-workers", str(task_workers)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )  # fmt: skip
    for _ in range(600):
        if server.poll() is not None:
            raise SystemExit(f"handover serve exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).read()
            return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"handover serve did not answer on 127.0.0.1:{port}:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen[bytes]) -> None:
    import signal

    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def run_locust(
    plan: Path,
    port: int,
    users: int,
    seconds: int,
    out: Path,
    spawn: int,
    classes: list[str],
    cpus: set[int] | None = None,
) -> float:
    """Locust, headless, in one process of its own (``cpus``: the cores it may run on), the user ``classes``
    of bench/handover_day_locust.py; its CSV statistics go to ``out``. Returns the CPU seconds it used."""
    import resource

    env = {**os.environ, "HANDOVER_LOAD_PLAN": str(plan)}
    command = [
        sys.executable, "-m", "locust", "-f", str(BENCH / "handover_day_locust.py"), "--headless",
        "--users", str(users), "--spawn-rate", str(spawn), "--run-time", f"{seconds}s",
        "--host", f"http://127.0.0.1:{port}", "--csv", str(out), "--only-summary", "--loglevel", "WARNING",
        "--stop-timeout", "10", *classes,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not Path(f"{out}_stats.csv").exists():
        raise SystemExit(f"locust wrote no statistics (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def cpu_seconds(session: int = 0, parent: int = 0, gunicorn: bool | None = None) -> float:
    """CPU seconds used so far by the processes of a session (the server: ``handover serve`` and its children;
    ``gunicorn`` True: its web workers and master alone, False: the others — task workers, key keeper) or by a
    process and its children (PostgreSQL's postmaster and its backends), reaped children included."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            fields = stat.read_text().rsplit(")", 1)[1].split()
            web = b"gunicorn" in (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        ppid, sid = int(fields[1]), int(fields[3])
        if (session and sid == session and gunicorn in (None, web)) or (parent and parent in (pid, ppid)):
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / tick


def report(out: Path) -> dict[str, dict[str, float]]:
    """The per-page table; returns the figures (failures, requests, rate, p50/p95/p99 ms) of the whole run
    ("Aggregated") and of the ceiling's empty view."""
    print("| page | requests | failures | p50 ms | p95 ms | p99 ms | per s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    whole: dict[str, dict[str, float]] = {}
    with open(f"{out}_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            name = row["Name"] if row["Type"] else "all"
            name = "**all pages**" if row["Name"] == "Aggregated" else f"{row['Type']} {name}"
            print(f"| {name} | {row['Request Count']} | {row['Failure Count']} | {row['50%']} | {row['95%']} "
                  f"| {row['99%']} | {float(row['Requests/s']):.1f} |")  # fmt: skip
            if row["Name"] == "Aggregated" or row["Name"].startswith("ceiling"):
                whole[row["Name"]] = {"failures": int(row["Failure Count"]),
                                      "requests": int(row["Request Count"]), "rate": float(row["Requests/s"]),
                                      "p50": float(row["50%"]), "p95": float(row["95%"]),
                                      "p99": float(row["99%"])}  # fmt: skip
    failed = Path(f"{out}_failures.csv")
    if failed.exists():
        for row in list(csv.DictReader(failed.open(newline="")))[:10]:
            print(f"failure: {row['Method']} {row['Name']}: {row['Error'][:200]} ({row['Occurrences']}×)")
    return whole


def cpu_by_route(folder: Path) -> None:
    """The CPU the gunicorn workers spent per URL pattern (bench/handover_day_cpu.py's files), most first."""
    spent: dict[str, list[float]] = {}
    for log in folder.glob("cpu-*.log"):
        for line in log.read_text().splitlines():
            method, route, _status, ms = line.split(" ")
            spent.setdefault(f"{method} {route}", []).append(float(ms))
    total = sum(sum(v) for v in spent.values()) or 1.0
    print("| route (gunicorn worker CPU, in the stack) | requests | CPU ms mean | CPU ms median | share |")
    print("|---|---:|---:|---:|---:|")
    for route, values in sorted(spent.items(), key=lambda kv: -sum(kv[1])):
        values.sort()
        print(f"| {route} | {len(values)} | {sum(values) / len(values):.1f} | {values[len(values) // 2]:.1f} "
              f"| {sum(values) / total:.0%} |")  # fmt: skip


def cpu_line(what: str, requests: int, spent: dict[str, float], seconds: float) -> str:
    """CPU per request of each part, and of them all against the machine's cores over the phase."""
    if not requests:
        return f"{what}: no request"
    parts = ", ".join(f"{k} {1000 * v / requests:.2f}" for k, v in spent.items())
    busy = sum(spent.values()) / (seconds * (os.cpu_count() or 1))
    return (f"{what}: CPU ms per request: {parts}, all {1000 * sum(spent.values()) / requests:.2f}; together "
            f"{busy:.0%} of {os.cpu_count()} cores over {seconds:.0f} s")  # fmt: skip


def server_errors(log: Path) -> tuple[int, int]:
    """5xx answers in gunicorn's access log, and 'database is locked' anywhere in the server's output."""
    text = log.read_text(errors="replace")
    fives = len(re.findall(r'" 5\d\d ', text))
    return fives, text.count("database is locked")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the smoke run of make test")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--task-workers", type=int, default=1, help="task workers beside gunicorn")
    parser.add_argument("--writers", type=int, default=0, help="locust sessions of site logins (default all)")
    parser.add_argument("--observers", type=int, default=20)
    parser.add_argument("--tech", type=int, default=10, help="技术组 sessions (a login each)")
    parser.add_argument("--think", default="2,8", help="seconds a site login waits between actions (min,max)")
    parser.add_argument("--spawn", type=int, default=10, help="sessions started per second (each logs in)")
    parser.add_argument("--bundles", type=int, default=30, help="营业部 whose post uploads a fixity bundle")
    parser.add_argument(
        "--cheap-hash", action="store_true", help="MD5 passwords (bench/handover_day_settings.py)"
    )
    parser.add_argument(
        "--registers-only", action="store_true",
        help="the register pages and posts alone: no 技术组 or observer sessions, no workflow page or feedback",
    )  # fmt: skip
    parser.add_argument(
        "--ceiling", type=int, default=0, metavar="S",
        help="first, S seconds of the empty view alone, back to back: the most the machine serves",
    )  # fmt: skip
    parser.add_argument("--ceiling-users", type=int, default=8, help="sessions of the ceiling run")
    parser.add_argument(
        "--pin", action="store_true",
        help="Locust on core 0; the server, its children and PostgreSQL on the other cores",
    )  # fmt: skip
    parser.add_argument(
        "--cpu-log", action="store_true",
        help="with --cheap-hash: each request's CPU in its worker, summed per URL pattern (the mix only)",
    )  # fmt: skip
    parser.add_argument("--seed", type=Path, help="a migrated SQLite database to start from (tests)")
    parser.add_argument("--static", type=Path, help="a folder of collected static files to share (tests)")
    args = parser.parse_args()
    if args.quick:
        args.sites, args.seconds, args.observers, args.tech, args.workers = 10, 20, 2, 2, 3
        args.think, args.cheap_hash, args.bundles = "0.5,2", True, 10
    began = time.perf_counter()
    data = _django.configure(args.postgres, seed=args.seed)
    print(f"migrated in {time.perf_counter() - began:.1f} s")
    if args.static:  # else `handover serve` collects them into the data folder
        (data / "static").rmdir()
        (data / "static").symlink_to(args.static, target_is_directory=True)
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="handover-load-"))
    ceiling_users = args.ceiling_users if args.ceiling else 0
    plan = generate(
        args.sites, args.tech, args.observers, args.cheap_hash, folder, args.bundles, ceiling=ceiling_users
    )
    built = time.perf_counter() - started  # with the bundles
    writers = args.writers or 2 * args.sites
    users = writers + args.tech + args.observers
    if args.registers_only:
        args.tech = args.observers = 0
    plan.update(writers=writers, tech=args.tech, observers=args.observers, registers_only=args.registers_only,
                think=[float(s) for s in args.think.split(",")], ceiling=ceiling_users)  # fmt: skip
    plan_file = folder / "plan.json"
    plan_file.touch(mode=0o600)
    plan_file.write_text(json.dumps(plan))
    from django.db import connection

    cores = sorted(os.sched_getaffinity(0))
    locust_cpus = {cores[0]} if args.pin else None
    server_cpus = set(cores[1:]) if args.pin else None
    postmaster = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
        if server_cpus:  # its backends are forked from it: they inherit the cores
            os.sched_setaffinity(postmaster, server_cpus)
    print(f"database: {connection.vendor} {connection.Database.sqlite_version if connection.vendor == 'sqlite' else ''}"
          f"; {args.sites} 营业部 built in {built:.1f} s; {writers} writer, {args.tech} 技术组 and "
          f"{args.observers} observer sessions for {args.seconds} s, think {args.think} s; gunicorn workers "
          f"{args.workers} + {args.task_workers} task worker(s); {len(cores)} cores"
          f"{f', Locust on {sorted(locust_cpus)}, the rest on {sorted(server_cpus)}' if args.pin else ', shared'}; "
          f"load average before {os.getloadavg()[0]:.1f}")  # fmt: skip
    if connection.vendor == "sqlite":  # the generator's writes leave the WAL large: fold it in before serving
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    log = folder / "server.log"
    port = free_port()
    began = time.perf_counter()
    cpu_log = folder / "cpu" if args.cpu_log and args.cheap_hash else None
    if cpu_log:
        cpu_log.mkdir()
    server = serve(port, args.workers, log, args.cheap_hash, args.task_workers, server_cpus, cpu_log)
    print(f"server up in {time.perf_counter() - began:.1f} s")
    mix = ["OnsitePost", "FirmIT", "TechGroup", "Observer"]
    phases: list[tuple[str, Path, int, list[str], int, int]] = []
    if ceiling_users:
        phases.append(
            ("ceiling", folder / "ceiling", args.ceiling, ["Ceiling"], ceiling_users, ceiling_users)
        )
    phases.append(("mix", folder / "locust", args.seconds, mix, users, args.spawn))
    spent: dict[str, dict[str, float]] = {}
    walls: dict[str, float] = {}
    try:
        for name, out, seconds, classes, n, spawn in phases:

            def used() -> dict[str, float]:
                return {
                    "gunicorn": cpu_seconds(session=server.pid, gunicorn=True),
                    "task workers and keeper": cpu_seconds(session=server.pid, gunicorn=False),
                    "PostgreSQL": cpu_seconds(parent=postmaster),
                }

            before, wall = used(), time.perf_counter()
            locust_cpu = run_locust(plan_file, port, n, seconds, out, spawn, classes, locust_cpus)
            spent[name] = {k: v - before[k] for k, v in used().items()} | {"Locust": locust_cpu}
            walls[name] = time.perf_counter() - wall
            if cpu_log and name == "ceiling":  # the per-route figures are the mix's
                for done in cpu_log.glob("cpu-*.log"):
                    done.write_text("")
            print(f"{name}: load average after {os.getloadavg()[0]:.1f}")
    finally:
        stop(server)
        plan_file.unlink()
    print(f"load average after {os.getloadavg()[0]:.1f}")
    whole: dict[str, dict[str, float]] = {}
    for name, out, *_ in phases:
        print(f"\n{name}:")
        whole[name] = report(out)
        print(cpu_line(name, int(whole[name]["Aggregated"]["requests"]), spent[name], walls[name]))
    if cpu_log:
        print("\nmix, CPU per route:")
        cpu_by_route(cpu_log)
    failures = int(whole["mix"]["Aggregated"]["failures"])
    if ceiling_users:
        top, rate = whole["ceiling"].get("ceiling: empty view"), whole["mix"]["Aggregated"]["rate"]
        if top is None:
            print(f"ceiling: no empty view answered in {args.ceiling} s (the sessions' logins took it all)")
        else:
            print(f"ceiling (the empty view alone, {ceiling_users} sessions back to back): {top['rate']:.1f} "
                  f"requests/s, p50 {top['p50']:.0f} ms, p95 {top['p95']:.0f} ms; the mix: {rate:.1f} pages/s, "
                  f"{rate / top['rate']:.1%} of the ceiling")  # fmt: skip
    fives, locked = server_errors(log)
    print(f"server: 5xx answers {fives}; 'database is locked' {locked}")
    damaged: list[str] = []
    if not args.postgres:  # the file the day wrote, checked as a crash test checks it
        from handover.core import sqlitesafety

        damaged = sqlitesafety.integrity_problems(data / "handover.sqlite3")
        print(f"integrity_check: {'; '.join(damaged[:5]) or 'ok'}")
    print(f"failed requests {failures} (a page that did not land where it should: see above)")
    if fives or locked or damaged:
        print(f"server log: {log}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
