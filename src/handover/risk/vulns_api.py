"""REST endpoints of vulnerability management under ``/api/engagements/{code}/risk/vulns/`` (三(四)一):
list with filters, one finding with its scans, import a scan (multipart), record a finding by hand
(penetration test, inspection, bulletin), give an owner, record and verify a fix, ask for and approve an
acceptance or a false positive (第八条: two persons). The services decide; refusals come back as
``{"detail", "code", "field"}`` (api/errors.py), an import's with ``problems`` listing each place."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from handover.core import clock
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Person
from handover.registers.io.reading import max_bytes
from handover.risk import vulnfiles
from handover.risk.api import _Scoped
from handover.risk.models import Severity, Source, VulnDecision, Vulnerability
from handover.risk.selectors import vulns as selectors
from handover.risk.services import vulns as services


class VulnDecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(max_length=16, help_text="accept | false_positive")
    reason = serializers.CharField(max_length=2000)
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)
    requested_by = serializers.CharField(source="requested_by.name", read_only=True)
    approved_by = serializers.CharField(source="approved_by.name", read_only=True, allow_null=True)
    approved_at = serializers.DateTimeField(read_only=True, allow_null=True)


class VulnSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.name", read_only=True, allow_null=True)

    class Meta:
        model = Vulnerability
        fields = ["number", "source", "asset_key", "port", "protocol", "ident", "cves", "cnvd", "cnnvd", "title",
                  "severity", "solution", "scanners", "first_seen", "last_seen", "closed_at", "owner"]  # fmt: skip


class VulnManualSerializer(serializers.Serializer):
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[Source.PENTEST, Source.INSPECTION, Source.BULLETIN]
    )
    title = serializers.CharField(max_length=300)
    severity = serializers.ChoiceField(choices=Severity.values)
    host = serializers.CharField(max_length=255)
    reference = serializers.CharField(max_length=200)
    port = serializers.IntegerField(min_value=0, max_value=65535, default=0)
    protocol = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    solution = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    found_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class VulnActSerializer(serializers.Serializer):
    act = serializers.ChoiceField(choices=["owner", "fix", "verify", "decide"])
    person = serializers.IntegerField(required=False)
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    kind = serializers.CharField(max_length=16, required=False, help_text="accept | false_positive")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)


def _line(line: selectors.Line) -> dict[str, Any]:
    return {**VulnSerializer(line.vulnerability).data, "state": line.state, "due_on": line.due_on.isoformat()}


def _finding(engagement: Engagement, number: str) -> Vulnerability:
    found = (
        Vulnerability.objects.filter(engagement=engagement, number=number)
        .select_related("engagement")
        .first()
    )
    if found is None:
        raise DomainError(_("No vulnerability %(no)s in this engagement.") % {"no": number}, field="number")
    return found


class VulnListView(_Scoped):
    """GET: the findings (``state`` open|overdue|accepted|false_positive|closed, ``severity``, ``host``, ``q``;
    at most 500, with ``total``). POST: record a finding by hand (penetration test, inspection, bulletin)."""

    @extend_schema(operation_id="risk_vulns_list", responses=dict[str, Any])
    def get(self, request: Request, code: str) -> Response:
        query = request.query_params
        lines, total = selectors.vuln_list(
            user=request.user, engagement=self.engagement(), now=clock.now(), state=query.get("state", ""),
            severity=query.get("severity", ""), host=query.get("host", ""), text=query.get("q", ""),
        )  # fmt: skip
        return Response({"total": total, "results": [_line(line) for line in lines]})

    @extend_schema(request=VulnManualSerializer, responses={201: VulnSerializer})
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        found = services.vuln_record(
            actor=request.user, engagement=engagement, **self.body(VulnManualSerializer)
        )
        return Response(VulnSerializer(found).data, status=status.HTTP_201_CREATED)


class VulnImportView(_Scoped):
    """POST (multipart ``file``, ``format`` nessus|openvas|csv, optional ``scanner``, ``scanned_at``): import a
    scan; returns the counts ``created``, ``updated``, ``unchanged``, ``closed``."""

    parser_classes = [MultiPartParser]
    upload_kind = "import"  # handover.core.uploads: the body limit of an import
    read_capability = perms.MANAGE_RISK  # a POST only: the capability of the write

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}, "format": {"type": "string"},
            "scanner": {"type": "string"}, "scanned_at": {"type": "string", "format": "date-time"}}}},
        responses=dict[str, int],
    )  # fmt: skip
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        if upload is None or not hasattr(upload, "chunks"):
            raise DomainError(_("Send the file as the multipart field 'file'."), field="file")
        if upload.size > max_bytes():
            raise DomainError(_("%(file)s is larger than %(mb)d MB; split the scan.")
                              % {"file": upload.name, "mb": max_bytes() >> 20}, field="file")  # fmt: skip
        scanned_at = None
        if request.data.get("scanned_at"):
            field = serializers.DateTimeField()
            try:
                scanned_at = field.to_internal_value(request.data["scanned_at"])
            except serializers.ValidationError:
                raise DomainError(_("Give the scan time as an ISO time."), field="scanned_at") from None
        content = b"".join(upload.chunks())
        try:
            counts = services.vulns_import(
                actor=request.user, engagement=engagement, fmt=str(request.data.get("format", "")),
                filename=str(upload.name)[:255], content=content, scanner=str(request.data.get("scanner", "")),
                scanned_at=scanned_at,
            )  # fmt: skip
        except vulnfiles.ScanRefused as exc:
            return Response(
                {"detail": str(exc.message), "code": "invalid", "field": "file",
                 "problems": [{"place": place, "reason": reason} for place, reason in exc.problems[:500]]},
                status=status.HTTP_400_BAD_REQUEST,
            )  # fmt: skip
        return Response(counts, status=status.HTTP_201_CREATED if counts["created"] else status.HTTP_200_OK)


class VulnDetailView(_Scoped):
    """GET: one finding, its decisions and the scans of its tools that covered its host (reported or not)."""

    @extend_schema(operation_id="risk_vuln_detail", responses=dict[str, Any])
    def get(self, request: Request, code: str, number: str) -> Response:
        found, history = selectors.vuln_detail(user=request.user, engagement=self.engagement(), number=number)
        return Response({
            **VulnSerializer(found).data,
            "decisions": VulnDecisionSerializer(found.decisions.all(), many=True).data,
            "scans": [{"file": h.scan.filename, "scanner": h.scan.scanner, "scanned_at": h.scan.scanned_at,
                       "reported": h.reported} for h in history],
        })  # fmt: skip


class VulnActView(_Scoped):
    """POST ``{"act": "owner", "person": id}``, ``{"act": "fix", "note": …}``, ``{"act": "verify"}`` or
    ``{"act": "decide", "kind", "reason", "expires_on"}`` on one finding."""

    read_capability = perms.MANAGE_RISK

    @extend_schema(request=VulnActSerializer, responses=dict[str, Any])
    def post(self, request: Request, code: str, number: str) -> Response:
        engagement = self.engagement()
        found = _finding(engagement, number)
        data = self.body(VulnActSerializer)
        act = data["act"]
        if act == "owner":
            person = Person.objects.filter(
                engagement=engagement, pk=int(data.get("person") or 0), is_active=True
            ).first()
            if person is None:
                raise DomainError(_("The owner must be a person of this engagement."), field="person")
            services.vuln_assign(actor=request.user, vulnerability=found, owner=person)
        elif act == "fix":
            services.vuln_fix(actor=request.user, vulnerability=found, note=data["note"])
        elif act == "verify":
            services.vuln_verify(actor=request.user, vulnerability=found)
        else:
            decision = services.decision_request(actor=request.user, vulnerability=found, kind=data.get("kind", ""),
                                                 reason=data["reason"], expires_on=data["expires_on"])  # fmt: skip
            return Response(VulnDecisionSerializer(decision).data, status=status.HTTP_201_CREATED)
        found.refresh_from_db()
        return Response(VulnSerializer(found).data)


class VulnDecisionApproveView(_Scoped):
    """POST: approve an acceptance or a false positive — never by its asker nor the finding's owner (第八条)."""

    read_capability = perms.ACCEPT_RISK

    @extend_schema(request=None, responses={200: VulnDecisionSerializer})
    def post(self, request: Request, code: str, decision_id: int) -> Response:
        engagement = self.engagement()
        decision = (
            VulnDecision.objects.filter(vulnerability__engagement=engagement, pk=decision_id)
            .select_related("vulnerability__engagement")
            .first()
        )
        if decision is None:
            raise DomainError(_("No such decision in this engagement."), field="decision")
        approved = services.decision_approve(actor=request.user, decision=decision)
        return Response(VulnDecisionSerializer(approved).data)


_BASE = "engagements/<slug:code>/risk/vulns/"
urlpatterns = [
    path(_BASE, VulnListView.as_view(), name="risk-vulns"),
    path(f"{_BASE}import/", VulnImportView.as_view(), name="risk-vulns-import"),
    path(
        f"{_BASE}decisions/<int:decision_id>/approve/",
        VulnDecisionApproveView.as_view(),
        name="risk-vuln-approve",
    ),
    path(f"{_BASE}<str:number>/", VulnDetailView.as_view(), name="risk-vuln"),
    path(f"{_BASE}<str:number>/act/", VulnActView.as_view(), name="risk-vuln-act"),
]
