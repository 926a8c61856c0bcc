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

PASSWORD = "Canary-pw-7f3a9c1e"  # the canary: never in logs, exceptions or the sshd's DEBUG3 log
BIND_FILES = ("etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/sudoers")
BIND_DIRS = ("etc/sudoers.d", "etc/ssh", "etc/cron.d", "etc/systemd/system", "root", "home")


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
