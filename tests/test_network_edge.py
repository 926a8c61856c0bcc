"""L8 hardening at the network edge and on disk: the client address from the configured proxy header only,
a strict X-Request-ID, webhook redirects refused, data files readable by their owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from handover.audit.models import Event
from handover.notifications import services as notifications
from handover.org.models import Role


def _login_event_addr(client, world, **headers):
    user = world.login_with(Role.AUDITOR)
    client.force_login(user)
    client.get("/audit/", **headers)
    return Event.objects.filter(action="audit.view", actor_id=user.pk).latest("seq")


def test_client_address_comes_from_the_proxy_header_only_behind_a_trusted_proxy(client, world, settings):
    settings.HANDOVER_PROXY_CLIENT_HEADER = "X-Forwarded-For"
    settings.HANDOVER_TRUSTED_PROXIES = ["127.0.0.1"]
    # The client wrote a fake address to the left; the proxy appended the real one.
    event = _login_event_addr(
        client, world, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7"
    )
    assert event.client_addr == "203.0.113.7"


def test_the_proxy_header_from_an_untrusted_peer_is_ignored(client, world, settings):
    settings.HANDOVER_PROXY_CLIENT_HEADER = "X-Forwarded-For"
    settings.HANDOVER_TRUSTED_PROXIES = ["127.0.0.1"]
    event = _login_event_addr(client, world, REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert event.client_addr == "198.51.100.4"


def test_without_a_configured_header_the_socket_address_is_recorded(client, world, settings):
    settings.HANDOVER_PROXY_CLIENT_HEADER = ""
    event = _login_event_addr(client, world, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert event.client_addr == "127.0.0.1"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("0123456789abcdef0123456789abcdef", True),
        ("01234567-89ab-cdef-0123-456789abcdef", True),
        ("admin-did-this", False),
        ("../../etc/passwd", False),
        ("a" * 64, False),
    ],
)
def test_request_id_from_the_client_only_in_the_strict_form(client, world, sent, kept):
    client.force_login(world.login_with(Role.AUDITOR))
    response = client.get("/audit/", HTTP_X_REQUEST_ID=sent)
    recorded = Event.objects.filter(action="audit.view").latest("seq").request_id
    assert (recorded == sent) is kept
    assert response["X-Request-ID"] == recorded


class _Server:
    def __init__(self, status: int, location: str = "") -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_webhook_redirect_is_refused_and_not_followed(settings, code):
    """L8: an allowed host that redirects does not get the server to call an internal address."""
    settings.HANDOVER_WEBHOOK_HOSTS = ["127.0.0.1"]
    internal = _Server(200)
    robot = _Server(code, location=f"{internal.url}/internal/admin")
    try:
        with pytest.raises(urllib.error.HTTPError, match="redirect refused"):
            notifications._post_json(f"{robot.url}/robot/send", {"text": "hi"})
        assert robot.requests == ["POST /robot/send"]
        assert internal.requests == []
    finally:
        robot.close()
        internal.close()


def test_data_files_are_created_readable_by_the_owner_only(tmp_path):
    """L8: the SQLite file and its WAL/SHM, the log and a checkpoint are 0600 in a fresh data folder."""
    data = tmp_path / "data"
    env = {
        **os.environ,
        "HANDOVER_DATA_DIR": str(data),
        "DJANGO_SETTINGS_MODULE": "handover.settings.local",
        "HANDOVER_CHECKPOINT_KEY": str(tmp_path / "signer" / "checkpoint.key"),
        "HANDOVER_DATABASE_URL": "",
    }
    env.pop("HANDOVER_TEST_DATABASE", None)
    target = str(data / "checkpoints" / "cp.json")
    script = (
        "import django, logging; django.setup();"
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "logging.getLogger('handover').warning('a line');"
        "from django.db import connection; connection.cursor().execute('SELECT 1');"
        f"call_command('audit', 'checkpoint', '-o', {target!r})"
    )
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, cwd=tmp_path)
    wanted = [data / "handover.sqlite3", data / "logs" / "handover.log", data / "checkpoints" / "cp.json"]
    wanted += [p for p in data.glob("handover.sqlite3-*")]
    wanted += [tmp_path / "signer" / "checkpoint.key"]
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in wanted}
    assert modes and set(modes.values()) == {"0o600"}, modes
    assert all(Path(p).exists() for p in wanted)
