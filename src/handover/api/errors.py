"""API error bodies: domain errors become ``{"detail": …, "code": …, "field": …}`` with the right status,
validation errors keep DRF's per-field shape, and nothing internal leaks."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from handover.core.errors import DomainError, StorageFull, disk_full


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if not isinstance(exc, DomainError) and disk_full(exc):
        exc = StorageFull()
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": str(exc.message), "code": exc.code}
        if exc.field:
            body["field"] = exc.field
            body[exc.field] = [str(exc.message)]
        return Response(body, status=exc.status)
    if isinstance(exc, Http404):
        return Response({"detail": str(exc) or "Not found.", "code": "not_found"}, status=404)
    return drf_exception_handler(exc, context)
