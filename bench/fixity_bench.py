"""Fixity benchmarks, run by ``make bench``; figures are kept in docs/benchmarks.md.

Generates, in a fresh temporary folder, two trees (one file of 2 GiB; 20,000 files of 1–64 KiB), makes each
a BagIt bag, scans our manifests (SHA-256, SM3, BLAKE3) and the other tools' own, reads everything once so
the cache is warm, then times, side by side in one run and interleaved round by round (best of ``--repeats``):

- in this process: ``integrity.verify`` (the library) against bare Python loops that only read and hash the
  same files (a reused page-aligned buffer with ``readinto``, and ``hashlib.file_digest``);
- as commands: ``handover-agent verify`` against ``sha256sum -c``, ``hashdeep`` (audit mode),
  bagit-python's ``--validate`` and ``b3sum -c``.

Then peak memory (RSS) for a manifest of 1,000,000 files: loading it alone, and ``verify`` / ``scan`` of a
tree of that many (empty) files, each in a fresh subprocess measured with ``resource.getrusage``.

A tool that is not installed is skipped with a note (``make bench`` installs them). The trees are removed
at the end unless ``--keep``.

Usage: .venv/bin/python bench/fixity_bench.py [--quick] [--dir DIR] [--repeats N] [--jobs N] [--keep]
                                              [--part all|throughput|memory] [--small N]
                                              [--trees big,small] [--algos sha256,blake3,sm3]
e.g. the short job of docs/benchmarks.md: --part throughput --trees small --small 5000 --algos sha256
``--quick`` runs on a tiny tree (a smoke run of the script itself; tests/test_bench.py runs it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mmap
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3

from handover.fixity import integrity
from handover.fixity.manifest import Header, ManifestEntry, ManifestWriter

MiB = 1 << 20
FULL = {"big": 2 << 30, "small": 20_000, "million": 1_000_000, "repeats": 3}
QUICK = {"big": 8 * MiB, "small": 300, "million": 3_000, "repeats": 1}
SMALL_SIZES = (1 << 10, 64 << 10)
FILES_PER_DIR = 100
MILLION_PER_DIR = 1000
BUFFER = 1 << 20


# --- trees -----------------------------------------------------------------------------------------------


def make_big(folder: Path, size: int) -> None:
    folder.mkdir(parents=True)
    block = bytearray(os.urandom(16 * MiB))
    with open(folder / "big.bin", "wb") as out:
        for i in range(0, size, len(block)):
            block[:8] = i.to_bytes(8, "little")  # no two blocks alike
            out.write(block[: min(len(block), size - i)])


def make_small(folder: Path, count: int) -> None:
    rng = random.Random(6)
    pool = os.urandom(4 * MiB)
    for i in range(count):
        sub = folder / f"d{i // FILES_PER_DIR:04d}"
        if i % FILES_PER_DIR == 0:
            sub.mkdir(parents=True)
        size = rng.randint(*SMALL_SIZES)
        start = rng.randrange(len(pool) - size)
        (sub / f"f{i:06d}.bin").write_bytes(pool[start : start + size])


def make_empty_files(folder: Path, count: int) -> None:
    for i in range(count):
        if i % MILLION_PER_DIR == 0:
            sub = os.path.join(folder, f"{i // MILLION_PER_DIR:04d}")
            os.makedirs(sub)
        os.close(os.open(os.path.join(sub, f"{i:07d}.dat"), os.O_CREAT | os.O_WRONLY, 0o644))


def make_bag(tree: Path) -> None:
    """bagit-python moves the tree's content into ``data/`` and writes its own SHA-256 manifest."""
    import bagit

    bagit.make_bag(str(tree), checksums=["sha256"], processes=os.cpu_count() or 1)


def plain_copy(manifest: Path, out: Path) -> None:
    """The digest lines only: b3sum -c stops at our ``#`` lines, which sha256sum -c skips."""
    with open(manifest, "rb") as source, open(out, "wb") as target:
        target.writelines(line for line in source if not line.startswith(b"#"))


def file_list(root: Path) -> list[bytes]:
    found = []
    for folder, dirs, files in os.walk(os.fsencode(root)):
        dirs.sort()
        found.extend(os.path.join(folder, name) for name in sorted(files))
    return found


# --- contenders --------------------------------------------------------------------------------------------


def bare_readinto(paths: list[bytes], new: Callable[[], Any]) -> None:
    """The tightest plain loop: one reused page-aligned buffer, unbuffered ``readinto``."""
    view = memoryview(mmap.mmap(-1, BUFFER))
    for path in paths:
        hasher = new()
        with open(path, "rb", buffering=0) as source:
            while n := source.readinto(view):
                hasher.update(view[:n])
        hasher.hexdigest()


