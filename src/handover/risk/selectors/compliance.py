"""The compliance view: each duty of the library with its status, the evidence Handover found by itself
(by the duty's declared evidence keys) and what people linked, and what is missing. A constant number of
queries whatever the number of duties: each kind of evidence is read once for the engagement."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import F, Q
from django.utils.translation import gettext as _

from handover.core import clock
from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.models import Form, FormState, InformationSystem, Row, Signature
from handover.risk import library
from handover.risk.models import (
    REQUIRED_SCENARIOS,
    CapacityRecord,
    Category,
    Change,
    ClockKind,
    Criticality,
    Drill,
    DutyApplicability,
    DutyEvidence,
    Filing,
    PartyNotice,
    PlanVersion,
    ProcessingActivity,
    ReportClock,
    Risk,
    Source,
    Supplier,
    SupplierState,
    Vulnerability,
    VulnScan,
)
from handover.risk.selectors.common import visible
from handover.risk.selectors.privacy import INVESTOR_DATA_CATEGORIES


class Status:
    MET = "met"
    PARTLY = "partly"
    MISSING = "missing"
    NOT_APPLICABLE = "not_applicable"


@dataclass
class DutyLine:
    duty: library.Duty
    status: str
    found: list[str] = field(default_factory=list)  # evidence found automatically, as sentences
    missing: list[str] = field(default_factory=list)  # declared evidence not found
    linked: list[DutyEvidence] = field(default_factory=list)
    reason: str = ""  # why not applicable


def _describe(key: str) -> str:
    kind, _sep, number = key.partition(":")
    texts = {
        "signed": _("表%(no)s has a signed form or row"),
        "rows": _("表%(no)s has rows"),
        "risk_register": _("the risk register has assessed risks"),
        "plan_scenarios": _("an emergency plan covers every required scenario"),
        "drill_in_year": _("a drill was held in the last 12 months"),
        "incident_reported": _("an incident's written report is recorded"),
        "incident_investigated": _("an incident's investigation report is recorded"),
        "incident_notice": _("a related party was told of an incident"),
        "vuln_scan_quarter": _("a vulnerability scan was imported in the last 90 days"),
        "vuln_found_by_check": _("findings of a penetration test or an inspection are recorded"),
        "vuln_bulletin": _("findings of an industry bulletin are recorded"),
        "suppliers_filed": _("every important supplier's 备案 is on record with its reference"),
        "change_notice_on_time": _("a change's investor notice was published before its window"),
        "pressure_test_in_year": _("a pressure test with its report was recorded in the last 12 months"),
        "pi_inventory": _("every system holding investors' information is in the processing inventory"),
        "pi_biometric_assessed": _(
            "biometrics are collected after a recorded necessity and security assessment"
        ),
    }
    return texts[kind] % {"no": number} if number else texts[kind]


def evidence_found(*, engagement: Engagement, today: dt.date) -> set[str]:
    """Every evidence key that holds for the engagement, in a fixed number of queries."""
    found: set[str] = set()
    signed_forms = Form.objects.filter(engagement=engagement, is_current=True, state=FormState.SIGNED)
    found |= {f"signed:{n}" for n in signed_forms.values_list("register_no", flat=True).distinct()}
    signed_rows = Signature.objects.filter(row__form__engagement=engagement, row__is_current=True)
    found |= {f"signed:{n}" for n in signed_rows.values_list("row__form__register_no", flat=True).distinct()}
    rows = Row.objects.filter(form__engagement=engagement, form__is_current=True, is_current=True)
    found |= {f"rows:{n}" for n in rows.values_list("form__register_no", flat=True).distinct()}
    if Risk.objects.filter(engagement=engagement).exists():
        found.add("risk_register")
    covered: set[str] = set()
    for scenarios in PlanVersion.objects.filter(plan__engagement=engagement).values_list(
        "scenarios", flat=True
    ):
        covered |= set(scenarios)
    if covered >= set(REQUIRED_SCENARIOS):
        found.add("plan_scenarios")
    if Drill.objects.filter(engagement=engagement, held_on__gt=today - dt.timedelta(days=365)).exists():
        found.add("drill_in_year")
    done = ReportClock.objects.filter(incident__engagement=engagement, done_at__isnull=False)
    kinds = set(done.values_list("kind", flat=True).distinct())
    if ClockKind.WRITTEN in kinds:
        found.add("incident_reported")
    if ClockKind.INVESTIGATION in kinds:
        found.add("incident_investigated")
    if PartyNotice.objects.filter(incident__engagement=engagement).exists():
        found.add("incident_notice")
    since = dt.datetime.combine(today - dt.timedelta(days=90), dt.time(), tzinfo=dt.UTC)
    if VulnScan.objects.filter(engagement=engagement, scanned_at__gte=since).exists():
        found.add("vuln_scan_quarter")
    sources = set(
        Vulnerability.objects.filter(engagement=engagement).values_list("source", flat=True).distinct()
    )
    if sources & {Source.PENTEST, Source.INSPECTION}:
        found.add("vuln_found_by_check")
    if Source.BULLETIN in sources:
        found.add("vuln_bulletin")
    important = Supplier.objects.filter(engagement=engagement, criticality=Criticality.IMPORTANT).exclude(
        state=SupplierState.EXITED
    )
    if set(important.values_list("filing", flat=True).distinct()) == {Filing.FILED}:
        found.add("suppliers_filed")
    if Change.objects.filter(engagement=engagement, notice_required=True,
                             notice_published_at__lte=F("window_start")).exists():  # fmt: skip
        found.add("change_notice_on_time")
    if CapacityRecord.objects.filter(
        engagement=engagement, tested_on__gt=today - dt.timedelta(days=365)
    ).exists():
        found.add("pressure_test_in_year")
    activities = list(
        ProcessingActivity.objects.filter(engagement=engagement).values_list(
            "categories", "systems", "assessed_on"
        )
    )
    named = {name for _c, systems, _a in activities for name in systems or ()}
    systems = InformationSystem.objects.filter(
        engagement=engagement, is_active=True, category__in=INVESTOR_DATA_CATEGORIES
    )
    holding = set(systems.values_list("name", flat=True))
    if activities and holding <= named:
        found.add("pi_inventory")
    if any(Category.BIOMETRIC in (c or ()) and a is not None for c, _s, a in activities):
        found.add("pi_biometric_assessed")
    return found


def compliance_view(*, user: Actor, engagement: Engagement, now: dt.datetime | None = None) -> list[DutyLine]:
    """Each duty with its status: not applicable (with the reason), met (every declared evidence found, or
    for a duty with none declared, evidence linked by a person), partly (some), or missing (none)."""
    visible(user, engagement, perms.VIEW_RISK)
    today = clock.or_now(now).date()
    found = evidence_found(engagement=engagement, today=today)
    linked: dict[str, list[DutyEvidence]] = {}
    for item in DutyEvidence.objects.filter(engagement=engagement).select_related("row__form"):
        linked.setdefault(item.duty_code, []).append(item)
    decisions = {d.duty_code: d for d in DutyApplicability.objects.filter(Q(engagement=engagement))}
    return [
        _line(duty, found, linked.get(duty.code, []), decisions.get(duty.code)) for duty in library.DUTIES
    ]


def _line(
    duty: library.Duty, found: set[str], linked: list[DutyEvidence], decision: DutyApplicability | None
) -> DutyLine:
    hits = [key for key in duty.evidence if key in found]
    line = DutyLine(duty=duty, status=Status.MISSING, linked=linked,
                    found=[_describe(k) for k in hits],
                    missing=[_describe(k) for k in duty.evidence if k not in found])  # fmt: skip
    not_applicable = decision.reason if decision and not decision.applicable else ""
    if decision is None and duty.default_not_applicable:
        not_applicable = duty.default_not_applicable
    if not_applicable:
        line.status, line.reason = Status.NOT_APPLICABLE, not_applicable
    elif (duty.evidence and len(hits) == len(duty.evidence)) or (not duty.evidence and linked):
        line.status = Status.MET
    elif hits or linked:
        line.status = Status.PARTLY
    if not duty.evidence and not linked and not not_applicable:
        line.missing.append(_("evidence linked by a person (nothing in Handover shows this duty by itself)"))
    return line
