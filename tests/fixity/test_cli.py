"""handover-agent as a person runs it: exit codes, the JSON and xlsx reports, no Django."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from handover.fixity import hashing
from handover.fixity.cli import main


def test_engine_and_agent_import_no_django() -> None:
    code = (
        "import sys, handover.fixity.cli, handover.fixity.readable, handover.fixity.continuity,"
        " handover.fixity.bundle, handover.fixity.keys, handover.fixity.transport;"
        "assert not any(m.startswith('django') for m in sys.modules), 'django was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_exit_codes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub/a.txt").write_text("a")
    manifest, report = str(tmp_path / "m.sm3"), tmp_path / "r.json"
    assert main(["scan", str(tree), "-o", manifest, "--algo", "sm3", "--jobs", "1"]) == 0
    assert main(["verify", str(tree), "--manifest", manifest, "--json", str(report), "--jobs", "1"]) == 0
    (tree / "sub/a.txt").unlink()
    (tree / "sub/b.txt").write_text("b")
    xlsx = tmp_path / "r.xlsx"
    code = main(["verify", str(tree), "--manifest", manifest, "--json", str(report), "--xlsx", str(xlsx)])
    assert code == 1
    data = json.loads(report.read_text())
    assert {k: data[k] for k in ("command", "files", "bytes", "algorithm")} == {
        "command": "verify", "files": 1, "bytes": 1, "algorithm": "sm3"
    }  # fmt: skip
    assert data["counts"] == {"missing": 1, "extra": 1} and isinstance(data["seconds"], float)
    assert {(p["kind"], p["path"]) for p in data["problems"]} == {
        ("missing", "sub/a.txt"),
        ("extra", "sub/b.txt"),
    }
    assert all(p["detail"] for p in data["problems"])
    book = openpyxl.load_workbook(xlsx, read_only=True)
    cells = {cell for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row}
    assert {"sub/a.txt", "sub/b.txt", "missing", "extra"} <= cells
    assert "PROBLEMS: 2 (1 missing, 1 extra)" in capsys.readouterr().out


def test_gap_items_carry_system_and_date(tmp_path: Path) -> None:
    (tmp_path / "counter/20241008").mkdir(parents=True)
    (tmp_path / "counter/20241008/a").write_text("a")
    report = tmp_path / "r.json"
    args = ["continuity", str(tmp_path), "--pattern", "{system}/{yyyymmdd}/", "--from", "2024-10-08"]
    assert main([*args, "--to", "20241009", "--json", str(report)]) == 1
    (gap,) = json.loads(report.read_text())["problems"]
    assert gap == {"kind": "gap", "system": "counter", "date": "2024-10-09", "detail": gap["detail"]}


def test_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path), "--manifest", str(tmp_path / "none")]) == 2
    assert "cannot read the manifest" in capsys.readouterr().err
    (tmp_path / "cut").write_bytes(b"# handover-fixity-manifest 1\n# algorithm: sha256\n")
    assert main(["compare", str(tmp_path / "cut"), str(tmp_path / "cut")]) == 2
    assert "incomplete" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["continuity", str(tmp_path), "--pattern", "x", "--from", "yesterday"])
    assert exited.value.code == 2


def test_installed_command_runs(tmp_path: Path) -> None:
    agent = Path(sys.executable).with_name("handover-agent")
    if not agent.exists():
        pytest.skip("package not installed with its scripts")
    done = subprocess.run(
        [agent, "check-readable", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "OK: no problem found" in done.stdout


def test_scan_and_verify_load_neither_the_signing_nor_the_network_modules(tmp_path: Path) -> None:
    """Start-up is paid on every run in the field; verify must not import what only bundle/upload need."""
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.txt").write_text("x")
    script = (
        "import sys; from handover.fixity.cli import main;"
        f"a = main(['scan', {str(tmp_path / 'tree')!r}, '-o', {str(tmp_path / 'm')!r}, '-q', '--jobs', '1']);"
        f"b = main(['verify', {str(tmp_path / 'tree')!r}, '--manifest', {str(tmp_path / 'm')!r}, '-q']);"
        "print(a, b, sorted(m for m in ('cryptography', 'urllib.request', 'django') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "0", "[]"]


# What a BLAKE3 verify of one big file must not import: each was milliseconds of a run whose hashing takes
# a fifth of a second, which made the agent lose to b3sum by its start-up alone (docs/benchmarks.md).
HEAVY_FOR_A_VERIFY = (
    "typing",
    "dataclasses",
    "inspect",
    "shutil",
    "hashlib",
    "_strptime",
    "chinese_calendar",
)


def test_a_blake3_verify_imports_nothing_heavy(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.bin").write_bytes(b"x" * 1000)
    assert main(["scan", str(tree), "-o", str(tmp_path / "m"), "--algo", "blake3", "-q", "--jobs", "1"]) == 0
    script = (
        "import sys; from handover.fixity.cli import main;"
        f"code = main(['verify', {str(tree)!r}, '--manifest', {str(tmp_path / 'm')!r}, '-q']);"
        f"print(code, sorted(m for m in {HEAVY_FOR_A_VERIFY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["0", "[]"], done.stdout + done.stderr


# What the parent of a SHA-256 verify with worker processes must not import: Django (the agent runs from a
# plain pip install), and what multiprocessing.Pool brought in (pickle, socket, subprocess, tempfile, shutil,
# threading...), a fifth of the time of a verify of 5,000 small files (docs/benchmarks.md).
HEAVY_AT_START_UP = (
    "django",
    "multiprocessing",
    "pickle",
    "socket",
    "subprocess",
    "tempfile",
    "shutil",
    "threading",
    "concurrent.futures",
    "logging",
    "json",
    "typing",
    "dataclasses",
    "inspect",
    "importlib.metadata",
    "pkg_resources",
    "cryptography",
    "urllib.request",
)


def test_a_verify_with_workers_starts_without_heavy_modules(tmp_path: Path) -> None:
    """The agent as a person runs it, with two workers really forked: it finds the change, and its own process
    loaded none of the heavy modules (sys.modules at the end holds whatever the run imported)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(200):
        (tree / f"f{i:03d}.bin").write_bytes(bytes([i]) * (i + 1))
    manifest = tmp_path / "m"
    assert main(["scan", str(tree), "-o", str(manifest), "-q", "--jobs", "1"]) == 0
    (tree / "f007.bin").write_bytes(b"x" * 8)
    script = (
        "import os, sys; from handover.fixity import cli, integrity;"
        "integrity.SMALL_MANIFEST = 0;"  # workers whatever the manifest's size (it is above the threshold too)
        f"code = cli.main(['verify', {str(tree)!r}, '--manifest', {str(manifest)!r}, '--jobs', '2', '-q']);"
        "print(code, 'hashlib' in sys.modules, sorted(m for m in"
        f" {HEAVY_AT_START_UP!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert "f007.bin" in done.stdout, done.stdout + done.stderr
    # exit 1 (the change found); this process hashed nothing (the workers did), and imported nothing heavy
    assert done.stdout.split()[-3:] == ["1", "False", "[]"], done.stdout + done.stderr


def test_the_help_names_the_defaults_the_modules_use(capsys: pytest.CaptureFixture[str]) -> None:
    from handover.fixity import continuity, keys

    for command in (["enroll", "--help"], ["continuity", "--help"]):
        with pytest.raises(SystemExit):
            main(command)
    shown = " ".join(capsys.readouterr().out.split())
    assert f"${keys.AGENT_DIR_ENV}" in shown
    assert f"(default {continuity.SMALL_RATIO:.2f})" in shown


def test_a_verify_killed_outright_resumes_from_its_journal(tmp_path: Path) -> None:
    """No chance to clean up (SIGKILL, a power cut): what the journal had written out is not read again."""
    tree = tmp_path / "tree"
    tree.mkdir()
    count, size = 6, hashing.BIG_FILE + 1  # each file a batch of its own, so each is journaled when done
    for i in range(count):
        (tree / f"f{i}.bin").write_bytes(bytes([i]) * size)
    manifest, journal = tmp_path / "m", tmp_path / "m.partial"
    assert main(["scan", str(tree), "-o", str(manifest), "-q", "--jobs", "1"]) == 0
    agent = [str(Path(sys.executable).with_name("handover-agent")), "verify", str(tree)]
    rate = str(size / 1e6)  # a file a second
    slow = subprocess.Popen([*agent, "--manifest", str(manifest), "--jobs", "1", "--max-rate", rate, "-q"])
    try:
        while slow.poll() is None and (not journal.exists() or journal.read_bytes().count(b"\n#: ") < 2):
            time.sleep(0.05)  # the journal is written out about once a second
    finally:
        slow.kill()
        slow.wait()
    assert slow.returncode < 0, "the slow run ended by itself: make it slower"

    report = tmp_path / "r.json"
    resume = [*agent[1:], "--manifest", str(manifest), "--journal", str(journal), "--json", str(report), "-q"]
    assert main(resume) == 0
    data = json.loads(report.read_text())
    assert data["reused"] >= 2 and data["reused"] + data["hashed"] == count
    assert not journal.exists()
