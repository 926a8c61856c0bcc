"""The state kept between writes, in this process (stamp.py, issue 18): each site's part under its site's token,
the engagement-level steps, the coverage rules' facts per site, and after a write the parts that changed
read (state/read.py) and derived (state/derive.py) again. docs/workflow.md says why it is exact."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from handover.org.models import Engagement
from handover.registers import completeness
from handover.workflow import gates, stamp
from handover.workflow.state.derive import (
    Key,
    StepView,
    _derive_engagement_steps,
    _derive_site,
    _Due,
    _Inputs,
    _Part,
)
from handover.workflow.state.read import _read_engagement_steps, _read_sites

T = TypeVar("T")


# The kept state of an engagement, in this process (stamp.py): each site's part under its site's token, the
# engagement-level steps, and the views of all of them assembled. Readers share the views: they never change
# one (selectors copy before they rewrite a reason).
@dataclass(slots=True)
class _Kept:
    key: tuple[object, ...]  # the engagement's token, D, phase, the gates' rules
    tokens: dict[int, str]  # every scope's token (stamp.tokens)
    facts: dict[int, completeness.Facts]  # per site, what its covered registers' rows say (coverage reads)
    merged: completeness.Facts  # all of them together, as the coverage rules read them
    sites: dict[int, _Part]
    engagement_steps: _Part
    views: dict[Key, StepView]
    after: dt.datetime | None
    until: dt.datetime | None


_KEPT: dict[int, _Kept] = {}
# What the pages derive from a kept state (the overview's rows, the heat map's cells …), by the kept views'
# identity: dropped with them.
_DERIVED: dict[int, tuple[dict[Key, StepView], dict[object, Any]]] = {}
DERIVED_HELD = 2000
# How many sites' parts the last ``compute`` derived (tests count them: a write at one site derives one).
last_derived: list[int] = []


def forget() -> None:
    """Drop the kept states: the next ``compute`` reads and derives afresh (tests that count its queries)."""
    _KEPT.clear()
    _DERIVED.clear()


def derived(views: dict[Key, StepView], key: object, build: Callable[[], T]) -> T:
    """What ``build`` makes from ``views`` (and from ``key``, which names everything else it depends on), made
    once per kept state: the pages' own work on the state is kept with it. ``views`` not kept: built."""
    for pk, kept in _KEPT.items():
        if kept.views is views:
            held = _DERIVED.get(pk)
            if held is None or held[0] is not views:
                held = _DERIVED[pk] = (views, {})
            if key not in held[1]:
                if len(held[1]) >= DERIVED_HELD:  # many users' scopes between two writes: start again
                    held[1].clear()
                held[1][key] = build()
            return cast(T, held[1][key])
    return build()


def _holds(after: dt.datetime | None, until: dt.datetime | None, now: dt.datetime) -> bool:
    return (after is None or now > after) and (until is None or now <= until)


def compute(*, engagement: Engagement, now: dt.datetime) -> dict[Key, StepView]:
    """Every step instance of the engagement with its state at ``now``. Kept from an earlier call while no
    watched table changed since (stamp.py) and ``now`` lies in the same span between two deadlines; after a
    write at some sites, only their parts are read and derived again, with the engagement-level steps; after
    a write that concerns every site, all. The views returned are shared: do not change them."""
    tokens = stamp.tokens(engagement.pk)  # read first: whatever is read after it is at least as new
    if tokens is None:
        return compute_afresh(engagement=engagement, now=now)
    key = (tokens[stamp.ENGAGEMENT], engagement.disposal_date, str(engagement.phase), gates.rules())
    kept = _KEPT.get(engagement.pk)
    if kept is not None and kept.key == key and kept.tokens == tokens and _holds(kept.after, kept.until, now):
        last_derived[:] = []
        return kept.views
    if kept is None or kept.key != key:
        kept = _full(engagement, now, key, tokens)
    else:
        kept = _partial(engagement, now, kept, tokens)
    _KEPT[engagement.pk] = kept
    return kept.views


def compute_afresh(*, engagement: Engagement, now: dt.datetime) -> dict[Key, StepView]:
    """Every step instance of the engagement with its state at ``now``, read and derived now."""
    return _full(engagement, now, (), {}).views


