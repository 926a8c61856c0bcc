"""Discovery end to end: the Django run (vault, task, store, drafts) over the real Linux connector against
the real sshd fixture hosts, and the command line's offline import of the same host's collected files."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from handover.audit.models import Event
from handover.core.actors import system
from handover.discovery import services
from handover.discovery.models import Fact, GatherRun, RunState, Snapshot, SnapshotSource, TargetOutcome
from handover.org.models import Role
from handover.registers.models import InformationSystem, Row
from handover.vault import lifecycle
from handover.vault import services as vault
from tests.connectors.conftest import PASSWORD, SshHost
from tests.factories import World

SCRIPT = Path(services.__file__).parent.parent / "connectors" / "linux_collect.sh"


@pytest.fixture
def scene(world: World, settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path / "data"
    lifecycle.vault_init(actor=system("test"), shares=5, threshold=3)
    return world, world.login_with(Role.TECH_GROUP), settings.DATA_DIR


def _live_target(world: World, tech, host: SshHost):  # type: ignore[no-untyped-def]
    info, _ = InformationSystem.objects.get_or_create(
        engagement=world.engagement, site=world.branch_a, name="集中交易"
    )
    entry = vault.secret_put(
        actor=system("test"),
        target=vault.Target(
            engagement=world.engagement,
            site=world.branch_a,
            system_name="集中交易",
            hostname=host.name,
            login_name="root",
        ),
        secret=PASSWORD,
    )
    return services.target_save(
        actor=tech, system=info, hostname=host.name, connector="linux", address="127.0.0.1", port=host.port,
        credential=entry,
    )  # fmt: skip


def _gather(world: World, tech) -> GatherRun:  # type: ignore[no-untyped-def]
    run = services.run_start(actor=tech, engagement=world.engagement, enqueue=False)
    return services.run_execute(run_id=run.pk)


def test_a_live_run_through_the_vault_stores_the_host_and_leaves_the_secret_nowhere(
    ssh_hosts, scene, caplog: pytest.LogCaptureFixture
) -> None:
    world, tech, data = scene
    caplog.set_level(logging.DEBUG)
    host = ssh_hosts["alpha"]
    target = _live_target(world, tech, host)
    run = _gather(world, tech)

    outcome = TargetOutcome.objects.get(run=run, target=target)
    assert (run.state, outcome.status) == (RunState.DONE, "ok"), (outcome.reason_en, run.reason)
    snapshot = Snapshot.objects.get(target=target, is_current=True)
    names = {line.split(b":")[0].decode() for line in host.files["etc/passwd"].splitlines()}
    assert set(Fact.objects.filter(snapshot=snapshot).values_list("name", flat=True)) == names
    assert Fact.objects.filter(snapshot=snapshot, name="root", superuser=True).exists()
    shadow = SnapshotSource.objects.get(snapshot=snapshot, name="/etc/shadow")
    assert shadow.sealed and shadow.blob_id and not shadow.stored  # verifiers only sealed in the vault
    target.refresh_from_db()
    assert target.host_key.startswith("ssh-ed25519 ")  # recorded on first contact
    drafted = Row.objects.filter(form__engagement=world.engagement)
    assert drafted.filter(form__register_no=8).exists() and drafted.filter(form__register_no=9).exists()

    texts = [
        caplog.text,
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(TargetOutcome.objects.values()), default=str),
        json.dumps(list(GatherRun.objects.values()), default=str),
        json.dumps(list(Row.objects.values("data")), ensure_ascii=False, default=str),
        host.log.read_text(errors="replace"),
    ]
    files = [p.read_bytes() for p in (data / "discovery").rglob("*") if p.is_file()]
    assert files and not any(PASSWORD.encode() in content for content in files)
    assert all(PASSWORD not in text for text in texts)
    root_hash = next(
        line for line in host.files["etc/shadow"].decode().splitlines() if line.startswith("root:")
    )
    verifier = root_hash.split(":")[1]
    assert all(verifier not in text for text in texts[:5])
    assert not any(verifier.encode() in content for content in files)


def test_a_changed_host_key_is_refused_and_the_last_good_inventory_stays(ssh_hosts, scene) -> None:
    world, tech, _data = scene
    target = _live_target(world, tech, ssh_hosts["beta"])
    first = _gather(world, tech)
    assert first.counts["ok"] == 1
    good = Snapshot.objects.get(target=target, is_current=True)
    other = ssh_hosts["gamma"].root / "etc/ssh/ssh_host_ed25519_key.pub"
    target.refresh_from_db()
    target.host_key = " ".join(other.read_text().split()[:2])  # as if the host had been another machine
    target.save(update_fields=["host_key"])

    second = _gather(world, tech)
    outcome = TargetOutcome.objects.get(run=second, target=target)
    assert outcome.status == "host_key_changed" and "主机密钥" in outcome.reason_zh
    assert Snapshot.objects.get(target=target, is_current=True) == good


def test_the_command_line_import_of_the_collected_files_gives_what_the_live_run_gave(
    ssh_hosts, scene, tmp_path: Path, capsys
) -> None:
    world, tech, _data = scene
    host = ssh_hosts["gamma"]
    live_target = _live_target(world, tech, host)
    assert _gather(world, tech).counts["ok"] == 1
    collected = tmp_path / "collected"
    subprocess.run(["nsenter", "-t", str(host.pid), "-m", "sh", str(SCRIPT), str(collected)], check=True)
    call_command(
        "discovery", "import", str(collected), "--engagement", world.engagement.code, "--site", "BA",
        "--system", "集中交易", "--kind", "linux", "--host", "gamma-offline",
    )  # fmt: skip
    out = capsys.readouterr().out
    offline = Snapshot.objects.get(target__asset__hostname="gamma-offline", is_current=True)
    live = Snapshot.objects.get(target=live_target, is_current=True)

    def facts(snapshot: Snapshot) -> list[tuple]:  # type: ignore[type-arg]
        return sorted(
            Fact.objects.filter(snapshot=snapshot).values_list(
                "name",
                "kind",
                "uid",
                "superuser",
                "locked",
                "login_allowed",
                "password_state",
                "groups",
                "privileges",
            )
        )

    assert facts(offline) == facts(live) and len(facts(live)) >= 5
    assert "accounts" in out
    sources = {s.name: s.digest for s in SnapshotSource.objects.filter(snapshot=live)}
    offline_sources = {s.name: s.digest for s in SnapshotSource.objects.filter(snapshot=offline)}
    assert sources["/etc/passwd"] == offline_sources["/etc/passwd"]
    assert sources["/etc/shadow"] == offline_sources["/etc/shadow"]
