"""Audit actions of the workflow."""

from django.utils.translation import gettext_lazy as _

STEPS_CREATE = "workflow.steps.create"
DEADLINE_SET = "workflow.deadline.set"
STEP_NOTE = "workflow.step.note"
STEP_EVIDENCE = "workflow.step.evidence"
STEP_CONFIRM = "workflow.step.confirm"
FEEDBACK_RECORD = "workflow.feedback.record"
ESCALATION_RAISE = "workflow.escalation.raise"
WG_REPORT = "workflow.wg_report.record"
PHASE_TRANSITION = "workflow.phase.transition"
CASE_OPEN = "workflow.case.open"
CASE_TICK = "workflow.case.tick"
CASE_LINK_T39 = "workflow.case.link_t39"
CASE_CLOSE = "workflow.case.close"
CASE_RISK_ACCEPT = "workflow.case.risk_accept"
DUTY_ASSIGN = "workflow.duty.assign"
DUTY_REMOVE = "workflow.duty.remove"

ACTIONS = {
    STEPS_CREATE: _("Workflow steps created for a phase"),
    DEADLINE_SET: _("Step deadline set"),
    STEP_NOTE: _("Note added to a step"),
    STEP_EVIDENCE: _("Evidence attached to a step"),
    STEP_CONFIRM: _("Step confirmed done"),
    FEEDBACK_RECORD: _("Same-day feedback recorded"),
    ESCALATION_RAISE: _("Late step escalated to the technical group"),
    WG_REPORT: _("Report to the working group recorded"),
    PHASE_TRANSITION: _("Engagement moved to the next phase"),
    CASE_OPEN: _("Exception case opened"),
    CASE_TICK: _("Exception checklist item done"),
    CASE_LINK_T39: _("Exception case linked to its 表39 entry"),
    CASE_CLOSE: _("Exception case closed"),
    CASE_RISK_ACCEPT: _("Exception case accepted as a residual risk by the working group"),
    DUTY_ASSIGN: _("Put on the duty roster"),
    DUTY_REMOVE: _("Taken off the duty roster"),
}
