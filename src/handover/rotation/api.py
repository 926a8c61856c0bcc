"""REST endpoints of rotation (issue 15) and of the restore of permission backups (issue 14): plans with each
account's step and outcome, counts by outcome, approval by a second person, a run started in the background;
restores requested, approved by another, applied. Nothing here carries a secret: the new passwords are
generated and sealed by the vault, the backups' contents never leave it."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handover.core.errors import NotFound
from handover.discovery.models import Target
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement
from handover.rotation import disables, restores, reverts, selectors, services
from handover.rotation.models import Disablement, Restore, Revert, RotationItem, RotationPlan


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
        """Accounts by step and by outcome (``open`` for none yet): the run's progress, over the caller's
        sites (``sites`` in the context; a list's counts come precomputed in one query as ``counts``)."""
        known = self.context.get("counts")
        if known is not None:
            return known.get(plan.pk, {})
        return selectors.plan_counts(plans=[plan], sites=self.context.get("sites"))[plan.pk]


class RotationPlanDetailSerializer(RotationPlanSerializer):
    items = serializers.SerializerMethodField()

    class Meta(RotationPlanSerializer.Meta):
        fields = [*RotationPlanSerializer.Meta.fields, "items"]

    @extend_schema_field(RotationItemSerializer(many=True))
    def get_items(self, plan: RotationPlan) -> list[dict[str, Any]]:
        """The plan's accounts on the caller's sites (a plan over the whole engagement spans sites)."""
        sites = self.context.get("sites")
        items = plan.items.all() if sites is None else plan.items.filter(target__site__in=sites)
        items = items.select_related("target__site", "target__asset").order_by("pk")
        return list(RotationItemSerializer(items, many=True).data)


class RotationPlanCreateSerializer(serializers.Serializer):
    site = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, default="定期更换")
    concurrency = serializers.IntegerField(required=False, default=16)
    per_site = serializers.IntegerField(required=False, default=4)
    config_paths = serializers.ListField(
        child=serializers.CharField(max_length=1024, trim_whitespace=False), required=False, default=list
    )
    due_only = serializers.BooleanField(
        required=False, default=False, help_text="only the accounts whose periodic change is due (表27)"
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


class PasswordRevertSerializer(serializers.ModelSerializer):
    """A restore of an original password (E01, 第二十八条第1项): its account, case, state and outcome."""

    account = serializers.CharField(source="item.login_name", read_only=True)
    host = serializers.CharField(source="item.target.asset.hostname", read_only=True)
    state = serializers.CharField(read_only=True)
    outcome = serializers.CharField(read_only=True)

    class Meta:
        model = Revert
        fields = ["id", "case", "account", "host", "reason", "state", "previous_number", "version_number",
                  "outcome", "detail", "row", "requested_by_name", "created_at", "approved_by_name",
                  "approved_at", "applied_at"]  # fmt: skip


class PasswordRevertCreateSerializer(serializers.Serializer):
    case = serializers.IntegerField(help_text="the open E01 case started from the change's 表10 row")
    reason = serializers.CharField(max_length=2000)


class DisablementSerializer(serializers.ModelSerializer):
    """停用 of an account (第二十六条第3项 A) from its 表11 row, and its E03 restore."""

    host = serializers.CharField(source="target.asset.hostname", read_only=True)
    state = serializers.CharField(read_only=True)

    class Meta:
        model = Disablement
        fields = ["id", "host", "login_name", "t11_row", "observe_until", "state", "before", "detail", "case",
                  "requested_by_name", "created_at", "approved_by_name", "approved_at", "disabled_at",
                  "restored_at"]  # fmt: skip


class DisablementCreateSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="the 表11 row whose 处理措施 is 停用")


class DisablementRestoreSerializer(serializers.Serializer):
    case = serializers.IntegerField(help_text="the open E03 case opened from the same 表11 row")


