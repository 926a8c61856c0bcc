"""Where the registers' cross-register rules block a step (registers.md §4; 第二十七条第5项, N-05).

The rules read the registers (register_gates.py: coverage, a 表10 row's 表8 backup first, exception closure:
the registers' own completeness and rules, nothing computed twice) and are listed in ``RULES``, a static
tuple: their order no longer depends on the order the apps load, and the registers never import the
workflow. ``blocking_reasons`` answers for a whole engagement at once, so the overview stays
at a constant number of queries: a rule reads what it needs in one or two queries, never one per site or
step. The workflow's own rule is ``open_cases``: 表24 (N-04) is not compiled while an exception path is
open (第二十八条). state.py turns a reason into a blocked step that cannot be done.

A reason is plain text, except where an engagement-level step's reason names sites: then it is a
``SiteReason``, and the selectors show a user limited to part of the site tree only their own sites' names,
the others counted (第十一条: people see only what concerns their sites).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from functools import partial

from django.utils.translation import gettext as _

from handover.org.models import Engagement
from handover.registers import completeness
from handover.workflow import register_gates
from handover.workflow.models import CaseState, ExceptionCase

# (site id or None for an engagement-level step, step id) → reasons a person can act on.
Blocks = dict[tuple[int | None, str], list[str]]
Rule = Callable[[Engagement, Iterable[tuple[int | None, str]]], Blocks]

CASES_LISTED = 10  # an open-cases reason names the first ten and counts the rest


class SiteReason(str):
    """A reason that names sites: ``render(labels, elsewhere)`` writes it from the labels it may show and how
    many it leaves out. As a string it names them all (技术组's view); ``within`` gives the text for a user
    who sees only some sites."""

    render: Callable[[list[str], int], str]
    named: tuple[tuple[int, str], ...]  # (site id, the label that names it)

    def __new__(cls, render: Callable[[list[str], int], str], named: Sequence[tuple[int, str]]) -> SiteReason:
        reason = super().__new__(cls, render([label for _site, label in named], 0))
        reason.render, reason.named = render, tuple(named)
        return reason

    def within(self, site_ids: Collection[int]) -> str:
        """The reason naming only what is at ``site_ids``, the rest counted."""
        shown = [label for site_id, label in self.named if site_id in site_ids]
        return self.render(shown, len(self.named) - len(shown))


def within(reason: str, site_ids: Collection[int]) -> str:
    """``reason`` as a user who sees only ``site_ids`` may read it (第十一条)."""
    return reason.within(site_ids) if isinstance(reason, SiteReason) else reason


def blocking_reasons(
    *,
    engagement: Engagement,
    pairs: Iterable[tuple[int | None, str]],
    facts: completeness.Facts | None = None,
) -> Blocks:
    """The reasons each (site, step) among ``pairs`` is blocked by a register rule; absent when it is not.
    ``facts``: the covered registers' facts of every site, which the coverage rule reads (state.py keeps
    them per site), else the rule reads them."""
    wanted = list(pairs)
    found: Blocks = {}
    for rule in rules():
        if rule is register_gates.coverage_gaps and facts is not None:
            rule = partial(register_gates.coverage_gaps, facts=facts)
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
        .values_list("pk", "path_id", "site_id", "site__name")
    )
    if not cases:
        return {}
    named = [(site_id, f"{path} #{pk} {site}") for pk, path, site_id, site in cases]
    return {key: [SiteReason(_open_cases_text, named)]}


def open_case_labels(engagement: Engagement) -> list[str]:
    """The engagement's open exception cases that the working group has not accepted as residual risks, named
    (path, number, site), oldest first: what stops the working group's approval of 表24 and the move to 稳定期
    (第二十七条第3项 「交接工作完成之后」, 第二十八条). One query."""
    cases = (
        ExceptionCase.objects.filter(
            engagement=engagement, state=CaseState.OPEN, risk_acceptance__isnull=True
        )
        .order_by("opened_at", "pk")
        .values_list("pk", "path_id", "site__name")
    )
    return [f"{path} #{pk} {site}" for pk, path, site in cases]


def open_cases_refusal(labels: list[str]) -> str:
    """Why the working group's approval of 表24 or the move to 稳定期 waits while ``labels`` are open."""
    return _(
        "Exception cases still open (第二十八条): %(cases)s. The handover is complete (第二十七条第3项) only once "
        "each is closed with its 表39 entry signed and reported to 技术组."
    ) % {"cases": _listed(labels)}


def _listed(labels: list[str]) -> str:
    """The first CASES_LISTED labels, and how many more."""
    listed = "; ".join(labels[:CASES_LISTED])
    if len(labels) > CASES_LISTED:
        listed += _(" and %(n)d more") % {"n": len(labels) - CASES_LISTED}
    return listed


def _open_cases_text(labels: list[str], elsewhere: int) -> str:
    listed = _listed(labels)
    if elsewhere and listed:
        listed = _("%(cases)s, and %(n)d at other sites") % {"cases": listed, "n": elsewhere}
    elif elsewhere:
        listed = _("%(n)d at other sites") % {"n": elsewhere}
    return _(
        "Exception cases still open (第二十八条): %(cases)s. Close each with its 表39 entry signed and "
        "reported to 技术组 before 表24 is compiled."
    ) % {"cases": listed}


# Every gate, in the order their reasons are listed: the registers' rules, then the workflow's own.
RULES: tuple[Rule, ...] = (*register_gates.RULES, open_cases)

# Rules of the apps above the workflow, which it cannot import (the `risk` app's security assessment for T-09,
# 第二十六条第9项): each plugs in by name from its AppConfig.ready, and they run after RULES in name order, so
# the order of reasons does not depend on the order the apps load.
PLUGGED: dict[str, Rule] = {}


def rules() -> tuple[Rule, ...]:
    """Every rule that runs, in order (what state.py keeps a computed state for)."""
    return (*RULES, *(plugged for _name, plugged in sorted(PLUGGED.items())))


def plug(name: str, rule: Rule) -> None:
    """Add ``rule`` to the gates under ``name`` (again under the same name replaces it)."""
    PLUGGED[name] = rule
