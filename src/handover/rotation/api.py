"""REST endpoints of rotation (issue 15) and of the restore of permission backups (issue 14): plans with each
account's step and outcome, counts by outcome, approval by a second person, a run started in the background;
restores requested, approved by another, applied. Nothing here carries a secret: the new passwords are
generated and sealed by the vault, the backups' contents never leave it."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handover.core.errors import DomainError, NotFound
from handover.discovery.models import Target
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement, Site
from handover.rotation import restores, services
from handover.rotation.models import Restore, RotationItem, RotationPlan


class RotationItemSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="target.asset.hostname", read_only=True)
    site = serializers.CharField(source="target.site.code", read_only=True)
    connector = serializers.CharField(source="target.connector", read_only=True)
    state = serializers.CharField(read_only=True)
    outcome = serializers.CharField(read_only=True)
    config_files = serializers.SerializerMethodField()

    class Meta:
        model = RotationItem
        fields = ["id", "site", "host", "connector", "login_name", "state", "outcome", "reason", "row",
                  "config_files", "updated_at"]  # fmt: skip

    def get_config_files(self, item: RotationItem) -> list[dict[str, Any]]:
        """Where the password may be used (表10 相关配置文件): path, kind, why not read, and after the change
        whether the file still holds the old password. The digests stay in the database."""
        keys = ("path", "kind", "skipped", "holds_old", "unread")
        return [{key: use.get(key) for key in keys} for use in item.config_uses]


class RotationPlanSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True, default="")
    state = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)
    counts = serializers.SerializerMethodField()

    class Meta:
        model = RotationPlan
        fields = ["id", "site", "reason", "state", "concurrency", "per_site", "config_paths", "created_by_name",
                  "created_at", "approved_by_name", "approved_at", "finished_at", "counts"]  # fmt: skip

    def get_counts(self, plan: RotationPlan) -> dict[str, int]:
        """Accounts by step and by outcome (``open`` for none yet): the run's progress."""
        counts: dict[str, int] = {}
        for state, outcome in plan.items.values_list("state", "outcome"):
            counts[state] = counts.get(state, 0) + 1
            counts[outcome or "open"] = counts.get(outcome or "open", 0) + 1
        return counts


class RotationPlanDetailSerializer(RotationPlanSerializer):
    items = RotationItemSerializer(many=True, read_only=True)

    class Meta(RotationPlanSerializer.Meta):
        fields = [*RotationPlanSerializer.Meta.fields, "items"]


class RotationPlanCreateSerializer(serializers.Serializer):
    site = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, default="定期更换")
    concurrency = serializers.IntegerField(required=False, default=16)
    per_site = serializers.IntegerField(required=False, default=4)
    config_paths = serializers.ListField(
        child=serializers.CharField(max_length=1024, trim_whitespace=False), required=False, default=list
    )


class PermissionRestoreSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="target.asset.hostname", read_only=True)
    system = serializers.CharField(source="target.system.name", read_only=True)
    backup = serializers.CharField(source="backup.sha256", read_only=True)
    state = serializers.CharField(read_only=True)

    class Meta:
        model = Restore
        fields = ["id", "system", "host", "backup", "files", "reason", "state", "outcome", "requested_by_name",
                  "created_at", "approved_by_name", "approved_at", "applied_at"]  # fmt: skip


class PermissionRestoreCreateSerializer(serializers.Serializer):
    target = serializers.IntegerField()
    reason = serializers.CharField(max_length=2000)
    files = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list, max_length=500
    )


class _Scoped(APIView):
    read_capability = perms.VIEW_DISCOVERY

    def engagement(self) -> Engagement:
        engagement = org_selectors.engagement_get(user=self.request.user, code=self.kwargs["code"])
        org_selectors.require(user=self.request.user, engagement=engagement, capability=self.read_capability)
        return engagement

    def plan(self, engagement: Engagement, pk: int) -> RotationPlan:
        plan = RotationPlan.objects.filter(engagement=engagement, pk=pk).select_related("site").first()
        if plan is None or (plan.site is not None and not self._sees(engagement, plan.site)):
            raise NotFound(_("No rotation plan %(id)s is open to you.") % {"id": pk}, field="plan")
        return plan

    def restore(self, engagement: Engagement, pk: int) -> Restore:
        found = Restore.objects.filter(engagement=engagement, pk=pk).select_related("target__site").first()
        if found is None or not self._sees(engagement, found.target.site):
            raise NotFound(_("No restore %(id)s is open to you.") % {"id": pk}, field="restore")
        return found

    def _sees(self, engagement: Engagement, site: Any) -> bool:
        return org_selectors.has_capability(
            user=self.request.user, engagement=engagement, capability=perms.VIEW_DISCOVERY, site=site
        )

    def visible(self, engagement: Engagement, capability: str = perms.VIEW_DISCOVERY) -> Any:
        """The sites where the caller holds ``capability``."""
        scope = org_selectors.site_scope(user=self.request.user, engagement=engagement, capability=capability)
        sites = Site.objects.filter(engagement=engagement)
        return sites.none() if scope is None else sites.filter(scope)