class _Scoped(APIView):
    read_capability = perms.VIEW_DISCOVERY

    def engagement(self) -> Engagement:
        engagement = org_selectors.engagement_get(user=self.request.user, code=self.kwargs["code"])
        org_selectors.require(user=self.request.user, engagement=engagement, capability=self.read_capability)
        return engagement

    def plan(self, engagement: Engagement, pk: int) -> RotationPlan:
        return selectors.plan_get(user=self.request.user, engagement=engagement, pk=pk)

    def restore(self, engagement: Engagement, pk: int) -> Restore:
        return selectors.restore_get(user=self.request.user, engagement=engagement, pk=pk)

    def revert(self, engagement: Engagement, pk: int) -> Revert:
        return selectors.revert_get(user=self.request.user, engagement=engagement, pk=pk)

    def disablement(self, engagement: Engagement, pk: int) -> Disablement:
        return selectors.disablement_get(user=self.request.user, engagement=engagement, pk=pk)

    def _sees(self, engagement: Engagement, site: Any) -> bool:
        return org_selectors.has_capability(
            user=self.request.user, engagement=engagement, capability=perms.VIEW_DISCOVERY, site=site
        )

    def visible(self, engagement: Engagement, capability: str = perms.VIEW_DISCOVERY) -> Any:
        """The sites where the caller holds ``capability``."""
        return selectors.sites_for(user=self.request.user, engagement=engagement, capability=capability)

    def context(self, engagement: Engagement) -> dict[str, Any]:
        """The serializers' context: the caller's sites, whose accounts a plan shows and counts."""
        return {"sites": self.visible(engagement)}


class PlanView(_Scoped):
    """Rotation plans (newest first) with their counts; POST draws one up (``site`` code or all, ``reason``,
    ``concurrency``, ``per_site``, ``config_paths``)."""

    @extend_schema(responses=RotationPlanSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        plans = list(selectors.plan_list(user=request.user, engagement=engagement)[:200])
        counts = selectors.plan_counts(plans=plans, sites=self.visible(engagement))
        return Response(RotationPlanSerializer(plans, many=True, context={"counts": counts}).data)

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
            due_only=data.validated_data["due_only"],
        )
        return Response(
            RotationPlanDetailSerializer(plan, context=self.context(engagement)).data,
            status=status.HTTP_201_CREATED,
        )


class PlanDetailView(_Scoped):
    """One plan with each account's step, outcome and reason (poll it for progress)."""

    @extend_schema(responses=RotationPlanDetailSerializer)
    def get(self, request: Request, code: str, plan_id: int) -> Response:
        engagement = self.engagement()
        plan = self.plan(engagement, plan_id)
        return Response(RotationPlanDetailSerializer(plan, context=self.context(engagement)).data)


class PlanApproveView(_Scoped):
    """Approve a plan (第八条: not its author)."""

    read_capability = perms.MANAGE_WORKFLOW

    @extend_schema(request=None, responses=RotationPlanSerializer)
    def post(self, request: Request, code: str, plan_id: int) -> Response:
        engagement = self.engagement()
        plan = services.plan_approve(actor=request.user, plan=self.plan(engagement, plan_id))
        return Response(RotationPlanSerializer(plan, context=self.context(engagement)).data)


