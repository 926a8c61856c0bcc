"""REST endpoints of backup verification: the agents enrol their keys and upload their bundles here.

``POST /api/engagements/{code}/fixity/keys/`` takes the public key document ``handover-agent enroll
--server`` sends; ``POST /api/engagements/{code}/fixity/bundles/`` takes a bundle file (multipart field
``file``, or the raw body with ``Content-Type: application/zip``). A refused bundle answers 400 with the
reason in ``code`` (docs/fixity.md).
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handover.backups import selectors, services
from handover.backups.models import ImportedBundle, ImportVia, KeySource, SiteKey
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement


class SiteKeySerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)

    class Meta:
        model = SiteKey
        fields = ["key_id", "site", "label", "source", "enrolled_by_name", "enrolled_at", "revoked_at"]


class BundleSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)

    class Meta:
        model = ImportedBundle
        fields = ["digest", "site", "created_at_site", "tool", "host", "reports", "problems", "tamper",
                  "via", "courier_no", "imported_by_name", "imported_at", "summary"]  # fmt: skip


class ImportSerializer(BundleSerializer):
    created = serializers.BooleanField(help_text="False: imported before; nothing changed.")

    class Meta(BundleSerializer.Meta):
        fields = [*BundleSerializer.Meta.fields, "created"]


class _Scoped(APIView):
    read_capability = perms.VIEW_BACKUPS

    def engagement(self) -> Engagement:
        engagement = org_selectors.engagement_get(user=self.request.user, code=self.kwargs["code"])
        org_selectors.require(user=self.request.user, engagement=engagement, capability=self.read_capability)
        return engagement


class SiteKeyView(_Scoped):
    """Site keys of the field agents: list them, or enrol one (the agent's public key document)."""

    parser_classes = [JSONParser]

    @extend_schema(responses=SiteKeySerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        keys = selectors.site_key_list(user=request.user, engagement=self.engagement())
        return Response(SiteKeySerializer(keys, many=True).data)

    @extend_schema(request=dict[str, Any], responses={201: SiteKeySerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = org_selectors.engagement_get(user=request.user, code=code)
        data = request.data if isinstance(request.data, dict) else {}
        key = services.site_key_enrol(
            actor=request.user, engagement=engagement, document=json.dumps(data),
            label=str(data.get("label", "")), source=KeySource.AGENT,
        )  # fmt: skip
        return Response(SiteKeySerializer(key).data, status=status.HTTP_201_CREATED)


class BundleView(_Scoped):
    """Imported bundles: list them, or upload one (imported exactly once; 200 if it was imported before)."""

    parser_classes = [MultiPartParser]
    upload_kind = "bundle"  # handover.core.uploads: the body limit of a bundle

    @extend_schema(responses=BundleSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        bundles = selectors.bundle_list(user=request.user, engagement=self.engagement())[:200]
        return Response(BundleSerializer(bundles, many=True).data)

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string",
                   "format": "binary"}}}}, responses={201: ImportSerializer, 200: ImportSerializer})  # fmt: skip
    def post(self, request: Request, code: str) -> Response:
        engagement = org_selectors.engagement_get(user=request.user, code=code)
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        if upload is None or not hasattr(upload, "seek"):
            raise DomainError(_("Send the bundle as the multipart field 'file'."), field="file")
        result = services.bundle_import(
            actor=request.user, source=upload, via=ImportVia.API, engagement=engagement
        )
        body = {**BundleSerializer(result.bundle).data, "created": result.created}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
