"""Real sshd (Debian's openssh-server) per fixture host, each in its own mount namespace (``unshare -m``)
with the host's /etc files, /root and /home bind-mounted over the machine's, on a loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.connectors import linux_hosts
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host, etc_host

PASSWORD = "Canary-pw-7f3a9c1e"  # the canary: never in logs, exceptions or the sshd's DEBUG3 log
BIND_FILES = ("etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/sudoers")
BIND_DIRS = ("etc/sudoers.d", "etc/ssh", "etc/cron.d", "etc/systemd/system", "root", "home")


# Which of `make test`'s two side-by-side passes runs what (the Makefile): the Django-backed rotation and restore
# tests (real servers *and* the suite's database) run in the PostgreSQL pass, so that they meet PostgreSQL and the
# two passes take about as long; the rest of the connectors (Django-free engines and their servers) in the SQLite
# pass. Run alone, `pytest` runs everything.
POSTGRES_PASS = ("test_rotation_", "test_restore")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.parent != here:
            continue
        if item.path.name.startswith(POSTGRES_PASS):
            item.add_marker(pytest.mark.postgres_pass)
        else:
            item.add_marker(pytest.mark.sqlite_pass)


@dataclass
class SshHost:
    name: str
    root: Path
    port: int
    pid: int
    log: Path
    files: dict[str, bytes]
    process: subprocess.Popen[bytes] | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _can_namespace() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not Path("/usr/sbin/sshd").exists():
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


def _start(name: str, root: Path, files: dict[str, bytes]) -> SshHost:
    linux_hosts.write(root, files)
    for folder in BIND_DIRS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "root").chmod(0o700)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "etc/ssh/ssh_host_ed25519_key")],
        check=True,
    )
    port = _free_port()
    log = root.parent / f"{name}-sshd.log"
    mounts = " && ".join(f"mount --bind {root / p} /{p}" for p in BIND_FILES + BIND_DIRS)
    # The test interpreter may live under the machine's /root (pyenv): keep that folder visible inside.
    python = Path(os.path.realpath(sys.executable))
    if python.is_relative_to("/root") and len(python.parts) > 2:
        keep = Path("/root", python.parts[2])
        side = root.parent / f"{name}-machine-root"
        side.mkdir(exist_ok=True)
        mounts = f"mount --bind /root {side} && {mounts} && mkdir -p {keep} && mount --bind {side / keep.name} {keep}"
    script = f"mkdir -p /run/sshd && {mounts} && exec /usr/sbin/sshd -D -p {port} -o ListenAddress=127.0.0.1 -E {log}"
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            raise RuntimeError(f"sshd for {name} exited: {log.read_text() if log.exists() else ''}")
        time.sleep(0.05)
    return SshHost(name, root, port, proc.pid, log, files, proc)


@pytest.fixture(scope="session")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def host_files(key_folder: Path) -> dict[str, dict[str, bytes]]:
    return linux_hosts.hosts(key_folder, PASSWORD)


@pytest.fixture(scope="session")
def ssh_hosts(
    tmp_path_factory: pytest.TempPathFactory, host_files: dict[str, dict[str, bytes]]
) -> Iterator[dict[str, SshHost]]:
    if not _can_namespace():
        pytest.skip("needs root and mount namespaces (unshare -m) to run sshd with its own /etc")
    base = tmp_path_factory.mktemp("sshd")
    started: dict[str, SshHost] = {}
    try:
        for name, files in host_files.items():
            started[name] = _start(name, base / name, files)
        yield started
    finally:
        for host in started.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(host.pid, 15)
            if host.process is not None:
                host.process.wait(timeout=30)


@pytest.fixture
def etc_linux() -> Iterator[Host]:
    """A real sshd with its own whole /etc (tests/connectors/etc_host.py), for changes and restores."""
    with etc_host(sudo_ops=True) as found:
        yield found


@pytest.fixture
def linux_scene(world, etc_linux: Host, settings, tmp_path):  # type: ignore[no-untyped-def]
    """A Linux target (system 集中交易, host chg01) over ``etc_linux`` with root's password in an unsealed
    vault, gathered once (so its 表8 backup is drafted), opsuser's original password captured."""
    return linux_target(world, etc_linux, settings, tmp_path)


def linux_target(world, etc_linux: Host, settings, tmp_path):  # type: ignore[no-untyped-def]
    """``linux_scene``'s world, login and target, for a test that holds its own database (crash_process.py)."""
    from handover.core.actors import system
    from handover.discovery import services as discovery
    from handover.org.models import Role
    from handover.registers.models import Account, InformationSystem
    from handover.vault import lifecycle
    from handover.vault import services as vault
    from handover.vault.models import SecretKind

    settings.DATA_DIR = tmp_path / "data"
    lifecycle.vault_init(actor=system("test"), shares=5, threshold=3)
    tech = world.login_with(Role.TECH_GROUP)
    info = InformationSystem.objects.create(engagement=world.engagement, site=world.branch_a, name="集中交易")
    root = vault.secret_put(
        actor=system("test"),
        target=vault.Target(
            engagement=world.engagement,
            site=world.branch_a,
            system_name="集中交易",
            hostname="chg01",
            login_name="root",
        ),
        secret=ADMIN_PW,
    )
    target = discovery.target_save(
        actor=tech,
        system=info,
        hostname="chg01",
        connector="linux",
        address="127.0.0.1",
        port=etc_linux.port,
        credential=root,
    )
    run = discovery.run_start(actor=tech, engagement=world.engagement, enqueue=False)
    assert discovery.run_execute(run_id=run.pk).counts["ok"] == 1
    ops = Account.objects.get(login_name="opsuser", asset=target.asset)
    vault.secret_capture(actor=system("test"), account=ops, secret=OLD_PW, kind=SecretKind.ORIGINAL)
    return world, tech, target
