"""The key keeper as a real process on a real Unix socket: unsealed state shared by every process of the
deployment, shares entered from separate commands, the socket's mode, and a sealed vault when it stops."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from handover.core.actors import system
from handover.org.models import Role
from handover.vault import lifecycle, services
from handover.vault.keeper import RemoteKeeper
from handover.vault.keeper import secret as keeper_secret
from tests.vault.helpers import STRONG, put

# How long to wait for the keeper to open its socket before giving up (a hang guard, not an assertion).
STARTUP_GUARD_SECONDS = 60


TOKEN = "t" * 64  # the keeper's caller secret in these tests (serve makes a fresh one each start)


@pytest.fixture
def keeper_socket(settings, monkeypatch) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    folder = Path(tempfile.mkdtemp(prefix="hv-"))
    path = folder / "vault-keeper.sock"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HANDOVER_VAULT_KEEPER_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "handover.vault.keeper", "--socket", str(path)], env=env
    )
    deadline = time.monotonic() + STARTUP_GUARD_SECONDS
    while not path.exists():
        assert process.poll() is None, "the keeper exited at start"
        assert time.monotonic() < deadline, "the keeper did not open its socket"
        time.sleep(0.05)
    settings.HANDOVER_VAULT_SOCKET = path
    settings.HANDOVER_VAULT_KEEPER = "socket"
    monkeypatch.setattr(keeper_secret, "_cached", TOKEN)  # this process is one the keeper serves
    yield path, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait()


def unseal_command(share: str, nonce: str, monkeypatch) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(share + "\n"))
    out = io.StringIO()
    args = ["vault", "unseal", *(["--nonce", nonce] if nonce else [])]
    call_command(*args, stdout=out)
    return out.getvalue()


def other_process_status(path: Path) -> dict:
    """The keeper's state as a separate process sees it."""
    code = (
        "import json, sys; from handover.vault.keeper import RemoteKeeper; "
        "print(json.dumps(RemoteKeeper(sys.argv[1]).status()))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_the_socket_is_private_to_its_user(keeper_socket):
    path, _ = keeper_socket
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_ISSOCK(path.stat().st_mode)


def test_shares_from_separate_commands_unseal_the_keeper_for_every_process(
    db, world, keeper_socket, monkeypatch
):
    path, _ = keeper_socket
    result = lifecycle.vault_init(actor=system("test"), shares=5, threshold=3)
    assert lifecycle.current_keeper().is_remote and lifecycle.vault_status().sealed
    first = unseal_command(result.shares[0], "", monkeypatch)
    nonce = first.rsplit("--nonce ", 1)[1].strip()
    assert "1 of 3" in first
    assert other_process_status(path)["entered"] == [1]
    with pytest.raises(CommandError):
        unseal_command(result.shares[1], "", monkeypatch)
    unseal_command(result.shares[3], nonce, monkeypatch)
    assert unseal_command(result.shares[4], nonce, monkeypatch).strip() == "unsealed"
    assert other_process_status(path)["sealed"] is False

    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="keeper check") == STRONG
    out = io.StringIO()
    call_command("vault", "status", stdout=out)
    assert out.getvalue().startswith("unsealed")
    call_command("vault", "seal", stdout=io.StringIO())
    assert other_process_status(path)["sealed"] is True
    with pytest.raises(lifecycle.VaultSealed):
        services.secret_use_for_task(entry_id=entry.pk, purpose="keeper check")


def test_a_stopped_keeper_leaves_the_vault_sealed_and_says_so(db, keeper_socket):
    path, process = keeper_socket
    lifecycle.vault_init(actor=system("test"), shares=3, threshold=2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert path.exists()
    status = lifecycle.vault_status()
    assert status.sealed and status.problem
    with pytest.raises(lifecycle.VaultSealed) as refused:
        lifecycle.require_unsealed()
    assert str(path) in str(refused.value.message)


def test_sigterm_removes_the_socket(keeper_socket):
    path, process = keeper_socket
    assert RemoteKeeper(path).alive()
    process.send_signal(signal.SIGTERM)
    process.wait()
    assert not path.exists()


def test_cli_unseal_without_a_keeper_says_what_to_start(db, monkeypatch):
    lifecycle.vault_init(actor=system("test"), shares=3, threshold=2)
    with pytest.raises(CommandError, match="keeper"):
        unseal_command("HOV1-K002-S001-AAAAA", "", monkeypatch)


def run_vault(*args: str, stdin: str, monkeypatch) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("vault", *args, stdout=out)
    return out.getvalue()


def test_a_rotation_started_by_one_command_is_verified_by_another_through_the_keeper(
    db, world, keeper_socket, monkeypatch
):
    """The new key waits in the keeper process between two commands (two holders at two desks); the old
    shares keep opening the vault until the new ones are verified, then only the new ones do."""
    path, _ = keeper_socket
    old = lifecycle.vault_init(actor=system("test"), shares=5, threshold=3).shares
    nonce = ""
    for share in old[:3]:
        nonce = lifecycle.vault_share_enter(actor=system("test"), share_text=share, nonce=nonce)["nonce"]
    entry = put(world.login_with(Role.FIRM_IT, site=world.branch_a), world, world.branch_a)
    started = json.loads(
        run_vault("rotate-master", "--format", "json", stdin="\n".join(old[2:]), monkeypatch=monkeypatch)
    )
    assert (
        started["pending"] and other_process_status(path)["check_value"] == lifecycle.config_get().check_value
    )
    half = run_vault("rotate-master", "--verify", stdin=started["shares"][4], monkeypatch=monkeypatch)
    nonce = half.split("--nonce ", 1)[1].split()[0]
    done = run_vault(
        "rotate-master",
        "--verify",
        "--nonce",
        nonce,
        stdin="\n".join(started["shares"][:2]),
        monkeypatch=monkeypatch,
    )
    assert "verified" in done and lifecycle.config_get().key_version == 2
    assert other_process_status(path)["check_value"] == lifecycle.config_get().check_value
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="rotation check") == STRONG
