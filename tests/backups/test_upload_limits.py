"""Uploads cannot exhaust the server (review H3): who may import is checked before the archive is opened, a
bomb is refused with the reason, and a body over its limit is refused from CONTENT_LENGTH before it is read,
through the test client and on a real socket."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from handover.accounts.services import api_token_issue
from handover.backups import services
from handover.backups.models import ImportedBundle
from handover.core import uploads
from handover.org.models import Role
from tests.backups.test_import import enrol, faulty_bundle
from tests.factories import World
from tests.fixity.test_bundle_bounds import bomb


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def _api_post(client, world: World, user, path: Path):
    url = reverse("api:fixity-bundles", kwargs={"code": world.engagement.code})
    token = api_token_issue(user=user)
    with open(path, "rb") as source:
        return client.post(url, {"file": source}, HTTP_AUTHORIZATION=f"Token {token}")


@pytest.mark.parametrize("role", [Role.OBSERVER, Role.AUDITOR])
def test_observer_and_auditor_are_refused_before_the_bomb_is_opened(
    world: World, client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the archive was read before the permission check")

    monkeypatch.setattr(services, "open_bundle", never)
    monkeypatch.setattr(services, "_file_digest", never)
    response = _api_post(client, world, world.login_with(role), bomb(tmp_path / "bomb.zip", 64))
    assert response.status_code == 403, response.content
    assert ImportedBundle.objects.count() == 0


def test_an_importer_uploading_the_bomb_gets_the_reason(world: World, client, tmp_path: Path) -> None:
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    response = _api_post(client, world, onsite, bomb(tmp_path / "bomb.zip", 64))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "not_a_bundle" and body["field"] == "file"
    assert "index.json inflates more than 100 times its compressed size" in body["file"][0]


def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    world: World, client, tmp_path: Path, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HANDOVER_UPLOAD_MAX_BYTES_BUNDLE = 4096
    path = faulty_bundle(enrol(world, tmp_path))
    assert path.stat().st_size > 4096
    read: list[object] = []
    monkeypatch.setattr(uploads.LimitedUploadHandler, "receive_data_chunk", lambda *a: read.append(a))
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    response = _api_post(client, world, onsite, path)
    assert response.status_code == 413, response.content
    # The message names the limit, in the language of the request (the default: Chinese).
    assert response.json()["field"] == "file" and "4 KiB" in response.json()["file"][0]
    client.force_login(onsite)
    page = reverse("backups:bundle_list", kwargs={"code": world.engagement.code})
    with open(path, "rb") as source:
        refused = client.post(page, {"file": source})
    assert refused.status_code == 303 and refused["Location"] == page
    assert response.json()["file"][0] in client.get(page).content.decode()
    assert read == [] and ImportedBundle.objects.count() == 0
    monkeypatch.undo()
    settings.HANDOVER_UPLOAD_MAX_BYTES_BUNDLE = 1 << 20  # the same file under the limit is imported
    with open(path, "rb") as source:
        assert client.post(page, {"file": source}).status_code == 302
    assert ImportedBundle.objects.count() == 1


def test_the_limit_follows_what_the_address_receives(settings) -> None:
    settings.HANDOVER_UPLOAD_MAX_BYTES_EVIDENCE = 123
    settings.HANDOVER_UPLOAD_MAX_BYTES_OTHER = 456
    assert uploads.limit_for("evidence") == 123 and uploads.limit_for(None) == 456
    with pytest.raises(ValueError, match="unknown upload kind"):
        uploads.upload_kind("everything")


def test_the_real_server_answers_413_without_waiting_for_the_body(settings) -> None:
    """A client announces 1 GiB and sends none of it: the answer comes at once, so nothing was read.

    A real WSGI server on a socket (wsgiref, in a thread), serving the project's application; no database is
    touched, since the refusal comes before anything else reads the request.
    """
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    settings.HANDOVER_UPLOAD_MAX_BYTES_BUNDLE = 1 << 20
    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=Quiet)
    serving = threading.Thread(target=server.handle_request)
    serving.start()
    host, port = server.server_address[:2]
    path = reverse("api:fixity-bundles", kwargs={"code": "any"})
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {1 << 30}\r\nConnection: close\r\n\r\n--x\r\n"
    )
    with socket.create_connection((str(host), int(port))) as conn:
        conn.sendall(request.encode())
        reader = conn.makefile("rb")
        status = reader.readline()
        headers = {}
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = reader.read(int(headers["content-length"]))
    # The answer came while 1 GiB was still owed: the body was never waited for (the test server then drains
    # what it is sent, as a real server's connection would be closed).
    serving.join()
    server.server_close()
    assert b" 413 " in status, status
    assert json.loads(body)["field"] == "file"
