"""Rotation through Django (issue 15's goal), run by ``make bench``; figures in docs/benchmarks.md ("Rotation:
the Django run").

The goal: 500 super-user accounts on 500 simulated hosts rotated and verified in at most 10 minutes with the
per-site caps on. The simulator is discovery's (bench/discovery_gather.py: asyncssh in its own process, one
loopback port per virtual host, latency ±50 % before each answer), with hosts that keep state: each has an
/etc/shadow that ``chpasswd -e`` (``user:$6$…`` on stdin) really rewrites, answers the Linux changer's
commands (``getent shadow``, the snapshot script, ``true``; connectors/change/linux.py) from that state, and
takes a password login only when the password matches the account's current hash (sha512crypt, cached per
hash and password). Every host has root (the target's credential) and ``opsadm`` (a super-user through
``wheel``) and three ordinary accounts; on 1 % of hosts ``opsadm`` may not log in over SSH (DenyUsers: the
outcome is 未验证).

In one command:

* set-up (not timed as the goal): discovery over the simulator (so that facts and the 表8 改密前备份 rows
  exist, as a user reaches them), ``opsadm``'s original password captured in the vault, a second person;
* the Django run: ``plan_create(concurrency=32, per_site=8)`` → ``plan_approve`` by the second person →
  ``plan_run``. The plan covers every super-user with a vault entry, so root (the connection's own account,
  changed last on its host) is rotated too: two accounts per host;
* the baseline: the changer's calls alone (snapshot, stored verifier, ``chpasswd``, stored verifier, snapshot,
  login: what the pipeline sends) with the same caps over the same hosts and accounts, no Django, no vault,
  starting from the vault's current secrets (so it also proves they log in); and one host at a time over the
  first ``--baseline`` hosts.

Reported: wall time, accounts per minute, per-account time and the ratio to the connectors alone; the vault's
share (its service calls timed where the run calls them), the database steps' share, sha512crypt's share on
both sides, and the CPU time of both processes.

Usage: .venv/bin/python bench/rotation_run.py [--quick] [--hosts N] [--latency MS] [--baseline N]
``--quick``: 20 hosts, 5 ms, baseline 5 (tests/test_bench.py runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discovery_django
import discovery_gather as sim

OPS = "opsadm"
OPS_PASSWORD = "bench-ops-Original-7x"
APPS = ("app1", "app2", "app3")
SUCCESS, UNVERIFIED, FAILED = "成功", "未验证", "失败"  # vault.models.VerifyResult's values


def denied(n: int) -> bool:
    """Whether virtual host ``n`` refuses ``opsadm``'s SSH login (DenyUsers): 1 % of hosts."""
    return n % 100 == 7


# --- the simulator (its own process) --------------------------------------------------------------------


@dataclass
class Verifier:
    """sha512crypt checks of the simulator's password logins, cached per (hash, password)."""

    cache: dict[tuple[str, str], bool] = field(default_factory=dict)
    calls: int = 0
    computed: int = 0
    seconds: float = 0.0

    def check(self, password: str, hashed: str) -> bool:
        from handover.connectors.change.sha512crypt import verify

        self.calls += 1
        key = (hashed, password)
        if key not in self.cache:
            start = time.perf_counter()
            self.cache[key] = verify(password, hashed)
            self.seconds += time.perf_counter() - start
            self.computed += 1
        return self.cache[key]


