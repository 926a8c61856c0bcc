"""Models of security management, one module per part; a later part adds its module and a line here."""

from handover.risk.models.capacity import CapacityRecord
from handover.risk.models.changes import Change, ChangeApproval, ChangeKind, ChangeState, FreezePeriod
from handover.risk.models.compliance import DutyApplicability, DutyEvidence
from handover.risk.models.incidents import (
    ClockKind,
    EntryKind,
    Grade,
    Incident,
    IncidentState,
    PartyNotice,
    ReportClock,
    TimelineEntry,
)
from handover.risk.models.obligations import ReportFiling
from handover.risk.models.plans import (
    REQUIRED_SCENARIOS,
    Drill,
    DrillFinding,
    EmergencyPlan,
    PlanVersion,
    Scenario,
)
from handover.risk.models.privacy import SENSITIVE, Category, MediaEncryption, ProcessingActivity
from handover.risk.models.register import AssessmentReport, Risk, RiskAcceptance, Treatment
from handover.risk.models.suppliers import Criticality, Filing, Substitutability, Supplier, SupplierState
from handover.risk.models.vulns import (
    DecisionKind,
    Severity,
    Source,
    VulnDecision,
    Vulnerability,
    VulnScan,
    VulnScanHost,
    VulnSighting,
)

__all__ = [
    "REQUIRED_SCENARIOS",
    "SENSITIVE",
    "AssessmentReport",
    "CapacityRecord",
    "Category",
    "Change",
    "ChangeApproval",
    "ChangeKind",
    "ChangeState",
    "ClockKind",
    "Criticality",
    "DecisionKind",
    "Drill",
    "DrillFinding",
    "DutyApplicability",
    "DutyEvidence",
    "EmergencyPlan",
    "EntryKind",
    "Filing",
    "FreezePeriod",
    "Grade",
    "Incident",
    "IncidentState",
    "MediaEncryption",
    "PartyNotice",
    "PlanVersion",
    "ProcessingActivity",
    "ReportClock",
    "ReportFiling",
    "Risk",
    "RiskAcceptance",
    "Scenario",
    "Severity",
    "Source",
    "Substitutability",
    "Supplier",
    "SupplierState",
    "TimelineEntry",
    "Treatment",
    "VulnDecision",
    "VulnScan",
    "VulnScanHost",
    "VulnSighting",
    "Vulnerability",
]
