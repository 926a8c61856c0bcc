"""REST endpoints of personal-information protection under ``/api/engagements/{code}/risk/privacy/`` (三(三)):
GET the processing activities and the systems they miss; POST an activity; POST a leak from one (an incident)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.risk.api import _Scoped
from handover.risk.models import ProcessingActivity
from handover.risk.selectors import privacy as selectors
from handover.risk.services import privacy as services


class ActivitySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    purpose = serializers.CharField(max_length=5000)
    basis = serializers.CharField(max_length=200)
    categories = serializers.ListField(child=serializers.CharField(max_length=20), max_length=10)
    systems = serializers.ListField(child=serializers.CharField(max_length=200), max_length=200)
    recipients = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    outside_boundary = serializers.BooleanField(default=False)
    outside_measures = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    retention = serializers.CharField(max_length=200)
    biometric_assessment = serializers.CharField(
        max_length=20000, required=False, allow_blank=True, default=""
    )
    assessed_on = serializers.DateField(required=False, allow_null=True, default=None)


class LeakSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    detected_at = serializers.DateTimeField()
    leaked_records = serializers.IntegerField(min_value=1, max_value=10**10)
    system_class = serializers.IntegerField(min_value=1, max_value=5)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ActivityListView(_Scoped):
    @extend_schema(operation_id="risk_privacy_list", responses=dict[str, Any])
    def get(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        found = selectors.activity_list(user=request.user, engagement=engagement)
        return Response({
            "activities": [{"id": a.pk, **ActivitySerializer(a).data} for a in found],
            "uncovered_systems": selectors.uncovered_systems(user=request.user, engagement=engagement),
        })  # fmt: skip

    @extend_schema(request=ActivitySerializer, responses={201: ActivitySerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        found = services.activity_set(
            actor=request.user, engagement=engagement, **self.body(ActivitySerializer)
        )
        return Response({"id": found.pk, **ActivitySerializer(found).data}, status=status.HTTP_201_CREATED)


class LeakView(_Scoped):
    read_capability = perms.MANAGE_RISK  # a POST only: the capability of the write

    @extend_schema(request=LeakSerializer, responses=dict[str, Any])
    def post(self, request: Request, code: str, activity_id: int) -> Response:
        engagement = self.engagement()
        activity = ProcessingActivity.objects.filter(engagement=engagement, pk=activity_id).first()
        if activity is None:
            raise DomainError(_("No such processing activity in this engagement."), field="activity")
        incident = services.activity_leak(actor=request.user, activity=activity, **self.body(LeakSerializer))
        return Response(
            {"incident": incident.number, "grade": incident.grade}, status=status.HTTP_201_CREATED
        )


urlpatterns = [
    path("engagements/<slug:code>/risk/privacy/", ActivityListView.as_view(), name="risk-privacy"),
    path(
        "engagements/<slug:code>/risk/privacy/<int:activity_id>/leak/",
        LeakView.as_view(),
        name="risk-privacy-leak",
    ),
]
