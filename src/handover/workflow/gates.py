"""Where the registers' cross-register rules block a step (registers.md §4; 第二十七条第5项, N-05).

The workflow does not write those rules: the registers app owns them (registers/step_gates.py: coverage, a
表10 row's 表8 backup first, exception closure). They plug in here, each a ``Rule`` registered when its app
loads (``apps.ready``). ``blocking_reasons`` answers for a whole engagement at once, so the overview stays
at a constant number of queries: a rule reads what it needs in one or two queries, never one per site or
step. The workflow's own rule is ``open_cases``: 表24 (N-04) is not compiled while an exception path is
open (第二十八条). state.py turns a reason into a blocked step that cannot be done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.utils.translation import gettext as _

from handover.org.models import Engagement
from handover.workflow.models import CaseState, ExceptionCase

# (site id or None for an engagement-level step, step id) → reasons a person can act on.
Blocks = dict[tuple[int | None, str], list[str]]
Rule = Callable[[Engagement, Iterable[tuple[int | None, str]]], Blocks]

RULES: list[Rule] = []
CASES_LISTED = 10  # an open-cases reason names the first ten and counts the rest


def register(rule: Rule) -> None:
    """Add a rule once (an app's ``ready`` may run more than once in tests)."""
    if rule not in RULES:
        RULES.append(rule)


def blocking_reasons(*, engagement: Engagement, pairs: Iterable[tuple[int | None, str]]) -> Blocks:
    """The reasons each (site, step) among ``pairs`` is blocked by a register rule; absent when it is not."""
    wanted = list(pairs)
    found: Blocks = {}
    for rule in RULES:
        for key, reasons in rule(engagement, wanted).items():
            found.setdefault(key, []).extend(reasons)
    return found


def open_cases(engagement: Engagement, pairs: Iterable[tuple[int | None, str]]) -> Blocks:
    """第二十八条: every exception path ends with its 表39 entry reported to 技术组, so 表24 (N-04), which counts
    the exceptions, waits until no case of the engagement is open. One query."""
    key = (None, "N-04")
    if key not in set(pairs):
        return {}
    cases = list(
        ExceptionCase.objects.filter(engagement=engagement, state=CaseState.OPEN)
        .order_by("opened_at", "pk")
        .values_list("pk", "path_id", "site__name")
    )
    if not cases:
        return {}
    named = "; ".join(f"{path} #{pk} {site}" for pk, path, site in cases[:CASES_LISTED])
    if len(cases) > CASES_LISTED:
        named += _(" and %(n)d more") % {"n": len(cases) - CASES_LISTED}
    return {
        key: [
            _(
                "Exception cases still open (第二十八条): %(cases)s. Close each with its 表39 entry signed and "
                "reported to 技术组 before 表24 is compiled."
            )
            % {"cases": named}
        ]
    }
