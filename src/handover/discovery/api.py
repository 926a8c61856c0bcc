"""REST endpoints of discovery: read the targets, runs and findings of your sites; start a run, import a
file (multipart ``file``, upload kind ``import``), decide on a finding. Nothing here carries a secret."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handover.core.errors import DomainError, NotFound
from handover.discovery import selectors, services
from handover.discovery.models import Decision, Finding, GatherRun, Target, TargetOutcome
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement, Site
from handover.registers.models import InformationSystem


class TargetSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)
    system = serializers.CharField(source="system.name", read_only=True)
    host = serializers.CharField(source="asset.hostname", read_only=True)
    credential = serializers.CharField(source="credential.reference", read_only=True, default="")
    accounts = serializers.IntegerField(read_only=True)
    open_findings = serializers.IntegerField(read_only=True)

    class Meta:
        model = Target
        fields = ["id", "site", "system", "host", "connector", "address", "port", "credential", "host_key",
                  "is_active", "accounts", "open_findings"]  # fmt: skip


class OutcomeSerializer(serializers.ModelSerializer):
    target = serializers.CharField(source="target.__str__", read_only=True)

    class Meta:
        model = TargetOutcome
        fields = ["target", "status", "reason_zh", "reason_en", "counts", "finished_at"]


class RunSerializer(serializers.ModelSerializer):
    outcomes = OutcomeSerializer(many=True, read_only=True)

    class Meta:
        model = GatherRun
        fields = ["id", "kind", "state", "started_by_name", "started_at", "finished_at", "counts", "reason",
                  "outcomes"]  # fmt: skip


class FindingSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)
    system = serializers.CharField(source="system.name", read_only=True)
    host = serializers.CharField(source="asset.hostname", read_only=True)
    account = serializers.CharField(source="account_name", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "rule", "severity", "site", "system", "host", "account", "detail_zh", "detail_en",
                  "evidence", "score", "first_seen", "last_seen", "resolved_at", "decision", "decision_note",
                  "decided_by_name", "decided_at"]  # fmt: skip


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class _Scoped(APIView):
    read_capability = perms.VIEW_DISCOVERY

    def engagement(self) -> Engagement:
        engagement = org_selectors.engagement_get(user=self.request.user, code=self.kwargs["code"])
        org_selectors.require(user=self.request.user, engagement=engagement, capability=self.read_capability)
        return engagement

    def site(self, engagement: Engagement, code: str | None) -> Site | None:
        if not code:
            return None
        site = (
            org_selectors.site_list(user=self.request.user, engagement=engagement).filter(code=code).first()
        )
        if site is None:
            raise NotFound(_("No site %(code)s is open to you.") % {"code": code}, field="site")
        return site


class TargetView(_Scoped):
    """Discovery targets of your sites (system, host, connector, vault entry reference; never a secret)."""

    @extend_schema(responses=TargetSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        targets = selectors.targets_list(user=request.user, engagement=self.engagement())[:500]
        return Response(TargetSerializer(targets, many=True).data)


class RunView(_Scoped):
    """Runs (newest first) with their per-target outcomes; POST starts one (``site`` code, ``system`` id)."""

    @extend_schema(responses=RunSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        runs = selectors.runs_list(user=request.user, engagement=self.engagement()).prefetch_related(
            "outcomes__target__asset"
        )[:50]
        return Response(RunSerializer(runs, many=True).data)

    @extend_schema(request=dict[str, Any], responses={201: RunSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = org_selectors.engagement_get(user=request.user, code=code)
        data = request.data if hasattr(request.data, "get") else {}
        site = self.site(engagement, data.get("site"))
        system = None
        if data.get("system"):
            wanted = str(data["system"])
            system = (
                InformationSystem.objects.filter(engagement=engagement, pk=wanted).first()
                if wanted.isdigit()
                else None
            )
            if system is None:
                raise NotFound(_("No such system in this engagement."), field="system")
        run = services.run_start(actor=request.user, engagement=engagement, site=site, system=system)
        run.refresh_from_db()
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)


class RunDetailView(_Scoped):
    """One run and its per-target outcomes (poll it for progress)."""

    @extend_schema(responses=RunSerializer)
    def get(self, request: Request, code: str, run_id: int) -> Response:
        run = selectors.run_get(user=request.user, engagement=self.engagement(), pk=run_id)
        return Response(RunSerializer(run).data)


class FindingView(_Scoped):
    """Open findings of your sites, filtered by ``site`` (code) and ``rule``."""

    @extend_schema(responses=FindingSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        found = selectors.findings_list(
            user=request.user,
            engagement=engagement,
            site=self.site(engagement, request.query_params.get("site")),
            rule=request.query_params.get("rule", ""),
        )[:1000]
        return Response(FindingSerializer(found, many=True).data)


class FindingDecideView(_Scoped):
    """A person's decision on a finding; drafts the 表13 change behind the 表8 backup."""

    read_capability = perms.RUN_DISCOVERY  # a POST only: the capability of the write

    @extend_schema(request=DecisionSerializer, responses=FindingSerializer)
    def post(self, request: Request, code: str, finding_id: int) -> Response:
        engagement = self.engagement()
        finding = selectors.finding_get(user=request.user, engagement=engagement, pk=finding_id)
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.finding_decide(actor=request.user, finding=finding, **serializer.validated_data)
        finding.refresh_from_db()
        return Response(FindingSerializer(finding).data)


