"""Error answers outside a view: under /api/ a JSON body in the API's error shape (api/errors.py, the schema's
`Error`), elsewhere Django's pages. A client of the API never has to parse an HTML page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views import defaults

API_PREFIX = "/api/"


def _api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _answer(
    status: int, code: str, detail: str, page: Callable[..., HttpResponse]
) -> Callable[..., HttpResponse]:
    """A handler: under /api/ the JSON body, elsewhere Django's own ``page``."""

    def handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        if _api(request):
            return JsonResponse({"detail": _(detail), "code": code}, status=status)
        return page(request, exception)

    return handler


# Marked for extraction; translated when answered (the handler runs in the request's language).
not_found = _answer(404, "not_found", gettext_noop("Nothing of that name here."), defaults.page_not_found)
bad_request = _answer(400, "bad_request", gettext_noop("The request cannot be read."), defaults.bad_request)
forbidden = _answer(
    403, "forbidden", gettext_noop("Your roles do not allow this here."), defaults.permission_denied
)


def server_error(request: HttpRequest, *args: Any) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": _("The server failed; the error is logged."), "code": "error"}, status=500
        )
    return defaults.server_error(request)