def bare_file_digest(paths: list[bytes], algo: str) -> None:
    for path in paths:
        with open(path, "rb") as source:
            hashlib.file_digest(source, algo).hexdigest()


def ours_library(root: Path, manifest: Path, jobs: int) -> None:
    report = integrity.verify(str(root), str(manifest), options=integrity.Options(jobs=jobs))
    if not report.ok:
        raise SystemExit(f"verify found problems on the benchmark tree: {report.problems[:3]}")


# The command as a person runs it: the script pip installs beside this Python (``-m`` would add runpy's
# imports, a few milliseconds that the field never pays).
AGENT = [str(Path(sys.executable).with_name("handover-agent"))]


@dataclass
class Contender:
    """One way of checking a tree: a call in this process, or a command (exit 0 expected)."""

    name: str
    call: Callable[[], None] | None = None
    command: Sequence[str] = ()
    cwd: Path | None = None
    ours: bool = False
    bare: bool = False
    best: float = float("inf")
    cpu: float = 0.0

    @property
    def in_process(self) -> bool:
        return self.call is not None

    def run(self) -> None:
        before = cpu_seconds()
        started = time.perf_counter()
        if self.call is not None:
            self.call()
        else:
            done = subprocess.run(self.command, cwd=self.cwd, capture_output=True, check=False)
            if done.returncode != 0:
                out = (done.stdout + done.stderr).decode(errors="replace")[-600:]
                raise SystemExit(f"{self.name} failed ({done.returncode}) on the benchmark tree:\n{out}")
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds() - before
        if elapsed < self.best:
            self.best, self.cpu = elapsed, cpu


def cpu_seconds() -> float:
    """CPU used so far by this process and its finished children (commands, our worker processes)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def have_bagit() -> bool:
    try:
        import bagit  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Tree:
    """A generated bag: its payload, our manifests, the other tools' manifests, its size."""

    name: str
    bag: Path
    manifests: Path
    paths: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def data(self) -> Path:
        return self.bag / "data"

    def manifest(self, algo: str) -> Path:
        return self.manifests / f"{self.name}.{algo}"


def prepare(tree: Tree, jobs: int, notes: list[str]) -> None:
    """Bag, scan, write the others' manifests; this also reads every file once (the cache is then warm)."""
    if have_bagit():
        make_bag(tree.bag)
    else:
        notes.append("bagit-python not installed: its validate was skipped")
        payload = tree.bag.with_name(tree.bag.name + ".payload")
        tree.bag.rename(payload)
        tree.bag.mkdir()
        payload.rename(tree.data)
    tree.manifests.mkdir(exist_ok=True)
    for algo in ("sha256", "sm3", "blake3"):
        integrity.scan(
            str(tree.data), str(tree.manifest(algo)), algo=algo, options=integrity.Options(jobs=jobs)
        )
    plain_copy(tree.manifest("blake3"), tree.manifests / f"{tree.name}.b3sum")
    if have("hashdeep"):
        with open(tree.manifests / f"{tree.name}.hashdeep", "wb") as out:
            subprocess.run(
                ["hashdeep", "-c", "sha256", "-r", "-l", "."], cwd=tree.data, stdout=out, check=True
            )
    tree.paths = file_list(tree.data)
    tree.size = sum(os.path.getsize(p) for p in tree.paths)
    bare_readinto(tree.paths, hashlib.sha256)


def contenders(tree: Tree, algo: str, jobs: int, notes: list[str]) -> list[Contender]:
    manifest = tree.manifest(algo)
    agent = [*AGENT, "verify", str(tree.data), "--manifest", str(manifest), "-q", "--jobs", str(jobs)]
    new = {"sha256": hashlib.sha256, "sm3": lambda: hashlib.new("sm3"), "blake3": blake3.blake3}[algo]
    found = [
        Contender(
            f"integrity.verify (library, jobs={jobs})",
            lambda: ours_library(tree.data, manifest, jobs),
            ours=True,
        ),
        Contender("integrity.verify (library, jobs=1)", lambda: ours_library(tree.data, manifest, 1)),
        Contender(f"bare loop: readinto + {algo}", lambda: bare_readinto(tree.paths, new), bare=True),
    ]
    if algo != "blake3":
        found.append(
            Contender(f"bare loop: hashlib.file_digest({algo})", lambda: bare_file_digest(tree.paths, algo))
        )
    found.append(Contender("handover-agent verify", command=agent, ours=True))
    if algo == "sha256":
        found += _sha256_tools(tree, notes)
    if algo == "blake3":
        if have("b3sum"):
            plain = tree.manifests / f"{tree.name}.b3sum"
            found.append(Contender("b3sum -c", command=["b3sum", "-c", "--quiet", str(plain)], cwd=tree.data))
        else:
            notes.append("b3sum not installed: skipped")
    return found