@dataclass
class Host:
    """One virtual host's accounts: passwd, shadow (rewritten by chpasswd), groups, sudoers, keys."""

    n: int
    shadow: dict[str, list[str]]

    PASSWD = {
        "root": "root:x:0:0:root:/root:/bin/bash",
        OPS: f"{OPS}:x:1000:1000:Ops Admin,,,:/home/{OPS}:/bin/bash",
        **{
            a: f"{a}:x:{1001 + i}:{1001 + i}:App {i},,,:/home/{a}:/usr/sbin/nologin"
            for i, a in enumerate(APPS)
        },
    }
    GROUPS = {"root": "root", OPS: f"{OPS} wheel", **{a: a for a in APPS}}
    SUDOERS = "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%wheel ALL=(ALL) ALL\n@includedir /etc/sudoers.d\n"

    @classmethod
    def fresh(cls, n: int, root_hash: str, ops_hash: str) -> Host:
        hashes = {"root": root_hash, OPS: ops_hash, **dict.fromkeys(APPS, "!")}
        return cls(n, {u: [u, h, "19000", "0", "99999", "7", "", "", ""] for u, h in hashes.items()})

    def keys(self, user: str) -> bytes:
        if user != OPS:
            return b""
        blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + hashlib.sha256(b"%d" % self.n).digest()
        return f"ssh-ed25519 {base64.b64encode(blob).decode()} {OPS}@pc\n".encode()

    def files(self) -> dict[str, bytes]:
        """The collection stream's files (discovery reads them)."""
        lines = {
            "etc/passwd": list(self.PASSWD.values()),
            "etc/shadow": [":".join(f) for f in self.shadow.values()],
            "etc/group": ["root:x:0:", f"wheel:x:10:{OPS}", f"{OPS}:x:1000:"]
            + [f"{a}:x:{1001 + i}:" for i, a in enumerate(APPS)],
            "etc/gshadow": ["root:*::", f"wheel:!::{OPS}"],
            "handover/sshd-T.txt": [
                "port 22",
                "permitrootlogin yes",
                "authorizedkeysfile .ssh/authorized_keys",
            ]
            + ([f"denyusers {OPS}"] if denied(self.n) else []),
            "handover/lastlog.txt": ["Username Port From Latest"]
            + [f"{u}                                          **Never logged in**" for u in self.PASSWD],
        }
        files = {name: ("\n".join(text) + "\n").encode() for name, text in lines.items()}
        files["etc/sudoers"] = self.SUDOERS.encode()
        files[f"home/{OPS}/.ssh/authorized_keys"] = self.keys(OPS)
        return files

    def snapshot(self, user: str) -> str:
        """What the changer's snapshot script prints (passwd, shadow 1,4-9, id -Gn, two sha256sum)."""
        f = self.shadow[user]
        parts = [
            self.PASSWD[user],
            ":".join([f[0], *f[3:9]]),
            self.GROUPS[user],
            hashlib.sha256(self.SUDOERS.encode()).hexdigest() + "  -",
            hashlib.sha256(self.keys(user)).hexdigest() + "  -",
        ]
        return "\n--\n".join(parts) + "\n"

    def chpasswd(self, text: str) -> tuple[int, str]:
        """``chpasswd -e``: each ``user:hash`` line sets the hash and the last change (days since 1970)."""
        today = str((dt.date.today() - dt.date(1970, 1, 1)).days)
        for number, line in enumerate(text.splitlines(), 1):
            user, _, hashed = line.partition(":")
            if user not in self.shadow or not hashed.startswith("$"):
                return 1, f"chpasswd: line {number}: cannot update the password of {user!r}\n"
            self.shadow[user][1:3] = [hashed, today]
        return 0, ""


AS_ROOT = re.compile(r'if \[ "\$\(id -u\)" = 0 \]; then exec (.+); else exec sudo -n \1; fi', re.S)


def reads_stdin(command: str) -> bool:
    """Whether ``command`` reads its standard input (the changer sends no end of file to those that do not:
    asyncssh's ``run(input="")`` writes nothing and closes nothing)."""
    from handover.connectors.linux.ssh import REMOTE_COMMAND

    found = AS_ROOT.fullmatch(command)
    return command == REMOTE_COMMAND or (
        found is not None
        and (found.group(1) in ("chpasswd -e", "sh -s") or found.group(1).startswith("sh -s -- "))
    )


