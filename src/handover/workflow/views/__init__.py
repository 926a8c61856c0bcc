"""Pages of the workflow: the overview, a site's steps, a step, exception cases, and 技术组's forms. Thin:
forms check shape, services decide, selectors read."""

from handover.workflow.views.cases import case, case_close, case_link, case_open, case_tick
from handover.workflow.views.manage import deadline, phase, report
from handover.workflow.views.stabilisation import daily_report, duty, stabilisation_page
from handover.workflow.views.steps import (
    evidence,
    overview,
    site,
    step,
    step_confirm,
    step_evidence,
    step_feedback,
    step_note,
    summary,
)

__all__ = [
    "case",
    "case_close",
    "case_link",
    "case_open",
    "case_tick",
    "daily_report",
    "deadline",
    "duty",
    "evidence",
    "overview",
    "phase",
    "report",
    "site",
    "stabilisation_page",
    "step",
    "step_confirm",
    "step_evidence",
    "step_feedback",
    "step_note",
    "summary",
]