def _full(engagement: Engagement, now: dt.datetime, key: tuple[object, ...], tokens: dict[int, str]) -> _Kept:
    """Every site read in one batch of queries (whatever the number of sites), then derived part by part."""
    due = _Due(engagement)
    facts = completeness.site_facts(engagement=engagement)
    merged = completeness.merged(engagement=engagement, parts=facts.values())
    inputs = _read_sites(engagement, None, now, merged)
    sites = {site_id: _derive_site(site_id, found, due, {}, now) for site_id, found in inputs.items()}
    top = _read_engagement_steps(engagement)
    return _assemble(now, key, tokens, (facts, merged), sites, set(sites), due, top)


def _partial(engagement: Engagement, now: dt.datetime, kept: _Kept, tokens: dict[int, str]) -> _Kept:
    """The kept state with the sites whose token moved (or whose span ``now`` left) read and derived again,
    and with them every site whose coverage reads a fact of the registers that the write changed
    (``_concerned``)."""
    scopes = (set(tokens) | set(kept.tokens)) - {stamp.ENGAGEMENT, stamp.STEPS_ONLY}
    written = {s for s in scopes if tokens.get(s) != kept.tokens.get(s)}
    facts, merged, concerned = _concerned(engagement, kept, written)
    stale = (
        written | concerned | {s for s, part in kept.sites.items() if not _holds(part.after, part.until, now)}
    )
    due = _Due(engagement)
    inputs = _read_sites(engagement, stale, now, merged) if stale else {}
    sites = {s: part for s, part in kept.sites.items() if s not in stale}
    guess = {v.step.id: v.done_at is not None for v in kept.engagement_steps.views.values()}
    for site_id, found in inputs.items():
        sites[site_id] = _derive_site(site_id, found, due, guess, now)
    # The engagement-level steps read head office's forms and their own instances: kept while neither moved.
    top = kept.engagement_steps.inputs
    if tokens.get(stamp.STEPS_ONLY) != kept.tokens.get(stamp.STEPS_ONLY) or stale & set(top.forms):
        top = _read_engagement_steps(engagement)
    return _assemble(now, kept.key, tokens, (facts, merged), sites, set(inputs), due, top)


def _concerned(
    engagement: Engagement, kept: _Kept, written: set[int]
) -> tuple[dict[int, completeness.Facts], completeness.Facts, set[int]]:
    """The covered registers' facts per site with those of the ``written`` sites read again, merged, and the
    other sites whose coverage reads a fact that changed (a 营业部's 表7 row now listing head office's system
    concerns head office, whose system is then in 表7; a 表8 row there that adds nothing head office's system
    lacked concerns nobody else). One query, and up to three when a fact changed."""
    if not written:
        return kept.facts, kept.merged, set()
    fresh = completeness.site_facts(engagement=engagement, site_ids=written)
    facts = {s: found for s, found in kept.facts.items() if s not in written} | fresh
    merged = completeness.merged(engagement=engagement, parts=facts.values())
    among = [*(kept.facts[s] for s in written if s in kept.facts), *fresh.values()]
    concerned = completeness.concerned(engagement=engagement, before=kept.merged, after=merged, among=among)
    return facts, merged, concerned - written


def _assemble(
    now: dt.datetime,
    key: tuple[object, ...],
    tokens: dict[int, str],
    facts: tuple[dict[int, completeness.Facts], completeness.Facts],
    sites: dict[int, _Part],
    derived_now: set[int],
    due: _Due,
    top_inputs: _Inputs,
) -> _Kept:
    """The engagement-level steps derived from head office's forms and the sites' parts, and every site part
    whose engagement-level predecessors it consulted were not as now derived again (from its kept inputs),
    until they agree: the steps are ordered predecessors first (steps.py), so the agreement is the state one
    pass in that order gives."""
    while True:
        top = _derive_engagement_steps(top_inputs, due, sites, now)
        done = {v.step.id: v.done_at is not None for v in top.views.values()}
        again = [
            s
            for s, part in sites.items()
            if any(done.get(step_id, True) != was for step_id, was in part.consulted.items())
        ]
        if not again:
            break
        for site_id in again:
            sites[site_id] = _derive_site(site_id, sites[site_id].inputs, due, done, now)
            derived_now.add(site_id)
    last_derived[:] = sorted(derived_now)
    views: dict[Key, StepView] = {}
    for part in (*sites.values(), top):
        views.update(part.views)
    views = dict(sorted(views.items(), key=lambda item: item[1].instance_id))
    afters = [p.after for p in (*sites.values(), top) if p.after is not None]
    untils = [p.until for p in (*sites.values(), top) if p.until is not None]
    return _Kept(key, tokens, *facts, sites, top, views, max(afters, default=None), min(untils, default=None))
