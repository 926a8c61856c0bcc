"""REST endpoints of capacity management under ``/api/engagements/{code}/risk/capacity/`` (三(二)四): GET each
system's latest pressure test, its ratio to the peak and its open items; POST (multipart, with ``report``) a
test."""

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
from handover.registers.models import InformationSystem
from handover.risk.api import _Scoped
from handover.risk.selectors import capacity as selectors
from handover.risk.services import capacity as services
from handover.workflow.deadlines import BEIJING


class CapacityRecordSerializer(serializers.Serializer):
    system = serializers.IntegerField(required=False, allow_null=True, default=None)
    system_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    metric = serializers.CharField(max_length=100)
    peak = serializers.DecimalField(max_digits=14, decimal_places=2)
    peak_on = serializers.DateField()
    tested = serializers.DecimalField(max_digits=14, decimal_places=2)
    tested_on = serializers.DateField()
    report = serializers.FileField()


class CapacityListView(_Scoped):
    parser_classes = [MultiPartParser]
    upload_kind = "attachment"

    @extend_schema(operation_id="risk_capacity_list", responses=list[dict[str, Any]])
    def get(self, request: Request, code: str) -> Response:
        today = clock.now().astimezone(BEIJING).date()
        lines = selectors.capacity_lines(user=request.user, engagement=self.engagement(), today=today)
        return Response([
            {"system": line.system_name, "ratio": str(line.ratio) if line.ratio is not None else None,
             "tested_on": line.record.tested_on.isoformat() if line.record else None,
             "report_sha256": line.record.report_sha256 if line.record else None,
             "retain_until": line.record.retain_until.isoformat() if line.record else None,
             "open_items": list(line.items)}
            for line in lines
        ])  # fmt: skip

    @extend_schema(request={"multipart/form-data": CapacityRecordSerializer}, responses=dict[str, Any])
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        data = self.body(CapacityRecordSerializer)
        pk = data.pop("system")
        system = InformationSystem.objects.filter(engagement=engagement, pk=pk).first() if pk else None
        if pk and system is None:
            raise DomainError(_("The system is not of this engagement."), field="system")
        upload = data.pop("report")
        record = services.capacity_record(actor=request.user, engagement=engagement, system=system, report=upload,
                                          report_name=upload.name, **data)  # fmt: skip
        return Response({"id": record.pk, "report_sha256": record.report_sha256,
                         "retain_until": record.retain_until.isoformat()}, status=status.HTTP_201_CREATED)  # fmt: skip


urlpatterns = [
    path("engagements/<slug:code>/risk/capacity/", CapacityListView.as_view(), name="risk-capacity"),
]
