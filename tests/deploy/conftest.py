"""The production stack of deploy/ on loopback: Debian's nginx with the committed site file, gunicorn and the key
keeper as their units start them, on a data folder of the production settings (tests/deploy/test_stack.py)."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.shared_db import migrated_database
from tests.shared_static import link_static

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BIN = Path(sys.executable).parent
HOST = "handover.example"
CLIENT = "127.0.0.5"  # the browser's address: not nginx's (127.0.0.1), so the test can tell them apart
NGINX = "/usr/sbin/nginx"
# How long to wait for a server to open its port or socket (a hang guard, not an assertion).
STARTUP_GUARD_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """Where the stack runs: its folder, ports, environment and the production paths it replaced."""

    root: Path
    https: int = field(default_factory=free_port)
    http: int = field(default_factory=free_port)
    app: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def paths(self) -> list[tuple[str, str]]:
        """Production path or port → this test's; the longer first (handover-signer before handover)."""
        return [
            ("/opt/handover/venv/bin/", f"{BIN}/"),
            ("/var/lib/handover-signer", str(self.root / "signer")),
            ("/var/lib/handover", str(self.data)),
            ("/var/backups/handover", str(self.root / "backups")),
            ("/srv/handover-checkpoints", str(self.root / "shipped")),
            ("/etc/handover/", f"{self.root / 'etc'}/"),
            ("/etc/ssl/handover/", f"{self.root / 'tls'}/"),
            ("/var/log/nginx/", f"{self.root / 'log'}/"),
            ("127.0.0.1:8000", f"127.0.0.1:{self.app}"),
        ]

    def local(self, text: str) -> str:
        for production, here in self.paths():
            text = text.replace(production, here)
        return text

    def handover(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(BIN / "handover"), *args], env=self.env, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"handover {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done

    def request(
        self, method: str, path: str, *, port: int | None = None, tls: bool = True, host: str | None = None,
        body: str = "", headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:  # fmt: skip
        """One request from the browser's address, to nginx (HTTPS unless ``tls`` is false) or to ``port``."""
        port = port or (self.https if tls else self.http)
        if tls:
            context = ssl.create_default_context(cafile=str(self.root / "tls" / "fullchain.pem"))
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", port, context=context, source_address=(CLIENT, 0), timeout=60
            )
        else:
            connection = http.client.HTTPConnection("127.0.0.1", port, source_address=(CLIENT, 0), timeout=60)
        sent = {"Host": host or f"{HOST}:{port}", **(headers or {})}
        if body:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body.encode() or None, headers=sent)
        response = connection.getresponse()
        response.text = response.read().decode(errors="replace")  # type: ignore[attr-defined]
        connection.close()
        return response


def self_signed(folder: Path) -> None:
    """A certificate for handover.example and 127.0.0.1, made here (cryptography), as fullchain/privkey."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(mode=0o700)
    (folder / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def make_key(private: Path, public: Path) -> None:
    """An Ed25519 key in ``private`` (0600, as the server makes it) and its public half in ``public``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    private.write_bytes(pem)
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an EnvironmentFile (comments and blank lines skipped)."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def unit_commands(unit: Path, key: str = "ExecStart") -> list[list[str]]:
    """The unit's ``key=`` command lines as argument lists, systemd's %% unescaped."""
    lines = [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith(f"{key}=")]
    return [shlex.split(line.replace("%%", "%")) for line in lines]


def nginx_config(stack: Stack) -> Path:
    """The committed site file with its ports and paths replaced, inside a main file of this test's own."""
    site = (DEPLOY / "nginx" / "handover.conf").read_text()
    for production in (
        "listen 80;",
        "listen 443 ssl http2;",
        "/etc/ssl/handover/",
        "/var/log/nginx/",
        "127.0.0.1:8000",
    ):
        assert production in site, f"deploy/nginx/handover.conf no longer has {production!r}"
    site = stack.local(site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{stack.http};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{stack.https} ssl http2;")
    (stack.root / "handover.conf").write_text(site)
    temp = stack.root / "nginx-temp"
    temp.mkdir()
    main = stack.root / "nginx.conf"
    main.write_text(
        f"""daemon off;
worker_processes 1;
pid {stack.root}/nginx.pid;
error_log {stack.root}/log/nginx.error.log;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {stack.root}/handover.conf;
}}
"""
    )
    return main


def wait_for(check, process: subprocess.Popen[bytes], what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + STARTUP_GUARD_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not start:\n{log.read_text()[-3000:]}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start(stack: Stack, args: list[str], name: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = stack.root / "log" / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=stack.env, stdout=out, stderr=subprocess.STDOUT)
    stack.processes.append(process)
    return process, log


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is missing: run `make install-test` (it installs Debian's nginx)")
    here = Stack(root=Path(tempfile.mkdtemp(prefix="handover-deploy-")))
    for folder in ("log", "etc", "signer", "backups", "shipped"):
        (here.root / folder).mkdir(mode=0o700)
    here.data.mkdir(mode=0o700)
    link_static(here.data)
    self_signed(here.root / "tls")
    here.env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "DJANGO_"))}
    here.env.update({key: here.local(value) for key, value in env_file(DEPLOY / "handover.env").items()})
    secrets_file = env_file(DEPLOY / "secrets.env")
    assert all(value == "" for value in secrets_file.values()), "deploy/secrets.env is a template: no values"
    here.env.update(
        HANDOVER_SECRET_KEY=secrets.token_urlsafe(50),
        HANDOVER_VAULT_KEEPER_TOKEN=secrets.token_hex(32),
        HANDOVER_DATABASE_URL="",  # SQLite: the PostgreSQL pass's test_pg_roles covers the role split
        PYTHONUNBUFFERED="1",
    )
    units = DEPLOY / "systemd"
    try:
        # `handover migrate` (docs/deployment.md), once per run for every server the suite starts.
        migrated_database(here.data, here.env)
        for command in unit_commands(units / "handover-web.service", "ExecStartPre"):
            subprocess.run([here.local(a) for a in command], env=here.env, check=True, capture_output=True)
        # The keys the first checkpoint and backup would make, made here with their public halves, which the
        # operator hands out (`handover audit public-key`, `handover package public-key`): the audit one is
        # HANDOVER_AUDIT_PUBLIC_KEY, the package one what the backup unit verifies against.
        make_key(Path(here.env["HANDOVER_CHECKPOINT_KEY"]), here.root / "etc" / "audit.pub")
        make_key(here.data / "keys" / "package.key", here.root / "etc" / "package.pub")
        [keeper_command] = unit_commands(units / "handover-keeper.service")
        keeper, log = start(here, [here.local(a) for a in keeper_command], "keeper")
        wait_for((here.data / "vault-keeper.sock").exists, keeper, "the key keeper", log)
        [web_command] = unit_commands(units / "handover-web.service")
        web = [here.local(a) for a in web_command]
        web[web.index("--workers") + 1] = "1"
        gunicorn, log = start(here, web, "gunicorn")
        wait_for(lambda: port_open(here.app), gunicorn, "gunicorn", log)
        main = nginx_config(here)
        tested = subprocess.run(
            [NGINX, "-t", "-c", str(main), "-p", str(here.root)], capture_output=True, text=True
        )
        assert tested.returncode == 0, tested.stderr
        nginx, log = start(here, [NGINX, "-c", str(main), "-p", str(here.root)], "nginx")
        wait_for(lambda: port_open(here.https) and port_open(here.http), nginx, "nginx", log)
        yield here
    finally:
        for process in reversed(here.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(here.root, ignore_errors=True)


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
