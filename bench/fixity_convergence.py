"""BLAKE3 on one big file: ``handover-agent verify`` against ``b3sum -c`` at 2 and 8 GiB, in one run.

fixity_bench.py's 2 GiB file takes b3sum about 0.15 s on two idle cores, so the agent's fixed cost (starting
Python, importing the engine, forking its workers: about 0.06–0.1 s) weighs a third of the time. This run shows
how the ratio moves once the file is big enough for that cost to fade, as backups are. Both commands read the
same warm file, interleaved, best of ``--repeats``. Needs b3sum and 10 GiB free in ``--dir``.

Usage: .venv/bin/python bench/fixity_convergence.py [--dir DIR] [--repeats N] [--sizes 2,8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixity_bench as fb
from handover.fixity import integrity


def timed(command: list[str], cwd: Path, results: list[float]) -> None:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"{command[0]} failed: {(done.stdout + done.stderr).decode(errors='replace')[-400:]}"
        )
    results.append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", help="where to make the files (default: the system's temporary folder)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="2,8", help="file sizes in GiB, comma-separated")
    args = parser.parse_args()
    if shutil.which("b3sum") is None:
        raise SystemExit("b3sum is not installed (make bench installs it)")
    base = Path(tempfile.mkdtemp(prefix="handover-convergence-", dir=args.dir))
    try:
        for gib in (int(x) for x in args.sizes.split(",")):
            root, manifest, plain = base / f"{gib}g", base / f"{gib}g.b3", base / f"{gib}g.b3sum"
            fb.make_big(root, gib << 30)
            integrity.scan(str(root), str(manifest), algo="blake3", options=integrity.Options(jobs=2))
            fb.plain_copy(manifest, plain)
            agent = [*fb.AGENT, "verify", str(root), "--manifest", str(manifest), "-q"]
            b3sum = ["b3sum", "-c", "--quiet", str(plain)]
            times: dict[str, list[float]] = {"agent": [], "b3sum": []}
            for _ in range(args.repeats):  # interleaved
                timed(agent, root, times["agent"])
                timed(b3sum, root, times["b3sum"])
            ours, theirs = min(times["agent"]), min(times["b3sum"])
            print(f"{gib} GiB: handover-agent verify {ours:.3f} s, b3sum -c {theirs:.3f} s,"
                  f" agent ÷ b3sum throughput {theirs / ours:.2f}×")  # fmt: skip
            shutil.rmtree(root)
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
