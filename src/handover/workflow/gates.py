"""Where the registers' cross-register rules block a step (registers.md §4; 第二十七条第5项, N-05).

The workflow does not write those rules: the registers app owns them (a 表10 row needs its 表8 backup, a
表11 row its 权限核查前备份, …). They plug in here, each a ``Rule`` appended to ``RULES`` when its app
loads. ``blocking_reasons`` answers for a whole engagement at once, so the overview stays at a constant
number of queries: a rule reads what it needs in one query per rule, never one per site or step. Until the
registers app registers rules, nothing is blocked by a gate, and a step is blocked only by its predecessors
(steps.py ``after``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from handover.org.models import Engagement

# (site id or None for an engagement-level step, step id) → reasons a person can act on.
Blocks = dict[tuple[int | None, str], list[str]]
Rule = Callable[[Engagement, Iterable[tuple[int | None, str]]], Blocks]

RULES: list[Rule] = []


def blocking_reasons(*, engagement: Engagement, pairs: Iterable[tuple[int | None, str]]) -> Blocks:
    """The reasons each (site, step) among ``pairs`` is blocked by a register rule; absent when it is not."""
    wanted = list(pairs)
    found: Blocks = {}
    for rule in RULES:
        for key, reasons in rule(engagement, wanted).items():
            found.setdefault(key, []).extend(reasons)
    return found
