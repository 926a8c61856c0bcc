"""A MariaDB server of the test's own: mariadb-install-db and mariadbd (Debian's) in a temporary folder, on a free
loopback port, the general log switched on after the fixture (so that a canary can be looked for)."""

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
from pathlib import Path

import pytest


@dataclass
class Server:
    root: Path
    port: int

    @property
    def socket(self) -> Path:
        return self.root / "sock"

    def sql(self, script: str) -> None:
        subprocess.run(
            ["mariadb", "--no-defaults", "-S", str(self.socket), "-uroot", "--batch"],
            input=script.encode(), check=True, capture_output=True,
        )  # fmt: skip

    def logs(self) -> str:
        return "".join(
            p.read_text(errors="replace")
            for p in (self.root / "general.log", self.root / "error.log")
            if p.exists()
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mariadb_server(fixture: str) -> Iterator[Server]:
    """A running mariadbd with ``fixture`` (SQL, as root over the socket) applied, then the general log on."""
    install, daemon = shutil.which("mariadb-install-db"), shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    if install is None or not Path(daemon).exists() or shutil.which("mariadb") is None:
        pytest.skip(
            "MariaDB is not installed (Debian: mariadb-server mariadb-client; `make test` installs them)"
        )
    root = Path(tempfile.mkdtemp(prefix="handover-mariadb-"))
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [install, "--no-defaults", *user, f"--datadir={root / 'data'}", "--auth-root-authentication-method=normal",
         "--skip-test-db"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = _free_port()
    process = subprocess.Popen(
        [daemon, "--no-defaults", *user, f"--datadir={root / 'data'}", f"--socket={root / 'sock'}",
         f"--port={port}", "--bind-address=127.0.0.1", f"--pid-file={root / 'pid'}", "--skip-log-bin",
         f"--log-error={root / 'error.log'}", "--innodb-buffer-pool-size=16M", "--general-log=0",
         f"--general-log-file={root / 'general.log'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        server = Server(root, port)
        for _ in range(300):
            if server.socket.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        if not server.socket.exists():
            pytest.fail("mariadbd did not start: " + server.logs()[-2000:])
        server.sql(fixture)
        server.sql("SET GLOBAL general_log = 1;")  # every statement of the gathering from here on
        yield server
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(root, ignore_errors=True)
