"""REST endpoints of security management under ``/api/engagements/{code}/risk/``: read the duties'
compliance, the deadlines, incidents, risks, plans and drills; create incidents (and their reports), risks,
plan versions and drills. Bodies are checked for shape by the serializers; the services decide, and their
refusals come back as ``{"detail", "code", "field"}`` (api/errors.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handover.core import clock
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement, Person
from handover.risk import rules
from handover.risk.models import (
    ClockKind,
    Drill,
    Incident,
    PlanVersion,
    Risk,
    RiskAcceptance,
    Scenario,
    Treatment,
)
from handover.risk.selectors import compliance, incidents, plans, register
from handover.risk.selectors.deadlines import deadlines
from handover.risk.services import incidents as incident_services
from handover.risk.services import plans as plan_services
from handover.risk.services import register as register_services


class ClockSerializer(serializers.Serializer):
    kind = serializers.CharField()
    seq = serializers.IntegerField()
    due_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)
    escalated_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    basis = serializers.CharField()


class IncidentSerializer(serializers.ModelSerializer):
    clocks = ClockSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "number", "title", "system_name", "system_class", "trading_system", "detected_at",
                  "description", "down_minutes", "affected_pct", "leaked_records", "grade", "grade_rule",
                  "grading_version", "state", "restored_at", "t39_row", "t40_row", "clocks"]  # fmt: skip


class IncidentCreateSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40)
    title = serializers.CharField(max_length=200)
    system_name = serializers.CharField(max_length=200)
    system_class = serializers.IntegerField(min_value=1, max_value=5)
    trading_system = serializers.BooleanField(default=False)
    detected_at = serializers.DateTimeField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    down_minutes = serializers.IntegerField(min_value=0, default=0)
    affected_pct = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal(0), max_value=Decimal(100), default=Decimal(0)
    )
    leaked_records = serializers.IntegerField(min_value=0, default=0)
    t39_row = serializers.IntegerField(required=False, allow_null=True, default=None)


class ReportCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ClockKind.values)
    text = serializers.CharField(max_length=500)
    at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class RiskSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.name", read_only=True)

    class Meta:
        model = Risk
        fields = ["id", "number", "title", "description", "system_name", "owner", "inherent_likelihood",
                  "inherent_impact", "current_likelihood", "current_impact", "residual_likelihood",
                  "residual_impact", "treatment", "capa_row", "report_to_wg"]  # fmt: skip


class RiskCreateSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40)
    title = serializers.CharField(max_length=200)
    owner = serializers.IntegerField(help_text="the owner's person id")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    system_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    inherent_likelihood = serializers.IntegerField()
    inherent_impact = serializers.IntegerField()
    current_likelihood = serializers.IntegerField()
    current_impact = serializers.IntegerField()
    residual_likelihood = serializers.IntegerField(required=False, allow_null=True, default=None)
    residual_impact = serializers.IntegerField(required=False, allow_null=True, default=None)
    treatment = serializers.ChoiceField(choices=Treatment.values, default=Treatment.OPEN)
    capa_row = serializers.IntegerField(required=False, allow_null=True, default=None)


class PlanVersionSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.title", read_only=True)

    class Meta:
        model = PlanVersion
        fields = [
            "id",
            "plan",
            "version",
            "scenarios",
            "procedures",
            "effective_on",
            "feasibility_checked_on",
        ]


class PlanCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    scenarios = serializers.ListField(child=serializers.CharField(), help_text=", ".join(Scenario.values))
    procedures = serializers.CharField()
    effective_on = serializers.DateField()
    feasibility_checked_on = serializers.DateField(required=False, allow_null=True, default=None)


class DrillSerializer(serializers.ModelSerializer):
    findings = serializers.SerializerMethodField()

    class Meta:
        model = Drill
        fields = ["id", "plan_version", "scenario", "due_on", "held_on", "participants", "target_rto_minutes",
                  "measured_rto_minutes", "target_rpo_minutes", "measured_rpo_minutes", "outcome", "report_ref",
                  "findings"]  # fmt: skip

    def get_findings(self, drill: Drill) -> list[dict[str, Any]]:
        return [{"problem": f.problem, "capa_row": f.capa_row_id} for f in drill.findings.all()]


class FindingSerializer(serializers.Serializer):
    problem = serializers.CharField()
    capa_row = serializers.IntegerField(required=False, allow_null=True, default=None)


class DrillCreateSerializer(serializers.Serializer):
    plan_version = serializers.IntegerField()
    scenario = serializers.CharField(help_text="one of the plan version's scenarios")
    due_on = serializers.DateField()
    held_on = serializers.DateField(required=False, allow_null=True, default=None)
    participants = serializers.CharField(required=False, allow_blank=True, default="")
    target_rto_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0, default=None)
    measured_rto_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, default=None
    )
    target_rpo_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0, default=None)
    measured_rpo_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, default=None
    )
    outcome = serializers.CharField(required=False, allow_blank=True, default="")
    report_ref = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    findings = FindingSerializer(many=True, required=False, default=list)


class _Scoped(APIView):
    read_capability = perms.VIEW_RISK

    def engagement(self) -> Engagement:
        engagement = org_selectors.engagement_get(user=self.request.user, code=self.kwargs["code"])
        org_selectors.require(user=self.request.user, engagement=engagement, capability=self.read_capability)
        return engagement

    def body(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class ComplianceView(_Scoped):
    """Each duty of the measures with its status, the evidence found and linked, and what is missing."""

    @extend_schema(responses=list[dict[str, Any]])
    def get(self, request: Request, code: str) -> Response:
        lines = compliance.compliance_view(user=request.user, engagement=self.engagement())
        return Response([
            {"duty": line.duty.code, "section": line.duty.section, "title": line.duty.title, "status": line.status,
             "found": line.found, "missing": line.missing, "reason": line.reason,
             "linked": [{"description": e.description, "reference": e.reference, "row": e.row_id} for e in line.linked]}
            for line in lines
        ])  # fmt: skip


class DeadlinesView(_Scoped):
    """What is due and overdue: reports owed on incidents, drills planned, acceptances ending."""

    @extend_schema(responses=list[dict[str, Any]])
    def get(self, request: Request, code: str) -> Response:
        found = deadlines(user=request.user, engagement=self.engagement(), now=clock.now())
        return Response([{"what": d.what, "ref": d.ref, "due_at": d.due_at.isoformat(), "overdue": d.overdue}
                         for d in found])  # fmt: skip


INCIDENT_PAGE = inline_serializer(
    name="IncidentPage",
    fields={
        "rules": inline_serializer(
            name="GradingRules",
            fields={"version": serializers.CharField(), "verified": serializers.BooleanField()},
        ),
        "results": IncidentSerializer(many=True),
    },
)


class IncidentListView(_Scoped):
    """Incidents with their clocks; POST records one, graded by the rules in force."""

    @extend_schema(responses=INCIDENT_PAGE)
    def get(self, request: Request, code: str) -> Response:
        found = incidents.incident_list(user=request.user, engagement=self.engagement())[:200]
        body = {"rules": {"version": rules.current().version, "verified": rules.current().verified},
                "results": IncidentSerializer(found, many=True).data}  # fmt: skip
        return Response(body)

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        incident = incident_services.incident_open(actor=request.user, engagement=engagement,
                                                   **self.body(IncidentCreateSerializer))  # fmt: skip
        return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)


class IncidentReportView(_Scoped):
    """POST: a report was made on the incident (the earliest open clock of its kind is done)."""

    @extend_schema(responses=ClockSerializer(many=True))
    def get(self, request: Request, code: str, incident_id: int) -> Response:
        incident = incidents.incident_get(
            user=request.user, engagement=self.engagement(), incident_id=incident_id
        )
        return Response(ClockSerializer(incident.clocks.all(), many=True).data)

    @extend_schema(request=ReportCreateSerializer, responses={201: ClockSerializer})
    def post(self, request: Request, code: str, incident_id: int) -> Response:
        incident = incidents.incident_get(
            user=request.user, engagement=self.engagement(), incident_id=incident_id
        )
        made = incident_services.incident_report_record(actor=request.user, incident=incident,
                                                        **self.body(ReportCreateSerializer))  # fmt: skip
        return Response(ClockSerializer(made).data, status=status.HTTP_201_CREATED)


class RiskListView(_Scoped):
    """The risk register; POST records a risk."""

    @extend_schema(responses=RiskSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        return Response(RiskSerializer(register.risk_list(user=request.user, engagement=self.engagement()),
                                       many=True).data)  # fmt: skip

    @extend_schema(request=RiskCreateSerializer, responses={201: RiskSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        data = self.body(RiskCreateSerializer)
        owner = Person.objects.filter(engagement=engagement, pk=data.pop("owner")).first()
        scores = {k: data.pop(k) for k in list(data) if k.endswith(("_likelihood", "_impact"))}
        risk = register_services.risk_create(actor=request.user, engagement=engagement, owner=owner,
                                             scores=scores, **data)  # fmt: skip
        return Response(RiskSerializer(risk).data, status=status.HTTP_201_CREATED)


class PlanListView(_Scoped):
    """Plan versions; POST records a new version of a plan (the plan is made with its first)."""

    @extend_schema(responses=PlanVersionSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        versions = PlanVersion.objects.filter(
            plan__in=plans.plan_list(user=request.user, engagement=engagement)
        )
        return Response(PlanVersionSerializer(versions.select_related("plan"), many=True).data)

    @extend_schema(request=PlanCreateSerializer, responses={201: PlanVersionSerializer})
    def post(self, request: Request, code: str) -> Response:
        version = plan_services.plan_version_record(actor=request.user, engagement=self.engagement(),
                                                    **self.body(PlanCreateSerializer))  # fmt: skip
        return Response(PlanVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class DrillListView(_Scoped):
    """Drills with their findings; POST records a planned or held drill."""

    @extend_schema(responses=DrillSerializer(many=True))
    def get(self, request: Request, code: str) -> Response:
        return Response(DrillSerializer(plans.drill_list(user=request.user, engagement=self.engagement()),
                                        many=True).data)  # fmt: skip

    @extend_schema(request=DrillCreateSerializer, responses={201: DrillSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        data = self.body(DrillCreateSerializer)
        version = PlanVersion.objects.filter(plan__engagement=engagement, pk=data.pop("plan_version")).first()
        if version is None:
            raise DomainError(_("No plan version with this id in this engagement."), field="plan_version")
        data["findings"] = [(f["problem"], f["capa_row"]) for f in data["findings"]]
        drill = plan_services.drill_record(actor=request.user, plan_version=version, **data)
        return Response(DrillSerializer(drill).data, status=status.HTTP_201_CREATED)


class NoticeSerializer(serializers.Serializer):
    party = serializers.CharField(max_length=200)
    channel = serializers.CharField(max_length=100)
    notified_at = serializers.DateTimeField()
    summary = serializers.CharField()


class IncidentNoticeView(_Scoped):
    """Related parties told of the incident (三(四)三); POST records one."""

    @extend_schema(responses=NoticeSerializer(many=True))
    def get(self, request: Request, code: str, incident_id: int) -> Response:
        incident = incidents.incident_get(
            user=request.user, engagement=self.engagement(), incident_id=incident_id
        )
        return Response(NoticeSerializer(incident.notices.all(), many=True).data)

    @extend_schema(request=NoticeSerializer, responses={201: NoticeSerializer})
    def post(self, request: Request, code: str, incident_id: int) -> Response:
        incident = incidents.incident_get(
            user=request.user, engagement=self.engagement(), incident_id=incident_id
        )
        notice = incident_services.incident_notice_record(actor=request.user, incident=incident,
                                                          **self.body(NoticeSerializer))  # fmt: skip
        return Response(NoticeSerializer(notice).data, status=status.HTTP_201_CREATED)


class RestoreSerializer(serializers.Serializer):
    at = serializers.DateTimeField()


class IncidentRestoreView(_Scoped):
    """POST: service restored at ``at``; the updates falling due after it are no longer owed."""

    read_capability = perms.MANAGE_RISK

    @extend_schema(request=RestoreSerializer, responses={200: IncidentSerializer})
    def post(self, request: Request, code: str, incident_id: int) -> Response:
        incident = incidents.incident_get(
            user=request.user, engagement=self.engagement(), incident_id=incident_id
        )
        incident = incident_services.incident_restore(actor=request.user, incident=incident,
                                                      **self.body(RestoreSerializer))  # fmt: skip
        return Response(IncidentSerializer(incident).data)


class RegradeSerializer(serializers.Serializer):
    down_minutes = serializers.IntegerField(min_value=0, max_value=10**7)
    affected_pct = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal(0), max_value=Decimal(100)
    )
    leaked_records = serializers.IntegerField(min_value=0, max_value=10**10)


class IncidentRegradeView(_Scoped):
    """POST: new measures of the impairment; graded again by the rules in force."""

    read_capability = perms.MANAGE_RISK

    @extend_schema(request=RegradeSerializer, responses={200: IncidentSerializer})
    def post(self, request: Request, code: str, incident_id: int) -> Response:
        incident = incidents.incident_get(
            user=request.user, engagement=self.engagement(), incident_id=incident_id
        )
        incident = incident_services.incident_regrade(actor=request.user, incident=incident,
                                                      **self.body(RegradeSerializer))  # fmt: skip
        return Response(IncidentSerializer(incident).data)


class RowsLinkSerializer(serializers.Serializer):
    t39_row = serializers.IntegerField(required=False, allow_null=True, default=None)
    t40_row = serializers.IntegerField(required=False, allow_null=True, default=None)


class IncidentLinkView(_Scoped):
    """POST: link the incident to its 表39 entry and its 表40 corrective action."""

    read_capability = perms.MANAGE_RISK

    @extend_schema(request=RowsLinkSerializer, responses={200: IncidentSerializer})
    def post(self, request: Request, code: str, incident_id: int) -> Response:
        incident = incidents.incident_get(
            user=request.user, engagement=self.engagement(), incident_id=incident_id
        )
        incident = incident_services.incident_rows_link(actor=request.user, incident=incident,
                                                        **self.body(RowsLinkSerializer))  # fmt: skip
        return Response(IncidentSerializer(incident).data)


class AcceptanceSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    risk = serializers.IntegerField(source="risk_id")
    reason = serializers.CharField()
    expires_on = serializers.DateField()
    approved_at = serializers.DateTimeField(read_only=True, allow_null=True)


class AcceptanceView(_Scoped):
    """POST: ask that a risk be accepted until a date (someone else approves, 第八条)."""

    read_capability = perms.MANAGE_RISK

    @extend_schema(request=AcceptanceSerializer, responses={201: AcceptanceSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        data = self.body(AcceptanceSerializer)
        risk = Risk.objects.filter(engagement=engagement, pk=data.pop("risk_id")).first()
        if risk is None:
            raise DomainError(_("No risk with this id in this engagement."), field="risk")
        asked = register_services.acceptance_request(actor=request.user, risk=risk, **data)
        return Response(AcceptanceSerializer(asked).data, status=status.HTTP_201_CREATED)


class ApprovalSerializer(serializers.Serializer):
    acceptance = serializers.IntegerField()


class AcceptanceApproveView(_Scoped):
    """POST: approve an acceptance: never by its owner nor by the one who asked (第八条)."""

    read_capability = perms.ACCEPT_RISK

    @extend_schema(request=ApprovalSerializer, responses={200: AcceptanceSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        pk = self.body(ApprovalSerializer)["acceptance"]
        asked = (
            RiskAcceptance.objects.filter(risk__engagement=engagement, pk=pk).select_related("risk").first()
        )
        if asked is None:
            raise DomainError(_("No risk acceptance with this id in this engagement."), field="acceptance")
        approved = register_services.acceptance_approve(actor=request.user, acceptance=asked)
        return Response(AcceptanceSerializer(approved).data)
