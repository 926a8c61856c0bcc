"""Error answers outside a view: under /api/ a JSON body in the API's error shape (api/errors.py, the schema's
`Error`), elsewhere Django's pages. A client of the API never has to parse an HTML page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def _api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"detail": _("Nothing of that name here."), "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"detail": _("The request cannot be read."), "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse(
            {"detail": _("Your roles do not allow this here."), "code": "forbidden"}, status=403
        )
    return defaults.permission_denied(request, exception)  # type: ignore[arg-type]


def server_error(request: HttpRequest, *args: Any) -> HttpResponse:
    if _api(request):
        return JsonResponse(
            {"detail": _("The server failed; the error is logged."), "code": "error"}, status=500
        )
    return defaults.server_error(request)