def answer(host: Host, user: str, command: str, stdin: str) -> tuple[int, str, str, str]:
    """(exit, stdout, stderr, kind) of ``command`` run by ``user`` on ``host``: exactly what the changer and
    the discovery gathering send, nothing else."""
    from handover.connectors.linux.ssh import REMOTE_COMMAND

    if command == REMOTE_COMMAND:
        return 0, sim.stream(host.files()).decode(), "", "collect"
    if command == "true":
        return 0, "", "", "login"
    found = AS_ROOT.fullmatch(command)
    if found is None:
        return 127, "", f"sh: {command[:40]!r}: not found\n", "other"
    if user != "root":
        return 1, "", "sudo: a password is required\n", "other"
    words = shlex.split(found.group(1))
    if words == ["chpasswd", "-e"]:
        code, err = host.chpasswd(stdin)
        return code, "", err, "chpasswd"
    if words[:2] == ["getent", "shadow"] and len(words) == 3:
        line = host.shadow.get(words[2])
        return (0, ":".join(line) + "\n", "", "shadow") if line else (2, "", "", "shadow")
    if words[:3] == [
        "sh",
        "-s",
        "--",
    ]:  # the configuration dependencies' search: the simulated hosts have none
        return 0, "", "", "dependencies"
    if words == ["sh", "-s"]:
        account = re.match(r"getent passwd (\S+);", stdin)
        name = shlex.split(account.group(1))[0] if account else ""
        if name in host.shadow:
            return 0, host.snapshot(name), "", "snapshot"
    return 127, "", "sh: not answered by the simulator\n", "other"


async def serve(ports: list[int], latency: float, ready: Path, stats: Path) -> None:
    import asyncssh

    from handover.connectors.change.sha512crypt import sha512_crypt

    key = asyncssh.generate_private_key("ssh-ed25519")
    root_hash, ops_hash = sha512_crypt(sim.PASSWORD, "benchroot"), sha512_crypt(OPS_PASSWORD, "benchops")
    hosts = [Host.fresh(n, root_hash, ops_hash) for n in range(len(ports))]
    verifier = Verifier()
    sessions: collections.Counter[str] = collections.Counter()

    class Server(asyncssh.SSHServer):
        def __init__(self, n: int) -> None:
            self.n = n

        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            line = hosts[self.n].shadow.get(username)
            if line is None or (username == OPS and denied(self.n)):
                return False
            return verifier.check(password, line[1])

    def handler(n: int) -> Callable[[Any], Any]:
        async def process(proc: Any) -> None:
            command = proc.command or ""
            stdin = (await proc.stdin.read()).decode("utf-8", "replace") if reads_stdin(command) else ""
            await asyncio.sleep(latency * random.uniform(0.5, 1.5))
            code, out, err, kind = answer(hosts[n], proc.get_extra_info("username"), command, stdin)
            sessions[kind] += 1
            proc.stdout.write(out.encode())
            proc.stderr.write(err.encode())
            proc.exit(code)

        return process

    for n, port in enumerate(ports):
        await asyncssh.listen(
            "127.0.0.1", port, server_host_keys=[key], server_factory=lambda n=n: Server(n),
            process_factory=handler(n), encoding=None, backlog=256,
        )  # fmt: skip
    done = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    ready.write_text("ready")
    await done.wait()
    cpu = time.process_time()
    stats.write_text(json.dumps({
        "sessions": dict(sessions), "verify_calls": verifier.calls, "verify_computed": verifier.computed,
        "verify_seconds": verifier.seconds, "cpu_seconds": cpu,
    }))  # fmt: skip


@contextlib.contextmanager
def simulator(ports: list[int], latency: float) -> Iterator[dict[str, Any]]:
    """The simulator's process while the block runs; its statistics in the dict once it has stopped."""
    base = f"/tmp/rotation-bench-{os.getpid()}"  # noqa: S108
    ready, stats = Path(f"{base}.ready"), Path(f"{base}.json")
    server = subprocess.Popen(
        [sys.executable, __file__, "--latency", str(latency), "--ready", str(ready), "--stats", str(stats),
         "--serve", *map(str, ports)],
    )  # fmt: skip
    figures: dict[str, Any] = {}
    try:
        while not ready.exists():
            if server.poll() is not None:
                raise SystemExit("the simulator did not start")
            time.sleep(0.1)
        yield figures
    finally:
        server.terminate()
        server.wait()
        if stats.exists():
            figures.update(json.loads(stats.read_text()))
        ready.unlink(missing_ok=True)
        stats.unlink(missing_ok=True)


# --- timing what the run calls ------------------------------------------------------------------------


class Timer:
    """Seconds and calls per label of wrapped functions; a call inside another of the same timer counts once."""

    def __init__(self) -> None:
        self.seconds: collections.defaultdict[str, float] = collections.defaultdict(float)
        self.calls: collections.Counter[str] = collections.Counter()
        self.local = threading.local()

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self.local, "depth", 0)
            self.local.depth = depth + 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.local.depth = depth
                if depth == 0:
                    self.seconds[label] += time.perf_counter() - start
                    self.calls[label] += 1

        return timed

    def total(self) -> float:
        return sum(self.seconds.values())

    def count(self) -> int:
        return sum(self.calls.values())


@contextlib.contextmanager
def timed_run(vault: Timer, steps: Timer, crypt: Timer) -> Iterator[None]:
    """The vault's services as rotation calls them, every step the run's bridge does in the calling thread
    (database and vault), and the client's sha512crypt, each timed; put back afterwards."""
    from handover.connectors.change import linux as changer
    from handover.rotation import services as rotation
    from handover.vault import passwords
    from handover.vault import services as vault_services

    patches: list[tuple[Any, str, Any]] = [
        (vault_services, name, vault.wrap(name, getattr(vault_services, name)))
        for name in (
            "secret_stage",
            "secret_promote",
            "secret_abandon",
            "secret_use_for_task",
            "live_pending",
        )
    ]
    patches.append((passwords, "generate", vault.wrap("passwords.generate", passwords.generate)))
    patches += [(changer, n, crypt.wrap(n, getattr(changer, n))) for n in ("sha512_crypt", "verify")]
    real_call = rotation._Bridge.__call__

    async def bridged(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await real_call(self, steps.wrap(fn.__name__, fn), *args, **kwargs)

    patches.append((rotation._Bridge, "__call__", bridged))
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


# --- the Django run -------------------------------------------------------------------------------------


def set_up(ports: list[int], timeout: float) -> tuple[Any, Any, Any, float]:
    """Discovery's engagement (16 branches, root's password in the vault per target), gathered over the
    simulator; opsadm's original password captured; a second person to approve. Returns the seconds taken."""
    from django.utils import timezone

    from handover.accounts.models import User
    from handover.core.actors import system
    from handover.discovery import services as discovery
    from handover.org.models import Organisation, Party, Person, Role, RoleAssignment
    from handover.registers.models import Account
    from handover.vault import services as vault
    from handover.vault.models import SecretKind

    start = time.perf_counter()
    engagement, tech = discovery_django.build(ports, timeout)
    run = discovery.run_execute(
        run_id=discovery.run_start(actor=tech, engagement=engagement, enqueue=False).pk
    )
    if run.counts.get("ok") != len(ports):
        raise SystemExit(f"discovery over the simulator: {run.counts}")
    for account in Account.objects.filter(engagement=engagement, login_name=OPS).select_related(
        "system__site"
    ):
        vault.secret_capture(
            actor=system("bench"), account=account, secret=OPS_PASSWORD, kind=SecretKind.ORIGINAL
        )
    other = User.objects.create_user(
        username="bench-approver", password="bench-password-5678", enrolled_at=timezone.now()
    )
    person = Person.objects.create(
        engagement=engagement, name="技术组二", organisation=Organisation.objects.get(engagement=engagement),
        party=Party.TECH_GROUP, user=other,
    )  # fmt: skip
    RoleAssignment.objects.create(engagement=engagement, person=person, role=Role.TECH_GROUP)
    return engagement, tech, other, time.perf_counter() - start


def django_run(engagement: Any, tech: Any, other: Any, concurrency: int, per_site: int) -> dict[str, Any]:
    """plan_create → plan_approve (the other person) → plan_run, timed; the outcomes per account."""
    from handover.rotation import services as rotation
    from handover.rotation.models import RotationItem

    vault, steps, crypt = Timer(), Timer(), Timer()
    cpu, start = time.process_time(), time.perf_counter()
    with timed_run(vault, steps, crypt):
        plan = rotation.plan_create(
            actor=tech, engagement=engagement, concurrency=concurrency, per_site=per_site
        )
        created = time.perf_counter()
        plan = rotation.plan_approve(actor=other, plan=plan)
        approved = time.perf_counter()
        plan = rotation.plan_run(plan_id=plan.pk)
    wall = time.perf_counter() - start
    outcomes: collections.Counter[str] = collections.Counter()
    for login, state, outcome in RotationItem.objects.filter(plan=plan).values_list(
        "login_name", "state", "outcome"
    ):
        outcomes[f"{'root' if login == 'root' else 'super-user'} {outcome or state}"] += 1
    return {
        "plan": plan, "wall": wall, "create": created - start, "approve": approved - created,
        "cpu": time.process_time() - cpu, "outcomes": outcomes, "vault": vault, "steps": steps, "crypt": crypt,
    }  # fmt: skip


# --- the baseline: the changer's calls alone ------------------------------------------------------------


def current_secrets(engagement: Any) -> list[tuple[Any, str, dict[str, str]]]:
    """Each host's place, site and the vault's current secrets of root and opsadm (not timed)."""
    from handover.discovery.models import Target
    from handover.discovery.services import engine_target
    from handover.registers.models import Account
    from handover.vault import services as vault

    hosts = []
    for target in Target.objects.filter(engagement=engagement).select_related("asset", "site").order_by("pk"):
        held = {}
        for account in Account.objects.filter(asset=target.asset, login_name__in=("root", OPS)):
            held[account.login_name] = vault.secret_use_for_task(
                entry_id=account.vault_entry.pk, purpose="bench: the baseline starts from the current secret"
            )
        hosts.append((engine_target(target), target.site.code, held))
    return hosts


async def connectors_only(
    hosts: list[tuple[Any, str, dict[str, str]]], concurrency: int, per_site: int
) -> Any:
    """The pipeline's six sessions per account (opsadm, then root) with the changer alone: (wall, outcomes)."""
    from handover.connectors import run
    from handover.connectors.change import linux
    from handover.connectors.errors import GatherError
    from handover.connectors.manifest import Credential

    limits = run.Limits(concurrency, per_site)
    outcomes: collections.Counter[str] = collections.Counter()

    async def one(place: Any, held: dict[str, str], account: str) -> str:
        admin = Credential("root", held["root"])
        before = await linux.snapshot(place, admin, account)
        new = secrets.token_urlsafe(18)
        if not await linux.shadow_matches(place, admin, account, new):
            await linux.change(place, admin, account, new)
        if account == "root":
            admin = Credential("root", new)
        if not await linux.shadow_matches(place, admin, account, new):
            return FAILED
        held[account] = new
        after = await linux.snapshot(place, admin, account)
        login = await linux.login_works(place, account, new)
        return FAILED if after != before else SUCCESS if login else UNVERIFIED

    async def host(place: Any, site: str, held: dict[str, str]) -> None:
        async with limits.slot(site):
            for account in (OPS, "root"):
                try:
                    outcome = await one(place, held, account)
                except GatherError as exc:
                    outcome = exc.status.value
                outcomes[f"{'root' if account == 'root' else 'super-user'} {outcome}"] += 1

    start = time.perf_counter()
    await asyncio.gather(*(host(*h) for h in hosts))
    return time.perf_counter() - start, outcomes


# --- the report -----------------------------------------------------------------------------------------


def said(counts: collections.Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def table(header: str, lines: Sequence[tuple[str, ...]]) -> None:
    """A Markdown table: figures right-aligned, the first column and the outcomes left."""
    print(header)
    names = [h.strip() for h in header.strip("|").split("|")]
    print("|" + "|".join("---" if i == 0 or n == "outcomes" else "---:" for i, n in enumerate(names)) + "|")
    for line in lines:
        print("| " + " | ".join(line) + " |")


def report(
    args: Any, setup: float, django: dict[str, Any], base: Any, one: Any, server: dict[str, Any]
) -> None:
    """The figures: the runs against the baseline, then where the Django run's time went."""
    (base_wall, base_out), (one_wall, one_out) = base, one
    base_each = base_wall / max(1, sum(base_out.values()))
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Rotation through Django: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, SQLite; load average after the run {load}")  # fmt: skip
    print(f"{args.hosts} simulated hosts on 16 sites, root + one super-user each, latency {args.latency:.0f} ms "
          f"±50 %, {sum(denied(n) for n in range(args.hosts))} host(s) refusing the super-user's SSH login; "
          f"set-up (discovery, originals captured) {setup:.1f} s\n")  # fmt: skip
    runs = [
        ("connectors alone, change + verify, 32 / 8 (baseline)", args.hosts, base_out, base_wall),
        ("connectors alone, one host at a time", min(args.baseline, args.hosts), one_out, one_wall),
        (f"Django: plan_create + approve + plan_run ({django['plan'].state}), 32 / 8", args.hosts,
         django["outcomes"], django["wall"]),
    ]  # fmt: skip
    rows = []
    for label, hosts, outcomes, wall in runs:
        n = sum(outcomes.values())
        rows.append((label, str(hosts), str(n), said(outcomes), f"{wall:.1f}", f"{n / wall * 60:.0f}",
                     f"{wall / n * 1000:.1f}", f"{wall / n / base_each:.2f}"))  # fmt: skip
    table("| run | hosts | accounts | outcomes | wall (s) | accounts per minute | per account (ms) "
          "| ratio to the connectors alone |", rows)  # fmt: skip
    wall, accounts = django["wall"], sum(django["outcomes"].values())
    print(f"\nDjango run, {accounts} accounts: plan_create {django['create']:.1f} s, approve "
          f"{django['approve']:.2f} s, plan_run {wall - django['create'] - django['approve']:.1f} s; "
          f"client process CPU {django['cpu']:.1f} s\n")  # fmt: skip
    shares = [
        (label, str(calls), f"{seconds:.1f}", f"{seconds / wall:.1%}", f"{seconds / accounts * 1000:.1f}")
        for label, calls, seconds in spent(django, server)
    ]
    table(
        "| where the Django run's time went | calls | seconds | share of the wall | per account (ms) |",
        shares,
    )
    if server:
        print(f"\nsimulator sessions: {said(collections.Counter(server['sessions']))}")


def spent(django: dict[str, Any], server: dict[str, Any]) -> list[tuple[str, int, float]]:
    """(label, calls, seconds): the bridge's steps, the vault's services, sha512crypt on both sides."""
    steps, vault, crypt = django["steps"], django["vault"], django["crypt"]
    lines = [("the run's steps in the calling thread (database and vault)", steps.count(), steps.total())]
    lines += [
        (f"– step {k}", steps.calls[k], v) for k, v in sorted(steps.seconds.items(), key=lambda kv: -kv[1])
    ]
    lines += [("the vault's services (inside those steps)", vault.count(), vault.total())]
    lines += [
        (f"– vault {k}", vault.calls[k], v) for k, v in sorted(vault.seconds.items(), key=lambda kv: -kv[1])
    ]
    lines += [(f"client sha512crypt: {k} (event loop)", crypt.calls[k], v) for k, v in crypt.seconds.items()]
    if server:
        computed = f"simulator sha512crypt: verify ({server['verify_computed']} computed, the rest cached)"
        lines += [(computed, server["verify_calls"], server["verify_seconds"])]
        lines += [
            ("simulator process CPU (per session)", sum(server["sessions"].values()), server["cpu_seconds"])
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--latency", type=float, default=50.0, help="ms the simulator waits before answering")
    parser.add_argument("--baseline", type=int, default=50, help="hosts of the one-at-a-time baseline")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--serve", nargs="*", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ready", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.hosts, args.latency, args.baseline, args.timeout = 20, 5.0, 5, 5.0
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.latency / 1000, Path(args.ready), Path(args.stats)))
        return
    import _django

    _django.configure(False, HANDOVER_DISCOVERY_CONCURRENCY="32", HANDOVER_DISCOVERY_PER_SITE="8")
    ports = sim.free_ports(args.hosts)
    with simulator(ports, args.latency) as server:
        engagement, tech, other, setup = set_up(ports, args.timeout)
        django = django_run(engagement, tech, other, 32, 8)
        hosts = current_secrets(engagement)
        base = asyncio.run(connectors_only(hosts, 32, 8))
        one = asyncio.run(connectors_only(hosts[: args.baseline], 1, 1))
    report(args, setup, django, base, one, server)


if __name__ == "__main__":
    main()
