"""Audit actions of security management (the 2023 measures): compliance, incidents, risks, plans, drills."""

from django.utils.translation import gettext_lazy as _

EVIDENCE_LINK = "risk.evidence.link"
DUTY_NOT_APPLICABLE = "risk.duty.not_applicable"
INCIDENT_OPEN = "risk.incident.open"
INCIDENT_GRADE = "risk.incident.grade"
INCIDENT_REPORT = "risk.incident.report"
INCIDENT_NOTICE = "risk.incident.notice"
INCIDENT_RESTORE = "risk.incident.restore"
INCIDENT_LINK = "risk.incident.link"
INCIDENT_EXPORT = "risk.incident.export"
CLOCK_REMIND = "risk.clock.remind"
CLOCK_OVERDUE = "risk.clock.overdue"
RISK_CREATE = "risk.risk.create"
RISK_ASSESS = "risk.risk.assess"
ACCEPTANCE_REQUEST = "risk.acceptance.request"
ACCEPTANCE_APPROVE = "risk.acceptance.approve"
PLAN_VERSION = "risk.plan.version"
DRILL_RECORD = "risk.drill.record"
DRILL_OVERDUE = "risk.drill.overdue"
ASSESSMENT_EXPORT = "risk.assessment.export"
VULN_IMPORT = "risk.vuln.import"
VULN_RECORD = "risk.vuln.record"
VULN_ASSIGN = "risk.vuln.assign"
VULN_FIX = "risk.vuln.fix"
VULN_VERIFY = "risk.vuln.verify"
VULN_DECISION_REQUEST = "risk.vuln.decision_request"
VULN_DECISION_APPROVE = "risk.vuln.decision_approve"
SUPPLIER_SET = "risk.supplier.set"
CHANGE_REQUEST = "risk.change.request"
CHANGE_APPROVE = "risk.change.approve"
CHANGE_NOTICE = "risk.change.notice"
CHANGE_EXECUTE = "risk.change.execute"
CHANGE_CLOSE = "risk.change.close"
FREEZE_SET = "risk.freeze.set"
CAPACITY_RECORD = "risk.capacity.record"
CAPACITY_DELETE = "risk.capacity.delete"
ACTIVITY_SET = "risk.privacy.activity"
ACTIVITY_LEAK = "risk.privacy.leak"
MEDIA_ENCRYPTED = "risk.privacy.media_encrypted"
FILING_RECORD = "risk.filing.record"
ANNUAL_EXPORT = "risk.annual.export"
ASSESSMENT_ISSUE = "risk.assessment.issue"
ASSESSMENT_SIGN = "risk.assessment.sign"

ACTIONS = {
    EVIDENCE_LINK: _("Evidence linked to a duty of the measures"),
    DUTY_NOT_APPLICABLE: _("Duty marked not applicable"),
    INCIDENT_OPEN: _("Security incident recorded"),
    INCIDENT_GRADE: _("Security incident graded"),
    INCIDENT_REPORT: _("Incident report made"),
    INCIDENT_NOTICE: _("Related party told of an incident"),
    INCIDENT_RESTORE: _("Incident: service restored"),
    INCIDENT_LINK: _("Incident linked to its 表39 and 表40 rows"),
    INCIDENT_EXPORT: _("Incident report downloaded as a Word file"),
    CLOCK_REMIND: _("Incident reporting deadline near"),
    CLOCK_OVERDUE: _("Incident reporting deadline passed: escalated"),
    RISK_CREATE: _("Risk recorded"),
    RISK_ASSESS: _("Risk assessed"),
    ACCEPTANCE_REQUEST: _("Risk acceptance requested"),
    ACCEPTANCE_APPROVE: _("Risk acceptance approved"),
    PLAN_VERSION: _("Emergency plan version recorded"),
    DRILL_RECORD: _("Emergency drill recorded"),
    DRILL_OVERDUE: _("Emergency drill overdue: reminded"),
    ASSESSMENT_EXPORT: _("Risk-assessment report made (Word or PDF)"),
    VULN_IMPORT: _("Vulnerability scan imported"),
    VULN_RECORD: _("Vulnerability recorded by hand"),
    VULN_ASSIGN: _("Vulnerability given an owner"),
    VULN_FIX: _("Vulnerability fix recorded"),
    VULN_VERIFY: _("Vulnerability fix verified by a second person"),
    VULN_DECISION_REQUEST: _("Vulnerability acceptance or false positive asked for"),
    VULN_DECISION_APPROVE: _("Vulnerability acceptance or false positive approved"),
    SUPPLIER_SET: _("Supplier's management facts recorded"),
    CHANGE_REQUEST: _("Change requested"),
    CHANGE_APPROVE: _("Change approved"),
    CHANGE_NOTICE: _("Investor notice of a change recorded"),
    CHANGE_EXECUTE: _("Change started"),
    CHANGE_CLOSE: _("Change closed (done, rolled back or cancelled)"),
    FREEZE_SET: _("Freeze period recorded"),
    CAPACITY_RECORD: _("Pressure test recorded with its report"),
    CAPACITY_DELETE: _("Pressure test record deleted after its retention"),
    ACTIVITY_SET: _("Personal-information processing activity recorded"),
    ACTIVITY_LEAK: _("Personal-information leak recorded as an incident"),
    MEDIA_ENCRYPTED: _("Couriered backup media marked encrypted"),
    FILING_RECORD: _("Report to the regulator recorded as filed"),
    ANNUAL_EXPORT: _("Annual security report drafted (Word)"),
    ASSESSMENT_ISSUE: _("Risk-assessment report issued as a new version"),
    ASSESSMENT_SIGN: _("Risk-assessment report signed"),
}
