"""The API's shared base: every engagement-scoped endpoint (org, registers, vault, workflow) builds on it."""

from __future__ import annotations

from typing import Any

from rest_framework import status, viewsets
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from handover.org import permissions as perms
from handover.org import selectors
from handover.org.models import Engagement


class EngagementScopedViewSet(viewsets.GenericViewSet):
    """Base for /api/engagements/{code}/…: resolves the engagement through the selectors first, checks
    ``read_capability`` (GET) or ``write_capability`` (other methods) there, limits the site, organisation and
    person fields to what the user sees, and ``_run`` carries out a service with the validated data."""

    read_capability = perms.VIEW_ENGAGEMENT
    write_capability = perms.MANAGE_SITES

    @property
    def engagement(self) -> Engagement:
        if not hasattr(self, "_engagement"):
            self._engagement = selectors.engagement_get(user=self.request.user, code=self.kwargs["code"])
        return self._engagement

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        writing = request.method not in ("GET", "HEAD", "OPTIONS")
        capability = self.write_capability if writing else self.read_capability
        selectors.require(user=request.user, engagement=self.engagement, capability=capability)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        serializer = super().get_serializer(*args, **kwargs)
        fields = getattr(serializer, "fields", {})
        if getattr(self, "swagger_fake_view", False):
            return serializer
        sites = selectors.site_list(user=self.request.user, engagement=self.engagement)
        for name in ("site", "parent"):
            if name in fields:
                fields[name].queryset = sites
        if "organisation" in fields:
            fields["organisation"].queryset = selectors.organisation_list(
                user=self.request.user, engagement=self.engagement
            )
        if "person" in fields:
            fields["person"].queryset = selectors.person_list(
                user=self.request.user, engagement=self.engagement
            )
        return serializer

    def _run(
        self, action: Any, serializer_class: Any = None, code: int = status.HTTP_201_CREATED
    ) -> Response:
        serializer = self.get_serializer(data=self.request.data, partial=self.request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        instance = action(serializer.validated_data)
        return Response(self.get_serializer(instance).data, status=code)


class RowCursorSchema(LimitOffsetPagination):
    """The shape of the register rows' cursor pages (registers/api.py pages them itself, by `after`/`before`,
    so a row entered while a client reads does not shift the pages): ``next``/``previous`` links and
    ``results``, without a count. Only the schema is taken from here."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }
