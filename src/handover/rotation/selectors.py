"""Reads of rotation, for its pages and its API: plans and restores scoped to the reader's sites, each plan's
counts by step and by outcome, a running plan's estimate of the time left, and one account's timeline from
the audit trail. Nothing read here carries a secret: items and events hold steps, outcomes and reasons."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from handover.audit import catalogue
from handover.audit.models import Event
from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.discovery.models import Target
from handover.discovery.store import source_read
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement, Site
from handover.registers.models import Account, Row
from handover.rotation import events
from handover.rotation.models import (
    FORGOTTEN,
    Disablement,
    DisableState,
    ItemState,
    Restore,
    Revert,
    RotationItem,
    RotationPlan,
)
from handover.vault import events as vault_events
from handover.workflow.models import CaseState, ExceptionCase

OPEN = "open"  # the outcome key of an account not finished yet


def sites_for(
    *, user: Actor, engagement: Engagement, capability: str = perms.VIEW_DISCOVERY
) -> QuerySet[Site]:
    """The engagement's sites where ``user`` holds ``capability``."""
    scope = org_selectors.site_scope(user=user, engagement=engagement, capability=capability)
    sites = Site.objects.filter(engagement=engagement)
    return sites.none() if scope is None else sites.filter(scope)


def plan_list(*, user: Actor, engagement: Engagement) -> QuerySet[RotationPlan]:
    """Plans newest first: those of the reader's sites and those over the whole engagement."""
    visible = sites_for(user=user, engagement=engagement)
    return (
        RotationPlan.objects.filter(engagement=engagement)
        .filter(Q(site__isnull=True) | Q(site__in=visible))
        .select_related("site")
    )


def plan_get(*, user: Actor, engagement: Engagement, pk: int) -> RotationPlan:
    """One plan the reader may see, else NotFound (a plan of another site is not said to exist)."""
    plan = plan_list(user=user, engagement=engagement).select_related("engagement").filter(pk=pk).first()
    if plan is None:
        raise NotFound(_("No rotation plan %(id)s is open to you.") % {"id": pk}, field="plan")
    return plan


def plan_items(*, user: Actor, plan: RotationPlan) -> QuerySet[RotationItem]:
    """The plan's accounts on the reader's sites (a plan over the whole engagement spans sites)."""
    visible = sites_for(user=user, engagement=plan.engagement)
    return (
        plan.items.filter(target__site__in=visible)
        .select_related("target__site", "target__asset", "target__system", "row")
        .order_by("pk")
    )


def tally(pairs: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """Counts by step and by outcome (``open`` for none yet) from (step, outcome, how many) triples."""
    counts: dict[str, int] = {}
    for state, outcome, n in pairs:
        counts[state] = counts.get(state, 0) + n
        counts[outcome or OPEN] = counts.get(outcome or OPEN, 0) + n
    return counts


def plan_counts(
    *, plans: Iterable[RotationPlan], sites: QuerySet[Site] | None = None
) -> dict[int, dict[str, int]]:
    """Each plan's counts by step and by outcome (its run's progress), in one query; ``sites`` limits the
    accounts counted to those sites."""
    items = RotationItem.objects.filter(plan__in=[p.pk for p in plans])
    if sites is not None:
        items = items.filter(target__site__in=sites)
    rows = items.values("plan_id", "state", "outcome").annotate(n=Count("pk")).order_by()
    by_plan: dict[int, list[tuple[str, str, int]]] = {}
    for row in rows:
        by_plan.setdefault(row["plan_id"], []).append((row["state"], row["outcome"], row["n"]))
    return {p.pk: tally(by_plan.get(p.pk, [])) for p in plans}


def run_asked(*, plan: RotationPlan) -> bool:
    """Whether a run was asked for and has not finished: started (``rotation.plan.start``) after the plan's last
    finish, and the plan approved or running — the task may still wait for the worker."""
    if plan.state not in ("approved", "running"):
        return False
    trail = Event.objects.filter(
        engagement_id=plan.engagement_id, object_type="rotation.rotationplan", object_id=str(plan.pk)
    )
    last = trail.filter(action__in=(events.PLAN_START, events.PLAN_FINISH)).order_by("-seq").first()
    return last is not None and last.action == events.PLAN_START


def run_started(*, plan: RotationPlan) -> dt.datetime | None:
    """When the plan's current run began: its first step recorded after its last finish (a resumed run is a
    run of its own), or None before any step."""
    trail = Event.objects.filter(
        engagement_id=plan.engagement_id, object_type="rotation.rotationplan", object_id=str(plan.pk)
    )
    finished = trail.filter(action=events.PLAN_FINISH).order_by("-seq").values_list("seq", flat=True).first()
    steps = trail.filter(action=events.ITEM_STEP)
    if finished is not None:
        steps = steps.filter(seq__gt=finished)
    return steps.order_by("seq").values_list("occurred_at", flat=True).first()


def eta(*, started: dt.datetime, now: dt.datetime, done: int, left: int) -> dt.timedelta | None:
    """The time left at the rate of the ``done`` accounts finished since ``started``: ``left`` accounts at
    (now − started) / done each. None when nothing is finished yet (no rate) or nothing is left."""
    if done <= 0 or left <= 0 or now <= started:
        return None
    return (now - started) / done * left


@dataclass(frozen=True)
class Progress:
    """A plan's progress for its run page."""

    counts: dict[str, int]
    total: int
    started: dt.datetime | None
    done_since: int  # accounts finished in the current run
    left: int
    eta: dt.timedelta | None


def plan_progress(*, user: Actor, plan: RotationPlan, now: dt.datetime) -> Progress:
    """Counts by step and outcome over the reader's accounts, and while the plan runs, an estimate of the time
    left from the rate of the accounts finished since the run started."""
    items = plan_items(user=user, plan=plan)
    counts = plan_counts(plans=[plan], sites=sites_for(user=user, engagement=plan.engagement))[plan.pk]
    total = items.count()
    left = total - counts.get(ItemState.DONE, 0)
    started = run_started(plan=plan) if plan.state == "running" else None
    done_since = items.filter(state=ItemState.DONE, updated_at__gte=started).count() if started else 0
    estimate = eta(started=started, now=now, done=done_since, left=left) if started else None
    return Progress(counts, total, started, done_since, left, estimate)


def item_get(*, user: Actor, plan: RotationPlan, pk: int) -> RotationItem:
    """One account of a plan on the reader's sites, else NotFound."""
    item = plan_items(user=user, plan=plan).select_related("entry").filter(pk=pk).first()
    if item is None:
        raise NotFound(_("No account %(id)s of this plan is open to you.") % {"id": pk}, field="item")
    return item


@dataclass(frozen=True)
class TimelineLine:
    """One recorded event of an account's rotation: when, who, what; its step, outcome, version and reason
    (the events hold no secret, and only these fields are shown)."""

    seq: int
    at: dt.datetime
    who: str
    action: str
    label: Any
    outcome: str
    state: str
    state_label: Any
    result: str
    version: Any
    reason: str


def item_timeline(*, item: RotationItem) -> list[TimelineLine]:
    """The account's events in order: its steps (``rotation.item.step``) and its new secret's sealing,
    promotion or abandonment in the vault."""
    plan = item.plan
    steps = Event.objects.filter(
        engagement_id=plan.engagement_id,
        action=events.ITEM_STEP,
        object_type="rotation.rotationplan",
        object_id=str(plan.pk),
    ).filter(
        # Steps name their item; the earliest recorded named the account and host only.
        Q(after__item=item.pk)
        | (
            Q(after__item__isnull=True)
            & Q(after__account=item.login_name, after__host=item.target.asset.hostname)
        )
    )
    found = list(steps)
    if item.version_number is not None:
        found += Event.objects.filter(
            engagement_id=plan.engagement_id,
            action__in=[vault_events.SECRET_STAGE, vault_events.SECRET_PROMOTE, vault_events.SECRET_ABANDON],
            object_type="vault.secretentry",
            object_id=str(item.entry_id),
            after__version=item.version_number,
            occurred_at__gte=plan.created_at,
        )
    return [_line(e) for e in sorted(found, key=lambda e: e.seq)]


def _line(event: Event) -> TimelineLine:
    after = event.after or {}
    return TimelineLine(
        seq=event.seq,
        at=event.occurred_at,
        who=event.actor_username,
        action=event.action,
        label=catalogue.label(event.action),
        outcome=event.outcome,
        state=str(after.get("state", "")),
        state_label=ItemState(after["state"]).label if after.get("state") in ItemState.values else "",
        result=str(after.get("outcome", "")),
        version=after.get("version"),
        reason=str(after.get("reason") or after.get("why") or ""),
    )


def restore_list(*, user: Actor, engagement: Engagement) -> QuerySet[Restore]:
    """Restores newest first, of targets on the reader's sites."""
    visible = sites_for(user=user, engagement=engagement)
    return Restore.objects.filter(engagement=engagement, target__site__in=visible).select_related(
        "target__asset", "target__system", "target__site", "backup"
    )


def restore_get(*, user: Actor, engagement: Engagement, pk: int) -> Restore:
    """One restore the reader may see, else NotFound."""
    found = (
        restore_list(user=user, engagement=engagement)
        .select_related("engagement", "current")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound(_("No restore %(id)s is open to you.") % {"id": pk}, field="restore")
    return found


def restore_targets(*, user: Actor, engagement: Engagement, connectors: Iterable[str]) -> QuerySet[Target]:
    """The live targets a restore may be requested for by ``user`` (where they may run discovery)."""
    visible = sites_for(user=user, engagement=engagement, capability=perms.RUN_DISCOVERY)
    return (
        Target.objects.filter(
            engagement=engagement, site__in=visible, is_active=True, connector__in=list(connectors)
        )
        .select_related("asset", "system", "site")
        .order_by("site__path", "system__name", "asset__hostname")
    )


def restore_preview(*, restore: Restore) -> list[dict[str, Any]]:
    """The request's files as its preview saw them: each file's action, whether it is sealed (a verifier file:
    compared by digest, never shown) and the unified diff of a clear file, backup against the host then."""
    before = {s.name: s for s in restore.backup.sources.filter(backup=True)}
    after = {s.name: s for s in restore.current.sources.filter(backup=True)}
    shown = []
    for item in restore.files:
        old, new = before.get(item["name"]), after.get(item["name"])
        sealed = bool((old and old.sealed) or (new and new.sealed))
        lines: list[str] = []
        if not sealed and old is not None and new is not None:
            a, b = source_read(old), source_read(new)
            if a is not None and b is not None:
                lines = list(
                    difflib.unified_diff(
                        b.decode("utf-8", "replace").splitlines(),
                        a.decode("utf-8", "replace").splitlines(),
                        f"host/{item['name']}",
                        f"backup/{item['name']}",
                        lineterm="",
                    )
                )
        outcome = (restore.outcome or {}).get(item["name"], {})
        shown.append({**item, "sealed": sealed, "diff": lines, "outcome": outcome})
    return shown


def revert_list(*, user: Actor, engagement: Engagement) -> QuerySet[Revert]:
    """Restores of original passwords (E01) newest first, of accounts on the reader's sites."""
    visible = sites_for(user=user, engagement=engagement)
    return Revert.objects.filter(engagement=engagement, item__target__site__in=visible).select_related(
        "item__target__asset", "item__target__site"
    )


def revert_get(*, user: Actor, engagement: Engagement, pk: int) -> Revert:
    """One restore of an original password the reader may see, else NotFound."""
    found = revert_list(user=user, engagement=engagement).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No restore %(id)s is open to you.") % {"id": pk}, field="revert")
    return found


def disablement_list(*, user: Actor, engagement: Engagement) -> QuerySet[Disablement]:
    """停用 newest first, of accounts on the reader's sites."""
    visible = sites_for(user=user, engagement=engagement)
    return Disablement.objects.filter(engagement=engagement, target__site__in=visible).select_related(
        "target__asset", "target__site"
    )


def disablement_get(*, user: Actor, engagement: Engagement, pk: int) -> Disablement:
    """One 停用 the reader may see, else NotFound."""
    found = disablement_list(user=user, engagement=engagement).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No 停用 %(id)s is open to you.") % {"id": pk}, field="disablement")
    return found


def disable_candidates(*, user: Actor, engagement: Engagement) -> QuerySet[Row]:
    """Current 表11 rows deciding 停用 (第二十六条第3项 A) on the sites where the reader may run discovery, whose
    account is not being disabled already: what the 停用 page offers to request."""
    sites = sites_for(user=user, engagement=engagement, capability=perms.RUN_DISCOVERY)
    live = Disablement.objects.filter(
        engagement=engagement,
        state__in=(DisableState.REQUESTED, DisableState.APPROVED, DisableState.DISABLED),
    ).values("t11_row_id")
    return (
        Row.objects.filter(
            form__engagement=engagement,
            form__register_no=11,
            form__site__in=sites,
            form__is_current=True,
            is_current=True,
            data__action="停用",
        )
        .exclude(pk__in=live)
        .select_related("form__site")
        .order_by("form__site__code", "form__form_no", "seq")
    )


def e03_cases_of(*, disablement: Disablement) -> QuerySet[ExceptionCase]:
    """Open E03 cases (第二十八条第3项) started from the 表11 row of ``disablement``: where its restore happens."""
    row = disablement.t11_row
    return ExceptionCase.objects.filter(
        engagement_id=disablement.engagement_id, path_id="E03", state=CaseState.OPEN,
        source_row__form_id=row.form_id, source_row__seq=row.seq,
    ).order_by("pk")  # fmt: skip


def reset_cases(
    *, user: Actor, engagement: Engagement
) -> list[tuple[ExceptionCase, bool, RotationPlan | None]]:
    """Open E02 cases of a forgotten or unreachable password (第二十八条第2项) on the reader's sites where they may
    run discovery: each with whether the working group consented, and the reset plan drawn up in it, if any."""
    sites = sites_for(user=user, engagement=engagement, capability=perms.RUN_DISCOVERY)
    found = list(
        ExceptionCase.objects.filter(
            engagement=engagement, path_id="E02", state=CaseState.OPEN, sub_type=FORGOTTEN, site__in=sites
        )
        .select_related("site", "source_row__form")
        .annotate(consented=Count("items", filter=Q(items__key="wg_consent")))
        .order_by("opened_at", "pk")[:200]
    )
    plans: dict[int | None, RotationPlan] = {}
    for plan in RotationPlan.objects.filter(case__in=found).order_by("pk"):
        plans[plan.case_id] = plan
    return [(case, bool(getattr(case, "consented", 0)), plans.get(case.pk)) for case in found]


def row_labels(rows: Iterable[Row]) -> dict[int, str]:
    """Each 表11 row as its reader knows it: site, form number and 序号, account and host (one query)."""
    rows = list(rows)
    ids = {row.data.get("account_id") for row in rows}
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=[i for i in ids if isinstance(i, int)])
                .select_related("asset")}  # fmt: skip
    labels = {}
    for row in rows:
        account = accounts.get(row.data.get("account_id"))
        named = f"{account.login_name} @ {account.asset.hostname}" if account and account.asset else "—"
        labels[row.pk] = f"{row.form.site.code} · {row.form.form_no} #{row.seq} · {named}"
    return labels