class ImportView(_Scoped):
    """Import a file read by a connector: multipart ``file``, ``site`` (code), ``system`` (name), ``kind``."""

    parser_classes = [MultiPartParser]
    upload_kind = "import"  # handover.core.uploads: the body limit of an import
    read_capability = perms.RUN_DISCOVERY  # a POST only: the capability of the write

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}, "site": {"type": "string"},
            "system": {"type": "string"}, "kind": {"type": "string"}, "host": {"type": "string"}}}},
        responses={201: RunSerializer},
    )  # fmt: skip
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        if upload is None or not hasattr(upload, "chunks"):
            raise DomainError(_("Send the file as the multipart field 'file'."), field="file")
        site = self.site(engagement, request.data.get("site"))
        if site is None or not request.data.get("system") or not request.data.get("kind"):
            raise DomainError(_("Say the site, the system and the kind of the file."), field="site")
        result = services.discovery_import_upload(
            actor=request.user,
            engagement=engagement,
            site=site,
            system_name=str(request.data["system"]),
            kind=str(request.data["kind"]),
            upload=upload,
            host=str(request.data.get("host", "")),
        )
        return Response(RunSerializer(result.run).data, status=status.HTTP_201_CREATED)


class BundleView(_Scoped):
    """Upload a signed discovery bundle of ``handover-agent`` (multipart ``file``); imported exactly once
    (201 when imported now, 200 when it was imported before and nothing changed)."""

    parser_classes = [MultiPartParser]
    upload_kind = "bundle"  # handover.core.uploads: the body limit of a bundle
    read_capability = perms.RUN_DISCOVERY  # a POST only: the capability of the write

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses={201: dict[str, Any], 200: dict[str, Any]},
    )
    def post(self, request: Request, code: str) -> Response:
        from handover.discovery.bundles import discovery_bundle_import

        engagement = self.engagement()
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        if upload is None or not hasattr(upload, "seek"):
            raise DomainError(_("Send the file as the multipart field 'file'."), field="file")
        result = discovery_bundle_import(actor=request.user, source=upload, engagement=engagement)
        body = {
            "digest": result.bundle.digest,
            "site": result.bundle.site.code,
            "runs": result.bundle.runs,
            "created": result.created,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


BASE = "engagements/<slug:code>/discovery/"
urlpatterns = [
    path(f"{BASE}targets/", TargetView.as_view(), name="discovery-targets"),
    path(f"{BASE}runs/", RunView.as_view(), name="discovery-runs"),
    path(f"{BASE}runs/<int:run_id>/", RunDetailView.as_view(), name="discovery-run"),
    path(f"{BASE}findings/", FindingView.as_view(), name="discovery-findings"),
    path(
        f"{BASE}findings/<int:finding_id>/decide/",
        FindingDecideView.as_view(),
        name="discovery-finding-decide",
    ),
    path(f"{BASE}imports/", ImportView.as_view(), name="discovery-imports"),
    path(f"{BASE}bundles/", BundleView.as_view(), name="discovery-bundles"),
]
