"""Browser tests: a real ``handover`` server in a subprocess, driven by Debian's chromium through Playwright.

The server always runs the laptop settings (``handover.settings.local``) on SQLite in a throwaway data folder,
whatever database the rest of the suite uses (``HANDOVER_TEST_DATABASE``): the browser only talks HTTP to it.
These tests never touch the ORM from the test process (Playwright's sync API runs an event loop, and Django
refuses synchronous ORM calls inside one), so they take no ``db`` fixture.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.shared_db import migrated_database
from tests.shared_static import link_static

HANDOVER = Path(sys.executable).with_name("handover")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_USERS = (
    "demo-tech",
    "demo-onsite-hz",
    "demo-firm-it",
    "demo-finance",
    "demo-observer",
    "demo-wg",
    "demo-auditor",
    "demo-sysadmin",
)
# How long to wait for the server to open its port before giving up (a hang guard, not an assertion).
STARTUP_GUARD_SECONDS = 120


@dataclass
class Server:
    base_url: str
    data_dir: Path
    passwords: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    """The environment of the server: the laptop settings on SQLite, never the test settings or database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOVER_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "handover.settings.local",
            "HANDOVER_DATA_DIR": str(data_dir),
            "HANDOVER_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _handover(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(HANDOVER), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"handover {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def parse_demo_logins(stdout: str) -> dict[str, str]:
    """``handover demo`` prints ``<role label> <username> <password> <scope>``; the password follows the name."""
    passwords: dict[str, str] = {}
    for line in stdout.splitlines():
        tokens = line.split()
        for username in DEMO_USERS:
            if username in tokens:
                index = tokens.index(username)
                passwords[username] = tokens[index + 1]
    missing = set(DEMO_USERS) - passwords.keys()
    if missing:
        raise RuntimeError(f"handover demo printed no password for {sorted(missing)}:\n{stdout}")
    return passwords


def _wait_for_port(process: subprocess.Popen[str], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_GUARD_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not open port {port}:\n{log.read_text()}")


def migrated_data_dir(prefix: str) -> tuple[Path, dict[str, str]]:
    """A fresh, migrated data folder (a copy of the run's, tests/shared_db.py) with the static files collected
    (tests/shared_static.py), and the server's environment for it."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    link_static(data_dir)
    env = _server_env(data_dir)
    migrated_database(data_dir, env)
    _handover(env, "collectstatic", "--no-input", "-v", "0")
    return data_dir, env


def shell_scene(server: Server, script: str, marker: str, what: str) -> str:
    """Run ``script`` in ``handover shell`` on the server's data folder and return what follows ``marker`` on
    the line it prints; RuntimeError naming ``what`` when the script fails or prints no such line."""
    done = subprocess.run(
        [str(HANDOVER), "shell", "-c", script],
        env=_server_env(server.data_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(rf"^{marker} (.+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"{what} failed:\n{done.stdout}\n{done.stderr}")
    return found.group(1)


@contextlib.contextmanager
def demo_server() -> Iterator[Server]:
    """A migrated data folder with the demo engagement, served by ``handover runserver`` until the block ends."""
    data_dir, env = migrated_data_dir("handover-e2e-")
    passwords = parse_demo_logins(_handover(env, "demo"))
    port = _free_port()
    log = data_dir / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            # No --insecure: runserver's own static handler only knows unhashed names, while the manifest
            # storage links hashed ones; WhiteNoise serves the collected files as it does in production.
            [str(HANDOVER), "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    # The task worker beside it, as `handover serve` runs one: the package build and the rotation runs are its
    # tasks, and a page that follows one waits for it (with no time limit).
    with (data_dir / "worker.log").open("w") as out:
        worker = subprocess.Popen(
            [str(HANDOVER), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    try:
        _wait_for_port(process, port, log)
        yield Server(base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, passwords=passwords)
    finally:
        for child in (process, worker):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One demo server for the session; a test module whose assertions need the untouched demo makes its own."""
    with demo_server() as running:
        yield running


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-test` (it installs Debian's chromium)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def new_context(browser: Browser, server: Server) -> Iterator[Callable[..., BrowserContext]]:
    """A factory of fresh browser contexts (a Chinese-speaking user unless told otherwise), closed after the test."""
    contexts: list[BrowserContext] = []

    def make(locale: str = "zh-CN") -> BrowserContext:
        context = browser.new_context(base_url=server.base_url, locale=locale, timezone_id="Asia/Shanghai")
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page in a fresh context of its own."""
    return new_context().new_page()


@pytest.fixture
def log_in(server: Server) -> Callable[[Page, str], None]:
    """Log a page in as a demo user: password, skip the offered TOTP setup, land on a page of the app."""

    def do(page: Page, username: str) -> None:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", server.passwords[username])
        page.get_by_test_id("login").click()
        expect(page).to_have_url(f"{server.base_url}/accounts/second-factor/")
        expect(page.get_by_test_id("totp-secret")).not_to_be_empty()
        page.get_by_test_id("skip-totp").click()
        expect(page).not_to_have_url(f"{server.base_url}/accounts/second-factor/")
        expect(page.get_by_test_id("who")).to_be_attached()  # folded behind the menu at phone width

    return do


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests keep their screenshots (issue 17): ``HANDOVER_E2E_ARTEFACTS`` when set (CI keeps
    that folder), else ``artefacts`` in pytest's temporary folder of the run."""
    chosen = os.environ.get("HANDOVER_E2E_ARTEFACTS")
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "artefacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