class PlanView(_Scoped):
    """Rotation plans (newest first) with their counts; POST draws one up (``site`` code or all, ``reason``,
    ``concurrency``, ``per_site``, ``config_paths``)."""

    @extend_schema(responses=RotationPlanSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        visible = self.visible(engagement)
        plans = (
            RotationPlan.objects.filter(engagement=engagement)
            .filter(Q(site__isnull=True) | Q(site__in=visible))
            .select_related("site")[:200]
        )
        return Response(RotationPlanSerializer(plans, many=True).data)

    @extend_schema(request=RotationPlanCreateSerializer, responses={201: RotationPlanDetailSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = org_selectors.engagement_get(user=request.user, code=code)
        data = RotationPlanCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        site = None
        if data.validated_data["site"]:
            site = (
                self.visible(engagement, perms.RUN_DISCOVERY).filter(code=data.validated_data["site"]).first()
            )
            if site is None:
                raise NotFound(_("No site %(code)s is open to you.") % {"code": data.validated_data["site"]},
                               field="site")  # fmt: skip
        plan = services.plan_create(
            actor=request.user,
            engagement=engagement,
            site=site,
            reason=data.validated_data["reason"],
            concurrency=data.validated_data["concurrency"],
            per_site=data.validated_data["per_site"],
            config_paths=data.validated_data["config_paths"],
        )
        return Response(RotationPlanDetailSerializer(plan).data, status=status.HTTP_201_CREATED)


class PlanDetailView(_Scoped):
    """One plan with each account's step, outcome and reason (poll it for progress)."""

    @extend_schema(responses=RotationPlanDetailSerializer)
    def get(self, request: Request, code: str, plan_id: int) -> Response:
        plan = self.plan(self.engagement(), plan_id)
        return Response(RotationPlanDetailSerializer(plan).data)


class PlanApproveView(_Scoped):
    """Approve a plan (第八条: not its author)."""

    read_capability = perms.MANAGE_WORKFLOW

    @extend_schema(request=None, responses=RotationPlanSerializer)
    def post(self, request: Request, code: str, plan_id: int) -> Response:
        plan = services.plan_approve(actor=request.user, plan=self.plan(self.engagement(), plan_id))
        return Response(RotationPlanSerializer(plan).data)


class PlanRunView(_Scoped):
    """Start (or resume) an approved plan's run in the background: 202; follow it on the plan."""

    read_capability = perms.RUN_DISCOVERY

    @extend_schema(request=None, responses={202: RotationPlanSerializer})
    def post(self, request: Request, code: str, plan_id: int) -> Response:
        from handover.rotation.tasks import plan_run

        plan = self.plan(self.engagement(), plan_id)
        if plan.state not in ("approved", "running"):
            raise DomainError(_("Only an approved plan runs."), field="plan")
        plan_run.enqueue(plan.pk)
        plan.refresh_from_db()
        return Response(RotationPlanSerializer(plan).data, status=status.HTTP_202_ACCEPTED)


class RestoreView(_Scoped):
    """Restores (newest first); POST requests one for a target (``target`` id, ``reason``, ``files``)."""

    @extend_schema(responses=PermissionRestoreSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        visible = self.visible(engagement)
        found = Restore.objects.filter(engagement=engagement, target__site__in=visible).select_related(
            "target__asset", "target__system", "backup"
        )[:200]
        return Response(PermissionRestoreSerializer(found, many=True).data)

    @extend_schema(request=PermissionRestoreCreateSerializer, responses={201: PermissionRestoreSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = org_selectors.engagement_get(user=request.user, code=code)
        data = PermissionRestoreCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        visible = self.visible(engagement, perms.RUN_DISCOVERY)
        target = Target.objects.filter(
            engagement=engagement, pk=data.validated_data["target"], site__in=visible
        ).first()
        if target is None:
            raise NotFound(_("No such discovery target is open to you."), field="target")
        restore = restores.restore_request(
            actor=request.user,
            target=target,
            reason=data.validated_data["reason"],
            names=data.validated_data["files"] or None,
        )
        return Response(PermissionRestoreSerializer(restore).data, status=status.HTTP_201_CREATED)


class RestoreDetailView(_Scoped):
    @extend_schema(responses=PermissionRestoreSerializer)
    def get(self, request: Request, code: str, restore_id: int) -> Response:
        return Response(PermissionRestoreSerializer(self.restore(self.engagement(), restore_id)).data)


class RestoreApproveView(_Scoped):
    """Approve a restore (第八条: not its requester)."""

    read_capability = perms.MANAGE_WORKFLOW

    @extend_schema(request=None, responses=PermissionRestoreSerializer)
    def post(self, request: Request, code: str, restore_id: int) -> Response:
        found = restores.restore_approve(
            actor=request.user, restore=self.restore(self.engagement(), restore_id)
        )
        return Response(PermissionRestoreSerializer(found).data)


class RestoreApplyView(_Scoped):
    """Apply an approved restore, once; each file's or account's outcome in the answer."""

    read_capability = perms.RUN_DISCOVERY

    @extend_schema(request=None, responses=PermissionRestoreSerializer)
    def post(self, request: Request, code: str, restore_id: int) -> Response:
        found = restores.restore_apply(
            actor=request.user, restore=self.restore(self.engagement(), restore_id)
        )
        return Response(PermissionRestoreSerializer(found).data)


BASE = "engagements/<slug:code>/rotation/"
urlpatterns = [
    path(f"{BASE}plans/", PlanView.as_view(), name="rotation-plans"),
    path(f"{BASE}plans/<int:plan_id>/", PlanDetailView.as_view(), name="rotation-plan"),
    path(f"{BASE}plans/<int:plan_id>/approve/", PlanApproveView.as_view(), name="rotation-plan-approve"),
    path(f"{BASE}plans/<int:plan_id>/run/", PlanRunView.as_view(), name="rotation-plan-run"),
    path(f"{BASE}restores/", RestoreView.as_view(), name="rotation-restores"),
    path(f"{BASE}restores/<int:restore_id>/", RestoreDetailView.as_view(), name="rotation-restore"),
    path(
        f"{BASE}restores/<int:restore_id>/approve/",
        RestoreApproveView.as_view(),
        name="rotation-restore-approve",
    ),
    path(
        f"{BASE}restores/<int:restore_id>/apply/", RestoreApplyView.as_view(), name="rotation-restore-apply"
    ),
]