def _sha256_tools(tree: Tree, notes: list[str]) -> list[Contender]:
    found = []
    if have("sha256sum"):
        command = ["sha256sum", "-c", "--quiet", str(tree.manifest("sha256"))]
        found.append(Contender("sha256sum -c", command=command, cwd=tree.data))
    if have("hashdeep"):
        known = str(tree.manifests / f"{tree.name}.hashdeep")
        command = ["hashdeep", "-c", "sha256", "-a", "-k", known, "-r", "-l", "."]
        found.append(Contender("hashdeep -a (audit)", command=command, cwd=tree.data))
    else:
        notes.append("hashdeep not installed: skipped")
    if have_bagit():
        command = [
            sys.executable,
            "-m",
            "bagit",
            "--validate",
            "--processes",
            str(os.cpu_count() or 1),
            str(tree.bag),
        ]
        found.append(Contender("bagit --validate", command=command))
    return found


def measure(tree: Tree, algo: str, jobs: int, repeats: int, notes: list[str]) -> list[Contender]:
    entrants = contenders(tree, algo, jobs, notes)
    for _ in range(repeats):
        for (
            contender
        ) in entrants:  # interleaved, so a burst of load from elsewhere hits every contender alike
            contender.run()
    return entrants


def print_table(tree: Tree, algo: str, entrants: list[Contender]) -> None:
    """``÷ bare``: this one's throughput over the bare readinto loop's. ``ours ÷ this``: our throughput over
    this one's; the library against in-process loops, the command against commands (both pay start-up)."""
    print(f"\n{algo.upper()}, {tree.name} tree: {len(tree.paths):,} files, {tree.size / 1e6:,.0f} MB")
    print(
        f"| {'contender':<40} | {'seconds':>7} | {'MB/s':>6} | {'CPU s':>6} | {'÷ bare':>6} | {'ours ÷ this':>11} |"
    )
    print(f"|{'-' * 42}|{'-' * 8}:|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|{'-' * 12}:|")
    bare = next(c for c in entrants if c.bare)
    for contender in entrants:
        ours = next(c for c in entrants if c.ours and c.in_process == contender.in_process)
        ratio = "" if contender.ours else f"{contender.best / ours.best:.2f}×"
        rate = tree.size / contender.best / 1e6
        versus = f"{bare.best / contender.best:.2f}×"
        print(
            f"| {contender.name:<40} | {contender.best:>7.2f} | {rate:>6.0f} | {contender.cpu:>6.2f} "
            f"| {versus:>6} | {ratio:>11} |"
        )


# --- memory -----------------------------------------------------------------------------------------------


def write_million_manifest(path: Path, count: int) -> None:
    """A manifest of ``count`` files with names like a branch backup's, random digests."""
    rng = random.Random(1)
    with open(path, "wb") as out:
        writer = ManifestWriter(out, Header("sha256", b"/srv/backup", time.time_ns(), "bench", "bench"))
        for i in range(count):
            name = b"counter/%04d%02d%02d/clearing-%07d.dbf" % (2005 + i % 20, 1 + i % 12, 1 + i % 28, i)
            writer.write(
                ManifestEntry(name, rng.randbytes(32).hex(), rng.randrange(1 << 30), 1_700_000_000 * 10**9)
            )
        writer.finish()


def child(args: list[str]) -> None:
    """Runs one step in a fresh interpreter and prints its peak RSS (KiB) and time as JSON."""
    step, rest = args[0], args[1:]
    started = time.perf_counter()
    if step == "load":
        from handover.fixity.manifest import load

        _, table = load(rest[0])
        files = len(table)
    elif step == "verify":
        report = integrity.verify(rest[0], rest[1], options=integrity.Options(jobs=int(rest[2])))
        if not report.ok:
            raise SystemExit(f"verify found problems: {report.problems[:3]}")
        files = report.files
    elif step == "scan":
        files = integrity.scan(rest[0], rest[1], options=integrity.Options(jobs=int(rest[2]))).files
    else:
        files = 0
    seconds = time.perf_counter() - started
    self_kib = peak_rss_kib()
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps({"files": files, "seconds": seconds, "rss_kib": self_kib, "worker_rss_kib": children_kib})
    )


