"""Discovery review benchmark, run by ``make bench``; figures in docs/benchmarks.md ("Discovery: the review").

Issue 14's goal: review 100,000 accounts across 1,000 systems in ≤ 30 s on this machine. Synthetic
inventories (100 accounts per system by default): logins made from pinyin names (zhangsan, zhang.san, zsan…),
a share of them with sudo rights through a group, keys with comments, jobs, aging; a staff list of 1,000
people of whom 200 left (half of them in the half year before D). Reported in one command: building the
inventories (the baseline), the review without a staff list (no name matching), and the full review, with the
time per account and the ratio to the baseline.

Usage: .venv/bin/python bench/discovery_review.py [--quick] [--systems N] [--accounts N] [--people N]
``--quick``: 20 systems of 50 accounts, 100 people (tests/test_bench.py runs it).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文辉鹏飞玉梅晨宇浩然思雨子涵"


def people(n: int, departed: int, d: date, rnd: random.Random):  # type: ignore[no-untyped-def]
    from handover.connectors.findings import Person

    out = []
    for i in range(n):
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))
        left = None
        if i < departed:
            left = d - timedelta(days=rnd.randrange(1, 180) if i % 2 else rnd.randrange(200, 2000))
        out.append(Person(name=name, left_on=left))
    return out


def inventories(systems: int, accounts: int, staff: list, rnd: random.Random):  # type: ignore[no-untyped-def]
    from pypinyin import lazy_pinyin

    from handover.connectors.findings import SystemRef
    from handover.connectors.model import (
        Account,
        AccountKind,
        Evidence,
        Inventory,
        Job,
        Key,
        PasswordState,
        Privilege,
    )

    def login(name: str) -> str:
        parts = lazy_pinyin(name)
        return rnd.choice(
            ["".join(parts), ".".join(parts), parts[0][0] + "".join(parts[1:]), "".join(parts) + "01"]
        )

    logins = [login(p.name) for p in staff]
    items = []
    now = datetime(2026, 12, 5, tzinfo=UTC)
    for s in range(systems):
        ev = Evidence(source="/etc/passwd", raw="x", digest="sha256:00", line=1)
        accs = []
        for a in range(accounts):
            name = rnd.choice(logins) + ("" if a % 7 else str(a)) if a % 5 else f"svc{s}x{a}"
            privileges = ()
            if a % 13 == 0:
                privileges = (
                    Privilege("ALL", "host=ALL runas=ALL", "group:wheel", superuser=True, evidence=ev),
                )
            keys = ()
            if a % 3 == 0:
                keys = (Key("ssh-ed25519", f"SHA256:{s}-{a}", rnd.choice(logins) + "@pc", (), "k", ev),)
            accs.append(
                Account(  # noqa: S604 (a login shell, not a subprocess)
                    name=name,
                    kind=AccountKind.OS,
                    uid=str(1000 + a),
                    shell="/bin/bash",
                    login_allowed=True,
                    password_state=rnd.choice([PasswordState.SET, PasswordState.SET, PasswordState.LOCKED]),
                    password_changed=date(2026, 1, 1) + timedelta(days=rnd.randrange(330)),
                    password_max_days=90,
                    password_policy_known=True,
                    last_login=now - timedelta(days=rnd.randrange(400)),
                    last_login_known=True,
                    privileges=privileges,
                    keys=keys,
                    evidence=(ev,),
                )
            )
        jobs = tuple(
            Job(accs[i].name, "/opt/eod.sh", "0 17 * * *", "cron", ev) for i in range(0, accounts, 26)
        )
        inventory = Inventory(
            platform="linux", target=f"h{s}", gathered_at=now, accounts=tuple(accs), jobs=jobs
        )
        items.append((SystemRef(system=f"sys{s % 50}", host=f"h{s}", site=f"B{s % 16}"), inventory))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--systems", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--departed", type=int, default=200)
    args = parser.parse_args()
    if args.quick:
        args.systems, args.accounts, args.people, args.departed = 20, 50, 100, 20
    from handover.connectors import review
    from handover.connectors.findings import ReviewContext

    rnd = random.Random(14)
    d = date(2026, 12, 1)
    staff = people(args.people, args.departed, d, rnd)
    start = time.perf_counter()
    items = inventories(args.systems, args.accounts, staff, rnd)
    build = time.perf_counter() - start
    total = args.systems * args.accounts

    start = time.perf_counter()
    bare = review.review(items, ReviewContext(today=date(2026, 12, 5), disposal_day=d))
    no_people = time.perf_counter() - start
    start = time.perf_counter()
    full = review.review(items, ReviewContext(today=date(2026, 12, 5), disposal_day=d, people=tuple(staff)))
    everything = time.perf_counter() - start
    departed = sum(1 for f in full if f.rule == "departed_staff")
    print(
        f"Discovery review: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
    )
    print(
        f"{total} accounts on {args.systems} systems; {args.people} people, {args.departed} departed; "
        f"{len(review.RULES)} rules\n"
    )
    print("| step | accounts | findings | wall (s) | per account (µs) | ratio to building the inventories |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, found, seconds in (
        ("building the inventories (baseline)", "-", build),
        ("review, no staff list (no name matching)", str(len(bare)), no_people),
        (f"review with the staff list ({departed} departed_staff)", str(len(full)), everything),
    ):
        print(
            f"| {label} | {total} | {found} | {seconds:.2f} | {seconds / total * 1e6:.1f} | {seconds / build:.2f} |"
        )


if __name__ == "__main__":
    main()
