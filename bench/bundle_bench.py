"""Bundle benchmark, run by ``make bench``; figures are kept in docs/benchmarks.md ("Fixity bundles").

What opening a bundle costs on the server (``handover.fixity.bundle.open_bundle``: signature, every member
against the index, every report parsed), and what it costs with the bounded readers of issue 12 against the
code before them. Builds, in a fresh temporary folder, a tree of 20,000 files of 1-4 KiB, scans it, changes
every file, verifies (a report of 20,000 problems) and packs report and manifest into a signed bundle. Then,
for each source tree given with ``--src`` (default: this checkout's ``src``), in a fresh subprocess with that
tree first on ``PYTHONPATH``: the best of ``--repeats`` times of ``open_bundle`` and the peak RSS
(``VmHWM``). Finally the review's deflate bomb (index.json of ``--bomb-mib`` MiB of spaces): peak RSS and
what each source answers.

Usage: .venv/bin/python bench/bundle_bench.py [--quick] [--src DIR ...] [--repeats N] [--rounds N] [--bomb-mib N]
``--quick`` runs on 200 files and a 32 MiB bomb (a smoke run of the script; tests/test_bench.py runs it).
Before/after: ``--src src --src /work/main/src`` (any older checkout's ``src``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

_MEASURE = """
import json, sys, time
from pathlib import Path
from handover.fixity import bundle, keys
path, agent, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
trusted = None
if agent:
    key = keys.load(Path(agent))
    trusted = lambda key_id: keys.load_public(key.public) if key_id == key.key_id else None
best, answer = float("inf"), "opened"
for _ in range(repeats):
    start = time.perf_counter()
    try:
        opened = bundle.open_bundle(path, trusted=trusted or (lambda key_id: None))
        problems = sum(len(r["problems"]) for r in opened.reports.values())
        answer = f"opened: {len(opened.reports)} report(s), {problems} problems"
    except bundle.BundleRefused as exc:
        answer = f"refused {exc.reason}: {exc}"
    except MemoryError:
        answer = "MemoryError"
    best = min(best, time.perf_counter() - start)
# VmHWM, not ru_maxrss: ru_maxrss keeps, across exec, the RSS of the benchmark process that forked this one.
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": best, "peak": peak, "answer": answer, "module": bundle.__file__}))
"""


def agent(*args: str) -> None:
    sys.path.insert(0, str(HERE / "src"))
    from handover.fixity.cli import main

    code = main(list(args))
    if code not in (0, 1):
        raise SystemExit(f"handover-agent {' '.join(args)}: exit {code}")


def make_bundle(base: Path, files: int) -> tuple[Path, Path]:
    tree = base / "tree"
    for n in range(files):
        folder = tree / f"d{n // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n:05d}.dat").write_bytes(os.urandom(1024 + (n * 37) % 3072))
    agent_dir = base / "agent"
    agent("enroll", "--engagement", "BENCH", "--site", "S1", "--agent-dir", str(agent_dir), "--export",
          str(base / "pub.json"))  # fmt: skip
    agent("scan", str(tree), "-o", str(base / "m.sha256"), "-q", "--jobs", "1")
    for path in tree.rglob("*.dat"):
        with path.open("r+b") as handle:
            handle.write(b"changed!")
    agent("verify", str(tree), "--manifest", str(base / "m.sha256"), "--json", str(base / "v.json"), "-q",
          "--jobs", "1")  # fmt: skip
    out = base / "bundle.zip"
    agent("bundle", str(base / "v.json"), "-o", str(out), "--system", "bench", "--agent-dir", str(agent_dir))
    return out, agent_dir


def make_bomb(path: Path, mib: int) -> Path:
    block = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("index.json", "w", force_zip64=True) as member:
            for _ in range(mib):
                member.write(block)
        archive.writestr("index.sig", b"AAAA\n")
    return path


def measure(src: Path, path: Path, agent_dir: Path | None, repeats: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    args = [sys.executable, "-c", _MEASURE, str(path), str(agent_dir or ""), str(repeats)]
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {
            "seconds": float("nan"),
            "peak": 0,
            "answer": done.stderr.strip().splitlines()[-1],
            "module": "",
        }
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 files, a 32 MiB bomb, one run")
    parser.add_argument("--src", action="append", type=Path, help="a source tree to measure (repeatable)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of open_bundle per subprocess")
    parser.add_argument("--rounds", type=int, default=5, help="subprocesses per source, interleaved")
    parser.add_argument("--bomb-mib", type=int, default=512)
    args = parser.parse_args()
    files, repeats, bomb_mib = (200, 1, 32) if args.quick else (20_000, args.repeats, args.bomb_mib)
    rounds = 1 if args.quick else args.rounds
    sources = [s.resolve() for s in (args.src or [HERE / "src"])]
    print(f"# bundle_bench on {platform.node()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bundle-bench-") as folder:
        base = Path(folder)
        path, agent_dir = make_bundle(base, files)
        bomb = make_bomb(base / "bomb.zip", bomb_mib)
        print(f"bundle: {files:,} files in the manifest, {path.stat().st_size:,} bytes; "
              f"bomb: index.json {bomb_mib} MiB of spaces in {bomb.stat().st_size:,} bytes\n")  # fmt: skip
        print(
            f"| source | open_bundle, best of {repeats} x {rounds} | peak RSS | bomb: peak RSS | bomb: answer |"
        )
        print("|---|---|---|---|---|")
        # Rounds interleave the sources, so that a burst of load from elsewhere falls on all of them alike.
        best: dict[Path, dict[str, object]] = {}
        for _ in range(rounds):
            for src in sources:
                good = measure(src, path, agent_dir, repeats)
                if src not in best or float(good["seconds"]) < float(best[src]["seconds"]):  # type: ignore[arg-type]
                    best[src] = good
        for src in sources:
            good, bad = best[src], measure(src, bomb, None, 1)
            print(f"| {src} | {float(good['seconds']) * 1000:.1f} ms | {int(good['peak']) >> 20} MiB "  # type: ignore[call-overload]
                  f"| {int(bad['peak']) >> 20} MiB | {str(bad['answer'])[:90]} |")  # type: ignore[call-overload]  # fmt: skip
            print(f"|   ({good['answer']}) | | | | |")


if __name__ == "__main__":
    main()
