"""The per-site completeness page: what the coverage rules expect at each site, and what is still missing
(registers.md §4). Thin: the selector decides what the user may see."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers import completeness as coverage
from handover.web.access import needs
from handover.web.pages import capabilities_in


@needs(perms.VIEW_REGISTERS)
def completeness_page(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    report = coverage.site_completeness(user=request.user, engagement=engagement)
    context = {
        "engagement": engagement,
        "caps": capabilities_in(user=request.user, engagement=engagement)[1],
        "report": report,
        "incomplete": [entry for entry in report if not entry.complete],
    }
    return render(request, "registers/completeness.html", context)
