"""REST endpoints of change management under ``/api/engagements/{code}/risk/changes/`` (三(二)三): list and
request changes, act on one (approve, record the investors' notice, start, close), list and record freeze
periods; and ``…/risk/owed/``, the reports owed to the regulator. The services decide; a refusal names what
stands in the way."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from handover.core import clock
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.registers.models import InformationSystem
from handover.risk.api import _Scoped
from handover.risk.models import Change
from handover.risk.selectors import changes as selectors
from handover.risk.selectors.obligations import reports_owed
from handover.risk.services import changes as services
from handover.workflow.deadlines import BEIJING


class ChangeSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.name", read_only=True)
    approvals = serializers.SerializerMethodField()
    blocked = serializers.SerializerMethodField()

    class Meta:
        model = Change
        fields = ["number", "kind", "title", "system_name", "trading_system", "risk_assessment", "test_evidence",
                  "rollback_plan", "window_start", "window_end", "notice_required", "notice_published_at",
                  "notice_reference", "state", "requested_by", "executed_at", "result", "approvals",
                  "blocked", "rows"]  # fmt: skip

    def get_approvals(self, change: Change) -> list[str]:
        return [a.person.name for a in change.approvals.all()]

    def get_blocked(self, change: Change) -> str:
        return services.why_not_now(change, clock.now())


class ChangeRequestSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=10, help_text="new | modify | remove")
    title = serializers.CharField(max_length=200)
    system = serializers.IntegerField(required=False, allow_null=True, default=None)
    system_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    trading_system = serializers.BooleanField(default=False)
    risk_assessment = serializers.CharField(max_length=20000)
    test_evidence = serializers.CharField(max_length=20000)
    rollback_plan = serializers.CharField(max_length=20000)
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    notice_required = serializers.BooleanField(default=False)
    t36_row = serializers.IntegerField(required=False, allow_null=True, default=None)
    rows = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=50
    )


class ChangeActSerializer(serializers.Serializer):
    act = serializers.ChoiceField(choices=["approve", "notice", "start", "close"])
    published_at = serializers.DateTimeField(required=False)
    reference = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    state = serializers.CharField(
        max_length=12, required=False, default="", help_text="done | rolled_back | cancelled"
    )
    result = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")


class FreezeSerializer(serializers.Serializer):
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    reason = serializers.CharField(max_length=200)


class ChangeListView(_Scoped):
    @extend_schema(operation_id="risk_changes_list", responses={200: ChangeSerializer(many=True)})
    def get(self, request: Request, code: str) -> Response:
        found = selectors.change_list(user=request.user, engagement=self.engagement())
        return Response(ChangeSerializer(found, many=True).data)

    @extend_schema(request=ChangeRequestSerializer, responses={201: ChangeSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        data = self.body(ChangeRequestSerializer)
        pk = data.pop("system")
        system = InformationSystem.objects.filter(engagement=engagement, pk=pk).first() if pk else None
        if pk and system is None:
            raise DomainError(_("The system is not of this engagement."), field="system")
        made = services.change_request(actor=request.user, engagement=engagement, system=system, **data)
        return Response(ChangeSerializer(made).data, status=status.HTTP_201_CREATED)


class ChangeActView(_Scoped):
    read_capability = perms.MANAGE_RISK  # a POST only: the capability of the write

    @extend_schema(request=ChangeActSerializer, responses={200: ChangeSerializer})
    def post(self, request: Request, code: str, number: str) -> Response:
        engagement = self.engagement()
        change = (
            Change.objects.filter(engagement=engagement, number=number).select_related("engagement").first()
        )
        if change is None:
            raise DomainError(_("No change %(no)s in this engagement.") % {"no": number}, field="number")
        data = self.body(ChangeActSerializer)
        act = data["act"]
        if act == "approve":
            change = services.change_approve(actor=request.user, change=change)
        elif act == "start":
            change = services.change_execute(actor=request.user, change=change)
        elif act == "notice":
            if "published_at" not in data:
                raise DomainError(_("Give the time the notice was published."), field="published_at")
            change = services.change_notice(actor=request.user, change=change, published_at=data["published_at"],
                                            reference=data["reference"])  # fmt: skip
        else:
            change = services.change_close(
                actor=request.user, change=change, state=data["state"], result=data["result"]
            )
        return Response(ChangeSerializer(change).data)


class FreezeListView(_Scoped):
    @extend_schema(operation_id="risk_freezes_list", responses={200: FreezeSerializer(many=True)})
    def get(self, request: Request, code: str) -> Response:
        today = clock.now().astimezone(BEIJING).date()
        found = selectors.freeze_list(user=request.user, engagement=self.engagement(), today=today)
        return Response(FreezeSerializer(found, many=True).data)

    @extend_schema(request=FreezeSerializer, responses={201: FreezeSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        period = services.freeze_set(actor=request.user, engagement=engagement, **self.body(FreezeSerializer))
        return Response(FreezeSerializer(period).data, status=status.HTTP_201_CREATED)


_BASE = "engagements/<slug:code>/risk/"
urlpatterns = [
    path(f"{_BASE}changes/", ChangeListView.as_view(), name="risk-changes"),
    path(f"{_BASE}changes/<str:number>/act/", ChangeActView.as_view(), name="risk-change-act"),
    path(f"{_BASE}freezes/", FreezeListView.as_view(), name="risk-freezes"),
]


class OwedView(_Scoped):
    """GET: the reports owed to the regulator, overdue first."""

    @extend_schema(operation_id="risk_owed_list", responses=list[dict[str, Any]])
    def get(self, request: Request, code: str) -> Response:
        found = reports_owed(user=request.user, engagement=self.engagement(), now=clock.now())
        return Response([{"kind": o.kind, "key": o.key, "title": o.title, "due_at": o.due_at, "status": o.status,
                          "done_at": o.done_at, "reference": o.reference} for o in found])  # fmt: skip


urlpatterns.append(path(f"{_BASE}owed/", OwedView.as_view(), name="risk-owed"))
