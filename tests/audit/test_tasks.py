"""The scheduled checkpoint task: with the test suite's immediate backend, and for real through the database
backend's worker in a fresh data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django_tasks.base import TaskResultStatus

from handover.audit import checkpoint, events, selectors, services
from handover.audit.models import Event
from handover.audit.verify import verify_rows
from handover.core.schedule import periodic_run
from handover.org import events as org_events

HANDOVER = str(Path(sys.executable).with_name("handover"))


class Actor:
    audit_name = "system:test"


@pytest.fixture
def checkpoint_dir(settings, tmp_path: Path) -> Path:
    settings.HANDOVER_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.HANDOVER_CHECKPOINT_KEY = tmp_path / "keys" / "checkpoint.key"
    return settings.HANDOVER_CHECKPOINT_DIR


def test_enqueued_checkpoint_task_writes_a_checkpoint_that_verifies(db, settings, checkpoint_dir):
    for n in range(4):
        services.event_record(actor=Actor(), action=org_events.SITE_UPDATE, after={"n": n})
    head_seq, head_hash = selectors.chain_head()

    result = periodic_run.enqueue(name="audit.checkpoint")

    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    written = list(checkpoint_dir.glob("checkpoint-*.json"))
    assert [str(p) for p in written] == [result.return_value["path"]]
    assert result.return_value["seq"] == head_seq
    trusted = checkpoint.load_or_create_key(settings.HANDOVER_CHECKPOINT_KEY).public_key()
    cp = checkpoint.read(written[0], trusted)
    assert (cp.seq, cp.head_hash) == (head_seq, head_hash)
    assert Event.objects.order_by("-seq").values_list("action", "channel").first() == (
        events.CHECKPOINT_WRITE,
        "task",
    )
    assert verify_rows(selectors.chain_rows(), algorithm="sha256", checkpoints=[cp]).ok


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [HANDOVER, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"handover {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_worker_runs_the_scheduled_checkpoint_on_the_database_backend(tmp_path):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "DJANGO_"))}
    env.update(HANDOVER_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="handover.settings.local")
    due_now = {**env, "HANDOVER_CHECKPOINT_INTERVAL": "0"}
    run(env, "migrate", "--no-input", "-v", "0")
    assert run(due_now, "audit", "schedule").strip() == "checkpoint task enqueued"
    assert run(due_now, "audit", "schedule").strip() == "a checkpoint task is already waiting"
    assert not list((data / "checkpoints").iterdir())

    # The worker keeps the default interval, so the next checkpoint the task schedules is not due yet and
    # --batch ends once the one due now has run.
    run(env, "worker", "--batch")

    written = list((data / "checkpoints").glob("checkpoint-*.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text())["seq"] == 0  # the trail was empty when it was signed
    (tmp_path / "audit.pub").write_text(run(env, "audit", "public-key"))
    trusting = {**env, "HANDOVER_AUDIT_PUBLIC_KEY": str(tmp_path / "audit.pub")}
    report = run(trusting, "audit", "verify", "--checkpoint", str(written[0]))
    assert report.startswith("audit trail intact: 1 events, head 1") and "1 checkpoint(s)" in report
    assert run(env, "audit", "schedule").strip() == "a checkpoint task is already waiting"