class PlanRunView(_Scoped):
    """Start (or resume) an approved plan's run in the background: 202; follow it on the plan."""

    read_capability = perms.RUN_DISCOVERY

    @extend_schema(request=None, responses={202: RotationPlanSerializer})
    def post(self, request: Request, code: str, plan_id: int) -> Response:
        engagement = self.engagement()
        plan = services.plan_start(actor=request.user, plan=self.plan(engagement, plan_id))
        return Response(
            RotationPlanSerializer(plan, context=self.context(engagement)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class RestoreView(_Scoped):
    """Restores (newest first); POST requests one for a target (``target`` id, ``reason``, ``files``)."""

    @extend_schema(responses=PermissionRestoreSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        found = selectors.restore_list(user=request.user, engagement=self.engagement())[:200]
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


class RevertView(_Scoped):
    """Restores of original passwords (E01, newest first); POST asks for one within an open E01 case (``case``,
    ``reason``)."""

    @extend_schema(responses=PasswordRevertSerializer(many=True), operation_id="rotation_reverts_list")
    def get(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        found = selectors.revert_list(user=request.user, engagement=engagement)[:200]
        return Response(PasswordRevertSerializer(found, many=True).data)

    @extend_schema(request=PasswordRevertCreateSerializer, responses={201: PasswordRevertSerializer})
    def post(self, request: Request, code: str) -> Response:
        from handover.workflow.models import ExceptionCase

        engagement = org_selectors.engagement_get(user=request.user, code=code)
        data = PasswordRevertCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = ExceptionCase.objects.filter(
            engagement=engagement, pk=data.validated_data["case"],
            site__in=self.visible(engagement, perms.RUN_DISCOVERY),
        ).first()  # fmt: skip
        if case is None:
            raise NotFound(_("No such exception case is open to you."), field="case")
        revert = reverts.revert_request(actor=request.user, case=case, reason=data.validated_data["reason"])
        return Response(PasswordRevertSerializer(revert).data, status=status.HTTP_201_CREATED)


class RevertDetailView(_Scoped):
    @extend_schema(responses=PasswordRevertSerializer, operation_id="rotation_reverts_retrieve")
    def get(self, request: Request, code: str, revert_id: int) -> Response:
        return Response(PasswordRevertSerializer(self.revert(self.engagement(), revert_id)).data)


class RevertApproveView(_Scoped):
    """Approve the restore of an original password (第八条: not the person who asked)."""

    read_capability = perms.MANAGE_WORKFLOW

    @extend_schema(request=None, responses=PasswordRevertSerializer)
    def post(self, request: Request, code: str, revert_id: int) -> Response:
        found = reverts.revert_approve(actor=request.user, revert=self.revert(self.engagement(), revert_id))
        return Response(PasswordRevertSerializer(found).data)


class RevertApplyView(_Scoped):
    """Apply an approved restore once (after the case records the developer's support); its outcome."""

    read_capability = perms.RUN_DISCOVERY

    @extend_schema(request=None, responses=PasswordRevertSerializer)
    def post(self, request: Request, code: str, revert_id: int) -> Response:
        found = reverts.revert_apply(actor=request.user, revert=self.revert(self.engagement(), revert_id))
        return Response(PasswordRevertSerializer(found).data)


class ResetCreateSerializer(serializers.Serializer):
    case = serializers.IntegerField(
        help_text="the open E02 case (遗忘/联系不上) with the working group's consent"
    )


class ResetView(_Scoped):
    """E02 (第二十八条第2项): POST draws up a one-account plan resetting a lost password; approve and run it as
    any plan."""

    read_capability = perms.RUN_DISCOVERY

    @extend_schema(request=ResetCreateSerializer, responses={201: RotationPlanDetailSerializer})
    def post(self, request: Request, code: str) -> Response:
        from handover.rotation import reconcile
        from handover.workflow.models import ExceptionCase

        engagement = self.engagement()  # who may reset, before reading what was sent
        data = ResetCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = ExceptionCase.objects.filter(engagement=engagement, pk=data.validated_data["case"]).first()
        if case is None or not self._sees(engagement, case.site):
            raise NotFound(_("No such exception case is open to you."), field="case")
        plan = reconcile.reconcile_plan(actor=request.user, case=case)
        body = RotationPlanDetailSerializer(plan, context=self.context(engagement)).data
        return Response(body, status=status.HTTP_201_CREATED)


class DisablementView(_Scoped):
    """停用 of accounts (newest first); POST asks for one from a 表11 row (``row``)."""

    @extend_schema(responses=DisablementSerializer(many=True), operation_id="rotation_disables_list")
    def get(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        found = selectors.disablement_list(user=request.user, engagement=engagement)[:200]
        return Response(DisablementSerializer(found, many=True).data)

    @extend_schema(request=DisablementCreateSerializer, responses={201: DisablementSerializer})
    def post(self, request: Request, code: str) -> Response:
        from handover.registers.models import Row

        engagement = org_selectors.engagement_get(user=request.user, code=code)
        data = DisablementCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = Row.objects.filter(
            pk=data.validated_data["row"], form__engagement=engagement,
            form__site__in=self.visible(engagement, perms.RUN_DISCOVERY),
        ).select_related("form").first()  # fmt: skip
        if row is None:
            raise NotFound(_("No such register row is open to you."), field="row")
        found = disables.disable_request(actor=request.user, row=row)
        return Response(DisablementSerializer(found).data, status=status.HTTP_201_CREATED)


class DisablementDetailView(_Scoped):
    @extend_schema(responses=DisablementSerializer, operation_id="rotation_disables_retrieve")
    def get(self, request: Request, code: str, disable_id: int) -> Response:
        return Response(DisablementSerializer(self.disablement(self.engagement(), disable_id)).data)


class DisablementApproveView(_Scoped):
    """Approve a 停用 (第八条: not the person who asked)."""

    read_capability = perms.MANAGE_WORKFLOW

    @extend_schema(request=None, responses=DisablementSerializer)
    def post(self, request: Request, code: str, disable_id: int) -> Response:
        found = disables.disable_approve(
            actor=request.user, disablement=self.disablement(self.engagement(), disable_id)
        )
        return Response(DisablementSerializer(found).data)


class DisablementApplyView(_Scoped):
    """Apply an approved 停用 once: the lock state recorded first, then disabled and proven."""

    read_capability = perms.RUN_DISCOVERY

    @extend_schema(request=None, responses=DisablementSerializer)
    def post(self, request: Request, code: str, disable_id: int) -> Response:
        found = disables.disable_apply(
            actor=request.user, disablement=self.disablement(self.engagement(), disable_id)
        )
        return Response(DisablementSerializer(found).data)


class DisablementRestoreView(_Scoped):
    """E03: bring the account back exactly as it was, within the open E03 case of its 表11 row (``case``)."""

    read_capability = perms.RUN_DISCOVERY

    @extend_schema(request=DisablementRestoreSerializer, responses=DisablementSerializer)
    def post(self, request: Request, code: str, disable_id: int) -> Response:
        from handover.workflow.models import ExceptionCase

        engagement = self.engagement()
        found = self.disablement(engagement, disable_id)
        data = DisablementRestoreSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = ExceptionCase.objects.filter(engagement=engagement, pk=data.validated_data["case"]).first()
        if case is None or not self._sees(engagement, case.site):
            raise NotFound(_("No such exception case is open to you."), field="case")
        found = disables.disable_restore(actor=request.user, disablement=found, case=case)
        return Response(DisablementSerializer(found).data)


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
    path(f"{BASE}resets/", ResetView.as_view(), name="rotation-resets"),
    path(f"{BASE}disables/", DisablementView.as_view(), name="rotation-disables"),
    path(f"{BASE}disables/<int:disable_id>/", DisablementDetailView.as_view(), name="rotation-disable"),
    path(
        f"{BASE}disables/<int:disable_id>/approve/",
        DisablementApproveView.as_view(),
        name="rotation-disable-approve",
    ),
    path(
        f"{BASE}disables/<int:disable_id>/apply/",
        DisablementApplyView.as_view(),
        name="rotation-disable-apply",
    ),
    path(
        f"{BASE}disables/<int:disable_id>/restore/",
        DisablementRestoreView.as_view(),
        name="rotation-disable-restore",
    ),
    path(f"{BASE}reverts/", RevertView.as_view(), name="rotation-reverts"),
    path(f"{BASE}reverts/<int:revert_id>/", RevertDetailView.as_view(), name="rotation-revert"),
    path(
        f"{BASE}reverts/<int:revert_id>/approve/", RevertApproveView.as_view(), name="rotation-revert-approve"
    ),
    path(f"{BASE}reverts/<int:revert_id>/apply/", RevertApplyView.as_view(), name="rotation-revert-apply"),
]
