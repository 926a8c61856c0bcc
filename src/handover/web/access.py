"""How a page declares what it needs, and how refused or missing things become pages.

Each view names one capability from org.permissions (or ``AUTHENTICATED`` / ``PUBLIC``); the decorator
resolves the engagement from the URL through the selectors. tests/test_access_policy.py reads the
declared capability of every URL and checks each role's response against ROLE_CAPABILITIES.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _

from handover.core.errors import DomainError, NotFound, PermissionDenied, StorageFull, disk_full
from handover.org import selectors
from handover.org.permissions import AUTHENTICATED, PUBLIC

View = Callable[..., HttpResponseBase]


def needs(capability: str) -> Callable[[View], View]:
    """Login required; for engagement URLs (``code`` kwarg) the user must hold ``capability`` there."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if capability != PUBLIC and not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if "code" in kwargs:
                engagement = selectors.engagement_get(user=request.user, code=kwargs.pop("code"))
                if capability not in (PUBLIC, AUTHENTICATED):
                    selectors.require(user=request.user, engagement=engagement, capability=capability)
                kwargs["engagement"] = engagement
            elif capability not in (PUBLIC, AUTHENTICATED) and not selectors.engagement_ids_for(
                user=request.user, capability=capability
            ):
                raise PermissionDenied(_("You do not have the role needed for this here."))
            return view(request, *args, **kwargs)

        wrapper.handover_capability = capability  # type: ignore[attr-defined]
        return wrapper

    return decorate


class DomainErrorMiddleware:
    """Turns NotFound and PermissionDenied raised anywhere in a page into a 404 / 403 page in the user's language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None
        if isinstance(exc, NotFound | PermissionDenied):
            return render(
                request, "web/error.html", {"message": exc.message, "status": exc.status}, status=exc.status
            )
        if isinstance(exc, DomainError) and not isinstance(exc, StorageFull):
            return render(request, "web/error.html", {"message": exc.message, "status": 400}, status=400)
        if disk_full(exc):  # a clear page, not a 500: the transaction rolled back, nothing half kept
            full = StorageFull()
            return render(request, "web/error.html", {"message": full.message, "status": 507}, status=507)
        return None
