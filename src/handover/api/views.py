"""REST endpoints over the same selectors and services as the pages, with the same permissions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import mixins, routers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handover.accounts import services as account_services
from handover.api import serializers
from handover.api.base import EngagementScopedViewSet
from handover.audit import exporting
from handover.audit import services as audit_services
from handover.audit.models import Event
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org import selectors, services
from handover.org.models import Engagement, Organisation, Person, RoleAssignment, Site


class EngagementViewSet(viewsets.ReadOnlyModelViewSet):
    """Engagements in which you hold a role."""

    serializer_class = serializers.EngagementSerializer
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    read_capability = perms.AUTHENTICATED

    def get_queryset(self) -> QuerySet[Engagement]:
        return selectors.engagement_list(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        context["firm_names"] = getattr(self, "_firm_names", {})
        return context

    def get_object(self) -> Engagement:
        return selectors.engagement_get(user=self.request.user, code=self.kwargs["code"])

    def _reveal(self, engagements: list[Engagement]) -> None:
        """第十一条: the firm's real name of each engagement answered, through the service that records it."""
        self._firm_names = {
            e.pk: services.firm_name_reveal(actor=self.request.user, engagement=e) for e in engagements
        }

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        engagements = list(page if page is not None else queryset)
        self._reveal(engagements)
        data = self.get_serializer(engagements, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        engagement = self.get_object()
        self._reveal([engagement])
        return Response(self.get_serializer(engagement).data)


class SiteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EngagementScopedViewSet):
    """The site tree (总部 → 区域中心 → 营业部 → 服务部), limited to the sites in your scope."""

    serializer_class = serializers.SiteSerializer
    write_capability = perms.MANAGE_SITES

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Site.objects.none()
        return selectors.site_list(user=self.request.user, engagement=self.engagement, include_inactive=True)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._run(lambda d: services.site_create(actor=request.user, engagement=self.engagement, **d))

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        site = self.get_object()
        serializer = self.get_serializer(site, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {
            "name": site.name,
            "code": site.code,
            "parent": site.parent,
            "address": site.address,
            **{k: v for k, v in serializer.validated_data.items() if k != "level"},
        }
        services.site_update(actor=request.user, site=site, **data)
        return Response(self.get_serializer(site).data)


class OrganisationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EngagementScopedViewSet):
    serializer_class = serializers.OrganisationSerializer
    read_capability = perms.VIEW_ORGS
    write_capability = perms.MANAGE_ORGS

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Organisation.objects.none()
        return selectors.organisation_list(
            user=self.request.user, engagement=self.engagement, include_inactive=True
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._run(
            lambda d: services.organisation_create(actor=request.user, engagement=self.engagement, **d)
        )

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        organisation = self.get_object()
        serializer = self.get_serializer(organisation, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.organisation_update(
            actor=request.user, organisation=organisation, **serializer.validated_data
        )
        return Response(self.get_serializer(organisation).data)


class PersonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EngagementScopedViewSet):
    serializer_class = serializers.PersonSerializer
    read_capability = perms.VIEW_PEOPLE

    @property
    def write_capability(self) -> str:  # type: ignore[override]
        """Linking a login hands it the person's roles: 技术组's decision, like granting a role."""
        if getattr(self, "action", None) in ("link_login", "unlink_login"):
            return perms.MANAGE_ROLES
        return perms.MANAGE_PEOPLE

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Person.objects.none()
        return selectors.person_list(
            user=self.request.user, engagement=self.engagement, include_inactive=True
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._run(
            lambda d: services.person_create(actor=request.user, engagement=self.engagement, **d)
        )

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        person = self.get_object()
        serializer = self.get_serializer(person, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.person_update(actor=request.user, person=person, **serializer.validated_data)
        return Response(self.get_serializer(person).data)

    @extend_schema(request=serializers.LinkLoginSerializer, responses=serializers.PersonSerializer)
    @action(detail=True, methods=["post"], url_path="login")
    def link_login(self, request: Request, pk: str, code: str) -> Response:
        """Link a login account (by username) to the person; it then acts with the person's roles."""
        body = serializers.LinkLoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        username = body.validated_data["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise DomainError(_("No login account %(login)s.") % {"login": username}, field="username")
        person = services.person_link_login(actor=request.user, person=self.get_object(), user=user)
        return Response(self.get_serializer(person).data)

    @extend_schema(request=None, responses=serializers.PersonSerializer)
    @action(detail=True, methods=["post"], url_path="login/unlink")
    def unlink_login(self, request: Request, pk: str, code: str) -> Response:
        """Remove the person's login account."""
        person = services.person_unlink_login(actor=request.user, person=self.get_object())
        return Response(self.get_serializer(person).data)


class RoleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EngagementScopedViewSet):
    """Roles held in the engagement. DELETE revokes (the row stays, with its revocation time)."""

    serializer_class = serializers.RoleSerializer
    read_capability = perms.MANAGE_ROLES
    write_capability = perms.MANAGE_ROLES

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return RoleAssignment.objects.none()
        return selectors.role_list(user=self.request.user, engagement=self.engagement)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._run(lambda d: services.role_grant(actor=request.user, **d))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.role_revoke(actor=request.user, assignment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


TRAIL_FILTERS = ("action", "actor", "engagement", "outcome", "object", "since", "until")


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, for auditors (filters: action, actor, engagement, outcome, object, since, until)."""

    serializer_class = serializers.EventSerializer
    lookup_field = "seq"
    read_capability = perms.VIEW_AUDIT

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Event.objects.none()
        # Reading the trail is a sensitive read: the service records it, as on the pages.
        scope = selectors.audit_scope(user=self.request.user)
        return audit_services.trail_read(actor=self.request.user, scope=scope, filters=self._filters())

    def _filters(self) -> dict[str, str]:
        params = self.request.query_params
        return {k: str(params.get(k)) for k in TRAIL_FILTERS if k in params}

    @extend_schema(
        parameters=[OpenApiParameter(name, str) for name in TRAIL_FILTERS],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, exporting.XLSX_TYPE): OpenApiTypes.BINARY},
    )
    @action(detail=False, methods=["get"], url_path="export/(?P<fmt>csv|xlsx)", url_name="export")
    def export(self, request: Request, fmt: str) -> HttpResponseBase:
        """The filtered trail as a CSV or xlsx file, as the auditor's page exports it; recorded (audit.export)."""
        export = exporting.trail_export(
            actor=request.user,
            scope=selectors.audit_scope(user=request.user),
            filters=self._filters(),
            fmt=fmt,
        )
        response: HttpResponseBase
        if export.streams:
            response = StreamingHttpResponse(export.content, content_type=export.content_type)
        else:
            response = HttpResponse(export.content, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response


class TokenView(APIView):
    """Exchange user name, password and (when set up) a TOTP code for an API token. It ends after
    HANDOVER_API_TOKEN_IDLE_SECONDS unused or HANDOVER_API_TOKEN_MAX_SECONDS in all, and at logout, password or
    factor change, lock and deactivation."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    read_capability = perms.PUBLIC

    @extend_schema(request=serializers.TokenRequestSerializer, responses=serializers.TokenSerializer)
    def post(self, request: Request) -> Response:
        data = serializers.TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = account_services.login_check_password(
            request=request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user.has_totp or settings.HANDOVER_TOTP_REQUIRED:
            account_services.totp_verify(user=user, code=data.validated_data.get("code", ""))
        return Response({"token": account_services.api_token_issue(user=user)})


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, for logged-in users."""

    read_capability = perms.AUTHENTICATED


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI served from the package (no CDN). Its start-up script is a second request to this view
    (``?script=``), not an inline <script>, and the page has no inline <style>: the Content-Security-Policy
    allows neither."""

    template_name = "api/swagger_ui.html"

    read_capability = perms.AUTHENTICATED


class RootView(routers.APIRootView):
    """The API's index of endpoints."""

    read_capability = perms.AUTHENTICATED
