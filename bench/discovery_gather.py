"""Discovery gathering benchmark, run by ``make bench``; figures in docs/benchmarks.md ("Discovery: Linux
gathering").

An asyncssh server simulator (a separate process, so that it has its own core) listens on loopback on one
port per virtual host and answers the collection command with that host's files in the collection stream
(a passwd/shadow/group/gshadow of ``--accounts`` accounts, sudoers with aliases and an includedir, keys,
``sshd -T``, lastlog), after an injected latency; a share of the hosts refuse the password, never answer
(time out), or have no listener (unreachable). The client gathers them all with
``linux.gather_many(concurrency=32, per_site=8)`` over 16 sites.

Reported: wall time and time per host for the whole run, against two baselines measured in the same
command: the same gather with concurrency 1 on the first ``--baseline`` hosts, and the parse alone
(``build(from_stream(...))``) of every OK host's stream.

Usage: .venv/bin/python bench/discovery_gather.py [--quick] [--hosts N] [--accounts N] [--latency MS]
``--quick``: 20 hosts, 10 accounts, 5 ms, baseline 5 (tests/test_bench.py runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import platform
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "src"))

PASSWORD = "bench-password"
SITES = 16


def host_files(n: int, accounts: int) -> dict[str, bytes]:
    """The files of virtual host ``n``: ``accounts`` users, sudo through a group and an alias, keys."""
    rnd = random.Random(n)
    users = [f"u{n}x{i}" for i in range(accounts)]
    passwd = ["root:x:0:0:root:/root:/bin/bash"] + [
        f"{u}:x:{1000 + i}:{1000 + i}:User {i},,,:/home/{u}:/bin/bash" for i, u in enumerate(users)
    ]
    shadow = ["root:$6$s$h:19000:0:99999:7:::"] + [
        f"{u}:{rnd.choice(['$6$s$h', '!$6$s$h', '*', '', '!!'])}:{19000 + i}:0:{rnd.choice([90, 99999])}:7:::"
        for i, u in enumerate(users)
    ]
    wheel = ",".join(users[: max(1, accounts // 10)])
    group = ["root:x:0:", f"wheel:x:10:{wheel}", f"docker:x:998:{users[-1]}"] + [
        f"{u}:x:{1000 + i}:" for i, u in enumerate(users)
    ]
    gshadow = ["root:*::", f"wheel:!::{wheel}"]
    sudoers = [
        "Defaults env_reset",
        f"User_Alias OPS = {', '.join(users[-3:])}",
        "Cmnd_Alias SVC = /bin/systemctl restart *, /bin/journalctl",
        "root ALL=(ALL:ALL) ALL",
        "%wheel ALL=(ALL) ALL",
        "OPS ALL=(root) NOPASSWD: SVC",
        "@includedir /etc/sudoers.d",
    ]
    key = base64.b64encode(
        b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + hashlib.sha256(b"%d" % n).digest()
    )
    files = {
        "etc/passwd": passwd, "etc/shadow": shadow, "etc/group": group, "etc/gshadow": gshadow,
        "etc/sudoers": sudoers, "etc/sudoers.d/batch": [f"{users[0]} ALL=(ALL) NOPASSWD: ALL"],
        f"home/{users[0]}/.ssh/authorized_keys": [f"ssh-ed25519 {key.decode()} {users[0]}@pc"],
        "handover/sshd-T.txt": ["port 22", "permitrootlogin yes", "authorizedkeysfile .ssh/authorized_keys"],
        "handover/lastlog.txt": ["Username Port From Latest", "root pts/0 10.0.0.1 Fri Dec  4 10:00:00 +0000 2026"]
        + [f"{u}                                          **Never logged in**" for u in users],
    }  # fmt: skip
    return {name: ("\n".join(lines) + "\n").encode() for name, lines in files.items()}


def stream(files: dict[str, bytes]) -> bytes:
    out = []
    for name, data in files.items():
        out.append(f"==> HANDOVER FILE b64 {name}\n".encode())
        out.append(base64.encodebytes(data))
        out.append(f"==> HANDOVER END {hashlib.sha256(data).hexdigest()}\n".encode())
    out.append(b"==> HANDOVER DONE\n")
    return b"".join(out)


def fate(n: int) -> str:
    """What virtual host ``n`` does: most answer; 2 % refuse the password, 1 % hang, 1 % are not there."""
    r = n % 100
    return {7: "auth", 31: "auth", 53: "hang", 89: "down"}.get(r, "ok")


# --- the simulator (its own process) --------------------------------------------------------------------


async def serve(ports: list[int], accounts: int, latency: float, ready: Path) -> None:
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    streams: dict[int, bytes] = {}

    class Server(asyncssh.SSHServer):
        def __init__(self, n: int) -> None:
            self.n = n

        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return fate(self.n) != "auth" and password == PASSWORD

    def handler(n: int):
        async def process(proc: asyncssh.SSHServerProcess) -> None:
            await proc.stdin.read()  # the collection script
            if fate(n) == "hang":
                await asyncio.sleep(3600)
            await asyncio.sleep(latency * random.uniform(0.5, 1.5))
            if n not in streams:
                streams[n] = stream(host_files(n, accounts))
            proc.stdout.write(streams[n])
            proc.exit(0)

        return process

    for n, port in enumerate(ports):
        if fate(n) == "down":
            continue
        await asyncssh.listen(
            "127.0.0.1", port, server_host_keys=[key], server_factory=lambda n=n: Server(n),
            process_factory=handler(n), encoding=None, backlog=256,
        )  # fmt: skip
    ready.write_text("ready")
    await asyncio.Event().wait()


# --- the client ---------------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


async def gather_all(
    ports: list[int], concurrency: int, per_site: int, timeout: float
) -> tuple[float, dict[str, int]]:
    from handover.connectors import linux
    from handover.connectors.manifest import Credential, Target

    targets = [
        Target("127.0.0.1", p, timeout=timeout, options=(("site", f"site{n % SITES}"),))
        for n, p in enumerate(ports)
    ]
    creds = [Credential("root", PASSWORD)] * len(targets)
    counts: dict[str, int] = {}
    start = time.perf_counter()
    async for outcome in linux.gather_many(targets, creds, concurrency=concurrency, per_site=per_site):
        counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
    return time.perf_counter() - start, counts


def parse_only(count: int, accounts: int) -> float:
    from handover.connectors.linux import build, from_stream

    streams = [stream(host_files(n, accounts)) for n in range(count) if fate(n) == "ok"]
    start = time.perf_counter()
    for data in streams:
        build(from_stream(data, label="bench"), target="bench")
    return (time.perf_counter() - start) / max(1, len(streams))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--latency", type=float, default=50.0, help="ms the simulator waits before answering")
    parser.add_argument("--baseline", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--serve", nargs="*", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ready", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.hosts, args.accounts, args.latency, args.baseline, args.timeout = 20, 10, 5.0, 5, 2.0
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.accounts, args.latency / 1000, Path(args.ready)))
        return
    ports = free_ports(args.hosts)
    ready = Path(f"/tmp/discovery-bench-{os.getpid()}.ready")  # noqa: S108
    server = subprocess.Popen(
        [sys.executable, __file__, "--accounts", str(args.accounts), "--latency", str(args.latency),
         "--ready", str(ready), "--serve", *map(str, ports)],
    )  # fmt: skip
    try:
        while not ready.exists():
            if server.poll() is not None:
                raise SystemExit("the simulator did not start")
            time.sleep(0.1)
        wall, counts = asyncio.run(gather_all(ports, 32, 8, args.timeout))
        base_ports = [p for n, p in enumerate(ports[: args.baseline]) if fate(n) == "ok"]
        base_wall, base_counts = asyncio.run(gather_all(base_ports, 1, 1, args.timeout))
    finally:
        server.terminate()
        server.wait()
        ready.unlink(missing_ok=True)
    parse = parse_only(args.hosts, args.accounts)
    per_host, base_per_host = wall / args.hosts, base_wall / max(1, len(base_ports))
    print(
        f"Discovery gathering: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
    )
    print(
        f"{args.hosts} simulated hosts, {args.accounts} accounts each, latency {args.latency:.0f} ms ±50 %,"
    )
    print(
        f"2 % refuse the password, 1 % never answer (timeout {args.timeout:.0f} s), 1 % not listening; 16 sites\n"
    )
    print("| run | hosts | outcomes | wall (s) | per host (ms) | ratio to concurrency 1 |")
    print("|---|---:|---|---:|---:|---:|")
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    base_outcomes = ", ".join(f"{k} {v}" for k, v in sorted(base_counts.items()))
    rows = [
        ("gather_many, concurrency 32, per site 8", args.hosts, outcomes, f"{wall:.1f}", per_host),
        (
            "gather, concurrency 1 (OK hosts only)",
            len(base_ports),
            base_outcomes,
            f"{base_wall:.1f}",
            base_per_host,
        ),
        ("parse alone (build(from_stream))", args.hosts, "-", "-", parse),
    ]
    for label, hosts, what, seconds, each in rows:
        print(f"| {label} | {hosts} | {what} | {seconds} | {each * 1000:.1f} | {each / base_per_host:.3f} |")


if __name__ == "__main__":
    main()
