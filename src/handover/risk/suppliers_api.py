"""REST endpoints of supplier management under ``/api/engagements/{code}/risk/suppliers/`` (三(二)五): GET every
supplying organisation with its systems, contracts, contacts, recorded facts and open items; POST the facts
of one organisation (the service decides)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from handover.core import clock
from handover.core.errors import DomainError
from handover.org.models import Organisation
from handover.risk.api import _Scoped
from handover.risk.selectors import suppliers as selectors
from handover.risk.services import suppliers as services
from handover.workflow.deadlines import BEIJING


class SupplierFactsSerializer(serializers.Serializer):
    organisation = serializers.IntegerField()
    services = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    criticality = serializers.CharField(max_length=10, help_text="important | general")
    substitutability = serializers.CharField(max_length=10, help_text="easy | hard | none")
    state = serializers.CharField(
        max_length=10, required=False, default="active", help_text="active | exiting | exited"
    )
    exit_plan = serializers.CharField(max_length=10000, required=False, allow_blank=True, default="")
    filing = serializers.CharField(max_length=14, help_text="not_required | required | filed")
    filing_reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    filed_on = serializers.DateField(required=False, allow_null=True, default=None)


def _line(line: selectors.SupplierLine) -> dict[str, Any]:
    record = line.record
    return {
        "organisation": line.organisation.pk, "name": line.organisation.name, "type": line.organisation.type,
        "systems": line.systems, "important_systems": line.important_systems, "contacts": line.contacts,
        "software": line.software,
        "contracts": [{"register": c.register_no, "number": c.number,
                       "ends_on": c.ends_on.isoformat() if c.ends_on else None} for c in line.contracts],
        "criticality": line.criticality, "recorded": record is not None,
        "substitutability": record.substitutability if record else None,
        "state": record.state if record else None, "exit_plan": record.exit_plan if record else "",
        "filing": record.filing if record else None, "filing_reference": record.filing_reference if record else "",
        "filed_on": record.filed_on.isoformat() if record and record.filed_on else None, "open_items": line.items,
    }  # fmt: skip


class SupplierListView(_Scoped):
    """GET: every supplier line. POST: record the facts of one organisation."""

    @extend_schema(operation_id="risk_suppliers_list", responses=list[dict[str, Any]])
    def get(self, request: Request, code: str) -> Response:
        today = clock.now().astimezone(BEIJING).date()
        lines = selectors.supplier_lines(user=request.user, engagement=self.engagement(), today=today)
        return Response([_line(line) for line in lines])

    @extend_schema(request=SupplierFactsSerializer, responses=dict[str, Any])
    def post(self, request: Request, code: str) -> Response:
        engagement = self.engagement()
        data = self.body(SupplierFactsSerializer)
        organisation = Organisation.objects.filter(engagement=engagement, pk=data.pop("organisation")).first()
        if organisation is None:
            raise DomainError(_("The organisation is not of this engagement."), field="organisation")
        services.supplier_set(actor=request.user, engagement=engagement, organisation=organisation, **data)
        today = clock.now().astimezone(BEIJING).date()
        lines = selectors.supplier_lines(user=request.user, engagement=engagement, today=today)
        return Response(next(_line(line) for line in lines if line.organisation.pk == organisation.pk))


urlpatterns = [
    path("engagements/<slug:code>/risk/suppliers/", SupplierListView.as_view(), name="risk-suppliers"),
]
