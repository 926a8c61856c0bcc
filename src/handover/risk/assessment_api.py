"""REST endpoints of the assessment reports' versions under ``/api/engagements/{code}/risk/assessments/``: GET the
versions, POST a new one (``kind``, ``assessors``, ``scope``), POST ``…/<id>/sign/`` (assessor, then reviewer)."""

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
from handover.risk.models import AssessmentReport
from handover.risk.selectors.assessment import report_versions
from handover.risk.services.assessment import assessment_report_issue, assessment_report_sign


class AssessmentVersionSerializer(serializers.ModelSerializer):
    signed_by = serializers.CharField(source="signed_by.name", read_only=True, allow_null=True)
    reviewed_by = serializers.CharField(source="reviewed_by.name", read_only=True, allow_null=True)

    class Meta:
        model = AssessmentReport
        fields = ["id", "kind", "version", "as_of", "assessors", "scope", "sha256", "size", "signed_by",
                  "signed_at", "reviewed_by", "reviewed_at"]  # fmt: skip


class AssessmentIssueSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=10, help_text="initial | security | overall")
    assessors = serializers.CharField(max_length=5000)
    scope = serializers.CharField(max_length=5000)


class AssessmentListView(_Scoped):
    @extend_schema(
        operation_id="risk_assessments_list", responses={200: AssessmentVersionSerializer(many=True)}
    )
    def get(self, request: Request, code: str) -> Response:
        found = report_versions(user=request.user, engagement=self.engagement())
        return Response(AssessmentVersionSerializer(found, many=True).data)

    @extend_schema(request=AssessmentIssueSerializer, responses={201: AssessmentVersionSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        made = assessment_report_issue(actor=request.user, engagement=engagement,
                                       **self.body(AssessmentIssueSerializer))  # fmt: skip
        return Response(AssessmentVersionSerializer(made).data, status=status.HTTP_201_CREATED)


class AssessmentSignView(_Scoped):
    read_capability = perms.MANAGE_RISK  # a POST only: the capability of the write

    @extend_schema(request=None, responses={200: AssessmentVersionSerializer})
    def post(self, request: Request, code: str, report_id: int) -> Response:
        engagement = self.engagement()
        report = AssessmentReport.objects.filter(engagement=engagement, pk=report_id).select_related(
            "engagement"
        )
        found: Any = report.first()
        if found is None:
            raise DomainError(_("No such report version."), field="report")
        return Response(
            AssessmentVersionSerializer(assessment_report_sign(actor=request.user, report=found)).data
        )


urlpatterns = [
    path("engagements/<slug:code>/risk/assessments/", AssessmentListView.as_view(), name="risk-assessments"),
    path(
        "engagements/<slug:code>/risk/assessments/<int:report_id>/sign/",
        AssessmentSignView.as_view(),
        name="risk-assessment-sign",
    ),
]
