"""Pages of rotation (issue 15): plans with their progress, the run page (approve by a second person, run in
the background, counts, an estimate of the time left, each account's step and outcome), an account's timeline
from the audit trail, the restores of permission files (request with its preview, approve, apply), 停用 from a
表11 row and its E03 restore, and the E02 resets of lost passwords. Thin:
the forms check shape, the services decide (scope, 第八条, the 表8 gate), the selectors read. No page shows a
secret: items and events hold steps, outcomes and reasons, sealed files are compared by digest only."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.rotation import disables, reconcile, restores, reverts, selectors, services
from handover.rotation.forms import DisableForm, PlanForm, RestoreForm, RevertForm
from handover.rotation.models import DisableState, ItemState, PlanState, RestoreState, RevertState
from handover.vault.models import VerifyResult
from handover.web.access import needs
from handover.web.actions import chosen, run
from handover.web.pages import engagement_page

# service field → form field, where the names differ
FIELDS = {"names": "paths"}


def _breakdown(counts: dict[str, int]) -> dict[str, list[tuple[str, Any, int]]]:
    """Counts as labelled lines: by outcome (成功, 失败, 未验证, not finished) and by step."""
    outcomes = [(value, label, counts.get(value, 0)) for value, label in VerifyResult.choices]
    return {
        "outcomes": [*outcomes, (selectors.OPEN, _("Not finished"), counts.get(selectors.OPEN, 0))],
        "steps": [(value, label, counts.get(value, 0)) for value, label in ItemState.choices],
    }


@needs(perms.VIEW_DISCOVERY)
def plan_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Plans with their counts by step and outcome; the form to draw one up (for those who may run)."""
    sites = selectors.sites_for(user=request.user, engagement=engagement, capability=perms.RUN_DISCOVERY)
    form = PlanForm(request.POST or None, sites=[(s.code, f"{s.code} {s.name}") for s in sites])
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        site = sites.filter(code=data["site"]).first() if data["site"] else None
        plan = run(
            request,
            form,
            lambda: services.plan_create(
                actor=request.user,
                engagement=engagement,
                site=site,
                reason=data["reason"],
                concurrency=data["concurrency"],
                per_site=data["per_site"],
            ),
            fields=FIELDS,
        )
        if plan is not None:
            messages.success(request, _("Rotation plan drawn up: another person approves it before it runs."))
            return redirect("rotation:plan", code=engagement.code, plan_id=plan.pk)
    plans = list(selectors.plan_list(user=request.user, engagement=engagement)[:200])
    counts = selectors.plan_counts(
        plans=plans, sites=selectors.sites_for(user=request.user, engagement=engagement)
    )
    rows = [(plan, _breakdown(counts[plan.pk])) for plan in plans]
    context = engagement_page(request, engagement, form=form, rows=rows)
    return render(request, "rotation/plan_list.html", context)


@needs(perms.VIEW_DISCOVERY)
def plan_detail(request: HttpRequest, engagement: Engagement, plan_id: int) -> HttpResponse:
    """The run page: approve (not the author, 第八条), run or resume in the background, the progress."""
    plan = selectors.plan_get(user=request.user, engagement=engagement, pk=plan_id)
    if request.method == "POST":
        act = request.POST.get("act", "")

        def plan_act() -> None:
            if act == "approve":
                services.plan_approve(actor=request.user, plan=plan)
                messages.success(request, _("Plan approved; it may run now."))
            elif act == "run":
                services.plan_start(actor=request.user, plan=plan)
                messages.success(request, _("The run is under way in the background; this page follows it."))
            else:
                raise DomainError(_("Choose an action."), field="act")

        run(request, None, plan_act)
        return redirect("rotation:plan", code=engagement.code, plan_id=plan.pk)
    progress = selectors.plan_progress(user=request.user, plan=plan, now=timezone.now())
    # asked, the worker not there yet
    queued = plan.state == PlanState.APPROVED and selectors.run_asked(plan=plan)
    eta = progress.eta
    context = engagement_page(
        request,
        engagement,
        plan=plan,
        items=selectors.plan_items(user=request.user, plan=plan),
        progress=progress,
        eta_minutes=math.ceil(eta.total_seconds() / 60) if eta is not None else None,
        running=plan.state == PlanState.RUNNING or queued,
        queued=queued,
        breakdown=_breakdown(progress.counts),
    )
    return render(request, "rotation/plan_detail.html", context)


@needs(perms.VIEW_DISCOVERY)
def item_detail(request: HttpRequest, engagement: Engagement, plan_id: int, item_id: int) -> HttpResponse:
    """One account's rotation: its step and outcome now, and its recorded events in order; within an open E01
    case of its 表10 row (第二十八条第1项), the restore of its original password: asked by one person, approved by
    another (第八条), applied once after the case records the developer's support."""
    plan = selectors.plan_get(user=request.user, engagement=engagement, pk=plan_id)
    item = selectors.item_get(user=request.user, plan=plan, pk=item_id)
    case = reverts.open_case_of(item.row)
    form = RevertForm(request.POST if request.POST.get("act") == "revert" else None)
    if request.method == "POST":
        act = request.POST.get("act", "")

        def revert_act() -> None:
            if act == "revert" and case is not None and form.is_valid():
                reverts.revert_request(actor=request.user, case=case, reason=form.cleaned_data["reason"])
                messages.success(request, _("Restore of the original asked: another person approves it."))
            elif act in ("revert-approve", "revert-apply"):
                revert = chosen(
                    request, item.reverts.all(), name="revert", missing=_("Choose a restore of this account.")
                )
                if act == "revert-approve":
                    reverts.revert_approve(actor=request.user, revert=revert)
                    messages.success(request, _("Restore approved; it may be applied now."))
                else:
                    done = reverts.revert_apply(actor=request.user, revert=revert)
                    report = messages.success if done.state == RevertState.APPLIED else messages.error
                    report(request, f"{done.get_state_display()} {done.detail}".strip())
            elif act != "revert":
                raise DomainError(_("Choose an action."), field="act")

        # A refusal of the request goes on its form; of a button, into the messages.
        run(request, form if act == "revert" else None, revert_act, fields=FIELDS)
        if not form.errors:
            return redirect("rotation:item", code=engagement.code, plan_id=plan.pk, item_id=item.pk)
    context = engagement_page(
        request, engagement, plan=plan, item=item, lines=selectors.item_timeline(item=item), case=case,
        form=form, reverts=list(item.reverts.all()),
    )  # fmt: skip
    return render(request, "rotation/item_detail.html", context)


@needs(perms.VIEW_DISCOVERY)
def restore_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Restores of permission files; the request form (for those who may run discovery)."""
    targets = selectors.restore_targets(
        user=request.user, engagement=engagement, connectors=restores.PLATFORMS
    )
    choices = [
        (t.pk, f"{t.site.code} · {t.system.name} · {t.asset.hostname} ({t.connector})") for t in targets
    ]
    form = RestoreForm(request.POST or None, targets=choices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        restore = run(
            request,
            form,
            lambda: restores.restore_request(
                actor=request.user,
                target=targets.get(pk=data["target"]),
                reason=data["reason"],
                names=data["paths"] or None,
            ),
            fields=FIELDS,
        )
        if restore is not None:
            messages.success(request, _("Restore requested: check the preview; another person approves it."))
            return redirect("rotation:restore", code=engagement.code, restore_id=restore.pk)
    found = selectors.restore_list(user=request.user, engagement=engagement)[:200]
    context = engagement_page(request, engagement, form=form, restores=found)
    return render(request, "rotation/restore_list.html", context)


@needs(perms.VIEW_DISCOVERY)
def restore_detail(request: HttpRequest, engagement: Engagement, restore_id: int) -> HttpResponse:
    """A restore's preview (each file's diff, the accounts whose rights differ), approve (not the requester,
    第八条) and apply (once), then each file's outcome."""
    restore = selectors.restore_get(user=request.user, engagement=engagement, pk=restore_id)
    if request.method == "POST":
        act = request.POST.get("act", "")

        def restore_act() -> None:
            if act == "approve":
                restores.restore_approve(actor=request.user, restore=restore)
                messages.success(request, _("Restore approved; it may be applied now."))
            elif act == "apply":
                done = restores.restore_apply(actor=request.user, restore=restore)
                if done.state == RestoreState.APPLIED:
                    messages.success(request, _("Restore applied: every file is as the backup holds it."))
                else:
                    messages.error(request, _("The restore did not finish: see each file's outcome."))
            else:
                raise DomainError(_("Choose an action."), field="act")

        run(request, None, restore_act)
        return redirect("rotation:restore", code=engagement.code, restore_id=restore.pk)
    accounts = (
        restores.accounts_diff(restore.backup, restore.current)
        if restore.target.connector in restores.ROLE_RESTORES
        else []
    )
    context = engagement_page(
        request,
        engagement,
        restore=restore,
        files=selectors.restore_preview(restore=restore),
        accounts=accounts,
    )
    return render(request, "rotation/restore_detail.html", context)


@needs(perms.VIEW_DISCOVERY)
def disable_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """停用 of accounts (第二十六条第3项 A) and the request form: the 表11 rows deciding 停用 not yet carried out."""
    rows = list(selectors.disable_candidates(user=request.user, engagement=engagement)[:500])
    choices = list(selectors.row_labels(rows).items())
    form = DisableForm(request.POST or None, rows=choices)
    if request.method == "POST" and form.is_valid():
        row = next(r for r in rows if r.pk == form.cleaned_data["row"])
        found = run(
            request, form, lambda: disables.disable_request(actor=request.user, row=row), fields=FIELDS
        )
        if found is not None:
            messages.success(request, _("停用 asked: another person approves it before it is applied."))
            return redirect("rotation:disable", code=engagement.code, disable_id=found.pk)
    listed = selectors.disablement_list(user=request.user, engagement=engagement)[:200]
    context = engagement_page(request, engagement, form=form, disables=listed, candidates=len(rows))
    return render(request, "rotation/disable_list.html", context)


@needs(perms.VIEW_DISCOVERY)
def disable_detail(request: HttpRequest, engagement: Engagement, disable_id: int) -> HttpResponse:
    """One 停用: approve (not the asker, 第八条), apply (the lock state recorded first), and within an open E03 case
    of its 表11 row, the restore exactly as it was (第二十八条第3项), by another person than the case's opener."""
    found = selectors.disablement_get(user=request.user, engagement=engagement, pk=disable_id)
    cases = list(selectors.e03_cases_of(disablement=found))
    if request.method == "POST":
        act = request.POST.get("act", "")

        def disable_act() -> None:
            if act == "approve":
                disables.disable_approve(actor=request.user, disablement=found)
                messages.success(request, _("停用 approved; it may be applied now."))
            elif act == "apply":
                done = disables.disable_apply(actor=request.user, disablement=found)
                if done.state == DisableState.DISABLED:
                    messages.success(request, _("The account is disabled; its state before is recorded."))
                else:
                    messages.error(request, done.detail or _("The account was not disabled."))
            elif act == "restore":
                case = chosen(
                    request,
                    cases,
                    name="case",
                    missing=_("Choose the open E03 case of this account's 表11 row."),
                )
                done = disables.disable_restore(actor=request.user, disablement=found, case=case)
                if done.state == DisableState.RESTORED:
                    messages.success(request, _("The account is back as it was before the 停用."))
                else:
                    messages.error(request, done.detail or _("The account was not restored."))
            else:
                raise DomainError(_("Choose an action."), field="act")

        run(request, None, disable_act)
        return redirect("rotation:disable", code=engagement.code, disable_id=found.pk)
    context = engagement_page(request, engagement, found=found, cases=cases)
    return render(request, "rotation/disable_detail.html", context)


@needs(perms.RUN_DISCOVERY)
def reset_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """E02 (第二十八条第2项): the open cases of a forgotten or unreachable password, whether the working group
    consented, and the one-account reset plan drawn up from one (approved and run on its plan page)."""
    if request.method == "POST":
        found = [c for c, _c, _p in selectors.reset_cases(user=request.user, engagement=engagement)]

        def reset_plan() -> Any:
            missing = _("Choose an open E02 case of a forgotten password.")
            return reconcile.reconcile_plan(
                actor=request.user, case=chosen(request, found, name="case", missing=missing)
            )

        plan = run(request, None, reset_plan)
        if plan is not None:
            messages.success(request, _("Reset plan drawn up: another person approves it before it runs."))
            return redirect("rotation:plan", code=engagement.code, plan_id=plan.pk)
        return redirect("rotation:resets", code=engagement.code)
    rows = selectors.reset_cases(user=request.user, engagement=engagement)
    context = engagement_page(request, engagement, rows=rows)
    return render(request, "rotation/reset_list.html", context)
