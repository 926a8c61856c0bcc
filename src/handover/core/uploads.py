"""The request-body guard: an upload larger than its kind allows is refused before a byte of it is read.

DESIGN.md decision 10 (bounded work per request). A view says what it receives with ``@upload_kind("bundle")``
(on a function view, a class view, or a viewset action); every other request gets the ``other`` limit. The
limits are settings, ``HANDOVER_UPLOAD_MAX_BYTES_<KIND>`` (settings/env.py). ``UploadLimitMiddleware`` sits
before the CSRF middleware, whose check is the first to read a form's body, and refuses from CONTENT_LENGTH
alone: an API request gets 413 with the error on ``file``, a page goes back to itself with the message. A body
without CONTENT_LENGTH is read as empty by Django's WSGI handler; for any server that passes one through, the
upload handler counts the bytes as they stream and stops at the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.translation import gettext as _

from handover.core.errors import DomainError

KINDS = ("bundle", "import", "attachment", "evidence", "other")

View = TypeVar("View", bound=Callable[..., Any])


class UploadTooLarge(DomainError):
    """A request body over the limit of what the address receives; nothing of it was read."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            _(
                "The upload is larger than the %(limit)s accepted here; nothing of it was read. Send a smaller file."
            )
            % {"limit": size_label(limit)},
            field="file",
            code="too_large",
        )


def size_label(size: int) -> str:
    """A limit as a person reads it: 512 MiB, 26 MiB, 900 KiB."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):.3g} {unit}"
    return f"{size} B"


def limit_for(kind: str | None) -> int:
    """The largest request body in bytes for this kind of upload (``other`` when the view names none)."""
    return int(getattr(settings, f"HANDOVER_UPLOAD_MAX_BYTES_{(kind or 'other').upper()}"))


def upload_kind(kind: str) -> Callable[[View], View]:
    """Declare what a view receives, choosing its body limit; outermost on a function view."""
    if kind not in KINDS:
        raise ValueError(f"unknown upload kind {kind!r}; one of {KINDS}")

    def mark(view: View) -> View:
        view.upload_kind = kind  # type: ignore[attr-defined]
        return view

    return mark


def _kind_of(request: HttpRequest, view: Any) -> str | None:
    kind = getattr(view, "upload_kind", None)
    cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if kind is None and cls is not None:
        actions = getattr(view, "actions", None) or {}
        action = getattr(cls, actions.get((request.method or "").lower(), ""), None)
        kind = getattr(action, "upload_kind", None) or getattr(cls, "upload_kind", None)
    return kind


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class LimitedUploadHandler(FileUploadHandler):
    """Counts the bytes of uploaded files as they stream, and stops the request past the limit."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        if content_length > self.limit:
            raise UploadTooLarge(self.limit)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise UploadTooLarge(self.limit)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class UploadLimitMiddleware:
    """Refuses a body over the view's upload limit from CONTENT_LENGTH; place it before CsrfViewMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        limit = limit_for(_kind_of(request, view))
        if _declared_length(request) > limit:
            return _refusal(request, UploadTooLarge(limit))
        request.upload_handlers = [LimitedUploadHandler(request, limit), *request.upload_handlers]
        return None


def _refusal(request: HttpRequest, error: UploadTooLarge) -> HttpResponse:
    message = str(error.message)
    if request.path.startswith("/api/"):
        body = {"detail": message, "code": error.code, "field": error.field, "file": [message]}
        return JsonResponse(body, status=error.status)
    # A page cannot show this as the form's error: the form, and its CSRF token, are in the body not read.
    messages.error(request, message)
    return HttpResponseRedirect(request.get_full_path(), status=303)
