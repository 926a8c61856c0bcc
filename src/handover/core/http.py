"""What a request says about where it came from, read once and the same way everywhere (L8)."""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.http import HttpRequest

# nginx's $request_id (32 hex digits) or a UUID; anything else is replaced by our own id, so a client cannot
# write its own text into every audit event it causes.
REQUEST_ID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, unless that is a trusted proxy (HANDOVER_TRUSTED_PROXIES) and the
    configured header (HANDOVER_PROXY_CLIENT_HEADER, e.g. X-Forwarded-For) is present. Then the right-most
    address in the header that is not itself a trusted proxy: what the client wrote to the left of it is not
    believed."""
    remote = request.META.get("REMOTE_ADDR", "")
    header = settings.HANDOVER_PROXY_CLIENT_HEADER
    trusted = set(settings.HANDOVER_TRUSTED_PROXIES)
    if not header or _address(remote) not in trusted:
        return remote
    value = request.headers.get(header, "")
    for part in reversed(value.split(",")):
        found = _address(part)
        if found is None:
            return remote  # a malformed hop: keep what the socket says
        if found not in trusted:
            return found
    return remote


def request_id(request: HttpRequest) -> str | None:
    """The X-Request-ID the request carries, if it has the strict form of a request id; else None."""
    incoming = request.headers.get("X-Request-ID", "").lower()
    return incoming if REQUEST_ID.match(incoming) else None
