"""A real sshd whose whole /etc is a copy of its own, in a mount namespace: chpasswd replaces /etc/shadow by a
rename, which a bind-mounted single file (tests/connectors/conftest.py's hosts) refuses; /var/spool is the
host's own ``spool`` folder (crontabs). Users: root (password ADMIN_PW) and opsuser (OLD_PW, aging 1/90/7/30, in
group opsadm, a key; sudo ALL when ``sudo_ops``). ``chpasswd_adds_group``: the host's chpasswd also puts opsuser
in that group when it changes opsuser's password — a firm's password tool with a side effect, which the rotation
must catch (its verification compares the account before and after) and answer with E01. ``sshd_extra``: more
lines of sshd_config (e.g. a Match block forbidding a password login)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from handover.connectors.change.sha512crypt import sha512_crypt

ADMIN_PW = "Canary-root-5d2c"  # the administrator's password (the target's credential)
OLD_PW = "Old-ops-pw-81"

TODAY = (date.today() - date(1970, 1, 1)).days  # a password changed today: not expired (max 90)


@dataclass
class Host:
    root: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def etc_host(
    *, sudo_ops: bool = False, chpasswd_adds_group: str = "", sshd_extra: str = ""
) -> Iterator[Host]:
    if os.geteuid() != 0 or not Path("/usr/sbin/sshd").exists() or not shutil.which("chpasswd"):
        pytest.skip("needs root, sshd and chpasswd to run a host with its own /etc")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs mount namespaces (unshare -m)")
    root = Path(tempfile.mkdtemp(prefix="handover-change-"))
    etc = root / "etc"
    subprocess.run(["cp", "-a", "/etc", str(etc)], check=True)
    lines = [line for line in (etc / "shadow").read_text().splitlines() if not line.startswith("root:")]
    (etc / "shadow").write_text(
        "\n".join(
            [
                f"root:{sha512_crypt(ADMIN_PW)}:20000:0:99999:7:::",
                *lines,
                f"opsuser:{sha512_crypt(OLD_PW)}:{TODAY}:1:90:7:30::",
            ]
        )
        + "\n"
    )
    with (etc / "passwd").open("a") as out:
        out.write(f"opsuser:x:2001:2001:Ops User,,,:{root}/home/opsuser:/bin/bash\n")
    with (etc / "group").open("a") as out:
        out.write("opsuser:x:2001:\nopsadm:x:2002:opsuser\n")
    with (etc / "gshadow").open("a") as out:
        out.write("opsuser:!::\nopsadm:!::opsuser\n")
    if sudo_ops:
        with (etc / "sudoers").open("a") as out:
            out.write("opsuser ALL=(ALL:ALL) ALL\n")
    (root / "home/opsuser/.ssh").mkdir(parents=True)
    (root / "home/opsuser/.ssh/authorized_keys").write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHandoverFixture ops@pc\n"
    )
    for key in (etc / "ssh").glob("ssh_host_*"):
        key.unlink()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(etc / "ssh/ssh_host_ed25519_key")],
        check=True,
    )
    # sshd takes a keyword's first value: the extra global lines go first, its Match blocks last.
    extra_global, match, extra_match = sshd_extra.partition("Match ")
    (etc / "ssh/sshd_config").write_text(
        extra_global + "PermitRootLogin yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nHostKey /etc/ssh/ssh_host_ed25519_key\nLogLevel DEBUG3\nStrictModes no\n"
        + match
        + extra_match
    )
    port, log = _free_port(), root / "sshd.log"
    sshd = f"/usr/sbin/sshd -D -p {port} -o ListenAddress=127.0.0.1 -E {log}"
    (root / "spool/cron/crontabs").mkdir(parents=True)  # the host's own crontabs (configuration dependencies)
    spool = f"if [ -d /var/spool ]; then mount --bind {root / 'spool'} /var/spool; fi"
    wrap = ""
    if (
        chpasswd_adds_group
    ):  # the real chpasswd, then the side effect; the line read from stdin, never an argument
        shutil.copy2(shutil.which("chpasswd") or "/usr/sbin/chpasswd", root / "chpasswd.real")
        (root / "chpasswd").write_text(
            "#!/bin/sh\nline=$(cat)\n"
            f'printf \'%s\\n\' "$line" | {root}/chpasswd.real "$@" || exit $?\n'
            f'case "$line" in opsuser:*) /usr/sbin/usermod -aG {chpasswd_adds_group} opsuser ;; esac\n'
        )
        (root / "chpasswd").chmod(0o755)
        wrap = f" && mount --bind {root / 'chpasswd'} {shutil.which('chpasswd') or '/usr/sbin/chpasswd'}"
    script = f"mount --bind {etc} /etc && {spool}{wrap} && mkdir -p /run/sshd && exec {sshd}"
    process = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    try:
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                pytest.fail("sshd did not start: " + (log.read_text() if log.exists() else ""))
            time.sleep(0.05)
        yield Host(root, port, log, process)
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(root, ignore_errors=True)
