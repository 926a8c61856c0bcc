"""Writes of the workflow; each is one transaction with its audit event, keyword-only, taking the acting user.

``now`` is the clock (core/clock.py) unless given: deadlines, feedback and escalation are rules about
the time of day in Beijing (第二十七条第1、2项), and tests set the clock.
"""

from handover.workflow.services.cases import (
    case_close,
    case_link_t39,
    case_open,
    case_risk_accept,
    case_tick,
    close_refusal,
    current_t39,
)
from handover.workflow.services.feedback import (
    escalations_raise,
    feedback_due_notify,
    feedback_record,
    wg_report_record,
)
from handover.workflow.services.phases import phase_transition
from handover.workflow.services.steps import (
    RESPONSIBLE_ROLES,
    deadline_set,
    phase_steps_create,
    step_confirm,
    step_evidence_add,
    step_note_add,
)

__all__ = [
    "RESPONSIBLE_ROLES",
    "case_close",
    "case_link_t39",
    "case_open",
    "case_risk_accept",
    "case_tick",
    "close_refusal",
    "current_t39",
    "deadline_set",
    "escalations_raise",
    "feedback_due_notify",
    "feedback_record",
    "phase_steps_create",
    "phase_transition",
    "step_confirm",
    "step_evidence_add",
    "step_note_add",
    "wg_report_record",
]