def peak_rss_kib() -> int:
    """This process's peak RSS. ``ru_maxrss`` would not do: on Linux it keeps, across exec, the RSS of the
    forked parent (this benchmark), so the kernel's high-water mark of the current image is read instead."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"memory step {args[0]} failed:\n{out.stderr.decode(errors='replace')[-600:]}")
    return dict(json.loads(out.stdout.splitlines()[-1]))


def memory(base: Path, count: int, jobs: int) -> None:
    synthetic = base / "million.sha256"
    write_million_manifest(synthetic, count)
    tree = base / "million"
    started = time.perf_counter()
    make_empty_files(tree, count)
    created = time.perf_counter() - started
    manifest = base / "million-tree.sha256"
    steps = [
        ("interpreter + handover.fixity imported", run_child("baseline")),
        (f"load(): parse a {count:,}-file manifest", run_child("load", str(synthetic))),
        (f"scan of a tree of {count:,} empty files", run_child("scan", str(tree), str(manifest), str(jobs))),
        (
            "verify of that tree against its manifest",
            run_child("verify", str(tree), str(manifest), str(jobs)),
        ),
    ]
    size = synthetic.stat().st_size
    print(
        f"\nPeak memory, {count:,} files (synthetic manifest {size / 1e6:,.0f} MB; tree made in {created:.0f} s)"
    )
    print(
        f"| {'step':<48} | {'seconds':>7} | {'files/s':>8} | {'peak RSS MB':>11} | {'worker peak MB':>14} |"
    )
    print(f"|{'-' * 50}|{'-' * 8}:|{'-' * 9}:|{'-' * 12}:|{'-' * 15}:|")
    for name, result in steps:
        rate = f"{result['files'] / result['seconds']:,.0f}" if result["files"] else ""
        workers = f"{result['worker_rss_kib'] / 1024:.0f}" if result["worker_rss_kib"] else ""
        rss = result["rss_kib"] / 1024
        print(f"| {name:<48} | {result['seconds']:>7.2f} | {rate:>8} | {rss:>11.0f} | {workers:>14} |")


# --- main -------------------------------------------------------------------------------------------------


def check_room(base: Path, sizes: dict[str, int]) -> None:
    need = sizes["big"] + sizes["small"] * 40 * 1024 + 512 * MiB
    free = shutil.disk_usage(base).free
    if free < need:
        raise SystemExit(f"{base} has {free / 1e9:.1f} GB free; the benchmark trees need {need / 1e9:.1f} GB")


def tool_versions() -> str:
    versions = [f"Python {platform.python_version()}", f"blake3 {blake3.__version__}"]
    for tool, flag in (("sha256sum", "--version"), ("hashdeep", "-V"), ("b3sum", "--version")):
        if have(tool):
            out = subprocess.run([tool, flag], capture_output=True, text=True, check=False).stdout
            versions.append(f"{tool} {out.split()[-1] if tool != 'sha256sum' else out.split()[3]}")
    if have_bagit():
        from importlib.metadata import version

        versions.append(f"bagit {version('bagit')}")
    return ", ".join(versions)


def throughput(
    base: Path,
    sizes: dict[str, int],
    jobs: int,
    repeats: int,
    notes: list[str],
    *,
    trees_wanted: Sequence[str] = ("big", "small"),
    algos: Sequence[str] = ("sha256", "blake3", "sm3"),
) -> None:
    makers = {"big": make_big, "small": make_small}
    trees = [Tree(name, base / name, base / "manifests") for name in ("big", "small") if name in trees_wanted]
    for tree in trees:
        makers[tree.name](tree.bag, sizes[tree.name])
        prepare(tree, jobs, notes)
    for algo in algos:
        for tree in trees:
            print_table(tree, algo, measure(tree, algo, jobs, repeats, notes))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny trees, one round")
    parser.add_argument("--dir", help="where to make the trees (default: the system's temporary folder)")
    parser.add_argument("--repeats", type=int, help="rounds; the best is kept (default 3, quick 1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="our worker processes")
    parser.add_argument("--keep", action="store_true", help="leave the trees in place")
    parser.add_argument(
        "--part", choices=("all", "throughput", "memory"), default="all", help="run only one half"
    )
    parser.add_argument("--small", type=int, help="files in the small tree (default 20,000, quick 300)")
    parser.add_argument("--trees", default="big,small", help="which trees: big, small or both (big,small)")
    parser.add_argument("--algos", default="sha256,blake3,sm3", help="which algorithms, comma-separated")
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    sizes["small"] = args.small or sizes["small"]
    repeats = args.repeats or sizes["repeats"]
    base = Path(tempfile.mkdtemp(prefix="handover-fixity-bench-", dir=args.dir))
    notes: list[str] = []
    try:
        check_room(base, sizes)
        print(f"{tool_versions()}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}; trees in {base}")
        print(f"jobs={args.jobs}; best of {repeats} interleaved rounds; MB = 10^6 bytes; warm cache")
        if args.part in ("all", "throughput"):
            throughput(
                base, sizes, args.jobs, repeats, notes,
                trees_wanted=args.trees.split(","), algos=args.algos.split(","),
            )  # fmt: skip
        if args.part in ("all", "memory"):
            memory(base, sizes["million"], args.jobs)
        print(f"\nload at the end {os.getloadavg()[0]:.2f}")
        for note in sorted(set(notes)):
            print(f"note: {note}")
    finally:
        if args.keep:
            print(f"trees kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
