"""Reads of the workflow, filtered to what the user may see (org.selectors scopes: a role at a site sees its
subtree). The overview is computed in a fixed number of queries, whatever the number of sites and steps.

One module per sub-domain (review §10.7); every name stays importable from ``handover.workflow.selectors``.
"""

from __future__ import annotations

from handover.workflow.selectors.cases import (
    ChecklistEntry,
    case_checklist,
    case_get,
    case_list,
    evidence_get,
    t39_choices,
)
from handover.workflow.selectors.common import GATED_SHOWN, OVERDUE_SHOWN, PHASES, site_by_code, site_choices
from handover.workflow.selectors.overview import (
    ObserverSummary,
    Overview,
    SiteRow,
    Table24Counts,
    feedback_lines,
    heatmap_columns,
    observer_summary,
    open_cases_by_type,
    overview,
    table24_counts,
)
from handover.workflow.selectors.stabilisation import DeadlineRow, deadline_table, duty_roster, unreported
from handover.workflow.selectors.steps import (
    ROWS_SHOWN,
    RegisterRows,
    RowLine,
    SitePage,
    StepList,
    site_page,
    step_get,
    step_list,
    step_register_rows,
    step_view,
)

__all__ = [
    "GATED_SHOWN",
    "OVERDUE_SHOWN",
    "PHASES",
    "ROWS_SHOWN",
    "ChecklistEntry",
    "DeadlineRow",
    "ObserverSummary",
    "Overview",
    "RegisterRows",
    "RowLine",
    "SitePage",
    "SiteRow",
    "StepList",
    "Table24Counts",
    "case_checklist",
    "case_get",
    "case_list",
    "deadline_table",
    "duty_roster",
    "evidence_get",
    "feedback_lines",
    "heatmap_columns",
    "observer_summary",
    "open_cases_by_type",
    "overview",
    "site_by_code",
    "site_choices",
    "site_page",
    "step_get",
    "step_list",
    "step_register_rows",
    "step_view",
    "t39_choices",
    "table24_counts",
    "unreported",
]
