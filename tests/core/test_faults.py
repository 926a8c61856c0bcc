"""Named fault points (core/faults.py): chosen by HANDOVER_FAULT, the process ends there at once with 137 — no
handler, no ``finally``, no flush, as SIGKILL would; not chosen, nothing happens; armed in-process, a Crash
that ``except Exception`` does not catch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handover.core import faults

SRC = str(Path(__file__).resolve().parents[2] / "src")
SCRIPT = """
import sys
from handover.core import faults
try:
    sys.stdout.write("before ")
    faults.point("rotation.after_change")
    print("after")
finally:
    print("finally ran")
"""


def _run(env_value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    env["PYTHONPATH"] = SRC
    if env_value is not None:
        env[faults.ENV] = env_value
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)


def test_the_chosen_point_ends_the_process_dead() -> None:
    died = _run("rotation.after_change")
    assert died.returncode == 137
    assert "after" not in died.stdout and "finally" not in died.stdout  # no handler, no finally ran


def test_other_points_and_no_choice_do_nothing() -> None:
    for value in (None, "rotation.after_stage"):
        lived = _run(value)
        assert lived.returncode == 0 and lived.stdout == "before after\nfinally ran\n"


def test_armed_raises_a_crash_no_ordinary_handler_catches() -> None:
    caught = []
    with faults.armed("x"), pytest.raises(faults.Crash):
        try:
            faults.point("x")
        except Exception:  # what the pipeline's handlers look like
            caught.append("swallowed")
    assert caught == []
    faults.point("x")  # disarmed after the block
