"""The agent's only network use: POST to the Handover server's API with a token (stdlib only, no Django).

Used to enrol a site key and to upload a bundle. Anything else the agent does works offline; when the
server cannot be reached, the message says what to do instead (export the key, send the bundle by courier).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from handover.fixity.errors import FixityError

TIMEOUT = 120


class ServerRefused(FixityError):
    """The server answered with an error; ``status`` and ``code`` (the API's reason code) say which."""

    def __init__(self, message: str, *, status: int, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _url(server: str, path: str) -> str:
    if not server.startswith(("https://", "http://")):
        raise FixityError(
            f"--server {server!r}: give the address as https://host (or http:// on a test bench)"
        )
    return server.rstrip("/") + path


def post(
    server: str, path: str, *, token: str, body: bytes, content_type: str, offline_hint: str
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON answer); ``ServerRefused`` for an error answer, ``FixityError`` when unreachable."""
    url = _url(server, path)
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked in _url)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        answer = _answer(exc)
        reason = str(answer.get("detail") or answer.get("message") or exc.reason or "")
        raise ServerRefused(
            f"the server refused it ({exc.code}): {reason}", status=exc.code, code=str(answer.get("code", ""))
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise FixityError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}; {offline_hint}") from None


def _answer(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"detail": str(body)}


def multipart_file(field: str, path: Path) -> tuple[bytes, str]:
    """A multipart/form-data body with one file, and its content type."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{path.name}"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    return (
        head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )
