"""Risk records for tests outside tests/risk (the access-policy walk)."""

from __future__ import annotations

import datetime as dt

from handover.core.actors import system
from handover.risk.models import Incident
from handover.risk.services.incidents import incident_open
from handover.workflow.deadlines import BEIJING


def incident(world) -> Incident:
    """The world's first incident, recorded once."""
    found = Incident.objects.filter(engagement=world.engagement).first()
    if found is not None:
        return found
    detected = dt.datetime(2026, 12, 9, 10, tzinfo=BEIJING)
    return incident_open(actor=system("test"), engagement=world.engagement, number="INC-1", title="交易中断",
                         system_name="集中交易系统", system_class=5, detected_at=detected,
                         now=detected + dt.timedelta(minutes=5))  # fmt: skip


def vulnerability(world):
    """The world's first vulnerability (recorded by hand) and a decision asked on it, once."""
    from handover.risk.models import VulnDecision, Vulnerability
    from handover.risk.services.vulns import vuln_record

    found = Vulnerability.objects.filter(engagement=world.engagement).first()
    if found is None:
        found = vuln_record(actor=system("test"), engagement=world.engagement, source="pentest", severity="high",
                            title="弱口令", host="10.0.0.1", reference="渗透测试报告 第3项",
                            found_at=dt.datetime(2026, 11, 2, 10, tzinfo=BEIJING))  # fmt: skip
        VulnDecision.objects.create(
            vulnerability=found, kind="false_positive", reason="测试", requested_by=world.person_a
        )
    return found


def change(world):
    """The world's first change request, once (written directly: scenery)."""
    from handover.risk.models import Change

    found = Change.objects.filter(engagement=world.engagement).first()
    if found is None:
        start = dt.datetime(2027, 1, 4, 18, tzinfo=BEIJING)
        found = Change.objects.create(
            engagement=world.engagement, number="C-0001", kind="modify", title="升级", system_name="OA",
            risk_assessment="评估", test_evidence="测试", rollback_plan="回退", window_start=start,
            window_end=start + dt.timedelta(hours=2), requested_by=world.person_a,
        )  # fmt: skip
    return found


def activity(world):
    """The world's first processing activity, once (written directly: scenery)."""
    from handover.risk.models import ProcessingActivity

    return ProcessingActivity.objects.get_or_create(
        engagement=world.engagement, name="开户身份核验",
        defaults={"purpose": "核验", "basis": "法定义务", "categories": ["identity"], "systems": ["网上交易系统"],
                  "retention": "20 年", "updated_by_name": "test"},
    )[0]  # fmt: skip


def assessment(world):
    """An issued assessment report version, once (through the service: the file must exist to be served)."""
    from handover.risk.models import AssessmentReport
    from handover.risk.services.assessment import assessment_report_issue

    return AssessmentReport.objects.filter(engagement=world.engagement).first() or assessment_report_issue(
        actor=system("test"), engagement=world.engagement, kind="initial", assessors="测评机构", scope="总部"
    )
