"""The benchmarks behind `make bench` still run: each in its ``--quick`` form, on tiny data.

The figures are not checked (they belong in docs/benchmarks.md, not in a test); what is checked is that the
scripts run to the end and print their tables, so they do not rot between two `make bench`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_static import link_static

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_fixity_bench_runs_on_a_tiny_tree(tmp_path: Path) -> None:
    out = run("fixity_bench.py", "--dir", str(tmp_path))
    for table in ("SHA256, big tree", "SHA256, small tree", "BLAKE3, small tree", "SM3, big tree"):
        assert table in out
    assert out.count("| integrity.verify (library, jobs=") == 12
    assert out.count("| handover-agent verify") == 6
    assert "verify of that tree against its manifest" in out
    assert list(tmp_path.iterdir()) == []  # the trees are removed


def test_bundle_bench_runs() -> None:
    out = run("bundle_bench.py")
    assert "| open_bundle, best of 1 x 1 |" in out and "opened: 1 report(s)" in out
    assert "refused not_a_bundle: index.json inflates" in out


def test_discovery_gather_bench_runs() -> None:
    out = run("discovery_gather.py")
    assert "| gather_many, concurrency 32, per site 8 | 20 | auth_failed 1, ok 19 |" in out
    assert "| parse alone (build(from_stream)) |" in out


def test_discovery_django_bench_runs() -> None:
    out = run("discovery_django.py")
    assert "| connectors gather_many alone, 32 / 8 | 20 | auth_failed 1, ok 19 |" in out
    assert "| Django run (done), 32 / 8, stored + drafted | 20 | auth_failed 1, ok 19 |" in out


def test_rotation_run_bench_runs() -> None:
    # Discovery over the simulator, then the plan (root and the super-user of each of 20 hosts, one of which
    # refuses the super-user's SSH login), the second person's approval, the run, and the changer alone.
    out = run("rotation_run.py")
    outcomes = "| 20 | 40 | root 成功 20, super-user 成功 19, super-user 未验证 1 |"
    assert f"| connectors alone, change + verify, 32 / 8 (baseline) {outcomes}" in out
    assert f"| Django: plan_create + approve + plan_run (done), 32 / 8 {outcomes}" in out
    assert "| – vault secret_stage | 40 |" in out and "| – vault secret_promote | 40 |" in out


def test_discovery_review_bench_runs() -> None:
    out = run("discovery_review.py")
    assert "| building the inventories (baseline) | 1000 |" in out
    assert "| review with the staff list (" in out


def test_risk_vulns_bench_runs() -> None:
    out = run("risk_vulns.py")
    assert "| parse alone (vulnfiles.read, baseline) |" in out
    assert "{'created': 0, 'updated': 1800, 'unchanged': 0, 'closed': 200} |" in out
    assert "stored: 2000 findings, 200 closed" in out


def test_risk_reports_bench_runs() -> None:
    out = run("risk_reports.py")
    for step in ("assessment_content, overall (baseline)", "overall assessment as PDF", "compliance view (39 duties)",
                 "reports owed"):  # fmt: skip
        assert f"| {step} |" in out


def test_vault_bench_runs() -> None:
    out = run("vault_bench.py")
    assert "aes-256-gcm  encrypt" in out and "sm4-gcm      decrypt" in out


def test_audit_bench_imports() -> None:
    # Its --quick run takes half a minute (a migrated database, 10,000 transactions): too long for the suite.
    spec = importlib.util.spec_from_file_location("audit_bench", BENCH / "audit_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main)


def test_registers_bench_runs(tmp_path: Path) -> None:
    # The import half goes through the cross-register rules, so a synthetic row that breaks one fails here.
    done = subprocess.run(
        [sys.executable, str(BENCH / "registers_bench.py"), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HANDOVER_DATA_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "表11 import" in done.stdout and "表16 export" in done.stdout


def test_workflow_bench_runs(tmp_path: Path) -> None:
    # The overview, 表24 (computed, compiled and signed, exported) and one whole package_build, on a few sites
    # (its PDFs are most of the time: 30 sites and 2 营业部 in the package took a minute).
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "workflow_bench.py"),
            *("--quick", "--runs", "1", "--sites", "6"),
            *("--package-sites", "1"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(BENCH.parent / "src")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for line in (
        "workflow overview",
        "表24 compiled and signed",
        "plain read of the same rows",
        "package_build",
    ):
        assert line in done.stdout


def test_backup_bench_runs() -> None:
    # A thousandth of the data: back up, verify, and restore in a process of its own, with audit verify.
    out = run("backup_bench.py")
    assert "| handover restore, with audit verify " in out
    assert "restore said: audit trail intact: 1001 events, head 1001, 1 checkpoint(s)" in out


@pytest.mark.django_db  # so that the suite's database is made (and migrated) for this test to copy
def test_handover_day_smoke(tmp_path: Path) -> None:
    # The Locust scenario of bench/handover_day.py for 20 s on SQLite: 10 营业部, 20 writers (on-site posts and
    # the firm's IT adding, signing, importing, giving feedback), 技术组 and observers reading, under `handover
    # serve`. It checks that no answer was a 5xx, no process met "database is locked" and the file passes
    # PRAGMA integrity_check (the script exits 1 otherwise), and that the sessions got in and wrote. It starts
    # from the suite's migrated database (a copy).
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the smoke run is of the embedded SQLite")
    database = connection.settings_dict["NAME"]
    link_static(tmp_path)
    static = str((tmp_path / "static").resolve())
    out = run("handover_day.py", "--seed", str(database), "--static", static, "--ceiling", "3", "--cpu-log")
    assert "server: 5xx answers 0; 'database is locked' 0" in out
    # The harness's own parts: the ceiling run before the mix, the CPU lines, the CPU per URL pattern.
    assert "\nceiling:\n" in out and "ceiling: CPU ms per request: gunicorn" in out, out
    assert "mix: CPU ms per request: gunicorn" in out
    assert "| POST /accounts/login/code/ |" in out, out
    assert "integrity_check: ok" in out
    out = out.split("\nmix:\n")[1].split("mix, CPU per route:")[0]  # the mix's table, as Locust saw it
    cells = [line.split("|") for line in out.splitlines() if line.startswith("| ")]
    made = {cell[1].strip(): int(cell[2]) for cell in cells if cell[2].strip().isdigit()}
    # The sessions logged in with their second factor and wrote: which writes a loaded machine fits in 20 s
    # varies (each session picks its next action at random), so only that some were made is checked.
    assert made.get("POST login: TOTP code", 0) > 0, out
    writes = [page for page in made if page.startswith("POST ") and not page.startswith("POST login")]
    assert sum(made[page] for page in writes) > 0, out


@pytest.mark.django_db
def test_package_bench_steps_run_on_a_small_world(settings, tmp_path: Path) -> None:
    # package_bench.py's own run migrates a database and builds its engagement first (18 s of CPU on 1 营业部):
    # its steps run here on the suite's database instead — the reference, the store prefilled from one form's
    # export, a timed build that reuses every annex, and its line.
    from handover.reports import services
    from tests.reports.support import done_world

    settings.HANDOVER_PACKAGE_DIR = tmp_path / "packages"
    spec = importlib.util.spec_from_file_location("package_bench", BENCH / "package_bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    world, tech = done_world()
    forms = services.annexed_forms(world.engagement)
    ref = bench.reference(world.engagement, tech, forms[:1])
    bench.prefill(world.engagement, tech, forms, quick=True)
    wall, final, cpu, package = bench.timed_build(world.engagement, tech)
    assert (package.build.annexes_exported, package.build.annexes_reused) == (0, 2 * len(forms))
    assert "0 exported, 10 reused" in bench.line("build", wall, final, cpu, package.build, ref)
