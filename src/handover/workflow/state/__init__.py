"""A step's state, derived from the registers, never ticked by hand (registers.md §5: a step is complete when
its output registers are signed).

- A step with output registers is done when, for each of them, the site has at least one current form and
  every current form is signed (or archived); it was done when the last of those signatures was given.
  An engagement-level step reads the forms of the head office (总部), where 技术组 files them.
- A step without output registers (H-00, M-01, M-02, P-01 …) has nothing to sign; it is done when evidence
  is attached and a responsible party confirms it (services.step_confirm).
- Ordering (steps.py ``after``): a step whose predecessor is not done is blocked, even if its own registers
  are signed (done out of order), and it becomes done once the predecessor is. Engagement-level
  predecessors count for every site (T-10 waits for the security assessment T-09); an engagement-level step
  waiting for a per-site one (N-03 after T-10) waits for it at every site that has it.
- A register rule that blocks a step (gates.py) blocks it too.
- An output register listed as ``optional`` (a 表36 go-live, a 表37 database login) need not exist; when it
  does, its forms must be signed. A step whose registers are all optional and absent is in order from the
  moment it was created.
- 注意事项, per site (第二十七条; derived from the site's other 交接期 steps, never confirmed):
  N-01 (第1项, in order and on time) is done when all of them are, done late when one was (a deviation),
  overdue while one is, and its reasons name them; its due time is the latest of theirs.
  N-02 (第2项, same-day feedback) is due at the end of the day of the first late step still without
  feedback and overdue after it; in progress while an escalation waits for 技术组's report to the working
  group; done when every late step has its feedback and every escalation is reported. A site with nothing
  late shows it **done**, with the reason "nothing is late" (clearer on the heat map than a seventh state).
  N-05 (第5项, back up first) is blocked while a register gate blocks any step of the site (its reasons
  list them), done once the site's backups (the outputs of T-01 and T-04) are signed, and overdue when
  those are not signed by the later of the two deadlines.
  Derived steps owe no feedback of their own: the late step itself does.
- 稳定期 steps (S-01…S-13, per site) are continuous duties: in order while their registers are signed, and
  overdue, whatever their deadline, while the routine shows something lapsed (routine.py, read for
  the whole engagement): 表40 past its date → S-01, 表27 past next_due_on → S-02, 表28 review older than
  PERMISSION_REVIEW_DAYS → S-03, 表35 contract ending → S-11, 表41 of the last trading day missing or
  unsigned → S-09. Same-day feedback and escalation (第二十七条第2项) are the 交接期's; in 稳定期 the morning
  reminders tell the sites. S-14, the 整体风险评估报告, has no register: it is confirmed with evidence.

``compute`` reads the whole engagement in a fixed number of queries, whatever the number of sites: the
deadline overrides, the register status, the head office's sites, feedback, escalations, the step
instances, the gates' own, and two more once 稳定期 steps exist (the routine's rows, the day's 表41).
The overview of 300 sites derives some 8,000 instances: the loop over them does only what differs per
instance (a deadline is computed once per step, a site's forms are looked up in its own
table of registers).
"""

from __future__ import annotations

from handover.workflow.state.derive import (
    BLOCKED,
    DONE,
    DONE_LATE,
    FINISHED,
    IN_PROGRESS,
    OVERDUE,
    PENDING,
    SIGNED,
    STATES,
    Key,
    StepView,
    overrides_of,
)
from handover.workflow.state.kept import DERIVED_HELD, compute, compute_afresh, derived, forget, last_derived

__all__ = [
    "BLOCKED",
    "DERIVED_HELD",
    "DONE",
    "DONE_LATE",
    "FINISHED",
    "IN_PROGRESS",
    "OVERDUE",
    "PENDING",
    "SIGNED",
    "STATES",
    "Key",
    "StepView",
    "compute",
    "compute_afresh",
    "derived",
    "forget",
    "last_derived",
    "overrides_of",
]
